"""Tests of mdcalc.gcn: propagation matrices, neighbourhoods, operation counts."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sparse

import mdcalc
from mdcalc.gcn import (
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


def test_row_normalisation_symmetric_exactly_for_regular_graphs() -> None:
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
