"""Tests of mdcalc.derive: each rule, the issue's examples, bad input, and random expressions.

Every derivation is checked numerically: each form (the differential as a linear map, the
vec-Jacobian as a matrix, the index form as a tensor, the gradient) is compared with the
numeric Jacobian of the expression itself, evaluated by the same evaluator at the same
values. Shapes are non-square wherever the expression allows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import sympy as sp  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mdcalc
from mdcalc import Derivation, derive, jacobian
from mdcalc.layouts import commutation_matrix, evaluate

RTOL = 1e-8

A = sp.MatrixSymbol("A", 4, 4)
B = sp.MatrixSymbol("B", 3, 3)
C = sp.MatrixSymbol("C", 3, 2)
H = sp.MatrixSymbol("H", 4, 3)
W = sp.MatrixSymbol("W", 3, 2)
X = sp.MatrixSymbol("X", 3, 3)
Y = sp.MatrixSymbol("Y", 2, 3)  # non-square variable
P = sp.MatrixSymbol("P", 3, 2)
Q = sp.MatrixSymbol("Q", 2, 2)
x = sp.MatrixSymbol("x", 4, 1)
y = sp.MatrixSymbol("y", 4, 1)


def values_for(expr: Any, seed: int = 0, **special: np.ndarray) -> dict[Any, np.ndarray]:
    """Seeded values for every MatrixSymbol of expr; square ones well-conditioned."""
    rng = np.random.default_rng(seed)
    values: dict[Any, np.ndarray] = {}
    for s in sorted(expr.atoms(sp.MatrixSymbol), key=str):
        shape = (int(s.rows), int(s.cols))
        M = rng.standard_normal(shape) * 0.5
        if shape[0] == shape[1] and shape[0] > 1:
            M = M + 2.0 * np.eye(shape[0])
        values[s] = special.get(s.name, M)
    return values


def assert_all_forms(r: Derivation, values: dict[Any, np.ndarray], check: bool = True) -> None:
    """Every form equals the numeric (complex-step) Jacobian of the expression, to RTOL.

    With ``check``, also through the API's own ``.check`` (check_derivative per form).
    """
    if check:
        result = r.check(values)
        assert result, str(result)
    f = r.function(values)
    Xv = np.asarray(values[r.wrt], dtype=float)
    J = jacobian(f, Xv, method="complex-step")
    scale = max(float(np.max(np.abs(J))), 1.0)
    T = r.tensor(values)
    assert T.shape == J.shape
    assert np.max(np.abs(T - J)) <= RTOL * scale
    M = r.matrix(values)
    assert np.max(np.abs(mdcalc.matrix_to_tensor(M, J.shape[: J.ndim - 2], Xv.shape) - J)) <= (
        RTOL * scale
    )
    D = r.linear_map(values)
    K = np.random.default_rng(1).standard_normal(Xv.shape)
    assert np.max(np.abs(D(K) - np.tensordot(J, K, axes=2))) <= RTOL * scale * K.size
    G = np.random.default_rng(2).standard_normal(J.shape[: J.ndim - 2])
    vjp = np.tensordot(G, J, axes=G.ndim) if G.ndim else G * J
    assert np.max(np.abs(D.adjoint(G) - vjp)) <= RTOL * scale * max(G.size, 1)
    if r.gradient is not None:
        G = r.gradient_value(values)
        assert np.max(np.abs(G - J.reshape(Xv.shape))) <= RTOL * scale


# --------------------------------------------------------------------------------------
# the book's question
# --------------------------------------------------------------------------------------


def test_book_example_gives_the_three_answers() -> None:
    r = derive(A * H * W, H, name="Z")
    dH = sp.MatrixSymbol("dH", 4, 3)
    assert r.dX == dH
    assert r.differential == A * dH * W
    assert r.vec_jacobian == sp.KroneckerProduct(W.T, A)
    assert r.index.einsum == "ij,kl->iljk"
    assert r.index.latex == r"\frac{\partial Z_{il}}{\partial H_{jk}} = A_{ij} W_{kl}"
    assert r.gradient is None and r.note is None
    assert r.steps[0] == ("differential", r"\mathrm{d}\left(A H W\right)")
    assert r.steps[-1] == ("product rule", r"A \mathrm{d}H W")
    vals = values_for(A * H * W)
    T = r.tensor(vals)
    assert T.shape == (4, 2, 4, 3)
    assert np.allclose(T, mdcalc.jacobian_tensor(vals[A], vals[W]))
    assert np.allclose(r.matrix(vals), mdcalc.kron_jacobian(vals[A], vals[W]))
    assert_all_forms(r, vals)


def test_symbolic_dimensions() -> None:
    n, d1, d2 = sp.symbols("n d1 d2", integer=True, positive=True)
    As, Hs, Ws = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("H", n, d1), sp.MatrixSymbol(
        "W", d1, d2
    )
    r = derive((As * Hs * Ws).applyfunc(sp.tanh), Hs)
    rng = np.random.default_rng(3)
    vals = {
        As: rng.standard_normal((4, 4)),
        Hs: rng.standard_normal((4, 3)),
        Ws: rng.standard_normal((3, 2)),
    }
    assert r.tensor(vals).shape == (4, 2, 4, 3)
    assert r.check(vals)
    with pytest.raises(ValueError, match="d1"):
        r.tensor({**vals, Ws: np.ones((2, 2))})  # H says d1 = 3, W says d1 = 2


def test_steps_render_as_typeset_math() -> None:
    r = derive(sp.Trace(X.T * B * X), X)
    text = r.steps_latex()
    assert text.startswith("\\begin{aligned}") and r"\text{trace}" in text
    assert r._repr_markdown_().startswith("$$")
    assert [rule for rule, _ in r.steps] == ["differential", "trace", "product rule", "transpose"]
    assert r.steps[-1][1] == mdcalc.derivation.to_latex(r.differential, {r.dX: r"\mathrm{d}X"})


# --------------------------------------------------------------------------------------
# one test per rule
# --------------------------------------------------------------------------------------

RULES: list[tuple[str, Any, Any, str]] = [
    ("variable", Y, Y, "dY"),
    ("sum", Y + 2 * P.T, Y, "dY"),
    ("difference", Y - Q * Y, Y, "-Q*dY + dY"),
    ("scalar multiple", 3 * Y, Y, "3*dY"),
    ("product", Q * Y * B, Y, "Q*dY*B"),
    ("long product", Q * Y * B * P * Q * Y, Y, "Q*Y*B*P*Q*dY + Q*dY*B*P*Q*Y"),
    ("transpose", (Q * Y).T, Y, "dY.T*Q.T"),
    ("transpose of a Hadamard product", sp.Transpose(sp.HadamardProduct(Q * Y, Y)), Y, ""),
    ("transpose of tanh", sp.Transpose((Q * Y).applyfunc(sp.tanh)) * Q, Y, ""),
    ("inverse", (Y * P).I, Y, "-(Y*P)**(-1)*dY*P*(Y*P)**(-1)"),
    ("power", X**3, X, "X**2*dX + X*dX*X + dX*X**2"),
    ("negative power", X**-2, X, "-X**(-1)*dX*X**(-2) - X**(-2)*dX*X**(-1)"),
    ("trace", sp.Trace(Y * P), Y, "Trace(dY*P)"),
    ("determinant", sp.det(Y * P), Y, "Determinant(Y*P)*Trace((Y*P)**(-1)*dY*P)"),
    ("log-determinant", sp.log(sp.det(X)), X, "Trace(X**(-1)*dX)"),
    ("Hadamard product", sp.HadamardProduct(Y, Q * Y), Y, ""),
    ("Hadamard power", sp.HadamardPower(Y, 3), Y, ""),
    ("exp", (Q * Y).applyfunc(sp.exp), Y, ""),
    ("log", Y.applyfunc(lambda t: sp.log(1 + t**2)), Y, ""),
    ("tanh", (Q * Y).applyfunc(sp.tanh), Y, ""),
    ("sin", Y.applyfunc(sp.sin), Y, ""),
    ("cos", Y.applyfunc(sp.cos), Y, ""),
    ("elementwise power", Y.applyfunc(lambda t: t**3), Y, ""),
    ("linear elementwise", Y.applyfunc(lambda t: 2 * t), Y, "2*dY"),
    ("constants", (sp.Identity(2) + sp.OneMatrix(2, 2)) * Y + sp.ZeroMatrix(2, 3), Y, ""),
    ("explicit matrix", sp.ImmutableMatrix([[1, 2], [3, 4]]) * Y, Y, ""),
    ("vector", A * x, x, "A*dx"),
    ("scalar times matrix", sp.Trace(Y * P) * Q, Y, "Trace(dY*P)*Q"),
    ("scalar function", sp.exp(sp.Trace(Y * P)), Y, "exp(Trace(Y*P))*Trace(dY*P)"),
    ("scalar product", sp.Trace(Y * P) * sp.Trace(Q * Y * P), Y, ""),
    ("scalar power", sp.Trace(Y * P) ** 3, Y, "3*Trace(Y*P)**2*Trace(dY*P)"),
    ("scalar symbol", sp.Symbol("s") * Y, Y, "s*dY"),
    ("1x1 quadratic form", x.T * A * x, x, "dx.T*A*x + x.T*A*dx"),
]


@pytest.mark.parametrize("name, expr, wrt, expected", RULES, ids=[r[0] for r in RULES])
def test_rule(name: str, expr: Any, wrt: Any, expected: str) -> None:
    r = derive(expr, wrt)
    if expected:
        assert str(r.differential) == expected
    vals = values_for(expr)
    if expr.has(sp.Symbol("s")):
        vals[sp.Symbol("s")] = np.array(1.5)
    assert_all_forms(r, vals)


def test_rules_are_named_in_the_steps() -> None:
    r = derive(sp.log(sp.det((X.T * B * X).I)), X)
    rules = [rule for rule, _ in r.steps]
    assert rules[:2] == ["differential", "logarithm"]
    assert {"determinant (Jacobi's formula)", "inverse", "transpose"} <= set(rules)
    assert_all_forms(r, values_for(r.expr))


def test_transpose_gives_a_commutation_matrix() -> None:
    r = derive(Y.T, Y)
    assert str(r.vec_jacobian) == "Commutation(2, 3)"
    vals = values_for(Y)
    assert np.array_equal(r.matrix(vals), commutation_matrix(2, 3))
    assert r.index.einsum == "lj,ik->iljk"  # dF[i,l]/dY[j,k] = delta_lj delta_ik


def test_hadamard_term_gives_diag_vec() -> None:
    M = sp.MatrixSymbol("M", 2, 3)
    r = derive(sp.HadamardProduct(M, Y), Y)
    assert str(r.vec_jacobian) == "DiagVec(M)"
    vals = values_for(M + Y)
    assert np.array_equal(r.matrix(vals), np.diag(vals[M].reshape(-1, order="F")))


def test_gradient_of_a_scalar_and_none_otherwise() -> None:
    r = derive(sp.Trace(A * H * W * C.T * H.T), H)
    assert r.gradient is not None
    assert derive(A * H, H).gradient is None


# --------------------------------------------------------------------------------------
# the issue's examples (matrixcalculus.org's documentation page and the GCN layer)
# --------------------------------------------------------------------------------------

EXAMPLES: list[tuple[str, Any, Any, str | None]] = [
    ("0.5 x^T A x", x.T * A * x / 2, x, "(1/2)*A*x + (1/2)*A.T*x"),
    ("A exp(x)", A * x.applyfunc(sp.exp), x, None),
    ("tr(A X^T B X C)", sp.Trace(Q * Y * B * Y.T * Q), Y, None),
    ("log det(inv X)", sp.log(sp.det(X.I)), X, "-X.T**(-1)"),
    ("||Ax - y||^2", (A * x - y).T * (A * x - y), x, "2*A.T*(A*x - y)"),
    ("tanh(AHW) by H", (A * H * W).applyfunc(sp.tanh), H, None),
    ("tanh(AHW) by W", (A * H * W).applyfunc(sp.tanh), W, None),
    ("X^T A X", X.T * B * X, X, None),
    ("Hadamard", sp.HadamardProduct(Y, Q * Y * B), Y, None),
]


@pytest.mark.parametrize("name, expr, wrt, gradient", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_issue_examples(name: str, expr: Any, wrt: Any, gradient: str | None) -> None:
    r = derive(expr, wrt)
    if gradient is not None:
        assert str(r.gradient) == gradient
    assert_all_forms(r, values_for(expr))


def test_tr_AXtBXC_gradient_is_the_textbook_one() -> None:
    Ar, Br, Cr = sp.MatrixSymbol("A", 2, 3), sp.MatrixSymbol("B", 2, 2), sp.MatrixSymbol("C", 3, 2)
    Xr = sp.MatrixSymbol("X", 2, 3)
    r = derive(sp.Trace(Ar * Xr.T * Br * Xr * Cr), Xr)
    vals = values_for(Ar + Cr.T + Xr + Br * Xr)
    G = vals[Br].T @ vals[Xr] @ vals[Ar].T @ vals[Cr].T + vals[Br] @ vals[Xr] @ vals[Cr] @ vals[Ar]
    assert np.allclose(r.gradient_value(vals), G)


# --------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------


def test_wrt_must_be_a_matrix_symbol() -> None:
    with pytest.raises(TypeError, match="wrt must be a sympy MatrixSymbol"):
        derive(A * H, "H")
    with pytest.raises(TypeError, match="wrt must be a sympy MatrixSymbol"):
        derive(A * H, H.T)


def test_expr_must_be_a_matrix_expression() -> None:
    with pytest.raises(TypeError, match="expr must be a sympy matrix expression"):
        derive(np.ones((2, 2)), H)
    with pytest.raises(ValueError, match="must be a matrix expression"):
        derive(sp.Symbol("t") ** 2, H)


def test_absent_variable_gives_zero_with_a_note() -> None:
    r = derive(A * x, H)
    assert r.note is not None and "does not appear" in r.note
    assert r.differential == sp.ZeroMatrix(4, 1)
    assert r.steps[-1] == ("constant", "0")
    vals = {**values_for(A * x), H: np.ones((4, 3))}
    assert np.array_equal(r.tensor(vals), np.zeros((4, 1, 4, 3)))
    assert np.array_equal(r.matrix(vals), np.zeros((4, 12)))
    assert r.check(vals)
    s = derive(sp.Trace(A), H)
    assert s.gradient == sp.ZeroMatrix(4, 3)


def test_unsupported_operation_is_named() -> None:
    with pytest.raises(ValueError, match="Adjoint"):
        derive(sp.Adjoint(Y) * Q, Y)
    with pytest.raises(ValueError, match="integer matrix powers"):
        derive(X ** sp.Rational(1, 2), X)
    with pytest.raises(ValueError, match="MatrixSlice"):
        derive(Q * Y[:, 1:], Y)


def test_mismatched_shapes() -> None:
    Y32 = sp.MatrixSymbol("Y", 3, 2)
    with pytest.raises(ValueError, match="mismatched shapes"):
        derive(Q * Y, Y32)
    n = sp.Symbol("n")
    Z = sp.MatrixSymbol("Z", n, 2)
    with pytest.raises(ValueError, match="mismatched shapes|square"):
        derive(sp.Trace(Z), Z)


def test_missing_or_wrongly_shaped_values() -> None:
    r = derive(A * H * W, H)
    vals = values_for(A * H * W)
    with pytest.raises(ValueError, match="no value given for the symbol.*W"):
        r.tensor({A: vals[A], H: vals[H]})
    with pytest.raises(ValueError, match="no value for H"):
        r.matrix({A: vals[A], W: vals[W]})
    with pytest.raises(ValueError, match="the value for W has shape \\(2, 3\\)"):
        r.linear_map({**vals, W: np.ones((2, 3))})
    with pytest.raises(ValueError, match="the value for A must be numeric"):
        r.check({**vals, A: np.full((4, 4), "a")})
    with pytest.raises(ValueError, match="the value for H has non-finite entries"):
        r.check({**vals, H: np.full(vals[H].shape, np.nan)})
    with pytest.raises(TypeError, match="keyed by the sympy symbols"):
        r.tensor({"A": vals[A], H: vals[H], W: vals[W]})
    with pytest.raises(TypeError, match="values must be a dict"):
        r.tensor([vals[A]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="K must have"):
        r.linear_map(vals)(np.ones((3, 4)))


def test_wrong_form_is_caught_by_check() -> None:
    """The check is real: a derivation with a broken rule fails it."""
    r = derive((A * H * W).applyfunc(sp.tanh), H)
    vals = values_for(A * H * W)
    broken = Derivation(
        expr=r.expr,
        wrt=r.wrt,
        steps=r.steps,
        differential=-r.differential,
        dX=r.dX,
        vec_jacobian=r.vec_jacobian,
        index=r.index,
        gradient=None,
    )
    result = broken.check(vals)
    assert not result and result.verdict == "wrong"
    assert result.results["differential"].verdict == "wrong"
    assert result.results["vec_jacobian"].verdict == "correct"


def test_mdcalc_import_stays_light() -> None:
    import subprocess
    import sys

    code = "import sys, mdcalc; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_evaluator_is_complex_safe() -> None:
    expr = sp.Trace((Q * Y * B).applyfunc(sp.tanh) * P) * sp.det(Y * P)
    vals = values_for(expr)
    Yc = vals[Y] + 1e-20j * np.ones((2, 3))
    f = derive(expr, Y).function(vals)
    assert np.iscomplexobj(f(Yc)) and f(Yc).imag != 0
    assert np.isclose(f(Yc).real, evaluate(expr, vals))


# --------------------------------------------------------------------------------------
# random expressions from the supported grammar
# --------------------------------------------------------------------------------------

SIZES = (1, 2, 3)


class _Builder:
    """Random expressions of a given shape, containing the variable V (2 x 3)."""

    def __init__(self, draw: Callable[[Any], Any]) -> None:
        self.draw = draw
        self.n = 0
        self.V = sp.MatrixSymbol("V", 2, 3)

    def const(self, r: int, s: int) -> Any:
        self.n += 1
        return sp.MatrixSymbol(f"C{self.n}", r, s)

    def leaf(self, r: int, s: int) -> Any:
        if (r, s) == (2, 3):
            return self.V
        if (r, s) == (3, 2):
            return self.V.T
        return self.const(r, 2) * self.V * self.const(3, s)

    def matrix(self, r: int, s: int, depth: int) -> Any:
        if depth == 0:
            return self.leaf(r, s)
        kind = self.draw(
            st.sampled_from(
                ["leaf", "product", "sum", "scale", "transpose", "inverse", "hadamard",
                 "hpower", "elementwise", "log", "scalar_times", "power"]
            )
        )
        sub = depth - 1
        if kind == "product":
            q = self.draw(st.sampled_from(SIZES))
            return self.matrix(r, q, sub) * self.matrix(q, s, sub)
        if kind == "sum":
            return self.matrix(r, s, sub) - self.const(r, s) + self.matrix(r, s, sub)
        if kind == "scale":
            return sp.Rational(3, 2) * self.matrix(r, s, sub)
        if kind == "transpose":  # kept as a node (.T would push it inside)
            return sp.Transpose(self.matrix(s, r, sub))
        if kind == "inverse" and r == s:
            q = self.draw(st.sampled_from(SIZES))
            G = self.matrix(r, q, sub)
            S = G * G.T + 3 * sp.Identity(r)
            return (S.I if self.draw(st.booleans()) else S**-2) * self.const(r, s)
        if kind == "power" and r == s:
            return (self.matrix(r, r, sub) / 4) ** 2
        if kind == "hadamard":
            return sp.HadamardProduct(self.matrix(r, s, sub), self.matrix(r, s, sub))
        if kind == "hpower":
            return sp.HadamardPower(self.matrix(r, s, sub), 2)
        if kind == "elementwise":
            fn = self.draw(st.sampled_from([sp.tanh, sp.sin, sp.cos, sp.exp]))
            return (self.matrix(r, s, sub) / 4).applyfunc(fn)
        if kind == "log":  # of positive entries
            M = self.matrix(r, s, sub)
            return (sp.HadamardPower(M, 2) + sp.OneMatrix(r, s)).applyfunc(sp.log)
        if kind == "scalar_times":
            return self.scalar(sub) * self.const(r, s)
        return self.leaf(r, s)

    def scalar(self, depth: int) -> Any:
        kind = self.draw(st.sampled_from(["trace", "det", "logdet", "exp"]))
        q = self.draw(st.sampled_from(SIZES))
        if kind == "trace":
            return sp.Trace(self.matrix(q, q, depth))
        G = self.matrix(q, self.draw(st.sampled_from(SIZES)), depth)
        S = G * G.T / 4 + 2 * sp.Identity(q)
        if kind == "det":
            return sp.det(S)
        if kind == "logdet":
            return sp.log(sp.det(S))
        return sp.exp(sp.Trace(self.matrix(q, q, depth)) / 8)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.data())
def test_random_expressions_every_form_agrees_with_the_numeric_jacobian(data: Any) -> None:
    b = _Builder(data.draw)
    if data.draw(st.booleans()):
        expr = b.scalar(depth=data.draw(st.integers(0, 1)))
    else:
        r, s = data.draw(st.sampled_from(SIZES)), data.draw(st.sampled_from(SIZES))
        expr = b.matrix(r, s, depth=data.draw(st.integers(1, 2)))
    if not expr.has(b.V):
        return
    seed = data.draw(st.integers(0, 2**16))
    result = derive(expr, b.V)
    assert_all_forms(result, values_for(expr, seed=seed), check=False)


def test_huge_forms_are_refused_before_allocating(monkeypatch: pytest.MonkeyPatch) -> None:
    import mdcalc._validation

    Xs = sp.MatrixSymbol("X", 300, 200)
    r = derive(sp.Trace(Xs.T * Xs), Xs)
    vals = {Xs: np.ones((300, 200))}
    monkeypatch.setattr(mdcalc._validation, "MEMORY_LIMIT", 10**8)
    assert r.gradient_value(vals).shape == (300, 200)  # the gradient is small: fine
    assert r.linear_map(vals)(np.ones((300, 200))).shape == ()
    assert r.tensor(vals).shape == (300, 200)
    # the Kronecker form of dX^T needs the 60000 x 60000 commutation matrix: refused
    with pytest.raises(ValueError, match="^the Kronecker product .* would take"):
        r.matrix(vals)
    s = derive(Xs.T, Xs)
    with pytest.raises(ValueError, match="would take"):
        s.matrix(vals)


def test_cancelled_products_leave_no_identity_in_the_index_form() -> None:
    r = derive(sp.log(sp.Determinant(X.I)), X)  # X (X^-1)' : the product X X^-1 cancels
    assert r.index.latex == r"\frac{\partial F}{\partial X_{jk}} = -\left(X^{-1}\right)_{kj}"
    assert str(r.gradient) == "-X.T**(-1)"
    assert_all_forms(r, values_for(r.expr))
