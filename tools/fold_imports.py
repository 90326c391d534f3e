"""Two edits to the chapters, made by a script so that they can be made again after a merge:

    python tools/fold_imports.py            # every notebook of book/
    python tools/fold_imports.py book/10_x.ipynb ...

1. Fold each chapter's imports: the first cell a reader meets (after the Colab install cell,
   which the page removes) imports the book's machinery (``glue_math``, ``index_formula``,
   ...). A cell made of imports alone gets the ``hide-cell`` tag, as the anchors fold
   plumbing: folded on the web, left out on paper.
2. Remove the sentence "A worked solution follows each exercise (folded on the website, open
   in the instructor edition, left out of the student edition).": what is true of the
   solutions depends on the edition, so each edition says it (book/_ext/edition.py,
   ``SOLUTIONS_NOTE``), and the student edition says nothing of them.

Nothing else changes: a notebook is rewritten only when one of the two edits applies, in the
layout Jupyter writes (one-space indent, UTF-8, a final newline), which the script first
checks it would reproduce byte for byte. Outputs are untouched, so nbval still passes without
running the notebooks again. tests/test_notebooks_meta.py checks both edits on every notebook.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The sentence, wherever its lines break, with the space or line break before it.
SENTENCE = re.compile(r"[ \t]*\n?[ \t]*" + r"\s+".join(map(re.escape, (
    "A worked solution follows each exercise (folded on the website, open in the instructor "
    "edition, left out of the student edition).").split())))


def only_imports(source: str) -> bool:
    """True for Python code made of import statements alone (comments allowed)."""
    try:
        body = ast.parse(source).body
    except SyntaxError:  # IPython magics, or not Python
        return False
    return bool(body) and all(isinstance(node, ast.Import | ast.ImportFrom) for node in body)


def _text(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def _set_text(cell: dict[str, Any], text: str) -> None:
    cell["source"] = text.splitlines(keepends=True) if isinstance(cell["source"], list) else text


def _dump(notebook: dict[str, Any]) -> str:
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def edit(notebook: dict[str, Any]) -> list[str]:
    """Make the two edits in place; returns what was done."""
    done = []
    code = [c for c in notebook["cells"]
            if c["cell_type"] == "code" and "remove-cell" not in c["metadata"].get("tags", [])]
    if code and only_imports(_text(code[0])):
        tags = code[0]["metadata"].setdefault("tags", [])
        if "hide-cell" not in tags:
            tags.append("hide-cell")
            done.append("imports folded (hide-cell)")
    kept = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown" and SENTENCE.search(_text(cell)):
            text = SENTENCE.sub("", _text(cell))
            done.append("the sentence on worked solutions removed")
            if not text.strip():
                continue
            _set_text(cell, text)
        kept.append(cell)
    notebook["cells"] = kept
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to edit (default: every book/*.ipynb)")
    args = parser.parse_args()
    failed = False
    for path in args.notebooks or sorted((ROOT / "book").glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        notebook = json.loads(text)
        if _dump(notebook) != text:
            print(f"{path}: not in the layout Jupyter writes; left alone (open and save it in "
                  "JupyterLab, then run this again)", file=sys.stderr)
            failed = True
            continue
        done = edit(notebook)
        if done:
            path.write_text(_dump(notebook), encoding="utf-8")
        print(f"{path.name}: {'; '.join(done) or 'nothing to do'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
