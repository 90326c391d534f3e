"""House rules for the notebooks: listed in the book, executed, installable on Colab."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def toc_files() -> set[str]:
    files = {TOC["root"]}
    for part in TOC.get("parts", []):
        files |= {chapter["file"] for chapter in part["chapters"]}
    return files


def test_every_notebook_is_in_the_table_of_contents() -> None:
    listed = toc_files()
    assert NOTEBOOKS
    for notebook in NOTEBOOKS:
        assert notebook.relative_to(ROOT).with_suffix("").as_posix() in listed, notebook.name


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_executed_in_order(notebook: Path) -> None:
    nb = json.loads(notebook.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    counts = [c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code"]
    assert counts == list(range(1, len(counts) + 1)), "run it top to bottom in a fresh kernel"
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"a committed error output in {notebook.name}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_installs_mdcalc_from_the_configured_repository(notebook: Path) -> None:
    """The one repository setting in _config.yml also drives the Colab install line."""
    url = CONFIG["repository"]["url"]
    code = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    first = "".join(code[0]["source"])
    assert f"%pip install --quiet git+{url}" in first, (
        f"the install cell does not follow repository.url ({url}) in _config.yml: "
        "run `make repository` (tools/set_repository.py) to write it into every notebook")
    assert "remove-cell" in code[0]["metadata"].get("tags", [])


def test_one_command_points_everything_at_another_repository(tmp_path: Path) -> None:
    """`make repository URL=...` changes the setting and every place that must follow it
    (install cells, clone line), and nothing else in those files."""
    for name in ("_config.yml", "tools/set_repository.py", *(
            p.relative_to(ROOT).as_posix() for p in (ROOT / "book").glob("*.*"))):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    old, new = CONFIG["repository"]["url"], "https://github.com/someone/their-course"
    result = subprocess.run([sys.executable, "tools/set_repository.py", new], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load((tmp_path / "_config.yml").read_text())
    assert config["repository"]["url"] == new
    assert {**config, "repository": CONFIG["repository"]} == CONFIG  # nothing else changed
    for notebook in NOTEBOOKS:
        before = notebook.read_text()
        after = (tmp_path / "book" / notebook.name).read_text()
        assert f"git+{new}" in after and old not in after, notebook.name
        assert after == before.replace(f"git+{old}", f"git+{new}"), notebook.name
    assert f"git clone {new}" in (tmp_path / "book/run_yourself.md").read_text()
    for page in (ROOT / "book").glob("*.md"):  # no page still names the old repository
        assert old not in (tmp_path / "book" / page.name).read_text(), page.name


# --------------------------------------------------------------------------------------
# Displayed formulas come from checked code (issue 9): a key formula is glued from the
# object its check evaluates, never typed in a markdown cell, so that editing it alone
# changes a committed output (nbval fails) and editing its code fails the check.
# --------------------------------------------------------------------------------------

# ```{glue:math} name   and   {glue:text}`name:format`
GLUE_DIRECTIVE = re.compile(r"```\{glue(?::\w+)?\}[ \t]+(\S+)")
GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([^`:]+)")


def _cells(notebook: Path, kind: str) -> list[dict]:
    return [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == kind]


def _glued_names(notebook: Path) -> list[str]:
    names = []
    for cell in _cells(notebook, "code"):
        for output in cell.get("outputs", []):
            scrapbook = output.get("metadata", {}).get("scrapbook", {})
            if "name" in scrapbook:
                names.append(scrapbook["name"])
    return names


def _glue_references(notebook: Path) -> set[str]:
    text = "\n".join("".join(c["source"]) for c in _cells(notebook, "markdown"))
    return set(GLUE_DIRECTIVE.findall(text)) | set(GLUE_ROLE.findall(text))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_no_boxed_formula_is_typed_by_hand(notebook: Path) -> None:
    for cell in _cells(notebook, "markdown"):
        assert "\\boxed" not in "".join(cell["source"]), (
            "a boxed (key) formula is typed in a markdown cell: glue it from the code that "
            "checks it (mdcalc.notation.glue_math) and show it with {glue:math}"
        )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_glue_reference_is_glued_in_the_same_notebook(notebook: Path) -> None:
    glued = set(_glued_names(notebook))
    missing = _glue_references(notebook) - glued
    assert not missing, f"{notebook.name} shows glued names that no cell glues: {missing}"


def test_glue_names_are_unique_across_the_book() -> None:
    names = [name for notebook in NOTEBOOKS for name in _glued_names(notebook)]
    repeated = {name for name in names if names.count(name) > 1}
    assert not repeated, f"glued more than once: {sorted(repeated)}"


# The key formulas: the three answers, the thread's notations, the GCN gradients and every
# gallery entry. Each must be shown from a glued (checked) object.
KEY_FORMULAS = {
    "01_the_question.ipynb": {
        "ch1-tensor", "ch1-kron", "ch1-map", "ch1-thread-question", "ch1-thread-table",
        "ch1-thread-answer1", "ch1-thread-answer2", "ch1-thread-answer3",
    },
    "02_componentwise.ipynb": {"ch2-componentwise", "ch2-thread-entry", "ch2-thread-boxed"},
    "03_basis_vectors_and_vec.ipynb": {
        "ch3-single-entry", "ch3-dz-dhkl", "ch3-extraction", "ch3-kron-jacobian", "ch3-names",
    },
    "04_total_differential.ipynb": {
        "ch4-linear-map", "ch4-thread-linear-map", "ch4-thread-mixed", "ch4-settled",
        "ch4-thread-kron", "ch4-contraction", "ch4-views",
    },
    "05_conventions.ipynb": {"ch5-cookbook", "ch5-commutation", "ch5-table-positions"},
    "06_backpropagation.ipynb": {"ch6-g", "ch6-trace-chain", "ch6-gcn-gradients"},
    "07_gallery.ipynb": {
        f"ch7-{entry}"
        for entry in (
            "inverse", "gram", "square", "transpose", "hadamard", "tanh", "trace", "logdet",
            "det", "det-adjugate", "xw", "quadratic",
        )
    },
    "09_derive_your_own.ipynb": {
        f"ch9-{entry}"
        for entry in (
            "question-steps", "question-forms", "quadratic", "exp", "trace", "logdet-inv",
            "logdet-inv-steps", "least-squares", "tanh-h", "tanh-w", "gram", "hadamard",
            "logdet", "det", "sympy-table",
        )
    },
    "11_matrix_cookbook.ipynb": {"ch11-counts"},
    "08_second_derivatives.ipynb": {
        "ch8-quad-chain", "ch8-quad-forms", "ch8-quad-eigen", "ch8-tanh-hvp", "ch8-square",
        "ch8-inverse", "ch8-logdet",
    },
}


def test_every_key_formula_is_shown_from_a_glued_object() -> None:
    assert set(KEY_FORMULAS) == {notebook.name for notebook in NOTEBOOKS}
    for notebook in NOTEBOOKS:
        shown = _glue_references(notebook) & set(_glued_names(notebook))
        missing = KEY_FORMULAS[notebook.name] - shown
        assert not missing, f"{notebook.name}: key formulas not glued and shown: {missing}"


# --------------------------------------------------------------------------------------
# Plumbing out of the reader's way (issue 9, item 5)
# --------------------------------------------------------------------------------------

CODE_COLUMNS = 76


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_code_fits_the_page_and_shows_no_linter_comments(notebook: Path) -> None:
    for cell in _cells(notebook, "code"):
        if "remove-cell" in cell["metadata"].get("tags", []):
            continue  # never shown (the Colab install line)
        source = "".join(cell["source"])
        assert "noqa" not in source, f"a visible '# noqa' in {notebook.name}: {source[:60]!r}"
        for line in source.splitlines():
            assert len(line) <= CODE_COLUMNS, f"{notebook.name}: {line!r} is {len(line)} long"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_is_named_captioned_folded_and_described(notebook: Path) -> None:
    for cell in _cells(notebook, "code"):
        if not any("image/png" in o.get("data", {}) for o in cell.get("outputs", [])):
            continue
        meta = cell["metadata"]
        figure = meta.get("mystnb", {}).get("figure", {})
        alt = meta.get("mystnb", {}).get("image", {}).get("alt", "")
        head = "".join(cell["source"])[:60]
        assert figure.get("name", "").startswith("fig-"), f"{notebook.name}: {head!r}"
        assert figure.get("caption"), f"no caption: {notebook.name}: {head!r}"
        assert len(alt.split()) >= 5, f"alt text must say what it shows: {head!r}"
        assert "hide-input" in meta.get("tags", []), f"plotting code not folded: {head!r}"
