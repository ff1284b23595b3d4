"""How long `Engine.where_to_apply` takes per household, with and without the trace.

Four households of the bundled set (one member of Huadu; two members in two provinces with a
residence permit; three members one of whose hukou place is unknown; a person with no fixed
residence), each answered for every program the rules cover, on 2024-09-01. Reported: the median
and best time per call over N calls each (after one warm-up call), with `trace=True` (the default:
each office carries the steps of its rules) and `trace=False`, and `decide()` of the same
household for scale.

    python benchmarks/bench_where.py [N]        # N calls per household and mode (default 300)
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from typing import Any

import eligibility

ON = dt.date(2024, 9, 1)
HOUSEHOLDS: dict[str, dict[str, Any]] = {
    "one member, Huadu": {"members": [
        {"id": "a", "relation": "applicant", "hukou_district": "440114", "residence_district": "440114"}]},
    "two provinces, permit": {
        "members": [
            {"id": "a", "relation": "applicant", "hukou_district": "430102", "residence_district": "440114"},
            {"id": "b", "relation": "spouse", "hukou_district": "440114", "residence_district": "440114"}],
        "residence_permits": [{"holder": "a", "district": "440114", "valid_until": "2025-06-30"}]},
    "three, one place unknown": {"members": [
        {"id": "a", "relation": "applicant", "hukou_district": "440104", "residence_district": "440114"},
        {"id": "b", "relation": "spouse", "hukou_district": "440114", "residence_district": "440114"},
        {"id": "c", "relation": "child"}]},
    "no fixed residence": {"no_fixed_residence": True, "emergency_district": "440114",
                           "members": [{"id": "a", "relation": "applicant"}]},
}


def timed(call: Any, n: int) -> tuple[float, float]:
    """Median and best of n calls, in milliseconds."""
    call()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), min(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    engine = eligibility.load()
    print(f"{'household':28} {'trace=True':>18} {'trace=False':>18} {'decide()':>18}   (median / best, ms)")
    for name, h in HOUSEHOLDS.items():
        row = [timed(lambda h=h: engine.where_to_apply(h, ON), n),
               timed(lambda h=h: engine.where_to_apply(h, ON, trace=False), n),
               timed(lambda h=h: engine.decide(h, ON, trace=False), n)]
        print(f"{name:28} " + " ".join(f"{m:9.3f} / {b:6.3f}" for m, b in row))


if __name__ == "__main__":
    main()
