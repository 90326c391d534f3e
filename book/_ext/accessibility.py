"""Pages that assistive technology can read: fixes to what the HTML writers emit.

docutils writes a citation list as ``<div role="list">`` holding ``role="doc-biblioentry"``
items; that role is deprecated (ARIA 1.2) and is no list item, so a screen reader meets a list
with no items (axe-core: aria-required-children, critical). Each entry becomes a list item.
tests/test_accessibility.py runs axe-core on every page.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _citation_items(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                    doctree: Any) -> None:
    if "body" in context:
        context["body"] = context["body"].replace(' role="doc-biblioentry"', ' role="listitem"')


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", _citation_items)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
