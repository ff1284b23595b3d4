"""Checking a policy set: names, types, dependencies, dates and sources, every problem in one PolicyError."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import conftest
import eligibility
from conftest import errors, only, where
from eligibility import PolicyError

PolicyDir = Callable[..., Path]
Golden = Callable[[str, str], None]

#: A small valid program. `RULES` is replaced by extra rules; the `when:` of income_test is on line 20.
DIBAO = conftest.DIBAO.replace("rules:\n", """\
computed:
  income_per_capita:
    title: {zh: 家庭月人均收入, en: Monthly per-capita income}
    expr: household.assessed_monthly_income / count(household.members)
rules:
""").replace("when: WHEN\n", "when: income_per_capita < standard\nRULES\n")
WHEN_LINE = 20

TEKUN = """\
program: tekun
title: {zh: 特困, en: Tekun}
jurisdiction: "000000"
sources:
  S1: {title: 办法, confidence: C}
rules:
  not_on_dibao:
    title: {zh: 未享受低保, en: Not on dibao}
    source: S1
    when: not dibao.eligible
eligible: not_on_dibao
"""

HOUSEHOLD = {"assessed_monthly_income": 500,
             "members": [{"id": "a", "birth_date": "1980-01-01", "sex": "male"}]}


def with_when(when: str) -> str:
    """The program with income_test's `when:` replaced."""
    return DIBAO.replace("when: income_per_capita < standard", f"when: {when}").replace("RULES\n", "")


def with_rules(*rules: tuple[str, str]) -> str:
    """The program with extra rules (name, when) appended after income_test, each citing S1."""
    body = "".join(f"  {name}:\n    title: {{zh: 规则, en: Rule}}\n    source: S1\n    when: {when}\n"
                   for name, when in rules)
    return DIBAO.replace("RULES\n", body)


VALID = with_rules()


def load_error(policy_dir: PolicyDir, files: dict[str, str]) -> PolicyError:
    """Load a policy folder that must fail and return its PolicyError."""
    root = policy_dir(files)
    with pytest.raises(PolicyError) as info:
        eligibility.load(root)
    return info.value


def at(text: str, marker: str, line: int = WHEN_LINE) -> tuple[str, int, int]:
    """("dibao.yaml", line, col) of where `marker` starts on a line of the YAML text."""
    return "dibao.yaml", line, text.splitlines()[line - 1].index(marker) + 1


def line_of(text: str, marker: str) -> int:
    return next(i for i, s in enumerate(text.splitlines(), 1) if marker in s)


def test_the_base_program_is_valid(policy_dir: PolicyDir) -> None:
    """The program the other tests break loads, so every error below comes from the one change."""
    assert eligibility.load(policy_dir({"dibao.yaml": VALID})).programs == ("dibao",)


# --- names -------------------------------------------------------------------------------------


def test_misspelled_name_suggests_the_right_one(policy_dir: PolicyDir) -> None:
    """`income_per_captia` is an unknown name with "did you mean 'income_per_capita'?"."""
    text = with_when("income_per_captia < standard")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "unknown-name")
    assert where(d) == at(text, "income_per_captia")
    assert "income_per_captia" in d.message
    assert d.hint == "did you mean 'income_per_capita'?"


def test_misspelled_household_field_suggests_the_right_one(policy_dir: PolicyDir) -> None:
    """`household.assessed_monthly_incme` is an unknown field with a did-you-mean."""
    text = with_when("household.assessed_monthly_incme < standard")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "unknown-field")
    assert where(d) == at(text, "household.assessed_monthly_incme")
    assert d.hint == "did you mean 'assessed_monthly_income'?"


def test_misspelled_member_field_suggests_the_right_one(policy_dir: PolicyDir) -> None:
    """`m.disabilty_grade` is an unknown field of members records with a did-you-mean."""
    text = with_when("any(m.disabilty_grade > 0 for m in household.members)")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "unknown-field")
    assert where(d) == at(text, "m.disabilty_grade")
    assert "members" in d.message and "disabilty_grade" in d.message
    assert d.hint == "did you mean 'disability_grade'?"


def test_misspelled_function_suggests_the_right_one(policy_dir: PolicyDir) -> None:
    """`cont(household.members)` is an unknown function with "did you mean 'count'?"."""
    text = with_when("cont(household.members) > 0")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "unknown-function")
    assert where(d) == at(text, "cont(")
    assert d.hint == "did you mean 'count'?"


def test_function_used_as_a_value_says_to_call_it(policy_dir: PolicyDir) -> None:
    """`count > 0` is an error that says `count` is a function."""
    text = with_when("count > 0")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "not-callable")
    assert where(d) == at(text, "count")


# --- types -------------------------------------------------------------------------------------


def test_money_times_money_is_a_type_error(policy_dir: PolicyDir) -> None:
    """Money times money is an error whose hint says one side should be a number."""
    text = with_when("household.assessed_monthly_income * standard > standard")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "type")
    assert where(d) == at(text, "household.assessed_monthly_income * standard")
    assert "money and money" in d.message
    assert d.hint is not None and "number" in d.hint


def test_money_plus_number_variable_is_a_type_error(policy_dir: PolicyDir) -> None:
    """Money plus a count is an error: numbers join money only as literals."""
    text = with_when("household.assessed_monthly_income + count(household.members) > standard")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "type")
    assert where(d) == at(text, "household.assessed_monthly_income +")
    assert "money and integer" in d.message
    assert d.hint is not None and "literal" in d.hint


@pytest.mark.parametrize("when", [
    "household.assessed_monthly_income + 100 > standard",
    "household.assessed_monthly_income - 0.50 > standard",
    "100 + household.assessed_monthly_income > standard",
    "household.assessed_monthly_income > 0",
])
def test_money_with_a_number_literal_is_accepted(policy_dir: PolicyDir, when: str) -> None:
    """Money plus, minus or compared with a number literal compiles."""
    assert eligibility.load(policy_dir({"dibao.yaml": with_when(when)})).programs == ("dibao",)


def test_bool_arithmetic_is_a_type_error(policy_dir: PolicyDir) -> None:
    """Adding two conditions is an error: booleans are not numbers."""
    text = with_when("(standard > 0) + (standard > 1) > 0")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "type")
    assert where(d) == at(text, "(standard > 0) +")
    assert "bool and bool" in d.message
    assert d.hint is not None and "not numbers" in d.hint


@pytest.mark.parametrize(("when", "marker"), [
    ("count(household.members) == 'x'", "'x'"),
    ("count(household.members) < '3'", "'3'"),
])
def test_number_compared_with_a_string_is_a_type_error(policy_dir: PolicyDir, when: str, marker: str) -> None:
    """Comparing a number with a string is an error at the string."""
    text = with_when(f'"{when}"')
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "type")
    assert where(d) == at(text, marker)
    assert "integer" in d.message


def test_enum_compared_with_a_non_member_lists_the_values(policy_dir: PolicyDir) -> None:
    """`m.sex == 'unknown'` is an error whose hint lists male and female."""
    text = with_when("\"any(m.sex == 'unknown' for m in household.members)\"")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "enum-value")
    assert where(d) == at(text, "'unknown'")
    assert d.hint == "values: male, female"


def test_enum_misspelling_suggests_the_value(policy_dir: PolicyDir) -> None:
    """`m.sex == 'mal'` is an error with "did you mean 'male'?"."""
    text = with_when("\"any(m.sex == 'mal' for m in household.members)\"")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "enum-value")
    assert d.hint == "did you mean 'male'?"


def test_enum_in_tuple_checks_every_value(policy_dir: PolicyDir) -> None:
    """`m.sex in ('male', 'other')` is an error at 'other'."""
    text = with_when("\"any(m.sex in ('male', 'other') for m in household.members)\"")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "enum-value")
    assert where(d) == at(text, "'other'")


def test_rule_that_is_not_bool_is_a_type_error(policy_dir: PolicyDir) -> None:
    """A rule whose expression is money is an error saying a rule must be bool."""
    text = with_when("income_per_capita")
    err = load_error(policy_dir, {"dibao.yaml": text})
    rule_errors = [d for d in errors(err) if d.span is not None and d.span.line == WHEN_LINE]
    assert len(rule_errors) == 1, err.render()
    d = rule_errors[0]
    assert d.code == "type" and where(d) == at(text, "income_per_capita")
    assert "rule 'income_test' must be bool, but is money" in d.message


def test_rule_that_is_not_bool_is_reported_once(policy_dir: PolicyDir) -> None:
    """One rule of the wrong type gives one error, not a second one in every user of the rule."""
    err = load_error(policy_dir, {"dibao.yaml": with_when("income_per_capita")})
    assert len(errors(err)) == 1, err.render()


@pytest.mark.parametrize(("amount", "found"), [
    ("count(household.members)", "integer"),
    ("standard > 0", "bool"),
    ("income_per_capita / standard", "decimal"),
])
def test_amount_that_is_not_money_is_a_type_error(policy_dir: PolicyDir, amount: str, found: str) -> None:
    """An `amount:` that is not money is an error saying what it is."""
    text = VALID + f"amount: {amount}\n"
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "type")
    assert where(d) == at(text, amount, line_of(text, "amount:"))
    assert f"`amount` must be money, but is {found}" in d.message


# --- dependencies and other programs -----------------------------------------------------------


def computed(*defs: tuple[str, str]) -> str:
    """The program with extra computed values (name, expr)."""
    body = "".join(f"  {name}: {{title: {{zh: 值, en: Value}}, expr: {expr}}}\n" for name, expr in defs)
    return VALID.replace("rules:\n", body + "rules:\n")


@pytest.mark.parametrize(("defs", "path"), [
    ((("a", "b + 1"), ("b", "a + 1")), "a -> b -> a"),
    ((("a", "b + 1"), ("b", "c + 1"), ("c", "a + 1")), "a -> b -> c -> a"),
    ((("a", "a + 1"),), "a -> a"),
], ids=["two", "three", "self"])
def test_dependency_cycle_shows_its_path(policy_dir: PolicyDir, defs: tuple[tuple[str, str], ...],
                                         path: str) -> None:
    """A cycle among computed values is one error at its first value, showing the path."""
    text = computed(*defs)
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "cycle")
    assert where(d) == at(text, "a:", line_of(text, "  a: {"))
    assert d.message == f"dependency cycle: {path}"


def test_cross_program_reference_works(policy_dir: PolicyDir) -> None:
    """`not dibao.eligible` in tekun compiles and reads dibao's decision."""
    engine = eligibility.load(policy_dir({"dibao.yaml": VALID, "tekun.yaml": TEKUN}))
    decision = engine.decide(HOUSEHOLD, on="2024-01-01")
    assert decision.programs["dibao"].eligible is True
    assert decision.programs["tekun"].eligible is False


def test_misspelled_cross_program_name_suggests_the_right_one(policy_dir: PolicyDir) -> None:
    """`dibao.eligble` is an error naming the program, with "did you mean 'eligible'?"."""
    text = TEKUN.replace("dibao.eligible", "dibao.eligble")
    err = load_error(policy_dir, {"dibao.yaml": VALID, "tekun.yaml": text})
    d = only(err, "unknown-name")
    assert where(d) == ("tekun.yaml", 10, 15)
    assert "program 'dibao'" in d.message
    assert d.hint == "did you mean 'eligible'?"


def test_cross_program_cycle_shows_both_programs(policy_dir: PolicyDir) -> None:
    """dibao needing tekun needing dibao is one error whose path goes through tekun."""
    text = VALID.replace("eligible: income_test", "eligible: income_test and not tekun.eligible")
    err = load_error(policy_dir, {"dibao.yaml": text, "tekun.yaml": TEKUN})
    d = only(err, "cycle")
    assert "tekun.eligible" in d.message and "tekun.not_on_dibao" in d.message
    assert d.message.startswith("dependency cycle: ") and d.message.count(" -> ") == 3


# --- structure: sections, names, parameters, dates, versions, sources --------------------------


@pytest.mark.parametrize(("wrong", "right"), [("parameter", "parameters"), ("rule", "rules"),
                                              ("computd", "computed"), ("sorces", "sources")])
def test_misspelled_section_suggests_the_right_one(policy_dir: PolicyDir, wrong: str, right: str) -> None:
    """An unknown top-level key is an error at the key with a did-you-mean."""
    text = VALID + f"{wrong}: {{}}\n"
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "unknown-key")
    assert where(d) == at(text, wrong, line_of(text, f"{wrong}:"))
    assert d.hint == f"did you mean '{right}'?"


@pytest.mark.parametrize(("name", "problem"), [
    ("if", "reserved"),
    ("sum", "reserved"),
    ("print", "reserved"),
    ("count", "reserved"),
    ("household", "reserved"),
    ("_private", "lower-case ASCII"),
    ("__init__", "lower-case ASCII"),
    ("Income", "lower-case ASCII"),
    ("a" * 65, "65 characters"),
])
def test_invalid_rule_name_is_rejected_at_the_name(policy_dir: PolicyDir, name: str, problem: str) -> None:
    """Keywords, builtins, functions, underscores, capitals and 65-character names are errors at the name."""
    text = with_rules((name, "standard > 0"))
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "invalid-name")
    assert where(d) == at(text, name, line_of(text, f"  {name}:"))
    assert problem in d.message


def test_name_of_64_characters_is_accepted(policy_dir: PolicyDir) -> None:
    """A rule name of exactly 64 characters compiles."""
    assert eligibility.load(policy_dir({"dibao.yaml": with_rules(("a" * 64, "standard > 0"))}))


@pytest.mark.parametrize(("value", "code", "hint"), [
    ("abc", "expected-number", None),
    (".nan", "expected-number", "finite"),
    ("nan", "expected-number", "finite"),
    (".inf", "expected-number", "finite"),
    ("1,000", "expected-number", "thousands separators"),
    ("1000元", "expected-number", "currency"),
    ("-5", "negative-money", None),
    ("10.123", "money-precision", None),
])
def test_bad_parameter_value_is_rejected_at_the_value(policy_dir: PolicyDir, value: str, code: str,
                                                      hint: str | None) -> None:
    """Non-numeric, NaN, infinite, `1,000`, negative and over-precise money values are errors at the value."""
    text = VALID.replace("values: {2020-01-01: 1000}", f"values:\n      2020-01-01: {value}")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), code)
    assert where(d) == at(text, value, line_of(text, "2020-01-01:"))
    if hint is not None:
        assert d.hint is not None and hint in d.hint


@pytest.mark.parametrize(("old", "new", "marker"), [
    ("values: {2020-01-01: 1000}", "values: {2024-02-30: 1000}", "2024-02-30"),
    ("values: {2020-01-01: 1000}", "values: {2024-2-3: 1000}", "2024-2-3"),
    ("    when: income_per_capita < standard",
     "    effective: {from: 2024-02-30}\n    when: income_per_capita < standard", "2024-02-30"),
    ("when: income_per_capita < standard", "when: decision_date > date(2024, 2, 30)", "date(2024, 2, 30)"),
], ids=["parameter-date", "parameter-date-format", "effective", "date-literal"])
def test_invalid_date_is_rejected_at_the_date(policy_dir: PolicyDir, old: str, new: str, marker: str) -> None:
    """`2024-02-30` is an error wherever a date is written."""
    text = VALID.replace(old, new)
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "invalid-date")
    assert where(d) == at(text, marker, line_of(text, marker))


VERSIONED = VALID.replace("    when: income_per_capita < standard\n", """\
    versions:
      - effective: {until: 2024-12-31}
        when: income_per_capita < standard
      - effective: {from: 2024-12-31}
        when: income_per_capita <= standard
""")


def test_overlapping_rule_versions_are_rejected(policy_dir: PolicyDir) -> None:
    """Two versions both in force on 2024-12-31 are an error at the later one naming both dates."""
    d = only(load_error(policy_dir, {"dibao.yaml": VERSIONED}), "overlapping-versions")
    assert where(d) == at(VERSIONED, "effective: {from", line_of(VERSIONED, "from: 2024-12-31"))
    assert "2024-12-31" in d.message and "income_test" in d.message
    assert d.hint is not None and "until" in d.hint


def test_adjacent_rule_versions_are_accepted(policy_dir: PolicyDir) -> None:
    """Versions to 2024-12-31 and from 2025-01-01 compile."""
    text = VERSIONED.replace("from: 2024-12-31", "from: 2025-01-01")
    assert eligibility.load(policy_dir({"dibao.yaml": text})).programs == ("dibao",)


def test_unknown_source_id_is_an_error(policy_dir: PolicyDir) -> None:
    """A rule citing an undeclared source is an error naming the source."""
    text = VALID.replace("    source: S1\n    when: income_per_capita", "    source: S9\n    when: income_per_capita")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "unknown-source")
    assert "'S9'" in d.message and "income_test" in d.message
    assert d.span is not None and d.span.path == "dibao.yaml"


def test_unknown_source_id_is_reported_at_the_citation(policy_dir: PolicyDir) -> None:
    """The unknown-source error points at `S9`, where the mistake is."""
    text = VALID.replace("    source: S1\n    when: income_per_capita", "    source: S9\n    when: income_per_capita")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "unknown-source")
    assert where(d) == at(text, "S9", line_of(text, "source: S9"))


def test_rule_without_source_is_a_warning(policy_dir: PolicyDir) -> None:
    """A rule citing no source still compiles, with an `uncited` warning at the rule."""
    text = VALID.replace("    source: S1\n    when: income_per_capita", "    when: income_per_capita")
    engine = eligibility.load(policy_dir({"dibao.yaml": text}))
    warnings = [d for d in engine.compiled.warnings if d.code == "uncited"]
    assert len(warnings) == 1
    assert warnings[0].severity == "warning"
    assert where(warnings[0]) == at(text, "income_test", line_of(text, "  income_test:"))
    assert "cites no source" in warnings[0].message


# --- every problem in one PolicyError ----------------------------------------------------------

FIVE_MISTAKES = with_rules(
    ("typo_test", "income_per_captia < standard"),
    ("field_test", "household.assessed_monthly_incme < standard"),
    ("money_test", "household.assessed_monthly_income * standard > standard"),
    ("enum_test", "\"any(m.sex == 'mal' for m in household.members)\""),
    ("call_test", "cont(household.members) > 0"),
).replace("    source: S1\n    when: income_per_capita", "    when: income_per_capita")


def test_five_mistakes_give_five_errors(policy_dir: PolicyDir) -> None:
    """A file with five different expression mistakes gives one PolicyError with all five."""
    err = load_error(policy_dir, {"dibao.yaml": FIVE_MISTAKES})
    found = errors(err)
    assert [d.code for d in found] == ["unknown-name", "unknown-field", "type", "enum-value",
                                       "unknown-function"], err.render()
    markers = ["income_per_captia", "incme", "income * standard", "'mal'", "cont("]
    assert [d.span.line for d in found if d.span] == [line_of(FIVE_MISTAKES, m) for m in markers]
    assert err.render().endswith("5 errors found")


def test_several_mistakes_rendered(policy_dir: PolicyDir, golden: Golden) -> None:
    """The full rendered PolicyError: each problem with its excerpt, caret and hint, the warning, a count."""
    err = load_error(policy_dir, {"dibao.yaml": FIVE_MISTAKES})
    golden("diagnostics/several-mistakes.txt", err.render())


MIXED_MISTAKES = with_rules(
    ("If_test", "standard > 0"),
    ("typo_test", "income_per_captia < standard"),
    ("money_test", "household.assessed_monthly_income * standard > standard"),
).replace("values: {2020-01-01: 1000}", "values: {2020-01-01: 1000, 2024-02-30: 1100}") + "descripton: x\n"


def test_structure_and_expression_mistakes_are_reported_together(policy_dir: PolicyDir) -> None:
    """A bad name, a bad date, an unknown key and two bad expressions are five errors in one PolicyError."""
    err = load_error(policy_dir, {"dibao.yaml": MIXED_MISTAKES})
    assert sorted(d.code for d in errors(err)) == ["invalid-date", "invalid-name", "type", "unknown-key",
                                                   "unknown-name"], err.render()


# --- load raises PolicyError and nothing else --------------------------------------------------

BAD_POLICIES: list[tuple[str, dict[str, str]]] = [
    ("unknown-name", {"dibao.yaml": with_when("income_per_captia < standard")}),
    ("unknown-field", {"dibao.yaml": with_when("household.assessed_monthly_incme < standard")}),
    ("unknown-function", {"dibao.yaml": with_when("cont(household.members) > 0")}),
    ("money-times-money", {"dibao.yaml": with_when("household.assessed_monthly_income * standard > 0")}),
    ("bool-arithmetic", {"dibao.yaml": with_when("(standard > 0) + 1 > 0")}),
    ("rule-not-bool", {"dibao.yaml": with_when("income_per_capita")}),
    ("amount-not-money", {"dibao.yaml": VALID + "amount: count(household.members)\n"}),
    ("cycle", {"dibao.yaml": computed(("a", "b + 1"), ("b", "a + 1"))}),
    ("cross-program-cycle", {"dibao.yaml": VALID.replace("eligible: income_test",
                                                         "eligible: income_test and not tekun.eligible"),
                             "tekun.yaml": TEKUN}),
    ("unknown-section", {"dibao.yaml": VALID + "parameter: {}\n"}),
    ("keyword-name", {"dibao.yaml": with_rules(("if", "standard > 0"))}),
    ("nan-parameter", {"dibao.yaml": VALID.replace("{2020-01-01: 1000}", "{2020-01-01: .nan}")}),
    ("invalid-date", {"dibao.yaml": VALID.replace("{2020-01-01: 1000}", "{2024-02-30: 1000}")}),
    ("overlapping-versions", {"dibao.yaml": VERSIONED}),
    ("unknown-source", {"dibao.yaml": VALID.replace("source: S1\n    when", "source: S9\n    when")}),
    ("five-mistakes", {"dibao.yaml": FIVE_MISTAKES}),
    ("mixed-mistakes", {"dibao.yaml": MIXED_MISTAKES}),
    ("rules-is-a-list", {"dibao.yaml": VALID.replace("rules:\n  income_test:", "rules:\n  - income_test:")}),
    ("parameters-is-a-number", {"dibao.yaml": VALID.replace("parameters:\n", "parameters: 5\nx:\n")}),
    ("program-is-a-mapping", {"dibao.yaml": VALID.replace("program: dibao", "program: {a: 1}")}),
    ("no-eligible", {"dibao.yaml": VALID.replace("eligible: income_test", "")}),
    ("when-is-a-mapping", {"dibao.yaml": with_when("{a: 1}")}),
    ("when-is-empty", {"dibao.yaml": with_when("")}),
    ("versions-empty", {"dibao.yaml": VALID.replace("    when: income_per_capita < standard",
                                                    "    versions: []")}),
    ("round-to-text", {"dibao.yaml": VALID + "amount: {expr: standard, round: {to: abc}}\n"}),
    ("date-out-of-range", {"dibao.yaml": with_when("decision_date > date(99999, 1, 1)")}),
    ("date-huge-day", {"dibao.yaml": with_when("decision_date > date(2024, 1, 99999999999999999999)")}),
    ("hex-literal", {"dibao.yaml": with_when("standard > 0x10")}),
    ("generator-over-money", {"dibao.yaml": with_when("count(m for m in standard) > 0")}),
    ("bare-generator", {"dibao.yaml": with_when("(m for m in household.members)")}),
    ("attribute-of-money", {"dibao.yaml": with_when("standard.real > 0")}),
    ("self-reference", {"dibao.yaml": with_when("dibao.income_per_capita < standard")}),
    ("extends-missing", {"dibao.yaml": VALID.replace('"000000"\n', '"000000"\nextends: base.yaml\n')}),
    ("garbage", {"dibao.yaml": "program: [\n"}),
    ("no-facts", {"dibao.yaml": VALID, "facts.yaml": "program: x\n"}),
]
EXTENDS_CYCLES: list[tuple[str, dict[str, str]]] = [
    ("extends-itself", {"dibao.yaml": VALID.replace('"000000"\n', '"000000"\nextends: dibao.yaml\n')}),
    ("extends-circle", {"a.yaml": VALID.replace('"000000"\n', '"000000"\nextends: b.yaml\n'),
                        "b.yaml": VALID.replace('"000000"\n', '"000000"\nextends: a.yaml\n')}),
]
@pytest.mark.parametrize("files", [*[b[1] for b in BAD_POLICIES], *[c[1] for c in EXTENDS_CYCLES]],
                         ids=[*[b[0] for b in BAD_POLICIES], *[c[0] for c in EXTENDS_CYCLES]])
def test_load_raises_only_policy_error(policy_dir: PolicyDir, files: dict[str, str]) -> None:
    """Every bad policy makes `eligibility.load` raise a PolicyError with positions, never another exception."""
    root = policy_dir({k: v for k, v in files.items() if k != "facts.yaml"})
    if "facts.yaml" in files:
        (root / "facts.yaml").write_text(files["facts.yaml"], encoding="utf-8")
    try:
        eligibility.load(root)
    except PolicyError as e:
        assert errors(e), e.render()
        assert all(len(d.message) <= 2000 for d in e.diagnostics)
        assert "Traceback" not in e.render()
    else:
        pytest.fail("the policy loaded")
