"""Checking a claimed derivative, and saying in words what is wrong with a wrong one.

The check needs no full Jacobian: for a few random directions K it compares the claim's
``DF(X)[K]`` with a numeric directional derivative (one complex-step call of f each, exact
to rounding for analytic f, guarded against non-analytic f by real differences). A linear
map is decided by a few generic directions, so this is a real test at any size.

"Correct" means the check had the power to reject. Each output entry is compared on its
own scale: within rtol of itself, or within the numeric noise of that entry (100 times its
measured noise: a derivative is linear in K, so ``D[K + R] - D[K] - D[R]`` is noise; for
the complex step, its own noise, which does not grow with f's value). A claim is called
"correct" only where that tolerance, and the resolution of the guard that vouches for the
complex step, are small (at most POWER, 1e-2) beside the derivative in every entry, so
that a zero, halved or negated claim would have been rejected; otherwise the verdict is
"undecided", saying why and what would decide it. A derivative that is zero to within the
complex step's own rounding passes a zero claim. When the numeric side cannot decide at
all (not finite, f not differentiable at X, a claim that is not finite) the verdict is
"undecided" too. When the claim fails, the same directions test alternative readings of it
(row-major order, input indices first, a transpose, an untransposed Kronecker factor, a
missing symmetrisation, the adjoint, a sign, a factor): the first reading that fits names
the mistake.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from math import prod
from typing import Any, Literal
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from mdcalc._validation import (
    all_finite,
    as_count,
    as_point,
    check_size,
    evaluate,
    is_sparse,
    refuse_masked,
    shape_str,
)
from mdcalc.layouts import sympy_order_to_book
from mdcalc.numeric import (
    EPS,
    NOISE_SHARE,
    NotAnalytic,
    central_along,
    central_unreliable,
    check_output,
    complex_along,
    entry_noise,
    guard_resolution,
    kinked,
    linearity_defect,
    own_scale,
    relative_floor,
)
from mdcalc.structure import Subspace
from mdcalc.vectorization import matrix_to_tensor

__all__ = ["CheckResult", "check_derivative", "self_check", "POWER"]

Reading = Callable[[np.ndarray], np.ndarray]
NumericMethod = Literal["complex-step", "central"]
# Above this many entries a claimed matrix is not factored into a Kronecker product.
_KRON_DIAGNOSIS_LIMIT = 4_000_000
# More random directions than this add nothing but time.
MAX_DIRECTIONS = 100
# Besides rtol relative to each entry, differences up to NOISE_FACTOR times the numeric
# noise of that entry plus FLOOR_ULPS rounding units of its own scale pass. Differences
# beyond that, but within FLOOR_ULPS rounding units of the largest entry (a claim may
# round like its largest entries), are neither passed nor failed: undecided.
NOISE_FACTOR = 100.0
FLOOR_ULPS = 256.0
# Within that band, a difference of at most BAND_RTOL of the entry still passes: a claim
# that rounds like its largest entries (1 - tanh(z)**2 where tanh saturates) is off by
# that much in its small ones, where a mistake is off by far more.
BAND_RTOL = 1e-4
# "Correct" needs power: in every entry the tolerance that accepted the claim (and the
# guard's resolution, for the complex step) is at most POWER of the derivative there.
POWER = 1e-2
# Above this share of the derivative, a "correct" verdict says how far the check could see.
_ASSURANCE_NOTE = 1e-3
# How many triples (K_i, R, K_i + R) sample the linearity defect.
_NOISE_PAIRS = 3
# Random symmetric M for the symmetrisation test (directions X M).
_SYMMETRIC_PROBES = 3


@dataclass(frozen=True)
class CheckResult:
    """The verdict of :func:`check_derivative`; truthy exactly when the claim holds.

    Attributes
    ----------
    ok : bool
        Whether the claim matches the numeric derivative in every direction tried, with
        the power to have rejected a wrong one (see ``verdict``).
    max_error : float
        Largest relative error ``max|claimed - numeric| / max|numeric|`` over the
        directions (``inf`` when the claim has the wrong shape).
    message : str
        The verdict in words; for a wrong claim, what kind of mistake it is, if known;
        for an undecided one, why, and what would decide it.
    form : str
        How the claim was read: ``"tensor"``, ``"gradient"``, ``"matrix"``, ``"callable"``,
        ``"entries"`` (with a structure: the derivative by the independent entries), or
        ``"unrecognised"`` (wrong shape).
    mistake : str or None
        A short name of the recognised mistake (``"row-major"``, ``"input-first"``,
        ``"transpose"``, ``"kronecker-factor"``, ``"symmetrisation"``, ``"adjoint"``,
        ``"zero"``, ``"sign"``, ``"scale"``, ``"shape"``; with a structure also
        ``"independent-entries"``, ``"trace-gradient"`` and ``"outside-subspace"``),
        ``None`` when correct or not recognised.
    method : str
        The numeric method used: ``"complex-step"`` or ``"central"``.
    verdict : str
        ``"correct"``, ``"wrong"`` or ``"undecided"``. "correct" only when the check had
        the power to reject: in every entry the tolerance that accepted the claim is
        small beside the derivative (a zero, halved or negated claim would have been
        "wrong"). "undecided" when the numbers cannot decide: the numeric derivative is
        not finite, f is not differentiable at X, the claim is not finite, or the
        tolerance is not small beside the derivative (f's value large beside it, a
        multi-scale output, a guard that cannot see what it guards). An undecided result
        is falsy, its ``max_error`` is nan, and its message starts with "undecided:" and
        says why.
    """

    ok: bool
    max_error: float
    message: str
    form: str
    mistake: str | None
    method: str
    verdict: str = ""

    def __post_init__(self) -> None:
        if not self.verdict:
            object.__setattr__(self, "verdict", "correct" if self.ok else "wrong")
        if self.verdict not in ("correct", "wrong", "undecided"):
            raise ValueError(f"verdict must be correct, wrong or undecided, got {self.verdict!r}")
        if self.ok != (self.verdict == "correct"):
            raise ValueError(f"ok={self.ok} contradicts verdict {self.verdict!r}")

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        # Wrapped to fit the book's code column (about 76 characters); .message keeps one line.
        return textwrap.fill(self.message, width=76)


def check_derivative(
    f: Callable[..., Any],
    X: ArrayLike,
    claimed: Any,
    *,
    method: Literal["auto", "complex-step", "central"] = "auto",
    rtol: float | None = None,
    n_directions: int = 3,
    seed: int = 0,
    structure: str | None = None,
) -> CheckResult:
    """Check a claimed derivative of f at X, and explain a wrong one.

    Parameters
    ----------
    f : callable
        The function, from arrays shaped like X to arrays (matrix, vector or scalar).
    X : array_like, 1-D or 2-D, real
        The point at which the derivative is claimed.
    claimed : array_like or callable
        One of: the tensor, shape ``f(X).shape + X.shape`` (output indices first; for a
        scalar f this is the gradient, shaped like X); the vec-Jacobian matrix, shape
        ``(f(X).size, X.size)`` with column-major vec; or a callable ``K -> DF(X)[K]``.
    method : {"auto", "complex-step", "central"}
        Numeric method. "auto" (the default) uses the complex step where f carries
        complex numbers faithfully (verified by real differences, the guard), central
        differences where not. "complex-step" relies on the complex step even where the
        guard cannot confirm it to the needed precision (it still refuses an f the guard
        shows not to be complex-analytic): pass it when you know f is analytic.
    rtol : float, optional
        Relative tolerance; 1e-8 for the complex step, 1e-5 for central differences.
    n_directions : int
        How many random directions K to test.
    seed : int
        Seed of the random directions.
    structure : {None, "symmetric", "skew", "diagonal", "lower", "upper"}
        X is a square matrix of this structure, and the claim is the derivative of f
        along the subspace S of such matrices (see :mod:`mdcalc.structure`): the
        directions are drawn inside S, so f is called on S only. A gradient (scalar f,
        shaped like X) is the gradient in the trace inner product on S and must itself
        be in S (``sym G`` for symmetric X); a claim that is not, but whose projection
        is right, is "wrong" (mistake ``"outside-subspace"``), and the derivative by the
        independent entries in its place (``2 sym G - diag G``) is "wrong" (mistake
        ``"independent-entries"``). A claim of shape ``(f(X).size, m)``, m the number
        of free entries x of X, is the derivative by them, ``d vec F / d x`` (form
        ``"entries"``; x = vech X for symmetric X): the gradient on S in its place is
        "wrong" (mistake ``"trace-gradient"``). Other forms (tensor, vec-Jacobian,
        callable) are checked as linear maps on S: any extension of the right map is
        right.

    Returns
    -------
    CheckResult
        Truthy when the claim holds; ``str(result)`` says why or why not, and
        ``result.verdict`` is "correct", "wrong" or "undecided".

    Raises
    ------
    ValueError
        If X is not a finite real non-empty vector or matrix, f(X) is not finite, f's
        output changes shape, an option is out of range (rtol in (0, 1), n_directions
        in [1, 100], seed >= 0), a claimed array is too large to apply, or
        ``method="complex-step"`` for an f that is not complex-analytic.
    TypeError
        If f or the claim does not give real numbers (ragged, masked, complex or
        non-numeric arrays), or an option has the wrong type.

    Notes
    -----
    "Correct" means the check had the power to reject. In every direction, each entry
    of the claim's ``DF(X)[K]`` must be within its tolerance of the numeric one: rtol of
    the entry, plus 100 times the numeric noise measured in that entry (at least 1e-4 of
    the median entry's, relative), plus 256 eps of the entry's own scale. The claim is
    then "correct" only if that tolerance, and the resolution of the guard (what a
    non-analytic piece of f could hide from the complex step), are at most 1e-2 of the
    derivative in every entry, and the largest relative error is within rtol; entries
    that are zero to within their noise count beside the largest entry (or, for a
    derivative zero everywhere, beside f's own scale ``|f(X)| / |X|``, complex step
    only). A claim off by more than its tolerance, and by more than 256 eps of the
    largest entry and the guard's resolution, is "wrong"; in between, "undecided".

    Accuracy: for the complex step the noise is its own rounding (it does not grow with
    f's value), so a claim off by more than rtol = 1e-8 in any entry is "wrong" unless
    the entry is below about 1e-13 of the largest, where a rounding error of the claim
    cannot be told from a mistake. Central differences (for f that are not
    complex-analytic) resolve about 1e-10 of the derivative's scale; where f's value is
    large beside its derivative their noise grows as ``eps |f| / step`` and the verdict
    becomes "undecided". The guard compares the complex step with central differences at
    X and, where those are too noisy, over a wide step (see :mod:`mdcalc.numeric`).

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import check_derivative, kron_jacobian
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> W = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    >>> f = lambda H: A @ H @ W
    >>> H = np.ones((2, 2))
    >>> bool(check_derivative(f, H, kron_jacobian(A, W)))
    True
    >>> result = check_derivative(f, H, np.kron(A, W.T))
    >>> result.mistake
    'row-major'

    On symmetric X, the gradient of log det X is X^-1, not 2 X^-1 - X^-1 ∘ I:

    >>> S = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> logdet = lambda X: np.log(np.linalg.det(X))
    >>> G = np.linalg.inv(S)
    >>> check_derivative(logdet, S, G, structure="symmetric").verdict
    'correct'
    >>> check_derivative(logdet, S, 2 * G - G * np.eye(2), structure="symmetric").mistake
    'independent-entries'

    A gradient checked near the optimum of a loss whose value is large beside it:

    >>> rng = np.random.default_rng(0)
    >>> M, b = rng.standard_normal((500, 3)), rng.standard_normal(500)
    >>> loss = lambda x: 0.5 * np.sum((M @ x - b) ** 2) + 1e10
    >>> x = np.linalg.lstsq(M, b, rcond=None)[0] + 0.01
    >>> grad = M.T @ (M @ x - b)
    >>> check_derivative(loss, x, grad).verdict, check_derivative(loss, x, 0 * grad).verdict
    ('correct', 'wrong')
    """
    X_ = as_point("X", X)
    n_directions, seed = checker_options(method, n_directions, seed, rtol)
    subspace = Subspace.at(X_, structure)
    F0 = check_output(evaluate(f, X_))
    out_shape, in_shape = F0.shape, X_.shape
    form, reading = _read_claim(claimed, out_shape, in_shape)
    if reading is None and subspace is not None and not callable(claimed):
        reading = subspace.read_entries(_as_claim_array(claimed), out_shape)
        form = "unrecognised" if reading is None else "entries"
    rng = np.random.default_rng(seed)
    directions = [rng.standard_normal(in_shape) for _ in range(n_directions)]
    R = rng.standard_normal(in_shape)  # with K_i + R, it measures the numeric noise
    if subspace is not None:  # directions inside the subspace: f is called on it only
        subspace.require_directions()
        directions, R = [subspace.project(K) for K in directions], subspace.project(R)
    numeric = _numeric(f, X_, F0, directions, R, method)
    try:
        return _judge(numeric, X_, claimed, form, reading, directions, rtol, subspace)
    except NotAnalytic:  # the wide guard, run only when it mattered, saw f is not analytic
        if method == "complex-step":
            raise
    numeric = _numeric(f, X_, F0, directions, R, "central")
    return _judge(numeric, X_, claimed, form, reading, directions, rtol, subspace)


def _judge(numeric: _Numeric, X_: np.ndarray, claimed: Any, form: str,
           reading: Reading | None, directions: list[np.ndarray],
           rtol: float | None, subspace: Subspace | None = None) -> CheckResult:
    """The verdict of check_derivative on a claim read as ``form``, against ``numeric``."""
    in_shape = X_.shape
    out_shape = numeric.values[0].shape
    default_rtol = 1e-8 if numeric.method == "complex-step" else 1e-5
    context = _context(out_shape, in_shape, directions, numeric,
                       rtol if rtol is not None else default_rtol)
    context.point, context.subspace = X_, subspace
    noun = _FORM_NOUN.get(form, "claim")
    if numeric.doubt is not None:
        return context.undecided(numeric.doubt, form)
    if reading is None:
        return _shape_failure(context, claimed)
    if form != "callable" and not all_finite(_as_claim_array(claimed)):
        return context.undecided(_NON_FINITE_CLAIM.format(noun=noun), form)
    values = [_apply(reading, K, out_shape) for K in directions]
    if isinstance(values[0], str):
        return context.result(False, np.inf, values[0], form, "shape")
    if not all(np.all(np.isfinite(v)) for v in values):
        return context.undecided(_NON_FINITE_CLAIM.format(noun=noun), form)
    if subspace is not None and form == "gradient" and context.compare(values) == (None, None):
        outside = subspace.outside(_as_claim_array(claimed), max(context.rtol, 1e-10))
        if outside is not None:  # right along the subspace, but not an element of it
            mistake, why = outside
            return context.result(
                False, context.error(values),
                f"wrong: the {noun} is not the gradient on the subspace. {why}", form, mistake)
    return context.verdict(values, form, noun, lambda: _diagnose(context, claimed, form, values))


_NON_FINITE_CLAIM = (
    "the {noun} has non-finite entries (nan or inf), so it cannot be compared with the "
    "derivative, which is finite here; compute the claim at this X again."
)


@dataclass
class _Numeric:
    """The numeric side of a check: DF(X)[K_i] for the directions, and how far to trust it."""

    values: list[np.ndarray]
    method: NumericMethod
    noise: np.ndarray  # per output entry
    guard: np.ndarray  # per output entry: what a non-analytic piece could hide (0: nothing)
    doubt: str | None  # why no claim can be checked, or None
    natural: float | None  # f's own scale of a derivative (complex step only), or None
    along: Callable[[np.ndarray], np.ndarray] | None  # DF(X)[K], for diagnosis
    refine: Callable[[], np.ndarray] | None = None  # the guard over a wide step, if needed


def _numeric(
    f: Callable[..., Any],
    X: np.ndarray,
    F0: np.ndarray,
    directions: list[np.ndarray],
    R: np.ndarray,
    method: str,
) -> _Numeric:
    """DF(X)[K] for each direction, with the method used, its noise, the guard's resolution
    and a doubt (or None).

    The linearity defects of (K_i, R, K_i + R) for the first few directions measure the
    noise. The complex step is used when f carries complex numbers and the guard
    (:func:`mdcalc.numeric.guard_resolution`) does not contradict it; a forced complex
    step that the guard contradicts is refused. Its noise is its own linearity defect
    per output entry (rounding; it does not grow with f's value), and the guard's
    resolution is what a non-analytic piece could still hide (nothing when the complex
    step is forced: the caller vouches for f). Central differences' noise is their
    estimated error and linearity defects per entry.
    """
    n = len(directions)
    probe = directions + [R] + [K + R for K in directions[:_NOISE_PAIRS]]
    triples = [(i, n, n + 1 + i) for i in range(len(probe) - n - 1)]
    with np.errstate(all="ignore"):
        central = [central_along(f, X, F0, K) for K in probe]
    kinks = kinked(central, triples)  # analytic f have none: abs * 0 may agree
    size = max(1.0, float(np.abs(X).max()))
    if method != "central":
        try:
            with np.errstate(all="ignore"):
                exact = [complex_along(f, X, K, F0.shape) for K in probe]
                guard, refine = guard_resolution(f, X, exact, central, probe, triples,
                                                 lazy=True)
            if method == "complex-step":
                guard, refine = np.zeros_like(guard), None
            noise = np.maximum(
                np.max([linearity_defect(exact, *t) for t in triples], axis=0),
                _complex_step_bias(f, X, F0, exact, probe),
            )
            noise = relative_floor(noise, own_scale(exact), NOISE_SHARE)
            # The scale of a derivative of f: |f| / |X| per unit of K, or that of the terms
            # the complex step summed (its rounding over eps), where f(X) is 0 or cancels.
            natural = max(
                float(np.abs(F0).max(initial=0.0)) / size
                * max(float(np.abs(K).max(initial=0.0)) for K in directions),
                float(noise.max(initial=0.0)) / EPS,
            )
            return _Numeric(exact[:n], "complex-step", noise, guard, _doubt(exact, kinks),
                            natural, lambda K: complex_along(f, X, K, F0.shape), refine)
        except (TypeError, NotAnalytic):
            if method == "complex-step":
                raise
    values = [c[0] for c in central]
    with np.errstate(all="ignore"):
        noise = entry_noise(central, triples)
        unreliable = any(
            np.any(central_unreliable(c[0], c[1], F0, np.abs(K).sum() / size))
            for c, K in zip(central, probe, strict=True)
        )
    doubt = _doubt(values, kinks)
    if doubt is None and unreliable:
        doubt = (
            "central differences are unreliable here (f varies faster than their step, "
            "about 6e-6 of |X|: an oscillation or a singularity nearby), so no claim can "
            "be checked; use a complex-analytic f, or another point."
        )
    return _Numeric(values[:n], "central", noise, np.zeros_like(noise), doubt, None,
                    lambda K: central_along(f, X, F0, K)[0])


def _complex_step_bias(
    f: Callable[..., Any], X: np.ndarray, F0: np.ndarray, exact: list[np.ndarray],
    probe: list[np.ndarray],
) -> np.ndarray:
    """Per output entry, the rounding of the complex step that its linearity cannot show.

    The complex step differentiates f as evaluated, real parts rounded: where f's value
    comes from a cancellation (a residual A x - b of large terms), that rounding biases
    DF(X)[K] the same way for every K, so ``D[K + R] - D[K] - D[R]`` does not see it.
    Moving each entry of X by a relative 2^-30 (a random sign each) changes which way
    each value rounds, and hardly the derivative: ``D(X + dX)[K] - 2 D(X)[K] +
    D(X - dX)[K]`` is that rounding (the derivative's own change is of the order of
    2^-60 of it)."""
    signs = np.where(np.random.default_rng(2).random(X.shape) < 0.5, -1.0, 1.0)
    dX = 2.0**-30 * signs * X
    biases = []
    with np.errstate(all="ignore"):
        for D, K in list(zip(exact, probe, strict=True))[:3]:  # as biased in every K
            plus = complex_along(f, X + dX, K, F0.shape)
            minus = complex_along(f, X - dX, K, F0.shape)
            second = np.abs(plus - 2 * D + minus)
            biases.append(np.where(np.isfinite(second), second, 0.0))
    return np.max(biases, axis=0) if biases else np.zeros(F0.shape)


def _doubt(values: list[np.ndarray], kinks: bool | None) -> str | None:
    """Why the numeric derivative cannot decide, or None when it can."""
    if not all(np.all(np.isfinite(v)) for v in values):
        return (
            "the numeric derivative of f at X is not finite in a random direction (f "
            "overflows, or is not differentiable there), so no claim can be checked "
            "here; try a point where f is smooth."
        )
    if kinks:
        return (
            "f does not appear to be differentiable at X: in a random direction its "
            "one-sided slopes differ (a kink, as abs at 0 or max at a tie), so there is "
            "no derivative to compare with; try a nearby point."
        )
    return None


def _describe_error(error: float) -> str:
    # Rounding-level errors differ in their last digits between machines and BLAS builds;
    # saying "below 1e-12" keeps a printed verdict the same everywhere.
    return "below 1e-12" if error < 1e-12 else f"{error:.1e}"


def self_check(
    f: Callable[..., Any], X: ArrayLike, answer: Any, *, structure: str | None = None
) -> CheckResult | None:
    """Check a reader's answer to an exercise, and print the verdict.

    Accuracy: that of :func:`check_derivative`.

    ``answer`` may be anything :func:`check_derivative` accepts; ``None`` (the placeholder
    in an exercise) prints what to do instead. ``structure`` is passed on to
    :func:`check_derivative` (X symmetric, skew, diagonal or triangular).

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import self_check
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> self_check(lambda X: X @ X, X, None)
    Write your answer in place of None, then run this cell again.
    >>> result = self_check(lambda X: X @ X, X, lambda K: 2 * X @ K)
    wrong: the claimed linear map does not match the derivative (largest relative error
    0.69). The error is not one of the classic mistakes this checker knows.
    """
    if answer is None:
        print("Write your answer in place of None, then run this cell again.")
        return None
    result = check_derivative(f, X, answer, structure=structure)
    print(result)
    return result


_FORM_NOUN = {
    "tensor": "claimed tensor (output indices first)",
    "gradient": "claimed gradient",
    "matrix": "claimed vec-Jacobian matrix",
    "callable": "claimed linear map",
    "entries": "claimed derivative by the independent entries",
}


@dataclass
class _Context:
    """What a checker compares against, and how it judges: the numeric values along the
    directions, with per-entry tolerances, and the power rule (module docstring)."""

    out_shape: tuple[int, ...]
    in_shape: tuple[int, ...]
    directions: list[np.ndarray]
    numeric: list[np.ndarray]
    rtol: float
    method: str
    noise_tol: np.ndarray  # per output entry: NOISE_FACTOR noise + FLOOR_ULPS eps own scale
    guard: np.ndarray  # per output entry: what a non-analytic piece could hide
    own: np.ndarray  # per output entry: its largest size over the directions
    scale: float  # the largest numeric entry
    natural: float | None  # the scale of a derivative of f, for a derivative zero everywhere
    along: Callable[[np.ndarray], np.ndarray] | None = None  # DF(X)[K], numerically
    refine: Callable[[], np.ndarray] | None = None  # a sharper guard, run when it matters
    words: str = ""  # the method, in words, for messages
    what: str = "derivative"  # what is checked, for messages
    point: np.ndarray | None = None  # X
    subspace: Subspace | None = None  # X's structure, if one was given

    @property
    def band(self) -> float:
        """Differences below this may be a claim's rounding at its largest entries' scale."""
        return FLOOR_ULPS * EPS * self.scale

    def error(self, values: list[np.ndarray]) -> float:
        worst = 0.0
        for got, want in zip(values, self.numeric, strict=True):
            diff = float(np.abs(got - want).max(initial=0.0))
            scale = float(np.abs(want).max(initial=0.0))
            worst = max(worst, diff / scale if scale > 0 else (np.inf if diff > 0 else 0.0))
        return worst

    def compare(
        self, values: list[np.ndarray], rtol: float | None = None
    ) -> tuple[str | None, tuple[str, bool] | None]:
        """Where a definite failure is (or None), and where an unclear difference is, with
        whether the guard (not the band) leaves it unclear (or None).

        Per entry, the tolerance is rtol |want| + noise_tol; a difference within the band
        beyond it passes too if it is at most BAND_RTOL of the entry. A difference beyond
        the tolerance, and beyond both the band and the guard's resolution, fails; any
        other difference beyond the tolerance is unclear.
        """
        rtol = self.rtol if rtol is None else rtol
        failed: tuple[float, str] | None = None
        unclear: tuple[float, str, bool] | None = None
        for got, want in zip(values, self.numeric, strict=True):
            with np.errstate(all="ignore"):
                diff = np.abs(got - want)
                tol = rtol * np.abs(want) + self.noise_tol
                within_band = (diff <= tol + self.band) & (diff <= BAND_RTOL * np.abs(want))
                beyond = (diff > tol) & ~within_band
                definite = beyond & (diff > tol + self.band) & (diff > self.guard)
                ratio = np.where(diff == 0, 0.0, diff / np.maximum(tol, 1e-300))
            if np.any(definite):
                r = np.where(definite, ratio, -1.0)
                i = np.unravel_index(int(np.argmax(r)), r.shape)
                if failed is None or r[i] > failed[0]:
                    failed = (float(r[i]), self._where(i, got, want))
            if np.any(beyond & ~definite):
                r = np.where(beyond & ~definite, ratio, -1.0)
                i = np.unravel_index(int(np.argmax(r)), r.shape)
                if unclear is None or r[i] > unclear[0]:
                    guarded = bool(diff[i] > tol[i] + self.band)  # only the guard covers it
                    unclear = (float(r[i]), self._where(i, got, want), guarded)
        return (failed[1] if failed else None), (unclear[1:] if unclear else None)

    @staticmethod
    def _where(i: tuple[Any, ...], got: np.ndarray, want: np.ndarray) -> str:
        entry = tuple(int(n) for n in i)
        return (
            f"output entry {entry} is off by {abs(got[i] - want[i]):.2g} where the "
            f"derivative is {want[i]:.2g}"
        )

    def fits(self, reading: Reading) -> bool:
        """Whether DF[K] read this way matches the numeric derivative in every direction
        (no difference beyond its tolerance and the band; the guard is not relied on)."""
        values = [_apply(reading, K, self.out_shape) for K in self.directions]
        if isinstance(values[0], str):
            return False
        return self.fits_values(values)

    def fits_values(
        self, values: list[np.ndarray], reference: list[np.ndarray] | None = None
    ) -> bool:
        """Whether ``values`` match ``reference`` (the numeric derivative by default) in
        every direction, to max(rtol, 1e-6) of each entry, the noise and the band."""
        rtol = max(self.rtol, 1e-6)
        for got, want in zip(values, self.numeric if reference is None else reference,
                             strict=True):
            with np.errstate(all="ignore"):
                if np.any(np.abs(got - want) > rtol * np.abs(want) + self.noise_tol + self.band):
                    return False
        return True

    def guard_limits_power(self) -> bool:
        """Whether the guard's resolution keeps some entry from the power asked of it."""
        return bool(np.any((self.guard > self.noise_tol) & (self.guard > POWER * self.own)))

    def power_gap(self) -> str | None:
        """Why a claim that passed cannot be called correct (the check had no power to
        reject a wrong one), or None."""
        # rtol is the caller's own tolerance: the power asked of the check is that the
        # numeric noise and the guard are small beside the derivative.
        accepted = self.noise_tol
        tolerance = np.maximum(accepted, self.guard)
        resolved = tolerance <= POWER * self.own
        zero = self.own <= self.noise_tol
        if np.any(resolved & ~zero):
            reference = float(self.own[resolved & ~zero].max())
        else:
            reference = self.natural or 0.0
        gap = ~resolved & ~(zero & (tolerance <= POWER * reference))
        if not np.any(gap):
            return None
        i = np.unravel_index(int(np.argmax(np.where(gap, tolerance / np.maximum(
            self.own, 1e-300), -1.0))), gap.shape)
        entry = tuple(int(n) for n in i)
        at = f"output entry {entry}" if entry else "the derivative"
        if self.guard[i] >= accepted[i]:
            return (
                f"the claim agrees with the complex step, but central differences confirm "
                f"that f is complex-analytic only to within {self.guard[i]:.1e} here, which "
                f"is not small beside the derivative ({self.own[i]:.1e} in {at}): f's "
                "value is large beside its derivative, so real differences of f are "
                "noisy. If f is complex-analytic (no abs, conj, real, max or comparisons), "
                "pass method='complex-step' to rely on the complex step."
            )
        if zero.all() and self.natural is None:
            return (
                f"the {self.what} is zero to within the numeric noise ({tolerance[i]:.1e}, "
                f"{self.words}), and central differences cannot tell a zero {self.what} "
                "from one below their noise; use the complex step (a complex-analytic f) to "
                "decide."
            )
        if self.own[i] < 1e-6 * self.scale:
            cause = (
                "the entry is small beside others, whose rounding reaches it; check those "
                "entries on their own (a function of just those outputs)."
            )
        elif self.method == "central":
            cause = (
                "central differences round like f's value, which is large beside its "
                "derivative here; use the complex step (a complex-analytic f), or another "
                "point."
            )
        else:
            cause = (
                "f, as evaluated in floating point, rounds away part of its derivative here "
                "(large values cancelling, as in a residual A x - b of large terms near an "
                "optimum), and the complex step differentiates f as evaluated. Evaluate f "
                "more accurately (centred or rescaled data), or check at a point where the "
                "derivative is larger."
            )
        return (
            f"the claim matches the numeric {self.what}, but the tolerance that accepted it "
            f"({tolerance[i]:.1e} in {at}, from the numeric noise, {self.words}) is not "
            f"small beside the {self.what} there ({self.own[i]:.1e}), so a wrong claim "
            f"could have passed too: {cause}"
        )

    def assurance(self) -> str:
        """A note for a "correct" verdict when the check could see only coarsely (its
        noise or the guard's resolution above _ASSURANCE_NOTE of the derivative)."""
        with np.errstate(all="ignore"):
            seen = np.where(self.own > self.noise_tol,
                            np.maximum(self.noise_tol, self.guard) / self.own, 0.0)
        level = float(seen.max(initial=0.0))
        if level <= _ASSURANCE_NOTE:
            return ""
        if float((np.where(self.own > 0, self.guard / np.maximum(self.own, 1e-300), 0)).max(
                initial=0.0)) >= level:
            return (f"; real differences of f confirm the complex step to {level:.0e} of "
                    "the derivative here")
        return f"; the numeric noise is {level:.0e} of the derivative here"

    def verdict(
        self, values: list[np.ndarray], form: str, noun: str,
        diagnose: Callable[[], tuple[str | None, str]],
        what: str = "derivative",
    ) -> CheckResult:
        """The verdict on a claim whose DF[K_i] are ``values``.

        Where the guard's resolution at X decides it (a difference it might explain, or a
        power gap it makes), the wide guard is run first (``refine``), once. That may
        raise NotAnalytic (the caller then turns to central differences, or refuses).
        """
        self.what = what
        error = self.error(values)
        n = len(self.directions)
        failed, unclear = self.compare(values)
        if self.refine is not None and failed is None and (
            (unclear is not None and unclear[1]) or self.guard_limits_power()
        ):
            self.guard, self.refine = self.refine(), None
            failed, unclear = self.compare(values)
        if failed is not None:
            mistake, why = diagnose()
            message = (f"wrong: the {noun} does not match the {what} (largest relative error "
                       f"{error:.2g}).")
            if error <= self.rtol:  # wrong in entries small beside others: say which
                message = (
                    f"wrong: the {noun} does not match the {what} (largest relative error "
                    f"{error:.2g} of the largest entry, but {failed})."
                )
            return self.result(False, error, f"{message} {why}", form, mistake)
        if unclear is not None:
            unclear, guarded = unclear
            return self.undecided(
                f"the {noun} differs from the numeric {what} beyond its tolerance ({unclear}), "
                + ("but by no more than central differences can confirm the complex step "
                   "here (f's value is large beside its derivative), which could explain "
                   "it. If f is complex-analytic (no abs, conj, real, max or comparisons), "
                   "pass method='complex-step' to rely on the complex step."
                   if guarded else
                   f"but by less than rounding at the scale of the largest entries "
                   f"({self.band:.1e}), so a rounding error of the claim cannot be told "
                   "from a mistake there. Check those entries on their own (a function of "
                   "just those outputs)."),
                form,
            )
        gap = self.power_gap()
        if gap is not None:
            return self.undecided(gap, form)
        if np.all(self.own <= self.noise_tol):
            return self.result(
                True,
                error,
                f"correct: the {what} is zero to within the numeric noise "
                f"({float(self.noise_tol.max(initial=0.0)):.1e}, {self.words}), and so is "
                f"the {noun} in {n} random directions.",
                form,
                None,
            )
        if error <= self.rtol:
            return self.result(
                True,
                error,
                f"correct: the {noun} matches the numeric {what} in {n} random directions "
                f"(largest relative error {_describe_error(error)}, {self.words}"
                f"{self.assurance()}).",
                form,
                None,
            )
        source = (
            ": f's own rounding, as evaluated in floating point, with large values "
            "cancelling" if self.method == "complex-step" and what == "derivative" else ""
        )
        return self.undecided(
            f"the numeric {what} is too noisy here to decide at rtol={self.rtol:g}: the "
            f"{noun} differs from it by up to {error:.1e} of its scale, within the "
            f"numeric noise ({float(self.noise_tol.max(initial=0.0)):.1e} against a scale "
            f"of {self.scale:.1e}{source}); check at a better-conditioned point, or with "
            "a larger rtol.",
            form,
        )

    def result(
        self, ok: bool, err: float, message: str, form: str, mistake: str | None
    ) -> CheckResult:
        return CheckResult(ok, err, message, form, mistake, self.method)

    def undecided(self, why: str, form: str) -> CheckResult:
        return CheckResult(
            False, float("nan"), f"undecided: {why}", form, None, self.method, "undecided"
        )


def _read_claim(
    claimed: Any, out_shape: tuple[int, ...], in_shape: tuple[int, ...]
) -> tuple[str, Reading | None]:
    """Decide which form the claim is in, and return how to apply it to a direction K."""
    if callable(claimed):
        return "callable", claimed
    arr = _as_claim_array(claimed)
    if arr.shape == out_shape + in_shape:
        T = arr
        form = "gradient" if out_shape == () else "tensor"
        return form, lambda K: np.tensordot(T, K, axes=len(in_shape))
    if arr.shape == (prod(out_shape), prod(in_shape)):
        return "matrix", _matrix_reading(arr, out_shape)
    return "unrecognised", None


def _as_claim_array(claimed: Any, name: str = "claimed") -> np.ndarray:
    """The claim as a real numeric array (nan and inf allowed: they make it undecided)."""
    refuse_masked(name, claimed)
    if is_sparse(claimed):
        raise TypeError(f"{name} is a scipy.sparse matrix; pass {name}.toarray()")
    try:
        arr = np.asarray(claimed)
        if arr.dtype == object:  # e.g. a sympy Matrix of numbers
            arr = arr.astype(float)
    except Exception as exc:  # ragged nested lists, symbols, ...
        raise TypeError(
            f"{name} must be a numeric array (all rows the same length) or a callable "
            f"K -> DF(X)[K], got {type(claimed).__name__} that numpy cannot read as numbers"
        ) from exc
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(
            f"{name} must be a numeric array or a callable K -> DF(X)[K], "
            f"got {type(claimed).__name__} (dtype {arr.dtype})"
        )
    if np.iscomplexobj(arr):
        if np.any(arr.imag != 0):
            raise TypeError(f"{name} has complex entries: the derivative of a real f is real")
        arr = arr.real
    if not (arr.flags.c_contiguous or arr.flags.f_contiguous):  # a view: applying it copies
        check_size(arr.size, arr.itemsize, f"{name}, an array of shape {arr.shape}, copied")
    return arr


def _matrix_reading(
    M: np.ndarray, out_shape: tuple[int, ...], order: Literal["C", "F"] = "F"
) -> Reading:
    """K -> unvec(M vec(K)), with vec in the given order ("F" column-major, "C" row-major)."""
    return lambda K: (M @ K.reshape(-1, order=order)).reshape(out_shape, order=order)


def _apply(reading: Reading, K: np.ndarray, out_shape: tuple[int, ...]) -> Any:
    """DF[K] under a reading of the claim, or a message when it has the wrong shape."""
    value = _as_claim_array(reading(K.copy()), "the claimed linear map's value")
    if value.shape != out_shape:
        return (
            f"the claimed linear map returned shape {shape_str(value.shape)} for a direction "
            f"K of X's shape {shape_str(K.shape)}, but DF(X)[K] has f(X)'s shape "
            f"{shape_str(out_shape)}."
        )
    return value


def _diagnose(
    context: _Context, claimed: Any, form: str, values: list[np.ndarray]
) -> tuple[str | None, str]:
    """Try alternative readings of a wrong claim; name the first that fits."""
    out_shape, in_shape = context.out_shape, context.in_shape
    candidates: list[tuple[str, Reading, str]] = []
    subspace = context.subspace
    if subspace is not None and form != "callable":  # the two derivatives confused
        claim = _as_claim_array(claimed)
        candidates.extend(subspace.mistake_readings(claim, form, out_shape))
    if form == "matrix":
        M = _as_claim_array(claimed)
        candidates.append((
            "row-major",
            _matrix_reading(M, out_shape, order="C"),
            "It matches the row-major convention (numpy's default flatten), not the "
            "column-major vec this book uses: for vec(A X B) that is A ⊗ B^T in place of "
            "B^T ⊗ A (for Z = A H W, A ⊗ W^T in place of W^T ⊗ A). Flatten with "
            "order='F' (mdcalc.vec) to stack columns.",
        ))
        if M.shape[0] == M.shape[1]:
            candidates.append((
                "transpose",
                _matrix_reading(M.T, out_shape),
                "It is off by a transpose: this is the denominator layout (one row per "
                "input entry); the vec-Jacobian has one row per output entry, so use M.T.",
            ))
            candidates.append(_symmetric_part_candidate(
                _matrix_reading((M + M.T) / 2, out_shape), "matrix M", "(M + M^T) / 2"))
        candidates.extend(_kronecker_candidates(M, out_shape, in_shape))
    elif form == "tensor" and out_shape == in_shape:
        T = _as_claim_array(claimed)
        candidates.append(_input_first_candidate(T, out_shape, in_shape))
        k = len(in_shape)
        swapped = T.transpose(tuple(range(k, 2 * k)) + tuple(range(k)))
        candidates.append(_symmetric_part_candidate(
            lambda K: np.tensordot((T + swapped) / 2, K, axes=k), "tensor",
            "its symmetric part (T + T with the two index groups swapped) / 2"))
    elif form == "gradient" and len(in_shape) == 2 and in_shape[0] == in_shape[1]:
        G = _as_claim_array(claimed)
        candidates.append((
            "transpose",
            lambda K: np.sum(G.T * K),
            "It is off by a transpose: the gradient's entry [j, k] must be df/dX[j, k], "
            "with X's shape; yours is its transpose (for f = tr(A X) the gradient is A^T, "
            "not A).",
        ))
    elif form == "callable" and out_shape == in_shape:
        if _is_adjoint(context, claimed):
            return "adjoint", (
                "It is the adjoint (the vector-Jacobian product G -> DF(X)^T[G], as in "
                "backpropagation: for Z = A H W that is G -> A^T G W^T), not the derivative "
                "K -> DF(X)[K] (K -> A K W)."
            )
    for mistake, reading, why in candidates:
        if context.fits(reading):
            return mistake, why
    if all(not np.any(value) for value in values):
        return "zero", (
            "It is zero in every direction, and the derivative is not: a symbolic tool "
            "that cannot differentiate an expression sometimes returns 0 without a warning."
        )
    factor = _common_factor(values, context.numeric)
    if factor is not None:
        if np.isclose(factor, -1.0):
            return "sign", "It is off by a sign: it equals minus the derivative."
        return "scale", (
            f"It is off by a constant factor: it equals {factor:.6g} times the derivative."
        )
    if subspace is None and out_shape == () and form in ("gradient", "callable") and (
        _symmetric_directions_fit(context, claimed, form)
    ):
        return "symmetrisation", (
            "It agrees with the derivative in the directions X M for every symmetric M "
            "tried, and not in others: the classic missing symmetrisation. For "
            "f = tr(Xᵀ A X) the gradient is (A + Aᵀ) X, not 2 A X (for f = xᵀ A x, "
            "(A + Aᵀ) x, not 2 A x), unless A is symmetric."
        )
    return None, "The error is not one of the classic mistakes this checker knows."


def _symmetric_part_candidate(reading: Reading, what: str, part: str) -> tuple[str, Reading, str]:
    return (
        "symmetrisation",
        reading,
        f"Its symmetric part, {part}, is right, and it is not symmetric: the classic "
        "missing symmetrisation. The derivative of x -> xᵀ A x is x -> (A + Aᵀ) x, so "
        "the Jacobian of that gradient is A + Aᵀ, not 2 A, unless A is symmetric.",
    )


def _symmetric_directions_fit(context: _Context, claimed: Any, form: str) -> bool:
    """For a scalar f: does the claim agree with DF(X) along X M (M random symmetric)?

    A claim C = 2 A X where the gradient is G = (A + Aᵀ) X errs by E = (A - Aᵀ) X, with
    Xᵀ E skew, so that <E, X M> = 0 for every symmetric M (and for full-column-rank X,
    only such E do). Random directions see E; the directions X M do not.
    """
    if context.along is None:
        return False
    X = context.point
    if X is None:
        return False
    rng = np.random.default_rng(1)
    p = 1 if X.ndim == 1 else X.shape[1]
    directions = []
    for _ in range(_SYMMETRIC_PROBES if p > 1 else 1):
        S = rng.standard_normal((p, p))
        M = (S + S.T) / 2
        directions.append(X * M[0, 0] if X.ndim == 1 else X @ M)
    if form == "gradient":
        G = _as_claim_array(claimed)
        got = [np.asarray(np.sum(G * K)) for K in directions]
    else:
        got = [_as_claim_array(claimed(K.copy()), "the claimed linear map's value")
               for K in directions]
    with np.errstate(all="ignore"):
        want = [np.asarray(context.along(K)) for K in directions]
    tol = max(context.rtol, 1e-6)
    for g, w, K in zip(got, want, directions, strict=True):
        if g.shape != w.shape or not np.all(np.isfinite(w)):
            return False
        if not np.all(np.abs(g - w) <= tol * np.abs(w) + context.noise_tol * max(
                1.0, float(np.abs(K).max(initial=0.0))) + context.band):
            return False
    return True


def _input_first_candidate(
    T: np.ndarray, out_shape: tuple[int, ...], in_shape: tuple[int, ...]
) -> tuple[str, Reading, str]:
    # Claim read as T[j, k, i, l] = dF[i, l] / dX[j, k], sympy's order.
    as_output_first = sympy_order_to_book(T, out_shape, in_shape)
    return (
        "input-first",
        lambda K: np.tensordot(as_output_first, K, axes=len(in_shape)),
        "It has the right numbers with the input indices first (sympy's layout, "
        f"X.shape + f(X).shape = {in_shape + out_shape}); this book, like JAX and PyTorch, "
        f"puts the output indices first (f(X).shape + X.shape = {out_shape + in_shape}). "
        "Move the axes with np.moveaxis.",
    )


def _kronecker_candidates(
    M: np.ndarray, out_shape: tuple[int, ...], in_shape: tuple[int, ...]
) -> list[tuple[str, Reading, str]]:
    """If M = B ⊗ C, the readings with B or C transposed (where the shapes allow)."""
    if len(out_shape) != 2 or len(in_shape) != 2 or M.size > _KRON_DIAGNOSIS_LIMIT:
        return []
    (r, s), (m, p) = out_shape, in_shape
    # Column-major: M[i + r l, j + m k] = B[l, k] C[i, j]; regroup to a rank-one matrix.
    T = matrix_to_tensor(M, out_shape, in_shape)
    R = T.transpose(1, 3, 0, 2).reshape(s * p, r * m)
    U, sigma, Vt = np.linalg.svd(R, full_matrices=False)
    if sigma[0] == 0 or (len(sigma) > 1 and sigma[1] > 1e-9 * sigma[0]):
        return []
    B = (U[:, 0] * sigma[0]).reshape(s, p)
    C = Vt[0].reshape(r, m)
    found = []
    if s == p:
        found.append((
            "kronecker-factor",
            _matrix_reading(np.kron(B.T, C), out_shape),
            "It is a Kronecker product with its left factor untransposed (like W ⊗ A where "
            "W^T ⊗ A is meant): in vec(A X B) = (B^T ⊗ A) vec(X) the matrix multiplying X "
            "from the right enters transposed.",
        ))
    if r == m:
        found.append((
            "kronecker-factor",
            _matrix_reading(np.kron(B, C.T), out_shape),
            "It is a Kronecker product with its right factor transposed (like W^T ⊗ A^T where "
            "W^T ⊗ A is meant): in vec(A X B) = (B^T ⊗ A) vec(X) the matrix multiplying X "
            "from the left enters as it is.",
        ))
    if s == p and r == m:
        found.append((
            "kronecker-factor",
            _matrix_reading(np.kron(B.T, C.T), out_shape),
            "It is a Kronecker product with both factors transposed the wrong way (like "
            "W ⊗ A^T where W^T ⊗ A is meant): in vec(A X B) = (B^T ⊗ A) vec(X) only the "
            "right-hand matrix is transposed.",
        ))
    return found


def _is_adjoint(context: _Context, claimed: Reading) -> bool:
    """<claimed(K_s), K_t> == <K_s, DF[K_t]> for all pairs s, t: claimed is DF^T, and DF is
    not self-adjoint (else its adjoint is itself, and the claim is simply wrong)."""
    images = [
        _as_claim_array(claimed(K.copy()), "the claimed linear map's value")
        for K in context.directions
    ]
    tol = max(context.rtol, 1e-6)
    self_adjoint = True
    for Ks, image, dKs in zip(context.directions, images, context.numeric, strict=True):
        if image.shape != Ks.shape:
            return False
        for Kt, dKt in zip(context.directions, context.numeric, strict=True):
            rhs = float(np.sum(Ks * dKt))
            scale = max(float(np.linalg.norm(Ks) * np.linalg.norm(dKt)), 1e-300)
            if abs(float(np.sum(image * Kt)) - rhs) > tol * scale:
                return False
            if abs(float(np.sum(dKs * Kt)) - rhs) > tol * scale:
                self_adjoint = False
    return not self_adjoint


def _common_factor(values: list[np.ndarray], numeric: list[np.ndarray]) -> float | None:
    """The c with values == c * numeric in every direction, if there is one (and c != 0, 1)."""
    got = np.concatenate([np.ravel(v) for v in values])
    want = np.concatenate([np.ravel(n) for n in numeric])
    norm = float(want @ want)
    if norm == 0:
        return None
    c = float(got @ want) / norm
    spread = np.abs(got - c * want).max(initial=0.0)
    if c == 0 or np.isclose(c, 1.0) or spread > 1e-6 * np.abs(got).max(initial=0.0):
        return None
    return c


def _shape_failure(context: _Context, claimed: Any) -> CheckResult:
    """A claim of the wrong shape: say what shape is expected and why."""
    out_shape, in_shape = context.out_shape, context.in_shape
    arr = _as_claim_array(claimed)
    n_out, n_in = prod(out_shape), prod(in_shape)
    expected = (
        f"Expected the tensor of shape f(X).shape + X.shape = {out_shape + in_shape} "
        f"(output indices first), the vec-Jacobian of shape ({n_out}, {n_in}), "
        "or a callable K -> DF(X)[K]."
    )
    head = f"wrong shape: the claim has shape {arr.shape}."
    mistake, why = "shape", ""
    if arr.shape == in_shape + out_shape and out_shape:
        mistake, reading, why = _input_first_candidate(arr, out_shape, in_shape)
        if not context.fits(reading):
            why = ("Its shape is X.shape + f(X).shape, the input indices first (sympy's "
                   "layout); even read that way its numbers are wrong.")
    elif arr.shape == (n_in, n_out) and n_out > 1:
        if context.fits(_matrix_reading(arr.T, out_shape)):
            mistake, why = "transpose", (
                "It is the transpose of the vec-Jacobian (the denominator layout, one row "
                "per input entry); this book's layout has one row per output entry.")
        else:
            why = "That is the shape of the transposed (denominator-layout) vec-Jacobian."
    elif out_shape == () and arr.shape == in_shape[::-1]:
        if context.fits(lambda K: np.sum(arr.T * K)):
            mistake, why = "transpose", (
                "It is the transpose of the gradient: the gradient has X's shape, entry "
                "[j, k] = df/dX[j, k].")
    elif out_shape and arr.ndim <= 2:
        count = n_out * n_in
        why = (
            f"A derivative of an output of shape {shape_str(out_shape)} by an input of shape "
            f"{shape_str(in_shape)} has {n_out} x {n_in} = {count} partial derivatives, one "
            f"for each pair (output entry, input entry); an array of shape "
            f"{shape_str(arr.shape)} holds only {arr.size} numbers."
        )
        if len(in_shape) == 2 and arr.shape == out_shape:  # shaped like Z, as "A W" is
            why += (
                " This is why the tempting 'dZ/dH = A W' for Z = A H W is wrong even when "
                "the product A W exists: A and W meet in dZ[i,l]/dH[j,k] = A[i,j] W[k,l], "
                "a 4-index tensor, not in a matrix product."
            )
    message = " ".join(part for part in (head, why, expected) if part)
    return context.result(False, np.inf, message, "unrecognised", mistake)


def checker_options(method: str, n_directions: int, seed: int,
                    rtol: float | None) -> tuple[int, int]:
    """The options the checkers share, checked: returns (n_directions, seed) as ints.

    >>> checker_options("auto", 3, 0, None)
    (3, 0)
    """
    if method not in ("auto", "complex-step", "central"):
        raise ValueError(f"method must be 'auto', 'complex-step' or 'central', got {method!r}")
    n_directions = as_count("n_directions", n_directions, 1, MAX_DIRECTIONS)
    seed = as_count("seed", seed, 0, 2**63 - 1)
    if rtol is not None:
        if isinstance(rtol, bool) or not isinstance(rtol, (int, float, np.floating, np.integer)):
            raise TypeError(f"rtol must be a number, got {type(rtol).__name__}")
        if not 0 < rtol < 1:
            raise ValueError(f"rtol must be between 0 and 1 (exclusive), got {rtol}")
    return n_directions, seed


def _context(out_shape: tuple[int, ...], in_shape: tuple[int, ...],
             directions: list[np.ndarray], numeric: Any, rtol: float,
             words: str | None = None) -> _Context:
    """What a checker compares against (a :class:`_Numeric`, or anything with its fields):
    the numeric values along the directions, with the tolerances (relative, and from the
    measured noise and each entry's own rounding) and the guard's resolution."""
    values = numeric.values
    own = own_scale(values)
    scale = float(own.max(initial=0.0))
    noise_tol = NOISE_FACTOR * numeric.noise + FLOOR_ULPS * EPS * own
    return _Context(out_shape, in_shape, directions, values, float(rtol), numeric.method,
                    noise_tol, numeric.guard, own, scale, numeric.natural, numeric.along,
                    getattr(numeric, "refine", None), words or numeric.method)
