"""A real browser for the tests: Debian's Chromium, driven by playwright, with no network.

One place for what the site, handout, PDF, phone and JupyterLab tests share: where Chromium
is, a local web server, and a page visit that blocks (and records) every request that would
leave the machine.
"""

from __future__ import annotations

import contextlib
import functools
import os
import http.server
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

# Debian's chromium; CHROMIUM names another build of it (e.g. Chrome on a CI runner).
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Chromium's own background connections would be refused on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

requires_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Chromium not found: `apt-get install chromium` (or set CHROMIUM) to run the "
           "browser tests",
)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # The browser closed a connection it no longer needed (a page left mid-download):
        # not an error of the site. Anything else is printed as usual.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve a folder on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    httpd = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextlib.contextmanager
def launch() -> Iterator:
    """A headless Chromium (skips the test when playwright is missing)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class PageVisit:
    """Open one URL with all non-local traffic blocked; collect what went wrong: requests
    that left the machine (blocked), requests that failed, and errors in the console
    (messages of level "error" and uncaught exceptions)."""

    def __init__(self, browser, allowed_scheme_host: tuple[str, str],
                 viewport: tuple[int, int] = (1280, 900)) -> None:
        width, height = viewport
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.external: list[str] = []
        self.failed: list[str] = []
        self.console_errors: list[str] = []
        self.allowed = allowed_scheme_host
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        self.page.on("response", self._response)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.console_errors.append(f"{error}"))

    def _route(self, route) -> None:
        url = urlparse(route.request.url)
        if (url.scheme, url.hostname or "") == self.allowed:
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def _console(self, message) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.console_errors.append(f"{message.text} ({where})" if where else message.text)

    def _response(self, response) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.url} (HTTP {response.status})")

    def open(self, url: str) -> None:
        self.page.goto(url, wait_until="load")
        try:
            wait_for_math(self.page)
        except Exception as error:  # e.g. MathJax never loaded: say what failed to load
            raise AssertionError(f"{url}: MathJax did not finish ({error}); failed requests: "
                                 f"{self.failed}; outside requests: {self.external}") from None

    def math_counts(self) -> dict[str, int]:
        return self.page.evaluate(
            """() => ({
                sources: document.querySelectorAll('span.math, div.math').length,
                typeset: document.querySelectorAll('mjx-container').length,
                errors: document.querySelectorAll('mjx-merror').length,
            })"""
        )

    def broken_images(self) -> list[str]:
        return self.page.evaluate(
            "() => Array.from(document.images)"
            ".filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
        )

    def links(self) -> list[str]:
        return self.page.evaluate(
            "() => Array.from(document.querySelectorAll('a[href]'), a => a.href)")

    def close(self) -> None:
        self.context.close()


def wait_for_math(page) -> None:
    """Sphinx loads MathJax only on pages that have math; wait for it to finish there."""
    if page.query_selector("script[src*='mathjax']"):
        page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise.then(() => true)")
