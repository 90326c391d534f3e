"""The sympy nodes that sympy lacks: of the vec-Jacobian (``vec M``, ``diag(vec M)``, ``K_{m,n}``,
``vec^{-1}``), of entries (``e_i``) and of the index form (``Split``), the derivatives of kinks
(``Sgn``, ``Step``), which refuse to be evaluated where there is no derivative,
and ``_factor``, the LaTeX of a bracketed factor, which they share with the printer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp  # type: ignore[import-untyped]
from sympy.matrices.expressions.matexpr import MatrixElement  # type: ignore[import-untyped]

from mdcalc._validation import check_size
from mdcalc.layouts import commutation_matrix


def _factor(printer: Any, expr: Any) -> str:
    """LaTeX of ``expr`` as a factor: bracketed unless it is a symbol."""
    text = printer._print(expr)
    if isinstance(expr, (sp.MatrixSymbol, sp.Symbol, sp.Identity)):
        return str(text)
    return rf"\left({text}\right)"


def _size(ev: Callable[[Any], Any], n: Any) -> int:
    return int(np.real(ev(n)))


class OneMatrixNode(sp.MatrixExpr):  # type: ignore[misc]
    """A node of one matrix argument, ``.arg`` (the shared part of Vec, DiagVec and
    structured.DiagonalPart)."""

    def __new__(cls, arg: Any) -> Any:
        return sp.Basic.__new__(cls, sp.sympify(arg))

    @property
    def arg(self) -> Any:
        return self.args[0]


class Vec(OneMatrixNode):
    """``vec(M)``: the columns of M stacked into one column (column-major)."""

    @property
    def shape(self) -> tuple[Any, Any]:
        return (self.arg.rows * self.arg.cols, sp.S.One)

    def _latex(self, printer: Any) -> str:
        return rf"\operatorname{{vec}}\left({printer._print(self.arg)}\right)"

    def _mdcalc_numeric(self, ev: Callable[[Any], Any]) -> np.ndarray:
        return np.reshape(ev(self.arg), (-1, 1), order="F")


class DiagVec(OneMatrixNode):
    """``diag(vec M)``: the diagonal matrix of M's entries, column-major order."""

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


class UnitVector(sp.MatrixExpr):  # type: ignore[misc]
    """``e_i``: the i-th column of the n x n identity (counted from 0), an n x 1 matrix.

    ``e_i^T M e_j`` is the entry ``M[i, j]``; ``e_i e_j^T`` is the Cookbook's single-entry
    matrix ``J^{ij}``.
    """

    def __new__(cls, n: Any, i: Any) -> UnitVector:
        return sp.Basic.__new__(cls, sp.sympify(n), sp.sympify(i))

    @property
    def shape(self) -> tuple[Any, Any]:
        return (self.args[0], sp.S.One)

    def _entry(self, i: Any, j: Any, **kwargs: Any) -> Any:
        return sp.KroneckerDelta(i, self.args[1])

    def _latex(self, printer: Any) -> str:
        return rf"e_{{{printer._print(self.args[1])}}}"

    def _mdcalc_numeric(self, ev: Callable[[Any], Any]) -> np.ndarray:
        n, i = _size(ev, self.args[0]), _size(ev, self.args[1])
        if not 0 <= i < n:
            raise ValueError(f"the index {self.args[1]} = {i} is outside 0..{n - 1}")
        e = np.zeros((n, 1))
        e[i, 0] = 1.0
        return e


class Unvec(sp.MatrixExpr):  # type: ignore[misc]
    """``vec^{-1}(v)``: the column v (of length rows * cols) back into a rows x cols matrix."""

    def __new__(cls, arg: Any, rows: Any, cols: Any) -> Unvec:
        return sp.Basic.__new__(cls, sp.sympify(arg), sp.sympify(rows), sp.sympify(cols))

    @property
    def arg(self) -> Any:
        return self.args[0]

    @property
    def shape(self) -> tuple[Any, Any]:
        return (self.args[1], self.args[2])

    def _latex(self, printer: Any) -> str:
        return rf"\operatorname{{vec}}^{{-1}}\left({printer._print(self.arg)}\right)"

    def _mdcalc_numeric(self, ev: Callable[[Any], Any]) -> np.ndarray:
        rows, cols = _size(ev, self.args[1]), _size(ev, self.args[2])
        return np.reshape(ev(self.arg), (rows, cols), order="F")


class Split(sp.MatrixExpr):  # type: ignore[misc]
    """M with its row index split into ``row_dims`` and its column index into ``col_dims``.

    The index form of a Kronecker product needs it: a row of ``A ⊗ B`` is a pair (row of
    A, row of B), in the order numpy's ``kron`` and ``reshape`` use. Numerically it is a
    reshape of M (C order) to ``row_dims + col_dims``, an array with more than two axes;
    only the index form's einsum uses it.
    """

    def __new__(cls, arg: Any, row_dims: Any, col_dims: Any) -> Split:
        return sp.Basic.__new__(cls, sp.sympify(arg), sp.Tuple(*row_dims), sp.Tuple(*col_dims))

    @property
    def arg(self) -> Any:
        return self.args[0]

    @property
    def shape(self) -> tuple[Any, Any]:
        return tuple(self.arg.shape)

    def _latex(self, printer: Any) -> str:
        return str(printer._print(self.arg))

    def _mdcalc_numeric(self, ev: Callable[[Any], Any]) -> np.ndarray:
        dims = [_size(ev, n) for n in (*self.args[1], *self.args[2])]
        return np.reshape(ev(self.arg), dims)


def _refuse_zero(values: Any, what: str) -> None:
    if np.any(np.real(values) == 0):
        raise ValueError(
            f"not differentiable at these values: {what} is 0 there (a kink); the derivative "
            "exists only where it is not 0"
        )


class Sgn(sp.Function):  # type: ignore[misc]
    """``sign(u)``, the derivative of ``|u|``, which has none at ``u = 0``: evaluating it
    there raises a ``ValueError`` instead of giving sign(0) = 0."""

    nargs = 1

    def _latex(self, printer: Any, exp: Any = None) -> str:
        text = rf"\operatorname{{sign}}\left({printer._print(self.args[0])}\right)"
        return f"{text}^{{{exp}}}" if exp else text

    @staticmethod
    def _mdcalc_numpy(u: Any) -> Any:
        _refuse_zero(u, "the argument of an absolute value")
        return np.sign(np.real(u))

    def _mdcalc_numeric(self, ev: Callable[[Any], Any]) -> Any:
        return self._mdcalc_numpy(ev(self.args[0]))


class Step(sp.Function):  # type: ignore[misc]
    """``H(u)`` (0 for u < 0, 1 for u > 0), the derivative of ``max(u, 0)``, which has none
    at ``u = 0``: evaluating it there raises a ``ValueError``."""

    nargs = 1

    def _latex(self, printer: Any, exp: Any = None) -> str:
        text = rf"H\left({printer._print(self.args[0])}\right)"
        return f"{text}^{{{exp}}}" if exp else text

    @staticmethod
    def _mdcalc_numpy(u: Any) -> Any:
        _refuse_zero(u, "the argument of a step (max, ReLU)")
        return (np.real(u) > 0).astype(float)

    def _mdcalc_numeric(self, ev: Callable[[Any], Any]) -> Any:
        return self._mdcalc_numpy(ev(self.args[0]))


def _kinks_guarded(expr: Any) -> Any:
    """``expr`` with sympy's ``sign`` and ``Heaviside`` replaced by :class:`Sgn` and
    :class:`Step`, which refuse to be evaluated where there is no derivative."""
    return expr.replace(sp.sign, Sgn).replace(
        lambda e: isinstance(e, sp.Heaviside), lambda e: Step(e.args[0])
    )


class Entry(MatrixElement):  # type: ignore[misc]
    """``M[i, j]`` kept whole: sympy's ``MatrixElement`` multiplies a product out into sums
    over its entries whenever ``doit`` runs (a transpose runs it), which is slow and
    unreadable. derive's rules see an Entry as the MatrixElement it is."""

    def doit(self, **hints: Any) -> Entry:
        return self

    @property
    def precedence(self) -> int:
        # printed as its 1 x 1 product (see latex._Printer), it binds like one
        from sympy.printing.precedence import PRECEDENCE  # type: ignore[import-untyped]

        one = self.parent.rows == 1 and self.parent.cols == 1
        return int(PRECEDENCE["Mul"] if one else PRECEDENCE["Atom"])


def _keep_entries(expr: Any) -> Any:
    """``expr`` with the entries of matrix expressions (not of symbols) as :class:`Entry`."""
    if not expr.has(MatrixElement):
        return expr
    return expr.replace(
        lambda e: type(e) is MatrixElement and not isinstance(e.parent, sp.MatrixSymbol),
        lambda e: Entry(*e.args),
    )
