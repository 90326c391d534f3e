"""What the power contract costs (issue 18): mdcalc beside its floors, side by side.

Run:  .venv/bin/python benchmarks/checker_power.py [--repeats 9] [--save]

f(X) = tanh(A X W) at V=64, d1=d2=16 (X has n = 1024 entries), as in part 1. In one
process, timed in turn round after round (``common.time_interleaved``), medians:

- ``jacobian(f, X)``: the default, ``method="auto"`` (it chooses the complex step here,
  after the guard), and ``method="complex-step"``;
- its floor: f alone at the n complex points X + i h E_jk (the stacks built beforehand),
  in the batches mdcalc uses (as many points as fit in 4 MiB: 128 here), and in one call
  at all n points: the work any complex-step Jacobian of a black-box f cannot avoid;
- ``check_derivative(f, X, T)`` with the closed-form tensor T (a right claim: the whole
  check, guard and power rule included), and with the claim as a linear map;
- a bare complex-step Jacobian of the same f: the floor's evaluations (in mdcalc's
  batches), each written into J, nothing checked: what ``check_derivative`` is compared
  with (issue 18: within 1.5x).

Targets: ``jacobian`` within 1.1x of its floor, ``check_derivative`` within 1.5x of the
bare complex-step Jacobian. The machine is shared and noisy: the ratios, measured side by
side, are what to read, not the absolute times.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np
from common import header, machine, markdown_table, save, time_interleaved

import mdcalc
from mdcalc.numeric import CACHE_BATCH_BYTES

H = 2.0**-66


def problem(V: int = 64, d1: int = 16, d2: int = 16, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((V, V)) / np.sqrt(V)
    W = rng.standard_normal((d1, d2)) / np.sqrt(d1)
    X = rng.standard_normal((V, d1))

    def f(X: np.ndarray) -> np.ndarray:
        return np.tanh(A @ X @ W)

    closed = (1 - np.tanh(A @ X @ W) ** 2)[:, :, None, None] * mdcalc.jacobian_tensor(A, W)
    return {"f": f, "X": X, "closed": closed, "A": A, "W": W, "label": f"V={V}, d1={d1}, d2={d2}"}


def complex_stack(X: np.ndarray) -> np.ndarray:
    n = X.size
    stack = np.repeat(X.reshape(1, -1), n, axis=0).astype(complex)
    stack[np.arange(n), np.arange(n)] += 1j * H
    return stack


def batch(X: np.ndarray, out_size: int) -> int:
    """How many complex points mdcalc's jacobian puts in one call of f (numeric._batches)."""
    return max(1, min(X.size, CACHE_BATCH_BYTES // (16 * (X.size + out_size))))


def floor(f: Any, X: np.ndarray, stack: np.ndarray, chunk: int) -> None:
    """f at every complex point, ``chunk`` points per call: nothing else."""
    for start in range(0, len(stack), chunk):
        f(stack[start:start + chunk].reshape((-1,) + X.shape))


def bare_jacobian(f: Any, X: np.ndarray, stack: np.ndarray, chunk: int) -> np.ndarray:
    """The floor's evaluations, each written into the Jacobian: no guard, no check."""
    n = X.size
    out_shape = f(X).shape
    J = np.empty((int(np.prod(out_shape)), n))
    for start in range(0, n, chunk):
        rows = f(stack[start:start + chunk].reshape((-1,) + X.shape)).imag
        J[:, start:start + chunk] = rows.reshape(len(rows), -1).T / H
    return J.reshape(out_shape + X.shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--save", action="store_true")
    args = parser.parse_args()
    p = problem()
    f, X, closed = p["f"], p["X"], p["closed"]
    stack = complex_stack(X)
    A, W = p["A"], p["W"]
    chunk = batch(X, f(X).size)

    def claim(K: np.ndarray) -> np.ndarray:
        return (1 - np.tanh(A @ X @ W) ** 2) * (A @ K @ W)

    # every side is right before it is timed
    assert np.allclose(mdcalc.jacobian(f, X), closed, rtol=1e-12, atol=1e-14)
    assert np.allclose(bare_jacobian(f, X, stack, chunk), closed, rtol=1e-12, atol=1e-14)
    assert mdcalc.jacobian(f, X).method == "complex-step"
    assert mdcalc.check_derivative(f, X, closed).verdict == "correct"
    assert mdcalc.check_derivative(f, X, claim).verdict == "correct"
    fns = {
        "jacobian(f, X) (auto)": lambda: mdcalc.jacobian(f, X),
        "jacobian(f, X, method='complex-step')": lambda: mdcalc.jacobian(f, X, "complex-step"),
        f"floor: f at the n complex points, {chunk} per call": lambda: floor(f, X, stack, chunk),
        "floor: f at the n complex points, one call": lambda: floor(f, X, stack, X.size),
        "check_derivative(f, X, tensor)": lambda: mdcalc.check_derivative(f, X, closed),
        "check_derivative(f, X, linear map)": lambda: mdcalc.check_derivative(f, X, claim),
        "bare complex-step Jacobian": lambda: bare_jacobian(f, X, stack, chunk),
    }
    timings = time_interleaved(fns, repeats=args.repeats)
    floor_t = timings[f"floor: f at the n complex points, {chunk} per call"].median
    bare_t = timings["bare complex-step Jacobian"].median
    rows = []
    for name, timing in timings.items():
        t = timing.median
        rows.append([name, timing.cell(), str(timing.runs),
                     f"{t / floor_t:.2f}" if t and floor_t else "",
                     f"{t / bare_t:.2f}" if t and bare_t else ""])
    info = machine()
    print(header(info))
    print(f"The power contract's cost: tanh(A X W), {p['label']}; BLAS threads: "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}")
    print(markdown_table(["what", "median", "runs", "/ floor", "/ bare Jacobian"], rows))
    ratios = {
        "jacobian (auto) / floor": timings["jacobian(f, X) (auto)"].median / floor_t,
        "check_derivative (tensor) / bare Jacobian":
            timings["check_derivative(f, X, tensor)"].median / bare_t,
        "check_derivative (linear map) / bare Jacobian":
            timings["check_derivative(f, X, linear map)"].median / bare_t,
    }
    for name, ratio in ratios.items():
        print(f"{name}: {ratio:.2f}")
    if args.save:
        save("checker_power", {
            "machine": info,
            "problem": p["label"],
            "medians_s": {name: t.median for name, t in timings.items()},
            "runs": args.repeats,
            "ratios": ratios,
        })


if __name__ == "__main__":
    main()
