"""YAML properties: read strictly, run with generated households, failures shown as reproducing test cases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import conftest
import eligibility
from conftest import run_pytest
from eligibility.base.errors import PolicyError, PolicyTestFailure
from eligibility.base.source import SourceText, Span
from eligibility.cli import build
from eligibility.compile.pipeline import check_policy
from eligibility.engine.runtime import Decision
from eligibility.lang.cases import read_tests
from eligibility.lang.loader import YMap, parse_yaml
from eligibility.lang.model import Property
from eligibility.lang.reader import Reader
from eligibility.testing.cases import run_folder, run_tests
from eligibility.testing.counterexample import Failure, reproducing_case
from eligibility.testing.profiles import ENV
from eligibility.testing.properties import PropertyResult, hypothesis_settings, run_properties, run_property

CI = hypothesis_settings("ci")

#: The demo program with a second standard from 2025 (its values on a line of their own: per_capita
#: is on line 10) and its amount as a plain expression.
DEMO = conftest.DEMO.replace(
    "standard: {type: money,", "standard:\n    {type: money,").replace(
    "{2020-01-01: 1000}", "{2024-01-01: 1000, 2025-01-01: 1100}").replace("amount:\n  expr:", "amount:")

#: A household program that overlaps with demo (few assets), and a per-member one that excludes it.
AID = """\
program: aid
title: {zh: 救助, en: Aid}
jurisdiction: "000000"
sources:
  S2: {title: 救助文件, confidence: C}
rules:
  few_assets: {title: {zh: 资产少, en: Few assets}, when: household.financial_assets < 500, source: S2}
eligible: few_assets
"""
CARE = """\
program: care
title: {zh: 照料, en: Care}
jurisdiction: "000000"
each: member in household.members
sources:
  S3: {title: 照料文件, confidence: C}
parameters:
  support: {type: money, title: {zh: 照料费, en: Support}, source: S3, values: {2024-01-01: 500}}
rules:
  disabled:
    title: {zh: 残疾且不享受演示, en: Disabled and not in demo}
    each: member in household.members
    when: member.disability_grade >= 1 and not demo.eligible
    source: S3
eligible: member.disabled
amount: support
"""

TRUE = """\
properties:
  - name: more income never makes a household newly eligible
    kind: monotonic
    program: demo
    vary: assessed_monthly_income
    direction: up
    expect: {eligible: never_gains, amount: never_rises}
  - name: less income never takes demo away
    kind: monotonic
    program: demo
    vary: assessed_monthly_income
    direction: down
    expect: {eligible: never_loses, amount: never_falls}
  - {name: amount within 0 and standard x members, kind: bounds, program: demo,
     amount: {min: "0", max: "standard * count(household.members)"}}
  - {name: one of demo and care per person, kind: exclusive, programs: [demo, care]}
  - {name: member order does not matter, kind: invariant, transform: shuffle_members}
  - {name: key order does not matter, kind: invariant, transform: reorder_keys, members: [1, 3]}
  - {name: a higher disability grade never takes care away, kind: monotonic, program: care,
     vary: members.disability_grade, expect: {eligible: never_loses}}
"""

FALSE = """\
properties:
  - name: more income raises the amount
    kind: monotonic
    program: demo
    vary: assessed_monthly_income
    expect: {amount: never_falls}
  - {name: amount at most 100, kind: bounds, program: demo, amount: {max: "100"}}
  - {name: amount at least a tenth of the standard, kind: bounds, program: demo, amount: {min: "standard / 10"}}
  - {name: one of demo and aid per person, kind: exclusive, programs: [demo, aid]}
  - {name: more income never takes demo away, kind: monotonic, program: demo, vary: assessed_monthly_income,
     expect: {eligible: never_loses}}
"""


#: One true property (the first of TRUE) and one false (`amount at most 100` of FALSE).
ONE_OF_EACH = (TRUE.split("  - name: less income")[0]
               + next(line for line in FALSE.splitlines(keepends=True) if "amount at most 100" in line))


def folder(policy_dir: Callable[..., Path], properties: str, **extra: str) -> Path:
    """Write the demo, aid and care programs and a properties file."""
    return policy_dir({"demo.yaml": DEMO, "aid.yaml": AID, "care.yaml": CARE, "tests/props.yaml": properties,
                       **extra})


def results(policy_dir: Callable[..., Path], properties: str) -> dict[str, PropertyResult]:
    """Load the folder and run every property with the CI profile."""
    engine = eligibility.load(folder(policy_dir, properties))
    return {r.prop.name: r for r in run_properties(engine, profile=CI)}


def result(policy_dir: Callable[..., Path], properties: str, name: str) -> PropertyResult:
    """Load the folder and run the property of that name with the CI profile."""
    engine = eligibility.load(folder(policy_dir, properties))
    return run_property(engine, next(p for p in engine.model.properties if p.name == name), CI)


# ------------------------------------------------------------------ passing and failing


def test_true_properties_pass(policy_dir: Callable[..., Path]) -> None:
    """Properties that hold for the policy pass: one of each kind, both directions, a member field."""
    outcomes = results(policy_dir, TRUE)
    assert len(outcomes) == 7
    assert not {name: r.message for name, r in outcomes.items() if not r.passed}


@pytest.mark.parametrize("name", ["more income raises the amount", "amount at most 100",
                                  "amount at least a tenth of the standard", "one of demo and aid per person",
                                  "more income never takes demo away"])
def test_a_false_property_fails_with_a_test_case_that_reproduces_it(policy_dir: Callable[..., Path],
                                                                     name: str) -> None:
    """A false property fails; its YAML test case, pasted into a tests file, fails the same way."""
    outcome = result(policy_dir, FALSE, name)
    assert not outcome.passed
    assert outcome.counterexample is not None
    assert outcome.message.startswith("falsified (")
    assert outcome.counterexample in outcome.message
    root = folder(policy_dir, FALSE, **{"tests/repro.yaml": outcome.counterexample})
    cases = list(run_tests(eligibility.load(root)))
    assert [c.case.name for c in cases] == [f"{name} (counterexample)"]
    assert not cases[0].passed, "the pasted case passes: it does not reproduce the failure"


def test_the_counterexample_is_shrunk_and_readable(policy_dir: Callable[..., Path], golden: Any) -> None:
    """A failing property prints the smallest household found as a ready-to-paste case (golden file)."""
    outcome = result(policy_dir, FALSE, "amount at most 100")
    golden("properties/bounds-failure.txt", outcome.message)


def test_monotonic_failure_names_the_change_and_the_outcomes(policy_dir: Callable[..., Path]) -> None:
    """A monotonic failure says which field moved, from what to what, and what the program did."""
    outcome = result(policy_dir, FALSE, "more income never takes demo away")
    assert "with assessed_monthly_income raised from" in outcome.message
    assert "demo went from eligible to not eligible (the property: eligible never_loses)" in outcome.message
    assert "# the same household with assessed_monthly_income:" in outcome.message


def test_exclusive_failure_names_the_member_and_keeps_the_first_program(policy_dir: Callable[..., Path]) -> None:
    """An exclusive failure names the member eligible twice and expects only the first listed program."""
    outcome = result(policy_dir, FALSE, "one of demo and aid per person")
    assert "is eligible for demo and aid (the property: at most one of demo, aid)" in outcome.message
    assert "      aid: {eligible: false}" in outcome.message


def test_an_order_dependent_engine_fails_the_shuffle_invariant(policy_dir: Callable[..., Path],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine whose decision depends on member order fails shuffle_members; the case reproduces it."""
    engine = eligibility.load(folder(policy_dir, TRUE))
    real = engine.decide

    def first_member_decides(household: Any, on: Any, programs: Any = None, **options: Any) -> Decision:
        decision = real(household, on, programs, **options)
        if household["members"][0]["sex"] == "female":
            return decision
        demo = attrs.evolve(decision.programs["demo"], eligible=not decision.programs["demo"].eligible)
        return attrs.evolve(decision, programs={**decision.programs, "demo": demo})

    monkeypatch.setattr(engine, "decide", first_member_decides)
    prop = next(p for p in engine.model.properties if p.transform == "shuffle_members")
    result = run_property(engine, prop, CI)
    assert not result.passed
    assert "shuffle_members changed the decision: demo eligible" in result.message
    assert result.counterexample is not None
    source = SourceText("repro.yaml", result.counterexample)
    root = parse_yaml(source, [])
    assert isinstance(root, YMap)
    (case,) = read_tests(Reader(source, []), root)
    assert not eligibility.testing.cases.run_case(engine, case).passed


def test_a_household_the_policy_cannot_decide_fails_the_property(policy_dir: Callable[..., Path]) -> None:
    """An EvaluationError on a valid household fails the property, with a case left to complete."""
    broken = DEMO.replace("expr: household.assessed_monthly_income / count(household.members)",
                          "expr: household.assessed_monthly_income / "
                          "count(m for m in household.members if m.sex == \"male\")")
    root = policy_dir({"demo.yaml": broken, "tests/props.yaml": TRUE.split("  - {name: one of")[0]})
    result = next(run_properties(eligibility.load(root), profile=CI))
    assert not result.passed
    assert "the policy cannot decide demo for this household" in result.message
    assert "demo.per_capita at demo.yaml:10:3" in result.message
    assert "      demo: {}" in result.message


def test_money_parameters_without_a_value_yet_are_left_out_of_near(policy_dir: Callable[..., Path]) -> None:
    """A money parameter first valued after the decision dates does not stop households being drawn."""
    later = DEMO.replace("parameters:\n", "parameters:\n  future: {type: money, title: {zh: 未来, en: Future}, "
                                          "source: S1, values: {2030-01-01: 5}}\n")
    root = policy_dir({"demo.yaml": later, "tests/props.yaml": ONE_OF_EACH})
    first = next(run_properties(eligibility.load(root), profile=CI))
    assert first.passed, first.message


# ------------------------------------------------------------------ reading properties files


@pytest.mark.parametrize(("text", "expected"), [
    ("  - {name: a, kind: monotonc, program: demo}\n",
     ["tests/props.yaml:2:21: error[property-value]: kind must be one of monotonic, bounds, exclusive, invariant",
      "hint: did you mean 'monotonic'?"]),
    ("  - {name: a, kind: monotonic, program: demo, expect: {eligible: never_gains}}\n",
     ["tests/props.yaml:2:5: error[missing-key]: a monotonic property needs 'vary'"]),
    ("  - {name: a, kind: monotonic, program: demo, vary: x, expect: {eligible: never_gain}}\n",
     ["tests/props.yaml:2:75: error[property-value]: expect.eligible must be one of never_gains, never_loses",
      "did you mean 'never_gains'?"]),
    ("  - {name: a, kind: bounds, program: demo, amount: {max: '1'}, vary: x}\n",
     ["tests/props.yaml:2:64: error[unknown-key]: unknown key 'vary' in a bounds property"]),
    ("  - {name: a, kind: exclusive, programs: [demo]}\n",
     ["tests/props.yaml:2:42: error[property-value]: an exclusive property lists two or more programs"]),
    ("  - {name: a, kind: invariant, transform: shuffle}\n",
     ["error[property-value]: transform must be one of shuffle_members, reorder_keys",
      "did you mean 'shuffle_members'?"]),
    ("  - {name: a, kind: invariant, transform: reorder_keys, members: [3, 1]}\n",
     ["error[property-value]: members: the minimum 3 is above the maximum 1"]),
    ("  - just text\n", ["tests/props.yaml:2:5: error[expected-mapping]: a property must be a mapping"]),
    ("  - {name: a}\n", ["tests/props.yaml:2:5: error[missing-key]: a property needs 'kind'"]),
])
def test_properties_files_are_read_strictly_with_positions(policy_dir: Callable[..., Path], text: str,
                                                          expected: list[str]) -> None:
    """A mistake in a properties file is a PolicyError at file:line:col, with the source line and a hint."""
    engine = eligibility.load(folder(policy_dir, "properties:\n" + text))  # deciding never reads them
    with pytest.raises(PolicyError) as info:
        engine.model.properties  # noqa: B018 - read on first use, with the test files
    rendered = info.value.render()
    for part in expected:
        assert part in rendered


def test_a_broken_properties_file_is_reported_by_check_and_never_stops_a_decision(
        policy_dir: Callable[..., Path]) -> None:
    """`eligibility check` lists a properties file's mistakes; loading and deciding do not read the file."""
    root = folder(policy_dir, "properties:\n  - {name: a, kind: monotonc}\n")
    assert any(d.code == "property-value" and d.span is not None and d.span.path == "tests/props.yaml"
               for d in check_policy(root))
    household = {"assessed_monthly_income": "10.00", "members": [{"id": "a", "birth_date": "1980-01-01",
                                                                  "sex": "male"}]}
    assert eligibility.load(root).decide(household, "2024-06-01").programs["demo"].eligible


def test_properties_are_read_with_their_positions(policy_dir: Callable[..., Path]) -> None:
    """A properties file becomes Property models, each with its file, line and keys' positions."""
    props = eligibility.load(folder(policy_dir, TRUE)).model.properties
    first = props[0]
    assert isinstance(first, Property)
    assert (first.file, first.span.line, first.kind, first.programs) == ("tests/props.yaml", 2, "monotonic", ("demo",))
    assert first.expect == {"eligible": "never_gains", "amount": "never_rises"}
    assert first.spans["vary"].line == 5
    assert props[3].programs == ("demo", "care")
    assert props[5].members == (1, 3)


@pytest.mark.parametrize(("text", "expected"), [
    ("  - {name: a, kind: bounds, program: dem, amount: {max: '1'}}\n",
     ["tests/props.yaml:2:38: error[unknown-program]: unknown program 'dem'", "hint: did you mean 'demo'?"]),
    ("  - {name: a, kind: bounds, program: demo, amount: {max: 'standrd * 2'}}\n",
     ["tests/props.yaml:2:59: error[unknown-name]: unknown name 'standrd'", "^^^^^^^",
      "hint: did you mean 'standard'?"]),
    ("  - {name: a, kind: bounds, program: demo, amount: {max: 'standard > 2'}}\n",
     ["error[type]: amount.max must be money or a number, but is bool"]),
    ("  - {name: a, kind: bounds, program: aid, amount: {max: '2'}}\n",
     ["error[property-value]: program 'aid' has no amount"]),
    ("  - {name: a, kind: monotonic, program: demo, vary: members.sex, expect: {eligible: never_gains}}\n",
     ["tests/props.yaml:2:53: error[property-value]: 'members.sex' is enum; vary needs a money or number field"]),
    ("  - {name: a, kind: monotonic, program: demo, vary: vehicle.kind, expect: {eligible: never_gains}}\n",
     ["error[unknown-field]: 'vehicle' is not a list of the facts vocabulary", "hint: lists: members"]),
    ("  - {name: a, kind: monotonic, program: demo, vary: assessed_income, expect: {eligible: never_gains}}\n",
     ["error[unknown-field]: the facts vocabulary has no field 'assessed_income'",
      "hint: did you mean 'assessed_monthly_income'?"]),
    ("  - {name: a, kind: invariant, transform: reorder_keys, members: 0}\n",
     ["error[property-value]: members=0: the vocabulary requires at least 1 members"]),
])
def test_properties_that_cannot_run_fail_with_a_positioned_message(policy_dir: Callable[..., Path], text: str,
                                                                   expected: list[str]) -> None:
    """Unknown programs and fields and bad bounds fail the property with file:line:col, caret and hint."""
    engine = eligibility.load(folder(policy_dir, "properties:\n" + text))
    (result,) = run_properties(engine, profile=CI)
    assert not result.passed
    assert result.counterexample is None
    for part in expected:
        assert part in result.message


# ------------------------------------------------------------------ the YAML of a counterexample


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@hypothesis_settings()
@given(st.dictionaries(st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True),
                       st.one_of(TEXT, st.integers(), st.booleans(), st.none(), st.lists(
                           st.dictionaries(st.sampled_from(["id", "note", "on", "no"]), TEXT), max_size=3)),
                       max_size=5))
def test_a_counterexample_household_reads_back_unchanged(household: dict[str, Any]) -> None:
    """Any JSON-like household, odd text included, survives the YAML of a test case unchanged."""
    prop = Property("p: \"quoted\" # not a comment", "invariant", (), "props.yaml", Span("props.yaml", 1, 1, 1, 1),
                    {})
    text = reproducing_case(prop, Failure("x", dt.date(2024, 1, 1), household, {"demo[a: b]": {"eligible": False}}))
    source = SourceText("repro.yaml", text)
    diags: list[Any] = []
    root = parse_yaml(source, diags)
    assert isinstance(root, YMap), diags
    (case,) = read_tests(Reader(source, diags), root)
    assert not diags
    assert case.household == household
    assert case.name == prop.name + " (counterexample)"
    assert case.expect == {"demo[a: b]": {"eligible": False}}


# ------------------------------------------------------------------ profiles, runners, plugin, CLI


def test_profiles_are_chosen_by_name_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """ci is small and derandomized; the environment variable chooses; an unknown name is refused."""
    ci = hypothesis_settings("ci")
    assert ci.derandomize and ci.max_examples <= 20 and ci.database is None
    monkeypatch.setenv(ENV, "thorough")
    assert hypothesis_settings().max_examples == 1000
    monkeypatch.delenv(ENV)
    assert hypothesis_settings().max_examples == 50
    with pytest.raises(ValueError, match=r"unknown hypothesis profile 'fast' .*; profiles: ci, dev, thorough"):
        hypothesis_settings("fast")


def test_run_folder_reports_failing_properties(policy_dir: Callable[..., Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """run_folder() raises PolicyTestFailure listing a failing property with its counterexample."""
    monkeypatch.setenv(ENV, "ci")
    with pytest.raises(PolicyTestFailure) as info:
        run_folder(folder(policy_dir, ONE_OF_EACH))
    assert "tests/props.yaml:8: amount at most 100\nfalsified (bounds)" in str(info.value)


def test_cli_test_prints_pass_and_fail_lines_for_properties(policy_dir: Callable[..., Path]) -> None:
    """`eligibility test` prints a PASS or FAIL line a property, the counterexample, and exits 1."""
    result = CliRunner().invoke(build(), ["test", str(folder(policy_dir, ONE_OF_EACH)), "--profile", "ci"])
    assert result.exit_code == 1
    assert "PASS tests/props.yaml:2: more income never makes a household newly eligible" in result.output
    assert "FAIL tests/props.yaml:8: amount at most 100\n  falsified (bounds)" in result.output
    assert "1 passed, 1 failed" in result.output


def test_cli_test_filters_properties_by_name(policy_dir: Callable[..., Path]) -> None:
    """-k runs only the properties whose name contains the text."""
    result = CliRunner().invoke(build(), ["test", str(folder(policy_dir, TRUE)), "-k", "order", "--profile", "ci"])
    assert result.exit_code == 0
    assert "2 passed, 0 failed" in result.output


def test_pytest_plugin_collects_properties(policy_dir: Callable[..., Path], tmp_path: Path) -> None:
    """Plain pytest collects each property as an item and shows a failing one's counterexample."""
    root = folder(policy_dir, ONE_OF_EACH)
    proc = run_pytest(root, tmp_path, "-v", **{ENV: "ci"})
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "tests/props.yaml::more income never makes a household newly eligible PASSED" in out
    assert "tests/props.yaml::amount at most 100 FAILED" in out
    assert "A test case that reproduces it" in out
    assert "1 failed, 1 passed" in out
