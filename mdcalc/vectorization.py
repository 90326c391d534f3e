"""Chapter 3, basis vectors and vec: the derivative as a (V d2) x (V d1) matrix.

``vec`` stacks columns (column-major, Fortran order), as Magnus and Neudecker do, so that
``vec(A X B) = (B^T ⊗ A) vec(X)``. numpy flattens rows by default; with row-major
flattening the same identity reads ``(A ⊗ B^T)`` instead.
"""

from __future__ import annotations

from math import isqrt, prod

import numpy as np
from numpy.typing import ArrayLike

from mdcalc._validation import (
    as_matrix,
    as_shape,
    as_vector,
    c_contiguous,
    check_size,
    shape_str,
)
from mdcalc.componentwise import check_factors

__all__ = [
    "vec",
    "unvec",
    "basis_matrix",
    "kron_jacobian",
    "tensor_to_matrix",
    "matrix_to_tensor",
    "vech",
    "unvech",
    "duplication_matrix",
    "elimination_matrix",
]


def vec(X: ArrayLike) -> np.ndarray:
    """Stack the columns of a matrix into one vector (column-major vectorisation).

    Exact: the entries are only moved.

    Parameters
    ----------
    X : array_like, shape (m, p)

    Returns
    -------
    numpy.ndarray, shape (m * p,)
        ``vec(X)[j + m * k] == X[j, k]``.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import vec
    >>> vec(np.array([[1, 2], [3, 4]]))
    array([1., 3., 2., 4.])
    """
    arr = as_matrix("X", X)
    check_size(arr.size, arr.itemsize, f"vec(X) ({arr.size:,} entries)")
    return arr.reshape(-1, order="F")


def unvec(x: ArrayLike, shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`vec`: refill a matrix of ``shape`` column by column.

    Exact: the entries are only moved.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import unvec
    >>> unvec(np.array([1, 3, 2, 4]), (2, 2))
    array([[1., 2.],
           [3., 4.]])
    """
    arr = as_vector("x", x)
    shape_ = as_shape("shape", shape, ndim=2)
    if prod(shape_) != arr.size:
        raise ValueError(
            f"cannot unvec a vector of length {arr.size} into shape {shape_}: "
            "the shape must be two numbers whose product is the length"
        )
    check_size(arr.size, arr.itemsize, f"the {shape_str(shape_)} matrix unvec(x)")
    return c_contiguous(arr.reshape(shape_, order="F"))


def basis_matrix(k: int, l: int, shape: tuple[int, int]) -> np.ndarray:
    """The single-entry matrix ``E_kl = e_k g_l^T``: a 1 at ``[k, l]``, zeros elsewhere.

    Exact (zeros and a one).

    Examples
    --------
    >>> from mdcalc import basis_matrix
    >>> basis_matrix(0, 2, (2, 3))
    array([[0., 0., 1.],
           [0., 0., 0.]])
    """
    m, p = as_shape("shape", shape, ndim=2)
    for name, index in (("k", k), ("l", l)):
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(index).__name__}")
    if not (0 <= k < m and 0 <= l < p):
        raise ValueError(f"index ({k}, {l}) is outside a matrix of shape {shape_str(shape)}")
    check_size(m * p, 8, f"the {m}x{p} single-entry matrix E_kl")
    E = np.zeros((m, p))
    E[k, l] = 1.0
    return E


def kron_jacobian(A: ArrayLike, W: ArrayLike) -> np.ndarray:
    """The vec-Jacobian of Z = A H W: ``d vec(Z) / d vec(H) = W^T ⊗ A``.

    Accuracy: each entry is one product ``W[k, l] * A[i, j]``, correctly rounded (exact for
    integers).

    Parameters
    ----------
    A : array_like, shape (V, V)
    W : array_like, shape (d1, d2)

    Returns
    -------
    numpy.ndarray, shape (V * d2, V * d1)
        C-contiguous; equal to ``np.kron(W.T, A)`` and to
        ``tensor_to_matrix(jacobian_tensor(A, W), (V, d2), (V, d1))``.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import kron_jacobian
    >>> A = np.array([[1, 2], [3, 4]])
    >>> W = np.array([[1, 10]])           # d1 = 1, d2 = 2: W^T is 2x1
    >>> kron_jacobian(A, W)
    array([[ 1.,  2.],
           [ 3.,  4.],
           [10., 20.],
           [30., 40.]])
    """
    A_, W_ = check_factors(A, W)
    (V, _), (d1, d2) = A_.shape, W_.shape
    dtype = np.result_type(A_, W_)
    check_size(V * d2 * V * d1, dtype.itemsize, f"the vec-Jacobian ({V * d2} x {V * d1})")
    # Block (l, k) is W[k, l] * A: one broadcast pass into a C-ordered buffer, whose
    # reshape to (d2 V, d1 V) is then free.
    out = np.empty((d2, V, d1, V), dtype=dtype)
    np.multiply(W_.T[:, None, :, None], A_[None, :, None, :], out=out)
    return out.reshape(d2 * V, d1 * V)


def _check_tensor_shapes(
    shape: tuple[int, ...], out_shape: tuple[int, ...], in_shape: tuple[int, ...]
) -> tuple[int, int]:
    out_shape, in_shape = as_shape("out_shape", out_shape), as_shape("in_shape", in_shape)
    if shape != out_shape + in_shape:
        raise ValueError(
            f"a tensor for an output of shape {out_shape} and an input of shape {in_shape} "
            f"must have shape {out_shape + in_shape} (output indices first), got {shape}"
        )
    return prod(out_shape), prod(in_shape)


def tensor_to_matrix(
    J: ArrayLike, out_shape: tuple[int, ...], in_shape: tuple[int, ...]
) -> np.ndarray:
    """Flatten a Jacobian tensor to the vec-Jacobian matrix (column-major vec on both sides).

    Exact: the entries are only moved.

    ``M[vec index of (i, l), vec index of (j, k)] = J[i, l, j, k]``, with the vec index of
    ``(i, l)`` in an ``r x s`` matrix being ``i + r * l``.

    Parameters
    ----------
    J : array_like, shape ``out_shape + in_shape``
    out_shape, in_shape : tuple of int
        Shapes of the function's output and input (matrices, vectors or scalars).

    Returns
    -------
    numpy.ndarray, shape (prod(out_shape), prod(in_shape))

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import jacobian_tensor, kron_jacobian, tensor_to_matrix
    >>> A, W = np.array([[1, 2], [3, 4]]), np.array([[1, 2, 3], [4, 5, 6]])
    >>> M = tensor_to_matrix(jacobian_tensor(A, W), (2, 3), (2, 2))
    >>> bool(np.array_equal(M, kron_jacobian(A, W)))
    True
    """
    arr = np.asarray(J)
    n_out, n_in = _check_tensor_shapes(arr.shape, out_shape, in_shape)
    check_size(arr.size, arr.itemsize, "the vec-Jacobian")
    return c_contiguous(arr.reshape((n_out, n_in), order="F"))


def matrix_to_tensor(
    M: ArrayLike, out_shape: tuple[int, ...], in_shape: tuple[int, ...]
) -> np.ndarray:
    """Inverse of :func:`tensor_to_matrix`: unfold a vec-Jacobian into the 4-index tensor.

    Exact: the entries are only moved.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import jacobian_tensor, kron_jacobian, matrix_to_tensor
    >>> A, W = np.array([[1, 2], [3, 4]]), np.array([[1, 2, 3], [4, 5, 6]])
    >>> T = matrix_to_tensor(kron_jacobian(A, W), (2, 3), (2, 2))
    >>> bool(np.array_equal(T, jacobian_tensor(A, W)))
    True
    """
    arr = as_jacobian_matrix(M, out_shape, in_shape)
    check_size(arr.size, arr.itemsize, "the Jacobian tensor")
    return c_contiguous(arr.reshape(tuple(out_shape) + tuple(in_shape), order="F"))


def as_jacobian_matrix(
    M: ArrayLike, out_shape: tuple[int, ...], in_shape: tuple[int, ...]
) -> np.ndarray:
    """Return ``M`` as an array after checking it is (prod(out_shape), prod(in_shape))."""
    arr = np.asarray(M)
    out_shape, in_shape = as_shape("out_shape", out_shape), as_shape("in_shape", in_shape)
    expected = (prod(out_shape), prod(in_shape))
    if arr.shape != expected:
        raise ValueError(
            f"a vec-Jacobian for an output of shape {tuple(out_shape)} and an input of shape "
            f"{tuple(in_shape)} must have shape {expected}, got {arr.shape}"
        )
    return arr


# --------------------------------------------------------------------------------------
# vech and its matrices (Magnus and Neudecker): the independent entries of a symmetric X
# --------------------------------------------------------------------------------------


def lower_entries(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the lower triangle (diagonal included), column by column.

    The order of :func:`vech`: ``(0, 0), (1, 0), ..., (n-1, 0), (1, 1), ...``.

    >>> rows, cols = lower_entries(3)
    >>> [(int(i), int(j)) for i, j in zip(rows, cols)]
    [(0, 0), (1, 0), (2, 0), (1, 1), (2, 1), (2, 2)]
    """
    # The upper triangle row by row, transposed, is the lower one column by column.
    upper_rows, upper_cols = np.triu_indices(n)
    return upper_cols, upper_rows


def vech(X: ArrayLike) -> np.ndarray:
    """The half-vectorisation: the lower triangle of a square X, diagonal included,
    stacked column by column (Magnus and Neudecker).

    Exact: the entries are only moved. The entries above the diagonal are not read, so
    for a symmetric X, ``vech(X)`` holds each independent entry once.

    Parameters
    ----------
    X : array_like, shape (n, n)

    Returns
    -------
    numpy.ndarray, shape (n (n + 1) / 2,)

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import vech
    >>> vech(np.array([[1, 2, 4], [2, 3, 5], [4, 5, 6]]))
    array([1., 2., 4., 3., 5., 6.])
    """
    X_ = as_matrix("X", X)
    if X_.shape[0] != X_.shape[1]:
        raise ValueError(
            f"vech needs a square matrix (it keeps the lower triangle), got X of shape "
            f"{shape_str(X_.shape)}"
        )
    return X_[lower_entries(X_.shape[0])]


def _triangular_side(length: int) -> int:
    """The n with n (n + 1) / 2 == length, or a ValueError naming the nearest lengths."""
    n = (isqrt(8 * length + 1) - 1) // 2  # the largest n with n (n + 1) / 2 <= length
    if n * (n + 1) // 2 != length:
        n += 1
        below, above = (n - 1) * n // 2, n * (n + 1) // 2
        raise ValueError(
            f"a vector of length {length} is not vech of a square matrix: vech of an n x n "
            f"matrix has n (n + 1) / 2 entries ({below} for {n - 1}x{n - 1}, {above} for "
            f"{n}x{n})"
        )
    return n


def unvech(v: ArrayLike) -> np.ndarray:
    """Inverse of :func:`vech` on symmetric matrices: the symmetric X with ``vech(X) == v``.

    Exact: the entries are only moved (each off-diagonal one to two places).

    Parameters
    ----------
    v : array_like, shape (n (n + 1) / 2,)

    Returns
    -------
    numpy.ndarray, shape (n, n), symmetric

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import unvech
    >>> unvech(np.array([1, 2, 4, 3, 5, 6]))
    array([[1., 2., 4.],
           [2., 3., 5.],
           [4., 5., 6.]])
    """
    v_ = as_vector("v", v)
    n = _triangular_side(v_.size)
    rows, cols = lower_entries(n)
    X = np.zeros((n, n), dtype=v_.dtype)
    X[rows, cols] = v_
    X[cols, rows] = v_
    return X


def duplication_matrix(n: int) -> np.ndarray:
    """The duplication matrix ``D_n``: ``D_n @ vech(X) == vec(X)`` for every symmetric X.

    Exact (zeros and ones). Shape ``(n², n (n + 1) / 2)``: column k of D_n is
    ``vec(E_ij + E_ji)`` for the k-th entry (i, j) of :func:`vech` (``vec(E_ii)`` on the
    diagonal). With :func:`elimination_matrix` ``L_n``: ``L_n D_n = I`` and
    ``D_n L_n vec(X) = vec(X)`` for symmetric X; ``D_n^T vec(G) = vech(G + G^T - diag G)``.

    Parameters
    ----------
    n : int
        The size of X, at least 1.

    Returns
    -------
    numpy.ndarray, shape (n * n, n * (n + 1) // 2)

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import duplication_matrix, vec, vech
    >>> duplication_matrix(2)
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    >>> X = np.array([[1.0, 2.0], [2.0, 3.0]])
    >>> bool(np.array_equal(duplication_matrix(2) @ vech(X), vec(X)))
    True
    """
    n = _matrix_size(n)
    m = n * (n + 1) // 2
    check_size(n * n * m, 8, f"the duplication matrix D_{n} ({n * n} x {m})")
    rows, cols = lower_entries(n)
    D = np.zeros((n * n, m))
    k = np.arange(m)
    D[rows + n * cols, k] = 1.0  # X[i, j] sits at i + n j in vec(X)
    D[cols + n * rows, k] = 1.0
    return D


def elimination_matrix(n: int) -> np.ndarray:
    """The elimination matrix ``L_n``: ``L_n @ vec(X) == vech(X)`` for every n x n X.

    Exact (zeros and ones). Shape ``(n (n + 1) / 2, n²)``: row k picks the k-th entry
    of :func:`vech` out of vec(X). ``L_n D_n = I`` (:func:`duplication_matrix`), and
    ``L_n^T vech(X) = vec(X)`` for a lower-triangular X.

    Parameters
    ----------
    n : int
        The size of X, at least 1.

    Returns
    -------
    numpy.ndarray, shape (n * (n + 1) // 2, n * n)

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import elimination_matrix, vec
    >>> elimination_matrix(2)
    array([[1., 0., 0., 0.],
           [0., 1., 0., 0.],
           [0., 0., 0., 1.]])
    >>> elimination_matrix(2) @ vec(np.array([[1, 2], [3, 4]]))
    array([1., 3., 4.])
    """
    n = _matrix_size(n)
    m = n * (n + 1) // 2
    check_size(n * n * m, 8, f"the elimination matrix L_{n} ({m} x {n * n})")
    rows, cols = lower_entries(n)
    L = np.zeros((m, n * n))
    L[np.arange(m), rows + n * cols] = 1.0
    return L


def _matrix_size(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int (the size of the n x n matrix), got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be at least 1 (the size of the n x n matrix), got {n}")
    return int(n)
