"""Chapter 2, component-wise: dZ/dH for Z = A H W as a 4-index tensor.

Index ``Z[i, l] = sum_{j, k} A[i, j] H[j, k] W[k, l]`` and differentiate one entry by one
entry of ``H``: only the term with the same ``j`` and ``k`` survives, so

    dZ[i, l] / dH[j, k] = A[i, j] W[k, l].
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from mdcalc._validation import as_matrix, check_size, shape_str

__all__ = ["jacobian_tensor", "check_factors"]


def check_factors(A: ArrayLike, W: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate the fixed factors of Z = A H W: A square (V x V), W any matrix (d1 x d2).

    Raises
    ------
    ValueError
        If either is not a finite 2-D matrix, or A is not square.
    """
    A_, W_ = as_matrix("A", A), as_matrix("W", W)
    if A_.shape[0] != A_.shape[1]:
        raise ValueError(f"A must be square (V x V), got A of shape {shape_str(A_.shape)}")
    return A_, W_


def jacobian_tensor(A: ArrayLike, W: ArrayLike) -> np.ndarray:
    """The derivative of Z = A H W with respect to H, as a 4-index tensor.

    Accuracy: each entry is one product ``A[i, j] * W[k, l]``, correctly rounded (exact for
    integers).

    Output indices come first, then input indices (as JAX, PyTorch and autograd lay it out):
    ``J[i, l, j, k] = dZ[i, l] / dH[j, k] = A[i, j] * W[k, l]``. It does not depend on H,
    because Z is linear in H.

    Parameters
    ----------
    A : array_like, shape (V, V)
        The left factor.
    W : array_like, shape (d1, d2)
        The right factor.

    Returns
    -------
    numpy.ndarray, shape (V, d2, V, d1)
        C-contiguous tensor ``J`` with ``J.shape == Z.shape + H.shape``.

    Raises
    ------
    ValueError
        If A is not square, or either input is not a finite 2-D matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import jacobian_tensor
    >>> A = np.array([[1, 2], [3, 4]])
    >>> W = np.array([[5, 6, 7]])          # d1 = 1, d2 = 3
    >>> J = jacobian_tensor(A, W)
    >>> J.shape                            # (V, d2, V, d1)
    (2, 3, 2, 1)
    >>> float(J[1, 2, 0, 0])               # A[1, 0] * W[0, 2] = 3 * 7
    21.0
    """
    A_, W_ = check_factors(A, W)
    (V, _), (d1, d2) = A_.shape, W_.shape
    dtype = np.result_type(A_, W_)
    check_size(V * d2 * V * d1, dtype.itemsize, f"the Jacobian tensor ({V}, {d2}, {V}, {d1})")
    # One broadcast pass into a C-ordered buffer (numpy would otherwise pick the layout).
    out = np.empty((V, d2, V, d1), dtype=dtype)
    return np.multiply(A_[:, None, :, None], W_.T[None, :, None, :], out=out)
