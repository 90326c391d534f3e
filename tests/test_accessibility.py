"""Accessibility: axe-core (through axe-playwright-python) on every page of the site, in
Chromium. No serious or critical violation may be left; figures need alt text that says
what they show."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from book_build import build_book
from browser import PageVisit, launch, requires_chromium, serve
from test_site import book_pages

pytestmark = requires_chromium


@pytest.fixture(scope="module")
def pages() -> Iterator[list[tuple[str, object]]]:
    """Every page of the web edition, opened and typeset: (path, playwright page)."""
    site = build_book("web")
    with serve(site) as url, launch() as browser:
        visits = []
        try:
            for path in book_pages(site):
                rel = path.relative_to(site).as_posix()
                visit = PageVisit(browser, ("http", "127.0.0.1"))
                visit.open(f"{url}/{rel}")
                visits.append((rel, visit))
            yield [(rel, visit.page) for rel, visit in visits]
        finally:
            for _, visit in visits:
                visit.close()


def test_no_serious_or_critical_violation(pages) -> None:
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    problems = []
    for rel, page in pages:
        for violation in axe.run(page).response["violations"]:
            if violation["impact"] in ("serious", "critical"):
                problems.append(f"{rel}: {violation['id']} ({violation['impact']}): "
                                f"{violation['help']}, {len(violation['nodes'])} element(s)")
    assert not problems, "\n".join(problems)


def test_figures_have_alt_text(pages) -> None:
    bad = []
    for rel, page in pages:
        for alt in page.evaluate("""() => Array.from(document.querySelectorAll(
                '.cell_output img, figure img'), img => img.getAttribute('alt') || '')"""):
            if len(alt) < 15 or alt.endswith((".png", ".svg", ".jpg")) or "_images/" in alt:
                bad.append(f"{rel}: {alt!r}")
    assert not bad, "\n".join(bad)
