"""Issue 18: a hostile suite of its own, by the issue's six classes.

Every case runs in a forked child with a time limit (an alarm, and a kill from the parent
as a backstop) and a memory cap (``RLIMIT_AS``: the child's present size plus
MEMORY_CAP), and is judged against independent ground truth: closed forms derived by hand
(evaluated in extended precision where rounding matters), Richardson-extrapolated
differences, or mpmath. Each ends in one outcome:

- ``right``: the answer is right to its stated accuracy (for a checker, the verdict fits
  the truth: a right claim "correct", a wrong one "wrong");
- ``clear error``: mdcalc refused with a ValueError/TypeError of its own that explains;
- ``undecided``: a checker said it cannot decide, and why;
- ``silent wrong``: a wrong answer or verdict, or a refusal whose message is false;
- ``hang``: more than CASE_SECONDS;
- ``blow-up``: MemoryError, or any other exception (a raw numpy/sympy error).

Each case lists the outcomes it allows; none allows the last three. Run this file as a
script for the counts by class (the closing note of issue 18 quotes them).
"""

from __future__ import annotations

import multiprocessing
import resource
import signal
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mdcalc
from mdcalc import gcn, layouts

MDCALC_DIR = Path(mdcalc.__file__).resolve().parent
CASE_SECONDS = 30.0  # generous: the machine is shared; a hang takes minutes or forever
MEMORY_CAP = 1 << 30  # bytes the child may add to its address space
OUTCOMES = ("right", "clear error", "undecided", "silent wrong", "hang", "blow-up")
CLASSES = {
    1: "scale fools the checker",
    2: "numbers where there is no derivative",
    3: "unbounded work",
    4: "silent corruption in helpers",
    5: "unhelpful or false messages",
    6: "usability",
}


class Wrong(AssertionError):
    """Raised by a judge: the answer (or the message of a refusal) is wrong."""


@dataclass
class Case:
    cls: int
    name: str
    run: Callable[[], Any]  # returns an outcome (or (outcome, detail)); may raise
    allowed: frozenset[str] = frozenset({"right"})
    error_says: tuple[str, ...] = ()  # words a refusal's message must contain
    error_avoids: tuple[str, ...] = ()  # words it must not (a false reason)


CASES: list[Case] = []


def case(cls: int, name: str, *, allowed: tuple[str, ...] = ("right",),
         error_says: tuple[str, ...] = (), error_avoids: tuple[str, ...] = ()) -> Callable:
    """Register a case: the decorated function returns ``(call, judge)``; the outcome is
    ``judge(call())`` ("right", or ("undecided", why)), or the classified exception."""

    def register(build: Callable[[], tuple[Callable[[], Any], Callable[[Any], str]]]) -> Any:
        def run() -> Any:
            call, judge = build()
            return judge(call())

        CASES.append(Case(cls, name, run, frozenset(allowed), error_says, error_avoids))
        return build

    return register


# --------------------------------------------------------------------------------------
# the runner: a forked child per case, with a time limit and a memory cap
# --------------------------------------------------------------------------------------


def _address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _classify_error(exc: BaseException, c: Case) -> tuple[str, str]:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if isinstance(exc, TimeoutError):
        return "hang", text
    if isinstance(exc, MemoryError):
        return "blow-up", text
    if isinstance(exc, Wrong):
        return "silent wrong", str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    where = Path(frames[-1].filename).resolve() if frames else None
    ours = where is not None and MDCALC_DIR in where.parents
    if not (isinstance(exc, (ValueError, TypeError)) and ours and len(str(exc)) >= 20):
        return "blow-up", f"{text} (raised in {where})"
    message = str(exc).lower()
    if any(word.lower() not in message for word in c.error_says):
        return "silent wrong", f"refusal without the reason {c.error_says}: {text}"
    if any(word.lower() in message for word in c.error_avoids):
        return "silent wrong", f"refusal with a false reason {c.error_avoids}: {text}"
    return "clear error", text


def _child(conn: Any, c: Case) -> None:
    def alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"more than {CASE_SECONDS} s")

    try:
        cap = _address_space() + MEMORY_CAP
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
        try:
            with np.errstate(all="ignore"):
                outcome, detail = c.run(), ""
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if isinstance(outcome, tuple):
            outcome, detail = outcome
    except BaseException as exc:  # noqa: BLE001 - every outcome is classified
        outcome, detail = _classify_error(exc, c)
    conn.send((outcome, detail))
    conn.close()


def run_case(c: Case) -> tuple[str, str]:
    """(outcome, detail) of one case, in a forked child."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, c))
    child.start()
    send.close()
    if receive.poll(CASE_SECONDS + 15):
        try:
            result = receive.recv()
        except EOFError:
            result = ("blow-up", f"the child died (exit code {child.exitcode})")
    else:
        result = ("hang", "killed after no answer")
        child.kill()
    child.join()
    if child.exitcode not in (0, None) and result[0] != "hang":
        result = ("blow-up", f"the child exited with {child.exitcode}: {result[1]}")
    return result


# --------------------------------------------------------------------------------------
# judges
# --------------------------------------------------------------------------------------


def verdict_judge(claim_is_right: bool) -> Callable[[Any], str]:
    """A checker's verdict against the truth about the claim."""

    def judge(result: Any) -> Any:
        if result.verdict == "undecided":
            return "undecided", result.message
        if (result.verdict == "correct") != claim_is_right:
            raise Wrong(f"verdict {result.verdict!r} for a {'right' if claim_is_right else 'wrong'}"
                        f" claim: {result.message}")
        return "right", result.message

    return judge


def close_judge(truth: np.ndarray, rtol: float, scale: str = "entry") -> Callable[[Any], str]:
    """A numeric result within rtol of the truth, entry by entry ("entry") or of its
    largest entry ("max")."""

    def judge(value: Any) -> str:
        value = np.asarray(value)
        if value.shape != truth.shape:
            raise Wrong(f"shape {value.shape}, expected {truth.shape}")
        ref = np.abs(truth) if scale == "entry" else np.abs(truth).max()
        err = np.abs(value - truth)
        if not np.all(err <= rtol * ref + 1e-300):
            worst = float(np.max(err / np.maximum(ref, 1e-300)))
            raise Wrong(f"off by {worst:.2g} relative (allowed {rtol:g})")
        return "right"

    return judge


def least_squares(sA: float, sx: float, shift: float = 0.0, n: int = 30_000) -> dict:
    """A least-squares loss over n points near its optimum, gradient about [60, -40, 100].

    The truth is the closed form A^T (A x - b): "grad" as a user computes it, in floating
    point, and "exact" in extended precision (np.longdouble). Where A x is large beside
    the residual, the two differ (by up to 1e-3 here): f itself, evaluated in floating
    point, is the function whose derivative a numeric check sees, and its rounding makes
    the exact gradient invisible to any numeric method; the exact claim may then be
    undecided, never wrong, and every claim off by more than that is wrong.
    """
    rng = np.random.default_rng(0)
    A = sA * rng.standard_normal((n, 3))
    b = A @ (sx * np.array([1.0, -2.0, 0.5])) + 0.8 * rng.standard_normal(n)
    xs = np.linalg.lstsq(A, b, rcond=None)[0]
    x = xs + np.linalg.solve(A.T @ A, np.array([60.0, -40.0, 100.0]))
    AL, bL, xL = A.astype(np.longdouble), b.astype(np.longdouble), x.astype(np.longdouble)
    exact = (AL.T @ (AL @ xL - bL)).astype(float)
    hess = (AL.T @ AL).astype(float)

    def f(x: np.ndarray) -> Any:
        return 0.5 * np.sum((A @ x - b) ** 2) + shift

    return {"f": f, "x": x, "grad": A.T @ (A @ x - b), "exact": exact, "hess": hess}


# --------------------------------------------------------------------------------------
# class 1: scale fools the checker
# --------------------------------------------------------------------------------------

# (scale of A, scale of x, constant added, points): the first is the example.
LS_CONFIGS = {"near-optimum": (1e4, 1e4, 0.0, 30_000), "plus-1e10": (1.0, 1.0, 1e10, 3000),
              "large-x": (1.0, 1e4, 0.0, 3000), "large-A": (1e2, 1e2, 0.0, 3000)}
# Where A x is large beside the residual, f's own rounding hides its derivative to ~1e-3:
# a right claim, or one off by less, may be undecided there (never wrong).
ROUNDED = {"near-optimum"}
LS_CLAIMS = {"right": 1.0, "zero": 0.0, "half": 0.5, "negated": -1.0, "off-1e-3": 1 + 1e-3}

for _config, (_sA, _sx, _shift, _n) in LS_CONFIGS.items():
    _close = ("right", "undecided") if _config in ROUNDED else ("right",)
    for _claim, _factor in LS_CLAIMS.items():

        @case(1, f"least squares {_config}: claim {_claim}",
              allowed=_close if _claim in ("right", "off-1e-3") else ("right",))
        def _ls(sA=_sA, sx=_sx, shift=_shift, n=_n, factor=_factor):
            p = least_squares(sA, sx, shift, n)
            return (lambda: mdcalc.check_derivative(p["f"], p["x"], factor * p["grad"]),
                    verdict_judge(factor == 1.0))

    @case(1, f"least squares {_config}: exact claim (extended precision)", allowed=_close)
    def _ls_exact(sA=_sA, sx=_sx, shift=_shift, n=_n):
        p = least_squares(sA, sx, shift, n)
        return lambda: mdcalc.check_derivative(p["f"], p["x"], p["exact"]), verdict_judge(True)

    @case(1, f"least squares {_config}: claim accurate to 1e-9", allowed=_close)
    def _ls_close(sA=_sA, sx=_sx, shift=_shift, n=_n):
        p = least_squares(sA, sx, shift, n)
        wobble = 1 + 1e-9 * np.array([1.0, -1.0, 0.5])
        return (lambda: mdcalc.check_derivative(p["f"], p["x"], p["grad"] * wobble),
                verdict_judge(True))

    for _claim, _factor in (("right", 1.0), ("half", 0.5), ("zero", 0.0)):

        @case(1, f"least squares {_config}: Hessian claim {_claim}")
        def _ls_hessian(sA=_sA, sx=_sx, shift=_shift, factor=_factor):
            p = least_squares(sA, sx, shift, n=3000)
            return (lambda: mdcalc.check_second_derivative(p["f"], p["x"], factor * p["hess"]),
                    verdict_judge(factor == 1.0))


def _multi_scale(x: np.ndarray) -> np.ndarray:
    return np.concatenate([1e8 * np.sin(x), 1e-12 * x**2])


def _multi_scale_jacobian(x: np.ndarray) -> np.ndarray:
    return np.concatenate([1e8 * np.diag(np.cos(x)), 1e-12 * np.diag(2 * x)])


for _claim in ("right", "small block x1.5", "small block zero"):

    @case(1, f"multi-scale 1e8 beside 1e-12: claim {_claim}", allowed=("right", "undecided")
          if _claim != "right" else ("right",))
    def _multi(claim=_claim):
        x = np.array([0.3, -1.2, 2.0])
        J = _multi_scale_jacobian(x)
        if claim == "small block x1.5":
            J[3:] *= 1.5
        elif claim == "small block zero":
            J[3:] = 0.0
        return (lambda: mdcalc.check_derivative(_multi_scale, x, J),
                verdict_judge(claim == "right"))


@case(1, "multi-scale, one output row 1e-12 of the other (D @ X): wrong small row",
      allowed=("right", "undecided"))
def _multi_rows():
    D = np.diag([1e8, 1e-12])
    X = np.array([[1.0, 2.0], [3.0, -1.0]])
    T = np.einsum("ij,kl->iljk", D, np.eye(2))
    T[1] *= 2.0
    return (lambda: mdcalc.check_derivative(lambda X: D @ X, X, T), verdict_judge(False))


@case(1, "self-adjoint map: a wrong claim is not named the adjoint")
def _self_adjoint():
    S = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]])
    X = np.arange(9.0).reshape(3, 3) / 7

    def judge(result: Any) -> Any:
        if result.mistake == "adjoint":
            raise Wrong(f"named the adjoint though the map is self-adjoint: {result.message}")
        return verdict_judge(False)(result)

    return (lambda: mdcalc.check_derivative(lambda X: S @ X @ S, X,
                                            lambda K: (1 + 1e-7) * S @ K @ S), judge)


@case(1, "self-adjoint map: the adjoint of a non-self-adjoint one is still named")
def _adjoint_named():
    A = np.array([[1.0, 2.0], [0.0, 1.0]])
    X = np.eye(2)

    def judge(result: Any) -> str:
        if result.mistake != "adjoint":
            raise Wrong(f"the adjoint not named: {result.message}")
        return verdict_judge(False)(result)

    return (lambda: mdcalc.check_derivative(lambda X: A @ X @ A, X,
                                            lambda G: A.T @ G @ A.T), judge)


for _claim in ("right", "zero"):

    @case(1, f"non-analytic loss + 1e10 (central only): claim {_claim}",
          allowed=("right", "undecided"))
    def _abs_shift(claim=_claim):
        x = np.array([1.0, -2.0, 0.5])
        grad = 3 * x * np.abs(x)
        return (lambda: mdcalc.check_derivative(lambda x: np.sum(np.abs(x) ** 3) + 1e10, x,
                                                grad if claim == "right" else 0 * grad),
                verdict_judge(claim == "right"))


for _claim in ("zero", "identity"):

    @case(1, f"zero derivative up to rounding, central only (conj X inv(conj X)): {_claim}",
          allowed=("right", "undecided"))
    def _zero_central(claim=_claim):
        X = np.array([[4.0, 1.0, 0.5], [0.2, 5.0, 1.0], [1.0, -1.0, 6.0]])
        claimed = np.zeros((3, 3, 3, 3)) if claim == "zero" else (lambda K: K)
        return (lambda: mdcalc.check_derivative(
            lambda X: np.conj(X) @ np.linalg.inv(np.conj(X)), X, claimed),
            verdict_judge(claim == "zero"))


@case(1, "zero derivative up to rounding, analytic (X inv X): zero claim",
      allowed=("right", "undecided"))
def _zero_analytic():
    X = np.array([[4.0, 1.0, 0.5], [0.2, 5.0, 1.0], [1.0, -1.0, 6.0]])
    return (lambda: mdcalc.check_derivative(lambda X: X @ np.linalg.inv(X), X,
                                            np.zeros((3, 3, 3, 3))), verdict_judge(True))


for _method in ("auto", "complex-step"):
    for _claim in ("zero", "right"):

        @case(1, f"1e10 + 1e-5 x, analytic, {_method}: claim {_claim}",
              allowed=("right", "undecided") if _method == "auto" else ("right",))
        def _tiny_slope(method=_method, claim=_claim):
            x = np.array([0.5, 2.0])
            claimed = np.full(2, 1e-5) if claim == "right" else np.zeros(2)
            return (lambda: mdcalc.check_derivative(lambda x: 1e10 + 1e-5 * np.sum(x), x,
                                                    claimed, method=method),
                    verdict_judge(claim == "right"))


# --------------------------------------------------------------------------------------
# class 2: numbers where there is no derivative
# --------------------------------------------------------------------------------------

for _method in ("central", "auto"):

    @case(2, f"jacobian of |x| + 1e10 ({_method})", allowed=("right", "clear error"))
    def _abs_big(method=_method):
        x = np.array([1.0, 2.0])
        return (lambda: mdcalc.jacobian(lambda x: np.abs(x) + 1e10, x, method=method),
                close_judge(np.eye(2), 1e-6, "max"))

    @case(2, f"directional derivative of |x| + 1e10 ({_method})",
          allowed=("right", "clear error"))
    def _abs_big_dd(method=_method):
        x, K = np.array([1.0, 2.0]), np.array([1.0, -1.0])
        return (lambda: mdcalc.directional_derivative(lambda x: np.abs(x) + 1e10, x, K,
                                                      method=method),
                close_judge(K, 1e-6, "max"))


@case(2, "jacobian at a kink (relu at 0) is refused", allowed=("clear error",),
      error_says=("differentiable",))
def _relu():
    x = np.array([0.0, 1.0])
    return (lambda: mdcalc.jacobian(lambda x: np.maximum(x, 0.0), x), close_judge(np.eye(2), 0))


@case(2, "hessian of sum |x|^3 + 1e10 (central)", allowed=("right", "clear error"))
def _hess_big():
    x = np.array([1.0, -2.0])
    return (lambda: mdcalc.hessian(lambda x: np.sum(np.abs(x) ** 3) + 1e10, x, method="central"),
            close_judge(np.diag(6 * np.abs(x)), 1e-4, "max"))


# --------------------------------------------------------------------------------------
# class 3: unbounded work
# --------------------------------------------------------------------------------------


def _path_graph(V: int) -> Any:
    import scipy.sparse as sparse

    ones = np.ones(V - 1)
    return sparse.diags_array([ones, ones], offsets=[1, -1], format="csr")


for _hops in (10**6, 10**12):

    @case(3, f"neighbourhood with {_hops:.0e} hops stops when nothing is left")
    def _hops_case(hops=_hops):
        def judge(nodes: Any) -> str:
            if not np.array_equal(nodes, np.arange(2000)):
                raise Wrong("not every node of the path")
            return "right"

        return (lambda: gcn.neighbourhood(_path_graph(2000), 0, hops), judge)


def _refused(value: Any) -> str:
    raise Wrong(f"returned {type(value).__name__} where a refusal was due")


HUGE = np.broadcast_to(1.0, (10**5, 10**5))  # 80 GB if ever copied; a view costs nothing

for _name, _call in {
    "basis_matrix (10^6 x 10^6)": lambda: mdcalc.basis_matrix(0, 0, (10**6, 10**6)),
    "random_graph (V = 10^11)": lambda: gcn.random_graph(10**11, 10, 0),
    "single_entry_grid (10^5 x 10^5)": lambda: layouts.single_entry_grid(lambda K: K,
                                                                         (10**5, 10**5)),
    "single_entry_grid of a scalar map (10^4 x 10^4 calls)":
        lambda: layouts.single_entry_grid(lambda K: np.sum(K), (10**4, 10**4)),
    "vec of a broadcast view": lambda: mdcalc.vec(HUGE),
    "unvec of a broadcast view": lambda: mdcalc.unvec(np.broadcast_to(1.0, (10**10,)),
                                                      (10**5, 10**5)),
    "kron_jacobian of a broadcast view": lambda: mdcalc.kron_jacobian(HUGE, np.ones((2, 2))),
    "jacobian_tensor of a broadcast view": lambda: mdcalc.jacobian_tensor(HUGE, np.ones((1, 1))),
    "tensor_to_matrix of a broadcast view":
        lambda: mdcalc.tensor_to_matrix(np.broadcast_to(1.0, (10**3,) * 4), (10**3,) * 2,
                                        (10**3,) * 2),
    "jacobian at a broadcast point": lambda: mdcalc.jacobian(lambda X: X, HUGE),
    "check_derivative of a broadcast claim":
        lambda: mdcalc.check_derivative(lambda X: X, np.ones((300, 300)),
                                        np.broadcast_to(0.0, (300,) * 4)),
    "hessian of a 10^5 vector": lambda: mdcalc.hessian(lambda x: np.sum(x**2), np.ones(10**5)),
    # 3.2 GB: within half the machine's memory, beyond the child's address-space cap
    "basis_matrix (20000 x 20000) under the memory cap":
        lambda: mdcalc.basis_matrix(0, 0, (20_000, 20_000)),
    "kron_jacobian (3.2 GB) under the memory cap":
        lambda: mdcalc.kron_jacobian(np.ones((200, 200)), np.ones((100, 100))),
}.items():

    @case(3, f"{_name} is refused before allocating", allowed=("clear error",))
    def _size(call=_call):
        return call, _refused


# --------------------------------------------------------------------------------------
# class 4: silent corruption in helpers
# --------------------------------------------------------------------------------------


def _normalised_truth(A: np.ndarray, kind: str) -> np.ndarray:
    """D^-1/2 (A + I) D^-1/2 or D^-1 (A + I), in mpmath (no overflow)."""
    import mpmath

    n = len(A)
    At = [[mpmath.mpf(float(A[i, j])) + (1 if i == j else 0) for j in range(n)] for i in range(n)]
    d = [sum(row) for row in At]
    if kind == "row":
        return np.array([[float(At[i][j] / d[i]) for j in range(n)] for i in range(n)])
    return np.array([[float(At[i][j] / mpmath.sqrt(d[i] * d[j])) for j in range(n)]
                     for i in range(n)])


for _kind in ("symmetric", "row"):

    @case(4, f"normalised_adjacency ({_kind}) with weights near the largest float")
    def _big_weights(kind=_kind):
        A = np.array([[0.0, 1e308, 1e308], [1e308, 0.0, 1e308], [1e308, 1e308, 0.0]])
        return (lambda: gcn.normalised_adjacency(A, kind=kind).toarray(),
                close_judge(_normalised_truth(A, kind), 1e-14))


@case(4, "normalised_adjacency with complex weights is refused", allowed=("clear error",))
def _complex_weights():
    return (lambda: gcn.normalised_adjacency(np.array([[0, 1 + 1j], [1 - 1j, 0]])).toarray(),
            _refused)


for _shapes in (((-2, 3), (3, 4)), ((2.5, 3), (3, 4)), ((2, 3), (3, 4), -1), ((2, 3), (3, 4), 2.5)):

    @case(4, f"matmul_multiply_adds{_shapes} is refused", allowed=("clear error",))
    def _mma(shapes=_shapes):
        return (lambda: gcn.matmul_multiply_adds(*shapes), _refused)


@case(4, "gauss_newton_step reports its true residual when CG stalls")
def _cg():
    rng = np.random.default_rng(3)
    V, d1, d2 = 30, 6, 2
    A_hat = rng.standard_normal((V, V)) * 3
    H = rng.standard_normal((V, d1)) * 2
    W = rng.standard_normal((d1, d2)) * 2
    Y = rng.uniform(-1, 1, (V, d2))

    def judge(out: Any) -> str:
        g = gcn.gcn_gradient(A_hat, H, W, Y)
        lhs = gcn.gcn_hvp(A_hat, H, W, Y, out.step, kind="gauss-newton")
        true = float(np.linalg.norm(lhs + g) / np.linalg.norm(g))
        if not np.isclose(out.relative_residual, true, rtol=1e-3):
            raise Wrong(f"reports {out.relative_residual:.3g}, the true residual is {true:.3g}")
        return "right"

    return (lambda: gcn.gauss_newton_step(A_hat, H, W, Y, damping=0.0, maxiter=500, rtol=1e-14),
            judge)


@case(4, "Derivative.matrix() of a complex jvp keeps the imaginary part",
      allowed=("right", "clear error"))
def _complex_jvp():
    D = mdcalc.Derivative((2,), (2,), jvp=lambda k: 1j * k)
    return D.matrix, close_judge(1j * np.eye(2), 0)


@case(4, "Derivative.matrix() of a jvp returning None is refused", allowed=("clear error",))
def _none_jvp():
    D = mdcalc.Derivative((2,), (2,), jvp=lambda k: None)
    return D.matrix, _refused


# --------------------------------------------------------------------------------------
# class 5: unhelpful or false messages
# --------------------------------------------------------------------------------------


@case(5, "1e-300 X X with the complex step: underflow named, not 'not analytic'",
      allowed=("right", "clear error"), error_says=("underflow",),
      error_avoids=("not complex-analytic",))
def _tiny_forced():
    X = np.array([[1.0, 2.0], [-0.5, 3.0]])
    T = 1e-300 * (np.einsum("ij,kl->iljk", np.eye(2), X) + np.einsum("ij,kl->iljk", X, np.eye(2)))
    return (lambda: mdcalc.jacobian(lambda X: 1e-300 * X @ X, X, method="complex-step"),
            close_judge(T, 1e-12, "max"))


@case(5, "1e-300 X X with auto: right")
def _tiny_auto():
    X = np.array([[1.0, 2.0], [-0.5, 3.0]])
    T = 1e-300 * (np.einsum("ij,kl->iljk", np.eye(2), X) + np.einsum("ij,kl->iljk", X, np.eye(2)))
    return lambda: mdcalc.jacobian(lambda X: 1e-300 * X @ X, X), close_judge(T, 1e-6, "max")


@case(5, "layouts.evaluate of an overflow names it", allowed=("clear error",),
      error_says=("overflow",), error_avoids=("not real",))
def _overflow():
    import sympy as sp

    X = sp.MatrixSymbol("X", 2, 2)
    return lambda: layouts.evaluate(X.applyfunc(sp.exp), {X: np.full((2, 2), 1000.0)}), _refused


# --------------------------------------------------------------------------------------
# class 6: usability
# --------------------------------------------------------------------------------------

_X6 = np.array([[2.0, 1.0, 0.0], [0.5, -3.0, 1.0], [1.0, 0.0, 1.5]])


def _slogdet(X: np.ndarray) -> Any:
    return np.linalg.slogdet(X)[1]


def _logdet_hessian(X: np.ndarray) -> np.ndarray:
    """d²/dX[j,k] dX[m,n] log|det X| = -inv(X)[k,m] inv(X)[n,j] (closed form)."""
    Y = np.linalg.inv(X)
    return -np.einsum("km,nj->jkmn", Y, Y)


@case(6, "hessian of slogdet just works (auto)")
def _slog_hessian():
    return lambda: mdcalc.hessian(_slogdet, _X6), close_judge(_logdet_hessian(_X6), 1e-5, "max")


@case(6, "hvp of slogdet just works (auto)")
def _slog_hvp():
    K = np.arange(9.0).reshape(3, 3) / 4 - 1
    want = np.tensordot(_logdet_hessian(_X6), K, axes=2)
    return lambda: mdcalc.hvp(_slogdet, _X6, K), close_judge(want, 1e-5, "max")


@case(6, "jacobian of slogdet just works (auto)")
def _slog_jacobian():
    return lambda: mdcalc.jacobian(_slogdet, _X6), close_judge(np.linalg.inv(_X6).T, 1e-7, "max")


@case(6, "jacobian reports the method it used")
def _method_reported():
    def judge(J: Any) -> str:
        if getattr(J, "method", None) != "central":
            raise Wrong(f"method {getattr(J, 'method', None)!r}, expected 'central'")
        return close_judge(np.linalg.inv(_X6).T, 1e-7, "max")(J)

    return lambda: mdcalc.jacobian(_slogdet, _X6), judge


@case(6, "check_second_derivative of slogdet (auto)")
def _slog_check2():
    Y = np.linalg.inv(_X6)
    return (lambda: mdcalc.check_second_derivative(_slogdet, _X6, lambda K: -(Y @ K @ Y).T),
            verdict_judge(True))


def _symmetrisation(result: Any) -> Any:
    if result.mistake != "symmetrisation":
        raise Wrong(f"mistake {result.mistake!r}, expected 'symmetrisation': {result.message}")
    return verdict_judge(False)(result)


_A6 = np.array([[1.0, 2.0, 0.0], [-1.0, 0.5, 3.0], [0.0, 1.0, 2.0]])


@case(6, "gradient 2 A X of tr(X^T A X) is named the symmetrisation mistake")
def _sym_matrix():
    X = np.array([[1.0, 0.5], [-1.0, 2.0], [0.3, 1.0]])
    return (lambda: mdcalc.check_derivative(lambda X: np.trace(X.T @ _A6 @ X), X, 2 * _A6 @ X),
            _symmetrisation)


@case(6, "gradient 2 A x of x^T A x is named the symmetrisation mistake")
def _sym_vector():
    x = np.array([1.0, -2.0, 0.5])
    return lambda: mdcalc.check_derivative(lambda x: x @ _A6 @ x, x, 2 * _A6 @ x), _symmetrisation


@case(6, "Jacobian 2 A of x -> (A + A^T) x is named the symmetrisation mistake")
def _sym_jacobian():
    x = np.array([1.0, -2.0, 0.5])
    return (lambda: mdcalc.check_derivative(lambda x: (_A6 + _A6.T) @ x, x, 2 * _A6),
            _symmetrisation)


@case(6, "the right gradient (A + A^T) X of tr(X^T A X) is correct")
def _sym_right():
    X = np.array([[1.0, 0.5], [-1.0, 2.0], [0.3, 1.0]])
    return (lambda: mdcalc.check_derivative(lambda X: np.trace(X.T @ _A6 @ X), X,
                                            (_A6 + _A6.T) @ X), verdict_judge(True))


# --------------------------------------------------------------------------------------
# derive: views where there is no derivative (2), sizes (3), its messages (5)
# --------------------------------------------------------------------------------------


def _sympy() -> Any:
    import sympy as sp

    return sp


def _vector(name: str = "x", n: int = 3) -> Any:
    return _sympy().MatrixSymbol(name, n, 1)


_KINKS = {
    "relu (Max) at 0": (lambda t: _sympy().Max(t, 0), [0.0, 1.0, -1.0]),
    "abs at 0": (lambda t: _sympy().Abs(t), [0.0, 1.0, -1.0]),
    "sqrt at 0": (lambda t: _sympy().sqrt(t), [0.0, 1.0, 4.0]),
}

for _name, (_fn, _at) in _KINKS.items():
    for _view in ("tensor", "matrix", "linear_map"):

        @case(2, f"derive: .{_view} of an elementwise {_name} is refused",
              allowed=("clear error",), error_says=("differentiable",))
        def _kink(fn=_fn, at=_at, view=_view):
            x = _vector()
            r = mdcalc.derive(x.applyfunc(fn), x)

            def call() -> Any:
                out = getattr(r, view)({x: np.array(at)[:, None]})
                return out.matrix() if view == "linear_map" else out

            return call, _refused

    @case(2, f"derive: .check of an elementwise {_name} is undecided",
          allowed=("right", "undecided"))
    def _kink_check(fn=_fn, at=_at):
        x = _vector()
        r = mdcalc.derive(x.applyfunc(fn), x)

        def judge(result: Any) -> Any:
            if result.verdict == "correct":
                raise Wrong(f"'correct' where there is no derivative: {result}")
            return "undecided", str(result)

        return lambda: r.check({x: np.array(at)[:, None]}), judge


@case(2, "derive: an elementwise Heaviside (derivative DiracDelta) is refused",
      allowed=("clear error",), error_says=("cannot differentiate",))
def _heaviside():
    x = _vector()
    return lambda: mdcalc.derive(x.applyfunc(_sympy().Heaviside), x), _refused


@case(2, "derive: the gradient of the norm at 0 is refused", allowed=("clear error",))
def _norm_at_zero():
    sp = _sympy()
    x = _vector()
    r = mdcalc.derive(sp.sqrt((x.T * x)[0, 0]), x)
    return lambda: r.gradient_value({x: np.zeros((3, 1))}), _refused


@case(2, "derive: relu away from its kink is right")
def _relu_smooth():
    sp = _sympy()
    x = _vector()
    r = mdcalc.derive(x.applyfunc(lambda t: sp.Max(t, 0)), x)
    at = np.array([[0.5], [2.0], [-1.0]])
    return lambda: r.matrix({x: at}), close_judge(np.diag([1.0, 1.0, 0.0]), 0)


@case(2, "derive: the gradient of det at 1e-200 I, underflow named",
      allowed=("right", "clear error"), error_says=("underflow",))
def _det_underflow():
    sp = _sympy()
    X = sp.MatrixSymbol("X", 2, 2)
    r = mdcalc.derive(sp.Determinant(X), X)
    return (lambda: r.gradient_value({X: 1e-200 * np.eye(2)}),
            close_judge(1e-200 * np.eye(2), 1e-12))


@case(2, "derive: a view of exp(X) at 1000, overflow named",
      allowed=("clear error",), error_says=("overflow",), error_avoids=("not real",))
def _derive_overflow():
    sp = _sympy()
    X = sp.MatrixSymbol("X", 2, 2)
    r = mdcalc.derive(X.applyfunc(sp.exp), X)
    return lambda: r.tensor({X: np.full((2, 2), 1000.0)}), _refused


@case(3, "derive(X**100000, X) is refused by a stated size", allowed=("clear error",))
def _huge_power():
    sp = _sympy()
    X = sp.MatrixSymbol("X", 2, 2)
    return lambda: mdcalc.derive(X**100000, X), _refused


@case(3, "derive of a sum of X**k, k < 200, refused or right", allowed=("right", "clear error"))
def _many_powers():
    sp = _sympy()
    X = sp.MatrixSymbol("X", 2, 2)
    expr = sp.MatAdd(*[X**k for k in range(1, 200)])

    def judge(r: Any) -> str:
        X0 = np.array([[0.1, 0.2], [0.0, -0.1]])
        T = r.tensor({X: X0})
        f = r.function({X: X0})
        return close_judge(mdcalc.jacobian(f, X0), 1e-8, "max")(T)

    return lambda: mdcalc.derive(expr, X), judge


@case(5, "derive: its shape-error message does not crash", allowed=("clear error",),
      error_says=("mismatched shapes",))
def _shape_message():
    import warnings

    sp = _sympy()
    X, B = sp.MatrixSymbol("X", 2, 2), sp.MatrixSymbol("B", 3, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expr = sp.MatMul(X, B, check=False)
    return lambda: mdcalc.derive(expr, X), _refused


for _name, (_fn, _dfn) in {
    "Heaviside": (lambda t: _sympy().Heaviside(t), lambda x: np.zeros_like(x)),
    "besselj(1, .)": (lambda t: _sympy().besselj(1, t),
                      lambda x: 0.5 * (_scipy_special().jv(0, x) - _scipy_special().jv(2, x))),
    "erf": (lambda t: _sympy().erf(t), lambda x: 2 / np.sqrt(np.pi) * np.exp(-x * x)),
}.items():

    @case(5, f"derive: an elementwise {_name} is right or clearly refused",
          allowed=("right", "clear error"), error_avoids=("name '",))
    def _special(fn=_fn, dfn=_dfn):
        x = _vector()
        at = np.array([0.5, 1.5, -2.0])
        r = mdcalc.derive(x.applyfunc(fn), x)
        return lambda: r.matrix({x: at[:, None]}), close_judge(np.diag(dfn(at)), 1e-12, "max")


def _scipy_special() -> Any:
    import scipy.special

    return scipy.special


# --------------------------------------------------------------------------------------
# the tests, and the counts
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("c", CASES, ids=[f"{c.cls}-{c.name}" for c in CASES])
def test_case(c: Case) -> None:
    outcome, detail = run_case(c)
    assert outcome in c.allowed, f"{outcome}: {detail}"


def counts() -> dict[int, Counter]:
    by_class: dict[int, Counter] = {k: Counter() for k in CLASSES}
    for c in CASES:
        outcome, detail = run_case(c)
        by_class[c.cls][outcome] += 1
        if outcome not in c.allowed:
            print(f"  NOT ALLOWED [{c.cls}] {c.name}: {outcome}: {detail}", file=sys.stderr)
    return by_class


if __name__ == "__main__":
    table = counts()
    print("| class | " + " | ".join(OUTCOMES) + " | cases |")
    print("|---|" + "---|" * (len(OUTCOMES) + 1))
    for k, name in CLASSES.items():
        row = table[k]
        print(f"| {k}. {name} | " + " | ".join(str(row[o]) for o in OUTCOMES)
              + f" | {sum(row.values())} |")
    total = sum(table.values(), Counter())
    print("| all | " + " | ".join(str(total[o]) for o in OUTCOMES) + f" | {sum(total.values())} |")
