"""mdcalc.jacobian as installed beside another version of mdcalc/numeric.py, side by side.

Run:  /tmp/bench-venv/bin/python benchmarks/compare_numeric.py OTHER/numeric.py

For judging a change to the numeric Jacobian before it is made: the other file is loaded as a
module of its own (it may import mdcalc's other modules), both versions differentiate
f(X) = tanh(A X W) with each method at each size, the results are compared entry by entry,
and both are timed in turn with JAX's jit(jacfwd) (when installed) as the yardstick.
To try benchmarks/jacobian_small_batches.diff: clone the repository to a scratch folder,
``git apply`` the diff there, and pass that clone's mdcalc/numeric.py.
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType

import numpy as np
from common import fmt_seconds, header, machine, markdown_table, optional_import, time_interleaved
from numeric_jacobian import DEFAULT_SIZES, Problem, make_problem

import mdcalc


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("numeric_other", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compare(p: Problem, other: ModuleType, jax: ModuleType | None, repeats: int) -> list[list[str]]:
    """Table rows for one size: each version and method, timed in turn, and JAX's jacfwd."""
    fns: dict[str, Callable[[], object]] = {}
    if jax is not None:
        jax.config.update("jax_enable_x64", True)
        A, W, X = (jax.numpy.asarray(a) for a in (p.A, p.W, p.X))
        fwd = jax.jit(jax.jacfwd(lambda X: jax.numpy.tanh(A @ X @ W)))
        fns["JAX jit(jacfwd)"] = lambda: np.asarray(fwd(X))
    same = {}
    for method in ("complex-step", "central"):
        a = mdcalc.jacobian(p.f, p.X, method=method)
        b = other.jacobian(p.f, p.X, method=method)
        same[method] = ("identical" if np.array_equal(a, b)
                        else f"differ by {np.abs(a - b).max():.1e}")
        fns[f"installed, {method}"] = partial(mdcalc.jacobian, p.f, p.X, method=method)
        fns[f"other, {method}"] = partial(other.jacobian, p.f, p.X, method=method)
    timings = time_interleaved(fns, repeats=repeats)
    yardstick = timings["JAX jit(jacfwd)"].median if jax is not None else None
    rows = []
    for name, t in timings.items():
        method = name.split(", ")[-1]
        rows.append([p.label, name, fmt_seconds(t.median),
                     f"{t.median / yardstick:.1f}" if yardstick and t.median else "",
                     same.get(method, "") if name.startswith("other") else ""])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("other", type=Path, help="path of the other numeric.py")
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    other = load_module(args.other.resolve())
    jax = optional_import("jax")
    print(header(machine()) + f"\n# other: {args.other}")
    rows = []
    for size in args.sizes:
        p = make_problem(*(int(s) for s in size.split("x")))
        rows += compare(p, other, jax, args.repeats)
        print(f"# {p.label} done", flush=True)
    print("\n" + markdown_table(["size", "version", "median time", "time / JAX jit(jacfwd)",
                                 "result vs installed"], rows))


if __name__ == "__main__":
    main()
