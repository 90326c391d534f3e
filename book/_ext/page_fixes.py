"""Fixes to what every page of the book gets from the extensions Jupyter Book loads.

sphinx-thebe adds its settings as an inline script (``const THEBE_JS_URL = ...``) each time
Sphinx reads the sources, and Jupyter Book has it do so twice: every page then declared the
constant twice, and the browser logged "Identifier 'THEBE_JS_URL' has already been declared"
on every page. A script is written once per page, however often it was added.

The browser tests (tests/site_survey.py) fail on any console error of any page.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _scripts_once(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                  doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    once, seen = [], set()
    for script in scripts:
        # An inline script's file is None or "", depending on who added it.
        key = (script.filename or "", tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            once.append(script)
    context["script_files"] = once


def setup(app: Sphinx) -> dict[str, Any]:
    # After Sphinx's own handler has put the scripts into the context.
    app.connect("html-page-context", _scripts_once, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

