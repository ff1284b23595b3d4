#!/usr/bin/env python3
"""By-hand timing of `eligibility.load` on hostile policy files (issue 10, item 7).

Not a test: nothing here asserts a speed. Each case writes one generated program file (under
the 1 MiB limit) next to a small facts vocabulary in a temporary folder, then times, in this
process:

- `load`: `eligibility.load(folder)` until it returns or raises PolicyError;
- `render`: `err.render()` and `str(err)` of that PolicyError (what the CLI prints);

and shows the file size, the outcome and the number of diagnostics. The target is well
under 2 s for load + render of any file under the size limit, whatever its content.

    .venv/bin/python benchmarks/bench_hostile_load.py            # every case, best of 3
    .venv/bin/python benchmarks/bench_hostile_load.py --repeat 1 # quicker
    .venv/bin/python benchmarks/bench_hostile_load.py tags       # cases whose name contains "tags"

Standard library plus eligibility only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import eligibility
from eligibility.lang.loader import MAX_FILE_BYTES

FACTS = """\
facts: 1
household:
  assessed_monthly_income: {type: money, unit: CNY/month, label: {zh: 月收入, en: Monthly income}}
  members:
    type: list
    min_items: 1
    label: {zh: 家庭成员, en: Members}
    fields:
      id: {type: text, label: {zh: 编号, en: Id}}
"""

DIBAO = """\
program: dibao
title: {zh: 低保, en: Dibao}
jurisdiction: "000000"
sources:
  S1: {title: 办法, confidence: C}
parameters:
  standard:
    type: money
    title: {zh: 标准, en: Standard}
    source: S1
    values: {2020-01-01: 1000}
rules:
  income_test:
    title: {zh: 收入, en: Income}
    source: S1
    when: household.assessed_monthly_income < standard
eligible: income_test
"""

#: Room left under the size limit for the generated part of a file.
ROOM = MAX_FILE_BYTES - len(DIBAO.encode()) - 64


def fill(unit: str, prefix: str = "", suffix: str = "", room: int = ROOM) -> str:
    """`prefix` + as many copies of `unit` as fit in `room` bytes + `suffix`."""
    n = (room - len((prefix + suffix).encode())) // len(unit.encode())
    return prefix + unit * n + suffix


def rules(n: int, when: Callable[[int], str]) -> str:
    """A program whose `rules:` are n rules with the given expressions."""
    body = "".join(f"  r{i}:\n    title: {{zh: 规则, en: Rule}}\n    source: S1\n    when: {when(i)}\n"
                   for i in range(n))
    return DIBAO.replace("rules:\n", "rules:\n" + body)


#: name -> program file text
CASES: dict[str, Callable[[], str]] = {
    "tags 2,000 on one line": lambda: DIBAO + "description: [" + "!t x, " * 2000 + "x]\n",
    "tags 8,000 on one line": lambda: DIBAO + "description: [" + "!t x, " * 8000 + "x]\n",
    "tags filling 1 MiB on one line": lambda: DIBAO + fill("!t x, ", "description: [", "x]\n"),
    "tags on 40,000 lines": lambda: DIBAO + fill("  - !t x\n", "description:\n"),
    "anchors and aliases on one line": lambda: DIBAO + fill("&a x, *a, ", "description: [", "x]\n"),
    "1 MiB plain scalar on one line": lambda: DIBAO + fill("x", "description: ", "\n"),
    "1 MiB line, control char at end": lambda: DIBAO + fill("x", "description: ", "\x07\n"),
    "1 MiB line, syntax error at end": lambda: DIBAO + fill("x", "description: ", " ]\n"),
    "1 MiB line, tab error at end": lambda: DIBAO + fill("x", "description: '", "'\n\tx: 1\n"),
    "50,000 duplicate keys": lambda: DIBAO + "description:\n" + "  k: x\n" * 50_000,
    "50,000 duplicate keys, one line": lambda: DIBAO + "description: {" + "k: x, " * 50_000 + "k: x}\n",
    "20,000 unknown top-level keys": lambda: DIBAO + "".join(f"k{i}: x\n" for i in range(20_000)),
    "20,000 unknown rule keys": lambda: DIBAO.replace(
        "    when:", "".join(f"    k{i}: x\n" for i in range(20_000)) + "    when:"),
    "flow nesting 500,000 deep": lambda: DIBAO + fill("[", "description: ", "\n"),
    "flow nesting 31 deep, repeated": lambda: DIBAO + fill("[" * 31 + "]" * 31 + ", ", "description: [", "x]\n"),
    "block nesting 30 deep, repeated": lambda: DIBAO + "description:\n" + "".join(
        "  " * (i % 30 + 1) + f"k{i}:\n" for i in range(20_000)) + "  " * 31 + "x: y\n",
    "4,000 long lines with an error at col 250": lambda: DIBAO + "description:\n" + "".join(
        f"  - [{'x' * 240}, !t y]\n" for _ in range(4_000)),
    "1,000 lines of 1,000 chars, error at col 990": lambda: DIBAO + "description:\n" + "".join(
        f"  - [{'x' * 980}, &a y]\n" for _ in range(1_000)),
    "3,000 rules with a syntax error": lambda: rules(3_000, lambda i: "household.x <"),
    "3,000 rules with an unknown name": lambda: rules(3_000, lambda i: f"nme{i} > 0"),
    "3,000 rules with a forbidden operator": lambda: rules(3_000, lambda i: "standard ** 2 > 0"),
    "one expression of 4,000 brackets": lambda: rules(1, lambda i: '"' + "(" * 2000 + "1" + ")" * 2000 + '"'),
    "200 expressions of 100 string literals": lambda: rules(
        200, lambda i: "'" + " or ".join(['household.note == "a)("'] * 100) + "'"),
    "100 expressions of 500 side-by-side names": lambda: rules(100, lambda i: "|\n      " + "x\n      " * 500),
}


def run(name: str, text: str, folder: Path) -> tuple[float, float, str, int]:
    """Load the case once; return (load seconds, render seconds, outcome, diagnostics)."""
    for old in folder.glob("*.yaml"):
        old.unlink()
    (folder / "facts.yaml").write_text(FACTS, encoding="utf-8")
    (folder / "dibao.yaml").write_text(text, encoding="utf-8")
    t0 = time.perf_counter()
    try:
        eligibility.load(folder)
    except eligibility.PolicyError as err:
        t1 = time.perf_counter()
        err.render()
        str(err)
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1, err.code, len(err.diagnostics)
    t1 = time.perf_counter()
    return t1 - t0, 0.0, "loaded", 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("only", nargs="?", default="", help="run the cases whose name contains this")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the best is shown (3)")
    args = ap.parse_args()
    print(f"{'case':45} {'KiB':>6} {'load s':>7} {'render s':>8}  {'outcome':22} {'diags':>5}")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, make in CASES.items():
            if args.only not in name:
                continue
            text = make()
            size = len(text.encode("utf-8"))
            assert size <= MAX_FILE_BYTES, (name, size)
            best = min((run(name, text, folder) for _ in range(args.repeat)), key=lambda r: r[0] + r[1])
            load_s, render_s, outcome, n = best
            worst = max(worst, load_s + render_s)
            print(f"{name:45} {size / 1024:6.0f} {load_s:7.3f} {render_s:8.3f}  {outcome:22} {n:5}", flush=True)
    print(f"\nslowest load + render: {worst:.3f} s (target: well under 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
