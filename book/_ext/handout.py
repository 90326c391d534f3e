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
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

_URL_ATTRIBUTE = re.compile(r'(?P<attr>\b(?:href|src)=")(?P<url>[^"]*)"')
_SEARCH_INDEX = re.compile(r'<script src="searchindex\.js[^"]*"></script>\n?')


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
    # singlehtml leaves the book's title out of the page context: the sidebar said "None".
    if app.builder.name == "singlehtml" and not context.get("docstitle"):
        context["docstitle"] = app.config.html_title


def _relink_handout(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.name != "singlehtml":
        return
    name = app.config.root_doc + app.builder.out_suffix
    page = Path(app.outdir) / name
    if "/" in name and page.is_file():
        page.write_text(relink(page.read_text(encoding="utf-8"), name), encoding="utf-8")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", _share_html_visitors)
    app.connect("html-page-context", _title)
    app.connect("build-finished", _relink_handout)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
