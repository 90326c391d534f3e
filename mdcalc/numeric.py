"""Numeric differentiation: the Jacobian of any matrix function, to check closed forms.

Two methods, and ``"auto"`` (the default) to choose between them:

``"complex-step"``
    ``dF/dX[j, k] = Im F(X + i h E_jk) / h`` with h = 2^-66. No subtraction, so no
    cancellation: exact to rounding for any f that is complex-analytic (built from +, -,
    @, inv, exp, tanh, log, ...; not abs, conj, real, max or comparisons). Every result is
    verified against real differences of f, entry by entry, in random directions (the
    guard): a function with a non-analytic piece anywhere (even a small one, even beside
    a large analytic one) is refused with a clear error instead of differentiated
    wrongly. First with central differences at X; where their noise is too large to
    see a small piece (f's value large beside its derivative), also over a wide step:
    ``(F(X + tK) - F(X - tK)) / 2t`` against the average of the complex-step derivative
    over the segment, by Gauss-Legendre quadrature (equal for analytic f at any t, so
    t can be large and f's rounding small beside the difference).
``"auto"``
    The complex step where f carries complex numbers faithfully (it accepts them,
    returns complex values, and the guard agrees), central differences where it does
    not (``abs``, ``np.linalg.slogdet``, real-only routines). The method used is
    reported: results are :class:`NumericArray` s with a ``.method`` attribute.
``"central"``
    ``(F(X + t E_jk) - F(X - t E_jk)) / 2t`` at two steps per entry, ``t1 = eps^(1/3)
    max(1, |x|)`` and a smaller one relative to |x| (so that log at 1e-5 is right), keeping
    for each entry of the result the one with the smaller estimated error (truncation from
    their difference, rounding from the size of f). Works for any smooth real f, to about
    1e-10 of the derivative's scale. A point where the one-sided slopes differ (f not
    differentiable at X, like abs at 0), or where the estimated error is above 1e-6 of the
    entry plus 1e-8 of the largest (f varies faster than the step, or its value is so
    large beside its derivative that its rounding shows: |x| + 1e10), is refused; a
    derivative that does not stand out of f's rounding at all is refused too, unless f
    did not change at all over the steps (then zeros, with a RuntimeWarning).

Speed: when f broadcasts over a leading stack dimension (``A @ X @ W`` and elementwise
numpy functions do), many perturbations go through one call of f. Whether it does is
tested, not assumed: for every batch size used, rows of a stacked call must equal (to
rounding) separate calls, otherwise every perturbation gets a call of its own. f is always
called on copies, so a function that modifies its input cannot corrupt the point (once a
batch size is verified, f gets mdcalc's own temporary stack, read once, without a copy).

Memory: stacks are cut into batches whose inputs and outputs together stay below
``max_memory`` bytes (256 MiB by default), and below 4 MiB in any case, which keeps a batch
in cache and is faster (benchmarks/README.md). A Jacobian that cannot fit in memory is
refused before anything is allocated (see :func:`mdcalc._validation.check_size`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from mdcalc._validation import as_point, check_size, evaluate, shape_str
from mdcalc.structure import as_structure, directional_on, jacobian_on

__all__ = ["jacobian", "directional_derivative", "NumericArray", "METHODS", "COMPLEX_STEP"]

Method = Literal["auto", "complex-step", "central"]
METHODS: tuple[str, ...] = ("auto", "complex-step", "central")
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
# Where the guard at X resolves only worse than this share of an entry's scale, it also
# compares over a wide step: relative steps WIDE_STEP / 8^k, k < WIDE_TRIES (the best
# kept), with WIDE_FACTOR times its noise (which is already an upper bound: 4 eps |f|
# per value, where rounding is eps |f| / 2).
GUARD_WANTED = 1e-6
# ... or worse than this share of the entry itself (small entries beside large ones), which
# the checkers need to call a claim correct there (check.POWER, with a margin).
GUARD_OWN = 1e-3
WIDE_STEP = 2.0**-2
WIDE_TRIES = 7
WIDE_FACTOR = 10.0
_GAUSS = {n: np.polynomial.legendre.leggauss(n) for n in (2, 3)}
# An imaginary part below this has lost digits (it is subnormal, or nearly).
TINY_IMAG = float(np.finfo(float).tiny) / EPS
# Jump of the one-sided slopes, relative to the entry's derivative, above which f is not
# differentiable at X (if the jump also stands out of f's rounding noise).
KINK_RTOL = 1e-9
# jacobian and directional_derivative refuse central differences whose estimated error
# is above CENTRAL_RTOL of the entry plus CENTRAL_RTOL * CENTRAL_SHARE of the largest.
CENTRAL_RTOL = 1e-6
CENTRAL_SHARE = 1e-2
# A central-difference derivative whose largest entry is above this many times the
# largest estimated error stands out of f's rounding, and is held to relative accuracy.
STANDS_OUT = 3.0
# A central difference along K moving all of X with one step is kept when its estimated
# error is below this share of each entry (plus 1e-4 of the largest) beyond rounding;
# else X moves in bands.
ACCEPT_RTOL = 1e-8
# An entry's noise is at least this share of the median entry's (see entry_noise).
NOISE_SHARE = 1e-4


class NumericArray(np.ndarray):
    """A numpy array that says which numeric method computed it: ``.method`` is
    ``"complex-step"`` or ``"central"``. It prints, compares and computes as a plain
    array; arithmetic on it gives plain arrays (the method describes this one only).

    >>> import numpy as np
    >>> from mdcalc import jacobian
    >>> J = jacobian(np.abs, np.array([1.0, -2.0]))  # abs: not complex-analytic
    >>> J.method
    'central'
    """

    method: str | None

    def __new__(cls, values: np.ndarray, method: str) -> NumericArray:
        out = np.asarray(values).view(cls)
        out.method = method
        return out

    def __array_finalize__(self, obj: Any) -> None:
        self.method = getattr(obj, "method", None)

    def __array_wrap__(self, array: Any, context: Any = None, return_scalar: bool = False) -> Any:
        plain = np.asarray(array).view(np.ndarray)
        return plain[()] if return_scalar else plain

    def __repr__(self) -> str:
        return repr(self.view(np.ndarray))

    def __reduce__(self) -> Any:  # pickles as a plain array
        return self.view(np.ndarray).__reduce__()


class NotAnalytic(ValueError):
    """The guard found the complex step contradicted by real differences of f."""


def _check_method(method: Any) -> str:
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


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
    estimated errors), at least ``share`` of the median entry's relative noise times the
    entry's own scale (one sample of an entry's noise can be small by chance; a share of
    the median, relative, still lets a piece much smaller than the entry be seen, lets
    entries of very different sizes keep their own noise, and ignores entries where
    central differences fail).
    """
    values = [c[0] for c in central]
    parts = [linearity_defect(values, *t) for t in triples]
    if errors:
        parts.append(np.max(np.nan_to_num(np.stack([c[1] for c in central]), nan=0.0), axis=0))
    noise = np.max(parts, axis=0)
    return relative_floor(noise, own_scale(values), share)


def own_scale(values: list[np.ndarray]) -> np.ndarray:
    """Per output entry, its largest size over the directions (nan and inf ignored)."""
    with np.errstate(invalid="ignore"):
        stacked = np.abs(np.stack(values))
    return np.max(np.where(np.isfinite(stacked), stacked, 0.0), axis=0)


def relative_floor(noise: np.ndarray, scale: np.ndarray, share: float) -> np.ndarray:
    """``noise``, raised to ``share`` times the median noise-to-scale ratio times each
    entry's scale (entries of scale 0 keep their own noise)."""
    if share == 0 or not noise.size:
        return noise
    positive = scale > 0
    if not np.any(positive):
        return noise
    ratio = float(np.median(noise[positive] / scale[positive]))
    return np.maximum(noise, share * ratio * scale)


def guard_resolution(
    f: Callable[..., Any],
    X: np.ndarray,
    exact: list[np.ndarray],
    central: list[Central],
    probe: list[np.ndarray],
    triples: list[tuple[int, int, int]],
    lazy: bool = False,
    power: bool = True,
) -> Any:
    """Check complex-step values against real differences of f; return what could hide.

    ``exact[i]`` and ``central[i]`` are DF(X)[K_i] by the complex step and by central
    differences along ``probe[i]``. Raises :class:`NotAnalytic` (a ValueError) where they
    disagree beyond GUARD_FACTOR times the central noise (plus GUARD_RTOL of the entry,
    and 1e3 eps of the entry's own scale): f is not complex-analytic, or the complex step
    underflows (then the message says so). Returns, per output entry (the largest over
    the directions), the disagreement that could have escaped: the guard's resolution.
    Where it is worse than GUARD_WANTED of the entry's scale (f's value large beside its
    derivative makes central differences noisy), the wide comparison runs as well, and
    the better resolution is returned. With ``lazy``, returns (resolution, refine): the
    resolution at X, and a function that runs the wide comparison and returns the better
    one (or None when there is nothing to refine), for a caller to run only when its
    answer depends on it. With ``power=False`` (the numeric functions, which have no
    verdict to power) small entries are not held to GUARD_OWN of themselves.
    """
    values = [c[0] for c in central]
    own = own_scale(values)
    noise = entry_noise(central, triples)
    tolerances = []
    with np.errstate(all="ignore"):
        for e, (c, err, _), K in zip(exact, central, probe, strict=True):
            tol = GUARD_FACTOR * (err + noise) + GUARD_RTOL * np.abs(c) + 1e3 * EPS * own
            if not np.all(np.abs(e - c) <= tol):  # nan counts as a disagreement
                _refuse_underflow(c, K)
                raise NotAnalytic(NON_ANALYTIC)
            tolerances.append(tol)
    resolution = np.max(tolerances, axis=0)

    def refine() -> np.ndarray:
        wide = _wide_resolution(f, X, central, noise, own, probe)
        return resolution if wide is None else np.minimum(resolution, wide)

    if np.all(resolution <= _wanted(own, power)):
        return (resolution, None) if lazy else resolution
    return (resolution, refine) if lazy else refine()


def _wanted(own: np.ndarray, power: bool = True) -> np.ndarray:
    """The guard's resolution wanted per entry. For the checkers (``power``): GUARD_WANTED
    of the entry (or of 1e-3 of the largest, for small ones), and at most GUARD_OWN of
    the entry itself. For the numeric functions: GUARD_WANTED of the largest entry (what
    central differences at X resolve, unless f is large beside its derivative)."""
    largest = float(own.max(initial=0.0))
    if not power:
        return np.full(own.shape, GUARD_WANTED * largest)
    floor = GUARD_WANTED * np.maximum(own, 1e-3 * largest)
    return np.minimum(floor, GUARD_OWN * own)


def _refuse_underflow(central_value: np.ndarray, K: np.ndarray) -> None:
    """A disagreement of the complex step because its imaginary parts underflow: say so."""
    size = float(np.abs(K).max(initial=0.0))
    scale = float(np.nanmax(np.abs(central_value), initial=0.0))
    if size == 0 or not np.isfinite(scale):
        return
    h = COMPLEX_STEP * 2.0 ** -np.ceil(np.log2(size))
    if 0 < scale * h < TINY_IMAG:
        raise NotAnalytic(
            f"the complex step underflows here: f's derivative (about {scale:.0e}) times "
            f"the step (about {h:.0e}) is below the smallest normal float, so its "
            "imaginary parts lose their digits; scale f up by a power of ten (and the "
            "claim with it), or use method='central'"
        )


def _wide_resolution(
    f: Callable[..., Any],
    X: np.ndarray,
    central: list[Central],
    noise: np.ndarray,
    own: np.ndarray,
    probe: list[np.ndarray],
) -> np.ndarray | None:
    """The guard over a wide step: ``(F(X + tK) - F(X - tK)) / 2t`` against the mean of
    the complex-step derivative over the segment (3-point Gauss-Legendre, its error
    estimated by the 2-point rule). For analytic f they are equal at any t, so t can be
    large and f's rounding small beside the difference; but f's values (and rounding)
    grow with t, and the quadrature needs the derivative smooth on the segment: steps
    WIDE_STEP |X| / 8^k are tried, and for each entry the smallest tolerance among the
    steps where its quadrature converged is kept (until every entry has what it wants).
    Three directions are enough (K, R, K + R: the resolution scales with |K|, like the
    others'). Raises NotAnalytic where they disagree at any step tried; returns the
    resolution per entry (inf where no step worked), or None where none could run."""
    size = max(1.0, float(np.abs(X).max()))
    wanted = _wanted(own)
    resolutions = []
    for (_, err, _), K in list(zip(central, probe, strict=True))[:3]:
        norm = float(np.abs(K).max(initial=0.0))
        if norm == 0.0:
            continue
        small_step = CENTRAL_STEP * size / norm
        best = np.full(own.shape, np.inf)
        for k in range(WIDE_TRIES):
            t = WIDE_STEP * size / norm / 8.0**k
            out = _wide_one(f, X, K, t, (err + noise) * (small_step / t), own)
            if out is None:
                continue
            disagreement, tol = out
            if not np.all(disagreement <= tol):
                raise NotAnalytic(NON_ANALYTIC)
            best = np.minimum(best, tol)
            if np.all(best <= wanted):
                break
        resolutions.append(best)
    return np.max(resolutions, axis=0) if resolutions else None


def _wide_one(
    f: Callable[..., Any], X: np.ndarray, K: np.ndarray, t: float, measured: np.ndarray,
    own: np.ndarray,
) -> tuple[np.ndarray, np.ndarray] | None:
    """One wide comparison along K at step t: (disagreement, tolerance) per entry, with an
    infinite tolerance (and no disagreement) where the quadrature has not converged (the
    derivative varies on a scale below t) or f left its domain; None if f failed."""
    shape = own.shape
    with np.errstate(all="ignore"):
        try:
            plus = _real_output(evaluate(f, X + t * K, shape))
            minus = _real_output(evaluate(f, X - t * K, shape))
            means = []
            for n in (3, 2):
                nodes, weights = _GAUSS[n]
                ds = [complex_along(f, X + s * t * K, K, shape) for s in nodes]
                means.append(sum(w * d for w, d in zip(weights, ds, strict=True)) / 2)
        except (TypeError, ValueError):
            return None
        quotient = (plus - minus) / (2 * t)
        mean, quadrature = means[0], np.abs(means[0] - means[1])
        rounding = 4 * EPS * (np.abs(plus) + np.abs(minus)) / (2 * t) + measured
        usable = (
            np.isfinite(quotient) & np.isfinite(mean) & np.isfinite(rounding)
            & (quadrature <= np.maximum(rounding, 1e-9 * own))
        )
        tol = WIDE_FACTOR * (rounding + quadrature) + GUARD_RTOL * np.abs(mean) + 1e3 * EPS * own
        return (np.where(usable, np.abs(quotient - mean), 0.0),
                np.where(usable, tol, np.inf))


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
    method: Method = "auto",
    *,
    structure: str | None = None,
) -> NumericArray:
    """The derivative of f at X in the direction K, ``DF(X)[K]``.

    Parameters
    ----------
    f : callable
        Takes an array shaped like X (a copy) and returns a numpy array or scalar.
    X, K : array_like, 1-D or 2-D, real, finite, same shape
        The point, and the direction.
    method : {"auto", "complex-step", "central"}
        See :mod:`mdcalc.numeric`; "auto" uses the complex step where f carries complex
        numbers faithfully, else central differences.
    structure : {None, "symmetric", "skew", "diagonal", "lower", "upper"}
        X and K are square matrices of this structure (see :mod:`mdcalc.structure`), and
        f is called only on such matrices (the guard's random directions too). The
        value is the same DF(X)[K].

    Returns
    -------
    NumericArray, shape ``f(X).shape``
        ``.method`` says which method was used.

    Raises
    ------
    ValueError
        If X or K is not a finite real vector or matrix, their shapes differ, f(X) or
        the result is not finite, f is not differentiable at X, central differences
        cannot resolve the result, or (``method="complex-step"``) f is not
        complex-analytic or the complex step underflows.
    TypeError
        If f does not return a numeric array, or (``method="complex-step"``) cannot carry
        complex numbers.

    Notes
    -----
    Accuracy. Complex step: exact to rounding for analytic f (about 1e-15 of each entry,
    plus ``h^2 f'''`` with h = 2^-66). It is verified against real differences along K,
    R and K + R (R random), entry by entry, and refused (ValueError) where they disagree:
    a non-analytic piece is caught when it changes an entry by more than about 1e-8 of
    that entry and 100 times the central differences' error there (over a wide step
    where that error is large: f large beside its derivative). Central: about 1e-10 of
    the entries' scale for smooth f (two steps per band of X, the better kept per
    entry); refused (ValueError) where f is not differentiable, or where the estimated
    error of an entry exceeds 1e-6 of it plus 1e-8 of the largest entry (f varies faster
    than the step, or f's value is so large beside its derivative that its rounding
    shows).

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import directional_derivative
    >>> X, K = np.array([[1.0, 2.0], [3.0, 4.0]]), np.eye(2)
    >>> D = directional_derivative(lambda X: X @ X, X, K)     # X K + K X
    >>> D
    array([[2., 4.],
           [6., 8.]])
    >>> D.method
    'complex-step'
    """
    method = _check_method(method)
    if as_structure(structure) is not None:
        return directional_on(directional_derivative, f, X, K, structure, method=method)
    X_ = as_point("X", X)
    K_ = as_point("K", K)
    if K_.shape != X_.shape:
        raise ValueError(f"X is {shape_str(X_.shape)} but K is {shape_str(K_.shape)}")
    F0 = check_output(evaluate(f, X_))
    R = np.random.default_rng(1).standard_normal(X_.shape)
    probe = [K_, R, K_ + R]
    central = [central_along(f, X_, F0, D) for D in probe]
    if kinked(central, [(0, 1, 2)]):
        raise ValueError(NOT_DIFFERENTIABLE.format(where="along K or a random direction"))
    if method != "central":
        try:
            exact = [complex_along(f, X_, D, F0.shape) for D in probe]
            guard_resolution(f, X_, exact, central, probe, [(0, 1, 2)], power=False)
            return NumericArray(_finite_result(exact[0]), "complex-step")
        except (TypeError, NotAnalytic):
            if method == "complex-step":
                raise
    value, err, _ = central[0]
    _finite_result(value)
    scale = float(np.abs(value).max(initial=0.0))
    per_x = float(np.abs(K_).max(initial=0.0) or 1.0) / max(1.0, float(np.abs(X_).max()))
    beside_f = bool(np.any(central_unreliable(value, err, F0, per_x)))
    _check_central_error(err - CENTRAL_RTOL * np.abs(value), err, float(err.max(initial=0.0)),
                         scale, beside_f, "along K")
    return NumericArray(value, "central")


def _finite_result(value: np.ndarray) -> np.ndarray:
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
    method: Method = "auto",
    *,
    max_memory: int = DEFAULT_MAX_MEMORY,
    structure: str | None = None,
) -> NumericArray:
    """Numeric Jacobian of a matrix (or vector, or scalar) function f at X.

    Parameters
    ----------
    f : callable
        Takes an array shaped like X (always a copy) and returns a numpy array (or numpy
        scalar) of a fixed shape. It need not accept stacks of inputs.
    X : array_like, 1-D or 2-D, real, finite, non-empty
        The point of differentiation.
    method : {"auto", "complex-step", "central"}
        See the module docstring. "auto" (the default): the complex step where f carries
        complex numbers faithfully, else central differences. Complex-step is near
        machine precision but needs f to accept complex input analytically; central
        works for any smooth real f.
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
    NumericArray, shape ``f(X).shape + X.shape``
        ``J[i, l, j, k] = dF[i, l] / dX[j, k]`` (output indices first); ``J.method``
        says which method was used.

    Raises
    ------
    ValueError
        If X is not a finite real non-empty vector or matrix, f(X) or J is not finite,
        f's output changes shape, f is not differentiable at X, central differences
        cannot resolve the Jacobian, the Jacobian cannot fit in memory, or max_memory is
        not a positive int; with ``method="complex-step"``, if the complex step disagrees
        with real differences (f is not complex-analytic) or underflows.
    TypeError
        If f does not return a numeric array, or (``method="complex-step"``) cannot carry
        complex numbers.

    Notes
    -----
    Accuracy. Complex step: exact to rounding for analytic f, about 1e-15 of each entry
    (measured 1e-13 at worst on tanh, inverse and Gram examples). Every output entry is
    checked against real differences in three random directions: a non-analytic piece
    changing an entry by more than about 1e-8 of it, and 100 times the central
    differences' error there, is caught (over a wide step where that error is large,
    f's value being large beside its derivative): "auto" then uses central differences,
    "complex-step" refuses. Central: about 1e-10 of the Jacobian's scale for smooth f
    (measured 3e-10 at worst on the same examples), near 0 too (relative steps);
    refused where f is not differentiable or where the estimated error of an entry
    exceeds 1e-6 of it plus 1e-8 of the Jacobian's largest entry (f varies faster than
    the step, or f's value is so large beside its derivative that its rounding shows:
    a Jacobian that is zero up to rounding is refused too; the complex step resolves it).

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
    >>> J.method
    'complex-step'

    On symmetric X, the gradient of log det X in the trace inner product is X^-1:

    >>> S = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> G = jacobian(lambda X: np.log(np.linalg.det(X)), S, structure="symmetric")
    >>> bool(np.allclose(G, np.linalg.inv(S), rtol=1e-13))
    True
    """
    method = _check_method(method)
    if isinstance(max_memory, bool) or not isinstance(max_memory, (int, np.integer)):
        raise TypeError(f"max_memory must be an int (bytes), got {type(max_memory).__name__}")
    if max_memory <= 0:
        raise ValueError(f"max_memory must be positive, got {max_memory}")
    if as_structure(structure) is not None:
        return jacobian_on(jacobian, f, X, structure, method=method, max_memory=max_memory)
    X_ = as_point("X", X)
    F0 = check_output(evaluate(f, X_))
    check_size(F0.size * X_.size, 8, f"the Jacobian ({F0.size} outputs x {X_.size} inputs)")
    if method != "central":
        try:
            return NumericArray(_complex_jacobian(f, X_, F0, max_memory), "complex-step")
        except (TypeError, NotAnalytic):
            if method == "complex-step":
                raise
    return NumericArray(_central_jacobian(f, X_, F0, max_memory), "central")


def _complex_jacobian(
    f: Callable[..., Any], X_: np.ndarray, F0: np.ndarray, max_memory: int
) -> np.ndarray:
    """The complex-step Jacobian, guarded (NotAnalytic, TypeError when f cannot carry it)."""
    out_shape, n_in, n_out = F0.shape, X_.size, F0.size
    _evaluate_complex(f, X_.astype(complex), out_shape)  # a clear TypeError if f can't
    x = X_.reshape(-1)
    flat = np.empty((n_out, n_in))  # row-major flat output index x row-major flat input index
    call = _Caller(f, X_.shape, out_shape)
    for cols in _batches(n_in, 16 * (n_in + n_out), max_memory):
        b, index = cols.stop - cols.start, np.arange(cols.start, cols.stop)
        stack = np.empty((b, n_in), dtype=complex)
        stack[...] = x
        stack[np.arange(b), index] += 1j * COMPLEX_STEP
        rows = call(stack.reshape((b,) + X_.shape)).imag.reshape(b, n_out)
        np.multiply(rows.T, 1.0 / COMPLEX_STEP, out=flat[:, cols])  # 2^66: exact
    J = flat.reshape(out_shape + X_.shape)
    _finite_jacobian(J)
    directions = _guard_directions(X_.shape)
    central = [central_along(f, X_, F0, K) for K in directions]
    if kinked(central, [(0, 1, 2)]):  # abs and x conj(x) at 0 may agree with it by chance
        raise ValueError(NOT_DIFFERENTIABLE.format(where="in a random direction"))
    exact = [np.tensordot(J, K, axes=X_.ndim) for K in directions]
    guard_resolution(f, X_, exact, central, directions, [(0, 1, 2)], power=False)
    return J


def _finite_jacobian(J: np.ndarray) -> None:
    if not np.all(np.isfinite(J)):
        raise ValueError(
            "the numeric Jacobian has non-finite entries: f overflows or is not "
            "differentiable near X"
        )


def _central_jacobian(
    f: Callable[..., Any], X_: np.ndarray, F0: np.ndarray, max_memory: int
) -> np.ndarray:
    """The central-difference Jacobian: two steps per entry, kinks and noise refused."""
    out_shape, n_in, n_out = F0.shape, X_.size, F0.size
    x = X_.reshape(-1)
    t1, t2 = _central_steps(x)
    flat = np.empty((n_out, n_in))
    excess = np.empty(n_in)  # per input entry: the largest err - CENTRAL_RTOL |D|
    worst = np.empty(n_in)  # and the largest err
    beside_f = np.zeros(n_in, dtype=bool)  # entries unreliable even beside |f(X)| / |x|
    call = _Caller(f, X_.shape, out_shape)
    for cols in _batches(n_in, 8 * (n_in + n_out) * 4, max_memory):
        b, index = cols.stop - cols.start, np.arange(cols.start, cols.stop)
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
        if np.any(kink):
            j = int(np.argwhere(kink > 0)[0][-1])
            where = _input_entry(cols.start + j, X_.shape)
            raise ValueError(NOT_DIFFERENTIABLE.format(where=where))
        flat[:, cols] = D
        with np.errstate(invalid="ignore"):
            over = np.where(np.isnan(err), np.inf, err - CENTRAL_RTOL * np.abs(D))
            excess[cols] = np.max(over, axis=0, initial=-np.inf)
            worst[cols] = np.max(np.nan_to_num(err, nan=np.inf), axis=0, initial=0.0)
            size = np.maximum(1.0, np.abs(x[cols]))  # F0 / x: the scale of a derivative
            beside_f[cols] = np.any(central_unreliable(D, err, F0.reshape(-1, 1), 1 / size),
                                    axis=0)
    J = flat.reshape(out_shape + X_.shape)
    _finite_jacobian(J)
    scale = float(np.abs(J).max(initial=0.0))
    largest = float(worst.max(initial=0.0))
    j = int(np.argmax(excess)) if scale > STANDS_OUT * largest else int(np.argmax(beside_f))
    _check_central_error(excess[j], worst[j], largest, scale, bool(beside_f[j]),
                         _input_entry(j, X_.shape))
    return J


def _input_entry(j: int, shape: tuple[int, ...]) -> str:
    entry = tuple(int(n) for n in np.unravel_index(j, shape))
    return f"at input entry {entry}"


def _check_central_error(
    excess: Any, err: Any, largest_error: float, scale: float, beside_f: bool, where: str
) -> None:
    """Refuse unreliable central differences (f varies faster than the step, or f's
    rounding shows).

    Where the result stands out of its estimated errors (its largest entry ``scale`` is
    above STANDS_OUT times the largest, ``largest_error``), the error ``err`` of an entry
    (the worst one) may not exceed CENTRAL_RTOL of it (``excess`` is err minus that) plus
    CENTRAL_RTOL * CENTRAL_SHARE of ``scale``: relative accuracy. Where it does not, the
    derivative cannot be told from zero: refused, unless it is exactly zero (f did not
    change at all), which is returned (with a RuntimeWarning when f's rounding over the
    step could hide a nonzero derivative, unless ``beside_f`` shows even that too large).
    """
    if scale > STANDS_OUT * largest_error:
        if np.all(np.asarray(excess) <= CENTRAL_RTOL * CENTRAL_SHARE * scale):
            return
    elif scale == 0 and not beside_f:
        if largest_error > 0:
            warnings.warn(
                "central differences: f did not change over the steps, so its derivative "
                f"is zero to within their rounding error ({largest_error:.1e}, f's rounding "
                "over the step); a smaller nonzero derivative cannot be seen. Use the "
                "complex step if f is analytic.",
                RuntimeWarning,
                stacklevel=3,
            )
        return
    raise ValueError(
        f"central differences are unreliable {where}: their estimated error "
        f"{float(np.max(err)):.1e} is too large beside the derivative (whose largest entry "
        f"is {scale:.1e}): f varies faster than the step, about 6e-6 of |X| (an "
        "oscillation or a singularity nearby), or f's value is so large beside its "
        "derivative that its rounding shows (a large constant added, or a derivative that "
        "is zero up to rounding); use the complex step if f is analytic, or another point"
    )


def central_unreliable(D: np.ndarray, err: np.ndarray, F0: np.ndarray, per_x: Any) -> Any:
    """Entries whose central estimated error is above CENTRAL_RTOL of the entry, or of f's
    value there (at least 1e-2 of its largest) times ``per_x``, the scale that turns a
    value of f into one of a derivative (1 / |X| per unit of the direction). The
    checkers' test of whether central differences can say anything at all here; whether
    what they say can decide a claim is judged by the checker."""
    level = np.maximum(np.abs(F0), 1e-2 * float(np.abs(F0).max(initial=0.0))) * per_x
    with np.errstate(invalid="ignore"):
        return err > CENTRAL_RTOL * (np.abs(D) + level)


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
    once per point from there on. Callers give up the stack they pass (they build it for
    the call and read only the result): once verified, f gets it without a copy.
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
                out = evaluate(self.f, stack, (b,) + self.out_shape, owned=b in self.verified)
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
