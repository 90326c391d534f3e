"""The rules of the total differential, one per sympy node (a singledispatch table), and
the shape checks of derive's input."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import sympy as sp  # type: ignore[import-untyped]
from sympy.matrices.expressions.applyfunc import (  # type: ignore[import-untyped]
    ElementwiseApplyFunction,
)
from sympy.matrices.expressions.matexpr import MatrixElement  # type: ignore[import-untyped]

from mdcalc.derivation.maps import (
    _add,
    _Had,
    _is_zero,
    _kron,
    _mm,
    _mul,
    _outer,
    _Pending,
    _scale,
    _shape_of,
    _Tr,
    _transposed,
    _Var,
    _zero,
)
from mdcalc.derivation.nodes import UnitVector, _keep_entries, _kinks_guarded


# derive expands X^n into |n| terms of up to |n| factors each (the product rule), and a
# product of k factors into k terms: beyond these sizes it refuses before any work.
MAX_POWER = 64
MAX_FACTORS = 64
# An expression larger than this (sympy nodes) is refused before any work.
MAX_NODES = 5000


@dataclass
class _Context:
    X: Any

    def d(self, expr: Any) -> Any:
        """The differential of a child: 0, dX, or pending."""
        if expr == self.X:
            return _Var(tuple(self.X.shape))
        if not _depends(expr, self.X):
            return _zero(_shape_of(expr))
        return _Pending(_keep_entries(expr))


def _depends(expr: Any, X: Any) -> bool:
    return bool(getattr(expr, "has", lambda _: False)(X))


@functools.singledispatch
def _rule(expr: Any, ctx: _Context) -> tuple[str, Any]:
    raise ValueError(
        f"derive does not support {type(expr).__name__} (the part {expr} of the "
        "expression); supported: sums, scalar multiples, matrix products, powers, "
        "transposes, inverses, traces, determinants, log, abs, Hadamard and Kronecker "
        "products, Hadamard powers, entries (M[i, j]), elementwise functions (applyfunc), "
        "scalar functions, constants"
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
    _check_power(n, expr)
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
    arg = expr.arg
    if isinstance(arg, sp.KroneckerProduct) and all(_square(a) for a in arg.args):
        # tr(A ⊗ B) = tr(A) tr(B) for square A and B: a product of scalars
        product = sp.Mul(*(sp.Trace(a) for a in arg.args))
        return "trace of a Kronecker product", ctx.d(product)
    inner = ctx.d(arg)
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
    t = sp.Dummy("t", real=True)
    derivative = _scalar_derivative(expr.function(t), t)
    if derivative is None:
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
    if isinstance(expr, sp.log) and isinstance(arg, sp.Abs):
        # d log|u| = du / u for either sign of u (log|u| has no value at u = 0)
        u = arg.args[0]
        return "logarithm of an absolute value", _scale(1 / u, ctx.d(u))
    t = sp.Dummy("t", real=True)
    derivative = _scalar_derivative(type(expr)(t), t)
    if derivative is None:
        return _rule.dispatch(object)(expr, ctx)  # type: ignore[no-any-return]
    if isinstance(expr, sp.log):
        name = "logarithm"
    elif isinstance(expr, sp.Abs):
        name = "absolute value (no derivative where its argument is 0)"
    else:
        name = "chain rule"
    return name, _scale(derivative.subs(t, arg), ctx.d(arg))


def _scalar_derivative(body: Any, t: Any) -> Any:
    """The derivative of a function of the real variable t, with its kinks guarded
    (``sign``, ``Heaviside``: see nodes.Sgn), or None when sympy cannot give one."""
    derivative = sp.diff(body, t)
    if derivative.has(sp.Derivative, sp.DiracDelta, sp.Subs):
        return None
    return _kinks_guarded(derivative)


@_rule.register(sp.KroneckerProduct)
def _(expr: Any, ctx: _Context) -> tuple[str, Any]:
    args = list(expr.args)
    terms = []
    for i, a in enumerate(args):
        left, right = args[:i], args[i + 1 :]
        L = None if not left else (left[0] if len(left) == 1 else sp.KroneckerProduct(*left))
        R = None if not right else (right[0] if len(right) == 1 else sp.KroneckerProduct(*right))
        terms.append(_kron(L, ctx.d(a), R))
    return "Kronecker product rule", _add(terms, tuple(expr.shape))


@_rule.register(MatrixElement)
def _(expr: Any, ctx: _Context) -> tuple[str, Any]:
    M, i, j = expr.parent, expr.i, expr.j
    inner = ctx.d(M)
    if _is_zero(inner):
        return "entry", _zero(())
    if M.rows == 1 and M.cols == 1:  # the only entry of a 1 x 1 matrix is its trace
        return "entry of a 1 x 1 matrix", _Tr(inner, entry=True)
    e_i, e_j = UnitVector(M.rows, i), UnitVector(M.cols, j)
    return "entry (M[i, j] = e_i^T M e_j)", _Tr(_mul(e_i.T, inner, e_j))


@_rule.register(sp.Sum)
def _(expr: Any, ctx: _Context) -> tuple[str, Any]:
    # sympy writes an entry of a product with symbolic sizes, such as (x.T*A*x)[0, 0],
    # as a sum over indices: back to the matrix expression it came from
    from sympy.tensor.array.expressions import (  # type: ignore[import-untyped]
        convert_array_to_matrix,
        convert_indexed_to_array,
    )

    try:
        matrix = convert_array_to_matrix(convert_indexed_to_array(expr))
    except Exception as exc:  # sympy raises many kinds here: name the part instead
        raise ValueError(
            f"derive supports a sum over indices only where it is a matrix expression, "
            f"got {expr} ({type(exc).__name__}: {exc})"
        ) from exc
    if matrix.has(sp.Sum) or not _is_matrix_scalar(matrix):
        raise ValueError(f"derive cannot write the sum {expr} as a matrix expression")
    return "sum over indices (as a matrix expression)", ctx.d(matrix)


def _is_matrix_scalar(expr: Any) -> bool:
    """A scalar built from matrices (an entry, a trace...) without array expressions."""
    from sympy.tensor.array.expressions.array_expressions import (  # type: ignore[import-untyped]
        _ArrayExpr,
    )

    return not getattr(expr, "is_Matrix", False) and not any(
        isinstance(n, _ArrayExpr) for n in sp.preorder_traversal(expr)
    )


def _square(M: Any) -> bool:
    return _same(M.rows, M.cols)


# --------------------------------------------------------------------------------------
# checks of the input
# --------------------------------------------------------------------------------------


def _check_power(n: int, expr: Any) -> None:
    if abs(n) > MAX_POWER:
        raise ValueError(
            f"derive expands the matrix power {_show(expr)} by the product rule into "
            f"{abs(n):,} terms of up to {abs(n):,} factors each; it refuses powers beyond "
            f"{MAX_POWER} (write the power as a product of smaller ones, e.g. "
            "(X^8)^8 as Y^8 with Y = X^8 derived first, or differentiate it by hand)"
        )


def _same(a: Any, b: Any) -> bool:
    return bool(sp.simplify(a - b) == 0) if a != b else True


def _show(node: Any) -> str:
    """A node for a message: its own printing, or, where sympy cannot print it (a product
    of mismatched shapes made with check=False), its factors."""
    try:
        return str(node)
    except Exception:  # noqa: BLE001 - sympy's printer revalidates the shapes
        parts = []
        for a in getattr(node, "args", ()):
            try:
                parts.append(str(a))
            except Exception:  # noqa: BLE001
                parts.append(type(a).__name__)
        return f"{type(node).__name__}({', '.join(parts)})"


def _dims(M: Any) -> str:
    """A shape for a message: ``n x (n + 1)``, sizes that are sums in parentheses."""
    def one(d: Any) -> str:
        text = str(d)
        return text if getattr(d, "is_Atom", True) else f"({text})"

    return f"{one(M.rows)}x{one(M.cols)}"


def _validate(expr: Any) -> None:
    """Refuse mismatched shapes that sympy let through (with ``check=False`` or symbols),
    and expressions too large for derive to expand (stated sizes: MAX_NODES nodes, powers
    up to MAX_POWER, products of up to MAX_FACTORS factors)."""
    nodes = 0
    for node in sp.preorder_traversal(expr):
        nodes += 1
        if nodes > MAX_NODES:
            raise ValueError(
                f"the expression has more than {MAX_NODES:,} sympy nodes; derive refuses "
                "expressions that large (its steps and forms would grow with them): "
                "derive a part at a time"
            )
        if isinstance(node, sp.MatPow) and getattr(node.exp, "is_Integer", False):
            _check_power(int(node.exp), node)
        if isinstance(node, sp.MatMul):
            mats = [a for a in node.args if getattr(a, "is_Matrix", False)]
            if len(mats) > MAX_FACTORS:
                raise ValueError(
                    f"the product {_show(node)[:80]}... has {len(mats):,} factors; derive "
                    f"expands a product of k factors into k terms by the product rule and "
                    f"refuses more than {MAX_FACTORS}: group the factors"
                )
            for a, b in zip(mats, mats[1:], strict=False):
                if not _same(a.cols, b.rows):
                    raise ValueError(
                        f"mismatched shapes in the product {_show(node)}: {_show(a)} is "
                        f"{_dims(a)} but {_show(b)} is {_dims(b)}"
                    )
        elif isinstance(node, (sp.MatAdd, sp.HadamardProduct)):
            shapes = [tuple(a.shape) for a in node.args if getattr(a, "is_Matrix", False)]
            if any(not (_same(s[0], shapes[0][0]) and _same(s[1], shapes[0][1])) for s in shapes):
                raise ValueError(f"mismatched shapes in {_show(node)}: {shapes}")
        elif isinstance(node, (sp.Inverse, sp.Trace, sp.Determinant)):
            arg = node.arg
            if not _same(arg.rows, arg.cols):
                raise ValueError(
                    f"{type(node).__name__} needs a square matrix, but {_show(arg)} is "
                    f"{_dims(arg)}"
                )
