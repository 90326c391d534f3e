"""The student and instructor editions and the one-page handout build, and differ as promised."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from book_build import ROOT, build_book
from browser import PageVisit, requires_chromium, serve

pytestmark = pytest.mark.site
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


def test_launch_download_and_repository_buttons_follow_the_one_setting() -> None:
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    owner_repo = url.removeprefix("https://github.com/")
    page = (build_book("web") / EXERCISE_PAGE).read_text()
    notebook = "book/02_componentwise.ipynb"
    assert f"https://mybinder.org/v2/gh/{owner_repo}/main?urlpath=lab/tree/{notebook}" in page
    assert f"https://colab.research.google.com/github/{owner_repo}/blob/main/{notebook}" in page
    assert f'href="{url}"' in page  # the repository button
    assert "_sources/book/02_componentwise.ipynb" in page  # the .ipynb download


# --- The student edition leaks no solution ------------------------------------------------
#
# "A solution's text" is every run of SHINGLE consecutive words of a solution in the
# instructor build (its prose, math, code and outputs) that appears nowhere else in the
# instructor build; none of them may appear in any file of the student build. Words are
# compared, not markup, so that the same text is found in a page, a notebook's JSON or a
# Markdown source alike.

SHINGLE = 6
WORD = re.compile(r"[A-Za-z0-9_]+")


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def shingles(text: str) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i:i + SHINGLE]) for i in range(len(w) - SHINGLE + 1)}


def split_solutions(page: Path) -> tuple[list[str], str]:
    """The text of each solution on an HTML page, and the page's text without them."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    solutions = []
    for node in soup.select("div.solution"):
        body = node.select_one("section") or node
        solutions.append(body.get_text(" "))
        node.decompose()
    return solutions, soup.get_text(" ")


def readable_text(path: Path) -> str:
    """What a reader (or a search engine) gets out of one file of a build."""
    import zlib

    data = path.read_bytes()
    if path.suffix == ".inv":  # Sphinx's objects.inv: four header lines, then zlib
        head, _, body = data.partition(b"zlib.\n")
        return (head + zlib.decompress(body)).decode("utf-8", "replace")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return ""  # images and fonts
    if path.suffix == ".html":
        from bs4 import BeautifulSoup

        return BeautifulSoup(text, "html.parser").get_text(" ")
    if path.suffix == ".ipynb":
        notebook = json.loads(text)
        parts = []
        for cell in notebook["cells"]:
            parts.append("".join(cell["source"]))
            for output in cell.get("outputs", []):
                parts.append("".join(output.get("text", "")))
                for value in output.get("data", {}).values():
                    parts.append("".join(value) if isinstance(value, list) else str(value))
        return "\n".join(parts)
    return text


@pytest.fixture(scope="module")
def instructor_solutions() -> tuple[set[tuple[str, ...]], set[str]]:
    """The solutions' shingles and word stems that occur nowhere else in the instructor build."""
    site = build_book("instructor")
    solution_texts: list[str] = []
    elsewhere = ""
    for page in sorted(site.rglob("*.html")):
        found, rest = split_solutions(page)
        solution_texts += found
        elsewhere += "\n" + rest
    assert len(solution_texts) >= 15, len(solution_texts)
    other = shingles(elsewhere)
    other_words = set(words(elsewhere))
    unique = set()
    for text in solution_texts:
        own = shingles(text) - other
        assert own, f"no text of its own in the solution: {text[:200]!r}"
        unique |= own
    from sphinx.search.en import SearchEnglish

    # Stems, as Sphinx's search index keeps them.
    stem = SearchEnglish({}).stem
    other_stems = {stem(w) for w in other_words}
    solution_stems = {stem(w) for t in solution_texts for w in words(t) if w.isalpha()}
    return unique, solution_stems - other_stems


def student_files() -> list[Path]:
    """Every file the student build writes, but Sphinx's own cache (.doctrees, not published)."""
    html = build_book("student")
    handout = build_book("student", builder="singlehtml")
    folders = [html, html.parent / "jupyter_execute", handout]
    return sorted(p for folder in folders for p in folder.rglob("*")
                  if p.is_file() and ".doctrees" not in p.parts)


def test_student_build_holds_no_solution_text(instructor_solutions) -> None:
    unique, _ = instructor_solutions
    files = student_files()
    assert any(p.suffix == ".ipynb" for p in files) and any(p.suffix == ".md" for p in files)
    leaks = []
    for path in files:
        found = unique & shingles(readable_text(path))
        if found:
            leaks.append(f"{path}: {len(found)} runs of solution text, e.g. "
                         f"{' '.join(sorted(found)[0])!r}")
    assert not leaks, "\n".join(leaks)


def test_student_search_index_knows_no_solution_word(instructor_solutions) -> None:
    _, stems = instructor_solutions

    def terms(site: Path) -> set[str]:
        text = (site / "searchindex.js").read_text(encoding="utf-8")
        index = json.loads(text[text.index("(") + 1:text.rindex(")")])
        return set(index["terms"]) | set(index["titleterms"])

    # A solution's word may be in the student index only where a student page uses it too.
    from sphinx.search.en import SearchEnglish

    stem = SearchEnglish({}).stem
    student = build_book("student")
    pages = " ".join(readable_text(p) for p in student.rglob("*.html"))
    on_student_pages = {stem(w) for w in words(pages) if w.isalpha()}
    in_instructor = (stems & terms(build_book("instructor"))) - on_student_pages
    assert len(in_instructor) >= 5, in_instructor  # the check has something to find
    leaked = (stems & terms(student)) - on_student_pages
    assert not leaked, sorted(leaked)


def test_student_downloads_are_the_exercises_without_solutions() -> None:
    site = build_book("student")
    page = (site / EXERCISE_PAGE).read_text()
    assert "_sources/book/02_componentwise.ipynb" in page  # the download button is there
    notebook = json.loads((site / "_sources/book/02_componentwise.ipynb").read_text())
    source = json.loads((ROOT / "book/02_componentwise.ipynb").read_text())
    text = "\n".join("".join(c["source"]) for c in notebook["cells"])
    assert "{solution" not in text
    assert text.count("{exercise}") == "\n".join(
        "".join(c["source"]) for c in source["cells"]).count("{exercise}") >= 3
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert len(notebook["cells"]) < len(source["cells"])


def header_buttons(page: Path) -> list[str]:
    """The href of every button in a page's header (download, launch, repository...)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    return [a.get("href", "") for a in soup.select(".article-header-buttons a")]


def test_student_edition_has_no_launch_or_repository_button() -> None:
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    pages = sorted(build_book("student").glob("book/*.html"))
    assert pages
    for page in pages:
        hrefs = header_buttons(page)
        assert hrefs, f"{page.name}: no header buttons found (did the theme change?)"
        for href in hrefs:
            for where in ("mybinder.org", "colab.research.google.com", url):
                assert where not in href, f"{page.name}: a button opens {href}"
    web = header_buttons(build_book("web") / EXERCISE_PAGE)
    assert any("mybinder.org" in h for h in web) and any(url in h for h in web)


def load_edition_extension():
    """book/_ext/edition.py (Sphinx loads it by name; here by path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("edition", ROOT / "book/_ext/edition.py")
    edition = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(edition)
    return edition


def pages_with_solutions() -> list[str]:
    """Every page of the instructor edition that holds a worked solution (all chapters of
    _toc.yml are built, so new chapters count as soon as they have one)."""
    site = build_book("instructor")
    pages = [p.relative_to(site).as_posix() for p in sorted(site.glob("book/*.html"))
             if solution_classes(p)]
    assert len(pages) >= 6, pages
    return pages


NOTE = re.compile(r'<p class="edition-note">(.*?)</p>', re.S)


@pytest.mark.parametrize("edition", ["web", "student", "instructor"])
def test_each_edition_says_where_its_solutions_are(edition: str) -> None:
    """Each page with solutions says, once, before its first exercise, what is true of the
    solutions in that edition (folded, open); the student edition says nothing of them. The
    notebooks say none of it (tests/test_notebooks_meta.py): the sentence is the edition's."""
    import html

    expected = load_edition_extension().SOLUTIONS_NOTE[edition]
    site = build_book(edition)
    for rel in pages_with_solutions():
        text = (site / rel).read_text(encoding="utf-8")
        notes = [html.unescape(note) for note in NOTE.findall(text)]
        if edition == "student":
            assert notes == [], f"{rel}: {notes}"
            claim = "worked solution follows each exercise"
            assert claim not in text.lower(), f"{rel} says {claim!r}"
        else:
            assert notes == [expected], f"{rel}: {notes}"
            note, exercise = text.index('class="edition-note"'), text.index('class="exercise')
            assert note < exercise, f"{rel}: the note comes after the first exercise"


def test_a_folded_solution_opens_from_its_whole_title() -> None:
    """The title of a folded solution holds no link (the exercise's name in it was a link
    that took the click and jumped to the exercise); open in the instructor edition, the
    title links to its exercise."""
    for rel in pages_with_solutions():
        web = (build_book("web") / rel).read_text(encoding="utf-8")
        titles = re.findall(r'<div class="solution dropdown[^"]*"[^>]*>\s*'
                            r'<p class="admonition-title">(.*?)</p>', web, flags=re.S)
        assert titles and all("<a " not in title for title in titles), (rel, titles[:2])
        assert all("Exercise" in title for title in titles), (rel, titles[:2])
    instructor = (build_book("instructor") / EXERCISE_PAGE).read_text(encoding="utf-8")
    assert re.search(r'<p class="admonition-title">Solution to<a class="reference internal"',
                     instructor)


@pytest.mark.parametrize("edition", ["student", "instructor"])
def test_each_edition_says_only_what_is_true_of_it(edition: str) -> None:
    site = build_book(edition)
    run_yourself = (site / "book/run_yourself.html").read_text()
    launch_buttons = "rocket button" in run_yourself
    assert launch_buttons == (edition != "student"), "the page on running notebooks is wrong"


@requires_chromium
@pytest.mark.parametrize("edition", ["web", "student", "instructor"])
def test_search_works(browser, edition: str) -> None:
    """The search page of each edition finds the chapters (the student edition's index,
    rewritten without the solutions' words, loads too), with nothing failing or logged as an
    error: the one page of an edition that the survey of tests/site_survey.py leaves out."""
    with serve(build_book(edition)) as url:
        visit = PageVisit(browser, ("http", "127.0.0.1"))
        try:
            visit.page.goto(f"{url}/search.html?q=kronecker", wait_until="load")
            visit.page.wait_for_selector("ul.search li", timeout=60_000)
            assert visit.page.locator("ul.search li").count() >= 3
            assert not visit.failed and not visit.external
            assert not visit.console_errors, visit.console_errors
        finally:
            visit.close()


def test_a_value_glued_by_a_solution_leaves_with_it() -> None:
    """jupyter_execute/ keeps each notebook's glued values beside it (.glue.json); the
    student build keeps only those of the cells it keeps."""
    edition = load_edition_extension()

    def cell(source: str, glued: str) -> dict:
        output = {"output_type": "display_data", "data": {"text/latex": glued},
                  "metadata": {"scrapbook": {"name": glued}}}
        return {"cell_type": "code", "source": source, "metadata": {}, "outputs": [output]}

    notebook = {"cells": [
        cell("glue('in-text', ...)", "in-text"),
        {"cell_type": "markdown", "source": "```{solution-start} ex-1\n```", "metadata": {}},
        cell("glue('in-solution', ...)", "in-solution"),
        {"cell_type": "markdown", "source": "```{solution-end}\n```", "metadata": {}},
    ]}
    glued = {"in-text": {"data": 1}, "in-solution": {"data": 2}}
    stripped = edition.strip_solutions_from_notebook(notebook)
    assert edition._glue_kept(glued, stripped) == {"in-text": {"data": 1}}
