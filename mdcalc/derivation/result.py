"""What derive returns: :class:`Derivation` (the steps and the forms, with their numeric
views) and :class:`DerivationCheck` (every form against the numeric Jacobian)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from mdcalc._validation import check_size, shape_str
from mdcalc.check import CheckResult, check_derivative
from mdcalc.derivation.index import IndexForm
from mdcalc.differential import Derivative
from mdcalc.layouts import OVERFLOW, _evaluate, _substitutions, real_part
from mdcalc.numeric import central_along, jacobian, kinked
from mdcalc.structure import Subspace


@dataclass(frozen=True)
class DerivationCheck:
    """Every form of a :class:`Derivation` compared with the numeric Jacobian.

    Truthy exactly when every form is "correct".

    Attributes
    ----------
    results : dict
        One :class:`mdcalc.CheckResult` per form: ``"differential"`` (the linear map),
        ``"vec_jacobian"`` (the matrix), ``"index"`` (the tensor) and, for a scalar F,
        ``"gradient"`` and (with a structure) ``"entry_gradient"``.
    verdict : str
        ``"correct"`` when every form is, ``"wrong"`` when any is, else ``"undecided"``.
    """

    results: dict[str, CheckResult]

    @property
    def verdict(self) -> str:
        verdicts = {r.verdict for r in self.results.values()}
        if verdicts == {"correct"}:
            return "correct"
        return "wrong" if "wrong" in verdicts else "undecided"

    @property
    def ok(self) -> bool:
        return self.verdict == "correct"

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        lines = [f"{form}: {r.verdict}" for form, r in self.results.items()]
        wrong = [f"{form}: {r.message}" for form, r in self.results.items() if not r.ok]
        return "\n".join(lines + wrong)

    def __repr__(self) -> str:
        inner = ", ".join(f"{form}={r.verdict}" for form, r in self.results.items())
        return f"DerivationCheck({self.verdict}: {inner})"


@dataclass
class Derivation:
    """The derivative of a sympy matrix expression, step by step and in every form.

    Built by :func:`derive`; see there for an example.

    Attributes
    ----------
    expr, wrt : sympy expressions
        F and X.
    steps : list of (str, str)
        The derivation: (name of the rule, LaTeX of the whole differential after it),
        from ``d(F)`` to the final differential. :meth:`steps_latex` typesets them.
    differential : sympy expression
        dF, linear in the ``MatrixSymbol`` :attr:`dX` (named ``"d" + X.name``).
    dX : sympy.MatrixSymbol
        The differential of X, shaped like X.
    vec_jacobian : sympy matrix expression
        ``d vec(F) / d vec(X)``, shape ``(F.size, X.size)``, column-major vec:
        Kronecker products, commutation matrices ``K_{m,n}`` for transposes and
        ``diag(vec M)`` for Hadamard terms.
    index : IndexForm
        The index form (LaTeX, output indices first) with its einsum specification.
    gradient : sympy matrix expression or None
        For a scalar (or 1 x 1) F, the G with ``dF = tr(G^T dX)``; else None. With a
        structure, the gradient in the trace inner product on the subspace: the G_S in
        it with ``dF = tr(G_S^T dX)`` for every dX in it (``sym G`` for symmetric X).
    note : str or None
        Said when the derivative is zero because X does not appear in F.
    name : str
        How the steps and the index form name F.
    structure : str or None
        The structure of X given to :func:`derive` (None: a general X).
    entry_gradient : sympy matrix expression or None
        For a scalar F, the derivative by the independent entries of X, in X's shape:
        entry (i, j) is dF/dx for the free entry x that X[i, j] is tied to (``2 sym G -
        diag G`` for symmetric X, ``G - G^T`` for skew X, the projection for diagonal and
        triangular X). Without a structure, it is :attr:`gradient`.

    With a structure, :attr:`vec_jacobian` is ``d vec F / d x`` for the free entries x of
    X (vech X for symmetric X; see :mod:`mdcalc.structure`), shape ``(F.size, m)``, and
    :meth:`matrix` evaluates it.

    Numeric views take ``values``, a dict from every symbol of F (X included) to an
    array: :meth:`tensor`, :meth:`matrix`, :meth:`linear_map`, :meth:`gradient_value`
    (scalar F), :meth:`function` (F itself, complex-safe) and :meth:`check`. Where F has
    no derivative at the values (a kink: abs, Max or relu at 0; a singularity: sqrt at
    0, the norm at 0; a jump: Heaviside at 0), the views refuse with a ValueError that
    says so (and, for a kink, at which entry of X), as :meth:`check` says "undecided"
    there; a value that overflows, or underflows to 0 (det of 1e-200 I), is refused as
    such. (The test: central differences of F along three random directions, whose
    one-sided slopes must agree; then the values must be finite.)
    """

    expr: Any
    wrt: Any
    steps: list[tuple[str, str]]
    differential: Any
    dX: Any
    vec_jacobian: Any
    index: IndexForm
    gradient: Any
    note: str | None = None
    name: str = "F"
    structure: str | None = None
    entry_gradient: Any = None
    _tree: Any = field(default=None, repr=False)
    _adjoint: Any = field(default=None, repr=False)

    # ---------------------------------------------------------------- display

    def steps_latex(self) -> str:
        """The steps as one LaTeX ``aligned`` block, each line labelled with its rule."""
        lines = []
        for n, (rule, latex) in enumerate(self.steps):
            lhs = rf"\mathrm{{d}}{self.name}" if n == 0 else ""
            lines.append(rf"{lhs} &= {latex} && \text{{{rule}}}")
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"

    def _repr_markdown_(self) -> str:
        return f"$$\n{self.steps_latex()}\n$$"

    # ---------------------------------------------------------------- numbers

    def _prepare(self, values: Mapping[Any, ArrayLike]) -> tuple[dict[Any, Any], tuple[int, ...]]:
        if not isinstance(values, Mapping):
            raise TypeError(
                f"values must be a dict from each symbol to an array, got {type(values).__name__}"
            )
        named = [k for k in values if isinstance(k, str)]
        if named:
            raise TypeError(
                f"values must be keyed by the sympy symbols themselves, not by names: "
                f"got {named[0]!r}"
            )
        if self.wrt not in values:
            raise ValueError(f"values has no value for {self.wrt} (the variable)")
        if self.dX in values:
            raise ValueError(f"values must not give {self.dX}: it is the direction K")
        subs = _substitutions(self.expr, values)
        subspace = self._subspace()
        if subspace is not None:
            try:
                subspace.require(str(self.wrt), subs[self.wrt])
            except ValueError as exc:
                raise ValueError(f"the value for {self.wrt}: {exc}") from None
        F = _evaluate(self.expr, subs)
        if not np.all(np.isfinite(F)):
            raise ValueError(OVERFLOW)
        if real_part(F) is None:
            raise ValueError(f"{self.expr} is not real at these values")
        return subs, F.shape

    def _require_derivative(self, subs: dict[Any, Any]) -> None:
        """Refuse the numeric views where F has no derivative at the values: one-sided
        slopes that differ in a random direction (inside X's subspace, for a structured
        X), or central differences that are not finite there."""
        X0 = np.asarray(real_part(subs[self.wrt]), dtype=float)

        def f(Xv: np.ndarray) -> np.ndarray:
            value = real_part(_evaluate(self.expr, {**subs, self.wrt: Xv}))
            return np.full(F0.shape, np.nan) if value is None else value

        F0 = real_part(_evaluate(self.expr, subs))
        rng = np.random.default_rng(0)
        K, R = rng.standard_normal(X0.shape), rng.standard_normal(X0.shape)
        subspace = self._subspace()
        if subspace is not None:
            K, R = subspace.project(K), subspace.project(R)
        with np.errstate(all="ignore"):
            try:
                central = [central_along(f, X0, F0, D) for D in (K, R, K + R)]
            except ValueError:  # f has no number near X (DiracDelta at 0 inside, say)
                central = None
        finite = central is not None and all(np.all(np.isfinite(c[0])) for c in central)
        if finite and not kinked(central, [(0, 1, 2)]):  # type: ignore[arg-type]
            return
        where = ""
        if subspace is None and X0.size <= 4096:  # name the entry (4 X.size evaluations)
            try:
                with np.errstate(all="ignore"):
                    jacobian(f, X0, "central")
            except ValueError as exc:
                if "at input entry" in str(exc):
                    where = " " + str(exc).split(": ", 1)[1].split(" its one-sided")[0]
        reason = (
            "its one-sided slopes differ (a kink: abs, Max or relu at 0, a tie)"
            if finite else
            "its slopes there are not finite (a singularity: sqrt or a power below 1 at 0, "
            "the norm at 0; or a jump: Heaviside at 0)"
        )
        raise ValueError(
            f"{self.expr} is not differentiable at these values{where}: {reason}, so the "
            "numeric views have no numbers to give (.check says undecided there); use a "
            "nearby point"
        )

    def _at(self, values: Mapping[Any, ArrayLike], require: bool = True) -> Derivative:
        subs, out_shape = self._prepare(values)
        if require:
            self._require_derivative(subs)
        in_shape = tuple(subs[self.wrt].shape)
        dX = self.dX

        def real(expr: Any, extra: Mapping[Any, Any] | None = None) -> np.ndarray:
            arr = _evaluate(expr, {**subs, **(extra or {})})
            if not np.all(np.isfinite(arr)):
                raise ValueError(
                    f"the derivative of {self.expr} is not finite at these values (a "
                    "singularity, or an overflow), so there is no number to give"
                )
            return np.asarray(arr.real, dtype=float)

        def jvp(K: np.ndarray) -> np.ndarray:
            arr = np.asarray(K, dtype=float)
            return real(self.differential, {dX: arr}).reshape(out_shape)

        n_out, n_in = int(np.prod(out_shape)), int(np.prod(in_shape))
        what = f"the Jacobian of {shape_str(out_shape)} outputs by {shape_str(in_shape)} inputs"

        def matrix() -> np.ndarray:
            check_size(n_out * n_in, 8, what)
            M = real(self.vec_jacobian)
            size = int(np.prod(out_shape))
            return M.reshape(size, -1)  # X.size columns, or m (the free entries)

        def tensor() -> np.ndarray:
            check_size(n_out * n_in, 8, what)
            T = np.zeros(out_shape + in_shape)
            for term in self.index.terms:
                ops = [real(e) for e in term.operands]
                c = float(real(term.coefficient))
                T += c * np.einsum(term.spec, *ops, optimize=True).reshape(T.shape)
            return T

        subspace = self._subspace()

        def vjp(G: np.ndarray) -> np.ndarray:
            bar, adjoint = self._adjoint
            G_ = np.asarray(G, dtype=float).reshape(out_shape)
            value = real(adjoint, {bar: G_}).reshape(in_shape)
            # on a subspace, the adjoint in the trace inner product lands in it
            return value if subspace is None else subspace.project(value)

        has_vjp = self._adjoint is not None
        return Derivative(
            out_shape, in_shape, jvp=jvp, vjp=vjp if has_vjp else None, tensor=tensor, matrix=matrix
        )

    def tensor(self, values: Mapping[Any, ArrayLike]) -> np.ndarray:
        """The Jacobian tensor at the given values, shape ``F.shape + X.shape``, from :attr:`index`.

        Accuracy: the einsum of the evaluated factors, with their rounding.
        """
        return self._at(values).tensor()

    def matrix(self, values: Mapping[Any, ArrayLike]) -> np.ndarray:
        """The vec-Jacobian at the given values, from :attr:`vec_jacobian` (column-major vec)."""
        return self._at(values).matrix()

    def linear_map(self, values: Mapping[Any, ArrayLike]) -> Derivative:
        """The map ``K -> DF(X)[K]`` at the given values (an :class:`mdcalc.Derivative`).

        Calling it evaluates :attr:`differential` with ``dX = K``; its ``.adjoint(G)``
        (the VJP) evaluates the adjoint of the differential, matrix-free, the way the
        gradient is written; ``.tensor()`` and ``.matrix()`` are :meth:`tensor` and
        :meth:`matrix`.
        """
        return self._at(values)

    def gradient_value(self, values: Mapping[Any, ArrayLike]) -> np.ndarray:
        """The gradient (shaped like X) at the given values, for a scalar F."""
        return self._gradient_value(self.gradient, values)

    def entry_gradient_value(self, values: Mapping[Any, ArrayLike]) -> np.ndarray:
        """The derivative by the independent entries (shaped like X), for a scalar F."""
        return self._gradient_value(self.entry_gradient, values)

    def _gradient_value(
        self, gradient: Any, values: Mapping[Any, ArrayLike], require: bool = True
    ) -> np.ndarray:
        if gradient is None:
            raise ValueError(f"{self.expr} is not scalar-valued: it has no gradient")
        subs, _ = self._prepare(values)
        if require:
            self._require_derivative(subs)
        arr = _evaluate(gradient, subs)
        if not np.all(np.isfinite(arr)):
            raise ValueError(
                f"the gradient of {self.expr} is not finite at these values (a singularity, "
                "or an overflow), so there is no number to give"
            )
        return np.asarray(arr.real, dtype=float).reshape(subs[self.wrt].shape)

    def _subspace(self) -> Subspace | None:
        if self.structure is None:
            return None
        return Subspace.for_shape(tuple(int(n) for n in self.wrt.shape), self.structure)

    def function(self, values: Mapping[Any, ArrayLike]) -> Callable[[np.ndarray], np.ndarray]:
        """F as a numpy function of X, the other symbols fixed at their values.

        Complex-safe (for the complex step of :func:`mdcalc.check_derivative`). At a
        real X where F is not real (outside its real domain: sqrt of a negative number),
        its value is nan, as numpy's would be.
        """
        subs, out_shape = self._prepare(values)

        def f(Xv: np.ndarray) -> np.ndarray:
            arr = _evaluate(self.expr, {**subs, self.wrt: np.asarray(Xv)})
            if np.iscomplexobj(Xv):
                return arr
            real = real_part(arr)
            return np.full(arr.shape, np.nan) if real is None else real

        return f

    def check(self, values: Mapping[Any, ArrayLike], **options: Any) -> DerivationCheck:
        """Compare every form with the numeric Jacobian of F at the given values.

        Each of the differential (as a linear map), the vec-Jacobian (as a matrix), the
        index form (as a tensor) and, for a scalar F, the gradient is checked with
        :func:`mdcalc.check_derivative` (``options`` are passed on to it). With a
        structure, along directions inside the subspace (the value of X must be in it),
        and the gradient must be an element of the subspace; the derivative by the
        independent entries is checked too (as the row ``d F / d x``). Where F has no
        derivative at the values, every form is "undecided" (a form whose expression
        has no number there, as DiracDelta(0), says so).

        Returns
        -------
        DerivationCheck
            Truthy exactly when every form is correct.
        """
        D = self._at(values, require=False)  # the checker judges differentiability
        f = self.function(values)
        X = np.asarray(values[self.wrt], dtype=float).reshape(D.in_shape)
        if self.structure is not None:
            options = {**options, "structure": self.structure}

        def index() -> Any:
            T = D.tensor()
            if self.structure is None:
                return T
            # the unstructured tensor, right as a map on the subspace (for a scalar F it
            # is G, not the gradient on the subspace: that one is .gradient)
            return lambda K: np.tensordot(T, K, axes=X.ndim)

        claims: dict[str, Callable[[], Any]] = {
            "differential": lambda: D,
            "vec_jacobian": D.matrix,
            "index": index,
        }
        if self.gradient is not None:
            claims["gradient"] = lambda: self._gradient_value(
                self.gradient, values, require=False).reshape(D.out_shape + D.in_shape)
            subspace = self._subspace()
            if subspace is not None:
                # the derivative by the free entries x, as the row d F / d x
                claims["entry_gradient"] = lambda: subspace.coordinates(
                    self._gradient_value(self.entry_gradient, values, require=False))[None, :]
        results = {form: self._check_form(f, X, D.out_shape, build, options)
                   for form, build in claims.items()}
        return DerivationCheck(results)

    @staticmethod
    def _check_form(f: Callable[..., Any], X: np.ndarray, out_shape: tuple[int, ...],
                    build: Callable[[], Any], options: dict[str, Any]) -> CheckResult:
        """check_derivative of one form; where the form has no number at the values (its
        expression is not finite there, or has DiracDelta(0)), "undecided", saying so."""
        try:
            claim = build()
            if not callable(claim):
                return check_derivative(f, X, claim, **options)
            claim(np.zeros(X.shape))  # a map that cannot be evaluated here fails now
            return check_derivative(f, X, claim, **options)
        except ValueError as exc:
            why = str(exc)
        result = check_derivative(f, X, lambda K: np.full(out_shape, np.nan), **options)
        if "non-finite" in result.message:  # the numeric side could decide: the form cannot
            result = replace(result, message=f"undecided: the form has no number at these "
                             f"values: {why}")
        return result

    def __repr__(self) -> str:
        return f"Derivation(d({self.expr})/d{self.wrt}: {self.differential})"
