"""House rules for the notebooks: listed in the book, executed, installable on Colab."""

from __future__ import annotations

import json
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
    assert f"%pip install --quiet git+{url}" in first
    assert "remove-cell" in code[0]["metadata"].get("tags", [])
