"""Shared fixtures: seeded random matrices for the running example Z = A H W, and each
edition's pages visited once (tests/site_survey.py)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261126)


@pytest.fixture
def example(rng: np.random.Generator) -> Callable[..., tuple[np.ndarray, ...]]:
    """A, H, W of the given sizes (non-square by default), seeded."""

    def make(V: int = 4, d1: int = 3, d2: int = 2) -> tuple[np.ndarray, ...]:
        return (
            rng.standard_normal((V, V)),
            rng.standard_normal((V, d1)),
            rng.standard_normal((d1, d2)),
        )

    return make


@pytest.fixture(scope="session")
def web_site() -> Path:
    from book_build import build_book

    return build_book("web")


@pytest.fixture(scope="session")
def web_server(web_site: Path) -> Iterator[str]:
    from browser import serve

    with serve(web_site) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """One headless Chromium for the whole run: playwright's synchronous API cannot start
    a second one while the first is open."""
    from browser import launch

    with launch() as chromium:
        yield chromium


@pytest.fixture(scope="session")
def survey(request: pytest.FixtureRequest, browser) -> Callable[[str, tuple[int, int]], list]:
    """survey(edition, size): every page of that edition at that window size, visited once
    per test run (a site_survey.PageReport per page); only the pages named by --only, if
    any (tests/only_pages.py). The time each visit's steps took is written to
    _build/tests/page-timings.json (benchmarks/page_cost.py reads it)."""
    from book_build import BUILD, build_book
    from browser import serve
    from only_pages import only_pages
    from site_survey import LAPTOP
    from site_survey import survey as visit_every_page

    done: dict[tuple[str, tuple[int, int]], list] = {}
    servers = contextlib.ExitStack()
    urls: dict[str, str] = {}

    def at(edition: str, size: tuple[int, int]) -> list:
        if (edition, size) not in done:
            site = build_book(edition)
            if edition not in urls:
                urls[edition] = servers.enter_context(serve(site))
            done[edition, size] = visit_every_page(
                browser, site, urls[edition], size, site / "screenshots",
                only=only_pages(request.config), axe=(edition, size) == ("web", LAPTOP))
        return done[edition, size]

    yield at
    servers.close()
    if done:
        timings = {f"{edition} {size[0]}x{size[1]}": {r.rel: r.seconds for r in reports}
                   for (edition, size), reports in done.items()}
        BUILD.mkdir(parents=True, exist_ok=True)
        (BUILD / "page-timings.json").write_text(json.dumps(timings, indent=1) + "\n")
