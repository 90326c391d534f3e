"""Bad input gets a clear error, never a silent wrong answer."""

from __future__ import annotations

import numpy as np
import pytest

from mdcalc import (
    check_derivative,
    differential,
    jacobian,
    jacobian_tensor,
    kron_jacobian,
    matrix_to_tensor,
    tensor_to_matrix,
    unvec,
    vec,
    vjp,
)


def test_shape_mismatch_names_both_shapes():
    A, W = np.eye(3), np.ones((2, 5))
    D = differential(A, W)
    with pytest.raises(ValueError, match="A is 3x3 but K has 4 rows"):
        D(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"W is 2x5 but K has 3 columns \(K must be 3x2\)"):
        D(np.ones((3, 3)))
    with pytest.raises(ValueError, match="A is 3x3 but G has 2 rows"):
        vjp(A, W, np.ones((2, 5)))
    with pytest.raises(ValueError, match="W\\^T is 5x2 but G has 4 columns"):
        vjp(A, W, np.ones((3, 4)))


@pytest.mark.parametrize("fn", [jacobian_tensor, kron_jacobian, differential])
def test_a_must_be_square(fn):
    with pytest.raises(ValueError, match="A must be square \\(V x V\\), got A of shape 3x4"):
        fn(np.ones((3, 4)), np.ones((4, 2)))


@pytest.mark.parametrize("bad", [np.ones(3), np.ones((2, 2, 2)), 5.0])
def test_non_2d_input_is_refused(bad):
    with pytest.raises(ValueError, match="must be a 2-D matrix"):
        jacobian_tensor(bad, np.ones((2, 2)))
    with pytest.raises(ValueError, match="must be a 2-D matrix"):
        vec(bad)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_refused(value):
    A = np.eye(2)
    A[0, 1] = value
    with pytest.raises(ValueError, match="non-finite"):
        kron_jacobian(A, np.ones((2, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        jacobian(lambda X: X, A)


def test_non_numeric_input_is_refused():
    with pytest.raises(TypeError, match="real or complex numbers"):
        vec(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="real or complex numbers"):
        vec(np.array([[True, False]]))


def test_function_that_returns_no_array():
    X = np.ones((2, 2))
    bad = [(lambda X: None, "NoneType"), (lambda X: X.tolist(), "list"), (lambda X: "x", "str")]
    for f, kind in bad:
        with pytest.raises(TypeError, match=f"got {kind}"):
            jacobian(f, X)
        with pytest.raises(TypeError, match=f"got {kind}"):
            check_derivative(f, X, np.ones((2, 2)))


def test_f_must_be_callable():
    with pytest.raises(TypeError, match="f must be callable"):
        jacobian(np.ones((2, 2)), np.ones((2, 2)))


def test_non_finite_output_is_refused():
    with np.errstate(divide="ignore"), pytest.raises(ValueError, match="f\\(X\\) has non-finite"):
        jacobian(lambda X: np.log(X - 1), np.ones((2, 2)))


def test_unknown_method():
    with pytest.raises(ValueError, match="method must be one of"):
        jacobian(lambda X: X, np.ones((2, 2)), method="forward")


def test_point_must_be_a_vector_or_matrix():
    with pytest.raises(ValueError, match="vector or a matrix"):
        jacobian(lambda X: X, np.ones((2, 2, 2)))
    with pytest.raises(TypeError, match="must be real"):
        jacobian(lambda X: X, np.ones((2, 2)) * 1j)


def test_converter_shapes_are_checked():
    with pytest.raises(ValueError, match=r"must have shape \(2, 3, 2, 2\)"):
        tensor_to_matrix(np.ones((2, 2, 2, 3)), (2, 3), (2, 2))
    with pytest.raises(ValueError, match=r"must have shape \(6, 4\)"):
        matrix_to_tensor(np.ones((4, 6)), (2, 3), (2, 2))
    with pytest.raises(ValueError, match="cannot unvec a vector of length 5"):
        unvec(np.ones(5), (2, 3))


def test_claim_of_non_numbers_is_refused():
    with pytest.raises(TypeError, match="claimed must be a numeric array or a callable"):
        check_derivative(lambda X: X, np.ones((2, 2)), "A W")
