"""Draw benchmarks/timings.png from the saved results (results/*.json).

Run:  .venv/bin/python benchmarks/plot.py      (after the scripts ran with --save)

One panel per saved benchmark: the numeric Jacobians at each size, the closed forms, and the
book's build and test times against their budgets. Time axes are logarithmic.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from common import HERE, load  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

OUT = HERE / "timings.png"
MDCALC_COLOR, PEER_COLOR, FLOOR_COLOR = "#1f77b4", "#9a9a9a", "#aec7e8"


def _color(name: str) -> str:
    if name.startswith("floor"):
        return FLOOR_COLOR
    return MDCALC_COLOR if name.startswith("mdcalc") else PEER_COLOR


def _median(row: dict[str, Any]) -> float | None:
    return row["timing"]["median"]


def numeric_panel(ax: Axes, data: dict[str, Any]) -> None:
    sizes = list(data["sizes"])
    names = [r["name"] for r in data["sizes"][sizes[0]]]
    height = 0.8 / len(sizes)
    hatches = ["", "//", "xx"]
    for s, label in enumerate(sizes):
        rows = {r["name"]: r for r in data["sizes"][label]}
        for i, name in enumerate(names):
            y = i + (s - (len(sizes) - 1) / 2) * height
            r = rows.get(name)
            t = None if r is None else _median(r)
            if t is None:
                note = "skipped" if r is None else r["timing"]["note"]
                ax.text(1.2e-3, y, f"{label}: {note}", va="center", fontsize=7, color="#b00")
                continue
            ax.barh(y, t, height=height * 0.95, color=_color(name), hatch=hatches[s % 3],
                    edgecolor="white")
            ax.text(t * 1.08, y, _fmt(t), va="center", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(1e-3, 3e3)
    ax.set_xlabel("median wall time (s), log scale")
    ax.set_title("1. Numeric Jacobian of tanh(A X W)  (blue: mdcalc; light blue: the "
                 "evaluations of f alone; grey: peers)", fontsize=10)
    handles = [Patch(facecolor=PEER_COLOR, edgecolor="white", hatch=hatches[s % 3], label=label)
               for s, label in enumerate(sizes)]
    ax.legend(handles=handles, fontsize=8, loc="lower right")


def closed_panel(ax: Axes, data: dict[str, Any]) -> None:
    rows = data["rows"]
    names = [r["name"] for r in rows]
    times = [_median(r) or 0.0 for r in rows]
    colors = [_color(n) for n in names]
    ax.barh(range(len(rows)), times, color=colors)
    for i, t in enumerate(times):
        ax.text(t * 1.08, i, _fmt(t), va="center", fontsize=7)
    ax.set_yticks(range(len(rows)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(min(t for t in times if t > 0) / 2, max(times) * 4)
    ax.set_xlabel("median wall time (s), log scale")
    s = data["size"]
    ax.set_title(f"2. Closed forms, V={s['V']}, d1={s['d1']}, d2={s['d2']} "
                 f"({s['V'] ** 2 * s['d1'] * s['d2'] / 1e6:.1f} M entries)", fontsize=10)


def book_panel(ax: Axes, data: dict[str, Any]) -> None:
    steps = data["steps"]
    names = [s["name"] for s in steps]
    times = [s["seconds"] for s in steps]
    budgets = [data["budgets"][n] for n in names]
    colors = ["#2ca02c" if t <= b else "#d62728" for t, b in zip(times, budgets, strict=True)]
    ax.barh(range(len(steps)), times, color=colors)
    right = max(times + budgets) * 1.6
    for i, (t, b) in enumerate(zip(times, budgets, strict=True)):
        ax.plot([b, b], [i - 0.45, i + 0.45], color="black", lw=2)
        ax.text(max(t, b) + 0.02 * right, i, f"{t:.1f} s (budget {b:.0f} s)", va="center",
                fontsize=8)
    ax.set_yticks(range(len(steps)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, right)
    ax.set_xlabel("wall time (s); black line: budget")
    ax.set_title(f"3. The book at {data['commit']}, from a clean clone", fontsize=10)


def _fmt(t: float) -> str:
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def main() -> None:
    Draw = Callable[[Axes, dict[str, Any]], None]
    drawers: list[tuple[str, Draw]] = [("numeric_jacobian", numeric_panel),
                                       ("closed_forms", closed_panel), ("book_budget", book_panel)]
    panels: list[tuple[str, Draw, dict[str, Any]]] = []
    for name, draw in drawers:
        data = load(name)
        if data is not None:
            panels.append((name, draw, data))
    if not panels:
        raise SystemExit("no results saved yet: run the benchmark scripts with --save first")
    heights = {"numeric_jacobian": 5.0, "closed_forms": 3.2, "book_budget": 1.8}
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, sum(heights[p[0]] for p in panels)),
                             gridspec_kw={"height_ratios": [heights[p[0]] for p in panels]},
                             squeeze=False)
    for ax, (_, draw, data) in zip(axes[:, 0], panels, strict=True):
        draw(ax, data)
    machine = panels[0][2]["machine"]
    fig.suptitle(f"{machine['date']}: {machine['nproc']} cores, {machine['cpu']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(OUT, dpi=110)
    print(f"saved {Path(OUT)}")


if __name__ == "__main__":
    main()
