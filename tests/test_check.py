"""check_derivative accepts right answers in every form and names each classic mistake."""

from __future__ import annotations

import numpy as np
import pytest

from mdcalc import check_derivative, differential, jacobian_tensor, kron_jacobian


@pytest.fixture
def product(example):
    A, H, W = example(4, 3, 2)
    return (lambda H: A @ H @ W), A, H, W


@pytest.fixture
def square_product(example):
    A, H, W = example(3, 3, 3)
    return (lambda H: A @ H @ W), A, H, W


def test_correct_claims_pass_in_all_three_forms(product):
    f, A, H, W = product
    for claim, form in [
        (jacobian_tensor(A, W), "tensor"),
        (kron_jacobian(A, W), "matrix"),
        (lambda K: A @ K @ W, "callable"),
        (differential(A, W), "callable"),
    ]:
        result = check_derivative(f, H, claim)
        assert result, result.message
        assert result.form == form and result.mistake is None
        assert result.max_error < 1e-13
        assert result.message.startswith("correct")


def test_vector_and_scalar_valued_functions(rng):
    A = rng.standard_normal((3, 4))
    x = rng.standard_normal(4)
    assert check_derivative(lambda x: A @ x, x, A)
    S = A.T @ A
    assert check_derivative(lambda x: x @ S @ x, x, 2 * S @ x)  # gradient of a quadratic form
    X = rng.standard_normal((4, 3))
    B = rng.standard_normal((3, 4))
    grad = check_derivative(lambda X: np.trace(B @ X), X, B.T)
    assert grad and grad.form == "gradient"
    assert check_derivative(lambda X: np.trace(B @ X), X, lambda K: np.trace(B @ K))
    assert check_derivative(lambda X: X @ np.ones(3), X, lambda K: K @ np.ones(3))


def test_row_major_kronecker_is_named(product):
    f, A, H, W = product
    result = check_derivative(f, H, np.kron(A, W.T))
    assert not result
    assert result.mistake == "row-major"
    assert "row-major" in result.message and "column-major" in result.message


def test_input_indices_first_is_named(product, square_product):
    f, A, H, W = product  # shapes differ: it is a shape error, and the order is named
    result = check_derivative(f, H, jacobian_tensor(A, W).transpose(2, 3, 0, 1))
    assert not result and result.mistake == "input-first"
    assert "input indices first" in result.message and "sympy" in result.message
    f, A, H, W = square_product  # shapes agree: only the numbers can tell
    result = check_derivative(f, H, jacobian_tensor(A, W).transpose(2, 3, 0, 1))
    assert not result and result.mistake == "input-first"


def test_untransposed_kronecker_factor_is_named(square_product):
    f, A, H, W = square_product
    result = check_derivative(f, H, np.kron(W, A))
    assert not result and result.mistake == "kronecker-factor"
    assert "left factor untransposed" in result.message
    result = check_derivative(f, H, np.kron(W.T, A.T))
    assert not result and result.mistake == "kronecker-factor"


def test_tempting_answer_a_w_is_rejected_with_reason(square_product):
    f, A, H, W = square_product
    result = check_derivative(f, H, A @ W)
    assert not result and result.mistake == "shape"
    assert "81 partial derivatives" in result.message
    assert "A W" in result.message and "4-index tensor" in result.message


def test_wrong_shape_states_the_expected_shape(product):
    f, A, H, W = product
    result = check_derivative(f, H, np.ones((5, 7)))
    assert not result and result.mistake == "shape"
    assert "(4, 2, 4, 3)" in result.message and "(8, 12)" in result.message
    result = check_derivative(f, H, lambda K: K)
    assert not result and "returned shape 4x3" in result.message


def test_transposes_are_named(product, square_product, rng):
    f, A, H, W = product
    result = check_derivative(f, H, kron_jacobian(A, W).T)  # (12, 8): denominator layout
    assert not result and result.mistake == "transpose"
    f, A, H, W = square_product
    result = check_derivative(f, H, kron_jacobian(A, W).T)
    assert not result and result.mistake == "transpose"
    B = rng.standard_normal((3, 3))
    result = check_derivative(lambda X: np.trace(B @ X), H, B)
    assert not result and result.mistake == "transpose"
    B = rng.standard_normal((2, 3))
    result = check_derivative(lambda X: np.trace(B @ X), rng.standard_normal((3, 2)), B)
    assert not result and result.mistake == "transpose"


def test_adjoint_sign_and_factor_are_named(square_product):
    f, A, H, W = square_product
    result = check_derivative(f, H, lambda G: A.T @ G @ W.T)
    assert not result and result.mistake == "adjoint"
    result = check_derivative(f, H, -kron_jacobian(A, W))
    assert not result and result.mistake == "sign"
    result = check_derivative(lambda X: X.T @ X, H, lambda K: K.T @ H)  # half of the answer
    assert not result and result.mistake is None
    result = check_derivative(lambda X: X @ X, H, lambda K: 2 * H @ K)
    assert not result


def test_scale_mistake(rng):
    X = rng.standard_normal((3, 3))
    result = check_derivative(lambda X: np.sum(X * X), X, X)  # forgot the 2
    assert not result and result.mistake == "scale" and "0.5 times" in result.message


def test_non_analytic_function_is_checked_by_central_differences(rng):
    X = rng.standard_normal((3, 2))
    result = check_derivative(lambda X: np.sum(np.abs(X) ** 3), X, 3 * X * np.abs(X))
    assert result and result.method == "central"
    assert not check_derivative(lambda X: np.sum(np.abs(X) ** 3), X, 3 * X**2)


def test_large_input_is_checked_without_building_the_jacobian(rng):
    """V = 2000, d1 = d2 = 40: the Jacobian would have 2.6e10 entries (205 GB)."""
    V, d = 2000, 40
    A = rng.standard_normal((V, V)) / np.sqrt(V)
    W = rng.standard_normal((d, d))
    H = rng.standard_normal((V, d))
    f = lambda H: A @ H @ W  # noqa: E731
    assert check_derivative(f, H, differential(A, W))
    assert not check_derivative(f, H, lambda K: A @ K @ W.T)


def test_zero_claim_is_named(rng):
    """sympy 1.14 returns 0 for d log det X / dX: the checker says what that is."""
    X = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    result = check_derivative(lambda X: np.log(np.linalg.det(X)), X, np.zeros((3, 3)))
    assert not result and result.mistake == "zero"
    assert check_derivative(lambda X: np.log(np.linalg.det(X)), X, np.linalg.inv(X).T)


# --------------------------------------------------------------------------------------
# issue 18: "correct" only when the check had the power to reject a wrong claim
# --------------------------------------------------------------------------------------


def large_loss(shift=1e10, n=500, seed=0):
    """A least-squares loss plus a large constant, near its optimum: f ~ 1e10, |grad| ~ 5."""
    rng = np.random.default_rng(seed)
    M, b = rng.standard_normal((n, 3)), rng.standard_normal(n)
    x = np.linalg.lstsq(M, b, rcond=None)[0] + 0.01

    def f(x):
        return 0.5 * np.sum((M @ x - b) ** 2) + shift

    return f, x, M.T @ (M @ x - b)


def test_a_large_loss_near_its_optimum_is_decided():
    """The complex step's tolerance is its own error, not central differences' noise
    (which grows as eps |f| / step): zero, halved and negated claims are wrong."""
    f, x, g = large_loss()
    result = check_derivative(f, x, g)
    assert result.verdict == "correct" and result.method == "complex-step", result.message
    for factor, mistake in ((0.0, "zero"), (0.5, "scale"), (-1.0, "sign"), (1.001, "scale")):
        result = check_derivative(f, x, factor * g)
        assert result.verdict == "wrong" and result.mistake == mistake, result.message
    # Below what real differences of f can confirm (here 1e-4 of it), undecided, not wrong.
    assert check_derivative(f, x, (1 + 1e-6) * g).verdict == "undecided"


def test_a_forced_complex_step_relies_on_f_being_analytic():
    """1e10 + 1e-5 x: real differences of f cannot confirm the complex step to 1e-5 (f's
    rounding is 1e-6 of f, 1e4 times the derivative), so auto is undecided; forced, the
    complex step decides."""
    x = np.array([0.5, 2.0])

    def f(x):
        return 1e10 + 1e-5 * np.sum(x)

    for claim in (np.full(2, 1e-5), np.zeros(2)):
        result = check_derivative(f, x, claim)
        assert result.verdict == "undecided" and "method='complex-step'" in result.message
    assert check_derivative(f, x, np.full(2, 1e-5), method="complex-step").verdict == "correct"
    assert check_derivative(f, x, np.zeros(2), method="complex-step").verdict == "wrong"


def test_rounding_of_f_itself_makes_a_right_claim_undecided_not_wrong():
    """A x of 1e9 beside residuals of 1: f's rounding biases the complex step itself (the
    same way in every direction, so only moving X shows it). The right claim is
    undecided, saying so; a zero or halved claim is still wrong."""
    rng = np.random.default_rng(0)
    A = 1e4 * rng.standard_normal((3000, 3))
    b = A @ np.array([1e4, -2e4, 5e3]) + rng.standard_normal(3000)
    x = np.linalg.lstsq(A, b, rcond=None)[0] + 1e-7

    def f(x):
        return 0.5 * np.sum((A @ x - b) ** 2)

    g = A.T @ (A @ x - b)
    result = check_derivative(f, x, g)
    assert result.verdict == "undecided" and "f's own rounding" in result.message, result.message
    for factor in (0.0, 0.5, -1.0):
        assert check_derivative(f, x, factor * g).verdict == "wrong"


def test_an_error_in_the_small_block_of_a_multi_scale_output_is_not_correct():
    x = np.array([0.3, -1.2, 2.0])

    def f(x):
        return np.concatenate([1e8 * np.sin(x), 1e-12 * x**2])

    J = np.concatenate([1e8 * np.diag(np.cos(x)), 1e-12 * np.diag(2 * x)])
    assert check_derivative(f, x, J).verdict == "correct"
    wrong = J.copy()
    wrong[3:] *= 1.5
    result = check_derivative(f, x, wrong)
    assert result.verdict == "undecided" and "rounding" in result.message, result.message


def test_the_callers_rtol_is_the_callers():
    """The power asked of the check is that its noise is small; rtol is the caller's."""
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    result = check_derivative(lambda X: X @ X, X, lambda K: 1.3 * (X @ K + K @ X), rtol=0.5)
    assert result.verdict == "correct"


def test_the_adjoint_of_a_self_adjoint_map_is_not_named():
    S = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]])
    X = np.arange(9.0).reshape(3, 3) / 7
    result = check_derivative(lambda X: S @ X @ S, X, lambda K: (1 + 1e-7) * S @ K @ S)
    assert result.verdict == "wrong" and result.mistake != "adjoint"
    A = np.array([[1.0, 2.0], [0.0, 1.0]])
    result = check_derivative(lambda X: A @ X @ A, np.eye(2), lambda G: A.T @ G @ A.T)
    assert result.mistake == "adjoint"


def test_the_missing_symmetrisation_is_named():
    """2 A X for the gradient of tr(Xᵀ A X), 2 A x for xᵀ A x, 2 A for the Jacobian of
    x -> (A + Aᵀ) x: the classic mistake when A is not symmetric."""
    A = np.array([[1.0, 2.0, 0.0], [-1.0, 0.5, 3.0], [0.0, 1.0, 2.0]])
    X = np.array([[1.0, 0.5], [-1.0, 2.0], [0.3, 1.0]])
    x = np.array([1.0, -2.0, 0.5])
    cases = [
        (lambda X: np.trace(X.T @ A @ X), X, 2 * A @ X, (A + A.T) @ X),
        (lambda X: np.trace(X.T @ A @ X), X, lambda K: np.sum(2 * A @ X * K),
         lambda K: np.sum((A + A.T) @ X * K)),
        (lambda x: x @ A @ x, x, 2 * A @ x, (A + A.T) @ x),
        (lambda x: (A + A.T) @ x, x, 2 * A, A + A.T),
        (lambda x: (A + A.T) @ x, x, kron_jacobian(2 * A, np.eye(1)), A + A.T),
    ]
    for f, point, claim, right in cases:
        result = check_derivative(f, point, claim)
        assert result.verdict == "wrong" and result.mistake == "symmetrisation", result.message
        assert "A + Aᵀ" in result.message
        assert check_derivative(f, point, right).verdict == "correct"
    # a claim wrong otherwise is not taken for it
    result = check_derivative(lambda x: x @ A @ x, x, 3 * A @ x)
    assert result.mistake != "symmetrisation"


def test_a_claim_that_rounds_like_its_largest_entries_is_correct():
    """tanh(A X W) saturated in places: the closed form 1 - tanh(Z)**2 rounds like 1, so
    its entries near 1e-9 are off by ~1e-7 of themselves, within the band of rounding at
    the largest entries' scale and within 1e-4 of the entry: correct (the complex step
    computes them to full precision; an error of 1e-3 there would be undecided)."""
    rng = np.random.default_rng(6)
    A, X, W = rng.standard_normal((4, 4)), rng.standard_normal((4, 2)), rng.standard_normal((2, 3))

    def f(X):
        return np.tanh(A @ X @ W)

    slope = 1 - np.tanh(A @ X @ W) ** 2
    assert slope.min() < 1e-8  # saturated somewhere
    T = np.einsum("il,ij,kl->iljk", slope, A, W)
    assert check_derivative(f, X, T).verdict == "correct"
    off = T.copy()
    off[slope < 1e-8] *= 1 + 1e-3
    assert check_derivative(f, X, off).verdict == "undecided"
