"""Input checks shared by every module: clear errors instead of wrong answers."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "as_matrix",
    "as_vector",
    "as_point",
    "c_contiguous",
    "evaluate",
    "shape_str",
    "is_sparse",
]


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


def _as_numeric_array(name: str, X: Any) -> np.ndarray:
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be a numeric array, got {type(X).__name__}") from exc
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must hold real or complex numbers, got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite entries (nan or inf)")
    return arr if np.issubdtype(arr.dtype, np.inexact) else arr.astype(float)


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
    """Return a point of differentiation: a finite real vector or matrix (1-D or 2-D)."""
    arr = _as_numeric_array(name, X)
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real: numeric differentiation perturbs it itself")
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be a vector or a matrix (1-D or 2-D), got shape {arr.shape}"
        )
    return arr.astype(float, copy=True)


def evaluate(f: Any, X: np.ndarray) -> np.ndarray:
    """Call ``f(X)`` and insist on an array (or numpy scalar) back."""
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    out = f(X)
    if isinstance(out, (np.ndarray, np.generic)) or (
        isinstance(out, (int, float, complex)) and not isinstance(out, bool)
    ):
        arr = np.asarray(out)
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"f must return numbers, got an array of dtype {arr.dtype}")
        return arr
    raise TypeError(
        f"f must return a numpy array (or a numpy scalar), got {type(out).__name__}"
    )
