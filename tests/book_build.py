"""Building the book for the site tests: one place that knows the commands and the folders."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build" / "tests"
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")
# Everything a build reads. When none of it changed since the last successful build of the
# same edition and builder, that build is reused (a warm `make test` does not rebuild);
# BOOK_REBUILD=1 forces a rebuild (once per test run, however many pytest-xdist workers).
INPUTS = ("_config.yml", "_toc.yml", "references.bib", "requirements.txt", "book", "mdcalc",
          "_static")
# The pages show the notebooks' committed outputs (book/_ext/execution.py): nbval runs every
# notebook in a fresh kernel and fails unless it prints exactly those outputs.
ENVIRONMENT = {"BOOK_EXECUTE": "off"}


def leftover(parts: tuple[str, ...]) -> bool:
    """What JupyterLab and editors leave beside the sources (.ipynb_checkpoints/,
    .virtual_documents/, swap, lock and backup files) and Python's caches: not the book's."""
    return any(part.startswith(".") or part == "__pycache__" for part in parts) or (
        parts[-1].endswith("~"))


def inputs_digest(edition: str, builder: str, root: Path = ROOT) -> str:
    digest = hashlib.sha256(f"{edition} {builder} {sys.version} {ENVIRONMENT}\n".encode())
    for name in INPUTS:
        path = root / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            parts = file.relative_to(root).parts
            if not file.is_file() or leftover(parts):
                continue
            digest.update(file.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``: with pytest-xdist, two workers may ask for the
    same edition at once, and the second must wait for the first build, not start its own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@functools.cache  # each edition is built once per test run (and per pytest-xdist worker)
def build_book(edition: str = "web", builder: str = "html") -> Path:
    """Build the book as ``make book`` does, into _build/tests/<edition>-<builder>.

    Returns the folder of the built pages. Fails with the build log when the build has a
    warning or an error (the build runs with -W -n --keep-going, like ``make book``).
    """
    out = BUILD / f"{edition}-{builder}"
    pages = out / "_build" / builder
    stamp = out / "inputs.sha256"
    digest = inputs_digest(edition, builder)
    # The same for every worker of one pytest-xdist run.
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", f"pid {os.getpid()}")
    with _locked(BUILD / f"{edition}-{builder}.lock"):
        built = stamp.read_text().split("\n") if stamp.is_file() else []
        if pages.is_dir() and built[:1] == [digest] and (
                os.environ.get("BOOK_REBUILD") != "1" or built[1:] == [run]):
            return pages
        stamp.unlink(missing_ok=True)
        env = dict(os.environ, BOOK_EDITION=edition, **ENVIRONMENT)
        # --all: rewrite every page, so that nothing is left over from an earlier build.
        cmd = [str(JUPYTER_BOOK), "build", ".", "--path-output", str(out), "--builder",
               builder, "--all", "-W", "-n", "--keep-going"]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            log = f"{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
            raise AssertionError(f"{' '.join(cmd)} failed:\n{log}")
        stamp.write_text(f"{digest}\n{run}")
    return pages


def chapter_titles() -> list[str]:
    """The title (first "# " heading) of every page listed in _toc.yml, in order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    titles = []
    for file in files:
        notebook = (ROOT / file).with_suffix(".ipynb")
        if notebook.exists():
            cells = json.loads(notebook.read_text())["cells"]
            text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        else:
            text = (ROOT / file).with_suffix(".md").read_text()
        titles.append(next(line[2:].strip() for line in text.splitlines() if line.startswith("# ")))
    return titles
