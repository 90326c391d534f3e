"""The work each page of the book costs the test suite: what the next chapter will cost.

Run (from the repository root, with the project's environment):

    .venv/bin/python benchmarks/page_cost.py --save          # runs the per-page tests
    .venv/bin/python benchmarks/page_cost.py --log LOG       # reads a run's output instead

Part 3c of the benchmarks. A page costs the suite, in work (seconds of one core):

- its notebook under nbval: a kernel, every cell run and compared (pytest's
  ``--durations=0``: the setup and call of every item of ``book/NN_x.ipynb``, summed);
- one visit per edition in the browser survey (tests/site_survey.py): web at laptop size
  with axe-core, instructor at phone size, student at laptop size; each visit records how long
  its steps took, in ``_build/tests/page-timings.json``.

The script runs ``pytest -p no:xdist --durations=0`` on every notebook and on the per-page
browser tests (tests/test_site.py, tests/test_accessibility.py; the editions are built first
if anything changed, and those builds are reported apart), or reads the output of such a run
(``--log``, with the timings file it left). It prints one row per page and the mean of the
chapters: what one more chapter adds to `make test` (work; with two cores, about half of it
in wall time). The handouts and the PDF print the whole book, so each chapter also lengthens
those (tests/test_handout.py); they are reported as one line, from the same durations when the
log has them.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_basics, markdown_table, save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TIMINGS = ROOT / "_build" / "tests" / "page-timings.json"
LOG = ROOT / "_build" / "tests" / "page-cost-pytest.log"
TESTS = ["tests/test_site.py", "tests/test_accessibility.py"]
DURATION = re.compile(r"^\s*(?P<seconds>[0-9.]+)s (?P<phase>setup|call|teardown)\s+(?P<id>\S.*)$")


def durations(log: str) -> dict[str, float]:
    """Seconds per test item (setup, call and teardown summed) from --durations=0 output."""
    found: dict[str, float] = defaultdict(float)
    for line in log.splitlines():
        match = DURATION.match(line)
        if match:
            found[match["id"].strip()] += float(match["seconds"])
    return dict(found)


def per_notebook(items: dict[str, float]) -> dict[str, float]:
    """nbval's work per notebook (the page name, e.g. book/03_basis_vectors_and_vec.html)."""
    pages: dict[str, float] = defaultdict(float)
    for nodeid, seconds in items.items():
        path = nodeid.split("::", 1)[0]
        if path.startswith("book/") and path.endswith(".ipynb"):
            pages[path.removesuffix(".ipynb") + ".html"] += seconds
    return dict(pages)


def per_visit(timings: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Seconds per page for each survey ("web 1366x768", ...), all steps of the visit."""
    return {survey: {page: sum(steps.values()) for page, steps in pages.items()}
            for survey, pages in timings.items()}


def table(nbval: dict[str, float], visits: dict[str, dict[str, float]]) -> tuple[str, float]:
    """One row per page; returns the table and the mean work of a chapter (a notebook)."""
    surveys = sorted(visits)
    pages = sorted(set(nbval) | {p for v in visits.values() for p in v})
    rows, chapters = [], []
    for page in pages:
        cells = [nbval.get(page)] + [visits[s].get(page) for s in surveys]
        total = sum(c for c in cells if c is not None)
        if page in nbval:
            chapters.append(total)
        rows.append([page.removeprefix("book/").removesuffix(".html")]
                    + [f"{c:.1f}" if c is not None else "" for c in cells] + [f"{total:.1f}"])
    sums = [sum(nbval.values())] + [sum(visits[s].values()) for s in surveys]
    rows.append(["**all pages**"] + [f"{s:.1f}" for s in sums] + [f"{sum(sums):.1f}"])
    headers = ["page", "nbval"] + [f"visit: {s}" for s in surveys] + ["total"]
    return markdown_table(headers, rows), statistics.mean(chapters) if chapters else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--log", type=Path,
                        help="read this pytest --durations=0 output instead of running pytest")
    parser.add_argument("--save", action="store_true", help="write results/page_cost.json")
    args = parser.parse_args()
    if args.log:
        log = args.log.read_text(errors="replace")
    else:
        notebooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "book").glob("*.ipynb"))
        command = [sys.executable, "-m", "pytest", "-p", "no:xdist", "-q", "--durations=0",
                   *TESTS, *notebooks]
        print("#", " ".join(command[2:]), flush=True)
        log = subprocess.run(command, cwd=ROOT, capture_output=True, text=True).stdout
        LOG.write_text(log)
        print(f"# pytest's output: {LOG} (--log reads it again)")
    items = durations(log)
    if not TIMINGS.is_file():
        sys.exit(f"{TIMINGS} is missing: the per-page tests did not run")
    timings = json.loads(TIMINGS.read_text())
    nbval, visits = per_notebook(items), per_visit(timings)
    text, chapter = table(nbval, visits)
    outside = {nodeid: s for nodeid, s in items.items()
               if not nodeid.startswith("book/")}
    surveyed = sum(sum(v.values()) for v in visits.values())
    # The builds and the one-off tests of the per-page test files (menus, site root, from
    # disk): whatever their durations hold beyond the visits.
    builds_and_rest = sum(s for n, s in outside.items() if n.startswith(tuple(TESTS))) - surveyed
    handout = sum(s for n, s in outside.items() if n.startswith("tests/test_handout.py"))
    info = machine_basics()
    print(f"# {info['date']}; {info['nproc']} cores, {info['cpu']}")
    print(text)
    steps = sorted({step for pages in timings.values() for s in pages.values() for step in s})
    print("\nWhere a visit's time goes (all pages, seconds):\n")
    print(markdown_table(["visit"] + steps, [
        [survey] + [f"{sum(s.get(step, 0.0) for s in pages.values()):.1f}" for step in steps]
        for survey, pages in sorted(timings.items())]))
    print(f"\nA chapter costs about {chapter:.1f} s of work (mean over the notebooks); "
          f"the builds of the editions and the one-off browser tests {builds_and_rest:.1f} s"
          + (f"; the handouts and the PDF {handout:.1f} s" if handout else "") + ".")
    if args.save:
        path = save("page_cost", {"machine": info, "nbval": nbval, "visits": visits,
                                  "steps": timings, "chapter_mean": chapter,
                                  "builds_and_rest": builds_and_rest, "handout": handout})
        print(f"# saved {path}")


if __name__ == "__main__":
    main()
