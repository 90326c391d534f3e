"""A finished linear-map tree written as sympy expressions: the differential dF, the
vec-Jacobian (Kronecker products) and the gradient (the adjoint applied to F's seed)."""

from __future__ import annotations

from typing import Any

import sympy as sp  # type: ignore[import-untyped]
from sympy.matrices.expressions.matexpr import MatrixElement  # type: ignore[import-untyped]

from mdcalc.derivation.latex import _Printer
from mdcalc.derivation.maps import (
    _Had,
    _Kron,
    _mm,
    _Mul,
    _node_shape,
    _Outer,
    _Pending,
    _plus,
    _Scale,
    _shape_of,
    _Sum,
    _Tr,
    _Var,
)
from mdcalc.derivation.nodes import (
    Commutation,
    DiagVec,
    Entry,
    UnitVector,
    Unvec,
    Vec,
    _factor,
)


def _to_sympy(node: Any, dX: Any, names: dict[Any, Any], printer: _Printer | None) -> Any:
    """The sympy expression of a linear-map tree; pending leaves become placeholders."""

    def go(n: Any) -> Any:
        if isinstance(n, _Var):
            return dX.T if n.t else dX
        if isinstance(n, _Pending):
            shape = _shape_of(n.expr)
            key = (n.expr, "pending")
            if key not in names:
                k = sum(1 for name in names if isinstance(name, tuple))
                holder = sp.MatrixSymbol(f"_d{k}", *shape) if shape else sp.Symbol(f"_d{k}")
                names[key] = holder
                assert printer is not None
                names[holder] = rf"\mathrm{{d}}{_factor(printer, n.expr)}"
            holder = names[key]
            return holder.T if n.t else holder
        if isinstance(n, _Mul):
            out = go(n.inner)
            if n.L is not None:
                out = _mm(n.L, out)
            if n.R is not None:
                out = _mm(out, n.R)
            return out
        if isinstance(n, _Had):
            return sp.HadamardProduct(n.M, go(n.inner))
        if isinstance(n, _Scale):
            return _mm(n.c, go(n.inner))
        if isinstance(n, _Tr):
            if n.entry:
                return Entry(go(n.inner), 0, 0)
            entry = _as_entry(n.inner)
            if entry is not None:
                L, inner, R, i, j = entry
                return MatrixElement(_mm(*L, go(inner), *R), i, j)
            return sp.Trace(go(n.inner))
        if isinstance(n, _Outer):
            return _mm(go(n.inner), n.M)
        if isinstance(n, _Kron):
            return sp.KroneckerProduct(*[m for m in (n.L, go(n.inner), n.R) if m is not None])
        if isinstance(n, _Sum):
            if not n.terms:
                return sp.ZeroMatrix(*n.shape) if n.shape else sp.S.Zero
            return _plus([go(t) for t in n.terms])
        raise TypeError(f"not a linear map: {n!r}")

    return go(node)


def _as_entry(node: Any) -> Any:
    """``(L, inner, R, i, j)`` when ``node`` is ``e_i^T L inner R e_j`` (an entry), else None."""
    if not isinstance(node, _Mul) or node.L is None or node.R is None:
        return None
    left = list(node.L.args) if isinstance(node.L, sp.MatMul) else [node.L]
    right = list(node.R.args) if isinstance(node.R, sp.MatMul) else [node.R]
    first, last = left[0], right[-1]
    if not (
        isinstance(first, sp.Transpose)
        and isinstance(first.arg, UnitVector)
        and isinstance(last, UnitVector)
    ):
        return None
    return left[1:], node.inner, right[:-1], first.arg.args[1], last.args[1]


def _vec_jacobian(node: Any, X: Any, out_size: Any) -> Any:
    """d vec(F) / d vec(X) of a finished tree: Kronecker products, column-major vec."""
    m, p = X.shape

    def go(n: Any, rows: Any) -> Any:
        if isinstance(n, _Var):
            return Commutation(m, p) if n.t else sp.Identity(m * p)
        if isinstance(n, _Mul):
            inner_shape = _node_shape(n.inner)
            L = n.L if n.L is not None else sp.Identity(inner_shape[0])
            R = n.R if n.R is not None else sp.Identity(inner_shape[1])
            kron = _kron(R.T, L)
            return _times(kron, go(n.inner, None))
        if isinstance(n, _Had):
            return _times(DiagVec(n.M), go(n.inner, None))
        if isinstance(n, _Scale):
            return _mm(n.c, go(n.inner, None))
        if isinstance(n, _Tr):
            q = _node_shape(n.inner)[0]
            return _mm(Vec(sp.Identity(q)).T, go(n.inner, None))
        if isinstance(n, _Outer):
            return _mm(Vec(n.M), go(n.inner, None))
        if isinstance(n, _Kron):
            return _times(_kron_vec(n), go(n.inner, None))
        if isinstance(n, _Sum):
            if not n.terms:
                return sp.ZeroMatrix(out_size, m * p)
            return _plus([go(t, None) for t in n.terms], collect=False)
        raise TypeError(f"not a linear map: {n!r}")

    return go(node, out_size)


def _kron_vec(n: _Kron) -> Any:
    """The matrix of ``vec K -> vec(L ⊗ K ⊗ R)``, by Magnus and Neudecker's rearrangement
    ``vec(A ⊗ B) = (I_n ⊗ K_{q,m} ⊗ I_p)(vec A ⊗ vec B)`` for A (m x n) and B (p x q),
    applied to K ⊗ R, then to L ⊗ (K ⊗ R)."""
    rows, cols = _node_shape(n.inner)
    factors = []
    if n.R is not None:  # vec(K ⊗ R) = (I_q ⊗ K_{d,p} ⊗ I_c)(I_{pq} ⊗ vec R) vec K
        c, d = n.R.shape
        shuffle = sp.KroneckerProduct(sp.Identity(cols), Commutation(d, rows), sp.Identity(c))
        factors += [sp.KroneckerProduct(sp.Identity(rows * cols), Vec(n.R)), shuffle]
        rows, cols = rows * c, cols * d
    if n.L is not None:  # vec(L ⊗ M) = (I_b ⊗ K_{Q,a} ⊗ I_P)(vec L ⊗ I_{PQ}) vec M
        a, b = n.L.shape
        shuffle = sp.KroneckerProduct(sp.Identity(b), Commutation(cols, a), sp.Identity(rows))
        factors += [sp.KroneckerProduct(Vec(n.L), sp.Identity(rows * cols)), shuffle]
    return sp.MatMul(*reversed(factors))


def _kron(a: Any, b: Any) -> Any:
    """``a ⊗ b`` with scalar factors pulled out (sympy 1.14 fails on a 1 x 1 with one)."""
    coeff = sp.S.One
    factors = []
    for m in (a, b):
        if isinstance(m, sp.MatMul):
            c, mats = m.as_coeff_matrices()
            coeff, m = coeff * c, _mm(*mats)
        factors.append(m)
    kron = sp.KroneckerProduct(*factors)
    return kron if coeff == 1 else sp.MatMul(coeff, kron)


def _times(left: Any, right: Any) -> Any:
    return left if isinstance(right, sp.Identity) else _mm(left, right)


def _gradient(node: Any, X: Any, start: Any) -> Any:
    """The adjoint of the differential applied to ``start`` (shaped like F).

    With ``start`` = 1 for a scalar (or 1 x 1) F, this is the gradient G with
    ``dF = tr(G^T dX)``; with a symbol G_F it is the VJP ``G_F -> DF(X)^T[G_F]``.
    """

    def adj(n: Any, G: Any) -> Any:
        if isinstance(n, _Var):
            return G.T if n.t else G
        if isinstance(n, _Mul):
            if n.L is not None:
                G = _mm(n.L.T, G)
            if n.R is not None:
                G = _mm(G, n.R.T)
            return adj(n.inner, G)
        if isinstance(n, _Had):
            return adj(n.inner, sp.HadamardProduct(n.M, G))
        if isinstance(n, _Scale):
            return adj(n.inner, _mm(n.c, G))
        if isinstance(n, _Tr):
            q = _node_shape(n.inner)[0]
            return adj(n.inner, _mm(G, sp.Identity(q)))
        if isinstance(n, _Outer):
            return adj(n.inner, sp.Trace(_mm(n.M.T, G)))
        if isinstance(n, _Kron):  # through the vec-Jacobian of the Kronecker factor
            rows, cols = _node_shape(n.inner)
            return adj(n.inner, Unvec(_mm(_kron_vec(n).T, Vec(G)), rows, cols))
        if isinstance(n, _Sum):
            if not n.terms:
                return sp.ZeroMatrix(*X.shape)
            return _plus([adj(t, G) for t in n.terms])
        raise TypeError(f"not a linear map: {n!r}")

    return adj(node, start)
