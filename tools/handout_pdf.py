"""Print the one-page handout to PDF with Chromium, once MathJax has typeset every formula.

    python tools/handout_pdf.py _build/singlehtml/book/intro.html _build/pdf/book.pdf

The handout is served from 127.0.0.1 (fonts and scripts load as they do on the web; nothing
else is fetched: every outside request is refused), the page waits for MathJax, its fonts
and every image, and Chromium's print engine writes the PDF (``page.pdf``). ``make pdf``
runs this; tests/test_handout.py checks the result.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

MARGIN_MM = 12
PRINT_WIDTH_PX = round((210 - 2 * MARGIN_MM) / 25.4 * 96)  # A4 is 210 mm wide; 96 px an inch
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]


def find_chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        raise SystemExit("Chromium not found: install it with `apt-get install chromium`")
    return found


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # Chromium closed a connection it no longer needed: not an error of the handout.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def print_pdf(html: Path, pdf: Path, chromium: str | None = None, browser=None) -> int:
    """Write ``pdf`` from the handout page ``html``; returns its number of pages.

    Uses ``browser`` (a playwright Chromium) when given, else launches Chromium.
    """
    html = html.resolve()
    # Serve the build folder (the page's links go up to _static/ and _images/ from book/).
    root = html.parent.parent
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = _QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/{html.relative_to(root).as_posix()}"
    try:
        if browser is not None:
            failed = _print(browser, url, pdf)
        else:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium or find_chromium(),
                                            args=CHROMIUM_ARGS)
                failed = _print(browser, url, pdf)
                browser.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    if failed:
        raise SystemExit(f"the handout could not load: {failed}")
    from pypdf import PdfReader

    return len(PdfReader(pdf).pages)


def _print(browser, url: str, pdf: Path) -> list[str]:
    failed: list[str] = []
    page = browser.new_page()

    def local_only(route) -> None:
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.abort()

    page.route("**/*", local_only)
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(url, wait_until="load")
    if failed:
        return failed
    page.wait_for_function(
        "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=120_000)
    page.evaluate(
        "() => MathJax.startup.promise.then(() => document.fonts.ready).then(() => true)")
    page.wait_for_function(
        "() => Array.from(document.images).every(i => i.complete)", timeout=120_000)
    # Lay the page out at the width of the paper's text (A4 less the margins, in CSS px),
    # so that what is measured before printing is what will be printed.
    page.set_viewport_size({"width": PRINT_WIDTH_PX, "height": 1000})
    page.emulate_media(media="print")
    # What a browser does before printing (open folded parts, fit wide equations:
    # _static/course.js), done here once the page is laid out for paper.
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    pdf.parent.mkdir(parents=True, exist_ok=True)
    page.pdf(path=str(pdf), format="A4", print_background=True,
             margin={"top": "15mm", "bottom": "15mm", "left": f"{MARGIN_MM}mm",
                     "right": f"{MARGIN_MM}mm"})
    page.close()
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("html", type=Path, help="the handout page (singlehtml's book/intro.html)")
    parser.add_argument("pdf", type=Path, help="where to write the PDF")
    args = parser.parse_args()
    pages = print_pdf(args.html, args.pdf)
    print(f"PDF written: {args.pdf} ({pages} pages)")


if __name__ == "__main__":
    main()
