"""The next question: which unknown fact, answered, settles the most of a partial decision.

A decision made with unknown facts lists, per program, the facts its outcome waits on. Each of
them is tried with a few answers that span what the policies distinguish (each value of a flag or
an enum; for an amount, zero, the money parameters in force on the date and a large amount; for a
date of birth, ages either side of the usual age limits), the decision is made again with that
answer alone, and the fact is scored by what the answers settle on average: programs first, then
the rules and values that stop being unknown. Found with the engine itself; nothing is guessed
about the policies.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eligibility.base.numbers import ENGINE_CONTEXT
from eligibility.compile.unknown import Unknown

if TYPE_CHECKING:
    from eligibility.engine.relevance import Run
    from eligibility.engine.runtime import Decision
    from eligibility.lang.model import FieldSpec

_PATH = re.compile(r"(\w+)(?:\[(\d+)\]\.(\w+))?\Z")
#: Ages tried for an unknown date of birth: either side of the limits the policies usually draw.
AGES = (6, 15, 17, 30, 55, 61, 70)
LARGE = Decimal(10) ** 8
#: At most this many answers are tried for one fact.
MAX_ANSWERS = 8


def next_questions(decision: Decision, programs: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Rank the unknown facts of a decision by how much one answer settles (see the module docstring)."""
    engine = decision.engine
    names = tuple(decision.programs) if programs is None else engine.check_programs(programs)
    open_programs = [n for n in names if decision.programs[n].undetermined]
    # Only the facts that can change an outcome (or could not be shown not to): engine/relevance.py,
    # whose re-decisions with one fact answered are the ones made here (cached, made once).
    paths = sorted({p for n in open_programs for p in decision.programs[n].unknown})
    relevance = decision._relevance
    if not paths or relevance is None:
        return []
    before = _unknown_count(relevance.run({}).memo_values())
    out: list[dict[str, Any]] = []
    with decimal.localcontext(ENGINE_CONTEXT):
        for path in paths:
            spec = _spec(engine.model.facts, path)
            answers = _answers(spec, decision) if spec is not None else []
            if not answers:
                continue
            settled_programs = 0.0
            settled_values = 0.0
            for value in answers:
                again = relevance.run({path: value})
                settled_programs += sum(1 for n in open_programs if not again.programs[n].undetermined)
                # Per-person outcomes settled count as a tenth of a program each.
                settled_programs += 0.1 * sum(_open_records(decision, n) - _open_records(again, n)
                                              for n in open_programs)
                settled_values += before - _unknown_count(again.memo_values())
            n = len(answers)
            waiting = [name for name in open_programs if path in decision.programs[name].unknown]
            helped = spec.help if spec is not None else None
            out.append({"path": path, "label": _label(engine.model.facts, path),
                        "help": {"zh": helped.zh, "en": helped.en} if helped is not None else None,
                        "type": spec.type if spec else "?",
                        "unit": spec.unit if spec else None, "programs": waiting,
                        "settles": round(settled_programs / n, 3), "settles_values": round(settled_values / n, 3)})
    out.sort(key=lambda q: (-float(q["settles"]), -len(q["programs"]), -float(q["settles_values"]), str(q["path"])))
    return out


def _open_records(decision: Decision | Run, program: str) -> int:
    """How many per-person outcomes of a program still wait on unknown facts."""
    members = decision.programs[program].members
    return sum(1 for r in members if r.unknown) if members else 0


def _unknown_count(values: Iterable[Any]) -> int:
    n = 0
    for v in values:
        if v.__class__ is Unknown:
            n += 1
        elif isinstance(v, dict):
            n += sum(1 for x in v.values() if x.__class__ is Unknown)
    return n


def _spec(facts: Any, path: str) -> FieldSpec | None:
    m = _PATH.match(path)
    if m is None:
        return None
    top = facts.field(m.group(1))
    if top is None or m.group(3) is None:
        return top  # type: ignore[no-any-return]
    return top.field(m.group(3))  # type: ignore[no-any-return]


def _label(facts: Any, path: str) -> dict[str, str]:
    m = _PATH.match(path)
    spec = _spec(facts, path)
    if spec is None or m is None:
        return {"zh": path, "en": path}
    if m.group(3) is None:
        return {"zh": spec.label.zh, "en": spec.label.en}
    where = f"{m.group(1)}[{m.group(2)}]"
    return {"zh": f"{spec.label.zh}（{where}）", "en": f"{spec.label.en} ({where})"}


def _answers(spec: FieldSpec, decision: Decision) -> list[Any]:
    """A few answers spanning what the policies distinguish for this fact."""
    return answers_for(spec, decision.on, decision.parameter_values())[0]


def answers_for(spec: FieldSpec, on: dt.date, parameters: Iterable[Any],
                full_enum: bool = False) -> tuple[list[Any], bool]:
    """A few answers spanning what the policies distinguish for a fact, and whether they are all it can take.

    With `full_enum`, every value of an enum (otherwise the first MAX_ANSWERS).
    """
    t = spec.type
    if t == "bool":
        return [True, False], True
    if t == "enum":
        values = [v for v, _ in spec.values]
        return (values, True) if full_enum else (values[:MAX_ANSWERS], len(values) <= MAX_ANSWERS)
    if t == "integer":
        lo = int(spec.minimum) if spec.minimum is not None else 0
        hi = int(spec.maximum) if spec.maximum is not None else lo + 10
        if hi - lo < MAX_ANSWERS:
            # every value when the vocabulary bounds it on both sides
            return list(range(lo, hi + 1)), spec.minimum is not None and spec.maximum is not None
        return [lo, lo + 1, lo + 2, (lo + hi) // 2, hi], False
    if t in ("money", "decimal"):
        points = {Decimal(0), LARGE}
        for value in parameters:
            if isinstance(value, Decimal) and value > 0:
                points.add(value)
        ordered = sorted(points)
        if len(ordered) > MAX_ANSWERS:  # keep both ends and spread the rest
            step = (len(ordered) - 1) / (MAX_ANSWERS - 1)
            ordered = sorted({ordered[round(i * step)] for i in range(MAX_ANSWERS)})
        if spec.maximum is not None:
            ordered = [x for x in ordered if x <= spec.maximum] or [spec.maximum]
        return [x.quantize(Decimal("0.01")) if t == "money" else x for x in ordered], False
    if t == "date":
        return [_years_before(on, a) for a in AGES], False
    return [], False


def _years_before(on: dt.date, years: int) -> dt.date:
    try:
        return on.replace(year=on.year - years)
    except ValueError:  # 29 February
        return on.replace(year=on.year - years, day=28)


def _with(facts: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Copy validated facts with one fact answered."""
    m = _PATH.match(path)
    out = dict(facts)
    if m is None:
        return out
    if m.group(3) is None:
        out[m.group(1)] = value
        return out
    items = list(out[m.group(1)])
    i = int(m.group(2))
    items[i] = {**items[i], m.group(3): value}
    out[m.group(1)] = items
    return out


__all__ = ["next_questions"]
