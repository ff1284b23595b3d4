"""Discovery at district scale: join + decide + report of the synthetic Huadu, its speed, memory and recall.

    nice python benchmarks/bench_discover.py [--households 300000] [--workers 2] [--keep DIR] [--memory-limit 3GB]

Generates the synthetic district (benchmarks/synthetic_huadu.py, seed 1), joins its extracts
(`eligibility.discover.join`, DuckDB), discovers on 2026-12-01 (`run_discover`) and prints: the
seconds of each stage, households/s of discovery, the peak RSS of this process and of the largest
worker process, the findings by reason, and the recall of each planted kind (the share of planted
households with a finding of the matching kind; the target is 100%).
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eligibility.discover.join import join
from eligibility.discover.mapping import load_mapping
from eligibility.discover.pseudonym import read_key
from eligibility.discover.report import run_discover, totals

ON = "2026-12-01"
FOUND_BY = {"missed_eligible": {"missed"}, "should_exit": {"exit"}, "wrong_tier": {"wrong_program", "wrong_tier"},
            "hukou_residence_split": {"residence_split"}, "enrolled_twice": {"enrolled_twice"},
            "values_disagree": {"values_disagree"}}


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("synthetic_huadu", Path(__file__).with_name("synthetic_huadu.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recall(folder: Path) -> dict[str, tuple[int, int]]:
    """Return, for each planted kind, (found, planted)."""
    found: dict[str, set[str]] = collections.defaultdict(set)
    with (folder / "report" / "findings.jsonl").open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            found[row["household"]].add(row["kind"])
    out: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    with (folder / "truth.jsonl").open(encoding="utf-8") as f:
        for line in f:
            t = json.loads(line)
            out[t["kind"]][1] += 1
            out[t["kind"]][0] += bool(found[t["household"]] & FOUND_BY[t["kind"]])
    return {k: (v[0], v[1]) for k, v in sorted(out.items())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=300_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None, help="keep the district and the report here")
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB's memory limit for the join")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-discover-"))
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    _generator().generate(folder, households=args.households, seed=1)
    print(f"generate: {time.perf_counter() - start:.1f} s", flush=True)
    start = time.perf_counter()
    join(load_mapping(folder / "mapping.yaml"), folder / "joined.jsonl", read_key(folder / "pseudonym.key"),
         memory_limit=args.memory_limit)
    joined_s = time.perf_counter() - start
    print(f"join: {joined_s:.1f} s ({(folder / 'joined.jsonl').stat().st_size / 1e6:,.0f} MB)", flush=True)
    start = time.perf_counter()
    summary = run_discover(folder / "joined.jsonl", folder / "report", on=ON, workers=args.workers)
    wall = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"discover: {wall:.1f} s, {summary.households:,} households, {summary.households / wall:,.0f} households/s, "
          f"workers {args.workers}; {summary.findings:,} findings, {summary.bad} bad lines")
    print(f"join + discover: {joined_s + wall:.1f} s")
    print(f"CPU: this process {own.ru_utime + own.ru_stime:,.0f} s, "
          f"workers {children.ru_utime + children.ru_stime:,.0f} s")
    print(f"peak RSS: this process {own.ru_maxrss / 1024:,.0f} MB, largest worker {children.ru_maxrss / 1024:,.0f} MB")
    t = totals(folder / "report")
    print("by reason:", dict(sorted((f"{k}/{s}", n) for (k, s), n in t.by_reason.items())))
    print("undetermined, counted not listed:", dict(sorted((f"{p}/{e}", n) for (p, e), n in t.undetermined.items())))
    print("recall:", {k: f"{a}/{b}" for k, (a, b) in recall(folder).items()})
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
