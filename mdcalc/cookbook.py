"""The Matrix Cookbook's derivative identities, derived by :func:`mdcalc.derive` and checked.

The identities of chapter 2 (sections 2 to 2.8) of K. B. Petersen and M. S. Pedersen, *The
Matrix Cookbook*, version of November 15, 2012, are data here, keyed by equation number: the
formula as printed (misprints included), the function stated as a sympy matrix expression
where one can state it, and each printed right-hand side as a numeric function. Nothing on
the book's page about them is typed by hand: :func:`check` derives each function, checks
every form of the derivation and every printed right-hand side against the numeric
derivative (:func:`mdcalc.check_derivative`), at non-square sizes wherever the identity
allows, and computes the verdict; :func:`render` writes an entry's part of the page.

Verdicts:

- ``"correct"``: every printed form passes, under the conditions the Cookbook states;
- ``"assumption"``: the printed form needs an assumption the Cookbook leaves unstated: it
  passes with it and fails (or the function is not real) without it;
- ``"erratum"``: the printed form fails; a corrected form passes;
- ``"not checked"``: a definition, or an identity sympy's matrix expressions do not state
  (eigenvalues, complex values, Toeplitz matrices, chain rules for any function).

A symmetric or diagonal variable (section 2.8) is derived with ``derive(...,
structure=...)``, and its printed right-hand side is read as the derivative by the
independent entries of X (a claim of form ``"entries"``; see :mod:`mdcalc.structure`).

Examples
--------
>>> from mdcalc import cookbook
>>> len(cookbook.ENTRIES)
116
>>> outcome = cookbook.check(cookbook.entry("57"))
>>> outcome.verdict
'correct'
>>> [r.verdict for _, _, r in outcome.claims]
['correct', 'correct', 'correct', 'correct']
>>> cookbook.check(cookbook.entry("92")).verdict
'erratum'
>>> cookbook.check(cookbook.entry("141")).verdict  # ln det X, X symmetric
'correct'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import sympy as sp  # type: ignore[import-untyped]

from mdcalc._cookbook_printed import PRINTED
from mdcalc.check import CheckResult, check_derivative
from mdcalc.derivation import Derivation, DerivationCheck, derive, to_latex
from mdcalc.derivation.nodes import Entry as _KeptEntry
from mdcalc.numeric import jacobian
from mdcalc.structure import Subspace

inv, det, tr = np.linalg.inv, np.linalg.det, np.trace
mpow = np.linalg.matrix_power

__all__ = [
    "Case", "Claim", "Outcome", "ENTRIES", "SECTIONS", "SECTION_NOTES", "VERDICTS",
    "assert_section", "check", "check_all", "counts", "entry", "render", "summary", "table",
]

VERDICTS = ("correct", "assumption", "erratum", "not checked")

SECTIONS = {
    "2": "Basic rules",
    "2.1": "Derivatives of a determinant",
    "2.2": "Derivatives of an inverse",
    "2.3": "Derivatives of eigenvalues",
    "2.4": "Derivatives of matrices, vectors and scalar forms",
    "2.5": "Derivatives of traces",
    "2.6": "Derivatives of vector norms",
    "2.7": "Derivatives of matrix norms",
    "2.8": "Derivatives of structured matrices",
}

# What the page says once about a section (before its entries).
SECTION_NOTES = {
    "2.8": "On a symmetric or diagonal $X$, the Cookbook's right-hand sides in (139) to (142) "
    "are the derivative by the independent entries of $X$ (`.entry_gradient` of "
    "`derive(..., structure=...)`, $2 \\operatorname{sym} G - G \\odot I$ for symmetric $X$), "
    "not the gradient in the trace inner product on the structured matrices "
    "($\\operatorname{sym} G$, `.gradient`): {ref}`chapter-structured` tells the two apart. "
    "Each is checked as the derivative of $F$ by those entries, along directions inside "
    "the structure. Sympy's `diff` has no structured variable, so these four are not in the "
    "comparison with sympy ({ref}`sec-cookbook-peers`).",
}

# Why an identity is not stated in sympy, by kind, and where the book takes it up.
REASONS = {
    "definition": "a definition (of a layout or a function), not an identity: nothing to check",
    "general": "a rule for any function (a chain rule): not one expression",
    "eigenvalues": "eigenvalues and eigenvectors have no sympy matrix expression",
    "complex": "complex values and conjugates: derive and the checks work over the reals",
    "structured": "a rule about structured variables in general, or a Toeplitz variable, "
    "which `derive`'s structures (symmetric, skew, diagonal, triangular) do not include",
    "matrix function": "a matrix function (a power series in X, such as sin X) has no sympy "
    "matrix expression; sympy's applyfunc acts entry by entry",
}
LINKS = {
    "general": "{ref}`chapter-backprop` uses the chain rule of differentials",
    "structured": "{ref}`chapter-structured` for the two derivatives on a structured variable",
}


@dataclass(frozen=True)
class Case:
    """A function to derive and the values to check it at.

    Attributes
    ----------
    expr : sympy expression, or a callable returning one (built when first checked)
    wrt : sympy.MatrixSymbol
    given : dict
        Conditions on values, by symbol name: ``"symmetric"``, ``"spd"`` (symmetric
        positive definite), ``"negative det"``, ``"raw"`` (no shift towards the identity).
    params : dict
        Values of scalar symbols and of constants the claims use (``{"k": 3}``).
    seed : int
    integers : bool
        Small integer values (for a counterexample printed on the page).
    structure : str or None
        X is of this structure (``"symmetric"``, ``"diagonal"``, ...): derived with
        ``derive(..., structure=...)``, its value projected onto the structure, and checked
        along directions inside it.
    """

    expr: Any
    wrt: Any
    given: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    integers: bool = False
    structure: str | None = None

    def expression(self) -> Any:
        return self.expr() if callable(self.expr) else self.expr


@dataclass(frozen=True)
class Claim:
    """A printed right-hand side as a numeric function of the values ``v`` (a namespace).

    ``form`` is ``"gradient"`` (shaped like X, for a scalar F), ``"tensor"`` (F's shape +
    X's shape: the Cookbook's dF_kl/dX_ij), ``"jacobian"`` (the vec-Jacobian of a vector
    F, the Cookbook's [dx/dy]_ij = dx_i/dy_j), ``"differential"`` (``value(v, d)``, with
    ``d`` the direction of every variable, zero but for the one derived by), ``"relation"``
    (``value(v, G)`` with G the numeric gradient: an array that must vanish), ``"zero"``
    or ``"entries"`` (for a structured X: the derivative by the independent entries of X,
    laid out in X's shape, as the Cookbook's section 2.8 prints it; it must be in the
    structure itself).
    """

    form: str
    value: Callable[..., Any]
    label: str = "printed"


@dataclass(frozen=True)
class Entry:
    """One equation of the Cookbook, as printed, with what is needed to check it."""

    number: str
    section: str
    title: str
    printed: str
    kind: str = "checked"
    cases: tuple[Case, ...] = ()
    claims: tuple[Claim, ...] = ()
    condition: str = ""
    outside: Case | None = None
    assumption: str = ""
    corrected: Claim | None = None
    corrected_latex: str = ""
    counterexample: Case | None = None
    expected: str = "correct"
    note: str = ""
    numeric: Callable[[], Any] | None = None

    @property
    def label(self) -> str:
        return "cookbook-" + self.number.replace(" ", "-").replace(".", "-")


@dataclass
class Outcome:
    """What :func:`check` found for an entry.

    ``derivations`` holds (case, Derivation, DerivationCheck) per case; ``claims`` holds
    (case index, claim label, CheckResult) for every printed claim in every case;
    ``outside`` the same without the assumption (an ``"assumption"`` entry), ``corrected``
    for the corrected form (an ``"erratum"``), and ``counterexample`` the numbers shown.
    """

    entry: Entry
    verdict: str
    derivations: list[tuple[Case, Derivation, DerivationCheck]] = field(default_factory=list)
    claims: list[tuple[int, str, CheckResult]] = field(default_factory=list)
    outside: list[tuple[str, Any]] = field(default_factory=list)
    outside_derivation: tuple[Case, Derivation, DerivationCheck] | None = None
    corrected: list[tuple[int, CheckResult]] = field(default_factory=list)
    counterexample: dict[str, Any] | None = None


# --------------------------------------------------------------------------------------
# values and the numeric side
# --------------------------------------------------------------------------------------


def _values(case: Case) -> dict[Any, Any]:
    """Seeded values for every symbol of the case, meeting its conditions."""
    rng = np.random.default_rng(case.seed)
    expr = case.expression()
    values: dict[Any, Any] = {}
    for s in sorted(expr.atoms(sp.MatrixSymbol) | {case.wrt}, key=lambda s: s.name):
        rows, cols = int(s.rows), int(s.cols)
        kind = case.given.get(s.name, "")
        if case.integers:
            R = rng.integers(-2, 3, (rows, cols)).astype(float)
            while rows == cols and round(det(R)) == 0:  # printed numbers: invertible
                R = rng.integers(-2, 3, (rows, cols)).astype(float)
        else:
            R = rng.standard_normal((rows, cols))
        if kind == "symmetric":
            R = R + R.T if case.integers else (R + R.T) / 2
        elif kind == "spd":
            R = R @ R.T + rows * np.eye(rows)
        elif rows == cols > 1 and not case.integers and kind != "raw":
            R = R + 2.0 * np.eye(rows)  # well away from singular
        if kind == "negative det" and np.linalg.det(R) > 0:
            R[0] = -R[0]
        if s == case.wrt and case.structure is not None:
            R = Subspace.for_shape(R.shape, case.structure).project(R)
        values[s] = R
    for s in expr.free_symbols:
        if isinstance(s, sp.Symbol) and s.name in case.params:
            values[s] = np.array(float(case.params[s.name]))
    return values


def _namespace(case: Case, values: Mapping[Any, Any]) -> SimpleNamespace:
    names = {s.name: np.asarray(v, dtype=float) for s, v in values.items()}
    return SimpleNamespace(**{**dict(case.params), **names})


def _claim_result(claim: Claim, case: Case, r: Derivation, values: Mapping[Any, Any]) -> Any:
    """The check of one printed claim at the case's values (a CheckResult)."""
    v = _namespace(case, values)
    f = r.function(values)
    X = np.asarray(values[case.wrt], dtype=float)
    if claim.form == "zero":
        exact = r.note is not None and np.all(jacobian(f, X, method="complex-step") == 0)
        verdict = "correct" if exact else "wrong"
        return CheckResult(exact, 0.0 if exact else np.inf, verdict, "zero", None, "exact")
    if claim.form == "relation":
        G = jacobian(f, X, method="complex-step").reshape(X.shape)
        residual = np.asarray(claim.value(v, G))
        scale = max(float(np.max(np.abs(G))) * float(np.max(np.abs(X))), 1e-300)
        ok = bool(np.max(np.abs(residual)) <= 1e-10 * scale * X.size)
        message = "the relation holds" if ok else "the relation fails"
        return CheckResult(ok, float(np.max(np.abs(residual))) / scale, message, "relation",
                           None, "complex-step")
    if claim.form == "entries":
        return _entries_result(np.asarray(claim.value(v), dtype=float), case, f, X)
    if claim.form == "differential":
        zero = {s.name: np.zeros(np.shape(a)) for s, a in values.items() if np.ndim(a) == 2}

        def claimed(K: np.ndarray) -> Any:
            d = SimpleNamespace(**{**zero, case.wrt.name: K})
            return claim.value(v, d)

        return check_derivative(f, X, claimed)
    value = np.asarray(claim.value(v), dtype=float)
    if claim.form == "gradient":  # of a scalar, or of a 1 x 1 matrix
        value = value.reshape(np.shape(f(X)) + X.shape)
    return check_derivative(f, X, value)


def _entries_result(E: np.ndarray, case: Case, f: Callable[..., Any],
                    X: np.ndarray) -> CheckResult:
    """The check of E, claimed as the derivative by the independent entries of a structured
    X in X's layout: E must be in the structure, and its free entries (the row dF/dx) must
    match the numeric derivative along the structure.

    Examples
    --------
    >>> import numpy as np, sympy as sp
    >>> X = sp.MatrixSymbol("X", 2, 2)
    >>> case = Case(sp.log(sp.det(X)), X, structure="symmetric")
    >>> S = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> logdet = lambda V: np.log(np.linalg.det(V))
    >>> G = np.linalg.inv(S)
    >>> _entries_result(2 * G - G * np.eye(2), case, logdet, S).verdict
    'correct'
    >>> _entries_result(G, case, logdet, S).verdict  # sym G: the other derivative
    'wrong'
    """
    if case.structure is None:
        raise ValueError("a claim of form 'entries' needs a Case with a structure")
    subspace = Subspace.for_shape(X.shape, case.structure)
    if E.shape != X.shape:
        raise ValueError(f"the claim is {E.shape}, not shaped like X {X.shape}")
    if not subspace.contains(E):
        return CheckResult(False, np.inf, "wrong: the claim is not in the structure of X",
                           "entries", "outside-subspace", "none")
    row = subspace.coordinates(E)[None, :]
    return check_derivative(f, X, row, structure=case.structure)


def _check_forms(r: Derivation, values: Mapping[Any, Any]) -> DerivationCheck:
    """The forms of r the page shows (the differential, and the gradient or else the
    vec-Jacobian), each against the numeric derivative (``Derivation.check`` does all four;
    for a structured X it is used, and checks the derivative by the entries too)."""
    if r.structure is not None:
        return r.check(values)
    f = r.function(values)
    X = np.asarray(values[r.wrt], dtype=float)
    D = r.linear_map(values)
    results = {"differential": check_derivative(f, X, D)}
    if r.gradient is not None:
        G = r.gradient_value(values).reshape(D.out_shape + D.in_shape)
        results["gradient"] = check_derivative(f, X, G)
    else:
        results["vec_jacobian"] = check_derivative(f, X, D.matrix())
    return DerivationCheck(results)


def _not_real(r: Derivation, values: Mapping[Any, Any]) -> bool:
    try:
        r.function(values)
    except ValueError as exc:
        return "not real" in str(exc)
    return False


# --------------------------------------------------------------------------------------
# the verdict
# --------------------------------------------------------------------------------------


def check(e: Entry) -> Outcome:
    """Derive and check an entry, and compute its verdict.

    Every form of every derivation must pass (a failing one is a bug of derive, raised
    as ``RuntimeError``); the printed claims decide the verdict.
    """
    if e.kind not in ("checked", "numeric"):
        return Outcome(e, "not checked")
    if e.kind == "numeric":
        assert e.numeric is not None
        f, X, claimed = e.numeric()
        result = check_derivative(f, X, claimed)
        return Outcome(e, "correct" if result.ok else "wrong", claims=[(0, "printed", result)])
    out = Outcome(e, "")
    wrong = False
    for n, case in enumerate(e.cases):
        r = derive(case.expression(), case.wrt, structure=case.structure)
        values = _values(case)
        ours = _check_forms(r, values)
        if not ours:
            raise RuntimeError(f"derive's own derivation of ({e.number}) failed: {ours!r}")
        out.derivations.append((case, r, ours))
        for claim in e.claims:
            result = _claim_result(claim, case, r, values)
            out.claims.append((n, claim.label, result))
            wrong = wrong or result.verdict != "correct"
    if not wrong:
        out.verdict = "correct"
        if e.outside is not None:  # the unstated assumption: without it the claim fails
            r = derive(e.outside.expression(), e.outside.wrt)
            values = _values(e.outside)
            if _not_real(r, values):
                out.outside.append(("not real", None))
            else:
                ours = _check_forms(r, values)
                if not ours:
                    raise RuntimeError(f"derive's own derivation of ({e.number}) failed: {ours!r}")
                out.outside_derivation = (e.outside, r, ours)
                for claim in e.claims:
                    out.outside.append((claim.label, _claim_result(claim, e.outside, r, values)))
            fails = any(x == "not real" or res.verdict == "wrong" for x, res in out.outside)
            out.verdict = "assumption" if fails else "correct"
            if fails and e.counterexample is None:
                out.counterexample = _counterexample(e, e.outside, r, values)
    elif e.corrected is not None:
        for n, (case, r, _) in enumerate(out.derivations):
            out.corrected.append((n, _claim_result(e.corrected, case, r, _values(case))))
        fixed = all(res.verdict == "correct" for _, res in out.corrected)
        out.verdict = "erratum" if fixed else "wrong"
    else:
        out.verdict = "wrong"
    if e.counterexample is not None and out.verdict in ("erratum", "assumption"):
        case = e.counterexample
        r = derive(case.expression(), case.wrt)
        out.counterexample = _counterexample(e, case, r, _values(case))
    return out


def _counterexample(e: Entry, case: Case, r: Derivation, values: Mapping[Any, Any]) -> dict:
    """The numbers of a failure: the inputs, the printed value, the derivative."""
    v = _namespace(case, values)
    shown = {s.name: a for s, a in values.items() if np.ndim(a) == 2}
    if _not_real(r, values):
        F = np.linalg.det(shown[case.wrt.name]) if case.wrt.rows == case.wrt.cols else None
        return {"inputs": shown, "not real": True, "det": F}
    claim = e.claims[0]
    result = _claim_result(claim, case, r, values)
    printed = np.asarray(claim.value(v), dtype=float)
    true = r.gradient_value(values) if claim.form == "gradient" else r.matrix(values)
    return {"inputs": shown, "printed": printed, "true": true, "result": result}


def check_all(entries: Sequence[Entry] | None = None) -> dict[str, Outcome]:
    """:func:`check` for every entry (by default all of :data:`ENTRIES`), by number."""
    return {e.number: check(e) for e in (ENTRIES if entries is None else entries)}


def counts(outcomes: Mapping[str, Outcome]) -> dict[str, int]:
    """How many entries: in all, stated in sympy (derived), checked numerically, and per
    verdict."""
    values = list(outcomes.values())
    return {
        "entries": len(values),
        "stated": sum(o.entry.kind == "checked" for o in values),
        "checked": sum(o.entry.kind in ("checked", "numeric") for o in values),
        **{v: sum(o.verdict == v for o in values) for v in VERDICTS},
        "stated condition": sum(
            bool(o.entry.condition) and o.verdict == "correct" for o in values
        ),
    }


def summary(c: Mapping[str, int]) -> str:
    """The counts of :func:`counts` as a Markdown table."""
    rows = [
        ("entries (equations and unnumbered displays)", c["entries"]),
        ("stated as sympy matrix expressions and derived by `derive`", c["stated"]),
        ("checked numerically (the stated ones, and (128) through scipy)", c["checked"]),
        ("correct as printed", c["correct"]),
        ("of which under a condition the Cookbook states", c["stated condition"]),
        ("needing an assumption the Cookbook leaves unstated", c["assumption"]),
        ("errata (the printed form fails; corrected)", c["erratum"]),
        ("not checked (definitions, and what sympy does not state)", c["not checked"]),
    ]
    return "\n".join(["| | identities |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)])


def assert_section(outcomes: Mapping[str, Outcome], section: str) -> str:
    """Assert every verdict of a section: each is the one the page states, derive's forms
    pass, an erratum's printed form fails and its corrected form passes, an assumption's
    claim fails (or is not real) without it. Returns a one-line summary."""
    found: dict[str, int] = {}
    for o in outcomes.values():
        e = o.entry
        if e.section != section:
            continue
        assert o.verdict == e.expected, f"({e.number}): {o.verdict}, the page says {e.expected}"
        assert all(ours.ok for _, _, ours in o.derivations), e.number
        printed = [r.verdict for _, _, r in o.claims]
        if o.verdict == "correct":
            assert set(printed) == {"correct"}, (e.number, printed)
        elif o.verdict == "erratum":
            assert "wrong" in printed, (e.number, printed)
            assert {r.verdict for _, r in o.corrected} == {"correct"}, e.number
        elif o.verdict == "assumption":
            assert set(printed) == {"correct"}, (e.number, printed)
            assert any(x == "not real" or r.verdict == "wrong" for x, r in o.outside), e.number
        found[o.verdict] = found.get(o.verdict, 0) + 1
    parts = ", ".join(f"{found[v]} {_VERDICT_WORDS[v]}" for v in VERDICTS if v in found)
    return f"section {section}: {sum(found.values())} entries, verified: {parts}"


def entry(number: str) -> Entry:
    """The entry of an equation number (``"57"``, ``"after 32"``)."""
    for e in ENTRIES:
        if e.number == number:
            return e
    raise KeyError(f"the Cookbook's chapter 2 has no equation {number!r}")


# --------------------------------------------------------------------------------------
# the page
# --------------------------------------------------------------------------------------

_VERDICT_WORDS = {
    "correct": "correct",
    "assumption": "needs an unstated assumption",
    "erratum": "erratum",
    "not checked": "not checked",
    "wrong": "wrong (no corrected form given)",
}


def _size_words(values: Mapping[Any, Any]) -> str:
    # plain text: the page holds hundreds of formulas, and each one costs MathJax time
    parts = [
        f"{s} ({a.shape[0]} × {a.shape[1]})"
        for s, a in sorted(values.items(), key=lambda kv: str(kv[0]))
        if np.ndim(a) == 2
    ]
    return ", ".join(parts)


def _bmatrix(a: np.ndarray) -> str:
    a = np.atleast_2d(a)
    rows = [" & ".join(_number(x) for x in row) for row in a]
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"


def _number(x: float) -> str:
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.4g}"


def _forms(r: Derivation) -> str:
    X = to_latex(r.wrt)
    dF = to_latex(r.differential, {r.dX: rf"\mathrm{{d}}{X}"})
    lines = [rf"\mathrm{{d}}F &= {dF}"]
    if r.structure is not None and r.gradient is not None:
        lines += [
            rf"\nabla_S F &= {to_latex(r.gradient)} && \text{{the gradient on the {r.structure} "
            r"matrices}",
            rf"\frac{{\partial F}}{{\partial x}} &= {to_latex(r.entry_gradient)} && "
            r"\text{by the independent entries}",
        ]
    elif r.gradient is not None:
        lines.append(rf"\nabla_{{{X}}} F &= {to_latex(r.gradient)}")
    else:
        vecJ = to_latex(r.vec_jacobian)
        lines.append(
            rf"\frac{{\partial \operatorname{{vec}} F}}{{\partial \operatorname{{vec}} {X}}}"
            rf" &= {vecJ}"
        )
    return "$$\n\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}\n$$"


def render(outcome: Outcome, shown: dict[Any, str] | None = None) -> str:
    """The entry's part of the page, in MyST Markdown: anchor, heading, the formula as
    printed, the verdict with its sizes, derive's result and its steps (folded), and, for
    an erratum or a missing assumption, the corrected form and the numbers that fail.

    ``shown`` maps each (function, variable) already derived on the page to a link to its
    entry: an entry deriving the same one again refers to it instead (rendering the
    entries in order, pass the same dict to every call).

    Examples
    --------
    >>> from mdcalc import cookbook
    >>> text = cookbook.render(cookbook.check(cookbook.entry("99")))
    >>> print(text.splitlines()[0])
    (cookbook-99)=
    >>> print(text.splitlines()[1][:15])
    ### Cookbook 99
    """
    e = outcome.entry
    number = e.number if e.number[0].isdigit() else f"({e.number})"
    # the index entry is what the site's search matches "cookbook 57" with, to this spot
    index = f"```{{index}} !Cookbook {e.number}\n```"
    lines = [f"({e.label})=", f"### Cookbook {number}: {e.title}", "", index, ""]
    lines += ["Printed:", "", f"$$\n{e.printed}\n$$", ""]
    if e.kind not in ("checked", "numeric"):
        reason = REASONS[e.kind]
        link = LINKS.get(e.kind)
        lines.append(f"**Not checked**: {reason}." + (f" See {link}." if link else ""))
        if e.note:
            lines += ["", e.note]
        return "\n".join(lines) + "\n"
    verdict = f"**Verdict: {_VERDICT_WORDS[outcome.verdict]}**"
    if e.kind == "numeric":
        lines.append(f"{verdict}, checked numerically ({e.note}).")
        return "\n".join(lines) + "\n"
    sizes = "; ".join(dict.fromkeys(_size_words(_values(c)) for c, _, _ in outcome.derivations))
    stated = f" (the Cookbook states: {e.condition})" if e.condition else ""
    lines.append(f"{verdict}{stated}. Checked at {sizes}.")
    if e.note:
        lines += ["", e.note]
    if outcome.verdict == "assumption":
        lines += ["", f"The assumption: {e.assumption}."]
    if outcome.verdict == "erratum":
        lines += ["", "Corrected:", "", f"$$\n{e.corrected_latex}\n$$"]
    if outcome.counterexample is not None:
        lines += ["", _render_counterexample(outcome.counterexample, e)]
    # one derivation per function and variable (a case may differ only in its values)
    distinct: dict[Any, tuple[Case, Derivation]] = {}
    for case, r, _ in outcome.derivations:
        distinct.setdefault((r.expr, r.wrt, r.structure), (case, r))
    derivations = [(case, r, "") for case, r in distinct.values()]
    if outcome.verdict == "assumption" and outcome.outside_derivation is not None:
        case, r, _ = outcome.outside_derivation
        without = f", without the assumption ({_size_words(_values(case))})"
        derivations.append((case, r, without))
    for case, r, without in derivations:
        by = case.wrt.name if r.structure is None else f"{case.wrt.name} ({r.structure})"
        key = (r.expr, r.wrt, r.structure)
        if shown is not None and key in shown:
            there = shown[key]  # the same derivation, shown at an earlier entry
            lines += ["", f"`derive` by {by}{without}: as in {there}."]
            continue
        if shown is not None:
            shown[key] = f"{{ref}}`({e.number}) <{e.label}>`"
        lines += ["", f"`derive` by {by}{without}:", "", _forms(r), ""]
        lines += [
            f":::{{admonition}} Steps of `derive` for ({e.number}), by {by}{without}",
            ":class: dropdown",
            "",
            f"$$\n{r.steps_latex()}\n$$",
            ":::",
        ]
    return "\n".join(lines) + "\n"


def _render_counterexample(c: dict[str, Any], e: Entry) -> str:
    inputs = ", ".join(f"{name} = {_bmatrix(a)}" for name, a in sorted(c["inputs"].items()))
    if c.get("not real"):
        return (
            f"Without it: at ${inputs}$, $\\det X = {_number(c['det'])}$ and the function is "
            "not real."
        )
    what = "the gradient" if e.claims[0].form == "gradient" else "the vec-Jacobian"
    return (
        f"Counterexample: at ${inputs}$ the printed form gives "
        f"${_bmatrix(c['printed'])}$, but {what} is ${_bmatrix(c['true'])}$ "
        f"(`check_derivative`: {c['result'].verdict})."
    )


def table(outcomes: Mapping[str, Outcome]) -> str:
    """The overview: every entry with its verdict, linked to its place on the page."""
    rows = ["| equation | section | what | verdict |", "|---|---|---|---|"]
    for o in outcomes.values():
        e = o.entry
        words = _VERDICT_WORDS[o.verdict]
        if o.verdict == "not checked":
            words += f" ({e.kind})"
        elif e.condition and o.verdict == "correct":
            words += " (stated condition)"
        rows.append(f"| {{ref}}`({e.number}) <{e.label}>` | {e.section} | {e.title} | {words} |")
    return "\n".join(rows)


# --------------------------------------------------------------------------------------
# the entries
# --------------------------------------------------------------------------------------



def S(name: str, rows: int, cols: int = 1) -> Any:
    """A MatrixSymbol (a vector when cols is 1)."""
    return sp.MatrixSymbol(name, rows, cols)


def _entry_of(M: Any) -> Any:
    """M[0, 0] of a 1 x 1 matrix expression, kept whole (sympy's M[0, 0] multiplies M out
    into its entries) and printed as M."""
    return _KeptEntry(M, 0, 0)


def _adjugate(M: np.ndarray) -> np.ndarray:
    """The adjugate by cofactors (defined for singular M too)."""
    n = M.shape[0]
    C = np.empty_like(M)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(M, i, axis=0), j, axis=1)
            C[i, j] = (-1) ** (i + j) * (det(minor) if n > 1 else 1.0)
    return C.T


def _J(shape: tuple[int, int], i: int, j: int) -> np.ndarray:
    """The single-entry matrix J^{ij}."""
    out = np.zeros(shape)
    out[i, j] = 1.0
    return out


def G(value: Callable[..., Any], label: str = "printed") -> Claim:
    return Claim("gradient", value, label)


def D(value: Callable[..., Any], label: str = "printed") -> Claim:
    return Claim("differential", value, label)


def T(value: Callable[..., Any], label: str = "printed") -> Claim:
    return Claim("tensor", value, label)


def Jac(value: Callable[..., Any], label: str = "printed") -> Claim:
    return Claim("jacobian", value, label)


def _sinm_case() -> tuple[Any, np.ndarray, np.ndarray]:
    from scipy.linalg import cosm, sinm  # type: ignore[import-untyped]

    X = np.random.default_rng(128).standard_normal((3, 3))
    return (lambda V: np.trace(sinm(V))), X, cosm(X).T


def _not(number: str, section: str, title: str, kind: str, note: str = "") -> Entry:
    return Entry(number, section, title, PRINTED[number], kind=kind, expected="not checked",
                 note=note)


def _entries() -> list[Entry]:
    X23, X33, Y32, Y23 = S("X", 2, 3), S("X", 3, 3), S("Y", 3, 2), S("Y", 2, 3)
    X34, A, B, C = S("X", 3, 4), S("A", 3, 3), S("B", 3, 3), S("C", 3, 3)
    x3, a3, b3 = S("x", 3), S("a", 3), S("b", 3)
    alpha = sp.Symbol("alpha")
    n3 = 3  # the power n (or k) where the Cookbook leaves it general

    def rule(number: str, title: str, *cases: Case, claim: Claim, **kw: Any) -> Entry:
        return Entry(number, "2", title, PRINTED[number], cases=cases, claims=(claim,), **kw)

    def E(number: str, section: str, title: str, *cases: Case, claims: Sequence[Claim],
          **kw: Any) -> Entry:
        return Entry(number, section, title, PRINTED[number], cases=cases,
                     claims=tuple(claims), **kw)

    out = [
        rule("32", "an entry by an entry", Case(X23[1, 2], X23),
             claim=G(lambda v: _J((2, 3), 1, 2)),
             note="Checked for the entry $X_{12}$ (counting from 0): its gradient is the "
             "single-entry matrix $J^{12}$, the Cookbook's $\\delta_{ik}\\delta_{lj}$."),
        _not("after 32", "2", "the layout of vector derivatives", "definition",
             "The book's convention agrees: output index first ({ref}`chapter-conventions`)."),
        rule("33", "a constant", Case(S("A", 2, 3), X23), claim=Claim("zero", lambda v: 0)),
        rule("34", "a scalar multiple", Case(alpha * X23, X23, params={"alpha": 1.5}),
             claim=D(lambda v, d: v.alpha * d.X)),
        rule("35", "a sum", Case(X23 + Y23, X23), Case(X23 + Y23, Y23),
             claim=D(lambda v, d: d.X + d.Y)),
        rule("36", "a trace", Case(sp.Trace(X33), X33), claim=D(lambda v, d: tr(d.X))),
        rule("37", "a product", Case(X23 * S("Y", 3, 4), X23), Case(X23 * S("Y", 3, 4),
             S("Y", 3, 4)), claim=D(lambda v, d: d.X @ v.Y + v.X @ d.Y)),
        rule("38", "a Hadamard product", Case(sp.HadamardProduct(X23, Y23), X23),
             Case(sp.HadamardProduct(X23, Y23), Y23), claim=D(lambda v, d: d.X * v.Y + v.X * d.Y)),
        rule("39", "a Kronecker product", Case(sp.KroneckerProduct(X23, Y32), X23),
             Case(sp.KroneckerProduct(X23, Y32), Y32),
             claim=D(lambda v, d: np.kron(d.X, v.Y) + np.kron(v.X, d.Y))),
        rule("40", "an inverse", Case(X33.I, X33),
             claim=D(lambda v, d: -inv(v.X) @ d.X @ inv(v.X))),
        rule("41", "a determinant, through the adjugate", Case(sp.det(X33), X33),
             claim=D(lambda v, d: tr(_adjugate(v.X) @ d.X))),
        rule("42", "a determinant (Jacobi's formula)", Case(sp.det(X33), X33),
             claim=D(lambda v, d: det(v.X) * tr(inv(v.X) @ d.X))),
        rule("43", "a log-determinant", Case(sp.log(sp.det(X33)), X33),
             claim=D(lambda v, d: tr(inv(v.X) @ d.X)),
             outside=Case(sp.log(sp.det(X33)), X33, given={"X": "negative det"}),
             counterexample=Case(sp.log(sp.det(S("X", 2, 2))), S("X", 2, 2), seed=4,
                                 integers=True),
             assumption="$\\det X > 0$, so that $\\ln \\det X$ is real; (57) holds for "
             "either sign", expected="assumption"),
        rule("44", "a transpose", Case(X23.T, X23), claim=D(lambda v, d: d.X.T)),
        _not("45", "2", "a conjugate transpose", "complex",
             "For real $X$ it is (44)."),
        _not("46", "2.1", "a determinant by a scalar", "general",
             "With $Y = X$ it is (42), checked above."),
        E("47", "2.1", "det X against X, entry by entry", Case(sp.det(X33), X33),
          claims=[Claim("relation", lambda v, G: G @ v.X.T - det(v.X) * np.eye(3))]),
        _not("48", "2.1", "the second derivative of a determinant by a scalar", "general"),
        E("49", "2.1", "det X", Case(sp.det(X33), X33),
          claims=[G(lambda v: det(v.X) * inv(v.X).T)]),
        E("50", "2.1", "det X against X, entry by entry (again)", Case(sp.det(X33), X33),
          claims=[Claim("relation", lambda v, G: G @ v.X.T - det(v.X) * np.eye(3))],
          note="The same as (47)."),
        E("51", "2.1", "det(A X B)", Case(sp.det(A * X33 * B), X33),
          claims=[G(lambda v: det(v.A @ v.X @ v.B) * inv(v.X).T, "first form"),
                  G(lambda v: det(v.A @ v.X @ v.B) * inv(v.X.T), "second form")],
          outside=Case(sp.det(S("A", 2, 3) * X33 * S("B", 3, 2)), X33),
          counterexample=Case(sp.det(S("A", 1, 2) * S("X", 2, 2) * S("B", 2, 1)),
                              S("X", 2, 2), seed=0, integers=True),
          assumption="$A$ and $B$ square (and invertible): for $A$ $p \\times n$ and $B$ "
          "$n \\times p$ with $p < n$, $AXB$ is square but the gradient is "
          "$\\det(AXB)\\, A^\\top (AXB)^{-\\top} B^\\top$ (derive's, below)",
          expected="assumption"),
        E("52", "2.1", "det(Xᵀ A X), X square", Case(sp.det(X33.T * A * X33), X33),
          claims=[G(lambda v: 2 * det(v.X.T @ v.A @ v.X) * inv(v.X).T)],
          condition="$X$ square and invertible"),
        E("53", "2.1", "det(Xᵀ A X), A symmetric",
          Case(sp.det(S("X", 4, 2).T * S("A", 4, 4) * S("X", 4, 2)), S("X", 4, 2),
               given={"A": "symmetric"}),
          claims=[G(lambda v: 2 * det(v.X.T @ v.A @ v.X) * v.A @ v.X
                    @ inv(v.X.T @ v.A @ v.X))],
          condition="$X$ not square, $A$ symmetric"),
        E("54", "2.1", "det(Xᵀ A X), any A",
          Case(sp.det(S("X", 4, 2).T * S("A", 4, 4) * S("X", 4, 2)), S("X", 4, 2)),
          claims=[G(lambda v: det(v.X.T @ v.A @ v.X) * (
              v.A @ v.X @ inv(v.X.T @ v.A @ v.X) + v.A.T @ v.X @ inv(v.X.T @ v.A.T @ v.X)))],
          condition="$X$ not square, $A$ not symmetric"),
        E("55", "2.1", "ln det(Xᵀ X)",
          Case(sp.log(sp.det(S("X", 4, 2).T * S("X", 4, 2))), S("X", 4, 2)),
          claims=[G(lambda v: 2 * np.linalg.pinv(v.X).T)],
          note="The stray $|$ in the numerator is a misprint of typesetting; the formula "
          "holds. $X^+$ is computed by `numpy.linalg.pinv` ($X$ has full column rank)."),
        E("56", "2.1", "ln det(Xᵀ X) by the pseudo-inverse",
          Case(lambda: _by_pseudo_inverse(), S("P", 2, 4)),
          claims=[G(lambda v: -2 * (v.P.T @ inv(v.P @ v.P.T)).T)],
          note="Stated by the variable $P = X^+$ ($2 \\times 4$, full row rank), with "
          "$X = P^+ = P^\\top (P P^\\top)^{-1}$ written in sympy."),
        E("57", "2.1", "ln |det X|", Case(sp.log(sp.Abs(sp.det(X33))), X33),
          Case(sp.log(sp.Abs(sp.det(X33))), X33, given={"X": "negative det"}),
          claims=[G(lambda v: inv(v.X).T, "first form"), G(lambda v: inv(v.X.T), "second form")],
          note="Checked at $\\det X > 0$ and at $\\det X < 0$."),
        E("58", "2.1", "det(Xᵏ)", Case(sp.det(X33**n3), X33, params={"k": n3}),
          Case(sp.det(X33**-2), X33, params={"k": -2}),
          claims=[G(lambda v: v.k * det(mpow(v.X, v.k)) * inv(v.X).T)],
          note="Checked for $k = 3$ and $k = -2$."),
        _not("59", "2.2", "an inverse by a scalar", "general",
             "With $Y = X$ it is (40), checked above."),
        E("60", "2.2", "an entry of X⁻¹", Case(X33.I, X33),
          claims=[T(lambda v: -np.einsum("ki,jl->klij", inv(v.X), inv(v.X)))]),
        E("61", "2.2", "aᵀ X⁻¹ b", Case(a3.T * X33.I * b3, X33),
          claims=[G(lambda v: -inv(v.X).T @ v.a @ v.b.T @ inv(v.X).T)]),
        E("62", "2.2", "det(X⁻¹)", Case(sp.det(X33.I), X33),
          claims=[G(lambda v: -det(inv(v.X)) * inv(v.X).T)]),
        E("63", "2.2", "tr(A X⁻¹ B)",
          Case(sp.Trace(S("A", 2, 3) * X33.I * S("B", 3, 2)), X33),
          claims=[G(lambda v: -(inv(v.X) @ v.B @ v.A @ inv(v.X)).T)]),
        E("64", "2.2", "tr((X + A)⁻¹)", Case(sp.Trace((X33 + A).I), X33),
          claims=[G(lambda v: -(inv(v.X + v.A) @ inv(v.X + v.A)).T)]),
        _not("after 64", "2.2", "a function of the inverse", "general"),
        E("65", "2.3", "the sum of the eigenvalues", Case(sp.Trace(X33), X33),
          claims=[G(lambda v: np.eye(3))],
          note="Stated through $\\operatorname{tr} X$, the sum of the eigenvalues."),
        E("66", "2.3", "the product of the eigenvalues", Case(sp.det(X33), X33),
          claims=[G(lambda v: det(v.X) * inv(v.X).T)],
          note="Stated through $\\det X$, the product of the eigenvalues."),
        _not("67", "2.3", "an eigenvalue", "eigenvalues"),
        _not("68", "2.3", "an eigenvector", "eigenvalues"),
        E("69", "2.4", "xᵀ a", Case(x3.T * a3, x3), Case(a3.T * x3, x3),
          claims=[G(lambda v: v.a)]),
        E("70", "2.4", "aᵀ X b", Case(a3.T * X34 * S("b", 4), X34),
          claims=[G(lambda v: v.a @ v.b.T)]),
        E("71", "2.4", "aᵀ Xᵀ b", Case(S("a", 4).T * X34.T * b3, X34),
          claims=[G(lambda v: v.b @ v.a.T)]),
        E("72", "2.4", "aᵀ X a", Case(a3.T * X33 * a3, X33), Case(a3.T * X33.T * a3, X33),
          claims=[G(lambda v: v.a @ v.a.T)]),
        E("73", "2.4", "X by an entry", Case(X23, X23),
          claims=[T(lambda v: np.einsum("ki,lj->klij", np.eye(2), np.eye(3)))]),
        E("74", "2.4", "X A by an entry", Case(X23 * S("A", 3, 4), X23),
          claims=[T(lambda v: np.einsum("im,nj->ijmn", np.eye(2), v.A))]),
        E("75", "2.4", "Xᵀ A by an entry", Case(Y32.T * S("A", 3, 4), Y32),
          claims=[T(lambda v: np.einsum("in,mj->ijmn", np.eye(2), v.A))],
          note="Checked with the variable named $Y$ ($3 \\times 2$)."),
        E("76", "2.4", "the square of the sum of the entries",
          Case(_entry_of(sp.OneMatrix(1, 2) * X23 * sp.OneMatrix(3, 1)) ** 2, X23),
          claims=[G(lambda v: 2 * np.sum(v.X) * np.ones((2, 3)))],
          note="Stated as $(\\mathbf{1}^\\top X \\mathbf{1})^2$."),
        E("77", "2.4", "bᵀ Xᵀ X c",
          Case(b3.T * S("X", 4, 3).T * S("X", 4, 3) * S("c", 3), S("X", 4, 3)),
          claims=[G(lambda v: v.X @ (v.b @ v.c.T + v.c @ v.b.T))]),
        E("78", "2.4", "(B x + b)ᵀ C (D x + d)",
          Case((S("B", 3, 4) * S("x", 4) + b3).T * S("C", 3, 2) * (S("D", 2, 4) * S("x", 4)
               + S("d", 2)), S("x", 4)),
          claims=[G(lambda v: v.B.T @ v.C @ (v.D @ v.x + v.d)
                    + v.D.T @ v.C.T @ (v.B @ v.x + v.b))]),
        E("79", "2.4", "Xᵀ B X entry by entry", Case(Y32.T * B * Y32, Y32),
          claims=[T(lambda v: np.einsum("lj,ki->klij", np.eye(2), v.Y.T @ v.B)
                    + np.einsum("kj,il->klij", np.eye(2), v.B @ v.Y))],
          note="Checked with the variable named $Y$ ($3 \\times 2$)."),
        E("80", "2.4", "Xᵀ B X by an entry", Case(Y32.T * B * Y32, Y32),
          claims=[T(lambda v: _by_entries((3, 2), lambda Jij, Jji: v.Y.T @ v.B @ Jij
                                          + Jji @ v.B @ v.Y))],
          note="Checked with the variable named $Y$ ($3 \\times 2$)."),
        E("81", "2.4", "xᵀ B x", Case(x3.T * B * x3, x3),
          claims=[G(lambda v: (v.B + v.B.T) @ v.x)]),
        E("82", "2.4", "bᵀ Xᵀ D X c",
          Case(b3.T * S("X", 4, 3).T * S("D", 4, 4) * S("X", 4, 3) * S("c", 3), S("X", 4, 3)),
          claims=[G(lambda v: v.D.T @ v.X @ v.b @ v.c.T + v.D @ v.X @ v.c @ v.b.T)]),
        E("83", "2.4", "(X b + c)ᵀ D (X b + c)",
          Case((S("X", 4, 3) * b3 + S("c", 4)).T * S("D", 4, 4) * (S("X", 4, 3) * b3
               + S("c", 4)), S("X", 4, 3)),
          claims=[G(lambda v: (v.D + v.D.T) @ (v.X @ v.b + v.c) @ v.b.T)]),
    ]
    x4, s3, W4, A43 = S("x", 4), S("s", 3), S("W", 4, 4), S("A", 4, 3)
    r_As = x4 - A43 * s3
    sym = {"W": "symmetric"}
    out += [
        E("84", "2.4", "(x - A s)ᵀ W (x - A s) by s",
          Case(r_As.T * W4 * r_As, s3, given=sym),
          claims=[G(lambda v: -2 * v.A.T @ v.W @ (v.x - v.A @ v.s))],
          condition="$W$ symmetric"),
        E("85", "2.4", "(x - s)ᵀ W (x - s) by x",
          Case((x3 - s3).T * S("W", 3, 3) * (x3 - s3), x3, given=sym),
          claims=[G(lambda v: 2 * v.W @ (v.x - v.s))], condition="$W$ symmetric"),
        E("86", "2.4", "(x - s)ᵀ W (x - s) by s",
          Case((x3 - s3).T * S("W", 3, 3) * (x3 - s3), s3, given=sym),
          claims=[G(lambda v: -2 * v.W @ (v.x - v.s))], condition="$W$ symmetric"),
        E("87", "2.4", "(x - A s)ᵀ W (x - A s) by x",
          Case(r_As.T * W4 * r_As, x4, given=sym),
          claims=[G(lambda v: 2 * v.W @ (v.x - v.A @ v.s))], condition="$W$ symmetric"),
        E("88", "2.4", "(x - A s)ᵀ W (x - A s) by A",
          Case(r_As.T * W4 * r_As, A43, given=sym),
          claims=[G(lambda v: -2 * v.W @ (v.x - v.A @ v.s) @ v.s.T)],
          condition="$W$ symmetric"),
        _not("89", "2.4", "a complex least-mean-squares error", "complex"),
        E("90", "2.4", "Xⁿ by an entry", Case(X33**n3, X33),
          claims=[T(lambda v: sum(np.einsum("ki,jl->klij", mpow(v.X, r), mpow(v.X, 2 - r))
                                  for r in range(3)))],
          note="Checked for $n = 3$."),
        E("91", "2.4", "aᵀ Xⁿ b", Case(a3.T * X33**n3 * b3, X33),
          claims=[G(lambda v: sum(mpow(v.X, r).T @ v.a @ v.b.T @ mpow(v.X, 2 - r).T
                                  for r in range(3)))],
          note="Checked for $n = 3$."),
        E("92", "2.4", "aᵀ (Xⁿ)ᵀ Xⁿ b", Case(a3.T * (X33**n3).T * X33**n3 * b3, X33),
          claims=[G(lambda v: sum(mpow(v.X, 2 - r) @ v.a @ v.b.T @ mpow(v.X, 3).T
                                  @ mpow(v.X, r) + mpow(v.X, r).T @ mpow(v.X, 3) @ v.a
                                  @ v.b.T @ mpow(v.X, 2 - r).T for r in range(3)))],
          corrected=G(lambda v: sum(mpow(v.X, r).T @ mpow(v.X, 3) @ v.b @ v.a.T
                                    @ mpow(v.X, 2 - r).T + mpow(v.X, r).T @ mpow(v.X, 3)
                                    @ v.a @ v.b.T @ mpow(v.X, 2 - r).T for r in range(3)),
                      "corrected"),
          corrected_latex=r"\frac{\partial}{\partial \mathbf{X}}\mathbf{a}^T(\mathbf{X}^n)^T"
          r"\mathbf{X}^n\mathbf{b} = \sum_{r=0}^{n-1}\left[(\mathbf{X}^r)^T\mathbf{X}^n"
          r"\mathbf{b}\mathbf{a}^T(\mathbf{X}^{n-1-r})^T + (\mathbf{X}^r)^T\mathbf{X}^n"
          r"\mathbf{a}\mathbf{b}^T(\mathbf{X}^{n-1-r})^T\right]",
          counterexample=Case(S("a", 2).T * (S("X", 2, 2) ** 2).T * S("X", 2, 2) ** 2
                              * S("b", 2), S("X", 2, 2), seed=10, integers=True,
                              params={"n": 2}),
          note="Checked for $n = 3$. The first term of the sum is printed transposed: the "
          "print has the transpose of the term the derivative has.",
          expected="erratum"),
        _not("93", "2.4", "sᵀ A r with s and r functions of x", "general"),
    ]
    A23, B33 = S("A", 2, 3), S("B", 3, 3)
    ratio = _entry_of((A23 * x3).T * (A23 * x3)) / _entry_of((B33 * x3).T * (B33 * x3))
    ratio2 = _entry_of(x3.T * A23.T * A23 * x3) / _entry_of(x3.T * B33.T * B33 * x3)
    out += [
        E("94", "2.4", "a ratio of quadratic forms", Case(ratio, x3),
          claims=[G(lambda v: _gradient_of(ratio2, x3, v), "the second form's gradient")],
          note="The two forms are one function: derive's gradient of the second passes the "
          "check against the first."),
        E("95", "2.4", "a ratio of quadratic forms: the gradient", Case(ratio, x3),
          claims=[G(lambda v: 2 * v.A.T @ v.A @ v.x / (v.x.T @ v.B @ v.B @ v.x)
                    - 2 * (v.x.T @ v.A.T @ v.A @ v.x) * v.B.T @ v.B @ v.x
                    / (v.x.T @ v.B.T @ v.B @ v.x) ** 2)],
          corrected=G(lambda v: 2 * v.A.T @ v.A @ v.x / (v.x.T @ v.B.T @ v.B @ v.x)
                      - 2 * (v.x.T @ v.A.T @ v.A @ v.x) * v.B.T @ v.B @ v.x
                      / (v.x.T @ v.B.T @ v.B @ v.x) ** 2, "corrected"),
          corrected_latex=r"= 2\frac{\mathbf{A}^T\mathbf{A}\mathbf{x}}{\mathbf{x}^T\mathbf{B}^T"
          r"\mathbf{B}\mathbf{x}} - 2\frac{\mathbf{x}^T\mathbf{A}^T\mathbf{A}\mathbf{x}"
          r"\mathbf{B}^T\mathbf{B}\mathbf{x}}{(\mathbf{x}^T\mathbf{B}^T\mathbf{B}\mathbf{x})^2}",
          counterexample=Case(
              _entry_of((S("A", 2, 2) * S("x", 2)).T * (S("A", 2, 2) * S("x", 2)))
              / _entry_of((S("B", 2, 2) * S("x", 2)).T * (S("B", 2, 2) * S("x", 2))),
              S("x", 2), seed=7, integers=True),
          note="The first denominator is printed $\\mathbf{x}^T\\mathbf{B}\\mathbf{B}"
          "\\mathbf{x}$ for $\\mathbf{x}^T\\mathbf{B}^T\\mathbf{B}\\mathbf{x}$: the two agree "
          "for a symmetric $B$, not in general, and for a non-square $B$ the printed one is "
          "undefined.",
          expected="erratum"),
        _not("96", "2.4", "f = xᵀ A x + bᵀ x", "definition",
             "The $f$ of (97) and (98)."),
        E("97", "2.4", "the gradient of xᵀ A x + bᵀ x",
          Case(x3.T * A * x3 + b3.T * x3, x3),
          claims=[G(lambda v: (v.A + v.A.T) @ v.x + v.b)]),
        E("98", "2.4", "the Hessian of xᵀ A x + bᵀ x",
          Case(lambda: derive(x3.T * A * x3 + b3.T * x3, x3).gradient, x3),
          claims=[Jac(lambda v: v.A + v.A.T)],
          note="Checked as the derivative of derive's gradient (97)."),
        _not("opens 2.5", "2.5", "the trace of a matrix function", "matrix function",
             "(128) is checked numerically below."),
    ]
    X43, B44 = S("X", 4, 3), S("B", 4, 4)
    out += [
        E("99", "2.5", "tr X",
          Case(sp.Trace(X33), X33), claims=[G(lambda v: np.eye(3))]),
        E("100", "2.5", "tr(X A)", Case(sp.Trace(X34 * S("A", 4, 3)), X34),
          claims=[G(lambda v: v.A.T)]),
        E("101", "2.5", "tr(A X B)",
          Case(sp.Trace(S("A", 2, 3) * X34 * S("B", 4, 2)), X34),
          claims=[G(lambda v: v.A.T @ v.B.T)]),
        E("102", "2.5", "tr(A Xᵀ B)",
          Case(sp.Trace(S("A", 2, 4) * X34.T * S("B", 3, 2)), X34),
          claims=[G(lambda v: v.B @ v.A)]),
        E("103", "2.5", "tr(Xᵀ A)", Case(sp.Trace(X34.T * S("A", 3, 4)), X34),
          claims=[G(lambda v: v.A)]),
        E("104", "2.5", "tr(A Xᵀ)", Case(sp.Trace(S("A", 3, 4) * X34.T), X34),
          claims=[G(lambda v: v.A)]),
        E("105", "2.5", "tr(A ⊗ X)",
          Case(sp.Trace(sp.KroneckerProduct(S("A", 2, 2), X33)), X33),
          claims=[G(lambda v: tr(v.A) * np.eye(3))]),
        E("106", "2.5", "tr(X²)",
          Case(sp.Trace(X33**2), X33), claims=[G(lambda v: 2 * v.X.T)]),
        E("107", "2.5", "tr(X² B)", Case(sp.Trace(X33**2 * B), X33),
          claims=[G(lambda v: (v.X @ v.B + v.B @ v.X).T)]),
        E("108", "2.5", "tr(Xᵀ B X)", Case(sp.Trace(X43.T * B44 * X43), X43),
          claims=[G(lambda v: v.B @ v.X + v.B.T @ v.X)]),
        E("109", "2.5", "tr(B X Xᵀ)", Case(sp.Trace(B44 * X43 * X43.T), X43),
          claims=[G(lambda v: v.B @ v.X + v.B.T @ v.X)]),
        E("110", "2.5", "tr(X Xᵀ B)", Case(sp.Trace(X43 * X43.T * B44), X43),
          claims=[G(lambda v: v.B @ v.X + v.B.T @ v.X)]),
        E("111", "2.5", "tr(X B Xᵀ)",
          Case(sp.Trace(X34 * S("B", 4, 4) * X34.T), X34),
          claims=[G(lambda v: v.X @ v.B.T + v.X @ v.B)]),
        E("112", "2.5", "tr(B Xᵀ X)",
          Case(sp.Trace(S("B", 4, 4) * X34.T * X34), X34),
          claims=[G(lambda v: v.X @ v.B.T + v.X @ v.B)]),
        E("113", "2.5", "tr(Xᵀ X B)",
          Case(sp.Trace(X34.T * X34 * S("B", 4, 4)), X34),
          claims=[G(lambda v: v.X @ v.B.T + v.X @ v.B)]),
        E("114", "2.5", "tr(A X B X)",
          Case(sp.Trace(S("A", 4, 3) * X34 * S("B", 4, 3) * X34), X34),
          claims=[G(lambda v: v.A.T @ v.X.T @ v.B.T + v.B.T @ v.X.T @ v.A.T)]),
        E("115", "2.5", "tr(Xᵀ X) and tr(X Xᵀ)",
          Case(sp.Trace(X34.T * X34), X34),
          Case(sp.Trace(X34 * X34.T), X34), claims=[G(lambda v: 2 * v.X)]),
        E("116", "2.5", "tr(Bᵀ Xᵀ C X B)",
          Case(sp.Trace(S("B", 3, 2).T * X43.T * S("C", 4, 4) * X43 * S("B", 3, 2)), X43),
          claims=[G(lambda v: v.C.T @ v.X @ v.B @ v.B.T + v.C @ v.X @ v.B @ v.B.T)]),
        E("117", "2.5", "tr(Xᵀ B X C)",
          Case(sp.Trace(X43.T * B44 * X43 * C), X43),
          claims=[G(lambda v: v.B @ v.X @ v.C + v.B.T @ v.X @ v.C.T)]),
        E("118", "2.5", "tr(A X B Xᵀ C)",
          Case(sp.Trace(S("A", 2, 3) * X34 * S("B", 4, 4) * X34.T * S("C", 3, 2)), X34),
          claims=[G(lambda v: v.A.T @ v.C.T @ v.X @ v.B.T + v.C @ v.A @ v.X @ v.B)]),
        E("119", "2.5", "tr((A X B + C)(A X B + C)ᵀ)",
          Case(sp.Trace((S("A", 2, 3) * X34 * S("B", 4, 2) + S("C", 2, 2))
                        * (S("A", 2, 3) * X34 * S("B", 4, 2) + S("C", 2, 2)).T), X34),
          claims=[G(lambda v: 2 * v.A.T @ (v.A @ v.X @ v.B + v.C) @ v.B.T)]),
        E("120", "2.5", "tr(X ⊗ X)",
          Case(sp.Trace(sp.KroneckerProduct(X33, X33)), X33),
          Case(sp.Trace(X33) * sp.Trace(X33), X33),
          claims=[G(lambda v: 2 * tr(v.X) * np.eye(3))]),
        E("121", "2.5", "tr(Xᵏ)", Case(sp.Trace(X33**n3), X33, params={"k": n3}),
          Case(sp.Trace(X33**-2), X33, params={"k": -2}),
          claims=[G(lambda v: v.k * mpow(v.X, v.k - 1).T)],
          note="Checked for $k = 3$ and $k = -2$."),
        E("122", "2.5", "tr(A Xᵏ)", Case(sp.Trace(A * X33**n3), X33),
          claims=[G(lambda v: sum((mpow(v.X, r) @ v.A @ mpow(v.X, 2 - r)).T for r in range(3)))],
          note="Checked for $k = 3$."),
        E("123", "2.5", "tr(Bᵀ Xᵀ C X Xᵀ C X B)",
          Case(sp.Trace(S("B", 3, 2).T * X43.T * S("C", 4, 4) * X43 * X43.T * S("C", 4, 4)
                        * X43 * S("B", 3, 2)), X43),
          claims=[G(lambda v: v.C @ v.X @ v.X.T @ v.C @ v.X @ v.B @ v.B.T
                    + v.C.T @ v.X @ v.B @ v.B.T @ v.X.T @ v.C.T @ v.X
                    + v.C @ v.X @ v.B @ v.B.T @ v.X.T @ v.C @ v.X
                    + v.C.T @ v.X @ v.X.T @ v.C.T @ v.X @ v.B @ v.B.T)]),
        E("124", "2.5", "tr(A X⁻¹ B)",
          Case(sp.Trace(S("A", 2, 3) * X33.I * S("B", 3, 2)), X33),
          claims=[G(lambda v: -(inv(v.X) @ v.B @ v.A @ inv(v.X)).T, "first form"),
                  G(lambda v: -inv(v.X).T @ v.A.T @ v.B.T @ inv(v.X).T, "second form")]),
    ]
    X42, C44, B44s, A22 = S("X", 4, 2), S("C", 4, 4), S("B", 4, 4), S("A", 2, 2)
    M = X42.T * C44 * X42
    sym_bc = {"B": "symmetric", "C": "spd"}

    def m(v: Any) -> Any:
        return v.X.T @ v.C @ v.X

    out += [
        E("125", "2.5", "tr((Xᵀ C X)⁻¹ A)",
          Case(sp.Trace(M.I * A22), X42, given=sym_bc),
          claims=[G(lambda v: -(v.C @ v.X @ inv(m(v))) @ (v.A + v.A.T) @ inv(m(v)))],
          condition="$B$ and $C$ symmetric"),
        E("126", "2.5", "tr((Xᵀ C X)⁻¹ Xᵀ B X)",
          Case(sp.Trace(M.I * (X42.T * B44s * X42)), X42, given=sym_bc),
          claims=[G(lambda v: -2 * v.C @ v.X @ inv(m(v)) @ v.X.T @ v.B @ v.X @ inv(m(v))
                    + 2 * v.B @ v.X @ inv(m(v)))],
          condition="$B$ and $C$ symmetric"),
        E("127", "2.5", "tr((A + Xᵀ C X)⁻¹ Xᵀ B X)",
          Case(sp.Trace((A22 + M).I * (X42.T * B44s * X42)), X42,
               given={**sym_bc, "A": "symmetric"}),
          claims=[G(lambda v: -2 * v.C @ v.X @ inv(v.A + m(v)) @ v.X.T @ v.B @ v.X
                    @ inv(v.A + m(v)) + 2 * v.B @ v.X @ inv(v.A + m(v)))],
          condition="$B$ and $C$ symmetric",
          outside=Case(sp.Trace((A22 + M).I * (X42.T * B44s * X42)), X42, given=sym_bc),
          counterexample=Case(
              sp.Trace((A22 + S("X", 2, 2).T * S("C", 2, 2) * S("X", 2, 2)).I
                       * (S("X", 2, 2).T * S("B", 2, 2) * S("X", 2, 2))),
              S("X", 2, 2), given=sym_bc, seed=0, integers=True),
          assumption="$A$ symmetric too",
          expected="assumption"),
        Entry("128", "2.5", "tr(sin X)", PRINTED["128"],
              kind="numeric", numeric=_sinm_case,
              note="sympy has no sine of a matrix: $F(X) = \\operatorname{tr} \\sin X$ is "
              "evaluated by `scipy.linalg.sinm` and the printed gradient by "
              "`scipy.linalg.cosm`, at a $3 \\times 3$ $X$"),
    ]
    xa = x3 - a3
    norm = sp.sqrt(_entry_of(xa.T * xa))
    out += [
        E("129", "2.6", "the two-norm ‖x - a‖", Case(norm, x3),
          claims=[G(lambda v: (v.x - v.a) / np.linalg.norm(v.x - v.a))],
          note="Stated as $\\sqrt{(\\mathbf{x} - \\mathbf{a})^T(\\mathbf{x} - \\mathbf{a})}$ "
          "($\\mathbf{x} \\ne \\mathbf{a}$)."),
        E("130", "2.6", "the unit vector (x - a) / ‖x - a‖", Case(xa * norm**-1, x3),
          claims=[Jac(lambda v: np.eye(3) / np.linalg.norm(v.x - v.a)
                      - (v.x - v.a) @ (v.x - v.a).T / np.linalg.norm(v.x - v.a) ** 3)]),
        E("131", "2.6", "‖x‖² and ‖xᵀ x‖",
          Case(_entry_of(x3.T * x3), x3),
          Case(sp.Abs(_entry_of(x3.T * x3)), x3), claims=[G(lambda v: 2 * v.x)],
          note="The two-norm of the scalar $\\mathbf{x}^T\\mathbf{x}$ is its absolute value "
          "($\\mathbf{x} \\ne 0$)."),
        E("132", "2.7", "the squared Frobenius norm", Case(sp.Trace(X34 * X34.T), X34),
          claims=[G(lambda v: 2 * v.X)],
          note="For real $X$, where $X^H = X^T$."),
    ]
    out += [_not(n, "2.8", t, k) for n, t, k in (
        ("133", "a scalar function of a structured matrix", "structured"),
        ("134", "the structure matrix", "structured"),
        ("135", "the chain rule: the aim", "general"),
        ("136", "the chain rule, entry by entry", "general"),
        ("137", "the chain rule, as a trace", "general"),
        ("138", "symmetric matrices: the rule", "structured"),
    )]

    def entries(value: Callable[..., Any]) -> Claim:
        return Claim("entries", value)

    def by_entries(number: str, title: str, *cases: Case, claim: Claim, **kw: Any) -> Entry:
        return Entry(number, "2.8", title, PRINTED[number], cases=cases, claims=(claim,), **kw)

    sym_X, spd_X = {"X": "symmetric"}, {"X": "spd"}
    out += [
        by_entries("139", "tr(A X), X symmetric",
                   Case(sp.Trace(A * X33), X33, given=sym_X, structure="symmetric"),
                   claim=entries(lambda v: v.A + v.A.T - v.A * np.eye(3)),
                   condition="$X$ symmetric", note="Checked with a non-symmetric $A$."),
        by_entries("140", "det X, X symmetric",
                   Case(sp.det(X33), X33, given=spd_X, structure="symmetric"),
                   claim=entries(lambda v: det(v.X) * (2 * inv(v.X) - inv(v.X) * np.eye(3))),
                   condition="$X$ symmetric"),
        by_entries("141", "ln det X, X symmetric",
                   Case(sp.log(sp.det(X33)), X33, given=spd_X, structure="symmetric"),
                   claim=entries(lambda v: 2 * inv(v.X) - inv(v.X) * np.eye(3)),
                   condition="$X$ symmetric",
                   note="Checked at a symmetric positive definite $X$, where "
                   "$\\ln \\det X$ is real."),
        by_entries("142", "tr(A X), X diagonal",
                   Case(sp.Trace(A * X33), X33, structure="diagonal"),
                   claim=entries(lambda v: v.A * np.eye(3)),
                   condition="$X$ diagonal",
                   note="Checked with a non-symmetric $A$. On a diagonal $X$ the two "
                   "derivatives agree."),
    ]
    out += [_not(n, "2.8", t, "structured") for n, t in (
        ("143", "tr(A T), T Toeplitz"),
        ("144", "tr(A T), T symmetric Toeplitz"),
    )]
    return out


def _by_pseudo_inverse() -> Any:
    P = S("P", 2, 4)
    X = P.T * (P * P.T).I  # P^+ for a full-row-rank P: the X whose pseudo-inverse is P
    return sp.log(sp.det(X.T * X))


def _gradient_of(expr: Any, wrt: Any, v: Any) -> np.ndarray:
    values = {s: getattr(v, s.name) for s in expr.atoms(sp.MatrixSymbol)}
    return derive(expr, wrt).gradient_value(values)


def _by_entries(shape: tuple[int, int], value: Callable[..., np.ndarray]) -> np.ndarray:
    """The tensor whose [:, :, i, j] is value(J^{ij}, J^{ji}) (the Cookbook's dF/dX_ij)."""
    m, n = shape
    slices = [[value(_J(shape, i, j), _J((n, m), j, i)) for j in range(n)] for i in range(m)]
    return np.moveaxis(np.array(slices), (0, 1), (2, 3))


ENTRIES: list[Entry] = _entries()
