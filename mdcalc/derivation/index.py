"""The index form of a finished linear-map tree: ``dF[i,l]/dX[j,k]`` in LaTeX, with the
einsum specification and operands of each term."""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

import sympy as sp  # type: ignore[import-untyped]

from mdcalc.derivation.latex import _Printer
from mdcalc.derivation.maps import _Had, _Kron, _Mul, _Outer, _Scale, _Sum, _Tr, _Var
from mdcalc.derivation.nodes import Split, UnitVector, _factor
from mdcalc.notation import index_product


@dataclass(frozen=True)
class IndexTerm:
    """One term of the index form: ``coefficient * einsum(spec, *operands)``.

    Attributes
    ----------
    coefficient : sympy expression
        A scalar factor (1 for most terms; ``det(X)``-like factors otherwise).
    spec : str
        The ``np.einsum`` specification; its output lists F's indices, then X's.
    operands : tuple of sympy matrix expressions
        One per operand of ``spec`` (``Identity`` stands for a Kronecker delta).
    latex : str
        The term in index notation, e.g. ``A_{ij} W_{kl}``.
    """

    coefficient: Any
    spec: str
    operands: tuple[Any, ...]
    latex: str


@dataclass(frozen=True)
class IndexForm:
    """The index form ``dF[i,l] / dX[j,k] = ...``, output indices first.

    Attributes
    ----------
    terms : tuple of IndexTerm
        The summands; the tensor is the sum of ``coefficient * einsum(spec, *operands)``.
    latex : str
        The whole formula, e.g. ``\\frac{\\partial Z_{il}}{\\partial H_{jk}} = A_{ij} W_{kl}``.
    einsum : str
        The einsum specifications of the terms joined by ``" + "``, e.g. ``"ij,kl->iljk"``.
    """

    terms: tuple[IndexTerm, ...]
    latex: str
    einsum: str


# (coefficient, factors [(expr, indices)], output index groups, input indices). A group is a
# tuple of indices: one for a matrix index, several for a row or column of a Kronecker
# product (its factors' indices, in numpy's kron order).
_RawTerm = tuple[Any, list[Any], tuple[tuple[int, ...], ...], tuple[int, ...]]


class _Index:
    """Builder of the index form: indices are integers until they get letters."""

    def __init__(self, X: Any) -> None:
        self.dims: list[Any] = []
        self.X = X

    def new(self, dim: Any) -> int:
        self.dims.append(dim)
        return len(self.dims) - 1

    def split(self, M: Any, rows: tuple[int, ...], cols: tuple[int, ...]) -> Any:
        """M indexed by index groups: split when a group holds more than one index."""
        if len(rows) == 1 and len(cols) == 1:
            return M
        return Split(M, [self.dims[x] for x in rows], [self.dims[x] for x in cols])

    def terms(self, node: Any, inn: tuple[int, ...]) -> list[_RawTerm]:
        """Terms (coefficient, factors [(expr, indices)], out groups, in indices)."""
        if isinstance(node, _Var):
            a, b = inn
            return [(sp.S.One, [], ((b,), (a,)) if node.t else ((a,), (b,)), inn)]
        if isinstance(node, _Mul):
            out: list[_RawTerm] = []
            for c, factors, (u, v), ins in self.terms(node.inner, inn):
                fs = list(factors)
                i, l_ = u, v
                if node.L is not None:
                    i = (self.new(node.L.rows),)
                    fs.append((self.split(node.L, i, u), i + u))
                if node.R is not None:
                    l_ = (self.new(node.R.cols),)
                    fs.append((self.split(node.R, v, l_), v + l_))
                out.append((c, fs, (i, l_), ins))
            return out
        if isinstance(node, _Had):
            out = []
            for c, fs, o, ins in self.terms(node.inner, inn):
                out.append((c, [*fs, (self.split(node.M, *o), o[0] + o[1])], o, ins))
            return out
        if isinstance(node, _Scale):
            return [(node.c * c, fs, o, ins) for c, fs, o, ins in self.terms(node.inner, inn)]
        if isinstance(node, _Tr):
            out = []
            for c, fs, (u, v), ins in self.terms(node.inner, inn):
                if [self.dims[x] for x in u] != [self.dims[x] for x in v]:
                    # a row and a column split differently (a Kronecker product of
                    # non-square factors): the trace pairs them through the identity
                    size = sp.Mul(*(self.dims[x] for x in u))
                    delta = self.split(sp.Identity(size), u, v)
                    out.append((c, [*fs, (delta, u + v)], (), ins))
                    continue
                ren = dict(zip(v, u, strict=True))
                fs2 = [(e, tuple(ren.get(x, x) for x in idx)) for e, idx in fs]
                out.append((c, fs2, (), tuple(ren.get(x, x) for x in ins)))
            return out
        if isinstance(node, _Outer):
            out = []
            for c, fs, _, ins in self.terms(node.inner, inn):
                i, l_ = self.new(node.M.rows), self.new(node.M.cols)
                out.append((c, [*fs, (node.M, (i, l_))], ((i,), (l_,)), ins))
            return out
        if isinstance(node, _Kron):
            out = []
            for c, fs, (u, v), ins in self.terms(node.inner, inn):
                fs = list(fs)
                for M, before in ((node.L, True), (node.R, False)):
                    if M is None:
                        continue
                    a, b = self.new(M.rows), self.new(M.cols)
                    fs.append((M, (a, b)))
                    u, v = ((a, *u), (b, *v)) if before else ((*u, a), (*v, b))
                out.append((c, fs, (u, v), ins))
            return out
        if isinstance(node, _Sum):
            return [t for term in node.terms for t in self.terms(term, inn)]
        raise TypeError(f"not a linear map: {node!r}")


def _index_form(node: Any, X: Any, out_ndim: int, name: str, printer: _Printer) -> IndexForm:
    builder = _Index(X)
    j, k = builder.new(X.rows), builder.new(X.cols)
    raw = builder.terms(node, (j, k))
    wrt = printer._print(X)
    out_letters = "il"[:out_ndim] if out_ndim == 2 else ""
    lhs_out = f"{name}_{{{out_letters}}}" if out_letters else name
    lhs = rf"\frac{{\partial {lhs_out}}}{{\partial {wrt}_{{jk}}}}"
    terms: list[IndexTerm] = []
    for c, factors, out, ins in raw:
        full = [x for group in out for x in group] + list(ins)
        fs = list(factors)
        seen: set[int] = set()
        for pos, idx in enumerate(full):
            if idx in seen:  # an index twice in the output: a Kronecker delta
                fresh = builder.new(builder.dims[idx])
                fs.append((sp.Identity(builder.dims[idx]), (idx, fresh)))
                full[pos] = fresh
            seen.add(idx)
        in_factors = {x for _, idx in fs for x in idx}
        for idx in full:
            if idx not in in_factors:
                raise RuntimeError(f"internal error: index {idx} in no factor of {factors}")
        spare = iter(c for c in string.ascii_lowercase if c not in "ijkl")
        letters: dict[int, str] = {full[-2]: "j", full[-1]: "k"}
        groups = []  # a row or column of a Kronecker product: its letters, named
        for group, letter in zip(out, out_letters, strict=False):
            if len(group) == 1:
                letters[group[0]] = letter
            else:
                letters.update((x, next(spare)) for x in group)
                groups.append(f"{letter} = ({' '.join(letters[x] for x in group)})")
        for _, idx in fs:
            for x in idx:
                if x not in letters:
                    letters[x] = next(spare)
        parts, names, operands = [], [], []
        for e, idx in fs:
            if isinstance(e, sp.Transpose) and isinstance(e.arg, (sp.MatrixSymbol, UnitVector)):
                e, idx = e.arg, idx[::-1]  # (A^T)_{ij} is A_{ji}
            parts.append("".join(letters[x] for x in idx))
            shown = e.arg if isinstance(e, Split) else e
            names.append("I" if isinstance(shown, sp.Identity) else _factor(printer, shown))
            operands.append(e)
        spec = ",".join(parts) + "->" + "".join(letters[x] for x in full)
        body = index_product(spec, names)
        if c == 1:
            text = body
        elif c == -1:
            text = f"-{body}"
        else:
            coef = printer._print(c)
            text = f"{_factor(printer, c) if isinstance(c, sp.Add) else coef} {body}"
        if groups:
            joined = r",\ ".join(groups)
            text += rf" \quad \text{{with }} {joined}"
        terms.append(IndexTerm(c, spec, tuple(operands), text))
    if not terms:
        rhs = "0"
    else:
        rhs = " + ".join(t.latex for t in terms).replace("+ -", "- ")
    einsum = " + ".join(t.spec for t in terms) if terms else ""
    return IndexForm(tuple(terms), f"{lhs} = {rhs}", einsum)
