"""Property-based tests: every identity of the book, over random shapes from 1 to 6."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mdcalc import (
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

dims = st.integers(min_value=1, max_value=6)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


def draw(seed: int, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


@given(m=dims, p=dims, seed=seeds)
def test_vec_unvec_round_trip(m, p, seed):
    (X,) = draw(seed, (m, p))
    assert np.array_equal(unvec(vec(X), (m, p)), X)
    assert np.array_equal(vec(unvec(X.reshape(-1), (m, p))), X.reshape(-1))


@given(V=dims, d1=dims, d2=dims, seed=seeds)
def test_kron_jacobian_is_the_flattened_tensor(V, d1, d2, seed):
    A, W = draw(seed, (V, V), (d1, d2))
    T = jacobian_tensor(A, W)
    M = kron_jacobian(A, W)
    assert np.array_equal(M, tensor_to_matrix(T, (V, d2), (V, d1)))
    assert np.array_equal(matrix_to_tensor(M, (V, d2), (V, d1)), T)


@given(V=dims, d1=dims, d2=dims, seed=seeds)
def test_differential_is_the_tensor_contracted_with_k(V, d1, d2, seed):
    A, W, K = draw(seed, (V, V), (d1, d2), (V, d1))
    expected = np.tensordot(jacobian_tensor(A, W), K, axes=2)
    assert np.allclose(differential(A, W)(K), expected, rtol=1e-12, atol=1e-12)
    assert np.allclose(vec(differential(A, W)(K)), kron_jacobian(A, W) @ vec(K))


@given(V=dims, d1=dims, d2=dims, seed=seeds)
def test_vjp_is_the_adjoint_of_the_differential(V, d1, d2, seed):
    A, W, K, G = draw(seed, (V, V), (d1, d2), (V, d1), (V, d2))
    lhs = np.sum(G * differential(A, W)(K))
    rhs = np.sum(vjp(A, W, G) * K)
    assert np.isclose(lhs, rhs, rtol=1e-10, atol=1e-12)


@settings(deadline=None)
@given(V=dims, d1=dims, d2=dims, seed=seeds)
def test_numeric_jacobian_equals_the_closed_form(V, d1, d2, seed):
    A, W, H = draw(seed, (V, V), (d1, d2), (V, d1))
    closed = jacobian_tensor(A, W)
    scale = max(np.abs(closed).max(), 1e-300)
    exact = jacobian(lambda H: A @ H @ W, H, method="complex-step")
    assert np.abs(exact - closed).max() <= 1e-13 * scale
    rough = jacobian(lambda H: A @ H @ W, H, method="central")
    assert np.abs(rough - closed).max() <= 1e-7 * scale
