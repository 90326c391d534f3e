"""House rules for the notebooks: listed in the book, executed, installable on Colab."""

from __future__ import annotations

import json
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
