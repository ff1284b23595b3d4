"""The JSON trace: golden records of two families, the contents an auditor relies on, and replay."""

from __future__ import annotations

import decimal
import json
import operator
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import eligibility
from conftest import failing_family, readme_family

ROOT = Path(__file__).parent.parent
ON = "2024-09-01"
AT = re.compile(r"^[a-z0-9_./-]+\.yaml:[1-9]\d*:[1-9]\d*$")
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}


def steps(trace: dict[str, Any], program: str = "dibao") -> dict[str, dict[str, Any]]:
    """Return the trace steps of a program by name."""
    return {s["name"]: s for s in trace["programs"][program]["steps"]}


def dumped(trace: dict[str, Any]) -> str:
    """The golden-file form of a trace."""
    return json.dumps(trace, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


# ------------------------------------------------------------------ golden files


def test_readme_family_trace_matches_golden(engine: eligibility.Engine,
                                            golden: Callable[[str, str], None]) -> None:
    """The README family's trace is exactly tests/golden/decisions/readme-family.json."""
    trace = engine.decide(readme_family(), on=ON).to_json()
    assert trace["programs"]["dibao"]["amount"] == "1446.00"
    golden("decisions/readme-family.json", dumped(trace))


def test_failing_family_trace_matches_golden(engine: eligibility.Engine,
                                             golden: Callable[[str, str], None]) -> None:
    """The failing family's trace (income too high, a car) is exactly its golden file."""
    trace = engine.decide(failing_family(), on=ON).to_json()
    assert trace["programs"]["dibao"]["eligible"] is False
    golden("decisions/failing-family.json", dumped(trace))


def test_trace_is_plain_json(engine: eligibility.Engine) -> None:
    """to_json() holds only JSON types: it round-trips through json unchanged."""
    trace = engine.decide(failing_family(), on=ON).to_json()
    assert json.loads(json.dumps(trace)) == trace


def test_trace_header_names_schema_date_policy_and_layers(engine: eligibility.Engine) -> None:
    """The trace says its schema, the decision date, the policy hash and file hashes, and the layers."""
    trace = engine.decide(readme_family(), on=ON).to_json()
    assert trace["schema"] == "eligibility.decision/1"
    assert trace["decided_for"] == ON
    assert trace["library_version"] == eligibility.__version__
    assert set(trace["policy"]["files"]) == {"facts.yaml", "guangdong/dibao.yaml", "guangzhou/dibao.yaml",
                                             "huadu/dibao.yaml"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in trace["policy"]["files"].values())
    dibao = trace["programs"]["dibao"]
    assert dibao["layers"] == ["guangdong/dibao.yaml", "guangzhou/dibao.yaml", "huadu/dibao.yaml"]
    assert (dibao["file"], dibao["jurisdiction"]) == ("huadu/dibao.yaml", "440114")


# ------------------------------------------------------------------ contents a user relies on


def test_failed_comparison_shows_the_difference(engine: eligibility.Engine) -> None:
    """income_test fails with 1400.00 < 1282.00 and records the difference 118.00."""
    s = steps(engine.decide(failing_family(), on=ON).to_json())["income_test"]
    assert s["outcome"] == "failed"
    (comp,) = s["comparisons"]
    assert comp["result"] is False
    (pair,) = comp["pairs"]
    assert pair["op"] == "<"
    assert pair["left"]["value"] == "1400.00"
    assert pair["left"]["label"]["en"] == "Assessed monthly per-capita income"
    assert pair["right"]["value"] == "1282.00"
    assert pair["difference"] == "118.00"


def test_passed_comparison_shows_a_negative_difference(engine: eligibility.Engine) -> None:
    """income_test passes with 800.00 < 1282.00 and records the difference -482.00."""
    s = steps(engine.decide(readme_family(), on=ON).to_json())["income_test"]
    assert s["comparisons"][0]["pairs"][0]["difference"] == "-482.00"


def test_parameters_carry_their_date_and_source(engine: eligibility.Engine) -> None:
    """The standard used says its value, since when it applies, its source and where it is written."""
    s = steps(engine.decide(readme_family(), on=ON).to_json())["income_test"]
    (std,) = [i for i in s["inputs"] if i["kind"] == "parameter"]
    assert std["name"] == "standard"
    assert std["value"] == "1282.00"
    assert std["from"] == "2024-06-01"
    assert std["source"] == "Z5"
    assert std["unit"] == "CNY/person/month"
    assert AT.match(std["at"]) and std["at"].startswith("guangzhou/dibao.yaml:")


def test_parameter_value_changes_with_the_date(engine: eligibility.Engine) -> None:
    """On 2020-03-10 the trace shows the 1080 standard from 2020-03-10 with source Z1."""
    s = steps(engine.decide(readme_family(), on="2020-03-10").to_json())["income_test"]
    (std,) = [i for i in s["inputs"] if i["kind"] == "parameter"]
    assert (std["value"], std["from"], std["source"]) == ("1080.00", "2020-03-10", "Z1")


def test_facts_carry_their_path(engine: eligibility.Engine) -> None:
    """Facts read by a rule name their household path, down to the member."""
    trace = engine.decide(readme_family(), on=ON).to_json()
    hukou = steps(trace)["hukou_test"]["inputs"]
    paths = {i["path"]: i["value"] for i in hukou if i["kind"] == "fact"}
    assert paths["household.members[0].guangdong_hukou"] is True
    income = steps(trace)["income_per_capita"]["inputs"]
    assert {i["path"] for i in income} == {"household.assessed_monthly_income", "household.members"}


def test_per_item_comparisons_name_the_record(engine: eligibility.Engine) -> None:
    """The vehicle rule shows each vehicle's comparison with its path, so the car is visible."""
    h = readme_family()
    h["vehicles"].append({"kind": "car"})
    s = steps(engine.decide(h, on=ON).to_json())["vehicle_test"]
    assert s["outcome"] == "failed"
    per_item = [c for c in s["comparisons"] if "items" in c]
    assert per_item
    items = {i["path"]: i["result"] for i in per_item[0]["items"]}
    assert items == {"household.vehicles[0]": False, "household.vehicles[1]": True}
    facts = {i["path"]: i["value"] for i in s["inputs"] if i["kind"] == "fact" and "[" in i["path"]}
    assert facts == {"household.vehicles[0].kind": "fuel_motorcycle", "household.vehicles[1].kind": "car"}


def test_every_step_has_a_file_line_col_position(engine: eligibility.Engine) -> None:
    """Every step and comparison says where it is written, as file:line:col."""
    for h in (readme_family(), failing_family()):
        for s in engine.decide(h, on=ON).to_json()["programs"]["dibao"]["steps"]:
            assert AT.match(s["at"]), s["at"]
            assert s["layer"] == s["at"].split(":")[0]
            for c in s["comparisons"]:
                assert AT.match(c["at"]), c["at"]


def test_rules_carry_their_citation(engine: eligibility.Engine) -> None:
    """Every rule step carries its source document and confidence."""
    for s in engine.decide(readme_family(), on=ON).to_json()["programs"]["dibao"]["steps"]:
        if s["kind"] == "rule":
            assert s["source"]["document"], s["name"]
            assert s["source"]["confidence"] in ("C", "C-mirror", "S", "U")
    income = steps(engine.decide(readme_family(), on=ON).to_json())["income_test"]
    assert (income["source"]["id"], income["source"]["document"]) == ("G2", "粤民规字〔2019〕9号")


@pytest.mark.parametrize(("on", "version", "source", "outcome"), [
    ("2025-12-31", {"from": None, "until": "2025-12-31"}, "G2", "failed"),
    ("2026-01-01", {"from": "2026-01-01", "until": None}, "G3", "passed"),
])
def test_vehicle_rule_version_switches_on_2026_01_01(engine: eligibility.Engine, on: str,
                                                       version: dict[str, Any], source: str,
                                                       outcome: str) -> None:
    """A sole-livelihood car fails the 2019 vehicle rule and passes the 2026 one; the trace shows which."""
    h = readme_family()
    h["vehicles"] = [{"kind": "car", "sole_livelihood": True}]
    s = steps(engine.decide(h, on=on).to_json())["vehicle_test"]
    assert s["version"] == version
    assert s["source"]["id"] == source
    assert s["outcome"] == outcome
    assert ("sole_livelihood" in s["expression"]) is (source == "G3")


def test_short_circuited_rules_are_shown_as_not_needed(engine: eligibility.Engine) -> None:
    """After income_test fails, the later rules were not needed; the trace still shows their outcome."""
    trace = engine.decide(failing_family(), on=ON).to_json()
    by = steps(trace)
    assert by["income_test"]["needed"] is True
    for name in ("financial_asset_test", "housing_test", "vehicle_test", "business_test"):
        assert by[name]["needed"] is False
        assert by[name]["outcome"] in ("passed", "failed")
        assert by[name]["inputs"] or by[name]["comparisons"]
    assert by["vehicle_test"]["outcome"] == "failed"  # the car: a second reason the applicant is told
    assert by["eligible"]["not_evaluated"] == ["financial_asset_test", "housing_test", "vehicle_test",
                                               "business_test"]
    assert by["amount"]["outcome"] == "not_evaluated"


def test_defaulted_facts_are_flagged_in_inputs(engine: eligibility.Engine) -> None:
    """A fact taken at its default is flagged `defaulted` where a rule reads it."""
    by = steps(engine.decide(readme_family(), on=ON).to_json())
    flags = {i["path"]: i["defaulted"] for i in by["housing_test"]["inputs"] if i["kind"] == "fact"}
    assert flags == {"household.nonresidential_units": True}


# ------------------------------------------------------------------ replay (G-I 3)


def _cases(engine: eligibility.Engine) -> Iterator[tuple[str, Any, Any]]:
    yield "readme family", readme_family(), ON
    yield "failing family", failing_family(), ON
    for case in engine.model.tests:
        if case.expect_error is None:
            yield case.name, case.household, case.on


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value):
        return Decimal(value)
    return None


def test_comparisons_replay_from_their_recorded_values(engine: eligibility.Engine) -> None:
    """For every evaluated depth-0 numeric comparison, `left op right` on the recorded values gives the result."""
    replayed = 0
    for name, household, on in _cases(engine):
        for s in engine.decide(household, on=on).to_json()["programs"]["dibao"]["steps"]:
            if s["kind"] != "rule" or not s["evaluated"] or not s["comparisons"]:
                continue
            if not all(c["evaluated"] and "pairs" in c for c in s["comparisons"]):
                continue
            for c in s["comparisons"]:
                results = []
                for pair in c["pairs"]:
                    if not pair["evaluated"]:
                        break
                    left, right = _number(pair["left"]["value"]), _number(pair["right"]["value"])
                    if left is None or right is None:
                        break
                    results.append(OPS[pair["op"]](left, right))
                else:
                    assert all(results) is c["result"], (name, s["name"], c["expression"])
                    replayed += 1
                    # the whole rule is this comparison: its outcome follows from the replay
                    if " ".join(s["expression"].split()) == c["expression"]:
                        assert s["value"] is c["result"], (name, s["name"])
                        assert s["outcome"] == ("passed" if c["result"] else "failed")
    assert replayed > 100, "the replay checked too few comparisons to mean anything"


def test_recorded_differences_are_exact(engine: eligibility.Engine) -> None:
    """Each recorded `difference` is exactly left - right, with no rounding to the caller's precision."""
    checked = 0
    for name, household, on in _cases(engine):
        for s in engine.decide(household, on=on).to_json()["programs"]["dibao"]["steps"]:
            for c in s["comparisons"]:
                for pair in c.get("pairs", []):
                    if "difference" not in pair:
                        continue
                    left, right = _number(pair["left"]["value"]), _number(pair["right"]["value"])
                    assert left is not None and right is not None
                    with decimal.localcontext(decimal.Context(prec=100)):
                        exact = left - right
                    assert Decimal(pair["difference"]) == exact, (name, s["name"], pair)
                    checked += 1
    assert checked > 100


def test_eligible_replays_from_the_rule_outcomes(engine: eligibility.Engine) -> None:
    """The `eligible` step's recorded rule values, combined with `and`, give the decision."""
    for name, household, on in _cases(engine):
        trace = engine.decide(household, on=on).to_json()
        by = steps(trace)
        elig = by["eligible"]
        values = [i["value"] for i in elig["inputs"] if i["kind"] == "rule"]
        if trace["programs"]["dibao"]["unknown"]:  # undetermined: no rule failed, one waits on unknown facts
            assert trace["programs"]["dibao"]["eligible"] is None, name
            assert False not in values and any(isinstance(v, dict) and v.get("unknown") for v in values), name
            continue
        assert all(isinstance(v, bool) for v in values)
        assert all(values) is trace["programs"]["dibao"]["eligible"], name
        assert (not all(values)) is (values[-1] is False), "evaluation stops at the first failed rule"
        for i in elig["inputs"]:
            assert by[i["name"]]["value"] is i["value"]


def test_amount_replays_from_its_inputs(engine: eligibility.Engine) -> None:
    """amount = (standard - income_per_capita) x members, recomputed from the trace, is the recorded amount."""
    for name, household, on in _cases(engine):
        trace = engine.decide(household, on=on).to_json()
        step = steps(trace)["amount"]
        if not step["evaluated"]:
            program = trace["programs"]["dibao"]
            assert program["eligible"] is False or (program["eligible"] is None and program["unknown"])
            continue
        inputs = {i.get("name") or i.get("path"): i["value"] for i in step["inputs"]}
        raw = (Decimal(inputs["standard"]) - Decimal(inputs["income_per_capita"])) \
            * inputs["household.members"]["count"]
        from decimal import ROUND_HALF_UP

        assert str(raw.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) == step["value"], name
        assert step["value"] == trace["programs"]["dibao"]["amount"]


# ------------------------------------------------------------------ the compact trace


def _households() -> list[dict[str, Any]]:
    return [readme_family(), failing_family(),
            {"members": [{"id": "m1", "relation": "applicant"}]}]  # most facts unknown: undetermined


def test_compact_trace_rebuilds_the_full_trace_byte_for_byte(engine: eligibility.Engine) -> None:
    """compact trace + household + policy -> the same full trace JSON, for every program, unknown facts included."""
    from eligibility.audit.replay import full_trace

    for household in _households():
        decision = engine.decide(household, on=ON)
        compact = json.loads(json.dumps(decision.to_compact()))  # as written to a file and read back
        rebuilt = full_trace(compact, household, engine)
        assert json.dumps(rebuilt, ensure_ascii=False) == json.dumps(decision.to_json(), ensure_ascii=False)


def test_compact_trace_is_the_same_from_an_untraced_decision(engine: eligibility.Engine) -> None:
    """An untraced decision gives the compact trace a traced one gives (batch writes it without tracing)."""
    for household in _households():
        assert engine.decide(household, on=ON, trace=False).to_compact() == engine.decide(household, on=ON).to_compact()


def test_compact_trace_holds_the_values_the_decision_needed(engine: eligibility.Engine) -> None:
    """Its values are the full trace's needed steps' values; it is a few KB where the full trace is hundreds."""
    decision = engine.decide(readme_family(), on=ON)
    compact, full = decision.to_compact(), decision.to_json()
    assert compact["schema"] == "eligibility.compact/1" and compact["policy"] == engine.policy_hash
    dibao = steps(full)
    needed = [name for name, s in dibao.items() if s["needed"]]
    assert list(compact["programs"]["dibao"]) == needed
    assert compact["programs"]["dibao"]["eligible"] is True
    assert compact["programs"]["dibao"]["amount"] == dibao["amount"]["value"] == "1446.00"
    size = len(json.dumps(compact, ensure_ascii=False, separators=(",", ":")).encode())
    assert size < 10_000 and size * 5 < len(json.dumps(full, ensure_ascii=False).encode())


def test_a_compact_trace_of_another_household_is_refused_naming_the_values(engine: eligibility.Engine) -> None:
    """Replaying a compact trace with another household raises, naming each value that differs."""
    from eligibility.audit.replay import CompactMismatch, full_trace

    compact = engine.decide(readme_family(), on=ON, programs=["dibao"]).to_compact()
    other = readme_family()
    other["assessed_monthly_income"] = "9000.00"
    with pytest.raises(CompactMismatch) as caught:
        full_trace(compact, other, engine)
    assert "dibao.eligible: True then, False now" in str(caught.value)


def test_a_compact_trace_of_another_policy_set_is_an_input_error(engine: eligibility.Engine) -> None:
    """A compact trace made with another policy set, or not a compact trace at all, is an InputError."""
    from eligibility.audit.replay import full_trace

    compact = engine.decide(readme_family(), on=ON, programs=["dibao"]).to_compact()
    for bad in ({**compact, "policy": "sha256:0"}, {"schema": "eligibility.decision/1"}, []):
        with pytest.raises(eligibility.InputError):
            full_trace(bad, readme_family(), engine)  # type: ignore[arg-type]


def test_compact_trace_of_every_bundled_program_is_small_and_rebuilds_the_full_trace() -> None:
    """On the bundled policies (every program), the compact trace is under 10 KB and replays to the full trace."""
    from eligibility.audit.replay import full_trace

    bundled = eligibility.load()
    household = readme_family()
    for member in household["members"]:
        member.setdefault("hukou_local", True)
    decision = bundled.decide(household, on=ON)
    compact = decision.to_compact()
    assert set(compact["programs"]) == set(bundled.programs)
    assert len(json.dumps(compact, ensure_ascii=False, separators=(",", ":")).encode()) < 10_000
    assert json.dumps(full_trace(compact, household, bundled)) == json.dumps(decision.to_json())


# ------------------------------------------------------------------ the trace's generated builders

#: Policy text that generated code must carry as data: quotes, a backslash, braces, a name like a
#: generated variable's, and Chinese.
ODD = "it's \"odd\" \\ {a0} {{x}} 低保"
ODD_POLICY = f"""\
program: odd
title: {{zh: {json.dumps(ODD)}, en: {json.dumps(ODD)}}}
jurisdiction: "000000"
sources:
  S1: {{title: {json.dumps(ODD)}, document: {json.dumps(ODD)}, confidence: C}}
parameters:
  standard: {{type: money, title: {{zh: {json.dumps(ODD)}, en: {json.dumps(ODD)}}}, source: S1,
             values: {{2020-01-01: 1000}}}}
computed:
  graded:
    title: {{zh: {json.dumps(ODD)}, en: {json.dumps(ODD)}}}
    expr: count(m for m in household.members if m.disability_grade >= 3 and m.sex == "female")
rules:
  low_income:
    title: {{zh: {json.dumps(ODD)}, en: {json.dumps(ODD)}}}
    when: household.assessed_monthly_income < standard and graded == 0
    source: S1
eligible: low_income
"""


def _members(n: int) -> list[dict[str, Any]]:
    return [{"id": f"m{i} \"{i}\"", "birth_date": "1980-01-01", "sex": ("female", "male")[i % 2],
             "disability_grade": i % 5} for i in range(n)]


def test_policy_text_reaches_the_trace_as_written(policy_dir: Callable[..., Path]) -> None:
    """Titles, sources and expressions with quotes, backslashes and braces are shown exactly as the policy says."""
    engine = eligibility.load(policy_dir({"odd.yaml": ODD_POLICY}))
    trace = engine.decide({"assessed_monthly_income": "500", "members": _members(5)}, on=ON).to_json()
    assert trace["programs"]["odd"]["title"] == {"zh": ODD, "en": ODD}
    assert trace["sources"]["S1"]["title"] == ODD and trace["sources"]["S1"]["document"] == ODD
    by_name = steps(trace, "odd")
    assert by_name["low_income"]["title"] == {"zh": ODD, "en": ODD}
    assert by_name["low_income"]["source"]["document"] == ODD
    [parameter] = [i for i in by_name["low_income"]["inputs"] if i["kind"] == "parameter"]
    assert parameter["title"] == {"zh": ODD, "en": ODD} and parameter["value"] == "1000.00"
    [computed] = [i for i in by_name["low_income"]["inputs"] if i["kind"] == "computed"]
    assert computed == {"kind": "computed", "name": "graded", "title": {"zh": ODD, "en": ODD}, "value": 1}
    assert by_name["graded"]["expression"] == \
        'count(m for m in household.members if m.disability_grade >= 3 and m.sex == "female")'
    per_member = [c for c in by_name["graded"]["comparisons"] if c["expression"] == 'm.sex == "female"']
    [member_4] = [i for i in per_member[0]["items"] if i["path"] == "household.members[4]"]
    assert member_4["item"] == 'members[4] (m4 "4")'
    # the string compared with the enum field reads as the value's label
    assert member_4["pairs"][0]["right"] == {"expression": '"female"', "label": None, "value": "female",
                                            "value_label": {"zh": "女", "en": "female"}}


def test_each_member_comparison_shows_that_members_values(policy_dir: Callable[..., Path]) -> None:
    """In a household of 60, the comparison made for each member shows that member's own values and result."""
    engine = eligibility.load(policy_dir({"odd.yaml": ODD_POLICY}))
    members = _members(60)
    trace = engine.decide({"assessed_monthly_income": "500", "members": members}, on=ON).to_json()
    graded = steps(trace, "odd")["graded"]
    [grade] = [c for c in graded["comparisons"] if c["expression"] == "m.disability_grade >= 3"]
    assert [i["path"] for i in grade["items"]] == [f"household.members[{i}]" for i in range(60)]
    for i, item in enumerate(grade["items"]):
        [pair] = item["pairs"]
        assert pair["left"]["value"] == members[i]["disability_grade"]
        assert item["result"] is pair["result"] is (members[i]["disability_grade"] >= 3)
        assert pair["difference"] == str(members[i]["disability_grade"] - 3)
    [sex] = [c for c in graded["comparisons"] if c["expression"] == 'm.sex == "female"']
    # `and` stops at a grade below 3: the sex is compared only for the others, each with its own value
    assert [i["path"] for i in sex["items"]] == \
        [f"household.members[{i}]" for i in range(60) if members[i]["disability_grade"] >= 3]
    for item in sex["items"]:
        i = int(item["path"][len("household.members["):-1])
        assert item["pairs"][0]["left"]["value"] == members[i]["sex"]
    assert graded["value"] == sum(1 for m in members if m["disability_grade"] >= 3 and m["sex"] == "female")


def test_each_trace_owns_its_dicts(engine: eligibility.Engine) -> None:
    """Changing one trace (its steps, inputs, comparisons, sources) changes no other trace of the engine."""
    decision = engine.decide(failing_family(), on=ON)
    first = decision.to_json()
    pristine = json.dumps(first, ensure_ascii=False)

    def scribble(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                scribble(v)
            value["scribbled"] = True
        elif isinstance(value, list):
            for v in value:
                scribble(v)
            value.append("scribbled")

    scribble(first)
    assert json.dumps(decision.to_json(), ensure_ascii=False) == pristine
    assert json.dumps(engine.decide(failing_family(), on=ON).to_json(), ensure_ascii=False) == pristine


def test_money_is_shown_with_at_least_two_decimals() -> None:
    """Money in the trace: the exact amount, never fewer than two decimals, never a negative zero."""
    from hypothesis import given
    from hypothesis import strategies as st

    from eligibility.engine.trace import encode

    @given(sign=st.sampled_from((0, 1)), digits=st.lists(st.integers(0, 9), min_size=1, max_size=24),
           exponent=st.integers(-6, 4), whole=st.booleans())
    def check(sign: int, digits: list[int], exponent: int, whole: bool) -> None:
        value = Decimal((sign, tuple(digits), exponent))
        shown = encode(int(value) if whole and exponent >= 0 else value, "money")
        assert Decimal(shown) == value
        decimals = len(shown) - shown.index(".") - 1
        assert decimals == max(2, -exponent)
        assert not (value == 0 and shown.startswith("-"))

    check()


def test_the_quick_money_encoder_says_what_encode_says() -> None:
    """The steps' quick money path (`_money`: two decimals, or a whole amount padded) gives encode's text."""
    from hypothesis import given
    from hypothesis import strategies as st

    from eligibility.engine.trace import _money, encode

    @given(sign=st.sampled_from((0, 1)), digits=st.lists(st.integers(0, 9), min_size=1, max_size=33),
           exponent=st.integers(-6, 4))
    def check(sign: int, digits: list[int], exponent: int) -> None:
        value = Decimal((sign, tuple(digits), exponent))
        assert _money(value) == encode(value, "money")

    check()
    assert _money(Decimal("1282")) == "1282.00" and _money(Decimal("0")) == "0.00"
    assert encode(["a", "b"], "list:members") == {"count": 2}
