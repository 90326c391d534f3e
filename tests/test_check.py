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
