"""Layout conventions: the same derivative as other tools and books write it down.

This book, like JAX, PyTorch and autograd, puts output indices first: the derivative of F
at X is the tensor ``J`` with ``J.shape == F.shape + X.shape`` and
``J[i, l, j, k] = dF[i, l] / dX[j, k]``. Every other arrangement of the same partial
derivatives is a conversion, and the converters here are the only place that knows the
differences. Each ``*_to_book`` function maps a convention to the book's tensor; each
``book_to_*`` function is its inverse.

- variable first, sympy's ``.diff`` order: :func:`sympy_order_to_book` and
  :func:`book_to_sympy_order`; :func:`from_sympy` evaluates a sympy derivative;
- the Matrix Cookbook's single-entry grid ``dF/dX_kl``: :func:`single_entry_grid_to_book`
  and :func:`book_to_single_entry_grid`;
- the vec-Jacobian with columns stacked (Magnus and Neudecker): :func:`column_major_to_book`
  and :func:`book_to_column_major`;
- the vec-Jacobian with rows flattened (numpy's ``reshape``): :func:`row_major_to_book` and
  :func:`book_to_row_major`;
- numerator and denominator layout (scalars and vectors, and a scalar by a matrix):
  :func:`numerator_to_book`, :func:`book_to_numerator`, :func:`denominator_to_book` and
  :func:`book_to_denominator`.

:func:`single_entry_grid` builds the Cookbook's grid from a linear map, and
:func:`commutation_matrix` is the permutation ``vec(X^T) = K vec(X)`` that relates the two
vec orders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from math import prod
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from mdcalc._validation import all_finite, as_shape, c_contiguous, check_size, shape_str
from mdcalc.vectorization import matrix_to_tensor, tensor_to_matrix

__all__ = [
    "sympy_order_to_book",
    "book_to_sympy_order",
    "from_sympy",
    "evaluate",
    "single_entry_grid",
    "single_entry_grid_to_book",
    "book_to_single_entry_grid",
    "column_major_to_book",
    "book_to_column_major",
    "row_major_to_book",
    "book_to_row_major",
    "numerator_to_book",
    "book_to_numerator",
    "denominator_to_book",
    "book_to_denominator",
    "commutation_matrix",
]

Shape = Sequence[int]


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def _described(shape: tuple[int, ...]) -> str:
    return f"{shape} ({shape_str(shape)})" if shape else "() (scalar)"


def _expect(name: str, arr: np.ndarray, expected: tuple[int, ...], what: str) -> None:
    if arr.shape != expected:
        raise ValueError(
            f"{name} has shape {arr.shape}, but {what} must have shape {expected}"
        )


def _move(T: np.ndarray, n_front: int, n_back: int) -> np.ndarray:
    if n_front + n_back != T.ndim or n_front < 0 or n_back < 0:
        raise ValueError(
            f"cannot split a tensor of shape {T.shape} into {n_front} leading and "
            f"{n_back} trailing axes"
        )
    order = tuple(range(n_front, T.ndim)) + tuple(range(n_front))
    return c_contiguous(T.transpose(order))


# --------------------------------------------------------------------------------------
# variable first (sympy) and output first (this book, JAX, PyTorch, autograd)
# --------------------------------------------------------------------------------------


def sympy_order_to_book(D: ArrayLike, out_shape: Shape, in_shape: Shape) -> np.ndarray:
    """sympy's order (variable first, ``X.shape + F.shape``) to the book's tensor.

    Exact: the entries are only moved.

    sympy's ``expr.diff(X)`` puts the variable's indices first:
    ``D[j, k, i, l] = dF[i, l] / dX[j, k]``. The book puts them last.

    Parameters
    ----------
    D : array_like, shape ``in_shape + out_shape``
        The derivative, variable first.
    out_shape, in_shape : tuple of int
        Shapes of F(X) and of X.

    Returns
    -------
    numpy.ndarray, shape ``out_shape + in_shape``

    Raises
    ------
    ValueError
        If D does not have shape ``in_shape + out_shape``.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc.layouts import sympy_order_to_book
    >>> D = np.arange(24).reshape(2, 3, 4, 1)  # X is 2x3, F is 4x1
    >>> J = sympy_order_to_book(D, out_shape=(4, 1), in_shape=(2, 3))
    >>> J.shape, bool(J[3, 0, 1, 2] == D[1, 2, 3, 0])
    ((4, 1, 2, 3), True)
    """
    return _variable_first_to_book("D", D, out_shape, in_shape, "a derivative in sympy's order")


def _variable_first_to_book(
    name: str, D: ArrayLike, out_shape: Shape, in_shape: Shape, what: str
) -> np.ndarray:
    """Check ``D.shape == in_shape + out_shape`` and move the variable's axes to the back."""
    out_, in_ = as_shape("out_shape", out_shape), as_shape("in_shape", in_shape)
    D_ = np.asarray(D)
    _expect(name, D_, in_ + out_, f"{what} (X.shape + F.shape)")
    return _move(D_, len(in_), len(out_))


def book_to_sympy_order(J: ArrayLike, out_shape: Shape, in_shape: Shape) -> np.ndarray:
    """The book's tensor (``F.shape + X.shape``) to sympy's order (``X.shape + F.shape``).

    Exact: the entries are only moved.

    Inverse of :func:`sympy_order_to_book`.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc.layouts import book_to_sympy_order
    >>> book_to_sympy_order(np.zeros((4, 1, 2, 3)), (4, 1), (2, 3)).shape
    (2, 3, 4, 1)
    """
    out_, in_ = as_shape("out_shape", out_shape), as_shape("in_shape", in_shape)
    J_ = np.asarray(J)
    _expect("J", J_, out_ + in_, "the book's tensor (F.shape + X.shape)")
    return _move(J_, len(out_), len(in_))


# --------------------------------------------------------------------------------------
# sympy expressions
# --------------------------------------------------------------------------------------


def from_sympy(
    derivative: Any,
    values: Mapping[Any, ArrayLike],
    in_ndim: int = 2,
    *,
    out_shape: Shape | None = None,
    in_shape: Shape | None = None,
) -> np.ndarray:
    """Turn a sympy derivative (variable indices first) into a numpy tensor in the book's layout.

    Accuracy: sympy's expression evaluated in floating point (numpy), with its rounding.

    Parameters
    ----------
    derivative : sympy expression
        What ``expr.diff(X)`` returned: an array expression (``PermuteDims``,
        ``ArrayAdd``, ...), an explicit array, a matrix expression (for a scalar
        ``expr``, sympy returns the gradient, shaped like X; for a vector by a vector it
        returns a matrix with the variable's index first) or a scalar (sympy's ``0``).
    values : mapping
        A numeric value for every symbol left in the derivative (``MatrixSymbol`` ->
        array). A 1-D array is accepted for an ``n x 1`` or ``1 x n`` ``MatrixSymbol``.
    in_ndim : int
        Number of the variable's axes (2 for a matrix variable); used only when the
        shapes are not given.
    out_shape, in_shape : tuple of int, optional
        The shapes of F(X) and of X as the *numpy* side sees them (for instance ``()``
        for a scalar ``tr(A X B)`` and ``(n,)`` for a vector x that sympy holds as an
        ``n x 1`` ``MatrixSymbol``). Give both, and the result has exactly the shape
        ``out_shape + in_shape``: sympy's unit axes are dropped or added as needed, and
        a scalar ``0`` becomes a zero array of that shape. Recommended for anything but
        a matrix-by-matrix derivative.

    Returns
    -------
    numpy.ndarray
        Float array of shape ``F.shape + X.shape`` (output indices first); for a scalar
        F, the gradient, shaped like X.

    Raises
    ------
    ValueError
        If sympy left the derivative unevaluated (it could not differentiate), a symbol
        has no value or a value of the wrong shape, the result is not real, or the
        result has the wrong number of entries for the given shapes.

    Examples
    --------
    >>> import numpy as np, sympy as sp
    >>> from mdcalc.layouts import from_sympy
    >>> A = sp.MatrixSymbol("A", 2, 2); H = sp.MatrixSymbol("H", 2, 1)
    >>> W = sp.MatrixSymbol("W", 1, 3)
    >>> D = (A * H * W).diff(H)                 # sympy: shape (2, 1, 2, 3), H's indices first
    >>> J = from_sympy(D, {A: np.array([[1, 2], [3, 4]]), W: np.array([[5, 6, 7]])})
    >>> J.shape, float(J[1, 2, 0, 0])          # A[1, 0] * W[0, 2]
    ((2, 3, 2, 1), 21.0)

    A scalar function of a vector, with the vector held by sympy as a 3 x 1 matrix:

    >>> x = sp.MatrixSymbol("x", 3, 1); B = sp.MatrixSymbol("B", 3, 3)
    >>> D = (x.T * B * x).diff(x)              # sympy: B x + B^T x, a 3 x 1 matrix
    >>> g = from_sympy(D, {x: np.array([1.0, 0.0, 0.0]), B: np.eye(3)},
    ...                out_shape=(), in_shape=(3,))
    >>> g
    array([2., 0., 0.])
    """
    import sympy as sp  # type: ignore[import-untyped]

    if (out_shape is None) != (in_shape is None):
        raise ValueError("give both out_shape and in_shape, or neither")
    if isinstance(derivative, sp.Basic) and derivative.has(sp.Derivative):
        raise ValueError(
            "sympy left the derivative unevaluated (it could not differentiate this "
            f"expression): {derivative}"
        )
    subs = _substitutions(derivative, values)
    arr = _evaluate_real(derivative, subs)

    if out_shape is None:
        if arr.ndim == 2 and in_ndim == 2 and _is_matrix_like(derivative):
            return arr  # a scalar f's derivative: already the gradient, shaped like X
        if arr.ndim == 0:
            return arr
        return _move(arr, in_ndim, arr.ndim - in_ndim)

    out_, in_ = as_shape("out_shape", out_shape), as_shape("in_shape", in_shape)
    n_out, n_in = prod(out_), prod(in_)
    if arr.size == n_out * n_in:
        # sympy's order is variable first; unit axes may be missing (a vector x held as
        # an n x 1 matrix) but the row-major order of the entries is the same.
        return _move(arr.reshape(in_ + out_), len(in_), len(out_))
    if arr.size == 1 and float(arr.reshape(())) == 0.0:
        return np.zeros(out_ + in_)  # sympy's scalar 0: zero everywhere
    raise ValueError(
        f"sympy's derivative has shape {arr.shape} ({arr.size} entries), but an output of "
        f"shape {_described(out_)} and a variable of shape {_described(in_)} have "
        f"{n_out} x {n_in} = {n_out * n_in} partial derivatives"
    )


def evaluate(expr: Any, values: Mapping[Any, ArrayLike]) -> np.ndarray:
    """The numeric value of a sympy expression (matrix or scalar) at the given values.

    The same evaluation :func:`from_sympy` uses, without any reordering of axes: for
    checking a displayed formula (a Kronecker product, a trace) against numbers.

    Parameters
    ----------
    expr : sympy expression
        Built from ``MatrixSymbol`` s (and scalar symbols) with sympy's matrix operations.
    values : mapping
        A numeric value for every symbol in ``expr`` (``MatrixSymbol`` -> array).

    Returns
    -------
    numpy.ndarray
        Float array with the shape of ``expr`` (0-d for a scalar).

    Raises
    ------
    ValueError
        If a symbol has no value or a value of the wrong shape, or the result is not real.

    Examples
    --------
    >>> import numpy as np, sympy as sp
    >>> from mdcalc.layouts import evaluate
    >>> A = sp.MatrixSymbol("A", 2, 2); W = sp.MatrixSymbol("W", 2, 3)
    >>> M = evaluate(sp.KroneckerProduct(W.T, A), {A: np.eye(2), W: np.ones((2, 3))})
    >>> M.shape
    (6, 4)
    """
    return _evaluate_real(expr, _substitutions(expr, values))


def _is_matrix_like(expr: Any) -> bool:
    import sympy as sp  # type: ignore[import-untyped]

    return isinstance(expr, (sp.MatrixBase, sp.MatrixExpr))


def _substitutions(
    derivative: Any, values: Mapping[Any, ArrayLike], *, allow_complex: bool = False
) -> dict[Any, Any]:
    """Numeric values (numpy arrays and numbers) for the symbols of ``derivative``.

    Symbolic dimensions (``MatrixSymbol("H", n, d)``) are bound from the shapes of the
    values and returned as entries ``n -> 3``. ``allow_complex`` admits complex values
    (for the complex step through :func:`_evaluate`).
    """
    import sympy as sp  # type: ignore[import-untyped]

    subs: dict[Any, Any] = {}
    dims: dict[Any, tuple[int, Any]] = {}  # dimension symbol -> (size, symbol it came from)
    scalars: dict[Any, Any] = {}
    for symbol, value in values.items():
        arr = np.asarray(value)
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"the value for {symbol} must be numeric, got dtype {arr.dtype}")
        if np.iscomplexobj(arr) and not allow_complex:
            raise ValueError(f"the value for {symbol} must be real")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"the value for {symbol} has non-finite entries (nan or inf)")
        if isinstance(symbol, sp.MatrixSymbol):
            shape = tuple(symbol.shape)
            literal = tuple(int(n) if n.is_Integer else None for n in shape)
            if arr.ndim == 1 and 1 in literal:
                arr = arr.reshape(tuple(1 if n == 1 else arr.shape[0] for n in literal))
            fits = arr.ndim == 2 and all(
                n is None or n == a for n, a in zip(literal, arr.shape, strict=True)
            )
            if not fits:
                raise ValueError(
                    f"the value for {symbol} has shape {arr.shape}, but the "
                    f"MatrixSymbol {symbol} is {'x'.join(str(n) for n in shape)}"
                )
            for n, a in zip(shape, arr.shape, strict=True):
                if isinstance(n, sp.Symbol):
                    if n in dims and dims[n][0] != a:
                        raise ValueError(
                            f"the value for {symbol} has shape {arr.shape}, so {n} = {a}, "
                            f"but the value for {dims[n][1]} makes {n} = {dims[n][0]}"
                        )
                    dims[n] = (int(a), symbol)
            subs[symbol] = arr
        else:
            if arr.ndim != 0:
                raise ValueError(
                    f"the value for the scalar symbol {symbol} must be a number, got shape "
                    f"{arr.shape}"
                )
            scalars[symbol] = arr.item()
    for n, (size, symbol) in dims.items():
        if n in scalars and scalars[n] != size:
            raise ValueError(
                f"the value for {n} is {scalars[n]}, but the value for {symbol} makes {n} = {size}"
            )
        subs[n] = size
    for symbol, number in scalars.items():
        subs.setdefault(symbol, number)
    for symbol, arr in list(subs.items()):
        if isinstance(symbol, sp.MatrixSymbol):
            for n, a in zip(symbol.shape, arr.shape, strict=True):
                if not n.is_Integer and not isinstance(n, sp.Symbol):
                    size = n.xreplace({d: sp.Integer(v) for d, (v, _) in dims.items()})
                    if size != a:
                        raise ValueError(
                            f"the value for {symbol} has shape {arr.shape}, but the "
                            f"MatrixSymbol {symbol} is {'x'.join(str(n) for n in symbol.shape)}"
                            f" ({n} = {size})"
                        )
    free: set[Any] = getattr(derivative, "free_symbols", set())
    missing = sorted(str(s) for s in free if s not in subs)
    if missing:
        raise ValueError(f"no value given for the symbol(s) {', '.join(missing)}")
    return subs


def _evaluate_real(derivative: Any, subs: Mapping[Any, Any]) -> np.ndarray:
    """:func:`_evaluate`, refusing a result that is not real, or not finite."""
    arr = _evaluate(derivative, subs)
    if not all_finite(arr):
        raise ValueError(OVERFLOW)
    real = real_part(arr)
    if real is None:
        raise ValueError("sympy's derivative evaluated to complex numbers at these values")
    return real


OVERFLOW = (
    "the expression overflows at these values: its value has entries that are inf or "
    "nan (a float holds magnitudes up to about 1.8e308; exp overflows beyond 709); "
    "evaluate it at smaller values, or rescale it"
)


def real_part(arr: np.ndarray) -> np.ndarray | None:
    """The real part of a value computed in complex arithmetic, or None where it is not
    real: an imaginary part of rounding size (64 eps of the entry: scipy's Bessel
    functions of a negative real, say) is dropped."""
    arr = np.asarray(arr)
    if not np.iscomplexobj(arr):
        return np.asarray(arr, dtype=float)
    with np.errstate(invalid="ignore"):
        negligible = np.abs(arr.imag) <= 64 * np.finfo(float).eps * np.abs(arr.real)
    if not np.all(negligible | (arr.imag == 0)):
        return None
    return np.asarray(arr.real, dtype=float)


def _evaluate(derivative: Any, subs: Mapping[Any, Any]) -> np.ndarray:
    """The value of a sympy expression: a walk over its tree with numpy at every node.

    The one evaluator of sympy expressions in mdcalc (:func:`evaluate`,
    :func:`from_sympy` and :mod:`mdcalc.derivation` all use it). ``subs`` maps symbols
    to numpy arrays and numbers (from :func:`_substitutions`). Complex-safe: complex
    values give complex results (so the complex step works through it); real values give
    complex results with a zero imaginary part where every node is real (the
    computation is done in complex arithmetic, so that ``log`` of a negative number
    is seen rather than a nan). Matrix expressions (sums, products, powers,
    transposes, inverses, traces, determinants, Hadamard products and powers,
    elementwise functions, Kronecker products, identity/zero/one matrices, explicit
    matrices) and scalar expressions are evaluated in numpy; a node that defines
    ``_mdcalc_numeric(evaluate)`` evaluates itself; any other node (sympy's array
    expressions from ``.diff``) is substituted and evaluated by sympy.
    """
    import sympy as sp  # type: ignore[import-untyped]

    expr = sp.sympify(derivative) if not isinstance(derivative, sp.Basic) else derivative
    cache: dict[Any, Any] = {}
    try:
        value = _walk(expr, subs, cache)
    except NameError as exc:  # a function lambdify's modules do not know
        raise ValueError(
            f"the expression uses a function with no numeric version here ({exc}); "
            "mdcalc evaluates sympy functions through numpy and scipy.special"
        ) from exc
    except (TypeError, ValueError, np.linalg.LinAlgError) as exc:
        mdcalc_own = str(exc).startswith(("no value", "sympy's", "not differentiable")) or (
            "would take" in str(exc)
        )
        if isinstance(exc, NotNumeric) or (isinstance(exc, ValueError) and mdcalc_own):
            raise  # a missing value, a refused size, no number there: already clear
        raise ValueError(
            f"sympy's derivative did not evaluate to numbers after substitution: {exc}"
        ) from exc
    arr = np.asarray(value)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(
            f"sympy's derivative did not evaluate to numbers after substitution: got {arr!r}"
        )
    return arr.astype(complex)


def _walk(expr: Any, subs: Mapping[Any, Any], cache: dict[Any, Any]) -> Any:
    if expr in cache:
        return cache[expr]
    value = _node_value(expr, subs, cache)
    cache[expr] = value
    return value


def _node_value(expr: Any, subs: Mapping[Any, Any], cache: dict[Any, Any]) -> Any:
    import sympy as sp  # type: ignore[import-untyped]
    from sympy.matrices.expressions.applyfunc import (  # type: ignore[import-untyped]
        ElementwiseApplyFunction,
    )
    from sympy.matrices.expressions.matexpr import MatrixElement  # type: ignore[import-untyped]

    def ev(e: Any) -> Any:
        return _walk(e, subs, cache)

    def size(n: Any) -> int:
        v = complex(ev(n))
        if v.imag != 0 or v.real != int(v.real) or v.real < 0:
            raise ValueError(f"the dimension {n} is not a non-negative integer ({v})")
        return int(v.real)

    if hasattr(expr, "_mdcalc_numeric"):
        return expr._mdcalc_numeric(ev)
    if isinstance(expr, (sp.MatrixSymbol, sp.Symbol)):
        if expr not in subs:
            raise ValueError(f"no value given for the symbol(s) {expr}")
        return np.asarray(subs[expr], dtype=complex)
    if not getattr(expr, "is_Matrix", False) and expr.is_number:
        return complex(expr)
    if isinstance(expr, (sp.Identity, sp.ZeroMatrix, sp.OneMatrix)):
        rows, cols = size(expr.rows), size(expr.cols)
        check_size(rows * cols, 16, f"the {rows}x{cols} matrix {expr}")
        if isinstance(expr, sp.Identity):
            return np.eye(rows)
        return np.zeros((rows, cols)) if isinstance(expr, sp.ZeroMatrix) else np.ones((rows, cols))
    if isinstance(expr, sp.MatrixBase):
        entries = [[ev(e) for e in row] for row in expr.tolist()]
        return np.array(entries, dtype=complex).reshape(expr.shape)
    if isinstance(expr, (sp.MatAdd, sp.Add)):
        return _sum(ev(a) for a in expr.args)
    if isinstance(expr, sp.MatMul):
        out: Any = 1.0
        for a in expr.args:
            v = ev(a)
            is_matrix = getattr(a, "is_Matrix", False) and np.ndim(out) == 2
            out = out @ v if is_matrix else out * v
        return out
    if isinstance(expr, (sp.Mul, sp.HadamardProduct)):
        # scalars times scalars or matrices, or matrices entry by entry: the same product
        out = 1.0
        for a in expr.args:
            out = out * ev(a)
        return out
    if isinstance(expr, sp.Transpose):
        return np.transpose(ev(expr.arg))
    if isinstance(expr, sp.Inverse):
        return np.linalg.inv(ev(expr.arg))
    if isinstance(expr, sp.MatPow):
        base, exp = ev(expr.base), complex(ev(expr.exp))
        if exp.imag != 0 or exp.real != int(exp.real):
            raise ValueError(f"a matrix power needs an integer exponent, got {expr.exp}")
        return np.linalg.matrix_power(base, int(exp.real))
    if isinstance(expr, sp.Trace):
        return np.trace(ev(expr.arg))
    if isinstance(expr, sp.Determinant):
        return _determinant(ev(expr.arg), expr)
    if isinstance(expr, sp.HadamardPower):
        return np.power(ev(expr.base), ev(expr.exp))
    if isinstance(expr, sp.KroneckerProduct):
        factors = [ev(a) for a in expr.args]
        n = prod(f.size for f in factors)
        check_size(n, 16, f"the Kronecker product {expr} ({n} entries)")
        out = np.ones((1, 1))
        for f in factors:
            out = np.kron(out, f)
        return out
    if isinstance(expr, MatrixElement):
        parent, i, j = ev(expr.parent), size(expr.i), size(expr.j)
        if i >= parent.shape[0] or j >= parent.shape[1]:
            raise ValueError(
                f"the entry [{i}, {j}] of {expr.parent} is outside its shape {parent.shape}"
            )
        return parent[i, j]
    if isinstance(expr, ElementwiseApplyFunction):
        return _elementwise(expr.function)(ev(expr.expr))
    if isinstance(expr, sp.Pow):
        return np.power(ev(expr.base), ev(expr.exp))
    if isinstance(expr, sp.Abs) and not expr.args[0].is_Matrix:
        return _abs(ev(expr.args[0]))
    if isinstance(expr, sp.Function) and len(expr.args) == 1 and not expr.args[0].is_Matrix:
        return _scalar_function(type(expr))(ev(expr.args[0]))
    return _by_sympy(expr, subs)


class NotNumeric(ValueError):
    """A part of an expression has no number at these values (said as such)."""


def _determinant(M: Any, expr: Any) -> Any:
    """det, refusing a value that underflows to 0 or overflows (slogdet says which)."""
    value = np.linalg.det(M)
    sign, logabs = np.linalg.slogdet(M)
    if np.all(sign == 0) or np.all(np.isfinite(value) & (value != 0)):
        return value
    kind = "underflows to 0" if np.all(np.isfinite(value)) else "overflows"
    raise NotNumeric(
        f"{expr} {kind} at these values (log|det| = {float(np.real(logabs)):.4g}, beyond "
        "the range of a float, about 1e-308 to 1e308): its value, and anything multiplied "
        "by it, such as the gradient det(X) X^-T, cannot be computed in floating point; "
        "rescale X (det(c X) = c^n det X)"
    )


def _dirac_delta(t: Any) -> Any:
    """sympy's DiracDelta (the derivative of Heaviside) as a function: 0 away from 0; at 0
    there is no number (Heaviside has no derivative there)."""
    t = np.asarray(t)
    if np.any(t == 0):
        raise NotNumeric(
            "the expression is not differentiable at these values: it has DiracDelta(0) "
            "(the derivative of Heaviside, or of Max, sign or abs at a tie), which is not a "
            "number; Heaviside jumps at 0, and has no derivative there"
        )
    return np.zeros(t.shape, dtype=complex)


# sympy functions lambdify does not print for numpy or scipy, as numpy functions
_NUMERIC = {"DiracDelta": _dirac_delta}


def _sum(values: Any) -> Any:
    out: Any = 0.0
    for v in values:
        out = out + v
    return out


_FUNCTIONS: dict[Any, Any] = {}


def _abs(z: Any) -> Any:
    """``|x|`` continued analytically off the real line (``±z`` by the sign of the real part),
    so that the complex step sees the derivative sign(x) of a real x that is not 0."""
    z = np.asarray(z)
    return np.where(z.real < 0, -z, z) if np.iscomplexobj(z) else np.abs(z)


def _lambdify(t: Any, body: Any) -> Any:
    """numpy (and scipy.special, for erf and the like) code for a scalar function of t;
    ``Abs`` as :func:`_abs`, and mdcalc's own functions by their ``_mdcalc_numpy``."""
    import sympy as sp  # type: ignore[import-untyped]

    own = {
        type(f).__name__: type(f)._mdcalc_numpy
        for f in body.atoms(sp.Function)
        if hasattr(type(f), "_mdcalc_numpy")
    }
    body = body.replace(sp.Abs, sp.Function("_mdcalc_abs"))
    return sp.lambdify(t, body, [{**_NUMERIC, **own, "_mdcalc_abs": _abs}, "scipy", "numpy"])


def _scalar_function(cls: Any) -> Any:
    """numpy's version of a sympy function of one scalar (``exp``, ``tanh``, ``erf``, ...)."""
    if cls not in _FUNCTIONS:
        import sympy as sp  # type: ignore[import-untyped]

        t = sp.Dummy("t")
        _FUNCTIONS[cls] = _lambdify(t, cls(t))
    return _FUNCTIONS[cls]


def _elementwise(function: Any) -> Any:
    """numpy's version of the scalar function (a ``Lambda``) of an elementwise map."""
    if function not in _FUNCTIONS:
        import sympy as sp  # type: ignore[import-untyped]

        t = sp.Dummy("t")
        body = function(t)
        fn = _lambdify(t, body)
        if not body.has(t):  # a constant function: lambdify would return a scalar
            _FUNCTIONS[function] = lambda a, fn=fn: np.full(np.shape(a), fn(0), dtype=complex)
        else:
            _FUNCTIONS[function] = fn
    return _FUNCTIONS[function]


def _by_sympy(expr: Any, subs: Mapping[Any, Any]) -> np.ndarray:
    """Any other node (sympy's array expressions): substitute and let sympy evaluate it."""
    import sympy as sp  # type: ignore[import-untyped]

    def as_sympy(v: Any) -> Any:
        return sp.ImmutableMatrix(np.asarray(v).tolist()) if np.ndim(v) == 2 else sp.sympify(v)

    replaced = expr.xreplace({s: as_sympy(v) for s, v in subs.items()}).doit()
    if hasattr(replaced, "as_explicit"):
        replaced = replaced.as_explicit()
    if isinstance(replaced, (sp.NDimArray, sp.MatrixBase)):
        replaced = replaced.applyfunc(lambda e: e.doit())
        shape = tuple(int(n) for n in replaced.shape)
        flat = [complex(e) for e in sp.flatten(replaced.tolist())] if shape else []
        return np.array(flat, dtype=complex).reshape(shape)
    return np.asarray(complex(replaced))


# --------------------------------------------------------------------------------------
# the Matrix Cookbook's single-entry matrices
# --------------------------------------------------------------------------------------


def single_entry_grid(dF: Callable[[np.ndarray], ArrayLike], in_shape: Shape) -> np.ndarray:
    """The Matrix Cookbook's form: ``dF/dX_kl = DF(X)[J^kl]`` for every entry ``(k, l)``.

    Accuracy: that of ``dF`` itself, applied to exact single-entry matrices.

    The Cookbook writes the derivative of a matrix function by one entry of X with the
    single-entry matrix ``J^kl`` (a 1 at ``(k, l)``, zeros elsewhere): for
    ``Z = A H W``, ``dZ/dH_kl = A J^kl W``. Collecting them gives a grid, one matrix of
    F's shape per entry of X: an array of shape ``in_shape + out_shape``.

    Parameters
    ----------
    dF : callable
        The derivative as a linear map, ``K -> DF(X)[K]``, returning a numeric array (or
        number) of one shape for every K.
    in_shape : tuple of int
        The shape of X: at most :data:`MAX_GRID_ENTRIES` (16,384) entries, since the grid
        calls dF once per entry (refused before any call above that, or when the grid
        cannot fit in memory).

    Returns
    -------
    numpy.ndarray, shape ``in_shape + out_shape``
        ``G[k, l] = dF(J^kl)``; complex if dF returns complex numbers.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc.layouts import single_entry_grid
    >>> A, W = np.array([[1, 2], [3, 4]]), np.array([[1, 0, 2]])
    >>> G = single_entry_grid(lambda K: A @ K @ W, (2, 1))   # H is 2 x 1
    >>> G.shape                                              # (V, d1) grid of V x d2
    (2, 1, 2, 3)
    >>> G[1, 0]                                              # A J^10 W
    array([[2., 0., 4.],
           [4., 0., 8.]])
    """
    in_ = as_shape("in_shape", in_shape)
    if not callable(dF):
        raise TypeError(f"dF must be callable (K -> DF(X)[K]), got {type(dF).__name__}")
    n = prod(in_)
    if n > MAX_GRID_ENTRIES:
        raise ValueError(
            f"in_shape {in_} has {n:,} entries: the grid would call dF once for each, more "
            f"than the {MAX_GRID_ENTRIES:,} single_entry_grid allows; use the linear map "
            "itself (or a directional derivative) for an X this large"
        )
    check_size(n, 8, f"a single-entry matrix of shape {in_}")
    grid: np.ndarray | None = None
    for i, index in enumerate(np.ndindex(*in_)):
        E = np.zeros(in_)  # a fresh one each time: dF may keep or modify its argument
        E[index] = 1.0
        image = _grid_image(dF(E), i, None if grid is None else grid.shape[1:])
        if grid is None:
            check_size(n * image.size, image.itemsize, "the grid of dF/dX_kl")
            grid = np.empty((n,) + image.shape, dtype=image.dtype)
        elif image.dtype != grid.dtype and np.iscomplexobj(image):
            grid = grid.astype(complex)
        grid[i] = image
    if grid is None:
        return np.zeros(in_)
    return grid.reshape(in_ + grid.shape[1:])


# single_entry_grid calls dF once per entry of X: beyond this many, it refuses.
MAX_GRID_ENTRIES = 2**14


def _grid_image(value: Any, i: int, shape: tuple[int, ...] | None) -> np.ndarray:
    """dF's value at the i-th single-entry matrix: a numeric array of the first one's shape."""
    arr = np.asarray(value) if value is not None else np.asarray(None, dtype=object)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(
            f"dF must return numbers (an array or a number), got {type(value).__name__}"
            + (f" of dtype {arr.dtype}" if isinstance(value, np.ndarray) else "")
        )
    if shape is not None and arr.shape != shape:
        raise ValueError(
            f"dF returned arrays of different shapes: {shape} and then {arr.shape} (at "
            f"single-entry matrix number {i}); a linear map has one output shape"
        )
    return arr


def single_entry_grid_to_book(G: ArrayLike, out_shape: Shape, in_shape: Shape) -> np.ndarray:
    """The Cookbook's grid of ``dF/dX_kl`` matrices to the book's tensor.

    Exact: the entries are only moved.

    ``G[k, l]`` is the matrix ``dF/dX_kl`` (F's shape), so ``G[k, l, i, j] =
    dF[i, j]/dX[k, l]``: the variable's indices come first, as in sympy. The book's
    tensor has them last.

    Parameters
    ----------
    G : array_like, shape ``in_shape + out_shape``
    out_shape, in_shape : tuple of int

    Returns
    -------
    numpy.ndarray, shape ``out_shape + in_shape``

    Raises
    ------
    ValueError
        If G does not have shape ``in_shape + out_shape``.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import jacobian_tensor
    >>> from mdcalc.layouts import single_entry_grid, single_entry_grid_to_book
    >>> A, W = np.array([[1, 2], [3, 4]]), np.array([[1, 0, 2]])
    >>> G = single_entry_grid(lambda K: A @ K @ W, (2, 1))
    >>> J = single_entry_grid_to_book(G, out_shape=(2, 3), in_shape=(2, 1))
    >>> bool(np.array_equal(J, jacobian_tensor(A, W)))
    True
    """
    # The grid is laid out variable first, exactly as sympy's order is.
    return _variable_first_to_book("G", G, out_shape, in_shape, "a grid of dF/dX_kl")


def book_to_single_entry_grid(J: ArrayLike, out_shape: Shape, in_shape: Shape) -> np.ndarray:
    """The book's tensor to the Cookbook's grid of ``dF/dX_kl`` matrices.

    Exact: the entries are only moved.

    Inverse of :func:`single_entry_grid_to_book`.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import jacobian_tensor
    >>> from mdcalc.layouts import book_to_single_entry_grid
    >>> A, W = np.array([[1, 2], [3, 4]]), np.array([[1, 0, 2]])
    >>> G = book_to_single_entry_grid(jacobian_tensor(A, W), (2, 3), (2, 1))
    >>> G[1, 0]                                              # A J^10 W
    array([[2., 0., 4.],
           [4., 0., 8.]])
    """
    return book_to_sympy_order(J, out_shape, in_shape)  # the same variable-first layout


# --------------------------------------------------------------------------------------
# vec-Jacobians: column-major (Magnus and Neudecker) and row-major (numpy's reshape)
# --------------------------------------------------------------------------------------


def column_major_to_book(M: ArrayLike, out_shape: Shape, in_shape: Shape) -> np.ndarray:
    """The vec-Jacobian ``d vec F / d vec X`` (columns stacked) to the book's tensor.

    Exact: the entries are only moved.

    ``M[i + r l, j + m k] = dF[i, l] / dX[j, k]`` for F of shape ``(r, s)`` and X of
    shape ``(m, p)``; for Z = A H W this matrix is ``W^T ⊗ A``. The same as
    :func:`mdcalc.matrix_to_tensor`, named here for the table of conventions.

    Parameters
    ----------
    M : array_like, shape ``(prod(out_shape), prod(in_shape))``
    out_shape, in_shape : tuple of int

    Returns
    -------
    numpy.ndarray, shape ``out_shape + in_shape``

    Raises
    ------
    ValueError
        If M has the wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import jacobian_tensor
    >>> from mdcalc.layouts import column_major_to_book
    >>> A, W = np.array([[1, 2], [3, 4]]), np.array([[1, 0, 2]])
    >>> J = column_major_to_book(np.kron(W.T, A), (2, 3), (2, 1))
    >>> bool(np.array_equal(J, jacobian_tensor(A, W)))
    True
    """
    return matrix_to_tensor(M, as_shape("out_shape", out_shape), as_shape("in_shape", in_shape))


def book_to_column_major(J: ArrayLike, out_shape: Shape, in_shape: Shape) -> np.ndarray:
    """The book's tensor to the column-major vec-Jacobian ``d vec F / d vec X``.

    Exact: the entries are only moved.

    Inverse of :func:`column_major_to_book`; the same as :func:`mdcalc.tensor_to_matrix`.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import jacobian_tensor
    >>> from mdcalc.layouts import book_to_column_major
    >>> A, W = np.array([[1, 2], [3, 4]]), np.array([[1, 0, 2]])
    >>> M = book_to_column_major(jacobian_tensor(A, W), (2, 3), (2, 1))
    >>> bool(np.array_equal(M, np.kron(W.T, A)))        # W^T ⊗ A
    True
    """
    return tensor_to_matrix(J, as_shape("out_shape", out_shape), as_shape("in_shape", in_shape))


def row_major_to_book(M: ArrayLike, out_shape: Shape, in_shape: Shape) -> np.ndarray:
    """A row-major vec-Jacobian (numpy's default flattening) to the book's tensor.

    Exact: the entries are only moved.

    With rows flattened first (``X.reshape(-1)``), entry ``X[j, k]`` of an ``m x p``
    matrix lands at ``j p + k`` and ``M[i s + l, j p + k] = dF[i, l] / dX[j, k]``; for
    Z = A H W this matrix is ``A ⊗ W^T``, not ``W^T ⊗ A``.

    Parameters
    ----------
    M : array_like, shape ``(prod(out_shape), prod(in_shape))``
    out_shape, in_shape : tuple of int

    Returns
    -------
    numpy.ndarray, shape ``out_shape + in_shape``

    Raises
    ------
    ValueError
        If M has the wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import jacobian_tensor
    >>> from mdcalc.layouts import row_major_to_book
    >>> A, W = np.array([[1, 2], [3, 4]]), np.array([[1, 0, 2]])
    >>> J = row_major_to_book(np.kron(A, W.T), (2, 3), (2, 1))
    >>> bool(np.array_equal(J, jacobian_tensor(A, W)))
    True
    """
    out_, in_ = as_shape("out_shape", out_shape), as_shape("in_shape", in_shape)
    M_ = np.asarray(M)
    _expect("M", M_, (prod(out_), prod(in_)), "a vec-Jacobian (F.size, X.size)")
    return c_contiguous(M_.reshape(out_ + in_))


def book_to_row_major(J: ArrayLike, out_shape: Shape, in_shape: Shape) -> np.ndarray:
    """The book's tensor to the row-major vec-Jacobian (``F.reshape(-1)`` by ``X.reshape(-1)``).

    Exact: the entries are only moved.

    Inverse of :func:`row_major_to_book`.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import jacobian_tensor
    >>> from mdcalc.layouts import book_to_row_major
    >>> A, W = np.array([[1, 2], [3, 4]]), np.array([[1, 0, 2]])
    >>> M = book_to_row_major(jacobian_tensor(A, W), (2, 3), (2, 1))
    >>> bool(np.array_equal(M, np.kron(A, W.T)))        # A ⊗ W^T
    True
    """
    out_, in_ = as_shape("out_shape", out_shape), as_shape("in_shape", in_shape)
    J_ = np.asarray(J)
    _expect("J", J_, out_ + in_, "the book's tensor (F.shape + X.shape)")
    return c_contiguous(J_.reshape(prod(out_), prod(in_)))


def commutation_matrix(m: int, n: int) -> np.ndarray:
    """The commutation matrix ``K_mn``: ``K_mn @ vec(X) == vec(X.T)`` for an m x n X.

    Exact (zeros and ones).

    It is the permutation between the two vec orders: ``vec(X.T)`` is X flattened row by
    row, so a row-major vec-Jacobian is ``K_rs M K_mp^T`` for the column-major ``M`` of
    a function from m x p to r x s matrices.

    Parameters
    ----------
    m, n : int
        The shape of X.

    Returns
    -------
    numpy.ndarray, shape (m n, m n)
        A permutation matrix of zeros and ones.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import vec
    >>> from mdcalc.layouts import commutation_matrix
    >>> X = np.array([[1, 2, 3], [4, 5, 6]])
    >>> commutation_matrix(2, 3) @ vec(X)            # vec(X^T): the rows of X
    array([1., 2., 3., 4., 5., 6.])
    """
    if int(m) != m or int(n) != n or m < 1 or n < 1:
        raise ValueError(f"m and n must be positive integers, got m={m!r}, n={n!r}")
    m, n = int(m), int(n)
    check_size((m * n) ** 2, 8, f"the commutation matrix ({m * n} x {m * n})")
    K = np.zeros((m * n, m * n))
    j, k = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    # X[j, k] sits at j + m k in vec(X) and at k + n j in vec(X^T).
    K[(k + n * j).ravel(), (j + m * k).ravel()] = 1.0
    return K


# --------------------------------------------------------------------------------------
# numerator and denominator layout (scalars and vectors, and a scalar by a matrix)
# --------------------------------------------------------------------------------------


def _layout_kind(out_: tuple[int, ...], in_: tuple[int, ...], layout: str) -> str:
    if len(out_) <= 1 and len(in_) <= 1:
        return "vector"
    if len(out_) == 0 and len(in_) == 2:
        return "scalar-by-matrix"
    raise ValueError(
        f"the {layout} layout is defined here for scalars and vectors (and a scalar by a "
        f"matrix); an output of shape {_described(out_)} by a variable of shape "
        f"{_described(in_)} has no single agreed {layout}-layout matrix: use the "
        "vec-Jacobian (book_to_column_major) instead"
    )


def _numerator_shape(out_: tuple[int, ...], in_: tuple[int, ...]) -> tuple[int, int]:
    if _layout_kind(out_, in_, "numerator") == "vector":
        return prod(out_), prod(in_)
    return in_[1], in_[0]


def numerator_to_book(D: ArrayLike, out_shape: Shape, in_shape: Shape) -> np.ndarray:
    """A derivative in numerator layout to the book's layout.

    Exact: the entries are only moved.

    Numerator layout lays ``dy/dx`` out like ``y`` times ``x^T``: one row per entry of
    the output y. For y of length m and x of length n it is the m x n Jacobian
    ``D[i, j] = dy_i/dx_j`` (a scalar counts as length 1, so the derivative of a scalar
    by a vector is a 1 x n row); for a scalar by a p x q matrix X it is q x p,
    ``D[k, j] = dy/dX[j, k]``.

    Parameters
    ----------
    D : array_like
        Shape ``(m, n)`` (vectors and scalars) or ``(q, p)`` (a scalar by a p x q
        matrix).
    out_shape, in_shape : tuple of int
        The shapes of y and x in the book: ``()`` for a scalar, ``(n,)`` for a vector,
        ``(p, q)`` for a matrix variable of a scalar function.

    Returns
    -------
    numpy.ndarray, shape ``out_shape + in_shape``

    Raises
    ------
    ValueError
        If D has the wrong shape, or the shapes are not a case the layout names
        (a matrix output, or a vector by a matrix).

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc.layouts import numerator_to_book
    >>> M = np.array([[1, 2, 3], [4, 5, 6]])     # y = M x: numerator layout dy/dx = M
    >>> numerator_to_book(M, out_shape=(2,), in_shape=(3,))
    array([[1, 2, 3],
           [4, 5, 6]])
    >>> numerator_to_book(np.array([[1, 2, 3]]), out_shape=(), in_shape=(3,))  # a row
    array([1, 2, 3])
    """
    out_, in_ = as_shape("out_shape", out_shape), as_shape("in_shape", in_shape)
    D_ = np.asarray(D)
    _expect("D", D_, _numerator_shape(out_, in_), "a numerator-layout derivative")
    if _layout_kind(out_, in_, "numerator") == "vector":
        return c_contiguous(D_.reshape(out_ + in_))
    return c_contiguous(D_.T)


def book_to_numerator(J: ArrayLike, out_shape: Shape, in_shape: Shape) -> np.ndarray:
    """The book's layout to numerator layout (inverse of :func:`numerator_to_book`).

    Exact: the entries are only moved.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc.layouts import book_to_numerator
    >>> book_to_numerator(np.array([1, 2, 3]), out_shape=(), in_shape=(3,))  # gradient -> row
    array([[1, 2, 3]])
    """
    out_, in_ = as_shape("out_shape", out_shape), as_shape("in_shape", in_shape)
    J_ = np.asarray(J)
    shape = _numerator_shape(out_, in_)  # raises for cases the layout does not name
    _expect("J", J_, out_ + in_, "the book's tensor (F.shape + X.shape)")
    if _layout_kind(out_, in_, "numerator") == "vector":
        return c_contiguous(J_.reshape(shape))
    return c_contiguous(J_.T)


def denominator_to_book(D: ArrayLike, out_shape: Shape, in_shape: Shape) -> np.ndarray:
    """A derivative in denominator layout to the book's layout.

    Exact: the entries are only moved.

    Denominator layout lays ``dy/dx`` out like ``x`` times ``y^T``: one row per entry of
    the variable x, the transpose of numerator layout. For y of length m and x of
    length n it is n x m, ``D[j, i] = dy_i/dx_j``; the derivative of a scalar by a
    vector is a column (the gradient), and of a scalar by a matrix X it has X's shape.

    Parameters
    ----------
    D : array_like
        Shape ``(n, m)`` (vectors and scalars) or ``(p, q)`` (a scalar by a p x q
        matrix).
    out_shape, in_shape : tuple of int
        The shapes of y and x in the book (see :func:`numerator_to_book`).

    Returns
    -------
    numpy.ndarray, shape ``out_shape + in_shape``

    Raises
    ------
    ValueError
        If D has the wrong shape, or the shapes are not a case the layout names.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc.layouts import denominator_to_book
    >>> M = np.array([[1, 2, 3], [4, 5, 6]])     # y = M x: denominator layout dy/dx = M^T
    >>> denominator_to_book(M.T, out_shape=(2,), in_shape=(3,))
    array([[1, 2, 3],
           [4, 5, 6]])
    """
    out_, in_ = as_shape("out_shape", out_shape), as_shape("in_shape", in_shape)
    D_ = np.asarray(D)
    n_rows, n_cols = _numerator_shape(out_, in_)
    _expect("D", D_, (n_cols, n_rows), "a denominator-layout derivative")
    if _layout_kind(out_, in_, "denominator") == "vector":
        return c_contiguous(D_.T.reshape(out_ + in_))
    return c_contiguous(D_)


def book_to_denominator(J: ArrayLike, out_shape: Shape, in_shape: Shape) -> np.ndarray:
    """The book's layout to denominator layout (inverse of :func:`denominator_to_book`).

    Exact: the entries are only moved.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc.layouts import book_to_denominator
    >>> book_to_denominator(np.array([1, 2, 3]), out_shape=(), in_shape=(3,))  # a column
    array([[1],
           [2],
           [3]])
    """
    return c_contiguous(book_to_numerator(J, out_shape, in_shape).T)
