"""The built website as a reader meets it: every page in a real browser, with no network.

The book is built and served on 127.0.0.1, and every page is opened in headless Chromium
(Debian's ``chromium`` driven by playwright) once at laptop size and once at phone size (the
survey of tests/site_survey.py, shared with the accessibility tests). Every request that would
leave the local server is blocked and recorded. For each page: it loads, no request failed or
left the machine, every math element is typeset by the MathJax shipped with the site, every
image loads, every internal link (and its #anchor) resolves, and whatever is wider than the
window shows that it scrolls. Screenshots of each page (the window's view; whole pages with
BOOK_SCREENSHOTS=full) are saved into _build/tests/web-html/_build/html/screenshots/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from browser import PageVisit, requires_chromium, wait_for_math
from site_survey import LAPTOP, PHONE

pytestmark = requires_chromium


def test_every_page_works_offline(survey) -> None:
    reports = survey(LAPTOP)
    assert len(reports) >= 6, [r.rel for r in reports]
    problems: list[str] = []
    for r in reports:
        if r.math["typeset"] != r.math["sources"] or r.math["errors"]:
            problems.append(f"{r.rel}: math {r.math}")
        problems += [f"{r.rel}: broken image {src}" for src in r.broken_images]
        problems += [f"{r.rel}: request left the machine: {u}" for u in r.external]
        problems += [f"{r.rel}: request failed: {u}" for u in r.failed]
        problems += [f"{r.rel}: link {link}" for link in r.bad_links]
    assert not problems, "\n".join(problems)
    total_math = sum(r.math["typeset"] for r in reports)
    assert total_math > 100  # the chapters are full of math: none may be lost silently
    print(f"{len(reports)} pages, {total_math} math elements typeset")


def test_math_renders_from_disk(web_site: Path, browser) -> None:
    """Copied to a USB stick and opened from disk (file://), the math still typesets."""
    page_path = web_site / "book" / "02_componentwise.html"
    visit = PageVisit(browser, ("file", ""))
    try:
        visit.open(page_path.as_uri())
        counts = visit.math_counts()
        assert counts["typeset"] == counts["sources"] > 0 and counts["errors"] == 0, counts
        assert not visit.external, visit.external
    finally:
        visit.close()


def test_site_root_opens_the_first_page(web_server: str, browser) -> None:
    visit = PageVisit(browser, ("http", "127.0.0.1"))
    try:
        visit.page.goto(f"{web_server}/", wait_until="load")
        visit.page.wait_for_url("**/book/intro.html")
        assert "Differentiating a matrix by a matrix" in visit.page.title()
    finally:
        visit.close()


# --- Phones and small windows -----------------------------------------------------------------

DIALOG_STATE = """() => ({
    primary: document.getElementById('pst-primary-sidebar-modal').open,
    secondary: document.getElementById('pst-secondary-sidebar-modal').open,
})"""


def visible_button(page, selector: str):
    buttons = [b for b in page.query_selector_all(selector) if b.is_visible()]
    assert buttons, f"no visible {selector} button"
    return buttons[0]


def test_navigation_opens_on_a_phone(web_site: Path, web_server: str, browser) -> None:
    """The menu button opens the table of contents, and a chapter in it can be reached;
    the "Contents" button opens the page's sections."""
    visit = PageVisit(browser, ("http", "127.0.0.1"), viewport=PHONE)
    try:
        visit.open(f"{web_server}/book/02_componentwise.html")
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
        visit.page.screenshot(path=str(web_site / "screenshots" / "phone-contents.png"))
        assert not visit.failed and not visit.external
    finally:
        visit.close()


def test_sidebar_toggles_on_a_laptop(web_server: str, browser) -> None:
    """At laptop width the menu button hides the table of contents and brings it back;
    the page's sections are shown beside the text."""
    visit = PageVisit(browser, ("http", "127.0.0.1"), viewport=LAPTOP)
    try:
        visit.open(f"{web_server}/book/02_componentwise.html")
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


# Every display equation and figure either fits, or scrolls and shows it (site_survey.py says
# how: a shadow over the side that has more), and on a phone figures keep their own size.
@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_wide_equations_and_figures_show_that_they_scroll(survey,
                                                          size: tuple[int, int]) -> None:
    reports = survey(size)
    problems = [f"{r.rel}: {p}" for r in reports for p in r.scroll_problems]
    assert not problems, "\n".join(problems)
    if size == PHONE:
        # a phone is narrower than many equations: the check is live
        assert sum(r.overflowing for r in reports) >= 10


def test_figures_keep_their_size_on_a_phone(survey) -> None:
    shrunk = [f"{r.rel}: figure shrunk to {s}" for r in survey(PHONE) for s in r.shrunk_figures]
    assert not shrunk, "\n".join(shrunk)
