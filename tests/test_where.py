"""Where to apply: offices with their rules, unknown places, consistent place facts, the YAML checks, the command."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import eligibility
from eligibility import InputError, PolicyError
from eligibility.cli import build
from eligibility.compile.pipeline import check_policy
from eligibility.testing.cases import run_case

WHERE = Path(__file__).parent / "fixtures" / "where"
FIXTURE = Path(__file__).parent / "fixtures" / "dibao"
ON = "2024-09-01"


@pytest.fixture(scope="module")
def where_engine() -> eligibility.Engine:
    """The engine of the frozen where-to-apply fixture (tests/fixtures/where)."""
    return eligibility.load(WHERE)


def member(mid: str, relation: str = "spouse", **places: Any) -> dict[str, Any]:
    """A member with an id, a relation and the given place facts."""
    return {"id": mid, "relation": relation, **places}


def household(*members: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A household of these members (the first is the applicant) and other facts."""
    first, *rest = members
    return {"members": [{**first, "relation": "applicant"}, *rest], **extra}


def codes(w: eligibility.WhereToApply, program: str) -> list[str]:
    """The offices of a program as `code` (a town/street office) or `kind:code`."""
    return [o.code if o.kind == "street_office" else f"{o.kind}:{o.code}" for o in w.for_program(program)]


def test_each_members_hukou_place_is_an_office_with_its_rule_citation_and_member(
        where_engine: eligibility.Engine) -> None:
    """Members registered in two districts give two offices, each naming the rule, its source and the member."""
    w = where_engine.where_to_apply(household(member("a", hukou_district="440114"),
                                              member("b", hukou_district="440104")), ON)
    assert codes(w, "dibao") == ["440114", "440104"]
    huadu, yuexiu = w.for_program("dibao")
    assert huadu.name == {"zh": "广州市花都区", "en": "Huadu District, Guangzhou"}
    assert yuexiu.name is None  # no name in the rules' `names:`: shown as its code
    assert huadu.programs == ("dibao", "temporary")
    dibao_reason = huadu.reasons[0]
    assert (dibao_reason.rule, dibao_reason.sources, dibao_reason.record, dibao_reason.record_id) == \
        ("dibao_any_member_hukou", ("G1",), "members[0]", "a")
    assert dibao_reason.at == "where_to_apply.yaml:13:3"
    assert w.programs["dibao"].status == "determined" and not w.undetermined


def test_an_offices_trace_shows_its_rule_and_the_facts_it_read(where_engine: eligibility.Engine) -> None:
    """The trace of an office holds the steps of its rules, with each fact read and where a derived one came from."""
    w = where_engine.where_to_apply(household(member("a", hukou_district="440114")), ON)
    office = w.for_program("dibao")[0]
    steps = {s["name"]: s for s in office.trace}
    assert list(steps) == ["all_guangdong", "dibao_any_member_hukou", "dibao_any_member_hukou_office",
                           "temporary_hukou", "temporary_hukou_office"]
    rule = steps["dibao_any_member_hukou"]
    assert rule["outcome"] == "per_record" and rule["source"]["id"] == "G1"
    assert rule["value"][0]["value"] is True
    assert steps["dibao_any_member_hukou_office"]["value"][0]["value"] == "440114"
    read = steps["all_guangdong"]["inputs"][1]
    assert read["path"] == "household.members[0].guangdong_hukou" and read["value"] is True
    assert read["provenance"]["note"] == "derived from members[0].hukou_district"


def test_an_unknown_hukou_place_is_undetermined_and_named_never_guessed(where_engine: eligibility.Engine) -> None:
    """Without a hukou place no office is named: the program is undetermined and says which fact is missing."""
    w = where_engine.where_to_apply(household(member("a")), ON)
    temporary = w.programs["temporary"]
    assert temporary.offices == () and temporary.status == "undetermined"
    assert temporary.unknown == ("members[0].hukou_district",)
    assert w.undetermined and "members[0].hukou_district" in w.unknown


def test_known_offices_stay_when_another_members_place_is_unknown(where_engine: eligibility.Engine) -> None:
    """One member's known hukou place is an office; the other member's unknown place keeps the answer open."""
    w = where_engine.where_to_apply(household(member("a", hukou_district="440114"), member("b")), ON)
    temporary = w.programs["temporary"]
    assert codes(w, "temporary") == ["440114"] and temporary.status == "undetermined"
    assert temporary.unknown == ("members[1].hukou_district",)
    assert [p.reason.record for p in temporary.pending] == ["members[1]"]


def test_accepts_says_yes_no_or_not_yet(where_engine: eligibility.Engine) -> None:
    """An office enrolled elsewhere can be checked: given by a rule, excluded, or waiting on a fact."""
    settled = where_engine.where_to_apply(household(member("a", hukou_district="440114")), ON)
    assert settled.accepts("temporary", "440114") is True
    assert settled.accepts("temporary", "440104") is False
    assert settled.accepts("temporary", "440114", kind="rescue_station") is False
    open_ = where_engine.where_to_apply(household(member("a", hukou_district="440114"), member("b")), ON)
    assert open_.accepts("temporary", "440104") is None  # member b's hukou place is not known


def test_hukou_local_with_guangdong_hukou_means_the_deciding_district(where_engine: eligibility.Engine) -> None:
    """A hukou known only as `hukou_local` and `guangdong_hukou` is the deciding district's, and says so."""
    w = where_engine.where_to_apply(household(member("a", hukou_local=True, guangdong_hukou=True)), ON)
    assert codes(w, "dibao") == ["440114"]
    assert {"path": "members[0].hukou_district", "value": "440114",
            "from": "members[0].hukou_local and members[0].guangdong_hukou"} in w.derived


def test_a_code_outside_guangdong_settles_guangdong_hukou(where_engine: eligibility.Engine) -> None:
    """A Hunan hukou code means no Guangdong hukou: the all-Guangdong rule is decided, not left unknown."""
    w = where_engine.where_to_apply(household(member("a", hukou_district="430102")), ON)
    assert w.programs["dibao"].status == "no_office"
    assert w.for_program("temporary")[0].name == {"zh": "湖南省（区县代码 430102）", "en": "a district of Hunan"}


@pytest.mark.parametrize(("given", "path"), [
    ({"hukou_district": "440104", "hukou_local": True, "guangdong_hukou": True}, "members[0].hukou_local"),
    ({"hukou_district": "430102", "guangdong_hukou": True}, "members[0].guangdong_hukou"),
    ({"hukou_district": "440114", "hukou_province": "43"}, "members[0].hukou_province"),
    ({"residence_district": "440104", "resides_locally": True}, "members[0].resides_locally"),
])
def test_a_code_that_contradicts_a_given_fact_is_an_input_error_naming_both(
        where_engine: eligibility.Engine, given: dict[str, Any], path: str) -> None:
    """Two given facts that disagree on a place are refused, naming both paths; neither wins silently."""
    with pytest.raises(InputError) as e:
        where_engine.where_to_apply(household(member("a", **given)), ON)
    problem = e.value.problems[0]
    assert (problem.path, problem.kind) == (path, "conflict")
    other = "residence_district" if "resides" in path else "hukou_district"
    assert f"members[0].{other}" in problem.message


def test_every_bad_place_is_reported_at_once(where_engine: eligibility.Engine) -> None:
    """Malformed codes and a permit of no member are all listed in one InputError, each with its path."""
    h = household(member("a", hukou_district="4401", residence_district="٤٤٠١١٤"),  # Arabic-Indic digits
                  residence_permits=[{"holder": "z", "district": "440114", "valid_until": "2025-01-01"}],
                  emergency_district="44011")
    with pytest.raises(InputError) as e:
        where_engine.where_to_apply(h, ON)
    assert [(p.path, p.kind) for p in e.value.problems] == [
        ("members[0].hukou_district", "format"), ("members[0].residence_district", "format"),
        ("residence_permits[0].holder", "unknown"), ("emergency_district", "format")]


def test_a_residence_permit_counts_while_it_is_valid(where_engine: eligibility.Engine) -> None:
    """A permit valid on the date adds its place; from the day after it expires it does not."""
    def offices(until: str) -> list[str]:
        h = household(member("a", hukou_district="430102"),
                      residence_permits=[{"holder": "a", "district": "440114", "valid_until": until}])
        return codes(where_engine.where_to_apply(h, ON), "temporary")

    assert offices("2024-09-01") == ["430102", "440114"]
    assert offices("2024-08-31") == ["430102"]
    expired = household(member("a", hukou_district="430102"),
                        residence_permits=[{"holder": "a", "district": "440114", "valid_until": "2024-08-31"}])
    assert where_engine.where_to_apply(expired, ON).programs["temporary"].not_met == ("temporary_permit", "rescue")


def test_no_fixed_residence_asks_the_rescue_station_where_the_person_is(where_engine: eligibility.Engine) -> None:
    """A person with no fixed residence gets the rescue station of the emergency's place, or waits on it."""
    at = household(member("a", hukou_district="430102"), no_fixed_residence=True, emergency_district="440114")
    assert codes(where_engine.where_to_apply(at, ON), "temporary") == ["430102", "rescue_station:440114"]
    unknown_place = household(member("a", hukou_district="430102"), no_fixed_residence=True)
    w = where_engine.where_to_apply(unknown_place, ON)
    assert w.programs["temporary"].status == "undetermined"
    assert w.programs["temporary"].unknown == ("emergency_district",)


def test_the_explanation_says_which_rule_gave_which_office(
        where_engine: eligibility.Engine, golden: Callable[[str, str], None]) -> None:
    """The zh and en explanations list each office with its rule, source and member, and what is missing."""
    h = household(member("a", hukou_district="440114"), member("b"),
                  residence_permits=[{"holder": "b", "district": "440114", "valid_until": "2024-08-31"}])
    w = where_engine.where_to_apply(h, ON)
    golden("where/explain-zh.txt", w.explain("zh"))
    golden("where/explain-en.txt", w.explain("en"))


def test_the_json_answer_carries_offices_programs_and_steps(
        where_engine: eligibility.Engine, golden: Callable[[str, str], None]) -> None:
    """to_json() is JSON: offices, per-program status, derived facts and the steps of every rule."""
    w = where_engine.where_to_apply(household(member("a", hukou_district="440114"), member("b")), ON)
    data = w.to_json()
    assert data["schema"] == "eligibility.where_to_apply/1"
    assert data["programs"]["temporary"]["status"] == "undetermined"
    golden("where/answer.json", json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def test_without_the_trace_the_answer_is_the_same(where_engine: eligibility.Engine) -> None:
    """`trace=False` gives the same offices, statuses and reasons, only without trace steps."""
    h = household(member("a", hukou_district="440114"), member("b"))
    full, quick = (where_engine.where_to_apply(h, ON, trace=t) for t in (True, False))
    assert [(o.code, o.kind, o.programs, o.reasons) for o in quick.offices] == \
        [(o.code, o.kind, o.programs, o.reasons) for o in full.offices]
    assert {n: (p.status, p.unknown) for n, p in quick.programs.items()} == \
        {n: (p.status, p.unknown) for n, p in full.programs.items()}
    assert all(o.trace == () for o in quick.offices) and all(o.trace for o in full.offices)
    with pytest.raises(InputError):
        where_engine.where_to_apply(h, ON, trace="no")  # type: ignore[arg-type]


def test_only_the_programs_asked_for_and_unknown_names_are_refused(where_engine: eligibility.Engine) -> None:
    """`programs=` limits the answer; a name that is no program of the set is an argument error."""
    w = where_engine.where_to_apply(household(member("a", hukou_district="440114")), ON, programs=["dibao"])
    assert list(w.programs) == ["dibao"]
    with pytest.raises(InputError) as e:
        where_engine.where_to_apply(household(member("a")), ON, programs=["dibo"])
    assert e.value.path == "programs"


def test_a_policy_set_without_where_rules_says_so() -> None:
    """Asking where to apply under a set with no where_to_apply file is a PolicyError, not an empty answer."""
    with pytest.raises(PolicyError) as e:
        eligibility.load(FIXTURE).where_to_apply({"members": []}, ON)
    assert e.value.diagnostics[0].code == "no-where-to-apply"


def test_rules_of_another_district_are_not_used() -> None:
    """The bundled Huadu rules answer for Huadu; a set loaded for Yuexiu has none instead of Huadu's."""
    h = {"members": [{"id": "a", "relation": "applicant", "hukou_district": "440114"}]}
    assert eligibility.load(jurisdiction="440114").where_to_apply(h, ON).accepts("temporary", "440114")
    with pytest.raises(PolicyError) as e:
        eligibility.load(jurisdiction="440104").where_to_apply(h, ON)
    assert "for jurisdiction 440104" in e.value.diagnostics[0].message


def test_deciding_is_unchanged_by_place_facts(where_engine: eligibility.Engine) -> None:
    """Place facts given or not, decide() gives the same outcome and needs no unknown facts (its fast path)."""
    plain = household(member("a", hukou_local=True, guangdong_hukou=True))
    placed = household(member("a", hukou_local=True, guangdong_hukou=True, hukou_district="440114",
                              residence_district="440114"))
    for h in (plain, placed):
        d = where_engine.decide(h, ON)
        assert d.programs["dibao"].eligible is True and d.unknown_facts == ()


BAD_RULES = """\
where_to_apply: 1
jurisdiction: "440114"
title: {zh: 申请受理地, en: Where to apply}
names:
  "4401": {zh: 广州市, en: Guangzhou}
rules:
  bad_program:
    title: {zh: 甲, en: A}
    programs: [dibo]
    when: true
    office: household.emergency_district
    kind: street_office
    source: G1
  wrong_kind:
    title: {zh: 乙, en: B}
    programs: [dibao]
    when: true
    office: household.emergency_district
    kind: rescue_stationn
    source: G1
  bad_field:
    title: {zh: 丙, en: C}
    programs: [dibao]
    each: member in household.members
    when: member.hukou_distrct == "440114"
    office: member.hukou_district
    kind: street_office
    source: G9
"""


def test_mistakes_in_the_where_rules_are_reported_at_file_line_col(
        tmp_path: Path, golden: Callable[[str, str], None]) -> None:
    """An unknown program, kind of office, field or source and a bad division code each get a positioned error."""
    root = tmp_path / "policies"
    shutil.copytree(WHERE, root)
    (root / "where_to_apply.yaml").write_text(BAD_RULES, encoding="utf-8")
    with pytest.raises(PolicyError) as e:
        eligibility.load(root)
    golden("where/diagnostics.txt", e.value.render())
    codes_found = sorted(d.code for d in e.value.diagnostics)
    assert codes_found == ["division-code", "office-kind", "unknown-field", "unknown-program", "unknown-source"]


def test_an_office_that_is_not_text_is_a_type_error(tmp_path: Path) -> None:
    """`office:` must be a division code: a bool expression is refused at its position."""
    root = tmp_path / "policies"
    shutil.copytree(WHERE, root)
    text = (WHERE / "where_to_apply.yaml").read_text(encoding="utf-8")
    (root / "where_to_apply.yaml").write_text(
        text.replace("office: household.emergency_district", "office: household.no_fixed_residence"),
        encoding="utf-8")
    with pytest.raises(PolicyError) as e:
        eligibility.load(root)
    [d] = e.value.diagnostics
    assert (d.code, str(d.span)) == ("type", "where_to_apply.yaml:41:13")
    assert "must be a division code (text), not bool" in d.message


def test_a_yaml_case_expecting_the_wrong_office_fails_and_says_why(tmp_path: Path) -> None:
    """A `where_to_apply.<program>` expectation that does not match fails with the offices expected and got."""
    root = tmp_path / "policies"
    shutil.copytree(WHERE, root)
    (root / "cases.yaml").write_text("""\
tests:
  - name: wrong office
    on: 2024-09-01
    where_to_apply: true
    household:
      members: [{id: a, relation: applicant, hukou_district: "440114"}]
    expect:
      where_to_apply.temporary: ["440104"]
  - name: right office
    on: 2024-09-01
    where_to_apply: true
    household:
      members: [{id: a, relation: applicant, hukou_district: "440114"}]
    expect:
      where_to_apply.temporary: ["440114"]
""", encoding="utf-8")
    engine = eligibility.load(root)
    wrong, right = (run_case(engine, case) for case in engine.model.tests)
    assert not wrong.passed and "expected offices 440104, got 440114" in wrong.message
    assert right.passed


def test_the_where_command_prints_the_answer_and_refuses_bad_input(tmp_path: Path) -> None:
    """`eligibility where` explains in zh or en, gives JSON on request, and exits 1 on an invalid household."""
    good = tmp_path / "h.json"
    good.write_text(json.dumps(household(member("a", hukou_district="440114"))), encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(household(member("a", hukou_district="440114", hukou_local=False,
                                               guangdong_hukou=True))), encoding="utf-8")
    runner = CliRunner()
    text = runner.invoke(build(), ["where", str(good), "--on", ON, "-p", str(WHERE), "--lang", "en"])
    assert text.exit_code == 0 and "town government / street office, Huadu District, Guangzhou (440114)" in text.output
    as_json = runner.invoke(build(), ["where", str(good), "--on", ON, "-p", str(WHERE), "--format", "json"])
    assert json.loads(as_json.output)["offices"][0]["code"] == "440114"
    refused = runner.invoke(build(), ["where", str(bad), "--on", ON, "-p", str(WHERE)])
    assert refused.exit_code == 1 and "members[0].hukou_local: conflict" in refused.output
    unknown = runner.invoke(build(), ["where", str(good), "--on", ON, "-p", str(WHERE), "--program", "dibo"])
    assert unknown.exit_code == 2


def test_where_expectations_of_a_case_are_checked_when_the_set_loads(tmp_path: Path) -> None:
    """A bad status, a non-list of offices, another key in a where-only case and an unknown program are errors."""
    root = tmp_path / "policies"
    shutil.copytree(WHERE, root)
    (root / "cases.yaml").write_text("""\
tests:
  - name: bad expectations
    on: 2024-09-01
    where_to_apply: true
    household: {members: [{id: a, relation: applicant}]}
    expect:
      where_to_apply.temporary: {status: settled}
      where_to_apply.dibao: "440114"
      where_to_apply.dibo: []
      dibao: {eligible: true}
""", encoding="utf-8")
    diags = check_policy(root)
    found = sorted((d.code, d.span.line) for d in diags if d.span is not None and d.span.path == "cases.yaml")
    assert found == [("expected-list", 8), ("unknown-program", 9), ("where-case", 10), ("where-status", 7)]
