"""Derive your own: the total differential of a sympy matrix expression, step by step.

:func:`derive` applies the rules of the total differential (chapter 4) to a sympy matrix
expression, one rule per step, the way the book derives by hand, and writes the result in
the book's three forms: the differential ``dF`` (linear in ``dX``), the vec-Jacobian
``d vec F / d vec X`` (Kronecker products, column-major vec) and the index form
``dF[i,l]/dX[j,k]`` with its ``np.einsum`` specification; for a scalar F also the
gradient G with ``dF = tr(G^T dX)``. Every form can be evaluated at given values and is
checked against the numeric Jacobian by :meth:`Derivation.check`.

How it works: one rule per sympy node (a ``functools.singledispatch`` table). Each rule
writes the differential of its node as a *linear* expression in the differentials of its
children, built from five shapes of linear map: ``L K R`` (a product), ``M ⊙ K`` (a
Hadamard product), ``c K`` (a scalar multiple), ``tr K`` (a trace) and ``k M`` (a scalar
differential times a matrix), with transposes pushed down to the leaves. The finished tree,
whose only leaf is ``dX`` or ``dX^T``, is then serialised to each form by a small recursive
function: nothing is simplified by guessing, and every serialiser can be checked on its own.

Functions of matrices (``exp``, ``log``, ``tanh``, ``sin``, ``cos``, powers) given with
``applyfunc`` act entry by entry, and the LaTeX writes them as functions of the matrix.
sympy is imported by this module; ``import mdcalc`` loads it only when :func:`derive` is
first used.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp  # type: ignore[import-untyped]
from numpy.typing import ArrayLike
from sympy.matrices.expressions.applyfunc import (  # type: ignore[import-untyped]
    ElementwiseApplyFunction,
)
from sympy.printing.latex import LatexPrinter  # type: ignore[import-untyped]
from sympy.printing.precedence import PRECEDENCE  # type: ignore[import-untyped]

from mdcalc._validation import check_size, shape_str
from mdcalc.check import CheckResult, check_derivative
from mdcalc.differential import Derivative
from mdcalc.layouts import _evaluate, _substitutions, commutation_matrix
from mdcalc.notation import index_product

__all__ = ["Derivation", "DerivationCheck", "IndexForm", "IndexTerm", "derive", "to_latex"]


# --------------------------------------------------------------------------------------
# sympy nodes of the vec-Jacobian that sympy does not have
# --------------------------------------------------------------------------------------


def _size(ev: Callable[[Any], Any], n: Any) -> int:
    return int(np.real(ev(n)))


class Vec(sp.MatrixExpr):  # type: ignore[misc]
    """``vec(M)``: the columns of M stacked into one column (column-major)."""

    def __new__(cls, arg: Any) -> Vec:
        return sp.Basic.__new__(cls, sp.sympify(arg))

    @property
    def arg(self) -> Any:
        return self.args[0]

    @property
    def shape(self) -> tuple[Any, Any]:
        return (self.arg.rows * self.arg.cols, sp.S.One)

    def _latex(self, printer: Any) -> str:
        return rf"\operatorname{{vec}}\left({printer._print(self.arg)}\right)"

    def _mdcalc_numeric(self, ev: Callable[[Any], Any]) -> np.ndarray:
        return np.reshape(ev(self.arg), (-1, 1), order="F")


class DiagVec(sp.MatrixExpr):  # type: ignore[misc]
    """``diag(vec M)``: the diagonal matrix of M's entries, column-major order."""

    def __new__(cls, arg: Any) -> DiagVec:
        return sp.Basic.__new__(cls, sp.sympify(arg))

    @property
    def arg(self) -> Any:
        return self.args[0]

    @property
    def shape(self) -> tuple[Any, Any]:
        n = self.arg.rows * self.arg.cols
        return (n, n)

    def _eval_transpose(self) -> DiagVec:
        return self

    def _latex(self, printer: Any) -> str:
        inner = _factor(printer, self.arg)
        return rf"\operatorname{{diag}}\left(\operatorname{{vec}} {inner}\right)"

    def _mdcalc_numeric(self, ev: Callable[[Any], Any]) -> np.ndarray:
        entries = np.reshape(ev(self.arg), -1, order="F")
        check_size(entries.size**2, 16, f"diag(vec {self.arg}) ({entries.size}x{entries.size})")
        return np.diag(entries)


class Commutation(sp.MatrixExpr):  # type: ignore[misc]
    """The commutation matrix ``K_{m,n}``: ``K_{m,n} vec(X) = vec(X^T)`` for an m x n X."""

    def __new__(cls, m: Any, n: Any) -> Commutation:
        return sp.Basic.__new__(cls, sp.sympify(m), sp.sympify(n))

    @property
    def shape(self) -> tuple[Any, Any]:
        m, n = self.args
        return (m * n, m * n)

    def _latex(self, printer: Any) -> str:
        m, n = self.args
        return rf"K_{{{printer._print(m)},{printer._print(n)}}}"

    def _mdcalc_numeric(self, ev: Callable[[Any], Any]) -> np.ndarray:
        m, n = self.args
        return commutation_matrix(_size(ev, m), _size(ev, n))


# --------------------------------------------------------------------------------------
# LaTeX in the book's notation
# --------------------------------------------------------------------------------------


def _factor(printer: Any, expr: Any) -> str:
    """LaTeX of ``expr`` as a factor: bracketed unless it is a symbol."""
    text = printer._print(expr)
    if isinstance(expr, (sp.MatrixSymbol, sp.Symbol, sp.Identity)):
        return str(text)
    return rf"\left({text}\right)"


class _Printer(LatexPrinter):  # type: ignore[misc]
    """sympy's LaTeX printer: ``^\\top``, ``\\odot``, ``\\mathrm{d}X``, pending ``d(...)``."""

    def __init__(self, names: Mapping[Any, str] | None = None) -> None:
        super().__init__({"mat_symbol_style": "plain"})
        self.names = dict(names or {})

    def _print_MatrixSymbol(self, expr: Any) -> str:
        if expr in self.names:
            return self.names[expr]
        return str(super()._print_MatrixSymbol(expr))

    def _print_Symbol(self, expr: Any, style: str = "plain") -> str:
        if expr in self.names:
            return self.names[expr]
        return str(super()._print_Symbol(expr, style=style))

    def _print_Transpose(self, expr: Any) -> str:
        arg = expr.arg
        inner = self._print(arg)
        if not isinstance(arg, (sp.MatrixSymbol, Vec)) or arg in self.names:
            inner = rf"\left({inner}\right)"
        return f"{inner}^{{\\top}}"

    def _print_HadamardProduct(self, expr: Any) -> str:
        return r" \odot ".join(self._hadamard_factor(a) for a in expr.args)

    def _hadamard_factor(self, a: Any) -> str:
        text = str(self._print(a))
        loose = (sp.MatAdd, sp.MatMul, sp.Add, sp.Mul, sp.HadamardProduct)
        if isinstance(a, ElementwiseApplyFunction):
            loose_body = isinstance(a.function(sp.Dummy("t")), (sp.Add, sp.Mul))
        else:
            loose_body = isinstance(a, loose)
        return rf"\left({text}\right)" if loose_body else text

    def _print_HadamardPower(self, expr: Any) -> str:
        base = self.parenthesize(expr.base, PRECEDENCE["Pow"])
        return f"{base}^{{\\circ {self._print(expr.exp)}}}"

    def _print_MatMul(self, expr: Any) -> str:
        # sympy's own asks each factor whether it could extract a minus sign: slow
        coeff, mats = expr.as_coeff_matrices()
        text = " ".join(self._mat_factor(m) for m in mats)
        if coeff == 1:
            return text
        if coeff == -1:
            return f"- {text}"
        c = str(self._print(coeff))
        if isinstance(coeff, sp.Add):
            c = rf"\left({c}\right)"
        return f"{c} {text}"

    def _mat_factor(self, m: Any) -> str:
        text = str(self._print(m))
        loose = (sp.MatAdd, sp.HadamardProduct, sp.KroneckerProduct, sp.MatMul)
        return rf"\left({text}\right)" if isinstance(m, loose) else text

    def _print_MatAdd(self, expr: Any) -> str:
        text = " + ".join(str(self._print(a)) for a in expr.args)
        return text.replace("+ - ", "- ").replace("+ -", "- ")

    def _print_Identity(self, expr: Any) -> str:
        return f"I_{{{self._print(expr.rows)}}}"

    def _print_ZeroMatrix(self, expr: Any) -> str:
        return "0"

    def _print_OneMatrix(self, expr: Any) -> str:
        return r"\mathbf{1}"

    def _print_Trace(self, expr: Any) -> str:
        return rf"\operatorname{{tr}}\left({self._print(expr.arg)}\right)"

    def _print_Determinant(self, expr: Any) -> str:
        return rf"\det\left({self._print(expr.arg)}\right)"

    def _print_exp(self, expr: Any, exp: Any = None) -> str:
        text = rf"\exp\left({self._print(expr.args[0])}\right)"
        return f"{text}^{{{exp}}}" if exp else text

    def _print_KroneckerProduct(self, expr: Any) -> str:
        return r" \otimes ".join(self.parenthesize(a, PRECEDENCE["Mul"] + 1) for a in expr.args)

    def _print_ElementwiseApplyFunction(self, expr: Any) -> str:
        # f(M) entry by entry: the scalar body with its variable written as the matrix.
        t = sp.Dummy("t")
        body = expr.function(t)
        holder = sp.Symbol("_elementwise_argument")
        # sympy brackets a function's argument itself; elsewhere (t**2) the matrix needs them
        plain = all(
            isinstance(n, sp.Function) for n in sp.preorder_traversal(body) if t in n.args
        )
        arg = str(self._print(expr.expr)) if plain else _factor(self, expr.expr)
        names = {**self.names, holder: arg}
        text = _Printer(names)._print(body.xreplace({t: holder}))
        return str(text)


def to_latex(expr: Any, names: Mapping[Any, str] | None = None) -> str:
    """LaTeX of a sympy expression in the book's notation (``^\\top``, ``\\odot``, ``\\otimes``).

    Examples
    --------
    >>> import sympy as sp
    >>> from mdcalc.derivation import to_latex
    >>> A, X = sp.MatrixSymbol("A", 2, 2), sp.MatrixSymbol("X", 2, 2)
    >>> to_latex(sp.HadamardProduct(A.T, X * A) + sp.Trace(X) * A)
    '\\\\operatorname{tr}\\\\left(X\\\\right) A + \\\\left(X A\\\\right) \\\\odot A^{\\\\top}'
    """
    return str(_Printer(names).doprint(expr))


# --------------------------------------------------------------------------------------
# linear maps in dX: the canonical form of a differential
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Var:
    """``dX`` (or ``dX^T`` when ``t``); ``shape`` is X's."""

    shape: tuple[Any, ...]
    t: bool = False


@dataclass(frozen=True)
class _Pending:
    """``d(expr)`` not yet expanded (transposed when ``t``)."""

    expr: Any
    t: bool = False


@dataclass(frozen=True)
class _Mul:
    """``L inner R``; L or R is None for an identity."""

    L: Any
    inner: Any
    R: Any


@dataclass(frozen=True)
class _Had:
    """``M ⊙ inner``."""

    M: Any
    inner: Any


@dataclass(frozen=True)
class _Scale:
    """``c inner`` for a scalar c."""

    c: Any
    inner: Any


@dataclass(frozen=True)
class _Tr:
    """``tr(inner)``."""

    inner: Any


@dataclass(frozen=True)
class _Outer:
    """``inner M``: a scalar differential times a matrix."""

    inner: Any
    M: Any


@dataclass(frozen=True)
class _Sum:
    """A sum of linear maps (empty: the zero map of the given shape)."""

    terms: tuple[Any, ...]
    shape: tuple[Any, ...]


def _is_matrix(expr: Any) -> bool:
    return bool(getattr(expr, "is_Matrix", False))


def _mm(*factors: Any) -> Any:
    """The product of scalars and matrices, canonicalised one level (not deep: fast)."""
    if len(factors) == 1:
        return factors[0]
    if not any(_is_matrix(f) for f in factors):
        return sp.Mul(*factors)
    return sp.MatMul(*factors).doit(deep=False)


def _plus(terms: list[Any], collect: bool = True) -> Any:
    """The sum of scalars or of matrices; like terms collected when ``collect``."""
    if len(terms) == 1:
        return terms[0]
    if _is_matrix(terms[0]) and collect:
        return sp.MatAdd(*terms).doit(deep=False)
    if _is_matrix(terms[0]):
        # flattened, zeros dropped; not canonicalised (sympy's collecting of like terms
        # multiplies out every coefficient, deeply: slow on long expressions)
        flat: list[Any] = []
        for t in terms:
            flat.extend(t.args if isinstance(t, sp.MatAdd) else [t])
        flat = [t for t in flat if not isinstance(t, sp.ZeroMatrix)]
        if not flat:
            return terms[0]
        return flat[0] if len(flat) == 1 else sp.MatAdd(*flat)
    return sp.Add(*terms)


def _shape_of(expr: Any) -> tuple[Any, ...]:
    return tuple(expr.shape) if getattr(expr, "is_Matrix", False) else ()


def _zero(shape: tuple[Any, ...]) -> _Sum:
    return _Sum((), shape)


def _is_zero(node: Any) -> bool:
    return isinstance(node, _Sum) and not node.terms


def _mul(L: Any, inner: Any, R: Any) -> Any:
    if _is_zero(inner):
        rows, cols = inner.shape
        return _zero((rows if L is None else L.rows, cols if R is None else R.cols))
    L = None if L is None or isinstance(L, sp.Identity) else L
    R = None if R is None or isinstance(R, sp.Identity) else R
    if L is None and R is None:
        return inner
    if isinstance(inner, _Scale):  # L (c K) R = c (L K R): keeps L and R whole
        return _scale(inner.c, _mul(L, inner.inner, R))
    if isinstance(inner, _Mul):  # (L (L' K R') R) = (L L') K (R' R)
        L = inner.L if L is None else (L if inner.L is None else _mm(L, inner.L))
        R = inner.R if R is None else (R if inner.R is None else _mm(inner.R, R))
        return _mul(L, inner.inner, R)  # a product may have cancelled (X X^-1 = I)
    return _Mul(L, inner, R)


def _scale(c: Any, inner: Any) -> Any:
    c = sp.sympify(c)
    if c == 0 or _is_zero(inner):
        return _zero(_node_shape(inner))
    if c == 1:
        return inner
    if isinstance(inner, _Scale):
        return _scale(c * inner.c, inner.inner)
    return _Scale(c, inner)


def _add(terms: list[Any], shape: tuple[Any, ...]) -> Any:
    flat: list[Any] = []
    for term in terms:
        if isinstance(term, _Sum):
            flat.extend(term.terms)
        else:
            flat.append(term)
    return flat[0] if len(flat) == 1 else _Sum(tuple(flat), shape)


def _node_shape(node: Any) -> tuple[Any, ...]:
    if isinstance(node, _Sum):
        return node.shape
    if isinstance(node, _Var):
        return node.shape[::-1] if node.t else node.shape
    if isinstance(node, _Pending):
        shape = _shape_of(node.expr)
        return shape[::-1] if node.t else shape
    if isinstance(node, _Mul):
        inner = _node_shape(node.inner)
        rows = node.L.rows if node.L is not None else inner[0]
        cols = node.R.cols if node.R is not None else inner[1]
        return (rows, cols)
    if isinstance(node, _Had):
        return tuple(node.M.shape)
    if isinstance(node, _Scale):
        return _node_shape(node.inner)
    if isinstance(node, _Tr):
        return ()
    if isinstance(node, _Outer):
        return tuple(node.M.shape)
    raise TypeError(f"not a linear map: {node!r}")


def _transposed(node: Any) -> Any:
    """The linear map ``K -> (node K)^T``, with the transpose pushed to the leaves."""
    if isinstance(node, _Var):
        return _Var(node.shape, not node.t)
    if isinstance(node, _Pending):
        if not _shape_of(node.expr):
            return node  # a scalar is its own transpose
        return _Pending(node.expr, not node.t)
    if isinstance(node, _Mul):
        L = None if node.R is None else node.R.T
        R = None if node.L is None else node.L.T
        return _Mul(L, _transposed(node.inner), R)
    if isinstance(node, _Had):
        return _Had(node.M.T, _transposed(node.inner))
    if isinstance(node, _Scale):
        return _Scale(node.c, _transposed(node.inner))
    if isinstance(node, _Tr):
        return node
    if isinstance(node, _Outer):
        return _Outer(node.inner, node.M.T)
    if isinstance(node, _Sum):
        return _Sum(tuple(_transposed(t) for t in node.terms), node.shape[::-1])
    raise TypeError(f"not a linear map: {node!r}")


def _pending(node: Any) -> Iterator[Any]:
    """The pending leaves of a tree, in reading order."""
    if isinstance(node, _Pending):
        yield node
    elif isinstance(node, (_Mul, _Had, _Scale, _Tr, _Outer)):
        yield from _pending(node.inner)
    elif isinstance(node, _Sum):
        for t in node.terms:
            yield from _pending(t)


def _replace(node: Any, leaf: _Pending, new: Any) -> Any:
    """Replace the first occurrence of ``leaf`` (by identity) with ``new``, re-simplifying."""
    if node is leaf:
        return new
    if isinstance(node, _Mul):
        inner = _replace(node.inner, leaf, new)
        return _mul(node.L, inner, node.R)
    if isinstance(node, _Had):
        inner = _replace(node.inner, leaf, new)
        return _zero(tuple(node.M.shape)) if _is_zero(inner) else _Had(node.M, inner)
    if isinstance(node, _Scale):
        return _scale(node.c, _replace(node.inner, leaf, new))
    if isinstance(node, _Tr):
        inner = _replace(node.inner, leaf, new)
        return _zero(()) if _is_zero(inner) else _Tr(inner)
    if isinstance(node, _Outer):
        inner = _replace(node.inner, leaf, new)
        return _zero(tuple(node.M.shape)) if _is_zero(inner) else _Outer(inner, node.M)
    if isinstance(node, _Sum):
        return _add([_replace(t, leaf, new) for t in node.terms], node.shape)
    return node


# --------------------------------------------------------------------------------------
# the rules: one per sympy node
# --------------------------------------------------------------------------------------


@dataclass
class _Context:
    X: Any

    def d(self, expr: Any) -> Any:
        """The differential of a child: 0, dX, or pending."""
        if expr == self.X:
            return _Var(tuple(self.X.shape))
        if not _depends(expr, self.X):
            return _zero(_shape_of(expr))
        return _Pending(expr)


def _depends(expr: Any, X: Any) -> bool:
    return bool(getattr(expr, "has", lambda _: False)(X))


@functools.singledispatch
def _rule(expr: Any, ctx: _Context) -> tuple[str, Any]:
    raise ValueError(
        f"derive does not support {type(expr).__name__} (the part {expr} of the "
        "expression); supported: sums, scalar multiples, matrix products, powers, "
        "transposes, inverses, traces, determinants, log, Hadamard products and powers, "
        "elementwise functions (applyfunc), constants"
    )


def _product(factors: list[Any], i: int) -> Any:
    return _mm(*factors[:i]) if i > 0 else None


def _rest(factors: list[Any], i: int) -> Any:
    rest = factors[i + 1 :]
    return _mm(*rest) if rest else None


@_rule.register(sp.MatAdd)
def _(expr: Any, ctx: _Context) -> tuple[str, Any]:
    return "sum rule", _add([ctx.d(a) for a in expr.args], tuple(expr.shape))


@_rule.register(sp.MatMul)
def _(expr: Any, ctx: _Context) -> tuple[str, Any]:
    coeff, mats = expr.as_coeff_matrices()
    shape = tuple(expr.shape)
    terms = []
    for i, M in enumerate(mats):
        terms.append(_scale(coeff, _mul(_product(mats, i), ctx.d(M), _rest(mats, i))))
    if _depends(coeff, ctx.X):
        terms.append(_outer(ctx.d(coeff), _mm(*mats)))
    name = "product rule" if len(mats) > 1 or _depends(coeff, ctx.X) else "scalar multiple"
    return name, _add(terms, shape)


def _outer(inner: Any, M: Any) -> Any:
    return _zero(tuple(M.shape)) if _is_zero(inner) else _Outer(inner, M)


@_rule.register(sp.Transpose)
def _(expr: Any, ctx: _Context) -> tuple[str, Any]:
    return "transpose", _transposed(ctx.d(expr.arg))


@_rule.register(sp.Inverse)
def _(expr: Any, ctx: _Context) -> tuple[str, Any]:
    S = expr.arg
    inv = S.I
    return "inverse", _scale(-1, _mul(inv, ctx.d(S), inv))


@_rule.register(sp.MatPow)
def _(expr: Any, ctx: _Context) -> tuple[str, Any]:
    S, n = expr.base, expr.exp
    if not (n.is_Integer and n != 0) or _depends(n, ctx.X):
        raise ValueError(f"derive supports integer matrix powers only, got the power {expr}")
    n = int(n)
    shape = tuple(expr.shape)
    if n < 0:
        inv = S.I
        terms = [
            _scale(-1, _mul(inv ** (i + 1), ctx.d(S), inv ** (-n - i))) for i in range(-n)
        ]
        return "power of the inverse", _add(terms, shape)
    terms = [
        _mul(S**i if i else None, ctx.d(S), S ** (n - 1 - i) if n - 1 - i else None)
        for i in range(n)
    ]
    return "power rule", _add(terms, shape)


@_rule.register(sp.Trace)
def _(expr: Any, ctx: _Context) -> tuple[str, Any]:
    inner = ctx.d(expr.arg)
    return "trace", _zero(()) if _is_zero(inner) else _Tr(inner)


@_rule.register(sp.Determinant)
def _(expr: Any, ctx: _Context) -> tuple[str, Any]:
    S = expr.arg
    inner = _mul(S.I, ctx.d(S), None)
    return "determinant (Jacobi's formula)", _scale(expr, _Tr(inner))


@_rule.register(sp.HadamardProduct)
def _(expr: Any, ctx: _Context) -> tuple[str, Any]:
    args = list(expr.args)
    terms = []
    for i, a in enumerate(args):
        inner = ctx.d(a)
        if _is_zero(inner):
            continue
        others = args[:i] + args[i + 1 :]
        M = others[0] if len(others) == 1 else sp.HadamardProduct(*others)
        terms.append(_Had(M, inner))
    return "Hadamard product rule", _add(terms, tuple(expr.shape))


@_rule.register(sp.HadamardPower)
def _(expr: Any, ctx: _Context) -> tuple[str, Any]:
    S, p = expr.base, expr.exp
    if _depends(p, ctx.X) or getattr(p, "is_Matrix", False):
        raise ValueError(f"derive supports constant Hadamard exponents only, got {expr}")
    M = p * (S if p == 2 else sp.HadamardPower(S, p - 1))
    return "Hadamard power", _Had(M, ctx.d(S))


@_rule.register(ElementwiseApplyFunction)
def _(expr: Any, ctx: _Context) -> tuple[str, Any]:
    t = sp.Dummy("t")
    derivative = sp.diff(expr.function(t), t)
    if derivative.has(sp.Derivative):
        raise ValueError(f"derive cannot differentiate the elementwise function in {expr}")
    inner = ctx.d(expr.expr)
    if not derivative.has(t):
        return "elementwise function (chain rule)", _scale(derivative, inner)
    M = ElementwiseApplyFunction(sp.Lambda(t, derivative), expr.expr)
    return "elementwise function (chain rule)", _Had(M, inner)


@_rule.register(sp.Add)
def _(expr: Any, ctx: _Context) -> tuple[str, Any]:
    return "sum rule", _add([ctx.d(a) for a in expr.args], ())


@_rule.register(sp.Mul)
def _(expr: Any, ctx: _Context) -> tuple[str, Any]:
    args = list(expr.args)
    terms = [_scale(sp.Mul(*(args[:i] + args[i + 1 :])), ctx.d(a)) for i, a in enumerate(args)]
    return "product rule", _add(terms, ())


@_rule.register(sp.Pow)
def _(expr: Any, ctx: _Context) -> tuple[str, Any]:
    b, e = expr.base, expr.exp
    if _depends(e, ctx.X):
        raise ValueError(f"derive supports constant exponents only, got {expr}")
    return "power rule", _scale(e * b ** (e - 1), ctx.d(b))


@_rule.register(sp.Function)
def _(expr: Any, ctx: _Context) -> tuple[str, Any]:
    if len(expr.args) != 1 or getattr(expr.args[0], "is_Matrix", False):
        return _rule.dispatch(object)(expr, ctx)  # type: ignore[no-any-return]
    (arg,) = expr.args
    t = sp.Dummy("t")
    derivative = sp.diff(type(expr)(t), t)
    if derivative.has(sp.Derivative):
        return _rule.dispatch(object)(expr, ctx)  # type: ignore[no-any-return]
    name = "logarithm" if isinstance(expr, sp.log) else "chain rule"
    return name, _scale(derivative.subs(t, arg), ctx.d(arg))


# --------------------------------------------------------------------------------------
# checks of the input
# --------------------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    return bool(sp.simplify(a - b) == 0) if a != b else True


def _validate(expr: Any) -> None:
    """Refuse mismatched shapes that sympy let through (with ``check=False`` or symbols)."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.MatMul):
            mats = [a for a in node.args if getattr(a, "is_Matrix", False)]
            for a, b in zip(mats, mats[1:], strict=False):
                if not _same(a.cols, b.rows):
                    raise ValueError(
                        f"mismatched shapes in the product {node}: {a} is "
                        f"{a.rows}x{a.cols} but {b} is {b.rows}x{b.cols}"
                    )
        elif isinstance(node, (sp.MatAdd, sp.HadamardProduct)):
            shapes = [tuple(a.shape) for a in node.args if getattr(a, "is_Matrix", False)]
            if any(not (_same(s[0], shapes[0][0]) and _same(s[1], shapes[0][1])) for s in shapes):
                raise ValueError(f"mismatched shapes in {node}: {shapes}")
        elif isinstance(node, (sp.Inverse, sp.Trace, sp.Determinant)):
            arg = node.arg
            if not _same(arg.rows, arg.cols):
                raise ValueError(
                    f"{type(node).__name__} needs a square matrix, but {arg} is "
                    f"{arg.rows}x{arg.cols}"
                )


# --------------------------------------------------------------------------------------
# the forms
# --------------------------------------------------------------------------------------


def _to_sympy(node: Any, dX: Any, names: dict[Any, Any], printer: _Printer | None) -> Any:
    """The sympy expression of a linear-map tree; pending leaves become placeholders."""

    def go(n: Any) -> Any:
        if isinstance(n, _Var):
            return dX.T if n.t else dX
        if isinstance(n, _Pending):
            shape = _shape_of(n.expr)
            key = (n.expr, "pending")
            if key not in names:
                k = sum(1 for name in names if isinstance(name, tuple))
                holder = sp.MatrixSymbol(f"_d{k}", *shape) if shape else sp.Symbol(f"_d{k}")
                names[key] = holder
                assert printer is not None
                names[holder] = rf"\mathrm{{d}}{_factor(printer, n.expr)}"
            holder = names[key]
            return holder.T if n.t else holder
        if isinstance(n, _Mul):
            out = go(n.inner)
            if n.L is not None:
                out = _mm(n.L, out)
            if n.R is not None:
                out = _mm(out, n.R)
            return out
        if isinstance(n, _Had):
            return sp.HadamardProduct(n.M, go(n.inner))
        if isinstance(n, _Scale):
            return _mm(n.c, go(n.inner))
        if isinstance(n, _Tr):
            return sp.Trace(go(n.inner))
        if isinstance(n, _Outer):
            return _mm(go(n.inner), n.M)
        if isinstance(n, _Sum):
            if not n.terms:
                return sp.ZeroMatrix(*n.shape) if n.shape else sp.S.Zero
            return _plus([go(t) for t in n.terms])
        raise TypeError(f"not a linear map: {n!r}")

    return go(node)


def _vec_jacobian(node: Any, X: Any, out_size: Any) -> Any:
    """d vec(F) / d vec(X) of a finished tree: Kronecker products, column-major vec."""
    m, p = X.shape

    def go(n: Any, rows: Any) -> Any:
        if isinstance(n, _Var):
            return Commutation(m, p) if n.t else sp.Identity(m * p)
        if isinstance(n, _Mul):
            inner_shape = _node_shape(n.inner)
            L = n.L if n.L is not None else sp.Identity(inner_shape[0])
            R = n.R if n.R is not None else sp.Identity(inner_shape[1])
            kron = _kron(R.T, L)
            return _times(kron, go(n.inner, None))
        if isinstance(n, _Had):
            return _times(DiagVec(n.M), go(n.inner, None))
        if isinstance(n, _Scale):
            return _mm(n.c, go(n.inner, None))
        if isinstance(n, _Tr):
            q = _node_shape(n.inner)[0]
            return _mm(Vec(sp.Identity(q)).T, go(n.inner, None))
        if isinstance(n, _Outer):
            return _mm(Vec(n.M), go(n.inner, None))
        if isinstance(n, _Sum):
            if not n.terms:
                return sp.ZeroMatrix(out_size, m * p)
            return _plus([go(t, None) for t in n.terms], collect=False)
        raise TypeError(f"not a linear map: {n!r}")

    return go(node, out_size)


def _kron(a: Any, b: Any) -> Any:
    """``a ⊗ b`` with scalar factors pulled out (sympy 1.14 fails on a 1 x 1 with one)."""
    coeff = sp.S.One
    factors = []
    for m in (a, b):
        if isinstance(m, sp.MatMul):
            c, mats = m.as_coeff_matrices()
            coeff, m = coeff * c, _mm(*mats)
        factors.append(m)
    kron = sp.KroneckerProduct(*factors)
    return kron if coeff == 1 else sp.MatMul(coeff, kron)


def _times(left: Any, right: Any) -> Any:
    return left if isinstance(right, sp.Identity) else _mm(left, right)


def _gradient(node: Any, X: Any, start: Any) -> Any:
    """The adjoint of the differential applied to ``start`` (shaped like F).

    With ``start`` = 1 for a scalar (or 1 x 1) F, this is the gradient G with
    ``dF = tr(G^T dX)``; with a symbol G_F it is the VJP ``G_F -> DF(X)^T[G_F]``.
    """

    def adj(n: Any, G: Any) -> Any:
        if isinstance(n, _Var):
            return G.T if n.t else G
        if isinstance(n, _Mul):
            if n.L is not None:
                G = _mm(n.L.T, G)
            if n.R is not None:
                G = _mm(G, n.R.T)
            return adj(n.inner, G)
        if isinstance(n, _Had):
            return adj(n.inner, sp.HadamardProduct(n.M, G))
        if isinstance(n, _Scale):
            return adj(n.inner, _mm(n.c, G))
        if isinstance(n, _Tr):
            q = _node_shape(n.inner)[0]
            return adj(n.inner, _mm(G, sp.Identity(q)))
        if isinstance(n, _Outer):
            return adj(n.inner, sp.Trace(_mm(n.M.T, G)))
        if isinstance(n, _Sum):
            if not n.terms:
                return sp.ZeroMatrix(*X.shape)
            return _plus([adj(t, G) for t in n.terms])
        raise TypeError(f"not a linear map: {n!r}")

    return adj(node, start)


@dataclass(frozen=True)
class IndexTerm:
    """One term of the index form: ``coefficient * einsum(spec, *operands)``.

    Attributes
    ----------
    coefficient : sympy expression
        A scalar factor (1 for most terms; ``det(X)``-like factors otherwise).
    spec : str
        The ``np.einsum`` specification; its output lists F's indices, then X's.
    operands : tuple of sympy matrix expressions
        One per operand of ``spec`` (``Identity`` stands for a Kronecker delta).
    latex : str
        The term in index notation, e.g. ``A_{ij} W_{kl}``.
    """

    coefficient: Any
    spec: str
    operands: tuple[Any, ...]
    latex: str


@dataclass(frozen=True)
class IndexForm:
    """The index form ``dF[i,l] / dX[j,k] = ...``, output indices first.

    Attributes
    ----------
    terms : tuple of IndexTerm
        The summands; the tensor is the sum of ``coefficient * einsum(spec, *operands)``.
    latex : str
        The whole formula, e.g. ``\\frac{\\partial Z_{il}}{\\partial H_{jk}} = A_{ij} W_{kl}``.
    einsum : str
        The einsum specifications of the terms joined by ``" + "``, e.g. ``"ij,kl->iljk"``.
    """

    terms: tuple[IndexTerm, ...]
    latex: str
    einsum: str


# (coefficient, factors [(expr, (a, b))], output indices, input indices)
_RawTerm = tuple[Any, list[Any], tuple[int, ...], tuple[int, ...]]


class _Index:
    """Builder of the index form: indices are integers until they get letters."""

    def __init__(self, X: Any) -> None:
        self.dims: list[Any] = []
        self.X = X

    def new(self, dim: Any) -> int:
        self.dims.append(dim)
        return len(self.dims) - 1

    def terms(self, node: Any, inn: tuple[int, ...]) -> list[_RawTerm]:
        """Terms (coefficient, factors [(expr, (a, b))], out indices, in indices)."""
        if isinstance(node, _Var):
            a, b = inn
            return [(sp.S.One, [], (b, a) if node.t else (a, b), inn)]
        if isinstance(node, _Mul):
            out: list[_RawTerm] = []
            for c, factors, (u, v), ins in self.terms(node.inner, inn):
                fs = list(factors)
                i, l_ = u, v
                if node.L is not None:
                    i = self.new(node.L.rows)
                    fs.append((node.L, (i, u)))
                if node.R is not None:
                    l_ = self.new(node.R.cols)
                    fs.append((node.R, (v, l_)))
                out.append((c, fs, (i, l_), ins))
            return out
        if isinstance(node, _Had):
            return [
                (c, [*fs, (node.M, o)], o, ins) for c, fs, o, ins in self.terms(node.inner, inn)
            ]
        if isinstance(node, _Scale):
            return [(node.c * c, fs, o, ins) for c, fs, o, ins in self.terms(node.inner, inn)]
        if isinstance(node, _Tr):
            out = []
            for c, fs, (u, v), ins in self.terms(node.inner, inn):
                ren = {v: u}
                fs2 = [(e, tuple(ren.get(x, x) for x in idx)) for e, idx in fs]
                out.append((c, fs2, (), tuple(ren.get(x, x) for x in ins)))
            return out
        if isinstance(node, _Outer):
            out = []
            for c, fs, _, ins in self.terms(node.inner, inn):
                i, l_ = self.new(node.M.rows), self.new(node.M.cols)
                out.append((c, [*fs, (node.M, (i, l_))], (i, l_), ins))
            return out
        if isinstance(node, _Sum):
            return [t for term in node.terms for t in self.terms(term, inn)]
        raise TypeError(f"not a linear map: {node!r}")


def _index_form(node: Any, X: Any, out_ndim: int, name: str, printer: _Printer) -> IndexForm:
    builder = _Index(X)
    j, k = builder.new(X.rows), builder.new(X.cols)
    raw = builder.terms(node, (j, k))
    wrt = printer._print(X)
    out_letters = "il"[:out_ndim] if out_ndim == 2 else ""
    lhs_out = f"{name}_{{{out_letters}}}" if out_letters else name
    lhs = rf"\frac{{\partial {lhs_out}}}{{\partial {wrt}_{{jk}}}}"
    terms: list[IndexTerm] = []
    for c, factors, out, ins in raw:
        full = list(out) + list(ins)
        fs = list(factors)
        seen: set[int] = set()
        for pos, idx in enumerate(full):
            if idx in seen:  # an index twice in the output: a Kronecker delta
                fresh = builder.new(builder.dims[idx])
                fs.append((sp.Identity(builder.dims[idx]), (idx, fresh)))
                full[pos] = fresh
            seen.add(idx)
        in_factors = {x for _, idx in fs for x in idx}
        for idx in full:
            if idx not in in_factors:
                raise RuntimeError(f"internal error: index {idx} in no factor of {factors}")
        letters: dict[int, str] = dict(zip(full, out_letters + "jk", strict=True))
        spare = iter(c for c in string.ascii_lowercase if c not in "ijkl")
        for _, idx in fs:
            for x in idx:
                if x not in letters:
                    letters[x] = next(spare)
        parts, names = [], []
        for e, idx in fs:
            if isinstance(e, sp.Transpose) and isinstance(e.arg, sp.MatrixSymbol):
                e, idx = e.arg, idx[::-1]  # (A^T)_{ij} is A_{ji}
            parts.append("".join(letters[x] for x in idx))
            names.append("I" if isinstance(e, sp.Identity) else _factor(printer, e))
        operands = []
        for e, _ in fs:
            if isinstance(e, sp.Transpose) and isinstance(e.arg, sp.MatrixSymbol):
                e = e.arg
            operands.append(e)
        spec = ",".join(parts) + "->" + "".join(letters[x] for x in full)
        body = index_product(spec, names)
        if c == 1:
            text = body
        elif c == -1:
            text = f"-{body}"
        else:
            coef = printer._print(c)
            text = f"{_factor(printer, c) if isinstance(c, sp.Add) else coef} {body}"
        terms.append(IndexTerm(c, spec, tuple(operands), text))
    if not terms:
        rhs = "0"
    else:
        rhs = " + ".join(t.latex for t in terms).replace("+ -", "- ")
    einsum = " + ".join(t.spec for t in terms) if terms else ""
    return IndexForm(tuple(terms), f"{lhs} = {rhs}", einsum)


# --------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DerivationCheck:
    """Every form of a :class:`Derivation` compared with the numeric Jacobian.

    Truthy exactly when every form is "correct".

    Attributes
    ----------
    results : dict
        One :class:`mdcalc.CheckResult` per form: ``"differential"`` (the linear map),
        ``"vec_jacobian"`` (the matrix), ``"index"`` (the tensor) and, for a scalar F,
        ``"gradient"``.
    verdict : str
        ``"correct"`` when every form is, ``"wrong"`` when any is, else ``"undecided"``.
    """

    results: dict[str, CheckResult]

    @property
    def verdict(self) -> str:
        verdicts = {r.verdict for r in self.results.values()}
        if verdicts == {"correct"}:
            return "correct"
        return "wrong" if "wrong" in verdicts else "undecided"

    @property
    def ok(self) -> bool:
        return self.verdict == "correct"

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        lines = [f"{form}: {r.verdict}" for form, r in self.results.items()]
        wrong = [f"{form}: {r.message}" for form, r in self.results.items() if not r.ok]
        return "\n".join(lines + wrong)

    def __repr__(self) -> str:
        inner = ", ".join(f"{form}={r.verdict}" for form, r in self.results.items())
        return f"DerivationCheck({self.verdict}: {inner})"


@dataclass
class Derivation:
    """The derivative of a sympy matrix expression, step by step and in every form.

    Built by :func:`derive`; see there for an example.

    Attributes
    ----------
    expr, wrt : sympy expressions
        F and X.
    steps : list of (str, str)
        The derivation: (name of the rule, LaTeX of the whole differential after it),
        from ``d(F)`` to the final differential. :meth:`steps_latex` typesets them.
    differential : sympy expression
        dF, linear in the ``MatrixSymbol`` :attr:`dX` (named ``"d" + X.name``).
    dX : sympy.MatrixSymbol
        The differential of X, shaped like X.
    vec_jacobian : sympy matrix expression
        ``d vec(F) / d vec(X)``, shape ``(F.size, X.size)``, column-major vec:
        Kronecker products, commutation matrices ``K_{m,n}`` for transposes and
        ``diag(vec M)`` for Hadamard terms.
    index : IndexForm
        The index form (LaTeX, output indices first) with its einsum specification.
    gradient : sympy matrix expression or None
        For a scalar (or 1 x 1) F, the G with ``dF = tr(G^T dX)``; else None.
    note : str or None
        Said when the derivative is zero because X does not appear in F.
    name : str
        How the steps and the index form name F.

    Numeric views take ``values``, a dict from every symbol of F (X included) to an
    array: :meth:`tensor`, :meth:`matrix`, :meth:`linear_map`, :meth:`gradient_value`
    (scalar F), :meth:`function` (F itself, complex-safe) and :meth:`check`.
    """

    expr: Any
    wrt: Any
    steps: list[tuple[str, str]]
    differential: Any
    dX: Any
    vec_jacobian: Any
    index: IndexForm
    gradient: Any
    note: str | None = None
    name: str = "F"
    _tree: Any = field(default=None, repr=False)
    _adjoint: Any = field(default=None, repr=False)

    # ---------------------------------------------------------------- display

    def steps_latex(self) -> str:
        """The steps as one LaTeX ``aligned`` block, each line labelled with its rule."""
        lines = []
        for n, (rule, latex) in enumerate(self.steps):
            lhs = rf"\mathrm{{d}}{self.name}" if n == 0 else ""
            lines.append(rf"{lhs} &= {latex} && \text{{{rule}}}")
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"

    def _repr_markdown_(self) -> str:
        return f"$$\n{self.steps_latex()}\n$$"

    # ---------------------------------------------------------------- numbers

    def _prepare(self, values: Mapping[Any, ArrayLike]) -> tuple[dict[Any, Any], tuple[int, ...]]:
        if not isinstance(values, Mapping):
            raise TypeError(
                f"values must be a dict from each symbol to an array, got {type(values).__name__}"
            )
        named = [k for k in values if isinstance(k, str)]
        if named:
            raise TypeError(
                f"values must be keyed by the sympy symbols themselves, not by names: "
                f"got {named[0]!r}"
            )
        if self.wrt not in values:
            raise ValueError(f"values has no value for {self.wrt} (the variable)")
        if self.dX in values:
            raise ValueError(f"values must not give {self.dX}: it is the direction K")
        subs = _substitutions(self.expr, values)
        F = _evaluate(self.expr, subs)
        if np.any(F.imag != 0):
            raise ValueError(f"{self.expr} is not real at these values")
        return subs, F.shape

    def _at(self, values: Mapping[Any, ArrayLike]) -> Derivative:
        subs, out_shape = self._prepare(values)
        in_shape = tuple(subs[self.wrt].shape)
        dX = self.dX

        def real(expr: Any, extra: Mapping[Any, Any] | None = None) -> np.ndarray:
            arr = _evaluate(expr, {**subs, **(extra or {})})
            return np.asarray(arr.real, dtype=float)

        def jvp(K: np.ndarray) -> np.ndarray:
            arr = np.asarray(K, dtype=float)
            return real(self.differential, {dX: arr}).reshape(out_shape)

        n_out, n_in = int(np.prod(out_shape)), int(np.prod(in_shape))
        what = f"the Jacobian of {shape_str(out_shape)} outputs by {shape_str(in_shape)} inputs"

        def matrix() -> np.ndarray:
            check_size(n_out * n_in, 8, what)
            M = real(self.vec_jacobian)
            size = int(np.prod(out_shape))
            return M.reshape(size, int(np.prod(in_shape)))

        def tensor() -> np.ndarray:
            check_size(n_out * n_in, 8, what)
            T = np.zeros(out_shape + in_shape)
            for term in self.index.terms:
                ops = [real(e) for e in term.operands]
                c = float(real(term.coefficient))
                T += c * np.einsum(term.spec, *ops, optimize=True).reshape(T.shape)
            return T

        def vjp(G: np.ndarray) -> np.ndarray:
            bar, adjoint = self._adjoint
            G_ = np.asarray(G, dtype=float).reshape(out_shape)
            return real(adjoint, {bar: G_}).reshape(in_shape)

        has_vjp = self._adjoint is not None
        return Derivative(
            out_shape, in_shape, jvp=jvp, vjp=vjp if has_vjp else None, tensor=tensor, matrix=matrix
        )

    def tensor(self, values: Mapping[Any, ArrayLike]) -> np.ndarray:
        """The Jacobian tensor at the given values, shape ``F.shape + X.shape``, from :attr:`index`.

        Accuracy: the einsum of the evaluated factors, with their rounding.
        """
        return self._at(values).tensor()

    def matrix(self, values: Mapping[Any, ArrayLike]) -> np.ndarray:
        """The vec-Jacobian at the given values, from :attr:`vec_jacobian` (column-major vec)."""
        return self._at(values).matrix()

    def linear_map(self, values: Mapping[Any, ArrayLike]) -> Derivative:
        """The map ``K -> DF(X)[K]`` at the given values (an :class:`mdcalc.Derivative`).

        Calling it evaluates :attr:`differential` with ``dX = K``; its ``.adjoint(G)``
        (the VJP) evaluates the adjoint of the differential, matrix-free, the way the
        gradient is written; ``.tensor()`` and ``.matrix()`` are :meth:`tensor` and
        :meth:`matrix`.
        """
        return self._at(values)

    def gradient_value(self, values: Mapping[Any, ArrayLike]) -> np.ndarray:
        """The gradient (shaped like X) at the given values, for a scalar F."""
        if self.gradient is None:
            raise ValueError(f"{self.expr} is not scalar-valued: it has no gradient")
        subs, _ = self._prepare(values)
        arr = _evaluate(self.gradient, subs)
        return np.asarray(arr.real, dtype=float).reshape(subs[self.wrt].shape)

    def function(self, values: Mapping[Any, ArrayLike]) -> Callable[[np.ndarray], np.ndarray]:
        """F as a numpy function of X, the other symbols fixed at their values.

        Complex-safe (for the complex step of :func:`mdcalc.check_derivative`).
        """
        subs, out_shape = self._prepare(values)

        def f(Xv: np.ndarray) -> np.ndarray:
            arr = _evaluate(self.expr, {**subs, self.wrt: np.asarray(Xv)})
            if not np.iscomplexobj(Xv) and not np.any(arr.imag != 0):
                return np.asarray(arr.real, dtype=float)
            return arr

        return f

    def check(self, values: Mapping[Any, ArrayLike], **options: Any) -> DerivationCheck:
        """Compare every form with the numeric Jacobian of F at the given values.

        Each of the differential (as a linear map), the vec-Jacobian (as a matrix), the
        index form (as a tensor) and, for a scalar F, the gradient is checked with
        :func:`mdcalc.check_derivative` (``options`` are passed on to it).

        Returns
        -------
        DerivationCheck
            Truthy exactly when every form is correct.
        """
        D = self._at(values)
        f = self.function(values)
        X = np.asarray(values[self.wrt], dtype=float).reshape(D.in_shape)
        results = {
            "differential": check_derivative(f, X, D, **options),
            "vec_jacobian": check_derivative(f, X, D.matrix(), **options),
            "index": check_derivative(f, X, D.tensor(), **options),
        }
        if self.gradient is not None:
            G = self.gradient_value(values).reshape(D.out_shape + D.in_shape)
            results["gradient"] = check_derivative(f, X, G, **options)
        return DerivationCheck(results)

    def __repr__(self) -> str:
        return f"Derivation(d({self.expr})/d{self.wrt}: {self.differential})"


def derive(expr: Any, wrt: Any, *, name: str = "F") -> Derivation:
    """The derivative of a sympy matrix expression, step by step, in the book's three forms.

    Parameters
    ----------
    expr : sympy matrix expression (or scalar expression of matrices)
        Built from ``MatrixSymbol`` s with integer or symbolic dimensions: sums,
        differences, scalar multiples, products, integer powers, transposes, inverses,
        traces, determinants, ``log``, Hadamard products and powers, elementwise
        functions (``applyfunc`` with exp, log, tanh, sin, cos, powers...), identity,
        zero and constant matrices. Vectors are n x 1 matrices.
    wrt : sympy.MatrixSymbol
        The variable X.
    name : str
        How the index form names F (``"Z"`` gives ``\\partial Z_{il}``).

    Returns
    -------
    Derivation
        ``.steps``, ``.differential``, ``.vec_jacobian``, ``.index``, ``.gradient``,
        ``.note``, and the numeric views ``.tensor(values)``, ``.matrix(values)``,
        ``.linear_map(values)`` and ``.check(values)``.

    Raises
    ------
    TypeError
        If ``wrt`` is not a ``MatrixSymbol`` or ``expr`` is not a sympy expression.
    ValueError
        If ``expr`` holds no matrix, uses an unsupported operation (named), or has
        mismatched shapes.

    Notes
    -----
    Accuracy: the symbolic forms are exact. The numeric views evaluate them in floating
    point (numpy), with its rounding.

    Examples
    --------
    >>> import numpy as np, sympy as sp
    >>> from mdcalc import derive
    >>> A = sp.MatrixSymbol("A", 3, 3); H = sp.MatrixSymbol("H", 3, 2)
    >>> W = sp.MatrixSymbol("W", 2, 4)
    >>> r = derive(A * H * W, H, name="Z")
    >>> r.differential
    A*dH*W
    >>> r.vec_jacobian
    KroneckerProduct(W.T, A)
    >>> r.index.latex
    '\\\\frac{\\\\partial Z_{il}}{\\\\partial H_{jk}} = A_{ij} W_{kl}'
    >>> r.index.einsum
    'ij,kl->iljk'
    >>> r.steps[-1]
    ('product rule', 'A \\\\mathrm{d}H W')
    >>> rng = np.random.default_rng(0)
    >>> values = {A: rng.normal(size=(3, 3)), H: rng.normal(size=(3, 2)),
    ...           W: rng.normal(size=(2, 4))}
    >>> r.tensor(values).shape
    (3, 4, 3, 2)
    >>> bool(r.check(values))
    True

    A scalar function has a gradient:

    >>> x = sp.MatrixSymbol("x", 3, 1)
    >>> derive(x.T * A * x / 2, x).gradient
    (1/2)*A*x + (1/2)*A.T*x
    """
    if not isinstance(wrt, sp.MatrixSymbol):
        raise TypeError(
            f"wrt must be a sympy MatrixSymbol (the variable), got {type(wrt).__name__} {wrt!r}"
        )
    if isinstance(expr, sp.MatrixBase) and not isinstance(expr, sp.Basic):
        expr = sp.ImmutableMatrix(expr)  # a mutable explicit matrix: the same, hashable
    if not isinstance(expr, sp.Basic):
        raise TypeError(
            f"expr must be a sympy matrix expression, got {type(expr).__name__}; build it "
            "from sympy.MatrixSymbol objects"
        )
    is_matrix = bool(getattr(expr, "is_Matrix", False))
    if not is_matrix and not any(
        isinstance(a, (sp.MatrixExpr, sp.MatrixBase)) for a in sp.preorder_traversal(expr)
    ):
        raise ValueError(
            f"expr must be a matrix expression (or a scalar built from matrices, such as a "
            f"trace), got the scalar {expr}; use MatrixSymbol (a vector is n x 1)"
        )
    for s in expr.atoms(sp.MatrixSymbol):
        if s.name == wrt.name and s != wrt:
            raise ValueError(
                f"mismatched shapes: expr uses {s.name} as {s.rows}x{s.cols}, but wrt "
                f"is {wrt.rows}x{wrt.cols}"
            )
        if s.name == "d" + wrt.name:
            raise ValueError(f"expr uses the name {s.name}, which derive keeps for d{wrt.name}")
    _validate(expr)

    X = wrt
    dX = sp.MatrixSymbol("d" + X.name, *X.shape)
    printer = _Printer()
    names: dict[Any, Any] = {dX: rf"\mathrm{{d}}{printer._print(X)}"}
    printer.names = names
    out_shape = _shape_of(expr)
    ctx = _Context(X)
    tree = ctx.d(expr)

    def show(node: Any) -> str:
        return str(printer.doprint(_to_sympy(node, dX, names, printer)))

    steps = [("differential", rf"\mathrm{{d}}{_factor(printer, expr)}")]
    note = None
    if _is_zero(tree):
        note = f"{X} does not appear in the expression: its derivative is zero"
        steps.append(("constant", show(tree)))
    elif isinstance(tree, _Var):
        steps.append(("variable", show(tree)))
    while True:
        leaf = next(_pending(tree), None)
        if leaf is None:
            break
        rule, new = _rule(leaf.expr, ctx)
        if leaf.t:
            new = _transposed(new)
        tree = _replace(tree, leaf, new)
        steps.append((rule, show(tree)))

    differential = _to_sympy(tree, dX, names, None)
    out_size = out_shape[0] * out_shape[1] if out_shape else sp.S.One
    vec_jacobian = _vec_jacobian(tree, X, out_size)
    scalar = out_shape == () or (out_shape[0] == 1 and out_shape[1] == 1)
    one = sp.S.One if out_shape == () else sp.Identity(1)
    gradient = _gradient(tree, X, one) if scalar else None
    bar = sp.MatrixSymbol(f"_bar_{name}", *out_shape) if out_shape else sp.Symbol(f"_bar_{name}")
    adjoint = _gradient(tree, X, bar) if not _is_zero(tree) else sp.ZeroMatrix(*X.shape)
    if gradient is not None and _is_zero(tree):
        gradient = sp.ZeroMatrix(*X.shape)
    index = _index_form(tree, X, len(out_shape), name, printer)
    return Derivation(
        expr=expr,
        wrt=X,
        steps=steps,
        differential=differential,
        dX=dX,
        vec_jacobian=vec_jacobian,
        index=index,
        gradient=gradient,
        note=note,
        name=name,
        _tree=tree,
        _adjoint=(bar, adjoint),
    )
