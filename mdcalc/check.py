"""Checking a claimed derivative, and saying in words what is wrong with a wrong one.

The check needs no full Jacobian: for a few random directions K it compares the claim's
``DF(X)[K]`` with a numeric directional derivative (one complex-step call of f each, exact
to rounding for analytic f, verified entry by entry against central differences). A
linear map is decided by a few generic directions, so this is a real test at any size.
Each output entry is compared on its own scale, and the numeric noise is measured (a
derivative is linear in K, so ``D[K + R] - D[K] - D[R]`` is noise): one wrong entry among
much larger ones is seen, and a derivative that is zero up to rounding passes a zero
claim. When the numeric side cannot decide (not finite, f not differentiable at X, a
claim that is not finite, noise above the tolerance) the verdict is "undecided". When the
claim fails, the same directions test alternative readings of it (row-major order, input
indices first, a transpose, an untransposed Kronecker factor, a sign, a factor): the
first reading that fits names the mistake.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from math import prod
from typing import Any, Literal
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from mdcalc._validation import as_count, as_point, evaluate, is_sparse, refuse_masked, shape_str
from mdcalc.layouts import sympy_order_to_book
from mdcalc.numeric import (
    EPS,
    NON_ANALYTIC,
    central_along,
    central_unreliable,
    check_output,
    complex_along,
    entry_noise,
    kinked,
    linearity_noise,
    non_analytic,
)
from mdcalc.structure import Subspace
from mdcalc.vectorization import matrix_to_tensor

__all__ = ["CheckResult", "check_derivative", "self_check"]

Reading = Callable[[np.ndarray], np.ndarray]
NumericMethod = Literal["complex-step", "central"]
# Above this many entries a claimed matrix is not factored into a Kronecker product.
_KRON_DIAGNOSIS_LIMIT = 4_000_000
# More random directions than this add nothing but time.
MAX_DIRECTIONS = 100
# Besides rtol relative to each entry, differences up to NOISE_FACTOR times the numeric
# noise (the linearity defect of the numeric derivative, and the estimated error of
# central differences) plus FLOOR_ULPS rounding units of the derivative's scale pass.
NOISE_FACTOR = 100.0
FLOOR_ULPS = 256.0
# How many triples (K_i, R, K_i + R) sample the linearity defect.
_NOISE_PAIRS = 3


@dataclass(frozen=True)
class CheckResult:
    """The verdict of :func:`check_derivative`; truthy exactly when the claim holds.

    Attributes
    ----------
    ok : bool
        Whether the claim matches the numeric derivative in every direction tried.
    max_error : float
        Largest relative error ``max|claimed - numeric| / max|numeric|`` over the
        directions (``inf`` when the claim has the wrong shape).
    message : str
        The verdict in words; for a wrong claim, what kind of mistake it is, if known.
    form : str
        How the claim was read: ``"tensor"``, ``"gradient"``, ``"matrix"``, ``"callable"``,
        ``"entries"`` (with a structure: the derivative by the independent entries), or
        ``"unrecognised"`` (wrong shape).
    mistake : str or None
        A short name of the recognised mistake (``"row-major"``, ``"input-first"``,
        ``"transpose"``, ``"kronecker-factor"``, ``"adjoint"``, ``"zero"``, ``"sign"``,
        ``"scale"``, ``"shape"``; with a structure also ``"independent-entries"``,
        ``"trace-gradient"`` and ``"outside-subspace"``), ``None`` when correct or not
        recognised.
    method : str
        The numeric method used: ``"complex-step"`` or ``"central"``.
    verdict : str
        ``"correct"``, ``"wrong"`` or ``"undecided"``: the numeric derivative cannot
        decide (it is not finite, f is not differentiable at X, the claim is not finite,
        or the numeric noise is larger than the tolerance). An undecided result is falsy,
        its ``max_error`` is nan, and its message starts with "undecided:" and says why.
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
        Numeric method; "auto" uses the complex step when f is complex-analytic.
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
        in [1, 100], seed >= 0), or ``method="complex-step"`` for an f that is not
        complex-analytic.
    TypeError
        If f or the claim does not give real numbers (ragged, masked, complex or
        non-numeric arrays), or an option has the wrong type.

    Notes
    -----
    Accuracy: the claim is "correct" when, in every direction, each entry of its
    ``DF(X)[K]`` is within rtol of the numeric one, or within 100 times the measured
    numeric noise of that entry (at least 1e-4 of the median entry's) plus 256 eps of the
    largest entry. So a claim off by more than rtol in an entry that is not dwarfed
    (below about 1e-10) by the largest entries is "wrong"; for the complex step the noise
    also covers what its guard against non-analytic pieces could not see. The numeric
    derivative itself is exact to rounding (complex step) or good to about 1e-10
    (central). The verdict does not depend on the machine beyond that.

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
    numeric, used, noise, doubt = _numeric(f, X_, F0, directions, R, method)
    context = _context(out_shape, in_shape, directions, numeric, noise, used,
                       rtol if rtol is not None else (1e-8 if used == "complex-step" else 1e-5))
    rtol, atol, scale = context.rtol, context.atol, context.scale
    noun = _FORM_NOUN.get(form, "claim")
    if doubt is not None:
        return context.undecided(doubt, form)
    if reading is None:
        return _shape_failure(context, claimed)
    if form != "callable" and not np.all(np.isfinite(_as_claim_array(claimed))):
        return context.undecided(_NON_FINITE_CLAIM.format(noun=noun), form)
    values = [_apply(reading, K, out_shape) for K in directions]
    if isinstance(values[0], str):
        return context.result(False, np.inf, values[0], form, "shape")
    if not all(np.all(np.isfinite(v)) for v in values):
        return context.undecided(_NON_FINITE_CLAIM.format(noun=noun), form)
    error = context.error(values)
    worst, where = _worst_entry(values, context.numeric, rtol, atol)
    if worst <= 1 and subspace is not None and form == "gradient":
        outside = subspace.outside(_as_claim_array(claimed), max(rtol, 1e-10))
        if outside is not None:  # right along the subspace, but not an element of it
            mistake, why = outside
            return context.result(
                False, error, f"wrong: the {noun} is not the gradient on the subspace. {why}",
                form, mistake)
    if worst <= 1:  # every entry within rtol of itself, or within the noise
        if error <= rtol:
            return context.result(
                True,
                error,
                f"correct: the {noun} matches the numeric derivative in {n_directions} "
                f"random directions (largest relative error {_describe_error(error)}, "
                f"{used}).",
                form,
                None,
            )
        if all(np.all(np.abs(n) <= atol) for n in context.numeric):
            return context.result(
                True,
                error,
                f"correct: the derivative is zero to within the numeric noise "
                f"({float(atol.max(initial=0.0)):.1e}, "
                f"{used}), and so is the {noun} in {n_directions} random directions.",
                form,
                None,
            )
        return context.undecided(
            f"the numeric derivative is too noisy here to decide at rtol={rtol:g}: the "
            f"{noun} differs from it by up to {error:.1e} of its scale, within the "
            f"numeric noise ({float(atol.max(initial=0.0)):.1e} against a scale of "
            f"{scale:.1e}); check at a "
            "better-conditioned point, or with a larger rtol.",
            form,
        )
    mistake, why = _diagnose(context, claimed, form, values, subspace)
    message = (
        f"wrong: the {noun} does not match the derivative (largest relative error {error:.2g})."
    )
    if error <= rtol:  # wrong in entries small beside others: say which
        message = (
            f"wrong: the {noun} does not match the derivative (largest relative error "
            f"{error:.2g} of the largest entry, but {where})."
        )
    return context.result(False, error, f"{message} {why}", form, mistake)


_NON_FINITE_CLAIM = (
    "the {noun} has non-finite entries (nan or inf), so it cannot be compared with the "
    "derivative, which is finite here; compute the claim at this X again."
)


def _worst_entry(
    values: list[np.ndarray], numeric: list[np.ndarray], rtol: float, atol: np.ndarray
) -> tuple[float, str]:
    """The largest ``|got - want| / (rtol |want| + atol)`` over entries and directions."""
    worst, where = 0.0, ""
    for got, want in zip(values, numeric, strict=True):
        with np.errstate(all="ignore"):
            ratio = np.abs(got - want) / (rtol * np.abs(want) + atol)
        ratio = np.where(np.abs(got - want) == 0, 0.0, ratio)
        if ratio.size and float(ratio.max()) > worst:
            i = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
            worst = float(ratio.max())
            entry = tuple(int(n) for n in i)
            where = (
                f"output entry {entry} is off by {abs(got[i] - want[i]):.2g} where the "
                f"derivative is {want[i]:.2g}"
            )
    return worst, where


def _numeric(
    f: Callable[..., Any],
    X: np.ndarray,
    F0: np.ndarray,
    directions: list[np.ndarray],
    R: np.ndarray,
    method: str,
) -> tuple[list[np.ndarray], NumericMethod, np.ndarray, str | None]:
    """DF(X)[K] for each direction: values, method used, noise, and a doubt (or None).

    The linearity defects of (K_i, R, K_i + R) for the first few directions measure the
    noise. The complex step is used when f carries complex numbers and agrees, entry by entry in
    every direction, with central differences; a forced complex step that disagrees is
    refused. The noise is per output entry: the central differences' estimated error and
    linearity defects (at least NOISE_SHARE of the largest), and for the complex step
    also its largest linearity defect (rounding, relative to f's largest values).
    """
    n = len(directions)
    probe = directions + [R] + [K + R for K in directions[:_NOISE_PAIRS]]
    triples = [(i, n, n + 1 + i) for i in range(len(probe) - n - 1)]
    exact: list[np.ndarray] | None = None
    if method != "central":
        try:
            with np.errstate(all="ignore"):
                exact = [complex_along(f, X, K, F0.shape) for K in probe]
        except (TypeError, ValueError):
            if method == "complex-step":
                raise
    with np.errstate(all="ignore"):
        central = [central_along(f, X, F0, K) for K in probe]
    values = [c[0] for c in central]
    if exact is not None:
        rough = entry_noise(central, triples)
        if not non_analytic(exact, central, rough):
            # What the guard could not see (GUARD_FACTOR = NOISE_FACTOR times the central
            # noise) cannot be told apart either: a claim within it is not called wrong.
            noise = np.maximum(rough, max(linearity_noise(exact, *t) for t in triples))
            kinks = kinked(central, triples)  # analytic f have none: abs * 0 may agree
            return exact[:n], "complex-step", noise, _doubt(exact, kinks)
        if method == "complex-step":
            raise ValueError(NON_ANALYTIC)
    with np.errstate(all="ignore"):
        noise = entry_noise(central, triples)
        size = max(1.0, float(np.abs(X).max()))
        unreliable = any(
            np.any(central_unreliable(c[0], c[1], F0, np.abs(K).sum() / size))
            for c, K in zip(central, probe, strict=True)
        )
    kinks = kinked(central, triples)
    doubt = _doubt(values, kinks)
    if doubt is None and unreliable:
        doubt = (
            "central differences are unreliable here (f varies faster than their step, "
            "about 6e-6 of |X|: an oscillation or a singularity nearby), so no claim can "
            "be checked; use a complex-analytic f, or another point."
        )
    return values[:n], "central", noise, doubt


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
    out_shape: tuple[int, ...]
    in_shape: tuple[int, ...]
    directions: list[np.ndarray]
    numeric: list[np.ndarray]
    rtol: float
    method: str
    atol: np.ndarray  # per output entry: what the numeric noise allows besides rtol
    scale: float  # the largest numeric entry

    def error(self, values: list[np.ndarray]) -> float:
        worst = 0.0
        for got, want in zip(values, self.numeric, strict=True):
            diff = float(np.abs(got - want).max(initial=0.0))
            scale = float(np.abs(want).max(initial=0.0))
            worst = max(worst, diff / scale if scale > 0 else (np.inf if diff > 0 else 0.0))
        return worst

    def fits(self, reading: Reading) -> bool:
        """Whether DF[K] read this way matches the numeric derivative in every direction."""
        values = [_apply(reading, K, self.out_shape) for K in self.directions]
        if isinstance(values[0], str):
            return False
        return _worst_entry(values, self.numeric, max(self.rtol, 1e-6), self.atol)[0] <= 1

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
    context: _Context, claimed: Any, form: str, values: list[np.ndarray],
    subspace: Subspace | None = None,
) -> tuple[str | None, str]:
    """Try alternative readings of a wrong claim; name the first that fits."""
    out_shape, in_shape = context.out_shape, context.in_shape
    candidates: list[tuple[str, Reading, str]] = []
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
        candidates.extend(_kronecker_candidates(M, out_shape, in_shape))
    elif form == "tensor" and out_shape == in_shape:
        T = _as_claim_array(claimed)
        candidates.append(_input_first_candidate(T, out_shape, in_shape))
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
        adjoint_fits = _is_adjoint(context, claimed)
        if adjoint_fits:
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
    return None, "The error is not one of the classic mistakes this checker knows."


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
    """<claimed(K_s), K_t> == <K_s, DF[K_t]> for all pairs s, t: claimed is DF^T."""
    for Ks in context.directions:
        image = _as_claim_array(claimed(Ks.copy()), "the claimed linear map's value")
        for Kt, dKt in zip(context.directions, context.numeric, strict=True):
            lhs, rhs = float(np.sum(image * Kt)), float(np.sum(Ks * dKt))
            scale = float(np.linalg.norm(Ks) * np.linalg.norm(dKt))
            if abs(lhs - rhs) > max(context.rtol, 1e-6) * max(scale, 1e-300):
                return False
    return True


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
             directions: list[np.ndarray], numeric: list[np.ndarray], noise: Any,
             used: str, rtol: float) -> _Context:
    """What a checker compares against: the numeric values along the directions, with the
    tolerances (relative, and absolute from the measured noise and rounding)."""
    scale = max(float(np.abs(n).max(initial=0.0)) for n in numeric)
    atol = NOISE_FACTOR * noise + FLOOR_ULPS * EPS * scale
    return _Context(out_shape, in_shape, directions, numeric, float(rtol), used, atol, scale)
