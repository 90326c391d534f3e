"""Building the book for the site tests: one place that knows the commands and the folders."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build" / "tests"
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")


@functools.cache  # each edition is built once per test run
def build_book(edition: str = "web", builder: str = "html") -> Path:
    """Build the book as ``make book`` does, into _build/tests/<edition>-<builder>.

    Returns the folder of the built pages. Fails with the build log when the build has a
    warning or an error (the build runs with -W -n --keep-going, like ``make book``).
    """
    out = BUILD / f"{edition}-{builder}"
    env = dict(os.environ, BOOK_EDITION=edition)
    # --all: rewrite every page, so that nothing is left over from an earlier build.
    cmd = [str(JUPYTER_BOOK), "build", ".", "--path-output", str(out), "--builder", builder,
           "--all", "-W", "-n", "--keep-going"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        log = f"{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
        raise AssertionError(f"{' '.join(cmd)} failed:\n{log}")
    return out / "_build" / builder
