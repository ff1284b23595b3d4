"""The durable_rules backend: the same alert files as the reference engine, and a crashed worker costs nothing."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 13):
    pytest.skip("durable-rules 2.0.28 does not import on Python 3.13 or later (the `monitor` extra is not installed "
                "there)", allow_module_level=True)

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import eligibility
from conftest import alert_file, run_killed, write_log
from eligibility.cli import build
from eligibility.engine.runtime import bundled_policies
from eligibility.monitor import durable, reference
from eligibility.monitor import run as monitor_run
from eligibility.monitor.cases import SequenceCase, read_cases
from eligibility.monitor.durable_worker import CRASH_ENV
from eligibility.monitor.model import RuleSet
from eligibility.monitor.rules import load_rules
from eligibility.monitor.store import Store
from eligibility.monitor.synthetic import generate

ROOT = bundled_policies()
CASES = read_cases(ROOT)


@pytest.fixture(scope="module")
def bundled() -> eligibility.Engine:
    return eligibility.load(ROOT)


@pytest.fixture(scope="module")
def rules(bundled: eligibility.Engine) -> RuleSet:
    return load_rules(ROOT, bundled)


def _alerts(cls: Any, engine: eligibility.Engine, rules: RuleSet, lines: list[str] | tuple[str, ...], folder: Path,
            restarts: tuple[int, ...] = (), **kw: Any) -> bytes:
    """Run `lines` with one engine (stopping and resuming after each line count of `restarts`); the alert file."""
    folder.mkdir(parents=True, exist_ok=True)
    log = write_log(folder / "events.jsonl", lines)
    done = 0
    for stop in (*restarts, None):
        store = Store(folder / "state.db")
        try:
            cls(engine, rules, store, **kw).run(log, stop_after=None if stop is None else stop - done)
        finally:
            store.close()
        done = stop or done
    return alert_file(folder / "state.db", folder / "alerts.jsonl").read_bytes()


@pytest.fixture(scope="module")
def sequence_files(bundled: eligibility.Engine, rules: RuleSet,
                   tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, bytes]]:
    """Each YAML event-sequence test's alert file from the reference engine and from durable_rules."""
    out = {}
    for case in CASES:
        folder = tmp_path_factory.mktemp("case")
        out[case.name] = (_alerts(reference.Monitor, bundled, rules, case.events, folder / "r", case.restart_after),
                          _alerts(durable.Monitor, bundled, rules, case.events, folder / "d", case.restart_after))
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.name[:60] for c in CASES])
def test_same_alert_file_as_reference_on_each_sequence_test(case: SequenceCase,
                                                            sequence_files: dict[str, tuple[bytes, bytes]]) -> None:
    """On every YAML event-sequence test (restarts included) durable_rules writes the reference's alert file."""
    want, got = sequence_files[case.name]
    assert got == want


def test_sequence_tests_raise_every_kind_through_durable(sequence_files: dict[str, tuple[bytes, bytes]]) -> None:
    """The differential tests are not vacuous: durable_rules raises every matched kind somewhere in them."""
    kinds = {line.split(b'"kind":"', 1)[1].split(b'"', 1)[0].decode()
             for _, got in sequence_files.values() for line in got.splitlines()}
    assert {"station_repeat", "indicator_change", "household_changed", "two_offices", "outcome_changed",
            "near_threshold"} <= kinds


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), checkins=st.sampled_from([0.2, 1.0]))
def test_same_alert_file_as_reference_on_generated_logs(bundled: eligibility.Engine, rules: RuleSet,
                                                        tmp_path_factory: pytest.TempPathFactory, seed: int,
                                                        checkins: float) -> None:
    """On synthetic district logs (late events included) both engines write byte-identical alert files."""
    lines = list(generate(60, 12, seed=seed, checkins_per_day=checkins, checkin_people=8))
    folder = tmp_path_factory.mktemp("gen")
    want = _alerts(reference.Monitor, bundled, rules, lines, folder / "r")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(durable, "FLUSH", 7)  # batches left in flight while the host reads on
        got = _alerts(durable.Monitor, bundled, rules, lines, folder / "d", batch=50)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(want).hexdigest()
    assert want  # a log that raises nothing would prove nothing


MEMBER = ('{"id":"a1","time":"2024-09-01T09:00:00","type":"member_added","household":"h1","person":"P1",'
          '"member":{"id":"m1","birth_date":"1970-05-01","sex":"male","relation":"applicant",'
          '"guangdong_hukou":true,"hukou_local":true}}')


@settings(max_examples=4, deadline=None)
@given(incomes=st.lists(st.tuples(st.integers(1, 120), st.sampled_from(
           ["1000.00", "700.00", "699.99", "700.01", "1250.00", "1330.00", "1197.00", "1196.99", "0.00", "1463.00"])),
           min_size=1, max_size=6),
       checkins=st.lists(st.tuples(st.integers(0, 100), st.sampled_from(["HD-01", "HD-02"])), max_size=8))
def test_same_alerts_as_reference_at_the_edges_of_shares_bands_and_windows(
        bundled: eligibility.Engine, rules: RuleSet, tmp_path_factory: pytest.TempPathFactory,
        incomes: list[tuple[int, str]], checkins: list[tuple[int, str]]) -> None:
    """Incomes exactly at a 30% drop or a band's edge, check-ins exactly 30 days apart: the engines agree."""
    import datetime as dt

    start = dt.datetime(2024, 9, 1, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    lines = [MEMBER]
    timed = [(day * 86400 + 3600, {"type": "facts", "household": "h1", "source": "tax",
                                   "set": {"assessed_monthly_income": value, "financial_assets": "0.00"}})
             for day, value in incomes]
    timed += [(day * 86400, {"type": "checkin", "person": "P9", "station": station}) for day, station in checkins]
    for i, (sec, obj) in enumerate(sorted(timed, key=lambda x: x[0])):
        lines.append(json.dumps({"id": f"e{i}", "time": (start + dt.timedelta(seconds=sec)).isoformat(), **obj}))
    folder = tmp_path_factory.mktemp("edge")
    want = _alerts(reference.Monitor, bundled, rules, lines, folder / "r")
    got = _alerts(durable.Monitor, bundled, rules, lines, folder / "d")
    assert got == want


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A synthetic log with many check-ins: about 1,000 events."""
    return list(generate(100, 14, seed=3, checkins_per_day=1.5, checkin_people=10))


@pytest.fixture(scope="module")
def district_alerts(bundled: eligibility.Engine, rules: RuleSet, district: list[str],
                    tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The reference engine's alert file of `district`."""
    return _alerts(reference.Monitor, bundled, rules, district, tmp_path_factory.mktemp("ref"))


def test_a_worker_crashing_mid_log_is_restarted_and_the_alerts_are_the_same(
        bundled: eligibility.Engine, rules: RuleSet, district: list[str], district_alerts: bytes,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that segfaults (as durable's C core can) is reported, restarted, and the alert file is unchanged."""
    want = district_alerts
    monkeypatch.setenv(CRASH_ENV, "8")  # each worker dies on its eighth batch
    monkeypatch.setattr(durable, "FLUSH", 7)  # some of them in flight
    said: list[str] = []
    got = _alerts(durable.Monitor, bundled, rules, district, tmp_path / "d", batch=40, notify=said.append)
    assert got == want
    assert said and all("worker died (signal SIGSEGV); restarted" in s for s in said)


def test_a_worker_killed_from_outside_mid_log_costs_nothing(bundled: eligibility.Engine, rules: RuleSet,
                                                            district: list[str], district_alerts: bytes,
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killing the worker process with SIGKILL between batches: the run goes on with the same alerts."""
    want = district_alerts
    real = durable.Worker.send
    calls = [0]
    killed: list[int] = []

    def send(self: durable.Worker, batch: list[list[Any]]) -> None:
        calls[0] += 1
        if calls[0] % 9 == 2 and self.proc is not None:
            killed.append(self.proc.pid)
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        real(self, batch)

    monkeypatch.setattr(durable.Worker, "send", send)
    monkeypatch.setattr(durable, "FLUSH", 7)
    said: list[str] = []
    got = _alerts(durable.Monitor, bundled, rules, district, tmp_path / "d", batch=40, notify=said.append)
    assert got == want
    assert len(killed) >= 2 and len(said) == len(killed)


def test_a_worker_that_cannot_get_past_a_batch_stops_the_run_and_a_resume_loses_nothing(
        bundled: eligibility.Engine, rules: RuleSet, district: list[str], district_alerts: bytes,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker dying on every try fails the run loudly; resumed with a healthy worker, no alert is lost or repeated."""
    want = district_alerts
    monkeypatch.setenv(CRASH_ENV, "1")
    with pytest.raises(durable.WorkerFailed, match="died 5 times on one batch"):
        _alerts(durable.Monitor, bundled, rules, district, tmp_path / "d", batch=40, notify=lambda _: None)
    monkeypatch.delenv(CRASH_ENV)
    store = Store(tmp_path / "d" / "state.db")
    durable.Monitor(bundled, rules, store, batch=40).run(tmp_path / "d" / "events.jsonl")
    store.close()
    assert alert_file(tmp_path / "d" / "state.db", tmp_path / "d" / "alerts.jsonl").read_bytes() == want


def test_monitor_command_with_the_durable_engine(tmp_path: Path, district: list[str]) -> None:
    """`eligibility monitor --engine durable` writes the same alert file as `--engine reference`."""
    log = write_log(tmp_path / "events.jsonl", district)
    files = []
    for name in ("reference", "durable"):
        out = tmp_path / f"{name}.jsonl"
        result = CliRunner().invoke(build(), ["monitor", str(log), "--state", str(tmp_path / f"{name}.db"),
                                              "--engine", name, "-o", str(out), "--lang", "en"],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        files.append(out.read_bytes())
    assert files[0] == files[1] and files[0]


def test_exact_integers_keep_the_order_of_money_and_shares() -> None:
    """Decimals are given to durable as integers of one scale; beyond 2**53 their order and sign are kept."""
    assert durable._ints(Decimal("300.00"), Decimal("0.3") * Decimal("1000.00")) == [300, 300]
    big = durable._ints(Decimal("1e30"), Decimal("1000000000000000000000000000001"), Decimal(-5))
    assert big[2] < 0 < big[0] < big[1]


def test_the_host_killed_mid_log_and_resumed_gives_the_same_file(district: list[str], district_alerts: bytes,
                                                                 tmp_path: Path) -> None:
    """The monitor process itself killed with SIGKILL (its worker with it) and resumed: the reference's alert file."""
    log = write_log(tmp_path / "events.jsonl", district)
    db = tmp_path / "killed.db"
    for kill_at in (3, 2, 0):
        child = run_killed("durable", ROOT, log, db, kill_at, batch=40)
        assert child.returncode == (-signal.SIGKILL if kill_at else 0), child.stderr
    assert alert_file(db, tmp_path / "resumed.jsonl").read_bytes() == district_alerts


def test_monitor_command_says_when_the_worker_keeps_dying(tmp_path: Path, district: list[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that dies on every try: the command lists each death, says how to resume, and exits 1."""
    log = write_log(tmp_path / "events.jsonl", district)
    monkeypatch.setenv(CRASH_ENV, "1")
    result = CliRunner().invoke(build(), ["monitor", str(log), "--state", str(tmp_path / "s.db"), "--engine",
                                          "durable"])
    assert result.exit_code == 1, result.output
    assert result.stderr.count("durable_rules worker died (signal SIGSEGV); restarted") == 5
    assert "run the same command again to resume" in result.stderr


def test_without_durable_rules_the_engine_is_refused_up_front(monkeypatch: pytest.MonkeyPatch,
                                                              bundled: eligibility.Engine, rules: RuleSet,
                                                              tmp_path: Path) -> None:
    """Where durable-rules is missing, `--engine durable` is refused before the run, saying how to install it."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "durable" else real(name, *a))
    monkeypatch.delitem(sys.modules, "eligibility.monitor.durable")
    store = Store(tmp_path / "s.db")
    with pytest.raises(monitor_run.MonitorUnavailable, match=r"durable-rules is not installed.*eligibility\[monitor\]"):
        monitor_run.make_monitor("durable", bundled, rules, store)
    store.close()
