"""Rule coverage: which rules the cases make decisive when passing and when failing, and the report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import eligibility
from conftest import DEMO
from eligibility.cli import main
from eligibility.testing.coverage import RuleCoverage, measure

PROGRAM = DEMO.replace("{2020-01-01: 1000}", "{2024-01-01: 1000}").replace(
    "confidence: C}\n", "confidence: C}\n  S2: {title: 另一文件, confidence: S}\n").replace(
    "    source: S1\neligible: low_income\n", """\
    source: S1
    article: 第二条
  few_assets:
    title: {zh: 资产不多, en: Few assets}
    when: household.financial_assets <= 5000
    source: S1
    article: 第三条
  elderly:
    title: {zh: 老年人, en: Elderly}
    each: member in household.members
    when: age(member.birth_date) >= 60
    source: S2
  unused:
    title: {zh: 未用, en: Unused}
    each: member in household.members
    when: member.disability_grade > 0
    source: S2
eligible: low_income and few_assets and any(m.elderly for m in household.members)
""")

OLD = "{id: a, birth_date: 1950-01-01, sex: male}"
YOUNG = "{id: b, birth_date: 2000-01-01, sex: female}"


def case(name: str, expect: str, income: str = "400.00", assets: str = "0.00", members: str = OLD) -> str:
    """One YAML test case."""
    return (f"  - name: {name}\n    on: 2024-09-01\n    household:\n"
            f"      assessed_monthly_income: \"{income}\"\n      financial_assets: \"{assets}\"\n"
            f"      members: [{members}]\n    expect:\n      {expect}\n")


def cover(policy_dir: Callable[..., Path], *cases: str) -> dict[str, RuleCoverage]:
    """Measure the coverage of the demo program by the given cases, by rule name."""
    root = policy_dir({"demo.yaml": PROGRAM, "tests/demo.yaml": "tests:\n" + "".join(cases)})
    return {r.name: r for r in measure(eligibility.load(root)).rules}


ELIGIBLE = case("eligible", 'demo: {eligible: true, amount: "600.00"}')
POOR_INCOME = case("income too high", "demo: false", income="1500.00")
RICH = case("assets too high", "demo: false", assets="9000.00")


def test_a_rule_pinned_both_ways_is_covered(policy_dir: Callable[..., Path]) -> None:
    """A case where the rule passes and decides, and one where it fails and decides: decisive both ways."""
    r = cover(policy_dir, ELIGIBLE, POOR_INCOME)["low_income"]
    assert (r.pass_decisive, r.fail_decisive) == (("eligible",), ("income too high",))
    assert r.both_ways and r.cases == ("eligible", "income too high")


def test_a_rule_that_only_ever_passes_is_not_covered(policy_dir: Callable[..., Path]) -> None:
    """few_assets passes in every case that needs it, so it is pass-decisive only."""
    r = cover(policy_dir, ELIGIBLE, POOR_INCOME)["few_assets"]
    assert r.pass_decisive == ("eligible",) and r.fail_decisive == ()
    assert not r.both_ways


def test_a_failure_masked_by_another_failure_is_not_decisive(policy_dir: Callable[..., Path]) -> None:
    """Income too high and assets too high: low_income fails and is needed, but flipping it changes nothing."""
    both = case("both too high", "demo: false", income="1500.00", assets="9000.00")
    r = cover(policy_dir, both)["low_income"]
    assert (r.cases, r.failed, r.fail_decisive) == (("both too high",), 1, ())


def test_an_expectation_on_the_rule_itself_pins_it(policy_dir: Callable[..., Path]) -> None:
    """The same masked case with `demo.low_income: false` expected is fail-decisive: the case checks the rule."""
    both = case("both too high", "demo.low_income: false", income="1500.00", assets="9000.00")
    assert cover(policy_dir, both)["low_income"].fail_decisive == ("both too high",)


def test_per_member_rule_is_flipped_one_member_at_a_time(policy_dir: Callable[..., Path]) -> None:
    """With a young and an old member, only the old one's `elderly` decides eligibility (pass-decisive)."""
    two = case("two members", "demo: true", members=f"{YOUNG}, {OLD}")
    young = case("young only", "demo: false", members=YOUNG)
    r = cover(policy_dir, two, young)["elderly"]
    assert r.per_record and r.label == "demo.elderly[each]"
    assert (r.pass_decisive, r.fail_decisive) == (("two members",), ("young only",))
    assert (r.passed, r.failed) == (1, 2), "counted per member: the old one passed, the young one failed twice"
    assert r.cases == ("two members", "young only")


def test_rules_no_case_needs_are_named(policy_dir: Callable[..., Path]) -> None:
    """A rule the decisions never need is listed under `no case exercises`."""
    root = policy_dir({"demo.yaml": PROGRAM, "tests/demo.yaml": "tests:\n" + ELIGIBLE + POOR_INCOME + RICH})
    report = measure(eligibility.load(root))
    assert [r.label for r in report.unexercised] == ["demo.unused[each]"]
    text = report.render()
    assert "no case exercises: demo.unused[each]" in text
    assert "rules decisive both ways: 2/4 (50.0%)" in text


def test_coverage_by_source_article(policy_dir: Callable[..., Path]) -> None:
    """Rules are grouped by the source and article they cite, with how many are decisive both ways."""
    root = policy_dir({"demo.yaml": PROGRAM, "tests/demo.yaml": "tests:\n" + ELIGIBLE + POOR_INCOME + RICH})
    sources = {(s.source, s.article): s for s in measure(eligibility.load(root)).sources}
    assert sources[("S1", "第二条")].rules == ("demo.low_income",)
    assert sources[("S1", "第二条")].both_ways == 1
    assert sources[("S2", None)].rules == ("demo.elderly[each]", "demo.unused[each]")
    assert sources[("S2", None)].both_ways == 0


def test_error_and_failing_cases_are_not_used(policy_dir: Callable[..., Path]) -> None:
    """An expect_error case decides nothing; a case failing as it stands is left out and named."""
    error = ("  - name: refused\n    on: 2024-09-01\n    household: {assessed_monthly_income: \"-1\", members: []}\n"
             "    expect_error: {kind: input}\n")
    root = policy_dir({"demo.yaml": PROGRAM, "tests/demo.yaml": "tests:\n" + ELIGIBLE + error
                       + case("wrong", "demo: false")})
    report = measure(eligibility.load(root))
    assert report.left_out == ("wrong",) and report.cases == 2
    assert all("wrong" not in r.cases and "refused" not in r.cases for r in report.rules)


def test_the_dibao_fixture(engine: eligibility.Engine) -> None:
    """Every rule of the frozen dibao policies is listed; the report is JSON-serialisable."""
    report = measure(engine)
    rules = {(p, d.name) for p, prog in engine.model.programs.items() for d in prog.definitions.values()
             if d.kind == "rule"}
    assert {(r.program, r.name) for r in report.rules} == rules
    data = report.to_json()
    assert data["total"] == len(rules) and data["decisive_both_ways"] == report.both_ways
    json.dumps(data, ensure_ascii=False)


def test_cli_coverage_table_and_fail_under(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    """`test --coverage` prints the table; `--fail-under` exits 1 when the share is below it."""
    root = policy_dir({"demo.yaml": PROGRAM, "tests/demo.yaml": "tests:\n" + ELIGIBLE + POOR_INCOME + RICH})
    assert main(["test", str(root), "-q", "--coverage"]) == 0
    out = capsys.readouterr().out
    assert "rule                pass-decisive  fail-decisive  cases" in out
    assert "demo.low_income                 1              1      3" in out
    assert main(["test", str(root), "-q", "--fail-under", "50"]) == 0
    capsys.readouterr()
    assert main(["test", str(root), "-q", "--fail-under", "75"]) == 1
    assert "rule coverage 50.0% is below --fail-under 75%" in capsys.readouterr().out


def test_cli_coverage_json(policy_dir: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    """With --format json, the case results and the coverage report are one JSON object."""
    root = policy_dir({"demo.yaml": PROGRAM, "tests/demo.yaml": "tests:\n" + ELIGIBLE + POOR_INCOME})
    assert main(["test", str(root), "--coverage", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] == 2
    rules = {r["name"]: r for r in data["coverage"]["rules"]}
    assert rules["low_income"]["decisive_both_ways"] is True
    assert rules["few_assets"]["fail_decisive"] == []
    assert data["coverage"]["unexercised"] == ["demo.unused[each]"]


@pytest.fixture(scope="module")
def bundled() -> eligibility.Engine:
    return eligibility.load()


def _where_cases(engine: eligibility.Engine) -> list[Any]:
    return [c for c in engine.model.tests if any(k.startswith("where_to_apply.") for k in c.expect)]


def test_every_where_to_apply_rule_is_measured_like_a_program_rule(bundled: eligibility.Engine) -> None:
    """Each rule of where_to_apply.yaml is in the report, pinned by the cases that expect offices, apart from
    the programs' share (which --fail-under reads)."""
    report = measure(bundled, _where_cases(bundled))
    assert bundled.model.where_rules is not None
    assert [r.name for r in report.where] == [r.name for r in bundled.model.where_rules.rules]
    assert all(r.program == "where_to_apply" and r.at.startswith("where_to_apply.yaml:") for r in report.where)
    covered = {r.name for r in report.where if r.both_ways}
    assert "temporary_residence_permit" in covered and "dibao_applicant_hukou" in covered
    assert report.percent == 100.0 * report.both_ways / len(report.rules)  # the where rules are not in it
    data = json.loads(json.dumps(report.to_json()))
    assert data["where_to_apply"]["total"] == len(report.where)
    assert data["where_to_apply"]["decisive_both_ways"] == len(covered)
    text = report.render()
    assert "where-to-apply rule" in text and "where_to_apply.temporary_residence_permit[each]" in text


def test_a_where_rule_loses_its_side_when_the_case_pinning_it_goes(bundled: eligibility.Engine) -> None:
    """Without the cases that give a residence permit, the permit rule is pinned by no case."""
    cases = _where_cases(bundled)
    kept = [c for c in cases if "residence_permits" not in c.household]
    assert len(kept) < len(cases)
    rule = {r.name: r for r in measure(bundled, kept).where}["temporary_residence_permit"]
    assert not rule.both_ways and not rule.pass_decisive
