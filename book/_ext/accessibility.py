"""Pages that assistive technology can read: fixes to what the HTML writers emit.

docutils writes a citation list as ``<div role="list">`` holding ``role="doc-biblioentry"``
items; that role is deprecated (ARIA 1.2) and is no list item, so a screen reader meets a list
with no items (axe-core: aria-required-children, critical). Each entry becomes a list item.

The theme's primary sidebar (the book's title, the search button and the chapters) is a plain
``<div>``: the title and the search button are in no landmark, so a screen reader's "jump to
landmark" skips them (axe-core: region, moderate). The sidebar becomes a complementary
landmark (what an ``<aside>`` is), with a name. The theme writes it in its page layout,
outside any template block an extension can reach, so the written pages are rewritten once
the build has finished.

tests/test_accessibility.py runs axe-core on every page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sphinx.application import Sphinx


def _citation_items(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                    doctree: Any) -> None:
    if "body" in context:
        context["body"] = context["body"].replace(' role="doc-biblioentry"', ' role="listitem"')


_SIDEBAR = '<div id="pst-primary-sidebar" class="bd-sidebar-primary'
_SIDEBAR_LANDMARK = ('<div id="pst-primary-sidebar" role="complementary" '
                     'aria-label="The book: title, search and chapters" '
                     'class="bd-sidebar-primary')


def _sidebar_landmark(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if _SIDEBAR in text:
            page.write_text(text.replace(_SIDEBAR, _SIDEBAR_LANDMARK, 1), encoding="utf-8")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", _citation_items)
    app.connect("build-finished", _sidebar_landmark)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
