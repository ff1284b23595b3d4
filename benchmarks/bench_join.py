#!/usr/bin/env python3
"""By-hand benchmark of the DuckDB join: time and peak memory for a synthetic Huadu.

Not a test: nothing here asserts a speed. It generates a synthetic district
(benchmarks/synthetic_huadu.py; 300,000 households and about 1.1 million people by default) in a
folder, or reuses one given with --dir, then joins its extracts into households
(`eligibility.discover.join`) and prints the generation time, the join time, the peak resident
memory of this process (ru_maxrss; DuckDB runs in it), the CPU time (all threads: the wall time
means something only on an otherwise idle machine, so the load average is printed too) and the sizes.

    .venv/bin/python benchmarks/bench_join.py                      # full size, in a temporary folder
    .venv/bin/python benchmarks/bench_join.py --households 20000
    .venv/bin/python benchmarks/bench_join.py --dir /tmp/huadu     # generate there once, then reuse it
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from synthetic_huadu import FULL_HOUSEHOLDS, generate

from eligibility.discover.join import join
from eligibility.discover.mapping import load_mapping
from eligibility.discover.pseudonym import read_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=FULL_HOUSEHOLDS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None, help="generate here (or reuse what is here)")
    parser.add_argument("--memory-limit", default="2GB")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        where = args.dir or Path(tmp)
        generated = None
        if not (where / "mapping.yaml").exists():
            started = time.perf_counter()
            generated = generate(where, args.households, args.seed)
            generated["seconds"] = round(time.perf_counter() - started, 1)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        mapping = load_mapping(where / "mapping.yaml")
        started = time.perf_counter()
        cpu = time.process_time()
        summary = join(mapping, where / "joined.jsonl", read_key(where / "pseudonym.key"),
                       memory_limit=args.memory_limit)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        size = (where / "joined.jsonl").stat().st_size
        print(json.dumps({"generated": generated, "join_seconds": round(seconds, 1),
                          "join_cpu_seconds": round(cpu, 1), "load_average": os.getloadavg(),
                          "peak_rss_mb_before_join": rss_before // 1024, "peak_rss_mb": peak // 1024,
                          "joined_mb": round(size / 2**20, 1), "summary": summary.to_json()},
                         ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
