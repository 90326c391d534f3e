"""What every benchmark script shares: timing, the machine description, optional peers, tables.

Timing rules (one place): call once to warm up (imports, caches, JIT compilation), then time
``repeats`` further calls and quote the median. Functions compared with each other are timed
in turn (:func:`time_interleaved`), so that the noise of a shared machine hits both sides of a
ratio alike. A slow function is timed alone (:func:`time_call`) with fewer repeats (as many
as fit in ``budget`` seconds, at least one). A warm-up that runs past ``limit`` seconds is
abandoned and recorded as such instead of a number. Memory is measured in a separate,
untimed call (:func:`peak_memory`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import platform
import signal
import statistics
import subprocess
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PEERS_HINT = "pip install -r benchmarks/requirements.txt"
T = TypeVar("T")


class TimeLimitExceeded(Exception):
    """Raised inside a timed call that ran past its limit."""


@dataclass
class Timing:
    """Median of the timed calls (seconds), or None with a note saying why there is none."""

    median: float | None
    runs: int
    first: float | None  # the warm-up call, seconds (includes JIT compilation for JAX)
    note: str = ""

    def cell(self) -> str:
        """The median for a table: a number with a unit, or the reason there is none."""
        return fmt_seconds(self.median) if self.median is not None else self.note


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise TimeLimitExceeded


def _timed(fn: Callable[[], object], limit: float) -> float:
    """Seconds taken by one call of fn; raises TimeLimitExceeded after ``limit`` seconds."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def time_call(
    fn: Callable[[], T], repeats: int = 7, budget: float = 60.0, limit: float = 120.0
) -> tuple[Timing, T | None]:
    """Warm up once, then the median of up to ``repeats`` timed calls (see the module doc).

    Returns the timing and the value of the last call (None if the warm-up was abandoned),
    so that the result can be checked without one more call.
    """
    box: list[T] = []

    def call() -> None:
        box[:] = [fn()]

    try:
        first = _timed(call, limit)
    except TimeLimitExceeded:
        return Timing(None, 0, None, f"> {limit:.0f} s (stopped)"), None
    except MemoryError:
        return Timing(None, 0, None, "out of memory"), None
    runs = max(1, min(repeats, int(budget // max(first, 1e-9))))
    times = []
    for _ in range(runs):
        box.clear()  # let the previous result go before the next call allocates its own
        times.append(_timed(call, limit + first))
    return Timing(statistics.median(times), runs, first), box[0]


def time_interleaved(
    fns: dict[str, Callable[[], object]],
    repeats: int = 7,
    limit: float = 120.0,
    pause: float = 0.1,
) -> dict[str, Timing]:
    """Medians of functions timed in turn: round r calls each function once, in order.

    Side by side, a slow drift of a shared machine hits every function alike, so their
    ratios stay honest. Each function is warmed up first; one whose warm-up runs past
    ``limit`` seconds is left out of the rounds and recorded as such. Each timed call starts
    after ``pause`` seconds of rest: without it, the call that follows a JAX computation
    was measured up to 10x slower (XLA still at work after returning, probably; 50 ms of
    rest was enough).
    """
    result: dict[str, Timing] = {}
    first: dict[str, float] = {}
    for name, fn in fns.items():
        try:
            first[name] = _timed(fn, limit)
        except TimeLimitExceeded:
            result[name] = Timing(None, 0, None, f"> {limit:.0f} s (stopped)")
        except MemoryError:
            result[name] = Timing(None, 0, None, "out of memory")
    times: dict[str, list[float]] = {name: [] for name in first}
    for _ in range(repeats):
        for name in first:
            time.sleep(pause)
            times[name].append(_timed(fns[name], limit + first[name]))
    for name in first:
        result[name] = Timing(statistics.median(times[name]), repeats, first[name])
    return {name: result[name] for name in fns}


def peak_memory(fn: Callable[[], object]) -> int:
    """Peak bytes allocated through Python and numpy during one call (tracemalloc).

    Untimed: tracemalloc slows Python-heavy code several-fold. Memory that a library
    allocates on its own (JAX/XLA buffers) is invisible to it.
    """
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo in bytes (None where there is no /proc)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def fmt_bytes(n: float | None) -> str:
    """A size in MB or GB."""
    if n is None:
        return "n/a"
    return f"{n / 1e9:.3g} GB" if n >= 1e9 else f"{n / 1e6:.3g} MB"


def fmt_seconds(t: float | None) -> str:
    """A duration in the unit that suits it: 3.21 ms, 1.05 s."""
    if t is None:
        return "n/a"
    if t < 1e-3:
        return f"{t * 1e6:.0f} µs"
    if t < 1.0:
        return f"{t * 1e3:.3g} ms"
    return f"{t:.3g} s"


def rel_error(J: np.ndarray, closed: np.ndarray) -> float:
    """Largest error relative to the largest entry: ``max|J - C| / max|C|``.

    Shapes must agree exactly, so a peer returned in another layout cannot slip through.
    """
    import numpy as np

    if J.shape != closed.shape:
        raise ValueError(f"result has shape {J.shape}, the closed form {closed.shape}")
    return float(np.abs(J - closed).max() / np.abs(closed).max())


def optional_import(name: str) -> ModuleType | None:
    """Import a peer if it is installed; otherwise say so and return None."""
    try:
        return importlib.import_module(name)
    except ImportError:
        print(f"# skipped: {name} is not installed ({PEERS_HINT})")
        return None


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> str:
    try:
        import numpy as np

        config: Any = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:
        return "unknown"


def machine_basics() -> dict[str, str]:
    """Date, cores (as nproc counts them), CPU model and Python version; needs no packages."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": str(cores),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
    }


def _commit() -> str:
    """The repository's HEAD, flagged when mdcalc/ has uncommitted changes (read-only git)."""
    root = HERE.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, check=True,
                              capture_output=True, text=True).stdout.strip()
        diff = ["git", "diff", "--quiet", "HEAD", "--", "mdcalc"]
        dirty = subprocess.run(diff, cwd=root).returncode
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + uncommitted changes in mdcalc/" if dirty else "")


def machine() -> dict[str, str]:
    """:func:`machine_basics` and the versions that matter, for the header of every table."""
    info = machine_basics()
    info["commit"] = _commit()
    info["blas"] = _blas()
    for dist in ("numpy", "scipy", "mdcalc", "numdifftools", "jax", "jaxlib"):
        info[dist] = _version(dist)
    return info


def sympy_machine(sympy_version: str) -> dict[str, str]:
    """:func:`machine` with sympy's version and the load average at the start, printed as the
    header of the derive benchmarks (derive_bench.py, cookbook_bench.py)."""
    info = machine()
    info["sympy"] = sympy_version
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    info["load_before"] = f"{load:.1f}"
    print(header(info) + f", sympy {sympy_version}; load average {load:.1f} at the start")
    return info


def header(info: dict[str, str]) -> str:
    """One line describing the run, printed above the tables."""
    return (
        f"# {info['date']}; {info['nproc']} cores, {info['cpu']}; Python {info['python']}, "
        f"numpy {info['numpy']} ({info['blas']}), scipy {info['scipy']}, "
        f"numdifftools {info['numdifftools']}, jax {info['jax']}, mdcalc {info['mdcalc']} "
        f"at {info['commit']}"
    )


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def save(name: str, payload: dict[str, Any]) -> Path:
    """Write results/<name>.json (read by plot.py); returns the path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1, default=_jsonable) + "\n")
    return path


def _jsonable(obj: object) -> object:
    if isinstance(obj, Timing):
        return asdict(obj)
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    raise TypeError(f"cannot store {type(obj).__name__} as JSON")


def load(name: str) -> dict[str, Any] | None:
    """Read results/<name>.json, or None if that benchmark has not been saved yet."""
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None
