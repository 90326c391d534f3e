"""The built website as a reader meets it: every page in a real browser, with no network.

Builds the book, serves it on 127.0.0.1, and opens every page in headless Chromium (Debian's
``chromium`` driven by playwright). Every request that would leave the local server is
blocked and recorded. For each page: it loads, no request failed or left the machine, every
math element is typeset by the MathJax shipped with the site, every image loads, and every
internal link (and its #anchor) resolves. A screenshot of each page is saved into
_build/tests/web-html/screenshots/.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Iterator
from urllib.error import HTTPError
from urllib.parse import unquote, urldefrag
from urllib.request import urlopen

import pytest

from book_build import build_book
from browser import PageVisit, launch, requires_chromium, serve, wait_for_math

pytestmark = requires_chromium


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


@pytest.fixture(scope="module")
def site() -> Path:
    return build_book("web")


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    with serve(site) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with launch() as browser:
        yield browser


def test_every_page_works_offline(site: Path, server: str, browser) -> None:
    pages = book_pages(site)
    assert len(pages) >= 6, pages
    shots = site / "screenshots"
    shots.mkdir(exist_ok=True)
    checked_links: dict[str, str] = {}
    problems: list[str] = []
    total_math = 0
    for path in pages:
        rel = path.relative_to(site).as_posix()
        visit = PageVisit(browser, ("http", "127.0.0.1"))
        try:
            visit.open(f"{server}/{rel}")
            counts = visit.math_counts()
            total_math += counts["typeset"]
            if counts["typeset"] != counts["sources"] or counts["errors"]:
                problems.append(f"{rel}: math {counts}")
            problems += [f"{rel}: broken image {src}" for src in visit.broken_images()]
            problems += [f"{rel}: request left the machine: {u}" for u in visit.external]
            problems += [f"{rel}: request failed: {u}" for u in visit.failed]
            for link in visit.links():
                if link.startswith(server):
                    problem = check_link(link, checked_links)
                    if problem:
                        problems.append(f"{rel}: link {link}: {problem}")
            shot = shots / (rel.replace("/", "__") + ".png")
            visit.page.screenshot(path=str(shot), full_page=True)
        finally:
            visit.close()
    assert not problems, "\n".join(problems)
    assert total_math > 100  # the chapters are full of math: none may be lost silently
    print(f"{len(pages)} pages, {total_math} math elements typeset, "
          f"{len(checked_links)} internal links resolved")


def check_link(link: str, cache: dict[str, str]) -> str:
    """'' if the page exists and holds the #anchor, else what is wrong (cached per page)."""
    target, fragment = urldefrag(link)
    if target not in cache:
        try:
            with urlopen(target) as response:  # noqa: S310 (local server only)
                cache[target] = response.read().decode("utf-8", "replace")
        except HTTPError as error:
            cache[target] = f"\0HTTP {error.code}"
    body = cache[target]
    if body.startswith("\0"):
        return body[1:]
    if fragment and target.endswith(".html") and f'id="{unquote(fragment)}"' not in body:
        return f"no element with id {unquote(fragment)!r}"
    return ""


def test_math_renders_from_disk(site: Path, browser) -> None:
    """Copied to a USB stick and opened from disk (file://), the math still typesets."""
    page_path = site / "book" / "02_componentwise.html"
    visit = PageVisit(browser, ("file", ""))
    try:
        visit.open(page_path.as_uri())
        counts = visit.math_counts()
        assert counts["typeset"] == counts["sources"] > 0 and counts["errors"] == 0, counts
        assert not visit.external, visit.external
    finally:
        visit.close()


def test_site_root_opens_the_first_page(server: str, browser) -> None:
    visit = PageVisit(browser, ("http", "127.0.0.1"))
    try:
        visit.page.goto(f"{server}/", wait_until="load")
        visit.page.wait_for_url("**/book/intro.html")
        assert "Differentiating a matrix by a matrix" in visit.page.title()
    finally:
        visit.close()


# --- Phones and small windows -----------------------------------------------------------------

PHONE, LAPTOP = (390, 844), (1366, 768)

DIALOG_STATE = """() => ({
    primary: document.getElementById('pst-primary-sidebar-modal').open,
    secondary: document.getElementById('pst-secondary-sidebar-modal').open,
})"""


def visible_button(page, selector: str):
    buttons = [b for b in page.query_selector_all(selector) if b.is_visible()]
    assert buttons, f"no visible {selector} button"
    return buttons[0]


def test_navigation_opens_on_a_phone(site: Path, server: str, browser) -> None:
    """The menu button opens the table of contents, and a chapter in it can be reached;
    the "Contents" button opens the page's sections."""
    visit = PageVisit(browser, ("http", "127.0.0.1"), viewport=PHONE)
    try:
        visit.open(f"{server}/book/02_componentwise.html")
        visible_button(visit.page, ".primary-toggle").click()
        visit.page.wait_for_function(
            "() => document.getElementById('pst-primary-sidebar-modal').open", timeout=5000)
        link = visit.page.get_by_role("link", name="Basis vectors and vec", exact=False).first
        assert link.is_visible()
        link.click()
        visit.page.wait_for_url("**/book/03_basis_vectors_and_vec.html")
        wait_for_math(visit.page)
        visible_button(visit.page, ".secondary-toggle").click()
        visit.page.wait_for_function(
            "() => document.getElementById('pst-secondary-sidebar-modal').open", timeout=5000)
        sections = visit.page.locator("#pst-secondary-sidebar-modal a")
        assert sections.count() >= 3 and sections.first.is_visible()
        visit.page.screenshot(path=str(site / "screenshots" / "phone-contents.png"))
        assert not visit.failed and not visit.external
    finally:
        visit.close()


def test_sidebar_toggles_on_a_laptop(server: str, browser) -> None:
    """At laptop width the menu button hides the table of contents and brings it back;
    the page's sections are shown beside the text."""
    visit = PageVisit(browser, ("http", "127.0.0.1"), viewport=LAPTOP)
    try:
        visit.open(f"{server}/book/02_componentwise.html")
        sidebar = visit.page.locator("#pst-primary-sidebar")
        assert sidebar.is_visible() and sidebar.bounding_box()["x"] >= 0
        visible_button(visit.page, ".primary-toggle").click()
        visit.page.wait_for_function(
            "() => document.getElementById('pst-primary-sidebar')"
            ".getBoundingClientRect().right <= 0",
            timeout=5000)
        visible_button(visit.page, ".primary-toggle").click()
        visit.page.wait_for_function(
            "() => document.getElementById('pst-primary-sidebar')"
            ".getBoundingClientRect().left >= 0",
            timeout=5000)
        assert visit.page.locator("#pst-secondary-sidebar a").first.is_visible()
        assert visit.page.evaluate(DIALOG_STATE) == {"primary": False, "secondary": False}
    finally:
        visit.close()


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


SHADOW = """(box, side) => {
    const shadow = getComputedStyle(box.parentElement, side);
    const edge = box.getBoundingClientRect();
    const hint = box.parentElement.getBoundingClientRect();
    return shadow.opacity === '1' && shadow.backgroundImage.includes('gradient')
        && parseFloat(shadow.width) >= 10 && Math.abs(hint.right - edge.right) < 2;
}"""


def scroll_problem(box) -> str:
    """'' if the box shows that it scrolls, else what is missing."""
    if not box.evaluate(SHADOW, "::after"):
        return "no shadow over its right side"
    box.evaluate("b => { b.scrollLeft = b.scrollWidth; b.dispatchEvent(new Event('scroll')); }")
    if box.evaluate(SHADOW, "::after") or not box.evaluate(SHADOW, "::before"):
        return "scrolled to its end, the shadow did not move to the left side"
    return ""


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_wide_equations_and_figures_show_that_they_scroll(site: Path, server: str, browser,
                                                          size: tuple[int, int]) -> None:
    problems, overflowing = [], 0
    for path in book_pages(site):
        rel = path.relative_to(site).as_posix()
        visit = PageVisit(browser, ("http", "127.0.0.1"), viewport=size)
        try:
            visit.open(f"{server}/{rel}")
            visit.page.wait_for_function(
                "() => document.querySelectorAll('.scroll-hint').length >= "
                "document.querySelectorAll('mjx-container[display=true]').length")
            for box in visit.page.query_selector_all(SCROLL_BOXES):
                if box.evaluate("b => b.scrollWidth > b.clientWidth + 1"):
                    overflowing += 1
                    problem = scroll_problem(box)
                    if problem:
                        what = box.evaluate(
                            "b => b.textContent.slice(0, 50) || b.innerHTML.slice(0, 80)")
                        problems.append(f"{rel}: {what!r} is cut off: {problem}")
            if size == PHONE:
                problems += [f"{rel}: figure shrunk to {s}" for s in
                             visit.page.evaluate(SHRUNK_FIGURES)]
            name = f"{size[0]}x{size[1]}__{rel.replace('/', '__')}.png"
            visit.page.screenshot(path=str(site / "screenshots" / name))
        finally:
            visit.close()
    assert not problems, "\n".join(problems)
    if size == PHONE:
        assert overflowing >= 10  # a phone is narrower than many equations: the check is live
