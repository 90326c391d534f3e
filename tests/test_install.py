"""`mdcalc` outside the book, as the README says: installed with pip into a fresh virtual
environment, from a clone and from the repository's URL, where the README's examples run.

The README's commands are read from its section "Using `mdcalc` outside the book": a clone
(here, a copy of the files git would give, in a folder named as the clone's), then
``pip install ./FOLDER``, then the examples of the README's sections on mdcalc, run in that
environment alone (nothing of the book's environment is visible there), with each printed
verdict compared with what the README's comment says (``# correct: ...``). Then the
repository's URL form, ``pip install "mdcalc @ git+URL"``, against a git repository made from
the same files (``git+file://``), since the tests do not reach GitHub.

To stay fast (seconds, not a minute), the environment is made without pip and this
environment's pip installs into it (``pip --python``), without compiling .pyc files; what is
installed, and from where (the machine's pip configuration), is what the README's commands
install.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from book_build import ROOT

pytestmark = [pytest.mark.install,
              pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")]
README = (ROOT / "README.md").read_text(encoding="utf-8")
URL = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
EXAMPLE_SECTIONS = ("## Using `mdcalc` from a notebook", "### Second derivatives",
                    "## Deriving your own expression")


def section(heading: str) -> str:
    """The README's text under the heading that starts so, up to the next heading."""
    start = re.search(rf"^{re.escape(heading)}.*\n", README, flags=re.M).end()
    following = re.search(r"^#{2,3} ", README[start:], flags=re.M)
    return README[start:start + following.start()] if following else README[start:]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def readme_commands() -> list[str]:
    (commands,) = blocks(section("## Using `mdcalc` outside the book"), "bash")
    return [line.split("#")[0].strip() for line in commands.splitlines() if line.strip()]


# Runs the README's examples, recording what each print() call printed.
HARNESS = """
import builtins, io, json, sys
code, printed, show = sys.stdin.read(), [], builtins.print
def record(*args, **kwargs):
    kwargs.pop("file", None)
    buffer = io.StringIO()
    show(*args, file=buffer, **kwargs)
    printed.append(buffer.getvalue())
builtins.print = record
exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})
import mdcalc
show(json.dumps({"printed": printed, "mdcalc": mdcalc.__file__}))
"""


def run(*command: str | Path, **kwargs) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH would put the book's own mdcalc before the installed one.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, env=env,
                          **kwargs)


def checked(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def clone(to: Path) -> Path:
    """The files a clone of this repository gives (the working tree's, committed or not)."""
    files = checked(run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                        cwd=ROOT)).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, to / name)
    return to


def pip_install(venv: Path, *args: str, cwd: Path) -> None:
    checked(run(sys.executable, "-m", "pip", "--python", venv / "bin/python", "install",
                "--no-compile", "--disable-pip-version-check", "--quiet", *args, cwd=cwd))


def test_the_readme_installs_mdcalc_from_a_clone_and_its_examples_run(tmp_path: Path) -> None:
    commands = readme_commands()
    folder = URL.rsplit("/", 1)[1]
    assert commands == [f"git clone {URL}", f"pip install ./{folder}",
                        f'pip install "mdcalc @ git+{URL}"'], commands
    clone(tmp_path / folder)
    venv = tmp_path / "venv"
    checked(run(sys.executable, "-m", "venv", "--without-pip", venv))
    python = venv / "bin/python"
    assert run(python, "-c", "import numpy").returncode != 0  # a fresh environment

    pip_install(venv, f"./{folder}", cwd=tmp_path)  # as the README says, beside the clone
    metadata = json.loads(checked(run(python, "-c", (
        "import importlib.metadata as m, json; d = m.metadata('mdcalc'); print(json.dumps("
        "{'license': d['License-Expression'], 'requires': d.get_all('Requires-Dist')}))"),
        cwd=tmp_path)).stdout)
    assert metadata["license"] == "MIT", metadata
    assert {re.split(r"[<>=!~ ;\[]", r)[0] for r in metadata["requires"]} >= {
        "numpy", "sympy", "scipy"}, metadata

    code = "\n".join(block for heading in EXAMPLE_SECTIONS
                     for block in blocks(section(heading), "python"))
    assert "mdcalc.derive(" in code and "check_second_derivative" in code
    result = checked(run(python, "-c", HARNESS, input=code, cwd=tmp_path))
    ran = json.loads(result.stdout.splitlines()[-1])
    assert ran["mdcalc"].startswith(str(venv)), ran["mdcalc"]  # the installed copy
    # The i-th print() of the examples printed what its comment says (`# correct: ...`).
    calls = [line for line in code.splitlines() if line.lstrip().startswith("print(")]
    assert len(ran["printed"]) == len(calls), (calls, ran["printed"])
    said = 0
    for line, printed in zip(calls, ran["printed"], strict=True):
        comment = line.partition("#")[2].strip()
        verdict = comment.split(":")[0]
        if verdict in {"correct", "wrong"}:
            said += 1
            assert printed.startswith(verdict + ":"), (line, printed)
            for words in comment.split("...")[1:-1]:
                assert words.strip() in printed, (line, printed)
    assert said >= 5, calls

    # The repository's URL form, from a git repository of the same files (reinstalled over
    # the first install: the dependencies are the same ones, already there).
    repository = clone(tmp_path / "repository")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    for step in (["init", "--quiet"], ["add", "--all"], ["commit", "--quiet", "-m", "a copy"]):
        checked(run(*git, *step, cwd=repository))
    (command,) = [c for c in commands if "git+" in c]
    # file://localhost/...: pip reads "git+file:///..." as no URL at all.
    requirement = command.split('"')[1].replace(URL, f"file://localhost{repository}")
    pip_install(venv, "--force-reinstall", "--no-deps", requirement, cwd=tmp_path)
    result = checked(run(python, "-c", (
        "import numpy as np, mdcalc; A, W = np.eye(2), np.ones((2, 3)); "
        "print(mdcalc.check_derivative(lambda H: A @ H @ W, np.ones((2, 2)), "
        "mdcalc.kron_jacobian(A, W)).verdict, mdcalc.__file__)"), cwd=tmp_path))
    verdict, where = result.stdout.split()
    assert verdict == "correct" and where.startswith(str(venv)), result.stdout
