"""Batch deciding: decide_many in order with workers, the flat CSV mapping, and `eligibility batch` files."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import multiprocessing
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

import eligibility
from conftest import DEMO_FLAT
from eligibility.base.errors import InputProblem
from eligibility.cli import build
from eligibility.scale import files
from eligibility.scale.files import run_file
from eligibility.scale.results import (
    BatchResult,
    BatchSummary,
    Outcomes,
    ProgramOutcome,
    RecordFailure,
    flat_record,
    jsonl_line,
)
from eligibility.scale.stream import decide_many

ON = "2024-09-01"
DEMO = DEMO_FLAT + """\
amount: {expr: standard - household.assessed_monthly_income, round: {to: "0.01", mode: half_up}}
tier: '"poor" if household.financial_assets < 1000 else "asset_holder"'
"""
#: Undecidable (division by zero) for a household without income: a program left undecided.
RATIO = """\
program: ratio
title: {zh: 比率, en: Ratio}
jurisdiction: "000000"
sources:
  S1: {title: 演示文件, document: 演示〔2024〕1号, confidence: C}
rules:
  few_assets:
    title: {zh: 资产少, en: Few assets}
    when: household.financial_assets / household.assessed_monthly_income < 2
    source: S1
eligible: few_assets
"""


@pytest.fixture
def policies(policy_dir: Callable[..., Path]) -> Path:
    """A folder with two small programs: demo (amount and tier) and ratio (undecidable without income)."""
    return policy_dir({"demo.yaml": DEMO, "ratio.yaml": RATIO})


def household(i: int) -> dict[str, Any]:
    """The i-th test household: 1 to 3 members, incomes around the standard, every 7th without income."""
    members = [{"id": f"m{k}", "birth_date": f"{1950 + (i * 7 + k * 13) % 60}-0{1 + k}-15",
                "sex": "female" if (i + k) % 2 else "male"} for k in range(1 + i % 3)]
    if i % 5 == 0:
        members[0]["disability_grade"] = 1 + i % 4
    income = "0" if i % 7 == 0 else f"{(i * 137) % 2000}.{i % 100:02d}"
    return {"assessed_monthly_income": income, "financial_assets": f"{(i * 311) % 2500}", "members": members}


def records(n: int) -> Iterator[dict[str, Any]]:
    """n records with ids; every 11th has its own date, every 13th an invalid household."""
    for i in range(n):
        h = household(i)
        if i % 13 == 0:
            h["members"][0]["birth_date"] = "1980-02-30"
        record: dict[str, Any] = {"id": f"h{i}", "household": h}
        if i % 11 == 0:
            record["on"] = "2019-06-01"  # before the standard's first value: demo is undecided
        yield record


def jsonl(results: Iterator[BatchResult]) -> list[dict[str, Any]]:
    return [json.loads(jsonl_line(r)) for r in results]


def run(*args: str) -> Result:
    """Invoke the command line in-process."""
    return CliRunner().invoke(build(), list(args), catch_exceptions=False)


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


# ------------------------------------------------------------------ decide_many


def test_two_workers_keep_input_order_and_agree_with_one(policies: Path) -> None:
    """With workers=2 and small chunks, results come in input order, identical to deciding in-process."""
    data = list(records(300))
    one = jsonl(decide_many(policies, data, on=ON))
    two = jsonl(decide_many(policies, iter(data), on=ON, workers=2, chunk_size=7))
    assert [r["index"] for r in two] == list(range(300))
    assert two == one


def test_every_record_gets_one_result_or_one_typed_error(policies: Path) -> None:
    """Malformed JSON, a non-object, an invalid household, a bad or missing date: one typed error each."""
    good = household(1)
    given: list[object] = [
        good, json.dumps(good), b"{not json", "", [1, 2], {"id": "x", "household": good, "on": "2024-13-01"},
        {"id": 7, "household": {"members": []}}, {"id": True, "household": good}, {"household": good},
    ]
    out = list(decide_many(policies, given, on=None))
    out_on = list(decide_many(policies, given, on=ON))
    assert len(out) == len(given)
    assert [r.error.kind if r.error else None for r in out_on] == \
        [None, None, "json", "json", "record", "input", "input", "record", None]
    assert out_on[5].id == "x" and out_on[5].error is not None and out_on[5].error.paths == ("on",)
    assert out_on[6].id == "7" and out_on[6].error is not None and "members" in out_on[6].error.paths
    missing = out[0].error
    assert missing is not None and missing.kind == "input" and missing.problems[0].kind == "missing"


def test_a_record_date_overrides_the_default(policies: Path) -> None:
    """A record's "on" is used instead of the batch's date, and reported in its result."""
    r1, r2 = decide_many(policies, [household(1), {"on": "2019-06-01", "household": household(1)}], on=ON)
    assert str(r1.on) == ON and r1.programs is not None and r1.programs["demo"].eligible is True
    assert str(r2.on) == "2019-06-01" and r2.programs is not None and r2.programs["demo"].eligible is None
    assert r2.undecided["demo"].startswith("demo")


def test_undecided_program_keeps_the_others(policies: Path) -> None:
    """A program that cannot be decided has eligible None and its error; the other programs are decided."""
    (r,) = decide_many(policies, [household(0)], on=ON)  # no income: ratio divides by zero
    assert r.error is None and r.programs is not None
    assert r.programs["ratio"].eligible is None and (r.programs["ratio"].error or "").startswith("ratio.few_assets")
    assert r.programs["demo"].eligible is True and str(r.programs["demo"].amount) == "1000.00"


def test_bad_arguments_raise_before_any_record_is_read(policies: Path) -> None:
    """An unknown program, a bad date or workers=0 raise InputError at the call, not when iterating."""
    def never() -> Iterator[dict[str, Any]]:
        raise AssertionError("records were read")
        yield {}

    for kwargs in ({"programs": ["nope"]}, {"on": "2024-9-1"}, {"workers": 0}, {"chunk_size": 0}):
        with pytest.raises(eligibility.InputError):
            decide_many(policies, never(), **kwargs)


def test_decide_many_takes_an_engine_or_a_folder(policies: Path) -> None:
    """eligibility.decide_many gives the same results from a loaded engine as from a policy folder."""
    engine = eligibility.load(policies)
    data = list(records(20))
    assert jsonl(eligibility.decide_many(engine, data, on=ON, programs=["demo"])) == \
        jsonl(decide_many(policies, data, on=ON, programs=["demo"]))


def test_trace_holds_the_decision_json(policies: Path) -> None:
    """With trace=True each decided record carries Decision.to_json()."""
    (r,) = decide_many(policies, [household(2)], on=ON, trace=True)
    assert r.trace is not None and r.trace["schema"] == "eligibility.decision/1"


def test_a_killed_worker_loses_no_record(policies: Path) -> None:
    """When a worker process dies, its chunks are decided in the calling process: every result, in order."""
    data = list(records(200))
    results = decide_many(policies, data, on=ON, workers=2, chunk_size=5)
    got = [next(results)]
    for child in multiprocessing.active_children():
        os.kill(child.pid or 0, signal.SIGKILL)
    got += list(results)
    assert jsonl(iter(got)) == jsonl(decide_many(policies, data, on=ON))


def test_workers_refuse_policies_changed_on_disk(policies: Path) -> None:
    """A worker that loads policies with another hash than the batch's raises PolicyError."""
    results = decide_many(policies, records(10), on=ON, workers=2)  # the workers start at the first next()
    demo = policies / "demo.yaml"
    demo.write_text(demo.read_text(encoding="utf-8").replace("1000}", "1001}"), encoding="utf-8")
    with pytest.raises(eligibility.PolicyError, match="changed while the batch ran"):
        next(results)


def test_workers_need_the_policy_folder(policies: Path) -> None:
    """An engine not made by load() has no folder to give workers: InputError, not a crash."""
    from eligibility.compile.pipeline import compile_policy

    engine = eligibility.Engine(compile_policy(policies))
    with pytest.raises(eligibility.InputError, match="policy folder"):
        decide_many(engine, [], workers=2)


# ------------------------------------------------------------------ the flat mapping


def test_flat_record_converts_cells_by_field_type(policies: Path) -> None:
    """Integer cells become numbers, list cells are JSON, empty cells are absent, id and on wrap the household."""
    facts = eligibility.load(policies).model.facts
    members = '[{"id": "a", "birth_date": "1980-01-01", "sex": "male", "disability_grade": 2}]'
    row = {"id": "h1", "on": ON, "assessed_monthly_income": "800.50", "financial_assets": "",
           "members": members}
    assert flat_record(row, facts) == {"id": "h1", "on": ON, "household": {
        "assessed_monthly_income": "800.50",
        "members": [{"id": "a", "birth_date": "1980-01-01", "sex": "male", "disability_grade": 2}]}}
    with pytest.raises(eligibility.InputError) as e:
        flat_record({"members": "[{"}, facts)
    assert e.value.problems[0].path == "members"


def test_csv_round_trip_gives_decide_many_rows(policies: Path, tmp_path: Path) -> None:
    """Households written as flat CSV and decided by `batch` give the flat rows decide_many gives."""
    data = list(records(60))
    src = tmp_path / "in.csv"
    with src.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "on", "assessed_monthly_income", "financial_assets", "members"])
        for r in data:
            h = r["household"]
            w.writerow([r["id"], r.get("on", ""), h["assessed_monthly_income"], h["financial_assets"],
                        json.dumps(h["members"])])
    out = tmp_path / "out.csv"
    result = run("batch", str(src), "-o", str(out), "--on", ON, "-p", str(policies))
    assert result.exit_code == 1, result.output  # invalid households and undecided programs
    with out.open(encoding="utf-8", newline="") as f:
        got = list(csv.DictReader(f))
    programs = ("demo", "ratio")
    want = [{k: files._csv_cell(v) for k, v in r.to_row(programs).items() if k != "trace"}
            for r in decide_many(policies, data, on=ON)]
    for row, expected in zip(got, want, strict=True):
        if expected["error_kind"] not in ("", "evaluation"):  # a record's error names its CSV line
            expected["error"] = f"line {int(row['index']) + 2}: {expected['error']}"
    assert got == [{k: str(v) for k, v in w.items()} for w in want]


def test_csv_input_errors_name_their_line(policies: Path, tmp_path: Path) -> None:
    """A CSV row with a bad cell or too many cells gives an error line naming its line, and the rest go on."""
    src = tmp_path / "in.csv"
    src.write_text("assessed_monthly_income,members\n"
                   '900,"[{""id"": ""a"", ""birth_date"": ""1980-01-01"", ""sex"": ""male""}]"\n'
                   "900,[oops\n"
                   "900,[],extra\n"
                   "1,2\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    run("batch", str(src), "-o", str(out), "--on", ON, "-p", str(policies))
    got = [json.loads(x) for x in lines_of(out)]
    assert [g["index"] for g in got] == [0, 1, 2, 3]
    assert "error" not in got[0]
    assert [g["error"]["line"] for g in got[1:]] == [3, 4, 5]
    assert got[1]["error"]["problems"][0]["path"] == "members"


def test_parquet_round_trip(policies: Path, tmp_path: Path) -> None:
    """Parquet in, Parquet out: the same flat rows as decide_many, with typed columns."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    data = list(records(40))
    table = pa.Table.from_pylist([{"id": r["id"], "on": r.get("on"), "household": json.dumps(r["household"])}
                                  for r in data])
    pq.write_table(table, tmp_path / "in.parquet")
    result = run("batch", str(tmp_path / "in.parquet"), "-o", str(tmp_path / "out.parquet"), "--on", ON,
                 "-p", str(policies))
    assert result.exit_code == 1, result.output
    got = pq.read_table(tmp_path / "out.parquet")
    assert got.schema.field("demo_eligible").type == pa.bool_()
    want = [{k: v for k, v in r.to_row(("demo", "ratio")).items() if k != "trace"}
            for r in decide_many(policies, data, on=ON)]
    assert got.to_pylist() == want


# ------------------------------------------------------------------ eligibility batch


def write_jsonl(path: Path, n: int, extra: dict[int, str] | None = None) -> None:
    """Write n record lines, with some lines replaced (malformed, blank)."""
    lines = [json.dumps(r) for r in records(n)]
    for i, text in (extra or {}).items():
        lines[i] = text
    path.write_text("".join(x + "\n" for x in lines), encoding="utf-8")


def test_every_input_line_gives_one_output_line_in_order(policies: Path, tmp_path: Path) -> None:
    """Malformed and blank lines become error lines with their line number; order and count are kept."""
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, 50, {3: '{"id": "broken", "household": {', 4: "", 9: "[]"})
    result = run("batch", str(src), "-o", str(out), "--on", ON, "-p", str(policies), "--workers", "2")
    assert result.exit_code == 1
    got = [json.loads(x) for x in lines_of(out)]
    assert [g["index"] for g in got] == list(range(50))
    assert got[3]["error"]["kind"] == "json" and got[3]["error"]["message"].startswith("line 4: not valid JSON")
    assert got[4]["error"]["message"] == "line 5: the line is empty"
    assert got[9]["error"]["kind"] == "record"
    assert "50 records: " in result.output and "errors: input 4, json 2, record 1" in result.output


def test_summary_counts_programs_tiers_and_errors(policies: Path, tmp_path: Path) -> None:
    """The summary counts eligible / not / undecided per program, tiers, and errors by kind."""
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, 30)
    summary = run_file(src, out, policies, on=ON)
    got = summary.to_json()
    assert got["records"] == 30 and got["errors"] == {"input": 3}
    assert sum(got["programs"]["demo"].values()) == 27
    assert got["programs"]["ratio"]["undecided"] == 4  # no income: indexes 7, 14, 21, 28
    assert sum(got["tiers"]["demo"].values()) == got["programs"]["demo"]["eligible"] + \
        got["programs"]["demo"]["not_eligible"]
    assert "demo tiers: asset_holder" in summary.render()


def test_resume_after_interruption_gives_the_uninterrupted_file(policies: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """An interrupted run leaves whole lines; --resume completes it to the uninterrupted run's bytes."""
    src = tmp_path / "in.jsonl"
    write_jsonl(src, 120, {5: "{"})
    real = files._Writer.write
    calls = 0

    def interrupted(self: Any, result: BatchResult) -> None:
        nonlocal calls
        calls += 1
        if calls == 50:
            raise KeyboardInterrupt
        real(self, result)

    for ext in ("jsonl", "csv"):
        whole, part = tmp_path / f"whole.{ext}", tmp_path / f"part.{ext}"
        run_file(src, whole, policies, on=ON)
        calls = 0
        monkeypatch.setattr(files._Writer, "write", interrupted)
        summary = run_file(src, part, policies, on=ON, workers=2, chunk_size=8)
        monkeypatch.setattr(files._Writer, "write", real)
        assert summary.interrupted and summary.records == 49
        assert part.read_bytes() == whole.read_bytes()[:len(part.read_bytes())]
        with part.open("ab") as f:  # a torn last line, as a killed process may leave
            f.write(b'{"index":49,"id":"h4')
        result = run("batch", str(src), "-o", str(part), "--on", ON, "-p", str(policies), "--resume")
        assert "(after 49 already in the output)" in result.output
        assert part.read_bytes() == whole.read_bytes()
        result = run("batch", str(src), "-o", str(part), "--on", ON, "-p", str(policies), "--resume")
        assert "0 records" in result.output and part.read_bytes() == whole.read_bytes()


def test_resume_refuses_a_parquet_output(policies: Path, tmp_path: Path) -> None:
    """--resume on a Parquet output is a usage error."""
    src = tmp_path / "in.jsonl"
    write_jsonl(src, 5)
    (tmp_path / "out.parquet").write_bytes(b"")
    result = run("batch", str(src), "-o", str(tmp_path / "out.parquet"), "--on", ON, "-p", str(policies),
                 "--resume")
    assert result.exit_code == 2 and "cannot be resumed" in result.output


@pytest.mark.parametrize(("change", "message"), [
    (["--on", "2024-10-01"], "the output was written for --on 2024-09-01, not --on 2024-10-01"),
    (["--program", "demo"], "the output was written for --program demo, ratio, not --program demo"),
    (["--jurisdiction", "440114"], "the output was written for no --jurisdiction, not --jurisdiction 440114"),
    (["--policies", "CHANGED"], "the output was written for the policy set sha256:"),
    (["--trace"], "the output was written for no --trace, not --trace"),
    (["--format", "csv"], "the output was written for --format jsonl, not --format csv"),
    (["IN2"], "the output was written for the input in.jsonl, not the input other.jsonl"),
], ids=["date", "programs", "jurisdiction", "policy-hash", "trace", "format", "input"])
def test_resume_refuses_any_other_option_and_names_it(policies: Path, tmp_path: Path, change: list[str],
                                                      message: str) -> None:
    """--resume with another date, programs, jurisdiction, policy set, output option or input is refused by name."""
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, 5)
    assert run("batch", str(src), "-o", str(out), "--on", ON, "-p", str(policies)).exit_code in (0, 1)
    before = out.read_bytes()
    args = ["batch", str(src), "-o", str(out), "--on", ON, "-p", str(policies), "--resume"]
    if change == ["--policies", "CHANGED"]:
        changed = tmp_path / "changed"
        shutil.copytree(policies, changed)
        (changed / "demo.yaml").write_text(DEMO.replace("2020-01-01: 1000", "2020-01-01: 1001"), encoding="utf-8")
        args[args.index(str(policies))] = str(changed)
    elif change == ["IN2"]:
        other = tmp_path / "other.jsonl"
        shutil.copy(src, other)
        args[1] = str(other)
    elif change[0] == "--on":
        args[args.index(ON)] = change[1]
    else:
        args += change
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "cannot be resumed" in result.output
    assert out.read_bytes() == before
    same = run("batch", str(src), "-o", str(out), "--on", ON, "-p", str(policies), "--resume")
    assert "0 records" in same.output and out.read_bytes() == before


def test_resume_refuses_an_output_without_its_options(policies: Path, tmp_path: Path) -> None:
    """An output whose OUT.run.json is missing cannot be resumed: nothing says what it was written with."""
    src, out = tmp_path / "in.jsonl", tmp_path / "out.csv"
    write_jsonl(src, 5)
    run("batch", str(src), "-o", str(out), "--on", ON, "-p", str(policies))
    (tmp_path / "out.csv.run.json").unlink()
    result = run("batch", str(src), "-o", str(out), "--on", ON, "-p", str(policies), "--resume")
    assert result.exit_code == 2 and "out.csv.run.json" in result.output and "missing" in result.output


def test_sigterm_leaves_a_valid_prefix_that_resumes(policies: Path, tmp_path: Path) -> None:
    """A batch process stopped with SIGTERM exits 130 with whole lines; --resume finishes the same file."""
    src, out, whole = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "whole.jsonl"
    write_jsonl(src, 30_000)
    cmd = [sys.executable, "-m", "eligibility", "batch", str(src), "--on", ON, "-p", str(policies)]
    proc = subprocess.Popen([*cmd, "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None and (not out.exists() or out.stat().st_size < 10_000):
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=30)
    if proc.returncode == 130:  # else it had finished already: nothing was interrupted
        assert b"interrupted" in stdout
        text = out.read_bytes()
        assert text.endswith(b"\n")
        assert [json.loads(x)["index"] for x in text.splitlines()] == list(range(text.count(b"\n")))
    subprocess.run([*cmd, "-o", str(out), "--resume"], check=False, capture_output=True)
    subprocess.run([*cmd, "-o", str(whole)], check=False, capture_output=True)
    assert out.read_bytes() == whole.read_bytes()


def test_overlong_line_is_one_error_line(policies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A line over the length limit is an error line, and the next line is read as usual."""
    monkeypatch.setattr(files, "MAX_LINE", 300)
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, 3, {1: json.dumps({"household": household(1), "id": "x" * 2000})})
    run_file(src, out, policies, on=ON)
    got = [json.loads(x) for x in lines_of(out)]
    assert [g["index"] for g in got] == [0, 1, 2]
    assert got[1]["error"]["message"] == "line 2: the line is longer than 300 bytes" and "programs" in got[2]


def test_lone_surrogate_in_an_id_is_kept_escaped(policies: Path, tmp_path: Path) -> None:
    """An id holding "\\ud800" gives a valid UTF-8 line in JSONL and CSV."""
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a\ud800", "household": household(1)}) + "\n", encoding="utf-8")
    for ext in ("jsonl", "csv"):
        run_file(src, tmp_path / f"out.{ext}", policies, on=ON)
        (tmp_path / f"out.{ext}").read_bytes().decode("utf-8")


def test_usage_errors_exit_2(policies: Path, tmp_path: Path) -> None:
    """A missing input, an unknown extension or an unknown program are usage errors."""
    (tmp_path / "in.txt").write_text("{}\n", encoding="utf-8")
    (tmp_path / "in.jsonl").write_text("{}\n", encoding="utf-8")
    for args in (["nope.jsonl", "-o", "o.jsonl"], ["in.txt", "-o", "o.jsonl"], ["in.jsonl", "-o", "o.txt"],
                 ["in.jsonl", "-o", "o.jsonl", "--program", "nope"]):
        old = os.getcwd()
        os.chdir(tmp_path)
        try:
            result = run("batch", *args, "-p", str(policies))
        finally:
            os.chdir(old)
        assert result.exit_code == 2, (args, result.output)


def test_a_record_that_cannot_be_sent_to_a_worker_costs_nothing(policies: Path) -> None:
    """A record that cannot be pickled is decided in the parent: one result per record, none lost."""
    import types

    from eligibility.scale.stream import decide_many

    engine = eligibility.load(policies)
    h = household(2)
    records = [h, types.MappingProxyType(h), h]
    results = list(decide_many(engine, records, on=ON, workers=2, chunk_size=1))
    assert [r.index for r in results] == [0, 1, 2]


def test_batch_output_ignores_the_callers_decimal_context(policies: Path, tmp_path: Path) -> None:
    """With the caller's context at 3 digits and Inexact trapped, the batch output is byte for byte the default one."""
    src = tmp_path / "in.jsonl"
    write_jsonl(src, 40)
    for ext in ("jsonl", "csv"):
        run_file(src, tmp_path / f"plain.{ext}", policies, on=ON, trace=ext == "jsonl")
        with decimal.localcontext() as ctx:
            ctx.prec = 3
            ctx.traps[decimal.Inexact] = True
            run_file(src, tmp_path / f"hostile.{ext}", policies, on=ON, trace=ext == "jsonl")
            got = [r.to_json() for r in decide_many(policies, records(40), on=ON)]
        assert (tmp_path / f"hostile.{ext}").read_bytes() == (tmp_path / f"plain.{ext}").read_bytes()
    assert got == [r.to_json() for r in decide_many(policies, records(40), on=ON)]


def test_resume_refuses_an_output_of_another_library_version(policies: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """An output written by another eligibility version is not continued by this one."""
    from eligibility.scale import resume

    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, 5)
    monkeypatch.setattr(resume, "__version__", "0.0.1")
    run_file(src, out, policies, on=ON)
    monkeypatch.undo()
    with pytest.raises(eligibility.InputError) as e:
        run_file(src, out, policies, on=ON, resume=True)
    assert f"written for eligibility 0.0.1, not eligibility {eligibility.__version__}" in str(e.value)


def test_an_undetermined_program_lists_the_facts_it_waits_on(policies: Path) -> None:
    """Income given as unknown: demo is undetermined and its JSON and flat outputs name the income."""
    h = {**household(1), "assessed_monthly_income": {"unknown": True}}
    (r,) = decide_many(policies, [h], on=ON)
    assert r.programs is not None and r.programs["demo"].eligible is None
    assert r.programs["demo"].unknown == ("assessed_monthly_income",)
    assert r.to_json()["programs"]["demo"]["unknown"] == ["assessed_monthly_income"]
    row = r.to_row(["demo"])
    assert row["demo_unknown"] == "assessed_monthly_income" and row["demo_eligible"] is None
    (decided,) = decide_many(policies, [household(1)], on=ON)
    assert decided.to_row(["demo"])["demo_unknown"] is None
    assert "unknown" not in decided.to_json()["programs"]["demo"]


def test_batch_trace_compact_writes_values_that_replay_to_the_full_trace(policies: Path, tmp_path: Path) -> None:
    """`batch --trace compact` writes each decision's compact trace; with its household it rebuilds the full one."""
    from eligibility.audit.replay import full_trace

    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, 4)
    result = run("batch", str(src), "-o", str(out), "--on", ON, "-p", str(policies), "--trace", "compact")
    assert result.exit_code in (0, 1), result.output
    engine = eligibility.load(policies)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    records = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()]
    decided = [(line, record) for line, record in zip(lines, records, strict=True) if "programs" in line]
    assert decided
    for line, record in decided:
        assert line["trace"]["schema"] == "eligibility.compact/1"
        household = record.get("household", record)
        full = full_trace(line["trace"], household, engine)
        assert full == engine.decide(household, on=ON).to_json()
    # resuming asks for the same kind of trace
    again = run("batch", str(src), "-o", str(out), "--on", ON, "-p", str(policies), "--resume", "--trace")
    assert again.exit_code == 2 and "--trace compact" in again.output


def test_an_eligible_program_whose_tier_waits_lists_the_facts_in_its_unknown_column() -> None:
    """Dibao granted while its tier waits on one fact: eligible, its amount, an empty tier, and the fact named."""
    h = json.loads((Path(__file__).parent.parent / "examples" / "huadu-family.json").read_text(encoding="utf-8"))
    h["members"][0]["refused_jobs_in_a_row"] = {"unknown": True}
    (r,) = decide_many(None, [h], on=ON, programs=["dibao"])
    row = r.to_row(["dibao"])
    assert row["dibao_eligible"] is True and row["dibao_amount"] and row["dibao_tier"] is None
    assert row["dibao_unknown"] == "members[0].refused_jobs_in_a_row"
    assert r.to_json()["programs"]["dibao"]["unknown"] == ["members[0].refused_jobs_in_a_row"]
# ------------------------------------------------------------------ the JSONL line and the outcomes


_texts = st.text(st.characters(codec="utf-8") | st.sampled_from(["\ud800", '"', "\\", "\n", "\u2028", "户"]),
                 max_size=12)
_amounts = st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=2) | \
    st.decimals(allow_nan=False, allow_infinity=False) | \
    st.sampled_from([Decimal("0"), Decimal("0.00"), Decimal("-0.00"), Decimal("1E+3"), Decimal("-1.5E-9")])
_outcomes = st.tuples(st.sampled_from([True, False, None]), _amounts, st.none() | _texts, st.none() | _texts,
                      st.lists(_texts, max_size=3).map(tuple))
_failures = st.builds(RecordFailure, st.sampled_from(["json", "input", "internal"]), _texts,
                      st.lists(st.builds(InputProblem, _texts, _texts, _texts), max_size=2).map(tuple),
                      st.none() | st.integers(1, 10**6))


@settings(max_examples=300)
@given(index=st.integers(0, 10**9), rid=st.none() | _texts, on=st.none() | st.dates(),
       programs=st.none() | st.dictionaries(_texts, _outcomes, max_size=4),
       error=st.none() | _failures, trace=st.none() | st.dictionaries(_texts, _texts | st.integers(), max_size=2),
       as_objects=st.booleans(), capitals=st.booleans())
def test_a_jsonl_line_is_the_compact_json_of_the_result(index: int, rid: str | None, on: dt.date | None,
                                                        programs: dict[str, Any] | None, error: RecordFailure | None,
                                                        trace: dict[str, Any] | None, as_objects: bool,
                                                        capitals: bool) -> None:
    """The line a batch writes is json.dumps of to_json(), byte for byte: UTF-8, or ASCII escapes for a lone
    surrogate; whether the outcomes are ProgramOutcome objects or the batch's tuples; in any decimal context."""
    held: Any = None
    if programs is not None:
        held = {n: ProgramOutcome(*f) for n, f in programs.items()} if as_objects else Outcomes(programs)
    result = BatchResult(index, rid, on, "sha256:abc", held, error, trace)
    data = result.to_json()
    try:
        want = (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        want = (json.dumps(data, separators=(",", ":")) + "\n").encode("ascii")
    with decimal.localcontext(prec=3, capitals=int(capitals)):
        assert jsonl_line(result) == want


def test_batch_outcomes_read_as_program_outcomes_and_survive_pickling(policies: Path) -> None:
    """A result's programs are a mapping of ProgramOutcome, equal to a dict of them, the same after a round trip."""
    h = {**household(1), "assessed_monthly_income": {"unknown": True}}
    (r,) = decide_many(policies, [h], on=ON)
    assert r.programs is not None
    decision = eligibility.load(policies).decide(h, on=ON, trace=False)
    want = {name: ProgramOutcome(p.eligible, p.amount, p.tier, None if p.error is None else str(p.error),
                                 p.unknown if p.undetermined else ())
            for name, p in decision.programs.items()}
    assert r.programs == want and dict(r.programs) == want and list(r.programs) == list(want)
    assert "demo" in r.programs and "nope" not in r.programs and r.programs.get("nope") is None
    assert pickle.loads(pickle.dumps(r)) == r
    assert r.programs["demo"] is r.programs["demo"]  # made once when read


def test_the_summary_counts_every_pattern_of_outcomes() -> None:
    """Records with many different tiers (more patterns than the summary holds pending) are each counted once."""
    summary = BatchSummary(("a", "b"))
    n = 5000
    for i in range(n):
        outcomes = Outcomes({"a": (i % 3 == 0, None, f"t{i}", None, ()),
                             "b": (None if i % 2 else False, None, None, None, ())})
        summary.add(BatchResult(i, None, None, "sha256:abc", outcomes))
    summary.add(BatchResult(n, None, None, "sha256:abc", error=RecordFailure("json", "line 1: not valid JSON")))
    assert summary.records == n + 1 and summary.errors == {"json": 1}
    assert summary.outcomes == {"a": [1667, 3333, 0], "b": [0, 2500, 2500]}
    assert len(summary.tiers["a"]) == n and set(summary.tiers["a"].values()) == {1} and "b" not in summary.tiers
    assert summary.to_json()["programs"]["b"] == {"eligible": 0, "not_eligible": 2500, "undecided": 2500}
    assert summary.failed


def test_batch_output_is_the_same_in_every_language() -> None:
    """A program's error in a batch line is the record's English text, whatever language the command runs in."""
    from eligibility.base.i18n import use_language

    h = json.loads((Path(__file__).parent.parent / "examples" / "huadu-family.json").read_text(encoding="utf-8"))
    lines = {}
    for lang in ("en", "zh"):
        with use_language(lang):
            (r,) = decide_many(None, [h], on=ON)
            lines[lang] = r.to_json()
    errors = [p["error"] for p in lines["en"]["programs"].values() if p.get("error")]
    assert errors, "the bundled medical programs have a parameter with no value: a program error to compare"
    assert lines["zh"] == lines["en"]
