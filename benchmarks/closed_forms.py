"""The closed forms of dZ/dH for Z = A H W beside plain numpy and JAX, in one process.

Run:  .venv/bin/python benchmarks/closed_forms.py                  (mdcalc and numpy)
      /tmp/bench-venv/bin/python benchmarks/closed_forms.py --save  (and JAX)

Part 2 of the performance issue. At V = 128, d1 = d2 = 32 the Jacobian has 16.7 million
entries (134 MB of float64), so every method is bound by writing that memory; a row that only
fills an array of the same size (np.full) shows that floor. Each result is compared with an
independent reference (np.einsum for the tensor, np.kron for the matrix), and whether it is
C-contiguous is reported: a non-contiguous result makes every later reshape a copy. All rows
are timed in turn, round after round (common.time_interleaved), so the ratios are side by side.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from common import (
    Timing,
    header,
    machine,
    markdown_table,
    optional_import,
    rel_error,
    save,
    time_interleaved,
)

import mdcalc

TENSOR_BASE, MATRIX_BASE = "np.einsum('ij,kl->iljk', A, W)", "np.kron(W.T, A)"
TARGET_RATIO = 1.5


@dataclass
class Case:
    """One way to build the Jacobian; ``baseline`` names the plain-numpy row it is held to."""

    name: str
    layout: str  # "tensor" (V, d2, V, d1) or "matrix" (V d2, V d1)
    run: Callable[[], np.ndarray]
    baseline: str | None = None


def cases(A: np.ndarray, W: np.ndarray) -> list[Case]:
    V, (d1, d2) = A.shape[0], W.shape
    out = [
        Case(TENSOR_BASE, "tensor", lambda: np.einsum("ij,kl->iljk", A, W)),
        Case("np.ascontiguousarray(np.einsum(...))", "tensor",
             lambda: np.ascontiguousarray(np.einsum("ij,kl->iljk", A, W))),
        Case("mdcalc.jacobian_tensor(A, W)", "tensor", lambda: mdcalc.jacobian_tensor(A, W),
             TENSOR_BASE),
        Case("np.full(shape, 1.0) (memory floor)", "none", lambda: np.full((V, d2, V, d1), 1.0)),
        Case(MATRIX_BASE, "matrix", lambda: np.kron(W.T, A)),
        Case("mdcalc.kron_jacobian(A, W)", "matrix", lambda: mdcalc.kron_jacobian(A, W),
             MATRIX_BASE),
    ]
    jax = optional_import("jax")
    if jax is not None:
        jax.config.update("jax_enable_x64", True)
        jnp = jax.numpy
        Aj, Wj, Hj = jnp.asarray(A), jnp.asarray(W), jnp.zeros((V, d1))

        def z(H: Any) -> Any:
            return Aj @ H @ Wj

        rev, fwd = jax.jit(jax.jacrev(z)), jax.jit(jax.jacfwd(z))
        out += [
            Case("JAX jit(jacrev(H -> A @ H @ W))", "tensor", lambda: np.asarray(rev(Hj))),
            Case("JAX jit(jacfwd(H -> A @ H @ W))", "tensor", lambda: np.asarray(fwd(Hj))),
        ]
    return out


@dataclass
class Row:
    name: str
    timing: Timing
    contiguous: bool | None
    error: float | None
    ratio: float | None  # time / time of the baseline row (mdcalc rows only)
    baseline: str | None


def run(V: int, d1: int, d2: int, repeats: int) -> list[Row]:
    """Check each case once against its reference, then time them all in turn."""
    rng = np.random.default_rng(0)
    A, W = rng.standard_normal((V, V)), rng.standard_normal((d1, d2))
    reference = {"tensor": np.einsum("ij,kl->iljk", A, W), "matrix": np.kron(W.T, A)}
    all_cases = cases(A, W)
    checked: dict[str, tuple[bool, float | None]] = {}
    for c in all_cases:
        J = c.run()
        error = None if c.layout == "none" else rel_error(J, reference[c.layout])
        checked[c.name] = (bool(J.flags.c_contiguous), error)
        del J
    del reference
    timings = time_interleaved({c.name: c.run for c in all_cases}, repeats=repeats)
    rows = []
    for c in all_cases:
        t, base = timings[c.name].median, timings[c.baseline].median if c.baseline else None
        ratio = t / base if t is not None and base else None
        rows.append(Row(c.name, timings[c.name], *checked[c.name], ratio, c.baseline))
    return rows


def table(rows: list[Row]) -> str:
    floor = next(r.timing.median for r in rows if r.name.startswith("np.full"))
    body = []
    for r in rows:
        t = r.timing.median
        body.append([
            r.name, r.timing.cell(), r.timing.runs,
            f"{t / floor:.2f}" if t is not None and floor else "n/a",
            "" if r.ratio is None else f"{r.ratio:.2f} (vs {r.baseline})",
            "" if r.contiguous is None else ("yes" if r.contiguous else "no"),
            "" if r.error is None else f"{r.error:.1e}",
        ])
    return markdown_table(["method", "median time", "runs", "time / np.full",
                           "time / plain numpy", "C-contiguous", "max rel. error"], body)


def targets(rows: list[Row]) -> tuple[str, list[dict[str, Any]]]:
    lines, record = [], []
    for r in rows:
        if r.baseline is None:
            continue
        met = r.ratio is not None and r.ratio <= TARGET_RATIO and bool(r.contiguous)
        measured = "n/a" if r.ratio is None else f"{r.ratio:.2f}x, contiguous: {r.contiguous}"
        lines.append([f"{r.name} within {TARGET_RATIO}x of {r.baseline}, contiguous", measured,
                      "met" if met else "NOT met"])
        record.append({"target": r.name, "met": met})
    return markdown_table(["target", "measured", "verdict"], lines), record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="128x32x32", help="VxD1xD2 (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=15, help="timed calls after the warm-up")
    parser.add_argument("--save", action="store_true",
                        help="write benchmarks/results/closed_forms.json (for plot.py)")
    args = parser.parse_args()
    V, d1, d2 = (int(s) for s in args.size.split("x"))
    info = machine()
    print(header(info))
    print(f"\n# running V={V}, d1={d1}, d2={d2} ({V * d2 * V * d1 / 1e6:.1f} million entries) ...")
    rows = run(V, d1, d2, args.repeats)
    print(f"\n## Closed forms, V={V}, d1={d1}, d2={d2}\n\n{table(rows)}")
    text, record = targets(rows)
    print("\n## Targets\n\n" + text)
    if args.save:
        payload = {"machine": info, "size": {"V": V, "d1": d1, "d2": d2},
                   "rows": [vars(r) for r in rows], "targets": record}
        print(f"\n# saved {save('closed_forms', payload)}")


if __name__ == "__main__":
    main()
