#!/usr/bin/env python3
"""By-hand benchmark of batch deciding: records/s and peak memory over N generated households.

Not a test: nothing here asserts a speed. It writes N households (default 100,000) to a JSONL
file in a temporary folder, one household a line, then decides them all, streamed, either through
the command line (`eligibility batch IN -o OUT.jsonl`, the default) or through
`eligibility.decide_many` in this process, and prints records/s and the peak resident memory
(ru_maxrss): with the CLI, the largest of the `eligibility batch` process and its workers; with
--api, this process (and, apart, the largest worker so far). Memory that stays the same at
100,000 and 1,000,000 records shows the batch streams. It also prints records per CPU second
(user + system time of the batch process and its workers, start-up included): on a machine
shared with other work the wall time varies with the load, the CPU time much less.

    .venv/bin/python benchmarks/bench_batch.py                       # CLI, workers 1 and 2, 100,000
    .venv/bin/python benchmarks/bench_batch.py --n 1000000 --workers 2
    .venv/bin/python benchmarks/bench_batch.py --api --workers 2     # decide_many(workers=2)
    .venv/bin/python benchmarks/bench_batch.py --program dibao --on 2024-09-01
    .venv/bin/python benchmarks/bench_batch.py --n 20000 --workers 1 --trace compact   # bytes a line too
    .venv/bin/python benchmarks/bench_batch.py --n 20000 --unknown 0.5   # households with unknown facts

The households are varied (1 to 6 members, incomes around the dibao standard, a few vehicles),
deterministic for a --seed, and valid for the bundled policies; --bad 0.01 makes one line in a
hundred malformed JSON, to include the error path; --unknown 0.5 leaves out `hukou_local` of half
the members (an unknown fact, not a default), so that programs are undetermined and the batch
lists the facts they wait on (the relevance search of engine/relevance.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RELATIONS = ("spouse", "child", "parent", "grandparent", "sibling")


def households(n: int, seed: int = 0, unknown: float = 0.0) -> Iterator[dict[str, Any]]:
    """Yield n varied, valid households, the same ones for the same seed.

    `unknown`: the fraction of members whose `hukou_local` is left out (unknown).
    """
    rng = random.Random(seed)
    gaps = random.Random(seed + 2)  # its own generator: the households are the same for any `unknown`
    for i in range(n):
        size = rng.choice((1, 1, 2, 3, 3, 4, 5, 6))
        members: list[dict[str, Any]] = []
        for m in range(size):
            member: dict[str, Any] = {
                "id": f"m{m + 1}",
                "birth_date": f"{rng.randint(1935, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "sex": rng.choice(("male", "female")),
                "relation": "applicant" if m == 0 else rng.choice(RELATIONS),
                "guangdong_hukou": rng.random() < 0.9,
                "hukou_local": True,  # no default any more: unknown when absent
            }
            if unknown and gaps.random() < unknown:
                del member["hukou_local"]
            if rng.random() < 0.1:
                member["disability_type"] = rng.choice(("physical", "visual", "intellectual"))
                member["disability_grade"] = rng.randint(1, 4)
            members.append(member)
        household: dict[str, Any] = {
            "assessed_monthly_income": f"{rng.randint(0, 1800 * size)}.{rng.randint(0, 99):02d}",
            "financial_assets": f"{rng.randint(0, 60000)}.00",
            "members": members,
        }
        if rng.random() < 0.3:
            household["residential_units"] = rng.randint(0, 2)
        if rng.random() < 0.1:
            household["vehicles"] = [{"kind": rng.choice(("fuel_motorcycle", "e_bike", "car"))}]
        yield {"id": f"h{i}", "household": household}


def write_input(path: Path, n: int, seed: int, bad: float, unknown: float = 0.0) -> None:
    """Write n records to a JSONL file, a fraction `bad` of them malformed."""
    rng = random.Random(seed + 1)
    with path.open("w", encoding="utf-8") as f:
        for record in households(n, seed, unknown):
            if bad and rng.random() < bad:
                f.write('{"id": "broken", "household": {\n')
            else:
                f.write(json.dumps(record, separators=(",", ":")) + "\n")


def run_cli(source: Path, out: Path, workers: int, on: str, programs: list[str],
            trace: str | None = None) -> tuple[float, float, float]:
    """Run `eligibility batch` in a child process; return (seconds, CPU seconds, peak RSS of it or of a worker, MiB)."""
    args = [sys.executable, "-m", "eligibility", "batch", str(source), "-o", str(out), "--on", on,
            "--workers", str(workers)]
    if trace:
        args += ["--trace", trace]
    for p in programs:
        args += ["--program", p]
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    summary = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)  # this child's usage, with its own waited-for workers'
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if child.returncode not in (0, 1):
        sys.exit(f"eligibility batch exited with {child.returncode}")
    print("   " + summary.strip().splitlines()[0])
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def run_api(source: Path, out: Path, workers: int, on: str, programs: list[str],
            trace: str | None = None) -> tuple[float, float, float]:
    """Decide the lines with decide_many here, writing JSONL; return (seconds, CPU seconds, peak RSS, MiB).

    The CPU time is this process's and that of the workers, which have ended (and been waited for) by the end.
    """
    from eligibility.scale.results import jsonl_line
    from eligibility.scale.stream import decide_many

    cpu = _cpu()
    start = time.perf_counter()
    with source.open("rb") as lines, out.open("wb") as f:
        for result in decide_many(None, lines, on=on, programs=programs or None, workers=workers,
                                  trace=trace or False):
            f.write(jsonl_line(result))
    return (time.perf_counter() - start, _cpu() - cpu,
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _cpu() -> float:
    """CPU seconds of this process and of its ended children."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="households (default 100,000)")
    parser.add_argument("--workers", type=int, action="append", help="worker processes (repeatable; default 1 and 2)")
    parser.add_argument("--api", action="store_true", help="decide_many in this process instead of the CLI")
    parser.add_argument("--on", default="2024-09-01")
    parser.add_argument("--program", action="append", default=[], help="decide only this program (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bad", type=float, default=0.0, help="fraction of malformed lines")
    parser.add_argument("--unknown", type=float, default=0.0, help="fraction of members without hukou_local")
    parser.add_argument("--trace", choices=("full", "compact"), help="also write each decision's trace")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        source = Path(tmp) / "households.jsonl"
        start = time.perf_counter()
        write_input(source, args.n, args.seed, args.bad, args.unknown)
        size = source.stat().st_size / 2**20
        print(f"{args.n:,} households, {size:,.0f} MiB of JSONL, written in {time.perf_counter() - start:.1f} s; "
              f"{os.cpu_count()} CPUs; {'decide_many' if args.api else 'eligibility batch'}")
        for workers in args.workers or [1, 2]:
            out = Path(tmp) / f"out-{workers}.jsonl"
            seconds, cpu, rss = (run_api if args.api else run_cli)(source, out, workers, args.on, args.program,
                                                              args.trace)
            lines = sum(1 for _ in out.open("rb"))
            widths = [len(line) for line in out.open("rb")]
            if lines != args.n:
                sys.exit(f"{lines:,} output lines for {args.n:,} input lines")
            workers_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            extra = f" (its workers so far: {workers_rss:,.0f} MiB)" if args.api and workers > 1 else ""
            print(f"workers={workers}: {args.n / seconds:,.0f} records/s ({seconds:.1f} s), "
                  f"{args.n / cpu:,.0f} records per CPU second ({cpu:.1f} s); "
                  f"peak RSS {rss:,.0f} MiB{extra}; output lines {sum(widths) / len(widths):,.0f} bytes "
                  f"on average, {max(widths):,} at most")
            out.unlink()


if __name__ == "__main__":
    main()
