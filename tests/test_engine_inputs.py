"""Household input and public arguments: duplicate keys, vocabulary constraints, ids, typed argument
errors, exit codes, money in the trace, the caller's decimal context, the why-not work bound and
reproducible property searches (issue 10 items 2, 3, 4, 10b, 11, 12, 13, 14, 16)."""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import json
import re
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

import eligibility
from conftest import DEMO_FLAT
from eligibility import InputError, PolicyError
from eligibility.cli import build
from eligibility.engine.jsonin import loads_household

ROOT = Path(__file__).parent.parent
BUNDLED = ROOT / "policies"
EXAMPLE = ROOT / "examples" / "huadu-family.json"
FAMILY = json.loads(EXAMPLE.read_text(encoding="utf-8"))
FIXTURE = Path(__file__).parent / "fixtures" / "dibao"
ON = "2024-09-01"
SCHEMA = json.loads((ROOT / "docs" / "reference" / "trace.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def bundled() -> eligibility.Engine:
    """The bundled policies (their facts vocabulary declares the household constraints)."""
    return eligibility.load()


def family(**changes: Any) -> dict[str, Any]:
    """A fresh copy of the README family with top-level fields replaced."""
    h = copy.deepcopy(FAMILY)
    h.update(changes)
    return h


def refused(engine: eligibility.Engine, household: object) -> InputError:
    """Decide and return the InputError that must be raised."""
    with pytest.raises(InputError) as info:
        engine.decide(household, on=ON)  # type: ignore[arg-type]
    return info.value


def cli(*args: str, stdin: str | None = None) -> Any:
    """Run the eligibility command in-process."""
    return CliRunner().invoke(build(), list(args), input=stdin)


# ------------------------------------------------------------------ 2: duplicate keys, BOM


def test_a_key_given_twice_is_refused_with_its_path() -> None:
    """The shared reader refuses a key given twice anywhere, naming each by its path; the last value never wins."""
    with pytest.raises(InputError) as info:
        loads_household('{"assets": "500.00", "assets": "5.00", "members": [{"id": "a"}, '
                        '{"id": "b", "income": "1", "income": "2"}]}')
    assert [(p.path, p.kind) for p in info.value.problems] == [("assets", "duplicate"),
                                                               ("members[1].income", "duplicate")]
    assert loads_household('\ufeff{"a": 1.5}') == {"a": Decimal("1.5")}  # a BOM is accepted
    assert loads_household(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


def test_cli_decide_refuses_a_duplicate_key_as_an_invalid_household(tmp_path: Path) -> None:
    """`decide` on JSON text with "assessed_monthly_income" twice exits 1 naming the path, not deciding on 5.00."""
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        '"assessed_monthly_income": "2400.00",',
        '"assessed_monthly_income": "9400.00", "assessed_monthly_income": "5.00",')
    result = cli("decide", "-", "--on", ON, "--program", "dibao", stdin=text)
    assert result.exit_code == 1, result.output
    problems = json.loads(result.output)["problems"]
    assert problems[0]["path"] == "assessed_monthly_income" and problems[0]["kind"] == "duplicate"
    explained = cli("explain", "-", "--on", ON, stdin=text)
    assert explained.exit_code == 1 and "assessed_monthly_income: duplicate" in explained.output


def test_cli_decide_accepts_a_bom(tmp_path: Path) -> None:
    """A household file saved with a UTF-8 BOM decides as without one."""
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + EXAMPLE.read_bytes())
    with_bom = cli("decide", str(path), "--on", ON, "--program", "dibao")
    plain = cli("decide", str(EXAMPLE), "--on", ON, "--program", "dibao")
    assert with_bom.exit_code == 0, with_bom.output
    assert with_bom.output == plain.output


def test_decide_many_and_batch_refuse_a_duplicate_key(tmp_path: Path) -> None:
    """decide_many on JSON text and `batch` report a duplicate key as an input error with its path."""
    line = '{"assessed_monthly_income": "500.00", "assessed_monthly_income": "5.00", "members": []}'
    [result] = list(eligibility.decide_many(FIXTURE, [line], on=ON))
    assert result.error is not None and result.error.kind == "input"
    assert [(p.path, p.kind) for p in result.error.problems] == [("assessed_monthly_income", "duplicate")]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\xef\xbb\xbf" + json.dumps(FAMILY).encode() + b"\n" + line.encode() + b"\n")
    out = tmp_path / "out.jsonl"
    run = cli("batch", str(source), "-o", str(out), "--on", ON, "-p", str(FIXTURE))
    assert run.exit_code == 1, run.output
    first, second = (json.loads(x) for x in out.read_text(encoding="utf-8").splitlines())
    assert first["programs"]  # the BOM of the first line is accepted
    assert second["error"]["problems"][0]["path"] == "assessed_monthly_income"


def test_diff_households_line_with_a_duplicate_key_is_an_input_error(tmp_path: Path) -> None:
    """`diff --households` counts a line with a key given twice as an input error, with the path."""
    lines = tmp_path / "h.jsonl"
    lines.write_text('{"assessed_monthly_income": "1.00", "assessed_monthly_income": "2.00"}\n', encoding="utf-8")
    result = cli("diff", str(FIXTURE), str(FIXTURE), "--households", str(lines), "--on", ON, "--format", "json")
    assert result.exit_code == 1, result.output
    errors = json.loads(result.output)["households"]["errors"]
    assert "assessed_monthly_income: duplicate" in errors[0]["message"]


# ------------------------------------------------------------------ 3: household constraints


def test_two_applicants_or_none_are_refused(bundled: eligibility.Engine) -> None:
    """The bundled vocabulary wants exactly one applicant: a second one, or none, is an input error with a path."""
    h = family()
    h["members"][1]["relation"] = "applicant"
    err = refused(bundled, h)
    assert [(p.path, p.kind) for p in err.problems] == [("members[1].relation", "constraint")]
    assert "exactly one applicant" in err.problems[0].message
    h["members"][0]["relation"] = h["members"][1]["relation"] = "spouse"
    assert [(p.path, p.kind) for p in refused(bundled, h).problems] == [("members", "constraint")]


def test_a_thousand_identical_members_are_refused(bundled: eligibility.Engine) -> None:
    """1,000 copies of one member get no decision: too many members, repeated ids and applicants."""
    err = refused(bundled, family(members=[FAMILY["members"][0]] * 1000))
    kinds = {(p.path, p.kind) for p in err.problems}
    assert ("members", "limit") in kinds and ("members[1].id", "duplicate") in kinds
    assert ("members[1].relation", "constraint") in kinds
    assert "at most 50" in next(p.message for p in err.problems if p.kind == "limit")


def test_fifty_members_is_the_largest_household(bundled: eligibility.Engine) -> None:
    """50 distinct members with one applicant decide; 51 are refused with the stated reason."""
    members = [dict(FAMILY["members"][2], id=f"m{i}", relation="child") for i in range(51)]
    members[0]["relation"] = "applicant"
    assert bundled.decide(family(members=members[:50]), ON, ["dibao"], trace=False).programs["dibao"]
    err = refused(bundled, family(members=members))
    assert err.problems[0].path == "members" and "not a real household" in err.problems[0].message


CONSTRAINED = """\
facts: 1
household:
  members:
    type: list
    min_items: 1
    label: {zh: 成员, en: Members}
    constraints:
      - count_where: {role: head}
        min: 1
        max: 2
        reason: {zh: 一至二名户主, en: one or two heads}
      - unique: seat
        reason: {zh: 座位不同, en: seats differ}
      - max_items: 3
        reason: {zh: 至多三人, en: three at most}
    fields:
      id: {type: text, label: {zh: 编号, en: Id}}
      seat: {type: integer, label: {zh: 座位, en: Seat}}
      role:
        type: enum
        label: {zh: 角色, en: Role}
        values: {head: {zh: 户主, en: head}, other: {zh: 其他, en: other}}
"""

PROGRAM = """\
program: demo
title: {zh: 演示, en: Demo}
jurisdiction: "000000"
sources:
  S1: {title: 演示文件, document: 演示〔2024〕1号, confidence: C}
rules:
  some:
    title: {zh: 有成员, en: Has members}
    when: count(household.members) > 0
    source: S1
eligible: some
"""


def test_declared_constraints_are_enforced_with_paths(policy_dir: Callable[..., Path]) -> None:
    """count_where (min/max), unique and max_items of a vocabulary are checked, fast path or not."""
    engine = eligibility.load(policy_dir({"demo.yaml": PROGRAM}, facts=CONSTRAINED))

    def member(i: int, role: str = "other", seat: int | None = None) -> dict[str, Any]:
        return {"id": f"m{i}", "seat": i if seat is None else seat, "role": role}

    assert engine.decide({"members": [member(0, "head"), member(1, "head")]}, ON).programs["demo"].eligible
    cases = {
        "none": ([member(0), member(1)], [("members", "constraint")]),
        "three heads": ([member(0, "head"), member(1, "head"), member(2, "head")],
                        [("members[2].role", "constraint")]),
        "same seat": ([member(0, "head"), member(1, seat=0)], [("members[1].seat", "duplicate")]),
        "four": ([member(0, "head"), *(member(i) for i in range(1, 4))], [("members", "limit")]),
        "same id": ([member(0, "head"), dict(member(1), id="m0")], [("members[1].id", "duplicate")]),
    }
    for name, (members, expected) in cases.items():
        err = refused(engine, {"members": members})
        assert [(p.path, p.kind) for p in err.problems] == expected, name


BAD_CONSTRAINTS = """\
facts: 1
household:
  note:
    type: text
    label: {zh: 备注, en: Note}
    constraints:
      - unique: x
        reason: {zh: 无, en: none}
  members:
    type: list
    max_items: 10
    label: {zh: 成员, en: Members}
    constraints:
      - unique: sead
        reason: {zh: 座位, en: seat}
      - count_where: {role: chief}
        exactly: 1
        reason: {zh: 户主, en: head}
      - max_items: 20
        reason: {zh: 人数, en: size}
      - unique: seat
      - unique: seat
        max_items: 3
        reason: {zh: 两种, en: two}
      - count_where: {role: head}
        reason: {zh: 无界, en: no bound}
    fields:
      id: {type: integer, label: {zh: 编号, en: Id}}
      seat: {type: integer, label: {zh: 座位, en: Seat}}
      role:
        type: enum
        label: {zh: 角色, en: Role}
        values: {head: {zh: 户主, en: head}, other: {zh: 其他, en: other}}
"""


def test_bad_constraints_are_reported_at_load_time(policy_dir: Callable[..., Path],
                                                   golden: Callable[[str, str], None]) -> None:
    """Each mistake in `constraints:` (and an id that is not required text) is an error at its file:line:col."""
    with pytest.raises(PolicyError) as info:
        eligibility.load(policy_dir({"demo.yaml": PROGRAM}, facts=BAD_CONSTRAINTS))
    errors = [(d.span.line if d.span else 0, d.code) for d in info.value.diagnostics if d.severity == "error"]
    assert errors == [(7, "constraint"), (14, "constraint"), (16, "enum-default"), (19, "constraint"),
                      (21, "missing-key"), (22, "constraint"), (25, "constraint"), (28, "facts-id")]
    golden("constraints-errors.txt", info.value.render())


# ------------------------------------------------------------------ 4: ids


def test_member_ids_must_be_non_empty_text(bundled: eligibility.Engine) -> None:
    """Two members with id 1 (a number) or an empty id are refused, never collapsed into one result."""
    h = family()
    h["members"][0]["id"] = h["members"][1]["id"] = 1
    assert [(p.path, p.kind) for p in refused(bundled, h).problems] == [("members[0].id", "type"),
                                                                       ("members[1].id", "type")]
    h["members"][0]["id"] = ""
    assert ("members[0].id", "format") in {(p.path, p.kind) for p in refused(bundled, h).problems}


def test_per_record_values_are_keyed_by_each_id(bundled: eligibility.Engine) -> None:
    """value() of a per-member rule has one entry per member, keyed by its id."""
    d = bundled.decide(family(), ON, ["tekun"])
    assert set(d.value("tekun", "eligible")) == {"m1", "m2", "m3"}


# ------------------------------------------------------------------ 10b: unknown keys


def test_unknown_key_keeps_the_raw_key_in_its_path(engine: eligibility.Engine) -> None:
    """An unknown key with a zero-width space is the raw key in the problem's path, shown readable in the message."""
    err = refused(engine, family(**{"note\u200b": 1}))
    assert err.problems[0].path == "note\u200b"
    assert "noteU+200B: unknown" in str(err) and "\u200b" not in str(err)
    long = "k" * 300
    err = refused(engine, family(**{long: 1}))
    assert err.problems[0].path == "household" and "300 characters" in err.problems[0].message


# ------------------------------------------------------------------ 12: typed argument errors


def _decision(engine: eligibility.Engine) -> eligibility.Decision:
    return engine.decide(family(assessed_monthly_income="9000.00"), ON)


CALLS: dict[str, tuple[str, Callable[[eligibility.Engine], object]]] = {
    "programs=123": ("programs", lambda e: e.decide(family(), ON, programs=123)),  # type: ignore[arg-type]
    "programs=[1]": ("programs", lambda e: e.decide(family(), ON, programs=[1])),  # type: ignore[list-item]
    "unknown program": ("programs", lambda e: e.decide(family(), ON, programs=["nope"])),
    "ISO week date": ("on", lambda e: e.decide(family(), "2024-W01-1")),
    "compact date": ("on", lambda e: e.decide(family(), "20240101")),
    "date and time": ("on", lambda e: e.decide(family(), dt.datetime(2024, 1, 1, 8))),
    "not a calendar date": ("on", lambda e: e.decide(family(), "2024-02-30")),
    "trace='no'": ("trace", lambda e: e.decide(family(), ON, trace="no")),  # type: ignore[arg-type]
    "strict=1": ("strict", lambda e: e.decide(family(), ON, strict=1)),  # type: ignore[arg-type]
    "jurisdiction=12": ("jurisdiction", lambda e: eligibility.load(FIXTURE, jurisdiction=12)),  # type: ignore[arg-type]
    "jurisdiction='44'": ("jurisdiction", lambda e: eligibility.load(FIXTURE, jurisdiction="44")),
    "path=12": ("path", lambda e: eligibility.load(12)),  # type: ignore[arg-type]
    "lang='fr'": ("lang", lambda e: _decision(e).explain(lang="fr")),
    "fmt='pdf'": ("fmt", lambda e: _decision(e).explain(fmt="pdf")),
    "max_probes=-1": ("max_probes", lambda e: _decision(e).why_not(max_probes=-1)),
    "max_work='x'": ("max_work", lambda e: _decision(e).why_not(max_work="x")),  # type: ignore[arg-type]
    "near_miss=2": ("near_miss", lambda e: _decision(e).why_not(near_miss=2)),
    "why_not programs=5": ("programs", lambda e: _decision(e).why_not(5)),  # type: ignore[arg-type]
    "to_json(why_not='y')": ("why_not", lambda e: _decision(e).to_json(why_not="y")),  # type: ignore[arg-type]
    "value unknown program": ("program", lambda e: _decision(e).value("nope", "eligible")),
    "value unknown name": ("name", lambda e: _decision(e).value("dibao", "incme_test")),
    "value name=1": ("name", lambda e: _decision(e).value("dibao", 1)),  # type: ignore[arg-type]
    "parameters_needed(5)": ("programs", lambda e: e.parameters_needed(5)),  # type: ignore[arg-type]
    "check_programs(None)": ("programs", lambda e: e.check_programs(None)),  # type: ignore[arg-type]
    "decide_many programs=123": ("programs", lambda e: eligibility.decide_many(e, [], on=ON, programs=123)),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("call", list(CALLS))
def test_bad_arguments_raise_an_input_error_naming_the_argument(engine: eligibility.Engine, call: str) -> None:
    """Every bad public argument is an InputError naming it, whose message does not say "household"."""
    name, f = CALLS[call]
    with pytest.raises(InputError) as info:
        f(engine)
    assert info.value.problems[0].path == name
    assert "household" not in str(info.value)
    assert str(info.value).startswith("invalid arguments")


def test_an_unknown_definition_is_still_a_key_error(engine: eligibility.Engine) -> None:
    """value() of an unknown name is an InputError that older callers catching KeyError still catch."""
    with pytest.raises(KeyError, match="did you mean 'income_test'"):
        _decision(engine).value("dibao", "incme_test")


BAD_OPTIONS = {
    "decide --on": ["decide", str(EXAMPLE), "--on", "2024-W01-1", "-p", str(FIXTURE)],
    "explain --on": ["explain", str(EXAMPLE), "--on", "2024-13-01", "-p", str(FIXTURE)],
    "batch --on": ["batch", str(EXAMPLE), "-o", "OUT", "--on", "20240101", "-p", str(FIXTURE)],
    "diff --on": ["diff", str(FIXTURE), str(FIXTURE), "--on", "2024-W01-1"],
    "decide --program": ["decide", str(EXAMPLE), "--on", ON, "-p", str(FIXTURE), "--program", "nope"],
    "explain --program": ["explain", str(EXAMPLE), "--on", ON, "-p", str(FIXTURE), "--program", "nope"],
    "batch --program": ["batch", str(EXAMPLE), "-o", "OUT", "--on", ON, "-p", str(FIXTURE), "--program", "nope"],
    "decide --jurisdiction": ["decide", str(EXAMPLE), "--on", ON, "-j", "12"],
    "check --jurisdiction": ["check", str(FIXTURE), "-j", "abc"],
    "test --jurisdiction": ["test", str(FIXTURE), "-j", "4401"],
    "compile --jurisdiction": ["compile", str(FIXTURE), "-j", "x"],
    "batch --jurisdiction": ["batch", str(EXAMPLE), "-o", "OUT", "--on", ON, "-j", "12"],
    "test --seed": ["test", str(FIXTURE), "--seed", "-3"],
    "decide unknown option": ["decide", str(EXAMPLE), "--on", ON, "--nope"],
}


@pytest.mark.parametrize("command", list(BAD_OPTIONS))
def test_a_bad_option_exits_2_in_every_command(command: str, tmp_path: Path) -> None:
    """A bad --on, --program, --jurisdiction or --seed is a usage error, exit 2, whatever the command."""
    args = [str(tmp_path / "out.jsonl") if a == "OUT" else a for a in BAD_OPTIONS[command]]
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_exit_1_is_the_answer_no_in_every_command(tmp_path: Path) -> None:
    """An invalid household (decide, batch) and differences (diff) exit 1; success exits 0."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"members": []}\n', encoding="utf-8")
    assert cli("decide", str(bad), "--on", ON, "-p", str(FIXTURE)).exit_code == 1
    assert cli("batch", str(bad), "-o", str(tmp_path / "o.jsonl"), "--on", ON, "-p", str(FIXTURE)).exit_code == 1
    assert cli("decide", str(EXAMPLE), "--on", ON, "-p", str(FIXTURE)).exit_code == 0
    assert cli("diff", str(FIXTURE), str(FIXTURE)).exit_code == 0


# ------------------------------------------------------------------ 13: money in the trace

MONEY_ZERO = DEMO_FLAT.replace("rules:\n", """\
computed:
  supplement:
    title: {zh: 补差, en: Supplement}
    expr: 0 if household.assessed_monthly_income > standard else standard - household.assessed_monthly_income
rules:
""").replace("income < standard", "income + supplement < standard * 2") + "amount: supplement\n"


def test_money_computed_from_a_literal_zero_is_a_money_string(policy_dir: Callable[..., Path]) -> None:
    """`0 if ... else money` gives "0.00" in the trace (step and input) and Decimal("0.00") from value()."""
    engine = eligibility.load(policy_dir({"demo.yaml": MONEY_ZERO}))
    household = {"assessed_monthly_income": "1500.00",
                 "members": [{"id": "a", "birth_date": "1990-01-01", "sex": "male"}]}
    d = engine.decide(household, ON)
    trace = d.to_json()
    step = next(s for s in trace["programs"]["demo"]["steps"] if s["name"] == "supplement")
    assert step["value"] == "0.00"
    steps = trace["programs"]["demo"]["steps"]
    reads = [i["value"] for s in steps for i in s["inputs"] if i.get("name") == "supplement"]
    assert reads and set(reads) == {"0.00"}
    value = d.value("demo", "supplement")
    assert isinstance(value, Decimal) and str(value) == "0.00"
    jsonschema.validate(trace, SCHEMA)


def test_the_schema_rejects_an_integer_where_money_is_expected(engine: eligibility.Engine) -> None:
    """A trace whose money step holds the JSON number 0 fails the JSON Schema."""
    trace = engine.decide(family(), ON).to_json()
    jsonschema.validate(trace, SCHEMA)
    step = next(s for s in trace["programs"]["dibao"]["steps"] if s["type"] == "money" and isinstance(s["value"], str))
    step["value"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(trace, SCHEMA)


# ------------------------------------------------------------------ 14: the caller's decimal context


HOSTILE = decimal.Context(prec=3, rounding=decimal.ROUND_FLOOR, Emax=10, Emin=-10,
                          traps=[decimal.Inexact, decimal.Rounded, decimal.InvalidOperation, decimal.Overflow])


def _everything(engine: eligibility.Engine) -> tuple[str, ...]:
    d = engine.decide(family(assessed_monthly_income="4200.00"), ON)
    return (json.dumps(d.to_json(why_not=True), sort_keys=True), d.explain("en", why_not=True),
            d.explain("zh", "html"), json.dumps(d.why_not(), sort_keys=True),
            repr(d.value("dibao", "income_per_capita")), repr(d.value("tekun", "eligible")))


def test_a_hostile_decimal_context_changes_nothing(bundled: eligibility.Engine) -> None:
    """With the caller's precision 3 and Inexact trapped, decide, to_json, explain, why_not and value are identical."""
    expected = _everything(bundled)
    with decimal.localcontext(HOSTILE):
        assert _everything(bundled) == expected


def test_mutants_are_found_whatever_the_decimal_context(engine: eligibility.Engine) -> None:
    """find_mutants nudges values as the engine computes, not in the caller's context (no raw decimal.Inexact)."""
    from eligibility.testing.mutate import find_mutants

    expected = [m.to_json() for m in find_mutants(engine)]
    with decimal.localcontext(HOSTILE):
        assert [m.to_json() for m in find_mutants(engine)] == expected


# ------------------------------------------------------------------ 11: the why-not work bound


@pytest.fixture(scope="module")
def unbounded(tmp_path_factory: pytest.TempPathFactory) -> eligibility.Engine:
    """The bundled policies with the household-size constraint raised to the list's own limit (1,000)."""
    root = tmp_path_factory.mktemp("policies")
    shutil.copytree(BUNDLED, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("tests"))
    facts = root / "facts.yaml"
    text = facts.read_text(encoding="utf-8")
    assert "- max_items: 50" in text
    facts.write_text(text.replace("- max_items: 50", "- max_items: 1000"), encoding="utf-8")
    return eligibility.load(root)


def test_why_not_of_a_large_household_stops_at_the_work_bound(unbounded: eligibility.Engine) -> None:
    """A valid 1,000-member household's why-not stops at the work bound and says so, in the section and in words."""
    members = [dict(FAMILY["members"][1 + i % 2], id=f"m{i}", relation="child") for i in range(1000)]
    members[0]["relation"] = "applicant"
    d = unbounded.decide(family(members=members, assessed_monthly_income="999999.00"), ON)
    section = d.why_not()
    assert section["stopped"] == "work" and section["complete"] is False
    assert section["work"] <= section["max_work"] and section["probes"] < 1000
    assert "stopped at the bound on work" in section["note"]["en"]
    text = d.explain("en", why_not=True)
    assert "(the search stopped at its limit)" in text


def test_a_small_household_is_not_cut_by_the_work_bound(engine: eligibility.Engine) -> None:
    """The README family refused on income is analysed completely: no bound is hit, no note."""
    section = engine.decide(family(assessed_monthly_income="4200.00"), ON).why_not()
    assert section["complete"] is True and section["stopped"] is None and section["note"] is None


def test_a_low_probe_budget_is_named_as_the_bound(engine: eligibility.Engine) -> None:
    """With max_probes=3 the section says it stopped at the probe bound."""
    section = engine.decide(family(assessed_monthly_income="4200.00"), ON).why_not(max_probes=3)
    assert section["stopped"] == "probes" and section["note"] is not None and not section["complete"]


# ------------------------------------------------------------------ 16: reproducible property searches


def test_property_searches_are_reproducible_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """`eligibility test` is derandomized by default and gives the same output twice; --seed random prints its seed."""
    monkeypatch.delenv("ELIGIBILITY_HYPOTHESIS_SEED", raising=False)
    monkeypatch.setenv("ELIGIBILITY_HYPOTHESIS_PROFILE", "ci")
    first = cli("test", str(BUNDLED), "-q", "-k", "order of the members", "--format", "json")
    second = cli("test", str(BUNDLED), "-q", "-k", "order of the members", "--format", "json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["seed"] is None and first.output == second.output
    text = cli("test", str(BUNDLED), "-q", "-k", "order of the members", "--seed", "random")
    seed = re.search(r"hypothesis seed (\d+) \(random; --seed \1 reproduces this run\)", text.output)
    assert seed is not None, text.output


def test_the_seed_decides_the_counterexample(policy_dir: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The same seed finds the same counterexample; settings are derandomized unless a random run is asked for."""
    from eligibility.testing.properties import hypothesis_seed, hypothesis_settings, run_properties

    monkeypatch.delenv("ELIGIBILITY_HYPOTHESIS_SEED", raising=False)
    assert hypothesis_seed() is None and hypothesis_settings().derandomize
    root = policy_dir({"demo.yaml": MONEY_ZERO, "tests/props.yaml": PROPS})
    engine = eligibility.load(root)
    runs = [[r.message for r in run_properties(engine, profile=hypothesis_settings("ci"), seed=7)] for _ in range(2)]
    assert runs[0] == runs[1] and "falsified" in runs[0][0]
    with pytest.raises(ValueError, match="whole number at least 0 or 'random'"):
        hypothesis_seed("-1")
    monkeypatch.setenv("ELIGIBILITY_HYPOTHESIS_SEED", "random")
    assert not hypothesis_settings().derandomize and hypothesis_seed() == hypothesis_seed() is not None


PROPS = """\
properties:
  - name: supplement at most 100
    kind: bounds
    program: demo
    amount: {max: 100}
"""
