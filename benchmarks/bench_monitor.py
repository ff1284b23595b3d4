#!/usr/bin/env python3
"""By-hand benchmark of the monitor's reference engine: events/s, re-decisions, memory, alert volume.

Not a test: nothing here asserts a speed. Rates are per CPU second (time.process_time), so that a
machine shared with other work still measures the code; the wall time is printed too. Three
measurements, on synthetic logs written to a temporary folder (`eligibility.monitor.synthetic`):

    .venv/bin/python benchmarks/bench_monitor.py checkins --n 1000000     # check-in events/s
    .venv/bin/python benchmarks/bench_monitor.py facts --households 20000 --n 500000
    .venv/bin/python benchmarks/bench_monitor.py month --households 300000   # memory, alerts per kind
    .venv/bin/python benchmarks/bench_monitor.py kill --points 100   # SIGKILL at 100 points, resume

`checkins` and `facts` print two rates: *end to end* (reading and parsing each JSONL line,
ordering within the lateness, applying it, committing the state and alerts to SQLite every
batch) and *applying* (events already parsed, no commits). The re-decisions the fact changes
cause (each changed household decided again when its day closes) are timed apart and reported
apart, with their count. `month` runs `eligibility monitor` on a month of events for the whole
synthetic district in a child process and prints its peak resident memory (ru_maxrss), the time,
and the alerts per rule: what each setting costs in caseworkers' attention.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import eligibility  # noqa: E402 - after the path of the checkout
from eligibility.monitor.events import parse_event  # noqa: E402
from eligibility.monitor.reference import Monitor  # noqa: E402
from eligibility.monitor.rules import load_rules  # noqa: E402
from eligibility.monitor.store import Store  # noqa: E402
from eligibility.monitor.synthetic import generate  # noqa: E402

START = dt.datetime(2024, 9, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _checkins(n: int, people: int, days: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    step = days * 86400 / n
    return [json.dumps({"id": f"c{i}", "time": (START + dt.timedelta(seconds=int(i * step))).isoformat(),
                        "type": "checkin", "person": f"R{rng.randrange(people):06d}",
                        "station": rng.choice(("HD-01", "HD-02", "BY-01"))}, separators=(",", ":"))
            for i in range(n)]


def _facts(n: int, households: int, days: int, seed: int) -> list[str]:
    """Income reports: each household's income moves by up to 5% a report, and one report in 20 is a drop."""
    rng = random.Random(seed)
    step = days * 86400 / n
    income: dict[int, int] = {}
    out = []
    for i in range(n):
        h = rng.randrange(households)
        old = income.get(h, rng.randint(0, 5000))
        new = old * rng.randint(40, 65) // 100 if rng.random() < 0.05 else max(0, old + old * rng.randint(-5, 5) // 100)
        income[h] = new
        out.append(json.dumps({"id": f"f{i}", "time": (START + dt.timedelta(days=1, seconds=int(i * step))).isoformat(),
                               "type": "facts", "household": f"h{h:06d}", "source": "人社工资记录",
                               "set": {"assessed_monthly_income": f"{new}.00"}}, separators=(",", ":")))
    return out


def _timed_run(engine: eligibility.Engine, rules: object, lines: list[str], folder: Path, name: str,
               state: Path | None = None) -> None:
    log = folder / f"{name}.jsonl"
    log.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    db = state or folder / f"{name}.db"
    store = Store(db)
    mon = Monitor(engine, rules, store)  # type: ignore[arg-type]
    t, cpu = time.perf_counter(), time.process_time()
    stats = mon.run(log)
    elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    store.close()
    # The re-decisions' share of the CPU time: their share of the wall time (timed around each call).
    share = stats.decide_seconds / elapsed if elapsed else 0.0
    other = cpu * (1 - share)
    print(f"  end to end: {len(lines):,} events in {elapsed:.2f} s wall, {cpu:.2f} s CPU; without the "
          f"re-decisions {other:.2f} s CPU = {len(lines) / other:,.0f} events per CPU second")
    if stats.redecisions:
        print(f"  re-decisions: {stats.redecisions:,} taking {share:.0%} of the time, {cpu * share:.2f} s CPU "
              f"= {stats.redecisions / (cpu * share):,.0f} decisions per CPU second")
    print(f"  alerts: {dict(sorted(stats.alerts.items()))}")
    # Applying only: the same events parsed beforehand, into a monitor whose commits are not counted.
    store = Store(folder / f"{name}-apply.db")
    mon = Monitor(engine, rules, store)  # type: ignore[arg-type]
    if state is not None:
        _establish(mon, state)
    events = [parse_event(x, i + 1) for i, x in enumerate(lines)]
    events.sort(key=lambda e: e.order)
    t, cpu = time.perf_counter(), time.process_time()
    before = mon.stats.decide_seconds
    for ev in events:
        mon.apply(ev)
    mon.finish()
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    cpu *= 1 - (mon.stats.decide_seconds - before) / wall if wall else 1
    store.close()
    print(f"  applying only (parsed, in order, no commits, no re-decisions): "
          f"{len(events) / cpu:,.0f} events per CPU second")
    t = time.process_time()
    for i, x in enumerate(lines):
        parse_event(x, i + 1)
    print(f"  reading only (JSON and checks of each line): {len(lines) / (time.process_time() - t):,.0f} "
          "events per CPU second")


def _establish(mon: Monitor, state: Path) -> None:
    """Load the households of a measured state into a fresh monitor (for the applying-only rate)."""
    src = Store(state)
    for sid, st in src.subjects():
        if sid.startswith("h:"):
            mon.households[sid[2:]] = st
    mon.day = dt.date(2024, 9, 1)
    src.close()


def checkins(args: argparse.Namespace) -> None:
    engine = eligibility.load()
    rules = load_rules(eligibility.engine.runtime.bundled_policies(), engine)
    print(f"check-ins: {args.n:,} events by {args.people:,} people over {args.days} days")
    with tempfile.TemporaryDirectory() as tmp:
        _timed_run(engine, rules, _checkins(args.n, args.people, args.days, args.seed), Path(tmp), "checkins")


def facts(args: argparse.Namespace) -> None:
    engine = eligibility.load()
    rules = load_rules(eligibility.engine.runtime.bundled_policies(), engine)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        setup = list(generate(args.households, 1, seed=args.seed, checkin_people=0, late_share=0))
        log = folder / "setup.jsonl"
        log.write_text("".join(x + "\n" for x in setup), encoding="utf-8")
        state = folder / "facts.db"
        store = Store(state)
        t = time.perf_counter()
        Monitor(engine, rules, store).run(log)
        store.close()
        print(f"setup: {args.households:,} households established ({len(setup):,} events) "
              f"in {time.perf_counter() - t:.1f} s")
        print(f"fact changes: {args.n:,} income changes over {args.days} days")
        _timed_run(engine, rules, _facts(args.n, args.households, args.days, args.seed), folder, "facts", state)


def month(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "month.jsonl"
        t = time.perf_counter()
        n = 0
        with open(log, "w", encoding="utf-8") as f:
            for line in generate(args.households, args.days, seed=args.seed):
                f.write(line + "\n")
                n += 1
        print(f"month: {args.households:,} households, {args.days} days, {n:,} events "
              f"({log.stat().st_size / 2**20:.0f} MiB; generated in {time.perf_counter() - t:.0f} s)")
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "eligibility", "monitor", str(log), "--state",
                              str(Path(tmp) / "month.db"), "--lang", "en", "--progress"],
                             env=env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(out.stdout, end="")
        if out.returncode:
            print(out.stderr[-3000:])
        print(f"  {elapsed:.0f} s ({n / elapsed:,.0f} events/s with every re-decision), "
              f"peak memory {peak:,.0f} MiB, state file {(Path(tmp) / 'month.db').stat().st_size / 2**20:.0f} MiB")


CHILD = """\
import os, signal, sys
from pathlib import Path
import eligibility
from eligibility.monitor.reference import Monitor
from eligibility.monitor.rules import load_rules
from eligibility.monitor.store import Store

root, log, db, kill_at, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
engine = eligibility.load(root)
store = Store(db)
real = store.commit
count = [0]

def commit(**kw):
    count[0] += 1
    if count[0] == kill_at and kill_at % 2:
        os.kill(os.getpid(), signal.SIGKILL)
    real(**kw)
    if count[0] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

store.commit = commit
Monitor(engine, load_rules(Path(root), engine), store, batch=batch).run(log)
"""


def kill(args: argparse.Namespace) -> None:
    """Kill the monitor with SIGKILL at random commits (before or after), resume, compare the alert files."""
    import hashlib

    from eligibility.engine.runtime import bundled_policies
    from eligibility.monitor.run import write_alerts

    root = bundled_policies()
    engine = eligibility.load(root)
    rules = load_rules(root, engine)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log = folder / "events.jsonl"
        lines = list(generate(args.households, args.days, seed=args.seed, checkins_per_day=0.5))
        log.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
        store = Store(folder / "whole.db")
        Monitor(engine, rules, store).run(log)
        write_alerts(store, folder / "whole.jsonl")
        store.close()
        expected = hashlib.sha256((folder / "whole.jsonl").read_bytes()).hexdigest()
        script = folder / "child.py"
        script.write_text(CHILD, encoding="utf-8")
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        kills = rounds = same = 0
        while kills < args.points:
            rounds += 1
            db = folder / f"run{rounds}.db"
            batch = rng.randint(5, 60)
            while True:
                child = subprocess.run([sys.executable, str(script), str(root), str(log), str(db),
                                        str(rng.randint(1, 4)), str(batch)], env=env, capture_output=True,
                                       text=True, check=False)
                if child.returncode == -9:
                    kills += 1
                    continue
                if child.returncode != 0:
                    raise SystemExit(child.stderr)
                break
            store = Store(db)
            write_alerts(store, folder / "resumed.jsonl")
            store.close()
            same += hashlib.sha256((folder / "resumed.jsonl").read_bytes()).hexdigest() == expected
        print(f"kill: {len(lines):,} events; {kills} SIGKILLs at random commits (before or after) over {rounds} "
              f"resumed runs; alert files identical to the uninterrupted run (SHA-256 {expected[:16]}...): "
              f"{same} of {rounds}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    c = sub.add_parser("checkins")
    c.add_argument("--n", type=int, default=1_000_000)
    c.add_argument("--people", type=int, default=20_000)
    c.add_argument("--days", type=int, default=30)
    f = sub.add_parser("facts")
    f.add_argument("--n", type=int, default=500_000)
    f.add_argument("--households", type=int, default=20_000)
    f.add_argument("--days", type=int, default=28)
    m = sub.add_parser("month")
    m.add_argument("--households", type=int, default=300_000)
    m.add_argument("--days", type=int, default=30)
    k = sub.add_parser("kill")
    k.add_argument("--points", type=int, default=100)
    k.add_argument("--households", type=int, default=150)
    k.add_argument("--days", type=int, default=10)
    for s in (c, f, m, k):
        s.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    {"checkins": checkins, "facts": facts, "month": month, "kill": kill}[args.what](args)


if __name__ == "__main__":
    main()
