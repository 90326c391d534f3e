"""Second derivatives: the numeric Hessian, Hessian-vector products, and a checker.

For a real scalar f of a matrix X, the second derivative is the symmetric bilinear map
``D²f(X)[K1, K2]``; fixing K1 = K gives the Hessian map ``K -> D(∇f)(X)[K]`` (the
Hessian-vector product), whose matrix on column-major vec is the vec Hessian, and whose
entries are the 4-index tensor ``H[j, k, m, n] = d²f / dX[j, k] dX[m, n]``.

Numerics (``method="complex-step"``, the default): the gradient is a complex step,
``∇f(Y)[j, k] = Im f(Y + i h E_jk) / h`` (exact to rounding for complex-analytic f,
checked once at X against central differences by :func:`mdcalc.jacobian`, which refuses a
non-analytic f), and the second derivative is a central difference of that gradient,
with the two-step, per-entry error control of :mod:`mdcalc.numeric`. The gradient has no
cancellation, so the only rounding left is the one central difference: about 1e-10 of
the Hessian's scale. ``method="central"`` (for f that are not complex-analytic) takes a
central difference of a central-difference gradient, both with steps ``eps^(1/4)``:
about 1e-7 of the Hessian's scale; results whose estimated error is above 1e-5 of it
are refused.

Running example: ``L(H) = ½‖A H W − Y‖²_F`` has the Hessian map ``K -> AᵀA K W Wᵀ``
and the vec Hessian ``(W Wᵀ) ⊗ (AᵀA)``.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from math import prod
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from mdcalc._validation import all_finite, as_point, check_size, evaluate, shape_str
from mdcalc.check import (
    CheckResult,
    checker_options,
    _as_claim_array,
    _common_factor,
    _Context,
    _context,
    _describe_error,
    _matrix_reading,
    _Numeric,
)
from mdcalc.numeric import (
    CACHE_BATCH_BYTES,
    COMPLEX_STEP,
    DEFAULT_MAX_MEMORY,
    EPS,
    Central,
    NotAnalytic,
    NumericArray,
    _Caller,
    _combine,
    central_along,
    central_unreliable,
    check_output,
    directional_derivative,
    entry_noise,
    jacobian,
    kinked,
)
from mdcalc.structure import Subspace, as_structure, hessian_on, hvp_on, hvps_on
from mdcalc.vectorization import matrix_to_tensor

__all__ = ["hessian", "hvp", "check_second_derivative"]

Method = Literal["auto", "complex-step", "central"]
METHODS: tuple[str, ...] = ("auto", "complex-step", "central")
# Steps of nested central differences: eps^(1/4) balances truncation (t^2) against
# rounding (eps / t^2) in a second difference.
QUARTIC_STEP = float(EPS**0.25)
# method="central": the estimated error (truncation, from two outer and two inner steps,
# and rounding) above which the result is refused, relative to the largest entry.
CENTRAL2_RTOL = 1e-5
# A numeric Hessian whose asymmetry exceeds this share of its largest entry is refused:
# f is then not twice continuously differentiable at X (or not smooth at the step scale).
ASYMMETRY_RTOL = 1e-4
_NOISE_PAIRS = 3
MAX_DIRECTIONS = 100

Form = Literal["auto", "tensor", "matrix", "map", "bilinear"]
FORMS: tuple[str, ...] = ("auto", "tensor", "matrix", "map", "bilinear")


# --------------------------------------------------------------------------- validation


def _check_method(method: Any) -> str:
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


def _check_memory(max_memory: Any) -> int:
    if isinstance(max_memory, bool) or not isinstance(max_memory, (int, np.integer)):
        raise TypeError(f"max_memory must be an int (bytes), got {type(max_memory).__name__}")
    if max_memory <= 0:
        raise ValueError(f"max_memory must be positive, got {max_memory}")
    return int(max_memory)


def _scalar_value(f: Callable[..., Any], X: np.ndarray) -> float:
    """f(X), which must be a finite real scalar (0-d): else a clear error."""
    F0 = check_output(evaluate(f, X))
    if F0.shape != ():
        raise ValueError(
            f"f must return a scalar (a float or 0-d array) for a second derivative, got "
            f"shape {F0.shape}; for a 1x1 result return its [0, 0] entry, and for a "
            "matrix-valued f take the Hessian of one scalar entry at a time (or "
            "mdcalc.jacobian of its Jacobian)"
        )
    return float(F0)


def _as_direction(name: str, K: Any, shape: tuple[int, ...]) -> np.ndarray:
    K_ = as_point(name, K)
    if K_.shape != shape:
        raise ValueError(
            f"{name} must have X's shape {shape_str(shape)} (a direction in X's space), got "
            f"{shape_str(K_.shape)}"
        )
    return K_


# --------------------------------------------------------------------------- gradients


class _Gradient:
    """The gradient of a scalar f at a point or a stack of points, batched and chunked.

    ``kind="complex-step"``: ``Im f(Y + i h E_e) / h``; ``kind="central"``:
    ``(f(Y + s_e E_e) - f(Y - s_e E_e)) / 2 s_e`` with ``s_e = eps^(1/4) max(1, |y_e|)``
    (times ``inner``). Perturbations go through one :class:`mdcalc.numeric._Caller` (which
    verifies that f broadcasts over a stack before relying on it), in chunks whose inputs
    stay below ``budget`` bytes (and 4 MiB, for the cache).
    """

    def __init__(
        self, f: Callable[..., Any], shape: tuple[int, ...], kind: str, budget: int
    ) -> None:
        self.shape, self.kind, self.n = shape, kind, prod(shape)
        self.caller = _Caller(f, shape, ())
        self.budget = max(1, min(budget, CACHE_BATCH_BYTES))
        self.fmax = 0.0  # the largest |f| seen: the scale of f's rounding
        self.inner = 1.0  # central: a factor on the steps (2 estimates their truncation)

    def __call__(self, Y: np.ndarray) -> np.ndarray:
        Y = np.asarray(Y)
        if np.iscomplexobj(Y):  # a complex step of the gradient would mix two steps
            raise TypeError(
                "the numeric gradient is real-only: differentiate it by central differences"
            )
        points = Y.reshape(-1, self.n)
        return self.stack(points).reshape(Y.shape)

    def stack(self, points: np.ndarray) -> np.ndarray:
        b, n = points.shape
        out = np.empty((b, n))
        complex_step = self.kind == "complex-step"
        width = 1 if complex_step else 2
        per = (16 if complex_step else 8) * n * width
        chunk = max(1, self.budget // per)
        total = b * n
        for start in range(0, total, chunk):
            p = np.arange(start, min(start + chunk, total))
            i, e = p // n, p % n
            c = len(p)
            if complex_step:
                S = points[i].astype(complex)
                S[np.arange(c), e] += 1j * COMPLEX_STEP
                vals = self.caller(S.reshape((c,) + self.shape))
                if not np.iscomplexobj(vals):
                    raise TypeError(
                        "f returned a real value for a complex input, so the complex step "
                        "cannot see its derivative; use method='central'"
                    )
                out[i, e] = vals.imag / COMPLEX_STEP
            else:
                x = points[i, e]
                s = self.inner * QUARTIC_STEP * np.maximum(1.0, np.abs(x))
                S = np.empty((2, c, n))
                S[:] = points[i]
                S[0, np.arange(c), e] = x + s
                S[1, np.arange(c), e] = x - s
                with np.errstate(all="ignore"):
                    vals = self.caller(S.reshape((2 * c,) + self.shape)).reshape(2, c)
                    if np.iscomplexobj(vals):
                        if np.any(vals.imag != 0):
                            raise TypeError(
                                "f(X) is complex at a real X: mdcalc differentiates real "
                                "functions"
                            )
                        vals = vals.real
                    finite = np.abs(vals[np.isfinite(vals)])
                    self.fmax = max(self.fmax, float(finite.max(initial=0.0)))
                    width2 = S[0, np.arange(c), e] - S[1, np.arange(c), e]
                    out[i, e] = (vals[0] - vals[1]) / width2
        return out


def _analytic_gradient(
    f: Callable[..., Any], X: np.ndarray, max_memory: int
) -> tuple[_Gradient, np.ndarray]:
    """The complex-step gradient function, after :func:`jacobian` has vetted f at X."""
    g0 = jacobian(f, X, "complex-step", max_memory=max_memory)  # refuses non-analytic f
    return _Gradient(f, X.shape, "complex-step", max_memory), g0


def _central_hvps(
    grad: _Gradient, X: np.ndarray, g0: np.ndarray, Ks: list[np.ndarray]
) -> list[Central]:
    """Central differences of ``grad`` along each K: (value, estimated error, kink gaps).

    Two outer steps per direction, ``t1 = eps^(1/4) max(1, |X|) / |K|`` and ``t1 / 2``
    (the central-difference gradient is noisier than f, so the steps are those of a second
    difference, not eps^(1/3)), combined entry by entry by :mod:`mdcalc.numeric`'s rule:
    the estimate with the smaller estimated error is kept, and one-sided slopes that
    differ by the same amount at both steps are a kink of the gradient.
    """
    size = max(1.0, float(np.abs(X).max()))
    x = X.reshape(-1)
    out: list[Central] = []
    for K in Ks:
        norm = float(np.abs(K).max(initial=0.0))
        if norm == 0.0:
            zero = np.zeros(X.shape)
            out.append((zero, zero, zero))
            continue
        t1 = QUARTIC_STEP * size / norm
        k = K.reshape(-1)
        points = np.stack([x + t * sign * k for t in (t1, t1 / 2) for sign in (1.0, -1.0)])
        with np.errstate(all="ignore"):
            P1, M1, P2, M2 = grad.stack(points)
            pairs = [(P1, M1, 2 * t1), (P2, M2, t1)]
            D, err, kink = _combine(g0.reshape(-1), pairs)
            if grad.kind == "central":
                # _combine judges kinks against rounding of eps |g|; a central-difference
                # gradient rounds like eps |f| / s, far more: a gap must stand out of that.
                s = QUARTIC_STEP * np.maximum(1.0, np.abs(x))
                inner = 8 * EPS * grad.fmax / s
                kink = np.where(np.abs(kink) > 10 * 4 * inner / (t1 / 2), kink, 0.0)
                # The gradient's own truncation (~s^2) is the same at both outer steps, so
                # _combine cannot see it: the same difference with inner steps 2s can
                # (its truncation is 4 times larger).
                grad.inner = 2.0
                try:
                    P1b, M1b = grad.stack(points[:2])
                finally:
                    grad.inner = 1.0
                err = err + np.abs((P1b - M1b) - (P1 - M1)) / (2 * t1) / 3
                # Rounding: each gradient entry is off by about eps |f| / s, so the
                # difference along K by twice that over 2 t (the smaller step: t1 / 2).
                err = err + _rounding(grad, x, t1)
        out.append((D.reshape(X.shape), err.reshape(X.shape), kink.reshape(X.shape)))
    return out


def _rounding(grad: _Gradient, x: np.ndarray, t1: float) -> np.ndarray:
    """Rounding error of a nested central difference with outer step t1 / 2, per entry."""
    s = QUARTIC_STEP * np.maximum(1.0, np.abs(x))
    return 4 * EPS * grad.fmax / (s * t1)


def _central_refuse(
    central: list[Central], what: str, rounding: list[np.ndarray]
) -> float:
    """Refuse nested central differences that are not finite, kinked or too inexact.

    An entry is refused when its estimated error (truncation and rounding) exceeds
    CENTRAL2_RTOL of the largest entry. Returns the largest estimated error.
    """
    if not all(np.all(np.isfinite(c[0])) for c in central):
        raise ValueError(
            f"the {what} has non-finite entries: f overflows, or a step (about 1e-4 "
            "max(1, |X|)) leaves its domain, or it is not twice differentiable near X; "
            "use the complex step if f is analytic, or another point"
        )
    if any(np.any(c[2] > 0) for c in central):
        raise ValueError(
            f"the {what} does not exist: the gradient of f does not appear to be "
            "differentiable at X (its one-sided slopes differ, as for x |x| at 0)"
        )
    scale = max(float(np.abs(c[0]).max(initial=0.0)) for c in central)
    worst = max(float(c[1].max(initial=0.0)) for c in central)
    noise = max(float(r.max(initial=0.0)) for r in rounding)
    if worst > CENTRAL2_RTOL * scale:
        if noise > 0.1 * CENTRAL2_RTOL * scale:
            raise ValueError(
                f"the {what} is too small beside f for central differences to resolve: "
                f"their rounding error, about {noise:.1e} (eps |f| / step²), is not "
                f"small beside its largest entry, {scale:.1e} (the second derivative may "
                "be zero, or f large); use the complex step if f is analytic"
            )
        raise ValueError(
            f"the central second differences of the {what} are unreliable: their "
            f"estimated error {worst:.1e} is too large beside the result's scale "
            f"{scale:.1e} (f varies faster than the step, about 1e-4 of |X|, or is not "
            "twice differentiable at X); use the complex step if f is analytic, or "
            "another point"
        )
    return worst


# --------------------------------------------------------------------------- hessian


def hessian(
    f: Callable[..., Any],
    X: ArrayLike,
    method: Method = "auto",
    *,
    max_memory: int = DEFAULT_MAX_MEMORY,
    structure: str | None = None,
) -> NumericArray:
    """Numeric Hessian of a real scalar function f at a real vector or matrix X.

    Parameters
    ----------
    f : callable
        Takes an array shaped like X (always a copy) and returns a real scalar (a float
        or a 0-d array). It need not accept stacks of inputs (that is tested, not assumed).
    X : array_like, 1-D or 2-D, real, finite, non-empty
        The point.
    method : {"auto", "complex-step", "central"}
        ``"complex-step"``: central differences (two steps per entry, the better kept) of
        the complex-step gradient; f must be complex-analytic. ``"central"``: nested
        central differences with steps ``eps^(1/4)``, for any smooth real f. ``"auto"``
        (the default): the complex step where f carries complex numbers faithfully (as
        :func:`mdcalc.jacobian` decides), else central (``np.linalg.slogdet``, abs).
    max_memory : int
        Bound in bytes on the Hessian with its symmetrised copy (``2 * 8 * X.size**2``;
        ``4 * 8 * X.size**2`` for central, which also keeps error estimates), and on the
        work arrays of one batch of evaluations of f. 256 MiB by default.
    structure : {None, "symmetric", "skew", "diagonal", "lower", "upper"}
        X is a square matrix of this structure, and f is restricted to the subspace S of
        such matrices (see :mod:`mdcalc.structure`; f is called on S only). The result
        is then the Hessian of the restriction as a bilinear form on S, in the trace
        inner product: ``D²f(X)[K1, K2] = <K2, tensordot(H, K1)>`` for K1, K2 in S, and
        ``tensordot(H, K)`` is in S (the projection of the unstructured Hessian-vector
        product onto S: :func:`hvp` with the same structure). It is computed from the
        second derivatives along S's basis, ``h_kl = D²f(X)[B_k, B_l]``, as
        ``sum_kl h_kl B_k ⊗ B_l / (|B_k|^2 |B_l|^2)``.

    Returns
    -------
    numpy.ndarray, shape ``X.shape + X.shape``
        ``H[j, k, m, n] = d²f / dX[j, k] dX[m, n]``, symmetric (``H[j,k,m,n] ==
        H[m,n,j,k]``).

    Raises
    ------
    ValueError
        If X is not a finite real non-empty vector or matrix, f(X) is not a finite
        scalar, the Hessian does not fit in max_memory (refused before any evaluation),
        f is not complex-analytic (complex step: use ``method="central"``), the result
        is not finite, or the differences are unreliable (f not twice differentiable at
        X, or varying faster than the step); or method is unknown.
    TypeError
        If f does not return numbers, returns complex values at a real X, or (complex
        step) cannot carry complex numbers; or max_memory is not an int.

    Notes
    -----
    Accuracy. Complex step: about 1e-10 of the Hessian's largest entry for smooth analytic
    f (the gradient is exact to rounding; one central difference of it remains, with
    :func:`mdcalc.jacobian`'s two-step error control, which refuses an entry whose
    estimated error exceeds 1e-6 of it). Measured against Richardson-extrapolated
    references: 2e-11 to 9e-11 on quadratic, tanh-loss, log-det, tr(B S⁻¹) and exp
    examples; up to about 2e-7 where the curvature spans many orders of magnitude (a
    tanh loss saturated in places). Central: about 1e-7 of the Hessian's scale (measured
    8e-9 to 2e-7 on the same examples, 8e-6 on f = 1e6 Σ tanh(X)² at |X| ~ 30); the
    error (truncation, from the same differences at two outer and two inner steps, and
    rounding, ``eps |f| / t²`` with t = 1.2e-4 max(1, |x|)) is estimated, and a result
    whose estimated error exceeds 1e-5 of its largest entry is refused, as is a kink of
    the gradient (so is a Hessian that is zero, or tiny beside ``|f| / |X|²``: use the
    complex step there). Both results are symmetrised, ``(H + Hᵀ) / 2``; an asymmetry
    above 1e-4 of the largest entry (plus the estimated error) is refused (f not twice
    continuously differentiable). Cost: about ``4 X.size²`` evaluations of f
    (``12 X.size²`` for central), in batches when f broadcasts over a stack of inputs
    (whether it does is tested).

    Examples
    --------
    The running example L(H) = ½‖A H W − Y‖²_F, whose Hessian map is K -> AᵀA K W Wᵀ
    and vec Hessian (W Wᵀ) ⊗ (AᵀA):

    >>> import numpy as np
    >>> from mdcalc import hessian, vec
    >>> rng = np.random.default_rng(0)
    >>> A, H = rng.standard_normal((4, 4)), rng.standard_normal((4, 3))
    >>> W, Y = rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    >>> L = lambda H: 0.5 * np.sum((A @ H @ W - Y) ** 2)
    >>> T = hessian(L, H)
    >>> T.shape                                   # H.shape + H.shape
    (4, 3, 4, 3)
    >>> M = T.transpose(1, 0, 3, 2).reshape(12, 12)  # the vec Hessian (column-major)
    >>> bool(np.allclose(M, np.kron(W @ W.T, A.T @ A), rtol=1e-9, atol=1e-9))
    True
    """
    method = _check_method(method)
    memory = _check_memory(max_memory)
    if as_structure(structure) is not None:
        return hessian_on(hessian, f, X, structure, method=method, max_memory=memory)
    X_ = as_point("X", X)
    n = X_.size
    # The Hessian and its symmetrised copy; central differences also keep their error.
    _check_hessian_memory(X_.shape, 4 if method == "central" else 2, memory)
    _scalar_value(f, X_)
    if method != "central":
        try:
            grad, _ = _analytic_gradient(f, X_, memory)
            try:
                with warnings.catch_warnings():  # a zero Hessian: the gradient is exact
                    warnings.simplefilter("ignore", RuntimeWarning)
                    Hm = jacobian(grad, X_, "central", max_memory=memory).reshape(n, n)
            except ValueError as exc:
                raise ValueError(
                    "the Hessian, as central differences of the complex-step gradient g of "
                    f"f, failed ('f' here is g): {exc}"
                ) from exc
            return NumericArray(_symmetrise(Hm, X_.shape), "complex-step")
        except (TypeError, NotAnalytic):
            if method == "complex-step":
                raise
        _check_hessian_memory(X_.shape, 4, memory)
    grad = _Gradient(f, X_.shape, "central", memory)
    g0 = grad(X_)
    central, rounding = [], []
    size = max(1.0, float(np.abs(X_).max()))
    for k in range(n):
        E = np.zeros(n)
        E[k] = 1.0
        central += _central_hvps(grad, X_, g0, [E.reshape(X_.shape)])
        rounding.append(_rounding(grad, X_.reshape(-1), QUARTIC_STEP * size))
    allowed = _central_refuse(central, "Hessian", rounding)
    # row k of the stack is the derivative along E_k
    Hm = np.array([c[0].reshape(-1) for c in central]).T
    del central
    return NumericArray(_symmetrise(Hm, X_.shape, 2 * allowed), "central")


def _check_hessian_memory(shape: tuple[int, ...], copies: int, memory: int) -> None:
    """Refuse, before any evaluation of f, a Hessian that does not fit (with its copies)."""
    n = prod(shape)
    need = copies * 8 * n * n
    if need > memory:
        raise ValueError(
            f"the Hessian of f at a {shape_str(shape)} X has {n:,} x {n:,} = {n * n:,} "
            f"entries: with its work arrays {need:,} bytes, more than "
            f"max_memory={memory:,} bytes; use hvp(f, X, K) (one Hessian-vector product, "
            "memory like X) or a larger max_memory"
        )
    check_size(copies * n * n, 8, f"the Hessian ({n} x {n}) and its work arrays")


def _symmetrise(Hm: np.ndarray, shape: tuple[int, ...], allowed: float = 0.0) -> np.ndarray:
    """(H + Hᵀ) / 2 in row-major flat form, refusing an asymmetry beyond ``allowed`` (the
    numeric error) plus ASYMMETRY_RTOL of the largest entry."""
    if not np.all(np.isfinite(Hm)):
        raise ValueError("the numeric Hessian has non-finite entries: f overflows near X")
    scale = float(np.abs(Hm).max(initial=0.0))
    asym = float(np.abs(Hm - Hm.T).max(initial=0.0))
    if asym > ASYMMETRY_RTOL * scale + allowed:
        raise ValueError(
            f"the numeric Hessian is not symmetric (asymmetry {asym:.1e} beside entries up "
            f"to {scale:.1e}): f is probably not twice continuously differentiable at X"
        )
    S = Hm + Hm.T
    S *= 0.5
    return S.reshape(shape + shape)


# --------------------------------------------------------------------------- hvp


def hvp(
    f: Callable[..., Any],
    X: ArrayLike,
    K: ArrayLike,
    method: Method = "auto",
    *,
    structure: str | None = None,
) -> NumericArray:
    """The Hessian-vector product ``D(∇f)(X)[K]`` of a real scalar f, without the Hessian.

    Parameters
    ----------
    f : callable
        Takes an array shaped like X (a copy) and returns a real scalar.
    X, K : array_like, 1-D or 2-D, real, finite, same shape
        The point, and the direction.
    method : {"auto", "complex-step", "central"}
        ``"complex-step"``: a central difference along K of the complex-step gradient
        (f must be complex-analytic); ``"central"``: nested central differences;
        ``"auto"`` (the default): the complex step where f carries complex numbers
        faithfully, else central.
    structure : {None, "symmetric", "skew", "diagonal", "lower", "upper"}
        X and K are square matrices of this structure, and f is restricted to the
        subspace S of such matrices (f is called on S only). The result is then the
        Hessian-vector product on S in the trace inner product: the element V of S with
        ``<K2, V> = D²f(X)[K, K2]`` for every K2 in S, the projection onto S of the
        unstructured one (``sym(D(∇f)(X)[K])`` for symmetric X).

    Returns
    -------
    NumericArray, shape ``X.shape``
        ``D(∇f)(X)[K]``; its entry [j, k] is ``sum_mn H[j, k, m, n] K[m, n]``, and
        ``<K2, hvp(f, X, K1)> = D²f(X)[K1, K2]``.

    Raises
    ------
    ValueError
        If X or K is not a finite real vector or matrix, their shapes differ, f(X) is not
        a finite scalar, f is not complex-analytic (complex step), the result is not
        finite or the differences are unreliable; or method is unknown.
    TypeError
        If f does not return real numbers, or (complex step) cannot carry complex ones.

    Notes
    -----
    Accuracy. Complex step: about 1e-10 of the result's largest entry for smooth analytic
    f with entries of X of order 1 (measured 2e-11 to 9e-11 on quadratic, tanh-loss,
    log-det, tr(B S⁻¹) and exp examples; 1e-8 with entries of X near 30, or near 1e-2
    beside a singularity; up to about 4e-7 on tanh losses saturated in places);
    :func:`mdcalc.directional_derivative`'s error control refuses entries whose
    estimated error is above 1e-6 of them. A complex step along K of a
    central-difference gradient was measured too: no more accurate (1e-10 to 3e-8), and
    without that error control. Central: about 1e-7 of the result's scale (measured 6e-9
    to 3e-7), refused when its estimated error exceeds 1e-5 of the scale (see
    :func:`hessian`). Memory: a few arrays like X, plus batches of evaluations below
    4 MiB. Cost: about 13 X.size evaluations of f (12 X.size for central), batched when
    f broadcasts over a stack of inputs.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import hvp
    >>> rng = np.random.default_rng(0)
    >>> A, H = rng.standard_normal((4, 4)), rng.standard_normal((4, 3))
    >>> W, Y = rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    >>> L = lambda H: 0.5 * np.sum((A @ H @ W - Y) ** 2)
    >>> K = rng.standard_normal((4, 3))
    >>> bool(np.allclose(hvp(L, H, K), A.T @ A @ K @ W @ W.T, rtol=1e-9, atol=1e-9))
    True
    """
    method = _check_method(method)
    if as_structure(structure) is not None:
        return hvp_on(hvp, f, X, K, structure, method=method)
    X_ = as_point("X", X)
    K_ = _as_direction("K", K, X_.shape)
    _scalar_value(f, X_)
    if method != "central":
        try:
            # The guard of directional_derivative refuses a non-analytic f (three directions).
            directional_derivative(f, X_, K_, "complex-step")
            grad = _Gradient(f, X_.shape, "complex-step", DEFAULT_MAX_MEMORY)
            try:
                with warnings.catch_warnings():  # a zero product: the gradient is exact
                    warnings.simplefilter("ignore", RuntimeWarning)
                    value = directional_derivative(grad, X_, K_, "central")
            except ValueError as exc:
                raise ValueError(
                    "the Hessian-vector product, as central differences of the complex-step "
                    f"gradient g of f, failed ('f' here is g): {exc}"
                ) from exc
            return NumericArray(value, "complex-step")
        except (TypeError, NotAnalytic):
            if method == "complex-step":
                raise
    grad = _Gradient(f, X_.shape, "central", DEFAULT_MAX_MEMORY)
    central = _central_hvps(grad, X_, grad(X_), [K_])
    t1 = QUARTIC_STEP * max(1.0, float(np.abs(X_).max())) / float(np.abs(K_).max() or 1.0)
    _central_refuse(central, "Hessian-vector product", [_rounding(grad, X_.reshape(-1), t1)])
    return NumericArray(central[0][0], "central")


# --------------------------------------------------------------------------- checker


_FORM_NOUN = {
    "tensor": "claimed Hessian tensor (X.shape + X.shape)",
    "matrix": "claimed vec Hessian matrix",
    "map": "claimed Hessian map K -> D(∇f)(X)[K]",
    "bilinear": "claimed bilinear form (K1, K2) -> D²f(X)[K1, K2]",
}


def _required_positional(fn: Callable[..., Any]) -> int | None:
    """How many positional parameters fn requires (None: cannot tell, e.g. *args)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    count = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            count += 1
    return count


def _read_form(claimed: Any, shape: tuple[int, ...], form: str) -> tuple[str, Any]:
    """Which form the claim is in, and the claim itself (an array for tensor/matrix)."""
    if not isinstance(form, str) or form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    n = prod(shape)
    if callable(claimed):
        if form in ("tensor", "matrix"):
            raise TypeError(f"form={form!r} asks for an array, but claimed is a callable")
        if form != "auto":
            return form, claimed
        count = _required_positional(claimed)
        if count == 1:
            return "map", claimed
        if count == 2:
            return "bilinear", claimed
        raise TypeError(
            "claimed is a callable, but its required positional parameters "
            f"({'unknown' if count is None else count}) do not say which form it is: one "
            "(K -> D(∇f)(X)[K], the Hessian map) or two ((K1, K2) -> D²f(X)[K1, K2], the "
            "bilinear form); pass form='map' or form='bilinear'"
        )
    if form in ("map", "bilinear"):
        raise TypeError(f"form={form!r} asks for a callable, got {type(claimed).__name__}")
    arr = _as_claim_array(claimed)
    if form == "auto":
        if arr.shape == (n, n):
            return "matrix", arr
        if arr.shape == shape + shape:
            return "tensor", arr
        return "unrecognised", arr
    expected = (n, n) if form == "matrix" else shape + shape
    return (form if arr.shape == expected else "unrecognised"), arr


def _linear_reading(
    form: str, claim: Any, shape: tuple[int, ...]
) -> Callable[[np.ndarray], Any]:
    if form == "matrix":
        return _matrix_reading(claim, shape)
    if form == "tensor":
        return _tensor_reading(claim)
    return _safe_map(claim, shape)


def _tensor_reading(T: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """K -> the contraction of T's last X.ndim axes with K."""
    return lambda K: np.tensordot(T, K, axes=K.ndim)


def _safe_map(
    claim: Callable[..., Any], shape: tuple[int, ...]
) -> Callable[[np.ndarray], Any]:
    def read(K: np.ndarray) -> Any:
        try:
            return claim(K.copy())
        except Exception as exc:
            raise ValueError(
                f"claimed (the Hessian map) raised {type(exc).__name__} ({exc}) on a "
                f"direction K of X's shape {shape_str(shape)}; it must take such a K and "
                "return D(∇f)(X)[K], an array of X's shape"
            ) from exc
    return read


def _bilinear_values(
    claim: Callable[..., Any], Ks: list[np.ndarray], Ls: list[np.ndarray]
) -> np.ndarray | str:
    """The matrix B(K_i, L_j) (a message instead when a value is not a real scalar)."""
    out = np.empty((len(Ks), len(Ls)))
    for i, K in enumerate(Ks):
        for j, L in enumerate(Ls):
            try:
                value = claim(K.copy(), L.copy())
            except Exception as exc:
                raise ValueError(
                    f"claimed (the bilinear form) raised {type(exc).__name__} ({exc}) on "
                    f"two directions of X's shape {shape_str(K.shape)}; it must take "
                    "(K1, K2) and return the real number D²f(X)[K1, K2]"
                ) from exc
            arr = _as_claim_array(value, "the claimed bilinear form's value")
            if arr.shape not in ((), (1,), (1, 1)):
                return (
                    f"the claimed bilinear form returned shape {shape_str(arr.shape)} for two "
                    "directions, but D²f(X)[K1, K2] is a number."
                )
            out[i, j] = float(arr.reshape(()))
    return out


def check_second_derivative(
    f: Callable[..., Any],
    X: ArrayLike,
    claimed: Any,
    *,
    form: Form = "auto",
    residual: Callable[..., Any] | None = None,
    method: Literal["auto", "complex-step", "central"] = "auto",
    rtol: float | None = None,
    n_directions: int = 3,
    seed: int = 0,
    structure: str | None = None,
) -> CheckResult:
    """Check a claimed second derivative of a scalar f at X, and explain a wrong one.

    Parameters
    ----------
    f : callable
        A real scalar function of an array shaped like X.
    X : array_like, 1-D or 2-D, real
        The point.
    claimed : array_like or callable
        One of: the Hessian tensor, shape ``X.shape + X.shape`` (entry [j, k, m, n] =
        d²f / dX[j, k] dX[m, n]); the vec Hessian, shape ``(X.size, X.size)``, column-major
        vec; a callable of one required positional parameter, the Hessian map
        ``K -> D(∇f)(X)[K]`` (an array of X's shape); or a callable of two, the bilinear
        form ``(K1, K2) -> D²f(X)[K1, K2]`` (a number). For a vector X the tensor is the
        matrix.
    form : {"auto", "tensor", "matrix", "map", "bilinear"}
        How to read the claim; "auto" decides by shape, or for a callable by the number
        of its required positional parameters.
    residual : callable, optional
        When ``f(X) = ½‖r(X)‖²_F``, the residual r. Then a claim equal to the
        Gauss–Newton term alone, ``K -> J_rᵀ J_r K``, is recognised and named.
    method : {"auto", "complex-step", "central"}
        Numeric method of the Hessian-vector products (see :func:`hvp`); "auto" uses the
        complex step when f is complex-analytic.
    rtol : float, optional
        Relative tolerance; 1e-6 for the complex step, 1e-4 for central differences.
    n_directions : int
        How many random directions K to test.
    seed : int
        Seed of the random directions.
    structure : {None, "symmetric", "skew", "diagonal", "lower", "upper"}
        X is a square matrix of this structure, and the claim is the second derivative
        of f restricted to the subspace S of such matrices (see :mod:`mdcalc.structure`):
        the directions are drawn inside S, f is called on S only, and a claimed Hessian
        map is compared after projection onto S (any map whose projection is the
        Hessian-vector product on S is right, e.g. ``K -> -X^-1 K X^-1`` for log det of
        a symmetric X); a bilinear form is compared on pairs of directions of S.

    Returns
    -------
    CheckResult
        Truthy when the claim holds; ``.verdict`` is "correct", "wrong" or "undecided",
        ``.mistake`` names a recognised mistake: ``"symmetrisation"`` (the claim is not
        symmetric, its symmetric part is right), ``"gauss-newton"`` (the Gauss–Newton
        term alone; needs ``residual``), ``"psd"`` (the claim is positive semi-definite in
        the directions tried and the Hessian is not: a Gauss–Newton term suspected),
        ``"row-major"`` (right with numpy's row-major flatten), ``"kronecker-order"``
        (the factors of a Kronecker product swapped), ``"kronecker-factor"`` (a factor
        transposed), ``"zero"``, ``"sign"``, ``"scale"``, ``"shape"``.

    Raises
    ------
    ValueError
        If X is bad, f(X) is not a finite scalar, an option is out of range, the claim
        raises, ``residual`` does not give ``f = ½‖r‖²``, or ``method="complex-step"`` for
        an f that is not complex-analytic.
    TypeError
        If the claim or f does not give real numbers, or a callable claim's form cannot
        be told (pass ``form=``).

    Notes
    -----
    The check never builds the Hessian: for each seeded random direction K_i it compares
    the claim's ``D(∇f)(X)[K_i]`` with :func:`hvp`'s, entry by entry on its own scale
    (each within rtol of itself, or within 100 times the numeric noise of that entry,
    measured by the linearity defect ``hvp[K + R] - hvp[K] - hvp[R]`` and the estimated
    error, plus 256 eps of the entry). A bilinear form is compared through the numbers
    ``D²f(X)[K_i, K_j] = <K_j, hvp[K_i]>``. The contract is :func:`mdcalc.check_derivative`'s:
    "correct" only where that tolerance is at most 1e-2 of the second derivative in every
    entry (a zero, halved or negated claim would have been "wrong"); a difference within
    the rounding of the largest entries, in an entry far smaller, is neither. When the
    numbers cannot decide (not finite, noise not small beside the second derivative, the
    gradient not differentiable at X, central differences unreliable) the verdict is
    "undecided", with the reason.

    Accuracy: the numeric side is :func:`hvp`'s (about 1e-10 of the scale for the complex
    step, 1e-7 for central differences), so with the default rtol a claim off by more
    than 1e-6 (1e-4) of an entry that is not dwarfed by the largest ones is "wrong", and
    a right claim is "correct". Cost: about 30 X.size evaluations of f (about 85 X.size
    for central differences), batched when f broadcasts over a stack of inputs; the
    claim is applied to each direction (a bilinear form to each pair of directions).

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import check_second_derivative
    >>> rng = np.random.default_rng(0)
    >>> A, H = rng.standard_normal((4, 4)), rng.standard_normal((4, 3))
    >>> W, Y = rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    >>> L = lambda H: 0.5 * np.sum((A @ H @ W - Y) ** 2)
    >>> check_second_derivative(L, H, np.kron(W @ W.T, A.T @ A)).verdict
    'correct'
    >>> result = check_second_derivative(L, H, np.kron(A.T @ A, W @ W.T))
    >>> result.mistake
    'kronecker-order'
    """
    X_ = as_point("X", X)
    n_directions, seed = checker_options(method, n_directions, seed, rtol)
    subspace = Subspace.at(X_, structure)
    shape = X_.shape
    f0 = _scalar_value(f, X_)
    if residual is not None:
        _check_residual(residual, X_, f0)
    kind, claim = _read_form(claimed, shape, form)
    rng = np.random.default_rng(seed)
    directions = [rng.standard_normal(shape) for _ in range(n_directions)]
    R = rng.standard_normal(shape)
    if subspace is not None:  # directions inside the subspace
        subspace.require_directions()
        directions, R = [subspace.project(K) for K in directions], subspace.project(R)
    probe = directions + [R] + [K + R for K in directions[:_NOISE_PAIRS]]
    n_pairs = len(probe) - n_directions - 1
    triples = [(i, n_directions, n_directions + 1 + i) for i in range(n_pairs)]
    if subspace is not None:
        central, used, doubt = hvps_on(_numeric_hvps, f, X_, probe, subspace, triples, method)
    else:
        central, used, doubt = _numeric_hvps(f, X_, probe, triples, method)
    # The scale of a second derivative of f (|f| / |X|^2), for one that is zero everywhere:
    # with the complex step the gradient is exact, so a zero Hessian can be told.
    # (or that of the terms the gradient's differences summed: their rounding over eps).
    size = max(1.0, float(np.abs(X_).max()))
    noise = entry_noise(central, triples)
    natural = max(
        abs(f0) / size**2 * max(float(np.abs(K).max(initial=0.0)) for K in directions),
        float(noise.max(initial=0.0)) / EPS,
    ) if used == "complex-step" else None
    numeric = _Numeric([c[0] for c in central[:n_directions]], used, noise,
                       np.zeros(central[0][0].shape), doubt, natural, None)
    context = _context(shape, shape, directions, numeric,
                       rtol if rtol is not None else (1e-6 if used == "complex-step" else 1e-4),
                       _METHOD_WORDS[used])
    rtol = context.rtol
    noun = _FORM_NOUN.get(kind, "claim")
    if numeric.doubt is not None:
        return context.undecided(numeric.doubt, kind)
    if kind == "unrecognised":
        return _shape_failure(context, claim)
    if kind in ("tensor", "matrix") and not all_finite(claim):
        return context.undecided(_NON_FINITE.format(noun=noun), kind)
    # Projected numbers D²f[K_i, K_j] = <K_j, hvp[K_i]>, with what the noise allows.
    S = _project(numeric.values, directions)
    S_tol = _project_tol(numeric.values, directions, context.noise_tol + context.band, rtol)
    values: list[np.ndarray] = []
    C = np.zeros_like(S)

    def diagnose() -> tuple[str | None, str]:
        return _diagnose2(context, X_, kind, claim, values, C, S, S_tol, residual)

    if kind == "bilinear":
        C_ = _bilinear_values(claim, directions, directions)
        if isinstance(C_, str):
            return context.result(False, np.inf, C_, kind, "shape")
        if not np.all(np.isfinite(C_)):
            return context.undecided(_NON_FINITE.format(noun=noun), kind)
        C[...] = C_
        error = float(np.abs(C - S).max() / max(float(np.abs(S).max()), 1e-300))
        if not bool(np.all(np.abs(C - S) <= S_tol)):
            mistake, why = diagnose()
            return context.result(
                False, error,
                f"wrong: the {noun} does not match the second derivative (largest relative "
                f"error {error:.2g}: some D²f(X)[K_i, K_j] is off by more than the "
                f"tolerance). {why}",
                kind, mistake)
        gap = context.power_gap()
        if gap is not None:
            return context.undecided(gap, kind)
        if error > rtol and not np.all(context.own <= context.noise_tol):
            return context.undecided(
                f"the numeric second derivative is too noisy here to decide at rtol={rtol:g}: "
                f"the {noun} differs from it by up to {error:.1e} of its scale, within the "
                "numeric noise; check at a better-conditioned point, or with a larger rtol.",
                kind,
            )
        return context.result(
            True, error,
            f"correct: the {noun} matches the numeric second derivative in {n_directions} "
            f"random directions (largest relative error {_describe_error(error)}, "
            f"{_METHOD_WORDS[used]}).",
            kind, None)
    reading = _linear_reading(kind, claim, shape)
    applied = [_apply_claim(reading, K, shape) for K in directions]
    if isinstance(applied[0], str):
        return context.result(False, np.inf, applied[0], kind, "shape")
    values[:] = [np.asarray(v) for v in applied]
    if subspace is not None:  # what the claim says on the subspace
        values[:] = [subspace.project(v) for v in values]
    if not all(np.all(np.isfinite(v)) for v in values):
        return context.undecided(_NON_FINITE.format(noun=noun), kind)
    C[...] = _project(values, directions)
    return context.verdict(values, kind, noun, diagnose, what="second derivative")


_METHOD_WORDS = {
    "complex-step": "central differences of the complex-step gradient",
    "central": "nested central differences",
}

_NON_FINITE = (
    "the {noun} has non-finite entries (nan or inf), so it cannot be compared with the "
    "second derivative, which is finite here; compute the claim at this X again."
)


def _apply_claim(
    reading: Callable[[np.ndarray], Any], K: np.ndarray, shape: tuple[int, ...]
) -> Any:
    value = _as_claim_array(reading(K.copy()), "the claimed Hessian map's value")
    if value.shape != shape:
        return (
            f"the claimed Hessian map returned shape {shape_str(value.shape)} for a direction "
            f"K of X's shape {shape_str(shape)}, but D(∇f)(X)[K] has X's shape."
        )
    return value


def _project(values: list[np.ndarray], directions: list[np.ndarray]) -> np.ndarray:
    """The matrix <K_j, values_i>: the bilinear form on the directions."""
    return np.array([[float(np.sum(K * v)) for K in directions] for v in values])


def _project_tol(
    numeric: list[np.ndarray], directions: list[np.ndarray], atol: np.ndarray, rtol: float
) -> np.ndarray:
    """What a projected number may differ by: rtol of it, and the noise it gathers."""
    S = _project(numeric, directions)
    gathered = np.array([[float(np.sum(np.abs(K) * atol)) for K in directions]] * len(numeric))
    norms = np.array(
        [[float(np.linalg.norm(K) * np.linalg.norm(v)) for K in directions] for v in numeric]
    )
    return max(rtol, 1e-6) * (np.abs(S) + 1e-3 * norms) + gathered


def _numeric_hvps(
    f: Callable[..., Any],
    X: np.ndarray,
    probe: list[np.ndarray],
    triples: list[tuple[int, int, int]],
    method: str,
) -> tuple[list[Central], str, str | None]:
    """Numeric hvp along each probe direction: (value, estimated error, kink gaps) each,
    the method used, and why the numbers cannot decide (or None)."""
    used = "central"
    if method != "central":
        try:
            directional_derivative(f, X, probe[0], "complex-step")
            used = "complex-step"
        except (TypeError, ValueError):
            if method == "complex-step":
                raise
    if used == "complex-step":
        grad = _Gradient(f, X.shape, "complex-step", DEFAULT_MAX_MEMORY)
        g0 = grad(X)
        with np.errstate(all="ignore"):
            central = [central_along(grad, X, g0, K) for K in probe]
        kinks = kinked(central, triples)
        size = max(1.0, float(np.abs(X).max()))
        unreliable = any(
            np.any(central_unreliable(c[0], c[1], g0, np.abs(K).sum() / size))
            for c, K in zip(central, probe, strict=True)
        )
    else:
        grad = _Gradient(f, X.shape, "central", DEFAULT_MAX_MEMORY)
        central = _central_hvps(grad, X, grad(X), probe)
        kinks = kinked(central, triples)
        size = max(1.0, float(np.abs(X).max()))
        rounding = [
            _rounding(grad, X.reshape(-1), QUARTIC_STEP * size / float(np.abs(K).max() or 1.0))
            for K in probe
        ]
        try:
            _central_refuse(central, "second derivative", rounding)
            unreliable = False
        except ValueError:
            unreliable = True
    doubt = None
    if not all(np.all(np.isfinite(c[0])) for c in central):
        doubt = (
            "the numeric second derivative of f at X is not finite in a random direction "
            "(f overflows, or is not twice differentiable there), so no claim can be "
            "checked here; try a point where f is smooth."
        )
    elif kinks:
        doubt = (
            "the gradient of f does not appear to be differentiable at X (its one-sided "
            "slopes differ in a random direction), so there is no second derivative to "
            "compare with; try a nearby point."
        )
    elif unreliable:
        doubt = (
            "the numeric second derivative is unreliable here (f varies faster than the "
            "step, or is not twice differentiable at X), so no claim can be checked; use a "
            "complex-analytic f, or another point."
        )
    return central, used, doubt


def _shape_failure(context: _Context, claim: np.ndarray) -> CheckResult:
    shape = context.in_shape
    n = prod(shape)
    message = (
        f"wrong shape: the claim has shape {claim.shape}. A second derivative of a scalar f "
        f"of a {shape_str(shape)} X has {n} x {n} = {n * n} second partial derivatives. "
        f"Expected the Hessian tensor of shape X.shape + X.shape = {shape + shape}, the vec "
        f"Hessian of shape ({n}, {n}), a callable K -> D(∇f)(X)[K] or a callable "
        "(K1, K2) -> D²f(X)[K1, K2]."
    )
    if claim.shape == shape:
        message += (
            " An array shaped like X is a gradient (a first derivative), not a second "
            "derivative."
        )
    return context.result(False, np.inf, message, "unrecognised", "shape")


def _diagnose2(
    context: _Context,
    X: np.ndarray,
    kind: str,
    claim: Any,
    values: list[np.ndarray],
    C: np.ndarray,
    S: np.ndarray,
    S_tol: np.ndarray,
    residual: Callable[..., Any] | None,
) -> tuple[str | None, str]:
    """Name the mistake of a wrong claim, trying the usual ones in turn.

    ``C`` and ``S`` are the claimed and numeric ``D²f[K_i, K_j]`` on the directions, and
    ``S_tol`` what they may differ by; ``values`` the claimed ``D(∇f)[K_i]`` (empty for a
    bilinear form).
    """
    shape = context.in_shape

    # (a) A missing symmetrisation: the claim is not symmetric, its symmetric part is right.
    asymmetric = not bool(np.all(np.abs(C - C.T) <= S_tol + S_tol.T))
    if asymmetric and bool(np.all(np.abs((C + C.T) / 2 - S) <= S_tol)):
        return "symmetrisation", (
            "It is not symmetric, and its symmetric part is right: a Hessian is symmetric "
            "(d²f/dX[j,k]dX[m,n] = d²f/dX[m,n]dX[j,k]), so symmetrise the claim, "
            "(M + Mᵀ) / 2 (for f = xᵀA x the Hessian is A + Aᵀ, not 2A; for tr(Xᵀ A X) "
            "the map is K -> (A + Aᵀ) K, not 2 A K)."
        )
    # (c) Kronecker order, the row-major reading, a transposed factor (arrays, matrix X).
    if kind in ("matrix", "tensor") and len(shape) == 2 and claim.size <= _DIAGNOSIS_LIMIT:
        found = _array_mistake(context, kind, claim, shape)
        if found is not None:
            return found
    # (b) The Gauss-Newton term alone.
    if residual is not None:
        gn = _gauss_newton(residual, X, context.directions)
        if kind == "bilinear":
            if bool(np.all(np.abs(C - _project(gn, context.directions)) <= S_tol)):
                return "gauss-newton", _GN_WHY
        elif context.fits_values(values, gn):
            return "gauss-newton", _GN_WHY
    if not np.any(C) and all(not np.any(v) for v in values):
        return "zero", "It is zero in every direction, and the second derivative is not."
    factor = _common_factor(values, context.numeric) if values else _common_factor([C], [S])
    if factor is not None:
        if np.isclose(factor, -1.0):
            return "sign", "It is off by a sign: it equals minus the second derivative."
        half = np.isclose(factor, 2.0) or np.isclose(factor, 0.5)
        hint = " (a ½ in f forgotten, or added?)" if half else ""
        return "scale", (
            f"It is off by a constant factor: it equals {factor:.6g} times the second "
            f"derivative{hint}."
        )
    if residual is None:
        tol = S_tol + S_tol.T
        negative = float(np.linalg.eigvalsh((S + S.T) / 2).min()) < -float(np.abs(tol).max())
        psd = float(np.linalg.eigvalsh((C + C.T) / 2).min()) >= -float(np.abs(tol).max())
        if negative and psd:
            return "psd", (
                "It is positive semi-definite in the directions tried, but the Hessian is "
                "not (D²f(X)[K, K] < 0 for some K among them): is it the Gauss–Newton term "
                "J_rᵀ J_r alone, for f = ½‖r(X)‖²? That term misses Σ r_i ∇²r_i, which "
                "is not zero unless the residual is, or r is linear. Pass residual=r to "
                "check that."
            )
    return None, "The error is not one of the usual mistakes this checker knows."


# Above this many entries a claimed array is not rearranged to diagnose it.
_DIAGNOSIS_LIMIT = 4_000_000


def _array_mistake(
    context: _Context, kind: str, claim: np.ndarray, shape: tuple[int, ...]
) -> tuple[str, str] | None:
    """Kronecker order, row-major reading, transposed factor or index order of an array."""
    if kind == "matrix":
        M = claim
        if context.fits(_matrix_reading(M, shape, order="C")):
            if _is_kronecker(M, shape):
                return "kronecker-order", (
                    "It is a Kronecker product with its two factors swapped: for the map "
                    "K -> P K Q the vec Hessian is Qᵀ ⊗ P, the factor acting on the rows "
                    "of K (P, of X's row count) on the right; for L(H) = ½‖A H W − Y‖² it "
                    "is (W Wᵀ) ⊗ (AᵀA), not (AᵀA) ⊗ (W Wᵀ). The swapped order is what the "
                    "row-major vec (numpy's default flatten) gives; this book stacks "
                    "columns (mdcalc.vec, order='F')."
                )
            return "row-major", (
                "It matches the row-major convention (numpy's default flatten), not the "
                "column-major vec this book uses: the map K -> P K Q has the vec Hessian "
                "Qᵀ ⊗ P with columns stacked, and P ⊗ Qᵀ with rows stacked. Flatten with "
                "order='F' (mdcalc.vec) to stack columns."
            )
        T = matrix_to_tensor(M, shape, shape)
    else:
        T = claim
    # For K -> P K Q, H[j, k, m, n] = P[j, m] Q[n, k]; swapping j, m transposes P
    # (in every term of a sum of such maps), swapping k, n transposes Q.
    # For a symmetric tensor the two readings are the same, and only a symmetric claim
    # can fit either (the true Hessian is symmetric): one test covers both.
    if context.fits(_tensor_reading(T.transpose(2, 1, 0, 3))):
        return "kronecker-factor", (
            "It has a transposed factor: read as a map K -> P K Q (or a sum of such maps), "
            "whose vec Hessian is Qᵀ ⊗ P, it has Pᵀ where P is meant, or equally Qᵀ where "
            "Q is meant (swap the indices j and m, or k and n, of H[j, k, m, n]). In "
            "vec(P K Q) = (Qᵀ ⊗ P) vec(K) only the right-hand matrix Q is transposed."
        )
    if kind == "tensor" and shape[0] == shape[1]:
        for perm, what in (((0, 2, 1, 3), "[j, m, k, n]"), ((1, 0, 3, 2), "[k, j, n, m]")):
            if context.fits(_tensor_reading(T.transpose(perm))):
                return "index-order", (
                    f"Its indices are in the order {what}, not [j, k, m, n] with "
                    "H[j, k, m, n] = d²f / dX[j, k] dX[m, n]; move the axes with "
                    "np.transpose."
                )
    return None


_GN_WHY = (
    "It is the Gauss–Newton term alone, K -> J_rᵀ J_r K (J_r the Jacobian of the "
    "residual r, f = ½‖r(X)‖²): the full Hessian adds Σ r_i ∇²r_i, the residuals times "
    "the residual's own second derivatives, which vanishes only where r = 0 or r is "
    "linear (for tanh(A H W) − Y it is not zero)."
)


def _is_kronecker(M: np.ndarray, shape: tuple[int, ...]) -> bool:
    """Whether M = B ⊗ C with B (m x m) and C (p x p), for X of shape (m, p)."""
    m, p = shape
    # M[a p + c, b p + d] = B[a, b] C[c, d]: regrouped, a rank-one (m m) x (p p) matrix.
    R = M.reshape(m, p, m, p).transpose(0, 2, 1, 3).reshape(m * m, p * p)
    sigma = np.linalg.svd(R, compute_uv=False)
    return bool(sigma[0] > 0 and (len(sigma) == 1 or sigma[1] <= 1e-9 * sigma[0]))


def _check_residual(residual: Callable[..., Any], X: np.ndarray, f0: float) -> None:
    """Refuse a residual r with f(X) != ½‖r(X)‖²_F (it would name a mistake wrongly)."""
    if not callable(residual):
        raise TypeError(f"residual must be callable (X -> r(X)), got {type(residual).__name__}")
    try:
        r0 = check_output(evaluate(residual, X))
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"residual: {exc}") from exc
    half = 0.5 * float(np.sum(r0 * r0))
    if not np.isclose(half, f0, rtol=1e-8, atol=1e-12 * max(1.0, abs(f0))):
        raise ValueError(
            f"residual does not fit f: ½‖r(X)‖² = {half:.6g} but f(X) = {f0:.6g}; pass the "
            "r with f(X) = ½‖r(X)‖²_F (or no residual)"
        )


def _gauss_newton(
    residual: Callable[..., Any], X: np.ndarray, directions: list[np.ndarray]
) -> list[np.ndarray]:
    """``J_rᵀ J_r K`` for each direction: ``J_r K`` as a directional derivative of r, then
    ``J_rᵀ G`` as the gradient of ``<G, r(X)>`` (complex step where r allows, else central)."""
    out = []
    for K in directions:
        try:
            JK = directional_derivative(residual, X, K, "complex-step")
        except (TypeError, ValueError):
            JK = directional_derivative(residual, X, K, "central")
        axes = tuple(range(-JK.ndim, 0))

        def pairing(Y: np.ndarray, G: np.ndarray = JK, axes: tuple[int, ...] = axes) -> Any:
            return np.sum(G * residual(Y), axis=axes)

        try:
            g = jacobian(pairing, X, "complex-step")
        except (TypeError, ValueError):
            g = jacobian(pairing, X, "central")
        out.append(g)
    return out
