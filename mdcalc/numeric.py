"""Numeric differentiation: the Jacobian of any matrix function, to check closed forms.

Two methods:

``"complex-step"``
    ``dF/dX[j, k] = Im F(X + i h E_jk) / h`` with h = 2^-66. No subtraction, so no
    cancellation: exact to machine precision for any f that is complex-analytic (built
    from +, -, @, inv, exp, tanh, log, ...; not abs, conj, real, max or comparisons).
``"central"``
    ``(F(X + h E_jk) - F(X - h E_jk)) / 2h``: works for any smooth real f, with about
    eight correct digits.

Speed: when f broadcasts over a leading stack dimension (``A @ X @ W`` and elementwise
numpy functions do), many perturbations go through one call of f. Whether it does is
tested, not assumed: a stacked call must return exactly what separate calls return,
otherwise every perturbation gets a call of its own.

Memory: stacks are cut into batches whose inputs and outputs together stay below
``max_memory`` bytes (256 MiB by default), whatever the size of X, and below 4 MiB in any
case, which keeps a batch in cache and is faster (benchmarks/README.md). f's own
intermediate arrays scale the same way. The Jacobian returned is, of course, extra.
"""

from __future__ import annotations

from typing import Any, Literal
from collections.abc import Callable, Iterator

import numpy as np
from numpy.typing import ArrayLike

from mdcalc._validation import as_point, evaluate, shape_str

__all__ = ["jacobian", "directional_derivative", "METHODS", "COMPLEX_STEP"]

Method = Literal["complex-step", "central"]
METHODS: tuple[str, ...] = ("complex-step", "central")
COMPLEX_STEP = 2.0**-66  # about 1.4e-20; a power of two, so scaling by it is exact
DEFAULT_MAX_MEMORY = 256 * 2**20
# Batches are cut smaller than max_memory asks, so that a batch's stack, f's temporaries and
# the block of J it fills stay in cache (measured 1.4-4x faster than 256 MiB ones).
CACHE_BATCH_BYTES = 4 * 2**20


def _central_steps(X: np.ndarray) -> np.ndarray:
    # eps^(1/3) balances truncation (h^2) against rounding (eps / h) error.
    return np.cbrt(np.finfo(float).eps) * np.maximum(1.0, np.abs(X))


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def _evaluate_complex(f: Callable[..., Any], Xc: np.ndarray) -> np.ndarray:
    out = evaluate(f, Xc)
    if not np.iscomplexobj(out):
        raise TypeError(
            "f returned a real array for a complex input, so the complex step cannot see "
            "its derivative (does f use abs, real, float() or a real-only routine?); "
            "use method='central'"
        )
    return out


def directional_derivative(
    f: Callable[..., Any], X: ArrayLike, K: ArrayLike, method: Method = "complex-step"
) -> np.ndarray:
    """The derivative of f at X in the direction K, ``DF(X)[K]``, from one or two calls of f.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import directional_derivative
    >>> X, K = np.array([[1.0, 2.0], [3.0, 4.0]]), np.eye(2)
    >>> directional_derivative(lambda X: X @ X, X, K)     # X K + K X
    array([[2., 4.],
           [6., 8.]])
    """
    _check_method(method)
    X_ = as_point("X", X)
    K_ = as_point("K", K)
    if K_.shape != X_.shape:
        raise ValueError(f"X is {shape_str(X_.shape)} but K is {shape_str(K_.shape)}")
    if method == "complex-step":
        return _evaluate_complex(f, X_ + 1j * COMPLEX_STEP * K_).imag / COMPLEX_STEP
    # The same relative step as jacobian's central differences, spread along K.
    scale = max(1.0, float(np.abs(X_).max())) / max(1.0, float(np.abs(K_).max()))
    t = float(np.cbrt(np.finfo(float).eps)) * scale
    return (evaluate(f, X_ + t * K_) - evaluate(f, X_ - t * K_)) / (2 * t)


def jacobian(
    f: Callable[..., Any],
    X: ArrayLike,
    method: Method = "complex-step",
    *,
    max_memory: int = DEFAULT_MAX_MEMORY,
) -> np.ndarray:
    """Numeric Jacobian of a matrix (or vector, or scalar) function f at X.

    Parameters
    ----------
    f : callable
        Takes an array shaped like X and returns a numpy array (or numpy scalar).
    X : array_like, 1-D or 2-D, real and finite
        The point of differentiation.
    method : {"complex-step", "central"}
        See the module docstring. Complex-step is near machine precision but needs f to
        accept complex input analytically; central works for any smooth real f.
    max_memory : int
        Bound in bytes on the stacked inputs and outputs of one batch of perturbations.

    Returns
    -------
    numpy.ndarray, shape ``f(X).shape + X.shape``
        ``J[i, l, j, k] = dF[i, l] / dX[j, k]`` (output indices first).

    Raises
    ------
    ValueError
        If X is not a finite real vector or matrix, f(X) is not finite, or the complex
        step disagrees with a finite difference (f is not complex-analytic).
    TypeError
        If f does not return an array, or (complex-step) returns a real array for a
        complex input.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import jacobian
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> W = np.array([[5.0, 6.0]])
    >>> J = jacobian(lambda H: A @ H @ W, np.zeros((2, 1)))
    >>> J.shape                            # Z.shape + H.shape
    (2, 2, 2, 1)
    >>> float(J[1, 0, 0, 0])               # A[1, 0] * W[0, 0] = 3 * 5
    15.0
    """
    _check_method(method)
    X_ = as_point("X", X)
    F0 = evaluate(f, X_)
    if not np.all(np.isfinite(F0)):
        raise ValueError("f(X) has non-finite entries (nan or inf) at this X")
    out_shape, n_in, n_out = F0.shape, X_.size, F0.size
    complex_step = method == "complex-step"
    if complex_step:
        _evaluate_complex(f, X_.astype(complex))  # a clear TypeError if f drops the imaginary part
    steps = _central_steps(X_).reshape(-1)  # used by the central method only

    def perturbed(cols: slice, sign: float = 1.0) -> np.ndarray:
        """A stack of copies of X, copy b with entry cols.start + b (row-major index) moved."""
        b = cols.stop - cols.start
        stack = np.empty((b, n_in), dtype=complex if complex_step else float)
        stack[...] = X_.reshape(1, -1)
        moved = (np.arange(b), np.arange(cols.start, cols.stop))
        if complex_step:
            stack[moved] += 1j * COMPLEX_STEP
        else:
            stack[moved] += sign * steps[cols]
        return stack.reshape((b,) + X_.shape)

    def fill(cols: slice, call: Callable[[np.ndarray], np.ndarray]) -> None:
        """Columns ``cols`` of ``flat``: dF/dX[col], scaled and transposed in one pass."""
        b = cols.stop - cols.start
        if complex_step:
            rows = call(perturbed(cols)).imag.reshape(b, n_out)
            np.multiply(rows.T, 1.0 / COMPLEX_STEP, out=flat[:, cols])  # 2^66: exact
        else:
            diff = call(perturbed(cols, +1.0)) - call(perturbed(cols, -1.0))
            np.divide(diff.reshape(b, n_out).T, 2.0 * steps[cols], out=flat[:, cols])

    def one_by_one(stack: np.ndarray) -> np.ndarray:
        return np.stack([evaluate(f, x) for x in stack])

    call = _stacked_call(f, X_, out_shape, complex_step) or one_by_one
    itemsize = 16 if complex_step else 8
    per_perturbation = itemsize * (n_in + n_out) * (1 if complex_step else 2)
    flat = np.empty((n_out, n_in))  # row-major flat output index x row-major flat input index
    for cols in _batches(n_in, per_perturbation, max_memory):
        fill(cols, call)
    J = flat.reshape(out_shape + X_.shape)
    if complex_step:
        _verify_analytic(f, X_, J)
    return J


def _batches(n: int, per_item: int, max_memory: int) -> Iterator[slice]:
    """Slices of range(n), each small enough for max_memory and for the cache."""
    if max_memory <= 0:
        raise ValueError(f"max_memory must be positive, got {max_memory}")
    budget = min(max_memory, CACHE_BATCH_BYTES)
    size = max(1, min(n, budget // max(per_item, 1)))
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def _stacked_call(
    f: Callable[..., Any], X: np.ndarray, out_shape: tuple[int, ...], complex_step: bool
) -> Callable[[np.ndarray], np.ndarray] | None:
    """Return a stacked evaluator of f if f provably broadcasts over a leading axis, else None.

    Probe: three different nearby points evaluated in one stacked call must give exactly
    (to rounding) what three separate calls give. A function that mixes the stack axis
    into its result (``X.T``, ``X.sum()``, ``np.trace(X)``) fails the probe.
    """
    if X.size == 1:
        return None
    rng = np.random.default_rng(0)
    scale = 1e-3 * np.maximum(1.0, np.abs(X))
    probe = X + scale * rng.standard_normal((3,) + X.shape)
    if complex_step:
        probe = probe + 1j * scale * rng.standard_normal((3,) + X.shape)
    try:
        with np.errstate(all="ignore"):
            stacked = np.asarray(f(probe))
            separate = np.stack([np.asarray(f(p)) for p in probe])
    except Exception:  # f does not accept a stack: that is what the probe asks
        return None
    if stacked.shape != (3,) + out_shape or separate.shape != stacked.shape:
        return None
    if not (np.all(np.isfinite(stacked)) and np.all(np.isfinite(separate))):
        return None
    for part in (np.real, np.imag):
        a, b = part(stacked), part(separate)
        if not np.allclose(a, b, rtol=1e-9, atol=1e-12 * max(1.0, np.abs(b).max())):
            return None

    def call(stack: np.ndarray) -> np.ndarray:
        out = evaluate(f, stack)
        if out.shape != (len(stack),) + out_shape:
            raise ValueError(
                f"f returned shape {out.shape} for a stack of {len(stack)} inputs, "
                f"expected {(len(stack),) + out_shape}"
            )
        return out

    return call


def _verify_analytic(f: Callable[..., Any], X: np.ndarray, J: np.ndarray) -> None:
    """Compare the complex-step J with a central difference in one random direction.

    A function that is not complex-analytic (abs, conj, real, comparisons) gives a
    complex-step answer that is wrong, not noisy: refuse it rather than return it.
    """
    K = np.random.default_rng(1).standard_normal(X.shape)
    from_J = np.tensordot(J, K, axes=X.ndim)
    central = directional_derivative(f, X, K, method="central")
    scale = max(np.abs(central).max(initial=0.0), np.abs(from_J).max(initial=0.0), 1e-300)
    if np.abs(from_J - central).max(initial=0.0) > 1e-4 * scale + 1e-10:
        raise ValueError(
            "the complex-step Jacobian disagrees with a central difference: f is probably "
            "not complex-analytic (abs, conj, real, max or a comparison inside?); "
            "use method='central'"
        )
