"""YAML event-sequence tests of the monitoring rules (`monitoring_tests:` files) and their runner.

A case gives an event log (a YAML list of events, as in the JSONL format), the points where the
monitor is stopped and started again on its state, and the alerts and reports expected:

```yaml
monitoring_tests:
  - name: a drop of income by more than 30% within 90 days alerts once
    restart_after: [2]              # stop after 2 lines and resume from the state file (optional)
    events:
      - {id: e1, time: "2024-09-01T09:00:00", type: facts, household: h1, source: tax,
         set: {assessed_monthly_income: "2000.00"}}
      - {id: e2, time: "2024-09-20T09:00:00", type: facts, household: h1, source: tax,
         set: {assessed_monthly_income: "1000.00"}}
    expect:                         # exactly these alerts, in this order
      - {rule: income_drop, subject: "household:h1", scope: assessed_monthly_income, window: "2024-09-20"}
    reports: [{line: 3, kind: late}]   # exactly these reports (optional: default none)
```
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from eligibility.base.errors import Diagnostic, PolicyError
from eligibility.base.source import Span
from eligibility.engine.runtime import Engine
from eligibility.lang.loader import YMap, YSeq, load_file
from eligibility.lang.policyset import first_key_in
from eligibility.lang.reader import Reader, to_plain
from eligibility.monitor.model import RuleSet
from eligibility.monitor.reference import Monitor
from eligibility.monitor.store import Store

_EXPECT_KEYS = ("rule", "subject", "scope", "window")
_EXPECT_ALL = (*_EXPECT_KEYS, "values")


@attrs.frozen
class SequenceCase:
    """One event-sequence test."""

    name: str
    events: tuple[str, ...]  # JSONL lines
    restart_after: tuple[int, ...]
    expect: tuple[tuple[str, str, str, str], ...]
    reports: tuple[tuple[int, str], ...]
    span: Span
    #: For each expected alert, the `values` it must have (those named; others are not compared).
    values: tuple[tuple[tuple[str, str], ...], ...] = ()


@attrs.frozen
class SequenceResult:
    """The outcome of one case: passed, or what differed."""

    case: SequenceCase
    passed: bool
    message: str
    alerts: tuple[dict[str, Any], ...]


def is_sequence_file(path: Path) -> bool:
    """Peek at the first key of a file: does it start with `monitoring_tests:`?"""
    return first_key_in(path, ("monitoring_tests",))


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        raise TypeError("decimal")
    return value


def read_cases(root: Path) -> list[SequenceCase]:
    """Read every `monitoring_tests:` file under a policy folder.

    Raises:
        PolicyError: every problem, at file:line:col.
    """
    root = root.resolve()
    diags: list[Diagnostic] = []
    sources = {}
    cases: list[SequenceCase] = []
    for path in sorted(p for p in root.rglob("*.yaml") if p.is_file() and is_sequence_file(p)):
        rel = path.relative_to(root).as_posix()
        yf = load_file(path, rel, diags)
        if yf is None or yf.root is None:
            continue
        sources[rel] = yf.source
        r = Reader(yf.source, diags)
        if not isinstance(yf.root, YMap):
            r.error(yf.root, "expected-mapping", "a monitoring_tests file is a mapping")
            continue
        for item in r.entries(yf.root, "monitoring_tests", "a monitoring_tests file", "cases"):
            case = _case(r, item)
            if case is not None:
                cases.append(case)
    if any(d.severity == "error" for d in diags):
        raise PolicyError(diags, sources)
    return cases


def _case(r: Reader, item: Any) -> SequenceCase | None:
    m = r.mapping(item, "a monitoring test", ("name", "events", "restart_after", "expect", "reports", "note"),
                  ("name", "events", "expect"))
    if m is None:
        return None
    name = r.text(m.get("name"), "name") or ""
    lines: list[str] = []
    ev = m.get("events")
    if isinstance(ev, YSeq):
        for e in ev.items:
            if not isinstance(e, YMap):
                r.error(e, "expected-mapping", "an event is a mapping")
                continue
            try:
                lines.append(json.dumps(to_plain(e), ensure_ascii=False, default=_json))
            except TypeError:
                r.error(e, "expected-text", "write money and other decimal numbers as text (\"1200.50\")")
    elif ev is not None:
        r.error(ev, "expected-list", "events must be a list of events")
    restarts: list[int] = []
    rn = m.get("restart_after")
    if isinstance(rn, YSeq):
        for x in rn.items:
            v = r.number(x, "restart_after", "integer")
            if isinstance(v, int) and not isinstance(v, bool):
                if not 0 < v < max(len(lines), 1) + 1:
                    r.error(x, "out-of-range", f"restart_after: {v} is not a line of the log (1..{len(lines)})")
                restarts.append(v)
    elif rn is not None:
        r.error(rn, "expected-list", "restart_after must be a list of line numbers")
    expect: list[tuple[str, str, str, str]] = []
    values: list[tuple[tuple[str, str], ...]] = []
    xn = m.get("expect")
    if isinstance(xn, YSeq):
        for x in xn.items:
            xm = r.mapping(x, "an expected alert", _EXPECT_ALL, ("rule", "subject", "window"))
            if xm is not None:
                vals = [r.text(xm.get(k), k) if xm.get(k) is not None else "" for k in _EXPECT_KEYS]
                expect.append((vals[0] or "", vals[1] or "", vals[2] or "", vals[3] or ""))
                vn = xm.get("values")
                vm = r.mapping(vn, "an alert's values", None) if vn is not None else None
                values.append(tuple((k.value, r.text(v, f"values.{k.value}") or "") for k, v in vm.items)
                              if vm is not None else ())
    elif xn is not None:
        r.error(xn, "expected-list", "expect must be a list of alerts (or [] for none)")
    reports: list[tuple[int, str]] = []
    pn = m.get("reports")
    if isinstance(pn, YSeq):
        for x in pn.items:
            pm = r.mapping(x, "an expected report", ("line", "kind"), ("line", "kind"))
            if pm is not None:
                line = r.number(pm.get("line"), "line", "integer")
                kind = r.text(pm.get("kind"), "kind")
                if isinstance(line, int) and kind:
                    reports.append((line, kind))
    elif pn is not None:
        r.error(pn, "expected-list", "reports must be a list")
    return SequenceCase(name, tuple(lines), tuple(sorted(set(restarts))), tuple(expect), tuple(reports), item.span,
                        tuple(values))


def run_case(case: SequenceCase, engine: Engine, rules: RuleSet, folder: Path | None = None) -> SequenceResult:
    """Run one case in a temporary folder (or `folder`), restarting the monitor where it says."""
    with tempfile.TemporaryDirectory(prefix="monitor-case-") as tmp:
        where = folder or Path(tmp)
        log = where / "events.jsonl"
        log.write_text("".join(x + "\n" for x in case.events), encoding="utf-8")
        db = where / "state.db"
        done = 0
        for stop in (*case.restart_after, None):
            store = Store(db)
            try:
                Monitor(engine, rules, store).run(log, stop_after=None if stop is None else stop - done)
            finally:
                store.close()
            done = stop or done
        store = Store(db)
        alerts = tuple(store.alerts())
        reports = tuple(json.loads(x) for x in store.reports())
        store.close()
    got = [(a["rule"], a["subject"], a["key"][2], a["window"]) for a in alerts]
    want = [(rule, subject, scope, window) for rule, subject, scope, window in case.expect]
    got_reports = [(x["line"], x["kind"]) for x in reports]
    problems = []
    if got != want:
        problems.append("alerts differ:\n  expected:\n" + "".join(f"    {w}\n" for w in want)
                        + "  got:\n" + "".join(f"    {g}\n" for g in got))
    else:
        for i, named in enumerate(case.values):
            have = {k: alerts[i]["values"].get(k) for k, _ in named}
            if have != dict(named):
                problems.append(f"alert {i + 1} values differ: expected {dict(named)}, got {have}\n")
    if got_reports != list(case.reports):
        problems.append(f"reports differ: expected {list(case.reports)}, got {got_reports}")
    return SequenceResult(case, not problems, "".join(problems), alerts)


def run_cases(root: Path, engine: Engine, rules: RuleSet) -> Iterator[SequenceResult]:
    """Run every event-sequence test of a policy folder."""
    for case in read_cases(root):
        yield run_case(case, engine, rules)


__all__ = ["SequenceCase", "SequenceResult", "is_sequence_file", "read_cases", "run_case", "run_cases"]
