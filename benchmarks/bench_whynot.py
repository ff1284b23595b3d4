#!/usr/bin/env python3
"""By-hand benchmark of the why-not analysis: time, probes and work against the household's size.

Not a test: nothing here asserts a speed. For households of 3 to 1,000 members (the README family's
members repeated with distinct ids, one applicant, an income far above every standard so that
every program is refused), it decides every bundled program and times `decision.why_not()` with
its default bounds (MAX_PROBES decisions, MAX_WORK work), then `to_json(why_not=True)` as a whole
(the trace and the analysis), and prints the probes made, the work done, the bound the search
stopped at and the size of the JSON. The bundled vocabulary refuses households of more than 50
members, so the policies are copied to a temporary folder with that constraint raised to 1,000.

    .venv/bin/python benchmarks/bench_whynot.py                  # 3, 10, 50, 200, 1000 members
    .venv/bin/python benchmarks/bench_whynot.py --sizes 3 1000 --repeat 3
    .venv/bin/python benchmarks/bench_whynot.py --max-work 0     # no work bound: probes only (slow)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import eligibility  # noqa: E402
from eligibility.engine.whynot import MAX_WORK  # noqa: E402


def household(n: int) -> dict[str, Any]:
    """The README family's members repeated to n, distinct ids, one applicant, refused on income."""
    h = json.loads((ROOT / "examples" / "huadu-family.json").read_text(encoding="utf-8"))
    base = h["members"]
    h["members"] = [dict(base[i % 3], id=f"m{i}", relation="applicant" if i == 0 else base[1 + i % 2]["relation"])
                    for i in range(n)]
    h["assessed_monthly_income"] = "999999.00"
    return h


def best(f: Any, repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[3, 10, 50, 200, 1000])
    ap.add_argument("--repeat", type=int, default=1, help="runs per size; the best is shown")
    ap.add_argument("--max-work", type=int, default=MAX_WORK, help=f"the work bound (default {MAX_WORK:,})")
    ap.add_argument("--on", default="2024-09-01")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "policies"
        shutil.copytree(ROOT / "policies", root, ignore=shutil.ignore_patterns("tests"))
        facts = root / "facts.yaml"
        facts.write_text(facts.read_text(encoding="utf-8").replace("- max_items: 50", "- max_items: 1000"),
                         encoding="utf-8")
        engine = eligibility.load(root)
        print(f"why-not, all {len(engine.programs)} bundled programs refused, on {args.on}, "
              f"max_work {args.max_work:,}, best of {args.repeat}")
        print(f"{'members':>7} {'decide':>8} {'why_not':>8} {'+trace':>8} {'probes':>7} {'work':>9} "
              f"{'stopped':>8} {'JSON MB':>8}")
        for n in args.sizes:
            h = household(n)
            t_decide, decision = best(lambda h=h: engine.decide(h, args.on), args.repeat)
            t_why, section = best(lambda d=decision: d.why_not(max_work=args.max_work), args.repeat)
            t_all, full = best(lambda d=decision: d.to_json(why_not=True), args.repeat)
            size = len(json.dumps(full, ensure_ascii=False)) / 1e6
            print(f"{n:>7} {t_decide:>7.3f}s {t_why:>7.3f}s {t_all:>7.3f}s {section['probes']:>7} "
                  f"{section['work']:>9,} {section['stopped'] or '-':>8} {size:>8.1f}")


if __name__ == "__main__":
    main()
