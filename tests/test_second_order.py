"""hessian, hvp and check_second_derivative: closed forms, properties, mistakes, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdcalc import check_second_derivative, hessian, hvp, vec

FAST = settings(max_examples=8, deadline=None, derandomize=True)


def vec_hessian(T: np.ndarray) -> np.ndarray:
    """The 4-index Hessian as the matrix of column-major vec (H[j,k,m,n] -> M[j+mk, m+Mn])."""
    if T.ndim == 2:
        return T
    m, p = T.shape[:2]
    return T.transpose(1, 0, 3, 2).reshape(m * p, m * p)


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.fixture
def layer(example, rng):
    """The running example L(H) = ½‖A H W − Y‖²_F at V=4, d1=3, d2=2."""
    A, H, W = example(4, 3, 2)
    Y = rng.standard_normal((4, 2))

    def L(H):
        return 0.5 * np.sum((A @ H @ W - Y) ** 2)

    return L, A, H, W, Y


@pytest.fixture
def tanh_layer(example, rng):
    """L(H) = ½‖tanh(A H W) − Y‖²_F, its residual, its full and Gauss–Newton maps."""
    A, H, W = example(4, 3, 2)
    Y = rng.standard_normal((4, 2))

    def r(H):
        return np.tanh(A @ H @ W) - Y

    def L(H):
        return 0.5 * np.sum(r(H) ** 2)

    def full(K):
        t = np.tanh(A @ H @ W)
        s, R, dZ = 1 - t**2, t - Y, A @ K @ W
        return A.T @ (s * s * dZ - 2 * R * t * s * dZ) @ W.T

    def gauss_newton(K):
        s = 1 - np.tanh(A @ H @ W) ** 2
        return A.T @ (s * s * (A @ K @ W)) @ W.T

    return L, r, H, full, gauss_newton


# ----------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("method, tol", [("complex-step", 1e-9), ("central", 1e-6)])
def test_running_example_hessian_is_the_kronecker_product(layer, method, tol):
    L, A, H, W, _ = layer
    T = hessian(L, H, method)
    assert T.shape == (4, 3, 4, 3)
    assert rel(vec_hessian(T), np.kron(W @ W.T, A.T @ A)) < tol
    # entry [j, k, m, n] = (AᵀA)[j, m] (W Wᵀ)[n, k]
    assert rel(T, np.einsum("jm,nk->jkmn", A.T @ A, W @ W.T)) < tol


@pytest.mark.parametrize("method, tol", [("complex-step", 1e-9), ("central", 1e-6)])
def test_running_example_hvp_is_the_hessian_map(layer, rng, method, tol):
    L, A, H, W, _ = layer
    K = rng.standard_normal(H.shape)
    assert rel(hvp(L, H, K, method), A.T @ A @ K @ W @ W.T) < tol


def test_quadratic_form_of_a_vector(rng):
    Q, x = rng.standard_normal((5, 5)), rng.standard_normal(5)
    T = hessian(lambda x: x @ Q @ x, x)
    assert T.shape == (5, 5)
    assert rel(T, Q + Q.T) < 1e-9
    assert np.array_equal(T, T.T)


def test_trace_and_log_det(rng):
    B = rng.standard_normal((4, 4))
    X = rng.standard_normal((4, 3))
    # tr(Xᵀ B X): K -> (B + Bᵀ) K
    K = rng.standard_normal(X.shape)
    assert rel(hvp(lambda X: np.trace(X.T @ B @ X), X, K), (B + B.T) @ K) < 1e-9
    # log det(S), S symmetric positive definite: D²[K1, K2] = -tr(S⁻¹ K1 S⁻¹ K2)
    G = rng.standard_normal((3, 3))
    S = G @ G.T + 3 * np.eye(3)
    Si = np.linalg.inv(S)
    K = rng.standard_normal((3, 3))
    want = -(Si @ K @ Si).T  # gradient of log det is S⁻ᵀ; its derivative along K
    assert rel(hvp(lambda S: np.log(np.linalg.det(S)), S, K), want) < 1e-8
    T = hessian(lambda S: np.log(np.linalg.det(S)), S)
    assert rel(np.tensordot(T, K, 2), want) < 1e-8


def test_tanh_loss_full_and_gauss_newton(tanh_layer, rng):
    L, r, H, full, gauss_newton = tanh_layer
    K = rng.standard_normal(H.shape)
    assert rel(hvp(L, H, K), full(K)) < 1e-9
    assert rel(np.tensordot(hessian(L, H), K, 2), full(K)) < 1e-9
    assert rel(hvp(L, H, K), gauss_newton(K)) > 1e-3  # they differ here


# ----------------------------------------------------------------------- properties


@FAST
@given(
    m=st.integers(1, 4),
    p=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_hessian_symmetric_agrees_with_hvp_and_closed_form(m, p, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m + 1, m))
    W = rng.standard_normal((p, p + 1))
    X = rng.standard_normal((m, p))
    K = rng.standard_normal((m, p))

    def f(X):
        return np.sum(np.tanh(A @ X @ W) ** 2) + 0.1 * np.sum(X**4)

    T = hessian(f, X)
    M = vec_hessian(T)
    assert np.array_equal(M, M.T)
    scale = np.abs(M).max()
    bound = 1e-8 * scale * np.abs(K).max() * K.size
    assert np.abs(np.tensordot(T, K, 2) - hvp(f, X, K)).max() <= bound
    # The quartic part alone has a diagonal closed form: 1.2 X².
    quartic = hessian(lambda X: 0.1 * np.sum(X**4), X)
    assert rel(vec_hessian(quartic), np.diag(vec(1.2 * X**2))) < 1e-8


# ----------------------------------------------------------------------- the checker


def test_checker_accepts_all_four_forms(layer):
    L, A, H, W, _ = layer
    P, Q = A.T @ A, W @ W.T
    claims = {
        "matrix": np.kron(Q, P),
        "tensor": np.einsum("jm,nk->jkmn", P, Q),
        "map": lambda K: P @ K @ Q,
        "bilinear": lambda K1, K2: np.sum(K2 * (P @ K1 @ Q)),
    }
    for form, claim in claims.items():
        result = check_second_derivative(L, H, claim)
        assert result and result.verdict == "correct", result.message
        assert result.form == form


def test_missing_symmetrisation_is_named(rng):
    Q, x = rng.standard_normal((5, 5)), rng.standard_normal(5)
    result = check_second_derivative(lambda x: x @ Q @ x, x, 2 * Q)
    assert result.verdict == "wrong" and result.mistake == "symmetrisation"
    assert "symmetrise" in result.message
    B, X = rng.standard_normal((4, 4)), rng.standard_normal((4, 3))
    result = check_second_derivative(lambda X: np.trace(X.T @ B @ X), X, lambda K: 2 * B @ K)
    assert result.mistake == "symmetrisation"


def test_gauss_newton_alone_is_named(tanh_layer):
    L, r, H, full, gauss_newton = tanh_layer
    assert check_second_derivative(L, H, full)
    result = check_second_derivative(L, H, gauss_newton, residual=r)
    assert result.verdict == "wrong" and result.mistake == "gauss-newton"
    assert "Gauss–Newton" in result.message


def test_row_major_kronecker_order_is_named(layer):
    L, A, H, W, _ = layer
    result = check_second_derivative(L, H, np.kron(A.T @ A, W @ W.T))
    assert result.verdict == "wrong" and result.mistake == "row-major"
    assert "(W Wᵀ) ⊗ (AᵀA)" in result.message


def test_wrong_claims_are_never_correct(layer):
    L, A, H, W, _ = layer
    P, Q = A.T @ A, W @ W.T
    for claim in [2 * np.kron(Q, P), -np.kron(Q, P), np.zeros((12, 12)), np.kron(P, Q)[:12, :12]]:
        assert check_second_derivative(L, H, claim).verdict == "wrong"


# ----------------------------------------------------------------------- hostile input


def test_hostile_inputs_give_clear_errors(layer):
    L, A, H, W, _ = layer
    with pytest.raises(ValueError, match="scalar"):
        hessian(lambda H: A @ H @ W, H)
    with pytest.raises(TypeError, match="complex"):
        hessian(lambda H: np.sum(H) * (1 + 1j), H)
    with pytest.raises(ValueError, match="non-finite"):
        hessian(L, np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match="method"):
        hessian(L, H, "forward")
    with pytest.raises(ValueError, match="max_memory"):
        hessian(L, H, max_memory=100)
    with pytest.raises(ValueError, match="K must have X's shape"):
        hvp(L, H, np.ones((3, 4)))
