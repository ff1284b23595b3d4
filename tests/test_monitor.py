"""The monitor: rules checked, events read, alerts replayed byte for byte, resumed after a kill, de-duplicated."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import eligibility
from conftest import alert_file, run_killed, write_log
from eligibility.cli import build
from eligibility.engine.runtime import bundled_policies
from eligibility.monitor import run as monitor_run
from eligibility.monitor import store as monitor_store
from eligibility.monitor.events import BadEvent, parse_event
from eligibility.monitor.model import KINDS, RuleSet
from eligibility.monitor.reference import Monitor, add_months, birthday
from eligibility.monitor.rules import load_rules
from eligibility.monitor.store import Store
from eligibility.monitor.synthetic import generate

ROOT = bundled_policies()


@pytest.fixture(scope="module")
def bundled() -> eligibility.Engine:
    return eligibility.load(ROOT)


@pytest.fixture(scope="module")
def rules(bundled: eligibility.Engine) -> RuleSet:
    return load_rules(ROOT, bundled)


@pytest.fixture(scope="module")
def district_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic log: 120 households over 12 days (about 700 events)."""
    return write_log(tmp_path_factory.mktemp("log") / "events.jsonl", generate(120, 12, seed=7, checkins_per_day=0.5))


def _run(engine: eligibility.Engine, rules: RuleSet, log: Path, folder: Path, batch: int = 20_000) -> Path:
    store = Store(folder / "state.db")
    Monitor(engine, rules, store, batch=batch).run(log)
    store.close()
    return alert_file(folder / "state.db", folder / "alerts.jsonl")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _policies_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "policies"
    shutil.copytree(ROOT, dest)
    return dest


# ---------------------------------------------------------------------- rules


def test_bundled_rules_cover_every_kind(rules: RuleSet) -> None:
    """The bundled rules have one or more rules of every kind, each cited or marked local practice with a note."""
    assert {r.kind for r in rules.rules} == set(KINDS)
    for r in rules.rules:
        assert r.citation.source or (r.citation.local_practice and r.citation.note)
        assert r.title.zh and r.title.en and r.message.zh and r.message.en


def test_policy_hash_does_not_depend_on_monitoring_files(tmp_path: Path, bundled: eligibility.Engine) -> None:
    """Deciding is unchanged by the monitoring rules: the policy hash is the same without them."""
    copy = _policies_copy(tmp_path)
    shutil.rmtree(copy / "monitoring")
    shutil.rmtree(copy / "tests" / "monitoring")
    assert eligibility.load(copy).policy_hash == bundled.policy_hash


BROKEN = """\
monitoring:
  title: {zh: 测试, en: Test}
  lateness_hours: 48
rules:
  drop:
    kind: indicator_change
    title: {zh: 收入骤减, en: Income drop}
    message: {zh: "降至 {after}", en: "fell to {aftr}"}
    level: purple
    source: G99
    fact: assessed_monthly_incme
    direction: down
    share: 1.30
    window_days: 90
  runs:
    kind: station_repeat
    title: {zh: 跑站, en: Repeat use}
    message: {zh: "{count} 次", en: "{count} times"}
    level: 橙
    local_practice: true
    count: three
    days: 30
  near:
    kind: near_threshold
    title: {zh: 接近, en: Near}
    message: {zh: 接近, en: Near}
    level: blue
    source: N5
    program: dibao
    value: income_per_capita
    limit: standrd
    margin: 0.1
    repeat_after_days: 90
  what:
    kind: threshold
"""


def test_rule_problems_are_all_listed_at_their_positions(tmp_path: Path, golden: Any) -> None:
    """Every problem of a monitoring file is reported at file:line:col with the line, carets and a hint."""
    copy = _policies_copy(tmp_path)
    (copy / "monitoring" / "huadu.yaml").write_text(BROKEN, encoding="utf-8")
    with pytest.raises(eligibility.PolicyError) as err:
        load_rules(copy, eligibility.load(copy))
    golden("diagnostics/monitoring-rules.txt", err.value.render())


def test_check_command_reports_monitoring_problems(tmp_path: Path) -> None:
    """`eligibility check` fails on a broken monitoring file and names it (it does not choke on the folder)."""
    copy = _policies_copy(tmp_path)
    (copy / "monitoring" / "huadu.yaml").write_text(BROKEN, encoding="utf-8")
    result = CliRunner().invoke(build(), ["check", str(copy)], catch_exceptions=False)
    assert result.exit_code == 1
    assert "monitoring/huadu.yaml:9:12: error[level]" in result.output


def test_no_monitoring_rules_is_an_error(tmp_path: Path, bundled: eligibility.Engine) -> None:
    """A policy folder without monitoring rules cannot be monitored, and says so."""
    copy = _policies_copy(tmp_path)
    shutil.rmtree(copy / "monitoring")
    with pytest.raises(eligibility.PolicyError) as err:
        load_rules(copy, bundled)
    assert err.value.code == "no-monitoring-rules"


# ---------------------------------------------------------------------- events


def test_a_bad_event_lists_every_problem() -> None:
    """A bad line names each problem by field, not only the first."""
    line = '{"id": "e1", "time": "yesterday", "type": "facts", "household": 7, "set": {"x": 1.5}, "extra": 1}'
    with pytest.raises(BadEvent) as err:
        parse_event(line, 12)
    assert err.value.line == 12
    assert err.value.problems == ["a number with a decimal point or exponent: write money as text, e.g. \"1200.50\""]
    line = '{"id": "e1", "time": "yesterday", "type": "facts", "household": 7, "set": {}, "extra": 1}'
    with pytest.raises(BadEvent) as err:
        parse_event(line, 3)
    assert err.value.problems == [
        "time: must be an ISO 8601 date-time like 2024-09-01T09:30:00+08:00",
        "extra: not a field of a facts event",
        "source: missing",
        "household: must be text of at most 128 characters",
        "set: must be an object of facts by name, not empty",
    ]


def test_event_time_without_offset_is_guangzhou_time() -> None:
    """An event time without an offset is +08:00: its day is the local date."""
    a = parse_event('{"id": "a", "time": "2024-09-01T07:00:00", "type": "day"}', 1)
    b = parse_event('{"id": "b", "time": "2024-08-31T23:00:00+00:00", "type": "day"}', 2)
    assert a.time == b.time and str(a.day) == "2024-09-01"


def test_month_and_birthday_arithmetic() -> None:
    """Review dates keep the day of the month where it exists; 29 February birthdays fall on 1 March."""
    import datetime as dt

    assert add_months(dt.date(2024, 8, 31), 6) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2024, 9, 2), 12) == dt.date(2025, 9, 2)
    assert birthday(dt.date(2008, 2, 29), 18) == dt.date(2026, 3, 1)


# ---------------------------------------------------------------------- replay and resume


def test_replay_gives_byte_identical_alerts(tmp_path: Path, bundled: eligibility.Engine, rules: RuleSet,
                                           district_log: Path) -> None:
    """The same log gives the same alert file (SHA-256), whatever the batch size between commits."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _run(bundled, rules, district_log, tmp_path / "a")
    second = _run(bundled, rules, district_log, tmp_path / "b", batch=7)
    assert _sha(first) == _sha(second)
    kinds = {json.loads(x)["kind"] for x in first.read_text(encoding="utf-8").splitlines()}
    assert {"outcome_changed", "indicator_change", "station_repeat", "near_threshold"} <= kinds


def test_each_alert_line_is_canonical_json(tmp_path: Path, bundled: eligibility.Engine, rules: RuleSet,
                                           district_log: Path) -> None:
    """Every alert line is the canonical JSON of its content (sorted keys, no spaces): a consumer can re-hash it."""
    out = _run(bundled, rules, district_log, tmp_path)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines
    for line in lines:
        assert monitor_store.dumps(json.loads(line)) == line


def test_events_held_as_text_give_the_same_alerts(tmp_path: Path, bundled: eligibility.Engine, rules: RuleSet,
                                                  district_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond HOLD_PARSED held events the rest are held as text (less memory): the alerts are the same."""
    from eligibility.monitor import reference

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _run(bundled, rules, district_log, tmp_path / "a")
    monkeypatch.setattr(reference, "HOLD_PARSED", 3)
    second = _run(bundled, rules, district_log, tmp_path / "b")
    assert _sha(first) == _sha(second)


def test_running_a_finished_state_again_adds_nothing(tmp_path: Path, bundled: eligibility.Engine, rules: RuleSet,
                                                     district_log: Path) -> None:
    """A run over a log the state has already read raises no alert again and writes the same file."""
    out = _run(bundled, rules, district_log, tmp_path)
    before = _sha(out)
    again = _run(bundled, rules, district_log, tmp_path)
    assert _sha(again) == before


def test_killed_at_random_points_and_resumed_gives_the_same_file(tmp_path: Path, bundled: eligibility.Engine,
                                                                 rules: RuleSet, district_log: Path) -> None:
    """A run killed with SIGKILL at several points and resumed each time writes the uninterrupted run's alerts."""
    (tmp_path / "whole").mkdir()
    expected = _sha(_run(bundled, rules, district_log, tmp_path / "whole"))
    db = tmp_path / "killed.db"
    rng = random.Random(14)
    for _ in range(8):
        child = run_killed("reference", ROOT, district_log, db, rng.randint(1, 3), batch=10)
        assert child.returncode == -signal.SIGKILL, child.stderr
    child = run_killed("reference", ROOT, district_log, db, 0, batch=10)
    assert child.returncode == 0, child.stderr
    assert _sha(alert_file(db, tmp_path / "resumed.jsonl")) == expected


def test_an_alert_refers_to_its_stored_trace(tmp_path: Path, bundled: eligibility.Engine, rules: RuleSet,
                                             district_log: Path) -> None:
    """A re-decision alert names its stored decision, whose full trace is rebuilt; and the policy and rules hashes."""
    _run(bundled, rules, district_log, tmp_path)
    store = Store(tmp_path / "state.db")
    alert = next(a for a in store.alerts() if a["kind"] == "outcome_changed")
    trace = store.trace(alert["trace"], bundled)
    stored = store.decision(alert["trace"])
    store.close()
    assert trace is not None and stored is not None
    assert alert["trace"] == "sha256:" + hashlib.sha256(monitor_store.dumps(stored).encode()).hexdigest()
    assert trace["policy"]["hash"] == bundled.policy_hash and trace["decided_for"] == alert["decision"]["on"]
    assert trace["provenance"], "the facts' provenance is carried into the trace"
    program = alert["decision"]["program"]
    assert trace["programs"][program]["eligible"] == alert["decision"]["after"]["eligible"]
    assert alert["policy_hash"] == bundled.policy_hash and alert["rules_hash"] == rules.hash
    assert alert["events"] and alert["message"]["zh"] and alert["message"]["en"]


# ---------------------------------------------------------------------- properties


CHECKINS = st.lists(st.tuples(st.integers(0, 60 * 24 * 70), st.sampled_from(["P1", "P2"]),
                              st.sampled_from(["S1", "S2"])), max_size=25)


def _checkin_alerts(engine: eligibility.Engine, rules: RuleSet, lines: list[str]) -> tuple[list[str], list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "state.db")
        Monitor(engine, rules, store).run(write_log(Path(tmp) / "events.jsonl", lines))
        out = list(store.alert_lines()), list(store.reports())
        store.close()
        return out


def _checkin_lines(checkins: list[tuple[int, str, str]]) -> list[tuple[int, str]]:
    import datetime as dt

    start = dt.datetime(2024, 9, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return [(m, json.dumps({"id": f"c{i:03d}", "time": (start + dt.timedelta(minutes=m)).isoformat(),
                            "type": "checkin", "person": p, "station": s}))
            for i, (m, p, s) in enumerate(sorted(checkins))]


@settings(max_examples=40, deadline=None)
@given(checkins=CHECKINS)
def test_one_alert_per_window_and_each_with_its_count(bundled: eligibility.Engine, rules: RuleSet,
                                                     checkins: list[tuple[int, str, str]]) -> None:
    """Check-in alerts have unique keys, are at least their window apart, and each counts N check-ins in M days."""
    (rule,) = rules.of_kind("station_repeat")
    s: Any = rule.settings
    alerts = [json.loads(x) for x in _checkin_alerts(bundled, rules, [x for _, x in _checkin_lines(checkins)])[0]]
    keys = [json.dumps(a["key"]) for a in alerts]
    assert len(keys) == len(set(keys))
    import datetime as dt

    by_person: dict[str, list[dt.date]] = {}
    for a in alerts:
        by_person.setdefault(a["person"], []).append(dt.date.fromisoformat(a["window"]))
        assert len(a["events"]) >= s.count
    for windows in by_person.values():
        assert all((b - a).days >= s.repeat_after_days for a, b in itertools.pairwise(windows))


@settings(max_examples=40, deadline=None)
@given(checkins=CHECKINS, data=st.data())
def test_arrival_order_within_the_lateness_does_not_matter(bundled: eligibility.Engine, rules: RuleSet,
                                                           checkins: list[tuple[int, str, str]],
                                                           data: st.DataObject) -> None:
    """Events that arrive out of order, but within the lateness, give the same alerts byte for byte."""
    timed = _checkin_lines(checkins)
    half = rules.lateness_seconds // 60 // 2
    delays = data.draw(st.lists(st.integers(0, max(half - 1, 0)), min_size=len(timed), max_size=len(timed)))
    shuffled = [x for _, _, x in sorted((m + d, i, x) for (i, (m, x)), d in zip(enumerate(timed), delays,
                                                                                   strict=True))]
    in_order, reports = _checkin_alerts(bundled, rules, [x for _, x in timed])
    out_of_order, late = _checkin_alerts(bundled, rules, shuffled)
    assert reports == [] and late == []
    assert out_of_order == in_order


# ---------------------------------------------------------------------- command line


def test_monitor_command_writes_alerts_reports_bad_lines_and_sums_up(tmp_path: Path, district_log: Path) -> None:
    """`eligibility monitor` writes the alerts, lists each bad line on stderr with its number, and goes on."""
    log = tmp_path / "events.jsonl"
    lines = district_log.read_text(encoding="utf-8").splitlines()
    lines.insert(3, '{"id": "x", "type": "checkin"}')
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(build(), ["monitor", str(log), "--state", str(tmp_path / "s.db"), "--lang", "en",
                                     "-o", str(tmp_path / "alerts.jsonl")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "events.jsonl: line 4: bad: time: missing; person: missing; station: missing" in result.stderr
    alerts = (tmp_path / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert result.stdout.startswith(f"{len(alerts)} alert(s) (1 bad event(s), 0 late event(s)")
    assert "by level:" in result.stdout and "Sudden drop in income (income_drop)" in result.stdout


def test_a_state_of_another_log_is_refused(tmp_path: Path, district_log: Path) -> None:
    """A state file made from another log is a usage error (exit 2), not a silent mix."""
    other = tmp_path / "other.jsonl"
    other.write_text('{"id": "a", "time": "2024-09-01T00:00:00", "type": "day"}\n', encoding="utf-8")
    db = str(tmp_path / "s.db")
    runner = CliRunner()
    assert runner.invoke(build(), ["monitor", str(other), "--state", db]).exit_code == 0
    result = runner.invoke(build(), ["monitor", str(district_log), "--state", db])
    assert result.exit_code == 2 and "input_head" in result.output


def test_an_engine_that_is_not_installed_is_named(monkeypatch: pytest.MonkeyPatch, bundled: eligibility.Engine,
                                                  rules: RuleSet, tmp_path: Path) -> None:
    """Asking for a backend whose module is missing says which and how to get it, instead of failing later."""
    monkeypatch.setitem(monitor_run.ENGINES, "durable", "eligibility.monitor.no_such_backend")
    store = Store(tmp_path / "s.db")
    with pytest.raises(monitor_run.MonitorUnavailable, match="install eligibility\\[monitor\\]"):
        monitor_run.make_monitor("durable", bundled, rules, store)
    store.close()


SMALL_LOG = """\
{"id":"a1","time":"2024-09-01T09:00:00","type":"member_added","household":"h1","person":"P1","member":{"id":"m1","birth_date":"1970-05-01","sex":"male","relation":"applicant","guangdong_hukou":true,"hukou_local":true}}
{"id":"a2","time":"2024-09-01T09:00:01","type":"facts","household":"h1","source":"tax","set":{"assessed_monthly_income":"1250.00","financial_assets":"0.00"}}
{"id":"a3","time":"2024-09-20T10:00:00","type":"facts","household":"h1","source":"tax","set":{"assessed_monthly_income":"500.00"}}
{"id":"c1","time":"2024-09-21T20:00:00","type":"checkin","person":"P9","station":"HD-01"}
{"id":"c2","time":"2024-09-22T20:00:00","type":"checkin","person":"P9","station":"HD-01"}
{"id":"c3","time":"2024-09-23T20:00:00","type":"checkin","person":"P9","station":"HD-02"}
{"id":"bad","time":"2024-09-23T21:00:00","type":"checkin","person":"P9"}
"""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_summary_counts_by_level_and_rule(tmp_path: Path, golden: Any, lang: str) -> None:
    """The summary counts alerts by level and by rule in Chinese or English, and lists the busiest subjects."""
    log = tmp_path / "events.jsonl"
    log.write_text(SMALL_LOG, encoding="utf-8")
    result = CliRunner().invoke(build(), ["monitor", str(log), "--state", str(tmp_path / "s.db"), "--lang", lang],
                                catch_exceptions=False)
    assert result.exit_code == 0
    golden(f"monitor/summary-{lang}.txt", result.stdout)
    assert result.stderr == "events.jsonl: line 7: bad: station: missing\n"


def test_a_tier_that_comes_to_wait_on_unknown_facts_is_not_a_tier_change() -> None:
    """A re-decision whose tier now waits on an unknown fact says nothing about the tier: no tier_changed alert.

    Its outcome keeps the tier as None (not known), never "" (no tier), so it cannot be read as a change.
    """
    from eligibility.monitor.reference import _change, _tier

    engine = eligibility.load()
    household = json.loads((Path(__file__).parent.parent / "examples" / "huadu-family.json").read_text())
    known = engine.decide(household, "2024-09-01", ["dibao"]).programs["dibao"]
    household["members"][0]["refused_jobs_in_a_row"] = {"unknown": True}
    waits = engine.decide(household, "2024-09-01", ["dibao"]).programs["dibao"]
    assert known.eligible is True and waits.eligible is True and waits.tier_unknown
    before, after = [True, _tier(known), known.amount], [True, _tier(waits), waits.amount]
    assert after[1] is None and before[1] is not None
    assert _change(before, after) is None and _change(after, before) is None
    assert _change([True, "", known.amount], [True, "A", known.amount]) == "tier_changed"  # a known change still is
