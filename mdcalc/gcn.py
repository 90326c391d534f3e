"""Graph-convolution helpers: propagation matrices, neighbourhoods and operation counts.

The backpropagation chapter differentiates ``Z = Â H W`` on graphs far too large for the
Jacobian. These helpers build the graphs and propagation matrices it uses, cut out a
connected neighbourhood for a dense sub-problem, and count the multiply-adds of the
products that a backward pass really performs (recorded from the sparse operand itself, so
that the count follows the code's bracketing, not the one written on paper).

scipy is imported only when a function here needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

__all__ = [
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
        to 1; it is symmetric for a symmetric A only when all degrees are equal.
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
    A_tilde = A_ + sparse.eye_array(n, format="csr")
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
    rng = np.random.default_rng(seed)
    m = V * neighbours // 2
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
    (m, n), (n2, p) = left_shape, right_shape
    if n != n2:
        raise ValueError(f"cannot multiply {m}x{n} by {n2}x{p}: inner sizes differ")
    if nnz is None:
        return int(m * n * p)
    if not 0 <= nnz <= m * n:
        raise ValueError(f"nnz must be between 0 and {m * n}, got {nnz}")
    return int(nnz * p)


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
