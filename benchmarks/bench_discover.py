"""Discovery at district scale: households/s and peak RSS of `eligibility discover` (decide + classify + report).

Until the synthetic Huadu generator (benchmarks/synthetic_huadu.py, branch discover-data) is
merged, the joined file is made here from the bundled example household: every fact given (its
declared defaults written out, so that nothing is left unknown by accident), household size 1 to
5, monthly income spread from 0 to 12,000 CNY, the wage with its department source, and:
- 10% of households without the bank extract (financial_assets absent: unknown);
- about 1% enrolled in dibao (half of them still eligible, some paid a different amount),
  0.2% in tekun, and 1% with a hukou/residence conflict;
- about 2% of households with a per-capita income below the dibao standard, 1% just above;
- towns and streets drawn from Huadu's ten.

    nice python benchmarks/bench_discover.py --households 300000 --workers 2 [--keep DIR]

Prints generation time, then the run's wall time, households/s, peak RSS (this process and its
worker processes, the larger of each) and the counts found.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import eligibility
from eligibility.discover.report import run_discover, totals

ON = "2026-12-01"
TOWNS = ("新华街道", "新雅街道", "秀全街道", "花城街道", "狮岭镇", "炭步镇", "赤坭镇", "花山镇", "花东镇", "梯面镇")
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "huadu-family.json"


def _plain(o: object) -> object:
    if isinstance(o, Decimal):
        return str(o)
    if isinstance(o, dt.date):
        return o.isoformat()
    raise TypeError(type(o).__name__)


def generate(path: Path, households: int, seed: int = 1) -> None:
    """Write a joined file of `households` lines (the format `eligibility join` writes)."""
    engine = eligibility.load()
    base: dict[str, Any] = json.loads(json.dumps(engine.decide(json.loads(EXAMPLE.read_text()), ON).facts,
                                                 default=_plain))
    template = base["members"]
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(households):
            h = copy.deepcopy(base)
            size = rng.choice((1, 1, 2, 2, 3, 3, 3, 4, 4, 5))
            members = []
            for k in range(size):
                m = copy.deepcopy(template[min(k, 2)])
                m["id"] = f"p_{i}_{k}"
                m["relation"] = "applicant" if k == 0 else ("spouse" if k == 1 else "child")
                year = rng.randint(1940, 2000) if k < 2 else rng.randint(2008, 2024)
                m["birth_date"] = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                members.append(m)
            h["members"] = members
            # Per-capita income: about 2% of households below the dibao standard (1,446), 1% just above.
            roll = rng.random()
            per_capita = rng.randint(0, 1400) if roll < 0.02 else rng.randint(1450, 2200) if roll < 0.03 \
                else rng.randint(2500, 15000)
            income = Decimal(per_capita * size)
            h["assessed_monthly_income"] = {"value": f"{income:.2f}", "source": "人社 wage record",
                                            "as_of": "2026-10-31", "reference": "hr-wages-2026-10"}
            if rng.random() < 0.10:
                del h["financial_assets"]
            enrolled = []
            roll = rng.random()
            if roll < 0.01:
                amount = rng.choice(("1282.00", "1446.00", "900.00", None))
                enrolled.append({"program": "dibao", "tier": None, "amount": amount, "office": "440114",
                                 "since": "2025-03-01", "person": None})
            elif roll < 0.012:
                enrolled.append({"program": "tekun", "tier": None, "amount": "1850.00", "office": "440114",
                                 "since": "2024-01-01", "person": members[0]["id"]})
            conflicts = []
            if rng.random() < 0.01:
                conflicts.append({"kind": "hukou_residence_split", "person": members[0]["id"],
                                  "detail": {"hukou": "440105", "residence": "440114"},
                                  "sources": ["公安 hukou extract", "公安 residence extract"]})
            record = {"id": f"h_{i:07d}", "area": {"district": "440114", "town": rng.choice(TOWNS)},
                      "household": h, "enrolled": enrolled, "conflicts": conflicts}
            f.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None, help="keep the joined file and the output here")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-discover-"))
    folder.mkdir(parents=True, exist_ok=True)
    joined = folder / "joined.jsonl"
    start = time.perf_counter()
    generate(joined, args.households)
    print(f"generated {args.households:,} households in {time.perf_counter() - start:.1f} s "
          f"({joined.stat().st_size / 1e6:.0f} MB)")
    start = time.perf_counter()
    summary = run_discover(joined, folder / "out", on=ON, workers=args.workers)
    wall = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    t = totals(folder / "out")
    print(f"discover: {summary.households:,} households, {summary.findings:,} findings, {summary.bad} bad lines")
    print(f"wall {wall:.1f} s, {summary.households / wall:,.0f} households/s, workers {args.workers}")
    print(f"peak RSS: main {own:,.0f} MB, largest worker {children:,.0f} MB "
          f"(sum bound {own + args.workers * children:,.0f} MB)")
    print("by reason:", dict(sorted((f"{k}/{s}", n) for (k, s), n in t.by_reason.items())))
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
