"""Let the one-page handout (``--builder singlehtml``) render every node the HTML site can.

Sphinx looks up node visitors by builder name and falls back to the format ("html") only
when no extension registered anything for "singlehtml". sphinx-exercise registers some,
so sphinx-proof's theorem nodes, registered for "html" only, would have no visitor there.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _share_html_visitors(app: Sphinx) -> None:
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for node_name, visitors in handlers.get("html", {}).items():
        single.setdefault(node_name, visitors)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", _share_html_visitors)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
