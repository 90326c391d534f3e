"""Accessibility: axe-core (through axe-playwright-python) on every page of the site, in
Chromium, at laptop size (the visits of tests/site_survey.py). No violation of impact
moderate or above may be left; figures need alt text that says what they show."""

from __future__ import annotations

import pytest

from browser import requires_chromium
from only_pages import only_pages
from site_survey import LAPTOP

pytestmark = [requires_chromium, pytest.mark.site, pytest.mark.per_page]

# axe-core's impacts, mildest first; "minor" findings are reported but do not fail.
FAILING_IMPACTS = ("moderate", "serious", "critical")


def test_no_moderate_serious_or_critical_violation(survey) -> None:
    pytest.importorskip("axe_playwright_python")
    reports = survey("web", LAPTOP)
    assert reports and all(r.axe_violations is not None for r in reports)
    problems = [f"{r.rel}: {v['id']} ({v['impact']}): {v['help']}, "
                f"{len(v['nodes'])} element(s): {v['nodes'][0]['target']}"
                for r in reports for v in r.axe_violations
                if v["impact"] in FAILING_IMPACTS]
    assert not problems, "\n".join(problems)


def test_figures_have_alt_text(survey, request) -> None:
    reports = survey("web", LAPTOP)
    bad = [f"{r.rel}: {alt!r}" for r in reports for alt in r.alt_texts
           if len(alt) < 15 or alt.endswith((".png", ".svg", ".jpg")) or "_images/" in alt]
    assert not bad, "\n".join(bad)
    if not only_pages(request.config):
        assert sum(len(r.alt_texts) for r in reports) >= 5  # the check is live
