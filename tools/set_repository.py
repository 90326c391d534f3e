"""Point the book at a repository: the one setting, and every place that must follow it.

    python tools/set_repository.py https://github.com/OWNER/REPO   # or: make repository URL=...
    python tools/set_repository.py                                  # only bring the rest in line

The setting is ``repository.url`` in _config.yml. The site's repository, Binder, Colab and
download buttons read it at build time; two things cannot, because they are read where
_config.yml is not: the install cell at the top of every notebook (on Colab, it installs
``mdcalc`` from the repository) and the ``git clone`` line of book/run_yourself.md. This
script writes the URL into those, changing nothing else in the files.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "_config.yml"
# In a notebook's JSON: the install line of its first code cell.
INSTALL = re.compile(r"(%pip install --quiet git\+)([^\s\"\\]+)")
# In Markdown pages: a `git clone` of the book.
CLONE = re.compile(r"(git clone )(https://\S+)")


def configured_url() -> str:
    return yaml.safe_load(CONFIG.read_text())["repository"]["url"]


def set_config_url(url: str) -> None:
    text = CONFIG.read_text()
    # Only the url line inside the repository block; comments and layout stay.
    new, count = re.subn(r"(?m)^(repository:\n(?:[ \t]+.*\n|[ \t]*#.*\n)*?[ \t]+url:[ \t]*)\S+",
                         lambda m: m[1] + url, text, count=1)
    if count != 1:
        raise SystemExit(f"no repository.url line found in {CONFIG}")
    CONFIG.write_text(new)
    assert configured_url() == url


def follow(url: str, root: Path = ROOT) -> list[Path]:
    """Write ``url`` into the notebooks' install lines and the pages' clone lines."""
    changed = []
    targets = [(p, INSTALL) for p in sorted((root / "book").glob("*.ipynb"))]
    targets += [(p, CLONE) for p in sorted((root / "book").glob("*.md"))]
    for path, pattern in targets:
        text = path.read_text(encoding="utf-8")
        new = pattern.sub(lambda m: m[1] + url, text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url", nargs="?", help="e.g. https://github.com/OWNER/REPO")
    args = parser.parse_args()
    if args.url:
        if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", args.url):
            sys.exit("the URL must look like https://github.com/OWNER/REPO (no trailing slash)")
        set_config_url(args.url)
    url = configured_url()
    changed = follow(url)
    print(f"repository.url is {url}; updated: "
          + (", ".join(p.relative_to(ROOT).as_posix() for p in changed) or "nothing"))


if __name__ == "__main__":
    main()
