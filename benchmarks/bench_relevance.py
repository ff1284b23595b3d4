"""How many of the unknown facts an undetermined program lists can change its outcome alone.

For generated households with 1-4 scalar facts made unknown, each fact a program lists
(`ProgramDecision.unknown`) is checked for a witness: two completions differing only in it that
decide the program differently (eligibility, or the amount). Two searches are counted: the
engine's own (`Decision.relevance`, verified here on the two whole households it names) and this
script's independent one (the other unknown facts at the household's own values or at the answers
the question ranking tries). Kleene's three-valued logic is sound, so a listed fact without a
witness is not a wrong answer, only a question that may not need asking. Also timed: deciding
with unknown facts, and reading the lists (the search is lazy, made when they are first read).

    python benchmarks/bench_relevance.py [N]     # N households (default 200)
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import eligibility
from test_relevance import check_witness
from test_unknown_decisions import ON, _scalar_paths, _set, _witness, households


def main(n: int) -> None:
    engine = eligibility.load()
    seen = 0
    kleene = 0
    engine_witness = 0
    witnessed: Counter[str] = Counter()
    missing: Counter[tuple[str, str]] = Counter()
    timing = {"decide": 0.0, "lists": 0.0}

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: Any) -> None:
        nonlocal seen, kleene, engine_witness
        household = data.draw(households(engine, on=ON, max_members=3))
        paths = _scalar_paths(engine, household)
        hidden = data.draw(st.sets(st.sampled_from(paths), min_size=1, max_size=min(len(paths), 4)))
        partial_household = household
        for path in hidden:
            partial_household = _set(partial_household, path, {"unknown": True})
        t0 = time.perf_counter()
        partial = engine.decide(partial_household, on=ON, trace=False)
        t1 = time.perf_counter()
        listed = {name: program.unknown for name, program in partial.programs.items()}
        timing["decide"] += t1 - t0
        timing["lists"] += time.perf_counter() - t1
        for name, program in partial.programs.items():
            kleene += len(program.reads_unknown) if program.undetermined else 0
            findings = {f["path"]: f for f in partial.relevance(name)}
            for path in listed[name]:
                seen += 1
                f = findings.get(path)
                engine_ok = f is not None and f["status"] == "relevant" and check_witness(engine, household, name, f)
                engine_witness += engine_ok
                if engine_ok or _witness(engine, partial, household, hidden, name, path):
                    witnessed[name] += 1
                else:
                    missing[(name, path.split(".")[-1])] += 1

    run()
    total = sum(witnessed.values())
    print(f"unknown facts read by undetermined programs (three-valued evaluation): {kleene}; listed: {seen}")
    print(f"listed with a witness: {total} ({100 * total / max(seen, 1):.0f}%); "
          f"of them found by the engine and verified: {engine_witness}")
    print("most frequent without a witness (program, fact):", missing.most_common(8))
    print(f"decide() with unknown facts: {1000 * timing['decide'] / n:.2f} ms a household; "
          f"reading the lists (the relevance search): {1000 * timing['lists'] / n:.2f} ms a household")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
