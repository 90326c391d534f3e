"""Editions of the book, chosen by the environment variable BOOK_EDITION.

- unset or ``web``: solutions are collapsed (a dropdown the reader opens);
- ``student``: solutions are removed from everything the build writes: the pages and their
  search index, the page sources and notebooks offered for download (``_sources/``) and the
  executed notebooks (``jupyter_execute/``); the launch (Binder, Colab) and repository buttons
  are left out, because they open the full notebooks;
- ``instructor``: solutions are shown, open.

``make book EDITION=student`` and ``make book EDITION=instructor`` set it. Each edition is also
a Sphinx tag (``edition_web``, ``edition_student``, ``edition_instructor``), so that a page can
say what is true of one edition only (the ``only`` directive).
``strip_solutions_from_notebook`` and ``strip_solutions_from_text`` are the one definition of
"a solution" in a source file (sphinx-exercise's ``solution`` and ``solution-start`` ...
``solution-end`` directives).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from collections.abc import Callable
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

EDITIONS = ("web", "student", "instructor")

# The opening line of a MyST directive fence, e.g. ```{solution-start} ex-1 or :::{solution}.
_DIRECTIVE = re.compile(r"^\s*(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}")


def _edition() -> str:
    edition = os.environ.get("BOOK_EDITION", "") or "web"
    if edition not in EDITIONS:
        raise ValueError(f"BOOK_EDITION must be one of {EDITIONS}, got {edition!r}")
    return edition


class _SolutionFilter:
    """Line by line (and across notebook cells), drop every line that belongs to a solution.

    A gated solution runs from its ``solution-start`` fence to the end of its
    ``solution-end`` fence, possibly over several cells; a ``solution`` directive is one fence.
    """

    def __init__(self) -> None:
        self.gated = False  # between solution-start and solution-end
        self.closing: str | None = None  # inside a dropped fence, until this fence closes it

    @property
    def inside(self) -> bool:
        return self.gated or self.closing is not None

    def keep(self, line: str) -> bool:
        if self.closing is not None:
            stripped = line.strip()
            if (stripped and set(stripped) == {self.closing[0]}
                    and len(stripped) >= len(self.closing)):
                self.closing = None
            return False
        match = _DIRECTIVE.match(line)
        name = match["name"] if match else ""
        if self.gated:
            if name == "solution-end":
                self.gated = False
                self.closing = match["fence"]
            return False
        if name == "solution-start":
            self.gated = True
            return False
        if name == "solution":
            self.closing = match["fence"]
            return False
        return True

    def text(self, text: str) -> str:
        return "".join(line for line in text.splitlines(keepends=True) if self.keep(line))


def strip_solutions_from_text(text: str) -> str:
    """A MyST Markdown source without its solutions."""
    return _SolutionFilter().text(text)


def strip_solutions_from_notebook(notebook: dict[str, Any]) -> dict[str, Any]:
    """A notebook (nbformat JSON) without its solutions: prose, code cells and outputs."""
    solutions = _SolutionFilter()
    cells = []
    for cell in notebook["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            kept = solutions.text(source)
            if kept.strip():
                cells.append({**cell, "source": kept.rstrip("\n")})
        elif not solutions.inside:
            cells.append(cell)
    return {**notebook, "cells": cells}


# What each edition says about the worked solutions, once per page that has any, before its
# first exercise (the notebooks do not say it: what is true depends on the edition).
SOLUTIONS_NOTE = {
    "web": "A worked solution follows each exercise, folded: try the exercise first, then "
           "click the solution's title to open it.",
    "instructor": "A worked solution follows each exercise, shown open; the student edition "
                  "leaves them out.",
    "student": "",
}


def _has_class(name: str) -> Callable[[nodes.Node], bool]:
    """A condition for docutils' findall: an element of that class."""
    return lambda node: isinstance(node, nodes.Element) and name in node.get("classes", [])


def _apply_edition(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    # Done on the resolved doctree, after sphinx-exercise has gathered the cells between
    # solution-start and solution-end into one node. (Its own hide_solutions option cannot
    # be used: with gated solutions it leaves a node that no writer knows.) The search index
    # is made from this same doctree, so it loses the solutions' words too.
    edition = _edition()
    solutions = list(doctree.findall(_has_class("solution")))
    if not solutions:
        return
    _say_where_the_solutions_are(doctree, solutions[0], SOLUTIONS_NOTE[edition])
    for node in solutions:
        if edition == "student":
            node.parent.remove(node)
        elif edition == "instructor":
            if "dropdown" in node["classes"]:
                node["classes"].remove("dropdown")
        else:
            _title_opens_the_solution(node)


def _say_where_the_solutions_are(doctree: nodes.document, first_solution: nodes.Element,
                                 note: str) -> None:
    if not note:
        return
    exercise = next(doctree.findall(_has_class("exercise")), None)
    anchor = exercise if exercise is not None else first_solution
    paragraph = nodes.paragraph(note, note, classes=["edition-note"])
    anchor.parent.insert(anchor.parent.index(anchor), paragraph)


def _title_opens_the_solution(solution: nodes.Element) -> None:
    """A folded solution opens when its title is clicked; sphinx-exercise makes the
    exercise's name in that title a link, which took the click and jumped to the exercise
    instead. The name stays, as text."""
    title = next((child for child in solution.children if isinstance(child, nodes.title)), None)
    if title is None:
        return
    for reference in list(title.findall(nodes.reference)):
        reference.replace_self(reference.children)


def _edition_settings(app: Sphinx, config: Any) -> None:
    # Pages may say what is true of one edition only: ```{only} edition_student ... ```.
    app.tags.add(f"edition_{_edition()}")
    # Binder, Colab and the repository hold the full notebooks: no button leads there.
    if _edition() != "student":
        return
    options = dict(config.html_theme_options)
    options["launch_buttons"] = {}
    for button in ("use_repository_button", "use_issues_button", "use_edit_page_button",
                   "use_source_button"):
        options[button] = False
    config.html_theme_options = options


def _strip_written_sources(app: Sphinx, exception: Exception | None) -> None:
    """Rewrite the copies of the sources that the build published, without their solutions."""
    if exception is not None or _edition() != "student":
        return
    outdir = Path(app.outdir)
    _prune_search_index(outdir)
    # _sources/: what the download button serves (.ipynb, .md); jupyter_execute/: MyST-NB's
    # executed notebooks, written beside the output folder, with the values they glued.
    for folder in (outdir / "_sources", outdir.parent / "jupyter_execute"):
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if path.suffix == ".ipynb":
                notebook = json.loads(path.read_text(encoding="utf-8"))
                stripped = strip_solutions_from_notebook(notebook)
                _write_json(path, stripped)
                glued = path.with_suffix(".glue.json")
                if glued.is_file():
                    _write_json(glued, _glue_kept(json.loads(glued.read_text("utf-8")),
                                                  stripped))
            elif path.suffix in {".md", ".txt", ".rst"}:
                path.write_text(strip_solutions_from_text(path.read_text(encoding="utf-8")),
                                encoding="utf-8")


def _glue_kept(glued: dict[str, Any], notebook: dict[str, Any]) -> dict[str, Any]:
    """The glued values of the cells left in the notebook: a value glued by a solution's
    cell goes with it."""
    names = {output.get("metadata", {}).get("scrapbook", {}).get("name")
             for cell in notebook["cells"] for output in cell.get("outputs", [])}
    return {name: value for name, value in glued.items() if name in names}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _prune_search_index(outdir: Path) -> None:
    """Drop the words that no page uses any more. Sphinx updates searchindex.js in place and
    keeps a word whose pages are all gone, so a build over an earlier one (one that had the
    solutions) would still list the solutions' words."""
    index_file = outdir / "searchindex.js"
    if not index_file.is_file():
        return
    text = index_file.read_text(encoding="utf-8")
    head, _, rest = text.partition("(")
    body, _, tail = rest.rpartition(")")
    index = json.loads(body)
    for key in ("terms", "titleterms"):
        index[key] = {word: where for word, where in index[key].items() if where}
    index_file.write_text(f"{head}({json.dumps(index, separators=(',', ':'))}){tail}",
                          encoding="utf-8")


def _name_the_edition(app: Sphinx, pagename: str, templatename: str,
                      context: dict[str, Any], doctree: Any) -> None:
    # Read by tools/handout_pdf.py, whose title page says which edition it prints.
    context["metatags"] = (context.get("metatags", "")
                           + f'\n<meta name="book-edition" content="{_edition()}" />')


def setup(app: Sphinx) -> dict[str, Any]:
    _edition()  # fail early on a misspelt edition
    app.connect("config-inited", _edition_settings)
    app.connect("html-page-context", _name_the_edition)
    app.connect("doctree-resolved", _apply_edition)
    app.connect("build-finished", _strip_written_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
