"""The linear maps in dX that the rules build (``L K R``, ``M ⊙ K``, ``c K``, ``tr K``,
``k M``, ``P ⊗ K ⊗ Q``, sums), their simplifying constructors and the walks over their trees."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sympy as sp  # type: ignore[import-untyped]


@dataclass(frozen=True)
class _Var:
    """``dX`` (or ``dX^T`` when ``t``); ``shape`` is X's."""

    shape: tuple[Any, ...]
    t: bool = False


@dataclass(frozen=True)
class _Pending:
    """``d(expr)`` not yet expanded (transposed when ``t``)."""

    expr: Any
    t: bool = False


@dataclass(frozen=True)
class _Mul:
    """``L inner R``; L or R is None for an identity."""

    L: Any
    inner: Any
    R: Any


@dataclass(frozen=True)
class _Had:
    """``M ⊙ inner``."""

    M: Any
    inner: Any


@dataclass(frozen=True)
class _Scale:
    """``c inner`` for a scalar c."""

    c: Any
    inner: Any


@dataclass(frozen=True)
class _Tr:
    """``tr(inner)``; shown as the entry ``inner[0, 0]`` when ``entry`` (inner is 1 x 1)."""

    inner: Any
    entry: bool = False


@dataclass(frozen=True)
class _Outer:
    """``inner M``: a scalar differential times a matrix."""

    inner: Any
    M: Any


@dataclass(frozen=True)
class _Kron:
    """``L ⊗ inner ⊗ R``; L or R is None when absent."""

    L: Any
    inner: Any
    R: Any


@dataclass(frozen=True)
class _Sum:
    """A sum of linear maps (empty: the zero map of the given shape)."""

    terms: tuple[Any, ...]
    shape: tuple[Any, ...]


def _is_matrix(expr: Any) -> bool:
    return bool(getattr(expr, "is_Matrix", False))


def _mm(*factors: Any) -> Any:
    """The product of scalars and matrices, canonicalised one level (not deep: fast)."""
    if len(factors) == 1:
        return factors[0]
    if not any(_is_matrix(f) for f in factors):
        return sp.Mul(*factors)
    return sp.MatMul(*factors).doit(deep=False)


def _plus(terms: list[Any], collect: bool = True) -> Any:
    """The sum of scalars or of matrices; like terms collected when ``collect``."""
    if len(terms) == 1:
        return terms[0]
    if _is_matrix(terms[0]) and collect:
        return sp.MatAdd(*terms).doit(deep=False)
    if _is_matrix(terms[0]):
        # flattened, zeros dropped; not canonicalised (sympy's collecting of like terms
        # multiplies out every coefficient, deeply: slow on long expressions)
        flat: list[Any] = []
        for t in terms:
            flat.extend(t.args if isinstance(t, sp.MatAdd) else [t])
        flat = [t for t in flat if not isinstance(t, sp.ZeroMatrix)]
        if not flat:
            return terms[0]
        return flat[0] if len(flat) == 1 else sp.MatAdd(*flat)
    return sp.Add(*terms)


def _shape_of(expr: Any) -> tuple[Any, ...]:
    return tuple(expr.shape) if getattr(expr, "is_Matrix", False) else ()


def _zero(shape: tuple[Any, ...]) -> _Sum:
    return _Sum((), shape)


def _is_zero(node: Any) -> bool:
    return isinstance(node, _Sum) and not node.terms


def _mul(L: Any, inner: Any, R: Any) -> Any:
    if _is_zero(inner):
        rows, cols = inner.shape
        return _zero((rows if L is None else L.rows, cols if R is None else R.cols))
    L = None if L is None or isinstance(L, sp.Identity) else L
    R = None if R is None or isinstance(R, sp.Identity) else R
    if L is None and R is None:
        return inner
    if isinstance(inner, _Scale):  # L (c K) R = c (L K R): keeps L and R whole
        return _scale(inner.c, _mul(L, inner.inner, R))
    if isinstance(inner, _Mul):  # (L (L' K R') R) = (L L') K (R' R)
        L = inner.L if L is None else (L if inner.L is None else _mm(L, inner.L))
        R = inner.R if R is None else (R if inner.R is None else _mm(inner.R, R))
        return _mul(L, inner.inner, R)  # a product may have cancelled (X X^-1 = I)
    return _Mul(L, inner, R)


def _scale(c: Any, inner: Any) -> Any:
    c = sp.sympify(c)
    if c == 0 or _is_zero(inner):
        return _zero(_node_shape(inner))
    if c == 1:
        return inner
    if isinstance(inner, _Scale):
        return _scale(c * inner.c, inner.inner)
    return _Scale(c, inner)


def _add(terms: list[Any], shape: tuple[Any, ...]) -> Any:
    flat: list[Any] = []
    for term in terms:
        if isinstance(term, _Sum):
            flat.extend(term.terms)
        else:
            flat.append(term)
    return flat[0] if len(flat) == 1 else _Sum(tuple(flat), shape)


def _node_shape(node: Any) -> tuple[Any, ...]:
    if isinstance(node, _Sum):
        return node.shape
    if isinstance(node, _Var):
        return node.shape[::-1] if node.t else node.shape
    if isinstance(node, _Pending):
        shape = _shape_of(node.expr)
        return shape[::-1] if node.t else shape
    if isinstance(node, _Mul):
        inner = _node_shape(node.inner)
        rows = node.L.rows if node.L is not None else inner[0]
        cols = node.R.cols if node.R is not None else inner[1]
        return (rows, cols)
    if isinstance(node, _Had):
        return tuple(node.M.shape)
    if isinstance(node, _Scale):
        return _node_shape(node.inner)
    if isinstance(node, _Tr):
        return ()
    if isinstance(node, _Outer):
        return tuple(node.M.shape)
    if isinstance(node, _Kron):
        rows, cols = _node_shape(node.inner)
        for M in (node.L, node.R):
            if M is not None:
                rows, cols = rows * M.rows, cols * M.cols
        return (rows, cols)
    raise TypeError(f"not a linear map: {node!r}")


def _transposed(node: Any) -> Any:
    """The linear map ``K -> (node K)^T``, with the transpose pushed to the leaves."""
    if isinstance(node, _Var):
        return _Var(node.shape, not node.t)
    if isinstance(node, _Pending):
        if not _shape_of(node.expr):
            return node  # a scalar is its own transpose
        return _Pending(node.expr, not node.t)
    if isinstance(node, _Mul):
        L = None if node.R is None else node.R.T
        R = None if node.L is None else node.L.T
        return _Mul(L, _transposed(node.inner), R)
    if isinstance(node, _Had):
        return _Had(node.M.T, _transposed(node.inner))
    if isinstance(node, _Scale):
        return _Scale(node.c, _transposed(node.inner))
    if isinstance(node, _Tr):
        return node
    if isinstance(node, _Outer):
        return _Outer(node.inner, node.M.T)
    if isinstance(node, _Kron):  # (L ⊗ K ⊗ R)^T = L^T ⊗ K^T ⊗ R^T
        L = None if node.L is None else node.L.T
        R = None if node.R is None else node.R.T
        return _Kron(L, _transposed(node.inner), R)
    if isinstance(node, _Sum):
        return _Sum(tuple(_transposed(t) for t in node.terms), node.shape[::-1])
    raise TypeError(f"not a linear map: {node!r}")


def _pending(node: Any) -> Iterator[Any]:
    """The pending leaves of a tree, in reading order."""
    if isinstance(node, _Pending):
        yield node
    elif isinstance(node, (_Mul, _Had, _Scale, _Tr, _Outer, _Kron)):
        yield from _pending(node.inner)
    elif isinstance(node, _Sum):
        for t in node.terms:
            yield from _pending(t)


def _replace(node: Any, leaf: _Pending, new: Any) -> Any:
    """Replace the first occurrence of ``leaf`` (by identity) with ``new``, re-simplifying."""
    if node is leaf:
        return new
    if isinstance(node, _Mul):
        inner = _replace(node.inner, leaf, new)
        return _mul(node.L, inner, node.R)
    if isinstance(node, _Had):
        inner = _replace(node.inner, leaf, new)
        return _zero(tuple(node.M.shape)) if _is_zero(inner) else _Had(node.M, inner)
    if isinstance(node, _Scale):
        return _scale(node.c, _replace(node.inner, leaf, new))
    if isinstance(node, _Tr):
        inner = _replace(node.inner, leaf, new)
        return _zero(()) if _is_zero(inner) else _Tr(inner, node.entry)
    if isinstance(node, _Outer):
        inner = _replace(node.inner, leaf, new)
        return _zero(tuple(node.M.shape)) if _is_zero(inner) else _Outer(inner, node.M)
    if isinstance(node, _Kron):
        return _kron(node.L, _replace(node.inner, leaf, new), node.R)
    if isinstance(node, _Sum):
        return _add([_replace(t, leaf, new) for t in node.terms], node.shape)
    return node


def _outer(inner: Any, M: Any) -> Any:
    return _zero(tuple(M.shape)) if _is_zero(inner) else _Outer(inner, M)


def _kron(L: Any, inner: Any, R: Any) -> Any:
    """``L ⊗ inner ⊗ R`` (L or R None when absent), zero when inner is."""
    if _is_zero(inner):
        rows, cols = inner.shape
        for M in (L, R):
            if M is not None:
                rows, cols = rows * M.rows, cols * M.cols
        return _zero((rows, cols))
    if isinstance(inner, _Scale):  # L ⊗ (c K) ⊗ R = c (L ⊗ K ⊗ R)
        return _scale(inner.c, _kron(L, inner.inner, R))
    return _Kron(L, inner, R)
