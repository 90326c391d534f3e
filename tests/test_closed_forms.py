"""The three closed forms of dZ/dH for Z = A H W, and the converters between them."""

from __future__ import annotations

import numpy as np
import pytest

from mdcalc import (
    Derivative,
    basis_matrix,
    differential,
    jacobian_tensor,
    kron_jacobian,
    matrix_to_tensor,
    tensor_to_matrix,
    unvec,
    vec,
    vjp,
)


def test_tensor_entries_are_a_times_w(example):
    A, _, W = example(4, 3, 2)
    J = jacobian_tensor(A, W)
    assert J.shape == (4, 2, 4, 3)
    assert J.flags.c_contiguous
    for i, l, j, k in np.ndindex(J.shape):
        assert J[i, l, j, k] == A[i, j] * W[k, l]


def test_tensor_is_the_sum_of_the_index_formula(example):
    """Differentiate Z[i,l] = sum_jk A[i,j] H[j,k] W[k,l] entry by entry: Z = J : H."""
    A, H, W = example(5, 2, 3)
    assert np.allclose(np.tensordot(jacobian_tensor(A, W), H, axes=2), A @ H @ W)


def test_kron_jacobian_is_wt_kron_a(example):
    A, _, W = example(4, 3, 2)
    M = kron_jacobian(A, W)
    assert M.shape == (4 * 2, 4 * 3)
    assert M.flags.c_contiguous
    assert np.array_equal(M, np.kron(W.T, A))


def test_vec_identity_column_major(example):
    A, H, W = example(4, 3, 2)
    assert np.allclose(vec(A @ H @ W), kron_jacobian(A, W) @ vec(H))


def test_row_major_flattening_gives_a_kron_wt(example):
    A, H, W = example(4, 3, 2)
    assert np.allclose((A @ H @ W).reshape(-1), np.kron(A, W.T) @ H.reshape(-1))


def test_vec_and_unvec():
    X = np.array([[1, 2, 3], [4, 5, 6]])
    assert vec(X).tolist() == [1, 4, 2, 5, 3, 6]
    assert np.array_equal(unvec(vec(X), (2, 3)), X)


def test_basis_matrix_picks_one_entry(example):
    A, _, W = example(3, 2, 4)
    for k, l in np.ndindex(3, 2):
        E = basis_matrix(k, l, (3, 2))
        assert E.sum() == 1 and E[k, l] == 1
        # dZ/dH[k,l] = A E_kl W has entries A[i,k] W[l,j]
        assert np.allclose(A @ E @ W, np.outer(A[:, k], W[l, :]))


def test_converters_are_inverse(example):
    A, _, W = example(3, 4, 2)
    T = jacobian_tensor(A, W)
    M = tensor_to_matrix(T, (3, 2), (3, 4))
    assert np.array_equal(M, kron_jacobian(A, W))
    assert np.array_equal(matrix_to_tensor(M, (3, 2), (3, 4)), T)


def test_converters_handle_vectors_and_scalars():
    T = np.arange(6.0).reshape(2, 3)  # vector (2,) output, vector (3,) input
    assert np.array_equal(tensor_to_matrix(T, (2,), (3,)), T)
    g = np.arange(6.0).reshape(2, 3)  # scalar output: one row, vec of the gradient
    assert np.array_equal(tensor_to_matrix(g, (), (2, 3)), vec(g)[None, :])


def test_differential_views_agree(example):
    A, H, W = example(4, 3, 2)
    D = differential(A, W)
    K = np.arange(12.0).reshape(4, 3)
    assert np.allclose(D(K), A @ K @ W)
    assert np.allclose(D(K), np.tensordot(D.tensor(), K, axes=2))
    assert np.allclose(vec(D(K)), D.matrix() @ vec(K))
    G = np.ones((4, 2))
    assert np.allclose(D.adjoint(G), vjp(A, W, G))


def test_derivative_from_a_map_builds_matrix_and_tensor(example):
    A, _, W = example(3, 2, 2)
    D = Derivative((3, 2), (3, 2), jvp=lambda K: A @ K @ W)
    assert np.allclose(D.matrix(), kron_jacobian(A, W))
    assert np.allclose(D.tensor(), jacobian_tensor(A, W))
    G = np.arange(6.0).reshape(3, 2)
    assert np.allclose(D.adjoint(G), A.T @ G @ W.T)


def test_derivative_from_tensor_round_trip(example):
    A, _, W = example(3, 2, 4)
    D = Derivative.from_tensor(jacobian_tensor(A, W), (3, 4), (3, 2))
    K = np.ones((3, 2))
    assert np.allclose(D(K), A @ K @ W)
    with pytest.raises(ValueError, match="K must have the input's shape 3x2, got 2x3"):
        D(np.ones((2, 3)))


def test_vjp_accepts_sparse_a(example):
    sparse = pytest.importorskip("scipy.sparse")
    A, _, W = example(6, 3, 2)
    A[np.abs(A) < 0.8] = 0.0
    G = np.arange(12.0).reshape(6, 2)
    for As in (sparse.csr_matrix(A), sparse.csr_array(A)):
        out = vjp(As, W, G)
        assert isinstance(out, np.ndarray)
        assert np.allclose(out, A.T @ G @ W.T)
