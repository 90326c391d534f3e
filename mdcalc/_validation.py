"""Input checks shared by every module: clear errors instead of wrong answers."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "as_matrix",
    "as_vector",
    "as_point",
    "as_shape",
    "as_count",
    "all_finite",
    "c_contiguous",
    "check_size",
    "evaluate",
    "memory_limit",
    "refuse_masked",
    "shape_str",
    "is_sparse",
    "MEMORY_LIMIT",
]

# Largest array (or batch of work) mdcalc allocates, in bytes. None: half of the memory
# the operating system reports as available when the request is made (8 GiB if unknown),
# or half of what the process may still add to its address space (RLIMIT_AS), if less.
MEMORY_LIMIT: int | None = None
# Finiteness is checked in blocks of at most this many entries (no mask as large as X).
_FINITE_BLOCK = 1 << 20


def shape_str(shape: tuple[int, ...]) -> str:
    """Write a shape the way the book does: ``(3, 4)`` becomes ``3x4``."""
    return "x".join(str(n) for n in shape) if shape else "scalar"


def c_contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` in C order, copied only if needed (unlike np.ascontiguousarray, 0-d stays 0-d)."""
    return np.asarray(a, order="C")


def is_sparse(X: Any) -> bool:
    """True for a scipy.sparse matrix or array (scipy is imported only if it is loaded)."""
    import sys

    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(X)


def memory_limit() -> int:
    """The byte limit of one allocation: :data:`MEMORY_LIMIT`, or half the available memory
    (half of what the address-space limit ``RLIMIT_AS`` still allows, if that is less)."""
    if MEMORY_LIMIT is not None:
        return int(MEMORY_LIMIT)
    return min(_available_memory(), _address_space_left()) // 2


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def _address_space_left() -> int:
    """What RLIMIT_AS lets this process still map (unbounded: a very large number)."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit == resource.RLIM_INFINITY:
            return 2**62
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return max(0, limit - int(line.split()[1]) * 1024)
    except (ImportError, OSError, ValueError):
        pass
    return 2**62


def _bytes_str(n: int) -> str:
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.3g} {unit} ({n:,} bytes)"
    return f"{n:,} bytes"


def check_size(n_items: int, itemsize: int, what: str) -> None:
    """Refuse, before allocating, an array of ``n_items`` entries that cannot fit in memory."""
    need, limit = int(n_items) * int(itemsize), memory_limit()
    if need > limit:
        raise ValueError(
            f"{what} would take {_bytes_str(need)}, more than the {_bytes_str(limit)} "
            "mdcalc allows itself (half the available memory, or mdcalc._validation."
            "MEMORY_LIMIT); use a smaller problem, or a matrix-free view (a linear map "
            "K -> DF(X)[K], mdcalc.vjp, check_derivative) instead"
        )


def all_finite(arr: np.ndarray) -> bool:
    """Whether every entry of ``arr`` is finite, with no mask as large as ``arr``: axes of
    stride 0 (a broadcast view repeats its data) are checked once, the rest in blocks."""
    if not np.issubdtype(arr.dtype, np.inexact):
        return True
    if arr.ndim:  # a broadcast axis holds one value, repeated: look at it once
        arr = arr[tuple(slice(0, 1) if s == 0 else slice(None) for s in arr.strides)]
    return all(bool(np.all(np.isfinite(block))) for block in _blocks(arr, _FINITE_BLOCK))


def _blocks(arr: np.ndarray, size: int) -> Any:
    """Sub-arrays of ``arr`` of about ``size`` entries at most, covering it (views)."""
    if arr.size <= size or arr.ndim == 0:
        yield arr
        return
    per = arr.size // arr.shape[0]
    if per <= size:
        step = max(1, size // max(per, 1))
        for start in range(0, arr.shape[0], step):
            yield arr[start:start + step]
    else:
        for row in arr:
            yield from _blocks(row, size)


def refuse_masked(name: str, X: Any) -> None:
    """A masked array's mask would be silently ignored by numpy's asarray: refuse it."""
    if isinstance(X, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array, whose mask mdcalc would ignore; pass "
            f"{name}.filled(value) or a plain array without the masked entries"
        )


def _as_numeric_array(name: str, X: Any) -> np.ndarray:
    refuse_masked(name, X)
    if is_sparse(X):
        raise TypeError(f"{name} is a scipy.sparse matrix here; pass {name}.toarray()")
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be a numeric array, got {type(X).__name__}") from exc
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must hold real or complex numbers, got dtype {arr.dtype}")
    if not all_finite(arr):
        raise ValueError(f"{name} has non-finite entries (nan or inf)")
    if np.issubdtype(arr.dtype, np.inexact):
        return arr
    check_size(arr.size, 8, f"{name} as floating-point numbers ({arr.size:,} entries)")
    return arr.astype(float)


def as_matrix(name: str, X: Any) -> np.ndarray:
    """Return ``X`` as a finite 2-D float or complex array, or raise naming ``name``."""
    arr = _as_numeric_array(name, X)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D matrix, got an array with {arr.ndim} dimension(s) "
            f"of shape {arr.shape}"
        )
    return arr


def as_vector(name: str, x: Any) -> np.ndarray:
    """Return ``x`` as a finite 1-D float or complex array, or raise naming ``name``."""
    arr = _as_numeric_array(name, x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector, got shape {arr.shape}")
    return arr


def as_point(name: str, X: Any) -> np.ndarray:
    """Return a point of differentiation: a finite, non-empty real vector or matrix (a copy)."""
    arr = _as_numeric_array(name, X)
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real: numeric differentiation perturbs it itself")
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be a vector or a matrix (1-D or 2-D), got shape {arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}): there is nothing to perturb")
    check_size(arr.size, 8, f"a copy of {name} ({shape_str(arr.shape)})")
    return arr.astype(float, copy=True)


def as_shape(name: str, shape: Any, ndim: int | None = None) -> tuple[int, ...]:
    """Return ``shape`` as a tuple of non-negative ints (a 0-tuple is a scalar), or raise."""
    if isinstance(shape, (int, np.integer, float, str, bytes)) or not hasattr(shape, "__iter__"):
        raise ValueError(f"{name} must be a tuple of ints, got {shape!r}")
    items = list(shape)
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in items):
        raise ValueError(f"{name} must be a tuple of ints, got {shape!r}")
    if any(n < 0 for n in items):
        raise ValueError(f"{name} must be a tuple of non-negative ints, got {shape!r}")
    if ndim is not None and len(items) != ndim:
        raise ValueError(f"{name} must have {ndim} entries, got {shape!r}")
    return tuple(int(n) for n in items)


def as_count(name: str, n: Any, low: int, high: int) -> int:
    """Return ``n`` as an int in [low, high], or raise naming ``name``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(n).__name__}")
    if not low <= n <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {n}")
    return int(n)


def evaluate(
    f: Callable[..., Any], X: np.ndarray, shape: tuple[int, ...] | None = None,
    owned: bool = False,
) -> np.ndarray:
    """Call ``f`` on a copy of ``X`` and insist on a numeric array (of ``shape``, if given).

    f gets a copy so that a function that modifies its argument in place cannot corrupt
    the caller's point. With ``owned``, the caller gives up X (a temporary stack it will
    not read again) and reads the result at once: neither is copied (f may still modify
    X, or return a view of it or of a cache of its own).
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    out = f(X if owned else X.copy())
    if isinstance(out, np.ma.MaskedArray):
        raise TypeError("f returned a masked array, whose mask mdcalc would ignore")
    if isinstance(out, (np.ndarray, np.generic)) or (
        isinstance(out, (int, float, complex)) and not isinstance(out, bool)
    ):
        # a copy, unless owned: f may return (a view of) its argument or a cache
        arr = np.asarray(out) if owned else np.array(out)
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"f must return numbers, got an array of dtype {arr.dtype}")
        if shape is not None and arr.shape != shape:
            raise ValueError(
                f"f returned shape {arr.shape} at one point and {shape} at another: "
                "mdcalc differentiates functions whose output has a fixed shape"
            )
        return arr
    raise TypeError(
        f"f must return a numpy array (or a numpy scalar), got {type(out).__name__}"
    )
