"""Structured variables (issue 20): vech and its matrices, the five subspaces, and the two
derivatives on them in derive, the numeric functions and the checkers."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdcalc
from mdcalc import duplication_matrix, elimination_matrix, unvech, vec, vech
from mdcalc.layouts import commutation_matrix
from mdcalc.structure import (
    STRUCTURES,
    Subspace,
    as_structure,
    entry_derivative,
    in_subspace,
    project,
)

MDCALC = Path(mdcalc.__file__).resolve().parent
SETTINGS = settings(max_examples=40, deadline=None)
sizes = st.integers(min_value=1, max_value=6)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


def symmetric(n: int, seed: int) -> np.ndarray:
    M = np.random.default_rng(seed).standard_normal((n, n))
    return M + M.T


def member(structure: str, n: int, seed: int) -> np.ndarray:
    M = np.random.default_rng(seed).standard_normal((n, n))
    return Subspace(structure, n).project(M)


def assert_refused(exc: BaseException) -> None:
    """A clear refusal: ValueError or TypeError raised in mdcalc's own code, with words."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = Path(frames[-1].filename).resolve()
    assert isinstance(exc, (ValueError, TypeError)), repr(exc)
    assert MDCALC in where.parents, "".join(traceback.format_exception(exc))
    assert len(str(exc)) >= 20, repr(exc)


# --------------------------------------------------------------------------------------
# vech, unvech, D_n, L_n
# --------------------------------------------------------------------------------------


def test_vech_stacks_the_lower_triangle_column_by_column():
    X = np.array([[1, 9, 9], [2, 4, 9], [3, 5, 6]])
    assert vech(X).tolist() == [1, 2, 3, 4, 5, 6]
    assert vech(np.array([[7.0]])).tolist() == [7.0]
    assert unvech(np.array([7.0])).tolist() == [[7.0]]
    assert unvech(np.arange(1, 7)).tolist() == [[1, 2, 3], [2, 4, 5], [3, 5, 6]]


def test_duplication_and_elimination_matrices_small():
    assert duplication_matrix(1).tolist() == [[1.0]]
    assert elimination_matrix(1).tolist() == [[1.0]]
    D2 = duplication_matrix(2)
    assert D2.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert elimination_matrix(2).tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]]
    for n in range(1, 7):
        m = n * (n + 1) // 2
        assert duplication_matrix(n).shape == (n * n, m)
        assert elimination_matrix(n).shape == (m, n * n)


@SETTINGS
@given(n=sizes, seed=seeds)
def test_vech_identities(n, seed):
    rng = np.random.default_rng(seed)
    S, M = symmetric(n, seed), rng.standard_normal((n, n))
    D, L = duplication_matrix(n), elimination_matrix(n)
    m = n * (n + 1) // 2
    assert np.array_equal(L @ D, np.eye(m))
    assert np.array_equal(D @ L @ vec(S), vec(S))
    assert np.array_equal(D @ vech(S), vec(S))
    assert np.array_equal(L @ vec(M), vech(M))  # for any square M
    assert np.array_equal(L.T @ vech(np.tril(M)), vec(np.tril(M)))
    assert np.array_equal(commutation_matrix(n, n) @ D, D)  # K_n D_n = D_n
    # D_n^T vec G: the derivative by the independent entries, 2 sym G - diag G
    assert np.allclose(D.T @ vec(M), vech(M + M.T - np.diag(np.diag(M))), rtol=1e-14)
    # the Moore-Penrose inverse of D is (D^T D)^-1 D^T, and it maps vec S to vech S
    pinv = np.linalg.solve(D.T @ D, D.T)
    assert np.allclose(pinv @ vec(S), vech(S), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(n=sizes, seed=seeds)
def test_vech_unvech_round_trips(n, seed):
    S = symmetric(n, seed)
    assert np.array_equal(unvech(vech(S)), S)
    v = np.random.default_rng(seed).standard_normal(n * (n + 1) // 2)
    assert np.array_equal(vech(unvech(v)), v)
    assert np.array_equal(unvech(v), unvech(v).T)


@pytest.mark.parametrize(
    "call",
    [
        lambda: vech(np.ones((2, 3))),
        lambda: vech(np.ones(3)),
        lambda: vech(np.ones((2, 2, 2))),
        lambda: vech(np.array([[1.0, np.nan], [0.0, 1.0]])),
        lambda: vech("X"),
        lambda: vech(np.eye(2, dtype=bool)),
        lambda: vech(np.ma.masked_array(np.eye(2), mask=[[0, 1], [0, 0]])),
        lambda: vech([[1.0, 2.0], [3.0]]),
        lambda: unvech(np.ones(2)),
        lambda: unvech(np.ones(5)),
        lambda: unvech(np.ones((3, 1))),
        lambda: unvech(np.array([np.inf, 1.0, 2.0])),
        lambda: unvech(None),
        lambda: duplication_matrix(0),
        lambda: duplication_matrix(-2),
        lambda: duplication_matrix(2.0),
        lambda: duplication_matrix(True),
        lambda: duplication_matrix("3"),
        lambda: duplication_matrix(10**6),  # too large: refused before allocating
        lambda: elimination_matrix(0),
        lambda: elimination_matrix(None),
        lambda: elimination_matrix(10**6),
    ],
)
def test_vech_family_refuses_bad_input(call):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert_refused(info.value)


def test_unvech_names_the_lengths_it_could_take():
    with pytest.raises(ValueError, match=r"length 5 .* \(3 for 2x2, 6 for 3x3\)"):
        unvech(np.ones(5))


# --------------------------------------------------------------------------------------
# the subspaces
# --------------------------------------------------------------------------------------


def test_dimensions_and_free_entries():
    for n in range(1, 6):
        dims = {s: Subspace(s, n).dim for s in STRUCTURES}
        assert dims == {"symmetric": n * (n + 1) // 2, "skew": n * (n - 1) // 2,
                        "diagonal": n, "lower": n * (n + 1) // 2, "upper": n * (n + 1) // 2}
    S = Subspace("upper", 3)
    assert list(zip(S.rows.tolist(), S.cols.tolist())) == [
        (0, 0), (0, 1), (1, 1), (0, 2), (1, 2), (2, 2)]  # column by column
    S = Subspace("skew", 3)
    assert list(zip(S.rows.tolist(), S.cols.tolist())) == [(1, 0), (2, 0), (2, 1)]


def test_projections_by_name():
    G = np.array([[1.0, 2.0], [4.0, 3.0]])
    assert project(G, "symmetric").tolist() == [[1, 3], [3, 3]]
    assert project(G, "skew").tolist() == [[0, -1], [1, 0]]
    assert project(G, "diagonal").tolist() == [[1, 0], [0, 3]]
    assert project(G, "lower").tolist() == [[1, 0], [4, 3]]
    assert project(G, "upper").tolist() == [[1, 2], [0, 3]]


def test_entry_derivative_by_name():
    G = np.array([[1.0, 2.0], [4.0, 3.0]])
    assert entry_derivative(G, "symmetric").tolist() == [[1, 6], [6, 3]]  # 2 sym G - diag G
    assert entry_derivative(G, "skew").tolist() == [[0, -2], [2, 0]]  # G - G^T
    for s in ("diagonal", "lower", "upper"):
        assert np.array_equal(entry_derivative(G, s), project(G, s))
    for s in STRUCTURES:  # 1 x 1: the projection (0 for skew)
        assert entry_derivative(np.array([[5.0]]), s).tolist() == [[0.0 if s == "skew" else 5]]


@pytest.mark.parametrize("structure", STRUCTURES)
@SETTINGS
@given(n=sizes, seed=seeds)
def test_subspace_properties(structure, n, seed):
    rng = np.random.default_rng(seed)
    S = Subspace(structure, n)
    A, B = rng.standard_normal((2, n, n))
    P = S.project(A)
    assert np.allclose(S.project(P), P, rtol=0, atol=0)  # idempotent, exactly
    assert np.isclose(np.sum(P * B), np.sum(A * S.project(B)), rtol=1e-12, atol=1e-12)
    assert S.contains(P) and (S.contains(A) == np.allclose(A, P, rtol=0, atol=0))
    # the basis B_k: orthogonal, |B_k|^2 = weights, and x <-> X one to one
    basis = S.from_coordinates(np.eye(S.dim))
    gram = np.einsum("kij,lij->kl", basis, basis)
    assert np.array_equal(gram, np.diag(S.weights))
    assert np.array_equal(S.from_coordinates(S.coordinates(P)), P)
    x = rng.standard_normal(S.dim)
    assert np.array_equal(S.coordinates(S.from_coordinates(x)), x)
    # vec X = S x, the basis matrix (D_n for symmetric, L_n^T for lower)
    assert np.array_equal(S.matrix() @ x, vec(S.from_coordinates(x)) if S.dim else np.zeros(n * n))
    # the two layouts: <trace_layout(d), B_k> = d_k; entries: E_k = <G, B_k>
    d = rng.standard_normal(S.dim)
    assert np.allclose(np.einsum("kij,ij->k", basis, S.trace_layout(d)), d, rtol=1e-14)
    E = S.entry_derivative(A)
    assert np.allclose(S.coordinates(E), np.einsum("kij,ij->k", basis, A), rtol=1e-12, atol=1e-12)
    assert np.allclose(S.gradient_from_entries(E), P, rtol=1e-14, atol=1e-15)
    if structure == "symmetric":
        assert np.array_equal(S.matrix(), duplication_matrix(n))
        assert np.allclose(E, 2 * P - np.diag(np.diag(P)), rtol=1e-14)
    if structure == "lower":
        assert np.array_equal(S.matrix(), elimination_matrix(n).T)


def test_doubling_is_exactly_where_an_entry_has_a_partner():
    for n in range(1, 5):
        for s in STRUCTURES:
            doubles = Subspace(s, n).doubles
            assert doubles == (s in ("symmetric", "skew") and n > 1), (s, n)


def test_membership_messages_say_where():
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    cases = {
        "symmetric": r"X\[0, 1\] = 2 but X\[1, 0\] = 3",
        "skew": r"X\[1, 1\] = 4, where a skew-symmetric matrix has 0",
        "diagonal": r"X\[1, 0\] = 3 is off the diagonal",
        "lower": r"X\[0, 1\] = 2 is above the diagonal",
        "upper": r"X\[1, 0\] = 3 is below the diagonal",
    }
    for structure, where in cases.items():
        with pytest.raises(ValueError, match=where):
            Subspace(structure, 2).require("X", X)
        assert not in_subspace(X, structure)
    # rounding is not a structure violation: an inverse of a symmetric matrix
    S = symmetric(5, 1) + 10 * np.eye(5)
    assert in_subspace(np.linalg.inv(S), "symmetric")


@pytest.mark.parametrize(
    "call",
    [
        lambda: as_structure(3),
        lambda: as_structure("Symmetric"),
        lambda: as_structure("antisymmetric"),
        lambda: as_structure(""),
        lambda: as_structure(["symmetric"]),
        lambda: project(np.eye(2), None),
        lambda: project(np.eye(2), "hermitian"),
        lambda: project(np.ones((2, 3)), "symmetric"),
        lambda: project(np.ones(3), "lower"),
        lambda: project(np.array([[np.nan]]), "lower"),
        lambda: in_subspace("X", "symmetric"),
        lambda: in_subspace(np.ones((0, 0)), "symmetric"),
        lambda: entry_derivative(np.ones((3, 2)), "skew"),
        lambda: Subspace("symmetric", 0),
        lambda: Subspace(None, 2),
    ],
)
def test_structure_functions_refuse_bad_input(call):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert_refused(info.value)


def test_structure_hints():
    with pytest.raises(ValueError, match="did you mean 'skew'"):
        as_structure("skew-symmetric")
    with pytest.raises(ValueError, match="did you mean 'symmetric'"):
        as_structure("Symmetric")
    with pytest.raises(TypeError, match="a string"):
        as_structure(1)
