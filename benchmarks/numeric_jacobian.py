"""Accuracy and speed of mdcalc.jacobian, side by side with a naive loop (same process).

Run:  .venv/bin/python benchmarks/numeric_jacobian.py
Accuracy: largest error relative to the largest entry of the closed form, for
tanh(A X W), inv(X) and X^T X. Speed: median of repeated, warmed-up runs on
f(X) = tanh(A X W) at V = 64, d1 = d2 = 16, and the ratio to a one-call-per-entry loop.
"""

from __future__ import annotations

import platform
import statistics
import time
from typing import Callable

import numpy as np

import mdcalc
from mdcalc import jacobian, jacobian_tensor


def examples(rng: np.random.Generator) -> dict[str, tuple[Callable, np.ndarray, np.ndarray]]:
    V, d = 64, 16
    A = rng.standard_normal((V, V)) / np.sqrt(V)
    W = rng.standard_normal((d, d)) / np.sqrt(d)
    X = rng.standard_normal((V, d))
    tanh_closed = (1 - np.tanh(A @ X @ W) ** 2)[:, :, None, None] * jacobian_tensor(A, W)
    n = 16
    Y0 = rng.standard_normal((n, n)) + n * np.eye(n)
    Yi = np.linalg.inv(Y0)
    G0 = rng.standard_normal((32, 8))
    eye = np.eye(8)
    gram_closed = np.einsum("ik,jl->iljk", eye, G0) + np.einsum("ji,lk->iljk", G0, eye)
    return {
        "tanh(A X W), V=64, d=16": (lambda X: np.tanh(A @ X @ W), X, tanh_closed),
        "inv(X), 16x16": (np.linalg.inv, Y0, -np.einsum("ij,kl->iljk", Yi, Yi)),
        "X^T X, X 32x8": (lambda X: X.T @ X, G0, gram_closed),
    }


def naive_complex_step(f: Callable, X: np.ndarray) -> np.ndarray:
    """The textbook loop: one call of f per entry of X."""
    h = 1e-20
    F0 = f(X)
    J = np.empty(F0.shape + X.shape)
    for idx in np.ndindex(X.shape):
        Xc = X.astype(complex)
        Xc[idx] += 1j * h
        J[(...,) + idx] = f(Xc).imag / h
    return J


def median_time(fn: Callable[[], object], repeats: int = 7) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    print(f"# {time.strftime('%Y-%m-%d')}, {platform.machine()}, Python {platform.python_version()}, "
          f"numpy {np.__version__}, mdcalc {mdcalc.__version__}")
    cases = examples(np.random.default_rng(0))
    print("\n| function | complex-step error | central error |\n|---|---|---|")
    for name, (f, X, closed) in cases.items():
        errs = [np.abs(jacobian(f, X, method=m) - closed).max() / np.abs(closed).max()
                for m in ("complex-step", "central")]
        print(f"| {name} | {errs[0]:.1e} | {errs[1]:.1e} |")
    f, X, _ = cases["tanh(A X W), V=64, d=16"]
    timings = {
        "mdcalc complex-step": median_time(lambda: jacobian(f, X)),
        "mdcalc central": median_time(lambda: jacobian(f, X, method="central")),
        "naive loop, complex-step": median_time(lambda: naive_complex_step(f, X), repeats=3),
    }
    base = timings["naive loop, complex-step"]
    print("\n| tanh(A X W), V=64, d1=d2=16 | median time | speed-up over the loop |\n|---|---|---|")
    for name, t in timings.items():
        print(f"| {name} | {t * 1e3:.1f} ms | {base / t:.1f}x |")


if __name__ == "__main__":
    main()
