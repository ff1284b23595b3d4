"""Which unknown facts can change an undetermined outcome: a witness for each, or a proof that it cannot.

Kleene's three-valued evaluation is sound but not complete: an undetermined outcome names every
unknown fact it was computed from, and some of them cannot change it whatever the others turn out
to be (a rule `a or not a`; an amount that only matters when another unknown fact makes the
household eligible, and it cannot; a threshold that the other facts already settle). For each
fact a program waits on, this module decides the program again with that fact answered, the other
unknown facts still unknown, and settles one of three ways:

- **relevant**: two answers give two different known outcomes (eligibility, or the amount), with
  some of the other unknown facts fixed: a *witness*, two completions that differ only in this
  fact and decide the program differently. Listed.
- **irrelevant**: proven. Every branch of a case split over facts with a finite domain (a flag, an
  enum, a small integer range; each of their values tried) ends where the outcome is known, or no
  longer reads the fact, or where every value of the fact (finite too) gives the same known
  outcome. Kleene's logic is sound, so each branch covers every completion. Not listed.
- **unsure**: neither was found within the search bounds (a money amount can only be sampled, not
  enumerated). Listed: a question that may not be needed is asked, never one that is dropped.

The search is lazy: nothing runs until `ProgramDecision.unknown` (or `next_questions()`, the trace,
an explanation) is read, and the runs are cached per decision and shared with the question ranking.
"""

from __future__ import annotations

import datetime as dt
import decimal
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from eligibility.base.numbers import ENGINE_CONTEXT
from eligibility.engine.questions import _spec, _with, answers_for

if TYPE_CHECKING:
    from eligibility.engine.runtime import Engine, ProgramDecision
    from eligibility.lang.model import ParamValue

RELEVANT = "relevant"
IRRELEVANT = "irrelevant"
UNSURE = "unsure"
#: Decisions one fact's search may make (each a re-decision of the undetermined programs, ~0.2-1 ms).
MAX_RUNS_PER_FACT = 150
#: Decisions the whole search for one decision may make beyond answering each fact alone; past
#: it, facts not yet settled stay listed (unsure).
MAX_EXTRA_RUNS = 400
#: The search goes beyond answering each fact alone only when at most this many facts are unknown.
MAX_DEEP_FACTS = 16
#: How many other unknown facts one search may fix (the depth of the case split).
MAX_DEPTH = 3
#: The largest answer tried for a whole number the vocabulary does not bound (bisection finds thresholds below).
LARGE_COUNT = 10**6
#: Whole completions of the other unknown facts tried when the case split finds nothing.
PROBES = 2

Answers = tuple[tuple[str, Any], ...]


@attrs.frozen
class Finding:
    """What the search found for one fact of one program."""

    program: str
    path: str
    #: "relevant", "irrelevant" or "unsure".
    status: str
    #: For a relevant fact: the other unknown facts fixed to make the difference ({path: value}; the
    #: rest may take any value), the two answers and the outcome each gives: (eligible, amount), or
    #: one such pair per member for a per-person program, or ("error", message).
    fixed: dict[str, Any] | None = None
    answers: tuple[Any, Any] | None = None
    outcomes: tuple[tuple[Any, ...], tuple[Any, ...]] | None = None
    #: Why an unsure fact stays listed.
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The finding as JSON-ready values (money and dates as text)."""
        out: dict[str, Any] = {"path": self.path, "status": self.status}
        if self.fixed is not None and self.answers is not None and self.outcomes is not None:
            out["fixed"] = {k: _plain(v) for k, v in sorted(self.fixed.items())}
            out["answers"] = [_plain(a) for a in self.answers]
            out["outcomes"] = [_outcome_json(o) for o in self.outcomes]
        if self.note:
            out["note"] = self.note
        return out


def _outcome_json(value: tuple[Any, ...]) -> dict[str, Any]:
    if value and value[0] == "error":
        return {"error": value[1]}
    if not value or isinstance(value[0], tuple):  # one (eligible, amount) per member
        return {"members": [{"eligible": e, "amount": _plain(a)} for e, a in value]}
    return {"eligible": value[0], "amount": _plain(value[1])}


def _flips(a: list[Any], b: list[Any]) -> bool:
    """Whether some rule or flag evaluated both times (for the household, or for one record) differs."""
    for x, y in zip(a, b, strict=True):
        if x.__class__ is bool and y.__class__ is bool:
            if x is not y:
                return True
        elif isinstance(x, dict) and isinstance(y, dict):
            for k, v in x.items():
                w = y.get(k)
                if v.__class__ is bool and w.__class__ is bool and v is not w:
                    return True
    return False


def _plain(v: Any) -> Any:
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


@attrs.frozen
class _Outcome:
    kind: str  # "known", "unknown", "error"
    value: tuple[Any, ...] | None = None
    paths: frozenset[str] = frozenset()


def _outcome(pd: ProgramDecision, complete: bool) -> _Outcome:
    """A program's outcome as a witness compares it: eligibility and amount, each member's for a per-person program.

    An error is an outcome when nothing is unknown any more (the completion cannot be decided, and
    the message says why: which parameter has no value); with facts still unknown it may come from a
    branch no completion takes, so it settles nothing.
    """
    if pd.error is not None:
        return _Outcome("known", ("error", str(pd.error))) if complete else _Outcome("error")
    if pd.undetermined:
        return _Outcome("unknown", paths=frozenset(pd.reads_unknown))
    if pd.members is not None:
        return _Outcome("known", tuple((r.eligible, r.amount if r.eligible else None) for r in pd.members))
    return _Outcome("known", (pd.eligible, pd.amount if pd.eligible else None))


@attrs.frozen
class Run:
    """One re-decision of the search: each program's outcome, the values evaluated, the facts still unknown."""

    programs: dict[str, ProgramDecision]
    memo: tuple[Any, ...]
    unknown_facts: tuple[str, ...]

    def memo_values(self) -> list[Any]:
        """The values evaluated, one a definition (as `Decision.memo_values`)."""
        return list(self.memo)


class _Budget(Exception):
    """The search ran out of decisions to make."""


class Relevance:
    """The lazily computed relevance of a partial decision's unknown facts, and the re-decisions it made.

    Holds what deciding again needs (not the Decision itself, so that no reference cycle keeps a
    batch's decisions alive). Thread-safe: the first reader computes, others wait.
    """

    def __init__(self, engine: Engine, facts: dict[str, Any], defaulted: Sequence[str], on: dt.date,
                 programs: tuple[str, ...], unknown: tuple[str, ...], provenance: dict[str, dict[str, str]],
                 params: tuple[list[Any], list[ParamValue | None]],
                 waiting: Mapping[str, tuple[str, ...]]) -> None:
        self.engine = engine
        self.facts = facts
        self.defaulted = defaulted
        self.on = on
        self.unknown = unknown
        self.provenance = provenance
        self.params = params
        #: The undetermined programs and the facts Kleene's evaluation says each waits on.
        self.waiting = dict(waiting)
        #: Re-decisions are of the undetermined programs only (what they depend on is evaluated as needed).
        self.programs = tuple(p for p in programs if p in self.waiting)
        self._runs: dict[frozenset[tuple[str, Any]], Run] = {}
        self._findings: dict[tuple[str, str], Finding] = {}
        self._lock = threading.RLock()
        self._answers: dict[str, tuple[list[Any], bool]] = {}
        self.runs_made = 0
        self._fact_runs = 0
        #: The decisions the search may make: those that answer each fact alone (the question
        #: ranking makes them too) and MAX_EXTRA_RUNS more; set when the search starts (nothing is
        #: computed while deciding).
        self.max_runs = -1
        #: With many unknown facts (a screening's first steps) each is only answered alone: a deeper
        #: search would rarely settle one and would cost seconds; they stay listed. Set with max_runs.
        self.deep = False

    # ------------------------------------------------------------------ re-deciding

    def parameter_values(self) -> list[Any]:
        """The parameter values in force on the decision date (for the answers tried)."""
        return list(self.params[0])

    def answers(self, path: str) -> tuple[list[Any], bool]:
        """The answers tried for a fact, and whether they are every value it can take."""
        hit = self._answers.get(path)
        if hit is None:
            spec = _spec(self.engine.model.facts, path)
            hit = ([], False) if spec is None else answers_for(spec, self.on, self.params[0], full_enum=True)
            if spec is not None and spec.type == "integer" and spec.maximum is None:
                hit = (hit[0] + [LARGE_COUNT], False)  # a threshold may lie past the few small answers
            self._answers[path] = hit
        return hit

    def run(self, answered: Mapping[str, Any]) -> Run:
        """Decide the undetermined programs again with these facts answered, the others still unknown (cached)."""
        key = frozenset(answered.items())
        with self._lock:
            hit = self._runs.get(key)
            if hit is not None:
                return hit
            facts = self.facts
            for path, value in answered.items():
                facts = _with(facts, path, value)
            still = tuple(p for p in self.unknown if p not in answered)
            with decimal.localcontext(ENGINE_CONTEXT):
                # The engine's own evaluation (same package): untraced when nothing is unknown any more.
                again = self.engine._run(facts, self.defaulted, self.on, self.programs, False, False, still,
                                         self.provenance)
            # Kept: the outcomes and the values, not the trace the evaluation with unknowns records.
            kept = self._runs[key] = Run(again.programs, tuple(again.memo_values()), again.unknown_facts)
            self.runs_made += 1
            self._fact_runs += 1
            return kept

    def _outcome(self, program: str, answered: Mapping[str, Any]) -> _Outcome:
        over = self.runs_made >= self.max_runs or self._fact_runs >= MAX_RUNS_PER_FACT
        if over and frozenset(answered.items()) not in self._runs:
            raise _Budget
        again = self.run(answered)
        return _outcome(again.programs[program], not again.unknown_facts)

    # ------------------------------------------------------------------ findings

    def listed(self, program: str) -> tuple[str, ...]:
        """The facts a program waits on that can change its outcome, or could not be shown not to."""
        every = self.waiting.get(program, ())
        keep = tuple(p for p in every if self.finding(program, p).status != IRRELEVANT)
        # Every fact irrelevant: the outcome is the same for every completion, but three-valued
        # evaluation cannot say which; all stay listed (one answer settles it) rather than none.
        return keep or every

    def findings(self, program: str) -> list[Finding]:
        """One finding for each fact the program's three-valued evaluation read."""
        return [self.finding(program, p) for p in self.waiting.get(program, ())]

    def finding(self, program: str, path: str) -> Finding:
        """Search (once, cached) for a witness that the fact can change the program's outcome, or a proof it cannot."""
        with self._lock:
            hit = self._findings.get((program, path))
            if hit is not None:
                return hit
            self._fact_runs = 0
            if self.max_runs < 0:
                candidates = {p for ps in self.waiting.values() for p in ps}
                self.max_runs = MAX_EXTRA_RUNS + sum(len(self.answers(p)[0]) for p in candidates)
                self.deep = len(candidates) <= MAX_DEEP_FACTS
            try:
                found = self._search(program, path, {}, {}, 0)
                for k in range(PROBES if self.deep else 0):
                    if found.status != UNSURE:
                        break
                    found = self._probe(program, path, k) or found
            except _Budget:
                found = Finding(program, path, UNSURE, note="search bound reached before a witness was found")
            self._findings[(program, path)] = found
            return found

    def _between(self, program: str, path: str, fixed: dict[str, Any], points: list[Any]) -> Finding | None:
        """Bisect between answers where some rule's outcome changes, and compare the program either side.

        Two answers that give the program the same outcome can still have a threshold between them
        (a window such as "above the dibao line, below 1.5 times it"): wherever a rule or a flag
        evaluated for the household differs between two neighbouring answers, the interval is
        halved until the two sides are one cent (one, for a whole number) apart.
        """
        spec = _spec(self.engine.model.facts, path)
        if spec is None or spec.type not in ("money", "decimal", "integer"):
            return None
        step: Any = 1 if spec.type == "integer" else Decimal("0.01")
        stack = [(points[i], points[i + 1]) for i in range(len(points) - 1)]
        while stack:
            lo, hi = stack.pop()
            if not _flips(self.run({**fixed, path: lo}).memo_values(), self.run({**fixed, path: hi}).memo_values()):
                continue
            if hi - lo <= step:
                a = self._outcome(program, {**fixed, path: lo})
                b = self._outcome(program, {**fixed, path: hi})
                if a.kind == b.kind == "known" and a.value != b.value and a.value is not None and b.value is not None:
                    return Finding(program, path, RELEVANT, dict(fixed), (lo, hi), (a.value, b.value))
                continue
            mid = (lo + hi) // 2 if step == 1 else ((lo + hi) / 2).quantize(step, rounding=decimal.ROUND_FLOOR)
            if not lo < mid < hi:
                mid = lo + step
            if mid >= hi:
                continue
            # The runs count against the search bound (the budget check is in _outcome).
            self._outcome(program, {**fixed, path: mid})
            stack += [(mid, hi), (lo, mid)]
        return None

    def _probe(self, program: str, path: str, k: int) -> Finding | None:
        """Try one whole completion of the other unknown facts (each at its k-th answer) with each answer.

        Nothing is unknown in these decisions, so an error is an outcome too (a completion that
        cannot be decided, such as an amount whose parameter has no value).
        """
        others: dict[str, Any] = {}
        for other in self.unknown:
            values = self.answers(other)[0]
            if other != path and values:
                others[other] = values[k % len(values)]
        known: dict[Any, tuple[Any, ...]] = {}
        for a in self.answers(path)[0]:
            o = self._outcome(program, {**others, path: a})
            if o.kind == "known" and o.value is not None:
                known[a] = o.value
                first = next(iter(known))
                if known[first] != o.value:
                    return Finding(program, path, RELEVANT, others, (first, a), (known[first], o.value))
        return self._between(program, path, others, sorted(known)) if len(known) > 1 else None

    def _search(self, program: str, path: str, fixed: dict[str, Any], known_before: dict[Any, tuple[Any, ...]],
                depth: int) -> Finding:
        base = self._outcome(program, fixed)
        if base.kind == "known" or (base.kind == "unknown" and path not in base.paths):
            return Finding(program, path, IRRELEVANT)
        answers, finite = self.answers(path)
        if not answers:
            return Finding(program, path, UNSURE, note="no answers to try for this fact")
        outcomes: dict[Any, _Outcome] = {}
        for a in answers:
            before = known_before.get(a)
            outcomes[a] = _Outcome("known", before) if before is not None else \
                self._outcome(program, {**fixed, path: a})
        known = {a: o.value for a, o in outcomes.items() if o.kind == "known" and o.value is not None}
        if len(set(known.values())) > 1:
            first = next(iter(known))
            other = next(a for a, v in known.items() if v != known[first])
            return Finding(program, path, RELEVANT, dict(fixed), (first, other), (known[first], known[other]))
        if finite and base.kind == "unknown" and len(known) == len(answers):
            return Finding(program, path, IRRELEVANT)
        if not self.deep:
            return Finding(program, path, UNSURE, note=f"not searched beyond one answer: more than "
                                                       f"{MAX_DEEP_FACTS} unknown facts")
        if len(known) > 1:  # an amount: look between the answers tried, where a rule changes its outcome
            found = self._between(program, path, fixed, sorted(known))
            if found is not None:
                return found
        # Fix one more unknown fact, each of its answers in turn.
        count: Counter[str] = Counter()
        for o in (base, *outcomes.values()):
            count.update(p for p in o.paths if p != path and p not in fixed)
        if not count or depth >= MAX_DEPTH:
            return Finding(program, path, UNSURE,
                           note="no witness found" if count else "no other unknown fact to fix")
        # A fact with a finite domain first: its branches can prove irrelevance; then the most read.
        ordered = sorted(count, key=lambda p: (not self.answers(p)[1], -count[p], p))
        split = ordered[0]
        values, split_finite = self.answers(split)
        all_irrelevant = True
        for v in values:
            found = self._search(program, path, {**fixed, split: v}, known, depth + 1)
            if found.status == RELEVANT:
                return found
            all_irrelevant &= found.status == IRRELEVANT
        if all_irrelevant and split_finite and values:
            return Finding(program, path, IRRELEVANT)
        return Finding(program, path, UNSURE, note="no witness found, nor a proof that it cannot matter")


__all__ = ["IRRELEVANT", "MAX_EXTRA_RUNS", "RELEVANT", "UNSURE", "Finding", "Relevance", "Run"]
