"""Editions of the book, chosen by the environment variable BOOK_EDITION.

- unset or ``web``: solutions are collapsed (a dropdown the reader opens);
- ``student``: solutions are removed from the build (sphinx-exercise's hide_solutions);
- ``instructor``: solutions are shown, open.

``make book EDITION=student`` and ``make book EDITION=instructor`` set it.
"""

from __future__ import annotations

import os
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config

EDITIONS = ("web", "student", "instructor")


def _edition() -> str:
    edition = os.environ.get("BOOK_EDITION", "") or "web"
    if edition not in EDITIONS:
        raise ValueError(f"BOOK_EDITION must be one of {EDITIONS}, got {edition!r}")
    return edition


def _configure(app: Sphinx, config: Config) -> None:
    if _edition() == "student":
        config.hide_solutions = True


def _open_solutions(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if _edition() != "instructor":
        return
    for node in doctree.findall(nodes.Element):
        if "solution" in node.get("classes", []) and "dropdown" in node["classes"]:
            node["classes"].remove("dropdown")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _configure)
    app.connect("doctree-resolved", _open_solutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
