"""Graph-convolution helpers: propagation matrices, neighbourhoods, operation counts, and
the loss of one layer with its gradient and curvature, matrix-free.

The backpropagation chapter differentiates ``Z = Â H W`` on graphs far too large for the
Jacobian. These helpers build the graphs and propagation matrices it uses, cut out a
connected neighbourhood for a dense sub-problem, and count the multiply-adds of the
products that a backward pass really performs (recorded from the sparse operand itself, so
that the count follows the code's bracketing, not the one written on paper).

The second-derivatives chapter uses the loss of a layer, ``L(H) = ½‖tanh(Â H W) - Y‖²_F``:
:func:`gcn_loss`, :func:`gcn_gradient`, :func:`gcn_hvp` (the full or the Gauss-Newton
Hessian-vector product) and :func:`gauss_newton_step` (conjugate gradients on the damped
Gauss-Newton system). Each costs a few products with the sparse ``Â``; none forms a
Hessian, whose ``(V d1)²`` entries would not fit in memory on a large graph.

scipy is imported only when a function here needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import numpy as np

from mdcalc._validation import as_matrix, as_shape, check_size, is_sparse, shape_str

__all__ = [
    "GaussNewtonStep",
    "gauss_newton_step",
    "gcn_gradient",
    "gcn_hvp",
    "gcn_loss",
    "matmul_multiply_adds",
    "neighbourhood",
    "normalised_adjacency",
    "random_graph",
    "record_sparse_products",
]


def _sparse() -> Any:
    import scipy.sparse as sparse  # type: ignore[import-untyped]

    return sparse


def _square_adjacency(A: Any) -> Any:
    sparse = _sparse()
    if not (sparse.issparse(A) or isinstance(A, np.ndarray)):
        raise TypeError(
            f"A must be a numpy array or a scipy.sparse matrix, got {type(A).__name__}"
        )
    if len(A.shape) != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be a square adjacency matrix, got shape {A.shape}")
    dtype = np.dtype(A.dtype)
    if dtype.kind == "b" or not np.issubdtype(dtype, np.number):
        raise TypeError(f"A must hold real numbers (edge weights), got dtype {dtype}")
    if np.issubdtype(dtype, np.complexfloating):
        raise TypeError(
            f"A must hold real edge weights, got dtype {dtype}: a complex weight has no "
            "place in a degree (pass A.real, or abs(A), if that is what you mean)"
        )
    A_ = sparse.csr_array(A, dtype=float)
    if A_.nnz and (not np.all(np.isfinite(A_.data)) or np.any(A_.data < 0)):
        raise ValueError("A must have finite, nonnegative entries (an adjacency matrix)")
    return A_


def normalised_adjacency(
    A: Any, kind: Literal["symmetric", "row"] = "symmetric"
) -> Any:
    """The propagation matrix of a graph convolution, as a sparse CSR array.

    Parameters
    ----------
    A : numpy.ndarray or scipy.sparse matrix, shape (V, V)
        Adjacency matrix (nonnegative). Self-loops are added: ``Ã = A + I``.
    kind : {"symmetric", "row"}
        ``"symmetric"``: ``D̃^{-1/2} Ã D̃^{-1/2}`` (Kipf and Welling), symmetric when A is.
        ``"row"``: ``D̃^{-1} Ã`` (the mean over each node's neighbourhood), whose rows sum
        to 1; for a symmetric A it is symmetric exactly when every edge joins two nodes of
        equal degree (each connected component is regular: a triangle plus a separate edge
        is, a path of three nodes is not).
        ``D̃`` is the diagonal matrix of the row sums of ``Ã``.

    Returns
    -------
    scipy.sparse.csr_array, shape (V, V)

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc.gcn import normalised_adjacency
    >>> path = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]])   # degrees 1, 2, 1
    >>> P = normalised_adjacency(path, kind="row").toarray()
    >>> P.sum(axis=1)
    array([1., 1., 1.])
    >>> bool(np.allclose(P, P.T))
    False
    >>> S = normalised_adjacency(path).toarray()
    >>> bool(np.allclose(S, S.T))
    True
    """
    sparse = _sparse()
    if kind not in ("symmetric", "row"):
        raise ValueError(f"kind must be 'symmetric' or 'row', got {kind!r}")
    A_ = _square_adjacency(A)
    n = A_.shape[0]
    # Both forms are unchanged when A + I is divided by a constant c: working with
    # (A + I) / c, c the largest weight (at least 1), no degree can overflow.
    c = max(1.0, float(A_.data.max(initial=0.0)))
    A_tilde = A_ / c + sparse.eye_array(n, format="csr") / c
    degree = np.asarray(A_tilde.sum(axis=1)).ravel()
    if kind == "row":
        return (sparse.diags_array(1 / degree) @ A_tilde).tocsr()
    D_inv_sqrt = sparse.diags_array(1 / np.sqrt(degree))
    return (D_inv_sqrt @ A_tilde @ D_inv_sqrt).tocsr()


def random_graph(V: int, neighbours: int, seed: int) -> Any:
    """A random undirected graph, about ``neighbours`` edges per node, as a sparse array.

    ``V * neighbours // 2`` node pairs are drawn uniformly (``np.random.default_rng(seed)``);
    self-loops are dropped and a pair drawn twice is one edge, so the average degree is
    slightly below ``neighbours``.

    Examples
    --------
    >>> from mdcalc.gcn import random_graph
    >>> A = random_graph(1000, 10, seed=0)
    >>> A.shape, bool((A != A.T).nnz == 0), float(A.max())
    ((1000, 1000), True, 1.0)
    """
    sparse = _sparse()
    if not isinstance(V, (int, np.integer)) or V < 2:
        raise ValueError(f"V must be an integer >= 2, got {V!r}")
    if not isinstance(neighbours, (int, np.integer)) or neighbours < 1:
        raise ValueError(f"neighbours must be a positive integer, got {neighbours!r}")
    m = V * neighbours // 2
    # The edge lists (u, v, both directions, the data) and CSR's index arrays, before any.
    check_size(6 * m + 2 * V, 8, f"a random graph of {V:,} nodes and {m:,} drawn pairs")
    rng = np.random.default_rng(seed)
    u, v = rng.integers(0, V, size=m), rng.integers(0, V, size=m)
    u, v = u[u != v], v[u != v]  # no self-loops
    rows, cols = np.r_[u, v], np.r_[v, u]  # both directions
    A = sparse.coo_array((np.ones(len(rows)), (rows, cols)), shape=(V, V)).tocsr()
    A.sum_duplicates()
    A.data[:] = 1.0  # an edge drawn twice is one edge
    return A


def neighbourhood(A: Any, node: int, hops: int) -> np.ndarray:
    """The nodes at most ``hops`` edges away from ``node`` (breadth-first), sorted.

    The subgraph they induce is connected: every node in it is joined to ``node`` by a
    path inside it.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc.gcn import neighbourhood
    >>> path = np.diag(np.ones(4), 1) + np.diag(np.ones(4), -1)   # 0 - 1 - 2 - 3 - 4
    >>> neighbourhood(path, 2, 1), neighbourhood(path, 0, 2)
    (array([1, 2, 3]), array([0, 1, 2]))
    """
    A_ = _square_adjacency(A)
    if not isinstance(node, (int, np.integer)) or not 0 <= node < A_.shape[0]:
        raise ValueError(f"node must be an integer in [0, {A_.shape[0]}), got {node!r}")
    if not isinstance(hops, (int, np.integer)) or hops < 0:
        raise ValueError(f"hops must be a nonnegative integer, got {hops!r}")
    seen = np.zeros(A_.shape[0], dtype=bool)
    seen[node] = True
    frontier = np.array([node])
    for _ in range(hops):
        reached = np.unique(A_[frontier].indices)
        frontier = reached[~seen[reached]]
        if frontier.size == 0:  # nothing new: more hops reach nothing more
            break
        seen[frontier] = True
    return np.flatnonzero(seen)


def matmul_multiply_adds(
    left_shape: tuple[int, int], right_shape: tuple[int, int], nnz: int | None = None
) -> int:
    """Multiply-adds of ``left @ right``: ``m n p`` dense, ``nnz(left) p`` for a sparse left.

    Each stored entry of a sparse left factor meets each of the ``p`` columns of the right
    factor once; a dense ``m x n`` left factor has ``m n`` entries.

    Examples
    --------
    >>> from mdcalc.gcn import matmul_multiply_adds
    >>> matmul_multiply_adds((100, 100), (100, 8)), matmul_multiply_adds((100, 100), (100, 8), 500)
    (80000, 4000)
    """
    m, n = as_shape("left_shape", left_shape, ndim=2)
    n2, p = as_shape("right_shape", right_shape, ndim=2)
    if n != n2:
        raise ValueError(f"cannot multiply {m}x{n} by {n2}x{p}: inner sizes differ")
    if nnz is None:
        return m * n * p
    if isinstance(nnz, bool) or not isinstance(nnz, (int, np.integer)):
        raise TypeError(f"nnz must be an int (a count of stored entries), got {nnz!r}")
    if not 0 <= nnz <= m * n:
        raise ValueError(f"nnz must be between 0 and {m * n}, got {nnz}")
    return int(nnz) * p


def record_sparse_products(
    fn: Callable[[Any], Any], A: Any
) -> tuple[Any, list[tuple[tuple[int, int], tuple[int, int], int]]]:
    """Call ``fn(A)`` and record each product ``A @ M`` or ``A.T @ M`` that it computes.

    ``A`` is handed to ``fn`` as a sparse array that logs, for every matrix product in
    which it (or its transpose) is the left factor, the two shapes and its number of
    stored entries. This shows which bracketing a function really uses: for instance,
    whether a backward pass ``Â^T G W^T`` multiplies ``Â^T`` by ``G`` or by ``G W^T``.

    Returns
    -------
    result, log
        What ``fn`` returned, and a list of ``(left_shape, right_shape, nnz)``.

    Examples
    --------
    >>> import numpy as np
    >>> import mdcalc
    >>> from mdcalc.gcn import normalised_adjacency, random_graph, record_sparse_products
    >>> A_hat = normalised_adjacency(random_graph(50, 4, seed=1))
    >>> W, G = np.ones((3, 2)), np.ones((50, 2))
    >>> _, log = record_sparse_products(lambda A: mdcalc.vjp(A, W, G), A_hat)
    >>> [(left, right) for left, right, _ in log]    # A^T times G (50 x 2), then W^T
    [((50, 50), (50, 2))]
    """
    sparse = _sparse()
    if not sparse.issparse(A) or len(A.shape) != 2:
        raise TypeError(f"A must be a 2-D scipy.sparse matrix, got {type(A).__name__}")
    log: list[tuple[tuple[int, int], tuple[int, int], int]] = []

    def logged(base: type) -> type:
        class Logged(base):  # type: ignore[misc, valid-type]
            def __matmul__(self, other: Any) -> Any:
                shape = tuple(int(s) for s in np.shape(other))
                log.append((tuple(self.shape), shape, int(self.nnz)))  # type: ignore[arg-type]
                return super().__matmul__(other)

            def transpose(self, axes: Any = None, copy: bool = False) -> Any:
                flipped = super().transpose(axes=axes, copy=copy)
                return logged(type(flipped))(flipped)

        return Logged

    spy = logged(sparse.csr_array)(sparse.csr_array(A))
    return fn(spy), log


# --------------------------------------------------------------------------------------
# The loss of one layer, L(H) = ½‖tanh(Â H W) - Y‖²_F, and its curvature, matrix-free
# --------------------------------------------------------------------------------------


def _layer(
    A_hat: Any, H: Any, W: Any, Y: Any, complex_H: bool = False
) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """Validate ``Â, H, W, Y`` of a layer: shapes (V, V), (V, d1), (d1, d2), (V, d2)."""
    if is_sparse(A_hat):
        if len(A_hat.shape) != 2 or A_hat.shape[0] != A_hat.shape[1]:
            raise ValueError(f"A_hat must be square (V x V), got {shape_str(A_hat.shape)}")
        A_ = _sparse().csr_array(A_hat)
        if np.iscomplexobj(A_.data) or not np.all(np.isfinite(A_.data)):
            raise ValueError("A_hat must have finite real entries")
        A_ = A_.astype(float)
    else:
        A_ = as_matrix("A_hat", A_hat)
        if A_.shape[0] != A_.shape[1]:
            raise ValueError(f"A_hat must be square (V x V), got {shape_str(A_.shape)}")
    H_, W_, Y_ = as_matrix("H", H), as_matrix("W", W), as_matrix("Y", Y)
    for name, M in (("A_hat", A_), ("H", H_), ("W", W_), ("Y", Y_)):
        if np.iscomplexobj(M) and not (complex_H and name == "H"):
            raise TypeError(f"{name} must be real, got dtype {M.dtype}")
    V = A_.shape[0]
    if H_.shape[0] != V:
        raise ValueError(f"A_hat is {shape_str(A_.shape)} but H has {H_.shape[0]} rows")
    if W_.shape[0] != H_.shape[1]:
        raise ValueError(
            f"H is {shape_str(H_.shape)} but W has {W_.shape[0]} rows (need {H_.shape[1]})"
        )
    if Y_.shape != (V, W_.shape[1]):
        raise ValueError(
            f"Y must be {V}x{W_.shape[1]} (the shape of A_hat H W), got {shape_str(Y_.shape)}"
        )
    return A_, H_, W_, Y_


def _forward(A: Any, K: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``Â K W``, bracketed so that the sparse product meets the narrower side."""
    if W.shape[1] <= W.shape[0]:
        return np.asarray(A @ (K @ W))
    return np.asarray(A @ K) @ W


def _backward(A: Any, M: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``Â^T M W^T``, bracketed so that the sparse product meets the narrower side."""
    if W.shape[1] <= W.shape[0]:
        return np.asarray(A.T @ M) @ W.T
    return np.asarray(A.T @ (M @ W.T))


def _direction(K: Any, H: np.ndarray) -> np.ndarray:
    K_ = as_matrix("K", K)
    if K_.shape != H.shape:
        raise ValueError(
            f"K must have the shape of H, {shape_str(H.shape)}, got {shape_str(K_.shape)}"
        )
    if np.iscomplexobj(K_):
        raise TypeError(f"K must be real, got dtype {K_.dtype}")
    return K_


def _curvature_weights(
    A: Any, H: np.ndarray, W: np.ndarray, Y: np.ndarray, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """``G = dL/dZ`` and the entrywise weights ``w`` with ``D(∇L)[K] = Â^T (w ⊙ Â K W) W^T``."""
    T = np.tanh(_forward(A, H, W))
    S = 1 - T**2  # tanh'(Z)
    R = T - Y  # the residual
    G = R * S
    if kind == "gauss-newton":
        return G, S * S
    if kind == "full":
        return G, S * S - 2 * R * T * S  # tanh''(Z) = -2 T S
    raise ValueError(f"kind must be 'full' or 'gauss-newton', got {kind!r}")


def gcn_loss(A_hat: Any, H: Any, W: Any, Y: Any) -> Any:
    """The squared error of a tanh graph convolution: ``L(H) = ½‖tanh(Â H W) - Y‖²_F``.

    Accuracy: a few matrix products and a sum, with their rounding.

    Parameters
    ----------
    A_hat : numpy.ndarray or scipy.sparse matrix, shape (V, V)
        The propagation matrix (any real square matrix; need not be symmetric).
    H : array_like, shape (V, d1)
        Node features, the variable. It may be complex, so that the complex step can
        differentiate through this function.
    W : array_like, shape (d1, d2)
    Y : array_like, shape (V, d2)
        The target.

    Returns
    -------
    float (complex for a complex H)

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc.gcn import gcn_loss
    >>> A_hat, H, W = np.eye(2), np.zeros((2, 3)), np.ones((3, 1))
    >>> float(gcn_loss(A_hat, H, W, Y=np.array([[1.0], [2.0]])))   # ½ (1 + 4)
    2.5
    """
    A, H_, W_, Y_ = _layer(A_hat, H, W, Y, complex_H=True)
    R = np.tanh(_forward(A, H_, W_)) - Y_
    return 0.5 * np.sum(R * R)


def gcn_gradient(A_hat: Any, H: Any, W: Any, Y: Any) -> np.ndarray:
    """The gradient of :func:`gcn_loss` with respect to H: ``Â^T G W^T``.

    Here ``G = (T - Y) ⊙ (1 - T ⊙ T)`` with ``T = tanh(Â H W)`` is ``dL/dZ``; the result
    is the backward pass :func:`mdcalc.vjp` of the layer applied to G.

    Accuracy: a few matrix products, with their rounding.

    Returns
    -------
    numpy.ndarray, shape (V, d1)

    Examples
    --------
    >>> import numpy as np
    >>> import mdcalc
    >>> from mdcalc.gcn import gcn_gradient, gcn_loss
    >>> rng = np.random.default_rng(0)
    >>> A_hat, H = rng.standard_normal((4, 4)), rng.standard_normal((4, 3))
    >>> W, Y = rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    >>> grad = gcn_gradient(A_hat, H, W, Y)
    >>> bool(mdcalc.check_derivative(lambda H: gcn_loss(A_hat, H, W, Y), H, grad))
    True
    """
    A, H_, W_, Y_ = _layer(A_hat, H, W, Y)
    G, _ = _curvature_weights(A, H_, W_, Y_, "gauss-newton")
    return _backward(A, G, W_)


def gcn_hvp(
    A_hat: Any,
    H: Any,
    W: Any,
    Y: Any,
    K: Any,
    kind: Literal["full", "gauss-newton"] = "full",
) -> np.ndarray:
    """The Hessian of :func:`gcn_loss` applied to K, without forming the Hessian.

    With ``T = tanh(Â H W)``, ``S = 1 - T ⊙ T`` and the residual ``R = T - Y``:

    - ``kind="full"``: ``D(∇L)(H)[K] = Â^T ((S ⊙ S - 2 R ⊙ T ⊙ S) ⊙ (Â K W)) W^T``;
    - ``kind="gauss-newton"``: ``Â^T (S ⊙ S ⊙ (Â K W)) W^T``, which leaves out the term
      ``R ⊙ tanh''(Z)`` and so equals the full product where the residual is zero. It is
      positive semidefinite: ``<K, gcn_hvp(..., K, "gauss-newton")> >= 0``.

    Cost: two products with ``Â`` (sparse or dense) and two with W, about those of one
    forward and one backward pass, plus a forward pass for T. Memory: a few V x d arrays.

    Accuracy: matrix products with their rounding.

    Parameters
    ----------
    A_hat, H, W, Y
        As in :func:`gcn_loss` (real).
    K : array_like, shape (V, d1)
        The direction.
    kind : {"full", "gauss-newton"}

    Returns
    -------
    numpy.ndarray, shape (V, d1)

    Examples
    --------
    >>> import numpy as np
    >>> import mdcalc
    >>> from mdcalc.gcn import gcn_gradient, gcn_hvp
    >>> rng = np.random.default_rng(1)
    >>> A_hat, H = rng.standard_normal((5, 5)), rng.standard_normal((5, 3))
    >>> W, Y = rng.standard_normal((3, 2)) / 2, rng.standard_normal((5, 2))
    >>> K = rng.standard_normal((5, 3))
    >>> # the Hessian-vector product is the derivative of the gradient along K
    >>> grad = lambda H: gcn_gradient(A_hat, H, W, Y)
    >>> numeric = mdcalc.directional_derivative(grad, H, K, method="central")
    >>> bool(np.allclose(gcn_hvp(A_hat, H, W, Y, K), numeric, rtol=1e-6))
    True
    >>> # at a zero residual, Gauss-Newton is the full Hessian
    >>> Y0 = np.tanh(A_hat @ H @ W)
    >>> bool(np.allclose(gcn_hvp(A_hat, H, W, Y0, K),
    ...                  gcn_hvp(A_hat, H, W, Y0, K, kind="gauss-newton")))
    True
    """
    A, H_, W_, Y_ = _layer(A_hat, H, W, Y)
    K_ = _direction(K, H_)
    _, weights = _curvature_weights(A, H_, W_, Y_, kind)
    return _backward(A, weights * _forward(A, K_, W_), W_)


class GaussNewtonStep(NamedTuple):
    """What :func:`gauss_newton_step` returns."""

    step: np.ndarray
    """The step P (shape of H) solving ``(GN + damping I) P = -∇L`` approximately."""
    iterations: int
    """Conjugate-gradient iterations taken (each one Gauss-Newton product)."""
    relative_residual: float
    """``‖(GN + damping I) P + ∇L‖ / ‖∇L‖`` at the end (0 when ∇L = 0)."""


def gauss_newton_step(
    A_hat: Any,
    H: Any,
    W: Any,
    Y: Any,
    damping: float = 1e-3,
    maxiter: int = 10,
    rtol: float = 1e-6,
) -> GaussNewtonStep:
    """A damped Gauss-Newton step for :func:`gcn_loss`, by conjugate gradients.

    Solves ``(GN + damping I) P = -∇L(H)`` for the step P, where ``GN`` is the
    Gauss-Newton Hessian of :func:`gcn_hvp` (positive semidefinite, so the damped system
    is positive definite for ``damping > 0``), with at most ``maxiter`` iterations of the
    conjugate-gradient method on matrices (inner product ``<P, Q> = sum(P * Q)``), stopping
    when the residual is below ``rtol ‖∇L‖``. Each iteration costs one Gauss-Newton product;
    the weights ``S ⊙ S`` are computed once. No Hessian is formed.

    Accuracy: that of the conjugate-gradient method after the iterations it took, reported
    in ``relative_residual``; exact in exact arithmetic after ``V d1`` iterations. The
    residual reported is recomputed from the step at the end (one more product), not the
    recursion's own, which drifts from the true one when rounding takes over (an
    ill-conditioned system, no damping).

    Parameters
    ----------
    A_hat, H, W, Y
        As in :func:`gcn_loss` (real).
    damping : float, >= 0
    maxiter : int, >= 1
    rtol : float, > 0

    Returns
    -------
    GaussNewtonStep
        ``(step, iterations, relative_residual)``.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc.gcn import gauss_newton_step, gcn_gradient, gcn_hvp, gcn_loss
    >>> rng = np.random.default_rng(2)
    >>> A_hat, H = rng.standard_normal((6, 6)) / 3, rng.standard_normal((6, 3))
    >>> W, Y = rng.standard_normal((3, 2)) / 2, rng.uniform(-0.5, 0.5, (6, 2))
    >>> out = gauss_newton_step(A_hat, H, W, Y, damping=1e-2, maxiter=50, rtol=1e-10)
    >>> out.iterations <= 18, out.relative_residual < 1e-10   # V d1 = 18 unknowns
    (True, True)
    >>> # it solves the damped system
    >>> lhs = gcn_hvp(A_hat, H, W, Y, out.step, kind="gauss-newton") + 1e-2 * out.step
    >>> bool(np.allclose(lhs, -gcn_gradient(A_hat, H, W, Y)))
    True
    >>> bool(gcn_loss(A_hat, H + out.step, W, Y) < gcn_loss(A_hat, H, W, Y))
    True
    """
    A, H_, W_, Y_ = _layer(A_hat, H, W, Y)
    if isinstance(damping, bool) or not isinstance(
        damping, (int, float, np.floating, np.integer)
    ):
        raise TypeError(f"damping must be a number, got {type(damping).__name__}")
    if not (np.isfinite(damping) and damping >= 0):
        raise ValueError(f"damping must be a finite number >= 0, got {damping!r}")
    if isinstance(maxiter, bool) or not isinstance(maxiter, (int, np.integer)) or maxiter < 1:
        raise ValueError(f"maxiter must be an integer >= 1, got {maxiter!r}")
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float, np.floating)):
        raise TypeError(f"rtol must be a number, got {type(rtol).__name__}")
    if not (np.isfinite(rtol) and rtol > 0):
        raise ValueError(f"rtol must be a finite number > 0, got {rtol!r}")
    G, weights = _curvature_weights(A, H_, W_, Y_, "gauss-newton")
    b = -_backward(A, G, W_)  # -∇L

    def apply(P: np.ndarray) -> np.ndarray:
        return _backward(A, weights * _forward(A, P, W_), W_) + damping * P

    b_norm = float(np.linalg.norm(b))
    P = np.zeros_like(b)
    if b_norm == 0:
        return GaussNewtonStep(P, 0, 0.0)
    r, q = b.copy(), b.copy()  # residual b - M P, search direction
    rr = float(np.sum(r * r))
    iterations = 0
    while iterations < maxiter and np.sqrt(rr) > rtol * b_norm:
        Mq = apply(q)
        qMq = float(np.sum(q * Mq))
        if qMq <= 0:  # no curvature left along q (damping 0, singular system)
            break
        alpha = rr / qMq
        P += alpha * q
        r -= alpha * Mq
        rr_new = float(np.sum(r * r))
        q = r + (rr_new / rr) * q
        rr = rr_new
        iterations += 1
    if iterations == 0:
        return GaussNewtonStep(P, 0, float(np.sqrt(rr)) / b_norm)
    true_residual = float(np.linalg.norm(b - apply(P)))
    return GaussNewtonStep(P, iterations, true_residual / b_norm)
