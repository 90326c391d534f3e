"""Structured variables (issue 20): vech and its matrices, the five subspaces, and the two
derivatives on them in derive, the numeric functions and the checkers."""

from __future__ import annotations

import traceback
from typing import Any
from pathlib import Path

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
    assert list(zip(S.rows.tolist(), S.cols.tolist(), strict=True)) == [
        (0, 0), (0, 1), (1, 1), (0, 2), (1, 2), (2, 2)]  # column by column
    S = Subspace("skew", 3)
    assert list(zip(S.rows.tolist(), S.cols.tolist(), strict=True)) == [(1, 0), (2, 0), (2, 1)]


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


# --------------------------------------------------------------------------------------
# the numeric functions on a subspace, against closed forms
# --------------------------------------------------------------------------------------


def logdet(X):
    return np.log(np.linalg.det(X))


def cholesky_logdet(X):
    # reads the lower triangle only, as a Cholesky factorisation does
    return 2 * np.sum(np.log(np.diagonal(np.linalg.cholesky(X), axis1=-2, axis2=-1)), -1)


def spd(n: int, seed: int) -> np.ndarray:
    M = np.random.default_rng(seed).standard_normal((n, n))
    return M @ M.T + n * np.eye(n)


@pytest.mark.parametrize("n", [1, 2, 4])
def test_jacobian_on_symmetric_x_is_the_trace_gradient(n):
    S = spd(n, n)
    inv = np.linalg.inv(S)
    G = mdcalc.jacobian(logdet, S, structure="symmetric")
    assert np.allclose(G, inv, rtol=1e-12, atol=1e-14)
    # a function that reads one triangle only: differentiated along symmetric matrices
    # it has the same gradient, which the unstructured Jacobian cannot see
    G = mdcalc.jacobian(cholesky_logdet, S, method="central", structure="symmetric")
    assert np.allclose(G, inv, rtol=1e-8, atol=1e-10)
    if n > 1:
        unstructured = mdcalc.jacobian(cholesky_logdet, S, method="central")
        assert not np.allclose(unstructured, inv, rtol=1e-3)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_jacobian_of_a_matrix_function_on_each_subspace(structure):
    n = 3
    rng = np.random.default_rng(5)
    A = rng.standard_normal((n, n))  # not symmetric
    X = member(structure, n, 6) + (0 if structure == "skew" else 4 * np.eye(n))

    def f(X):
        return A @ X @ X

    S = Subspace(structure, n)
    J = mdcalc.jacobian(f, X, structure=structure)
    unstructured = mdcalc.jacobian(f, X)
    # the projection of the unstructured Jacobian in its input indices
    assert np.allclose(J, S.project(unstructured), rtol=1e-12, atol=1e-12)
    for K in [S.project(rng.standard_normal((n, n))) for _ in range(2)]:
        assert np.allclose(np.tensordot(J, K, axes=2), A @ (K @ X + X @ K), rtol=1e-11)
        assert np.allclose(
            mdcalc.directional_derivative(f, X, K, structure=structure),
            A @ (K @ X + X @ K), rtol=1e-12, atol=1e-12)
    # by the independent entries: the vec-Jacobian times the basis matrix (D_n)
    M = mdcalc.tensor_to_matrix(J, (n, n), (n, n)) @ S.matrix()
    closed = np.kron(np.eye(n), A @ X) + np.kron(X.T, A)
    assert np.allclose(M, closed @ S.matrix(), rtol=1e-11, atol=1e-12)


def test_inverse_on_symmetric_x_by_vech():
    n = 3
    X = spd(n, 2)
    inv = np.linalg.inv(X)
    J = mdcalc.jacobian(np.linalg.inv, X, structure="symmetric")
    by_vech = mdcalc.tensor_to_matrix(J, (n, n), (n, n)) @ duplication_matrix(n)
    assert np.allclose(by_vech, -np.kron(inv, inv) @ duplication_matrix(n), rtol=1e-11)


def test_hessian_and_hvp_of_logdet_on_symmetric_x():
    n = 3
    X = spd(n, 3)
    inv = np.linalg.inv(X)
    rng = np.random.default_rng(4)
    K1, K2 = (Subspace("symmetric", n).project(rng.standard_normal((n, n))) for _ in "ab")
    H = mdcalc.hessian(logdet, X, structure="symmetric")
    assert H.shape == (n, n, n, n)
    bilinear = -np.trace(inv @ K1 @ inv @ K2)
    assert np.isclose(np.sum(K2 * np.tensordot(H, K1, axes=2)), bilinear, rtol=1e-8)
    assert np.allclose(np.tensordot(H, K1, axes=2), -inv @ K1 @ inv, rtol=1e-8, atol=1e-10)
    assert np.allclose(H, H.transpose(2, 3, 0, 1), rtol=0, atol=1e-12)
    V = mdcalc.hvp(logdet, X, K1, structure="symmetric")
    assert np.allclose(V, -inv @ K1 @ inv, rtol=1e-8, atol=1e-10)


def test_hvp_on_a_subspace_is_the_projection_of_the_hvp():
    n = 3
    rng = np.random.default_rng(8)
    A, X = rng.standard_normal((n, n)), symmetric(n, 9)

    def f(X):
        return np.trace(A @ X @ X, axis1=-2, axis2=-1)

    for structure in STRUCTURES:
        S = Subspace(structure, n)
        X_, K = S.project(X), S.project(rng.standard_normal((n, n)))
        full = mdcalc.hvp(f, X_, K)  # K^T A^T + A^T K^T, not in the subspace in general
        assert np.allclose(full, K.T @ A.T + A.T @ K.T, rtol=1e-8, atol=1e-9)
        on = mdcalc.hvp(f, X_, K, structure=structure)
        assert np.allclose(on, S.project(full), rtol=1e-8, atol=1e-9), structure
        assert S.contains(on, rtol=1e-12)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda X, K: mdcalc.jacobian(logdet, X + np.triu(X, 1), structure="symmetric"),
         "X is not symmetric"),
        (lambda X, K: mdcalc.directional_derivative(logdet, X, np.triu(K), structure="symmetric"),
         "K is not symmetric"),
        (lambda X, K: mdcalc.hvp(logdet, X, np.triu(K), structure="symmetric"),
         "K is not symmetric"),
        (lambda X, K: mdcalc.hessian(logdet, X, structure="triangular"), "did you mean 'lower'"),
        (lambda X, K: mdcalc.jacobian(logdet, X, structure=True), "a string"),
        (lambda X, K: mdcalc.jacobian(lambda v: v.sum(), np.ones(3), structure="lower"),
         "needs a square matrix"),
        (lambda X, K: mdcalc.jacobian(lambda X: X, np.zeros((1, 1)), structure="skew"),
         "no direction"),
        (lambda X, K: mdcalc.check_derivative(logdet, np.triu(X), np.eye(3), structure="symmetric"),
         "is not symmetric"),
        (lambda X, K: mdcalc.check_derivative(lambda X: X[0, 0], np.zeros((1, 1)),
                                              np.zeros((1, 1)), structure="skew"),
         "no direction"),
        (lambda X, K: mdcalc.check_second_derivative(logdet, np.tril(X), np.eye(9),
                                                     structure="upper"),
         "is not upper-triangular"),
        (lambda X, K: mdcalc.directional_derivative(logdet, X, K[:2, :2], structure="symmetric"),
         "but K is 2x2"),
    ],
)
def test_numeric_functions_refuse_points_and_directions_outside(call, words):
    X, K = spd(3, 1), symmetric(3, 2)
    with pytest.raises((ValueError, TypeError), match=words) as info:
        call(X, K)
    assert_refused(info.value)


# --------------------------------------------------------------------------------------
# the checkers name the confusion between the two derivatives
# --------------------------------------------------------------------------------------


def test_check_derivative_names_the_structured_mistakes():
    n = 3
    X = spd(n, 11)
    inv = np.linalg.inv(X)
    entries = 2 * inv - inv * np.eye(n)  # the Matrix Cookbook's (141)
    on = {"structure": "symmetric"}
    assert mdcalc.check_derivative(logdet, X, inv, **on).verdict == "correct"
    wrong = mdcalc.check_derivative(logdet, X, entries, **on)
    assert wrong.verdict == "wrong" and wrong.mistake == "independent-entries"
    assert "independent entries" in wrong.message and "Cookbook" in wrong.message
    # the reverse: the derivative by vech X asked (a 1 x 6 row), the trace gradient given
    row = vech(entries)[None, :]
    right = mdcalc.check_derivative(logdet, X, row, **on)
    assert right.verdict == "correct" and right.form == "entries"
    reverse = mdcalc.check_derivative(logdet, X, vech(inv)[None, :], **on)
    assert reverse.mistake == "trace-gradient" and "independent entries" in reverse.message
    # outside the subspace, with the right projection: tr(A X), A not symmetric
    A = np.random.default_rng(12).standard_normal((n, n))

    def trace_ax(X):
        return np.trace(A @ X)

    sym = (A + A.T) / 2
    assert mdcalc.check_derivative(trace_ax, X, sym, **on).verdict == "correct"
    outside = mdcalc.check_derivative(trace_ax, X, A.T, **on)
    assert outside.verdict == "wrong" and outside.mistake == "outside-subspace"
    assert "its projection" in outside.message
    assert mdcalc.check_derivative(trace_ax, X, A.T).verdict == "correct"  # no structure
    unsym_entries = 2 * A.T - A * np.eye(n)  # 2G - diag G, unsymmetrised
    assert mdcalc.check_derivative(trace_ax, X, unsym_entries, **on).mistake == (
        "independent-entries")
    # a plain mistake stays what it was: a sign
    assert mdcalc.check_derivative(logdet, X, -inv, **on).mistake == "sign"


@pytest.mark.parametrize("structure", STRUCTURES)
def test_check_derivative_on_each_subspace(structure):
    n = 3
    rng = np.random.default_rng(13)
    A = rng.standard_normal((n, n))
    X = member(structure, n, 14) + (0 if structure == "skew" else 3 * np.eye(n))
    S = Subspace(structure, n)

    def f(X):
        return np.trace(A @ X @ X)

    G = (A @ X + X @ A).T  # unstructured gradient
    on = {"structure": structure}
    assert mdcalc.check_derivative(f, X, S.project(G), **on)
    assert mdcalc.check_derivative(f, X, S.coordinates(S.entry_derivative(G))[None, :], **on)
    assert mdcalc.check_derivative(f, X, lambda K: np.sum(G * K), **on)
    if S.doubles:
        assert mdcalc.check_derivative(f, X, S.entry_derivative(G), **on).mistake == (
            "independent-entries")
        row = S.coordinates(S.project(G))[None, :]
        assert mdcalc.check_derivative(f, X, row, **on).mistake == "trace-gradient"
    assert mdcalc.check_derivative(f, X, G, **on).mistake == "outside-subspace"


def test_check_second_derivative_on_symmetric_x():
    n = 3
    X = spd(n, 15)
    inv = np.linalg.inv(X)
    on = {"structure": "symmetric"}

    def bilinear(K1, K2):
        return -np.trace(inv @ K1 @ inv @ K2)

    def hessian_map(K):
        return -inv @ K @ inv

    assert mdcalc.check_second_derivative(logdet, X, bilinear, **on).verdict == "correct"
    assert mdcalc.check_second_derivative(logdet, X, hessian_map, **on).verdict == "correct"
    # one triangle only: the Cholesky log det, by nested central differences
    result = mdcalc.check_second_derivative(cholesky_logdet, X, bilinear, method="central",
                                            **on)
    assert result.verdict == "correct", result.message

    def halved(K1, K2):
        return bilinear(K1, K2) / 2

    assert mdcalc.check_second_derivative(logdet, X, halved, **on).mistake == "scale"


# --------------------------------------------------------------------------------------
# derive
# --------------------------------------------------------------------------------------

sp = pytest.importorskip("sympy")


def _values(structure: str, n: int, seed: int):
    X, A, x = sp.MatrixSymbol("X", n, n), sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("x", n, 1)
    rng = np.random.default_rng(seed)
    X_ = member(structure, n, seed) + (0 if structure == "skew" else n * np.eye(n))
    return (X, A, x), {X: X_, A: rng.standard_normal((n, n)), x: rng.standard_normal((n, 1))}


@pytest.mark.parametrize("structure", STRUCTURES)
def test_derive_gives_both_derivatives(structure):
    n = 3
    (X, A, x), values = _values(structure, n, 21)
    X_, A_, x_ = values[X], values[A], values[x]
    S = Subspace(structure, n)
    exprs = {
        "trace": (sp.Trace(A * X), A_.T),
        "quadratic": (x.T * X * x, x_ @ x_.T),
        "square": (sp.Trace(X * X), 2 * X_.T),
    }
    if structure != "skew":  # skew 3 x 3 matrices are singular
        exprs["logdet"] = (sp.log(sp.det(X)), np.linalg.inv(X_).T)
    for name, (expr, G) in exprs.items():
        result = mdcalc.derive(expr, X, structure=structure)
        verdict = result.check(values)
        assert verdict, (name, str(verdict))
        assert set(verdict.results) == {"differential", "vec_jacobian", "index", "gradient",
                                        "entry_gradient"}
        assert np.allclose(result.gradient_value(values), S.project(G), rtol=1e-12), name
        assert np.allclose(result.entry_gradient_value(values), S.entry_derivative(G),
                           rtol=1e-12), name
        J = result.matrix(values)
        assert J.shape == (1, S.dim)
        assert np.allclose(J[0], S.coordinates(S.entry_derivative(G)), rtol=1e-12), name


def test_derive_on_symmetric_x_simplifies_and_prints():
    from mdcalc.derivation import to_latex

    X = sp.MatrixSymbol("X", 3, 3)
    result = mdcalc.derive(sp.log(sp.det(X)), X, structure="symmetric")
    assert to_latex(result.gradient) == "X^{-1}"
    assert to_latex(result.entry_gradient) == r"2 X^{-1} - X^{-1} \odot I"
    assert to_latex(result.vec_jacobian).endswith("D_{3}")
    inverse = mdcalc.derive(X.I, X, structure="symmetric")
    assert to_latex(inverse.vec_jacobian) == r"- \left(X^{-1} \otimes X^{-1}\right) D_{3}"
    plain = mdcalc.derive(sp.log(sp.det(X)), X)
    assert plain.entry_gradient == plain.gradient and plain.structure is None


def test_derive_matrix_valued_on_symmetric_x():
    n = 3
    (X, A, x), values = _values("symmetric", n, 22)
    X_ = values[X]
    inv = np.linalg.inv(X_)
    result = mdcalc.derive(X.I, X, structure="symmetric")
    assert result.check(values)
    D = duplication_matrix(n)
    assert np.allclose(result.matrix(values), -np.kron(inv, inv) @ D, rtol=1e-12)
    assert result.gradient is None and result.entry_gradient is None


def test_derive_refuses_values_outside_and_bad_structures():
    (X, A, x), values = _values("symmetric", 3, 23)
    result = mdcalc.derive(sp.Trace(A * X), X, structure="symmetric")
    bad = {**values, X: np.triu(values[X])}
    with pytest.raises(ValueError, match="the value for X: X is not symmetric: X"):
        result.check(bad)
    with pytest.raises(ValueError, match="the value for X: X is not symmetric: X"):
        result.gradient_value(bad)
    with pytest.raises(ValueError, match="needs a square variable"):
        mdcalc.derive(sp.Trace(sp.MatrixSymbol("B", 2, 3).T * sp.MatrixSymbol("Y", 2, 3)),
                      sp.MatrixSymbol("Y", 2, 3), structure="lower")
    with pytest.raises(ValueError, match="did you mean 'skew'"):
        mdcalc.derive(sp.Trace(A * X), X, structure="antisymmetric")
    with pytest.raises(TypeError, match="a string"):
        mdcalc.derive(sp.Trace(A * X), X, structure=1)


@pytest.mark.parametrize("structure", STRUCTURES)
@settings(max_examples=8, deadline=None)
@given(n=st.integers(min_value=1, max_value=4), seed=seeds)
def test_derive_gradients_agree_with_the_numeric_ones(structure, n, seed):
    if structure == "skew" and n == 1:
        return  # no direction (refused, tested above)
    (X, A, x), values = _values(structure, n, seed)
    expr = sp.Trace(A * X * X) + sp.Trace(A * X)
    result = mdcalc.derive(expr, X, structure=structure)
    f = result.function(values)
    numeric = mdcalc.jacobian(f, values[X], structure=structure)
    assert np.allclose(result.gradient_value(values), numeric, rtol=1e-10, atol=1e-12)
    S = Subspace(structure, n)
    assert np.allclose(result.entry_gradient_value(values), S.entry_derivative(numeric),
                       rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------------------
# the claims of chapter 10, over their ranges
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("structure", STRUCTURES)
@settings(max_examples=10, deadline=None)
@given(n=st.integers(min_value=1, max_value=5), seed=seeds)
def test_the_gradient_on_a_subspace_is_the_projection(structure, n, seed):
    """jacobian(structure=...) of a scalar f, computed along the subspace's basis, is the
    projection of the ordinary gradient; the entry layout is entry_derivative of it."""
    if structure == "skew" and n == 1:
        return  # no direction: refused (test_numeric_functions_refuse_...)
    rng = np.random.default_rng(seed)
    A, C = rng.standard_normal((2, n, n))
    X = member(structure, n, seed)

    def f(X):
        return np.trace(A @ X @ X + C @ X, axis1=-2, axis2=-1)

    G = (A @ X + X @ A + C).T  # the ordinary gradient
    S = Subspace(structure, n)
    on = mdcalc.jacobian(f, X, structure=structure)
    assert np.allclose(on, S.project(G), rtol=1e-10, atol=1e-12)
    assert np.allclose(mdcalc.jacobian(f, X), G, rtol=1e-10, atol=1e-12)
    basis = S.from_coordinates(np.eye(S.dim))  # the derivatives along B_k
    along = [mdcalc.directional_derivative(f, X, B, structure=structure) for B in basis]
    assert np.allclose(S.coordinates(S.entry_derivative(G)), along, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("structure", STRUCTURES)
@SETTINGS
@given(n=sizes, seed=seeds)
def test_the_steepest_direction_on_a_subspace(structure, n, seed):
    """Per unit of Frobenius norm, no direction K of S raises F faster than G_S = P G, and
    G_S reaches it; E (by the independent entries) is slower unless it is a multiple of
    G_S; in the Euclidean norm of the free entries, E is the steepest instead."""
    rng = np.random.default_rng(seed)
    S = Subspace(structure, n)
    if S.dim == 0:
        return
    G = rng.standard_normal((n, n))
    G_S, E = S.project(G), S.entry_derivative(G)
    top = np.linalg.norm(G_S)
    K = S.project(rng.standard_normal((200, n, n)))
    norms = np.linalg.norm(K, axis=(1, 2))
    keep = norms > 0
    rates = np.einsum("kij,ij->k", K[keep], G) / norms[keep]
    assert np.all(rates <= top * (1 + 1e-12))
    assert np.isclose(np.sum(G * G_S) / top, top, rtol=1e-12)
    rate_E = np.sum(G * E) / np.linalg.norm(E)
    assert rate_E <= top * (1 + 1e-12)
    parallel = np.allclose(np.linalg.norm(E) * G_S, top * E, rtol=1e-12, atol=1e-12)
    assert parallel or rate_E < top
    if S.doubles and np.any(np.abs(np.diag(G_S)) > 1e-3) and np.any(
            np.abs(G_S - np.diag(np.diag(G_S))) > 1e-3) and structure == "symmetric":
        assert rate_E < top * (1 - 1e-9)  # strictly slower
    # in the norm of the free entries x: the gradient of x -> F(x) is coords(E)
    x_rates = np.einsum("kij,ij->k", K[keep], G) / np.linalg.norm(
        S.coordinates(K[keep]), axis=1)
    steepest_x = np.linalg.norm(S.coordinates(E))
    assert np.all(x_rates <= steepest_x * (1 + 1e-12))
    assert np.isclose(np.sum(G * E) / steepest_x, steepest_x, rtol=1e-12)


# --------------------------------------------------------------------------------------
# hostile values of structure=, everywhere it is taken
# --------------------------------------------------------------------------------------

BAD_STRUCTURES = [1, True, b"symmetric", ["symmetric"], "", "Symmetric", "sym", "toeplitz",
                  "hermitian", np.str_("symmetrical")]


def _structured_calls(bad: Any) -> list:
    X, K = spd(3, 30), symmetric(3, 31)
    Xs = sp.MatrixSymbol("X", 3, 3)
    return [
        lambda: mdcalc.jacobian(logdet, X, structure=bad),
        lambda: mdcalc.directional_derivative(logdet, X, K, structure=bad),
        lambda: mdcalc.hessian(logdet, X, structure=bad),
        lambda: mdcalc.hvp(logdet, X, K, structure=bad),
        lambda: mdcalc.check_derivative(logdet, X, np.linalg.inv(X), structure=bad),
        lambda: mdcalc.check_second_derivative(logdet, X, lambda K: K, structure=bad),
        lambda: mdcalc.self_check(logdet, X, np.linalg.inv(X), structure=bad),
        lambda: mdcalc.derive(sp.log(sp.det(Xs)), Xs, structure=bad),
        lambda: project(X, bad),
        lambda: in_subspace(X, bad),
        lambda: entry_derivative(X, bad),
        lambda: mdcalc.structure.restrict(logdet, X, bad),
    ]


@pytest.mark.parametrize("bad", BAD_STRUCTURES, ids=repr)
def test_bad_structures_are_refused_everywhere(bad):
    for call in _structured_calls(bad):
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        assert_refused(info.value)
        assert "structure" in str(info.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda: mdcalc.structure.restrict(logdet, np.ones((2, 3)), "symmetric"),
        lambda: mdcalc.structure.restrict(logdet, "X", "symmetric"),
        lambda: mdcalc.structure.restrict(logdet, np.array([[1.0, 2.0], [0.0, 1.0]]),
                                          "symmetric"),
        lambda: mdcalc.structure.restrict(logdet, np.eye(2), None),
        lambda: mdcalc.structure.restrict(logdet, np.zeros((1, 1)), "skew"),
        lambda: mdcalc.structure.restrict(logdet, np.eye(2) + 1j, "symmetric"),
        lambda: Subspace("symmetric", 2).require("K", np.eye(3)),
        lambda: Subspace("lower", 2).contains(np.ones(4)),
    ],
)
def test_restrict_and_subspace_refuse_bad_input(call):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert_refused(info.value)


@SETTINGS
@given(n=sizes, seed=seeds, structure=st.sampled_from(STRUCTURES))
def test_public_wrappers_agree_with_the_subspace(n, seed, structure):
    G = np.random.default_rng(seed).standard_normal((n, n))
    S = Subspace(structure, n)
    assert np.array_equal(project(G, structure), S.project(G))
    assert np.array_equal(entry_derivative(G, structure), S.entry_derivative(G))
    assert in_subspace(S.project(G), structure)
    assert in_subspace(G, structure) == S.contains(G)
    g, x, S2 = mdcalc.structure.restrict(lambda X: np.sum(X * G, axis=(-2, -1)),
                                         S.project(G), structure) if S.dim else (None,) * 3
    if S.dim:
        assert np.isclose(g(x), np.sum(S.project(G) * G))
        assert np.array_equal(S2.from_coordinates(x), S.project(G))


def test_check_second_derivative_reads_a_map_on_the_subspace():
    """A Hessian map whose values leave the subspace is right when its projection is the
    Hessian-vector product on it: K -> K^T A^T + A^T K^T for tr(A X X), A not symmetric."""
    n = 3
    rng = np.random.default_rng(40)
    A, X = rng.standard_normal((n, n)), symmetric(n, 41)

    def f(X):
        return np.trace(A @ X @ X, axis1=-2, axis2=-1)

    def full_map(K):
        return K.T @ A.T + A.T @ K.T

    def projected(K):
        V = full_map(K)
        return (V + V.T) / 2

    on = {"structure": "symmetric"}
    for claim in (full_map, projected):
        assert mdcalc.check_second_derivative(f, X, claim, **on).verdict == "correct"
    assert mdcalc.check_second_derivative(f, X, lambda K: 2 * full_map(K), **on).mistake == (
        "scale")
    assert mdcalc.check_second_derivative(f, X, full_map).verdict == "correct"


def test_results_keep_the_method_their_type_reports():
    """What a numeric function attaches to its result (the method used) survives the
    conversion to the trace layout."""

    class Reported(np.ndarray):
        def __new__(cls, values, method):
            out = np.asarray(values).view(cls)
            out.method = method
            return out

    def jacobian(g, x, **options):
        return Reported(mdcalc.jacobian(g, x, **options), "complex-step")

    X = spd(3, 50)
    J = mdcalc.structure.jacobian_on(jacobian, logdet, X, "symmetric")
    assert isinstance(J, Reported) and J.method == "complex-step"
    assert np.allclose(J, np.linalg.inv(X), rtol=1e-12)
