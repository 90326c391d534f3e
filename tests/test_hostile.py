"""A hostile review of mdcalc's public API, as property tests (issue 10).

Every case asserts the reliability contract: the result is right to the accuracy the
docstring states, or mdcalc itself refuses with a ValueError or TypeError (the last frame
of the traceback is in mdcalc, the message says what is wrong). A case that takes longer
than CASE_SECONDS fails: a hang is a failure.

The functions attacked are random sums of pieces with known derivatives, scaled over
fifteen orders of magnitude, some complex-analytic and some not (abs, conj, real), made
batch-unsafe or input-mutating on demand, at points with tiny, huge and zero entries.
"""

from __future__ import annotations

import signal
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mdcalc
from mdcalc import layouts

MDCALC_DIR = Path(mdcalc.__file__).resolve().parent
CASE_SECONDS = 5.0
SETTINGS = settings(
    max_examples=150,
    deadline=None,  # time is bounded per case by an alarm instead (a hang fails)
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True,
)


@contextmanager
def bounded(seconds: float = CASE_SECONDS) -> Iterator[None]:
    """Fail the case with TimeoutError after ``seconds`` (SIGALRM; main thread only)."""

    def alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"mdcalc took more than {seconds} s: a hang is a failure")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def assert_refused_by_mdcalc(exc: BaseException) -> None:
    """A clear refusal: ValueError/TypeError raised in mdcalc's own code, with a message."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = Path(frames[-1].filename).resolve().parent if frames else None
    assert isinstance(exc, (ValueError, TypeError)) and where == MDCALC_DIR, (
        "not a clear refusal by mdcalc:\n" + "".join(traceback.format_exception(exc))
    )
    assert len(str(exc)) >= 20, f"refusal without an explanation: {exc!r}"


def right_or_refused(call: Callable[[], Any]) -> Any:
    """Run ``call`` within the time bound; return its result, or None if mdcalc refused."""
    try:
        with bounded(), np.errstate(all="ignore"):
            return call()
    except TimeoutError:
        raise
    except Exception as exc:  # noqa: BLE001 - any other kind is a contract failure
        assert_refused_by_mdcalc(exc)
        return None


# --------------------------------------------------------------------------------------
# random functions with known derivatives
# --------------------------------------------------------------------------------------

# name: (g, g', analytic, smooth everywhere)
PIECES: dict[str, tuple[Callable[..., Any], Callable[..., Any], bool, bool]] = {
    "sin": (np.sin, np.cos, True, True),
    "square": (lambda x: x * x, lambda x: 2 * x, True, True),
    "cube": (lambda x: x**3, lambda x: 3 * x**2, True, True),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2, True, True),
    "exp": (lambda x: np.exp(x / 8), lambda x: np.exp(x / 8) / 8, True, True),
    "linear": (lambda x: 3 * x - 1, lambda x: 3 + 0 * x, True, True),
    "conj-square": (lambda x: x * np.conj(x), lambda x: 2 * x, False, True),
    "real": (lambda x: np.real(x) * 2, lambda x: 2 + 0 * x, False, True),
    "abs-cube": (lambda x: np.abs(x) ** 3, lambda x: 3 * x * np.abs(x), False, True),
    "abs": (np.abs, np.sign, False, False),
}


@dataclass
class Spec:
    """f(X) = concatenate(c_k * g_k(X) flattened): multi-scale, with a known Jacobian."""

    pieces: list[tuple[str, float]]
    in_shape: tuple[int, ...]
    unsafe: str  # "", "mutates", "reads-stack", "ravel"

    @property
    def analytic(self) -> bool:
        return all(PIECES[name][2] for name, _ in self.pieces)

    def differentiable_at(self, X: np.ndarray) -> bool:
        """False where a kink is at X and visible: not 1e-4 of the other pieces' size."""
        if bool(np.all(X != 0)):
            return True
        kinks = [c for name, c in self.pieces if not PIECES[name][3]]
        others = [c for name, c in self.pieces if PIECES[name][3]]
        return not kinks or max(kinks) < 1e-4 * max(others, default=0.0)

    def function(self) -> Callable[[np.ndarray], np.ndarray]:
        nd, n0 = len(self.in_shape), self.in_shape[0]
        pieces = [(PIECES[name][0], c) for name, c in self.pieces]

        def f(X: np.ndarray) -> np.ndarray:
            lead = X.shape[: X.ndim - nd]
            if self.unsafe == "ravel":  # mixes a stack axis into the output
                out = np.concatenate([c * g(X).ravel() for g, c in pieces])
            else:
                out = np.concatenate([c * g(X).reshape(lead + (-1,)) for g, c in pieces], -1)
            if self.unsafe == "reads-stack":  # right for one X, wrong for a stack
                out = out * (X.shape[0] / n0)
            if self.unsafe == "mutates":
                X *= -3.0
                X += 1.0
            return out

        return f

    def jacobian(self, X: np.ndarray) -> np.ndarray:
        x = X.reshape(-1)
        blocks = [c * np.diag(PIECES[name][1](x)) for name, c in self.pieces]
        return np.concatenate(blocks).reshape((-1,) + X.shape)


magnitudes = st.sampled_from([0.0, 1e-8, 1e-5, 1e-2, 0.3, 1.0, 3.0, 50.0, 1e4, 1e6])


@st.composite
def points(draw: st.DrawFn, max_side: int = 4) -> np.ndarray:
    shape = draw(
        st.one_of(
            st.tuples(st.integers(1, 6)),
            st.tuples(st.integers(1, max_side), st.integers(1, max_side)),
        )
    )
    n = int(np.prod(shape))
    size = draw(st.lists(magnitudes, min_size=n, max_size=n))
    sign = draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n))
    jitter = draw(st.lists(st.floats(0.5, 2.0), min_size=n, max_size=n))
    return (np.array(size) * np.array(sign) * np.array(jitter)).reshape(shape)


@st.composite
def specs(draw: st.DrawFn, in_shape: tuple[int, ...]) -> Spec:
    names = draw(st.lists(st.sampled_from(sorted(PIECES)), min_size=1, max_size=3))
    scales = draw(
        st.lists(st.sampled_from([1e-6, 1e-3, 1.0, 7.0, 1e5, 1e9]), min_size=3, max_size=3)
    )
    unsafe = draw(st.sampled_from(["", "", "mutates", "reads-stack", "ravel"]))
    return Spec(list(zip(names, scales, strict=False)), in_shape, unsafe)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Spec, np.ndarray]:
    X = draw(points())
    return draw(specs(X.shape)), X


def closeness(J: np.ndarray, exact: np.ndarray, F0: np.ndarray, X: np.ndarray, rtol: float):
    """Per entry: |J - exact| / (rtol (|exact| + max|F| / max(1, |x|))), as stated, plus
    1e-8 of the largest entry (a non-analytic piece below that may escape the guard)."""
    level = np.abs(F0).max(initial=0.0) / np.maximum(1.0, np.abs(X))
    floor = 1e-8 * np.abs(exact).max(initial=0.0) + 1e-30
    return np.abs(J - exact) / (rtol * (np.abs(exact) + level) + floor)


# --------------------------------------------------------------------------------------
# jacobian and directional_derivative
# --------------------------------------------------------------------------------------


@SETTINGS
@given(case=cases(), method=st.sampled_from(["complex-step", "central"]))
def test_jacobian_is_right_or_refused(case, method):
    spec, X = case
    f, before = spec.function(), X.copy()
    J = right_or_refused(lambda: mdcalc.jacobian(f, X, method=method))
    assert np.array_equal(X, before), "mdcalc let f modify the caller's X"
    if J is None:
        return
    assert spec.differentiable_at(X), "a Jacobian where f has no derivative"
    exact = spec.jacobian(X)
    assert J.shape == exact.shape
    F0 = spec.function()(X.copy())
    if method == "complex-step":
        # exact to rounding: 1e-12 relative per entry, beside f's scale for 0 entries
        # (and the step's own h^2 f''' ~ 1e-40); a non-analytic piece must not be dropped
        assert np.all(closeness(J, exact, F0, X, 1e-12) <= 1), (J, exact)
    else:
        # central: refused above 1e-6 estimated error; allow 10x for the estimate
        assert np.all(closeness(J, exact, F0, X, 1e-5) <= 1), (J, exact)


@SETTINGS
@given(case=cases(), method=st.sampled_from(["complex-step", "central"]), seed=st.integers(0, 99))
def test_directional_derivative_is_right_or_refused(case, method, seed):
    spec, X = case
    K = np.random.default_rng(seed).standard_normal(X.shape)
    f = spec.function()
    D = right_or_refused(lambda: mdcalc.directional_derivative(f, X, K, method=method))
    if D is None:
        return
    assert spec.differentiable_at(X)
    exact = np.tensordot(spec.jacobian(X), K, axes=X.ndim)
    # a directional derivative is judged against the size of its terms, entry by entry
    terms = np.tensordot(np.abs(spec.jacobian(X)), np.abs(K), axes=X.ndim)
    F0 = f(X.copy())
    level = np.abs(F0).max(initial=0.0) / max(1.0, float(np.abs(X).max()))
    rtol = 1e-12 if method == "complex-step" else 1e-5
    floor = 1e-8 * np.abs(terms).max(initial=0.0) + 1e-30
    assert np.all(np.abs(D - exact) <= rtol * (terms + level * np.abs(K).sum()) + floor)


# --------------------------------------------------------------------------------------
# check_derivative: never calls a wrong claim correct, nor a right one wrong
# --------------------------------------------------------------------------------------


def as_form(T: np.ndarray, form: str, out_shape, in_shape) -> Any:
    if form == "tensor":
        return T
    if form == "matrix":
        return mdcalc.tensor_to_matrix(T, out_shape, in_shape)
    return lambda K: np.tensordot(T, K, axes=len(in_shape))


@settings(SETTINGS, max_examples=100)
@given(
    case=cases(),
    form=st.sampled_from(["tensor", "matrix", "callable"]),
    claim=st.sampled_from(["right", "one-entry", "nan", "inf", "zero", "sign"]),
    which=st.integers(0, 10**6),
    method=st.sampled_from(["auto", "auto", "central", "complex-step"]),
)
def test_check_derivative_verdicts(case, form, claim, which, method):
    spec, X = case
    f = spec.function()
    exact = spec.jacobian(X)
    out_shape = exact.shape[:1]
    T = exact.copy()
    flat = T.reshape(-1)
    i = which % flat.size
    row = np.abs(exact.reshape(exact.shape[0], -1)).max(axis=1)
    if claim == "one-entry":  # wrong by 10% of its output entry's row, at least
        r = np.unravel_index(i, exact.shape)[0]  # (and by 1e-6 of the largest entry)
        flat[i] += max(0.5 * abs(flat[i]), 0.1 * row[r], 1e-6 * row.max(), 1e-3)
    elif claim in ("nan", "inf"):
        flat[i] = np.nan if claim == "nan" else np.inf
    elif claim == "zero":
        T[...] = 0.0
    elif claim == "sign":
        T = -T
    claimed = as_form(T, form, out_shape, X.shape)
    result = right_or_refused(lambda: mdcalc.check_derivative(f, X, claimed, method=method))
    if result is None:
        return
    assert result.verdict in ("correct", "wrong", "undecided")
    assert bool(result) == (result.verdict == "correct")
    assert result.message.startswith(("correct", "wrong", "undecided"))
    really_wrong = claim in ("one-entry", "nan", "inf") or (
        claim in ("zero", "sign") and np.any(exact != 0)
    )
    if really_wrong:
        assert result.verdict != "correct", result.message
    else:
        assert result.verdict != "wrong", result.message
    if not spec.differentiable_at(X):
        assert result.verdict != "correct", result.message
    if method == "complex-step":
        assert result.method == "complex-step"


@SETTINGS
@given(case=cases(), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_ordinary_right_claims_are_decided(case, scale):
    """Away from kinks and overflow, at moderate inputs and scales, a right claim is
    'correct' (pieces beside others 1e15 times larger may be undecided)."""
    spec, X = case
    spec.pieces = [(name, scale * min(max(c, 1e-2), 1e2)) for name, c in spec.pieces]
    X = np.where(np.abs(X) > 1e-3, np.clip(X, -50, 50), 0.7)
    exact = spec.jacobian(X)
    result = right_or_refused(lambda: mdcalc.check_derivative(spec.function(), X, exact))
    assert result is not None, "refused"
    tiny = np.abs(exact) <= 1e-10 * np.abs(exact).max()
    if result.verdict == "undecided" and np.any(tiny):
        # entries 1e10 times smaller than the largest (or rounded to 0 by the closed form:
        # 1 - tanh(-50)**2 == 0, the derivative is 5e-44), where the closed form's own
        # rounding cannot be told from a mistake, nor f's rounding confirm the complex
        # step: not "correct"
        assert any(w in result.message for w in ("rounding", "small beside", "confirm"))
        return
    assert result.verdict == "correct", result.message


# --------------------------------------------------------------------------------------
# hostile arguments for every public function
# --------------------------------------------------------------------------------------

BAD_ARRAYS = {
    "None": None,
    "string": "A W",
    "ragged": [[1.0, 2.0], [3.0]],
    "nan": np.array([[1.0, np.nan], [0.0, 1.0]]),
    "inf": np.array([[1.0, 0.0], [np.inf, 1.0]]),
    "bool": np.array([[True, False], [False, True]]),
    "object": np.array([[object(), 1], [2, 3]], dtype=object),
    "masked": np.ma.masked_array(np.eye(2), mask=np.array([[0, 1], [0, 0]], dtype=bool)),
    "3-d": np.ones((2, 2, 2)),
    "dict": {"a": 1},
}
BAD_SHAPES = [3, 3.5, (2.0, 2.0), (-1, 4), "22", None, (2, None), (True, 2)]


def _public_calls(bad: Any) -> list[Callable[[], Any]]:
    A, W, H = np.eye(2), np.ones((2, 3)), np.ones((2, 2))

    def f(X):
        return X @ X

    return [
        lambda: mdcalc.vec(bad),
        lambda: mdcalc.unvec(bad, (2, 2)),
        lambda: mdcalc.jacobian_tensor(bad, W),
        lambda: mdcalc.jacobian_tensor(A, bad),
        lambda: mdcalc.kron_jacobian(bad, W),
        lambda: mdcalc.differential(A, bad),
        lambda: mdcalc.differential(A, W)(bad),
        lambda: mdcalc.vjp(A, W, bad),
        lambda: mdcalc.jacobian(f, bad),
        lambda: mdcalc.directional_derivative(f, H, bad),
        lambda: mdcalc.check_derivative(f, bad, np.eye(4)),
    ]


@pytest.mark.parametrize("kind", sorted(BAD_ARRAYS))
def test_bad_arrays_are_refused_by_mdcalc(kind):
    for call in _public_calls(BAD_ARRAYS[kind]):
        try:
            with bounded():
                call()
        except TimeoutError:
            raise
        except Exception as exc:  # noqa: BLE001
            assert_refused_by_mdcalc(exc)
        else:
            pytest.fail(f"{kind} input was accepted")


@pytest.mark.parametrize("shape", BAD_SHAPES, ids=repr)
def test_bad_shapes_are_refused_by_mdcalc(shape):
    calls = [
        lambda: mdcalc.unvec(np.ones(4), shape),
        lambda: mdcalc.basis_matrix(0, 0, shape),
        lambda: mdcalc.tensor_to_matrix(np.ones((2, 2, 2, 2)), shape, (2, 2)),
        lambda: mdcalc.matrix_to_tensor(np.ones((4, 4)), (2, 2), shape),
        lambda: mdcalc.Derivative(shape, (2,), jvp=lambda K: K),
        lambda: mdcalc.Derivative.from_matrix(np.eye(4), shape, (2, 2)),
        lambda: layouts.row_major_to_book(np.ones((4, 4)), shape, (2, 2)),
        lambda: layouts.single_entry_grid(lambda K: K, shape),
    ]
    for call in calls:
        with pytest.raises((ValueError, TypeError)) as info:
            with bounded():
                call()
        assert_refused_by_mdcalc(info.value)


@SETTINGS
@given(
    name=st.sampled_from(["rtol", "n_directions", "seed", "method"]),
    value=st.one_of(
        st.sampled_from([-1, 0, 10**9, 2**70, np.nan, np.inf, -np.inf, "x", None, True, 2.5]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(),
    ),
)
def test_check_derivative_options(name, value):
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    good = mdcalc.kron_jacobian(np.eye(2), np.eye(2))
    result = right_or_refused(
        lambda: mdcalc.check_derivative(lambda X: X, X, good, **{name: value})
    )
    if result is not None:  # accepted: then it must be a sensible value, and right
        assert result.verdict == "correct", (name, value, result.message)
        if name == "rtol" and value is not None:  # None: the default
            assert 0 < value < 1
        if name == "n_directions":
            assert 1 <= value <= mdcalc.check.MAX_DIRECTIONS


@SETTINGS
@given(
    V=st.integers(0, 10**5),
    d1=st.integers(0, 10**4),
    d2=st.integers(0, 10**4),
)
def test_sizes_are_refused_before_allocating(V, d1, d2):
    """Factors of modest size whose Jacobian may be astronomically large."""
    V = min(V, 3000)
    A = np.broadcast_to(np.eye(1), (V, V))
    W = np.broadcast_to(np.ones((1, 1)), (d1, d2))
    if 8 * V * V * d1 * d2 <= mdcalc._validation.memory_limit():
        return  # it would fit: allocating it is right, but not in a unit test
    for fn in (mdcalc.kron_jacobian, mdcalc.jacobian_tensor):
        with pytest.raises(ValueError, match="bytes"):
            with bounded(1.0):
                fn(A, W)


@SETTINGS
@given(case=cases(), steps=st.integers(1, 40))
def test_batched_jacobians_agree_with_one_by_one(case, steps):
    """Whatever the batch size (max_memory), batching never changes the answer."""
    spec, X = case
    spec.unsafe = ""
    f = spec.function()
    n = X.size
    budget = steps * 16 * (n + spec.jacobian(X).shape[0])
    J = right_or_refused(lambda: mdcalc.jacobian(f, X, max_memory=budget))
    J1 = right_or_refused(lambda: mdcalc.jacobian(lambda X: f(X), X, max_memory=1))
    if J is not None and J1 is not None:
        assert np.allclose(J, J1, rtol=1e-12, atol=0)


@SETTINGS
@given(
    out_shape=st.lists(st.integers(0, 4), max_size=2).map(tuple),
    in_shape=st.lists(st.integers(0, 4), min_size=0, max_size=2).map(tuple),
    seed=st.integers(0, 99),
)
def test_converters_round_trip_on_degenerate_shapes(out_shape, in_shape, seed):
    T = np.random.default_rng(seed).standard_normal(out_shape + in_shape)
    M = mdcalc.tensor_to_matrix(T, out_shape, in_shape)
    assert M.shape == (int(np.prod(out_shape)), int(np.prod(in_shape)))
    assert np.array_equal(mdcalc.matrix_to_tensor(M, out_shape, in_shape), T)
    D = mdcalc.Derivative.from_tensor(T, out_shape, in_shape)
    assert np.array_equal(D.tensor(), T)
    G = np.ones(out_shape)
    assert D.adjoint(G).shape == in_shape
