"""Checking a claimed derivative, and saying in words what is wrong with a wrong one.

The check needs no full Jacobian: for a few random directions K it compares the claim's
``DF(X)[K]`` with a numeric directional derivative (one complex-step call of f each, exact
to rounding for analytic f). A linear map is decided by a few generic directions, so this
is a real test at any size. When the claim fails, the same directions test alternative
readings of it (row-major order, input indices first, a transpose, an untransposed
Kronecker factor, a sign, a factor): the first reading that fits names the mistake.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from math import prod
from typing import Any, Literal
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from mdcalc._validation import as_point, evaluate, shape_str
from mdcalc.layouts import sympy_order_to_book
from mdcalc.numeric import directional_derivative
from mdcalc.vectorization import matrix_to_tensor

__all__ = ["CheckResult", "check_derivative", "self_check"]

Reading = Callable[[np.ndarray], np.ndarray]
NumericMethod = Literal["complex-step", "central"]
# Above this many entries a claimed matrix is not factored into a Kronecker product.
_KRON_DIAGNOSIS_LIMIT = 4_000_000


@dataclass(frozen=True)
class CheckResult:
    """The verdict of :func:`check_derivative`; truthy exactly when the claim holds.

    Attributes
    ----------
    ok : bool
        Whether the claim matches the numeric derivative in every direction tried.
    max_error : float
        Largest relative error ``max|claimed - numeric| / max|numeric|`` over the
        directions (``inf`` when the claim has the wrong shape).
    message : str
        The verdict in words; for a wrong claim, what kind of mistake it is, if known.
    form : str
        How the claim was read: ``"tensor"``, ``"gradient"``, ``"matrix"``, ``"callable"``,
        or ``"unrecognised"`` (wrong shape).
    mistake : str or None
        A short name of the recognised mistake (``"row-major"``, ``"input-first"``,
        ``"transpose"``, ``"kronecker-factor"``, ``"adjoint"``, ``"zero"``, ``"sign"``,
        ``"scale"``, ``"shape"``), ``None`` when correct or not recognised.
    method : str
        The numeric method used: ``"complex-step"`` or ``"central"``.
    """

    ok: bool
    max_error: float
    message: str
    form: str
    mistake: str | None
    method: str

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        # Wrapped to fit the book's code column (about 76 characters); .message keeps one line.
        return textwrap.fill(self.message, width=76)


def check_derivative(
    f: Callable[..., Any],
    X: ArrayLike,
    claimed: Any,
    *,
    method: Literal["auto", "complex-step", "central"] = "auto",
    rtol: float | None = None,
    n_directions: int = 3,
    seed: int = 0,
) -> CheckResult:
    """Check a claimed derivative of f at X, and explain a wrong one.

    Parameters
    ----------
    f : callable
        The function, from arrays shaped like X to arrays (matrix, vector or scalar).
    X : array_like, 1-D or 2-D, real
        The point at which the derivative is claimed.
    claimed : array_like or callable
        One of: the tensor, shape ``f(X).shape + X.shape`` (output indices first; for a
        scalar f this is the gradient, shaped like X); the vec-Jacobian matrix, shape
        ``(f(X).size, X.size)`` with column-major vec; or a callable ``K -> DF(X)[K]``.
    method : {"auto", "complex-step", "central"}
        Numeric method; "auto" uses the complex step when f is complex-analytic.
    rtol : float, optional
        Relative tolerance; 1e-8 for the complex step, 1e-5 for central differences.
    n_directions : int
        How many random directions K to test.
    seed : int
        Seed of the random directions.

    Returns
    -------
    CheckResult
        Truthy when the claim holds; ``str(result)`` says why or why not.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import check_derivative, kron_jacobian
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> W = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    >>> f = lambda H: A @ H @ W
    >>> H = np.ones((2, 2))
    >>> bool(check_derivative(f, H, kron_jacobian(A, W)))
    True
    >>> result = check_derivative(f, H, np.kron(A, W.T))
    >>> result.mistake
    'row-major'
    """
    X_ = as_point("X", X)
    F0 = evaluate(f, X_)
    if not np.all(np.isfinite(F0)):
        raise ValueError("f(X) has non-finite entries (nan or inf) at this X")
    if n_directions < 1:
        raise ValueError(f"n_directions must be at least 1, got {n_directions}")
    used = _resolve_method(f, X_, method)
    rtol = rtol if rtol is not None else (1e-8 if used == "complex-step" else 1e-5)
    out_shape, in_shape = F0.shape, X_.shape
    rng = np.random.default_rng(seed)
    directions = [rng.standard_normal(in_shape) for _ in range(n_directions)]
    numeric = [directional_derivative(f, X_, K, method=used) for K in directions]
    context = _Context(out_shape, in_shape, directions, numeric, rtol, used)

    form, reading = _read_claim(claimed, out_shape, in_shape)
    if reading is None:
        return _shape_failure(context, claimed)
    values = [_apply(reading, K, out_shape) for K in directions]
    if isinstance(values[0], str):
        return context.result(False, np.inf, values[0], form, "shape")
    error = context.error(values)
    noun = _FORM_NOUN[form]
    if error <= rtol:
        return context.result(
            True,
            error,
            f"correct: the {noun} matches the numeric derivative in {n_directions} random "
            f"directions (largest relative error {_describe_error(error)}, {used}).",
            form,
            None,
        )
    mistake, why = _diagnose(context, claimed, form, values)
    message = (
        f"wrong: the {noun} does not match the derivative (largest relative error {error:.2g})."
    )
    return context.result(False, error, f"{message} {why}", form, mistake)


def _describe_error(error: float) -> str:
    # Rounding-level errors differ in their last digits between machines and BLAS builds;
    # saying "below 1e-12" keeps a printed verdict the same everywhere.
    return "below 1e-12" if error < 1e-12 else f"{error:.1e}"


def self_check(f: Callable[..., Any], X: ArrayLike, answer: Any) -> CheckResult | None:
    """Check a reader's answer to an exercise, and print the verdict.

    ``answer`` may be anything :func:`check_derivative` accepts; ``None`` (the placeholder
    in an exercise) prints what to do instead.

    Examples
    --------
    >>> import numpy as np
    >>> from mdcalc import self_check
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> self_check(lambda X: X @ X, X, None)
    Write your answer in place of None, then run this cell again.
    >>> result = self_check(lambda X: X @ X, X, lambda K: 2 * X @ K)
    wrong: the claimed linear map does not match the derivative (largest relative error
    0.69). The error is not one of the classic mistakes this checker knows.
    """
    if answer is None:
        print("Write your answer in place of None, then run this cell again.")
        return None
    result = check_derivative(f, X, answer)
    print(result)
    return result


_FORM_NOUN = {
    "tensor": "claimed tensor (output indices first)",
    "gradient": "claimed gradient",
    "matrix": "claimed vec-Jacobian matrix",
    "callable": "claimed linear map",
}


@dataclass
class _Context:
    out_shape: tuple[int, ...]
    in_shape: tuple[int, ...]
    directions: list[np.ndarray]
    numeric: list[np.ndarray]
    rtol: float
    method: str

    def error(self, values: list[np.ndarray]) -> float:
        worst = 0.0
        for got, want in zip(values, self.numeric, strict=True):
            diff = float(np.abs(got - want).max(initial=0.0))
            scale = float(np.abs(want).max(initial=0.0))
            worst = max(worst, diff / scale if scale > 0 else (np.inf if diff > 0 else 0.0))
        return worst

    def fits(self, reading: Reading) -> bool:
        """Whether DF[K] read this way matches the numeric derivative in every direction."""
        values = [_apply(reading, K, self.out_shape) for K in self.directions]
        return not isinstance(values[0], str) and self.error(values) <= max(self.rtol, 1e-6)

    def result(
        self, ok: bool, err: float, message: str, form: str, mistake: str | None
    ) -> CheckResult:
        return CheckResult(ok, err, message, form, mistake, self.method)


def _resolve_method(f: Callable[..., Any], X: np.ndarray, method: str) -> NumericMethod:
    if method not in ("auto", "complex-step", "central"):
        raise ValueError(f"method must be 'auto', 'complex-step' or 'central', got {method!r}")
    if method != "auto":
        return "complex-step" if method == "complex-step" else "central"
    # The complex step is exact, but only for f that carries complex numbers analytically.
    K = np.random.default_rng(12345).standard_normal(X.shape)
    try:
        with np.errstate(all="ignore"):
            exact = directional_derivative(f, X, K, method="complex-step")
    except Exception:
        return "central"
    rough = directional_derivative(f, X, K, method="central")
    scale = max(float(np.abs(rough).max(initial=0.0)), 1e-300)
    gap = np.abs(exact - rough).max(initial=0.0)
    close = np.all(np.isfinite(exact)) and gap <= 1e-4 * scale + 1e-10
    return "complex-step" if close else "central"


def _read_claim(
    claimed: Any, out_shape: tuple[int, ...], in_shape: tuple[int, ...]
) -> tuple[str, Reading | None]:
    """Decide which form the claim is in, and return how to apply it to a direction K."""
    if callable(claimed):
        return "callable", claimed
    arr = _as_claim_array(claimed)
    if arr.shape == out_shape + in_shape:
        T = arr
        form = "gradient" if out_shape == () else "tensor"
        return form, lambda K: np.tensordot(T, K, axes=len(in_shape))
    if arr.shape == (prod(out_shape), prod(in_shape)):
        return "matrix", _matrix_reading(arr, out_shape)
    return "unrecognised", None


def _as_claim_array(claimed: Any) -> np.ndarray:
    arr = np.asarray(claimed)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(
            "claimed must be a numeric array or a callable K -> DF(X)[K], "
            f"got {type(claimed).__name__} (dtype {arr.dtype})"
        )
    return arr


def _matrix_reading(
    M: np.ndarray, out_shape: tuple[int, ...], order: Literal["C", "F"] = "F"
) -> Reading:
    """K -> unvec(M vec(K)), with vec in the given order ("F" column-major, "C" row-major)."""
    return lambda K: (M @ K.reshape(-1, order=order)).reshape(out_shape, order=order)


def _apply(reading: Reading, K: np.ndarray, out_shape: tuple[int, ...]) -> Any:
    """DF[K] under a reading of the claim, or a message when it has the wrong shape."""
    value = np.asarray(reading(K))
    if value.shape != out_shape:
        return (
            f"the claimed linear map returned shape {shape_str(value.shape)} for a direction "
            f"K of X's shape {shape_str(K.shape)}, but DF(X)[K] has f(X)'s shape "
            f"{shape_str(out_shape)}."
        )
    return value


def _diagnose(
    context: _Context, claimed: Any, form: str, values: list[np.ndarray]
) -> tuple[str | None, str]:
    """Try alternative readings of a wrong claim; name the first that fits."""
    out_shape, in_shape = context.out_shape, context.in_shape
    candidates: list[tuple[str, Reading, str]] = []
    if form == "matrix":
        M = _as_claim_array(claimed)
        candidates.append((
            "row-major",
            _matrix_reading(M, out_shape, order="C"),
            "It matches the row-major convention (numpy's default flatten), not the "
            "column-major vec this book uses: for Z = A H W that is A ⊗ W^T in place of "
            "W^T ⊗ A. Flatten with order='F' (mdcalc.vec) to stack columns.",
        ))
        if M.shape[0] == M.shape[1]:
            candidates.append((
                "transpose",
                _matrix_reading(M.T, out_shape),
                "It is off by a transpose: this is the denominator layout (one row per "
                "input entry); the vec-Jacobian has one row per output entry, so use M.T.",
            ))
        candidates.extend(_kronecker_candidates(M, out_shape, in_shape))
    elif form == "tensor" and out_shape == in_shape:
        T = _as_claim_array(claimed)
        candidates.append(_input_first_candidate(T, out_shape, in_shape))
    elif form == "gradient" and len(in_shape) == 2 and in_shape[0] == in_shape[1]:
        G = _as_claim_array(claimed)
        candidates.append((
            "transpose",
            lambda K: np.sum(G.T * K),
            "It is off by a transpose: the gradient's entry [j, k] must be df/dX[j, k], "
            "with X's shape; yours is its transpose (for f = tr(A X) the gradient is A^T, "
            "not A).",
        ))
    elif form == "callable" and out_shape == in_shape:
        adjoint_fits = _is_adjoint(context, claimed)
        if adjoint_fits:
            return "adjoint", (
                "It is the adjoint (the vector-Jacobian product G -> DF(X)^T[G], as in "
                "backpropagation: for Z = A H W that is G -> A^T G W^T), not the derivative "
                "K -> DF(X)[K] (K -> A K W)."
            )
    for mistake, reading, why in candidates:
        if context.fits(reading):
            return mistake, why
    if all(not np.any(value) for value in values):
        return "zero", (
            "It is zero in every direction, and the derivative is not: a symbolic tool "
            "that cannot differentiate an expression sometimes returns 0 without a warning."
        )
    factor = _common_factor(values, context.numeric)
    if factor is not None:
        if np.isclose(factor, -1.0):
            return "sign", "It is off by a sign: it equals minus the derivative."
        return "scale", (
            f"It is off by a constant factor: it equals {factor:.6g} times the derivative."
        )
    return None, "The error is not one of the classic mistakes this checker knows."


def _input_first_candidate(
    T: np.ndarray, out_shape: tuple[int, ...], in_shape: tuple[int, ...]
) -> tuple[str, Reading, str]:
    # Claim read as T[j, k, i, l] = dF[i, l] / dX[j, k], sympy's order.
    as_output_first = sympy_order_to_book(T, out_shape, in_shape)
    return (
        "input-first",
        lambda K: np.tensordot(as_output_first, K, axes=len(in_shape)),
        "It has the right numbers with the input indices first (sympy's layout, "
        f"X.shape + f(X).shape = {in_shape + out_shape}); this book, like JAX and PyTorch, "
        f"puts the output indices first (f(X).shape + X.shape = {out_shape + in_shape}). "
        "Move the axes with np.moveaxis.",
    )


def _kronecker_candidates(
    M: np.ndarray, out_shape: tuple[int, ...], in_shape: tuple[int, ...]
) -> list[tuple[str, Reading, str]]:
    """If M = B ⊗ C, the readings with B or C transposed (where the shapes allow)."""
    if len(out_shape) != 2 or len(in_shape) != 2 or M.size > _KRON_DIAGNOSIS_LIMIT:
        return []
    (r, s), (m, p) = out_shape, in_shape
    # Column-major: M[i + r l, j + m k] = B[l, k] C[i, j]; regroup to a rank-one matrix.
    T = matrix_to_tensor(M, out_shape, in_shape)
    R = T.transpose(1, 3, 0, 2).reshape(s * p, r * m)
    U, sigma, Vt = np.linalg.svd(R, full_matrices=False)
    if sigma[0] == 0 or (len(sigma) > 1 and sigma[1] > 1e-9 * sigma[0]):
        return []
    B = (U[:, 0] * sigma[0]).reshape(s, p)
    C = Vt[0].reshape(r, m)
    found = []
    if s == p:
        found.append((
            "kronecker-factor",
            _matrix_reading(np.kron(B.T, C), out_shape),
            "It is a Kronecker product with its left factor untransposed (like W ⊗ A where "
            "W^T ⊗ A is meant): in vec(A X B) = (B^T ⊗ A) vec(X) the matrix multiplying X "
            "from the right enters transposed.",
        ))
    if r == m:
        found.append((
            "kronecker-factor",
            _matrix_reading(np.kron(B, C.T), out_shape),
            "It is a Kronecker product with its right factor transposed (like W^T ⊗ A^T where "
            "W^T ⊗ A is meant): in vec(A X B) = (B^T ⊗ A) vec(X) the matrix multiplying X "
            "from the left enters as it is.",
        ))
    if s == p and r == m:
        found.append((
            "kronecker-factor",
            _matrix_reading(np.kron(B.T, C.T), out_shape),
            "It is a Kronecker product with both factors transposed the wrong way (like "
            "W ⊗ A^T where W^T ⊗ A is meant): in vec(A X B) = (B^T ⊗ A) vec(X) only the "
            "right-hand matrix is transposed.",
        ))
    return found


def _is_adjoint(context: _Context, claimed: Reading) -> bool:
    """<claimed(K_s), K_t> == <K_s, DF[K_t]> for all pairs s, t: claimed is DF^T."""
    for Ks in context.directions:
        image = np.asarray(claimed(Ks))
        for Kt, dKt in zip(context.directions, context.numeric, strict=True):
            lhs, rhs = float(np.sum(image * Kt)), float(np.sum(Ks * dKt))
            scale = float(np.linalg.norm(Ks) * np.linalg.norm(dKt))
            if abs(lhs - rhs) > max(context.rtol, 1e-6) * max(scale, 1e-300):
                return False
    return True


def _common_factor(values: list[np.ndarray], numeric: list[np.ndarray]) -> float | None:
    """The c with values == c * numeric in every direction, if there is one (and c != 0, 1)."""
    got = np.concatenate([np.ravel(v) for v in values])
    want = np.concatenate([np.ravel(n) for n in numeric])
    norm = float(want @ want)
    if norm == 0:
        return None
    c = float(got @ want) / norm
    if c == 0 or np.isclose(c, 1.0) or np.abs(got - c * want).max() > 1e-6 * np.abs(got).max():
        return None
    return c


def _shape_failure(context: _Context, claimed: Any) -> CheckResult:
    """A claim of the wrong shape: say what shape is expected and why."""
    out_shape, in_shape = context.out_shape, context.in_shape
    arr = _as_claim_array(claimed)
    n_out, n_in = prod(out_shape), prod(in_shape)
    expected = (
        f"Expected the tensor of shape f(X).shape + X.shape = {out_shape + in_shape} "
        f"(output indices first), the vec-Jacobian of shape ({n_out}, {n_in}), "
        "or a callable K -> DF(X)[K]."
    )
    head = f"wrong shape: the claim has shape {arr.shape}."
    mistake, why = "shape", ""
    if arr.shape == in_shape + out_shape and out_shape:
        mistake, reading, why = _input_first_candidate(arr, out_shape, in_shape)
        if not context.fits(reading):
            why = ("Its shape is X.shape + f(X).shape, the input indices first (sympy's "
                   "layout); even read that way its numbers are wrong.")
    elif arr.shape == (n_in, n_out) and n_out > 1:
        if context.fits(_matrix_reading(arr.T, out_shape)):
            mistake, why = "transpose", (
                "It is the transpose of the vec-Jacobian (the denominator layout, one row "
                "per input entry); this book's layout has one row per output entry.")
        else:
            why = "That is the shape of the transposed (denominator-layout) vec-Jacobian."
    elif out_shape == () and arr.shape == in_shape[::-1]:
        if context.fits(lambda K: np.sum(arr.T * K)):
            mistake, why = "transpose", (
                "It is the transpose of the gradient: the gradient has X's shape, entry "
                "[j, k] = df/dX[j, k].")
    elif out_shape and arr.ndim <= 2:
        count = n_out * n_in
        why = (
            f"A derivative of an output of shape {shape_str(out_shape)} by an input of shape "
            f"{shape_str(in_shape)} has {n_out} x {n_in} = {count} partial derivatives, one "
            f"for each pair (output entry, input entry); an array of shape "
            f"{shape_str(arr.shape)} holds only {arr.size} numbers."
        )
        if len(in_shape) == 2 and arr.shape == out_shape:  # shaped like Z, as "A W" is
            why += (
                " This is why the tempting 'dZ/dH = A W' for Z = A H W is wrong even when "
                "the product A W exists: A and W meet in dZ[i,l]/dH[j,k] = A[i,j] W[k,l], "
                "a 4-index tensor, not in a matrix product."
            )
    message = " ".join(part for part in (head, why, expected) if part)
    return context.result(False, np.inf, message, "unrecognised", mistake)
