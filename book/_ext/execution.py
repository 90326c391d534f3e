"""Whether a build runs the notebooks, chosen by the environment variable BOOK_EXECUTE.

Unset: as ``_config.yml`` says (executed, with a cache; an error in a cell fails the build).
``off``: the pages show the outputs committed in the notebooks, unexecuted. The test builds
(tests/book_build.py) use it: nbval already runs every notebook in a fresh kernel and fails
unless it prints exactly the committed outputs, so running them again in each of the five
test builds would only repeat that, at the cost of minutes.
"""

from __future__ import annotations

import os
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

CHOICES = ("", "off")


def _execution_mode(app: Sphinx, config: Config) -> None:
    choice = os.environ.get("BOOK_EXECUTE", "")
    if choice not in CHOICES:
        raise ValueError(f"BOOK_EXECUTE must be unset or 'off', got {choice!r}")
    if choice == "off":
        config.nb_execution_mode = "off"


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _execution_mode)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
