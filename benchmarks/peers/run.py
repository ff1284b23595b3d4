#!/usr/bin/env python3
"""Peers in the same run (issue 16, item 5): our dibao decision against OpenFisca and GoRules Zen.

Not a test: nothing here asserts a speed. Run with any Python 3.11+ (the project's venv is fine):

    python benchmarks/peers/run.py                     # set up the peers' venv if needed, then run
    python benchmarks/peers/run.py --quick             # a tenth of the households, 3 repeats
    python benchmarks/peers/run.py --json benchmarks/results/peers.json
    python benchmarks/peers/run.py --setup-only        # only create or update the venv

Set-up: the peers' pins must not disturb the project's environment, so the first run creates a
virtual environment of its own, build/peers-venv (git-ignored, and outside benchmarks/, which the
doc tests copy; --venv elsewhere), installs openfisca-core 46.x, zen-engine 2.x and this checkout
(`pip install -e`), then runs itself again inside it. A stamp file skips the installation while
the pins and pyproject.toml are unchanged.

What it does, inside that venv, on one decision date (--on, 2024-09-01):

1. Households: the six of bench_decide.py, the 36 boundary households of households.py (1 to 6
   members, income and assets exactly on their limit and one fen either side) and --n generated
   ones (default 100,000; seeded, --seed).
2. Agreement, before anything is timed: every household is decided by ours (`engine.decide(...,
   programs=["dibao"], trace=False)` and `decide_many`), benchmarks/handwritten.py, OpenFisca
   (one vectorised simulation), Zen's decision graph and Zen's expression; `eligible` and the
   amount in fen must agree, else the run stops naming each disagreement.
   Float: the households on which the same money formulas in float64 would decide otherwise are
   counted; then boundary households of 1 to 50 members (outside the timed set) are decided by
   all, where ours and Zen must agree and OpenFisca's float32 money is shown to part from the
   exact decision once one fen is below float32's resolution (9 members and more).
3. Per decision (µs, CPU time, best of --repeat): ours untraced, handwritten, Zen expression (the
   dated parameters chosen in it, or given), Zen graph, each over the same first --n-decision
   households (default 10,000), repeats interleaved.
4. Bulk (households/s, CPU time, best of --repeat): the rows of BULK over all the households —
   ours (`decide_many`, one worker), OpenFisca from dicts (input arrays + build + calculate) and
   from ready arrays (build + calculate), Zen's graph in a loop, and the columnar backend if this
   checkout has `eligibility.engine.columnar`.

CPU time (time.process_time) because the machine is shared; the garbage collector is off while
timing, as in timeit. Ratios compare figures of the same run.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import hashlib
import importlib.util
import inspect
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PINS = ("openfisca-core>=46,<47", "zen-engine>=2,<3")
#: This checkout is installed with these extras (the columnar backend's rows need numpy and pyarrow).
EXTRAS = "columnar"
STAMP = "peers-stamp.txt"
PROGRAM = "dibao"
FIXTURE = ROOT / "tests" / "fixtures" / "dibao"


# --------------------------------------------------------------------------- set-up


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _stamp() -> str:
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    return "\n".join([*PINS, EXTRAS, hashlib.sha256(pyproject).hexdigest()]) + "\n"


def setup(venv: Path) -> Path:
    """Create or update the peers' venv; return its python."""
    python = _venv_python(venv)
    stamp = venv / STAMP
    if python.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == _stamp():
        return python
    if not python.exists():
        print(f"peers: creating a virtual environment in {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    print(f"peers: installing {', '.join(PINS)} and this checkout", file=sys.stderr)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PINS, "-e", f"{ROOT}[{EXTRAS}]"],
                   check=True)
    stamp.write_text(_stamp(), encoding="utf-8")
    return python


def _in_venv(venv: Path) -> bool:
    return Path(sys.prefix).resolve() == venv.resolve()


# --------------------------------------------------------------------------- households


def fen(amount: Decimal | float) -> int:
    """An amount in whole fen: exact for a Decimal, the nearest fen for a float."""
    if isinstance(amount, Decimal):
        return int((amount * 100).to_integral_value(ROUND_HALF_UP))
    return round(amount * 100)


def float_decisions(households: list[dict[str, Any]], on: datetime.date, standard: Decimal,
                    dtype: Any) -> list[tuple[bool, int]]:
    """The money tests and amount of dibao in binary floating point of `dtype`, other tests exact.

    Only the money arithmetic is redone (income and assets per capita against the standard, the
    amount rounded half up to the fen); the non-money tests are taken from the hand-written exact
    decision by setting the money to values that pass, so a difference is the float's doing.
    """
    import numpy as np
    from handwritten import decide_dibao

    s = dtype(float(standard))
    out = []
    for h in households:
        size = dtype(len(h["members"]))
        income = dtype(float(h["assessed_monthly_income"]))
        assets = dtype(float(h["financial_assets"]))
        others, _ = decide_dibao({**h, "assessed_monthly_income": "0.00",
                                  "financial_assets": "0.00"}, on)
        ipc = income / size
        eligible = bool(others and ipc < s and assets / size <= s * dtype(24))
        amount = 0
        if eligible:
            amount = int(np.floor((s - ipc) * size * dtype(100) + dtype(0.5)))
        out.append((eligible, amount))
    return out


WIDE = range(1, 51)  # the bundled vocabulary's limit of members


def wide_boundary(engine: Any, tbs: Any, z: Any, on: datetime.date, standard: Decimal,
                  sizes: range) -> dict[str, Any]:
    """Decide the boundary households of 1 to 50 members; count who disagrees with exact decimals.

    Outside the timed set: OpenFisca's float32 money stops telling one fen apart once the asset
    limit (size x 24 x standard) passes 2**18 yuan, at 9 members on the 2024 standard. Ours and
    Zen (decimal) must agree; OpenFisca and float64 arithmetic are counted and shown.
    """
    import numpy as np
    import openfisca_dibao
    from handwritten import decide_dibao
    from households import boundary_households

    named = list(boundary_households(standard, sizes))
    hs = [h for _, h in named]
    want = [(e, fen(a)) for e, a in (decide_dibao(h, on) for h in hs)]
    of_e, of_a = openfisca_dibao.decide(tbs, hs, on)
    got = {
        "ours": [(d.eligible, fen(d.amount)) for d in (engine.decide(
            h, on=on, programs=[PROGRAM], trace=False).programs[PROGRAM] for h in hs)],
        "Zen graph": [(e, fen(a)) for e, a in (z.graph(h, on.isoformat()) for h in hs)],
        "Zen expression": [(e, fen(a)) for e, a in (z.expr(h, on.isoformat()) for h in hs)],
        "Zen expr., given": [(e, fen(a)) for e, a in (
            z.expr_given(h, z.parameters(on.isoformat())) for h in hs)],
        "OpenFisca (float32)": [(bool(e), fen(float(a))) for e, a in zip(of_e, of_a, strict=True)],
        "float64": float_decisions(hs, on, standard, np.float64),
    }
    out: dict[str, Any] = {"wide boundary households": f"{len(hs)} ({sizes.start} to "
                                                        f"{sizes.stop - 1} members)"}
    for name, answers in got.items():
        wrong = [f"{named[i][0]}: {a[0]} {a[1]} fen, exact {w[0]} {w[1]} fen"
                 for i, (w, a) in enumerate(zip(want, answers, strict=True)) if w != a]
        if wrong and not name.startswith(("OpenFisca", "float")):
            sys.exit(f"peers: {name} disagrees on boundary households:\n  " + "\n  ".join(wrong))
        out[name] = {"disagree": len(wrong), "examples": wrong[:6]}
    return out


# --------------------------------------------------------------------------- timing


def cpu_seconds(fn: Callable[[], object]) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        fn()
        return time.process_time() - start
    finally:
        gc.enable()


def interleaved(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """CPU seconds of each function, `repeat` rounds taking each in turn."""
    runs: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            runs[k].append(cpu_seconds(fn))
    return runs


# --------------------------------------------------------------------------- the run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--venv", type=Path, default=ROOT / "build" / "peers-venv")
    ap.add_argument("--setup-only", action="store_true")
    ap.add_argument("--n", type=int, default=100_000, help="generated households (bulk)")
    ap.add_argument("--n-decision", type=int, default=10_000,
                    help="households timed one decision at a time")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--on", default="2024-09-01", help="the decision date")
    ap.add_argument("--policies", type=Path, default=FIXTURE,
                    help="policy folder for ours (default: the frozen dibao fixture)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="a tenth of the households, 3 repeats")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    venv = args.venv if args.venv.is_absolute() else Path.cwd() / args.venv
    if not _in_venv(venv):
        python = setup(venv)
        if args.setup_only:
            return 0
        os.execv(str(python), [str(python), str(Path(__file__).resolve()),
                               *(argv if argv is not None else sys.argv[1:])])
    if args.setup_only:
        return 0
    if args.quick:
        args.n, args.n_decision, args.repeat = args.n // 10, args.n_decision // 10, 3
    return compare(args)


def compare(args: argparse.Namespace) -> int:
    sys.path[:0] = [str(HERE), str(HERE.parent)]
    import numpy as np
    import openfisca_dibao
    import zen_dibao
    from handwritten import _standard, decide_dibao
    from households import boundary_households, fixed_households, generated_households

    import eligibility

    on = datetime.date.fromisoformat(args.on)
    on_text = on.isoformat()
    try:
        standard = _standard(on)
        decide_dibao(fixed_households()[0][1], on)
    except LookupError as exc:
        sys.exit(f"peers: {exc}")
    named = [*fixed_households(), *boundary_households(standard)]
    households = [h for _, h in named]
    households += generated_households(args.n, standard, args.seed)
    labels = [label for label, _ in named] + [f"generated #{i}" for i in range(args.n)]
    per_decision = households[:args.n_decision]
    print(f"peers: {len(households):,} households ({len(named)} named, {args.n:,} generated, "
          f"seed {args.seed}), dibao on {on_text}", file=sys.stderr)

    engine = eligibility.load(args.policies)
    tbs = openfisca_dibao.DibaoHuadu()
    z = zen_dibao.ZenDibao()
    columnar = _columnar(engine)

    # ---- agreement
    print("peers: checking agreement", file=sys.stderr)
    exact = [decide_dibao(h, on) for h in households]
    expected = [(e, fen(a)) for e, a in exact]
    answers: dict[str, list[tuple[bool, int]]] = {}
    answers["ours decide()"] = [
        (d.eligible, fen(d.amount)) for d in
        (engine.decide(h, on=on, programs=[PROGRAM], trace=False).programs[PROGRAM]
         for h in households)]
    answers["ours decide_many()"] = [
        (r.programs[PROGRAM].eligible, fen(r.programs[PROGRAM].amount)) if r.programs else
        (None, r.error) for r in eligibility.decide_many(engine, households, on=on,
                                                         programs=[PROGRAM])]
    of_e, of_a = openfisca_dibao.decide(tbs, households, on)
    answers["OpenFisca"] = [(bool(e), fen(float(a))) for e, a in zip(of_e, of_a, strict=True)]
    answers["Zen graph"] = [(e, fen(a)) for e, a in (z.graph(h, on_text) for h in households)]
    answers["Zen expression"] = [(e, fen(a)) for e, a in (z.expr(h, on_text) for h in households)]
    params = z.parameters(on_text)
    answers["Zen expression, parameters given"] = [
        (e, fen(a)) for e, a in (z.expr_given(h, params) for h in households)]
    arrow = _arrow(engine)
    if columnar is not None:
        answers[columnar[0]] = columnar[2](households, on)
    if arrow is not None:
        answers["columnar, Arrow table"] = arrow[3](households, on)
    problems = []
    for name, got in answers.items():
        for i, (want, have) in enumerate(zip(expected, got, strict=True)):
            if want != have:
                problems.append(f"  {labels[i]}: {name} eligible={have[0]} fen={have[1]}, "
                                f"handwritten eligible={want[0]} fen={want[1]}")
    amounts = [a for _, a in exact]
    if problems:
        sys.exit(f"peers: DISAGREEMENT on {len(problems)} decisions; nothing was timed:\n"
                 + "\n".join(problems[:50]))
    eligible_count = sum(e for e, _ in expected)
    f64 = float_decisions(households, on, standard, np.float64)
    floats: dict[str, Any] = {"float64, these households": sum(
        w != g for w, g in zip(expected, f64, strict=True))}
    floats.update(wide_boundary(engine, tbs, z, on, standard, WIDE))
    print(f"peers: all {len(answers) + 1} agree on {len(households):,} households "
          f"({eligible_count:,} eligible, amounts {min(a for a in amounts if a)} to "
          f"{max(amounts)})", file=sys.stderr)

    # ---- per decision
    print("peers: timing per decision", file=sys.stderr)

    def loop(fn: Callable[[dict[str, Any]], object]) -> Callable[[], object]:
        return lambda: [fn(h) for h in per_decision]

    decide = engine.decide
    one = {
        "ours, decide(trace=False)": loop(lambda h: decide(h, on=on, programs=[PROGRAM],
                                                           trace=False)),
        "handwritten (Decimal)": loop(lambda h: decide_dibao(h, on)),
        "Zen expression (compiled)": loop(lambda h: z.expr(h, on_text)),
        "Zen expression, parameters given": loop(lambda h: z.expr_given(h, params)),
        "Zen decision graph": loop(lambda h: z.graph(h, on_text)),
    }
    for fn in one.values():  # warm up
        fn()
    single = interleaved(one, args.repeat)

    # ---- bulk
    print("peers: timing bulk", file=sys.stderr)
    ready = openfisca_dibao.arrays(households)
    bulk: dict[str, Callable[[], object]] = {
        "ours, decide_many (1 worker)": lambda: sum(1 for _ in eligibility.decide_many(
            engine, households, on=on, programs=[PROGRAM])),
        "OpenFisca vectorised, from dicts": lambda: openfisca_dibao.decide(tbs, households, on),
        "OpenFisca vectorised, from arrays": lambda: openfisca_dibao.run(tbs, ready, on),
        "Zen decision graph, loop": lambda: [z.graph(h, on_text) for h in households],
    }
    if columnar is not None:
        bulk[columnar[0]] = lambda: columnar[1](households, on)
    if arrow is not None:
        table = arrow[0](households)
        bulk["columnar, Arrow table from dicts"] = lambda: arrow[1](arrow[0](households), on)
        bulk["columnar, ready Arrow table"] = lambda: arrow[1](table, on)
        bulk["columnar, ready Arrow table, arrays out"] = lambda: arrow[2](table, on)
    many = interleaved(bulk, max(1, args.repeat - 2))

    report = _report(args, households, per_decision, single, many, floats, eligible_count,
                     {"python": platform.python_version(), "numpy": np.__version__,
                      "openfisca-core": _version("openfisca-core"),
                      "zen-engine": _version("zen-engine"), "eligibility": _commit()})
    _print(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


def _arrow(engine: Any) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any],
                                 Callable[..., Any]] | None:
    """The columnar backend over an Arrow table in the nested layout, if this checkout has it.

    Returns (table of households, decide_table, decide_arrays, answers): the table is built as
    Parquet would hold the households (money as decimal128, dates as date32, members as
    list<struct>); `decide_table` gives an outcome object a household, the rows the columns cannot
    decide decided by the row engine (the form checked for agreement); `decide_arrays` gives the
    outcomes as arrays, of the rows the columns decide only.
    """
    if importlib.util.find_spec("eligibility.scale.columnar") is None:
        return None

    from eligibility.engine.columnar import decide_arrays
    from eligibility.scale.columnar import decide_table, nested_table

    def table(households: list[dict[str, Any]]) -> Any:
        return nested_table(engine, households)

    def objects(t: Any, on: datetime.date) -> Any:
        return decide_table(engine, t, on, [PROGRAM])

    def arrays(t: Any, on: datetime.date) -> Any:
        return decide_arrays(engine, t, on, [PROGRAM])

    def answers(households: list[dict[str, Any]], on: datetime.date) -> list[tuple[bool, int]]:
        result = decide_table(engine, table(households), on, [PROGRAM])
        return [(o[PROGRAM].eligible, fen(o[PROGRAM].amount)) for o in result.outcomes]

    return table, objects, arrays, answers


def _columnar(engine: Any) -> tuple[str, Callable[..., Any], Callable[..., Any]] | None:
    """The columnar backend's bulk row and answers, if this checkout has one.

    Either `decide_many(..., backend="columnar")` or
    `eligibility.engine.columnar.decide_columns(engine, households, on, programs)` returning one
    program outcome (or {program: outcome}) a household.
    """
    if importlib.util.find_spec("eligibility.engine.columnar") is None:
        return None
    import eligibility
    from eligibility.engine import columnar

    def outcome(o: Any) -> Any:
        return o[PROGRAM] if isinstance(o, dict) else getattr(o, "programs", {PROGRAM: o})[PROGRAM]

    if "backend" in inspect.signature(eligibility.decide_many).parameters:
        def run(households: list[dict[str, Any]], on: datetime.date) -> list[Any]:
            return [r.programs for r in eligibility.decide_many(
                engine, households, on=on, programs=[PROGRAM], backend="columnar")]
    elif hasattr(columnar, "decide_columns"):
        def run(households: list[dict[str, Any]], on: datetime.date) -> list[Any]:
            return list(columnar.decide_columns(engine, households, on, [PROGRAM]))
    else:
        print("peers: eligibility.engine.columnar has neither decide_many(backend=) nor "
              "decide_columns(); its row is left out", file=sys.stderr)
        return None

    def answers(households: list[dict[str, Any]], on: datetime.date) -> list[tuple[bool, int]]:
        return [(o.eligible, fen(o.amount)) for o in map(outcome, run(households, on))]

    return "columnar backend (1 core)", run, answers


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def _commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src",
                                "policies", "benchmarks"], capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out + ("+dirty" if dirty else "")


def _report(args: argparse.Namespace, households: list[Any], per_decision: list[Any],
            single: dict[str, list[float]], many: dict[str, list[float]],
            floats: dict[str, Any], eligible: int, versions: dict[str, str]) -> dict[str, Any]:
    n1, nb = len(per_decision), len(households)
    ours1 = min(single["ours, decide(trace=False)"]) / n1
    oursb = min(many["ours, decide_many (1 worker)"])
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average "
                   f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else platform.machine(),
        "clock": "CPU time (time.process_time), best of the repeats, gc off",
        "on": args.on, "seed": args.seed, "policies": os.path.relpath(args.policies, ROOT),
        "households": nb, "eligible": eligible, "per_decision_households": n1,
        "versions": versions, "float": floats,
        "per_decision": {k: {"best_us": round(min(v) / n1 * 1e6, 3),
                             "median_us": round(statistics.median(v) / n1 * 1e6, 3),
                             "x_ours": round(min(v) / n1 / ours1, 3)} for k, v in single.items()},
        "bulk": {k: {"households_per_s": round(nb / min(v)),
                     "median_households_per_s": round(nb / statistics.median(v)),
                     "x_ours_speed": round(oursb / min(v), 3)} for k, v in many.items()},
    }


def _print(r: dict[str, Any]) -> None:
    print(f"\nPeers, dibao on {r['on']}: {r['households']:,} households ({r['eligible']:,} eligible), "
          f"all agreeing; {r['date']}; {r['machine']}; {r['clock']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()))
    print(f"\nper decision ({r['per_decision_households']:,} households a repeat)")
    print(f"  {'row':<34}{'best µs':>10}{'median µs':>11}{'x ours':>9}")
    for k, v in r["per_decision"].items():
        print(f"  {k:<34}{v['best_us']:>10.2f}{v['median_us']:>11.2f}{v['x_ours']:>9.2f}")
    print(f"\nbulk ({r['households']:,} households a repeat)")
    print(f"  {'row':<38}{'households/s':>14}{'median':>10}{'speed / ours':>14}")
    for k, v in r["bulk"].items():
        print(f"  {k:<38}{v['households_per_s']:>14,}{v['median_households_per_s']:>10,}"
              f"{v['x_ours_speed']:>14.2f}")
    f = r["float"]
    print(f"\nfloat instead of Decimal: float64 arithmetic would decide "
          f"{f['float64, these households']} of these households otherwise; on "
          f"{f['wide boundary households']} boundary households:")
    for name, v in f.items():
        if isinstance(v, dict):
            print(f"  {name:<20} {v['disagree']:>4} disagree" + "".join(
                f"\n      {e}" for e in v["examples"]))


if __name__ == "__main__":
    sys.exit(main())
