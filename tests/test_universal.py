"""Property tests behind the book's universal sentences, each over the range its sentence states.

A sentence of the book that says "never", "always", "only", "exactly", "for every", "in any",
"as soon as" or "cannot" names one of these tests in a ``% claim:`` line after it (the house
rule, ``tests/test_claims.py``). Each test draws its matrices from the special cases first:
zero, sparse (many zero entries), rank-deficient, symmetric, multiples of the identity, 1 x 1
and equal sizes, then general ones; integer entries keep the algebra exact where it can be.
The docstring of each test says which sentence it backs and over what range.
"""

from __future__ import annotations

from itertools import permutations, product

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

import mdcalc
from mdcalc import gcn

FAST = settings(max_examples=40, deadline=None, derandomize=True)
SLOW = settings(max_examples=8, deadline=None, derandomize=True)
dims = st.integers(min_value=1, max_value=4)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
KINDS = ["random", "zero", "sparse", "rank one", "symmetric", "identity"]
kinds = st.sampled_from(KINDS)


def special(seed: int, rows: int, cols: int, kind: str) -> np.ndarray:
    """An integer matrix of the given kind (a kind that needs a square falls back to random)."""
    rng = np.random.default_rng(seed)
    M = rng.integers(-3, 4, size=(rows, cols))
    if kind == "zero":
        return np.zeros((rows, cols), dtype=int)
    if kind == "sparse":
        return M * (rng.random((rows, cols)) < 0.3)
    if kind == "rank one":
        return np.outer(rng.integers(-2, 3, rows), rng.integers(-2, 3, cols))
    if kind == "symmetric" and rows == cols:
        return M + M.T
    if kind == "identity" and rows == cols:
        return int(rng.integers(-2, 3)) * np.eye(rows, dtype=int)
    return M


def is_symmetric(M: np.ndarray) -> bool:
    return M.shape[0] == M.shape[1] and np.array_equal(M, M.T)


def rank(M: np.ndarray) -> int:
    return int(np.linalg.matrix_rank(M)) if M.size else 0


# Chapter 1: the question


@FAST
@given(V=dims, d1=dims, d2=dims, a=kinds, w=kinds, seed=seeds)
@example(V=1, d1=1, d2=3, a="random", w="random", seed=0)
@example(V=2, d1=2, d2=2, a="identity", w="identity", seed=1)
def test_AW_holds_the_derivative_iff_H_is_1x1(V, d1, d2, a, w, seed):
    """"A W" is wrong unless H is a single number, where it holds the derivative's numbers:
    at every size, A W has the derivative's numbers exactly when V = d1 = 1."""
    A, W = special(seed, V, V, a), special(seed + 1, d1, d2, w)
    J = mdcalc.jacobian_tensor(A, W)
    same = V == d1 and J.size == V * d2 and np.array_equal(J.ravel(), (A @ W).ravel())
    assert same == (V == d1 == 1)


@FAST
@given(V=dims, d1=dims, d2=dims, seed=seeds)
def test_the_derivative_has_one_number_per_pair_of_entries(V, d1, d2, seed):
    """One partial derivative for every pair (entry of Z, entry of H): V d2 · V d1 numbers."""
    rng = np.random.default_rng(seed)
    A, H, W = (rng.standard_normal(s) for s in [(V, V), (V, d1), (d1, d2)])
    J = mdcalc.jacobian(lambda H: A @ H @ W, H)
    assert J.shape == (V, d2, V, d1) and J.size == (V * d2) * (V * d1)


@FAST
@given(V=dims, d1=dims, d2=dims, a=kinds, w=kinds, seed=seeds)
def test_the_increment_of_AHW_is_exactly_AKW(V, d1, d2, a, w, seed):
    """When H moves to H + K, Z = A H W changes by exactly A K W (any H, K; integers: exact)."""
    A, W = special(seed, V, V, a), special(seed + 1, d1, d2, w)
    H, K = special(seed + 2, V, d1, "random"), special(seed + 3, V, d1, "sparse")
    assert np.array_equal(A @ (H + K) @ W - A @ H @ W, A @ K @ W)


@FAST
@given(V=dims, d1=dims, d2=dims, a=kinds, w=kinds, seed=seeds)
@example(V=3, d1=3, d2=2, a="random", w="random", seed=5)  # W with fewer columns
@example(V=3, d1=3, d2=3, a="rank one", w="random", seed=6)  # A singular
def test_ANW_is_zero_for_a_nonzero_N_iff_A_is_singular_or_W_has_dependent_rows(
    V, d1, d2, a, w, seed
):
    """A N W = 0 has a solution N != 0 as soon as A is singular or the rows of W are
    dependent, and only N = 0 otherwise (A invertible, W with a right inverse)."""
    A, W = special(seed, V, V, a), special(seed + 1, d1, d2, w)
    has_kernel = rank(np.kron(W.T, A)) < V * d1
    assert has_kernel == (rank(A) < V or rank(W) < d1)
    if rank(A) < V:  # a witness: N = u v^T with A u = 0
        u = np.linalg.svd(A)[2][-1]
        N = np.outer(u, np.ones(d1))
        assert np.allclose(A @ N @ W, 0, atol=1e-9)


# Chapter 2: component-wise


@SLOW
@given(V=st.integers(1, 3), d1=st.integers(1, 3), d2=st.integers(1, 2))
def test_each_entry_of_Z_is_a_sum_of_Vd1_terms_with_one_entry_of_H_each(V, d1, d2):
    """Each entry of Z is a sum of V d1 terms, each with exactly one entry of H (symbols)."""
    A = sp.Matrix(V, V, lambda i, j: sp.Symbol(f"a{i}{j}"))
    H = sp.Matrix(V, d1, lambda j, k: sp.Symbol(f"h{j}{k}"))
    W = sp.Matrix(d1, d2, lambda k, l: sp.Symbol(f"w{k}{l}"))
    Z = A * H * W
    for i, l in product(range(V), range(d2)):
        terms = sp.Add.make_args(sp.expand(Z[i, l]))
        assert len(terms) == V * d1
        for term in terms:
            assert sp.Poly(term, *H).total_degree() == 1
            assert len(term.free_symbols & set(H)) == 1


DISTINCT = st.permutations([1, 2, 3, 4, 5]).map(lambda p: tuple(p[:3]))


@SLOW
@given(sizes=DISTINCT.filter(lambda s: s[0] >= 2), seed=seeds)
@example(sizes=(4, 3, 2), seed=3)
def test_every_misplaced_index_changes_the_tensor_at_distinct_sizes(sizes, seed):
    """With no two of V, d1, d2 equal (and V > 1), an index in the wrong place cannot go
    unnoticed: every einsum spec that places the four letters otherwise than
    A_ij W_kl -> (i, l, j, k) gives the wrong shape or, for random matrices, wrong numbers.
    (At V = 1, A is 1 x 1 and its two indices can be swapped unseen; checked too.)"""
    V, d1, d2 = sizes
    rng = np.random.default_rng(seed)
    A, H, W = (rng.standard_normal(s) for s in [(V, V), (V, d1), (d1, d2)])
    J = mdcalc.jacobian(lambda H: A @ H @ W, H)
    for letters in permutations("ijkl"):
        a, w = "".join(letters[:2]), "".join(letters[2:])
        for out in permutations("ijkl"):
            T = np.einsum(f"{a},{w}->{''.join(out)}", A, W)
            right = T.shape == J.shape and np.allclose(T, J, rtol=1e-12, atol=1e-12)
            assert right == (out == (a[0], w[1], a[1], w[0])), (a, w, out)
    a1 = np.array([[2.0]])
    assert np.array_equal(np.einsum("ji,kl->iljk", a1, W), np.einsum("ij,kl->iljk", a1, W))


@FAST
@given(V=dims, d1=dims, d2=dims, a=kinds, w=kinds, seed=seeds)
def test_the_component_formula_holds_at_every_entry(V, d1, d2, a, w, seed):
    """dZ_il / dH_jk = A_ij W_kl for all i, l, j, k, at every H: so H's entry (j, k) reaches
    Z's entry (i, l) only through A_ij W_kl."""
    A, W = special(seed, V, V, a), special(seed + 1, d1, d2, w)
    H = np.random.default_rng(seed).standard_normal((V, d1))
    J = mdcalc.jacobian(lambda H: A @ H @ W, H)
    assert np.allclose(J, np.einsum("ij,kl->iljk", A, W), rtol=0, atol=1e-12)


@FAST
@given(V=dims, d1=dims, d2=dims, a=kinds, w=kinds, seed=seeds)
@example(V=3, d1=3, d2=3, a="random", w="symmetric", seed=0)
@example(V=2, d1=2, d2=2, a="zero", w="random", seed=0)
@example(V=1, d1=1, d2=1, a="random", w="random", seed=0)
def test_kron_A_W_is_the_row_major_jacobian_iff_W_is_symmetric(V, d1, d2, a, w, seed):
    """np.kron(A, W) is the row-major vec-Jacobian exactly when d1 = d2 and W is symmetric,
    for every A (or A = 0); otherwise it is not."""
    A, W = special(seed, V, V, a), special(seed + 1, d1, d2, w)
    row_major = mdcalc.jacobian_tensor(A, W).reshape(V * d2, V * d1)
    K = np.kron(A, W)
    equal = K.shape == row_major.shape and np.array_equal(K, row_major)
    assert equal == (d1 == d2 and (is_symmetric(W) or not A.any()))


@FAST
@given(V=dims, d1=dims, d2=dims, a=kinds, w=kinds, seed=seeds)
@example(V=3, d1=2, d2=4, a="symmetric", w="random", seed=0)
def test_kron_A_W_is_the_transposed_row_major_jacobian_iff_A_is_symmetric(
    V, d1, d2, a, w, seed
):
    """np.kron(A, W) is the row-major vec-Jacobian transposed (the denominator layout, rows
    stacked) exactly when A is symmetric (or W = 0), at every size."""
    A, W = special(seed, V, V, a), special(seed + 1, d1, d2, w)
    row_major = mdcalc.jacobian_tensor(A, W).reshape(V * d2, V * d1)
    assert np.array_equal(np.kron(A, W), row_major.T) == (is_symmetric(A) or not W.any())


@FAST
@given(V=dims, d=dims, d2=dims, a=kinds, w=kinds, seed=seeds)
def test_one_sided_products_see_one_column_or_one_row(V, d, d2, a, w, seed):
    """For Z = A H, entry (i, l) depends only on column l of H (dZ_il/dH_jk = A_ij delta_lk);
    for Z = H W, row i of Z depends only on row i of H (delta_ij W_kl)."""
    A, W = special(seed, V, V, a), special(seed + 1, d, d2, w)
    H = np.random.default_rng(seed).standard_normal((V, d))
    left = mdcalc.jacobian(lambda H: A @ H, H)
    assert np.allclose(left, np.einsum("ij,lk->iljk", A, np.eye(d)), atol=1e-12)
    right = mdcalc.jacobian(lambda H: H @ W, H)
    assert np.allclose(right, np.einsum("ij,kl->iljk", np.eye(V), W), atol=1e-12)
    for l, k in product(range(d), range(d)):
        if l != k:
            assert not left[:, l, :, k].any()
    for i, j in product(range(V), range(V)):
        if i != j:
            assert not right[i, :, j, :].any()


@FAST
@given(V=dims, d1=dims, d2=dims, a=kinds, seed=seeds)
def test_the_derivative_by_W_is_AH_times_a_delta(V, d1, d2, a, seed):
    """dZ_il / dW_jk = (A H)_ij delta_lk: only m = j survives, and only when l = k."""
    A = special(seed, V, V, a)
    rng = np.random.default_rng(seed)
    H, W = rng.standard_normal((V, d1)), rng.standard_normal((d1, d2))
    J = mdcalc.jacobian(lambda W: A @ H @ W, W)
    assert np.allclose(J, np.einsum("ij,lk->iljk", A @ H, np.eye(d2)), atol=1e-12)


# Chapter 4: the total differential


@FAST
@given(m=dims, p=dims, r=dims, s=dims, kind=kinds, seed=seeds)
def test_a_linear_map_is_its_own_derivative(m, p, r, s, kind, seed):
    """A linear F is differentiable at every X with DF(X) = F: F(X + K) = F(X) + F(K)
    exactly, and F's matrix is its vec-Jacobian at every X."""
    M = special(seed, r * s, m * p, kind)

    def F(X):
        return mdcalc.unvec(M @ mdcalc.vec(X), (r, s))

    X, K = special(seed + 1, m, p, "random"), special(seed + 2, m, p, "sparse")
    assert np.array_equal(F(X + K), F(X) + F(K))
    if M.any():
        result = mdcalc.check_derivative(F, X.astype(float), M.astype(float))
        assert result, result.message


@FAST
@given(V=dims, d1=dims, d2=dims, seed=seeds)
def test_the_swapped_pairing_is_refused_iff_V_differs_from_d1(V, d1, d2, seed):
    """A^i_k W^j_l contracted with dH^j_k cannot be evaluated where V != d1: k would run over
    the V columns of A and the d1 columns of K at once (and j over d1 and V). numpy's einsum
    refuses it there, except where a length is 1, which it broadcasts; where V = d1 it can
    be evaluated."""
    rng = np.random.default_rng(seed)
    A, W = rng.standard_normal((V, V)), rng.standard_normal((d1, d2))
    K = rng.standard_normal((V, d1))
    ranges: dict[str, set[int]] = {}
    for letters, M in zip(["ik", "jl", "jk"], [A, W, K], strict=True):
        for c, n in zip(letters, M.shape, strict=True):
            ranges.setdefault(c, set()).add(n)
    conflict = any(len(n) > 1 for n in ranges.values())
    assert conflict == (V != d1)
    try:
        np.einsum("ik,jl,jk->il", A, W, K)
        refused = False
    except ValueError:
        refused = True
    assert refused == (V != d1 and min(V, d1) > 1)


@FAST
@given(V=st.integers(1, 5), d1=st.integers(1, 5), d2=st.integers(1, 5), seed=seeds)
def test_both_readings_of_the_third_answer_are_right(V, d1, d2, seed):
    """DZ(H)^{ij}_{kl} = A^i_l W^j_k is right at every size read as the thread says
    ((1, 1)-tensors: dZ_ik/dH_lj = A_il W_jk) and read the book's first way
    (dZ_ij/dH_lk = A_il W_kj)."""
    rng = np.random.default_rng(seed)
    A, H, W = (rng.standard_normal(s) for s in [(V, V), (V, d1), (d1, d2)])
    J = mdcalc.jacobian(lambda H: A @ H @ W, H)
    assert np.allclose(np.einsum("il,jk->iklj", A, W), J, rtol=0, atol=1e-12)
    assert np.allclose(np.einsum("il,kj->ijlk", A, W), J, rtol=0, atol=1e-12)


@FAST
@given(n=dims, x=kinds, k=kinds, seed=seeds)
@example(n=2, x="identity", k="random", seed=0)
@example(n=1, x="random", k="random", seed=0)
def test_XK_plus_KX_is_2XK_iff_X_and_K_commute(n, x, k, seed):
    """The derivative of X^2 along K, X K + K X, equals 2 X K only when K commutes with X."""
    X, K = special(seed, n, n, x), special(seed + 1, n, n, k)
    assert np.array_equal(X @ K + K @ X, 2 * X @ K) == np.array_equal(X @ K, K @ X)


# Chapter 5: conventions


def test_the_example_of_chapter_5_has_one_partial_derivative_equal_to_9():
    """Among the 72 partial derivatives of the integer example, exactly one equals 9, since
    3 is the only entry 3 of A and of W and no other product reaches 9."""
    A = np.array([[2, 0, 1], [1, 3, 0], [0, 1, 1]])
    W = np.array([[1, 0, 2, 1], [0, 1, 1, 3]])
    J = mdcalc.jacobian_tensor(A, W)
    assert J.size == 72 and np.count_nonzero(J == 9) == 1 and J[1, 3, 1, 1] == 9
    assert np.count_nonzero(A == 3) == 1 and np.count_nonzero(W == 3) == 1


# Chapter 6: backpropagation


@st.composite
def graphs(draw):
    """An undirected graph (symmetric 0/1 adjacency), random or a union of regular pieces."""
    if draw(st.booleans()):
        n = draw(st.integers(1, 8))
        upper = np.triu(np.array(draw(st.lists(st.booleans(), min_size=n * n,
                                               max_size=n * n))).reshape(n, n), 1)
        return (upper + upper.T).astype(float)
    pieces = draw(st.lists(st.sampled_from(["point", "edge", "triangle", "ring5", "K4"]),
                           min_size=1, max_size=3))
    blocks = {
        "point": np.zeros((1, 1)), "edge": np.ones((2, 2)) - np.eye(2),
        "triangle": np.ones((3, 3)) - np.eye(3), "K4": np.ones((4, 4)) - np.eye(4),
        "ring5": np.roll(np.eye(5), 1, 1) + np.roll(np.eye(5), -1, 1),
    }
    size = sum(len(blocks[p]) for p in pieces)
    A, at = np.zeros((size, size)), 0
    for p in pieces:
        b = blocks[p]
        A[at:at + len(b), at:at + len(b)] = b
        at += len(b)
    return A


TRIANGLE_AND_EDGE = np.array([[0, 1, 1, 0, 0], [1, 0, 1, 0, 0], [1, 1, 0, 0, 0],
                              [0, 0, 0, 0, 1], [0, 0, 0, 1, 0]], dtype=float)
PATH = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float)


@FAST
@given(A=graphs())
def test_the_symmetric_normalisation_of_an_undirected_graph_is_symmetric(A):
    """For an undirected graph, A + I is symmetric and so is D^-1/2 (A + I) D^-1/2."""
    S = gcn.normalised_adjacency(A).toarray()
    assert np.allclose(S, S.T, rtol=0, atol=1e-15)


@FAST
@given(A=graphs())
@example(A=TRIANGLE_AND_EDGE)
@example(A=PATH)
def test_the_row_normalisation_is_symmetric_iff_every_edge_joins_equal_degrees(A):
    """D^-1 (A + I) of an undirected graph is symmetric exactly when every edge joins two
    nodes of the same degree (each connected piece regular); different degrees alone do
    not break it (a triangle and a separate edge)."""
    P = gcn.normalised_adjacency(A, kind="row").toarray()
    degree = A.sum(axis=1)
    equal = all(degree[i] == degree[j] for i, j in zip(*np.nonzero(A), strict=True))
    assert np.allclose(P, P.T, rtol=0, atol=1e-15) == equal


@FAST
@given(V=dims, d1=dims, d2=dims, a=kinds, seed=seeds)
def test_a_symmetric_A_hides_the_forgotten_transpose(V, d1, d2, a, seed):
    """A symmetric A cannot tell A G W^T (transpose forgotten) from A^T G W^T; a
    non-symmetric A tells them apart for some G (here G = I with W = I)."""
    A = special(seed, V, V, a)
    G, W = special(seed + 1, V, d2, "random"), special(seed + 2, d1, d2, "random")
    S = A + A.T
    assert np.array_equal(S.T @ G @ W.T, S @ G @ W.T)
    if not is_symmetric(A):
        assert not np.array_equal(A.T @ np.eye(V) @ np.eye(V), A @ np.eye(V))


@FAST
@given(V=st.integers(2, 30), d1=dims, d2=dims, seed=st.integers(0, 100))
def test_the_vjp_costs_as_much_as_the_forward_pass_iff_d1_equals_d2(V, d1, d2, seed):
    """The backward pass for dL/dH, (A^T G) W^T, takes exactly as many multiply-adds as the
    forward pass (A H) W when d1 = d2, and only then (nnz(A_hat) >= V > 0)."""
    A_hat = gcn.normalised_adjacency(gcn.random_graph(V, 3, seed=seed))
    rng = np.random.default_rng(seed)
    H, W, G = (rng.standard_normal(s) for s in [(V, d1), (d1, d2), (V, d2)])
    mult = gcn.matmul_multiply_adds

    def count(fn, dense):
        _, log = gcn.record_sparse_products(fn, A_hat)
        return sum(mult(*entry) for entry in log) + mult(*dense)

    backward = count(lambda A: mdcalc.vjp(A, W, G), ((V, d2), (d2, d1)))
    forward = count(lambda A: (A @ H) @ W, ((V, d1), (d1, d2)))
    assert (backward == forward) == (d1 == d2)


@FAST
@given(V=dims, d1=dims, d2=dims, seed=seeds)
def test_the_kron_jacobian_takes_8_V2_d1_d2_bytes(V, d1, d2, seed):
    """The Jacobian W^T kron A, in 8-byte floats, takes exactly 8 V^2 d1 d2 bytes."""
    rng = np.random.default_rng(seed)
    J = mdcalc.kron_jacobian(rng.standard_normal((V, V)), rng.standard_normal((d1, d2)))
    assert J.nbytes == 8 * V**2 * d1 * d2


# Chapter 7: the gallery


def test_sympy_is_not_always_right():
    """sympy is right most of the time, but not always: its derivative of log det X is a
    silent zero (sympy 1.14), where the gradient is X^-T."""
    X = sp.MatrixSymbol("X", 3, 3)
    said = sp.log(sp.Determinant(X)).diff(X)
    assert said == 0 or isinstance(said, sp.ZeroMatrix)
    X0 = np.eye(3) + np.diag([1.0, 2.0, 3.0])
    gradient = mdcalc.jacobian(lambda X: np.log(np.linalg.det(X)), X0)
    assert np.allclose(gradient, np.linalg.inv(X0).T) and gradient.any()


@FAST
@given(m=dims, p=dims, r=dims, s=dims, a=kinds, b=kinds, seed=seeds)
def test_the_derivative_of_A_Xt_B_is_A_ik_B_jl(m, p, r, s, a, b, seed):
    """In (A X^T B)_il = sum A_ia X_ba B_bl only a = k, b = j survives: d/dX_jk = A_ik B_jl."""
    A, B = special(seed, r, p, a), special(seed + 1, m, s, b)
    X = np.random.default_rng(seed).standard_normal((m, p))
    J = mdcalc.jacobian(lambda X: A @ X.T @ B, X)
    assert np.allclose(J, np.einsum("ik,jl->iljk", A, B), rtol=0, atol=1e-12)


@FAST
@given(m=dims, p=dims, x=kinds, seed=seeds)
def test_the_hadamard_square_has_a_diagonal_jacobian(m, p, x, seed):
    """(X ⊙ X)_il depends only on X_il: the tensor is zero except where the output entry is
    the input entry, and the vec-Jacobian is diag(2 vec X)."""
    X = special(seed, m, p, x).astype(float)
    J = mdcalc.jacobian(lambda X: X * X, X)
    M = mdcalc.tensor_to_matrix(J, (m, p), (m, p))
    assert np.allclose(M, np.diag(2 * mdcalc.vec(X)), rtol=0, atol=1e-12)


@FAST
@given(x=st.floats(-1e3, 1e3).filter(lambda x: abs(x) > 1e-3))
@example(x=-1.0)
def test_the_complex_step_cannot_pass_through_an_absolute_value(x):
    """|x + ih| is a real number, so the complex step finds a slope of 0 for |x| at every
    x != 0, where the slope is sign(x)."""
    h = 1e-20
    step = np.abs(x + 1j * h)
    assert step.imag == 0 and step.imag / h != np.sign(x)


@SLOW
@given(n=dims, x=kinds, seed=seeds)
@example(n=3, x="rank one", seed=0)
@example(n=1, x="zero", seed=0)
@example(n=3, x="zero", seed=0)
def test_the_gradient_of_det_is_the_transposed_adjugate_at_every_square_X(n, x, seed):
    """d det X / dX_jk is the cofactor of (j, k), entry (k, j) of adj(X), at every square X,
    singular or not (exact, with integer entries)."""
    X = special(seed, n, n, x)
    symbols = sp.Matrix(n, n, lambda j, k: sp.Symbol(f"x{j}{k}"))
    det = symbols.det()
    at = dict(zip(symbols, X.ravel().tolist(), strict=True))
    gradient = sp.Matrix(n, n, lambda j, k: sp.diff(det, symbols[j, k]).subs(at))
    adjugate = sp.Matrix(X.tolist()).adjugate() if n > 1 else sp.Matrix([[1]])
    assert gradient == adjugate.T


@FAST
@given(n=dims, a=kinds, seed=seeds)
@example(n=3, a="symmetric", seed=0)
def test_the_gradient_of_xtAx_is_2Ax_iff_A_is_symmetric(n, a, seed):
    """The gradient of x^T A x is (A + A^T) x; it is 2 A x for every x only when A is
    symmetric."""
    A = special(seed, n, n, a)
    x = np.random.default_rng(seed).standard_normal(n)
    gradient = mdcalc.jacobian(lambda x: x @ A @ x, x)
    assert np.allclose(gradient, (A + A.T) @ x, rtol=0, atol=1e-12)
    every_x = all(np.array_equal((A + A.T) @ e, 2 * A @ e) for e in np.eye(n, dtype=int))
    assert every_x == is_symmetric(A)


# Chapter 8: second derivatives


def test_the_second_directional_limit_can_exist_without_being_bilinear():
    """The limit of (Df(X + t K2)[K1] - Df(X)[K1]) / t can exist for all K1, K2 without
    being linear in K2: f(x, y) = x^3 y / (x^2 + y^2) at 0 (f is differentiable, with a
    gradient that is homogeneous of degree 1 and not linear)."""
    x, y, t = sp.symbols("x y t", real=True)
    f = x**3 * y / (x**2 + y**2)
    grad = [sp.diff(f, v) for v in (x, y)]
    # f is differentiable at 0 with gradient 0: |f| <= |x| |y| <= x^2 + y^2
    assert sp.limit(f.subs({x: t, y: 0}) / t, t, 0) == 0
    assert sp.limit(f.subs({x: 0, y: t}) / t, t, 0) == 0

    def limit(K1, K2):  # Df(0)[K1] = 0
        along = sum(g.subs({x: t * K2[0], y: t * K2[1]}) * k
                    for g, k in zip(grad, K1, strict=True))
        return sp.limit(along / t, t, 0)

    def g(K2):
        return [limit((1, 0), K2), limit((0, 1), K2)]

    assert g((1, 0)) == [0, 1] and g((0, 1)) == [0, 0] and g((1, 1)) == [1, 0]
    total = [a + b for a, b in zip(g((1, 0)), g((0, 1)), strict=True)]
    assert total != g((1, 1))  # not additive in K2


CHAPTER_8 = {
    "sum tanh(A X B)": lambda A, B, C, X: np.sum(np.tanh(A @ X @ B)),
    "1/2 |A X B - C|^2": lambda A, B, C, X: 0.5 * np.sum((A @ X @ B - C) ** 2),
    "1/2 |tanh(A X B) - C|^2": lambda A, B, C, X: 0.5 * np.sum((np.tanh(A @ X @ B) - C) ** 2),
}
SQUARE_8 = {
    "<C, X^2>": lambda C, X: np.sum(C * (X @ X)),
    "<C, X^-1>": lambda C, X: np.sum(C * np.linalg.inv(X)),
    "log det X": lambda C, X: np.log(np.linalg.det(X)),
}


@SLOW
@given(m=st.integers(1, 3), p=st.integers(1, 3), n=st.integers(1, 3), seed=seeds)
def test_the_hessians_of_this_chapters_functions_are_symmetric(m, p, n, seed):
    """Each function of chapter 8 has continuous second partial derivatives where it is
    defined, so its Hessian is symmetric: checked numerically at random points and sizes."""
    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal((2, m)), rng.standard_normal((p, 2))
    C, X = rng.standard_normal((2, 2)) / 2, rng.standard_normal((m, p))
    Q = rng.standard_normal((n, n))
    Xn = Q @ Q.T + n * np.eye(n)  # symmetric positive definite: det X > 0
    Cn = rng.standard_normal((n, n))
    cases = [(lambda X, f=f: f(A, B, C, X), X) for f in CHAPTER_8.values()]
    cases += [(lambda X, f=f: f(Cn, X), Xn) for f in SQUARE_8.values()]
    for f, X0 in cases:
        T = mdcalc.hessian(f, X0)
        M = mdcalc.tensor_to_matrix(T, X0.shape, X0.shape)
        assert np.allclose(M, M.T, rtol=0, atol=1e-7 * max(1, np.abs(M).max()))


@FAST
@given(V=st.integers(1, 4), d1=st.integers(1, 4), d2=st.integers(1, 4), a=kinds, w=kinds,
       seed=seeds)
@example(V=3, d1=3, d2=1, a="random", w="random", seed=0)
def test_the_layer_hessian_has_the_products_of_the_factors_eigenvalues(V, d1, d2, a, w, seed):
    """The Hessian W W^T kron A^T A of 1/2 |A H W - Y|^2 has the products of the factors'
    eigenvalues; if d2 < d1 it has at least V (d1 - d2) zero eigenvalues, and every K with
    K W = 0 leaves L unchanged; its condition number (largest over smallest nonzero
    eigenvalue) is the product of the factors', so it is at least that of A^T A (the graph
    makes every layer on it hard, whatever the weights)."""
    A, W = special(seed, V, V, a), special(seed + 1, d1, d2, w)
    P, Q = A.T @ A, W @ W.T
    eig = np.linalg.eigvalsh(np.kron(Q, P))
    p, q = np.linalg.eigvalsh(P), np.linalg.eigvalsh(Q)
    tol = 1e-9 * max(1.0, eig.max())
    assert np.allclose(eig, np.sort(np.outer(q, p).ravel()), rtol=0, atol=tol)
    assert np.sum(eig <= tol) >= V * max(d1 - d2, 0)
    rng = np.random.default_rng(seed)
    H, Y = rng.standard_normal((V, d1)), rng.standard_normal((V, d2))
    _, sigma, vt = np.linalg.svd(W.T)  # rows of vt beyond the rank: v with v^T W = 0
    for v in vt[rank(W):]:
        K = np.outer(rng.standard_normal(V), v)
        L = [0.5 * np.sum((A @ X @ W - Y) ** 2) for X in (H, H + K)]
        assert np.isclose(L[0], L[1], rtol=1e-12, atol=1e-12)
    nonzero = [x[x > 1e-9 * max(1.0, x.max())] for x in (p, q, eig)]
    if all(len(x) for x in nonzero):
        kappa_p, kappa_q, kappa = (x.max() / x.min() for x in nonzero)
        assert np.isclose(kappa, kappa_p * kappa_q, rtol=1e-6)
        assert kappa >= kappa_p * (1 - 1e-9)


@FAST
@given(V=st.integers(1, 3), d1=st.integers(1, 3), d2=st.integers(1, 3), a=kinds, w=kinds,
       seed=seeds)
def test_a_linear_function_has_a_zero_second_derivative(V, d1, d2, a, w, seed):
    """D^2 Z(H)[K1, K2] = 0 for all directions: the Hessian of <C, A H W> is zero."""
    A, W = special(seed, V, V, a), special(seed + 1, d1, d2, w)
    rng = np.random.default_rng(seed)
    H, C = rng.standard_normal((V, d1)), rng.standard_normal((V, d2))
    T = mdcalc.hessian(lambda H: np.sum(C * (A @ H @ W)), H)
    assert np.allclose(T, 0, atol=1e-8 * (1 + np.abs(A).max() * np.abs(W).max()))


@FAST
@given(V=st.integers(1, 4), d1=st.integers(1, 3), d2=st.integers(1, 3),
       fit=st.booleans(), seed=seeds)
def test_the_damped_gauss_newton_step_is_a_descent_direction(V, d1, d2, fit, seed):
    """The Gauss-Newton map is positive semidefinite, so the damped step
    P = -(GN + lambda I)^-1 grad L goes downhill (<grad L, P> < 0) wherever grad L != 0,
    solved exactly or by a few conjugate-gradient iterations."""
    rng = np.random.default_rng(seed)
    A, H, W = (rng.standard_normal(s) / 2 for s in [(V, V), (V, d1), (d1, d2)])
    Y = np.tanh(A @ H @ W) if fit else rng.uniform(-1, 1, (V, d2))
    unit = np.eye(V * d1)
    GN = np.column_stack([
        mdcalc.vec(gcn.gcn_hvp(A, H, W, Y, mdcalc.unvec(e, (V, d1)), kind="gauss-newton"))
        for e in unit
    ])
    assert np.linalg.eigvalsh((GN + GN.T) / 2).min() >= -1e-12 * max(1, np.abs(GN).max())
    g = mdcalc.vec(gcn.gcn_gradient(A, H, W, Y))
    damping = 1e-3
    step = np.linalg.solve(GN + damping * unit, -g)
    cg = mdcalc.vec(gcn.gauss_newton_step(A, H, W, Y, damping=damping, maxiter=2).step)
    if np.linalg.norm(g) > 1e-12:
        assert g @ step < 0 and g @ cg < 0
    else:
        assert np.allclose(step, 0) and np.allclose(cg, 0)


@SLOW
@given(n=st.integers(1, 3), seed=seeds)
def test_the_pairings_with_every_C_determine_the_second_derivative(n, seed):
    """<C, D^2F(X)[K1, K2]> for every C determines D^2F: with C the single-entry matrices
    E_ab, the vec Hessians of <E_ab, F> give the entries of D^2F[K1, K2] (F = X^2, whose
    D^2F[K1, K2] = K1 K2 + K2 K1)."""
    rng = np.random.default_rng(seed)
    X, K1, K2 = (rng.standard_normal((n, n)) for _ in range(3))
    closed = K1 @ K2 + K2 @ K1
    entries = np.zeros((n, n))
    for a, b in product(range(n), range(n)):
        T = mdcalc.hessian(lambda X, a=a, b=b: (X @ X)[a, b], X)
        M = mdcalc.tensor_to_matrix(T, X.shape, X.shape)
        entries[a, b] = mdcalc.vec(K1) @ M @ mdcalc.vec(K2)
    assert np.allclose(entries, closed, rtol=1e-6, atol=1e-6)


@FAST
@given(V=st.integers(2, 6), d=st.integers(1, 4), sparse=st.booleans(), seed=seeds)
def test_a_reachable_target_has_zero_loss_at_its_source(V, d, sparse, seed):
    """A target Y = tanh(A H* W) is one a layer can fit exactly: the loss is 0 at H* (to
    rounding: gcn_loss may bracket the product A H* W the other way)."""
    rng = np.random.default_rng(seed)
    A = gcn.normalised_adjacency(gcn.random_graph(V, 2, seed=seed)) if sparse else \
        rng.standard_normal((V, V))
    H_star, W = rng.standard_normal((V, d)), rng.standard_normal((d, d))
    Y = np.tanh(A @ H_star @ W)
    assert gcn.gcn_loss(A, H_star, W, Y) <= 1e-28 * V * d


# Chapter 9: derive your own


@FAST
@given(V=st.integers(1, 4), d1=st.integers(1, 3), d2=st.integers(1, 4), a=kinds, seed=seeds)
def test_an_entry_of_the_tanh_layer_depends_on_one_column_of_W(V, d1, d2, a, seed):
    """Entry (i, l) of tanh(A H W) depends only on column l of W: dF_il/dW_jk is zero for
    k != l (panel (i, l) has column l as its only non-zero column), and
    (1 - F_il^2) (A H)_ij for k = l."""
    A = special(seed, V, V, a)
    rng = np.random.default_rng(seed)
    H, W = rng.standard_normal((V, d1)) / 2, rng.standard_normal((d1, d2)) / 2
    J = mdcalc.jacobian(lambda W: np.tanh(A @ H @ W), W)
    slope = 1 - np.tanh(A @ H @ W) ** 2
    for l, k in product(range(d2), range(d2)):
        if k != l:
            assert not J[:, l, :, k].any()
    expected = np.einsum("il,ij->ilj", slope, A @ H)
    assert np.allclose(np.einsum("iljl->ilj", J), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_the_special_matrices_are_what_they_say(kind):
    """The special cases above are what their names say (at a square size)."""
    M = special(7, 3, 3, kind)
    checks = {
        "random": lambda M: M.shape == (3, 3),
        "zero": lambda M: not M.any(),
        "sparse": lambda M: np.count_nonzero(M) <= 9,
        "rank one": lambda M: rank(M) <= 1,
        "symmetric": is_symmetric,
        "identity": lambda M: np.array_equal(M, M[0, 0] * np.eye(3)),
    }
    assert checks[kind](M)
