"""Layout conventions: the same derivative as other tools and books write it down.

This book, like JAX, PyTorch and autograd, puts output indices first
(``J.shape == F.shape + X.shape``). sympy puts the variable's indices first
(``D.shape == X.shape + F.shape``). The converters here are the only place that knows
the difference.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["input_first_to_output_first", "output_first_to_input_first", "from_sympy"]


def _move(T: np.ndarray, n_front: int, n_back: int) -> np.ndarray:
    if n_front + n_back != T.ndim or n_front < 0 or n_back < 0:
        raise ValueError(
            f"cannot split a tensor of shape {T.shape} into {n_front} leading and "
            f"{n_back} trailing axes"
        )
    order = tuple(range(n_front, T.ndim)) + tuple(range(n_front))
    return np.ascontiguousarray(T.transpose(order))


def input_first_to_output_first(T: ArrayLike, in_ndim: int) -> np.ndarray:
    """Move the first ``in_ndim`` axes (the variable's, sympy's order) to the back.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc.layouts import input_first_to_output_first
    >>> D = np.zeros((2, 3, 4, 5))       # X is 2x3, F is 4x5, variable first
    >>> input_first_to_output_first(D, in_ndim=2).shape
    (4, 5, 2, 3)
    """
    T_ = np.asarray(T)
    return _move(T_, in_ndim, T_.ndim - in_ndim)


def output_first_to_input_first(T: ArrayLike, in_ndim: int) -> np.ndarray:
    """Move the last ``in_ndim`` axes (the variable's) to the front: sympy's order.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc.layouts import output_first_to_input_first
    >>> output_first_to_input_first(np.zeros((4, 5, 2, 3)), in_ndim=2).shape
    (2, 3, 4, 5)
    """
    T_ = np.asarray(T)
    return _move(T_, T_.ndim - in_ndim, in_ndim)


def from_sympy(derivative: Any, values: Mapping[Any, ArrayLike], in_ndim: int = 2) -> np.ndarray:
    """Turn a sympy derivative (variable indices first) into a numpy tensor in the book's layout.

    Parameters
    ----------
    derivative : sympy expression
        What ``expr.diff(X)`` returned for a matrix expression: an array expression, an
        explicit array, a matrix (scalar f, gradient shaped like X) or a scalar.
    values : mapping
        A numeric value for every symbol in it (``MatrixSymbol`` -> array).
    in_ndim : int
        Number of the variable's axes (2 for a matrix variable).

    Returns
    -------
    numpy.ndarray
        Shape ``F.shape + X.shape``, float.

    Examples
    --------
    >>> import numpy as np, sympy as sp
    >>> from mdcalc.layouts import from_sympy
    >>> A = sp.MatrixSymbol("A", 2, 2); H = sp.MatrixSymbol("H", 2, 1)
    >>> W = sp.MatrixSymbol("W", 1, 3)
    >>> D = (A * H * W).diff(H)                 # sympy: shape (2, 1, 2, 3), H's indices first
    >>> J = from_sympy(D, {A: np.array([[1, 2], [3, 4]]), W: np.array([[5, 6, 7]])})
    >>> J.shape, float(J[1, 2, 0, 0])          # A[1, 0] * W[0, 2]
    ((2, 3, 2, 1), 21.0)
    """
    import sympy as sp

    subs = {symbol: sp.ImmutableMatrix(np.asarray(value)) for symbol, value in values.items()}
    expr = derivative.as_explicit() if hasattr(derivative, "as_explicit") else derivative
    if isinstance(expr, sp.MatrixBase) and in_ndim == 2:
        # A scalar f's derivative comes back as a matrix shaped like X: already the gradient.
        explicit = expr.xreplace(subs).doit()
        return np.array(explicit.tolist(), dtype=float)
    explicit = sp.Array(expr).subs(subs).doit() if not isinstance(expr, sp.Expr) else expr.subs(subs).doit()
    if isinstance(explicit, sp.Expr):  # a scalar, e.g. sympy's silent 0
        return np.asarray(float(explicit))
    arr = np.array(explicit.tolist(), dtype=float)
    return input_first_to_output_first(arr, in_ndim)
