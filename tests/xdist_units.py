"""How pytest-xdist shares the tests out (`make test` runs on every core).

A plugin, loaded by ``-p xdist_units`` in pyproject.toml, so that it applies whatever paths
pytest is given (a conftest.py in tests/ is not read when only notebooks are named).

A work unit goes whole to one worker, and here a unit is a file: nbval must run a notebook's
cells in order, in one kernel, and the files that read the one survey of the site's pages
(tests/site_survey.py) form a single unit, so that each worker does not make the survey
again. (xdist's own ``--dist loadgroup`` did not keep a notebook's cells together here: its
workers marked no group, so every cell was a unit of its own.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

SAME_UNIT = {"test_accessibility.py": "tests/test_site.py"}


# Optional: pytest runs without xdist too (`-p no:xdist`), and then no one calls it.
@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return SAME_UNIT.get(Path(path).name, path)

    return ByFile(config, log)
