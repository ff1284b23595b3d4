#!/usr/bin/env python3
"""Instructions per call under valgrind's callgrind: the issue 16 ratios, reproducible on a busy machine.

Not a test. Timings on a machine shared with other work vary by 2x from one minute to the next;
instruction counts stay within a few per cent. Each measurement runs this script under
`valgrind --tool=callgrind` twice, making N1 and then N2 calls after the same start-up, and
reports (instructions(N2) - instructions(N1)) / (N2 - N1): the cost of one call, start-up excluded.

    .venv/bin/python benchmarks/bench_instructions.py                  # every row, about 10 min
    .venv/bin/python benchmarks/bench_instructions.py --only fixture json_fixture

Rows (the 3-member eligible household of bench_decide, with `hukou_local` given so that the
bundled set decides every program):

    handwritten   handwritten.decide_dibao
    fixture       the dibao fixture (tests/fixtures/dibao), decide(programs=["dibao"], trace=False)
    bundled       the bundled set, decide(programs=["dibao"], trace=False)
    all           the bundled set, every program, trace=False
    traced        the dibao fixture, decide(programs=["dibao"]) with the trace (trace=True)
    json_fixture  to_json() of the fixture's traced dibao decision
    explain_fixture  explain("zh") of the fixture's traced dibao decision (it builds the JSON trace too)
    compact_all   to_compact() of the bundled set's untraced decision of every program
    batch         one record of a batch in one process: decide_many over bench_batch.py's JSONL lines
                  (every program) and the output line (scale.results.jsonl_line)

Needs valgrind on PATH; standard library plus eligibility only.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROWS = ("handwritten", "fixture", "bundled", "all", "json_fixture", "compact_all", "batch", "traced",
        "explain_fixture")
CALLS = {"handwritten": 400, "fixture": 400, "bundled": 200, "all": 60, "json_fixture": 30, "compact_all": 60,
         "batch": 100, "traced": 400, "explain_fixture": 30}


def _calls(row: str) -> Callable[[], Any]:
    """The function a row measures, set up (engines loaded, decisions made)."""
    sys.path.insert(0, str(HERE))
    from bench_decide import FIXTURE, complete_for_bundled, households
    from handwritten import decide_dibao

    import eligibility

    on = datetime.date(2024, 9, 1)
    h = complete_for_bundled(households()[2][1])
    if row == "batch":
        return _batch()
    if row == "handwritten":
        return lambda: decide_dibao(h, on)
    if row in ("fixture", "json_fixture", "traced", "explain_fixture"):
        fixture = eligibility.load(FIXTURE)
        if row == "fixture":
            return lambda: fixture.decide(h, on=on, programs=["dibao"], trace=False)
        if row == "traced":
            return lambda: fixture.decide(h, on=on, programs=["dibao"])
        traced = fixture.decide(h, on=on, programs=["dibao"])
        return traced.to_json if row == "json_fixture" else lambda: traced.explain("zh")
    bundled = eligibility.load()
    if row == "bundled":
        return lambda: bundled.decide(h, on=on, programs=["dibao"], trace=False)
    if row == "all":
        return lambda: bundled.decide(h, on=on, trace=False)
    untraced = bundled.decide(h, on=on, trace=False)
    return untraced.to_compact


def _batch() -> Callable[[], Any]:
    """One record a call: the next line of bench_batch.py's households through decide_many, rendered."""
    import json

    from bench_batch import households as batch_households

    from eligibility.scale.results import jsonl_line
    from eligibility.scale.stream import decide_many

    lines = [json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in batch_households(1000)]
    results = decide_many(None, iter(lines * 10), on="2024-09-01", workers=1)
    return lambda: jsonl_line(next(results))


def child(row: str, n: int) -> None:
    """Make n calls of a row after its set-up and a warm-up (run under valgrind by `count`)."""
    fn = _calls(row)
    for _ in range(20):
        fn()
    for _ in range(n):
        fn()


def count(row: str, n: int) -> int:
    """Instructions of a child process making n calls of a row."""
    with tempfile.TemporaryDirectory(prefix="bench-cg-") as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                               sys.executable, __file__, "--child", row, str(n)],
                              capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, check=False)
        if proc.returncode != 0:
            sys.exit(f"bench_instructions: {row} failed under valgrind:\n{proc.stderr[-2000:]}")
        found = re.search(r"Collected : (\d+)", proc.stderr)
        if not found:
            sys.exit(f"bench_instructions: no instruction count in valgrind's output for {row}")
        return int(found.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", choices=ROWS, help="measure only these rows")
    ap.add_argument("--child", nargs=2, metavar=("ROW", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    rows = args.only or list(ROWS)
    per_call: dict[str, float] = {}
    for row in rows:
        n = CALLS[row]
        per_call[row] = (count(row, n) - count(row, 0)) / n
        print(f"{row:14} {per_call[row]:>14,.0f} instructions a call", flush=True)
    hw = per_call.get("handwritten")
    for row, base, what in (("fixture", hw, "handwritten (target <= 1.5x)"),
                            ("bundled", hw, "handwritten (target <= 3x)"),
                            ("traced", hw, "handwritten (target <= 4x)"),
                            ("traced", per_call.get("fixture"), "the untraced decision"),
                            ("explain_fixture", per_call.get("fixture"), "the untraced decision"),
                            ("json_fixture", per_call.get("fixture"), "the untraced decision (target <= 5x)")):
        if row in per_call and base:
            print(f"{row} / {what}: {per_call[row] / base:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
