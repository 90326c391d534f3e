"""Formulas for display, written from the objects that the book's checks use.

A displayed formula that is typed by hand can drift from the code that checks it. Here each
formula is *generated* from the thing the check evaluates, so that editing the formula means
editing the check:

- :func:`index_formula` writes ``A_{ij} W_{kl}`` (and its left-hand side) from an
  ``np.einsum`` specification such as ``"ij,kl->iljk"``; the same specification is what the
  notebook evaluates and compares with the numeric Jacobian;
- :func:`to_latex` writes a sympy matrix expression the way the book does (``W^\\top``,
  ``\\otimes``, ``\\odot``), and :func:`mdcalc.layouts.evaluate` evaluates the same expression;
- :func:`glue_math` hands the LaTeX to MyST-NB's ``glue`` (shown in the page with
  ``{glue:math}``), or displays it where MyST-NB is not installed (e.g. on Colab), and
  :func:`glue_markdown` does the same for a table (``{glue:md}``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

__all__ = ["index_formula", "index_product", "to_latex", "glue_math", "glue_markdown"]

# Factor names that stand for the identity matrix: written as a Kronecker delta.
_IDENTITY_NAMES = frozenset({"I", "eye", "delta"})


def _parse_spec(spec: str, n_factors: int) -> tuple[list[str], str]:
    if not isinstance(spec, str) or spec.count("->") != 1:
        raise ValueError(
            f"spec must be an explicit einsum spec such as 'ij,kl->iljk', got {spec!r}"
        )
    inputs, output = spec.replace(" ", "").split("->")
    parts = inputs.split(",")
    if len(parts) != n_factors:
        raise ValueError(
            f"spec {spec!r} has {len(parts)} operand(s) but {n_factors} factor name(s) were given"
        )
    letters = set("".join(parts))
    if not all(c.isalpha() for c in "".join(parts) + output):
        raise ValueError(f"spec {spec!r} may hold only index letters, commas and '->'")
    if not set(output) <= letters or len(set(output)) != len(output):
        raise ValueError(f"spec {spec!r}: each output index must appear once, and in an operand")
    return parts, output


def index_product(
    spec: str,
    factors: Sequence[str],
    *,
    style: Literal["lower", "mixed"] = "lower",
) -> str:
    """The right-hand side of an einsum specification in index notation.

    Parameters
    ----------
    spec : str
        An explicit ``np.einsum`` specification, e.g. ``"ij,kl->iljk"``.
    factors : sequence of str
        One LaTeX name per operand, e.g. ``["A", "W"]``. ``"I"`` is written as a
        Kronecker delta.
    style : {"lower", "mixed"}
        ``"lower"`` writes ``A_{ij}``; ``"mixed"`` writes a matrix as a (1, 1)-tensor,
        first index up and second down, ``A^{i}_{j}``.

    Returns
    -------
    str
        LaTeX, with a ``\\sum`` over every index that is summed (in an operand, not in the
        output).

    Examples
    --------
    >>> from mdcalc.notation import index_product
    >>> index_product("ij,kl->iljk", ["A", "W"])
    'A_{ij} W_{kl}'
    >>> index_product("ij,jk->ik", ["A", "H"])
    '\\\\sum_{j} A_{ij} H_{jk}'
    >>> index_product("il,jk->ijkl", ["A", "W"], style="mixed")
    'A^{i}_{l} W^{j}_{k}'
    """
    parts, output = _parse_spec(spec, len(factors))
    summed = sorted({c for part in parts for c in part} - set(output))
    terms = []
    for name, idx in zip(factors, parts, strict=True):
        base = r"\delta" if name in _IDENTITY_NAMES else name
        if style == "mixed" and len(idx) == 2:
            terms.append(f"{base}^{{{idx[0]}}}_{{{idx[1]}}}")
        elif style in ("lower", "mixed"):
            terms.append(f"{base}_{{{idx}}}" if idx else base)
        else:
            raise ValueError(f"style must be 'lower' or 'mixed', got {style!r}")
    body = " ".join(terms)
    return rf"\sum_{{{''.join(summed)}}} {body}" if summed else body


def index_formula(
    spec: str,
    factors: Sequence[str],
    *,
    output: str = "Z",
    wrt: str = "H",
    out_ndim: int = 2,
) -> str:
    """A partial-derivative formula, ``dZ_{il}/dH_{jk} = A_{ij} W_{kl}``, from an einsum spec.

    The specification's output indices are read as the output's indices (the first
    ``out_ndim``) followed by the variable's, the book's layout.

    Examples
    --------
    >>> from mdcalc.notation import index_formula
    >>> index_formula("ij,kl->iljk", ["A", "W"])
    '\\\\frac{\\\\partial Z_{il}}{\\\\partial H_{jk}} = A_{ij} W_{kl}'
    >>> index_formula("ij->ji", ["A"], output="f", out_ndim=0, wrt="X")
    '\\\\frac{\\\\partial f}{\\\\partial X_{ji}} = A_{ij}'
    """
    _, out = _parse_spec(spec, len(factors))
    if not 0 <= out_ndim <= len(out):
        raise ValueError(f"out_ndim must be between 0 and {len(out)}, got {out_ndim}")
    z_idx, h_idx = out[:out_ndim], out[out_ndim:]
    lhs_out = f"{output}_{{{z_idx}}}" if z_idx else output
    lhs_in = f"{wrt}_{{{h_idx}}}" if h_idx else wrt
    return rf"\frac{{\partial {lhs_out}}}{{\partial {lhs_in}}} = " + index_product(spec, factors)


def to_latex(expr: Any) -> str:
    """LaTeX of a sympy expression in the book's notation: ``W^\\top``, ``\\otimes``, ``\\odot``.

    Examples
    --------
    >>> import sympy as sp
    >>> from mdcalc.notation import to_latex
    >>> A, W = sp.MatrixSymbol("A", 3, 3), sp.MatrixSymbol("W", 2, 4)
    >>> to_latex(sp.KroneckerProduct(W.T, A))
    'W^{\\\\top} \\\\otimes A'
    """
    import sympy as sp  # type: ignore[import-untyped]
    from sympy.printing.latex import LatexPrinter  # type: ignore[import-untyped]
    from sympy.printing.precedence import PRECEDENCE  # type: ignore[import-untyped]

    class _BookPrinter(LatexPrinter):  # type: ignore[misc]
        def _print_Transpose(self, expr: Any) -> str:
            arg = expr.arg
            inner = self._print(arg)
            if not isinstance(arg, sp.MatrixSymbol):
                inner = rf"\left({inner}\right)"
            return f"{inner}^{{\\top}}"

        def _print_HadamardProduct(self, expr: Any) -> str:
            tight = PRECEDENCE["Pow"]  # a product or sum inside a Hadamard product gets brackets
            return r" \odot ".join(self.parenthesize(a, tight) for a in expr.args)

    return str(_BookPrinter({"mat_symbol_style": "plain"}).doprint(expr))


def glue_math(name: str, latex: str) -> None:
    """Store ``latex`` under ``name`` for ``{glue:math}``; display it where MyST-NB is absent.

    In the book build, MyST-NB's ``glue`` keeps the formula out of the cell's output
    (``display=False``) and the page shows it where ``{glue:math}`` names it. In a kernel
    without MyST-NB (Colab, a bare Jupyter), the formula is displayed in the cell instead,
    so a reader never loses it.
    """
    from IPython.display import Math

    _glue(name, Math(latex))


def glue_markdown(name: str, text: str) -> None:
    """Store Markdown (a table built from checked objects) under ``name`` for ``{glue:md}``.

    Like :func:`glue_math`: displayed in the cell where MyST-NB is not installed.
    """
    from IPython.display import Markdown

    _glue(name, Markdown(text))


def _glue(name: str, obj: Any) -> None:
    from IPython.display import display

    try:
        from myst_nb import glue  # type: ignore[import-untyped]
    except ImportError:
        display(obj)
        return
    glue(name, obj, display=False)
