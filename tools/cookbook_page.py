"""Write book/11_matrix_cookbook.ipynb from mdcalc.cookbook (its cells, without outputs).

Run from the repository root, then execute the notebook in place:

    python tools/cookbook_page.py
    jupyter nbconvert --to notebook --execute --inplace book/11_matrix_cookbook.ipynb

Every entry of the page is written by ``mdcalc.cookbook.render`` from the checked outcome,
the overview table by ``mdcalc.cookbook.table``; the section cells that follow assert every
verdict when the notebook runs. The short table of peers comes from the recorded benchmark
``benchmarks/results/cookbook_bench.json`` (``benchmarks/cookbook_bench.py --save``).
tests/test_cookbook.py checks that the committed notebook is what this script writes.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "11_matrix_cookbook.ipynb"
BENCH = ROOT / "benchmarks" / "results" / "cookbook_bench.json"
INSTALL = (
    "# On Colab, or any kernel without the book's library, install it from the book's "
    "repository.\ntry:\n    import mdcalc\nexcept ImportError:\n"
    "    %pip install --quiet git+{url}"
)

INTRO = """\
(chapter-cookbook)=
# The Matrix Cookbook, derived and checked

The Matrix Cookbook {cite:p}`petersen2012cookbook` is where many readers look up a matrix
derivative. Its chapter 2 lists the derivative identities, numbered (32) to (144) in the
version of November 15, 2012, the last one published. This page takes them one at a time.
For each identity that sympy's matrix expressions can state, `mdcalc.derive`
({ref}`chapter-derive`) derives the function step by step, and both the printed right-hand
side and the derivation are checked against the numeric derivative with
`mdcalc.check_derivative`, at sizes that differ from one another wherever the identity
allows it. The formulas are quoted as printed, misprints included, and cited by equation
number; the words around them are ours.

Each entry gives the formula as printed, a verdict and the sizes it was checked at, then
`derive`'s differential with the gradient (or, for a matrix-valued function, the
vec-Jacobian), and the steps of the derivation folded under it. A verdict is one of four:

- **correct**: every printed form passes the check, under the conditions the Cookbook
  states with it (such as a symmetric $W$);
- **needs an unstated assumption**: the printed form passes with an assumption that the
  Cookbook leaves out, and fails without it (the entry shows the numbers);
- **erratum**: the printed form fails the check; the entry gives a corrected form, which
  passes, and a counterexample in small integers;
- **not checked**: a definition, or an identity that sympy's matrix expressions do not
  state (eigenvalues, complex values, Toeplitz matrices, chain rules for a general
  function), with the reason.

A symmetric or diagonal variable (section 2.8) is derived with `derive(...,
structure=...)` ({ref}`chapter-structured`).

The entries are written by `mdcalc.cookbook.render` from the checked objects, and a cell at
the end of each section asserts every verdict of that section. To find an entry, search
the site for "cookbook" and its number (for example "cookbook 57"); its anchor is
`cookbook-57`."""

COUNTS = """\
(sec-cookbook-counts)=
## What the checks found

```{glue:md} ch11-counts
:format: myst
```

The errata are (92), whose first term is printed transposed, and (95), whose first
denominator is printed $\\mathbf{x}^T\\mathbf{B}\\mathbf{B}\\mathbf{x}$ for
$\\mathbf{x}^T\\mathbf{B}^T\\mathbf{B}\\mathbf{x}$. The unstated assumptions are
$\\det X > 0$ in (43), square $A$ and $B$ in (51), and a symmetric $A$ in (127)."""

PEERS = """\
(sec-cookbook-peers)=
## Side by side with sympy

`benchmarks/cookbook_bench.py` gives the {n} stated identities on a general (unstructured)
variable, in every case the page checks, to `mdcalc.derive` and to sympy's own `diff`, and
checks both answers numerically in the same way (the benchmarks' README has the table for
each identity):

| tool | right | wrong | unevaluated | refused | median time per identity |
|---|---|---|---|---|---|
{rows}

{details}"""

DETAILS = (
    "sympy returns 0 for {zeros}, and a Jacobian with wrong values for {values}; it returns "
    "the derivative unevaluated for {unevaluated}, and raises an error for {refused}. "
    "tensorgrad {{cite:p}}`tensorgrad` was not compared: it evaluates through torch's named "
    "tensors and needs torch 2.11 or older, which the book's environment does not have. Times "
    "were recorded on {date}, {load}; they vary from machine to machine."
)


def _numbers(records: list[dict[str, Any]], verdict: str, note: str = "") -> str:
    picked = [
        f"({r['number']})"
        for r in records
        if r["sympy"] == verdict and (not note or note in " ".join(r["sympy_notes"]))
    ]
    return ", ".join(picked) if picked else "none"


def peers_markdown(bench: dict[str, Any]) -> str:
    """The short table of peers, from the recorded benchmark."""
    s, records = bench["summary"], bench["rows"]
    rows = []
    for tool, key in (("`mdcalc.derive`", "derive"), ("sympy's `diff`", "sympy")):
        counts = " | ".join(str(s[key][v]) for v in ("right", "wrong", "unevaluated", "refused"))
        rows.append(f"| {tool} | {counts} | {s[key + '_median_seconds'] * 1e3:.1f} ms |")
    info = bench["machine"]
    load = (f"with a load average of {info['load_before']} on {info['nproc']} cores, so "
            "compare the two columns rather than the absolute times")
    details = DETAILS.format(
        zeros=_numbers(records, "wrong", "returned 0"),
        values=_numbers(records, "wrong", "wrong values"),
        unevaluated=_numbers(records, "unevaluated"),
        refused=_numbers(records, "refused"),
        date=info["date"].split(" ")[0],
        load=load,
    )
    return PEERS.format(
        n=s["identities"], rows="\n".join(rows), details=textwrap.fill(details, 92)
    )


def _cell(kind: str, source: str, cell_id: str, tags: list[str] | None = None) -> dict:
    cell: dict[str, Any] = {
        "cell_type": kind,
        "id": cell_id,
        "metadata": {"tags": tags} if tags else {},
        "source": source.splitlines(keepends=True),
    }
    if kind == "code":
        cell["execution_count"] = None
        cell["outputs"] = []
    return cell


def notebook(outcomes: dict[str, Any], bench: dict[str, Any], url: str) -> dict[str, Any]:
    """The page as an nbformat 4 notebook (code cells unexecuted)."""
    from mdcalc import cookbook

    cells = [
        _cell("markdown", INTRO, "11-00"),
        _cell("code", INSTALL.format(url=url), "11-01", ["remove-cell"]),
        _cell("code", "from mdcalc import cookbook\nfrom mdcalc.notation import glue_markdown",
              "11-02", ["hide-cell"]),  # the imports folded, as in every chapter
        _cell("code", "# every entry derived and checked, its verdict computed\n"
              "outcomes = cookbook.check_all()\ncounts = cookbook.counts(outcomes)\n"
              "for name, n in counts.items():\n    print(f\"{name}: {n}\")", "11-03"),
        _cell("code", 'glue_markdown("ch11-counts", cookbook.summary(counts))', "11-04",
              ["hide-input"]),
        _cell("markdown", COUNTS, "11-05"),
        _cell("markdown", peers_markdown(bench), "11-06"),
        _cell("markdown", "(sec-cookbook-table)=\n## Every identity at a glance\n\n"
              + cookbook.table(outcomes), "11-07"),
    ]
    shown: dict[Any, str] = {}  # a function derived twice is shown once, then referred to
    for n, (section, title) in enumerate(cookbook.SECTIONS.items()):
        entries = [o for o in outcomes.values() if o.entry.section == section]
        anchor = "cookbook-section-" + section.replace(".", "-")
        note = cookbook.SECTION_NOTES.get(section)
        text = f"({anchor})=\n## {title} (Cookbook section {section})\n\n" + (
            f"{note}\n\n" if note else ""
        ) + "\n".join(cookbook.render(o, shown) for o in entries)
        cells.append(_cell("markdown", text, f"11-{10 + 2 * n:02d}"))
        cells.append(_cell("code", _assertions(section, entries), f"11-{11 + 2 * n:02d}"))
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _assertions(section: str, entries: list[Any]) -> str:
    """The section's checks: every verdict, and each erratum's failing print in the open."""
    lines = [f'print(cookbook.assert_section(outcomes, "{section}"))']
    for o in entries:
        e = o.entry
        if o.verdict == "erratum":
            lines += [
                f"# ({e.number}): the printed form fails, the corrected one passes",
                f'wrong = outcomes["{e.number}"]',
                'assert "wrong" in [r.verdict for _, _, r in wrong.claims]',
                'assert all(r.verdict == "correct" for _, r in wrong.corrected)',
            ]
        elif o.verdict == "assumption":
            lines += [
                f"# ({e.number}): it holds with the assumption, fails without it",
                f'held = outcomes["{e.number}"]',
                'assert all(r.verdict == "correct" for _, _, r in held.claims)',
                'assert any(x == "not real" or r.verdict == "wrong" for x, r in held.outside)',
            ]
    return "\n".join(lines)


def main() -> None:
    import yaml  # type: ignore[import-untyped]

    sys.path.insert(0, str(ROOT))
    from mdcalc import cookbook

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    bench = json.loads(BENCH.read_text())
    nb = notebook(cookbook.check_all(), bench, url)
    PAGE.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {PAGE.relative_to(ROOT)}: {len(nb['cells'])} cells")


if __name__ == "__main__":
    main()
