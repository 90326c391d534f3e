"""Setting up explains itself: the Makefile's targets and tools/venv.sh, walked as a newcomer
would (an old Python, a missing venv module, a .venv left by another Python), with stand-in
Pythons so that nothing is downloaded; and kernels start without the TCP warning."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from book_build import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def fake_python(path: Path, version: str, prefix: str, venv_works: bool = True) -> Path:
    """A stand-in for a Python: answers tools/venv.sh's identity question, makes a "venv"
    holding a copy of itself, and takes `-m pip install` as done."""
    make_venv = ('mkdir -p "$3/bin" && cp "$0" "$3/bin/python"' if venv_works else
                 'echo "The virtual environment was not created successfully because'
                 ' ensurepip is not available." >&2; mkdir -p "$3"; exit 1')
    path.write_text(f"""#!/bin/sh
case "$1 $2" in
    "-c "*) echo "{version} {prefix}" ;;
    "-m venv") {make_venv} ;;
    "-m pip") exit 0 ;;
    *) exit 2 ;;
esac
""")
    path.chmod(0o755)
    return path


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A copy of what `make venv` reads, so that the tests never touch the real .venv."""
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "tools", tmp_path / "tools")
    return tmp_path


def test_help_lists_every_target() -> None:
    result = make("help")
    assert result.returncode == 0, result.stderr
    for target in ("book", "test", "check", "handout", "pdf", "lab", "repository", "venv",
                   "clean", "distclean"):
        assert f"make {target}" in result.stdout, target
    assert "make test ONLY=book/" in result.stdout  # one chapter and its pages


def test_check_and_one_chapter_run_what_the_readme_says() -> None:
    """`make check` leaves out the tests marked site and install; `make test ONLY=...` hands
    the pages to pytest's --only (tests/only_pages.py)."""
    check = make("-n", "check", "VENV=/v").stdout.splitlines()[-1]
    assert check == '/v/bin/python -m pytest -n auto -m "not site and not install"', check
    one = make("-n", "test", "VENV=/v", "ONLY=book/a.ipynb book/b.md").stdout.splitlines()[-1]
    assert one.endswith("pytest -n auto --only book/a.ipynb --only book/b.md"), one
    readme = (ROOT / "README.md").read_text()
    assert "make test ONLY=book/03_basis_vectors_and_vec.ipynb" in readme
    assert "make check" in readme


def test_clean_keeps_the_virtual_environment_and_distclean_removes_it() -> None:
    clean = make("-n", "clean").stdout
    assert "_build" in clean and ".venv" not in clean
    assert "rm -rf .venv" in make("-n", "distclean").stdout


def test_an_old_python_is_refused_with_a_clear_message(sandbox: Path) -> None:
    old = fake_python(sandbox / "python3.10", "3.10.12", "/usr")
    result = make("venv", f"PYTHON={old}", cwd=sandbox)
    assert result.returncode != 0
    assert "needs Python 3.11 or newer" in result.stderr and "3.10.12" in result.stderr
    assert not (sandbox / ".venv").exists()


def test_a_missing_python_is_named(sandbox: Path) -> None:
    result = make("venv", "PYTHON=python3.99-not-here", cwd=sandbox)
    assert result.returncode != 0
    assert "no 'python3.99-not-here' found" in result.stderr


def test_a_missing_venv_module_names_the_debian_package(sandbox: Path) -> None:
    python = fake_python(sandbox / "python3", "3.11.2", "/usr", venv_works=False)
    result = make("venv", f"PYTHON={python}", cwd=sandbox)
    assert result.returncode != 0
    assert "apt-get install python3-venv" in result.stderr
    assert not (sandbox / ".venv").exists()  # no half-made environment left behind


def test_a_venv_made_by_another_python_is_made_again(sandbox: Path) -> None:
    first = fake_python(sandbox / "python3.11", "3.11.2", "/usr")
    assert make("venv", f"PYTHON={first}", cwd=sandbox).returncode == 0
    config = sandbox / ".venv/etc/ipython/ipython_kernel_config.py"
    assert config.is_file()  # every kernel of the venv gets the settings
    (sandbox / ".venv/left-by-the-old-one").touch()
    assert "Nothing to be done" in make("venv", f"PYTHON={first}", cwd=sandbox).stdout

    second = fake_python(sandbox / "python3.12", "3.12.1", "/opt/python3.12")
    result = make("venv", f"PYTHON={second}", cwd=sandbox)
    assert result.returncode == 0, result.stderr
    assert "made by another Python (3.11.2 /usr)" in result.stdout
    assert not (sandbox / ".venv/left-by-the-old-one").exists()
    assert config.is_file()


def test_pip_shows_its_progress() -> None:
    script = (ROOT / "tools/venv.sh").read_text()
    install = next(line for line in script.splitlines() if "pip install" in line)
    assert "--quiet" not in install and "-q " not in install
    assert "--progress-bar on" in install


def test_a_kernel_starts_without_the_tcp_warning(tmp_path: Path) -> None:
    """Start a kernel of this environment as jupyter-cache and nbval do (TCP, no CurveZMQ
    keys), and read everything it prints until it is ready."""
    config = Path(sys.prefix) / "etc/ipython/ipython_kernel_config.py"
    if not config.is_file():
        pytest.fail(f"{config} is missing: make the environment with `make venv`")
    from jupyter_client.connect import write_connection_file

    connection, _ = write_connection_file(str(tmp_path / "kernel.json"), transport="tcp",
                                          ip="127.0.0.1")
    kernel = subprocess.Popen([sys.executable, "-m", "ipykernel_launcher", "-f", connection],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              cwd=tmp_path, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    printed = []
    try:
        for line in kernel.stdout:  # the kernel prints this last line once it is listening
            printed.append(line)
            if "--existing" in line:
                break
    finally:
        kernel.terminate()
        kernel.wait(timeout=30)
    text = "".join(printed)
    assert "--existing" in text, text
    assert "without encryption" not in text, text
