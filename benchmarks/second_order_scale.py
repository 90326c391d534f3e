"""Part 4: Hessian-vector products of a graph-convolution loss at scale, and a Newton-type race.

    .venv/bin/python benchmarks/second_order_scale.py --save     (about a minute)

The loss is L(H) = ½‖tanh(Â H W) - Y‖²_F on the graph of chapters 6 and 8: V = 100,000 nodes
with about 10 neighbours each (``mdcalc.gcn.random_graph(V, 10, seed=2026)``), the symmetric
normalised Â as a scipy.sparse CSR matrix, d1 = d2 = 64, and the same H, W, Y as the book.

It measures, with the rules of ``common.py`` (a warm-up, then the median of ``--repeats``
calls timed in turn; peak memory by tracemalloc in a separate untimed call):

- the forward pass alone (``Â (H W)``, tanh, the loss): the yardstick;
- the gradient ``mdcalc.gcn.gcn_gradient``;
- the full and the Gauss-Newton Hessian-vector products ``mdcalc.gcn.gcn_hvp``;
- one damped Gauss-Newton step by 5 conjugate-gradient iterations
  (``mdcalc.gcn.gauss_newton_step``);

checks each HVP against the central difference of the gradient, and then runs the race of
chapter 8 at this size: gradient descent (step 1/‖W‖₂²) against damped Gauss-Newton steps of
5 conjugate-gradient iterations, on a reachable target Y = tanh(Â H* W), for the same budget
of products with the sparse Â, and reports the final losses. Nothing here forms a Hessian
(it would take 8 (V d1)² bytes = 327 TB).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from common import fmt_bytes, fmt_seconds, header, machine, markdown_table, peak_memory, save
from common import time_interleaved
from mdcalc import gcn


def problem(V: int, d: int) -> tuple[Any, Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The graph and data of chapters 6 and 8 (same seeds)."""
    A = gcn.random_graph(V, 10, seed=2026)
    A_hat = gcn.normalised_adjacency(A)
    rng = np.random.default_rng(100_000)
    H = rng.standard_normal((V, d))
    W = rng.standard_normal((d, d)) / np.sqrt(d)
    Y = rng.uniform(-1, 1, (V, d))
    K = np.random.default_rng(1).standard_normal((V, d))
    return A, A_hat, H, W, Y, K


def timings(V: int, d: int, repeats: int) -> tuple[list[list[object]], dict[str, Any]]:
    start = time.perf_counter()
    _, A_hat, H, W, Y, K = problem(V, d)
    build = time.perf_counter() - start
    calls = {
        "forward pass: tanh(Â (H W)) and the loss": lambda: gcn.gcn_loss(A_hat, H, W, Y),
        "gradient Â^T G W^T (gcn_gradient)": lambda: gcn.gcn_gradient(A_hat, H, W, Y),
        "full HVP (gcn_hvp)": lambda: gcn.gcn_hvp(A_hat, H, W, Y, K),
        "Gauss-Newton HVP (gcn_hvp, kind='gauss-newton')":
            lambda: gcn.gcn_hvp(A_hat, H, W, Y, K, kind="gauss-newton"),
        "Gauss-Newton step, 5 CG iterations (gauss_newton_step)":
            lambda: gcn.gauss_newton_step(A_hat, H, W, Y, maxiter=5),
    }
    times = time_interleaved(calls, repeats=repeats)
    memory = {name: peak_memory(fn) for name, fn in calls.items()}
    # correctness: each HVP is the derivative of the gradient along K
    s = 1e-4
    diff = (gcn.gcn_gradient(A_hat, H + s * K, W, Y)
            - gcn.gcn_gradient(A_hat, H - s * K, W, Y)) / (2 * s)
    full = gcn.gcn_hvp(A_hat, H, W, Y, K)
    error = float(np.linalg.norm(diff - full) / np.linalg.norm(full))
    gn = gcn.gcn_hvp(A_hat, H, W, Y, K, kind="gauss-newton")
    gap = float(np.linalg.norm(full - gn) / np.linalg.norm(full))
    forward = times["forward pass: tanh(Â (H W)) and the loss"].median
    rows: list[list[object]] = []
    for name, timing in times.items():
        ratio = timing.median / forward if timing.median and forward else None
        rows.append([name, fmt_seconds(timing.median), timing.runs,
                     f"{ratio:.2f}" if ratio else "", fmt_bytes(memory[name])])
    record = {
        "V": V, "d": d, "nnz": int(A_hat.nnz), "build_seconds": build,
        "median_seconds": {n: t.median for n, t in times.items()},
        "peak_bytes": memory, "hvp_vs_gradient_difference": error,
        "full_vs_gauss_newton": gap, "hessian_bytes": 8 * (V * d) ** 2,
        "array_bytes": H.nbytes,
    }
    return rows, record


def race(V: int, d: int, budget: int, cg: int) -> dict[str, Any]:
    """Gradient descent against damped Gauss-Newton (CG), same budget of sparse products."""
    _, A_hat, _, W, _, _ = problem(V, d)
    rng = np.random.default_rng(87)
    Y = np.tanh(A_hat @ (rng.standard_normal((V, d)) @ W))  # reachable
    step = 1 / np.linalg.norm(W, 2) ** 2
    out: dict[str, Any] = {}
    H = np.zeros((V, d))
    losses, cost, start = [float(gcn.gcn_loss(A_hat, H, W, Y))], 0, time.perf_counter()
    while cost + 2 <= budget:
        H = H - step * gcn.gcn_gradient(A_hat, H, W, Y)
        cost += 2
        losses.append(float(gcn.gcn_loss(A_hat, H, W, Y)))
    out["gradient descent"] = {"steps": len(losses) - 1, "products": cost, "losses": losses,
                               "seconds": time.perf_counter() - start}
    H = np.zeros((V, d))
    losses, cost, start = [float(gcn.gcn_loss(A_hat, H, W, Y))], 0, time.perf_counter()
    while cost + 2 + 2 * cg <= budget:
        result = gcn.gauss_newton_step(A_hat, H, W, Y, maxiter=cg)
        H = H + result.step
        cost += 2 + 2 * result.iterations
        losses.append(float(gcn.gcn_loss(A_hat, H, W, Y)))
    out[f"Gauss-Newton, {cg} CG iterations per step"] = {
        "steps": len(losses) - 1, "products": cost, "losses": losses,
        "seconds": time.perf_counter() - start}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="100000x64", help="VxD (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls after the warm-up")
    parser.add_argument("--budget", type=int, default=60,
                        help="products with the sparse Â for each side of the race")
    parser.add_argument("--save", action="store_true",
                        help="write benchmarks/results/second_order_scale.json")
    args = parser.parse_args()
    V, d = (int(s) for s in args.size.split("x"))
    info = machine()
    print(header(info))
    rows, record = timings(V, d, args.repeats)
    print(f"\n## Hessian-vector products at V={V:,}, d1=d2={d}"
          f" (nnz(Â) = {record['nnz']:,}; one V x d array = {fmt_bytes(record['array_bytes'])};"
          f" the Hessian would be {fmt_bytes(record['hessian_bytes'])})\n")
    print(markdown_table(["operation", "median time", "runs", "time / forward pass",
                          "peak memory (tracemalloc)"], rows))
    print(f"\nfull HVP against the central difference of the gradient (s = 1e-4): relative "
          f"error {record['hvp_vs_gradient_difference']:.1e}; full against Gauss-Newton HVP: "
          f"relative difference {record['full_vs_gauss_newton']:.2f}")
    results = race(V, d, args.budget, cg=5)
    print(f"\n## The race at V={V:,}, d={d}, budget {args.budget} products with Â\n")
    table = [[name, r["steps"], r["products"], f"{r['losses'][0]:.4g}",
              f"{r['losses'][-1]:.4g}", f"{r['losses'][0] / r['losses'][-1]:.1f}",
              fmt_seconds(r["seconds"])] for name, r in results.items()]
    print(markdown_table(["method", "steps", "products with Â", "first loss", "last loss",
                          "reduction", "wall time"], table))
    if args.save:
        payload = {"machine": info, "timings": record, "race": results}
        print(f"\n# saved {save('second_order_scale', payload)}")


if __name__ == "__main__":
    main()
