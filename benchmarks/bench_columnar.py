"""The columnar backend from Parquet: households/s per core (CPU time), next to the row engine on the same data.

    python benchmarks/bench_columnar.py [--households N] [--distinct K] [--date YYYY-MM-DD] [--write FILE]

Households are drawn by `eligibility.strategies.households` (steered to the dibao standard), typed
as Parquet holds them (money decimal128, dates date32, lists of records list<struct>), repeated to N
rows and written to a temporary Parquet file. Before any timing, every household's outcome from the
columnar backend is checked against the row engine's (the script stops on the first difference).
Then, for dibao + marginal + tekun and for all programs:

- columnar, read included: `eligibility.scale.columnar.read_households` (text columns as dictionaries, as
  `read_parquet` reads them) + `decide_arrays` (outcomes as arrays); and with `pyarrow.parquet.read_table`
  (text as plain strings);
- columnar, read excluded: `decide_arrays` on the table in memory;
- columnar with result objects: `eligibility.scale.columnar.decide_table` (an `Outcome` a program a
  household, as batch needs);
- row engine: `engine.decide(..., trace=False)` on the same households as mappings.

Timed with `time.process_time` (CPU time of this process: one core), best of 3 runs.

With `--write FILE` the script only writes the Parquet file (for timing `eligibility batch FILE ...`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings

import eligibility
from eligibility.engine.columnar import _outcome, backend, decide_arrays
from eligibility.scale.columnar import decide_table, nested_row, read_households
from eligibility.strategies import households


def draw(engine: eligibility.Engine, on: dt.date, k: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    @settings(max_examples=k, database=None, suppress_health_check=list(HealthCheck), derandomize=True,
              deadline=None)
    @given(households(engine, on=on, near={"dibao": "standard"}))
    def collect(h: dict[str, Any]) -> None:
        out.append(h)

    collect()
    return out


def best(fn: Any, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=100_000)
    ap.add_argument("--distinct", type=int, default=500)
    ap.add_argument("--date", default="2026-03-01")
    ap.add_argument("--row-sample", type=int, default=3000, help="households timed with the row engine")
    ap.add_argument("--write", type=Path, help="only write the Parquet file of households there")
    args = ap.parse_args()
    on = dt.date.fromisoformat(args.date)
    engine = eligibility.load()
    b = backend(engine)
    print(f"columnar programs: {', '.join(b.supported)}")
    for name, why in b.unsupported.items():
        print(f"  row engine for {name}: {why}")
    drawn = draw(engine, on, args.distinct)
    rows = [nested_row(engine, h) for h in drawn]
    base = pa.Table.from_struct_array(pa.array(rows))
    reps = -(-args.households // len(rows))
    table = pa.concat_tables([base] * reps).slice(0, args.households).combine_chunks()
    n = table.num_rows
    if args.write is not None:
        pq.write_table(table, args.write)
        print(f"{n:,} households ({len(rows)} distinct) written to {args.write}")
        return
    mappings = (drawn * reps)[:n]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "households.parquet"
        pq.write_table(table, path)
        print(f"{n:,} households ({len(rows)} distinct), {path.stat().st_size / 1e6:.1f} MB of Parquet, on {on}")
        sets = {"dibao+marginal+tekun": ("dibao", "marginal", "tekun"), "all programs": engine.programs}
        for label, names in sets.items():
            # The agreement check, on every household, before any timing.
            result = decide_table(engine, pq.read_table(path), on, names)
            for i, h in enumerate(mappings):
                d = engine.decide(h, on, names, trace=False)
                want = {p: _outcome(x) for p, x in d.programs.items()}
                if result.outcomes[i] != want:
                    sys.exit(f"DIFFERENT at household {i}: {result.outcomes[i]} != {want}")
            decided = {p: 0 for p in names}
            arrays = decide_arrays(engine, table, on, names)
            for p in names:
                decided[p] = int(arrays.done[p].sum())
            read_in = best(lambda names=names: decide_arrays(engine, read_households(str(path)), on, names))
            read_plain = best(lambda names=names: decide_arrays(engine, pq.read_table(path), on, names))
            read_out = best(lambda names=names: decide_arrays(engine, table, on, names))
            objects = best(lambda names=names: decide_table(engine, table, on, names), runs=1)
            sample = mappings[:args.row_sample]
            row = best(lambda names=names, sample=sample: [engine.decide(h, on, names, trace=False) for h in sample],
                       runs=1) / len(sample) * n
            print(f"\n{label}: all {n:,} households agree with the row engine "
                  f"(columnar {result.columnar:,}; re-decided: {dict(result.fallback) or 'none'})")
            print("  decided by columns, by program: " + ", ".join(f"{p} {c / n:.1%}" for p, c in decided.items()))
            for what, secs in (("columnar, Parquet read included", read_in),
                               ("columnar, read_table (plain text)", read_plain), ("columnar, read excluded", read_out),
                               ("columnar, with Outcome objects", objects), ("row engine (trace=False)", row)):
                print(f"  {what:<34} {n / secs:>12,.0f} households/s per core   ({secs:.3f} s CPU)")
            print(f"  columnar (read included) / row engine: {row / read_in:,.0f}x")


if __name__ == "__main__":
    main()
