"""Numeric Jacobians: accuracy of both methods, batching, its fallback, bounded memory."""

from __future__ import annotations

import numpy as np
import pytest

from mdcalc import directional_derivative, jacobian, jacobian_tensor


def tanh_example(rng, V=64, d=16):
    A = rng.standard_normal((V, V)) / np.sqrt(V)
    W = rng.standard_normal((d, d)) / np.sqrt(d)
    X = rng.standard_normal((V, d))
    Z = A @ X @ W
    closed = (1 - np.tanh(Z) ** 2)[:, :, None, None] * jacobian_tensor(A, W)
    return (lambda X: np.tanh(A @ X @ W)), X, closed


def inv_example(rng, n=6):
    X = rng.standard_normal((n, n)) + n * np.eye(n)
    Y = np.linalg.inv(X)
    closed = -np.einsum("ij,kl->iljk", Y, Y)  # d(X^-1) = -X^-1 dX X^-1
    return np.linalg.inv, X, closed


def gram_example(rng, m=5, p=3):
    X = rng.standard_normal((m, p))
    eye = np.eye(p)
    # d(X^T X)[i,l] / dX[j,k] = delta_ik X[j,l] + X[j,i] delta_lk
    closed = np.einsum("ik,jl->iljk", eye, X) + np.einsum("ji,lk->iljk", X, eye)
    return (lambda X: X.T @ X), X, closed


EXAMPLES = [tanh_example, inv_example, gram_example]


def rel_error(J, closed):
    return np.abs(J - closed).max() / np.abs(closed).max()


@pytest.mark.parametrize("make", EXAMPLES)
def test_complex_step_is_accurate_to_1e_13(make, rng):
    f, X, closed = make(rng)
    assert rel_error(jacobian(f, X, method="complex-step"), closed) <= 1e-13


@pytest.mark.parametrize("make", EXAMPLES)
def test_central_is_accurate_to_1e_7(make, rng):
    f, X, closed = make(rng)
    assert rel_error(jacobian(f, X, method="central"), closed) <= 1e-7


def test_shape_is_output_then_input(rng):
    X = rng.standard_normal((3, 2))
    assert jacobian(lambda X: X.sum(), X).shape == (3, 2)
    assert jacobian(lambda X: X[:, 0], X).shape == (3, 3, 2)
    assert jacobian(lambda x: x**2, rng.standard_normal(4)).shape == (4, 4)


def test_non_batching_function_falls_back_correctly(rng):
    """X.T and np.trace mix a leading stack axis into the result: each entry gets a call."""
    X = rng.standard_normal((3, 3))
    calls = []

    def f(X):
        calls.append(X.shape)
        return np.trace(X) * X.T

    J = jacobian(f, X)
    # F[i,l] = tr(X) X[l,i], so dF[i,l]/dX[j,k] = delta_jk X[l,i] + tr(X) delta_lj delta_ik
    expected = np.einsum("jk,li->iljk", np.eye(3), X)
    expected += np.trace(X) * np.einsum("lj,ik->iljk", np.eye(3), np.eye(3))
    assert np.allclose(J, expected, rtol=1e-12, atol=1e-12)
    assert (9, 3, 3) not in calls[-9:]  # the entries went one by one


def test_batching_function_is_evaluated_in_stacks(rng):
    A = rng.standard_normal((4, 4))
    shapes = []

    def f(X):
        shapes.append(X.shape)
        return A @ X

    jacobian(f, rng.standard_normal((4, 3)))
    assert (12, 4, 3) in shapes


def test_memory_bound_chunks_the_stack(rng):
    """With a tiny bound every stack holds one perturbation, and the answer is the same."""
    A = rng.standard_normal((5, 5))
    X = rng.standard_normal((5, 4))
    sizes = []

    def f(X):
        sizes.append(X.shape[0] if X.ndim == 3 else 1)
        return A @ X

    small = jacobian(f, X, max_memory=1)
    assert max(sizes[-20:]) == 1
    big = jacobian(lambda X: A @ X, X)
    assert np.array_equal(small, big)
    per_perturbation = 16 * (20 + 20)
    sizes.clear()
    jacobian(f, X, max_memory=6 * per_perturbation)
    assert max(sizes[4:]) == 6  # after the probe calls: stacks of at most 6


def test_directional_derivative_matches_jacobian(rng):
    f, X, closed = gram_example(rng)
    K = rng.standard_normal(X.shape)
    expected = np.tensordot(closed, K, axes=2)
    for method in ("complex-step", "central"):
        assert np.allclose(directional_derivative(f, X, K, method=method), expected, rtol=1e-6)


def test_complex_step_refuses_a_non_analytic_function(rng):
    X = rng.standard_normal((3, 3))
    with pytest.raises(ValueError, match="not complex-analytic"):
        jacobian(lambda X: X * np.conj(X), X, method="complex-step")
    with pytest.raises(TypeError, match="method='central'"):
        jacobian(lambda X: np.abs(X) ** 2, X, method="complex-step")
    for method in ("central", "auto"):  # auto: the complex step cannot, so central
        J = jacobian(lambda X: np.abs(X) ** 2, X, method=method)
        assert np.allclose(J.reshape(9, 9), np.diag(2 * X.reshape(-1)), atol=1e-8)
        assert J.method == "central"
    J = jacobian(lambda X: X * np.conj(X), X)
    assert J.method == "central" and np.allclose(J.reshape(9, 9), np.diag(2 * X.reshape(-1)))


# --------------------------------------------------------------------------------------
# issue 18: method="auto", the method reported, the guard's reach, honest refusals
# --------------------------------------------------------------------------------------


def slogdet(X):
    return np.linalg.slogdet(X)[1]


def test_auto_is_the_default_and_the_method_is_reported(rng):
    import mdcalc

    X = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    K = rng.standard_normal((3, 3))
    inv_T = np.linalg.inv(X).T
    J = jacobian(slogdet, X)  # log|det X|: slogdet gives real values for complex X
    assert J.method == "central" and np.allclose(J, inv_T, rtol=1e-8)
    assert jacobian(lambda X: np.log(np.linalg.det(X)), X).method == "complex-step"
    D = directional_derivative(slogdet, X, K)
    assert D.method == "central" and np.isclose(D, np.sum(inv_T * K), rtol=1e-8)
    Y = np.linalg.inv(X)
    H = mdcalc.hessian(slogdet, X)
    assert H.method == "central"
    assert np.allclose(H, -np.einsum("km,nj->jkmn", Y, Y), rtol=1e-5, atol=1e-6)
    assert mdcalc.hvp(slogdet, X, K).method == "central"
    assert mdcalc.hvp(lambda X: np.log(np.linalg.det(X)), X, K).method == "complex-step"
    # it prints, computes and pickles as a plain array
    assert repr(J) == repr(np.asarray(J)) and type(J * 2) is np.ndarray
    import pickle

    assert type(pickle.loads(pickle.dumps(J))) is np.ndarray


def test_a_complex_step_that_underflows_is_named_not_called_non_analytic():
    X = np.array([[1.0, 2.0], [-0.5, 3.0]])

    def tiny(X):
        return 1e-300 * X @ X

    with pytest.raises(ValueError, match="underflows") as info:
        jacobian(tiny, X, method="complex-step")
    assert "not complex-analytic" not in str(info.value)
    J = jacobian(tiny, X)  # auto: central differences
    eye = np.eye(2)
    closed = 1e-300 * (np.einsum("ij,kl->iljk", eye, X) + np.einsum("ij,kl->iljk", X, eye))
    assert J.method == "central" and np.allclose(J, closed, rtol=1e-8, atol=1e-310)


def test_the_wide_guard_sees_what_noisy_central_differences_cannot():
    """1e10 + x conj(x) / 10: the complex step misses the non-analytic piece (its
    derivative is 0.2 x), and central differences at X are too noisy (0.2 at f = 1e10)
    to see it; the comparison over a wide step does."""
    x = np.array([1.0, -0.5])

    def f(x):
        return 1e10 + 0.1 * x * np.conj(x)

    with pytest.raises(ValueError, match="not complex-analytic"):
        jacobian(f, x, method="complex-step")
    with pytest.raises(ValueError, match="not complex-analytic"):
        directional_derivative(f, x, np.ones(2), method="complex-step")
    # and an analytic f of the same size passes it
    J = jacobian(lambda x: 1e10 + 0.1 * x * x, x, method="complex-step")
    assert np.allclose(J, np.diag(0.2 * x), rtol=1e-14)


def test_central_refuses_a_derivative_hidden_in_f_rounding():
    """|x| + 1e10: central differences are 5% off (f's rounding over the step); refused,
    where they used to return it. A function that does not change at all gives zeros, with
    a warning that a derivative below f's rounding cannot be seen."""
    x = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match="unreliable"):
        jacobian(lambda x: np.abs(x) + 1e10, x)
    with pytest.raises(ValueError, match="unreliable"):
        directional_derivative(lambda x: np.abs(x) + 1e10, x, np.ones(2))
    with pytest.warns(RuntimeWarning, match="did not change"):
        J = jacobian(np.floor, x + 0.5)
    assert np.all(J == 0) and J.method == "central"


def test_a_function_that_modifies_its_stack_in_later_batches(rng):
    """Once a batch size is verified, f gets mdcalc's own stack without a copy: f may
    modify it (its result is read at once, the stack never again)."""
    X = rng.standard_normal((40, 40))  # 1600 inputs: about 20 batches of the same size
    before = X.copy()

    def f(X):
        X *= 2.0
        X += 1.0
        return np.tanh(X)

    expected = np.diag((2 * (1 - np.tanh(2 * X + 1) ** 2)).reshape(-1)).reshape(X.shape * 2)
    for method in ("complex-step", "central"):
        J = jacobian(f, X, method=method)
        assert np.allclose(J, expected, rtol=1e-6, atol=1e-9)
    assert np.array_equal(X, before)
