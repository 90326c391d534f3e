"""Chapter 4, the total differential: the derivative as a linear map.

Z = A H W is linear in H, so Z(H + K) - Z(H) = A K W exactly: the derivative at any H is
the map ``K -> A K W`` itself. Its tensor (chapter 2) and its Kronecker matrix (chapter 3)
are two ways of writing this one map down; :class:`Derivative` holds all views together.
"""

from __future__ import annotations

from math import prod
from typing import Any
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from mdcalc._validation import (
    as_matrix,
    as_shape,
    check_size,
    is_sparse,
    refuse_masked,
    shape_str,
)
from mdcalc.componentwise import check_factors, jacobian_tensor
from mdcalc.vectorization import (
    as_jacobian_matrix,
    kron_jacobian,
    matrix_to_tensor,
    tensor_to_matrix,
)

__all__ = ["Derivative", "differential", "vjp"]

LinearMap = Callable[[np.ndarray], np.ndarray]


class Derivative:
    """The derivative of a function F at a point X: one linear map, four views.

    Parameters
    ----------
    out_shape, in_shape : tuple of int
        Shapes of F(X) and of X.
    jvp : callable
        ``K -> DF(X)[K]``, the directional derivative (Jacobian-vector product).
    vjp : callable, optional
        ``G -> DF(X)^T[G]``, the adjoint (vector-Jacobian product). Built from the
        matrix when not given.
    tensor, matrix : callable, optional
        Closed forms of the two array views. Built by applying ``jvp`` to every
        single-entry matrix ``E_jk`` when not given.
    check_shapes : bool
        Check the shape of K and G before calling ``jvp`` and ``vjp``; pass False when
        those check it themselves with a more specific message.

    Notes
    -----
    Accuracy: each view is as accurate as what it is built from; ``.matrix()`` built
    from ``jvp`` applies it to exact single-entry matrices, the conversions between
    tensor and matrix are exact, and ``.adjoint`` from the matrix is one product.
    ``.matrix()`` and ``.tensor()`` refuse (ValueError) a size that cannot fit in memory.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import Derivative
    >>> D = Derivative((2,), (2,), jvp=lambda k: 3 * k)
    >>> D(np.array([1.0, 2.0]))
    array([3., 6.])
    >>> D.matrix()
    array([[3., 0.],
           [0., 3.]])
    """

    def __init__(
        self,
        out_shape: tuple[int, ...],
        in_shape: tuple[int, ...],
        jvp: LinearMap,
        vjp: LinearMap | None = None,
        *,
        tensor: Callable[[], np.ndarray] | None = None,
        matrix: Callable[[], np.ndarray] | None = None,
        check_shapes: bool = True,
    ) -> None:
        self.out_shape = as_shape("out_shape", out_shape)
        self.in_shape = as_shape("in_shape", in_shape)
        for name, fn in (("jvp", jvp), ("vjp", vjp), ("tensor", tensor), ("matrix", matrix)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
        self._jvp, self._vjp = jvp, vjp
        self._tensor, self._matrix = tensor, matrix
        self._check_shapes = check_shapes

    @classmethod
    def from_matrix(
        cls, M: ArrayLike, out_shape: tuple[int, ...], in_shape: tuple[int, ...]
    ) -> Derivative:
        """The derivative whose vec-Jacobian (column-major) is ``M``."""
        out_shape, in_shape = as_shape("out_shape", out_shape), as_shape("in_shape", in_shape)
        M_ = np.array(as_jacobian_matrix(M, out_shape, in_shape))
        return cls(
            out_shape,
            in_shape,
            jvp=lambda K: (M_ @ K.reshape(-1, order="F")).reshape(out_shape, order="F"),
            vjp=lambda G: (M_.T @ G.reshape(-1, order="F")).reshape(in_shape, order="F"),
            matrix=lambda: M_.copy(),
        )

    @classmethod
    def from_tensor(
        cls, T: ArrayLike, out_shape: tuple[int, ...], in_shape: tuple[int, ...]
    ) -> Derivative:
        """The derivative whose tensor (output indices first) is ``T``."""
        return cls.from_matrix(tensor_to_matrix(T, out_shape, in_shape), out_shape, in_shape)

    def __call__(self, K: ArrayLike) -> np.ndarray:
        """The directional derivative DF(X)[K] (the JVP)."""
        return self._jvp(self._check("K", K, self.in_shape, "the input's"))

    def adjoint(self, G: ArrayLike) -> np.ndarray:
        """The adjoint DF(X)^T[G] (the VJP): ``<G, DF(X)[K]> == <DF(X)^T[G], K>``."""
        G_ = self._check("G", G, self.out_shape, "the output's")
        if self._vjp is not None:
            return self._vjp(G_)
        flat = self.matrix().T @ G_.reshape(-1, order="F")
        return flat.reshape(self.in_shape, order="F")

    def matrix(self) -> np.ndarray:
        """The vec-Jacobian, shape (prod(out_shape), prod(in_shape)), column-major vec."""
        if self._matrix is not None:
            return self._matrix()
        if self._tensor is not None:
            return tensor_to_matrix(self._tensor(), self.out_shape, self.in_shape)
        n_in, n_out = prod(self.in_shape), prod(self.out_shape)
        check_size(n_out * n_in, 8, f"the vec-Jacobian ({n_out} x {n_in})")
        M = np.empty((n_out, n_in))
        for col in range(n_in):  # column col is vec(DF[E]) for the col-th basis matrix E
            E = np.zeros(n_in)
            E[col] = 1.0
            image = self._image(self._jvp(E.reshape(self.in_shape, order="F")))
            if np.iscomplexobj(image) and not np.iscomplexobj(M):
                M = M.astype(complex)  # a complex derivative keeps its imaginary part
            M[:, col] = np.reshape(image, -1, order="F")
        return M

    def _image(self, value: Any) -> np.ndarray:
        """A value of jvp: a numeric array of the output's shape, else a clear error."""
        arr = np.asarray(value) if value is not None else np.asarray(None, dtype=object)
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
            raise TypeError(
                f"jvp must return a numeric array of the output's shape "
                f"{shape_str(self.out_shape)}, got {type(value).__name__}"
            )
        if arr.size != prod(self.out_shape):
            raise ValueError(
                f"jvp returned shape {shape_str(arr.shape)} for a direction of the input's "
                f"shape; DF(X)[K] must have the output's shape {shape_str(self.out_shape)}"
            )
        return arr

    def tensor(self) -> np.ndarray:
        """The Jacobian tensor, shape ``out_shape + in_shape`` (output indices first)."""
        if self._tensor is not None:
            return self._tensor()
        return matrix_to_tensor(self.matrix(), self.out_shape, self.in_shape)

    def __repr__(self) -> str:
        return (
            f"Derivative(from {shape_str(self.in_shape)} inputs "
            f"to {shape_str(self.out_shape)} outputs)"
        )

    def _check(self, name: str, K: ArrayLike, shape: tuple[int, ...], whose: str) -> np.ndarray:
        refuse_masked(name, K)
        arr = np.asarray(K)
        if self._check_shapes and arr.shape != shape:
            raise ValueError(
                f"{name} must have {whose} shape {shape_str(shape)}, "
                f"got {shape_str(arr.shape)}"
            )
        return arr


def differential(A: ArrayLike, W: ArrayLike) -> Derivative:
    """The derivative of Z = A H W with respect to H: the linear map ``K -> A K W``.

    Accuracy: ``D(K)`` is two matrix products, with their rounding (about eps |A| |K| |W|
    per entry); ``.tensor()`` and ``.matrix()`` are one product per entry.

    Because Z is linear in H, the derivative is the same at every H and equals the map
    itself. The result is callable on a V x d1 matrix K and also offers the other views:
    ``.tensor()`` (:func:`jacobian_tensor`), ``.matrix()`` (:func:`kron_jacobian`) and
    ``.adjoint(G)`` (:func:`vjp`).

    Parameters
    ----------
    A : array_like, shape (V, V)
    W : array_like, shape (d1, d2)

    Returns
    -------
    Derivative
        From V x d1 inputs to V x d2 outputs.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import differential
    >>> A = np.array([[1, 2], [3, 4]])
    >>> W = np.array([[1, 0, 2]])          # d1 = 1, d2 = 3
    >>> DZ = differential(A, W)
    >>> DZ(np.array([[1], [1]]))           # A K W
    array([[ 3.,  0.,  6.],
           [ 7.,  0., 14.]])
    >>> DZ(np.ones((3, 1)))
    Traceback (most recent call last):
    ...
    ValueError: A is 2x2 but K has 3 rows
    """
    A_, W_ = check_factors(A, W)
    V, (d1, d2) = A_.shape[0], W_.shape

    def jvp(K: np.ndarray) -> np.ndarray:
        return A_ @ _check_middle("K", K, A_, W_, rows_side="A", cols_side="W") @ W_

    return Derivative(
        (V, d2),
        (V, d1),
        jvp=jvp,
        vjp=lambda G: vjp(A_, W_, G),
        tensor=lambda: jacobian_tensor(A_, W_),
        matrix=lambda: kron_jacobian(A_, W_),
        check_shapes=False,
    )


def vjp(A: Any, W: ArrayLike, G: ArrayLike) -> np.ndarray:
    """The backward pass of Z = A H W: ``G -> A^T G W^T``, where G = dL/dZ.

    Accuracy: two matrix products, with their rounding (about eps |A| |G| |W| per entry).

    This is the adjoint of :func:`differential`: for every K,
    ``sum(G * (A @ K @ W)) == sum(vjp(A, W, G) * K)``. It gives dL/dH for any scalar
    loss L without ever building the (V d2) x (V d1) Jacobian. ``A`` may be a
    ``scipy.sparse`` matrix or array (the normalised adjacency of a graph convolution).

    Parameters
    ----------
    A : array_like or scipy.sparse matrix, shape (V, V)
    W : array_like, shape (d1, d2)
    G : array_like, shape (V, d2)

    Returns
    -------
    numpy.ndarray, shape (V, d1)

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import vjp
    >>> A = np.array([[1, 2], [3, 4]])
    >>> W = np.array([[1, 0, 2]])
    >>> vjp(A, W, np.ones((2, 3)))        # A^T G W^T
    array([[12.],
           [18.]])
    """
    W_ = as_matrix("W", W)
    if is_sparse(A):
        if len(A.shape) != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be square (V x V), got A of shape {shape_str(A.shape)}")
        if not np.all(np.isfinite(A.data)):
            raise ValueError("A has non-finite entries (nan or inf)")
        A_ = A
    else:
        A_, W_ = check_factors(A, W_)
    G_ = _check_middle("G", G, A_, W_.T, rows_side="A", cols_side="W^T")
    return np.asarray(A_.T @ G_) @ W_.T


def _check_middle(
    name: str, M: ArrayLike, left: Any, right: np.ndarray, *, rows_side: str, cols_side: str
) -> np.ndarray:
    """Check that ``left @ M @ right`` is defined, with an error naming both shapes."""
    M_ = as_matrix(name, M)
    if M_.shape[0] != left.shape[1]:
        raise ValueError(
            f"{rows_side} is {shape_str(left.shape)} but {name} has {M_.shape[0]} rows"
        )
    if M_.shape[1] != right.shape[0]:
        raise ValueError(
            f"{cols_side} is {shape_str(right.shape)} but {name} has {M_.shape[1]} columns "
            f"({name} must be {left.shape[1]}x{right.shape[0]})"
        )
    return M_
