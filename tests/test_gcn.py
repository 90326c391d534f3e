"""Tests of mdcalc.gcn: propagation matrices, neighbourhoods, operation counts, and the
loss of a layer with its gradient and matrix-free curvature."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sparse
from hypothesis import given, settings
from hypothesis import strategies as st

import mdcalc
from mdcalc.gcn import (
    gauss_newton_step,
    gcn_gradient,
    gcn_hvp,
    gcn_loss,
    matmul_multiply_adds,
    neighbourhood,
    normalised_adjacency,
    random_graph,
    record_sparse_products,
)


def cycle(n: int) -> np.ndarray:
    return np.roll(np.eye(n), 1, axis=1) + np.roll(np.eye(n), -1, axis=1)


def test_symmetric_normalisation_is_symmetric_and_matches_the_formula() -> None:
    A = random_graph(40, 4, seed=3)
    S = normalised_adjacency(A).toarray()
    A_tilde = A.toarray() + np.eye(40)
    d = A_tilde.sum(axis=1)
    assert np.allclose(S, A_tilde / np.sqrt(np.outer(d, d)))
    assert np.allclose(S, S.T)


def test_row_normalisation_of_a_regular_graph_is_symmetric_and_rows_sum_to_one() -> None:
    # symmetric on a regular graph; the exact condition (every edge joins equal degrees) is
    # test_universal.py::test_the_row_normalisation_is_symmetric_iff_every_edge_joins_equal_degrees
    P_regular = normalised_adjacency(cycle(7), kind="row").toarray()
    assert np.allclose(P_regular, P_regular.T)  # all degrees 2
    assert np.allclose(P_regular, (cycle(7) + np.eye(7)) / 3)
    P = normalised_adjacency(random_graph(40, 4, seed=3), kind="row").toarray()
    assert np.allclose(P.sum(axis=1), 1) and not np.allclose(P, P.T)


def test_neighbourhood_is_the_breadth_first_ball() -> None:
    A = random_graph(200, 4, seed=5)
    dense = A.toarray() + np.eye(200)
    reach = np.eye(200)[7]
    for hops in range(4):
        expected = np.flatnonzero(reach)
        assert np.array_equal(neighbourhood(A, 7, hops), expected)
        reach = (dense @ reach > 0).astype(float)


def test_counts_and_the_recorded_bracketing_of_vjp() -> None:
    A_hat = normalised_adjacency(random_graph(60, 5, seed=2))
    d1, d2 = 7, 3
    rng = np.random.default_rng(0)
    W, G = rng.standard_normal((d1, d2)), rng.standard_normal((60, d2))
    result, log = record_sparse_products(lambda A: mdcalc.vjp(A, W, G), A_hat)
    assert np.allclose(result, A_hat.toarray().T @ G @ W.T)
    assert log == [((60, 60), (60, d2), A_hat.nnz)]  # (A^T G) W^T
    sparse_part = matmul_multiply_adds(*log[0])
    assert sparse_part == A_hat.nnz * d2
    assert matmul_multiply_adds((60, d2), (d2, d1)) == 60 * d1 * d2


def test_dense_count_is_the_number_of_scalar_products() -> None:
    calls = []

    class Counted(float):
        def __mul__(self, other: object) -> Counted:
            calls.append(1)
            return Counted(float(self) * float(other))  # type: ignore[arg-type]

    left = np.array([[Counted(1.0)] * 3] * 4, dtype=object)
    right = np.array([[Counted(2.0)] * 5] * 3, dtype=object)
    left @ right
    assert len(calls) == matmul_multiply_adds((4, 3), (3, 5)) == 60


@pytest.mark.parametrize(
    "call",
    [
        lambda: normalised_adjacency(np.ones((2, 3))),
        lambda: normalised_adjacency(-np.eye(2)),
        lambda: normalised_adjacency(np.eye(2), kind="column"),  # type: ignore[arg-type]
        lambda: neighbourhood(np.eye(3), 3, 1),
        lambda: neighbourhood(np.eye(3), 0, -1),
        lambda: matmul_multiply_adds((2, 3), (4, 5)),
        lambda: matmul_multiply_adds((2, 3), (3, 5), nnz=7),
        lambda: random_graph(1, 3, seed=0),
    ],
)
def test_clear_errors(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]


def test_type_errors() -> None:
    with pytest.raises(TypeError):
        normalised_adjacency([[0, 1], [1, 0]])
    with pytest.raises(TypeError):
        record_sparse_products(lambda A: A, np.eye(2))
    assert sparse.issparse(random_graph(10, 2, seed=0))


# --------------------------------------------------------------------------------------
# The loss of a layer and its curvature, matrix-free (chapter 8)
# --------------------------------------------------------------------------------------


def layer(seed: int, V: int = 6, d1: int = 3, d2: int = 2, sparse_A: bool = False):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((V, V)) / 2  # not symmetric
    if sparse_A:
        A = sparse.csr_array(A * (rng.random((V, V)) < 0.5))
    H, W = rng.standard_normal((V, d1)), rng.standard_normal((d1, d2)) / 2
    Y, K = rng.uniform(-1, 1, (V, d2)), rng.standard_normal((V, d1))
    return A, H, W, Y, K


@settings(max_examples=12, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10**6), V=st.integers(1, 6), d1=st.integers(1, 4),
       d2=st.integers(1, 4), sparse_A=st.booleans())
def test_gradient_and_hvp_are_the_numeric_derivatives(seed, V, d1, d2, sparse_A) -> None:
    A, H, W, Y, K = layer(seed, V, d1, d2, sparse_A)

    def loss(H):
        return gcn_loss(A, H, W, Y)

    assert mdcalc.check_derivative(loss, H, gcn_gradient(A, H, W, Y))
    full = gcn_hvp(A, H, W, Y, K)
    assert np.allclose(full, mdcalc.hvp(loss, H, K), rtol=1e-6, atol=1e-9)
    assert mdcalc.check_second_derivative(loss, H, lambda K: gcn_hvp(A, H, W, Y, K))


def test_full_and_gauss_newton_agree_exactly_at_zero_residual() -> None:
    A, H, W, Y, K = layer(1)
    Y0 = np.tanh(A @ H @ W)
    full, gn = gcn_hvp(A, H, W, Y0, K), gcn_hvp(A, H, W, Y0, K, kind="gauss-newton")
    assert np.allclose(full, gn, rtol=1e-14, atol=0)
    assert not np.allclose(gcn_hvp(A, H, W, Y, K), gcn_hvp(A, H, W, Y, K, "gauss-newton"))


def test_gauss_newton_is_positive_semidefinite_and_symmetric() -> None:
    A, H, W, Y, _ = layer(2, V=5, d1=3, d2=2)
    cols = []
    for e in np.eye(15):
        K = mdcalc.unvec(e, (5, 3))
        cols.append(mdcalc.vec(gcn_hvp(A, H, W, Y, K, kind="gauss-newton")))
    G = np.column_stack(cols)
    assert np.allclose(G, G.T, atol=1e-12)
    assert np.linalg.eigvalsh(G).min() > -1e-12
    # and the checker names it when it is offered as the full Hessian
    result = mdcalc.check_second_derivative(
        lambda H: gcn_loss(A, H, W, Y), H,
        lambda K: gcn_hvp(A, H, W, Y, K, kind="gauss-newton"),
        residual=lambda H: np.tanh(A @ H @ W) - Y,
    )
    assert not result and result.mistake == "gauss-newton"


def test_sparse_and_dense_propagation_give_the_same_numbers() -> None:
    A_hat = normalised_adjacency(random_graph(40, 4, seed=9), kind="row")
    rng = np.random.default_rng(3)
    H, W = rng.standard_normal((40, 5)), rng.standard_normal((5, 7)) / 2  # d1 < d2
    Y, K = rng.uniform(-1, 1, (40, 7)), rng.standard_normal((40, 5))
    dense = A_hat.toarray()
    assert np.isclose(gcn_loss(A_hat, H, W, Y), gcn_loss(dense, H, W, Y))
    assert np.allclose(gcn_gradient(A_hat, H, W, Y), gcn_gradient(dense, H, W, Y))
    for kind in ("full", "gauss-newton"):
        assert np.allclose(gcn_hvp(A_hat, H, W, Y, K, kind),  # type: ignore[arg-type]
                           gcn_hvp(dense, H, W, Y, K, kind))  # type: ignore[arg-type]


def test_gauss_newton_step_solves_the_damped_system_and_descends() -> None:
    A, H, W, Y, _ = layer(4, V=8, d1=3, d2=2)
    out = gauss_newton_step(A, H, W, Y, damping=1e-2, maxiter=100, rtol=1e-12)
    assert out.iterations <= 24 and out.relative_residual < 1e-10
    lhs = gcn_hvp(A, H, W, Y, out.step, kind="gauss-newton") + 1e-2 * out.step
    assert np.allclose(lhs, -gcn_gradient(A, H, W, Y), atol=1e-9)
    assert gcn_loss(A, H + out.step, W, Y) < gcn_loss(A, H, W, Y)
    few = gauss_newton_step(A, H, W, Y, maxiter=2)
    assert few.iterations == 2 and few.relative_residual > 0
    # where the gradient is exactly zero (H = 0, Y = 0) the step is zero, with no iteration
    zero = gauss_newton_step(A, 0 * H, W, 0 * Y)
    assert zero.iterations == 0 and not np.any(zero.step)


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda A, H, W, Y, K: gcn_loss(A[:, :5], H, W, Y), ValueError, "A_hat must be square"),
        (lambda A, H, W, Y, K: gcn_loss(A, H[:5], W, Y), ValueError, "H has 5 rows"),
        (lambda A, H, W, Y, K: gcn_gradient(A, H, W[:2], Y), ValueError, "W has 2 rows"),
        (lambda A, H, W, Y, K: gcn_gradient(A, H, W, Y.T), ValueError, "Y must be 6x2"),
        (lambda A, H, W, Y, K: gcn_hvp(A, H, W, Y, K[:, :2]), ValueError, "K must have"),
        (lambda A, H, W, Y, K: gcn_hvp(A, H, W, Y, K, kind="newton"), ValueError, "kind"),
        (lambda A, H, W, Y, K: gcn_hvp(A, H, W, Y, K + 1j), TypeError, "K must be real"),
        (lambda A, H, W, Y, K: gcn_gradient(A, H + 1j, W, Y), TypeError, "H must be real"),
        (lambda A, H, W, Y, K: gcn_loss(A, H, W * np.nan, Y), ValueError, "W has non-finite"),
        (lambda A, H, W, Y, K: gcn_loss(A, H, W, "Y"), TypeError, "Y must"),
        (lambda A, H, W, Y, K: gcn_loss(sparse.csr_array(A * np.inf), H, W, Y), ValueError,
         "A_hat must have finite"),
        (lambda A, H, W, Y, K: gauss_newton_step(A, H, W, Y, damping=-1), ValueError,
         "damping"),
        (lambda A, H, W, Y, K: gauss_newton_step(A, H, W, Y, maxiter=0), ValueError,
         "maxiter"),
        (lambda A, H, W, Y, K: gauss_newton_step(A, H, W, Y, rtol=float("nan")), ValueError,
         "rtol"),
        (lambda A, H, W, Y, K: gauss_newton_step(A, H, W, Y, damping="1"), TypeError,
         "damping"),
    ],
)
def test_bad_input_is_refused_with_a_named_argument(call, error, words) -> None:
    A, H, W, Y, K = layer(5)
    with pytest.raises(error, match=words):
        call(A, H, W, Y, K)


def test_complex_H_passes_through_the_loss_for_the_complex_step() -> None:
    A, H, W, Y, K = layer(6)
    h = 1e-20
    rate = np.imag(gcn_loss(A, H + 1j * h * K, W, Y)) / h
    assert np.isclose(rate, np.sum(gcn_gradient(A, H, W, Y) * K), rtol=1e-12)
