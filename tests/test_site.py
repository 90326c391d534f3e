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
from browser import PageVisit, launch, requires_chromium, serve

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
