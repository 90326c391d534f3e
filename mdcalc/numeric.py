"""Numeric differentiation: the Jacobian of any matrix function, to check closed forms.

Two methods:

``"complex-step"``
    ``dF/dX[j, k] = Im F(X + i h E_jk) / h`` with h = 2^-66. No subtraction, so no
    cancellation: exact to rounding for any f that is complex-analytic (built from +, -,
    @, inv, exp, tanh, log, ...; not abs, conj, real, max or comparisons). Every result is
    verified against central differences, entry by entry, in random directions: a
    function with a non-analytic piece anywhere (even a small one, even beside a large
    analytic one) is refused with a clear error instead of differentiated wrongly.
``"central"``
    ``(F(X + t E_jk) - F(X - t E_jk)) / 2t`` at two steps per entry, ``t1 = eps^(1/3)
    max(1, |x|)`` and a smaller one relative to |x| (so that log at 1e-5 is right), keeping
    for each entry of the result the one with the smaller estimated error (truncation from
    their difference, rounding from the size of f). Works for any smooth real f, to about
    1e-10 of the derivative's scale. A point where the one-sided slopes differ (f not
    differentiable at X, like abs at 0), or where the estimated error is above 1e-6 of the
    entry (f varies faster than the step), is refused.

Speed: when f broadcasts over a leading stack dimension (``A @ X @ W`` and elementwise
numpy functions do), many perturbations go through one call of f. Whether it does is
tested, not assumed: for every batch size used, rows of a stacked call must equal (to
rounding) separate calls, otherwise every perturbation gets a call of its own. f is always
called on copies, so a function that modifies its input cannot corrupt the point.

Memory: stacks are cut into batches whose inputs and outputs together stay below
``max_memory`` bytes (256 MiB by default), and below 4 MiB in any case, which keeps a batch
in cache and is faster (benchmarks/README.md). A Jacobian that cannot fit in memory is
refused before anything is allocated (see :func:`mdcalc._validation.check_size`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from mdcalc._validation import as_point, check_size, evaluate, shape_str
from mdcalc.structure import as_structure, directional_on, jacobian_on

__all__ = ["jacobian", "directional_derivative", "METHODS", "COMPLEX_STEP"]

Method = Literal["complex-step", "central"]
METHODS: tuple[str, ...] = ("complex-step", "central")
# A central difference along a direction: (value, estimated error, kink gaps).
Central = tuple[np.ndarray, np.ndarray, np.ndarray]
COMPLEX_STEP = 2.0**-66  # about 1.4e-20; a power of two, so scaling by it is exact
EPS = float(np.finfo(float).eps)
# eps^(1/3) balances truncation (t^2) against rounding (eps / t) in a central difference.
CENTRAL_STEP = float(np.cbrt(EPS))
DEFAULT_MAX_MEMORY = 256 * 2**20
# Batches are cut smaller than max_memory asks, so that a batch's stack, f's temporaries and
# the block of J it fills stay in cache (measured 1.4-4x faster than 256 MiB ones).
CACHE_BATCH_BYTES = 4 * 2**20
# A complex-step result is refused when it differs from central differences by more than
# this many times their estimated error (plus this relative slack, per entry).
GUARD_FACTOR = 100.0
GUARD_RTOL = 1e-8
# Jump of the one-sided slopes, relative to the entry's derivative, above which f is not
# differentiable at X (if the jump also stands out of f's rounding noise).
KINK_RTOL = 1e-9
# jacobian and directional_derivative refuse central differences whose estimated error
# is above this, relative to the entry (see _check_central).
CENTRAL_RTOL = 1e-6
# A central difference along K moving all of X with one step is kept when its estimated
# error is below this share of each entry (plus 1e-4 of the largest) beyond rounding;
# else X moves in bands.
ACCEPT_RTOL = 1e-8
# An entry's noise is at least this share of the median entry's (see entry_noise).
NOISE_SHARE = 1e-4


def _check_method(method: Any) -> None:
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def check_output(F0: np.ndarray) -> np.ndarray:
    """f(X) at a real X must be finite and real (a zero imaginary part is dropped)."""
    F0 = _real_output(F0)
    if not np.all(np.isfinite(F0)):
        raise ValueError("f(X) has non-finite entries (nan or inf) at this X")
    return F0


def _evaluate_complex(f: Callable[..., Any], Xc: np.ndarray, shape: tuple[int, ...]) -> Any:
    """f at a complex point; a clear TypeError when f cannot carry complex numbers."""
    try:
        out = f(Xc.copy())
    except Exception as exc:  # f worked at the real X: complex input is what it rejects
        raise TypeError(
            f"f raised {type(exc).__name__} ({exc}) at a complex point, so the complex "
            "step cannot differentiate it; use method='central'"
        ) from exc
    out = evaluate(lambda _: out, Xc, shape)
    if not np.iscomplexobj(out):
        raise TypeError(
            "f returned a real array for a complex input, so the complex step cannot see "
            "its derivative (does f use abs, real, float() or a real-only routine?); "
            "use method='central'"
        )
    return out


def complex_along(
    f: Callable[..., Any], X: np.ndarray, K: np.ndarray, shape: tuple[int, ...]
) -> np.ndarray:
    """Complex-step DF(X)[K], unguarded; the step is scaled by a power of 2 so |hK| <= h."""
    size = float(np.abs(K).max(initial=0.0))
    if size == 0.0:
        return np.zeros(shape)
    h = COMPLEX_STEP * 2.0 ** -np.ceil(np.log2(size))
    return np.asarray(_evaluate_complex(f, X + 1j * h * K, shape).imag / h)


def _central_steps(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two steps per entry: ``t1 = eps^(1/3) max(1, |x|)``, ``t2 <= t1 / 2`` relative to |x|."""
    size = np.abs(x)
    t1 = CENTRAL_STEP * np.maximum(1.0, size)
    t2 = np.minimum(t1 / 2, np.where(size > 0, CENTRAL_STEP * size, t1))
    representable = (x + t2 != x) & (x - t2 != x)
    return t1, np.where(representable, t2, t1 / 2)


def _combine(
    F0: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray, Any]], floor: bool = False
) -> Central:
    """Central differences at two steps: the better estimate, its error, and kinks.

    ``pairs`` holds ``(F(x + t), F(x - t), 2t)`` for the large step, then the small one.
    For each entry the estimate with the smaller estimated error is kept: rounding is
    about ``eps |F| / t``, truncation (~t^2) is read off the difference of the two.
    A kink (one-sided slopes that differ, as abs at 0) leaves ``fwd - bwd`` the same at
    both steps and the two central values equal, where a smooth f makes the gap shrink
    with t and rounding noise moves all of them at random.
    """
    (P1, M1, d1), (P2, M2, d2) = pairs
    D1, D2 = (P1 - M1) / d1, (P2 - M2) / d2
    # f's rounding noise in F, per entry: eps |F|, or more if measured so by the second
    # differences (f may round far more than eps |F|, e.g. through large sums inside):
    # S(t) = t^2 f'' + noise, so S(t2) - (t2/t1)^2 S(t1) is noise.
    q = (d2 / d1) ** 2
    second = np.abs((P2 - 2 * F0 + M2) - q * (P1 - 2 * F0 + M1))
    second = np.where(np.isfinite(second), second, 0.0)
    rho1 = np.maximum(4 * EPS * (np.abs(P1) + np.abs(M1)), second) / d1
    rho2 = np.maximum(4 * EPS * (np.abs(P2) + np.abs(M2)), second) / d2
    # Truncation shows as a difference of the two values beyond three times their noise.
    trunc1 = np.maximum(np.abs(D1 - D2) - 3 * (rho1 + rho2), 0.0) / (1 - q)
    # To choose (with floor, for jacobian's per-entry steps), rounding is taken relative
    # to f's largest value too (an entry near 0 of a sum of large terms rounds like the
    # terms); the error reported is the entry's own. Directional derivatives move each
    # band of X by its own steps and keep entries apart instead.
    level = 4 * EPS * float(np.abs(F0).max(initial=0.0)) if floor else 0.0
    choose1, choose2 = np.maximum(rho1, level / d1), np.maximum(rho2, level / d2)
    guess1 = np.maximum(np.abs(D1 - D2) - choose1 - choose2, 0.0) / (1 - q)
    with np.errstate(invalid="ignore"):
        small = (q * guess1 + choose2 <= guess1 + choose1) | ~np.isfinite(D1)
    small &= np.isfinite(D2) | ~np.isfinite(D1)
    D = np.where(small, D2, D1)
    err = np.where(small, q * trunc1 + rho2, trunc1 + rho1)
    err = np.where(np.isfinite(err), err, np.where(small, rho2, rho1))  # one step left f's domain
    gap1 = (P1 - 2 * F0 + M1) / (d1 / 2)  # forward minus backward slope
    gap2 = (P2 - 2 * F0 + M2) / (d2 / 2)
    # The entry's own rounding; f's (maybe larger) rounding is judged by the callers, who
    # compare a gap with the linearity defects of the directional derivatives (kinked).
    noise = 8 * EPS * (np.abs(P2) + 2 * np.abs(F0) + np.abs(M2)) / (d2 / 2)
    kink = (
        (np.abs(gap2 - gap1) <= 0.05 * np.abs(gap2))  # smooth: gap2 <= gap1 / 2
        & (np.abs(D1 - D2) < 0.02 * np.abs(gap2))  # noise would move D as much as the gap
        & (np.abs(gap2) > 10 * noise + 2 * rho1)
        & (np.abs(gap2) > KINK_RTOL * np.abs(D))
    )
    return D, err, np.where(kink, np.abs(gap2), 0.0)


def kinked(
    central: list[Central], triples: list[tuple[int, int, int]]
) -> bool:
    """Whether a slope gap flagged by central differences stands out of the noise.

    A real kink leaves the directional derivatives linear in K (abs at 0 gives 0 in every
    direction), so its gap is far above their linearity defects; rounding noise that
    happens to look like a gap is not.
    """
    noise = entry_noise(central, triples, share=0.0, errors=False)
    return any(bool(np.any(c[2] > 100 * noise)) for c in central)


def central_along(
    f: Callable[..., Any], X: np.ndarray, F0: np.ndarray, K: np.ndarray
) -> Central:
    """Central DF(X)[K] at two steps along K: (value, estimated error, kink gaps).

    First all of X moves with steps ``eps^(1/3) max(1, |X|) / |K|`` and half that. When
    the two disagree (a singularity near a small entry of X, as log at 1e-5, or entries
    of very different sizes), the entries of X are moved in bands of similar natural step
    ``|x| / |K|`` (``1 / |K|`` for x = 0; a factor of 16 at most within a band), each
    band with its own steps, and the bands' derivatives added (DF is linear in K): one
    step for all would be rounded away on the larger entries, or be far too large for
    the smaller ones.
    """
    if not np.any(K):
        zero = np.zeros(F0.shape)
        return zero, zero, zero
    t1 = CENTRAL_STEP * max(1.0, float(np.abs(X).max())) / float(np.abs(K).max())
    whole = _central_band(f, X, F0, K, t1, t1 / 2)
    D, err, kink = whole
    scale = float(np.abs(D).max(initial=0.0)) if np.all(np.isfinite(D)) else np.inf
    rounding = 80 * EPS * (np.abs(F0) + float(np.abs(F0).max(initial=0.0))) / t1
    if not np.any(kink) and np.all(err <= ACCEPT_RTOL * (np.abs(D) + 1e-4 * scale) + rounding):
        return whole  # no truncation to speak of: one step suits every entry
    with np.errstate(divide="ignore"):
        ratio = np.where(X != 0, np.abs(X), 1.0) / np.abs(K)
        band = np.floor(np.log2(ratio) / 4)
    band[K == 0] = np.nan
    parts = []
    for b in np.unique(band[np.isfinite(band)]):
        Kb = np.where(band == b, K, 0.0)
        t1b = CENTRAL_STEP * max(1.0, float(np.abs(X[band == b]).max())) / float(
            np.abs(Kb).max()
        )
        nonzero = (band == b) & (X != 0)
        t2b = min(t1b / 2, CENTRAL_STEP * float(ratio[nonzero].min(initial=np.inf)))
        if not np.any(X + t2b * Kb != X):
            t2b = t1b / 2
        parts.append(_central_band(f, X, F0, Kb, t1b, t2b))
    # DF is linear in K, and so are the bands' errors and gaps added up (an upper bound).
    D, err, kink = (np.sum([p[i] for p in parts], axis=0) for i in range(3))
    return D, err, kink


def _central_band(
    f: Callable[..., Any], X: np.ndarray, F0: np.ndarray, K: np.ndarray, t1: float, t2: float
) -> Central:
    pairs = []
    with np.errstate(all="ignore"):  # a step may leave f's domain: nan is handled
        for t in (t1, t2):
            plus = _real_output(evaluate(f, X + t * K, F0.shape))
            minus = _real_output(evaluate(f, X - t * K, F0.shape))
            pairs.append((plus, minus, 2 * t))
        return _combine(F0, pairs)


def _real_output(F: np.ndarray) -> np.ndarray:
    """f's value at a real point, which must be real (a zero imaginary part is dropped)."""
    if np.iscomplexobj(F):
        if np.any(F.imag != 0):
            raise TypeError(
                "f(X) is complex at a real X: mdcalc differentiates real functions "
                "(differentiate the real and imaginary parts separately)"
            )
        return F.real.copy()
    return F


def linearity_defect(values: list[np.ndarray], k: int, r: int, kr: int) -> np.ndarray:
    """``|D[K + R] - D[K] - D[R]|`` per entry: numeric noise, as a derivative is linear in K.

    It measures f's own rounding (which estimates from the size of F miss when f has
    large intermediate values, as ``X @ inv(X)``) and, for central differences, their
    truncation error; nan entries count as 0 here (they are refused elsewhere).
    """
    with np.errstate(all="ignore"):
        defect = np.abs(values[kr] - values[k] - values[r])
    return np.where(np.isfinite(defect), defect, 0.0)


def linearity_noise(values: list[np.ndarray], k: int, r: int, kr: int) -> float:
    """The largest :func:`linearity_defect`, one number for all entries."""
    return float(linearity_defect(values, k, r, kr).max(initial=0.0))


def entry_noise(
    central: list[Central],
    triples: list[tuple[int, int, int]],
    share: float = NOISE_SHARE,
    errors: bool = True,
) -> np.ndarray:
    """Per output entry, the noise of central differences: their linearity defects (and
    estimated errors), at least ``share`` of the median entry's (one sample of an entry's
    noise can be small by chance; a share of the median still lets a piece much smaller
    than the other entries be seen, and ignores entries where central differences fail).
    """
    values = [c[0] for c in central]
    parts = [linearity_defect(values, *t) for t in triples]
    if errors:
        parts.append(np.max(np.nan_to_num(np.stack([c[1] for c in central]), nan=0.0), axis=0))
    noise = np.max(parts, axis=0)
    return np.maximum(noise, share * float(np.median(noise)) if noise.size else 0.0)


def non_analytic(
    exact: list[np.ndarray],
    central: list[Central],
    noise: np.ndarray,
) -> bool:
    """Whether complex-step and central values disagree in any entry of any direction.

    Each entry is compared on its own: the tolerance is GUARD_FACTOR times the central
    value's estimated error plus its noise (:func:`entry_noise`), plus GUARD_RTOL of the
    entry itself, so a non-analytic piece is seen however small, and beside however large
    a piece (down to about 1e-11 of it).
    """
    values = [c[0] for c in central]
    with np.errstate(all="ignore"):
        scale = max(float(np.nanmax(np.abs(v), initial=0.0)) for v in values)
        for e, (c, err, _) in zip(exact, central, strict=True):
            tol = GUARD_FACTOR * (err + noise) + GUARD_RTOL * np.abs(c) + 1e3 * EPS * scale
            if not np.all(np.abs(e - c) <= tol):  # nan counts as a disagreement
                return True
    return False


def _guard_directions(shape: tuple[int, ...]) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    K, R = rng.standard_normal(shape), rng.standard_normal(shape)
    return [K, R, K + R]


NON_ANALYTIC = (
    "the complex-step derivative disagrees with central differences: f is "
    "probably not complex-analytic (abs, conj, real, max or a comparison inside?) or "
    "has a singularity within 1e-20 of X; use method='central'"
)


def directional_derivative(
    f: Callable[..., Any],
    X: ArrayLike,
    K: ArrayLike,
    method: Method = "complex-step",
    *,
    structure: str | None = None,
) -> np.ndarray:
    """The derivative of f at X in the direction K, ``DF(X)[K]``.

    Parameters
    ----------
    f : callable
        Takes an array shaped like X (a copy) and returns a numpy array or scalar.
    X, K : array_like, 1-D or 2-D, real, finite, same shape
        The point, and the direction.
    method : {"complex-step", "central"}
        See :mod:`mdcalc.numeric`.
    structure : {None, "symmetric", "skew", "diagonal", "lower", "upper"}
        X and K are square matrices of this structure (see :mod:`mdcalc.structure`), and
        f is called only on such matrices (the guard's random directions too). The
        value is the same DF(X)[K].

    Returns
    -------
    numpy.ndarray, shape ``f(X).shape``

    Raises
    ------
    ValueError
        If X or K is not a finite real vector or matrix, their shapes differ, f(X) or
        the result is not finite, f is not differentiable at X (central), or f is not
        complex-analytic (complex step).
    TypeError
        If f does not return a numeric array, or (complex step) cannot carry complex
        numbers.

    Notes
    -----
    Accuracy. Complex step: exact to rounding for analytic f (about 1e-15 of each entry,
    plus ``h^2 f'''`` with h = 2^-66). It is verified against central differences along
    K, R and K + R, entry by entry, and refused (ValueError) where they disagree: a
    non-analytic piece is caught when it changes an entry by more than about 1e-8 of
    that entry and of the central differences' error (a piece below 1e-8 of the largest
    entries may escape). Central: about 1e-10 of the entries' scale for smooth f (two
    steps per band of X, the better kept per entry); refused (ValueError) where f is not
    differentiable or the estimated error exceeds 1e-6 of the entry.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import directional_derivative
    >>> X, K = np.array([[1.0, 2.0], [3.0, 4.0]]), np.eye(2)
    >>> directional_derivative(lambda X: X @ X, X, K)     # X K + K X
    array([[2., 4.],
           [6., 8.]])
    """
    _check_method(method)
    if as_structure(structure) is not None:
        return directional_on(directional_derivative, f, X, K, structure, method=method)
    X_ = as_point("X", X)
    K_ = as_point("K", K)
    if K_.shape != X_.shape:
        raise ValueError(f"X is {shape_str(X_.shape)} but K is {shape_str(K_.shape)}")
    F0 = check_output(evaluate(f, X_))
    R = np.random.default_rng(1).standard_normal(X_.shape)
    central = [central_along(f, X_, F0, D) for D in (K_, R, K_ + R)]
    if method == "central":
        value, err, _ = central[0]
        kink = np.full(value.shape, kinked(central, [(0, 1, 2)]))
        size = max(1.0, float(np.abs(X_).max())) / float(np.abs(K_).max(initial=0.0) or 1.0)
        _check_central(value, err, kink, F0, size, None, X_.shape)
    else:
        exact = [complex_along(f, X_, D, F0.shape) for D in (K_, R, K_ + R)]
        _guard(exact, central)
        value = exact[0]
    if not np.all(np.isfinite(value)):
        raise ValueError("the directional derivative is not finite: f overflows near X")
    return value


NOT_DIFFERENTIABLE = (
    "f does not appear to be differentiable at X: {where} its one-sided slopes differ "
    "(a kink, as abs or max at a tie); no derivative exists there"
)


def jacobian(
    f: Callable[..., Any],
    X: ArrayLike,
    method: Method = "complex-step",
    *,
    max_memory: int = DEFAULT_MAX_MEMORY,
    structure: str | None = None,
) -> np.ndarray:
    """Numeric Jacobian of a matrix (or vector, or scalar) function f at X.

    Parameters
    ----------
    f : callable
        Takes an array shaped like X (always a copy) and returns a numpy array (or numpy
        scalar) of a fixed shape. It need not accept stacks of inputs.
    X : array_like, 1-D or 2-D, real, finite, non-empty
        The point of differentiation.
    method : {"complex-step", "central"}
        See the module docstring. Complex-step is near machine precision but needs f to
        accept complex input analytically; central works for any smooth real f.
    max_memory : int
        Bound in bytes on the stacked inputs and outputs of one batch of perturbations.
    structure : {None, "symmetric", "skew", "diagonal", "lower", "upper"}
        X is a square matrix of this structure, and F is differentiated along the
        subspace S of such matrices only (see :mod:`mdcalc.structure`): f is called on
        matrices of S only (it may read one triangle). The result is then the Jacobian
        in the trace inner product on S: its slices ``J[i, l]`` lie in S, and
        ``tensordot(J, K) = DF(X)[K]`` for every K in S. It is the projection of the
        unstructured Jacobian onto S in its input indices (for a scalar f, the gradient
        on S: ``sym G`` for symmetric X). It is computed from the derivatives along S's
        basis, ``d_k = DF(X)[B_k]`` (B_k moves the k-th free entry of X and its partner:
        ``E_ij + E_ji`` for symmetric X), as ``sum_k d_k B_k / |B_k|^2``; the derivative
        by the independent entries x (vech X for symmetric X) is
        ``tensor_to_matrix(J, f(X).shape, X.shape) @ S_n``, with ``S_n`` the
        duplication matrix for symmetric X (``Subspace.matrix()``).

    Returns
    -------
    numpy.ndarray, shape ``f(X).shape + X.shape``
        ``J[i, l, j, k] = dF[i, l] / dX[j, k]`` (output indices first).

    Raises
    ------
    ValueError
        If X is not a finite real non-empty vector or matrix, f(X) or J is not finite,
        f's output changes shape, f is not differentiable at X (central), the complex
        step disagrees with central differences (f is not complex-analytic), the
        Jacobian cannot fit in memory, or max_memory is not a positive int.
    TypeError
        If f does not return a numeric array, or (complex-step) cannot carry complex
        numbers.

    Notes
    -----
    Accuracy. Complex step: exact to rounding for analytic f, about 1e-15 of each entry
    (measured 1e-13 at worst on tanh, inverse and Gram examples). Every output entry is
    checked against central differences in three random directions: a non-analytic
    piece changing an entry by more than about 1e-8 of it (and of the central error of
    the largest entries) is refused, not dropped. Central: about 1e-10 of the Jacobian's
    scale for smooth f (measured 3e-10 at worst on the same examples), near 0 too
    (relative steps); refused where f is not differentiable or where the estimated error
    of an entry exceeds 1e-6 of it (plus 1e-6 of that output's |f(X)|, at least 1e-2 of
    the largest, over max(1, |x|)).

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import jacobian
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> W = np.array([[5.0, 6.0]])
    >>> J = jacobian(lambda H: A @ H @ W, np.zeros((2, 1)))
    >>> J.shape                            # Z.shape + H.shape
    (2, 2, 2, 1)
    >>> float(J[1, 0, 0, 0])               # A[1, 0] * W[0, 0] = 3 * 5
    15.0

    On symmetric X, the gradient of log det X in the trace inner product is X^-1:

    >>> S = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> G = jacobian(lambda X: np.log(np.linalg.det(X)), S, structure="symmetric")
    >>> bool(np.allclose(G, np.linalg.inv(S), rtol=1e-13))
    True
    """
    _check_method(method)
    if isinstance(max_memory, bool) or not isinstance(max_memory, (int, np.integer)):
        raise TypeError(f"max_memory must be an int (bytes), got {type(max_memory).__name__}")
    if max_memory <= 0:
        raise ValueError(f"max_memory must be positive, got {max_memory}")
    if as_structure(structure) is not None:
        return jacobian_on(jacobian, f, X, structure, method=method, max_memory=max_memory)
    X_ = as_point("X", X)
    F0 = check_output(evaluate(f, X_))
    out_shape, n_in, n_out = F0.shape, X_.size, F0.size
    check_size(n_out * n_in, 8, f"the Jacobian ({n_out} outputs x {n_in} inputs)")
    complex_step = method == "complex-step"
    if complex_step:
        _evaluate_complex(f, X_.astype(complex), out_shape)  # a clear TypeError if f can't
    x = X_.reshape(-1)
    t1, t2 = _central_steps(x)
    flat = np.empty((n_out, n_in))  # row-major flat output index x row-major flat input index
    call = _Caller(f, X_.shape, out_shape)
    width = 1 if complex_step else 4
    per_perturbation = (16 if complex_step else 8) * (n_in + n_out) * width
    for cols in _batches(n_in, per_perturbation, max_memory):
        b, index = cols.stop - cols.start, np.arange(cols.start, cols.stop)
        if complex_step:
            stack = np.empty((b, n_in), dtype=complex)
            stack[...] = x
            stack[np.arange(b), index] += 1j * COMPLEX_STEP
            rows = call(stack.reshape((b,) + X_.shape)).imag.reshape(b, n_out)
            np.multiply(rows.T, 1.0 / COMPLEX_STEP, out=flat[:, cols])  # 2^66: exact
            continue
        stack = np.empty((4, b, n_in))
        stack[...] = x
        moved = [x[index] + t1[cols], x[index] - t1[cols], x[index] + t2[cols], x[index] - t2[cols]]
        for s, value in enumerate(moved):
            stack[s, np.arange(b), index] = value
        with np.errstate(all="ignore"):  # a step may leave f's domain: nan is handled
            out = _real_output(call(stack.reshape((4 * b,) + X_.shape)))
        P1, M1, P2, M2 = (part.reshape(b, n_out).T for part in out.reshape(4, b, n_out))
        with np.errstate(all="ignore"):
            D, err, kink = _combine(
                F0.reshape(-1, 1),
                [(P1, M1, moved[0] - moved[1]), (P2, M2, moved[2] - moved[3])],
                floor=True,
            )
        for j in np.flatnonzero(np.any(kink > 0, axis=0))[:3]:  # confirm in 3 directions
            E = np.zeros(n_in)
            E[cols.start + j] = 1.0
            directions = _guard_directions(X_.shape)
            directions[0] = E.reshape(X_.shape)
            directions[2] = directions[0] + directions[1]
            if not kinked([central_along(f, X_, F0, K) for K in directions], [(0, 1, 2)]):
                kink[:, j] = 0.0
        size = np.maximum(1.0, np.abs(x[cols]))  # F0 / x: the scale of a derivative
        _check_central(D, err, kink > 0, F0.reshape(-1, 1), size, cols.start, X_.shape)
        flat[:, cols] = D
    J = flat.reshape(out_shape + X_.shape)
    if not np.all(np.isfinite(J)):
        raise ValueError(
            "the numeric Jacobian has non-finite entries: f overflows or is not "
            "differentiable near X"
        )
    if complex_step:
        directions = _guard_directions(X_.shape)
        exact = [np.tensordot(J, K, axes=X_.ndim) for K in directions]
        _guard(exact, [central_along(f, X_, F0, K) for K in directions])
    return J


def _guard(exact: list[np.ndarray], central: list[Central]) -> None:
    """Refuse a complex-step result that central differences (along K, R, K + R) contradict.

    Also refuse it where central differences see a kink: a non-analytic f may agree with
    the complex step there by accident (abs and x conj(x) at 0 both give 0).
    """
    if kinked(central, [(0, 1, 2)]):
        raise ValueError(NOT_DIFFERENTIABLE.format(where="in a random direction"))
    if non_analytic(exact, central, entry_noise(central, [(0, 1, 2)])):
        raise ValueError(NON_ANALYTIC)


def central_unreliable(D: np.ndarray, err: np.ndarray, F0: np.ndarray, per_x: Any) -> Any:
    """Entries whose central estimated error is above CENTRAL_RTOL of the entry, or of f's
    value there (at least 1e-2 of its largest) times ``per_x``, the scale that turns a
    value of f into one of a derivative (1 / |X| per unit of the direction)."""
    level = np.maximum(np.abs(F0), 1e-2 * float(np.abs(F0).max(initial=0.0))) * per_x
    with np.errstate(invalid="ignore"):
        return err > CENTRAL_RTOL * (np.abs(D) + level)


def _check_central(
    D: np.ndarray,
    err: np.ndarray,
    kink: np.ndarray,
    F0: np.ndarray,
    size: Any,
    start: int | None,
    in_shape: tuple[int, ...],
) -> None:
    """Refuse central differences at a kink, or whose estimated error is too large.

    An estimated error above CENTRAL_RTOL of the entry (plus CENTRAL_RTOL of f's value
    there, at least 1e-2 of its largest, over the input's size, so that a derivative that
    is 0 up to rounding passes)
    means f varies on a scale below the step (sin at 1e6, a nearby singularity).
    """
    def where(j: int) -> str:
        if start is None:
            return "along K"
        entry = tuple(int(n) for n in np.unravel_index(start + j, in_shape))
        return f"at input entry {entry}"

    if np.any(kink):
        raise ValueError(NOT_DIFFERENTIABLE.format(where=where(int(np.argwhere(kink)[0][-1]))))
    unreliable = central_unreliable(D, err, F0, 1 / size)
    if np.any(unreliable):
        j = int(np.argwhere(unreliable)[0][-1]) if start is not None else 0
        raise ValueError(
            f"central differences are unreliable {where(j)}: their estimated error "
            f"{float(np.max(err[unreliable])):.1e} is too large for the derivative there "
            "(f varies faster than the step, about 6e-6 of |X|: an oscillation or a "
            "singularity nearby); use the complex step if f is analytic, or another point"
        )


def _batches(n: int, per_item: int, max_memory: int) -> Iterator[slice]:
    """Slices of range(n), each small enough for max_memory and for the cache."""
    budget = min(max_memory, CACHE_BATCH_BYTES)
    size = max(1, min(n, budget // max(per_item, 1)))
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


class _Caller:
    """Evaluate f on a stack of points: in one call if f provably broadcasts, else one by one.

    The first stacked call of each batch size is checked: three of its rows (first,
    middle, last) must equal, to rounding, separate calls of f at those points. A function
    that mixes the stack axis into its result (``X.T``, ``X.sum()``, ``np.trace(X)``) or
    reads it (``len(X)``, ``X.shape[0]``, ``np.eye(len(X))``) fails and is then called
    once per point from there on.
    """

    def __init__(
        self, f: Callable[..., Any], in_shape: tuple[int, ...], out_shape: tuple[int, ...]
    ) -> None:
        self.f, self.in_shape, self.out_shape = f, in_shape, out_shape
        self.stacks: bool = True
        self.verified: set[int] = set()

    def one_by_one(self, stack: np.ndarray) -> np.ndarray:
        return np.stack([evaluate(self.f, x, self.out_shape) for x in stack])

    def __call__(self, stack: np.ndarray) -> np.ndarray:
        b = len(stack)
        if not self.stacks or b < 2:
            return self.one_by_one(stack)
        try:
            with np.errstate(all="ignore"):
                out = evaluate(self.f, stack, (b,) + self.out_shape)
        except Exception:  # f does not accept a stack: that is what the probe asks
            self.stacks = False
            return self.one_by_one(stack)
        if b not in self.verified:
            rows = sorted({0, b // 2, b - 1})
            separate = self.one_by_one(stack[rows])
            if not _same(out[rows], separate):
                self.stacks = False
                return self.one_by_one(stack)
            self.verified.add(b)
        return out


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal to rounding, real and imaginary parts each on their own scale."""
    if a.dtype != b.dtype:
        return False
    with np.errstate(all="ignore"):
        for part in (np.real, np.imag):
            x, y = part(a), part(b)
            if not np.all(np.isfinite(x) == np.isfinite(y)):
                return False
            scale = float(np.abs(y[np.isfinite(y)]).max(initial=0.0))
            ok = np.isclose(x, y, rtol=1e-12, atol=1e-14 * scale) | (x == y)
            if not np.all(ok):
                return False
    return True
