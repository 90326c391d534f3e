"""The built website as a reader meets it: every page of every edition in a real browser,
with no network.

Each edition is built and served on 127.0.0.1, and every page is opened in headless Chromium
(Debian's ``chromium`` driven by playwright) once (the survey of tests/site_survey.py, shared
with the accessibility tests): the web edition at laptop size, the instructor edition (its
solutions open) at phone size, the student edition at laptop size. Every request that would
leave the local server is blocked and recorded. For each page: it loads, no request failed or
left the machine, nothing was logged as an error in the console, every math element is typeset
by the MathJax shipped with the site, every image loads, every internal link (and its #anchor)
resolves, the footer names the licence, and whatever is wider than the window shows that it
scrolls. Screenshots of each page (the window's view; whole pages with BOOK_SCREENSHOTS=full)
are saved into _build/tests/<edition>-html/_build/html/screenshots/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from browser import PageVisit, requires_chromium, wait_for_math
from only_pages import only_pages
from site_survey import LAPTOP, PHONE, SURVEYS, SURVEY_IDS

pytestmark = [requires_chromium, pytest.mark.site]
LICENCE = "https://creativecommons.org/licenses/by/4.0/"


def visit_problems(visit: PageVisit) -> list[str]:
    """What went wrong in a visit outside the survey: failed or outside requests, errors in
    the console."""
    return ([f"request failed: {u}" for u in visit.failed]
            + [f"request left the machine: {u}" for u in visit.external]
            + [f"console: {e}" for e in visit.console_errors])


@pytest.mark.per_page
@pytest.mark.parametrize(("edition", "size"), SURVEYS, ids=SURVEY_IDS)
def test_every_page_works_offline(survey, request, edition: str,
                                  size: tuple[int, int]) -> None:
    reports = survey(edition, size)
    only = only_pages(request.config)
    if only:
        assert {r.rel for r in reports} == only, [r.rel for r in reports]
    else:
        assert len(reports) >= 6, [r.rel for r in reports]
    problems: list[str] = []
    for r in reports:
        if r.math["typeset"] != r.math["sources"] or r.math["errors"]:
            problems.append(f"{r.rel}: math {r.math}")
        problems += [f"{r.rel}: broken image {src}" for src in r.broken_images]
        problems += [f"{r.rel}: request left the machine: {u}" for u in r.external]
        problems += [f"{r.rel}: request failed: {u}" for u in r.failed]
        problems += [f"{r.rel}: console: {e}" for e in r.console_errors]
        problems += [f"{r.rel}: link {link}" for link in r.bad_links]
        if LICENCE not in r.licence:
            problems.append(f"{r.rel}: the footer does not link the licence ({r.licence})")
    assert not problems, "\n".join(problems)
    total_math = sum(r.math["typeset"] for r in reports)
    # The chapters are full of math: none may be lost silently.
    assert total_math > (0 if only else 100)
    print(f"{edition}: {len(reports)} pages, {total_math} math elements typeset")


def test_math_renders_from_disk(web_site: Path, browser) -> None:
    """Copied to a USB stick and opened from disk (file://), the math still typesets."""
    page_path = web_site / "book" / "02_componentwise.html"
    visit = PageVisit(browser, ("file", ""))
    try:
        visit.open(page_path.as_uri())
        counts = visit.math_counts()
        assert counts["typeset"] == counts["sources"] > 0 and counts["errors"] == 0, counts
        assert not visit_problems(visit), visit_problems(visit)
    finally:
        visit.close()


def test_site_root_opens_the_first_page(web_server: str, browser) -> None:
    visit = PageVisit(browser, ("http", "127.0.0.1"))
    try:
        visit.page.goto(f"{web_server}/", wait_until="load")
        visit.page.wait_for_url("**/book/intro.html")
        assert "Differentiating a matrix by a matrix" in visit.page.title()
        wait_for_math(visit.page)
        assert not visit_problems(visit), visit_problems(visit)
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


SHOWN_TOOLTIPS = """() => Array.from(document.querySelectorAll('.tooltip'))
    .filter((tip) => tip.getClientRects().length > 0).map((tip) => tip.textContent)"""

# The first folded solution of a page: clicking the exercise's name in its title.
SOLUTION_TITLE = ".solution.dropdown > .admonition-title"


def test_navigation_opens_on_a_phone(web_site: Path, web_server: str, browser) -> None:
    """A folded solution opens when the exercise's name in its title is tapped (it used to
    be a link that jumped back to the exercise), and what it holds that is wider than the
    screen shows that it scrolls; the menu button opens the table of contents, Escape closes
    it and leaves no tooltip over the icons, and a chapter in it can be reached; the
    "Contents" button opens the page's sections."""
    from site_survey import SCROLL_BOXES, scroll_problem

    visit = PageVisit(browser, ("http", "127.0.0.1"), viewport=PHONE)
    try:
        url = f"{web_server}/book/02_componentwise.html"
        visit.open(url)
        title = visit.page.locator(SOLUTION_TITLE).first
        solution = title.locator("xpath=..")
        body = solution.locator("section").first
        assert not body.is_visible()
        title.get_by_text("Exercise", exact=False).first.click()
        body.wait_for(state="visible", timeout=5000)
        assert visit.page.url == url, f"the click left for {visit.page.url}"
        opened = [box for box in solution.element_handle().query_selector_all(SCROLL_BOXES)
                  if box.evaluate("b => b.scrollWidth > b.clientWidth + 1")]
        cut = [problem for box in opened if (problem := scroll_problem(box))]
        assert not cut, cut

        visible_button(visit.page, ".primary-toggle").click()
        visit.page.wait_for_function(
            "() => document.getElementById('pst-primary-sidebar-modal').open", timeout=5000)
        visit.page.keyboard.press("Escape")
        visit.page.wait_for_function(
            "() => !document.getElementById('pst-primary-sidebar-modal').open", timeout=5000)
        visit.page.wait_for_timeout(800)  # Bootstrap shows a tooltip 500 ms after focus
        assert visit.page.evaluate(SHOWN_TOOLTIPS) == [], "a tooltip stayed after Escape"
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
        assert not visit_problems(visit), visit_problems(visit)
    finally:
        visit.close()


SEARCH_BOXES = """() => Array.from(document.querySelectorAll(
    '.search-button__button, form.bd-search')).filter((box) => box.getClientRects().length)
    .length"""


def test_sidebar_toggles_on_a_laptop(web_server: str, browser) -> None:
    """At laptop width there is one search box; the menu button hides the table of contents
    and brings it back; the page's sections are shown beside the text."""
    visit = PageVisit(browser, ("http", "127.0.0.1"), viewport=LAPTOP)
    try:
        visit.open(f"{web_server}/book/02_componentwise.html")
        assert visit.page.evaluate(SEARCH_BOXES) == 1
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
        assert not visit_problems(visit), visit_problems(visit)
    finally:
        visit.close()


# Every display equation and figure either fits, or scrolls and shows it (site_survey.py says
# how: a shadow over the side that has more), and on a phone figures keep their own size.
@pytest.mark.per_page
@pytest.mark.parametrize(("edition", "size"), SURVEYS, ids=SURVEY_IDS)
def test_wide_equations_and_figures_show_that_they_scroll(survey, request, edition: str,
                                                          size: tuple[int, int]) -> None:
    reports = survey(edition, size)
    problems = [f"{r.rel}: {p}" for r in reports for p in r.scroll_problems]
    assert not problems, "\n".join(problems)
    if size == PHONE and not only_pages(request.config):
        # a phone is narrower than many equations: the check is live
        assert sum(r.overflowing for r in reports) >= 10


@pytest.mark.per_page
def test_figures_keep_their_size_on_a_phone(survey) -> None:
    shrunk = [f"{r.rel}: figure shrunk to {s}" for r in survey("instructor", PHONE)
              for s in r.shrunk_figures]
    assert not shrunk, "\n".join(shrunk)
