"""Numeric Jacobians of f(X) = tanh(A X W): mdcalc.jacobian beside its peers, in one process.

Run:  .venv/bin/python benchmarks/numeric_jacobian.py          (mdcalc, a naive loop, scipy)
      /tmp/bench-venv/bin/python benchmarks/numeric_jacobian.py --save   (with every peer)

Part 1 of the performance issue. For each size (V, d1, d2) every method runs warmed up and
repeated (see common.py), and its answer is checked against the closed form

    J = (1 - tanh(Z)^2)[:, :, None, None] * jacobian_tensor(A, W),   Z = A X W,

in mdcalc's layout (V, d2, V, d1): a peer's flat vec -> vec Jacobian is reshaped (row-major
on both sides, which is how the wrappers below flatten) before the comparison, so a layout
mistake shows up as a large error. Error = max|J - closed| / max|closed|.

Peers (numdifftools, scipy.differentiate, JAX) are optional: a missing one is skipped with a
message. Peak memory is measured once per method at the smallest size (tracemalloc); at larger
sizes a method whose scaled estimate does not fit in the available memory is not run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from common import (
    Timing,
    available_memory,
    fmt_bytes,
    fmt_seconds,
    header,
    machine,
    markdown_table,
    optional_import,
    peak_memory,
    rel_error,
    save,
    time_call,
    time_interleaved,
)

from mdcalc import jacobian, jacobian_tensor

DEFAULT_SIZES = ("64x16x16", "128x32x32")
CS, CENTRAL, JAX_FWD = "mdcalc complex-step", "mdcalc central", "JAX jit(jacfwd)"
ND_METHODS = ("numdifftools central (its default)", "numdifftools complex")
WRONG = 1e-6  # an error above this means a wrong answer (layout?), not an inaccurate one


@dataclass
class Problem:
    """f(X) = tanh(A X W) at one size, seeded, with its closed-form Jacobian."""

    V: int
    d1: int
    d2: int
    A: np.ndarray
    W: np.ndarray
    X: np.ndarray
    closed: np.ndarray

    @property
    def label(self) -> str:
        return f"V={self.V}, d1={self.d1}, d2={self.d2}"

    def f(self, X: np.ndarray) -> np.ndarray:
        """The function as a user writes it: plain numpy, broadcasting over leading axes."""
        return np.tanh(self.A @ X @ self.W)


def make_problem(V: int, d1: int, d2: int, seed: int = 0) -> Problem:
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((V, V)) / np.sqrt(V)
    W = rng.standard_normal((d1, d2)) / np.sqrt(d1)
    X = rng.standard_normal((V, d1))
    closed = (1 - np.tanh(A @ X @ W) ** 2)[:, :, None, None] * jacobian_tensor(A, W)
    return Problem(V, d1, d2, A, W, X, closed)


@dataclass
class Method:
    """One way to get the Jacobian, returning it in the (V, d2, V, d1) layout."""

    name: str
    needs: str  # what the user has to write beyond f
    run: Callable[[], Any]  # the Jacobian; None for the floor rows
    traced: bool = True  # allocations visible to tracemalloc (False for JAX)
    fast: bool = True  # timed in turn with the other fast methods; slow peers are timed alone
    floor: bool = False  # not a Jacobian: only the evaluations of f that a method cannot avoid


def naive_complex_step(f: Callable[[np.ndarray], np.ndarray], X: np.ndarray) -> np.ndarray:
    """The textbook loop: one call of f per entry of X."""
    h = 2.0**-66
    F0 = f(X)
    J = np.empty(F0.shape + X.shape)
    for idx in np.ndindex(X.shape):
        Xc = X.astype(complex)
        Xc[idx] += 1j * h
        J[(...,) + idx] = f(Xc).imag / h
    return J


def floor_methods(p: Problem, chunk: int = 64) -> list[Method]:
    """f alone on every perturbed copy of X, ``chunk`` copies per call (stacks built beforehand).

    Any complex-step Jacobian of a black-box f evaluates f at the n = X.size complex points
    X + i h E_jk, and a central one at the 2n real points X +- h E_jk: these rows are that
    work and nothing else, the floor under mdcalc's time (the rest is mdcalc's overhead).
    """
    n = p.X.size
    flat = np.repeat(p.X.reshape(1, -1), n, axis=0)
    moved = (np.arange(n), np.arange(n))
    complex_stack = flat.astype(complex)
    complex_stack[moved] += 1j * 2.0**-66
    plus, minus = flat.copy(), flat
    plus[moved] += 1e-5
    minus[moved] -= 1e-5

    def evaluate(*stacks: np.ndarray) -> None:
        for stack in stacks:
            for start in range(0, n, chunk):
                p.f(stack[start:start + chunk].reshape((-1,) + p.X.shape))

    return [
        Method("floor: f at the n complex points", "", lambda: evaluate(complex_stack), floor=True),
        Method("floor: f at the 2n real points", "", lambda: evaluate(plus, minus), floor=True),
    ]


def mdcalc_methods(p: Problem) -> list[Method]:
    return [
        Method(CS, "nothing", lambda: jacobian(p.f, p.X)),
        Method(CENTRAL, "nothing", lambda: jacobian(p.f, p.X, method="central")),
        Method("naive loop, complex-step", "nothing", lambda: naive_complex_step(p.f, p.X)),
    ] + floor_methods(p)


def numdifftools_methods(p: Problem) -> list[Method]:
    nd = optional_import("numdifftools")
    if nd is None:
        return []
    shape, x = p.closed.shape, p.X.reshape(-1)

    def fv(x: np.ndarray) -> np.ndarray:  # vec -> vec, row-major on both sides
        return p.f(x.reshape(p.X.shape)).reshape(-1)

    central, complex_ = nd.Jacobian(fv), nd.Jacobian(fv, method="complex")
    needs = "f wrapped vec -> vec"
    return [
        Method(ND_METHODS[0], needs, lambda: central(x).reshape(shape), fast=False),
        Method(ND_METHODS[1], needs, lambda: complex_(x).reshape(shape), fast=False),
    ]


def scipy_methods(p: Problem) -> list[Method]:
    differentiate = optional_import("scipy.differentiate")
    if differentiate is None or not hasattr(differentiate, "jacobian"):
        print("# skipped: scipy.differentiate.jacobian needs scipy >= 1.15")
        return []
    n_in, shape = p.X.size, p.closed.shape

    def fs(x: np.ndarray) -> np.ndarray:
        """scipy's convention: x is (n_in, ...) and f returns (n_out, ...), vectorised."""
        batch = x.shape[1:]
        X = np.moveaxis(x.reshape(p.X.shape + batch), (0, 1), (-2, -1))
        return np.moveaxis(p.f(X), (-2, -1), (0, 1)).reshape((-1,) + batch)

    def run() -> np.ndarray:
        return differentiate.jacobian(fs, p.X.reshape(n_in)).df.reshape(shape)

    return [Method("scipy.differentiate.jacobian (defaults)", "f wrapped vec -> vec, "
                   "vectorised over trailing axes", run, fast=False)]


def jax_methods(p: Problem) -> list[Method]:
    jax = optional_import("jax")
    if jax is None:
        return []
    jax.config.update("jax_enable_x64", True)  # float64, as numpy
    jnp = jax.numpy
    A, W, X = jnp.asarray(p.A), jnp.asarray(p.W), jnp.asarray(p.X)

    def g(X: Any) -> Any:  # f rewritten in jax.numpy
        return jnp.tanh(A @ X @ W)

    fwd, rev = jax.jit(jax.jacfwd(g)), jax.jit(jax.jacrev(g))
    needs = "f rewritten in jax.numpy"
    return [
        Method(JAX_FWD, needs, lambda: np.asarray(fwd(X)), traced=False),
        Method("JAX jit(jacrev)", needs, lambda: np.asarray(rev(X)), traced=False),
    ]


@dataclass
class Row:
    name: str
    needs: str
    timing: Timing
    error: float | None
    peak_bytes: float | None  # measured (smallest size) or estimated (larger sizes)
    peak_estimated: bool = False
    floor: bool = False


def run_size(
    p: Problem, repeats: int, limit: float, peaks: dict[str, tuple[int, int]]
) -> list[Row]:
    """Time and check every method at one size.

    Slow peers are timed alone (common.time_call); the fast methods (mdcalc, the naive loop,
    JAX) are checked once and then timed in turn (common.time_interleaved), so that the
    ratios between them are measured side by side. ``peaks`` maps a method to (peak bytes,
    Jacobian entries) from the first size; later sizes use it to skip what would not fit
    in memory.
    """
    entries = p.closed.size
    rows: dict[str, Row] = {}
    fast: dict[str, Method] = {}
    for m in mdcalc_methods(p) + numdifftools_methods(p) + scipy_methods(p) + jax_methods(p):
        peak, estimated = None, False
        if m.name in peaks:
            small_peak, small_entries = peaks[m.name]
            peak, estimated = small_peak * entries / small_entries, True
            free = available_memory()
            if free is not None and peak > 0.8 * free:
                note = (f"not run: needs ~{fmt_bytes(peak)}, over 80% of the {fmt_bytes(free)} "
                        "available")
                rows[m.name] = Row(m.name, m.needs, Timing(None, 0, None, note), None, peak, True)
                report(rows[m.name])
                continue
        elif m.traced and not m.floor:
            peak = peak_memory(m.run)
            peaks[m.name] = (peak, entries)
        if m.floor:
            rows[m.name] = Row(m.name, m.needs, Timing(None, 0, None), None, None, floor=True)
            fast[m.name] = m
        elif m.fast:
            start = time.perf_counter()
            error: float | None = rel_error(m.run(), p.closed)  # for JAX, this call compiles
            first = time.perf_counter() - start
            rows[m.name] = Row(m.name, m.needs, Timing(None, 0, first), error, peak, estimated)
            fast[m.name] = m
        else:
            timing, J = time_call(m.run, repeats=repeats, limit=limit)
            error = None if J is None else rel_error(J, p.closed)
            del J
            rows[m.name] = Row(m.name, m.needs, timing, error, peak, estimated)
            report(rows[m.name])
    timings = time_interleaved({name: m.run for name, m in fast.items()}, repeats=repeats,
                               limit=limit)
    for name, timing in timings.items():
        first_call = rows[name].timing.first
        rows[name].timing = Timing(timing.median, timing.runs, first_call, timing.note)
        report(rows[name])
    return list(rows.values())


def report(row: Row) -> None:
    """One progress line while the benchmark runs."""
    error = "n/a" if row.error is None else f"{row.error:.1e}"
    print(f"  {row.name}: {row.timing.cell()} ({row.timing.runs} runs), error {error}", flush=True)


def size_table(rows: list[Row]) -> str:
    base = next(r.timing.median for r in rows if r.name == CS)
    body = []
    for r in rows:
        t = r.timing
        ratio = f"{t.median / base:.3g}" if t.median is not None and base else "n/a"
        error = "" if r.floor else "n/a" if r.error is None else f"{r.error:.1e}"
        if r.error is not None and r.error > WRONG:
            error += " WRONG"
        first = fmt_seconds(t.first) if r.name.startswith("JAX") else ""
        peak = fmt_bytes(r.peak_bytes) + (" (est.)" if r.peak_estimated else "")
        body.append([r.name, r.needs, t.cell(), t.runs, ratio, error, peak if r.peak_bytes else "",
                     first])
    return markdown_table(
        ["method", "needs", "median time", "runs", "time / mdcalc complex-step",
         "max rel. error", "peak memory", "first call (JIT)"], body)


def targets(results: dict[str, list[Row]]) -> tuple[str, list[dict[str, Any]]]:
    """The three targets of part 1, checked at each size."""
    lines, record = [], []
    for label, rows in results.items():
        by = {r.name: r for r in rows}
        cs = by[CS]
        t_cs, e_cs = cs.timing.median, cs.error or 0.0
        if t_cs is None:
            continue
        for nd in ND_METHODS:
            r = by.get(nd)
            if r is None:
                continue
            if r.timing.median is None or r.error is None:
                value, verdict, met = r.timing.note, "not measured", None
            else:
                speedup = r.timing.median / t_cs
                # errors at the rounding level (< 1e-15) count as equal
                as_accurate = e_cs <= max(r.error, 1e-15)
                met = speedup >= 20 and as_accurate
                value = f"{speedup:.1f}x faster, error {e_cs:.1e} vs {r.error:.1e}"
                verdict = "met" if met else "NOT met"
            lines.append([label, f">= 20x faster than {nd}, as accurate", value, verdict])
            record.append({"size": label, "target": f"20x {nd}", "met": met})
        fwd = by.get(JAX_FWD)
        t_fwd = None if fwd is None else fwd.timing.median
        if t_fwd is not None:
            for name in (CS, CENTRAL):
                ratio = (by[name].timing.median or float("nan")) / t_fwd
                met = ratio <= 5
                lines.append([label, f"{name} within 5x of {JAX_FWD}", f"{ratio:.1f}x slower",
                              "met" if met else "NOT met"])
                record.append({"size": label, "target": f"5x jacfwd ({name})", "met": met})
        met = e_cs <= 1e-13
        lines.append([label, "complex-step error <= 1e-13", f"{e_cs:.1e}",
                      "met" if met else "NOT met"])
        record.append({"size": label, "target": "error 1e-13", "met": met})
    return markdown_table(["size", "target", "measured", "verdict"], lines), record


def accuracy_table() -> str:
    """mdcalc.jacobian's error on three functions with known closed forms (V=64, d=16 etc.)."""
    rng = np.random.default_rng(0)
    p = make_problem(64, 16, 16)
    n = 16
    Y0 = rng.standard_normal((n, n)) + n * np.eye(n)
    Yi = np.linalg.inv(Y0)
    G0 = rng.standard_normal((32, 8))
    eye = np.eye(8)
    gram = np.einsum("ik,jl->iljk", eye, G0) + np.einsum("ji,lk->iljk", G0, eye)
    cases: dict[str, tuple[Callable[[np.ndarray], np.ndarray], np.ndarray, np.ndarray]] = {
        f"tanh(A X W), {p.label}": (p.f, p.X, p.closed),
        "inv(X), 16x16": (np.linalg.inv, Y0, -np.einsum("ij,kl->iljk", Yi, Yi)),
        "X^T X, X 32x8": (lambda X: X.T @ X, G0, gram),
    }
    rows = []
    for name, (f, X, closed) in cases.items():
        rows.append([name] + [f"{rel_error(jacobian(f, X, method=m), closed):.1e}"
                              for m in ("complex-step", "central")])
    return markdown_table(["function", "complex-step error", "central error"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES),
                        help="sizes as VxD1xD2, smallest first (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls after the warm-up")
    parser.add_argument("--limit", type=float, default=120.0,
                        help="seconds after which a method's warm-up call is abandoned")
    parser.add_argument("--save", action="store_true",
                        help="write benchmarks/results/numeric_jacobian.json (for plot.py)")
    args = parser.parse_args()

    info = machine()
    print(header(info))
    print("\n## mdcalc.jacobian: accuracy\n\n" + accuracy_table())
    results: dict[str, list[Row]] = {}
    peaks: dict[str, tuple[int, int]] = {}
    for size in args.sizes:
        V, d1, d2 = (int(s) for s in size.split("x"))
        p = make_problem(V, d1, d2)
        print(f"\n# running {p.label} ...", flush=True)
        results[p.label] = run_size(p, args.repeats, args.limit, peaks)
    for label, rows in results.items():
        print(f"\n## tanh(A X W), {label}: time and error\n\n{size_table(rows)}")
    table, record = targets(results)
    print("\n## Targets\n\n" + table)
    if args.save:
        payload = {"machine": info, "targets": record,
                   "sizes": {label: [vars(r) for r in rows] for label, rows in results.items()}}
        print(f"\n# saved {save('numeric_jacobian', payload)}")


if __name__ == "__main__":
    main()
