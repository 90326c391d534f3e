"""Tests of mdcalc.layouts: every convention's converter, against independent constructions.

Each convention is built the way its users build it (np.kron, a loop over single-entry
matrices, sympy's .diff, a textbook formula), converted to the book's layout, and compared
with mdcalc's closed forms or numeric Jacobian. Round trips are property-tested.
"""

from __future__ import annotations

from math import prod

import numpy as np
import pytest
import sympy as sp  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from mdcalc import jacobian, jacobian_tensor, kron_jacobian, tensor_to_matrix, vec
from mdcalc import layouts
from mdcalc.layouts import (
    book_to_column_major,
    book_to_denominator,
    book_to_numerator,
    book_to_row_major,
    book_to_single_entry_grid,
    book_to_sympy_order,
    column_major_to_book,
    commutation_matrix,
    denominator_to_book,
    from_sympy,
    numerator_to_book,
    row_major_to_book,
    single_entry_grid,
    single_entry_grid_to_book,
    sympy_order_to_book,
)

dims = st.integers(min_value=1, max_value=5)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
shapes = st.lists(dims, min_size=0, max_size=2).map(tuple)


def draw(seed: int, *shape_list: tuple[int, ...]) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shape_list]


# ---------------------------------------------------------------- Z = A H W in every layout


@pytest.mark.parametrize("V, d1, d2", [(3, 2, 4), (1, 1, 1), (2, 5, 1), (4, 4, 4)])
def test_every_layout_of_z_equals_the_book_tensor(V, d1, d2, example):
    A, H, W = example(V, d1, d2)
    J = jacobian_tensor(A, W)
    out_shape, in_shape = (V, d2), (V, d1)
    # sympy's order, and the Cookbook's grid of A J^kl W, built by a loop
    grid = np.empty((V, d1, V, d2))
    for k in range(V):
        for l in range(d1):
            E = np.zeros((V, d1))
            E[k, l] = 1.0
            grid[k, l] = A @ E @ W
    assert np.allclose(single_entry_grid_to_book(grid, out_shape, in_shape), J)
    assert np.allclose(sympy_order_to_book(grid, out_shape, in_shape), J)
    assert np.allclose(single_entry_grid(lambda K: A @ K @ W, in_shape), grid)
    # both vec-Jacobians, from the Kronecker identities
    assert np.allclose(column_major_to_book(np.kron(W.T, A), out_shape, in_shape), J)
    assert np.allclose(row_major_to_book(np.kron(A, W.T), out_shape, in_shape), J)
    assert np.allclose(book_to_column_major(J, out_shape, in_shape), kron_jacobian(A, W))
    assert np.allclose(book_to_row_major(J, out_shape, in_shape), np.kron(A, W.T))


def test_row_major_is_the_column_major_matrix_permuted(example):
    A, H, W = example(3, 2, 4)
    M_col, M_row = np.kron(W.T, A), np.kron(A, W.T)
    K_out, K_in = commutation_matrix(3, 4), commutation_matrix(3, 2)
    assert np.allclose(K_out @ M_col @ K_in.T, M_row)


# ---------------------------------------------------------------- commutation matrix


@given(m=dims, n=dims, seed=seeds)
def test_commutation_matrix_turns_vec_x_into_vec_x_transposed(m, n, seed):
    (X,) = draw(seed, (m, n))
    K = commutation_matrix(m, n)
    assert np.array_equal(K @ vec(X), vec(X.T))
    assert np.array_equal(K @ vec(X), X.reshape(-1))  # vec(X^T) is the row-major flatten
    assert np.array_equal(K.T, commutation_matrix(n, m))
    assert np.array_equal(K @ K.T, np.eye(m * n))


@pytest.mark.parametrize("m, n", [(0, 2), (2, -1), (1.5, 2)])
def test_commutation_matrix_rejects_bad_sizes(m, n):
    with pytest.raises(ValueError, match="positive integers"):
        commutation_matrix(m, n)


# ---------------------------------------------------------------- numerator / denominator


def test_numerator_and_denominator_layout_of_linear_map():
    M = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    x = np.array([1.0, -1.0, 2.0])
    J = jacobian(lambda x: M @ x, x)  # book layout: (2, 3)
    assert np.allclose(numerator_to_book(M, (2,), (3,)), J)
    assert np.allclose(denominator_to_book(M.T, (2,), (3,)), J)
    assert np.allclose(book_to_numerator(J, (2,), (3,)), M)
    assert np.allclose(book_to_denominator(J, (2,), (3,)), M.T)


def test_numerator_and_denominator_layout_of_quadratic_form():
    B = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 4.0], [1.0, 0.0, 3.0]])
    x = np.array([1.0, 2.0, -1.0])
    g = jacobian(lambda x: x @ B @ x, x)  # the gradient (B + B^T) x, shape (3,)
    row = (x @ (B + B.T))[None, :]  # numerator layout: x^T (B + B^T), 1 x n
    column = ((B + B.T) @ x)[:, None]  # denominator layout: (B + B^T) x, n x 1
    assert np.allclose(numerator_to_book(row, (), (3,)), g)
    assert np.allclose(denominator_to_book(column, (), (3,)), g)
    assert book_to_numerator(g, (), (3,)).shape == (1, 3)
    assert book_to_denominator(g, (), (3,)).shape == (3, 1)


def test_numerator_and_denominator_layout_of_vector_by_scalar():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    J = jacobian(lambda t: t[0] * a, np.array([0.5]))  # (4, 1) in the book: t is (1,)
    J = J.reshape(4)  # the book's layout for a scalar variable t: shape (4,)
    assert np.allclose(numerator_to_book(a[:, None], (4,), ()), J)  # a column
    assert np.allclose(denominator_to_book(a[None, :], (4,), ()), J)  # a row


def test_scalar_by_matrix_trace():
    A = np.array([[1.0, 2.0, 0.0], [3.0, 4.0, 5.0]])  # tr(A X) for X 3 x 2
    X = np.arange(6.0).reshape(3, 2)
    G = jacobian(lambda X: np.trace(A @ X), X)  # gradient, X's shape: A^T
    assert np.allclose(G, A.T)
    assert np.allclose(numerator_to_book(A, (), (3, 2)), G)  # numerator: A (2 x 3)
    assert np.allclose(denominator_to_book(A.T, (), (3, 2)), G)  # denominator: A^T
    assert np.array_equal(book_to_numerator(G, (), (3, 2)), A)


@pytest.mark.parametrize(
    "func, out_shape, in_shape",
    [
        (numerator_to_book, (2, 2), (3,)),
        (denominator_to_book, (3,), (2, 2)),
        (book_to_numerator, (2, 3), (2, 3)),
        (book_to_denominator, (2,), (2, 2)),
    ],
)
def test_layouts_refuse_matrix_cases(func, out_shape, in_shape):
    with pytest.raises(ValueError, match="vec-Jacobian"):
        func(np.zeros(out_shape + in_shape), out_shape, in_shape)


vector_shapes = st.lists(dims, min_size=0, max_size=1).map(tuple)


@given(out_shape=vector_shapes, in_shape=vector_shapes, seed=seeds)
def test_numerator_denominator_round_trips(out_shape, in_shape, seed):
    (J,) = draw(seed, out_shape + in_shape)
    N = book_to_numerator(J, out_shape, in_shape)
    D = book_to_denominator(J, out_shape, in_shape)
    assert N.shape == (prod(out_shape), prod(in_shape))
    assert np.array_equal(D, N.T)
    assert np.array_equal(numerator_to_book(N, out_shape, in_shape), J)
    assert np.array_equal(denominator_to_book(D, out_shape, in_shape), J)


# ---------------------------------------------------------------- round trips, all shapes


@settings(max_examples=60)
@given(out_shape=shapes, in_shape=shapes, seed=seeds)
def test_round_trips_through_every_layout(out_shape, in_shape, seed):
    (J,) = draw(seed, out_shape + in_shape)
    pairs = [
        (book_to_sympy_order, sympy_order_to_book),
        (book_to_single_entry_grid, single_entry_grid_to_book),
        (book_to_column_major, column_major_to_book),
        (book_to_row_major, row_major_to_book),
    ]
    for there, back in pairs:
        assert np.array_equal(back(there(J, out_shape, in_shape), out_shape, in_shape), J)
    assert np.array_equal(
        book_to_column_major(J, out_shape, in_shape), tensor_to_matrix(J, out_shape, in_shape)
    )


@settings(max_examples=40)
@given(r=dims, s=dims, m=dims, p=dims, seed=seeds)
def test_row_and_column_major_related_by_commutation_matrices(r, s, m, p, seed):
    (J,) = draw(seed, (r, s, m, p))
    M_col = book_to_column_major(J, (r, s), (m, p))
    M_row = book_to_row_major(J, (r, s), (m, p))
    assert np.allclose(commutation_matrix(r, s) @ M_col @ commutation_matrix(m, p).T, M_row)


@given(V=dims, d1=dims, d2=dims, seed=seeds)
def test_single_entry_grid_of_the_differential(V, d1, d2, seed):
    A, W = draw(seed, (V, V), (d1, d2))
    G = single_entry_grid(lambda K: A @ K @ W, (V, d1))
    assert np.allclose(G, book_to_single_entry_grid(jacobian_tensor(A, W), (V, d2), (V, d1)))


# ---------------------------------------------------------------- errors name the shapes


@pytest.mark.parametrize(
    "func, arr_shape",
    [
        (sympy_order_to_book, (3, 2, 2, 4)),
        (book_to_sympy_order, (3, 2, 2, 4)),
        (single_entry_grid_to_book, (3, 4, 3, 2)),
        (book_to_single_entry_grid, (3, 2, 3, 4)),
        (column_major_to_book, (6, 12)),
        (book_to_column_major, (3, 2, 3, 4)),
        (row_major_to_book, (6, 12)),
        (book_to_row_major, (12, 6)),
    ],
)
def test_wrong_shapes_raise_value_error_naming_both(func, arr_shape):
    # out_shape (3, 4), in_shape (3, 2): every arr_shape above is the wrong one.
    with pytest.raises(ValueError) as info:
        func(np.zeros(arr_shape), (3, 4), (3, 2))
    assert str(arr_shape) in str(info.value)


def test_bad_shape_argument():
    with pytest.raises(ValueError, match="tuple of"):
        row_major_to_book(np.zeros((2, 2)), (2, -1), (2,))
    with pytest.raises(ValueError, match="tuple of ints"):
        row_major_to_book(np.zeros((2, 2)), 2, (2,))


def test_single_entry_grid_checks_its_map():
    with pytest.raises(TypeError, match="callable"):
        single_entry_grid(np.eye(2), (2, 2))
    with pytest.raises(ValueError, match="different shapes"):
        single_entry_grid(lambda K: K if K[0, 0] else K[:1], (2, 2))


# ---------------------------------------------------------------- from_sympy


def test_from_sympy_matrix_by_matrix_keeps_its_old_behaviour():
    A, H, W = sp.MatrixSymbol("A", 3, 3), sp.MatrixSymbol("H", 3, 2), sp.MatrixSymbol("W", 2, 4)
    A_, W_ = np.arange(9.0).reshape(3, 3), np.arange(8.0).reshape(2, 4)
    D = (A * H * W).diff(H)
    J = from_sympy(D, {A: A_, W: W_})
    assert np.array_equal(J, jacobian_tensor(A_, W_))
    J2 = from_sympy(D, {A: A_, W: W_}, out_shape=(3, 4), in_shape=(3, 2))
    assert np.array_equal(J2, J)


def test_from_sympy_scalar_functions():
    X = sp.MatrixSymbol("X", 4, 2)
    A, B = sp.MatrixSymbol("A", 2, 4), sp.MatrixSymbol("B", 2, 2)
    rng = np.random.default_rng(1)
    A_, B_ = rng.standard_normal((2, 4)), rng.standard_normal((2, 2))
    X_ = rng.standard_normal((4, 2))
    D = sp.Trace(A * X * B).diff(X)  # sympy: A^T B^T, shaped like X
    G = from_sympy(D, {A: A_, B: B_}, out_shape=(), in_shape=(4, 2))
    assert np.allclose(G, A_.T @ B_.T)
    assert np.allclose(G, jacobian(lambda X: np.trace(A_ @ X @ B_), X_))
    assert np.allclose(from_sympy(D, {A: A_, B: B_}), G)  # without shapes: the gradient


def test_from_sympy_vector_variable_given_as_1d():
    x, B = sp.MatrixSymbol("x", 3, 1), sp.MatrixSymbol("B", 3, 3)
    B_ = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 0.0], [3.0, 0.0, 1.0]])
    x_ = np.array([1.0, -2.0, 0.5])
    g = from_sympy((x.T * B * x).diff(x), {x: x_, B: B_}, out_shape=(), in_shape=(3,))
    assert g.shape == (3,)
    assert np.allclose(g, jacobian(lambda x: x @ B_ @ x, x_))


def test_from_sympy_vector_by_vector_is_denominator_layout_in_sympy():
    x, M = sp.MatrixSymbol("x", 3, 1), sp.MatrixSymbol("M", 2, 3)
    D = (M * x).diff(x)  # sympy returns M^T: the variable's index first
    assert D == M.T
    M_ = np.arange(6.0).reshape(2, 3)
    J = from_sympy(D, {M: M_}, out_shape=(2,), in_shape=(3,))
    assert np.array_equal(J, M_)


def test_from_sympy_scalar_zero_becomes_a_zero_array():
    X = sp.MatrixSymbol("X", 2, 2)
    D = sp.log(sp.Determinant(X)).diff(X)  # sympy 1.14: a silent, wrong 0
    Z = from_sympy(D, {X: np.eye(2)}, out_shape=(), in_shape=(2, 2))
    assert np.array_equal(Z, np.zeros((2, 2)))
    zero = from_sympy(sp.S.Zero, {}, out_shape=(2,), in_shape=(3,))
    assert np.array_equal(zero, np.zeros((2, 3)))


def test_from_sympy_errors():
    X = sp.MatrixSymbol("X", 2, 2)
    A = sp.MatrixSymbol("A", 2, 2)
    with pytest.raises(ValueError, match="unevaluated"):
        from_sympy(sp.Determinant(X).diff(X), {X: np.eye(2)})
    with pytest.raises(ValueError, match="no value given for the symbol"):
        from_sympy((A * X).diff(X), {})
    with pytest.raises(ValueError, match="MatrixSymbol A is 2x2"):
        from_sympy((A * X).diff(X), {A: np.eye(3)})
    with pytest.raises(ValueError, match="both out_shape and in_shape"):
        from_sympy((A * X).diff(X), {A: np.eye(2)}, out_shape=(2, 2))
    with pytest.raises(ValueError, match="16 partial derivatives"):
        from_sympy(sp.Trace(A * X).diff(X), {A: np.eye(2)}, out_shape=(2, 2), in_shape=(2, 2))


def test_layouts_exports_are_documented():
    for name in layouts.__all__:
        func = getattr(layouts, name)
        assert func.__doc__ and "Examples" in func.__doc__, name
