"""Every page of every edition, visited once, and what the visit found.

Opening a page and waiting for MathJax is most of the cost of a browser test, so the site,
phone and accessibility tests share one visit of each page of an edition (the session
fixture ``survey`` in conftest.py) and each asserts on its own part of the findings. A
visit blocks every request that would leave the machine (browser.PageVisit).

SURVEYS says which edition is visited at which window size: the web edition at laptop size
(with axe-core), the instructor edition at phone size (its solutions are open, so everything
the web edition can unfold is laid out on the narrow screen: the wide equations of the
solutions must scroll too), and the student edition at laptop size. Each visit records how
long each step took (``PageReport.seconds``; benchmarks/page_cost.py reads them).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import time
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import unquote, urldefrag
from urllib.request import urlopen

from browser import PageVisit

PHONE, LAPTOP = (390, 844), (1366, 768)
SURVEYS = (("web", LAPTOP), ("instructor", PHONE), ("student", LAPTOP))
SURVEY_IDS = [f"{edition}-{'phone' if size == PHONE else 'laptop'}" for edition, size in SURVEYS]


def book_pages(html: Path, only: set[str] | None = None) -> list[Path]:
    """Every page of the book: all HTML files but Sphinx's index, search and assets, and
    the root index.html, which only redirects to the first page (tested on its own). With
    ``only`` (paths such as "book/03_basis_vectors_and_vec.html"), those pages alone."""
    skip_dirs = {"_static", "_sources", "_images", "screenshots"}
    return sorted(
        p for p in html.rglob("*.html")
        if not skip_dirs & set(p.relative_to(html).parts)
        and p.name not in {"genindex.html", "search.html"}
        and p != html / "index.html"
        and (not only or p.relative_to(html).as_posix() in only)
    )


@dataclasses.dataclass
class PageReport:
    """What one visit of one page found (lists are empty when all is well)."""

    rel: str  # the page's path in the site
    math: dict[str, int]  # math sources, typeset MathJax containers, MathJax errors
    broken_images: list[str]
    external: list[str]  # requests that would have left the machine (blocked)
    failed: list[str]  # requests that failed, or answered 400 and above
    console_errors: list[str]  # errors in the browser's console, uncaught exceptions
    licence: list[str]  # the links of the licence in the footer (empty: no licence there)
    bad_links: list[str]  # internal links to no page, or to no such #anchor
    scroll_problems: list[str]  # boxes wider than the window that do not show it
    overflowing: int  # how many boxes are wider than the window
    shrunk_figures: list[str]  # figures drawn smaller than their own size
    alt_texts: list[str]  # the alt text of every figure
    axe_violations: list[dict] | None  # axe-core's findings; None where it was not run
    seconds: dict[str, float]  # how long each step of the visit took


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


class Laps:
    """A stopwatch: ``lap(step)`` records the seconds since the previous lap."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = round(now - self._last, 3)
        self._last = now


LICENCE_LINKS = """() => Array.from(document.querySelectorAll('footer p.licence a'),
    a => a.href)"""


def survey(browser, site: Path, server: str, size: tuple[int, int], screenshots: Path,
           only: set[str] | None = None, axe: bool = False) -> list[PageReport]:
    """Visit every page (or the pages ``only`` names) at one window size; axe-core runs
    where ``axe`` is true (if it is installed).

    A screenshot of each page is saved into ``screenshots``: the window's view, or the whole
    page with ``BOOK_SCREENSHOTS=full`` in the environment.
    """
    axe_core = None
    if axe and importlib.util.find_spec("axe_playwright_python"):
        from axe_playwright_python.sync_playwright import Axe

        axe_core = Axe()
    screenshots.mkdir(parents=True, exist_ok=True)
    pages, links_seen = [], {}
    for path in book_pages(site, only):
        rel = path.relative_to(site).as_posix()
        visit = PageVisit(browser, ("http", "127.0.0.1"), viewport=size)
        lap = Laps()
        try:
            visit.open(f"{server}/{rel}")
            page = visit.page
            page.wait_for_function(
                "() => document.querySelectorAll('.scroll-hint').length >= "
                "document.querySelectorAll('mjx-container[display=true]').length")
            lap("open and typeset")
            bad_links = []
            for link in visit.links():
                problem = link.startswith(server) and check_link(link, links_seen)
                if problem:
                    bad_links.append(f"{link}: {problem}")
            lap("links")
            # Before axe-core runs: it fetches the style sheets again, resolving their
            # @import against the page instead of the sheet (_static/basic.css as /basic.css).
            external, failed = list(visit.external), list(visit.failed)
            console_errors = list(visit.console_errors)
            violations = axe_core.run(page).response["violations"] if axe_core else None
            if axe_core:
                lap("axe-core")
            name = f"{size[0]}x{size[1]}__{rel.replace('/', '__')}.png"
            # The whole page only when asked: on long pages it takes seconds each.
            whole = os.environ.get("BOOK_SCREENSHOTS") == "full"
            page.screenshot(path=str(screenshots / name), full_page=whole)
            lap("screenshot")
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
            report = PageReport(
                rel=rel, math=visit.math_counts(), broken_images=visit.broken_images(),
                external=external, failed=failed, console_errors=console_errors,
                licence=page.evaluate(LICENCE_LINKS),
                bad_links=bad_links, scroll_problems=scroll_problems,
                overflowing=overflowing, shrunk_figures=page.evaluate(SHRUNK_FIGURES),
                alt_texts=page.evaluate(ALT_TEXTS), axe_violations=violations,
                seconds=lap.seconds)
            lap("scroll and figures")
            pages.append(report)
        finally:
            visit.close()
    return pages
