"""Every page of the web edition, visited once per window size, and what the visit found.

Opening a page and waiting for MathJax is most of the cost of a browser test, so the site,
phone and accessibility tests share one visit of each page per window size (the session
fixture ``survey`` in conftest.py) and each asserts on its own part of the findings. A
visit blocks every request that would leave the machine (browser.PageVisit).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import unquote, urldefrag
from urllib.request import urlopen

from browser import PageVisit

PHONE, LAPTOP = (390, 844), (1366, 768)


def book_pages(html: Path) -> list[Path]:
    """Every page of the book: all HTML files but Sphinx's index, search and assets, and
    the root index.html, which only redirects to the first page (tested on its own)."""
    skip_dirs = {"_static", "_sources", "_images", "screenshots"}
    return sorted(
        p for p in html.rglob("*.html")
        if not skip_dirs & set(p.relative_to(html).parts)
        and p.name not in {"genindex.html", "search.html"}
        and p != html / "index.html"
    )


@dataclasses.dataclass
class PageReport:
    """What one visit of one page found (lists are empty when all is well)."""

    rel: str  # the page's path in the site
    math: dict[str, int]  # math sources, typeset MathJax containers, MathJax errors
    broken_images: list[str]
    external: list[str]  # requests that would have left the machine (blocked)
    failed: list[str]  # requests that failed, or answered 400 and above
    bad_links: list[str]  # internal links to no page, or to no such #anchor
    scroll_problems: list[str]  # boxes wider than the window that do not show it
    overflowing: int  # how many boxes are wider than the window
    shrunk_figures: list[str]  # figures drawn smaller than their own size
    alt_texts: list[str]  # the alt text of every figure
    axe_violations: list[dict] | None  # axe-core's findings; None where it was not run


# Every display equation and figure either fits, or scrolls and shows it: a shadow laid over
# the side that has more behind it (_static/course.css and course.js). Headless Chromium, like
# a phone, draws no scrollbar, so the shadow is the sign: on each box that overflows, the
# shadow over its right side must be drawn (shown, with its gradient, over the box's right
# edge), and scrolled to the end the shadow must move to the left side.
SCROLL_BOXES = 'mjx-container[display="true"], .figure-scroll'

# A figure is readable when shown at its own size (not shrunk to a phone's width).
SHRUNK_FIGURES = """() => Array.from(document.querySelectorAll('.cell_output img, figure img'))
    .filter((img) => img.clientWidth < 0.99 * img.naturalWidth)
    .map((img) => `${img.src.slice(-20)}: ${img.clientWidth} of ${img.naturalWidth} px`)"""

ALT_TEXTS = """() => Array.from(document.querySelectorAll('.cell_output img, figure img'),
    img => img.getAttribute('alt') || '')"""

SHADOW = """(box, side) => {
    const shadow = getComputedStyle(box.parentElement, side);
    const edge = box.getBoundingClientRect();
    const hint = box.parentElement.getBoundingClientRect();
    return shadow.opacity === '1' && shadow.backgroundImage.includes('gradient')
        && parseFloat(shadow.width) >= 10 && Math.abs(hint.right - edge.right) < 2;
}"""


def scroll_problem(box) -> str:
    """'' if the box shows that it scrolls, else what is missing (scrolls the box)."""
    if not box.evaluate(SHADOW, "::after"):
        return "no shadow over its right side"
    box.evaluate("b => { b.scrollLeft = b.scrollWidth; b.dispatchEvent(new Event('scroll')); }")
    if box.evaluate(SHADOW, "::after") or not box.evaluate(SHADOW, "::before"):
        return "scrolled to its end, the shadow did not move to the left side"
    return ""


def check_link(link: str, cache: dict[str, str]) -> str:
    """'' if the page exists and holds the #anchor, else what is wrong (cached per page)."""
    target, fragment = urldefrag(link)
    if target not in cache:
        try:
            with urlopen(target) as response:  # local server only
                cache[target] = response.read().decode("utf-8", "replace")
        except HTTPError as error:
            cache[target] = f"\0HTTP {error.code}"
    body = cache[target]
    if body.startswith("\0"):
        return body[1:]
    if fragment and target.endswith(".html") and f'id="{unquote(fragment)}"' not in body:
        return f"no element with id {unquote(fragment)!r}"
    return ""


def survey(browser, site: Path, server: str, size: tuple[int, int],
           screenshots: Path) -> list[PageReport]:
    """Visit every page at one window size; axe-core runs at laptop size (if installed).

    A screenshot of each page is saved into ``screenshots``: the window's view, or the whole
    page with ``BOOK_SCREENSHOTS=full`` in the environment.
    """
    axe = None
    if size == LAPTOP and importlib.util.find_spec("axe_playwright_python"):
        from axe_playwright_python.sync_playwright import Axe

        axe = Axe()
    screenshots.mkdir(parents=True, exist_ok=True)
    pages, links_seen = [], {}
    for path in book_pages(site):
        rel = path.relative_to(site).as_posix()
        visit = PageVisit(browser, ("http", "127.0.0.1"), viewport=size)
        try:
            visit.open(f"{server}/{rel}")
            page = visit.page
            page.wait_for_function(
                "() => document.querySelectorAll('.scroll-hint').length >= "
                "document.querySelectorAll('mjx-container[display=true]').length")
            bad_links = []
            for link in visit.links():
                problem = link.startswith(server) and check_link(link, links_seen)
                if problem:
                    bad_links.append(f"{link}: {problem}")
            # Before axe-core runs: it fetches the style sheets again, resolving their
            # @import against the page instead of the sheet (_static/basic.css as /basic.css).
            external, failed = list(visit.external), list(visit.failed)
            violations = axe.run(page).response["violations"] if axe else None
            name = f"{size[0]}x{size[1]}__{rel.replace('/', '__')}.png"
            # The whole page only when asked: on long pages it takes seconds each.
            whole = os.environ.get("BOOK_SCREENSHOTS") == "full"
            page.screenshot(path=str(screenshots / name), full_page=whole)
            # Last: checking how a box scrolls scrolls it.
            overflowing, scroll_problems = 0, []
            for box in page.query_selector_all(SCROLL_BOXES):
                if box.evaluate("b => b.scrollWidth > b.clientWidth + 1"):
                    overflowing += 1
                    problem = scroll_problem(box)
                    if problem:
                        what = box.evaluate(
                            "b => b.textContent.slice(0, 50) || b.innerHTML.slice(0, 80)")
                        scroll_problems.append(f"{what!r} is cut off: {problem}")
            pages.append(PageReport(
                rel=rel, math=visit.math_counts(), broken_images=visit.broken_images(),
                external=external, failed=failed,
                bad_links=bad_links, scroll_problems=scroll_problems,
                overflowing=overflowing, shrunk_figures=page.evaluate(SHRUNK_FIGURES),
                alt_texts=page.evaluate(ALT_TEXTS), axe_violations=violations))
        finally:
            visit.close()
    return pages
