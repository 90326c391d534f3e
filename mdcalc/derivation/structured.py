"""``derive(..., structure=...)``: the gradient on a subspace, the derivative by the
independent entries and the vec-Jacobian by them, written from the unstructured forms.

On the subspace, X's own structure simplifies the forms: ``X^T = X`` for symmetric and
diagonal X, ``X^T = -X`` for skew X (so the gradient of log det X is X^-1, not X^-T).
The nodes sympy lacks: the n^2 x m matrix of a subspace's basis (``D_n`` for symmetric X)
and the triangular parts ``tril`` and ``triu``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp  # type: ignore[import-untyped]
from sympy.core.symbol import Str  # type: ignore[import-untyped]

from mdcalc.derivation.maps import _mm
from mdcalc.derivation.nodes import OneMatrixNode, _factor, _size
from mdcalc.structure import Subspace

# How each basis matrix prints: vec X = S_n x, x the free entries (vec order).
_BASIS_LATEX = {
    "symmetric": "D_{{{n}}}",  # the duplication matrix
    "lower": "L_{{{n}}}^{{\\top}}",  # the elimination matrix, transposed
    "skew": "S_{{{n}}}^{{\\mathrm{{skew}}}}",
    "diagonal": "S_{{{n}}}^{{\\mathrm{{diag}}}}",
    "upper": "S_{{{n}}}^{{\\mathrm{{upper}}}}",
}


class StructureBasis(sp.MatrixExpr):  # type: ignore[misc]
    """The n^2 x m matrix S_n with ``vec X = S_n x`` for X in the subspace and x its free
    entries in vec order: the duplication matrix ``D_n`` for symmetric X (x = vech X),
    ``L_n^T`` for lower-triangular X; for skew, diagonal and upper-triangular X the
    matrix whose column k is vec B_k (printed ``S_n^{skew}`` and so on)."""

    def __new__(cls, n: Any, structure: str) -> StructureBasis:
        return sp.Basic.__new__(cls, sp.sympify(n), Str(str(structure)))

    @property
    def n(self) -> Any:
        return self.args[0]

    @property
    def structure(self) -> str:
        return str(self.args[1])

    @property
    def shape(self) -> tuple[Any, Any]:
        n = self.n
        m = {"symmetric": n * (n + 1) / 2, "lower": n * (n + 1) / 2,
             "upper": n * (n + 1) / 2, "skew": n * (n - 1) / 2, "diagonal": n}[self.structure]
        return (n * n, m)

    def _latex(self, printer: Any) -> str:
        return _BASIS_LATEX[self.structure].format(n=printer._print(self.n))

    def _sympystr(self, printer: Any) -> str:
        name = {"symmetric": "D", "lower": "L.T"}.get(self.structure, f"S_{self.structure}")
        return f"{name}_{printer._print(self.n)}"

    def _mdcalc_numeric(self, ev: Callable[[Any], Any]) -> np.ndarray:
        return Subspace(self.structure, _size(ev, self.n)).matrix()


class TrianglePart(sp.MatrixExpr):  # type: ignore[misc]
    """``tril M`` or ``triu M``: the lower or upper triangle of M, diagonal included."""

    def __new__(cls, arg: Any, side: str) -> TrianglePart:
        return sp.Basic.__new__(cls, sp.sympify(arg), Str(str(side)))

    @property
    def arg(self) -> Any:
        return self.args[0]

    @property
    def side(self) -> str:
        return str(self.args[1])

    @property
    def shape(self) -> tuple[Any, Any]:
        return tuple(self.arg.shape)

    def _eval_transpose(self) -> TrianglePart:
        other = "upper" if self.side == "lower" else "lower"
        return TrianglePart(sp.Transpose(self.arg).doit(), other)

    def _latex(self, printer: Any) -> str:
        name = "tril" if self.side == "lower" else "triu"
        return rf"\operatorname{{{name}}}{_factor(printer, self.arg)}"

    def _sympystr(self, printer: Any) -> str:
        return f"{'tril' if self.side == 'lower' else 'triu'}({printer._print(self.arg)})"

    def _mdcalc_numeric(self, ev: Callable[[Any], Any]) -> np.ndarray:
        value = np.asarray(ev(self.arg))
        return np.tril(value) if self.side == "lower" else np.triu(value)


class DiagonalPart(OneMatrixNode):
    """``M ⊙ I``: the diagonal of a square M, as a diagonal matrix (the Matrix Cookbook's
    ``M ∘ I``)."""

    @property
    def shape(self) -> tuple[Any, Any]:
        return tuple(self.arg.shape)

    def _eval_transpose(self) -> DiagonalPart:
        return self

    def _latex(self, printer: Any) -> str:
        inner = printer._print(self.arg)
        if isinstance(self.arg, (sp.MatAdd, sp.MatMul, sp.HadamardProduct)):
            inner = rf"\left({inner}\right)"
        return rf"{inner} \odot I"

    def _sympystr(self, printer: Any) -> str:
        return f"HadamardProduct({printer._print(self.arg)}, I)"

    def _mdcalc_numeric(self, ev: Callable[[Any], Any]) -> np.ndarray:
        value = np.asarray(ev(self.arg))
        return value * np.eye(value.shape[0])


def on_subspace(expr: Any, X: Any, structure: str) -> Any:
    """expr with X's structure used: X^T -> X (symmetric, diagonal), X^T -> -X (skew)."""
    if structure in ("symmetric", "diagonal"):
        return expr.xreplace({X.T: X})
    if structure == "skew":
        return expr.xreplace({X.T: sp.MatMul(-1, X)}).doit()
    return expr


def _transposed(G: Any, X: Any, structure: str) -> Any:
    return on_subspace(sp.Transpose(G).doit(), X, structure)


def _diagonal_part(G: Any) -> Any:
    """``G ⊙ I`` with a scalar factor of G kept outside: ``c (M ⊙ I)``."""
    coeff, M = sp.S.One, G
    if isinstance(G, sp.MatMul):
        coeff, mats = G.as_coeff_matrices()
        M = _mm(*mats)
    part = DiagonalPart(M)
    return part if coeff == 1 else sp.MatMul(coeff, part, evaluate=False)


def structured_gradient(gradient: Any, X: Any, structure: str) -> tuple[Any, Any]:
    """(the gradient on the subspace, the derivative by the independent entries), from the
    unstructured gradient G, as sympy expressions (see :mod:`mdcalc.structure`)."""
    if isinstance(gradient, sp.ZeroMatrix):
        return gradient, gradient
    G = on_subspace(gradient, X, structure)
    half = sp.Rational(1, 2)
    if structure == "symmetric":
        Gt = _transposed(G, X, structure)
        if Gt == G:
            double = sp.MatMul(2, G).doit(deep=False)
            return G, sp.MatAdd(double, -_diagonal_part(G), evaluate=False)
        both = sp.MatAdd(G, Gt, evaluate=False)
        entries = sp.MatAdd(G, Gt, -_diagonal_part(G), evaluate=False)
        return sp.MatMul(half, both, evaluate=False), entries
    if structure == "skew":
        Gt = _transposed(G, X, structure)
        if Gt == sp.MatMul(-1, G).doit():
            return G, sp.MatMul(2, G).doit(deep=False)
        minus = sp.MatMul(-1, Gt).doit(deep=False)
        if sp.MatAdd(G, minus).doit(deep=False).is_ZeroMatrix:
            zero = sp.ZeroMatrix(*X.shape)
            return zero, zero
        difference = sp.MatAdd(G, minus, evaluate=False)
        return sp.MatMul(half, difference, evaluate=False), difference
    if structure == "diagonal":
        part = _diagonal_part(G)
        return part, part
    part = TrianglePart(G, structure)
    return part, part


def structured_vec_jacobian(vec_jacobian: Any, X: Any, structure: str) -> Any:
    """``d vec F / d x`` (x the free entries): the vec-Jacobian, on the subspace, times
    S_n (``D_n`` for symmetric X)."""
    return _mm(on_subspace(vec_jacobian, X, structure), StructureBasis(X.shape[0], structure))
