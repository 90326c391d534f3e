"""The one-page handouts and the PDF, as a reader meets them.

The handout is opened where the README says (``book/intro.html`` of the singlehtml build),
from disk, in headless Chromium with every outside request refused: no request may fail,
every formula must be typeset, every figure must load, no TeX source may be left in the text,
and every link within the page must land. The PDF is printed by the same tool as ``make pdf``
and read back with pypdf: every chapter title, no TeX source, every figure.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from pathlib import Path

import pytest
import yaml

from book_build import ROOT, build_book, chapter_titles
from browser import PageVisit, requires_chromium

pytestmark = requires_chromium

# TeX that MathJax would have turned into math; none may be left on the page or on paper.
RAW_TEX = (r"\(", r"\)", r"\[", r"\]", r"\frac", r"\begin{", r"\operatorname", "$$")


def handout(edition: str) -> Path:
    return build_book(edition, builder="singlehtml") / "book" / "intro.html"


def flatten(text: str) -> str:
    """Text compared loosely: ligatures undone, quotes dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub("[\"'\u2018\u2019\u201c\u201d]", "", text)
    return " ".join(text.split())


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


@pytest.mark.parametrize("edition", ["instructor", "student"])
def test_handout_works_from_disk_offline(edition: str, browser) -> None:
    page_path = handout(edition)
    visit = PageVisit(browser, ("file", ""))
    try:
        visit.open(page_path.as_uri())
        counts = visit.math_counts()
        assert counts["sources"] > 100 and counts["typeset"] == counts["sources"], counts
        assert counts["errors"] == 0, counts
        assert not visit.failed, visit.failed
        assert not visit.external, visit.external
        assert not visit.broken_images()
        images = visit.page.evaluate(
            "() => document.querySelectorAll('img[src*=\"_images/\"]').length")
        assert images >= 5, images
        # The theme's styles apply (unstyled, the page would be in the browser's serif font).
        sheets = visit.page.evaluate("() => document.styleSheets.length")
        font = visit.page.evaluate("() => getComputedStyle(document.body).fontFamily")
        assert sheets >= 8 and "serif" != font.split(",")[0].strip().lower(), (sheets, font)
        prose = visit.page.evaluate(PROSE_TEXT)
        left = [tex for tex in RAW_TEX if tex in prose]
        assert not left, f"TeX source left on the page: {left}"
        missing = visit.page.evaluate("""() => Array.from(document.querySelectorAll('a[href^="#"]'))
            .map(a => decodeURIComponent(a.getAttribute('href').slice(1)))
            .filter(id => id && !document.getElementById(id))""")
        assert not missing, f"links within the page to no element: {sorted(set(missing))[:10]}"
        brand = visit.page.locator(".logo__title").first.inner_text()
        title = yaml.safe_load((ROOT / "_config.yml").read_text())["title"]
        assert brand.strip() == title, f"the sidebar names the book {brand!r}"
        text = flatten(visit.page.evaluate("() => document.body.innerText"))
        for title in chapter_titles():
            assert flatten(title) in text, f"{title!r} is not in the {edition} handout"
        visit.page.screenshot(path=str(page_path.with_name(f"handout-{edition}.png")))
    finally:
        visit.close()


def load_pdf_tool():
    spec = importlib.util.spec_from_file_location("handout_pdf", ROOT / "tools/handout_pdf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_equation_fits_on_paper(browser) -> None:
    """Paper cannot scroll: laid out at the PDF's width for print, no display equation is
    wider than the text (course.js shrinks those that would be)."""
    tool = load_pdf_tool()
    visit = PageVisit(browser, ("file", ""), viewport=(tool.PRINT_WIDTH_PX, 1000))
    try:
        visit.open(handout("instructor").as_uri())
        visit.page.emulate_media(media="print")
        visit.page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
        cut = visit.page.evaluate("""() => Array.from(
            document.querySelectorAll('mjx-container[display="true"]')).filter(m => {
                const box = m.getBoundingClientRect();
                const math = m.querySelector('mjx-math').getBoundingClientRect();
                return math.left < box.left - 1 || math.right > box.right + 1;
            }).map(m => m.textContent.slice(0, 60))""")
        assert not cut, f"{len(cut)} equations wider than the paper, e.g. {cut[:3]}"
    finally:
        visit.close()


def test_pdf_of_the_whole_book(tmp_path: Path, browser) -> None:
    pypdf = pytest.importorskip("pypdf")
    page = handout("instructor")
    pdf = tmp_path / "book.pdf"
    pages = load_pdf_tool().print_pdf(page, pdf, browser=browser)
    reader = pypdf.PdfReader(pdf)
    assert pages == len(reader.pages) >= 20
    text = "\n".join(p.extract_text() for p in reader.pages)
    flat = flatten(text)
    for title in chapter_titles():
        assert flatten(title) in flat, f"{title!r} is not in the PDF"
    # TeX may appear on paper only where the book prints code that quotes it.
    html = page.read_text(encoding="utf-8")
    code = "\n".join(re.findall(r"<pre>(.*?)</pre>", html, flags=re.S))
    code = re.sub(r"<[^>]+>", "", code)
    for tex in RAW_TEX:
        assert text.count(tex) <= code.count(tex), f"{tex!r} printed as TeX source"
    figures = set(re.findall(r'<img[^>]*src="[^"]*_images/([^"]+)"', html))
    printed = sum(len(p.images) for p in reader.pages)
    assert printed == len(figures) >= 5, (printed, sorted(figures))
