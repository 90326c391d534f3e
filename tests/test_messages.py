"""Golden messages: what check_derivative says, word for word, for each kind of claim.

The book's notebooks print these messages (and nbval compares them exactly); this pins
them in the fast unit tests too. Messages whose numbers depend on the machine's rounding
are compared up to their first parenthesis.
"""
from __future__ import annotations

import numpy as np
import pytest

from mdcalc import check_derivative


def cases() -> dict:
    """name: (f, X, claim), small integer data so that messages are exact."""
    A3 = np.array([[2.0, 0, 1], [1, 3, 0], [0, 1, 1]])
    W3 = np.array([[1.0, 0, 2], [0, 1, 1], [1, 1, 0]])
    H3 = np.array([[1.0, 2, 0], [0, 1, 1], [3, 1, 2]])
    A, W = np.array([[1.0, 2], [3, 4]]), np.array([[1.0, 2, 0], [0, 1, 3]])
    H = np.array([[1.0, 0], [2, 1]])

    def f3(H):
        return A3 @ H @ W3

    def f(H):
        return A @ H @ W

    kron = np.kron(W3.T, A3)
    T3 = np.einsum("ij,kl->iljk", A3, W3)
    B = np.array([[1., 2, 0], [0, 1, 1], [1, 0, 3]])
    B23 = np.array([[1., 2, 0], [0, 1, 1]])
    X32 = np.array([[1., 2], [0, 1], [3, 1]])
    x = np.array([1.5])
    return {
        "A W": (f3, H3, A3 @ W3),
        "row-major": (f3, H3, np.kron(A3, W3.T)),
        "kron left": (f3, H3, np.kron(W3, A3)),
        "kron right": (f3, H3, np.kron(W3.T, A3.T)),
        "kron both": (f3, H3, np.kron(W3, A3.T)),
        "input-first square": (f3, H3, T3.transpose(2, 3, 0, 1)),
        "input-first shape": (f, H, np.einsum("ij,kl->iljk", A, W).transpose(2, 3, 0, 1)),
        "input-first shape wrong": (f, H, np.ones((2, 2, 2, 3))),
        "transpose square": (f3, H3, kron.T),
        "transpose shape": (f, H, np.kron(W.T, A).T),
        "transposed shape wrong": (f, H, np.ones((4, 6))),
        "gradient transpose": (lambda X: np.trace(B @ X), H3, B),
        "gradient transpose shape": (lambda X: np.trace(B23 @ X), X32, B23),
        "adjoint": (f3, H3, lambda G: A3.T @ G @ W3.T),
        "sign": (f3, H3, -kron),
        "scale": (lambda X: np.sum(X * X), H3, H3),
        "zero": (lambda X: np.log(np.linalg.det(X)), H3, np.zeros((3, 3))),
        "unknown": (lambda X: X @ X, H3, lambda K: 2 * H3 @ K),
        "callable shape": (f, H, lambda K: K),
        "generic shape": (f, H, np.ones((5, 7))),
        "correct": (f3, H3, kron),
        "correct central": (lambda X: np.sum(np.abs(X) ** 3), X32, 3 * X32 * np.abs(X32)),
        "zero noise": (lambda X: X @ np.linalg.inv(X), H3, np.zeros((3, 3, 3, 3))),
        "multi-scale": (lambda x: x * np.array([1e9, 1.0]), x, np.array([[1e9], [2.0]])),
        "nan claim": (f3, H3, np.full((9, 9), np.nan)),
        "not finite": (np.sqrt, np.array([0.0, 1.0]), np.eye(2)),
        "kink": (lambda X: np.sum(np.abs(X)), np.array([0.0, 1.0]), np.array([0.0, 1.0])),
    }


EXPECTED = {
    'A W': (
        'wrong',
        'shape',
        'unrecognised',
        'complex-step',
        (
            'wrong shape: the claim has shape (3, 3). A derivative of an output of shape '
            '3x3 by an input of shape 3x3 has 9 x 9 = 81 partial derivatives, one for each '
            'pair (output entry, input entry); an array of shape 3x3 holds only 9 numbers. '
            "This is why the tempting 'dZ/dH = A W' for Z = A H W is wrong even when the "
            'product A W exists: A and W meet in dZ[i,l]/dH[j,k] = A[i,j] W[k,l], a 4-index'
            ' tensor, not in a matrix product. Expected the tensor of shape f(X).shape + '
            'X.shape = (3, 3, 3, 3) (output indices first), the vec-Jacobian of shape (9, '
            '9), or a callable K -> DF(X)[K].'
        ),
    ),
    'row-major': (
        'wrong',
        'row-major',
        'matrix',
        'complex-step',
        (
            'wrong: the claimed vec-Jacobian matrix does not match the derivative (largest '
            "relative error 1.1). It matches the row-major convention (numpy's default "
            'flatten), not the column-major vec this book uses: for vec(A X B) that is A ⊗ '
            "B^T in place of B^T ⊗ A (for Z = A H W, A ⊗ W^T in place of W^T ⊗ A). Flatten "
            "with order='F' (mdcalc.vec) to stack columns."
        ),
    ),
    'kron left': (
        'wrong',
        'kronecker-factor',
        'matrix',
        'complex-step',
        (
            'wrong: the claimed vec-Jacobian matrix does not match the derivative (largest '
            'relative error 0.56). It is a Kronecker product with its left factor '
            'untransposed (like W ⊗ A where W^T ⊗ A is meant): in vec(A X B) = (B^T ⊗ A) '
            'vec(X) the matrix multiplying X from the right enters transposed.'
        ),
    ),
    'kron right': (
        'wrong',
        'kronecker-factor',
        'matrix',
        'complex-step',
        (
            'wrong: the claimed vec-Jacobian matrix does not match the derivative (largest '
            'relative error 1). It is a Kronecker product with its right factor transposed '
            '(like W^T ⊗ A^T where W^T ⊗ A is meant): in vec(A X B) = (B^T ⊗ A) vec(X) the '
            'matrix multiplying X from the left enters as it is.'
        ),
    ),
    'kron both': (
        'wrong',
        'transpose',
        'matrix',
        'complex-step',
        (
            'wrong: the claimed vec-Jacobian matrix does not match the derivative (largest '
            'relative error 1.1). It is off by a transpose: this is the denominator layout '
            '(one row per input entry); the vec-Jacobian has one row per output entry, so '
            'use M.T.'
        ),
    ),
    'input-first square': (
        'wrong',
        'input-first',
        'tensor',
        'complex-step',
        (
            'wrong: the claimed tensor (output indices first) does not match the derivative'
            ' (largest relative error 1.1). It has the right numbers with the input indices'
            " first (sympy's layout, X.shape + f(X).shape = (3, 3, 3, 3)); this book, like "
            'JAX and PyTorch, puts the output indices first (f(X).shape + X.shape = (3, 3, '
            '3, 3)). Move the axes with np.moveaxis.'
        ),
    ),
    'input-first shape': (
        'wrong',
        'input-first',
        'unrecognised',
        'complex-step',
        (
            'wrong shape: the claim has shape (2, 2, 2, 3). It has the right numbers with '
            "the input indices first (sympy's layout, X.shape + f(X).shape = (2, 2, 2, 3));"
            ' this book, like JAX and PyTorch, puts the output indices first (f(X).shape + '
            'X.shape = (2, 3, 2, 2)). Move the axes with np.moveaxis. Expected the tensor '
            'of shape f(X).shape + X.shape = (2, 3, 2, 2) (output indices first), the vec-'
            'Jacobian of shape (6, 4), or a callable K -> DF(X)[K].'
        ),
    ),
    'input-first shape wrong': (
        'wrong',
        'input-first',
        'unrecognised',
        'complex-step',
        (
            'wrong shape: the claim has shape (2, 2, 2, 3). Its shape is X.shape + '
            "f(X).shape, the input indices first (sympy's layout); even read that way its "
            'numbers are wrong. Expected the tensor of shape f(X).shape + X.shape = (2, 3, '
            '2, 2) (output indices first), the vec-Jacobian of shape (6, 4), or a callable '
            'K -> DF(X)[K].'
        ),
    ),
    'transpose square': (
        'wrong',
        'transpose',
        'matrix',
        'complex-step',
        (
            'wrong: the claimed vec-Jacobian matrix does not match the derivative (largest '
            'relative error 1.1). It is off by a transpose: this is the denominator layout '
            '(one row per input entry); the vec-Jacobian has one row per output entry, so '
            'use M.T.'
        ),
    ),
    'transpose shape': (
        'wrong',
        'transpose',
        'unrecognised',
        'complex-step',
        (
            'wrong shape: the claim has shape (4, 6). It is the transpose of the vec-'
            "Jacobian (the denominator layout, one row per input entry); this book's layout"
            ' has one row per output entry. Expected the tensor of shape f(X).shape + '
            'X.shape = (2, 3, 2, 2) (output indices first), the vec-Jacobian of shape (6, '
            '4), or a callable K -> DF(X)[K].'
        ),
    ),
    'transposed shape wrong': (
        'wrong',
        'shape',
        'unrecognised',
        'complex-step',
        (
            'wrong shape: the claim has shape (4, 6). That is the shape of the transposed '
            '(denominator-layout) vec-Jacobian. Expected the tensor of shape f(X).shape + '
            'X.shape = (2, 3, 2, 2) (output indices first), the vec-Jacobian of shape (6, '
            '4), or a callable K -> DF(X)[K].'
        ),
    ),
    'gradient transpose': (
        'wrong',
        'transpose',
        'gradient',
        'complex-step',
        (
            'wrong: the claimed gradient does not match the derivative (largest relative '
            "error 3). It is off by a transpose: the gradient's entry [j, k] must be "
            "df/dX[j, k], with X's shape; yours is its transpose (for f = tr(A X) the "
            'gradient is A^T, not A).'
        ),
    ),
    'gradient transpose shape': (
        'wrong',
        'transpose',
        'unrecognised',
        'complex-step',
        (
            'wrong shape: the claim has shape (2, 3). It is the transpose of the gradient: '
            "the gradient has X's shape, entry [j, k] = df/dX[j, k]. Expected the tensor of"
            ' shape f(X).shape + X.shape = (3, 2) (output indices first), the vec-Jacobian '
            'of shape (1, 6), or a callable K -> DF(X)[K].'
        ),
    ),
    'adjoint': (
        'wrong',
        'adjoint',
        'callable',
        'complex-step',
        (
            'wrong: the claimed linear map does not match the derivative (largest relative '
            'error 1.1). It is the adjoint (the vector-Jacobian product G -> DF(X)^T[G], as'
            ' in backpropagation: for Z = A H W that is G -> A^T G W^T), not the derivative'
            ' K -> DF(X)[K] (K -> A K W).'
        ),
    ),
    'sign': (
        'wrong',
        'sign',
        'matrix',
        'complex-step',
        (
            'wrong: the claimed vec-Jacobian matrix does not match the derivative (largest '
            'relative error 2). It is off by a sign: it equals minus the derivative.'
        ),
    ),
    'scale': (
        'wrong',
        'scale',
        'gradient',
        'complex-step',
        (
            'wrong: the claimed gradient does not match the derivative (largest relative '
            'error 0.5). It is off by a constant factor: it equals 0.5 times the '
            'derivative.'
        ),
    ),
    'zero': (
        'wrong',
        'zero',
        'gradient',
        'complex-step',
        (
            'wrong: the claimed gradient does not match the derivative (largest relative '
            'error 1). It is zero in every direction, and the derivative is not: a symbolic'
            ' tool that cannot differentiate an expression sometimes returns 0 without a '
            'warning.'
        ),
    ),
    'unknown': (
        'wrong',
        None,
        'callable',
        'complex-step',
        (
            'wrong: the claimed linear map does not match the derivative (largest relative '
            'error 1.2). The error is not one of the classic mistakes this checker knows.'
        ),
    ),
    'callable shape': (
        'wrong',
        'shape',
        'callable',
        'complex-step',
        (
            "the claimed linear map returned shape 2x2 for a direction K of X's shape 2x2, "
            "but DF(X)[K] has f(X)'s shape 2x3."
        ),
    ),
    'generic shape': (
        'wrong',
        'shape',
        'unrecognised',
        'complex-step',
        (
            'wrong shape: the claim has shape (5, 7). A derivative of an output of shape '
            '2x3 by an input of shape 2x2 has 6 x 4 = 24 partial derivatives, one for each '
            'pair (output entry, input entry); an array of shape 5x7 holds only 35 numbers.'
            ' Expected the tensor of shape f(X).shape + X.shape = (2, 3, 2, 2) (output '
            'indices first), the vec-Jacobian of shape (6, 4), or a callable K -> DF(X)[K].'
        ),
    ),
    'correct': (
        'correct',
        None,
        'matrix',
        'complex-step',
        (
            'correct: the claimed vec-Jacobian matrix matches the numeric derivative in 3 '
            'random directions (largest relative error below 1e-12, complex-step).'
        ),
    ),
    'correct central': (
        'correct',
        None,
        'gradient',
        'central',
        (
            'correct: the claimed gradient matches the numeric derivative in 3 random '
            'directions (largest relative error 5.2e-11, central).'
        ),
    ),
    'zero noise': (
        'correct',
        None,
        'tensor',
        'complex-step',
        (
            'correct: the derivative is zero to within the numeric noise (1.6e-08, complex-'
            'step), and so is the claimed tensor (output indices first) in 3 random '
            'directions.'
        ),
    ),
    'multi-scale': (
        'wrong',
        None,
        'tensor',
        'complex-step',
        (
            'wrong: the claimed tensor (output indices first) does not match the derivative'
            ' (largest relative error 1e-09 of the largest entry, but output entry (1,) is '
            'off by 0.64 where the derivative is 0.64). The error is not one of the classic'
            ' mistakes this checker knows.'
        ),
    ),
    'nan claim': (
        'undecided',
        None,
        'matrix',
        'complex-step',
        (
            'undecided: the claimed vec-Jacobian matrix has non-finite entries (nan or '
            'inf), so it cannot be compared with the derivative, which is finite here; '
            'compute the claim at this X again.'
        ),
    ),
    'not finite': (
        'undecided',
        None,
        'tensor',
        'central',
        (
            'undecided: the numeric derivative of f at X is not finite in a random '
            'direction (f overflows, or is not differentiable there), so no claim can be '
            'checked here; try a point where f is smooth.'
        ),
    ),
    'kink': (
        'undecided',
        None,
        'gradient',
        'central',
        (
            'undecided: f does not appear to be differentiable at X: in a random direction '
            'its one-sided slopes differ (a kink, as abs at 0 or max at a tie), so there is'
            ' no derivative to compare with; try a nearby point.'
        ),
    ),
}
MACHINE_DEPENDENT = {"correct central", "zero noise"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_message_word_for_word(name):
    f, X, claim = cases()[name]
    with np.errstate(all="ignore"):
        result = check_derivative(f, X, claim)
    verdict, mistake, form, method, message = EXPECTED[name]
    assert (result.verdict, result.mistake, result.form, result.method) == (
        verdict,
        mistake,
        form,
        method,
    )
    assert bool(result) == (verdict == "correct")
    if name in MACHINE_DEPENDENT:
        assert result.message.split("(")[0] == message.split("(")[0]
    else:
        assert result.message == message


# --------------------------------------------------------------------------------------
# refusals name the argument and say what is wrong
# --------------------------------------------------------------------------------------

import mdcalc  # noqa: E402
from mdcalc import _validation, directional_derivative, jacobian  # noqa: E402


def refusal(call) -> str:
    with pytest.raises((ValueError, TypeError)) as info, np.errstate(all="ignore"):
        call()
    return str(info.value)


def test_point_and_direction_are_named():
    X = np.ones((2, 2))
    assert refusal(lambda: jacobian(np.sin, np.ones(3) * np.nan)) == (
        "X has non-finite entries (nan or inf)"
    )
    assert refusal(lambda: directional_derivative(np.sin, X, np.ones(3))) == "X is 2x2 but K is 3"
    assert refusal(lambda: directional_derivative(np.sin, X, "K")).startswith("K must hold")
    assert refusal(lambda: directional_derivative(np.sin, "X", X)).startswith("X must hold")
    assert refusal(lambda: jacobian(np.sin, X, max_memory=0)) == (
        "max_memory must be positive, got 0"
    )
    assert refusal(lambda: jacobian(np.sin, X, max_memory=True)) == (
        "max_memory must be an int (bytes), got bool"
    )
    assert refusal(lambda: jacobian(np.sin, X, method="exact")) == (
        "method must be one of ('auto', 'complex-step', 'central'), got 'exact'"
    )


def test_central_refusals_say_where():
    message = refusal(lambda: jacobian(np.sin, np.array([1.0, 1e6]), method="central"))
    assert message.startswith("central differences are unreliable at input entry (1,):")
    assert "use the complex step if f is analytic" in message
    message = refusal(
        lambda: directional_derivative(np.sin, np.array([1e6]), np.ones(1), method="central")
    )
    assert message.startswith("central differences are unreliable along K:")
    message = refusal(lambda: jacobian(np.abs, np.array([1.0, 0.0]), method="central"))
    assert message == (
        "f does not appear to be differentiable at X: at input entry (1,) its one-sided "
        "slopes differ (a kink, as abs or max at a tie); no derivative exists there"
    )
    message = refusal(lambda: jacobian(lambda x: np.abs(x) + 0j * x, np.array([1.0, 0.0])))
    assert "in a random direction its one-sided slopes differ" in message
    conj_square = jacobian(lambda x: x * np.conj(x), np.ones(2) * 0.5)  # auto: central
    assert conj_square.method == "central" and np.allclose(conj_square, np.eye(2))
    assert refusal(lambda: jacobian(lambda x: x * np.conj(x), np.ones(2) * 0.5,
                                    method="complex-step")).startswith(
        "the complex-step derivative disagrees with central differences: f is probably "
        "not complex-analytic"
    )
    assert refusal(lambda: jacobian(lambda x: np.exp(x * 800), np.ones(1))) == (
        "f(X) has non-finite entries (nan or inf) at this X"
    )
    assert refusal(lambda: jacobian(lambda x: 1 / (x - 1e-300), np.array([1e-300]))) == (
        "f(X) has non-finite entries (nan or inf) at this X"
    )


def test_sizes_are_written_with_units():
    assert _validation._bytes_str(999) == "999 bytes"
    assert _validation._bytes_str(1000) == "1 kB (1,000 bytes)"
    assert _validation._bytes_str(2_500_000) == "2.5 MB (2,500,000 bytes)"
    assert _validation._bytes_str(3 * 10**9) == "3 GB (3,000,000,000 bytes)"
    assert _validation._bytes_str(6_480_000_000_000) == "6.48 TB (6,480,000,000,000 bytes)"
    message = refusal(lambda: mdcalc.kron_jacobian(np.ones((3000, 3000)), np.ones((300, 300))))
    assert message.startswith(
        "the vec-Jacobian (900000 x 900000) would take 6.48 TB (6,480,000,000,000 bytes), "
        "more than the "
    )
    assert "MEMORY_LIMIT" in message and "matrix-free" in message


def test_memory_limit_is_half_the_available_memory(monkeypatch):
    monkeypatch.setattr(_validation, "MEMORY_LIMIT", None)
    with open("/proc/meminfo") as meminfo:
        available = next(int(line.split()[1]) for line in meminfo if "MemAvailable" in line)
    assert abs(_validation.memory_limit() - available * 1024 // 2) < 2**30  # it moves a bit
    monkeypatch.setattr(_validation, "MEMORY_LIMIT", 12345)
    assert _validation.memory_limit() == 12345


def test_shape_words():
    assert _validation.shape_str((3, 4)) == "3x4"
    assert _validation.shape_str(()) == "scalar"
    assert _validation.c_contiguous(np.float64(2.0)).ndim == 0
    assert _validation.c_contiguous(np.ones((3, 2)).T).flags.c_contiguous
    assert refusal(lambda: _validation.as_vector("x", np.ones((2, 2)))) == (
        "x must be a 1-D vector, got shape (2, 2)"
    )
    assert refusal(lambda: _validation.as_count("n", 5, 1, 3)) == "n must be between 1 and 3, got 5"
    assert refusal(lambda: _validation.as_shape("s", (2,), ndim=2)) == (
        "s must have 2 entries, got (2,)"
    )


# --------------------------------------------------------------------------------------
# issue 18: derive's numeric views and messages say what is there and what is not
# --------------------------------------------------------------------------------------


def test_derive_views_refuse_where_there_is_no_derivative():
    import sympy as sp

    x = sp.MatrixSymbol("x", 3, 1)
    relu = mdcalc.derive(x.applyfunc(lambda t: sp.Max(t, 0)), x)
    at_kink = {x: np.array([[1.0], [0.0], [-1.0]])}
    for view in (relu.tensor, relu.matrix, lambda v: relu.linear_map(v).matrix()):
        message = refusal(lambda view=view: view(at_kink))
        assert "not differentiable at these values at input entry (1, 0)" in message
    assert relu.check(at_kink).verdict == "undecided"
    assert np.array_equal(relu.matrix({x: np.array([[1.0], [2.0], [-1.0]])}),
                          np.diag([1.0, 1.0, 0.0]))
    root = mdcalc.derive(x.applyfunc(sp.sqrt), x)
    assert "singularity" in refusal(lambda: root.tensor({x: np.array([[0.0], [1.0], [4.0]])}))
    # Heaviside's derivative is DiracDelta, which derive refuses from the start
    assert "cannot differentiate" in refusal(lambda: mdcalc.derive(x.applyfunc(sp.Heaviside), x))
    from mdcalc.layouts import _dirac_delta  # the evaluator's own, for expressions with it

    assert np.array_equal(_dirac_delta(np.array([0.5, -2.0])), np.zeros(2))
    assert "DiracDelta(0)" in refusal(lambda: _dirac_delta(np.array([0.0, 1.0])))


def test_derive_names_overflow_and_underflow():
    import sympy as sp

    X = sp.MatrixSymbol("X", 2, 2)
    message = refusal(lambda: mdcalc.derive(sp.Determinant(X), X).gradient_value(
        {X: 1e-200 * np.eye(2)}))
    assert message.startswith("Determinant(X) underflows to 0 at these values")
    message = refusal(lambda: mdcalc.derive(X.applyfunc(sp.exp), X).tensor(
        {X: np.full((2, 2), 1000.0)}))
    assert message.startswith("the expression overflows at these values")


def test_derive_refuses_sizes_before_working_and_prints_its_shape_errors():
    import warnings

    import sympy as sp

    X, B = sp.MatrixSymbol("X", 2, 2), sp.MatrixSymbol("B", 3, 3)
    assert "refuses powers beyond 64" in refusal(lambda: mdcalc.derive(X**100000, X))
    assert mdcalc.derive(X**64, X).steps[-1][0] == "power rule"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        product = sp.MatMul(X, B, check=False)
    assert refusal(lambda: mdcalc.derive(product, X)) == (
        "mismatched shapes in the product MatMul(X, B): X is 2x2 but B is 3x3"
    )
    n = sp.Symbol("n")
    Y, C = sp.MatrixSymbol("Y", n, n), sp.MatrixSymbol("C", n + 1, n + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shifted = sp.MatMul(Y, C, check=False)
    assert "C is (n + 1)x(n + 1)" in refusal(lambda: mdcalc.derive(shifted, Y))


def test_derive_special_functions_have_numbers_or_say_why():
    import scipy.special
    import sympy as sp

    x = sp.MatrixSymbol("x", 3, 1)
    at = np.array([0.5, 1.5, -2.0])
    bessel = mdcalc.derive(x.applyfunc(lambda t: sp.besselj(1, t)), x)
    want = 0.5 * (scipy.special.jv(0, at) - scipy.special.jv(2, at))
    assert np.allclose(np.diag(bessel.matrix({x: at[:, None]})), want, rtol=1e-13)
    erf = mdcalc.derive(x.applyfunc(sp.erf), x)
    want = 2 / np.sqrt(np.pi) * np.exp(-at * at)
    assert np.allclose(np.diag(erf.matrix({x: at[:, None]})), want, rtol=1e-13)
    assert erf.check({x: at[:, None]})
