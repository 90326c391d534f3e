"""Publishing a copy for a class: the licence, and the GitHub Pages workflow, which must be
valid (actionlint) and run the README's two commands before it deploys the built site."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from book_build import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = Path(sys.executable).with_name("actionlint")


def test_workflows_pass_actionlint() -> None:
    if not ACTIONLINT.exists():
        pytest.fail(f"{ACTIONLINT} is missing: requirements.txt pins it (make venv)")
    assert WORKFLOWS
    result = subprocess.run([str(ACTIONLINT), "-no-color", *map(str, WORKFLOWS)],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pages_workflow_tests_builds_and_deploys_the_site() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/pages.yml").read_text())
    build = workflow["jobs"]["build"]["steps"]
    runs = [step.get("run", "") for step in build]
    uses = [step.get("uses", "") for step in build]
    test = next(i for i, r in enumerate(runs) if r.strip() == "make test")
    book = next(i for i, r in enumerate(runs) if r.strip().startswith("make book"))
    upload = next(i for i, u in enumerate(uses) if u.startswith("actions/upload-pages-artifact"))
    assert test < book < upload  # nothing is published unless every test passed
    assert "_build/html" in "\n".join(runs)
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in deploy["steps"])
    # "on" is YAML 1.1's True.
    assert "main" in workflow[True]["push"]["branches"]


def test_licence_states_the_text_and_the_code() -> None:
    licence = (ROOT / "LICENSE").read_text()
    assert "Creative Commons Attribution 4.0" in licence and "MIT License" in licence


def test_readme_tells_an_instructor_how_to_publish() -> None:
    readme = (ROOT / "README.md").read_text()
    for must in ("## Publishing your own copy", "make repository URL=", "Settings > Pages",
                 "BOOK_EDITION", "make book EDITION=student", "make handout", "make pdf",
                 "LICENSE"):
        assert must in readme, must
