"""Tests of mdcalc.cookbook and of the page it writes (book/11_matrix_cookbook.ipynb).

The verdicts are computed once for the module (every stated identity derived and checked);
the tests then hold them to what the page states, hold the page's cells to what
tools/cookbook_page.py writes from them, and show that the check can fail: a wrong printed
form is an erratum, and an unexplained failure is not called correct.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy as sp  # type: ignore[import-untyped]
import yaml

from mdcalc import cookbook
from mdcalc.structure import project

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "11_matrix_cookbook.ipynb"
REFERENCE = ROOT.parent.parent / "shared" / "reference" / "matrix-cookbook-derivatives.md"
UNIVERSAL = re.compile(
    r"\b(never|always|only|for every|for all|in any|as soon as|exactly|cannot)\b", re.I
)


@pytest.fixture(scope="module")
def outcomes() -> dict[str, cookbook.Outcome]:
    return cookbook.check_all()


def _tool() -> Any:
    spec = importlib.util.spec_from_file_location("cookbook_page", ROOT / "tools/cookbook_page.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_equation_of_chapter_2_is_listed_once() -> None:
    numbers = [e.number for e in cookbook.ENTRIES]
    assert len(numbers) == len(set(numbers)) == 116
    assert {n for n in numbers if n.isdigit()} == {str(k) for k in range(32, 145)}
    assert {n for n in numbers if not n.isdigit()} == {"after 32", "after 64", "opens 2.5"}
    assert len({e.label for e in cookbook.ENTRIES}) == 116
    assert {e.section for e in cookbook.ENTRIES} == set(cookbook.SECTIONS)
    assert set(cookbook.PRINTED) == set(numbers)


@pytest.mark.skipif(not REFERENCE.exists(), reason="the shared reference is not beside the repo")
def test_formulas_are_quoted_as_the_reference_transcribes_them() -> None:
    text = REFERENCE.read_text()
    for e in cookbook.ENTRIES:
        assert f"${e.printed}$" in text, e.number


@pytest.mark.parametrize("section", list(cookbook.SECTIONS))
def test_every_verdict_is_the_one_the_page_states(
    outcomes: dict[str, cookbook.Outcome], section: str
) -> None:
    summary = cookbook.assert_section(outcomes, section)
    assert summary.startswith(f"section {section}: ")


def test_counts(outcomes: dict[str, cookbook.Outcome]) -> None:
    c = cookbook.counts(outcomes)
    assert c["entries"] == 116
    assert sum(c[v] for v in cookbook.VERDICTS) == c["entries"]
    assert c["checked"] == c["stated"] + 1  # (128), through scipy's sinm and cosm
    assert c["correct"] + c["assumption"] + c["erratum"] == c["checked"]
    structured = sorted(n for n, o in outcomes.items() if any(c.structure for c in o.entry.cases))
    assert structured == ["139", "140", "141", "142"]  # section 2.8, by the free entries
    assert {outcomes[n].verdict for n in structured} == {"correct"}
    errata = sorted(n for n, o in outcomes.items() if o.verdict == "erratum")
    assumptions = sorted(n for n, o in outcomes.items() if o.verdict == "assumption")
    assert errata == ["92", "95"] and assumptions == ["127", "43", "51"]


def test_every_stated_identity_is_checked_at_non_square_sizes_where_it_allows(
    outcomes: dict[str, cookbook.Outcome],
) -> None:
    """Identities whose variable may be non-square are checked at a non-square one."""
    # each needs a square variable: a trace, determinant, inverse or power of X, a^T X a
    square_only = {
        "36", "40", "41", "42", "43", "47", "49", "50", "51", "52", "57", "58", "60", "61",
        "62", "63", "64", "65", "66", "72", "90", "91", "92", "99", "105", "106", "107",
        "120", "121", "122", "124",
        "139", "140", "141", "142",  # a structured (symmetric or diagonal) X is square
    }
    for n, o in outcomes.items():
        for case, r, _ in o.derivations:
            rows, cols = (int(d) for d in case.wrt.shape)
            if rows != cols or cols == 1:
                continue
            assert n in square_only, f"({n}) is checked only at a square {case.wrt}"


def test_errata_show_numbers_that_fail(outcomes: dict[str, cookbook.Outcome]) -> None:
    for n in ("92", "95", "51", "127"):
        c = outcomes[n].counterexample
        assert c is not None and c["result"].verdict == "wrong", n
        assert not np.allclose(c["printed"], c["true"]), n
        for value in c["inputs"].values():  # small integers, printed exactly
            assert np.array_equal(value, np.round(value)) and np.max(np.abs(value)) <= 12
    c = outcomes["43"].counterexample
    assert c is not None and c["not real"] and c["det"] < 0


def test_a_wrong_printed_form_is_an_erratum_and_never_correct() -> None:
    """Break a correct identity on purpose: (49) without its transpose."""
    e = cookbook.entry("49")
    broken = cookbook.Entry(
        e.number, e.section, e.title, e.printed, cases=e.cases,
        claims=(cookbook.G(lambda v: np.linalg.det(v.X) * np.linalg.inv(v.X)),),
    )
    assert cookbook.check(broken).verdict == "wrong"
    fixed = cookbook.Entry(
        e.number, e.section, e.title, e.printed, cases=e.cases, claims=broken.claims,
        corrected=e.claims[0], corrected_latex="", expected="erratum",
    )
    outcome = cookbook.check(fixed)
    assert outcome.verdict == "erratum"
    with pytest.raises(AssertionError, match="49"):
        cookbook.assert_section({"49": cookbook.Outcome(e, "erratum")}, "2.1")


def test_a_structured_claim_is_read_by_the_independent_entries() -> None:
    """Break (141) on purpose: sym G = X^-1 (the gradient on the symmetric matrices) in place
    of the Cookbook's 2 X^-1 - X^-1 ∘ I fails; so does (139) with A ∘ I dropped, and
    (142) on a symmetric X (the diagonal structure is what makes A ∘ I right)."""
    e = cookbook.entry("141")
    sym_g = cookbook.Claim("entries", lambda v: np.linalg.inv(v.X))
    broken = cookbook.Entry(e.number, e.section, e.title, e.printed, cases=e.cases,
                            claims=(sym_g,))
    outcome = cookbook.check(broken)
    assert outcome.verdict == "wrong"
    with pytest.raises(AssertionError, match="141"):
        cookbook.assert_section({"141": outcome}, "2.8")
    e = cookbook.entry("139")
    no_diag = cookbook.Claim("entries", lambda v: v.A + v.A.T)
    assert cookbook.check(cookbook.Entry(e.number, e.section, e.title, e.printed,
                                         cases=e.cases, claims=(no_diag,))).verdict == "wrong"
    e = cookbook.entry("142")
    (case,) = e.cases
    on_symmetric = cookbook.Case(case.expr, case.wrt, given={"X": "symmetric"},
                                 structure="symmetric")
    assert cookbook.check(cookbook.Entry(e.number, e.section, e.title, e.printed,
                                         cases=(on_symmetric,), claims=e.claims)
                          ).verdict == "wrong"


def test_structured_values_are_in_their_structure() -> None:
    for n in ("139", "140", "141", "142"):
        (case,) = cookbook.entry(n).cases
        X = cookbook._values(case)[case.wrt]
        assert case.structure is not None
        assert np.array_equal(X, project(X, case.structure)), n
    (case,) = cookbook.entry("139").cases
    A = cookbook._values(case)[sp.MatrixSymbol("A", 3, 3)]
    assert not np.allclose(A, A.T)  # the printed form is for any A: checked at one not symmetric


def test_a_stated_condition_matters_where_the_page_says_so() -> None:
    """(53) holds for symmetric A, as the Cookbook states; for another A it fails."""
    e = cookbook.entry("53")
    (case,) = e.cases
    general = cookbook.Case(case.expr, case.wrt)
    outcome = cookbook.check(cookbook.Entry(e.number, e.section, e.title, e.printed,
                                            cases=(general,), claims=e.claims))
    assert outcome.verdict == "wrong"


def test_the_page_is_what_the_tool_writes(outcomes: dict[str, cookbook.Outcome]) -> None:
    tool = _tool()
    bench = json.loads(tool.BENCH.read_text())
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    expected = tool.notebook(outcomes, bench, url)["cells"]
    committed = json.loads(PAGE.read_text())["cells"]
    assert [c["id"] for c in committed] == [c["id"] for c in expected]
    for got, want in zip(committed, expected, strict=True):
        assert got["cell_type"] == want["cell_type"], got["id"]
        assert "".join(got["source"]) == "".join(want["source"]), (
            f"cell {got['id']} differs from what tools/cookbook_page.py writes: run it again"
        )
        assert got["metadata"].get("tags") == want["metadata"].get("tags"), got["id"]


def test_every_entry_has_an_anchor_and_a_heading_search_finds() -> None:
    text = "\n".join(
        "".join(c["source"]) for c in json.loads(PAGE.read_text())["cells"]
        if c["cell_type"] == "markdown"
    )
    for e in cookbook.ENTRIES:
        number = e.number if e.number[0].isdigit() else f"({e.number})"
        heading = f"({e.label})=\n### Cookbook {number}: "
        assert text.count(heading) == 1, e.number
        row = f"| {{ref}}`({e.number}) <{e.label}>` | {e.section} |"
        assert text.count(row) == 1, e.number  # its row in the overview table


def test_the_page_makes_no_universal_claim() -> None:
    for cell in json.loads(PAGE.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            found = UNIVERSAL.findall("".join(cell["source"]))
            assert not found, (cell["id"], found)


def test_a_numeric_only_entry_fails_when_its_claim_is_wrong() -> None:
    e = cookbook.entry("128")

    def wrong() -> Any:
        f, X, claimed = e.numeric()  # type: ignore[misc]
        return f, X, claimed.T * 0 + np.eye(3)

    broken = cookbook.Entry(e.number, e.section, e.title, e.printed, kind="numeric",
                            numeric=wrong)
    assert cookbook.check(broken).verdict == "wrong"


def test_values_meet_their_conditions() -> None:
    A, X = sp.MatrixSymbol("A", 3, 3), sp.MatrixSymbol("X", 3, 3)
    case = cookbook.Case(sp.Trace(A * X), X, given={"A": "symmetric", "X": "negative det"})
    values = cookbook._values(case)
    assert np.array_equal(values[A], values[A].T)
    assert np.linalg.det(values[X]) < 0
    spd = cookbook._values(cookbook.Case(sp.Trace(A * X), X, given={"A": "spd"}))[A]
    assert np.all(np.linalg.eigvalsh(spd) > 0)
