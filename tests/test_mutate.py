"""The mutation check: which mutants exist, where they are, which cases kill them, and the report."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import eligibility
from conftest import DEMO
from eligibility.cli import main
from eligibility.lang.nodes import Compare, walk
from eligibility.testing.cases import run_case
from eligibility.testing.mutate import Mutant, apply, find_mutants, find_where_mutants, run_mutants
from eligibility.testing.variants import Variants

PROGRAM = DEMO.replace("{2020-01-01: 1000}", "{2023-01-01: 900, 2024-01-01: 1000}").replace(
    "eligible: low_income\n", """\
  few_assets:
    title: {zh: 资产不多, en: Few assets}
    when: not household.financial_assets > 5000 and count(household.members) >= 1
    source: S1
eligible: low_income and few_assets
""")


def case(name: str, income: str, expect: str, on: str = "2024-09-01", assets: str = "0.00") -> str:
    """One YAML test case for a one-person household."""
    return (f"  - name: {name}\n    on: {on}\n    household:\n"
            f"      assessed_monthly_income: \"{income}\"\n      financial_assets: \"{assets}\"\n"
            f"      members:\n        - {{id: a, birth_date: 1980-01-01, sex: male}}\n"
            f"    expect:\n      {expect}\n")


BASE = [case("well below", "400.00", 'demo: {eligible: true, amount: "600.00"}'),
        case("well above", "1500.00", "demo: false"),
        case("many assets", "400.00", "demo: false", assets="9000.00")]
BOUNDARY = case("at the standard", "1000.00", "demo: false")


def load(policy_dir: Callable[..., Path], cases: list[str], program: str = PROGRAM) -> eligibility.Engine:
    """Load the demo program with the given cases."""
    return eligibility.load(policy_dir({"demo.yaml": program, "tests/demo.yaml": "tests:\n" + "".join(cases)}))


def position(text: str, needle: str, offset: int) -> str:
    """Return demo.yaml:line:col of the character `offset` into the first `needle`."""
    i = PROGRAM.index(needle) + offset
    line = PROGRAM.count("\n", 0, i) + 1
    return f"demo.yaml:{line}:{i - PROGRAM.rfind(chr(10), 0, i)}"


def by(mutants: list[Mutant], kind: str, original: str) -> list[Mutant]:
    """The mutants of one kind and original text."""
    return [m for m in mutants if m.kind == kind and m.original == original]


def test_untested_boundary_survives_with_its_position(policy_dir: Callable[..., Path]) -> None:
    """With no case at income = standard, `<` -> `<=` survives and is reported at the `<` with a hint."""
    report = run_mutants(load(policy_dir, BASE))
    survivors = [r for r in report.results if r.status == "survived"]
    op = next(r for r in survivors if r.mutant.kind == "operator" and r.mutant.original == "<")
    assert str(op.mutant.at) == position(PROGRAM, "per_capita < standard", len("per_capita "))
    assert (op.mutant.mutated, op.mutant.context, op.mutant.label) == ("<=", "per_capita < standard",
                                                                       "demo.low_income")
    assert op.hint is not None and "per_capita exactly equal to standard" in op.hint
    assert "closest: case 'well above' with per_capita − standard = 500.00" in op.hint
    text = report.render()
    assert f"{op.mutant.at}: demo.low_income: `<` -> `<=` in `per_capita < standard`" in text


def test_adding_the_boundary_case_kills_it(policy_dir: Callable[..., Path]) -> None:
    """A case at income = standard, expecting not eligible, kills the `<` -> `<=` mutant."""
    report = run_mutants(load(policy_dir, [*BASE, BOUNDARY]))
    op = next(r for r in report.results if r.mutant.kind == "operator" and r.mutant.original == "<")
    assert (op.status, op.killed_by) == ("killed", "at the standard")


def test_every_kind_of_mutant_is_found(policy_dir: Callable[..., Path]) -> None:
    """Operators, literals next to money (±0.01), counts (±1), each parameter value, and/or and not are mutated."""
    mutants = find_mutants(load(policy_dir, BASE))
    assert sorted(m.mutated for m in by(mutants, "operator", ">")) == [">="]
    assert sorted(m.mutated for m in by(mutants, "literal", "5000")) == ["4999.99", "5000.01"]
    assert sorted(m.mutated for m in by(mutants, "literal", "1")) == ["0", "2"]
    assert sorted((m.context, m.mutated) for m in by(mutants, "parameter", "1000")) == [
        ("standard from 2024-01-01", "1000.01"), ("standard from 2024-01-01", "999.99")]
    assert len(by(mutants, "parameter", "900")) == 2
    connectives = [m for m in mutants if m.kind == "connective"]
    assert sorted((m.name, m.original, m.mutated) for m in connectives) == [
        ("eligible", "and", "or"), ("few_assets", "and", "or")]
    negation = next(m for m in mutants if m.kind == "negation")
    assert (negation.original, negation.mutated) == ("not household.financial_assets > 5000",
                                                     "household.financial_assets > 5000")
    assert str(connectives[0].at) in (position(PROGRAM, "and few_assets", 0),
                                      position(PROGRAM, "and count(", 0))


def test_a_mutant_engine_decides_like_the_edited_policy(policy_dir: Callable[..., Path]) -> None:
    """Applying `<` -> `<=` gives the decisions of a policy written with `<=` (and leaves the original alone)."""
    engine = load(policy_dir, BASE)
    mutant = by(find_mutants(engine), "operator", "<")[0]
    mutated = apply(Variants(engine), mutant)
    household = {"assessed_monthly_income": "1000.00", "financial_assets": "0",
                 "members": [{"id": "a", "birth_date": "1980-01-01", "sex": "male"}]}
    assert mutated.decide(household, "2024-09-01").programs["demo"].eligible is True
    assert engine.decide(household, "2024-09-01").programs["demo"].eligible is False
    ops = [n.ops for cd in engine.compiled.checked.defs.values() for t in cd.trees if t for n in walk(t)
           if isinstance(n, Compare)]
    assert ["<"] in ops and ["<="] not in ops, "the checked model the engine shares is not changed"


def test_each_connective_of_a_chain_is_swapped_alone(policy_dir: Callable[..., Path]) -> None:
    """In `a and b and c` each `and` becomes `or` on its own, deciding as the text with that one word changed."""
    chain = "eligible: low_income and few_assets and count(household.members) < 3\n"
    program = PROGRAM.replace("eligible: low_income and few_assets\n", chain)
    engine = load(policy_dir, BASE, program)
    mutants = [m for m in find_mutants(engine) if m.kind == "connective" and m.name == "eligible"]
    assert [str(m.at) for m in mutants] == [f"demo.yaml:{program.count(chr(10), 0, program.index(chain)) + 1}:{c}"
                                           for c in (22, 37)]
    variants = Variants(engine)
    households = [{"assessed_monthly_income": income, "financial_assets": assets,
                   "members": [{"id": f"m{i}", "birth_date": "1980-01-01", "sex": "male"} for i in range(n)]}
                  for income in ("400.00", "9000.00") for assets in ("0", "9000") for n in (1, 4)]
    texts = ["low_income or few_assets and count(household.members) < 3",
             "low_income and few_assets or count(household.members) < 3"]
    for mutant, text in zip(mutants, texts, strict=True):
        edited = eligibility.load(policy_dir({"demo.yaml": program.replace(chain, f"eligible: {text}\n")}))
        mutated = apply(variants, mutant)
        for h in households:
            assert (mutated.decide(h, "2024-09-01").programs["demo"].eligible
                    is edited.decide(h, "2024-09-01").programs["demo"].eligible), (text, h)


def test_parameter_mutant_is_killed_only_by_a_case_in_its_period(policy_dir: Callable[..., Path]) -> None:
    """A change to the 2023 value of the standard is seen only by a case dated in 2023."""
    cases = [*BASE, BOUNDARY]
    report = run_mutants(load(policy_dir, cases))
    old = [r for r in report.results if r.mutant.kind == "parameter" and r.mutant.original == "900"]
    assert {r.status for r in old} == {"unreached"}
    assert old[0].hint == "no case is dated while standard = 900 (from 2023-01-01)"
    dated = [*cases, case("2023 boundary", "900.00", "demo: false", on="2023-06-01"),
             case("2023 just below", "899.99", 'demo: {eligible: true, amount: "0.01"}', on="2023-06-01")]
    report = run_mutants(load(policy_dir, dated))
    old = [r for r in report.results if r.mutant.kind == "parameter" and r.mutant.original == "900"]
    assert {r.status for r in old} == {"killed"}
    assert {r.killed_by for r in old} <= {"2023 boundary", "2023 just below"}


def test_a_version_no_case_reaches_is_unreached(policy_dir: Callable[..., Path]) -> None:
    """A rule version in force only after every case's date is reported as not reached, with its period."""
    program = PROGRAM.replace("    when: per_capita < standard\n", "    versions:\n"
                              "      - {effective: {until: 2025-12-31}, when: per_capita < standard}\n"
                              "      - {effective: {from: 2026-01-01}, when: per_capita <= standard}\n")
    report = run_mutants(load(policy_dir, [*BASE, BOUNDARY], program))
    late = next(r for r in report.results if r.mutant.original == "<=" and r.mutant.name == "low_income")
    assert late.status == "unreached"
    assert late.hint == ("no case evaluates demo.low_income on a date from 2026-01-01 to no end; "
                         "add one whose outcome depends on it")


def test_literal_hint_names_the_boundary_value(policy_dir: Callable[..., Path]) -> None:
    """A surviving literal mutant says which value of the other side no case tries."""
    report = run_mutants(load(policy_dir, BASE))
    up = next(r for r in report.results if r.mutant.kind == "literal" and r.mutant.mutated == "5000.01")
    assert up.status == "survived"
    assert up.hint is not None and "no case has household.financial_assets = 5000.01" in up.hint


def test_failing_cases_are_left_out(policy_dir: Callable[..., Path]) -> None:
    """A case that fails on the unchanged policy kills nothing and is named in the report."""
    report = run_mutants(load(policy_dir, [*BASE, case("wrong on purpose", "400.00", "demo: false")]))
    assert report.left_out == ("wrong on purpose",)
    assert all(r.killed_by != "wrong on purpose" for r in report.results)
    assert "left out (they fail on the unchanged policies): wrong on purpose" in report.render()


def test_report_counts_and_json(policy_dir: Callable[..., Path]) -> None:
    """The JSON report counts mutants by status and lists each survivor with position, texts and hint."""
    calls: list[tuple[int, int, int]] = []
    report = run_mutants(load(policy_dir, BASE), progress=lambda *a: calls.append(a))
    data = report.to_json()
    assert data["mutants"] == len(report.results) == len(calls) == calls[-1][1]
    assert data["killed"] + data["survived"] + data["unreached"] == data["mutants"]
    assert data["score"] == round(100 * data["killed"] / data["mutants"], 1)
    survivor = data["survivors"][0]
    assert set(survivor) >= {"at", "kind", "program", "name", "original", "mutated", "context", "hint", "status"}
    json.dumps(data, ensure_ascii=False)


def test_the_dibao_fixture_is_checked_quickly(engine: eligibility.Engine) -> None:
    """The frozen dibao policies: every mutant gets a status, within a time budget fit for CI."""
    start = dt.datetime.now()
    report = run_mutants(engine)
    assert report.results and {r.status for r in report.results} <= {"killed", "survived", "unreached"}
    assert dt.datetime.now() - start < dt.timedelta(seconds=120)


def test_cli_mutate_lists_survivors_and_reports_progress(policy_dir: Callable[..., Path],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """`eligibility test --mutate` prints the survivors on stdout and its progress on stderr."""
    root = policy_dir({"demo.yaml": PROGRAM, "tests/demo.yaml": "tests:\n" + "".join(BASE)})
    code = main(["test", str(root), "-q", "--mutate"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "surviving mutants:" in out and "`<` -> `<=` in `per_capita < standard`" in out
    assert "mutants: " in err and "killed" in err


def test_cli_mutate_json(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    """With --format json the mutation report is one JSON object next to the case results."""
    root = policy_dir({"demo.yaml": PROGRAM, "tests/demo.yaml": "tests:\n" + "".join([*BASE, BOUNDARY])})
    code = main(["test", str(root), "--mutate", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["passed"] == 4 and data["failed"] == []
    assert data["mutation"]["mutants"] > 0
    assert Decimal(str(data["mutation"]["score"])) > 0


@pytest.fixture(scope="module")
def bundled() -> eligibility.Engine:
    return eligibility.load()


def _where_cases(engine: eligibility.Engine) -> list[Any]:
    return [c for c in engine.model.tests if any(k.startswith("where_to_apply.") for k in c.expect)]


def test_where_to_apply_rules_are_mutated_and_noticed_by_the_cases_expecting_offices(
        bundled: eligibility.Engine) -> None:
    """Each mutant of where_to_apply.yaml is in the report; a kill names a case expecting offices, and the
    rules compiled again unchanged pass every such case (a kill is the mutant's doing)."""
    from eligibility.testing.variants import where_engine, where_rules, where_with_trees

    cases = _where_cases(bundled)
    where = where_rules(bundled)
    assert where is not None
    key = next(k for k in where.checked.defs if k[0] == "where_to_apply")
    with where_engine(bundled, where_with_trees(where, key, list(where.checked.defs[key].trees))) as same:
        assert all(run_case(same, c, quick=True).passed for c in cases)
    mutants = find_where_mutants(bundled)
    assert mutants and all(m.program == "where_to_apply" and m.at.path.endswith("where_to_apply.yaml")
                           for m in mutants)
    report = run_mutants(bundled, cases)
    results = [r for r in report.results if r.mutant.program == "where_to_apply"]
    assert [r.mutant for r in results] == mutants
    names = {c.name for c in cases}
    assert all(r.killed_by in names for r in results if r.status == "killed")
    permit = [r for r in results if r.mutant.name == "temporary_residence_permit" and r.mutant.kind == "operator"]
    assert permit and all(r.status == "killed" for r in permit)
    without = [c for c in cases if "residence_permits" not in c.household]
    weaker = run_mutants(bundled, without)
    again = {(r.mutant.name, r.mutant.kind): r for r in weaker.results if r.mutant.program == "where_to_apply"}
    assert again[("temporary_residence_permit", "operator")].status == "survived"
    assert "where_to_apply.temporary_residence_permit" in weaker.render()
