#!/usr/bin/env python3
"""By-hand benchmark of the durable_rules backend next to the reference engine: events/s on the same logs.

Not a test: nothing here asserts a speed. The durable backend does its work in two processes (the
host and the durable_rules worker), so rates are given per wall second and per CPU second of both
processes together (the worker's CPU is read from getrusage of children once it has exited);
the re-decisions at day closes are timed apart, as in bench_monitor.py:

    .venv/bin/python benchmarks/bench_monitor_durable.py checkins --n 200000
    .venv/bin/python benchmarks/bench_monitor_durable.py facts --households 5000 --n 100000

Both engines must write the same alert file; the script says so (SHA-256) after each pair of runs.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_monitor import _checkins, _facts  # noqa: E402

import eligibility  # noqa: E402 - after the path of the checkout
from eligibility.monitor import durable, reference  # noqa: E402
from eligibility.monitor.rules import load_rules  # noqa: E402
from eligibility.monitor.run import write_alerts  # noqa: E402
from eligibility.monitor.store import Store  # noqa: E402
from eligibility.monitor.synthetic import generate  # noqa: E402


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(cls: Any, engine: eligibility.Engine, rules: Any, log: Path, folder: Path, name: str,
         setup: Path | None = None) -> str:
    db = folder / f"{name}.db"
    if setup is not None:
        store = Store(db)
        cls(engine, rules, store).run(setup)
        store.close()
    store = Store(db)
    mon = cls(engine, rules, store)
    lines = log.read_bytes().count(b"\n")
    t, cpu, child = time.perf_counter(), time.process_time(), _children_cpu()
    stats = mon.run(log)
    wall, cpu, child = time.perf_counter() - t, time.process_time() - cpu, _children_cpu() - child
    work = wall - stats.decide_seconds
    both = cpu + child - stats.decide_seconds
    print(f"  {name:9}: {lines:,} events in {wall:.2f} s wall ({cpu:.2f} s CPU here, {child:.2f} s in the worker); "
          f"without the re-decisions ({stats.redecisions:,}, {stats.decide_seconds:.2f} s): "
          f"{lines / work:,.0f} events/s wall, {lines / both:,.0f} events per CPU second")
    out = folder / f"{name}.alerts.jsonl"
    write_alerts(store, out)
    store.close()
    worker = getattr(mon, "worker", None)
    if worker is not None:
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"    worker: peak memory {peak:,.0f} MiB, {len(worker.pids)} process(es) started, "
              f"{worker.restarts} restart(s)")
    return hashlib.sha256(out.read_bytes()).hexdigest()


def _pair(lines: list[str], setup: list[str] | None) -> None:
    engine = eligibility.load()
    rules = load_rules(eligibility.engine.runtime.bundled_policies(), engine)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log = folder / "events.jsonl"
        log.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
        first = None
        if setup is not None:
            first = folder / "setup.jsonl"
            first.write_text("".join(x + "\n" for x in setup), encoding="utf-8")
        a = _run(reference.Monitor, engine, rules, log, folder, "reference", first)
        b = _run(durable.Monitor, engine, rules, log, folder, "durable", first)
        print(f"  alert files {'identical' if a == b else 'DIFFERENT'} (sha256 {a[:16]}…)")


def checkins(args: argparse.Namespace) -> None:
    print(f"check-ins: {args.n:,} events by {args.people:,} people over {args.days} days")
    _pair(_checkins(args.n, args.people, args.days, args.seed), None)


def facts(args: argparse.Namespace) -> None:
    print(f"fact changes: {args.n:,} income changes of {args.households:,} households over {args.days} days "
          "(after a setup log establishing them, not timed)")
    setup = list(generate(args.households, 1, seed=args.seed, checkin_people=0, late_share=0))
    _pair(_facts(args.n, args.households, args.days, args.seed), setup)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("checkins")
    c.add_argument("--n", type=int, default=200_000)
    c.add_argument("--people", type=int, default=20_000)
    c.add_argument("--days", type=int, default=30)
    c.add_argument("--seed", type=int, default=1)
    c.set_defaults(fn=checkins)
    f = sub.add_parser("facts")
    f.add_argument("--n", type=int, default=100_000)
    f.add_argument("--households", type=int, default=5_000)
    f.add_argument("--days", type=int, default=30)
    f.add_argument("--seed", type=int, default=1)
    f.set_defaults(fn=facts)
    args = p.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
