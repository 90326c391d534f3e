"""mdcalc.derive against sympy's own .diff on every Matrix Cookbook identity of the book's page.

Run:  .venv/bin/python benchmarks/cookbook_bench.py          (print the table)
      .venv/bin/python benchmarks/cookbook_bench.py --save   (and write results/cookbook_bench.json)

The identities are those of ``mdcalc.cookbook`` that sympy's matrix expressions state (the
page's "stated" ones), each in every case the page checks (for example (37) by X and by Y).
Both tools get the same sympy expression and variable. Each answer is checked numerically at
the page's values, never taken on trust:

- derive: the forms the page shows pass ``check_derivative`` (``mdcalc.cookbook.check``);
- sympy: its derivative is turned into the book's tensor by ``mdcalc.layouts.from_sympy`` and
  checked by ``mdcalc.check_derivative`` against the same function.

An identity is "right" when the answer is right in every case; "wrong" when a check fails
(sympy's silent 0 included); "unevaluated" when the answer keeps a derivative or a node that
cannot be evaluated; "refused" when the call raises. Timing: one warm-up call, then
``--repeats`` calls of each tool in turn (common.time_interleaved), medians; sympy's cache is
cleared before every call, so each call does the whole work, as a reader's first call does.

tensorgrad (PyPI ``tensorgrad`` 0.3.0) is an optional peer: it evaluates through torch's
named tensors and needs torch 2.11 or older; when it cannot be imported its column says so.
"""

from __future__ import annotations

import argparse
import os
import statistics
from typing import Any

import numpy as np
import sympy as sp  # type: ignore[import-untyped]
from common import markdown_table, save, sympy_machine, time_interleaved
from sympy.core.cache import clear_cache  # type: ignore[import-untyped]

import mdcalc
from mdcalc import cookbook
from mdcalc.layouts import from_sympy

VERDICTS = ("right", "wrong", "unevaluated", "refused")


def sympy_answer(case: cookbook.Case) -> tuple[str, str]:
    """sympy's verdict on one case, and a short note (what it returned or raised)."""
    expr, X = case.expression(), case.wrt
    try:
        said = expr.diff(X)
    except Exception as exc:  # sympy raises many kinds: each is a refusal
        return "refused", f"{type(exc).__name__}: {str(exc)[:60]}"
    if said.has(sp.Derivative):
        return "unevaluated", "returned a Derivative"
    values = cookbook._values(case)
    r = mdcalc.derive(expr, X)
    f = r.function(values)
    Xv = np.asarray(values[X], dtype=float)
    try:
        J = from_sympy(said, values, out_shape=np.shape(f(Xv)), in_shape=Xv.shape)
    except (ValueError, TypeError) as exc:
        return "unevaluated", str(exc)[:60]
    result = mdcalc.check_derivative(f, Xv, J)
    if result.verdict == "correct":
        return "right", ""
    zero = not np.any(J)
    return ("wrong", "returned 0" if zero else (result.mistake or "wrong values"))


def tensorgrad_status() -> str:
    try:
        import tensorgrad  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return "not installed"
    return "installed, not compared (not translated to its API)"


def worst(verdicts: list[str]) -> str:
    return max(verdicts, key=VERDICTS.index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls after the warm-up")
    parser.add_argument("--save", action="store_true", help="write results/cookbook_bench.json")
    args = parser.parse_args()
    info = sympy_machine(sp.__version__)
    tg = tensorgrad_status()

    rows, records = [], []
    for e in cookbook.ENTRIES:
        if e.kind != "checked" or any(c.structure for c in e.cases):
            continue  # sympy's diff has no structured variable (section 2.8)
        ours = cookbook.check(e)  # raises if derive's answer fails its check
        theirs, notes, t_ours, t_theirs = [], [], [], []
        for case in e.cases:
            expr, X = case.expression(), case.wrt

            def run_derive(expr: Any = expr, X: Any = X) -> object:
                clear_cache()
                return mdcalc.derive(expr, X)

            def run_sympy(expr: Any = expr, X: Any = X) -> object:
                clear_cache()
                try:
                    return expr.diff(X)
                except Exception as exc:  # a refusal is timed too
                    return exc

            timings = time_interleaved(
                {"derive": run_derive, "sympy": run_sympy}, repeats=args.repeats, pause=0.0
            )
            t_ours.append(timings["derive"].median)
            t_theirs.append(timings["sympy"].median)
            verdict, note = sympy_answer(case)
            theirs.append(verdict)
            if note:
                notes.append(note)
        derive_time = sum(t for t in t_ours if t is not None)
        sympy_time = sum(t for t in t_theirs if t is not None)
        sympy_verdict = worst(theirs)
        rows.append([
            f"({e.number})", len(e.cases), "right", f"{derive_time * 1e3:.1f} ms",
            sympy_verdict + (f" ({notes[0]})" if notes and sympy_verdict != "right" else ""),
            f"{sympy_time * 1e3:.1f} ms",
        ])
        records.append({
            "number": e.number, "cases": len(e.cases), "page_verdict": ours.verdict,
            "derive": "right", "derive_seconds": derive_time,
            "sympy": sympy_verdict, "sympy_cases": theirs, "sympy_notes": notes,
            "sympy_seconds": sympy_time,
        })
        print(f"# ({e.number}): sympy {sympy_verdict}", flush=True)

    print()
    print(markdown_table(
        ["identity", "cases", "mdcalc.derive", "time", "sympy .diff", "time"], rows
    ))
    summary = {
        "identities": len(records),
        "derive": {v: sum(r["derive"] == v for r in records) for v in VERDICTS},
        "sympy": {v: sum(r["sympy"] == v for r in records) for v in VERDICTS},
        "derive_median_seconds": statistics.median(r["derive_seconds"] for r in records),
        "sympy_median_seconds": statistics.median(r["sympy_seconds"] for r in records),
        "tensorgrad": tg,
    }
    print()
    print(markdown_table(
        ["tool", *VERDICTS, "median time per identity"],
        [
            ["mdcalc.derive", *summary["derive"].values(),
             f"{summary['derive_median_seconds'] * 1e3:.1f} ms"],
            ["sympy .diff", *summary["sympy"].values(),
             f"{summary['sympy_median_seconds'] * 1e3:.1f} ms"],
        ],
    ))
    print(f"\ntensorgrad: {tg}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    info["load_after"] = f"{load:.1f}"
    print(f"# load average {load:.1f} at the end (the machine has {info['nproc']} cores)")
    if args.save:
        path = save("cookbook_bench", {"machine": info, "repeats": args.repeats,
                                       "summary": summary, "rows": records})
        print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
