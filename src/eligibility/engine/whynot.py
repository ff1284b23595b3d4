# Over ~600 lines for one job: the why-not search (probing one fact at a time); its rendering is explain/whynot.py.
"""Why not, and what would change it: for each program a household is not eligible for, the
smallest change to one fact that makes each failed rule pass, found with the engine itself.

The search knows nothing of any policy. It reads the decision's trace for the rules that failed
and the facts each one read (through computed values, rules and other programs, transitively),
then decides the household again with one fact changed and asks the engine whether the rule
passes (`Decision.value`) and whether the program is then eligible:

- money, decimal and integer facts: bisection between the current value and the first bound
  that passes (0 or the field's minimum below, the field's maximum or a large bound above), in
  fen for money, in steps of 1 for integers; the boundary found is the smallest change if the
  rule is monotonic in that fact between the two (it always passes at the value reported);
- bool facts: flipped; enum facts: every other value of the vocabulary;
- records of an optional list (a vehicle, a business registration): removed, one at a time.
  Records of a list that must have items (the household's members) are never removed.

The work is bounded (probes per fact and in total), the result is deterministic, and it is
plain JSON: `Decision.to_json(why_not=True)` puts it under the trace's `why_not` key
(docs/reference/trace.md), and `explain(why_not=True)` renders it.
"""

from __future__ import annotations

import contextlib
import decimal
import math
import re
from collections import OrderedDict
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from eligibility.base.errors import EligibilityError, EvaluationError, InputError, InputProblem
from eligibility.base.numbers import ENGINE_CONTEXT
from eligibility.base.source import readable
from eligibility.compile.unknown import Unknown
from eligibility.engine.questions import _label as fact_label
from eligibility.engine.trace import encode

if TYPE_CHECKING:
    from eligibility.engine.runtime import Decision, ProgramDecision
    from eligibility.lang.model import FieldSpec, Label

#: A change within this share of the fact's value that alone makes the program eligible is a near miss.
NEAR_MISS = Decimal("0.05")
#: Decisions made for one fact of one rule (direction probes and bisection).
MAX_PROBES_PER_FACT = 64
#: Decisions made for one analysis in all.
MAX_PROBES = 4000
#: Records of one list tried for removal.
MAX_RECORDS = 50
#: The work one analysis may do, whatever the household (a budget, not a timer: the result stays
#: deterministic). A decision made to probe costs PROBE_COST plus the engine's own measure of the
#: household (`Engine.work`: rule evaluations over its lists), so a household of 1,000 members
#: gets far fewer probes than one of 3; reading the trace costs a unit per 16 inputs read.
#: About 2 µs a unit (benchmarks/bench_whynot.py): the bound keeps any analysis near a second.
#: The probe bound (MAX_PROBES) stays the one a household of up to about 8 members meets first.
MAX_WORK = 500_000
PROBE_COST = 32
#: A traced decision of every program (needed once when a rule reads another program) costs this many probes.
AUX_PROBES = 50
#: The upper bound probed for a money or decimal fact without a declared maximum, and for an integer.
BIG = Decimal(10) ** 12
BIG_INTEGER = 10 ** 9
MONEY_TOP = Decimal(10) ** 15 - Decimal("0.01")
_NUMERIC = ("money", "decimal", "integer")
_CHANGEABLE = (*_NUMERIC, "bool", "enum")
_PATH = re.compile(r"household\.(\w+)(?:\[(\d+)\](?:\.(\w+))?)?\Z")
_RECENT = 256  # decisions kept for the next rule's value
_MAX_VISITS = 20_000  # (definition, record) pairs whose facts are collected

Change = tuple[Any, ...]


class _Budget(Exception):
    """The total probe budget or the work bound is spent."""


#: The note of a why_not section whose search stopped at a bound, by the bound.
NOTES = {
    "probes": {"zh": "分析已达探查次数上限（max_probes）而停止：标为未完成的规则未分析完",
               "en": "the analysis stopped at the bound on probes (max_probes): rules marked incomplete "
                     "were not fully analysed"},
    "work": {"zh": "分析已达计算量上限而停止（家庭规模越大，每次探查越费时）：标为未完成的规则未分析完",
             "en": "the analysis stopped at the bound on work (the larger the household, the more each probe "
                   "costs): rules marked incomplete were not fully analysed"},
}


@attrs.frozen
class _Target:
    """What must pass: a rule (or `eligible`) of a program, for the household or for one record."""

    program: str
    rule: str
    member: int | None = None
    each: str | None = None  # the list the program is decided per record of


def _label(label: Label | None) -> dict[str, str] | None:
    return {"zh": label.zh, "en": label.en} if label is not None else None


def _apply(facts: dict[str, Any], change: Change) -> dict[str, Any]:
    """Copy validated facts with one change: ("set", list, index, field, value) or ("remove", list, index)."""
    out = dict(facts)
    if change[0] == "remove":
        _, top, i = change
        items = list(out[top])
        del items[i]
        out[top] = items
        return out
    _, top, i, field, value = change
    if i is None:
        out[top] = value
    else:
        items = list(out[top])
        record = dict(items[i])
        record[field] = value
        items[i] = record
        out[top] = items
    return out


class _Search:
    def __init__(self, decision: Decision, trace: dict[str, Any], near: Decimal, max_probes: int,
                 per_fact: int, max_work: int = MAX_WORK) -> None:
        self.decision = decision
        self.engine = decision.engine
        self.facts: dict[str, Any] = decision.facts
        self.defaulted = decision.defaulted
        self.on = decision.on
        self.trace = trace
        self.vocab = self.engine.model.facts
        self.near = near
        self.max_probes = max_probes
        self.per_fact = per_fact
        self.probes = 0
        self.spent = False
        self.stopped: str | None = None  # "probes" or "work" once a bound is hit
        self.max_work = max_work
        self.work = 0
        self.probe_cost = PROBE_COST + self.engine.work(self.facts)
        self._recent: OrderedDict[tuple[str, Change], Decision | None] = OrderedDict()
        self._outcomes: dict[tuple[str, Change], ProgramDecision | None] = {}
        self._aux: dict[str, Any] | None = None
        self._values: dict[tuple[str, Change, str], bool | tuple[bool, ...] | None] = {}
        self._steps: dict[str, dict[str, dict[str, Any]]] = {}
        self._paths: dict[tuple[str, str, str | None], list[str]] = {}
        self._fact_probes = 0
        self._cut = False  # the current fact's search stopped at its probe limit

    # ------------------------------------------------------------------ probing

    def _decide(self, program: str, change: Change) -> Decision | None:
        """Decide the changed household (the last few decisions are kept; each new one is a probe)."""
        key = (program, change)
        if key in self._recent:
            self._recent.move_to_end(key)
            return self._recent[key]
        if self.probes >= self.max_probes:
            self.stopped = self.stopped or "probes"
            raise _Budget
        self.charge(self.probe_cost)
        self.probes += 1
        try:
            dec: Decision | None = self.engine._run(_apply(self.facts, change), self.defaulted, self.on,
                                                    (program,), False)
        except EligibilityError:
            dec = None
        self._recent[key] = dec
        if len(self._recent) > _RECENT:
            self._recent.popitem(last=False)
        self._outcomes[key] = dec.programs.get(program) if dec is not None else None
        return dec

    def charge(self, units: int) -> None:
        """Count work; past the bound, stop the search (the rules not analysed say "complete": false)."""
        if self.work + units > self.max_work:
            self.stopped = self.stopped or "work"
            raise _Budget
        self.work += units

    def _can_probe(self) -> bool:
        if self._fact_probes >= self.per_fact:
            self._cut = True
            return False
        return True

    def _test(self, t: _Target, change: Change) -> tuple[bool, bool]:
        """Decide again with the change: (the rule passes, the program is eligible).

        Only the outcomes are kept for the whole search (the program's, and each rule's value, a
        per-record one as one bool a record), so that memory stays small whatever the budget.
        """
        self._fact_probes += 1
        key = (t.program, change)
        if key not in self._outcomes:
            self._decide(t.program, change)
        pd = self._outcomes[key]
        if pd is None:
            return False, False
        vkey = (t.program, change, t.rule)
        if vkey not in self._values:
            dec = self._decide(t.program, change)
            self._values[vkey] = self._value(dec, t) if dec is not None else None
        value = self._values[vkey]
        if t.member is None:
            passes = value is True
        else:
            passes = isinstance(value, tuple) and t.member < len(value) and value[t.member]
        return passes, self._eligible(pd, t)

    @staticmethod
    def _value(dec: Decision, t: _Target) -> bool | tuple[bool, ...] | None:
        """The rule's outcome: True/False, or for a per-record rule one bool a record (in list order)."""
        try:
            value = dec.value(t.program, t.rule)
        except (EligibilityError, KeyError):
            return None
        if t.each is None or not isinstance(value, dict):
            return value is True
        records = dec._facts.get(t.each) or []
        return tuple(value.get(r.get("id", i)) is True for i, r in enumerate(records))

    @staticmethod
    def _eligible(pd: ProgramDecision, t: _Target) -> bool:
        if pd.eligible is None:
            return False
        if t.member is None:
            return pd.eligible is True
        return bool(pd.members and t.member < len(pd.members) and pd.members[t.member].eligible)

    # ------------------------------------------------------------------ what a rule reads

    def _programs(self, name: str) -> dict[str, Any] | None:
        progs: dict[str, Any] = self.trace["programs"]
        if name in progs:
            return progs[name]  # type: ignore[no-any-return]
        if self._aux is None:  # a program this decision did not include: trace them all, once
            self.charge(AUX_PROBES * self.probe_cost)
            try:
                full = self.engine._run(self.facts, self.defaulted, self.on, self.engine.programs, True)
                self._aux = full.to_json()["programs"]
            except EligibilityError:
                self._aux = {}
        got = (self._aux or {}).get(name)
        return got if isinstance(got, dict) else None

    def _step(self, program: str, name: str) -> dict[str, Any] | None:
        steps = self._steps.get(program)
        if steps is None:
            prog = self._programs(program)
            steps = self._steps[program] = {str(s.get("name")): s for s in (prog or {}).get("steps") or []}
        return steps.get(name)

    def fact_paths(self, program: str, name: str, record: str | None) -> list[str]:
        """The fact paths a rule read, following computed values, rules and other programs, in order.

        With `record` (`household.members[2]`), facts and per-record values of the other records
        of that list are left out: they belong to other members' decisions.
        """
        key = (program, name, record)
        hit = self._paths.get(key)
        if hit is not None:
            return hit
        self._paths[key] = []  # definitions do not read themselves; this only guards the recursion
        if len(self._paths) > _MAX_VISITS:
            return []
        head = record[:record.rindex("[") + 1] if record else None
        out: dict[str, None] = {}
        inputs = (self._step(program, name) or {}).get("inputs") or []
        self.charge(1 + len(inputs) // 16)
        for inp in inputs:
            kind, path = inp.get("kind"), inp.get("path")
            if isinstance(path, str) and head is not None and record is not None and path.startswith(head) \
                    and not (path == record or path.startswith(record + ".")):
                continue  # another record's
            if kind == "fact" and isinstance(path, str):
                out.setdefault(path)
            elif kind in ("computed", "rule", "output", "program"):
                target, inner = program, str(inp.get("name"))
                if kind == "program":
                    target, _, inner = inner.partition(".")
                for p in self.fact_paths(target, inner, path if isinstance(path, str) else None):
                    out.setdefault(p)
        result = self._paths[key] = list(out)
        return result

    def levers(self, paths: Iterable[str], each: str | None) -> list[tuple[Any, ...]]:
        """What can be changed: ("set", list or field, index, field) and ("remove", list, index), in order."""
        out: dict[tuple[Any, ...], None] = {}
        for path in paths:
            m = _PATH.match(path)
            spec = self.vocab.field(m.group(1)) if m else None
            if m is None or spec is None:
                continue
            top = m.group(1)
            if spec.type != "list":
                if spec.type in _CHANGEABLE and m.group(2) is None:
                    out.setdefault(("set", top, None, top))
                continue
            records = self.facts.get(top) or []
            removable = spec.min_items == 0 and top != each
            if m.group(2) is None:
                if removable:
                    for i in range(min(len(records), MAX_RECORDS)):
                        out.setdefault(("remove", top, i))
                continue
            i = int(m.group(2))
            if i >= len(records):
                continue
            sub = spec.field(m.group(3)) if m.group(3) else None
            if sub is not None and sub.type in _CHANGEABLE:
                out.setdefault(("set", top, i, sub.name))
            if removable:
                out.setdefault(("remove", top, i))
        return list(out)

    # ------------------------------------------------------------------ changes

    def _spec(self, top: str, field: str, i: int | None) -> FieldSpec | None:
        spec = self.vocab.field(top)
        if spec is not None and i is not None:
            return spec.field(field)
        return spec

    def lever_changes(self, t: _Target, lever: tuple[Any, ...]) -> list[dict[str, Any]]:
        """The changes of one lever that make the rule pass (none, one, or one per enum value)."""
        self._fact_probes = 0
        if lever[0] == "remove":
            _, top, i = lever
            if not self._can_probe():
                return []
            passes, eligible = self._test(t, ("remove", top, i))
            if not passes:
                return []
            lst = self.vocab.field(top)
            record = self.facts[top][i]
            fields = lst.fields if lst is not None else ()
            shown = {f.name: encode(record.get(f.name), f.type) for f in fields}
            return [self._change(f"household.{top}[{i}]", lst.label if lst else None, shown,
                                 _record_label(record, fields), None, None, "remove", None, eligible)]
        _, top, i, field = lever
        spec = self._spec(top, field, i)
        current = self.facts[top] if i is None else self.facts[top][i].get(field)
        if spec is None or current is None or current.__class__ is Unknown:
            return []  # a fact not known is a question to answer (the program's unknown list), not a lever
        path = f"household.{top}" if i is None else f"household.{top}[{i}].{field}"
        found: list[dict[str, Any]] = []
        if spec.type == "bool":
            if self._can_probe():
                passes, eligible = self._test(t, ("set", top, i, field, not current))
                if passes:
                    found.append(self._change(path, spec.label, current, None, not current, None, "set", None,
                                              eligible))
        elif spec.type == "enum":
            labels = dict(spec.values)
            for value, label in spec.values:
                if value == current or not self._can_probe():
                    continue
                passes, eligible = self._test(t, ("set", top, i, field, value))
                if passes:
                    found.append(self._change(path, spec.label, current, _label(labels.get(current)), value,
                                              _label(label), "set", None, eligible))
        elif spec.type in _NUMERIC:
            hit = self._numeric(t, top, i, field, spec, current)
            if hit is not None:
                kind, value, eligible = hit
                relative = abs(Decimal(value) - Decimal(current)) / abs(Decimal(current)) if current != 0 else None
                found.append(self._change(path, spec.label, encode(current, spec.type), None,
                                          encode(value, spec.type), None, kind, relative, eligible))
        return found

    def _change(self, path: str, title: Label | None, old: Any, old_label: dict[str, str] | None, new: Any,
                new_label: dict[str, str] | None, kind: str, relative: Decimal | None,
                eligible: bool) -> dict[str, Any]:
        near = eligible and (kind in ("set", "remove") or (relative is not None and relative <= self.near))
        return {"path": path, "title": _label(title), "from": old, "from_label": old_label, "to": new,
                "to_label": new_label, "kind": kind,
                "relative": encode(relative.quantize(Decimal("0.0001"), rounding=decimal.ROUND_HALF_UP))
                if relative is not None else None,
                "rule_passes": True, "program_eligible_alone": eligible, "near_miss": near}

    def _numeric(self, t: _Target, top: str, i: int | None, field: str, spec: FieldSpec,
                 x0: Any) -> tuple[str, Any, bool] | None:
        """The nearest value of a number fact at which the rule passes: (at_most|at_least, value, eligible)."""
        kind = spec.type
        x = Decimal(x0)
        places = 0
        if kind == "integer":
            step = Decimal(1)
            lo = spec.minimum if spec.minimum is not None else (Decimal(0) if x >= 0 else -Decimal(BIG_INTEGER))
            hi = spec.maximum if spec.maximum is not None else Decimal(BIG_INTEGER)
        else:
            exp = x.as_tuple().exponent
            places = 2 if kind == "money" else min(max(2, -exp if isinstance(exp, int) else 2), 8)
            step = Decimal(1).scaleb(-places)
            lo = spec.minimum if spec.minimum is not None else (Decimal(0) if x >= 0 else -BIG)
            hi = spec.maximum if spec.maximum is not None else BIG
            if kind == "money":  # money is never negative nor 10^15 yuan
                lo, hi = max(lo, Decimal(0)), min(hi, MONEY_TOP)

        def value(u: int) -> Any:
            return u if kind == "integer" else Decimal(u).scaleb(-places)

        def probe(u: int) -> tuple[bool, bool]:
            return self._test(t, ("set", top, i, field, value(u)))

        units = x / step
        lo_u, hi_u = math.ceil(lo / step), math.floor(hi / step)
        found: list[tuple[Decimal, str, int, bool]] = []
        if lo_u < units and self._can_probe():
            ok, eligible = probe(lo_u)
            if ok:  # passes below: the largest passing value under the current one
                good, top_u = lo_u, math.ceil(units) - 1
                while good < top_u and self._can_probe():
                    mid = (good + top_u + 1) // 2
                    ok, el = probe(mid)
                    if ok:
                        good, eligible = mid, el
                    else:
                        top_u = mid - 1
                found.append((units - good, "at_most", good, eligible))
        if hi_u > units and self._can_probe():
            ok, eligible = probe(hi_u)
            if ok:  # passes above: the smallest passing value over the current one
                good, low_u = hi_u, math.floor(units) + 1
                while low_u < good and self._can_probe():
                    mid = (low_u + good) // 2
                    ok, el = probe(mid)
                    if ok:
                        good, eligible = mid, el
                    else:
                        low_u = mid + 1
                found.append((good - units, "at_least", good, eligible))
        if not found:
            return None
        _, direction, u, eligible = min(found, key=lambda f: f[0])
        return direction, value(u), eligible

    # ------------------------------------------------------------------ rules and programs

    def rule(self, t: _Target, step: dict[str, Any], record: str | None) -> dict[str, Any]:
        entry: dict[str, Any] = {"rule": step.get("name"), "title": step.get("title"), "needed": step.get("needed"),
                                 "complete": True, "changes": []}
        if self.spent:
            entry["complete"] = False
            return entry
        try:
            for lever in self.levers(self.fact_paths(t.program, t.rule, record), t.each):
                self._cut = False
                entry["changes"].extend(self.lever_changes(t, lever))
                if self._cut:
                    entry["complete"] = False
        except _Budget:
            self.spent = True
            entry["complete"] = False
        return entry

    def program(self, name: str, prog: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"eligible": prog.get("eligible"), "error": prog.get("error"), "near_miss": False,
                               "failed": [], "passed": _margins(prog), "members": None}
        steps = prog.get("steps") or []
        model = self.engine.model.programs.get(name)
        each = model.each[1] if model is not None and model.each else None
        if prog.get("error") is None and prog.get("unknown"):
            # Undetermined: what is missing, not changes as if it were refused (nothing was).
            out["missing"] = [self.missing(p) for p in prog["unknown"]]
            out["waiting"] = [{"rule": s.get("name"), "title": s.get("title")} for s in steps
                              if s.get("kind") == "rule" and s.get("outcome") == "unknown"
                              and "eligible" in (s.get("used_by") or [])]
            if each is not None:
                out["members"] = [{"index": int(m["index"]), "id": m.get("id"), "item": f"{each}[{m['index']}]",
                                   "near_miss": False, "failed": [],
                                   "missing": [self.missing(p) for p in m.get("unknown") or []]}
                                  for m in prog.get("members") or [] if m.get("eligible") is None]
            return out
        if prog.get("error") is not None or prog.get("eligible") is None:
            return out
        if not prog["eligible"]:
            failed = [s for s in steps if s.get("kind") == "rule" and s.get("each") is None
                      and s.get("outcome") == "failed" and "eligible" in (s.get("used_by") or [])]
            if not failed and each is None:  # the eligibility test itself compares facts: analyse it whole
                failed = [s for s in steps if s.get("kind") == "output" and s.get("name") == "eligible"
                          and s.get("outcome") == "not_eligible" and s.get("inputs")]
            out["failed"] = [self.rule(_Target(name, str(s["name"]), None, each), s, None) for s in failed]
        if each is not None:
            out["members"] = self.members(name, prog, steps, each)
        out["near_miss"] = bool(not prog["eligible"] and _near(out["failed"])) or any(
            m["near_miss"] for m in out["members"] or [])
        return out

    def missing(self, path: str) -> dict[str, Any]:
        """An unknown fact an undetermined program waits on: its input path and its label."""
        return {"path": path, "label": fact_label(self.vocab, path)}

    def members(self, name: str, prog: dict[str, Any], steps: list[dict[str, Any]], each: str) -> list[dict[str, Any]]:
        """Per record of a per-person program: the members not eligible and what would change it for each."""
        records = self.facts.get(each) or []
        ids = [r.get("id", i) for i, r in enumerate(records)]
        feasible = len(set(map(repr, ids))) == len(ids)
        per_record = [s for s in steps if s.get("kind") == "rule" and s.get("outcome") == "per_record"
                      and str(s.get("each") or "").endswith(f" in household.{each}")
                      and "eligible" in (s.get("used_by") or [])]
        eligible_step = next((s for s in steps if s.get("kind") == "output" and s.get("name") == "eligible"), None)
        # Each per-record rule's items by record path, read once (not once a member: that is quadratic).
        by_path = [{str(it.get("path")): it for it in s.get("value") or []} for s in per_record]
        out = []
        for m in prog.get("members") or []:
            if m.get("eligible"):
                continue
            i = int(m["index"])
            record = f"household.{each}[{i}]"
            item = next((items[record].get("item") for items in by_path if record in items), None)
            entry: dict[str, Any] = {"index": i, "id": m.get("id"), "item": item or f"{each}[{i}]",
                                     "near_miss": False, "failed": []}
            if feasible:
                failed = [s for s, items in zip(per_record, by_path, strict=True)
                          if record in items and items[record].get("outcome") == "failed"]
                if not failed and eligible_step is not None and eligible_step.get("outcome") == "per_record":
                    failed = [eligible_step]
                entry["failed"] = [self.rule(_Target(name, str(s["name"]), i, each), s, record) for s in failed]
            entry["near_miss"] = _near(entry["failed"])
            out.append(entry)
        return out


def _near(rules: list[dict[str, Any]]) -> bool:
    return any(c["near_miss"] for r in rules for c in r["changes"])


def _record_label(record: dict[str, Any], fields: Iterable[FieldSpec]) -> dict[str, str] | None:
    """A short name for a record: its id, else the label of its first enum value."""
    rid = record.get("id")
    if isinstance(rid, str):
        return {"zh": rid, "en": rid}
    for f in fields:
        if f.type == "enum":
            for value, label in f.values:
                if value == record.get(f.name):
                    return _label(label)
    return None


def _margins(prog: dict[str, Any]) -> list[dict[str, Any]]:
    """For each passed rule of the eligibility test, its comparisons' distance to the threshold."""
    out = []
    for s in prog.get("steps") or []:
        if s.get("kind") != "rule" or s.get("outcome") != "passed" or "eligible" not in (s.get("used_by") or []):
            continue
        margins: list[dict[str, Any]] = []
        for comp in s.get("comparisons") or []:
            rows = [(None, p) for p in comp.get("pairs") or []]
            rows += [(item.get("item"), p) for item in comp.get("items") or [] for p in item.get("pairs") or []]
            margins.extend({"expression": comp.get("expression"), "item": item, "op": p.get("op"),
                            "left": p["left"].get("value"), "right": p["right"].get("value"),
                            "difference": p["difference"]}
                           for item, p in rows if "difference" in p)
        if margins:
            out.append({"rule": s.get("name"), "title": s.get("title"), "needed": s.get("needed"),
                        "margins": margins})
    return out


def _arguments(decision: Any, programs: Iterable[str] | str | None, near_miss: object, max_probes: object,
               max_probes_per_fact: object, max_work: object) -> tuple[list[str] | None, Decimal]:
    problems: list[InputProblem] = []
    names: list[str] | None = None
    if programs is not None:
        try:
            names = [programs] if isinstance(programs, str) else list(programs)
        except TypeError:
            names = []
            problems.append(InputProblem("programs", "type", "must be a program name or a list of program "
                                         f"names, not {type(programs).__name__}"))
        known = list(decision.programs)
        problems.extend(InputProblem("programs", "unknown",
                                     f"{readable(p, 64)!r} was not decided; decided: {', '.join(known)}")
                        if isinstance(p, str) else
                        InputProblem("programs", "type", f"must hold program names (text), not {type(p).__name__}")
                        for p in names if p not in known)
    near = Decimal(-1)
    with contextlib.suppress(decimal.InvalidOperation, ValueError, TypeError):
        near = Decimal(str(near_miss)) if not isinstance(near_miss, bool) else near
    if not (near.is_finite() and 0 <= near <= 1):
        problems.append(InputProblem("near_miss", "range",
                                     f"must be a share between 0 and 1, not {readable(repr(near_miss), 40)}"))
    for what, n in (("max_probes", max_probes), ("max_probes_per_fact", max_probes_per_fact),
                    ("max_work", max_work)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            problems.append(InputProblem(what, "range",
                                         f"must be a whole number at least 0, not {readable(repr(n), 40)}"))
    if problems:
        raise InputError(problems, "arguments")
    return names, near


def why_not(decision: Decision, programs: Iterable[str] | str | None = None, *, near_miss: object = NEAR_MISS,
            max_probes: int = MAX_PROBES, max_probes_per_fact: int = MAX_PROBES_PER_FACT,
            trace: dict[str, Any] | None = None, max_work: int = MAX_WORK) -> dict[str, Any]:
    """Say, for each program not eligible, what single change to one fact would change it.

    Args:
        decision: a decision (`Engine.decide`).
        programs: the programs to analyse; all those decided by default.
        near_miss: the share of a fact's value within which a change that alone makes the program
            eligible flags it as a near miss (default 0.05, 5%).
        max_probes: the most decisions the whole analysis makes; past it, the rules not analysed
            say `"complete": false`.
        max_probes_per_fact: the most decisions made for one fact of one rule.
        trace: the decision's `to_json()`, if already built.
        max_work: the most work the analysis does (see MAX_WORK): a probe of a large household
            costs more than one of a small household. Past it, as past `max_probes`, the rules
            not analysed say `"complete": false` and the section's `note` says so.

    Returns:
        The JSON-ready `why_not` section of the trace (docs/reference/trace.md).

    Raises:
        InputError: an argument is not valid (an unknown program, a share outside 0..1).
        EvaluationError: the analysis failed unexpectedly (never a raw exception).
    """
    names, near = _arguments(decision, programs, near_miss, max_probes, max_probes_per_fact, max_work)
    try:
        with decimal.localcontext(ENGINE_CONTEXT):
            full = trace if trace is not None else decision.to_json()
            search = _Search(decision, full, near, max_probes, max_probes_per_fact, max_work)
            chosen = names if names is not None else list(full["programs"])
            result = {name: search.program(name, full["programs"][name]) for name in full["programs"]
                      if name in chosen}
    except EligibilityError:
        raise
    except Exception as exc:  # a bug: say so with a typed error, never a raw one
        raise EvaluationError(f"the why-not analysis failed ({type(exc).__name__}: {exc}); please report it") from None
    return {"near_miss": encode(near), "max_probes": max_probes, "probes": search.probes,
            "max_work": max_work, "work": search.work,
            "complete": not search.spent and all(_complete(p) for p in result.values()),
            "stopped": search.stopped, "note": NOTES.get(search.stopped or ""),
            "programs": result}


def _complete(prog: dict[str, Any]) -> bool:
    rules = list(prog["failed"]) + [r for m in prog["members"] or [] for r in m["failed"]]
    return all(r["complete"] for r in rules)


__all__ = ["MAX_PROBES", "MAX_PROBES_PER_FACT", "MAX_WORK", "NEAR_MISS", "NOTES", "why_not"]
