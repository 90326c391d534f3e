"""Structured variables: derivatives along the symmetric, skew-symmetric, diagonal or
triangular n x n matrices.

When X is known to be symmetric (say), F is differentiated along the subspace S of
symmetric matrices only, and two objects describe that derivative:

- the **gradient in the trace inner product on S**: the element G_S of S with
  ``dF = tr(G_S^T dX)`` for every dX in S. It is the orthogonal projection of the
  unstructured gradient G onto S (``sym G = (G + G^T) / 2`` for symmetric X), and the
  direction of steepest ascent of F over S in the Frobenius norm;
- the **derivative by the independent entries** x of X (for symmetric X, ``x = vech X``),
  laid out in X's shape: entry (i, j) holds dF/dx for the free entry x that X[i, j] is
  tied to (``2 sym G - diag G`` for symmetric X: an off-diagonal x moves two entries).

:class:`Subspace` holds one subspace: its free entries (in vec order, column by column),
its basis B_k (the matrix that moves free entry k by one, its partner along), the
projection, the membership test, and the conversions between the coordinates x and the
two layouts. The numeric functions of mdcalc (``jacobian``, ``hessian``, ...) take
``structure=`` and differentiate through :func:`restrict` (f as a function of x, so that
f is only ever called on structured matrices); the checkers draw their directions inside
the subspace (:meth:`Subspace.project`) and name the two structured mistakes
(:meth:`Subspace.mistake_readings`, :meth:`Subspace.outside`).

=========== ======================== =============== ======================= ==============
structure   the subspace             projection      free entries (vec order) B_k, |B_k|^2
=========== ======================== =============== ======================= ==============
symmetric   X^T = X                  (G + G^T) / 2   lower triangle (vech)   E_ij + E_ji, 2
skew        X^T = -X                 (G - G^T) / 2   strictly lower          E_ij - E_ji, 2
diagonal    X[i, j] = 0 for i != j   diag G          the diagonal            E_ii, 1
lower       X[i, j] = 0 for i < j    tril G          lower triangle (vech)   E_ij, 1
upper       X[i, j] = 0 for i > j    triu G          upper triangle          E_ij, 1
=========== ======================== =============== ======================= ==============

(On the diagonal of a symmetric X, B_k = E_ii and |B_k|^2 = 1.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from mdcalc._validation import as_matrix, as_point, check_size, shape_str

__all__ = [
    "STRUCTURES",
    "Subspace",
    "as_structure",
    "project",
    "in_subspace",
    "entry_derivative",
    "restrict",
]

Structure = Literal["symmetric", "skew", "diagonal", "lower", "upper"]
STRUCTURES: tuple[str, ...] = ("symmetric", "skew", "diagonal", "lower", "upper")
# A point or direction is in the subspace when it is off by at most this share of its
# largest entry (rounding: an inverse of a symmetric matrix is symmetric to about 1e-16).
MEMBER_RTOL = 1e-10
# Names a reader may try, and the one meant.
_HINTS = {
    "sym": "symmetric", "symmetrical": "symmetric", "hermitian": "symmetric",
    "antisymmetric": "skew", "anti-symmetric": "skew", "skew-symmetric": "skew",
    "skewsymmetric": "skew", "diag": "diagonal", "tril": "lower", "lower-triangular": "lower",
    "lower_triangular": "lower", "triangular": "lower", "triu": "upper",
    "upper-triangular": "upper", "upper_triangular": "upper",
}
_WORD = {
    "symmetric": "symmetric", "skew": "skew-symmetric", "diagonal": "diagonal",
    "lower": "lower-triangular", "upper": "upper-triangular",
}
Reading = Callable[[np.ndarray], np.ndarray]


def as_structure(structure: Any) -> str | None:
    """``structure`` checked: None, or one of :data:`STRUCTURES`; else a clear error.

    >>> as_structure("symmetric")
    'symmetric'
    >>> as_structure("antisymmetric")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: structure must be None or one of ..., got 'antisymmetric' (did you mean 'skew'?)
    """
    if structure is None:
        return None
    names = ", ".join(repr(s) for s in STRUCTURES)
    if not isinstance(structure, str):
        raise TypeError(
            f"structure must be None or one of {names} (a string), got "
            f"{type(structure).__name__}"
        )
    if structure in STRUCTURES:
        return structure
    key = structure.strip().lower()
    meant = key if key in STRUCTURES else _HINTS.get(key)
    hint = f" (did you mean {meant!r}?)" if meant else ""
    raise ValueError(f"structure must be None or one of {names}, got {structure!r}{hint}")


class Subspace:
    """The n x n matrices of one structure, with the trace inner product <A, B> = tr(A^T B).

    Parameters
    ----------
    structure : {"symmetric", "skew", "diagonal", "lower", "upper"}
    n : int
        The size of the matrices, at least 1.

    Attributes
    ----------
    rows, cols : numpy.ndarray of int
        The free entries (i, j), in vec order (column by column): the lower triangle for
        "symmetric" and "lower" (the order of :func:`mdcalc.vech`), the strictly lower one
        for "skew", the diagonal, the upper triangle.
    sign : int
        How the partner entry X[j, i] follows a free X[i, j] (i != j): +1 (symmetric), -1
        (skew), 0 (it stays zero).
    weights : numpy.ndarray
        ``|B_k|^2``, the squared Frobenius norm of each basis matrix (1 or 2).
    dim : int
        The dimension of the subspace (the number of free entries).

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc.structure import Subspace
    >>> S = Subspace("symmetric", 2)
    >>> G = np.array([[1.0, 2.0], [4.0, 3.0]])
    >>> S.project(G)                      # sym G: the gradient in the trace inner product
    array([[1., 3.],
           [3., 3.]])
    >>> S.entry_derivative(G)             # 2 sym G - diag G: by the independent entries
    array([[1., 6.],
           [6., 3.]])
    """

    def __init__(self, structure: str, n: int) -> None:
        structure_ = as_structure(structure)
        if structure_ is None:
            raise ValueError("a Subspace needs a structure, not None")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be an int of at least 1, got {n!r}")
        self.structure, self.n = structure_, int(n)
        upper_rows, upper_cols = np.triu_indices(self.n)  # the upper triangle, row by row
        if structure_ in ("symmetric", "lower"):
            rows, cols = upper_cols, upper_rows  # transposed: the lower one, column by column
        elif structure_ == "skew":
            strict = upper_rows != upper_cols
            rows, cols = upper_cols[strict], upper_rows[strict]
        elif structure_ == "diagonal":
            rows = cols = np.arange(self.n)
        else:
            order = np.lexsort((upper_rows, upper_cols))  # the upper one, column by column
            rows, cols = upper_rows[order], upper_cols[order]
        self.rows, self.cols = rows, cols
        self.sign = {"symmetric": 1, "skew": -1}.get(structure_, 0)
        off = rows != cols
        self.weights = np.where(off & (self.sign != 0), 2.0, 1.0)
        self.dim = int(rows.size)
        self.word = _WORD[structure_]

    def __repr__(self) -> str:
        return f"Subspace({self.structure!r}, {self.n})"

    # ------------------------------------------------------------ validation

    @classmethod
    def at(cls, X: np.ndarray, structure: Any, name: str = "X") -> Subspace | None:
        """The subspace through a point X (None for structure=None); X must lie in it."""
        structure_ = as_structure(structure)
        if structure_ is None:
            return None
        subspace = cls.for_shape(np.shape(X), structure_, name)
        subspace.require(name, X)
        return subspace

    @classmethod
    def for_shape(cls, shape: tuple[int, ...], structure: str, name: str = "X") -> Subspace:
        """The subspace of matrices of ``shape``, which must be square."""
        if len(shape) != 2 or shape[0] != shape[1] or shape[0] < 1:
            raise ValueError(
                f"structure={structure!r} needs a square matrix {name} (n x n), got "
                f"{name} of shape {shape_str(tuple(shape))}"
            )
        return cls(structure, shape[0])

    def _check_shape(self, name: str, X: np.ndarray) -> None:
        if X.shape[-2:] != (self.n, self.n):
            raise ValueError(
                f"{name} must be {self.n}x{self.n} (a matrix of the subspace), got "
                f"{shape_str(X.shape)}"
            )

    def contains(self, X: ArrayLike, rtol: float = MEMBER_RTOL) -> bool:
        """Whether X lies in the subspace, to ``rtol`` of its largest entry."""
        X_ = np.asarray(X)
        self._check_shape("X", X_)
        off = float(np.abs(X_ - self.project(X_)).max(initial=0.0))
        return off <= rtol * float(np.abs(X_).max(initial=0.0))

    def require(self, name: str, X: ArrayLike) -> None:
        """Raise a ValueError that shows where X leaves the subspace, if it does."""
        X_ = np.asarray(X)
        self._check_shape(name, X_)
        if self.contains(X_):
            return
        off = np.abs(X_ - self.project(X_))
        i, j = (int(a) for a in np.unravel_index(int(np.argmax(off)), off.shape))
        a, b = X_[i, j], X_[j, i]
        if self.structure == "symmetric":
            where = f"{name}[{i}, {j}] = {a:.6g} but {name}[{j}, {i}] = {b:.6g}"
            fix = f"({name} + {name}.T) / 2"
        elif self.structure == "skew" and i == j:
            where = f"{name}[{i}, {i}] = {a:.6g}, where a skew-symmetric matrix has 0"
            fix = f"({name} - {name}.T) / 2"
        elif self.structure == "skew":
            where = f"{name}[{i}, {j}] = {a:.6g} but {name}[{j}, {i}] = {b:.6g}, not its negative"
            fix = f"({name} - {name}.T) / 2"
        else:
            side = {"diagonal": "off the diagonal", "lower": "above the diagonal",
                    "upper": "below the diagonal"}[self.structure]
            where = f"{name}[{i}, {j}] = {a:.6g} is {side}, where a {self.word} matrix has 0"
            fix = {"diagonal": f"np.diag(np.diag({name}))", "lower": f"np.tril({name})",
                   "upper": f"np.triu({name})"}[self.structure]
        raise ValueError(
            f"{name} is not {self.word}: {where}. structure={self.structure!r} differentiates "
            f"along {self.word} matrices, so {name} must be one (e.g. {fix}), or pass "
            "structure=None"
        )

    def require_directions(self) -> None:
        """Refuse a subspace without directions (the skew 1 x 1 matrices are only 0)."""
        if self.dim == 0:
            raise ValueError(
                "structure='skew' on a 1x1 X: the only 1x1 skew-symmetric matrix is 0, so "
                "the subspace has no direction to differentiate along"
            )

    # ------------------------------------------------------------ maps (on the last two axes)

    def project(self, X: np.ndarray) -> np.ndarray:
        """The orthogonal projection onto the subspace (trace inner product), on the last two
        axes: sym X, skew X, diag X, tril X or triu X."""
        X_ = np.asarray(X)
        if self.structure == "symmetric":
            return (X_ + np.swapaxes(X_, -1, -2)) / 2
        if self.structure == "skew":
            return (X_ - np.swapaxes(X_, -1, -2)) / 2
        if self.structure == "diagonal":
            return X_ * np.eye(self.n)
        if self.structure == "lower":
            return np.tril(X_)
        return np.triu(X_)

    def coordinates(self, X: np.ndarray) -> np.ndarray:
        """The free entries of X (last two axes) as a vector (last axis): vech X for
        symmetric and lower X."""
        return np.asarray(X)[..., self.rows, self.cols]

    def from_coordinates(self, x: np.ndarray) -> np.ndarray:
        """The matrix of the subspace with free entries x (last axis): sum_k x_k B_k."""
        x_ = np.asarray(x)
        out = np.zeros(x_.shape[:-1] + (self.n, self.n), dtype=x_.dtype)
        out[..., self.rows, self.cols] = x_
        if self.sign:
            off = self.rows != self.cols
            out[..., self.cols[off], self.rows[off]] = self.sign * x_[..., off]
        return out

    def trace_layout(self, d: np.ndarray) -> np.ndarray:
        """From derivatives along the basis, d_k = DF[B_k] (last axis), to the element of
        the subspace in the trace inner product: sum_k d_k B_k / |B_k|^2."""
        return self.from_coordinates(np.asarray(d) / self.weights)

    def matrix(self) -> np.ndarray:
        """The n^2 x dim matrix S with vec X = S x: the duplication matrix D_n for
        "symmetric", L_n^T for "lower"; column k is vec B_k."""
        check_size(self.n * self.n * self.dim, 8, f"the {self.n * self.n} x {self.dim} basis")
        if self.dim == 0:
            return np.zeros((self.n * self.n, 0))
        eye = np.eye(self.dim)
        return self.from_coordinates(eye).transpose(0, 2, 1).reshape(self.dim, -1).T

    def entry_derivative(self, G: np.ndarray) -> np.ndarray:
        """The derivative by the independent entries, in X's layout, from the unstructured
        gradient G (or from the gradient on the subspace): 2 sym G - diag G for symmetric
        X, G - G^T for skew X, the projection for diagonal and triangular X."""
        return self.from_coordinates(self.coordinates(self.project(G)) * self.weights)

    def gradient_from_entries(self, E: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`entry_derivative` on the subspace: the gradient in the trace
        inner product from the derivative by the independent entries."""
        return self.trace_layout(self.coordinates(self.project(E)))

    # ------------------------------------------------------------ the structured mistakes

    @property
    def doubles(self) -> bool:
        """Whether the two derivatives differ (some free entry moves two entries of X)."""
        return bool(np.any(self.weights != 1))

    def formulas(self) -> tuple[str, str]:
        """How the two derivatives read for this structure: (gradient, by the entries)."""
        return {
            "symmetric": ("sym G = (G + G^T) / 2", "2 sym G - diag G = G + G^T - diag G"),
            "skew": ("skew G = (G - G^T) / 2", "G - G^T = 2 skew G"),
            "diagonal": ("diag G", "diag G"),
            "lower": ("tril G", "tril G"),
            "upper": ("triu G", "triu G"),
        }[self.structure]

    def mistake_readings(
        self, claim: np.ndarray, form: str, out_shape: tuple[int, ...]
    ) -> list[tuple[str, Reading, str]]:
        """Readings of a wrong claim that would make it one of the two confusions, with
        their names and explanations (for :func:`mdcalc.check_derivative`'s diagnosis).

        ``form`` is how the claim was read: "gradient" or "tensor" (X's layout, the trace
        inner product asked) or "entries" (a matrix by the independent entries).
        """
        if not self.doubles:
            return []
        gradient, entries = self.formulas()
        if form in ("gradient", "tensor"):
            as_gradient = self.gradient_from_entries(claim)
            return [(
                "independent-entries",
                lambda K: np.tensordot(as_gradient, K, axes=2),
                f"It is the derivative by the independent entries of X ({entries}, each "
                f"off-diagonal free entry moving two entries of X), laid out in X's shape, "
                f"not the gradient in the trace inner product on {self.word} matrices, "
                f"{gradient}: the G_S in the subspace with dF = tr(G_S^T dX) for every "
                f"{self.word} dX, the direction of steepest ascent in the Frobenius norm. "
                "Halve its off-diagonal entries."
                + (" (The Matrix Cookbook's 2X^-1 - (X^-1 ∘ I) for log det of a symmetric "
                   "X is this derivative.)" if self.structure == "symmetric" else ""),
            )]
        if form == "entries":
            M = np.asarray(claim) * self.weights
            return [(
                "trace-gradient",
                lambda K: (M @ self.coordinates(K)).reshape(out_shape, order="F"),
                f"It holds the gradient in the trace inner product ({gradient}) at the "
                "independent entries, not the derivative by the independent entries "
                f"({entries}), which counts each off-diagonal free entry twice, since "
                f"X[i, j] and X[j, i] move together. Double its off-diagonal entries.",
            )]
        return []

    def outside(self, claim: np.ndarray, rtol: float) -> tuple[str, str] | None:
        """For a gradient claim that is right along the subspace: the mistake when it is
        not itself in the subspace (None when it is)."""
        arr = np.asarray(claim)
        scale = float(np.abs(arr).max(initial=0.0))
        if float(np.abs(arr - self.project(arr)).max(initial=0.0)) <= rtol * scale:
            return None
        gradient, _ = self.formulas()
        return "outside-subspace", (
            f"It is not {self.word}, but its projection onto the {self.word} matrices is the "
            f"gradient: the gradient on the subspace is an element of it ({gradient}, G the "
            f"unstructured gradient), and the claim differs from it by a part orthogonal to "
            f"every {self.word} direction. Project it ({self.projection_words()})."
        )

    def projection_words(self) -> str:
        return {
            "symmetric": "(M + M^T) / 2", "skew": "(M - M^T) / 2",
            "diagonal": "np.diag(np.diag(M))", "lower": "np.tril(M)", "upper": "np.triu(M)",
        }[self.structure]

    def read_entries(self, claimed: np.ndarray, out_shape: tuple[int, ...]) -> Reading | None:
        """A claim shaped (F.size, dim): the derivative by the independent entries,
        d vec F / d x (d vec F / d vech X for symmetric X); None for another shape."""
        arr = np.asarray(claimed)
        if arr.shape != (int(np.prod(out_shape)), self.dim):
            return None
        return lambda K: (arr @ self.coordinates(K)).reshape(out_shape, order="F")


# --------------------------------------------------------------------------------------
# public helpers
# --------------------------------------------------------------------------------------


def _subspace_of(X: ArrayLike, structure: Any) -> tuple[np.ndarray, Subspace]:
    X_ = as_matrix("X", X)
    structure_ = as_structure(structure)
    if structure_ is None:
        raise ValueError("structure must be one of " + ", ".join(map(repr, STRUCTURES)))
    return X_, Subspace.for_shape(X_.shape, structure_)


def project(X: ArrayLike, structure: Structure) -> np.ndarray:
    """The orthogonal projection of a square X onto a subspace (trace inner product).

    Exact up to one rounding (the halving of a sum for "symmetric" and "skew").

    Parameters
    ----------
    X : array_like, shape (n, n)
    structure : {"symmetric", "skew", "diagonal", "lower", "upper"}

    Returns
    -------
    numpy.ndarray, shape (n, n)
        ``(X + X^T) / 2``, ``(X - X^T) / 2``, ``diag X`` (as a matrix), ``tril X`` or
        ``triu X``: the matrix of the subspace nearest to X in the Frobenius norm. Applied
        to the unstructured gradient G of F, it gives the gradient of F on the subspace.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc.structure import project
    >>> project(np.array([[1.0, 2.0], [4.0, 3.0]]), "skew")
    array([[ 0., -1.],
           [ 1.,  0.]])
    """
    X_, subspace = _subspace_of(X, structure)
    return subspace.project(X_)


def in_subspace(X: ArrayLike, structure: Structure) -> bool:
    """Whether a square X is symmetric, skew, diagonal, lower or upper triangular, to
    rounding (off by at most 1e-10 of its largest entry).

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc.structure import in_subspace
    >>> in_subspace(np.array([[1.0, 2.0], [2.0, 3.0]]), "symmetric")
    True
    >>> in_subspace(np.array([[1.0, 2.0], [2.0, 3.0]]), "lower")
    False
    """
    X_, subspace = _subspace_of(X, structure)
    return subspace.contains(X_)


def entry_derivative(G: ArrayLike, structure: Structure) -> np.ndarray:
    """The derivative by the independent entries, in X's layout, from the gradient G.

    Exact up to one rounding. G may be the unstructured gradient (``dF = tr(G^T dX)`` for
    every dX) or the gradient on the subspace (its projection): both give the same.

    Returns
    -------
    numpy.ndarray, shape (n, n)
        Entry (i, j) is dF/dx for the free entry x that X[i, j] is tied to:
        ``2 sym G - diag G`` for symmetric X, ``G - G^T`` for skew X, the projection
        (zero where X has no free entry) for diagonal and triangular X. Its free entries
        are ``d F / d x`` (for symmetric X: ``vech`` of it is ``D_n^T vec G``).

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc.structure import entry_derivative
    >>> X = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> G = np.linalg.inv(X)                   # the gradient of log det X
    >>> entry_derivative(G, "symmetric") * 5    # 2 X^-1 - (X^-1 ∘ I), times det X = 5
    array([[ 3., -2.],
           [-2.,  2.]])
    """
    G_, subspace = _subspace_of(G, structure)
    return subspace.entry_derivative(G_)


# --------------------------------------------------------------------------------------
# numeric derivatives on a subspace: f as a function of the free entries
# --------------------------------------------------------------------------------------


def restrict(
    f: Callable[..., Any], X: ArrayLike, structure: Any, name: str = "X"
) -> tuple[Callable[[np.ndarray], Any], np.ndarray, Subspace]:
    """f as a function g of the free entries x of X: ``g(x) = f(sum_k x_k B_k)``.

    g takes a vector x (or a stack of them, last axis) and calls f on the matrices of the
    subspace, so f is never called outside it (it may read only one triangle, as
    Cholesky does). Returns g, x at X (projected: X rebuilt from x is exactly in the
    subspace) and the subspace. The derivatives of g are those of f along the basis:
    ``dg/dx_k = DF(X)[B_k]``.
    """
    X_ = as_point(name, X)
    subspace = Subspace.at(X_, structure, name)
    if subspace is None:
        raise ValueError("restrict needs a structure, not None")
    subspace.require_directions()
    x = subspace.coordinates(subspace.project(X_))

    def g(x_: np.ndarray) -> Any:
        return f(subspace.from_coordinates(x_))

    return g, x, subspace


def direction(subspace: Subspace, K: ArrayLike, shape: tuple[int, ...]) -> np.ndarray:
    """A direction K checked: X's shape and inside the subspace; its free entries."""
    K_ = as_point("K", K)
    if K_.shape != shape:
        raise ValueError(f"X is {shape_str(shape)} but K is {shape_str(K_.shape)}")
    subspace.require("K", K_)
    return subspace.coordinates(subspace.project(K_))


def _like(result: Any, values: np.ndarray) -> np.ndarray:
    """``values`` in the array type of ``result``, keeping what it reports (e.g. the
    numeric method used, where the numeric functions attach it)."""
    method = getattr(result, "method", None)
    if method is None or type(result) is np.ndarray:
        return values
    return type(result)(values, method)  # type: ignore[call-arg]


def jacobian_on(jacobian: Callable[..., np.ndarray], f: Callable[..., Any], X: ArrayLike,
                structure: str, **options: Any) -> np.ndarray:
    """:func:`mdcalc.jacobian` on a subspace: the numeric Jacobian of g (f of the free
    entries), d_k = DF[B_k], in the trace layout (see :func:`mdcalc.jacobian`)."""
    g, x, subspace = restrict(f, X, structure)
    J = jacobian(g, x, **options)
    return _like(J, subspace.trace_layout(np.asarray(J)))


def directional_on(directional: Callable[..., np.ndarray], f: Callable[..., Any],
                   X: ArrayLike, K: ArrayLike, structure: str, **options: Any) -> np.ndarray:
    """:func:`mdcalc.directional_derivative` along a K of the subspace (through g)."""
    g, x, subspace = restrict(f, X, structure)
    return directional(g, x, direction(subspace, K, (subspace.n, subspace.n)), **options)


def hessian_on(hessian: Callable[..., np.ndarray], f: Callable[..., Any], X: ArrayLike,
               structure: str, **options: Any) -> np.ndarray:
    """:func:`mdcalc.hessian` on a subspace: the Hessian of g, h_kl = D²f[B_k, B_l], in the
    trace layout on both index pairs (the tensor of the map K -> P(∇²f K) on the
    subspace, P the projection)."""
    g, x, subspace = restrict(f, X, structure)
    n = subspace.n
    check_size(n**4, 8, f"the Hessian on the subspace ({n}x{n}x{n}x{n})")
    h = hessian(g, x, **options)
    half = subspace.trace_layout(np.asarray(h))  # (dim, n, n): the second pair converted
    both = np.moveaxis(subspace.trace_layout(np.moveaxis(half, 0, -1)), (2, 3), (0, 1))
    return _like(h, both)


def hvp_on(hvp: Callable[..., np.ndarray], f: Callable[..., Any], X: ArrayLike, K: ArrayLike,
           structure: str, **options: Any) -> np.ndarray:
    """:func:`mdcalc.hvp` along a K of the subspace: the projection of the HVP onto it."""
    g, x, subspace = restrict(f, X, structure)
    k = direction(subspace, K, (subspace.n, subspace.n))
    v = hvp(g, x, k, **options)
    return _like(v, subspace.trace_layout(np.asarray(v)))


def hvps_on(numeric_hvps: Callable[..., Any], f: Callable[..., Any], X: np.ndarray,
            probe: list[np.ndarray], subspace: Subspace, *args: Any) -> Any:
    """The checker's numeric HVPs along directions of the subspace, computed through g
    and returned in the trace layout (value, estimated error, kink gaps per direction)."""
    g, x, _ = restrict(f, X, subspace.structure)
    central, used, doubt = numeric_hvps(g, x, [subspace.coordinates(K) for K in probe], *args)
    converted = [tuple(subspace.trace_layout(part) for part in c) for c in central]
    return converted, used, doubt
