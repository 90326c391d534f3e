"""The one-page handout (``--builder singlehtml``): every node rendered, and every link working.

Two things Sphinx's singlehtml builder gets wrong for this book:

- It looks up node visitors by builder name and falls back to the format ("html") only when
  no extension registered anything for "singlehtml". sphinx-exercise registers some, so
  sphinx-proof's theorem nodes, registered for "html" only, would have no visitor there.
- It writes the page as ``book/intro.html`` (the root document lives in ``book/``) but makes
  every relative link as if the page were at the top of the output folder: styles, scripts,
  MathJax and figures (``_static/``, ``_images/``) and the links within the page
  (``book/intro.html#...``) all point one level too deep. After the build, those links are
  rewritten relative to where the page really is, and the script tag of a search index that
  singlehtml never writes is dropped.

And three things a handout does not need, or needs otherwise than a website:

- Search: singlehtml writes no search page, so the search box led nowhere (and on paper a
  search box means nothing). The search buttons, the search dialog and their scripts go.
- The table of contents: the theme's sidebar listed the parts' captions with no chapter under
  them. Each part lists its chapters, numbered, linked to where they start on the page.
- The title: the page was titled "<book> — <book>" (it is both the document and the book).
"""

from __future__ import annotations

import html as html_text
import re
from pathlib import Path
from typing import Any

from sphinx import addnodes
from sphinx.application import Sphinx

_URL_ATTRIBUTE = re.compile(r'(?P<attr>\b(?:href|src)=")(?P<url>[^"]*)"')
_SEARCH_INDEX = re.compile(r'<script src="searchindex\.js[^"]*"></script>\n?')
# What search is made of on a page of the theme (pydata-sphinx-theme 0.17, sphinx-book-theme
# 1.3): the buttons (sidebar, header), the dialog they open, the scripts and the link to it.
_SEARCH = (
    re.compile(r'<button class="[^"]*\bsearch-button__button\b[^"]*"[^>]*>.*?</button>', re.S),
    re.compile(r'<dialog id="pst-search-dialog">.*?</dialog>', re.S),
    re.compile(r'<link rel="search"[^>]*>\n?'),
    re.compile(r'<script src="[^"]*searchtools\.js[^"]*"></script>\n?'),
    re.compile(r'<div id="searchbox"></div>\n?'),
)
# A part's caption in the sidebar, and its list of chapters (left empty by singlehtml).
_PART = re.compile(r'(<p aria-level="2" class="caption" role="heading">'
                   r'<span class="caption-text">(?P<caption>[^<]*)</span></p>\s*'
                   r'<ul class="nav bd-sidenav">)\s*(</ul>)')


def _share_html_visitors(app: Sphinx) -> None:
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for node_name, visitors in handlers.get("html", {}).items():
        single.setdefault(node_name, visitors)


def relink(html: str, page: str) -> str:
    """Make the links of a singlehtml page right for its real place, ``page`` (e.g.
    ``book/intro.html``), in the output folder."""
    up = "../" * page.count("/")
    html = _SEARCH_INDEX.sub("", html)

    def fix(match: re.Match[str]) -> str:
        url = match["url"]
        if url == page or url.startswith(page + "#"):
            url = url[len(page):] or "#"  # a link into the page itself
        elif url and not re.match(r"[a-z][a-z0-9+.-]*:|[#/]|\.\./", url):
            url = up + url  # a file beside the page: _static/, _images/, ...
        return f'{match["attr"]}{url}"'

    html = _URL_ATTRIBUTE.sub(fix, html)
    return html.replace('data-content_root="./"', f'data-content_root="{up or "./"}"')


def _title(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
           doctree: Any) -> None:
    if app.builder.name != "singlehtml":
        return
    # singlehtml leaves the book's title out of the page context: the sidebar said "None".
    if not context.get("docstitle"):
        context["docstitle"] = app.config.html_title


def parts(app: Sphinx) -> list[tuple[str, list[tuple[str, str]]]]:
    """The book's parts, as the root document's toctrees list them: (caption, [(docname,
    numbered title), ...]) for each."""
    env = app.env
    found = []
    for toctree in env.get_doctree(app.config.root_doc).findall(addnodes.toctree):
        chapters = []
        for title, docname in toctree["entries"]:
            # singlehtml has merged every document's section numbers into the root's, as
            # "<docname>/<anchor>"; the html builder keeps them per document.
            number = (env.toc_secnumbers.get(docname, {}).get("")
                      or env.toc_secnumbers.get(app.config.root_doc, {}).get(f"{docname}/"))
            name = title or env.titles[docname].astext()
            prefix = ".".join(map(str, number)) + ". " if number else ""
            chapters.append((docname, prefix + name))
        found.append((toctree.get("caption") or "", chapters))
    return found


def handout_page(html: str, title: str, book_parts: list[tuple[str, list[tuple[str, str]]]]
                 ) -> str:
    """The handout page with no search, one title, and each part's chapters listed."""
    for pattern in _SEARCH:
        html = pattern.sub("", html)
    html = re.sub(r"<title>.*?</title>", f"<title>{html_text.escape(title)}</title>", html,
                  count=1, flags=re.S)
    listed = {html_text.escape(caption, quote=False): chapters
              for caption, chapters in book_parts}

    def chapters(match: re.Match[str]) -> str:
        items = "".join(
            f'\n<li class="toctree-l1"><a class="reference internal" '
            f'href="#document-{docname}">{html_text.escape(title, quote=False)}</a></li>'
            for docname, title in listed.get(match["caption"], []))
        return f"{match[1]}{items}\n{match[3]}"

    return _PART.sub(chapters, html)


def _relink_handout(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.name != "singlehtml":
        return
    name = app.config.root_doc + app.builder.out_suffix
    page = Path(app.outdir) / name
    if page.is_file():
        html = handout_page(page.read_text(encoding="utf-8"), app.config.html_title, parts(app))
        if "/" in name:
            html = relink(html, name)
        page.write_text(html, encoding="utf-8")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", _share_html_visitors)
    app.connect("html-page-context", _title)
    app.connect("build-finished", _relink_handout)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
