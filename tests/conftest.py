"""Shared fixtures: seeded random matrices for the running example Z = A H W, and the web
edition's pages visited once per window size (tests/site_survey.py)."""

from __future__ import annotations

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
def survey(web_site: Path, web_server: str, browser) -> Callable[[tuple[int, int]], list]:
    """survey(size): every page of the web edition at that window size, visited once per
    test run (a site_survey.PageReport per page)."""
    from site_survey import survey as visit_every_page

    done: dict[tuple[int, int], list] = {}

    def at(size: tuple[int, int]) -> list:
        if size not in done:
            done[size] = visit_every_page(browser, web_site, web_server, size,
                                          web_site / "screenshots")
        return done[size]

    return at
