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


@FAST
@given(n=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_vector_hessian_of_a_quadratic_plus_quartic(n, seed):
    rng = np.random.default_rng(seed)
    Q, x = rng.standard_normal((n, n)), rng.standard_normal(n)

    def f(x):
        return x @ Q @ x + np.sum(x**4)

    want = Q + Q.T + np.diag(12 * x**2)
    T = hessian(f, x)
    assert T.shape == (n, n) and rel(T, want) < 1e-9
    assert rel(hessian(f, x, "central"), want) < 1e-6
    K = rng.standard_normal(n)
    assert rel(hvp(f, x, K), want @ K) < 1e-9


@FAST
@given(
    V=st.integers(1, 5),
    d1=st.integers(1, 3),
    d2=st.integers(1, 3),
    seed=st.integers(0, 2**16),
    wrong=st.sampled_from(["scale", "entry", "swap"]),
)
def test_checker_is_right_on_random_layers(V, d1, d2, seed, wrong):
    rng = np.random.default_rng(seed)
    A, H = rng.standard_normal((V, V)), rng.standard_normal((V, d1))
    W, Y = rng.standard_normal((d1, d2)), rng.standard_normal((V, d2))

    def L(H):
        return 0.5 * np.sum((A @ H @ W - Y) ** 2)

    P, Q = A.T @ A, W @ W.T
    M = np.kron(Q, P)
    for claim in (M, lambda K: P @ K @ Q, lambda K1, K2: np.sum(K2 * (P @ K1 @ Q))):
        result = check_second_derivative(L, H, claim)
        assert result.verdict == "correct", result.message
    if wrong == "scale":
        bad = 1.001 * M
    elif wrong == "entry":
        bad = M.copy()
        i = int(rng.integers(M.shape[0]))
        bad[i, i] += 1e-3 * np.abs(M).max()
    else:
        bad = np.kron(P, Q)
        if np.allclose(bad, M, rtol=1e-6, atol=1e-9 * np.abs(M).max()):
            return  # the swap changes nothing at this shape (V = 1 or d1 = 1)
    result = check_second_derivative(L, H, bad)
    assert result.verdict == "wrong", result.message


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


def test_gauss_newton_of_a_non_analytic_residual(example, rng):
    A, H, W = example(4, 3, 2)
    H = H + 2.0
    Y = rng.standard_normal((4, 2))

    def r(H):  # |z|^1.5 sign(z): smooth where z != 0, but not complex-analytic
        Z = A @ H @ W
        return np.abs(Z) ** 1.5 * np.sign(Z) - Y

    def L(H):
        return 0.5 * np.sum(r(H) ** 2)

    def gauss_newton(K):
        d2 = 2.25 * np.abs(A @ H @ W)
        return A.T @ (d2 * (A @ K @ W)) @ W.T

    assert np.abs(A @ H @ W).min() > 0.01  # far beside the steps (about 1e-4 |X|)
    result = check_second_derivative(L, H, gauss_newton, residual=r)
    assert result.mistake == "gauss-newton" and result.method == "central"


def test_psd_claim_of_an_indefinite_hessian_is_suspected(tanh_layer):
    L, r, H, full, gauss_newton = tanh_layer
    result = check_second_derivative(L, H, gauss_newton)
    assert result.verdict == "wrong" and result.mistake == "psd"
    assert "residual=r" in result.message


def test_residual_that_does_not_fit_f_is_refused(tanh_layer):
    L, r, H, full, gauss_newton = tanh_layer
    with pytest.raises(ValueError, match="residual does not fit f"):
        check_second_derivative(L, H, full, residual=lambda H: 2 * r(H))
    with pytest.raises(TypeError, match="residual must be callable"):
        check_second_derivative(L, H, full, residual=np.ones(3))


def test_kronecker_factors_swapped_are_named(layer):
    L, A, H, W, _ = layer
    result = check_second_derivative(L, H, np.kron(A.T @ A, W @ W.T))
    assert result.verdict == "wrong" and result.mistake == "kronecker-order"
    assert "(W Wᵀ) ⊗ (AᵀA), not (AᵀA) ⊗ (W Wᵀ)" in result.message
    assert "row-major" in result.message


def test_row_major_reading_is_named(rng):
    # f = tr(Xᵀ B X C): the map K -> B K C + Bᵀ K Cᵀ, a sum of two Kronecker products.
    B, C, X = rng.standard_normal((4, 4)), rng.standard_normal((3, 3)), rng.standard_normal((4, 3))

    def f(X):
        return np.trace(X.T @ B @ X @ C)

    assert check_second_derivative(f, X, np.kron(C.T, B) + np.kron(C, B.T))
    result = check_second_derivative(f, X, np.kron(B, C.T) + np.kron(B.T, C))
    assert result.mistake == "row-major" and "order='F'" in result.message
    result = check_second_derivative(f, X, np.kron(C.T, B.T) + np.kron(C, B))
    assert result.mistake == "kronecker-factor" and "transposed" in result.message
    result = check_second_derivative(f, X, 2 * np.kron(C.T, B))
    assert result.mistake == "symmetrisation"


def test_tensor_index_order_is_named(rng):
    B, C, X = rng.standard_normal((3, 3)), rng.standard_normal((3, 3)), rng.standard_normal((3, 3))

    def f(X):
        return np.trace(X.T @ B @ X @ C)

    T = np.einsum("jm,nk->jkmn", B, C) + np.einsum("mj,kn->jkmn", B, C)
    assert check_second_derivative(f, X, T)
    result = check_second_derivative(f, X, T.transpose(0, 2, 1, 3))
    assert result.mistake == "index-order" and "[j, m, k, n]" in result.message


def test_sign_scale_and_zero_are_named(layer):
    L, A, H, W, _ = layer
    P, Q = A.T @ A, W @ W.T
    assert check_second_derivative(L, H, lambda K: -P @ K @ Q).mistake == "sign"
    half = check_second_derivative(L, H, 0.5 * np.kron(Q, P))
    assert half.mistake == "scale" and "½" in half.message
    assert check_second_derivative(L, H, np.zeros((12, 12))).mistake == "zero"
    assert check_second_derivative(L, H, lambda K1, K2: 0.0).mistake == "zero"


def test_checker_and_hessian_agree_to_their_stated_accuracy(tanh_layer):
    L, r, H, full, gauss_newton = tanh_layer
    assert check_second_derivative(L, H, hessian(L, H))  # about 1e-10: within rtol=1e-6
    rough = hessian(L, H, "central")  # about 1e-7 of the scale
    assert check_second_derivative(L, H, rough, rtol=1e-4)
    assert check_second_derivative(L, H, rough, rtol=1e-12).verdict == "wrong"


def test_one_wrong_entry_is_wrong(layer):
    L, A, H, W, _ = layer
    M = np.kron(W @ W.T, A.T @ A)
    for rel_change in (1e-3, 1e-5):
        bad = M.copy()
        bad[5, 7] += rel_change * np.abs(M).max()
        bad[7, 5] += rel_change * np.abs(M).max()  # still symmetric
        assert check_second_derivative(L, H, bad).verdict == "wrong"


def test_wrong_claims_are_never_correct(layer, rng):
    L, A, H, W, _ = layer
    P, Q = A.T @ A, W @ W.T
    claims = [
        2 * np.kron(Q, P),
        np.kron(P, Q),
        np.kron(Q, P) + 1e-4 * np.eye(12),
        lambda K: P @ K @ Q.T @ Q,
        lambda K1, K2: np.sum(K1 * (P @ K2 @ Q)) + 1e-3 * np.sum(K1) * np.sum(K2),
        np.einsum("jm,kn->jkmn", P, Q) + 1e-3,
    ]
    for claim in claims:
        assert check_second_derivative(L, H, claim).verdict == "wrong"


def test_non_analytic_f_is_checked_by_central_differences(rng):
    X = rng.standard_normal((3, 2)) + 3.0  # away from 0: |x|³ is smooth there

    def f(X):
        return np.sum(np.abs(X) ** 3)

    with pytest.raises(TypeError, match="method='central'"):
        hessian(f, X, "complex-step")  # abs of a complex number is real
    with pytest.raises(TypeError, match="method='central'"):
        hvp(f, X, X, "complex-step")
    assert hessian(f, X).method == "central" and hvp(f, X, X).method == "central"  # auto

    def cube(X):
        return np.sum(X * X.conj() * X)  # x³ at a real x, but not analytic

    with pytest.raises(ValueError, match="method='central'"):
        hessian(cube, X, "complex-step")
    with pytest.raises(ValueError, match="method='central'"):
        hvp(cube, X, X, "complex-step")
    assert np.allclose(hvp(cube, X, X), 6 * X * X, rtol=1e-5)  # auto: central
    with pytest.raises(ValueError, match="method='central'"):
        check_second_derivative(cube, X, np.diag(vec(6 * X)), method="complex-step")
    assert check_second_derivative(cube, X, np.diag(vec(6 * X)))  # auto: central
    T = hessian(f, X, "central")
    want = np.diag(vec(6 * np.abs(X)))
    assert rel(vec_hessian(T), want) < 1e-6
    K = rng.standard_normal(X.shape)
    assert rel(hvp(f, X, K, "central"), 6 * np.abs(X) * K) < 1e-6
    result = check_second_derivative(f, X, want)
    assert result and result.method == "central"
    assert check_second_derivative(f, X, 2 * want).verdict == "wrong"


def test_undecided_where_the_gradient_has_a_kink(rng):
    X = rng.standard_normal((3, 2))
    X[1, 0] = 0.0

    def f(X):
        return np.sum(X * np.abs(X))  # gradient 2|x|: no second derivative at 0

    result = check_second_derivative(f, X, np.diag(vec(2 * np.abs(X))))
    assert result.verdict == "undecided" and not result
    with pytest.raises(ValueError, match="differentiable"):
        hessian(f, X, "central")


def test_undecided_for_a_non_finite_claim(layer):
    L, A, H, W, _ = layer
    M = np.kron(W @ W.T, A.T @ A)
    M[0, 0] = np.nan
    result = check_second_derivative(L, H, M)
    assert result.verdict == "undecided" and "non-finite" in result.message
    result = check_second_derivative(L, H, lambda K: np.full(K.shape, np.inf))
    assert result.verdict == "undecided"


def test_f_modifying_its_input_and_not_broadcasting(rng):
    B, X = rng.standard_normal((3, 3)), rng.standard_normal((3, 2))

    def f(X):
        X *= 2  # in place: mdcalc passes copies
        return np.trace(X.T @ B @ X) / 4  # X.T mixes a stack's axes: called one by one

    K = rng.standard_normal(X.shape)
    assert rel(hvp(f, X, K), (B + B.T) @ K) < 1e-9
    assert rel(np.tensordot(hessian(f, X), K, 2), (B + B.T) @ K) < 1e-9


def test_central_refuses_what_it_cannot_resolve(rng):
    C, X = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))

    def linear(X):
        return np.sum(C * X) + 10.0

    # The complex step gives the zero Hessian; central differences only see rounding.
    assert np.abs(hessian(linear, X)).max() <= 1e-12
    with pytest.raises(ValueError, match="too small beside f"):
        hessian(linear, X, "central")
    with pytest.raises(ValueError, match="too small beside f"):
        hvp(linear, X, rng.standard_normal(X.shape), "central")
    result = check_second_derivative(linear, X, np.zeros((6, 6)), method="central")
    assert result.verdict == "undecided"
    assert check_second_derivative(linear, X, np.zeros((6, 6)))  # complex step: zero

    def large(X):  # f = 1e6 beside curvature 1: rounding 4 eps |f| / t² is 6e-2
        return 1e6 + 0.5 * np.sum(X**2)

    with pytest.raises(ValueError, match="too small beside f"):
        hessian(large, np.ones((2, 2)), "central")
    assert rel(vec_hessian(hessian(large, np.ones((2, 2)))), np.eye(4)) < 1e-9

    # Curvature 5e-6 beside f = 1.7e7: rounding alone is larger than the Hessian.
    rng31 = np.random.default_rng(31)
    X31 = rng31.standard_normal((2, 3))

    def flat(X):
        return 16802522.565330718 + 2.5472382886108945e-06 * np.sum(np.tanh(X) ** 2)

    T31 = hessian(flat, X31)
    try:
        assert rel(hessian(flat, X31, "central"), T31) < 1e-5
    except ValueError as exc:
        assert "too small beside f" in str(exc) or "unreliable" in str(exc)
    for seed in range(12):  # never a silent answer off by more than 1e-5
        Xr = np.random.default_rng(seed).standard_normal((2, 3))
        try:
            assert rel(hessian(flat, Xr, "central"), hessian(flat, Xr)) < 1e-5
        except ValueError as exc:
            assert "central" in str(exc) or "beside" in str(exc)

    def steep(X):  # varies on a scale of 0.03, beside X ~ 1e-2: steps of 1e-4 too large
        return np.sum(np.log(X**2 + 1e-3))

    Xs = 1e-2 * rng.standard_normal((3, 2))
    with pytest.raises(ValueError, match="unreliable"):
        hessian(steep, Xs, "central")
    want = np.diag(vec(2 * (1e-3 - Xs**2) / (Xs**2 + 1e-3) ** 2))
    assert rel(vec_hessian(hessian(steep, Xs)), want) < 1e-9


def test_asymmetric_numeric_hessian_is_refused():
    from mdcalc.second_order import _symmetrise

    H = np.array([[1.0, 2.0], [2.0 + 1e-3, 3.0]])
    with pytest.raises(ValueError, match="not symmetric"):
        _symmetrise(H, (2,))
    assert np.array_equal(_symmetrise(H, (2,), allowed=1e-2), (H + H.T) / 2)
    small = np.array([[1.0, 2.0], [2.0 + 1e-5, 3.0]])  # within 1e-4 of the largest entry
    assert np.array_equal(_symmetrise(small, (2,)), (small + small.T) / 2)


# ----------------------------------------------------------------------- hostile input


def test_hostile_inputs_give_clear_errors(layer):
    L, A, H, W, _ = layer
    with pytest.raises(ValueError, match="scalar"):
        hessian(lambda H: A @ H @ W, H)
    with pytest.raises(ValueError, match="scalar"):
        hvp(lambda H: np.sum(H, axis=0), H, H)
    with pytest.raises(TypeError, match="complex"):
        hessian(lambda H: np.sum(H) * (1 + 1j), H)
    with pytest.raises(ValueError, match="non-finite"):
        hessian(L, np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match="non-finite"):
        hvp(L, H, np.full((4, 3), np.inf))
    with pytest.raises(ValueError, match="non-finite"):
        hessian(lambda H: np.sum(H) + np.inf, H)
    with pytest.raises(TypeError, match="real"):
        hessian(L, H + 1j)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        hessian(L, np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="method"):
        hessian(L, H, "forward")
    with pytest.raises(ValueError, match="method"):
        hvp(L, H, H, "exact")
    with pytest.raises(ValueError, match="method"):
        check_second_derivative(L, H, np.eye(12), method="exact")
    with pytest.raises(TypeError, match="max_memory"):
        hessian(L, H, max_memory=1.5)
    with pytest.raises(ValueError, match="K must have X's shape"):
        hvp(L, H, np.ones((3, 4)))
    with pytest.raises(TypeError, match="method='central'"):
        hessian(lambda H: np.sum(np.abs(H) ** 2), H, "complex-step")  # real for complex H
    with pytest.raises(ValueError, match="form"):
        check_second_derivative(L, H, np.eye(12), form="vec")
    with pytest.raises(TypeError, match="form='map' or form='bilinear'"):
        check_second_derivative(L, H, lambda *Ks: Ks[0])
    with pytest.raises(TypeError, match="callable"):
        check_second_derivative(L, H, np.eye(12), form="map")


def test_huge_x_is_refused_before_f_is_called():
    def f(X):
        raise AssertionError("f must not be called")

    X = np.zeros((1000, 100))
    with pytest.raises(ValueError, match=r"100,000 x 100,000|100000 x 100000"):
        hessian(f, X)
    # 10 x 10: the Hessian and its symmetrised copy take 2 * 8 * 100² = 160,000 bytes.
    with pytest.raises(ValueError, match="160,000 bytes, more than max_memory=159,999"):
        hessian(f, np.zeros((10, 10)), max_memory=159_999)
    fits = hessian(lambda X: np.sum(X**2), np.zeros((10, 10)), max_memory=160_000)
    assert fits.shape == (10, 10, 10, 10)


def test_claims_of_the_wrong_shape_or_that_fail(layer):
    L, A, H, W, _ = layer
    result = check_second_derivative(L, H, np.eye(11))
    assert result.verdict == "wrong" and result.mistake == "shape"
    assert "(4, 3, 4, 3)" in result.message and "(12, 12)" in result.message
    result = check_second_derivative(L, H, np.ones((4, 3)))
    assert result.mistake == "shape" and "gradient" in result.message
    result = check_second_derivative(L, H, lambda K: K.T)
    assert result.mistake == "shape" and "returned shape 3x4" in result.message
    result = check_second_derivative(L, H, lambda K1, K2: K1)
    assert result.mistake == "shape" and "is a number" in result.message

    def broken(K):
        raise ZeroDivisionError("oops")

    with pytest.raises(ValueError, match="ZeroDivisionError"):
        check_second_derivative(L, H, broken)
    with pytest.raises(TypeError, match="complex"):
        check_second_derivative(L, H, np.eye(12) * 1j)
    with pytest.raises(TypeError):
        check_second_derivative(L, H, "the Hessian")


def test_readme_example_runs_and_says_what_it_claims(capsys):
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    ours = [b for b in blocks if "check_second_derivative" in b]
    setup = [b for b in blocks if "mdcalc.check_derivative(f, H, M)" in b]
    assert len(ours) == 1 and len(setup) == 1
    exec(setup[0] + ours[0], {})
    out = capsys.readouterr().out
    verdicts = [line for line in out.splitlines() if line.startswith(("correct", "wrong"))]
    assert [v.split(":")[0] for v in verdicts[-3:]] == ["correct", "correct", "wrong"]
    assert "factors swapped" in out.replace("\n", " ")
