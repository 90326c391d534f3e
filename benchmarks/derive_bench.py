"""mdcalc.derive against sympy's own .diff (and tensorgrad, if installed) on the chapter's examples.

Run:  .venv/bin/python benchmarks/derive_bench.py          (mdcalc and sympy)
      .venv/bin/python benchmarks/derive_bench.py --save   (and write results/derive_bench.json)

For each example of chapter 9 ("Derive your own"), the time to derive it symbolically and
whether the answer is right. Both tools get the same sympy expression. Timing: one warm-up
call, then ``--repeats`` calls timed in turn (common.time_interleaved), median quoted; sympy's
cache is cleared before every call (``sympy.core.cache.clear_cache``), so each call does the
whole work, as a reader's first call does. Correctness is checked numerically, never taken on
trust: at seeded random values (square matrices shifted to be well-conditioned, with a
positive determinant), mdcalc's answer must pass ``Derivation.check`` (every form against the
complex-step Jacobian of the expression), and sympy's answer is turned into the book's
tensor by ``mdcalc.layouts.from_sympy`` and checked by ``mdcalc.check_derivative`` against
the same function. An answer sympy leaves unevaluated, or that cannot be evaluated, is
"no answer". Target: every mdcalc derivation under 0.5 s.

tensorgrad (PyPI ``tensorgrad``) is an optional peer: when it is not importable, its column
says so and nothing else changes.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp  # type: ignore[import-untyped]
from common import markdown_table, save, sympy_machine, time_interleaved
from sympy.core.cache import clear_cache  # type: ignore[import-untyped]

import mdcalc
from mdcalc.layouts import from_sympy

TARGET = 0.5  # seconds per derivation


@dataclass
class Example:
    name: str
    expr: Any
    wrt: Any


def examples() -> list[Example]:
    """The chapter's derivations, at its (non-square where possible) sizes."""
    M = sp.MatrixSymbol
    A44, H, W = M("A", 4, 4), M("H", 4, 3), M("W", 3, 2)
    A33, x3 = M("A", 3, 3), M("x", 3, 1)
    A43, y4 = M("A", 4, 3), M("y", 4, 1)
    X43, A23, B44, C32 = M("X", 4, 3), M("A", 2, 3), M("B", 4, 4), M("C", 3, 2)
    X, B33 = M("X", 3, 3), M("B", 3, 3)
    W1, W2 = M("W_1", 3, 3), M("W_2", 3, 2)
    layer = (A44 * H * W).applyfunc(sp.tanh)
    return [
        Example("A H W by H (the book's question)", A44 * H * W, H),
        Example("x^T A x / 2 by x", x3.T * A33 * x3 / 2, x3),
        Example("A exp(x) by x", A43 * x3.applyfunc(sp.exp), x3),
        Example("tr(A X^T B X C) by X", sp.Trace(A23 * X43.T * B44 * X43 * C32), X43),
        Example("log det(X^-1) by X", sp.log(sp.Determinant(X.I)), X),
        Example("‖A x − y‖² by x", (A43 * x3 - y4).T * (A43 * x3 - y4), x3),
        Example("tanh(A H W) by H", layer, H),
        Example("tanh(A H W) by W", layer, W),
        Example("X^T A X by X", X43.T * B44 * X43, X43),
        Example("(A X) ⊙ X by X", sp.HadamardProduct(B44 * X43, X43), X43),
        Example("log det X by X", sp.log(sp.Determinant(X)), X),
        Example("det X by X", sp.Determinant(X), X),
        Example("X^-1 B X by X", X.I * B33 * X, X),
        Example(
            "tanh(A tanh(A H W_1) W_2) by W_1",
            (A44 * (A44 * H * W1).applyfunc(sp.tanh) * W2).applyfunc(sp.tanh),
            W1,
        ),
    ]


def values_for(expr: Any, seed: int) -> dict[Any, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = {}
    for s in sorted(expr.atoms(sp.MatrixSymbol), key=str):
        shape = (int(s.rows), int(s.cols))
        value = rng.standard_normal(shape) * 0.5
        if shape[0] == shape[1] and shape[0] > 1:
            value += shape[0] * np.eye(shape[0])
        values[s] = value
    return values


def sympy_verdict(said: Any, result: mdcalc.Derivation, values: dict[Any, np.ndarray]) -> str:
    """Whether sympy's derivative is right, checked numerically like mdcalc's."""
    f = result.function(values)
    X = values[result.wrt]
    out_shape = f(X).shape
    try:
        J = from_sympy(said, values, out_shape=out_shape, in_shape=X.shape)
    except (ValueError, TypeError) as exc:
        unevaluated = "unevaluated" in str(exc)
        return "no answer (left unevaluated)" if unevaluated else f"no answer ({exc})"
    verdict = mdcalc.check_derivative(f, X, J)
    return verdict.verdict + ("" if verdict.ok else f" ({verdict.mistake or 'wrong values'})")


def tensorgrad_status() -> str:
    """Whether tensorgrad can be imported (it needs torch)."""
    try:
        import tensorgrad  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return "not installed"
    # tensorgrad derives its own tensor-network expressions, not sympy's; the examples are
    # not translated to it yet, so an installed tensorgrad is reported, not timed.
    return "installed, not compared (examples not translated)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed calls after the warm-up")
    parser.add_argument("--save", action="store_true", help="write results/derive_bench.json")
    args = parser.parse_args()
    info = sympy_machine(sp.__version__)

    rows, records = [], []
    for n, ex in enumerate(examples()):
        values = values_for(ex.expr, seed=n)

        def run_mdcalc(ex: Example = ex) -> object:
            clear_cache()
            return mdcalc.derive(ex.expr, ex.wrt)

        def run_sympy(ex: Example = ex) -> object:
            clear_cache()
            return ex.expr.diff(ex.wrt)

        timings = time_interleaved(
            {"mdcalc": run_mdcalc, "sympy": run_sympy}, repeats=args.repeats, pause=0.0
        )
        result = mdcalc.derive(ex.expr, ex.wrt)
        ours = result.check(values)
        theirs = sympy_verdict(ex.expr.diff(ex.wrt), result, values)
        tg_note = tensorgrad_status()
        t_ours, t_theirs = timings["mdcalc"].median, timings["sympy"].median
        rows.append([
            ex.name,
            timings["mdcalc"].cell(),
            ours.verdict,
            timings["sympy"].cell(),
            theirs,
            tg_note,
            "met" if t_ours is not None and t_ours < TARGET else "NOT met",
        ])
        records.append({
            "example": ex.name,
            "mdcalc": timings["mdcalc"],
            "mdcalc_verdict": ours.verdict,
            "sympy": timings["sympy"],
            "sympy_verdict": theirs,
            "tensorgrad": tg_note,
            "target_met": t_ours is not None and t_ours < TARGET,
            "ratio_mdcalc_to_sympy": (t_ours / t_theirs) if t_ours and t_theirs else None,
        })
        print(f"# {ex.name}: done", flush=True)

    print()
    print(markdown_table(
        ["example", "mdcalc.derive", "mdcalc's answer", "sympy .diff", "sympy's answer",
         "tensorgrad", f"mdcalc < {TARGET} s"],
        rows,
    ))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    info["load_after"] = f"{load:.1f}"
    print(f"\n# load average {load:.1f} at the end (the machine has {info['nproc']} cores)")
    if args.save:
        path = save("derive_bench", {"machine": info, "repeats": args.repeats, "rows": records})
        print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
