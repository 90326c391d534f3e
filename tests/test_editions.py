"""The student and instructor editions and the one-page handout build, and differ as promised."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from book_build import ROOT, build_book

EXERCISE_PAGE = "book/02_componentwise.html"


def solution_classes(html: Path) -> list[str]:
    return re.findall(r'class="(solution[^"]*)"', html.read_text())


def test_web_edition_folds_solutions() -> None:
    classes = solution_classes(build_book("web") / EXERCISE_PAGE)
    assert len(classes) >= 3 and all("dropdown" in c for c in classes), classes


def test_student_edition_removes_solutions() -> None:
    page = build_book("student") / EXERCISE_PAGE
    assert solution_classes(page) == []
    text = page.read_text()
    assert 'class="exercise' in text  # the exercises themselves stay
    assert "self_check" in text


def test_instructor_edition_shows_solutions_open() -> None:
    classes = solution_classes(build_book("instructor") / EXERCISE_PAGE)
    assert len(classes) >= 3 and not any("dropdown" in c for c in classes), classes


def test_unknown_edition_is_refused() -> None:
    with pytest.raises(AssertionError, match="BOOK_EDITION must be one of"):
        build_book("teacher")


def test_handout_holds_every_chapter_on_one_page() -> None:
    handout = build_book("web", builder="singlehtml") / "book" / "intro.html"
    text = normalise_quotes(handout.read_text())
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert len(files) >= 5
    for file in files:
        # every chapter's title is on the one page
        source = ROOT / file
        notebook = source.with_suffix(".ipynb")
        source = notebook if notebook.exists() else source.with_suffix(".md")
        title = first_heading(source)
        assert normalise_quotes(title) in text, f"{file}: {title!r} missing from the handout"


def first_heading(source: Path) -> str:
    import json

    if source.suffix == ".ipynb":
        cells = json.loads(source.read_text())["cells"]
        markdown = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
        lines = [line for text in markdown for line in text.splitlines()]
    else:
        lines = source.read_text().splitlines()
    heading = next(line for line in lines if line.startswith("# "))
    return heading[2:].strip()


def normalise_quotes(text: str) -> str:
    """Sphinx turns straight quotes into curly ones (and HTML-escapes them): drop them all."""
    for quote in ('"', "&quot;", "\u201c", "\u201d", "'", "\u2018", "\u2019", "&#8220;", "&#8221;"):
        text = text.replace(quote, "")
    return text


def test_launch_download_and_repository_buttons_follow_the_one_setting() -> None:
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    owner_repo = url.removeprefix("https://github.com/")
    page = (build_book("web") / EXERCISE_PAGE).read_text()
    notebook = "book/02_componentwise.ipynb"
    assert f"https://mybinder.org/v2/gh/{owner_repo}/main?urlpath=lab/tree/{notebook}" in page
    assert f"https://colab.research.google.com/github/{owner_repo}/blob/main/{notebook}" in page
    assert f'href="{url}"' in page  # the repository button
    assert "_sources/book/02_componentwise.ipynb" in page  # the .ipynb download
