"""The house rule for universal sentences: each names its backing test, or says it is plain.

A universal word (never, always, only, for every, for all, in any, as soon as, exactly,
cannot; case-insensitive, whole words) turns a sentence into a claim over a range. In the
book's text, every paragraph that holds one must be followed directly (the next lines, no
blank line between) by one or more MyST comment lines:

``% claim: tests/<file>.py::<test_name>``
    a test that backs the claim over the range the sentence states, special cases
    included (square, symmetric, singular, rank-deficient, 1 x 1, equal sizes, zero
    entries); usually a hypothesis property test in ``tests/test_universal.py``.
``% plain: <short reason>``
    the sentence claims nothing mathematical ("every chapter ends with exercises").

Where a claim holds on part of its range only, qualify the sentence (and test the
qualified claim), rather than the test.

The book's text is every markdown cell of ``book/*.ipynb``, every page ``book/*.md``, and
the text that a code cell produces for the page: a figure caption (the cell's metadata
``mystnb.figure.caption``) and glued Markdown (``glue_markdown``). For those, the same
markers are written as Python comments in that code cell: ``# claim: ...`` or
``# plain: ...``. MyST's own syntax is not prose: labels (``(sec-x)=``), roles with their
targets and directive names are left out of the search.

A paragraph is a run of non-blank lines (a display ``$$ ... $$`` that follows a line of
text belongs to its paragraph); a heading, a list item, or a directive's fence line with
its option lines is a paragraph of its own, and the contents of code blocks are not prose.
In a list item the marker is indented like the item's text, so that it stays inside the
item (an unindented ``%`` line would end the list). Lines that start with ``%`` are
comments in MyST: they are not rendered.

The words "every" and "any" alone are not searched for: most of their uses are plain
("every chapter", "in any order"). Where they carry a mathematical claim a reader may
doubt (the eigenvalues of the layer's Hessian, the adjoint of a linear map), the paragraph
carries a ``claim`` marker all the same, and it is checked like any other.

This file checks that every such paragraph is marked, that every marker follows a
paragraph, and that every test a ``claim`` names exists: the file is there and defines
the function (``file.py::name`` or ``file.py::Class::name``).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
UNIVERSAL = re.compile(
    r"\b(never|always|only|for every|for all|in any|as soon as|exactly|cannot)\b",
    re.IGNORECASE,
)
MARKER = re.compile(r"^(?P<indent>\s*)(?P<comment>%|#) (?P<kind>claim|plain):(?P<rest>.*)$")
LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+")
FENCE = re.compile(r"^\s*(```|~~~|:::)")
HINT = (
    "add, on the next line, '% claim: tests/<file>.py::<test>' naming a test that backs "
    "it over its whole range, or '% plain: <reason>' if it claims nothing mathematical "
    "(see tests/test_claims.py)"
)


@dataclass
class Paragraph:
    where: str  # file and cell, for messages
    line: int  # 1-based, within the cell or page
    lines: list[str]
    markers: list[tuple[str, str]] = field(default_factory=list)  # (kind, rest)
    nested: bool = False  # in a list item: its markers are indented

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def start(self) -> str:
        return " ".join(self.text.split())[:70]


@dataclass
class Text:
    where: str
    body: str
    produced: bool = False  # a caption or glued text: markers in the cell's source


def paragraphs(text: Text) -> tuple[list[Paragraph], list[str]]:
    """The paragraphs of a markdown text with the markers after each, and misplaced markers."""
    found: list[Paragraph] = []
    stray: list[str] = []
    current: Paragraph | None = None
    closed = False  # the current paragraph takes no more lines (a heading, markers)
    header = False  # the current paragraph is a directive's line and its options
    math = False  # inside a $$ display
    fences: list[str] = []  # the open directives' fences
    code: str | None = None  # the fence of the code block we are in (not prose)
    for number, line in enumerate(text.body.splitlines(), start=1):
        stripped = line.strip()
        if code is not None:
            if _closes(stripped, code):
                code = None
            continue
        marker = MARKER.match(line)
        if marker and marker["comment"] == "%":
            if current is None:
                stray.append(f"{text.where}, line {number}: marker {stripped!r} does "
                             "not follow a paragraph directly")
                continue
            if current.nested and len(marker["indent"]) < 2:
                stray.append(f"{text.where}, line {number}: the marker after a list item "
                             "must be indented like the item's text")
            current.markers.append((marker["kind"], marker["rest"].strip()))
            closed = True
            continue
        if not stripped or stripped.startswith("%"):
            current, math = None, False
            continue
        fence = FENCE.match(line)
        if fence and not math:
            run = re.match(r"[`~:]+", stripped)[0]
            info = stripped[len(run):].strip()
            if not info and fences and _closes(stripped, fences[-1]):
                fences.pop()
                current = None
                continue
            if info and not info.startswith("{") or not info:
                code, current = run, None  # ```python, or a bare ```: code
                continue
            fences.append(run)
            current, closed, header = Paragraph(text.where, number, [line]), False, True
            found.append(current)
            continue
        if current is not None and header and stripped.startswith(":") and not closed:
            current.lines.append(line)  # a directive's option
            continue
        item = LIST_ITEM.match(line)
        heading = stripped.startswith("#")
        display = stripped.startswith("$$")
        if math:
            current.lines.append(line)
            math = not display
            continue
        if current is None or closed or header or item or heading:
            current = Paragraph(text.where, number, [line],
                                nested=bool(item) or line.startswith("  "))
            found.append(current)
            closed, header = heading, False
        else:
            current.lines.append(line)
        if display:
            # "$$ x $$" on one line is a whole display; "$$" alone opens one
            math = stripped == "$$" or stripped.count("$$") == 1 and not stripped.startswith("$$ (")
    return found, stray


def _closes(stripped: str, run: str) -> bool:
    return len(stripped) >= len(run) and set(stripped) == {run[0]}


def produced_markers(source: str) -> list[tuple[str, str]]:
    """The ``# claim:`` / ``# plain:`` comment lines of a code cell."""
    return [
        (m["kind"], m["rest"].strip())
        for m in map(MARKER.match, source.splitlines())
        if m and m["comment"] == "#"
    ]


def glued_markdown(cell: dict) -> list[str]:
    texts = []
    for output in cell.get("outputs", []):
        for mime, value in output.get("data", {}).items():
            if mime.endswith("text/markdown"):
                texts.append("".join(value))
    return texts


@cache
def book_texts() -> tuple[list[Text], list[tuple[Text, list[tuple[str, str]]]]]:
    """The markdown texts of the book, and the texts code cells produce with their markers."""
    texts: list[Text] = []
    produced: list[tuple[Text, list[tuple[str, str]]]] = []
    for page in sorted(BOOK.glob("*.md")):
        texts.append(Text(page.name, page.read_text(encoding="utf-8")))
    for notebook in sorted(BOOK.glob("*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        for index, cell in enumerate(cells):
            where = f"{notebook.name}, cell {index}"
            source = "".join(cell["source"])
            if cell["cell_type"] == "markdown":
                texts.append(Text(where, source))
                continue
            caption = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
            pieces = [("figure caption", caption.get("caption", ""))]
            pieces += [("glued Markdown", text) for text in glued_markdown(cell)]
            for what, body in pieces:
                if body:
                    produced.append((Text(f"{where} ({what})", body, produced=True),
                                     produced_markers(source)))
    return texts, produced


SYNTAX = re.compile(
    r"^\s*\(\S+\)=\s*$"  # a label line, (sec-x)=
    r"|\{[\w:.-]+\}`[^`]*`"  # a role and its target, {ref}`jacobian-never-built`
    r"|\{[\w:.-]+\}",  # a directive's or role's name, {only}
    re.MULTILINE,
)


def universal_words(text: str) -> list[str]:
    """The universal words of a text, outside MyST's syntax (labels, roles, directive names)."""
    return sorted({m[0].lower() for m in UNIVERSAL.finditer(SYNTAX.sub(" ", text))})


def unmarked(texts: list[Text], produced: list[tuple[Text, list]]) -> list[str]:
    problems = []
    for text in texts:
        found, _ = paragraphs(text)
        for paragraph in found:
            words = universal_words(paragraph.text)
            if words and not paragraph.markers:
                problems.append(
                    f"{paragraph.where}, line {paragraph.line} ('{paragraph.start()}...'): "
                    f"{', '.join(words)}"
                )
    for text, markers in produced:
        words = universal_words(text.body)
        if words and not markers:
            problems.append(
                f"{text.where} ('{' '.join(text.body.split())[:70]}...'): {', '.join(words)}"
                " (mark it with '# claim: ...' or '# plain: ...' in that code cell)"
            )
    return problems


@cache
def defined_tests(path: Path) -> frozenset[str]:
    """'name' and 'Class::name' for each function defined at the top of a test file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names |= {f"{node.name}::{f.name}" for f in node.body
                      if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)}
    return frozenset(names)


def marker_problem(kind: str, rest: str) -> str | None:
    if kind == "plain":
        return None if rest else "a 'plain' marker needs a reason"
    target = rest.split()[0] if rest else ""
    if "::" not in target:
        return f"'claim: {rest}' must name tests/<file>.py::<test>"
    file, name = target.split("::", 1)
    path = ROOT / file
    if not (file.startswith("tests/") and file.endswith(".py") and path.is_file()):
        return f"'claim: {rest}': no test file {file}"
    if name not in defined_tests(path):
        return f"'claim: {rest}': {file} defines no test {name}"
    return None


def all_markers() -> list[tuple[str, str, str]]:
    texts, produced = book_texts()
    markers = []
    for text in texts:
        for paragraph in paragraphs(text)[0]:
            markers += [(f"{paragraph.where}, line {paragraph.line}", k, r)
                        for k, r in paragraph.markers]
    for text, found in produced:
        markers += [(text.where, k, r) for k, r in found]
    return markers


def test_every_universal_sentence_is_marked() -> None:
    problems = unmarked(*book_texts())
    assert not problems, (
        f"{len(problems)} paragraph(s) with a universal word and no marker; {HINT}:\n"
        + "\n".join(problems)
    )


def test_every_claim_marker_names_a_test_that_exists() -> None:
    problems = [f"{where}: {p}" for where, kind, rest in all_markers()
                if (p := marker_problem(kind, rest))]
    assert not problems, "\n".join(problems)


def test_every_marker_follows_a_paragraph() -> None:
    texts, _ = book_texts()
    problems = [problem for text in texts for problem in paragraphs(text)[1]]
    assert not problems, "\n".join(problems)


# The rule's own behaviour, on small texts.

CLAIM = "% claim: tests/test_claims.py::test_every_universal_sentence_is_marked"


@pytest.mark.parametrize("body, expected", [
    ("A sentence that is never true.", ["never"]),
    ("Exactly one.\n% plain: counting\n\nFor all $x$, $x = x$.", ["for all"]),
    ("It cannot\nbe split across lines.\n" + CLAIM, []),
    ("- only in an item\n  % plain: x\n- another, always", ["always"]),
    ("## Only a heading\n% plain: title\nBut this line is never marked.", ["never"]),
    ("```python\n# only code, not prose\n```", []),
    ("```{exercise} A title\n:label: ex\n\nIn any case.\n```", ["in any"]),
    ("$$\nx\n$$ (eq)\n% plain: math\nThe only text.", ["only"]),
    ("Everyone, only-child, anyway.", ["only"]),
    ("Nothing universal here: every and any are not searched.", []),
    ("(sec-never)=\n```{only} html\n```\nSee {ref}`sec-never`.", []),
])
def test_the_scanner_finds_unmarked_universal_words(body: str, expected: list[str]) -> None:
    problems = unmarked([Text("example", body)], [])
    found = sorted(w for p in problems for w in p.rsplit(": ", 1)[1].split(", "))
    assert found == sorted(expected), problems


def test_an_unqualified_never_fails_the_rule() -> None:
    book, produced = book_texts()
    broken = [*book, Text("example", "The Kronecker product is never a derivative.")]
    problems = unmarked(broken, produced)
    assert any("example" in p and "never" in p for p in problems)


def test_a_caption_is_marked_in_its_code_cell() -> None:
    caption = Text("cell (figure caption)", "Only one curve.", produced=True)
    assert unmarked([], [(caption, [])])
    assert not unmarked([], [(caption, [("plain", "a description of the figure")])])


def test_misplaced_markers_and_missing_tests_are_reported() -> None:
    _, stray = paragraphs(Text("example", "Text.\n\n% plain: after a blank line"))
    assert stray and "does not follow a paragraph" in stray[0]
    _, stray = paragraphs(Text("example", "- item, only\n% plain: not indented\n- next"))
    assert stray and "indented" in stray[0]
    assert marker_problem("claim", "tests/test_claims.py::no_such_test")
    assert marker_problem("claim", "tests/no_such_file.py::test_x")
    assert marker_problem("claim", "test_claims.py")
    assert marker_problem("plain", "")
    assert marker_problem("claim", CLAIM.split("claim: ")[1]) is None
