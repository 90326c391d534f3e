"""Point the book at a repository: the one setting, and every place that must follow it.

    python tools/set_repository.py https://github.com/OWNER/REPO   # or: make repository URL=...
    python tools/set_repository.py                                  # only bring the rest in line

The setting is ``repository.url`` in _config.yml. The site's repository, Binder, Colab and
download buttons read it at build time; two things cannot, because they are read where
_config.yml is not: the install cell at the top of every notebook (on Colab, it installs
``mdcalc`` from the repository), and the commands of book/run_yourself.md and README.md
(``git clone URL`` and the folder it makes, ``cd NAME`` or ``./NAME``, and
``pip install "mdcalc @ git+URL"``). This script writes the URL into those, changing
nothing else in the files.

GitHub's clone URL (ending in ``.git``), a trailing slash and the SSH form
(``git@github.com:OWNER/REPO.git``) are accepted and written as https://github.com/OWNER/REPO;
anything else is refused, saying what is expected.
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
# In Markdown pages and the README: a `git clone` of the book, and pip installing from it.
CLONE = re.compile(r"(git clone )(https://\S+)")
PIP_GIT = re.compile(r"(mdcalc @ git\+)(https://[^\s\"']+)")
GITHUB = re.compile(r"(?:https://github\.com/|git@github\.com:)(?P<owner>[\w.-]+)/"
                    r"(?P<repo>[\w.-]+?)(?:\.git)?/?")


def normalise(url: str) -> str:
    """https://github.com/OWNER/REPO, from that or from GitHub's clone URLs (``.git``, SSH)."""
    match = GITHUB.fullmatch(url.strip())
    if not match or match["repo"] in {".", ".."}:
        raise ValueError(f"{url!r} is not a GitHub repository: give its address, "
                         "https://github.com/OWNER/REPO")
    return f"https://github.com/{match['owner']}/{match['repo']}"


def folder(url: str) -> str:
    """The folder `git clone URL` makes."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def follow_page(text: str, url: str) -> str:
    """A Markdown page's clone and install commands pointed at ``url``, with the folder the
    clone makes (``cd NAME``, ``./NAME``) renamed to match."""
    for old in {m[2] for m in CLONE.finditer(text)} | {m[2] for m in PIP_GIT.finditer(text)}:
        if folder(old) != folder(url):
            text = re.sub(rf"(?<=\bcd )({re.escape(folder(old))})\b", folder(url), text)
            text = re.sub(rf"(?<=\./)({re.escape(folder(old))})\b", folder(url), text)
    text = CLONE.sub(lambda m: m[1] + url, text)
    return PIP_GIT.sub(lambda m: m[1] + url, text)


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
    """Write ``url`` into the notebooks' install lines and the pages' commands."""
    changed = []
    for path in sorted((root / "book").glob("*.ipynb")) + sorted((root / "book").glob("*.md")) + [
            root / "README.md"]:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            new = INSTALL.sub(lambda m: m[1] + url, text)
        else:
            new = follow_page(text, url)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url", nargs="?", help="e.g. https://github.com/OWNER/REPO")
    args = parser.parse_args()
    if args.url:
        try:
            url = normalise(args.url)
        except ValueError as error:
            sys.exit(f"make repository: {error}")
        set_config_url(url)
    url = configured_url()
    changed = follow(url)
    print(f"repository.url is {url}; updated: "
          + (", ".join(p.relative_to(ROOT).as_posix() for p in changed) or "nothing"))


if __name__ == "__main__":
    main()
