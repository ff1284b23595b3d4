"""Why not, and what would change it: the smallest single change that makes each failed rule pass."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import eligibility
from eligibility.cli import build
from eligibility.engine.whynot import why_not
from eligibility.explain.text import render

ROOT = Path(__file__).parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "dibao"
FAMILY = json.loads((ROOT / "examples" / "huadu-family.json").read_text(encoding="utf-8"))
ON = "2024-09-01"
PolicyDir = Callable[..., Path]


def family(income: str = "2400.00", car: bool = False) -> dict[str, Any]:
    """The README family (three people, one fuel motorcycle), with another income and perhaps a car."""
    h = copy.deepcopy(FAMILY)
    h["assessed_monthly_income"] = income
    if car:
        h["vehicles"].append({"kind": "car", "sole_livelihood": False})
    return h


def rule(result: dict[str, Any], name: str, program: str = "dibao") -> dict[str, Any]:
    return next(r for r in result["programs"][program]["failed"] if r["rule"] == name)


def standard_of(trace: dict[str, Any]) -> Decimal:
    step = next(s for s in trace["programs"]["dibao"]["steps"] if s["name"] == "income_test")
    return Decimal(next(i["value"] for i in step["inputs"] if i.get("name") == "standard"))


# ------------------------------------------------------------------ the frozen dibao policies


def test_income_too_high_gives_the_boundary_one_fen_below_the_standard_times_members(
        engine: eligibility.Engine) -> None:
    """4200.00 for three people is 118.00 a person above 1282: at most 3 x 1282 - 0.01 = 3845.99, alone enough."""
    decision = engine.decide(family("4200.00"), on=ON)
    trace = decision.to_json()
    step = next(s for s in trace["programs"]["dibao"]["steps"] if s["name"] == "income_test")
    assert step["comparisons"][0]["pairs"][0]["difference"] == "118.00"
    result = decision.why_not()
    entry = rule(result, "income_test")
    assert [r["rule"] for r in result["programs"]["dibao"]["failed"]] == ["income_test"]
    (change,) = entry["changes"]
    boundary = standard_of(trace) * len(FAMILY["members"]) - Decimal("0.01")
    assert change == {
        "path": "household.assessed_monthly_income",
        "title": change["title"], "from": "4200.00", "from_label": None, "to": str(boundary), "to_label": None,
        "kind": "at_most", "relative": "0.0843", "rule_passes": True, "program_eligible_alone": True,
        "near_miss": False}
    assert change["to"] == "3845.99"
    # The boundary is exact: one fen more and the household is refused.
    assert engine.decide(family("3845.99"), on=ON).programs["dibao"].eligible is True
    assert engine.decide(family("3846.00"), on=ON).programs["dibao"].eligible is False
    assert result["complete"] is True and result["programs"]["dibao"]["near_miss"] is False


def test_a_car_is_removed_or_its_kind_changed(engine: eligibility.Engine) -> None:
    """Income 2400.00 and a car: without vehicles[1] (or with an exempt kind) the household is eligible."""
    result = engine.decide(family("2400.00", car=True), on=ON).why_not()
    entry = rule(result, "vehicle_test")
    removal = entry["changes"][0]
    assert removal["path"] == "household.vehicles[1]" and removal["kind"] == "remove"
    assert removal["from"] == {"kind": "car", "sole_livelihood": False}
    assert removal["from_label"] == {"zh": "小型汽车", "en": "car"}
    assert removal["to"] is None and removal["program_eligible_alone"] is True and removal["near_miss"] is True
    kinds = [(c["path"], c["to"]) for c in entry["changes"][1:]]
    assert kinds == [("household.vehicles[1].kind", "disabled_scooter"), ("household.vehicles[1].kind",
                                                                          "fuel_motorcycle"),
                     ("household.vehicles[1].kind", "e_bike")]
    assert not any(c["path"].startswith("household.vehicles[0]") for c in entry["changes"])  # the motorcycle is fine
    without = family("2400.00")
    assert engine.decide(without, on=ON).programs["dibao"].eligible is True
    assert result["programs"]["dibao"]["near_miss"] is True


def test_two_failing_rules_are_both_reported_and_neither_change_alone_is_enough(engine: eligibility.Engine) -> None:
    """Income 4200.00 and a car: each rule has its change, and neither alone makes the household eligible."""
    result = engine.decide(family("4200.00", car=True), on=ON).why_not()
    dibao = result["programs"]["dibao"]
    assert [r["rule"] for r in dibao["failed"]] == ["income_test", "vehicle_test"]
    assert [r["needed"] for r in dibao["failed"]] == [True, False]
    assert rule(result, "income_test")["changes"][0]["to"] == "3845.99"
    assert rule(result, "vehicle_test")["changes"][0]["path"] == "household.vehicles[1]"
    changes = [c for r in dibao["failed"] for c in r["changes"]]
    assert changes and all(c["rule_passes"] and not c["program_eligible_alone"] for c in changes)
    assert dibao["near_miss"] is False


def test_near_miss_is_a_small_change_that_alone_is_enough(engine: eligibility.Engine) -> None:
    """3900.00 is 54.01 (1.38%) above the boundary: a near miss at 5%, not at 1%."""
    decision = engine.decide(family("3900.00"), on=ON)
    result = decision.why_not()
    change = rule(result, "income_test")["changes"][0]
    assert (change["to"], change["relative"], change["near_miss"]) == ("3845.99", "0.0138", True)
    assert result["programs"]["dibao"]["near_miss"] is True
    strict = decision.why_not(near_miss=Decimal("0.01"))
    assert strict["near_miss"] == "0.01"
    assert strict["programs"]["dibao"]["near_miss"] is False
    assert rule(strict, "income_test")["changes"][0]["near_miss"] is False


def test_a_flip_that_alone_is_enough_is_a_near_miss(engine: eligibility.Engine) -> None:
    """Nobody holds Guangdong hukou: flipping any one member's hukou alone makes the household eligible."""
    h = family("2400.00")
    for m in h["members"]:
        m["guangdong_hukou"] = False
    result = engine.decide(h, on=ON).why_not()
    entry = rule(result, "hukou_test")
    assert [(c["path"], c["from"], c["to"], c["kind"]) for c in entry["changes"]] == [
        (f"household.members[{i}].guangdong_hukou", False, True, "set") for i in range(3)]
    assert all(c["program_eligible_alone"] and c["near_miss"] for c in entry["changes"])
    assert result["programs"]["dibao"]["near_miss"] is True


def test_passed_rules_report_their_margins(engine: eligibility.Engine) -> None:
    """Every passed rule of the eligibility test gives the distance of its comparisons to the threshold."""
    result = engine.decide(family("2400.00"), on=ON).why_not()
    dibao = result["programs"]["dibao"]
    assert dibao["eligible"] is True and dibao["failed"] == [] and dibao["near_miss"] is False
    margins = {r["rule"]: r["margins"] for r in dibao["passed"]}
    assert margins["income_test"] == [{"expression": "income_per_capita < standard", "item": None, "op": "<",
                                       "left": "800.00", "right": "1282.00", "difference": "-482.00"}]
    assert margins["financial_asset_test"][0]["difference"] == "-26768.00"
    assert "hukou_test" not in margins  # no number compared
    refused = engine.decide(family("4200.00", car=True), on=ON).why_not()
    assert [r["rule"] for r in refused["programs"]["dibao"]["passed"]] == [
        "financial_asset_test", "housing_test", "business_test"]


def test_the_analysis_is_deterministic_and_does_not_change_the_decision(engine: eligibility.Engine) -> None:
    """Same household, same bytes, traced or not; the decision's own trace is unchanged by asking."""
    h = family("4200.00", car=True)
    decision = engine.decide(h, on=ON)
    before = json.dumps(decision.to_json(), sort_keys=True)
    first = json.dumps(decision.why_not(), sort_keys=True)
    assert json.dumps(decision.why_not(), sort_keys=True) == first
    assert json.dumps(engine.decide(h, on=ON, trace=False).why_not(), sort_keys=True) == first
    assert json.dumps(engine.decide(copy.deepcopy(h), on=ON).why_not(), sort_keys=True) == first
    assert json.dumps(decision.to_json(), sort_keys=True) == before


def test_to_json_has_the_section_only_when_asked(engine: eligibility.Engine) -> None:
    """`to_json()` is unchanged; `to_json(why_not=True)` adds the `why_not` key and nothing else."""
    decision = engine.decide(family("4200.00", car=True), on=ON)
    plain = decision.to_json()
    full = decision.to_json(why_not=True)
    assert "why_not" not in plain
    assert {k: v for k, v in full.items() if k != "why_not"} == plain
    assert full["why_not"] == decision.why_not()
    json.dumps(full, ensure_ascii=False)  # JSON types only


def test_the_schema_validates_the_trace_with_and_without_the_section(engine: eligibility.Engine) -> None:
    """docs/reference/trace.schema.json accepts both, and rejects a change of an unknown kind."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "docs" / "reference" / "trace.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    for h in (family("4200.00", car=True), family("3900.00"), family("2400.00")):
        decision = engine.decide(h, on=ON)
        for asked in (False, True):
            assert list(validator.iter_errors(decision.to_json(why_not=asked))) == []
    bad = engine.decide(family("3900.00"), on=ON).to_json(why_not=True)
    bad["why_not"]["programs"]["dibao"]["failed"][0]["changes"][0]["kind"] = "at_about"
    assert list(validator.iter_errors(bad))


# ------------------------------------------------------------------ explanations


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("name", "income", "car"), [("failing-family", "4200.00", True),
                                                     ("near-miss", "3900.00", False)])
def test_explanation_with_why_not_matches_golden(engine: eligibility.Engine, golden: Callable[[str, str], None],
                                                 name: str, income: str, car: bool, lang: str) -> None:
    """The explanation with `why_not=True` is exactly its golden file."""
    text = engine.decide(family(income, car), on=ON).explain(lang=lang, why_not=True)
    golden(f"whynot/{name}.{lang}.txt", text)


def test_explanation_says_what_would_change_each_failed_rule(engine: eligibility.Engine) -> None:
    """Under the failed rule, in both languages: the boundary, the current value, and whether it alone is enough."""
    decision = engine.decide(family("4200.00"), on=ON)
    en = decision.explain(lang="en", why_not=True)
    assert ("What would change it: Assessed monthly household income (household total, after the GD assessment) "
            "[household.assessed_monthly_income] at most 3,845.99 (now 4,200.00; alone it would make the household "
            "eligible)") in en
    zh = decision.explain(lang="zh", why_not=True)
    assert ("如何可以改变：综合评估后家庭月收入（家庭合计） [household.assessed_monthly_income] 不超过 3,845.99"
            "（现为 4,200.00；仅此一项即可使家庭符合条件）") in zh
    assert "What would change it" not in decision.explain(lang="en")  # only when asked
    both = engine.decide(family("4200.00", car=True), on=ON).explain(lang="en", why_not=True)
    assert "without household.vehicles[1] (car; the rule would pass, but other rules still fail)" in both
    assert "Near misses" not in both


def test_near_misses_come_first_in_text_markdown_and_html(engine: eligibility.Engine) -> None:
    """A near miss is flagged at the top of the explanation, whatever the format."""
    decision = engine.decide(family("3900.00"), on=ON)
    text = decision.explain(lang="en", why_not=True)
    assert text.startswith("Near misses (one change alone would make it eligible)\n  Minimum subsistence allowance")
    assert "at most 3,845.99 (now 3,900.00)" in text.splitlines()[1]
    zh = decision.explain(lang="zh", why_not=True)
    assert zh.startswith("接近符合条件（单独一项改变即可符合条件）\n")
    md = decision.explain(lang="en", fmt="markdown", why_not=True)
    assert md.startswith("**Near misses (one change alone would make it eligible)**\n\n- Minimum subsistence")
    html = decision.explain(lang="en", fmt="html", why_not=True)
    assert '<div class="warn"><strong>Near misses' in html
    assert '<p class="why">What would change it: Assessed monthly household income' in html
    # A stored trace renders the same way: the explanation reads the JSON only.
    assert render(json.loads(json.dumps(decision.to_json(why_not=True))), lang="en") == text


def test_cli_explain_and_decide_take_why_not(tmp_path: Path) -> None:
    """`eligibility explain --why-not` prints the suggestions; `decide --why-not` adds the JSON section."""
    household = tmp_path / "h.json"
    household.write_text(json.dumps(family("3900.00")), encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(build(), ["explain", str(household), "--on", ON, "--lang", "en", "--why-not",
                                  "--policies", str(FIXTURE)], catch_exceptions=False)
    assert res.exit_code == 0
    assert res.stdout.startswith("Near misses")
    assert "What would change it: Assessed monthly household income" in res.stdout
    res = runner.invoke(build(), ["decide", str(household), "--on", ON, "--why-not", "--policies", str(FIXTURE)],
                        catch_exceptions=False)
    assert res.exit_code == 0
    assert json.loads(res.stdout)["why_not"]["programs"]["dibao"]["near_miss"] is True
    plain = runner.invoke(build(), ["decide", str(household), "--on", ON, "--policies", str(FIXTURE)])
    assert "why_not" not in json.loads(plain.stdout)


# ------------------------------------------------------------------ small policies


SMALL = """\
program: small
title: {zh: 小项目, en: Small program}
jurisdiction: "000000"
sources:
  S1: {title: 演示文件, confidence: C}
parameters:
  limit: {type: money, title: {zh: 上限, en: Limit}, source: S1, values: {2020-01-01: 1000}}
rules:
  savings_test:
    title: {zh: 有储蓄, en: Has savings}
    when: household.financial_assets >= 500
    source: S1
  grade_test:
    title: {zh: 有残疾, en: A disabled member}
    when: any(m.disability_grade >= 3 for m in household.members)
    source: S1
  ratio_test:
    title: {zh: 比例, en: Ratio}
    when: household.assessed_monthly_income / household.financial_assets < 2
    source: S1
eligible: savings_test and grade_test and ratio_test
"""

PEOPLE = {"assessed_monthly_income": "100.00", "financial_assets": "100.00",
          "members": [{"id": "a", "birth_date": "1950-01-01", "sex": "female", "disability_grade": 1},
                      {"id": "b", "birth_date": "1990-01-01", "sex": "male"}]}


def test_numbers_at_least_integers_by_one_and_errors_are_not_passes(policy_dir: PolicyDir) -> None:
    """Money and integers upwards; a change that makes a rule fail to evaluate (division by 0) never passes."""
    engine = eligibility.load(policy_dir({"small.yaml": SMALL}))
    decision = engine.decide(PEOPLE, on=ON)
    result = decision.why_not()
    small = result["programs"]["small"]
    assert [r["rule"] for r in small["failed"]] == ["savings_test", "grade_test"]
    savings = rule(result, "savings_test", "small")["changes"]
    assert [(c["path"], c["kind"], c["from"], c["to"]) for c in savings] == [
        ("household.financial_assets", "at_least", "100.00", "500.00")]
    grades = rule(result, "grade_test", "small")["changes"]
    assert [(c["path"], c["kind"], c["from"], c["to"]) for c in grades] == [
        ("household.members[0].disability_grade", "at_least", 1, 3),
        ("household.members[1].disability_grade", "at_least", 0, 3)]
    assert not any(c["program_eligible_alone"] for c in savings + grades)
    assert result["complete"] is True
    # ratio_test passes; with assets 0 it would divide by zero: the search treats that as not passing.
    low = dict(PEOPLE, financial_assets="40.00", assessed_monthly_income="100.00")
    ratio = rule(engine.decide(low, on=ON).why_not(), "ratio_test", "small")["changes"]
    assert [(c["path"], c["kind"], c["to"]) for c in ratio] == [
        ("household.assessed_monthly_income", "at_most", "79.99"),
        ("household.financial_assets", "at_least", "50.01")]


def test_the_eligibility_test_itself_is_analysed_when_no_rule_explains_it(policy_dir: PolicyDir) -> None:
    """`eligible:` comparing facts directly: the output is the target, named `eligible`."""
    text = SMALL.split("rules:")[0] + "eligible: household.assessed_monthly_income < limit\n"
    engine = eligibility.load(policy_dir({"small.yaml": text}))
    result = engine.decide(dict(PEOPLE, assessed_monthly_income="1000.00"), on=ON).why_not()
    (entry,) = result["programs"]["small"]["failed"]
    assert entry["rule"] == "eligible"
    assert [(c["to"], c["program_eligible_alone"], c["near_miss"]) for c in entry["changes"]] == [
        ("999.99", True, True)]


def test_per_person_programs_are_analysed_per_member(policy_dir: PolicyDir) -> None:
    """A program decided per member: each member not eligible gets the change that would make them eligible."""
    text = """\
        program: care
        title: {zh: 护理, en: Care}
        jurisdiction: "000000"
        each: member in household.members
        sources:
          S1: {title: 演示文件, confidence: C}
        rules:
          graded:
            title: {zh: 残疾等级, en: Grade}
            each: member in household.members
            when: member.disability_grade >= 2
            source: S1
        eligible: member.graded
        """
    engine = eligibility.load(policy_dir({"care.yaml": text}))
    people = copy.deepcopy(PEOPLE)
    people["members"][1]["disability_grade"] = 3
    result = engine.decide(people, on=ON).why_not()
    care = result["programs"]["care"]
    assert care["eligible"] is True and care["failed"] == [] and care["near_miss"] is False
    (member,) = care["members"]
    assert (member["index"], member["id"], member["item"]) == (0, "a", "members[0] (a)")
    (entry,) = member["failed"]
    assert [(c["path"], c["kind"], c["to"], c["program_eligible_alone"]) for c in entry["changes"]] == [
        ("household.members[0].disability_grade", "at_least", 2, True)]
    assert member["near_miss"] is False  # 1 -> 2 is +100%
    text_en = engine.decide(people, on=ON).explain(lang="en", why_not=True)
    assert ("What would change it (members[0] (a)): Disability grade [household.members[0].disability_grade] "
            "at least 2 (now 1; alone it would make this member eligible)") in text_en


def test_budget_is_bounded_and_arguments_are_checked(policy_dir: PolicyDir, engine: eligibility.Engine) -> None:
    """Past the budget the rules say complete: false; bad arguments raise InputError, never a raw error."""
    small = eligibility.load(policy_dir({"small.yaml": SMALL}))
    decision = small.decide(PEOPLE, on=ON)
    cut = eligibility.engine.whynot.why_not(decision, max_probes=3)
    assert cut["complete"] is False and cut["probes"] == 3
    assert [r["complete"] for r in cut["programs"]["small"]["failed"]] == [False, False]
    per_fact = why_not(decision, max_probes_per_fact=4)
    assert rule(per_fact, "savings_test", "small")["complete"] is False
    assert rule(per_fact, "savings_test", "small")["changes"][0]["to"] != "500.00"  # passes, not the smallest
    refused = engine.decide(family("4200.00"), on=ON)
    for kwargs in ({"near_miss": 2}, {"near_miss": "much"}, {"max_probes": -1}):
        with pytest.raises(eligibility.InputError):
            why_not(refused, **kwargs)
    with pytest.raises(eligibility.InputError, match="'tekun' was not decided"):
        refused.why_not(["tekun"])
    assert list(refused.why_not("dibao")["programs"]) == ["dibao"]


def test_a_program_that_could_not_be_decided_is_reported_not_analysed(engine: eligibility.Engine) -> None:
    """On a date with no standard the program has an error; the analysis says so and goes on."""
    result = engine.decide(family("4200.00"), on="2018-12-31").why_not()
    dibao = result["programs"]["dibao"]
    assert dibao["eligible"] is None and "no value on 2018-12-31" in dibao["error"]
    assert dibao["failed"] == [] and dibao["near_miss"] is False


def test_an_undetermined_program_says_what_is_missing_not_what_to_change() -> None:
    """Income unknown: dibao's why-not names the income it waits on and the rule waiting; nothing is probed."""
    bundled = eligibility.load()
    h = family()
    h["assessed_monthly_income"] = {"unknown": True}
    decision = bundled.decide(h, on=ON, programs=["dibao"])
    result = decision.why_not()
    dibao = result["programs"]["dibao"]
    assert dibao["eligible"] is None and dibao["failed"] == [] and result["probes"] == 0
    assert [m["path"] for m in dibao["missing"]] == list(decision.programs["dibao"].unknown)
    assert dibao["missing"][0] == {"path": "assessed_monthly_income", "label": {
        "zh": "综合评估后家庭月收入（家庭合计）",
        "en": "Assessed monthly household income (household total, after the GD assessment)"}}
    assert "income_test" in [w["rule"] for w in dibao["waiting"]]
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "docs" / "reference" / "trace.schema.json").read_text(encoding="utf-8"))
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(decision.to_json(why_not=True))) == []


def test_an_undetermined_member_says_what_is_missing(policy_dir: PolicyDir) -> None:
    """A per-person program: the member whose grade is unknown lists it, and nothing is searched for it."""
    engine = eligibility.load(policy_dir({"demo.yaml": PER_PERSON_UNKNOWN}))
    h = {"assessed_monthly_income": "800.00",
         "members": [{"id": "a", "birth_date": "1980-01-01", "sex": "female", "disability_grade": {"unknown": True}},
                     {"id": "b", "birth_date": "1980-01-01", "sex": "female", "disability_grade": 0}]}
    section = engine.decide(h, on=ON).why_not()["programs"]["demo"]
    [a] = section["members"]  # the undetermined member only
    assert a["missing"] == [{"path": "members[0].disability_grade",
                             "label": {"zh": "残疾等级（members[0]）", "en": "Disability grade (members[0])"}}]
    assert a["failed"] == []


#: A per-person program: a member with a disability grade of 1 to 4.
PER_PERSON_UNKNOWN = """\
program: demo
title: {zh: 演示, en: Demo}
jurisdiction: "000000"
each: member in household.members
sources:
  S1: {title: 演示文件, document: 演示〔2024〕1号, confidence: C}
rules:
  disabled:
    title: {zh: 持残疾证, en: Holds a disability certificate}
    each: member in household.members
    when: member.disability_grade > 0
    source: S1
eligible: member.disabled
"""


def test_why_not_of_a_household_with_unknown_facts_lists_no_unknown_fact_as_a_change() -> None:
    """Why-not over partial households never fails, and never offers "change" of a fact that is not known.

    An unknown fact is a question (the program's unknown list), not a lever: the analysis once used it
    as a condition and failed for a one-member household without its income.
    """
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from test_unknown_decisions import ON, _scalar_paths, _set, households

    engine = eligibility.load()
    one = engine.decide({"members": [{"id": "a", "relation": "applicant", "birth_date": "1970-01-01"}]}, "2024-09-01")
    assert one.why_not()["programs"]  # the household the analysis failed on

    @settings(max_examples=15, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        household = data.draw(households(engine, on=ON, max_members=3))
        paths = _scalar_paths(engine, household)
        hidden = data.draw(st.sets(st.sampled_from(paths), min_size=1, max_size=min(len(paths), 4)))
        for path in hidden:
            household = _set(household, path, {"unknown": True})
        section = engine.decide(household, on=ON).why_not()
        changed = {c["path"] for p in section["programs"].values()
                   for r in [*p["failed"], *(x for m in p["members"] or [] for x in m["failed"])]
                   for c in r["changes"]}
        assert not changed & {f"household.{p}" for p in hidden}, changed & {f"household.{p}" for p in hidden}

    run()
