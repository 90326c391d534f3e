"""Displayed formulas are written from the einsum spec or sympy expression a check evaluates."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from mdcalc import jacobian_tensor
from mdcalc.layouts import evaluate
from mdcalc.notation import glue_markdown, glue_math, index_formula, index_product, to_latex


def test_index_formula_is_the_spec_the_check_evaluates(example):
    A, _, W = example(4, 3, 2)
    spec = "ij,kl->iljk"
    assert np.allclose(np.einsum(spec, A, W), jacobian_tensor(A, W))
    assert index_formula(spec, ["A", "W"]) == (
        r"\frac{\partial Z_{il}}{\partial H_{jk}} = A_{ij} W_{kl}"
    )
    # a different (wrong) spec writes a different formula: the display follows the code
    assert index_formula("ij,lk->iljk", ["A", "W"]).endswith("A_{ij} W_{lk}")


def test_summed_indices_identity_and_mixed_style():
    assert index_product("ij,jk->ik", ["A", "H"]) == r"\sum_{j} A_{ij} H_{jk}"
    assert index_product("ij,lk->iljk", ["A", "I"]) == r"A_{ij} \delta_{lk}"
    assert index_product("il,jk->ijkl", ["A", "W"], style="mixed") == "A^{i}_{l} W^{j}_{k}"
    assert index_formula("ij->", ["A"], output="f", wrt="X", out_ndim=0) == (
        r"\frac{\partial f}{\partial X} = \sum_{ij} A_{ij}"
    )


@pytest.mark.parametrize(
    ("spec", "factors", "match"),
    [
        ("ij,kl", ["A", "W"], "explicit einsum spec"),
        ("ij,kl->iljk", ["A"], "2 operand"),
        ("ij,kl->ilm", ["A", "W"], "output index"),
        ("ij,kl->iil", ["A", "W"], "output index"),
        ("i1,kl->il", ["A", "W"], "only index letters"),
        (None, ["A"], "explicit einsum spec"),
    ],
)
def test_bad_specs_are_refused(spec, factors, match):
    with pytest.raises(ValueError, match=match):
        index_product(spec, factors)


def test_bad_style_and_out_ndim_are_refused():
    with pytest.raises(ValueError, match="style"):
        index_product("ij->ij", ["A"], style="upper")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="out_ndim"):
        index_formula("ij->ij", ["A"], out_ndim=3)


def test_to_latex_writes_the_books_notation_and_evaluates(example):
    A, H, W = example(4, 3, 2)
    As, Hs, Ws = (sp.MatrixSymbol(n, *a.shape) for n, a in zip("AHW", (A, H, W), strict=True))
    kron = sp.KroneckerProduct(Ws.T, As)
    assert to_latex(kron) == r"W^{\top} \otimes A"
    assert np.allclose(evaluate(kron, {As: A, Ws: W}), np.kron(W.T, A))
    assert to_latex(sp.HadamardProduct(Hs, As * Hs)) == r"H \odot \left(A H\right)"
    assert to_latex((As * Hs).T).count(r"^{\top}") == 2


def test_glue_without_myst_nb_displays_instead(monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_myst_nb(name, *args, **kwargs):
        if name == "myst_nb":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_myst_nb)
    glue_math("x", r"A_{ij}")
    glue_markdown("t", "| a |\n|---|\n| 1 |")
    shown = capsys.readouterr().out
    assert "Math" in shown and "Markdown" in shown  # IPython's plain-text display of both
