"""Print the one-page handout to a PDF book: a title page, a table of contents with page
numbers, the book, and an outline (bookmarks) of its parts, chapters and sections.

    python tools/handout_pdf.py _build/singlehtml/book/intro.html _build/pdf/book.pdf

The handout is opened from disk in Chromium (every outside request refused), as a reader
opens it; once MathJax has typeset every formula and every font and image has loaded, the
page is laid out at the width of the paper and printed by Chromium (``page.pdf``) with page
numbers in the footer. Chromium's own outline of the headings (``outline=True``) says on
which page each heading landed: from it, the front matter (the title page, naming the
edition and the licence, and the contents with page numbers) is printed, put in front with
pypdf, numbered i, ii, ... (the book's pages keep the numbers printed in their footers),
and the outline is rebuilt as parts > chapters > sections with the book's own titles.

``make pdf`` runs this; tests/test_handout.py reads the result with pypdf.
"""

from __future__ import annotations

import argparse
import contextlib
import html as html_text
import io
import logging
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MARGIN_MM = 12
PRINT_WIDTH_PX = round((210 - 2 * MARGIN_MM) / 25.4 * 96)  # A4 is 210 mm wide; 96 px an inch
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]
# What the title page says of each edition (book/_ext/edition.py writes it into the page).
EDITION_LINES = {
    "instructor": "Instructor's edition: every exercise with its worked solution",
    "student": "Student edition: the exercises, without their solutions",
    "web": "",
}


def find_chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        raise SystemExit("Chromium not found: install it with `apt-get install chromium`")
    return found


def wait_until_ready(page: Any) -> None:
    """Wait for MathJax to typeset every formula, and for every font and image."""
    page.wait_for_function(
        "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=120_000)
    page.evaluate(
        "() => MathJax.startup.promise.then(() => document.fonts.ready).then(() => true)")
    page.wait_for_function(
        "() => Array.from(document.images).every(i => i.complete)", timeout=120_000)


def lay_out_for_print(page: Any) -> None:
    """Lay the page out as it will be printed: at the width of the paper's text (A4 less the
    margins, in CSS px), with the print styles, after what a browser does before printing
    (open folded parts, fit wide equations and code: _static/course.js)."""
    page.set_viewport_size({"width": PRINT_WIDTH_PX, "height": 1000})
    page.emulate_media(media="print")
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")


# The book as the handout shows it: its title, edition and licence, its parts (the captions of
# the sidebar's table of contents, each with its chapters' anchors), and every heading that
# is printed (shown in the print layout), in order, with its level, text and chapter.
STRUCTURE = r"""() => {
    const shown = (el) => el.getClientRects().length > 0
        && getComputedStyle(el).visibility !== 'hidden';
    const text = (el) => {
        const copy = el.cloneNode(true);
        copy.querySelectorAll('.headerlink').forEach((a) => a.remove());
        return copy.textContent.replace(/\s+/g, ' ').trim();
    };
    const headings = Array.from(document.querySelectorAll('h1, h2, h3, h4, h5, h6'))
        .filter(shown);
    const chapterOf = new Map();
    const parts = Array.from(document.querySelectorAll('#pst-primary-sidebar p.caption'))
        .map((caption) => ({
            caption: caption.textContent.trim(),
            chapters: Array.from(caption.nextElementSibling.querySelectorAll('a'), (a) => {
                const anchor = document.getElementById(
                    decodeURIComponent(a.getAttribute('href').slice(1)));
                const section = anchor && anchor.nextElementSibling;
                const heading = section && section.querySelector('h1, h2, h3, h4, h5, h6');
                const index = headings.indexOf(heading);
                chapterOf.set(heading, a.textContent.trim());
                return {title: a.textContent.trim(), heading: index};
            }),
        }));
    const licence = document.querySelector('p.licence');
    return {
        title: document.title,
        author: (document.querySelector('.component-author')?.textContent || '')
            .replace(/^\s*By\s+/, '').trim(),
        edition: document.querySelector('meta[name="book-edition"]')?.content || 'web',
        licence: licence ? licence.innerHTML.trim() : '',
        licenceLinks: licence ? Array.from(licence.querySelectorAll('a'), (a) => a.href) : [],
        parts,
        headings: headings.map((h) => ({
            level: Number(h.tagName[1]), text: text(h), chapter: chapterOf.get(h) || null,
        })),
    };
}"""


@dataclass
class Entry:
    """One line of the contents and one bookmark: a title, its page in the book (0-based,
    before the front matter is put in front), what it is (part, chapter, section or
    subsection), and the entries under it."""

    title: str
    page: int
    kind: str
    children: list[Entry] = field(default_factory=list)


def chromium_outline_pages(reader: Any) -> list[int]:
    """The page of each entry of Chromium's outline, in document order (one per printed
    heading)."""
    pages: list[int] = []

    def walk(items: list[Any]) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                pages.append(reader.get_destination_page_number(item))

    walk(reader.outline)
    return pages


def contents(structure: dict[str, Any], pages: list[int]) -> list[Entry]:
    """The book's outline: the opening page (the root document) with its sections, then each
    part with its chapters, each chapter with its sections (nested by heading level)."""
    headings = structure["headings"]
    if len(pages) != len(headings):
        raise SystemExit(f"Chromium's outline has {len(pages)} entries for {len(headings)} "
                         "printed headings: cannot tell on which page each heading is")
    starts = {c["heading"]: c for part in structure["parts"] for c in part["chapters"]}
    if -1 in starts:
        raise SystemExit("a chapter of the table of contents has no heading on the page")

    kinds = ("chapter", "section", "subsection")

    def under(first: int, end: int, title: str) -> Entry:
        # The heading at `first` and everything up to `end`, nested by level.
        entry = Entry(title, pages[first], kinds[0])
        stack = [(headings[first]["level"], entry)]
        for i in range(first + 1, end):
            level = headings[i]["level"]
            while len(stack) > 1 and stack[-1][0] >= level:
                stack.pop()
            child = Entry(headings[i]["text"], pages[i], kinds[min(len(stack), 2)])
            stack[-1][1].children.append(child)
            stack.append((level, child))
        return entry

    bounds = sorted(starts) + [len(headings)]
    entries = [under(0, bounds[0], headings[0]["text"])] if bounds[0] > 0 else []
    end_of = dict(zip(bounds, bounds[1:], strict=False))
    for part in structure["parts"]:
        chapters = [under(c["heading"], end_of[c["heading"]], c["title"])
                    for c in part["chapters"]]
        if chapters:
            entries.append(Entry(part["caption"], chapters[0].page, "part", chapters))
    return entries


FRONT_STYLE = """
@page { size: A4; margin: 22mm 20mm; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10.5pt;
       color: #222; line-height: 1.45; margin: 0; }
.title-page { break-after: page; text-align: center; padding-top: 55mm; }
.title-page h1 { font-size: 24pt; font-weight: 600; margin: 0 0 8mm; }
.title-page .edition { font-size: 12pt; margin: 0 0 24mm; }
.title-page .licence { font-size: 10pt; max-width: 130mm; margin: 0 auto 3mm; }
.title-page .urls { font-size: 9pt; color: #444; }
h2 { font-size: 16pt; font-weight: 600; margin: 0 0 6mm; }
ol { list-style: none; margin: 0; padding: 0; }
li > ol { padding-left: 6mm; }
.line { display: flex; align-items: baseline; gap: 2mm; break-inside: avoid; }
.line .title { flex: 0 1 auto; }
.line .dots { flex: 1 1 auto; border-bottom: 1px dotted #888; min-width: 6mm; }
.line .page { flex: 0 0 auto; font-variant-numeric: tabular-nums; }
.part > .line { font-weight: 600; margin-top: 4mm; }
.part > .line .dots, .part > .line .page { visibility: hidden; }
.chapter > .line { font-weight: 600; margin-top: 2mm; }
"""


def front_matter_html(structure: dict[str, Any], entries: list[Entry]) -> str:
    """The title page and the contents: parts, chapters and their sections, with the page
    numbers printed in the book's footers (subsections only in the outline)."""
    esc = html_text.escape

    def items(children: list[Entry]) -> str:
        shown = [entry for entry in children if entry.kind != "subsection"]
        if not shown:
            return ""
        return "<ol>" + "".join(
            f'<li class="{entry.kind}"><div class="line"><span class="title">'
            f'{esc(entry.title)}</span><span class="dots"></span><span class="page">'
            f'{entry.page + 1}</span></div>{items(entry.children)}</li>'
            for entry in shown) + "</ol>"

    urls = " · ".join(esc(url) for url in structure["licenceLinks"])
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{esc(structure["title"])}</title><style>{FRONT_STYLE}</style></head><body>
<section class="title-page"><h1>{esc(structure["title"])}</h1>
<p class="edition">{esc(EDITION_LINES.get(structure["edition"], ""))}</p>
<p class="author">{esc(structure["author"])}</p>
<p class="licence">{structure["licence"]}</p><p class="urls">{urls}</p></section>
<section class="contents"><h2>Contents</h2>{items(entries)}</section></body></html>"""


FOOTER = """<div style="font-size: 8pt; width: 100%; padding: 0 {margin}mm; display: flex;
    box-sizing: border-box;
    justify-content: space-between; color: #555; font-family: sans-serif;">
    <span>{title} · {licence}</span><span class="pageNumber"></span></div>"""


@contextlib.contextmanager
def _quiet_pypdf() -> Iterator[None]:
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def write_pdf(page: Any, pdf: Path) -> int:
    """Print the page (laid out by ``lay_out_for_print``) into ``pdf`` as a book: front
    matter, page numbers, outline. Returns the number of pages."""
    from pypdf import PdfReader

    structure = page.evaluate(STRUCTURE)
    short_licence = "CC BY 4.0" if "creativecommons.org/licenses/by/4.0" in " ".join(
        structure["licenceLinks"]) else ""
    footer = FOOTER.format(margin=MARGIN_MM, title=html_text.escape(structure["title"]),
                           licence=short_licence)
    body = page.pdf(format="A4", print_background=True, outline=True, tagged=True,
                    display_header_footer=True, header_template="<span></span>",
                    footer_template=footer,
                    margin={"top": "15mm", "bottom": "15mm", "left": f"{MARGIN_MM}mm",
                            "right": f"{MARGIN_MM}mm"})
    # pypdf warns, for each read of it, that Chromium's trailer undercounts the objects.
    with _quiet_pypdf():
        book = PdfReader(io.BytesIO(body))
        entries = contents(structure, chromium_outline_pages(book))
        front_page = page.context.new_page()
        try:
            front_page.set_content(front_matter_html(structure, entries), wait_until="load")
            front = PdfReader(io.BytesIO(front_page.pdf(format="A4", print_background=True)))
        finally:
            front_page.close()
        writer = _book(book, front, entries, structure)
        pdf.parent.mkdir(parents=True, exist_ok=True)
        with pdf.open("wb") as out:
            writer.write(out)
    return len(writer.pages)


def _book(book: Any, front: Any, entries: list[Entry], structure: dict[str, Any]) -> Any:
    """The front matter put in front of the book, the outline, the page labels (i, ii, ...
    then 1, 2, ... as the footers print them) and the metadata."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=book)
    writer.merge(0, front, import_outline=False)
    offset = len(front.pages)
    if "/Outlines" in writer.root_object:  # Chromium's, replaced by the book's own
        del writer.root_object["/Outlines"]

    def bookmark(entry: Entry, parent: Any = None) -> None:
        item = writer.add_outline_item(title=entry.title, page_number=offset + entry.page,
                                       parent=parent)
        for child in entry.children:
            bookmark(child, item)

    writer.add_outline_item(title="Contents", page_number=1 if offset > 1 else 0)
    for entry in entries:
        bookmark(entry)
    writer.set_page_label(0, offset - 1, style="/r", start=1)
    writer.set_page_label(offset, len(writer.pages) - 1, style="/D", start=1)
    writer.add_metadata({"/Title": structure["title"], "/Author": structure["author"],
                         "/Subject": EDITION_LINES.get(structure["edition"], "")})
    writer.page_mode = "/UseOutlines"
    return writer


def print_pdf(html: Path, pdf: Path, chromium: str | None = None, browser: Any = None) -> int:
    """Write ``pdf`` from the handout page ``html``; returns its number of pages.

    Uses ``browser`` (a playwright Chromium) when given, else launches Chromium.
    """
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            launched = p.chromium.launch(executable_path=chromium or find_chromium(),
                                         args=CHROMIUM_ARGS)
            try:
                return print_pdf(html, pdf, browser=launched)
            finally:
                launched.close()
    context = browser.new_context()
    failed: list[str] = []
    try:
        # From disk, as a reader opens it; nothing may be fetched from elsewhere.
        context.route(re.compile(r"^(?!file:).*"), lambda route: route.abort())
        page = context.new_page()
        page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
        page.goto(html.resolve().as_uri(), wait_until="load")
        wait_until_ready(page)
        if failed:
            raise SystemExit(f"the handout could not load: {failed}")
        lay_out_for_print(page)
        return write_pdf(page, pdf)
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("html", type=Path, help="the handout page (singlehtml's book/intro.html)")
    parser.add_argument("pdf", type=Path, help="where to write the PDF")
    args = parser.parse_args()
    pages = print_pdf(args.html, args.pdf)
    print(f"PDF written: {args.pdf} ({pages} pages)")


if __name__ == "__main__":
    main()
