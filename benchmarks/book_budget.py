"""Wall time of the cold build, warm rebuild and `make test` (cold, warm), from a clean clone.

Run:  python3 benchmarks/book_budget.py --save        (any Python 3.11+, no packages needed)

Part 3 of the performance issue. The script clones the committed HEAD of the repository
(uncommitted changes are not measured) into a scratch folder, runs ``make venv`` there (not
timed), and then times, with the commands of the Makefile:

1. cold build: ``.venv/bin/jupyter-book build . -W -n --keep-going`` with no ``_build``
   (every notebook executed);
2. warm rebuild: the same command again (execution cache hit);
3. cold ``make test`` (with ``PYTEST_ADDOPTS=--durations=15``) on a clean working tree
   (``git clean -fdx`` keeping only ``.venv``), as CI runs it: every site and edition built;
4. warm ``make test``: the same again, nothing changed (the built sites are reused; the
   notebooks still run under nbval).

Each is compared with its budget on the 2-core reference machine. To see where the time goes,
it also prints the notebook execution times reported by the build, and pytest's slowest
tests. Logs stay in the scratch folder (printed at the end).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_basics, markdown_table, save  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BUILD = [".venv/bin/jupyter-book", "build", ".", "-W", "-n", "--keep-going"]
TEST = ["make", "test"]
BUDGETS = {"cold build": 90.0, "warm rebuild": 15.0, "cold make test": 180.0,
           "warm make test": 90.0}


@dataclass
class Step:
    name: str
    command: list[str]
    seconds: float = 0.0
    returncode: int = 0
    log: Path = field(default_factory=Path)


def run(step: Step, cwd: Path, logs: Path, env: dict[str, str] | None = None) -> Step:
    """Run one step, timing its wall clock, with its output in logs/<name>.log."""
    step.log = logs / (step.name.replace(" ", "_") + ".log")
    print(f"# {step.name}: {' '.join(step.command)}", flush=True)
    with step.log.open("w") as out:
        start = time.perf_counter()
        proc = subprocess.run(step.command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                              env=env)
        step.seconds = time.perf_counter() - start
    step.returncode = proc.returncode
    status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode}), see {step.log}"
    print(f"  {step.seconds:.1f} s, {status}", flush=True)
    return step


def notebook_times(log: Path) -> list[tuple[str, float]]:
    """(notebook, seconds) pairs from myst-nb's "Executed notebook in ..." lines of a build log."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        m = re.search(r"(\S+\.ipynb): Executed notebook in ([0-9.]+) seconds", line)
        if m:
            found.append((Path(m.group(1)).name, float(m.group(2))))
    return found


def slowest_tests(log: Path, n: int = 15) -> list[str]:
    """The lines of pytest's --durations report."""
    lines = log.read_text(errors="replace").splitlines()
    for i, line in enumerate(lines):
        if "slowest" in line and "durations" in line:
            return [ln for ln in lines[i + 1:i + 1 + n] if re.match(r"\s*[0-9.]+s ", ln)]
    return []


def test_summary(log: Path) -> str:
    """pytest's last line (e.g. '120 passed in 95.1s')."""
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1].strip("= ") if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, default=REPO, help="repository to clone (HEAD)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/mdcalc-book-budget"),
                        help="scratch folder, emptied first (default: %(default)s)")
    parser.add_argument("--save", action="store_true",
                        help="write benchmarks/results/book_budget.json (for plot.py)")
    args = parser.parse_args()

    work = args.workdir.resolve()
    if work.exists():
        shutil.rmtree(work)
    clone, logs = work / "clone", work / "logs"
    logs.mkdir(parents=True)
    subprocess.run(["git", "clone", "--quiet", str(args.repo), str(clone)], check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, check=True,
                            capture_output=True, text=True).stdout.strip()
    info = machine_basics()
    print(f"# {info['date']}; {info['nproc']} cores, {info['cpu']}; clone of {args.repo} "
          f"at {commit} in {clone}", flush=True)

    venv = run(Step("make venv (not timed)", ["make", "venv"]), clone, logs)
    if venv.returncode != 0:
        sys.exit(f"make venv failed; see {venv.log}")
    steps = [run(Step("cold build", BUILD), clone, logs),
             run(Step("warm rebuild", BUILD), clone, logs)]
    subprocess.run(["git", "clean", "-fdxq", "-e", ".venv"], cwd=clone, check=True)
    durations = dict(os.environ, PYTEST_ADDOPTS="--durations=15")
    steps.append(run(Step("cold make test", TEST), clone, logs, durations))
    steps.append(run(Step("warm make test", TEST), clone, logs, durations))

    rows = []
    for s in steps:
        budget = BUDGETS[s.name]
        verdict = "FAILED" if s.returncode else ("met" if s.seconds <= budget else "NOT met")
        rows.append([s.name, f"`{' '.join(s.command)}`", f"{s.seconds:.1f} s", f"{budget:.0f} s",
                     verdict])
    print(f"\n## The book at {commit}: wall time from a clean clone\n")
    print(markdown_table(["step", "command", "wall time", "budget", "verdict"], rows))

    nb = notebook_times(steps[0].log)
    if nb:
        total = sum(t for _, t in nb)
        print(f"\n## Cold build: notebook execution ({total:.1f} s of {steps[0].seconds:.1f} s)\n")
        print(markdown_table(["notebook", "executed in"], [[n, f"{t:.1f} s"] for n, t in nb]))
    for step in steps[2:]:
        print(f"\n## {step.name}: {test_summary(step.log)}; slowest tests\n")
        print("\n".join(f"    {line.strip()}" for line in slowest_tests(step.log)))
    print(f"\n# logs: {logs}")
    if args.save:
        payload = {
            "machine": info, "commit": commit, "budgets": BUDGETS,
            "steps": [{"name": s.name, "command": s.command, "seconds": s.seconds,
                       "returncode": s.returncode} for s in steps],
            "notebooks": nb,
            "slowest_tests": {s.name: slowest_tests(s.log) for s in steps[2:]},
        }
        print(f"# saved {save('book_budget', payload)}")


if __name__ == "__main__":
    main()
