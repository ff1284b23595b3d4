"""Run discovery over a joined file into an output folder: JSONL, CSV, a zh/en summary and the HTML report.

The folder (docs/how-to/discovery.md):

- `decisions.jsonl`: one line a household read, in input order (its programs' outcomes, or the
  error of a bad line with its line number); with `decisions.jsonl.run.json`, the options of the
  run, it is what `resume=True` continues after (as `eligibility batch --resume` does);
- `findings.jsonl`: one line a finding, in input order; `findings.csv`: the same, one row a
  finding, by priority;
- `traces.jsonl`: the trace of every household with a finding, keyed by its id;
  `households/ID.json`: its household, which `eligibility explain` decides as discovery did;
- `summary.zh.md`, `summary.en.md`: counts by town or street, program and reason, and the
  monthly amounts; `report.html`: the same with charts, one file that renders offline.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from eligibility.base.errors import InputError, InputProblem
from eligibility.discover.find import DEFAULT_PROGRAMS, KINDS, DiscoverJob, Outcome, discover_item, json_default
from eligibility.discover.html import render_html
from eligibility.discover.words import WORDS, money, reason_label
from eligibility.engine.runtime import Engine, parse_date
from eligibility.scale.files import count_records, read_items
from eligibility.scale.resume import check_options, completed_records, run_options, write_options
from eligibility.scale.stream import DEFAULT_CHUNK, engine_of, stream

DECISIONS = "decisions.jsonl"
UNKNOWN_AREA = "—"
CSV_COLUMNS = ("priority", "kind", "status", "household", "district", "town", "community", "programs",
               "monthly_amount", "enrolled_program", "enrolled_tier", "enrolled_amount", "decided",
               "decisive_facts", "to_verify", "office", "reason_zh", "reason_en", "trace", "household_file")


@attrs.define
class DiscoverSummary:
    """What a discovery run did: households read, decided, bad lines, findings; set `interrupted` when stopped."""

    households: int = 0
    skipped: int = 0
    bad: int = 0
    findings: int = 0
    interrupted: bool = False
    out: Path | None = None

    def render(self) -> str:
        """One line a count, in English, for the terminal."""
        lines = [f"discover: {self.households:,} households read"
                 + (f" (after {self.skipped:,} already done)" if self.skipped else ""),
                 f"  {self.findings:,} findings, {self.bad:,} bad lines"]
        if self.out is not None:
            lines.append(f"  report: {self.out / 'report.html'}; rows: {self.out / 'findings.csv'}")
        if self.interrupted:
            lines.append("  interrupted: run again with --resume to continue")
        return "\n".join(lines) + "\n"


def run_discover(source: Path, out: Path, engine_or_path: Engine | str | os.PathLike[str] | None = None, *,
                 on: object, programs: Iterable[str] | None = None, workers: int = 1, resume: bool = False,
                 jurisdiction: str | None = None, chunk_size: int = DEFAULT_CHUNK,
                 progress: Callable[[int, int | None], None] | None = None) -> DiscoverSummary:
    """Discover over a joined JSONL file into the folder `out`: what `eligibility discover` does.

    Every line of the input (malformed or not) gives one line of decisions.jsonl; a bad line is
    reported with its line number and reason and the run goes on. The outputs are flushed at least
    every second; an interrupted run (Ctrl-C, SIGTERM) leaves whole lines, and `resume=True`
    continues after the households decisions.jsonl holds (refusing another date, program set,
    policy set or input, each named). The CSV, summaries and HTML are written at the end, from
    findings.jsonl and decisions.jsonl.

    Raises:
        InputError: a bad argument, an unreadable input, or an output that cannot be resumed.
        PolicyError: the policies do not load.
    """
    if not source.is_file():
        raise InputError([InputProblem("source", "missing", f"{source} is not a file")])
    engine = engine_of(engine_or_path, jurisdiction)
    day = parse_date(on)
    names = engine.check_programs(programs if programs is not None else
                                  [p for p in DEFAULT_PROGRAMS if p in engine.programs])
    if workers > 1 and engine.root is None:
        raise InputError([InputProblem("workers", "type", "workers > 1 needs an engine made by eligibility.load()")])
    try:
        (out / "households").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError([InputProblem("out", "format", f"cannot write {out}: {e.strerror}")]) from None
    decisions = out / DECISIONS
    options = run_options(on=day.isoformat(), programs=names, jurisdiction=engine.model.jurisdiction,
                          policy_hash=engine.policy_hash, out_format="discover", trace=False, source=source.name)
    columns = [f"{p}_eligible" for p in names]
    if resume and decisions.is_file() and decisions.stat().st_size > 0:
        check_options(decisions, options)
    done = completed_records(decisions, "jsonl", columns, engine.policy_hash) if resume else 0
    if done == 0:
        write_options(decisions, options)
    _keep_before(out / "findings.jsonl", done)
    _keep_before(out / "traces.jsonl", done)
    summary = DiscoverSummary(skipped=done, out=out)
    total = count_records(source, "jsonl")
    job = DiscoverJob(day, names)
    items = read_items(source, "jsonl", done)
    results: Generator[Outcome, None, None] = stream(engine, job, items, workers, chunk_size, decide=discover_item)
    mode = "ab" if done else "wb"
    files = [open(out / name, mode, buffering=1 << 16)  # noqa: SIM115 - closed in the finally below
             for name in (DECISIONS, "findings.jsonl", "traces.jsonl")]
    dec_f, find_f, trace_f = files
    previous = _terminate_as_interrupt()
    if progress is not None:
        progress(done, total)
    try:
        tick = flushed = time.monotonic()
        for outcome in results:
            _write(outcome, out, find_f, trace_f)
            dec_f.write(outcome.decision)  # last: a household is done once its decision line is written
            summary.households += 1
            summary.findings += len(outcome.findings)
            summary.bad += outcome.decision.find(b'"error":{') >= 0 and not outcome.findings
            now = time.monotonic()
            if now - flushed >= 1.0:
                for f in (find_f, trace_f, dec_f):
                    f.flush()
                flushed = now
            if progress is not None and now - tick >= 0.2:
                tick = now
                progress(done + summary.households, total)
    except KeyboardInterrupt:
        summary.interrupted = True
    except OSError as e:
        raise InputError([InputProblem("out", "format", f"cannot write {out}: {e.strerror}")]) from None
    finally:
        results.close()
        for f in (find_f, trace_f, dec_f):
            f.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if progress is not None:
        progress(done + summary.households, total)
    if not summary.interrupted:
        write_reports(out, on=day, programs=names, source=source.name)
    return summary


def _write(outcome: Outcome, out: Path, find_f: Any, trace_f: Any) -> None:
    for f in outcome.findings:
        find_f.write((json.dumps(f, ensure_ascii=False, default=json_default, separators=(",", ":")) + "\n").encode())
    if outcome.trace is not None:
        trace_f.write(outcome.trace)
    if outcome.household is not None and outcome.id is not None:
        (out / "households" / f"{outcome.id}.json").write_bytes(outcome.household)


def _keep_before(path: Path, done: int) -> None:
    """Keep the lines of an interrupted output whose household index is below `done` (the rest are redone)."""
    if not path.exists():
        return
    tmp = path.with_name(path.name + ".tmp")
    with path.open("rb") as src, tmp.open("wb") as dst:
        for line in src:
            if not line.endswith(b"\n"):
                break
            try:
                index = json.loads(line).get("index")
            except ValueError:
                break
            if isinstance(index, int) and index < done:
                dst.write(line)
    os.replace(tmp, path)


def _terminate_as_interrupt() -> Any:
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, handler)


def read_findings(out: Path) -> Iterator[dict[str, Any]]:
    """Yield the findings of an output folder, in input order."""
    path = out / "findings.jsonl"
    if not path.exists():
        return
    with path.open("rb") as f:
        for line in f:
            yield json.loads(line)


def sort_key(f: Mapping[str, Any]) -> tuple[int, Decimal, str, int]:
    """The report order: priority, then the larger monthly amount, then household id."""
    amount = Decimal(f["monthly_amount"]) if f.get("monthly_amount") else Decimal(0)
    return (int(f["priority"]), -amount, str(f["household"]), KINDS.index(f["kind"]))


@attrs.define
class Totals:
    """The counts and monthly amounts of a report, by town (street), program and reason."""

    households: int = 0
    bad_lines: list[tuple[int | None, str]] = attrs.Factory(list)
    flagged: set[str] = attrs.Factory(set)
    by_reason: collections.Counter[tuple[str, str]] = attrs.Factory(collections.Counter)
    by_town: collections.Counter[str] = attrs.Factory(collections.Counter)
    by_program: collections.Counter[str] = attrs.Factory(collections.Counter)
    by_priority: collections.Counter[int] = attrs.Factory(collections.Counter)
    amount_by_town: dict[str, Decimal] = attrs.Factory(lambda: collections.defaultdict(Decimal))
    amount_by_program: dict[str, Decimal] = attrs.Factory(lambda: collections.defaultdict(Decimal))
    amount_by_reason: dict[tuple[str, str], Decimal] = attrs.Factory(lambda: collections.defaultdict(Decimal))
    town_program: collections.Counter[tuple[str, str]] = attrs.Factory(collections.Counter)
    #: Households not listed because a program stays undetermined even on the usual assumptions:
    #: (program, "enrolled" or "not_enrolled") -> households.
    undetermined: collections.Counter[tuple[str, str]] = attrs.Factory(collections.Counter)

    def add(self, f: Mapping[str, Any]) -> None:
        town = (f.get("area") or {}).get("town") or UNKNOWN_AREA
        reason = (f["kind"], f["status"])
        amount = Decimal(f["monthly_amount"]) if f.get("monthly_amount") else Decimal(0)
        self.flagged.add(f["household"])
        self.by_reason[reason] += 1
        self.by_town[town] += 1
        self.by_priority[int(f["priority"])] += 1
        self.amount_by_town[town] += amount
        self.amount_by_reason[reason] += amount
        for p in f["programs"][-1:] if f["kind"] == "wrong_program" else f["programs"]:
            self.by_program[p] += 1
            self.amount_by_program[p] += amount
            self.town_program[(town, p)] += 1


def totals(out: Path) -> Totals:
    """Count an output folder's findings and households (bad lines with their line numbers and reasons)."""
    t = Totals()
    with (out / DECISIONS).open("rb") as f:
        for line in f:
            t.households += 1
            if b'"error":{' in line:
                record = json.loads(line)
                if isinstance(record.get("error"), dict):
                    t.bad_lines.append((record.get("line"), record["error"]["message"]))
            elif b'"if_defaults"' in line:
                record = json.loads(line)
                for program, state in record["if_defaults"].items():
                    if state == "open":
                        t.undetermined[(program, "enrolled" if program in record["enrolled"] else "not_enrolled")] += 1
    for finding in read_findings(out):
        t.add(finding)
    return t


def write_reports(out: Path, *, on: dt.date, programs: Iterable[str], source: str) -> None:
    """Write findings.csv, summary.zh.md, summary.en.md and report.html from the folder's JSONL files."""
    rows = sorted(read_findings(out), key=sort_key)
    with (out / "findings.csv").open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for r in rows:
            writer.writerow(csv_row(r))
    t = totals(out)
    names = tuple(programs)
    for lang in ("zh", "en"):
        (out / f"summary.{lang}.md").write_text(render_summary(t, lang, on=on, programs=names, source=source),
                                                encoding="utf-8")
    (out / "report.html").write_text(render_html(t, rows, on=on, programs=names, source=source), encoding="utf-8")


def _fact_text(fact: Mapping[str, Any]) -> str:
    value = fact.get("value")
    shown = "?" if isinstance(value, dict) else json.dumps(value, ensure_ascii=False)
    where = ", ".join(str(fact[k]) for k in ("source", "as_of") if fact.get(k))
    return f"{fact['path']}={shown}" + (f" ({where})" if where else "")


def csv_row(f: Mapping[str, Any]) -> list[str]:
    """One CSV row of a finding (CSV_COLUMNS)."""
    area = f.get("area") or {}
    enrolled = f.get("enrolled") or {}
    decided = "; ".join(f"{p}: " + ("?" if d["eligible"] is None else "yes" if d["eligible"] else "no")
                        + (f" {d['amount']}" if d.get("amount") else "") + (f" {d['tier']}" if d.get("tier") else "")
                        for p, d in (f.get("decided") or {}).items())
    return [str(f["priority"]), f["kind"], f["status"], f["household"], area.get("district", ""),
            area.get("town", ""), area.get("community", ""), " ".join(f["programs"]),
            f.get("monthly_amount") or "", enrolled.get("program") or "", enrolled.get("tier") or "",
            enrolled.get("amount") or "", decided, "; ".join(_fact_text(x) for x in f.get("decisive_facts", ())),
            "; ".join(q["path"] for q in f.get("to_verify", ())), _office_text(f.get("office")), f["reason"]["zh"],
            f["reason"]["en"], f["trace"], f["household_file"]]


def _office_text(office: Mapping[str, Any] | None) -> str:
    """Where to apply, in words (zh): the offices, or why there are none."""
    if office is None:
        return ""
    if not office.get("available"):
        return str(office["note"]["zh"])
    if office.get("error"):
        return str(office["error"])
    if not office.get("offices"):
        return "未找到受理地（待核实）"
    return "; ".join(o["label"]["zh"] for o in office["offices"])


def _cell(text: str) -> str:
    """A name from the data as a Markdown table cell: no column break, no HTML."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def render_summary(t: Totals, lang: str, *, on: dt.date, programs: tuple[str, ...], source: str) -> str:
    """The readable summary of a discovery run in Markdown, in Chinese (`zh`) or English (`en`)."""
    w = WORDS[lang]
    out = [f"# {w['title']}", "",
           f"- {w['date']}: {on.isoformat()}", f"- {w['source']}: {source}",
           f"- {w['programs']}: {', '.join(programs)}",
           f"- {w['households']}: {t.households:,}", f"- {w['flagged']}: {len(t.flagged):,}",
           f"- {w['findings']}: {sum(t.by_reason.values()):,}", f"- {w['bad']}: {len(t.bad_lines):,}", "",
           w["unknown_note"], "", w["triage_note"], "", w["priority_rule"], "", w["amount_note"], ""]

    def table(title: str, head: str, items: list[tuple[str, int, Decimal | None]]) -> None:
        out.extend([f"## {title}", "", f"| {head} | {w['count']} | {w['amount']} |", "|---|---:|---:|"])
        out.extend(f"| {_cell(k)} | {n:,} | {'' if a is None else money(a)} |" for k, n, a in items)
        out.append("")

    table(w["by_priority"], w["priority"], [(str(p), n, None) for p, n in sorted(t.by_priority.items())])
    table(w["by_reason"], w["reason"], [(reason_label(r, lang), n, t.amount_by_reason[r])
                                        for r, n in sorted(t.by_reason.items(), key=lambda kv: (-kv[1], kv[0]))])
    table(w["by_town"], w["town"], [(k, n, t.amount_by_town[k])
                                    for k, n in sorted(t.by_town.items(), key=lambda kv: (-kv[1], kv[0]))])
    table(w["by_program"], w["program"], [(k, n, t.amount_by_program[k])
                                          for k, n in sorted(t.by_program.items(), key=lambda kv: (-kv[1], kv[0]))])
    if t.undetermined:
        out.extend([f"## {w['undetermined']}", "", w["undetermined_note"], "",
                    f"| {w['program']} | {w['not_enrolled']} | {w['enrolled']} |", "|---|---:|---:|"])
        for program in sorted({p for p, _ in t.undetermined}):
            out.append(f"| {program} | {t.undetermined[(program, 'not_enrolled')]:,} | "
                       f"{t.undetermined[(program, 'enrolled')]:,} |")
        out.append("")
    if t.bad_lines:
        out.extend([f"## {w['bad']}", ""])
        out.extend(f"- {message}" for _, message in t.bad_lines[:100])
        if len(t.bad_lines) > 100:
            out.append(f"- … ({len(t.bad_lines) - 100:,} more: decisions.jsonl)")
        out.append("")
    return "\n".join(out)


__all__ = ["CSV_COLUMNS", "DECISIONS", "DiscoverSummary", "Totals", "csv_row", "read_findings", "render_summary",
           "run_discover", "sort_key", "totals", "write_reports"]
