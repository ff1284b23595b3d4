"""How many of the unknown facts an undetermined program lists can change its outcome alone.

For generated households with 1-4 scalar facts made unknown, each fact a program waits on is
searched for a witness: two completions differing only in it (the other unknown facts at the
household's own values or at the answers the question ranking tries) that decide the program
differently (eligibility, or the amount). Kleene's three-valued logic is sound, so a listed fact
without a witness is not a wrong answer, only a question that may not need asking.

    python benchmarks/bench_relevance.py [N]     # N households (default 200)
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import eligibility
from test_unknown_decisions import ON, _scalar_paths, _set, _witness, households


def main(n: int) -> None:
    engine = eligibility.load()
    seen = 0
    witnessed: Counter[str] = Counter()
    missing: Counter[tuple[str, str]] = Counter()

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: Any) -> None:
        nonlocal seen
        household = data.draw(households(engine, on=ON, max_members=3))
        paths = _scalar_paths(engine, household)
        hidden = data.draw(st.sets(st.sampled_from(paths), min_size=1, max_size=min(len(paths), 4)))
        partial_household = household
        for path in hidden:
            partial_household = _set(partial_household, path, {"unknown": True})
        partial = engine.decide(partial_household, on=ON, trace=False)
        for name, program in partial.programs.items():
            for path in program.unknown:
                seen += 1
                if _witness(engine, partial, household, hidden, name, path):
                    witnessed[name] += 1
                else:
                    missing[(name, path.split(".")[-1])] += 1

    run()
    total = sum(witnessed.values())
    print(f"unknown facts listed by undetermined programs: {seen}; with a witness: {total} "
          f"({100 * total / max(seen, 1):.0f}%)")
    print("most frequent without a witness (program, fact):", missing.most_common(8))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
