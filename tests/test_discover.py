"""Discovery: who is missed, who no longer qualifies, who is enrolled wrongly, in a joined file; the report folder."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import functools
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import eligibility
from eligibility.cli import build
from eligibility.discover.find import DiscoverJob, decisive_facts, discover_item, where_to_apply
from eligibility.discover.report import run_discover
from eligibility.engine.jsonin import loads_household

ON = "2026-12-01"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "huadu-family.json"


def _plain(o: object) -> object:
    if isinstance(o, Decimal):
        return str(o)
    if isinstance(o, dt.date):
        return o.isoformat()
    raise TypeError(type(o).__name__)


@functools.cache
def complete_household() -> dict[str, Any]:
    """The example household with every fact given (its defaults written out)."""
    engine = eligibility.load()
    facts = engine.decide(json.loads(EXAMPLE.read_text()), ON).facts
    household: dict[str, Any] = json.loads(json.dumps(facts, default=_plain))
    return household


@pytest.fixture(scope="module")
def complete() -> dict[str, Any]:
    """The example household with every fact given (defaults written out)."""
    return copy.deepcopy(complete_household())


def _household(complete: dict[str, Any], income: str) -> dict[str, Any]:
    h = copy.deepcopy(complete)
    h["assessed_monthly_income"] = {"value": income, "source": "人社 wage record", "as_of": "2026-10-31",
                                    "reference": "hr-wages-2026-10"}
    return h


def _line(hid: str, household: dict[str, Any], enrolled: list[dict[str, Any]] | None = None,
          town: str = "新华街道", conflicts: list[dict[str, Any]] | None = None) -> str:
    return json.dumps({"id": hid, "area": {"district": "440114", "town": town, "community": "c1"},
                       "household": household, "enrolled": enrolled or [], "conflicts": conflicts or []},
                      ensure_ascii=False)


def _dibao(amount: str | None, tier: str | None = None) -> dict[str, Any]:
    return {"program": "dibao", "tier": tier, "amount": amount, "office": "440114", "since": "2025-03-01",
            "person": None}


def write_joined(path: Path) -> Path:
    """Write a small joined file with one household of each kind, and two bad lines."""
    complete = complete_household()
    partial = json.loads(EXAMPLE.read_text())
    lines = [
        _line("h_missed", _household(complete, "2400.00")),
        _line("h_exit", _household(complete, "9000.00"), [_dibao("1282.00")], town="花城街道"),
        _line("h_wrong_program", _household(complete, "4400.00"), [_dibao("300.00")]),
        _line("h_underpaid", _household(complete, "2400.00"), [_dibao("1000.00")], town="花城街道"),
        "{not json",
        _line("h_ok", _household(complete, "2400.00"), [_dibao("1446.00")]),
        json.dumps({"id": "h_bad", "household": partial, "enrolled": [{"program": "nope", "amount": 12}]}),
        _line("h_partial", partial, town="<b>新雅街道</b>"),
        _line("h_split", _household(complete, "9000.00"), conflicts=[
            {"kind": "hukou_residence_split", "person": "p_1", "detail": {"hukou": "440105", "residence": "440114"},
             "sources": ["公安 hukou extract", "公安 residence extract"]}]),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def joined(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small joined file with one household of each kind, and two bad lines."""
    return write_joined(tmp_path_factory.mktemp("joined") / "joined.jsonl")


@pytest.fixture(scope="module")
def report(joined: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of one run over the small joined file."""
    out = tmp_path_factory.mktemp("out") / "report"
    run_discover(joined, out, on=ON)
    return out


def _findings(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "findings.jsonl").read_text(encoding="utf-8").splitlines()]


def _by(out: Path, hid: str) -> list[dict[str, Any]]:
    return [f for f in _findings(out) if f["household"] == hid]


def test_eligible_household_not_enrolled_is_a_likely_miss_with_its_amount_and_sources(report: Path) -> None:
    """An eligible household not enrolled is a likely miss, priority 1, with the amount and the wage's source."""
    (f,) = _by(report, "h_missed")
    assert (f["kind"], f["status"], f["priority"], f["programs"]) == ("missed", "likely", 1, ["dibao"])
    assert f["monthly_amount"] == "1446.00"
    income = next(x for x in f["decisive_facts"] if x["path"] == "assessed_monthly_income")
    assert (income["value"], income["source"], income["as_of"]) == ("2400.00", "人社 wage record", "2026-10-31")
    assert f["to_verify"] == []


def test_enrolled_household_no_longer_eligible_is_a_likely_exit(report: Path) -> None:
    """A dibao household whose income is now above the standard is reported for exit (应退尽退) with the amount paid."""
    (f,) = _by(report, "h_exit")
    assert (f["kind"], f["status"], f["priority"], f["monthly_amount"]) == ("exit", "likely", 2, "1282.00")
    assert f["decided"]["dibao"]["eligible"] is False


def test_enrolled_in_dibao_but_eligible_for_marginal_is_one_wrong_program_finding(report: Path) -> None:
    """An exit from dibao and a miss of marginal are one `wrong_program` row, dibao -> marginal."""
    (f,) = _by(report, "h_wrong_program")
    assert (f["kind"], f["programs"], f["priority"]) == ("wrong_program", ["dibao", "marginal"], 1)


def test_amount_paid_below_the_amount_decided_is_reported_with_the_difference(report: Path) -> None:
    """Paying 1000.00 where 1446.00 is decided is a wrong amount of 446.00, priority 1."""
    (f,) = _by(report, "h_underpaid")
    assert (f["kind"], f["monthly_amount"], f["priority"]) == ("wrong_amount", "446.00", 1)


def test_correctly_enrolled_household_has_no_finding(report: Path) -> None:
    """A household paid the amount decided for the program it is eligible for is not flagged."""
    assert _by(report, "h_ok") == []


def test_household_with_unknown_facts_is_to_verify_never_eligible(report: Path) -> None:
    """Absent department data is unknown: the partial household is 'to verify' with its questions ranked."""
    rows = _by(report, "h_partial")
    assert [(f["kind"], f["status"], f["programs"]) for f in rows] == [("missed", "to_verify", ["dibao"])]
    (dibao,) = rows
    assert dibao["decided"]["dibao"]["eligible"] is None and dibao["monthly_amount"] is None
    engine = eligibility.load()
    decision = engine.decide(json.loads(EXAMPLE.read_text()), ON, ["dibao"], assume_defaults=False)
    ranked = [q["path"] for q in decision.next_questions(["dibao"])]
    assert dibao["to_verify"] and [q["path"] for q in dibao["to_verify"]] == ranked[:len(dibao["to_verify"])]


def test_undetermined_even_on_the_usual_assumptions_is_counted_not_listed(complete: dict[str, Any],
                                                                           tmp_path: Path) -> None:
    """Without the economic check (no default) a household is not listed; the summary counts it by program."""
    h = _household(complete, "2400.00")
    del h["assessed_monthly_income"]
    path = tmp_path / "j.jsonl"
    path.write_text(_line("h_unchecked", h) + "\n" + _line("h_enrolled", h, [_dibao("1282.00")]) + "\n",
                    encoding="utf-8")
    run_discover(path, tmp_path / "o", on=ON)
    assert _findings(tmp_path / "o") == []
    summary = (tmp_path / "o" / "summary.en.md").read_text(encoding="utf-8")
    assert "| dibao | 1 | 1 |" in summary


def test_residence_split_names_the_offices_to_apply_at_and_keeps_the_full_answer(report: Path) -> None:
    """A 人户分离 row has its conflict's sources and the offices where_to_apply gives; the trace file has the rules."""
    (split,) = [f for f in _by(report, "h_split") if f["kind"] == "residence_split"]
    assert split["conflict"]["sources"] == ["公安 hukou extract", "公安 residence extract"]
    office = split["office"]
    assert office["available"] is True
    assert office["offices"] and all(o["label"]["zh"] and o["reasons"] for o in office["offices"])
    traces = [json.loads(x) for x in (report / "traces.jsonl").read_text(encoding="utf-8").splitlines()]
    (line,) = [t for t in traces if t["id"] == "h_split"]
    assert line["where_to_apply"]["schema"] == "eligibility.where_to_apply/1"


def test_a_policy_set_without_where_to_apply_rules_says_to_decide_the_office_by_hand() -> None:
    """Without where-to-apply rules the row says so (available: false) instead of guessing an office."""

    class NoRules(eligibility.Engine):
        def where_to_apply(self, household: object, on: object, programs: object = None) -> Any:
            raise eligibility.PolicyError([])

    office, full = where_to_apply(NoRules(eligibility.load().compiled), {}, dt.date(2026, 12, 1))
    assert office["available"] is False and full is None
    assert office["note"]["en"] == "the policies have no where-to-apply rules: decide the office by hand"


def test_bad_lines_are_reported_with_line_number_and_reason_and_the_run_goes_on(report: Path) -> None:
    """Every line read has one decisions line; a bad one names its line and every problem."""
    lines = [json.loads(x) for x in (report / "decisions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [x["index"] for x in lines] == list(range(9))
    errors = {x["line"]: x["error"]["message"] for x in lines if "error" in x}
    assert set(errors) == {5, 7}
    assert errors[5].startswith("line 5: not valid JSON")
    assert "enrolled[0].program: unknown program 'nope'" in errors[7]
    assert "enrolled[0].amount" in errors[7]
    summary = (report / "summary.en.md").read_text(encoding="utf-8")
    assert "- line 5: not valid JSON" in summary


def test_every_flagged_household_reaches_its_trace_and_an_explainable_household(report: Path) -> None:
    """From a row: its trace in traces.jsonl by id, and a household file `explain` decides as discovery did."""
    lines = {json.loads(x)["id"]: json.loads(x)
             for x in (report / "traces.jsonl").read_text(encoding="utf-8").splitlines()}
    engine = eligibility.load()
    for f in _findings(report):
        assert f["trace"] == f"traces.jsonl#{f['household']}"
        household = loads_household((report / f["household_file"]).read_text(encoding="utf-8"))
        trace = lines[f["household"]]["trace"]
        if not f["programs"]:  # a conflict alone: its sources, and where to apply for a residence split
            assert trace is None and f["conflict"]["sources"]
            assert f["kind"] != "residence_split" or "where_to_apply" in lines[f["household"]]
            continue
        again = engine.decide(household, ON, ["dibao", "marginal", "tekun"])  # as `eligibility explain` does
        assert set(f["programs"]) <= set(trace["programs"])
        for p in trace["programs"]:
            assert again.programs[p].eligible == trace["programs"][p]["eligible"], (f["household"], p)


def test_csv_has_one_row_a_finding_by_priority(report: Path) -> None:
    """findings.csv holds one row a finding, priority 1 first, with the reason in both languages."""
    with (report / "findings.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(_findings(report))
    assert [int(r["priority"]) for r in rows] == sorted(int(r["priority"]) for r in rows)
    missed = next(r for r in rows if r["household"] == "h_missed")
    assert "assessed_monthly_income=\"2400.00\" (人社 wage record, 2026-10-31)" in missed["decisive_facts"]
    assert missed["reason_zh"] == "符合条件但未纳入"


def test_summary_counts_by_town_program_and_reason(report: Path, golden: Callable[[str, str], None]) -> None:
    """The zh and en summaries count findings by street, program and reason, with monthly amounts."""
    golden("discover/summary.zh.md", (report / "summary.zh.md").read_text(encoding="utf-8"))
    golden("discover/summary.en.md", (report / "summary.en.md").read_text(encoding="utf-8"))


def test_html_report_renders_offline_with_escaped_names(report: Path) -> None:
    """report.html has inline SVG charts, no script and no network address, and escapes a street's name."""
    page = (report / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 4
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    assert "&lt;b&gt;新雅街道&lt;/b&gt;" in page and "<b>新雅街道" not in page


def test_resume_continues_an_interrupted_run_to_the_same_findings(joined: Path, report: Path, tmp_path: Path) -> None:
    """Cut after three households (and a torn line), --resume ends with the findings of an uninterrupted run."""
    out = tmp_path / "again"
    run_discover(joined, out, on=ON)
    decisions = (out / "decisions.jsonl").read_bytes().splitlines(keepends=True)
    (out / "decisions.jsonl").write_bytes(b"".join(decisions[:3]) + decisions[3][:20])
    summary = run_discover(joined, out, on=ON, resume=True)
    assert summary.skipped == 3 and summary.households == 6
    assert (out / "findings.jsonl").read_text(encoding="utf-8") == (report / "findings.jsonl").read_text("utf-8")
    assert (out / "decisions.jsonl").read_text("utf-8") == (report / "decisions.jsonl").read_text("utf-8")


def test_resume_with_another_date_is_refused_naming_it(joined: Path, report: Path) -> None:
    """Resuming an output made for another date is refused, and the message names both dates."""
    with pytest.raises(eligibility.InputError, match="--on 2026-12-01, not --on 2026-11-01"):
        run_discover(joined, report, on="2026-11-01", resume=True)


def test_two_workers_find_what_one_finds(joined: Path, report: Path, tmp_path: Path) -> None:
    """Deciding in two worker processes gives the same findings in the same order."""
    run_discover(joined, tmp_path / "w2", on=ON, workers=2, chunk_size=2)
    assert (tmp_path / "w2" / "findings.jsonl").read_text("utf-8") == (report / "findings.jsonl").read_text("utf-8")


def test_cli_discover_exits_1_on_a_bad_line_and_writes_the_folder(joined: Path, tmp_path: Path) -> None:
    """`eligibility discover` writes the folder, prints the counts, and exits 1 because two lines are bad."""
    result = CliRunner().invoke(build(), ["discover", str(joined), "--on", ON, "--out", str(tmp_path / "o")])
    assert result.exit_code == 1, result.output
    assert "9 households read" in result.output and "2 bad lines" in result.output
    assert (tmp_path / "o" / "report.html").is_file()


def test_decisive_facts_of_a_refusal_are_the_failed_rules_facts(complete: dict[str, Any]) -> None:
    """For a refusal, the decisive facts are those of the failed rules (the income), not of the rules that passed."""
    engine = eligibility.load()
    trace = engine.decide(_household(complete, "9000.00"), ON, ["dibao"], assume_defaults=False).to_json()
    paths = [f["path"] for f in decisive_facts(trace, ["dibao"])]
    assert "assessed_monthly_income" in paths and "vehicles" not in paths


def test_a_long_line_is_an_error_not_a_crash() -> None:
    """A line over the reader's limit is reported as such."""
    engine = eligibility.load()
    out = discover_item(engine, DiscoverJob(dt.date(2026, 12, 1), ("dibao",)), (0, "long", 16, 3))
    assert json.loads(out.decision)["error"]["message"] == "line 3: the line is longer than 16 bytes"


def test_an_invalid_household_is_an_error_line_with_its_id_and_field_paths() -> None:
    """A joined line whose household is invalid names the household and each field under `household.`."""
    engine = eligibility.load()
    line = json.dumps({"id": "h_9", "household": {"members": [{"id": "a", "relation": "x"}]}}).encode()
    job = DiscoverJob(dt.date(2026, 12, 1), ("dibao",))
    out = json.loads(discover_item(engine, job, (0, "json", line, 4)).decision)
    assert out["id"] == "h_9" and out["error"]["kind"] == "input"
    assert out["error"]["message"].startswith("line 4: household.members[0].relation:")


def test_an_enrolled_household_whose_program_cannot_be_decided_is_listed_with_the_reason(
        complete: dict[str, Any], tmp_path: Path) -> None:
    """A member born after the decision date stops the decision: the enrolled household is listed, not dropped."""
    h = _household(complete, "2400.00")
    h["members"][2]["birth_date"] = "2026-12-24"
    path = tmp_path / "j.jsonl"
    path.write_text(_line("h_born_later", h, [_dibao("1282.00")]) + "\n", encoding="utf-8")
    run_discover(path, tmp_path / "o", on=ON)
    (f,) = _findings(tmp_path / "o")
    assert (f["kind"], f["status"], f["programs"]) == ("not_decided", "to_verify", ["dibao"])
    assert "2026-12-24 is after the date 2026-12-01" in f["error"]


def test_an_enrolled_household_whose_tier_waits_on_unknown_facts_is_a_tier_to_verify(
        complete: dict[str, Any], tmp_path: Path) -> None:
    """Eligible with its tier waiting on a fact: the tier paid cannot be checked, so it is listed to verify, last."""
    h = _household(complete, "2400.00")
    h["members"][0]["refused_jobs_in_a_row"] = {"unknown": True}
    engine = eligibility.load()
    dibao = engine.decide(h, ON, ["dibao"], assume_defaults=False).programs["dibao"]
    assert dibao.eligible is True and dibao.tier is None and dibao.tier_unknown  # the case this test is about
    path = tmp_path / "j.jsonl"
    path.write_text(_line("h_tier_waits", h, [_dibao(str(dibao.amount), tier="A")]) + "\n", encoding="utf-8")
    run_discover(path, tmp_path / "o", on=ON)
    (f,) = [f for f in _findings(tmp_path / "o") if f["kind"] == "wrong_tier"]
    assert (f["status"], f["priority"], f["programs"]) == ("to_verify", 4, ["dibao"])
    assert f["reason"]["en"] == "the tier cannot be decided from the data (to verify)"
