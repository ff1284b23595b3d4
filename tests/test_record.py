"""Decision records: canonical and byte-stable, tamper-evident, and replayable with the reason for any difference."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import decimal
import hashlib
import json
import os
import re
import struct
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import eligibility
from conftest import DEMO, FACTS, FIXTURE
from eligibility.audit.canonical import (
    MAX_SAFE_INTEGER,
    SCHEMA,
    SCHEMA_V1,
    canonical_bytes,
    dumps_record,
    jcs_bytes,
    json_problems,
    loads_record,
    make_record,
    policy_hash,
    record_hash,
)
from eligibility.audit.replay import replay
from eligibility.audit.verify import verify_record
from eligibility.cli import build
from eligibility.explain.text import render

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "huadu-family.json"
FAMILY = json.loads(EXAMPLE.read_text(encoding="utf-8"))
ON = "2024-09-01"


def person(income: Any = "400.00") -> dict[str, Any]:
    """A one-person household for the conftest facts vocabulary."""
    return {"assessed_monthly_income": income,
            "members": [{"id": "a", "birth_date": "1980-01-01", "sex": "male"}]}


def demo(policy_dir: Callable[..., Path], text: str = DEMO) -> eligibility.Engine:
    """Load the demo program (optionally edited)."""
    return eligibility.load(policy_dir({"demo.yaml": text}))


def rehash(record: dict[str, Any]) -> dict[str, Any]:
    """Recompute a record's hash after an edit: what a careless (or careful) forger would do."""
    record["record_hash"] = record_hash(record)
    return record


def run(*args: str) -> Result:
    """Invoke the command line in-process."""
    return CliRunner().invoke(build(), list(args), catch_exceptions=False)


@pytest.fixture
def record(engine: eligibility.Engine) -> dict[str, Any]:
    """The record of the README family on 2024-09-01."""
    household = copy.deepcopy(FAMILY)
    return make_record(engine.decide(household, on=ON), household)


# ------------------------------------------------------------------ making records


def test_record_holds_input_decision_date_hashes_and_version(record: dict[str, Any]) -> None:
    """A record holds the household as given, the decision, the date, the policy and file hashes and the version."""
    assert record["schema"] == SCHEMA
    assert record["input"] == FAMILY
    assert record["decided_for"] == ON
    assert record["library_version"] == eligibility.__version__
    assert record["policy"]["hash"].startswith("sha256:")
    assert set(record["policy"]["files"]) >= {"facts.yaml"}
    assert record["decision"]["programs"]["dibao"]["amount"] == "1446.00"
    assert record["record_hash"].startswith("sha256:") and len(record["record_hash"]) == 71


def test_record_of_the_demo_matches_golden(policy_dir: Callable[..., Path],
                                           golden: Callable[[str, str], None]) -> None:
    """The canonical text of a small decision's record is exactly tests/golden/records/demo.json."""
    engine = demo(policy_dir)
    household = person(Decimal("400.5"))
    text = dumps_record(make_record(engine.decide(household, on="2024-01-01"), household))
    golden("records/demo.json", text)


def test_record_text_is_canonical_json(record: dict[str, Any]) -> None:
    """The record's text has sorted keys, decimals as strings, no floats, and reads back to the same record."""
    text = dumps_record(record)
    assert text.endswith("}\n")
    back = json.loads(text)
    assert back == record
    assert dumps_record(back) == text
    assert json.dumps(back, sort_keys=True, ensure_ascii=False, indent=2) + "\n" == text
    assert "1446.00" in text and ": 1446" not in text
    assert canonical_bytes(back) == canonical_bytes(record)


def test_decimal_float_and_date_inputs_are_stored_as_strings(policy_dir: Callable[..., Path]) -> None:
    """A Decimal or float income and a date birth date are stored as decimal and ISO strings, never floats."""
    engine = demo(policy_dir)
    for income, stored in ((Decimal("400.50"), "400.50"), (400.5, "400.5"), (400, 400)):
        household = person(income)
        household["members"][0]["birth_date"] = dt.date(1980, 1, 1)
        rec = make_record(engine.decide(household, on="2024-01-01"), household)
        assert rec["input"]["assessed_monthly_income"] == stored
        assert rec["input"]["members"][0]["birth_date"] == "1980-01-01"
        assert verify_record(json.loads(dumps_record(rec))) == []


def test_record_is_byte_identical_across_processes(tmp_path: Path) -> None:
    """Two processes with different hash seeds and a hostile decimal context write the same bytes."""
    script = ("import copy, decimal, json, sys\n"
              "import eligibility\n"
              f"h = json.load(open({str(EXAMPLE)!r}, encoding='utf-8'))\n"
              f"e = eligibility.load({str(FIXTURE)!r})\n"
              "decimal.getcontext().prec = 3\n"
              "decimal.getcontext().traps[decimal.Inexact] = True\n"
              f"sys.stdout.buffer.write(eligibility.dumps_record(eligibility.make_record(e.decide(h, on={ON!r}), h))"
              ".encode('utf-8'))\n")
    outs = []
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, env=env, check=True, timeout=120)
        outs.append(done.stdout)
    assert outs[0] == outs[1]
    assert verify_record(json.loads(outs[0])) == []


def test_record_of_an_untraced_decision_is_the_same(engine: eligibility.Engine, record: dict[str, Any]) -> None:
    """A decision made with trace=False gives the same record as a traced one."""
    household = copy.deepcopy(FAMILY)
    assert make_record(engine.decide(household, on=ON, trace=False), household) == record


def test_record_refuses_another_household(engine: eligibility.Engine) -> None:
    """Recording a decision with a household it was not made for is an InputError, not a false record."""
    household = copy.deepcopy(FAMILY)
    decision = engine.decide(household, on=ON)
    other = copy.deepcopy(FAMILY)
    other["assessed_monthly_income"] = "2000.00"
    with pytest.raises(eligibility.InputError) as e:
        make_record(decision, other)
    assert e.value.kind == "mismatch"
    with pytest.raises(eligibility.InputError):
        make_record(decision, {"members": []})


def test_record_with_a_hostile_decimal_context(engine: eligibility.Engine, record: dict[str, Any]) -> None:
    """The caller's 3-digit decimal context with traps changes neither the record nor its verification."""
    household = copy.deepcopy(FAMILY)
    ctx = decimal.Context(prec=3, rounding=decimal.ROUND_DOWN, traps=[decimal.Inexact, decimal.Rounded])
    with decimal.localcontext(ctx):
        again = make_record(engine.decide(household, on=ON), household)
        assert verify_record(again) == []
    assert again == record


def test_policy_hash_formula_matches_the_loader(engine: eligibility.Engine) -> None:
    """The record's own policy-hash check uses the loader's formula over the file hashes."""
    assert policy_hash(engine.model.file_hashes) == engine.policy_hash


# ------------------------------------------------------------------ verifying


def test_intact_record_verifies(record: dict[str, Any]) -> None:
    """An untouched record, and the same record read back from its text, has no problem."""
    assert verify_record(record) == []
    assert verify_record(loads_record(dumps_record(record))) == []


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda r: r["input"].update(assessed_monthly_income="2000.00"), "input.assessed_monthly_income"),
    (lambda r: r["input"]["members"][0].update(guangdong_hukou=False), "members[0].guangdong_hukou"),
    (lambda r: r["decision"]["programs"]["dibao"].update(amount="2446.00"), "programs.dibao.amount"),
    (lambda r: r["decision"]["programs"]["dibao"].update(eligible=False), "programs.dibao.eligible"),
    (lambda r: r.update(decided_for="2024-10-01"), "decided_for differs"),
    (lambda r: r["decision"]["policy"]["files"].update({"facts.yaml": "0" * 64}), "not the hash of its files"),
    (lambda r: r["decision"]["policy"].update(hash="sha256:" + "0" * 64), "decision.policy.hash"),
    (lambda r: r.update(library_version="9.9.9"), "library_version differs"),
], ids=["income", "member-fact", "amount", "eligible", "date", "file-hash", "policy-hash", "version"])
def test_tampering_is_detected_even_with_a_new_hash(record: dict[str, Any], edit: Callable[[dict[str, Any]], None],
                                                     expected: str) -> None:
    """Any edit of the input, the decision or the hashes is reported, and still is after recomputing record_hash."""
    edited = copy.deepcopy(record)
    edit(edited)
    problems = verify_record(edited)
    assert any("record_hash does not match" in p for p in problems), problems
    rehashed = verify_record(rehash(edited))
    assert rehashed, "a consistent forgery of this field went unnoticed"
    assert any(expected in p for p in rehashed), rehashed


def _step(rec: dict[str, Any], name: str) -> dict[str, Any]:
    """The dibao step of that name in a record."""
    return next(s for s in rec["decision"]["programs"]["dibao"]["steps"] if s["name"] == name)


def _flip_income_test(rec: dict[str, Any]) -> None:
    """Record income_test as failed: its value and outcome."""
    _step(rec, "income_test").update(value=False, outcome="failed")


def _show_standard_1300(rec: dict[str, Any]) -> None:
    """Show 1300.00 as the standard income_test compared with, with the matching difference."""
    pair = _step(rec, "income_test")["comparisons"][0]["pairs"][0]
    pair["right"]["value"], pair["difference"] = "1300.00", "-500.00"


def _change_citation(rec: dict[str, Any]) -> None:
    """Cite another document number for income_test."""
    _step(rec, "income_test")["source"]["document"] = "粤民规字〔2019〕99号"


def _delete_income_test(rec: dict[str, Any]) -> None:
    """Delete the income_test step."""
    steps = rec["decision"]["programs"]["dibao"]["steps"]
    steps.remove(_step(rec, "income_test"))


def _change_expression(rec: dict[str, Any]) -> None:
    """Record income_test's rule as `<=` instead of `<`."""
    _step(rec, "income_test")["expression"] = "income_per_capita <= standard"


EDITS = [(_flip_income_test, "income_test"), (_show_standard_1300, "standard is shown as"),
         (_change_citation, "cites G2"), (_delete_income_test, "the step income_test is missing"),
         (_change_expression, "is not part of its expression")]
EDIT_IDS = ["flip-outcome", "standard-1300", "citation", "delete-step", "expression"]


@pytest.mark.parametrize(("edit", "expected"), EDITS, ids=EDIT_IDS)
def test_verify_rederives_what_a_consistent_edit_changed(record: dict[str, Any],
                                                         edit: Callable[[dict[str, Any]], None], expected: str) -> None:
    """An edit of a step, with record_hash recomputed, is found by re-deriving the record, without the policies."""
    edited = copy.deepcopy(record)
    edit(edited)
    problems = verify_record(rehash(edited))
    assert any(expected in p for p in problems), problems


def _thorough_standard(rec: dict[str, Any]) -> None:
    """Show the standard as 1300.00 everywhere, with every value that follows from it recomputed."""
    dibao = rec["decision"]["programs"]["dibao"]
    for step in dibao["steps"]:
        for item in step["inputs"]:
            if item.get("name") == "standard":
                item["value"] = "1300.00"
    _show_standard_1300(rec)
    asset = _step(rec, "financial_asset_test")["comparisons"][0]["pairs"][0]
    asset["right"]["value"], asset["difference"] = "31200.00", "-27200.00"
    _step(rec, "amount")["value"] = dibao["amount"] = "1500.00"


def _thorough_citation(rec: dict[str, Any]) -> None:
    """Change the document number of G2 in every step citing it and in the table of sources."""
    for step in rec["decision"]["programs"]["dibao"]["steps"]:
        if (step.get("source") or {}).get("id") == "G2":
            step["source"]["document"] = "粤民规字〔2019〕99号"
    rec["decision"]["sources"]["G2"]["document"] = "粤民规字〔2019〕99号"


def _thorough_delete(rec: dict[str, Any]) -> None:
    """Delete income_test and every trace of it in the steps that read it."""
    _delete_income_test(rec)
    for step in rec["decision"]["programs"]["dibao"]["steps"]:
        step["inputs"] = [i for i in step["inputs"] if i.get("name") != "income_test"]


def _thorough_expression(rec: dict[str, Any]) -> None:
    """Record income_test's rule, its comparison and its operator as `<=`."""
    step = _step(rec, "income_test")
    step["expression"] = step["comparisons"][0]["expression"] = "income_per_capita <= standard"
    step["comparisons"][0]["pairs"][0]["op"] = "<="


@pytest.mark.parametrize(("edit", "expected"), [
    (_flip_income_test, "income_test"),
    (_thorough_standard, "shows the parameter standard with value \"1300.00\", but the policy set says \"1282.00\""),
    (_thorough_citation, "decision.sources.G2 is"),
    (_thorough_delete, "the step income_test is missing (the policy set defines it)"),
    (_thorough_expression, "its expression is \"income_per_capita <= standard\", but the policy set says"),
], ids=EDIT_IDS)
def test_verify_against_the_policies_catches_a_thorough_forgery(engine: eligibility.Engine, record: dict[str, Any],
                                                                edit: Callable[[dict[str, Any]], None],
                                                                expected: str) -> None:
    """A forgery consistent in every copy of the record is found against the policy set the record names."""
    edited = copy.deepcopy(record)
    edit(edited)
    rehash(edited)
    problems = verify_record(edited, engine)
    assert any(expected in p for p in problems), problems
    assert verify_record(record, engine) == []


def test_verify_against_other_policies_is_refused(record: dict[str, Any], policy_dir: Callable[..., Path]) -> None:
    """Checking an intact record against another policy set is a typed error naming both hashes."""
    other = demo(policy_dir)
    with pytest.raises(eligibility.InputError) as e:
        verify_record(record, other)
    assert e.value.kind == "mismatch" and other.policy_hash in str(e.value)


PER_VEHICLE = """\
program: per_vehicle
title: {zh: 按车辆, en: Per vehicle}
jurisdiction: "000000"
each: v in household.vehicles
sources:
  S1: {title: 演示文件, document: 演示〔2024〕1号, confidence: C}
parameters:
  grant: {type: money, title: {zh: 补贴, en: Grant}, source: S1, values: {2020-01-01: 100}}
rules:
  is_bike:
    title: {zh: 自行车, en: A bike}
    each: v in household.vehicles
    when: v.kind == "bike"
    source: S1
eligible: v.is_bike
amount: grant
"""
VEHICLES = """\
  vehicles:
    type: list
    required: false
    default: []
    label: {zh: 车辆, en: Vehicles}
    fields:
      id: {type: text, label: {zh: 编号, en: Id}}
      kind:
        type: enum
        label: {zh: 类型, en: Kind}
        values: {car: {zh: 汽车, en: car}, bike: {zh: 自行车, en: bike}}
"""


@pytest.mark.parametrize("edit", ["member", "rule"])
def test_verify_checks_per_record_results_of_any_list(policy_dir: Callable[..., Path], edit: str) -> None:
    """A program decided per vehicle has its per-record results checked like one decided per member."""
    engine = eligibility.load(policy_dir({"v.yaml": PER_VEHICLE}, facts=FACTS + VEHICLES))
    household = {**person(), "vehicles": [{"id": "v1", "kind": "car"}, {"id": "v2", "kind": "bike"}]}
    rec = make_record(engine.decide(household, on="2024-01-01"), household)
    assert verify_record(rec, engine) == []
    prog = rec["decision"]["programs"]["per_vehicle"]
    if edit == "member":
        prog["members"][0].update(eligible=True, amount="100.00")
        prog["amount"] = "200.00"
        expected = "programs.per_vehicle.members[0].eligible is true but its trace computed false"
    else:
        step = next(s for s in prog["steps"] if s["name"] == "is_bike")
        step["value"][0].update(value=True, outcome="passed")
        expected = "household.vehicles[0] is true but its expression gives false"
    problems = verify_record(rehash(rec))
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("bad", [
    None, [], "text", {}, {"schema": SCHEMA},
    {"schema": SCHEMA, "record_hash": "sha256:x", "input": {}, "decision": [], "policy": {}, "decided_for": 1,
     "library_version": None},
], ids=["none", "list", "text", "empty", "schema-only", "wrong-types"])
def test_malformed_records_give_problems_not_exceptions(bad: object) -> None:
    """Anything that is not a record gives a list of problems, never a raw exception."""
    problems = verify_record(bad)
    assert problems and all(isinstance(p, str) for p in problems)


def test_float_nan_and_deep_nesting_are_problems(record: dict[str, Any]) -> None:
    """A float, a NaN or 10,000 nested lists in a record are reported as not canonical."""
    for value in (1.5, float("nan")):
        edited = copy.deepcopy(record)
        edited["input"]["assessed_monthly_income"] = value
        assert any("floating-point" in p for p in verify_record(edited))
    deep: Any = []
    for _ in range(10_000):
        deep = [deep]
    edited = copy.deepcopy(record)
    edited["input"]["x"] = deep
    assert any("nested" in p for p in verify_record(edited))


def test_loads_record_refuses_duplicate_keys_and_nan() -> None:
    """A record's text with a key twice, or NaN, is refused with a typed error."""
    with pytest.raises(eligibility.InputError) as e:
        loads_record('{"a": 1, "a": 2}')
    assert e.value.kind == "duplicate"
    with pytest.raises(eligibility.InputError) as e:
        loads_record('{"a": NaN}')
    assert e.value.kind == "format"
    with pytest.raises(eligibility.InputError):
        loads_record("[" * 100_000)


# ------------------------------------------------------------------ replaying


def test_replay_with_the_same_policies_is_identical(engine: eligibility.Engine, record: dict[str, Any]) -> None:
    """Replaying a record with the policies it was made with gives the same decision, byte for byte."""
    result = replay(loads_record(dumps_record(record)), engine)
    assert result.identical and result.same_outcome and not result.tampered
    assert result.render().startswith("identical:")


def test_replay_names_the_parameter_and_file_that_changed(policy_dir: Callable[..., Path]) -> None:
    """A changed standard shows the new amount, the step values that moved, the file hash and the parameter."""
    old = demo(policy_dir)
    household = person()
    rec = make_record(old.decide(household, on="2024-01-01"), household)
    new = demo(policy_dir, DEMO.replace("2020-01-01: 1000", "2020-01-01: 1100"))
    result = replay(rec, new)
    assert not result.identical and not result.same_outcome
    assert {(d.program, d.field, d.old, d.new) for d in result.outcomes} == {("demo", "amount", "600.00", "700.00")}
    assert ("demo", "amount", "value") in {(d.program, d.step, d.field) for d in result.steps}
    assert [(f.path, f.change) for f in result.files] == [("demo.yaml", "changed")]
    assert ("demo", "standard", "value", "1000.00", "1100.00") in {
        (d.program, d.step, d.field, d.old, d.new) for d in result.parameters}
    text = result.render()
    assert text.startswith("different: another outcome")
    assert "changed demo.yaml" in text and "changed parameter demo.standard" in text


def test_replay_names_a_changed_rule(policy_dir: Callable[..., Path]) -> None:
    """A rule whose expression changed is named with both expressions, even when the outcome is the same."""
    old = demo(policy_dir)
    household = person()
    rec = make_record(old.decide(household, on="2024-01-01"), household)
    result = replay(rec, demo(policy_dir, DEMO.replace("when: per_capita < standard", "when: per_capita <= standard")))
    assert not result.identical and result.same_outcome
    assert "changed rule demo.low_income: expression \"per_capita < standard\" -> \"per_capita <= standard\"" \
        in result.causes()
    assert result.render().startswith("different: the same outcome, another trace")


def test_replay_names_another_library_version(engine: eligibility.Engine, record: dict[str, Any]) -> None:
    """A record made by another library version says so among the causes."""
    edited = copy.deepcopy(record)
    edited["library_version"] = edited["decision"]["library_version"] = "0.0.9"
    result = replay(rehash(edited), engine)
    assert not result.identical
    assert any("another library version: 0.0.9" in c for c in result.causes())
    assert ("library_version", "0.0.9", eligibility.__version__) in result.paths


def test_replay_of_a_tampered_record_does_not_decide(engine: eligibility.Engine, record: dict[str, Any]) -> None:
    """A tampered record is reported as such and not replayed."""
    edited = copy.deepcopy(record)
    edited["input"]["assessed_monthly_income"] = "100.00"
    result = replay(edited, engine)
    assert result.tampered and not result.identical
    assert result.render().startswith("tampered:")


def test_replay_when_the_facts_no_longer_accept_the_input(policy_dir: Callable[..., Path]) -> None:
    """A household the new facts vocabulary rejects gives an error in the result, not an exception."""
    old = demo(policy_dir)
    household = person()
    household["financial_assets"] = "5.00"
    rec = make_record(old.decide(household, on="2024-01-01"), household)

    facts = FACTS.replace("  financial_assets: {type: money, label: {zh: 金融资产, en: Financial assets}, "
                          "required: false, default: 0}\n", "")
    new = eligibility.load(policy_dir({"demo.yaml": DEMO}, facts=facts))
    result = replay(rec, new)
    assert not result.identical and result.error is not None
    assert "financial_assets" in result.error
    assert result.render().startswith("error:")
    assert json.dumps(result.to_json())


# ------------------------------------------------------------------ the command line


def test_cli_decide_record_then_replay_identical(tmp_path: Path) -> None:
    """`decide --record OUT` writes a verifiable record; `replay OUT` says identical and exits 0."""
    out = tmp_path / "r.json"
    res = run("decide", str(EXAMPLE), "--on", ON, "--policies", str(FIXTURE), "--record", str(out))
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["programs"]["dibao"]["amount"] == "1446.00"
    rec = loads_record(out.read_text(encoding="utf-8"))
    assert verify_record(rec) == []
    assert out.read_text(encoding="utf-8") == dumps_record(rec)
    res = run("replay", str(out), "--policies", str(FIXTURE))
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("identical:")
    res = run("replay", str(out), "--policies", str(FIXTURE), "--format", "json")
    assert json.loads(res.stdout)["identical"] is True


def test_cli_replay_tampered_or_different_exits_1(tmp_path: Path, policy_dir: Callable[..., Path]) -> None:
    """`replay` exits 1 for a tampered record and for a record the policies now decide differently."""
    out = tmp_path / "r.json"
    run("decide", str(EXAMPLE), "--on", ON, "--policies", str(FIXTURE), "--record", str(out))
    text = out.read_text(encoding="utf-8")
    tampered = tmp_path / "t.json"
    tampered.write_text(text.replace('"2400.00"', '"2000.00"', 1), encoding="utf-8")
    res = run("replay", str(tampered), "--policies", str(FIXTURE))
    assert res.exit_code == 1 and res.stdout.startswith("tampered:")
    dup = tmp_path / "d.json"
    dup.write_text(text.replace('{\n  "decided_for"', '{\n  "decided_for": "2024-01-01",\n  "decided_for"', 1),
                   encoding="utf-8")
    res = run("replay", str(dup))
    assert res.exit_code == 1 and "twice" in res.stdout
    engine = demo(policy_dir)
    household = person()
    demo_rec = tmp_path / "demo.json"
    demo_rec.write_text(dumps_record(make_record(engine.decide(household, on="2024-01-01"), household)),
                        encoding="utf-8")
    changed = policy_dir({"demo.yaml": DEMO.replace("2020-01-01: 1000", "2020-01-01: 900")})
    res = run("replay", str(demo_rec), "--policies", str(changed))
    assert res.exit_code == 1
    assert res.stdout.startswith("different: another outcome")
    assert "demo.amount: \"600.00\" -> \"500.00\"" in res.stdout


@pytest.mark.parametrize("content", [None, "not json", b"\xff\xfe"], ids=["missing", "not-json", "not-utf8"])
def test_cli_replay_unreadable_record_exits_2(tmp_path: Path, content: str | bytes | None) -> None:
    """A record file that is missing, not JSON or not UTF-8 is a usage error (exit 2)."""
    path = tmp_path / "r.json"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif isinstance(content, bytes):
        path.write_bytes(content)
    res = run("replay", str(path))
    assert res.exit_code == 2
    assert "r.json" in res.stderr


def test_cli_decide_record_unwritable_exits_2(tmp_path: Path) -> None:
    """A record path that cannot be written is a usage error (exit 2)."""
    res = run("decide", str(EXAMPLE), "--on", ON, "--record", str(tmp_path / "no" / "such" / "r.json"))
    assert res.exit_code == 2
    assert "cannot write" in res.stderr


def test_cli_verify_says_intact_and_explains_the_record_as_recorded(tmp_path: Path) -> None:
    """`verify RECORD` exits 0 for an intact record; `--explain` prints the stored decision's explanation."""
    out = tmp_path / "r.json"
    run("decide", str(EXAMPLE), "--on", ON, "--policies", str(FIXTURE), "--record", str(out))
    res = run("verify", str(out))
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("intact: record sha256:")
    res = run("verify", str(out), "--explain", "text", "--lang", "zh")
    assert res.exit_code == 0
    assert res.stdout.splitlines()[0].endswith("符合条件，每月金额 1,446.00 元")
    assert res.stderr.startswith("完整：记录 sha256:")  # --lang zh: the command's own lines too
    html = run("verify", str(out), "--explain", "html", "--lang", "en")
    assert html.stdout.startswith("<!DOCTYPE html>")
    tampered = tmp_path / "t.json"
    tampered.write_text(out.read_text(encoding="utf-8").replace('"1446.00"', '"1946.00"'), encoding="utf-8")
    res = run("verify", str(tampered), "--explain", "text")
    assert res.exit_code == 1
    assert res.stdout.startswith("tampered:") and "符合条件" not in res.stdout
    assert run("verify", str(tmp_path / "none.json")).exit_code == 2


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a JSON value."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, (*prefix, i)))
    return out


def test_every_mangled_field_gives_problems_or_a_result_never_an_exception(policy_dir: Callable[..., Path]) -> None:
    """Replacing any field of a record (hash recomputed) by null, a list, text or a number never raises."""
    engine = demo(policy_dir)
    household = person()
    rec = make_record(engine.decide(household, on="2024-01-01"), household)
    for path in _paths(rec):
        if path == ("record_hash",):
            continue
        for junk in (None, [], "x", 7, {}):
            edited = copy.deepcopy(rec)
            target = edited
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = junk
            rehash(edited)
            problems = verify_record(edited)
            assert all(isinstance(p, str) for p in problems)
            result = replay(edited, engine)
            assert result.render() and json.dumps(result.to_json(), default=str)
            if isinstance(edited.get("decision"), dict):
                for fmt in ("text", "html"):
                    # what `verify --explain` reports as "not a decision/1 trace"
                    with contextlib.suppress(KeyError, TypeError, ValueError, AttributeError, IndexError,
                                             ArithmeticError):
                        render(edited["decision"], lang="en", fmt=fmt)


def test_cli_verify_with_policies_checks_the_rules_and_refuses_other_policies(tmp_path: Path,
                                                                               policy_dir: Callable[..., Path]) -> None:
    """`verify --policies DIR` finds a thorough forgery, says what it checked, refuses another policy set (exit 2)."""
    out = tmp_path / "r.json"
    run("decide", str(EXAMPLE), "--on", ON, "--policies", str(FIXTURE), "--record", str(out))
    res = run("verify", str(out), "--policies", str(FIXTURE))
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[1] == f"  checked against the policies in {FIXTURE}: rule texts, parameter " \
        "values and citations"
    assert "not checked against policy files" in run("verify", str(out)).stdout
    forged = loads_record(out.read_text(encoding="utf-8"))
    _thorough_expression(forged)
    (tmp_path / "f.json").write_text(dumps_record(rehash(forged)), encoding="utf-8")
    res = run("verify", str(tmp_path / "f.json"), "--policies", str(FIXTURE))
    assert res.exit_code == 1 and res.stdout.startswith("tampered:")
    assert "income_test: its expression is \"income_per_capita <= standard\"" in res.stdout
    res = run("verify", str(out), "--policies", str(policy_dir({"demo.yaml": DEMO})))
    assert res.exit_code == 2 and "not the record's" in res.stderr


def test_cli_verify_uses_the_bundled_policies_when_they_are_the_records(tmp_path: Path) -> None:
    """A record of the bundled policies is checked against them without --policies, and says so."""
    out = tmp_path / "r.json"
    assert run("decide", str(EXAMPLE), "--on", ON, "--record", str(out)).exit_code == 0
    res = run("verify", str(out))
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[1].startswith("  checked against the bundled policies (the record's policy set)")


# ------------------------------------------------------------------ RFC 8785 (schema 2) and schema 1


#: RFC 8785 appendix B: IEEE 754 doubles (hex) and how they are written.
RFC8785_NUMBERS = [
    ("0000000000000000", "0"), ("8000000000000000", "0"), ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"), ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"), ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"), ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"), ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"), ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"), ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"), ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"), ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"), ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"), ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "text"), RFC8785_NUMBERS, ids=[b for b, _ in RFC8785_NUMBERS])
def test_rfc8785_number_vectors(bits: str, text: str) -> None:
    """Our canonicaliser writes each double of RFC 8785 appendix B as the RFC does (1e30 as 1e+30)."""
    assert jcs_bytes(struct.unpack(">d", bytes.fromhex(bits))[0]) == text.encode()
    assert jcs_bytes(1e30) == b"1e+30"


def test_rfc8785_examples_of_the_text() -> None:
    """The RFC's example of section 3.2.2 and its key order of section 3.2.3 (UTF-16 code units) come out as printed."""
    value = {"numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
             "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"/", "literals": [None, True, False]}
    assert jcs_bytes(value) == ('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
                                '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}').encode()
    keys = {"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One", "\U0001F600": "Emoji: Grinning Face", "\u0080": "Control",
            "\u00f6": "Latin Small Letter O With Diaeresis"}
    order = list(json.loads(jcs_bytes(keys)))
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001F600", "\ufb33"]
    assert sorted(keys) != order, "Python's code-point order differs here: the emoji after U+FB33"


def test_record_hash_is_sha256_of_the_rfc8785_form(record: dict[str, Any]) -> None:
    """A record of schema 2 hashes the RFC 8785 bytes of every key but record_hash, which any language can redo."""
    assert record["schema"] == SCHEMA == "eligibility.record/2"
    rest = {k: v for k, v in record.items() if k != "record_hash"}
    assert record["record_hash"] == "sha256:" + hashlib.sha256(jcs_bytes(rest)).hexdigest()


def test_money_is_text_and_integers_are_exact_in_a_record(record: dict[str, Any]) -> None:
    """Every amount in a record is a decimal string; every number is an integer RFC 8785 writes exactly."""
    stack: list[Any] = [record]
    amounts = 0
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        else:
            assert not isinstance(value, float)
            if isinstance(value, int) and not isinstance(value, bool):
                assert abs(value) <= MAX_SAFE_INTEGER
            if isinstance(value, str) and re.fullmatch(r"-?\d+\.\d\d", value):
                amounts += 1
    assert amounts > 10
    assert json.loads(jcs_bytes(record)) == record


def test_an_integer_beyond_2_53_is_refused_in_a_record(record: dict[str, Any]) -> None:
    """RFC 8785 writes numbers as doubles: 2**53 in a record is not canonical, for dumps_record and verify_record."""
    edited = copy.deepcopy(record)
    edited["input"]["household_size"] = MAX_SAFE_INTEGER + 1
    assert json_problems(edited, safe_integers=True)
    assert json_problems(edited) == []
    with pytest.raises(eligibility.InputError, match="RFC 8785 cannot write exactly"):
        dumps_record(edited)
    assert any("beyond" in p for p in verify_record(edited))


V1 = ROOT / "tests" / "fixtures" / "records" / "demo-v1.json"


def test_a_record_of_schema_1_is_verified_by_its_own_rule() -> None:
    """A record made before RFC 8785 (eligibility.record/1) still verifies, by the sorted-keys rule it was made with."""
    old = loads_record(V1.read_text(encoding="utf-8"))
    assert old["schema"] == SCHEMA_V1
    assert verify_record(old) == []
    rest = {k: v for k, v in old.items() if k != "record_hash"}
    assert old["record_hash"] == "sha256:" + hashlib.sha256(canonical_bytes(rest)).hexdigest()
    edited = copy.deepcopy(old)
    edited["input"]["assessed_monthly_income"] = "300.5"
    assert any("record_hash does not match" in p for p in verify_record(edited))
    relabelled = copy.deepcopy(old)
    relabelled["schema"] = SCHEMA
    assert any("record_hash does not match" in p for p in verify_record(relabelled))


def test_the_two_rules_differ_where_python_and_rfc8785_order_keys_differently() -> None:
    """Keys beyond the BMP sort before U+FF61 by code point, after it by UTF-16: each schema hashes by its own rule."""
    body = {"input": {"\U0001F600": 1, "\uff61": 2}}
    assert canonical_bytes(body) != jcs_bytes(body)
    v1 = record_hash({**body, "schema": SCHEMA_V1})
    v2 = record_hash({**body, "schema": SCHEMA})
    assert v1 == "sha256:" + hashlib.sha256(canonical_bytes({**body, "schema": SCHEMA_V1})).hexdigest()
    assert v2 == "sha256:" + hashlib.sha256(jcs_bytes({**body, "schema": SCHEMA})).hexdigest()
