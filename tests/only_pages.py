"""`make test ONLY=book/03_basis_vectors_and_vec.ipynb`: one chapter (or a few pages), fast.

A plugin, loaded by ``-p only_pages`` in pyproject.toml (like xdist_units.py, so that it
applies whatever paths pytest is given). ``--only PAGE`` (repeatable; a notebook or Markdown
page of book/) keeps:

- the named notebooks under nbval;
- the tests parametrized for them (their ids name the file: the house rules of
  tests/test_notebooks_meta.py);
- the tests marked ``per_page``, whose survey of the editions (tests/site_survey.py) then
  visits the named pages only;

and deselects every other test. Without ``--only``, nothing changes.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--only", action="append", default=[], metavar="PAGE",
                     help="run only this page of book/ (a notebook or .md page): its notebook "
                          "under nbval, its house rules and its per-page browser checks")


def only_pages(config: pytest.Config) -> set[str]:
    """The pages named by --only, as the site names them ("book/03_x.html"); empty: all."""
    return {Path(page).with_suffix(".html").as_posix() for page in _named(config)}


def _named(config: pytest.Config) -> list[str]:
    root = config.rootpath
    named = []
    for page in config.getoption("only", default=[]):
        path = Path(page)
        path = (path if path.is_absolute() else Path.cwd() / path).resolve()
        if path.parent != root / "book" or path.suffix not in {".ipynb", ".md"} or (
                not path.is_file()):
            raise pytest.UsageError(f"--only {page}: not a page of the book (book/*.ipynb or "
                                    "book/*.md)")
        named.append(path.relative_to(root).as_posix())
    return named


def pytest_configure(config: pytest.Config) -> None:
    _named(config)  # refuse a misspelt page before anything runs


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    named = _named(config)
    if not named:
        return
    paths = {config.rootpath / page for page in named}
    names = {Path(page).name for page in named}
    keep, drop = [], []
    for item in items:
        parameters = item.nodeid.partition("[")[2]
        if (item.path in paths or item.get_closest_marker("per_page")
                or any(name in parameters for name in names)):
            keep.append(item)
        else:
            drop.append(item)
    config.hook.pytest_deselected(items=drop)
    items[:] = keep
