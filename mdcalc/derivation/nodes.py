"""The sympy nodes of the vec-Jacobian that sympy lacks (``vec M``, ``diag(vec M)``, ``K_{m,n}``),
and ``_factor``, the LaTeX of a bracketed factor, which they share with the printer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp  # type: ignore[import-untyped]

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
