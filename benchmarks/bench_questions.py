"""How many questions a screening asks before dibao, marginal and tekun are settled.

A simulated applicant: a hidden complete household is drawn from `eligibility.strategies`; the
screening starts from the household's composition only (its members and other records with their
ids and relations) and asks `Decision.next_questions()[0]` until no requested program is
undetermined, answering from the hidden household. Facts with a declared default (the normal,
non-granting case) are assumed, as `decide()` does, and listed for the caseworker to verify; with
`--no-defaults` they are asked too. Reported: the number of questions (median, 90th percentile,
max) against the full form (every fact the vocabulary asks of such a household), and how many
settled outcomes equal the complete household's decision (a difference can only come from an
assumed default that the hidden household does not have: those are counted separately).

    python benchmarks/bench_questions.py [N] [--no-defaults]     # N households (default 1000)
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from hypothesis import HealthCheck, given, settings

import eligibility
from eligibility.strategies import decision_dates, households

PROGRAMS = ["dibao", "marginal", "tekun"]


def structure(engine: eligibility.Engine, household: dict[str, Any]) -> dict[str, Any]:
    """The household's composition: each list's records with their structural fields only."""
    out: dict[str, Any] = {}
    for spec in engine.model.facts.fields:
        if spec.type == "list" and household.get(spec.name):
            keep = engine.validator.structural.get(spec.name, frozenset())
            out[spec.name] = [{k: v for k, v in rec.items() if k in keep} for rec in household[spec.name]]
    return out


def value_at(engine: eligibility.Engine, household: dict[str, Any], path: str) -> Any:
    """The hidden household's answer to one question (its declared default where it is absent)."""
    top, _, rest = path.partition("[")
    if not rest:
        spec = engine.model.facts.field(top)
        return household.get(top, spec.default if spec else None)
    index, _, field = rest.partition("].")
    record = household[top][int(index)]
    spec = engine.model.facts.field(top).field(field)  # type: ignore[union-attr]
    return record.get(field, spec.default if spec else None)


def simulate(engine: eligibility.Engine, hidden: dict[str, Any], on: Any,
             defaults: bool = True) -> tuple[int, int, bool]:
    """Return (questions asked, facts on the full form, whether every settled outcome is right)."""
    truth = engine.decide(hidden, on=on, programs=PROGRAMS, trace=False, complete=True)
    asked = structure(engine, hidden)
    questions = 0
    while True:
        d = engine.decide(asked, on=on, programs=PROGRAMS, assume_defaults=defaults)
        if not any(p.undetermined for p in d.programs.values()):
            break
        top = d.next_questions()
        if not top:
            break
        path = top[0]["path"]
        target = asked
        if "[" in path:
            name, _, rest = path.partition("[")
            index, _, field = rest.partition("].")
            target = asked[name][int(index)]
            target[field] = value_at(engine, hidden, path)
        else:
            target[path] = value_at(engine, hidden, path)
        questions += 1
    right = all(d.programs[n].eligible == truth.programs[n].eligible and
                (d.programs[n].eligible is not True or d.programs[n].amount == truth.programs[n].amount)
                for n in PROGRAMS if not d.programs[n].undetermined and d.programs[n].error is None)
    # The full form: every fact the vocabulary would ask of this household, defaults included.
    form = engine.decide(structure(engine, hidden), on=on, programs=PROGRAMS, assume_defaults=False)
    return questions, len(form.unknown_facts), right


def main(n: int, defaults: bool) -> None:
    engine = eligibility.load()
    counts: list[int] = []
    forms: list[int] = []
    wrong = 0
    start = time.perf_counter()

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(decision_dates(engine, programs=PROGRAMS).flatmap(
        lambda on: households(engine, on=on, max_members=4).map(lambda h: (h, on))))
    def run(case: tuple[dict[str, Any], Any]) -> None:
        nonlocal wrong
        hidden, on = case
        q, form, right = simulate(engine, hidden, on, defaults)
        counts.append(q)
        forms.append(form)
        wrong += not right

    run()
    took = time.perf_counter() - start
    counts.sort()
    p90 = counts[int(0.9 * (len(counts) - 1))]
    print(f"households: {len(counts)}, defaults {'assumed' if defaults else 'asked'}   "
          f"({took:.1f} s, {1000 * took / len(counts):.1f} ms each)")
    print(f"questions to settle {', '.join(PROGRAMS)}: median {statistics.median(counts):g}, "
          f"90th percentile {p90}, max {counts[-1]}")
    print(f"full form (facts of these households a form would ask): median {statistics.median(forms):g}, "
          f"90th percentile {sorted(forms)[int(0.9 * (len(forms) - 1))]}")
    print(f"households with a settled outcome different from the complete household's decision: {wrong}"
          + (" (each because an assumed default was not the household's value)" if defaults else ""))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(args[0]) if args else 1000, "--no-defaults" not in sys.argv)
