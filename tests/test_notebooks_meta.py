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


def book_sources(root: Path = ROOT) -> list[Path]:
    """The book's own files in book/: what a user's editor or JupyterLab leaves there
    (.ipynb_checkpoints/, backups, swap and lock files) is not the book's."""
    return sorted(p for p in (root / "book").iterdir()
                  if p.is_file() and not p.name.startswith((".", "~")) and not
                  p.name.endswith(("~", ".swp", ".bak")))


def copy_for_make_repository(root: Path, to: Path) -> None:
    """What `make repository` reads and writes, copied from ``root`` to ``to``."""
    for path in [root / "_config.yml", root / "README.md", root / "tools/set_repository.py",
                 *book_sources(root)]:
        target = to / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)


def make_repository(where: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "tools/set_repository.py", url], cwd=where,
                          capture_output=True, text=True)


@pytest.mark.parametrize("given", [
    "https://github.com/someone/their-course",
    "https://github.com/someone/their-course.git",  # GitHub's "clone" button
    "https://github.com/someone/their-course/",
    "git@github.com:someone/their-course.git",  # the SSH form
])
def test_one_command_points_everything_at_another_repository(tmp_path: Path,
                                                             given: str) -> None:
    """`make repository URL=...` changes the setting and every place that must follow it
    (install cells, the clone line and the folder it makes, the README's pip line), and
    nothing else in those files; a clone URL is written as the repository's address."""
    copy_for_make_repository(ROOT, tmp_path)
    old, new = CONFIG["repository"]["url"], "https://github.com/someone/their-course"
    old_folder = old.rsplit("/", 1)[1]
    result = make_repository(tmp_path, given)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load((tmp_path / "_config.yml").read_text())
    assert config["repository"]["url"] == new
    assert {**config, "repository": CONFIG["repository"]} == CONFIG  # nothing else changed
    for notebook in NOTEBOOKS:
        before = notebook.read_text()
        after = (tmp_path / "book" / notebook.name).read_text()
        assert f"git+{new}" in after and old not in after, notebook.name
        assert after == before.replace(f"git+{old}", f"git+{new}"), notebook.name
    run_yourself = (tmp_path / "book/run_yourself.md").read_text()
    assert f"git clone {new}\ncd their-course\n" in run_yourself
    readme = (tmp_path / "README.md").read_text()
    assert f"git clone {new}\n" in readme and "pip install ./their-course " in readme
    assert f'"mdcalc @ git+{new}"' in readme
    for page in [*(tmp_path / "book").glob("*.md"), tmp_path / "README.md"]:
        text = page.read_text()  # no page still names the old repository or its folder
        assert old not in text and f"cd {old_folder}" not in text, page.name
        assert f"./{old_folder}" not in text, page.name
        assert ".git\n" not in text and ".git " not in text, page.name


@pytest.mark.parametrize("given", ["https://gitlab.com/someone/their-course",
                                   "github.com/someone/their-course", "someone/their-course",
                                   "https://github.com/someone"])
def test_make_repository_refuses_what_is_no_github_repository(tmp_path: Path,
                                                              given: str) -> None:
    copy_for_make_repository(ROOT, tmp_path)
    before = (tmp_path / "_config.yml").read_text()
    result = make_repository(tmp_path, given)
    assert result.returncode != 0
    assert "https://github.com/OWNER/REPO" in result.stderr and given in result.stderr
    assert (tmp_path / "_config.yml").read_text() == before


# What JupyterLab (`make lab`) and editors leave beside the notebooks.
LEFTOVERS = {
    ".ipynb_checkpoints/01_the_question-checkpoint.ipynb": "{}",
    ".ipynb_checkpoints/intro-checkpoint.md": "# old",
    ".virtual_documents/01_the_question.ipynb": "",
    "01_the_question.ipynb~": "{",
    ".01_the_question.ipynb.swp": "",
    ".~lock.intro.md#": "",
    ".DS_Store": "",
    "__pycache__/x.cpython-311.pyc": "",
}


def test_what_jupyterlab_and_editors_leave_behind_breaks_no_test(tmp_path: Path) -> None:
    """`make lab`, then `make test`: JupyterLab's .ipynb_checkpoints/ (and an editor's
    backups and swap files) in book/ change nothing that the tests and tools read: the files
    `make repository` copies and writes, what pytest collects (nbval: the notebooks alone),
    and what decides whether the test builds of the site are out of date."""
    from book_build import inputs_digest

    sandbox = tmp_path / "repo"
    for name in ("_config.yml", "_toc.yml", "README.md", "pyproject.toml", "references.bib",
                 "requirements.txt"):
        (sandbox / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, sandbox / name)
    for folder in ("book", "tools", "tests", "mdcalc", "_static"):
        shutil.copytree(ROOT / folder, sandbox / folder,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    clean = inputs_digest("web", "html", root=sandbox)
    for name, text in LEFTOVERS.items():
        (sandbox / "book" / name).parent.mkdir(parents=True, exist_ok=True)
        (sandbox / "book" / name).write_text(text)

    assert [p.name for p in book_sources(sandbox)] == [p.name for p in book_sources()]
    copy_for_make_repository(sandbox, tmp_path / "copy")
    assert make_repository(sandbox, "https://github.com/someone/their-course").returncode == 0
    assert inputs_digest("web", "html", root=sandbox) != clean  # the URL changed: rebuild
    shutil.copy(ROOT / "_config.yml", sandbox / "_config.yml")
    for path in book_sources():
        shutil.copy(path, sandbox / "book" / path.name)
    shutil.copy(ROOT / "README.md", sandbox / "README.md")
    assert inputs_digest("web", "html", root=sandbox) == clean  # leftovers: no rebuild

    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q",
         "book"], cwd=sandbox, capture_output=True, text=True)
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    files = {line.split("::")[0] for line in collected.stdout.splitlines() if "::" in line}
    assert files == {f"book/{p.name}" for p in NOTEBOOKS}, sorted(files)


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
    "10_structured_variables.ipynb": {
        "ch10-subspaces", "ch10-relation", "ch10-logdet", "ch10-five", "ch10-inverse",
        "ch10-others", "ch10-hessian",
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


# --------------------------------------------------------------------------------------
# What a reader meets first, and what only an edition can say (issue 21)
# --------------------------------------------------------------------------------------


def first_visible_code_cell(notebook: Path) -> dict:
    """The first code cell the page shows (the Colab install cell is removed)."""
    return next(c for c in _cells(notebook, "code")
                if "remove-cell" not in c["metadata"].get("tags", []))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_the_imports_are_folded(notebook: Path) -> None:
    """Each chapter opens with a cell importing the book's machinery (glue_math,
    index_formula, ...): plumbing, folded (hide-cell) as the anchors fold it, not the first
    thing a reader meets. tools/fold_imports.py folds it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fold_imports", ROOT / "tools/fold_imports.py")
    fold_imports = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fold_imports)
    cell = first_visible_code_cell(notebook)
    if fold_imports.only_imports("".join(cell["source"])):
        assert "hide-cell" in cell["metadata"].get("tags", []), (
            f"{notebook.name}: its first cell of imports is shown: "
            "python tools/fold_imports.py folds it")


EDITION_SENTENCE = re.compile(r"worked solution follows each exercise|"
                              r"open in the instructor edition", re.I)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_no_notebook_says_where_the_solutions_are(notebook: Path) -> None:
    """Where the worked solutions are (folded, open, left out) depends on the edition, so
    the edition says it (book/_ext/edition.py, SOLUTIONS_NOTE), not the notebook, which
    every edition shares (the student edition said "left out of the student edition")."""
    for cell in _cells(notebook, "markdown"):
        found = EDITION_SENTENCE.search("".join(cell["source"]))
        assert not found, (f"{notebook.name} says {found[0]!r}: "
                           "python tools/fold_imports.py removes the sentence")
