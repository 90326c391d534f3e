"""Running a chapter in JupyterLab, as book/run_yourself.md tells a reader to.

Starts ``jupyter lab`` from this environment on 127.0.0.1 with a token and with the options
of ``make lab`` (read from the Makefile: tools/jupyter_lab_config.py), on a copy of book/,
opens a chapter in headless Chromium, and checks what a student sees: the file browser lists
the chapters and not the book's Sphinx extensions (_ext/); the MyST of the notebook is
rendered by jupyterlab-myst, as on the site: a citation, a solution's heading (the solutions
span several cells, from ``solution-start`` to ``solution-end``, and jupyterlab-myst renders a
cell at a time: JupyterLab shows them open, under "Solution to Exercise N"), cross-references
and labels, with none of their source left showing. Then it runs all the cells through the
interface (the Run menu), and checks that every cell ran, that the printed outputs committed
in the notebook appear, and that no cell shows an error. The server is stopped at the end.
The copy keeps JupyterLab's autosave (and its .ipynb_checkpoints/) away from the book.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest

from book_build import ROOT
from browser import PageVisit, requires_chromium

pytestmark = [requires_chromium, pytest.mark.site]
CHAPTER = "01_the_question.ipynb"
TIMEOUT_MS = int(os.environ.get("LAB_TEST_TIMEOUT_MS", "300000"))  # generous: a busy machine
JUPYTER = Path(sys.executable).with_name("jupyter")


def make_lab_options() -> list[str]:
    """The options `make lab` gives `jupyter lab` (after the folder), as the Makefile says."""
    dry = subprocess.run(["make", "--no-print-directory", "-n", "lab"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    line = next(line for line in dry.splitlines() if re.search(r"jupyter lab book/", line))
    options = line.split("jupyter lab book/", 1)[1].split()
    assert any(o.startswith("--config=") for o in options), line
    return [o.replace("--config=", f"--config={ROOT}/", 1) if o.startswith("--config=")
            else o for o in options if o != "--allow-root"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    if importlib.util.find_spec("jupyterlab") is None:
        pytest.fail("JupyterLab is not installed, though requirements.txt pins it: `make venv`")
    work = tmp_path / "book"
    shutil.copytree(ROOT / "book", work, ignore=shutil.ignore_patterns(
        ".ipynb_checkpoints", "__pycache__"))
    token, port = secrets.token_hex(16), free_port()
    # Settings, workspaces and runtime files of this server stay in the test's folder. Every
    # cell stays in the page (JupyterLab 4 otherwise renders only those near the screen).
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(
        [str(JUPYTER), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
         *make_lab_options(),
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI runs as root
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urlopen(f"{base}/api/status?token={token}", timeout=5):  # noqa: S310
                    break
            except (URLError, ConnectionError, TimeoutError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("JupyterLab did not start:\n"
                                         + (tmp_path / "lab.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        yield f"{base}/lab/tree/{CHAPTER}?token={token}", work
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    assert server.returncode is not None  # the server is stopped


def committed_stream_lines(notebook: Path) -> list[str]:
    lines = []
    for cell in json.loads(notebook.read_text())["cells"]:
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream" and output["name"] == "stdout":
                lines += [ln.strip() for ln in "".join(output["text"]).splitlines() if ln.strip()]
    return lines


# The text of the rendered Markdown cells: what MyST source would look like, left raw.
RAW_MYST = re.compile(r"\{(?:cite|cite:p|cite:t|eq|ref|numref|doc)\}`|:class: dropdown|"
                      r"^\([\w-]+\)=$|```\{|:::\{", re.M)
RENDERED = """() => ({
    files: Array.from(document.querySelectorAll('.jp-DirListing-itemText'),
                      (e) => e.textContent.trim()),
    citations: document.querySelectorAll('.jp-MarkdownCell .cite-group').length,
    text: Array.from(document.querySelectorAll('.jp-MarkdownCell .jp-RenderedMarkdown,'
                                                + ' .jp-MarkdownCell .myst'),
                     (e) => e.innerText).join('\\n'),
})"""


def test_a_chapter_runs_in_jupyterlab(lab: tuple[str, Path], browser) -> None:
    url, work = lab
    expected = committed_stream_lines(work / CHAPTER)
    assert len(expected) >= 3
    visit = PageVisit(browser, ("http", "127.0.0.1"), viewport=(1366, 900))
    page = visit.page
    try:
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        code_cells = sum(c["cell_type"] == "code"
                         for c in json.loads((work / CHAPTER).read_text())["cells"])
        page.wait_for_function(
            "(n) => document.querySelectorAll('.jp-Notebook .jp-CodeCell').length === n",
            arg=code_cells, timeout=TIMEOUT_MS)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                               timeout=TIMEOUT_MS)
        # What the student sees before running anything: MyST rendered, the chapters listed.
        page.wait_for_selector(".jp-MarkdownCell .cite-group", timeout=TIMEOUT_MS)
        try:  # jupyterlab-myst renders the cells one after the other
            page.wait_for_function("""() => Array.from(document.querySelectorAll(
                '.jp-MarkdownCell')).some((c) => c.innerText.includes('Solution to Exercise'))""",
                                   timeout=60_000)
        except Exception:
            pass  # said below, with what was rendered
        seen = page.evaluate(RENDERED)
        assert CHAPTER in seen["files"] and "_ext" not in seen["files"], seen["files"]
        assert seen["citations"] >= 1, "no citation rendered"
        assert "Solution to Exercise" in seen["text"], "no solution's heading rendered"
        raw = sorted(set(RAW_MYST.findall(seen["text"])))
        assert not raw, f"MyST shown raw in JupyterLab: {raw}"
        # Run > Run All Cells; again if the click came before the kernel was connected.
        for _attempt in range(5):
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            try:
                page.wait_for_function(
                    r"""() => Array.from(document.querySelectorAll(
                        '.jp-Notebook .jp-CodeCell .jp-InputArea-prompt'))
                        .some(p => /\[(\*|\d+)\]/.test(p.textContent))""", timeout=15_000)
                break
            except Exception:
                page.keyboard.press("Escape")
        state = """() => ({
            prompts: Array.from(document.querySelectorAll(
                '.jp-Notebook .jp-CodeCell .jp-InputArea-prompt'), p => p.textContent),
            kernel: document.querySelector('.jp-Notebook-ExecutionIndicator')
                ?.getAttribute('data-status'),
        })"""
        try:
                page.wait_for_function(
                """(n) => {
                    const prompts = Array.from(document.querySelectorAll(
                        '.jp-Notebook .jp-CodeCell .jp-InputArea-prompt'), p => p.textContent);
                    const idle = document.querySelector(
                        ".jp-Notebook-ExecutionIndicator[data-status='idle']");
                    return idle && prompts.length === n
                        && prompts.every(p => /\\[\\d+\\]/.test(p));
                }""", arg=code_cells, timeout=TIMEOUT_MS)
        except Exception:
            raise AssertionError(f"the cells did not all run: {page.evaluate(state)}") from None
        outputs = page.locator(".jp-Notebook .jp-OutputArea-output").all_inner_texts()
        shown = "\n".join(outputs)
        missing = [line for line in expected if line not in shown]
        assert not missing, f"outputs not shown after running all cells: {missing[:5]}"
        errors = page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        ).all_inner_texts()
        assert not [e for e in errors if "Error" in e or "Traceback" in e], errors
        assert page.locator(".jp-OutputArea-output img").count() >= 1  # the figure
        page.screenshot(path=str(ROOT / "_build" / "tests" / "jupyterlab.png"))
    finally:
        visit.close()
