"""The one-page handouts and the PDF, as a reader meets them.

The handout is opened where the README says (``book/intro.html`` of the singlehtml build),
from disk, in headless Chromium with every outside request refused: no request may fail and
nothing may be logged as an error, every formula must be typeset, every figure must load, no
TeX source may be left in the text, every link within the page must land, the sidebar lists
every chapter under its part, there is no search box, and the footer names the licence.

Each handout is opened once (the fixture ``handout``); the instructor's is then laid out
for paper and printed from that same visit by the tool of ``make pdf``
(tools/handout_pdf.py): on paper every equation and every block of code or program output
fits, keeping its lines. The PDF is read back with pypdf: every chapter title, no TeX source,
every figure, no "Show code cell" label, one title, the licence on its first page, page
numbers in the footers and as page labels, a table of contents with the right page numbers,
and an outline of parts, chapters and sections.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml

from book_build import ROOT, build_book, chapter_titles
from browser import PageVisit, requires_chromium

pytestmark = [requires_chromium, pytest.mark.site]
LICENCE = "https://creativecommons.org/licenses/by/4.0/"

# TeX that MathJax would have turned into math; none may be left on the page or on paper.
RAW_TEX = (r"\(", r"\)", r"\[", r"\]", r"\frac", r"\begin{", r"\operatorname", "$$")


def handout(edition: str) -> Path:
    return build_book(edition, builder="singlehtml") / "book" / "intro.html"


def flatten(text: str) -> str:
    """Text compared loosely: ligatures undone, quotes dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub("[\"'\u2018\u2019\u201c\u201d]", "", text)
    return " ".join(text.split())


def letters(text: str) -> str:
    """Text compared by its letters and digits alone."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text))


# The text of the page outside code (code may quote TeX on purpose) and outside MathJax.
PROSE_TEXT = """() => {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
        acceptNode: (node) => node.parentElement.closest(
            "pre, code, script, style, mjx-container, .highlight")
            ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
    });
    const parts = [];
    while (walker.nextNode()) parts.push(walker.currentNode.textContent);
    return parts.join(" ");
}"""



def load_pdf_tool():
    """tools/handout_pdf.py, the tool of `make pdf` (tools/ is no package)."""
    if "handout_pdf" not in sys.modules:
        spec = importlib.util.spec_from_file_location("handout_pdf",
                                                      ROOT / "tools/handout_pdf.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["handout_pdf"] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules["handout_pdf"]


# In the print layout: equations and blocks of code or output wider than the paper, and blocks
# whose lines would be re-wrapped.
PAPER_PROBLEMS = """() => {
    const cut = Array.from(document.querySelectorAll('mjx-container[display="true"]'))
        .filter((m) => {
            const box = m.getBoundingClientRect();
            const math = m.querySelector('mjx-math').getBoundingClientRect();
            return math.left < box.left - 1 || math.right > box.right + 1;
        }).map((m) => 'equation: ' + m.textContent.slice(0, 60));
    const blocks = Array.from(document.querySelectorAll('pre'))
        .filter((pre) => pre.getClientRects().length > 0);
    const wide = blocks.filter((pre) => {
        const before = pre.style.overflowX;
        pre.style.setProperty('overflow-x', 'auto', 'important');
        const too = pre.scrollWidth > pre.clientWidth + 1;
        pre.style.overflowX = before;
        return too;
    }).map((pre) => 'wider than the paper: ' + pre.textContent.slice(0, 60));
    const wrapped = blocks.filter((pre) => getComputedStyle(pre).whiteSpace !== 'pre')
        .map((pre) => 'lines re-wrapped: ' + pre.textContent.slice(0, 60));
    return {problems: cut.concat(wide, wrapped), blocks: blocks.length};
}"""

SIDEBAR_PARTS = """() => Array.from(document.querySelectorAll('#pst-primary-sidebar p.caption'),
    (caption) => ({caption: caption.textContent.trim(), chapters: Array.from(
        caption.nextElementSibling.querySelectorAll('a'), (a) => ({
            title: a.textContent.trim(),
            lands: !!document.getElementById(decodeURIComponent(a.hash.slice(1))),
        }))}))"""

SEARCH = """() => document.querySelectorAll(
    '.search-button__button, form.bd-search, #pst-search-dialog, a[href*="search.html"]')
    .length"""


@dataclasses.dataclass
class HandoutReport:
    """What one visit of a handout found (and, for the instructor's, its PDF)."""

    page: Path
    math: dict[str, int]
    problems: list[str]  # failed or outside requests, console errors
    broken_images: int
    images: int
    sheets: int
    font: str
    prose: str
    missing_targets: list[str]
    brand: str
    text: str
    parts: list[dict[str, Any]]
    search: int
    licence: list[str]
    paper: dict[str, Any] | None = None  # PAPER_PROBLEMS in the print layout
    pdf: Path | None = None


def visit_handout(browser, edition: str, pdf_folder: Path) -> HandoutReport:
    page_path = handout(edition)
    visit = PageVisit(browser, ("file", ""))
    tool = load_pdf_tool()
    try:
        visit.open(page_path.as_uri())
        page = visit.page
        tool.wait_until_ready(page)
        report = HandoutReport(
            page=page_path, math=visit.math_counts(),
            problems=([f"request failed: {u}" for u in visit.failed]
                      + [f"request left the machine: {u}" for u in visit.external]
                      + [f"console: {e}" for e in visit.console_errors]),
            broken_images=len(visit.broken_images()),
            images=page.evaluate(
                "() => document.querySelectorAll('img[src*=\"_images/\"]').length"),
            sheets=page.evaluate("() => document.styleSheets.length"),
            font=page.evaluate("() => getComputedStyle(document.body).fontFamily"),
            prose=page.evaluate(PROSE_TEXT),
            missing_targets=page.evaluate("""() => Array.from(
                document.querySelectorAll('a[href^="#"]'))
                .map(a => decodeURIComponent(a.getAttribute('href').slice(1)))
                .filter(id => id && !document.getElementById(id))"""),
            brand=page.locator(".logo__title").first.inner_text(),
            text=flatten(page.evaluate("() => document.body.innerText")),
            parts=page.evaluate(SIDEBAR_PARTS), search=page.evaluate(SEARCH),
            licence=page.evaluate(
                "() => Array.from(document.querySelectorAll('footer p.licence a'), a => a.href)"),
        )
        page.screenshot(path=str(page_path.with_name(f"handout-{edition}.png")))
        if edition == "instructor":
            # Paper: laid out as tools/handout_pdf.py lays it out, and printed by it.
            tool.lay_out_for_print(page)
            report.paper = page.evaluate(PAPER_PROBLEMS)
            report.pdf = pdf_folder / "book.pdf"
            tool.write_pdf(page, report.pdf)
        return report
    finally:
        visit.close()


@pytest.fixture(scope="module")
def handout_visit(browser, tmp_path_factory):
    """handout_visit(edition): the one visit of that edition's handout (and for the
    instructor's, its PDF), made on first use."""
    done: dict[str, HandoutReport] = {}
    folder = tmp_path_factory.mktemp("pdf")

    def get(edition: str) -> HandoutReport:
        if edition not in done:
            done[edition] = visit_handout(browser, edition, folder)
        return done[edition]

    return get


def chapters_of_the_toc() -> list[tuple[str, list[str]]]:
    """The parts of _toc.yml, each with the titles of its chapters (in order)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    titles = iter(chapter_titles()[1:])  # the first is the root page's
    return [(part.get("caption", ""), [next(titles) for _ in part["chapters"]])
            for part in toc["parts"]]


@pytest.mark.parametrize("edition", ["instructor", "student"])
def test_handout_works_from_disk_offline(edition: str, handout_visit) -> None:
    r = handout_visit(edition)
    assert r.math["sources"] > 100 and r.math["typeset"] == r.math["sources"], r.math
    assert r.math["errors"] == 0, r.math
    assert not r.problems, r.problems
    assert r.broken_images == 0
    assert r.images >= 5, r.images
    # The theme's styles apply (unstyled, the page would be in the browser's serif font).
    assert r.sheets >= 8 and "serif" != r.font.split(",")[0].strip().lower(), (r.sheets, r.font)
    left = [tex for tex in RAW_TEX if tex in r.prose]
    assert not left, f"TeX source left on the page: {left}"
    assert not r.missing_targets, (
        f"links within the page to no element: {sorted(set(r.missing_targets))[:10]}")
    title = yaml.safe_load((ROOT / "_config.yml").read_text())["title"]
    assert r.brand.strip() == title, f"the sidebar names the book {r.brand!r}"
    for title in chapter_titles():
        assert flatten(title) in r.text, f"{title!r} is not in the {edition} handout"
    assert LICENCE in r.licence, f"the footer does not link the licence: {r.licence}"


@pytest.mark.parametrize("edition", ["instructor", "student"])
def test_handout_has_a_table_of_contents_and_no_search(edition: str, handout_visit) -> None:
    """The sidebar lists each part of _toc.yml with its chapters, numbered, each linked to
    where it starts on the page; a page that is the whole book has no search page, so no
    search box (it led to a missing page)."""
    r = handout_visit(edition)
    assert r.search == 0, "the handout shows a search box, or links to a search page"
    shown = [(part["caption"], [flatten(c["title"]) for c in part["chapters"]])
             for part in r.parts]
    for (caption, titles), (shown_caption, shown_titles) in zip(
            chapters_of_the_toc(), shown, strict=True):
        assert shown_caption == caption
        assert len(shown_titles) == len(titles), (caption, shown_titles)
        for title, entry in zip(titles, shown_titles, strict=True):
            assert entry.endswith(flatten(title)), (entry, title)
    assert all(c["lands"] for part in r.parts for c in part["chapters"]), r.parts


def test_every_equation_and_block_of_code_fits_on_paper(handout_visit) -> None:
    """Paper cannot scroll: laid out at the PDF's width for print, no display equation and
    no block of code or program output is wider than the text (course.js shrinks those that
    would be), and no block's lines are re-wrapped."""
    paper = handout_visit("instructor").paper
    assert paper["blocks"] >= 50, paper["blocks"]  # the check is live
    assert not paper["problems"], f"{len(paper['problems'])}: {paper['problems'][:5]}"


def outline(reader) -> list[tuple[int, str, int]]:
    """(depth, title, page index) of every bookmark, in order."""
    found: list[tuple[int, str, int]] = []

    def walk(items: list, depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                found.append((depth, item.title, reader.get_destination_page_number(item)))

    walk(reader.outline, 0)
    return found


def image_count(reader) -> int:
    """Distinct images drawn in the PDF, counted without decoding them."""
    seen = set()
    for page in reader.pages:
        objects = page.get("/Resources", {}).get("/XObject", {})
        for ref in objects.values():
            if ref.get_object().get("/Subtype") == "/Image":
                seen.add(ref.idnum if hasattr(ref, "idnum") else id(ref))
    return len(seen)


@pytest.fixture(scope="module")
def pdf(handout_visit):
    pypdf = pytest.importorskip("pypdf")
    r = handout_visit("instructor")
    reader = pypdf.PdfReader(r.pdf)
    return r, reader, [page.extract_text() for page in reader.pages]


def test_pdf_of_the_whole_book(pdf) -> None:
    r, reader, texts = pdf
    assert len(reader.pages) >= 20
    text = "\n".join(texts)
    flat = flatten(text)
    for title in chapter_titles():
        assert flatten(title) in flat, f"{title!r} is not in the PDF"
    # TeX may appear on paper only where the book prints code that quotes it.
    html = r.page.read_text(encoding="utf-8")
    code = "\n".join(re.findall(r"<pre>(.*?)</pre>", html, flags=re.S))
    code = re.sub(r"<[^>]+>", "", code)
    for tex in RAW_TEX:
        assert text.count(tex) <= code.count(tex), f"{tex!r} printed as TeX source"
    figures = set(re.findall(r'<img[^>]*src="[^"]*_images/([^"]+)"', html))
    assert image_count(reader) == len(figures) >= 5, (image_count(reader), sorted(figures))
    # Paper cannot unfold: what the web folds is left out, and so is its label.
    for label in ("Show code cell", "Hide code cell", "Click to show"):
        assert label not in text, f"{label!r} is printed"


def test_pdf_has_one_title_and_the_licence_first(pdf) -> None:
    _, reader, texts = pdf
    title = yaml.safe_load((ROOT / "_config.yml").read_text())["title"]
    assert reader.metadata.title == title, reader.metadata.title
    first = flatten(texts[0])
    assert first.count(flatten(title)) == 1, first
    assert "CC BY 4.0" in first and LICENCE.removeprefix("https://") in first, first
    links = [annotation.get_object().get("/A", {}).get("/URI")
             for annotation in reader.pages[0].get("/Annots", [])]
    assert LICENCE in links, links


def test_pdf_numbers_its_pages_and_lists_them_in_its_contents(pdf) -> None:
    """The front matter is numbered i, ii, ...; the book's pages 1, 2, ..., printed in every
    footer and given as page labels; the contents give each chapter and section the page
    on which the outline says it starts."""
    _, reader, texts = pdf
    labels = reader.page_labels
    front = labels.index("1")
    assert front >= 2 and labels[:front] == ["i", "ii", "iii", "iv", "v", "vi"][:front]
    assert labels[front:] == [str(n) for n in range(1, len(labels) - front + 1)]
    for index in range(front, len(texts)):
        footer = texts[index].strip().splitlines()[-1]
        assert footer.endswith(labels[index]), f"page {labels[index]} prints {footer!r}"
        assert "CC BY 4.0" in footer, footer
    contents = " ".join(texts[1:front])
    assert contents.strip().startswith("Contents")
    listed = [(title, page) for depth, title, page in outline(reader) if depth in (1, 2)]
    assert len(listed) >= 50, listed  # chapters and sections (subsections: outline only)
    for title, page in listed:
        # Letters and digits only: math in a title is typeset, and extracted otherwise.
        assert letters(f"{title} {labels[page]}") in letters(contents), (title, labels[page])


def test_pdf_outline_is_parts_chapters_sections(pdf) -> None:
    _, reader, _ = pdf
    found = outline(reader)
    assert found[0][1] == "Contents"
    top = [(title, page) for depth, title, page in found if depth == 0]
    parts = chapters_of_the_toc()
    assert [title for title, _ in top[2:]] == [caption for caption, _ in parts], top
    for caption, titles in parts:
        i = next(i for i, (d, t, _) in enumerate(found) if d == 0 and t == caption)
        chapters = []
        for depth, title, _page in found[i + 1:]:
            if depth == 0:
                break
            if depth == 1:
                chapters.append(flatten(title))
        assert len(chapters) == len(titles), (caption, chapters)
        for shown, title in zip(chapters, titles, strict=True):
            assert shown.endswith(flatten(title)), (shown, title)
    pages = [page for _, _, page in found]
    assert pages == sorted(pages), "the outline goes back in the book"
    assert sum(depth == 2 for depth, _, _ in found) >= 40  # the sections are there
