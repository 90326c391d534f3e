"""Derive your own: the total differential of a sympy matrix expression, step by step.

:func:`derive` applies the rules of the total differential (chapter 4) to a sympy matrix
expression, one rule per step, the way the book derives by hand, and writes the result in
the book's three forms: the differential ``dF`` (linear in ``dX``), the vec-Jacobian
``d vec F / d vec X`` (Kronecker products, column-major vec) and the index form
``dF[i,l]/dX[j,k]`` with its ``np.einsum`` specification; for a scalar F also the
gradient G with ``dF = tr(G^T dX)``. Every form can be evaluated at given values and is
checked against the numeric Jacobian by :meth:`Derivation.check`.

How it works: one rule per sympy node (a ``functools.singledispatch`` table). Each rule
writes the differential of its node as a *linear* expression in the differentials of its
children, built from five shapes of linear map: ``L K R`` (a product), ``M ⊙ K`` (a
Hadamard product), ``c K`` (a scalar multiple), ``tr K`` (a trace) and ``k M`` (a scalar
differential times a matrix), with transposes pushed down to the leaves. The finished tree,
whose only leaf is ``dX`` or ``dX^T``, is then serialised to each form by a small recursive
function: nothing is simplified by guessing, and every serialiser can be checked on its own.

Functions of matrices (``exp``, ``log``, ``tanh``, ``sin``, ``cos``, powers) given with
``applyfunc`` act entry by entry, and the LaTeX writes them as functions of the matrix.
sympy is imported by this package; ``import mdcalc`` loads it only when :func:`derive` is
first used.

The package follows the data: ``rules`` (one rule per sympy node) build the tree of
``maps``; ``forms`` and ``index`` serialise the finished tree (``nodes`` are the sympy
nodes the vec-Jacobian needs); ``latex`` prints it; ``result`` holds the
:class:`Derivation`; this file holds :func:`derive`.
"""

from __future__ import annotations

from typing import Any

import sympy as sp  # type: ignore[import-untyped]

from mdcalc.derivation.forms import _gradient, _to_sympy, _vec_jacobian
from mdcalc.derivation.index import IndexForm, IndexTerm, _index_form
from mdcalc.derivation.latex import _Printer, to_latex
from mdcalc.derivation.maps import _is_zero, _pending, _replace, _shape_of, _transposed, _Var
from mdcalc.derivation.nodes import Commutation as Commutation  # the vec-Jacobian's nodes
from mdcalc.derivation.nodes import DiagVec as DiagVec
from mdcalc.derivation.nodes import Vec as Vec
from mdcalc.derivation.nodes import _factor
from mdcalc.derivation.result import Derivation, DerivationCheck
from mdcalc.derivation.rules import _Context, _rule, _validate
from mdcalc.derivation.structured import structured_gradient, structured_vec_jacobian
from mdcalc.structure import as_structure

__all__ = ["Derivation", "DerivationCheck", "IndexForm", "IndexTerm", "derive", "to_latex"]


def derive(expr: Any, wrt: Any, *, name: str = "F", structure: str | None = None) -> Derivation:
    """The derivative of a sympy matrix expression, step by step, in the book's three forms.

    Parameters
    ----------
    expr : sympy matrix expression (or scalar expression of matrices)
        Built from ``MatrixSymbol`` s with integer or symbolic dimensions: sums,
        differences, scalar multiples, products, integer powers, transposes, inverses,
        traces, determinants, ``log``, ``Abs`` (``log(Abs(det(X)))`` for either sign),
        Hadamard and Kronecker products, Hadamard powers, entries (``M[i, j]``, and
        sympy's index sums), elementwise functions (``applyfunc`` with exp, log, tanh,
        erf, powers...), scalar functions, identity, zero and constant matrices.
        Vectors are n x 1 matrices. Where a kink has no derivative (``Abs`` or ``Max``
        at 0) the numeric views raise a ``ValueError``.
    wrt : sympy.MatrixSymbol
        The variable X.
    name : str
        How the index form names F (``"Z"`` gives ``\\partial Z_{il}``).
    structure : {None, "symmetric", "skew", "diagonal", "lower", "upper"}
        X is known to be of this structure (square): F is differentiated along the
        subspace of such matrices only (see :mod:`mdcalc.structure`). Then ``.gradient``
        is the gradient in the trace inner product on the subspace (the G_S in it with
        ``dF = tr(G_S^T dX)`` for every dX in it: ``sym G`` for symmetric X, G the
        unstructured gradient), ``.entry_gradient`` the derivative by the independent
        entries in X's shape (``2 sym G - diag G`` for symmetric X), ``.vec_jacobian``
        the derivative of vec F by the independent entries (``... D_n``, the duplication
        matrix, for symmetric X), with X's structure used (``X^T = X``); and ``.check``
        checks along the subspace, refusing values of X outside it. ``.steps``,
        ``.differential``, ``.index`` and ``.tensor`` stay those of the unstructured
        derivative, which is right on the subspace.

    Returns
    -------
    Derivation
        ``.steps``, ``.differential``, ``.vec_jacobian``, ``.index``, ``.gradient``,
        ``.entry_gradient``, ``.note``, and the numeric views ``.tensor(values)``,
        ``.matrix(values)``, ``.linear_map(values)`` and ``.check(values)``.

    Raises
    ------
    TypeError
        If ``wrt`` is not a ``MatrixSymbol`` or ``expr`` is not a sympy expression.
    ValueError
        If ``expr`` holds no matrix, uses an unsupported operation (named), has
        mismatched shapes, or is beyond derive's stated sizes, refused before any work:
        more than 5,000 sympy nodes, a matrix power beyond 64 (``X**n`` expands into n
        terms), a product of more than 64 factors.

    Notes
    -----
    Accuracy: the symbolic forms are exact. The numeric views evaluate them in floating
    point (numpy and scipy.special), with its rounding; where F has no derivative at the
    values (a kink, a singularity, a jump), they refuse (ValueError) and ``.check`` says
    "undecided"; values that overflow or underflow are refused as such.

    Examples
    --------
    >>> import numpy as np, sympy as sp
    >>> from mdcalc import derive
    >>> A = sp.MatrixSymbol("A", 3, 3); H = sp.MatrixSymbol("H", 3, 2)
    >>> W = sp.MatrixSymbol("W", 2, 4)
    >>> r = derive(A * H * W, H, name="Z")
    >>> r.differential
    A*dH*W
    >>> r.vec_jacobian
    KroneckerProduct(W.T, A)
    >>> r.index.latex
    '\\\\frac{\\\\partial Z_{il}}{\\\\partial H_{jk}} = A_{ij} W_{kl}'
    >>> r.index.einsum
    'ij,kl->iljk'
    >>> r.steps[-1]
    ('product rule', 'A \\\\mathrm{d}H W')
    >>> rng = np.random.default_rng(0)
    >>> values = {A: rng.normal(size=(3, 3)), H: rng.normal(size=(3, 2)),
    ...           W: rng.normal(size=(2, 4))}
    >>> r.tensor(values).shape
    (3, 4, 3, 2)
    >>> bool(r.check(values))
    True

    A scalar function has a gradient:

    >>> x = sp.MatrixSymbol("x", 3, 1)
    >>> derive(x.T * A * x / 2, x).gradient
    (1/2)*A*x + (1/2)*A.T*x

    On symmetric X, the two derivatives of log det X:

    >>> X = sp.MatrixSymbol("X", 3, 3)
    >>> on_symmetric = derive(sp.log(sp.det(X)), X, structure="symmetric")
    >>> on_symmetric.gradient
    X**(-1)
    >>> on_symmetric.entry_gradient
    -HadamardProduct(X**(-1), I) + 2*X**(-1)
    >>> on_symmetric.vec_jacobian               # by vech X: D_3 is the duplication matrix
    Vec(I).T*(KroneckerProduct(I, X**(-1)))*D_3
    """
    if not isinstance(wrt, sp.MatrixSymbol):
        raise TypeError(
            f"wrt must be a sympy MatrixSymbol (the variable), got {type(wrt).__name__} {wrt!r}"
        )
    if isinstance(expr, sp.MatrixBase) and not isinstance(expr, sp.Basic):
        expr = sp.ImmutableMatrix(expr)  # a mutable explicit matrix: the same, hashable
    if not isinstance(expr, sp.Basic):
        raise TypeError(
            f"expr must be a sympy matrix expression, got {type(expr).__name__}; build it "
            "from sympy.MatrixSymbol objects"
        )
    is_matrix = bool(getattr(expr, "is_Matrix", False))
    if not is_matrix and not any(
        isinstance(a, (sp.MatrixExpr, sp.MatrixBase)) for a in sp.preorder_traversal(expr)
    ):
        raise ValueError(
            f"expr must be a matrix expression (or a scalar built from matrices, such as a "
            f"trace), got the scalar {expr}; use MatrixSymbol (a vector is n x 1)"
        )
    structure = as_structure(structure)
    if structure is not None and wrt.shape[0] != wrt.shape[1]:
        raise ValueError(
            f"structure={structure!r} needs a square variable, but {wrt} is "
            f"{wrt.shape[0]}x{wrt.shape[1]}"
        )
    for s in expr.atoms(sp.MatrixSymbol):
        if s.name == wrt.name and s != wrt:
            raise ValueError(
                f"mismatched shapes: expr uses {s.name} as {s.rows}x{s.cols}, but wrt "
                f"is {wrt.rows}x{wrt.cols}"
            )
        if s.name == "d" + wrt.name:
            raise ValueError(f"expr uses the name {s.name}, which derive keeps for d{wrt.name}")
    _validate(expr)

    X = wrt
    dX = sp.MatrixSymbol("d" + X.name, *X.shape)
    printer = _Printer()
    names: dict[Any, Any] = {dX: rf"\mathrm{{d}}{printer._print(X)}"}
    printer.names = names
    out_shape = _shape_of(expr)
    ctx = _Context(X)
    tree = ctx.d(expr)

    def show(node: Any) -> str:
        return str(printer.doprint(_to_sympy(node, dX, names, printer)))

    steps = [("differential", rf"\mathrm{{d}}{_factor(printer, expr)}")]
    note = None
    if _is_zero(tree):
        note = f"{X} does not appear in the expression: its derivative is zero"
        steps.append(("constant", show(tree)))
    elif isinstance(tree, _Var):
        steps.append(("variable", show(tree)))
    while True:
        leaf = next(_pending(tree), None)
        if leaf is None:
            break
        rule, new = _rule(leaf.expr, ctx)
        if leaf.t:
            new = _transposed(new)
        tree = _replace(tree, leaf, new)
        steps.append((rule, show(tree)))

    differential = _to_sympy(tree, dX, names, None)
    out_size = out_shape[0] * out_shape[1] if out_shape else sp.S.One
    vec_jacobian = _vec_jacobian(tree, X, out_size)
    scalar = out_shape == () or (out_shape[0] == 1 and out_shape[1] == 1)
    one = sp.S.One if out_shape == () else sp.Identity(1)
    gradient = _gradient(tree, X, one) if scalar else None
    bar = sp.MatrixSymbol(f"_bar_{name}", *out_shape) if out_shape else sp.Symbol(f"_bar_{name}")
    adjoint = _gradient(tree, X, bar) if not _is_zero(tree) else sp.ZeroMatrix(*X.shape)
    if gradient is not None and _is_zero(tree):
        gradient = sp.ZeroMatrix(*X.shape)
    index = _index_form(tree, X, len(out_shape), name, printer)
    entry_gradient = gradient
    if structure is not None:
        if gradient is not None:
            gradient, entry_gradient = structured_gradient(gradient, X, structure)
        vec_jacobian = structured_vec_jacobian(vec_jacobian, X, structure)
    return Derivation(
        expr=expr,
        wrt=X,
        steps=steps,
        differential=differential,
        dX=dX,
        vec_jacobian=vec_jacobian,
        index=index,
        gradient=gradient,
        note=note,
        name=name,
        structure=structure,
        entry_gradient=entry_gradient,
        _tree=tree,
        _adjoint=(bar, adjoint),
    )
