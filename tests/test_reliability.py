"""Issue 10: every case of the hostile-input review is right or clearly refused.

Each test names the case it covers. The last group kills mutants that a mutation run of
mdcalc left alive (see the closing note of issue 10).
"""

from __future__ import annotations

import numpy as np
import pytest

import mdcalc
from mdcalc import (
    CheckResult,
    Derivative,
    basis_matrix,
    check_derivative,
    directional_derivative,
    jacobian,
    jacobian_tensor,
    kron_jacobian,
    matrix_to_tensor,
    tensor_to_matrix,
    unvec,
)
from mdcalc import _validation, numeric


@pytest.fixture
def X(rng):
    return rng.standard_normal((3, 3))


def square(X):
    return X @ X


def square_tensor(X):
    n = X.shape[0]
    eye = np.eye(n)
    # d(X X)[i,l] / dX[j,k] = delta_ij X[k,l] + X[i,j] delta_kl
    return np.einsum("ij,kl->iljk", eye, X) + np.einsum("ij,kl->iljk", X, eye)


# --------------------------------------------------------------------------------------
# non-finite claims and numeric derivatives: "undecided", never "correct"
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["all", "one"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_claim_is_undecided(X, where, value):
    claim = square_tensor(X)
    if where == "all":
        claim[...] = value
    else:
        claim[1, 2, 0, 1] = value
    result = check_derivative(square, X, claim)  # an inf used to hang in an SVD
    assert not result and result.verdict == "undecided"
    assert result.message.startswith("undecided:") and "non-finite" in result.message
    assert np.isnan(result.max_error) and result.mistake is None


def test_callable_returning_nan_is_undecided(X):
    result = check_derivative(square, X, lambda K: np.full((3, 3), np.nan))
    assert not result and result.verdict == "undecided"


def test_non_finite_numeric_derivative_is_undecided():
    """sqrt at 0: f(X) is finite, its derivative is not."""
    result = check_derivative(np.sqrt, np.array([0.0, 1.0]), np.eye(2))
    assert not result and result.verdict == "undecided"
    assert "not finite" in result.message or "differentiable" in result.message
    with pytest.raises(ValueError):
        jacobian(np.sqrt, np.array([0.0, 1.0]))


def test_log_near_zero_is_right_with_either_method():
    """The numeric derivative of log at 1e-9 used to be nan, so any claim was 'correct'."""
    x = np.array([1e-9, 2.0])
    right, wrong = np.diag(1 / x), np.diag(1 / x + [0.0, 1.0])
    for method in ("auto", "central", "complex-step"):
        assert check_derivative(np.log, x, right, method=method)
        assert check_derivative(np.log, x, wrong, method=method).verdict == "wrong"


def test_not_differentiable_at_x_is_undecided(X):
    X[0, 0] = 0.0
    for claim in (np.zeros((3, 3)), np.sign(X)):
        result = check_derivative(lambda X: np.sum(np.abs(X)), X, claim)
        assert result.verdict == "undecided" and "differentiable" in result.message
    with pytest.raises(ValueError, match="not appear to be differentiable"):
        jacobian(np.abs, np.array([0.0, 1.0]), method="central")
    with pytest.raises(ValueError, match="not appear to be differentiable"):
        directional_derivative(np.abs, np.array([0.0, 1.0]), np.ones(2), method="central")


def test_verdict_attribute_and_backward_compatible_construction():
    old_style = CheckResult(True, 0.0, "correct: ...", "tensor", None, "central")
    assert old_style.verdict == "correct" and old_style
    assert CheckResult(False, 1.0, "wrong", "tensor", "sign", "central").verdict == "wrong"
    undecided = CheckResult(False, np.nan, "undecided: x", "tensor", None, "central", "undecided")
    assert not undecided
    with pytest.raises(ValueError):
        CheckResult(True, 0.0, "", "tensor", None, "central", "undecided")


# --------------------------------------------------------------------------------------
# the complex-step guard: per output entry, per direction, everywhere
# --------------------------------------------------------------------------------------


def conj_beside_large(x):
    return np.concatenate([1e5 * x, x * np.conj(x)])


def test_hidden_non_analytic_block_is_not_dropped(rng):
    x = rng.standard_normal(3)
    right = np.vstack([1e5 * np.eye(3), np.diag(2 * x)])
    with pytest.raises(ValueError, match="not complex-analytic"):
        jacobian(conj_beside_large, x, method="complex-step")
    for method in ("central", "auto"):
        J = jacobian(conj_beside_large, x, method=method)
        assert J.method == "central" and np.allclose(J, right, rtol=1e-9)
    result = check_derivative(conj_beside_large, x, right)
    assert result and result.method == "central"
    dropped = right.copy()
    dropped[3:] = 0
    assert check_derivative(conj_beside_large, x, dropped).verdict == "wrong"
    with pytest.raises(ValueError, match="not complex-analytic"):
        check_derivative(conj_beside_large, x, right, method="complex-step")


def test_small_l1_term_is_not_dropped(X):
    def f(X):
        return np.sum(X**2) + 1e-4 * np.sum(np.abs(X))

    right = 2 * X + 1e-4 * np.sign(X)
    with pytest.raises(ValueError, match="not complex-analytic"):
        jacobian(f, X, method="complex-step")
    assert np.allclose(jacobian(f, X, method="central"), right, rtol=1e-8, atol=1e-12)
    assert jacobian(f, X).method == "central"
    assert check_derivative(f, X, right)
    assert check_derivative(f, X, 2 * X).verdict == "wrong"


def test_directional_derivative_complex_step_is_guarded(X):
    with pytest.raises(ValueError, match="not complex-analytic"):
        directional_derivative(np.conj, X, X, method="complex-step")
    with pytest.raises(ValueError, match="not complex-analytic"):
        directional_derivative(lambda X: X * np.conj(X), X, np.ones((3, 3)), "complex-step")
    assert np.allclose(directional_derivative(np.conj, X, X, method="central"), X)
    D = directional_derivative(lambda X: X * np.conj(X), X, np.ones((3, 3)))  # auto
    assert D.method == "central" and np.allclose(D, 2 * X)


def test_functions_rejecting_complex_input_get_a_clear_error(X):
    with pytest.raises(TypeError, match="method='central'"):
        jacobian(np.floor, X, method="complex-step")  # numpy raises inside for complex input
    for method in ("central", "auto"):  # zero to within f's rounding: accepted as such
        J = jacobian(np.floor, X + 0.5, method=method)
        assert np.all(J == 0) and J.method == "central"


# --------------------------------------------------------------------------------------
# central differences near 0, multi-scale outputs, rounding-noise zeros
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("x0", [1e-5, 1e-3, 0.3, 7.0, 1e5])
def test_central_uses_a_relative_step(x0):
    x = np.array([x0])
    assert abs(jacobian(np.log, x, method="central")[0, 0] * x0 - 1) < 1e-8
    assert abs(directional_derivative(np.log, x, np.ones(1), method="central")[0] * x0 - 1) < 1e-8
    # and still an absolute one when f does not shrink with x
    x = np.array([x0 * 1e-5])
    assert abs(jacobian(lambda x: x + 1.0, x, method="central")[0, 0] - 1) < 1e-8


def test_log_at_1e_5_right_claim_is_correct_and_auto_keeps_the_complex_step():
    x = np.array([1e-5])
    for method in ("auto", "central"):
        result = check_derivative(np.log, x, np.array([[1e5]]), method=method)
        assert result, result.message
    assert check_derivative(np.log, x, np.array([[1e5]])).method == "complex-step"


def test_one_wrong_entry_among_very_different_sizes_fails():
    x = np.array([1.5])

    def f(x):
        return x * np.array([1e9, 1.0])

    result = check_derivative(f, x, np.array([[1e9], [2.0]]))
    assert not result and result.verdict == "wrong"
    assert "output entry (1,)" in result.message
    assert check_derivative(f, x, np.array([[1e9], [1.0]]))
    assert not check_derivative(f, x, np.array([[1e9], [2.0]]), method="central")


def test_zero_derivative_with_rounding_noise(rng):
    X = rng.standard_normal((4, 4)) + 4 * np.eye(4)

    def f(X):
        return X @ np.linalg.inv(X)

    result = check_derivative(f, X, np.zeros((4, 4, 4, 4)))
    assert result and result.method == "complex-step", result.message
    assert np.abs(jacobian(f, X)).max() < 1e-13
    # central differences: the result does not stand out of their rounding
    with pytest.raises(ValueError, match="unreliable"):
        jacobian(f, X, method="central")
    # central differences cannot tell a zero derivative from one below their noise
    result = check_derivative(f, X, np.zeros((4, 4, 4, 4)), method="central")
    assert result.verdict == "undecided" and "cannot tell a zero" in result.message
    assert not check_derivative(f, X, lambda K: K)
    assert check_derivative(f, X, lambda K: K, method="central").verdict == "wrong"


# --------------------------------------------------------------------------------------
# batch-unsafe and mutating functions
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 4, 9])
@pytest.mark.parametrize("method", ["complex-step", "central"])
def test_functions_reading_their_first_dimension(rng, n, method):
    X = rng.standard_normal((n, n))
    expected = square_tensor(X)
    J = jacobian(lambda X: X @ X + np.eye(len(X)), X, method=method)
    assert np.allclose(J, expected, rtol=1e-8, atol=1e-8)
    J = jacobian(lambda X: X * X.shape[0], X, method=method)
    assert np.allclose(J.reshape(n * n, n * n), n * np.eye(n * n), atol=1e-8)
    assert check_derivative(lambda X: X @ X + np.eye(len(X)), X, expected)


@pytest.mark.parametrize("method", ["complex-step", "central"])
def test_function_that_modifies_its_input(rng, method):
    X = rng.standard_normal((3, 2))
    before = X.copy()

    def f(X):
        X *= 2.0  # in place
        X += 1.0
        return X

    J = jacobian(f, X, method=method)
    assert np.allclose(J.reshape(6, 6), 2 * np.eye(6), atol=1e-8)
    K = rng.standard_normal((3, 2))
    assert np.allclose(directional_derivative(f, X, K, method=method), 2 * K)
    assert check_derivative(f, X, 2 * np.eye(6))

    def claim(K):
        K *= 2.0  # the claim modifies the direction in place
        return K

    assert check_derivative(f, X, claim)
    assert np.array_equal(X, before)


# --------------------------------------------------------------------------------------
# arguments
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"rtol": -1}, ValueError),
        ({"rtol": np.nan}, ValueError),
        ({"rtol": np.inf}, ValueError),
        ({"rtol": 0}, ValueError),
        ({"rtol": "1e-8"}, TypeError),
        ({"n_directions": 10**9}, ValueError),
        ({"n_directions": 0}, ValueError),
        ({"n_directions": 2.5}, TypeError),
        ({"seed": -1}, ValueError),
        ({"seed": "s"}, TypeError),
        ({"method": "forward"}, ValueError),
        ({"method": None}, ValueError),
    ],
)
def test_check_derivative_arguments(X, kwargs, error):
    with pytest.raises(error):
        check_derivative(square, X, square_tensor(X), **kwargs)


def test_claims_numpy_cannot_read_are_refused(X):
    with pytest.raises(TypeError, match="same length"):
        check_derivative(square, X, [[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match="masked"):
        check_derivative(square, X, np.ma.masked_array(square_tensor(X)))
    with pytest.raises(TypeError, match="complex"):
        check_derivative(square, X, square_tensor(X) * 1j)
    with pytest.raises(TypeError):
        check_derivative(square, X, lambda K: "A K W")


def test_points_and_outputs_that_cannot_be_differentiated(X):
    with pytest.raises(ValueError, match="empty"):
        jacobian(square, np.zeros((0, 3)))
    with pytest.raises(TypeError, match="masked"):
        jacobian(square, np.ma.masked_array(X, mask=X > 0))
    with pytest.raises(TypeError, match="masked"):
        jacobian(lambda X: np.ma.masked_array(X), X)
    calls = []

    def changing(X):
        calls.append(1)
        return X if len(calls) % 2 else X[:2]

    for fn in (jacobian, lambda f, X: check_derivative(f, X, np.eye(9))):
        with pytest.raises(ValueError, match="fixed shape"):
            fn(changing, X)
    with pytest.raises(TypeError, match="complex at a real X"):
        jacobian(lambda X: X * 1j, X)
    with pytest.raises(TypeError, match="max_memory"):
        jacobian(square, X, max_memory=1.5)


@pytest.mark.parametrize("shape", [3, 3.0, (2.0, 3.0), (-1, 3), (2, 3, 1), "23", None])
def test_shapes_must_be_tuples_of_ints(shape):
    with pytest.raises(ValueError, match="shape"):
        unvec(np.ones(6), shape)
    with pytest.raises(ValueError, match="shape"):
        basis_matrix(0, 0, shape)


@pytest.mark.parametrize("shape", [6, 6.0, (-2, 3), (2.0, 3)])
def test_converter_and_derivative_shapes(shape):
    with pytest.raises(ValueError, match="shape"):
        tensor_to_matrix(np.ones((2, 3, 2, 3)), shape, (2, 3))
    with pytest.raises(ValueError, match="shape"):
        matrix_to_tensor(np.ones((6, 6)), (2, 3), shape)
    with pytest.raises(ValueError, match="shape"):
        Derivative(shape, (2, 3), jvp=lambda K: K)
    with pytest.raises(ValueError, match="shape"):
        Derivative.from_matrix(np.ones((6, 6)), shape, (2, 3))


def test_basis_matrix_indices_and_derivative_callables():
    with pytest.raises(TypeError, match="k must be an int"):
        basis_matrix(0.5, 0, (2, 2))
    with pytest.raises(TypeError, match="jvp must be callable"):
        Derivative((2,), (2,), jvp=np.eye(2))


# --------------------------------------------------------------------------------------
# size guards: refuse before allocating, with the size in bytes
# --------------------------------------------------------------------------------------


def test_huge_results_are_refused_with_their_size():
    A, W = np.ones((3000, 3000)), np.ones((300, 300))
    for fn in (kron_jacobian, jacobian_tensor):
        with pytest.raises(ValueError, match=r"bytes\)"):
            fn(A, W)
    with pytest.raises(ValueError, match=r"6.48 TB \(6,480,000,000,000 bytes\)"):
        kron_jacobian(A, W)
    with pytest.raises(ValueError, match="bytes"):
        jacobian(lambda x: x, np.zeros(2_000_000))
    with pytest.raises(ValueError, match="bytes"):
        mdcalc.layouts.commutation_matrix(3000, 3000)
    with pytest.raises(ValueError, match="bytes"):
        Derivative((10**6,), (10**6,), jvp=lambda K: K).matrix()


def test_memory_limit_is_a_documented_setting(monkeypatch):
    monkeypatch.setattr(_validation, "MEMORY_LIMIT", 10_000)
    assert _validation.memory_limit() == 10_000
    A, W = np.ones((6, 6)), np.ones((6, 6))
    with pytest.raises(ValueError, match="10,368 bytes"):
        kron_jacobian(A, W)
    with pytest.raises(ValueError, match="bytes"):
        tensor_to_matrix(np.ones((6, 6, 6, 6)), (6, 6), (6, 6))
    with pytest.raises(ValueError, match="bytes"):
        jacobian(lambda X: X, np.ones((6, 6)))
    monkeypatch.setattr(_validation, "MEMORY_LIMIT", None)
    assert _validation.memory_limit() > 10_000


# --------------------------------------------------------------------------------------
# mutants left alive by the first mutation run
# --------------------------------------------------------------------------------------


def test_from_matrix_adjoint_is_the_transpose(rng, example):
    A, H, W = example(3, 2, 4)
    D = Derivative.from_matrix(kron_jacobian(A, W), (3, 4), (3, 2))
    G, K = rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    assert np.allclose(D.adjoint(G), A.T @ G @ W.T, rtol=1e-13, atol=1e-13)
    assert np.isclose(np.sum(G * D(K)), np.sum(D.adjoint(G) * K), rtol=1e-12)
    assert D.adjoint(G).shape == (3, 2)
    with pytest.raises(ValueError, match="G must have the output's shape 3x4"):
        D.adjoint(np.ones((4, 3)))
    built = Derivative((3, 4), (3, 2), jvp=lambda K: A @ K @ W)  # adjoint from .matrix()
    assert np.allclose(built.adjoint(G), A.T @ G @ W.T, rtol=1e-12, atol=1e-12)


def test_central_differences_reach_1e_9_so_the_step_is_cube_root_eps(rng):
    """A sqrt(eps) step gives 1e-8 to 1e-5 here; eps^(1/3) gives 3e-10 at worst."""
    from test_numeric import EXAMPLES, rel_error

    for make in EXAMPLES:
        f, X, closed = make(rng)
        assert rel_error(jacobian(f, X, method="central"), closed) <= 1e-9
    x = np.array([1e-5, 0.3, 2.0, 7.0])
    assert np.abs(np.diag(jacobian(np.log, x, method="central")) * x - 1).max() <= 1e-9
    assert numeric.CENTRAL_STEP == float(np.cbrt(np.finfo(float).eps))


def test_checker_tolerance_is_tight(rng):
    """A claim 1e-6 off is wrong at the complex step's 1e-8, 1e-3 off at central's 1e-5."""
    X = rng.standard_normal((3, 3))
    assert check_derivative(square, X, square_tensor(X) * (1 + 1e-10))
    result = check_derivative(square, X, square_tensor(X) * (1 + 1e-6))
    assert not result and result.method == "complex-step"

    def f(X):
        return np.sum(np.abs(X) ** 3)

    right = 3 * X * np.abs(X)
    assert check_derivative(f, X, right * (1 + 1e-7))
    result = check_derivative(f, X, right * (1 + 1e-3))
    assert not result and result.method == "central"
    assert check_derivative(square, X, square_tensor(X) * (1 + 1e-6), rtol=1e-5)


def test_non_analytic_functions_never_use_the_complex_step(rng):
    X = rng.standard_normal((3, 3))
    assert check_derivative(np.conj, X, np.eye(9)).method == "central"
    assert not check_derivative(np.conj, X, -np.eye(9))
    J = jacobian(lambda X: X * np.conj(X), X, method="central")
    assert np.allclose(J.reshape(9, 9), np.diag(2 * X.reshape(-1)), rtol=1e-9)
    assert np.allclose(directional_derivative(np.conj, X, X, method="central"), X, rtol=1e-9)


@pytest.mark.parametrize("method", ["complex-step", "central"])
def test_every_batch_of_a_chunked_jacobian_is_filled(rng, method):
    """7 x 5 inputs in batches of 6: five full batches and a last one of 5."""
    A = rng.standard_normal((4, 7))
    X = rng.standard_normal((7, 5))
    per_perturbation = (16 * 1 if method == "complex-step" else 8 * 4) * (35 + 20)
    J = jacobian(lambda X: A @ X, X, method=method, max_memory=6 * per_perturbation)
    expected = np.einsum("ij,kl->iljk", A, np.eye(5))
    assert np.allclose(J, expected, rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------------------
# mutants left alive by the second mutation run
# --------------------------------------------------------------------------------------


def test_forced_methods_are_obeyed(X):
    result = check_derivative(square, X, square_tensor(X), method="central")
    assert result and result.method == "central"
    result = check_derivative(square, X, square_tensor(X), method="complex-step")
    assert result and result.method == "complex-step"
    with pytest.raises(TypeError, match="complex point"):
        check_derivative(np.floor, X + 0.5, np.zeros((3, 3, 3, 3)), method="complex-step")
    assert check_derivative(np.floor, X + 0.5, np.zeros((3, 3, 3, 3))).method == "central"


def test_kink_hidden_from_the_complex_step_is_undecided():
    """x + 1e-3 |x| at 0: the complex step drops |x|, central differences average it."""

    def f(x):
        return x + 1e-3 * np.abs(x)

    x = np.array([0.0, 1.0])
    result = check_derivative(f, x, np.eye(2))
    assert result.verdict == "undecided" and "differentiable" in result.message
    with pytest.raises(ValueError, match="differentiable"):
        jacobian(f, x)


def test_option_bounds(X):
    claim = square_tensor(X)
    assert check_derivative(square, X, claim, n_directions=1)
    assert check_derivative(square, X, claim, n_directions=100)
    assert check_derivative(square, X, claim, seed=2**62)
    assert check_derivative(square, X, claim, rtol=0.5)
    for rtol in (1, 1.0, True):
        with pytest.raises((ValueError, TypeError), match="rtol"):
            check_derivative(square, X, claim, rtol=rtol)


def test_claims_in_other_containers(X):
    claim = square_tensor(X)
    assert check_derivative(square, X, claim + 0j)  # complex with zero imaginary part
    assert check_derivative(square, X, claim.astype(object))
    assert check_derivative(square, X, claim.tolist())
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="toarray"):
        check_derivative(square, X, sparse.csr_array(claim.reshape(9, 9)))


def test_claims_against_an_exactly_zero_derivative(X):
    """f constant: the numeric derivative is exactly 0, so any nonzero claim is wrong; a
    zero claim is correct by the complex step (f = X * 0 + 1 carries complex numbers),
    and undecided by central differences (np.ones ignores X, so only they can run),
    which cannot tell a zero derivative from one below their noise."""
    result = check_derivative(lambda X: np.ones((2, 2)), X, np.full((2, 2, 3, 3), 1e-3))
    assert result.verdict == "wrong" and result.max_error == np.inf
    result = check_derivative(lambda X: X[:2, :2] * 0 + 1, X, np.zeros((2, 2, 3, 3)))
    assert result and result.max_error == 0 and result.method == "complex-step"
    result = check_derivative(lambda X: np.ones((2, 2)), X, np.zeros((2, 2, 3, 3)))
    assert result.verdict == "undecided" and result.method == "central"


def test_the_floor_tolerance_is_needed_for_rounding_in_claims():
    """Beside an entry of 1e9, a claim's rounding-level 1e-7 where the derivative is 0 is
    not called wrong (256 eps of the largest entry: a claim may round like its largest
    entries), nor correct (entries are judged on their own scale): undecided; 1e-3 there
    is wrong."""
    x = np.array([1.5])

    def f(x):
        return x * np.array([1e9, 0.0])

    result = check_derivative(f, x, np.array([[1e9], [1e-7]]))
    assert result.verdict == "undecided" and "rounding" in result.message
    assert check_derivative(f, x, np.array([[1e9], [0.0]]))
    assert check_derivative(f, x, np.array([[1e9], [1e-3]])).verdict == "wrong"


@pytest.mark.parametrize(("factor", "verdict"), [(0.5, "correct"), (1.5, "wrong"), (3.0, "wrong")])
def test_the_tolerance_is_the_stated_rtol_not_a_multiple(rng, factor, verdict):
    """A claim off by 1.5 rtol is wrong, not 'correct' or 'undecided' (kills worst <= 2)."""
    X = rng.standard_normal((3, 4))
    A = rng.standard_normal((4, 2))
    result = check_derivative(lambda X: X @ A, X, lambda K: K @ A * (1 + factor * 1e-6), rtol=1e-6)
    assert result.verdict == verdict, result.message
