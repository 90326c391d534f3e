"""LaTeX in the book's notation: the printer of every form and step, and :func:`to_latex`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sympy as sp  # type: ignore[import-untyped]
from sympy.matrices.expressions.applyfunc import (  # type: ignore[import-untyped]
    ElementwiseApplyFunction,
)
from sympy.printing.latex import LatexPrinter  # type: ignore[import-untyped]
from sympy.printing.precedence import PRECEDENCE  # type: ignore[import-untyped]

from mdcalc.derivation.nodes import Vec, _factor


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

    def _print_Entry(self, expr: Any) -> str:
        # the only entry of a 1 x 1 matrix is the matrix, read as a scalar
        parent = expr.parent
        if parent.rows == 1 and parent.cols == 1:
            text = str(self._print(parent))
            return rf"\left({text}\right)" if isinstance(parent, sp.MatAdd) else text
        return str(super()._print_MatrixElement(expr))

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
