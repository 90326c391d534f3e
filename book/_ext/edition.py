"""Editions of the book, chosen by the environment variable BOOK_EDITION.

- unset or ``web``: solutions are collapsed (a dropdown the reader opens);
- ``student``: solutions are removed from the build;
- ``instructor``: solutions are shown, open.

``make book EDITION=student`` and ``make book EDITION=instructor`` set it.
"""

from __future__ import annotations

import os
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

EDITIONS = ("web", "student", "instructor")


def _edition() -> str:
    edition = os.environ.get("BOOK_EDITION", "") or "web"
    if edition not in EDITIONS:
        raise ValueError(f"BOOK_EDITION must be one of {EDITIONS}, got {edition!r}")
    return edition


def _apply_edition(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    # Done on the resolved doctree, after sphinx-exercise has gathered the cells between
    # solution-start and solution-end into one node. (Its own hide_solutions option cannot
    # be used: with gated solutions it leaves a node that no writer knows.)
    edition = _edition()
    for node in list(doctree.findall(nodes.Element)):
        if "solution" not in node.get("classes", []):
            continue
        if edition == "student":
            node.parent.remove(node)
        elif edition == "instructor" and "dropdown" in node["classes"]:
            node["classes"].remove("dropdown")


def setup(app: Sphinx) -> dict[str, Any]:
    _edition()  # fail early on a misspelt edition
    app.connect("doctree-resolved", _apply_edition)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
