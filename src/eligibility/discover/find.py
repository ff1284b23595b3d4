"""Find who is missed and who no longer qualifies: classify one joined household's decision against its enrolment.

A joined household (one line of the file `eligibility join` writes; docs/how-to/discovery.md) is
decided on the date of the run with `assume_defaults=False`: a fact no department extract gave is
*unknown*, never its declared default, so that absent data can never make a household look
eligible (or ineligible). A program whose outcome waits on unknown facts is "to verify", never
"eligible" (nor "not eligible").

The findings of a household, each one row of the report:

- `missed`: not enrolled in a program it is eligible for (`likely`) or may be (`to_verify`);
- `exit`: enrolled in a program it is not eligible for (`likely`: 应退尽退) or that waits on
  unknown facts (`to_verify`);
- `wrong_program`: enrolled in one of dibao, marginal, tekun (and dibao_single) but eligible for
  another of them instead;
- `wrong_tier`, `wrong_amount`: enrolled and eligible, but the tier or the amount paid differs from
  the one decided (`likely`), or the tier waits on unknown facts and cannot be checked (`to_verify`);
- `not_decided`: enrolled in a program that cannot be decided on the data (a birth date after the
  decision date, say), with the reason;
- `residence_split` (人户分离), `two_households`, `enrolled_twice`, `values_disagree`: the join's
  conflicts, with the office to apply at for a residence split when the engine can say.

Priority (1 first): 1 a likely missed household, a wrong program, an amount paid below the one
decided — someone gets less than the policy gives; 2 a likely exit, a wrong tier, an amount paid
above the one decided, a person enrolled twice — money paid that the policy does not give;
3 a possibly missed household (to verify) and every data conflict; 4 an enrolled household whose
outcome or tier waits on unknown facts (to verify at its review). Within a priority: the larger monthly
amount at stake first, then the household id.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from eligibility.base.errors import EligibilityError, InputError, PolicyError
from eligibility.base.numbers import ENGINE_CONTEXT, decimal_text
from eligibility.engine.jsonin import loads_household
from eligibility.engine.runtime import Decision, Engine, ProgramDecision

#: The programs a household holds one of at a time: eligible for another of them instead of the
#: one it is enrolled in is a `wrong_program` finding, not an exit and a miss.
ALTERNATIVES = ("tekun", "dibao", "dibao_single", "marginal")
#: The programs discovery decides when none are named: the three a civil affairs office enrols.
DEFAULT_PROGRAMS = ("dibao", "marginal", "tekun")
CONFLICT_KINDS = ("two_households", "hukou_residence_split", "enrolled_twice", "values_disagree")
#: The finding kind of each conflict kind of the joined file.
CONFLICT_FINDING = {"two_households": "two_households", "hukou_residence_split": "residence_split",
                    "enrolled_twice": "enrolled_twice", "values_disagree": "values_disagree"}
KINDS = ("missed", "exit", "wrong_program", "wrong_tier", "wrong_amount", "not_decided", "residence_split",
         "two_households", "enrolled_twice", "values_disagree")
#: How many unknown facts to verify a row lists (ranked by `Decision.next_questions`).
MAX_QUESTIONS = 8
#: A pseudonymous id: it names files in the output folder, so it is kept to safe characters.
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
_MONEY_RE = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?\Z")
_AREA_KEYS = ("district", "town", "community")

REASONS: dict[tuple[str, str], dict[str, str]] = {
    ("missed", "likely"): {"zh": "符合条件但未纳入", "en": "eligible but not enrolled"},
    ("missed", "to_verify"): {"zh": "按通常情形符合条件但未纳入（待核实）",
                              "en": "eligible on the usual assumptions, not enrolled (to verify)"},
    ("exit", "likely"): {"zh": "已纳入但不再符合条件（应退尽退）", "en": "enrolled but no longer eligible"},
    ("exit", "to_verify"): {"zh": "已纳入，按通常情形已不符合条件（待核实）",
                            "en": "enrolled, not eligible on the usual assumptions (to verify)"},
    ("wrong_program", "likely"): {"zh": "纳入的救助项目不对", "en": "enrolled in the wrong program"},
    ("wrong_program", "to_verify"): {"zh": "纳入的救助项目可能不对（待核实）",
                                     "en": "may be enrolled in the wrong program (to verify)"},
    ("wrong_tier", "likely"): {"zh": "类别（档次）与认定不符", "en": "tier differs from the one decided"},
    ("wrong_tier", "to_verify"): {"zh": "类别（档次）因缺少数据无法认定（待核实）",
                                  "en": "the tier cannot be decided from the data (to verify)"},
    ("wrong_amount", "likely"): {"zh": "发放金额与认定金额不符", "en": "amount paid differs from the one decided"},
    ("not_decided", "to_verify"): {"zh": "已纳入，但数据无法认定（待核实）",
                                   "en": "enrolled, but the data cannot be decided on (to verify)"},
    ("residence_split", "to_verify"): {"zh": "人户分离，需确定申请地", "en": "lives away from hukou: where to apply"},
    ("two_households", "to_verify"): {"zh": "同一人在两个家庭中", "en": "a person in two households"},
    ("enrolled_twice", "likely"): {"zh": "同一人被重复纳入", "en": "a person enrolled twice"},
    ("values_disagree", "to_verify"): {"zh": "部门数据相互矛盾", "en": "department data disagree"},
}


@attrs.frozen
class DiscoverJob:
    """What every household of a discovery run is decided with (sent once to each worker)."""

    on: dt.date
    programs: tuple[str, ...]


@attrs.frozen
class Joined:
    """One household of the joined file, checked."""

    id: str
    area: dict[str, str]
    household: dict[str, Any]
    enrolled: tuple[dict[str, Any], ...]
    conflicts: tuple[dict[str, Any], ...]


@attrs.frozen
class Outcome:
    """What one line of the joined file gives the output folder, rendered in the worker.

    `decision` is its line of decisions.jsonl (one a line read, an error line for a bad one);
    `findings` its report rows; `trace` its line of traces.jsonl and `household` the household
    JSON `eligibility explain` reads, for a household with findings.
    """

    index: int
    decision: bytes
    findings: tuple[dict[str, Any], ...] = ()
    trace: bytes | None = None
    household: bytes | None = None
    id: str | None = None


class JoinedError(ValueError):
    """A joined line that is not a household record: every problem, with its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def read_joined(value: object, programs: Iterable[str]) -> Joined:
    """Check one parsed joined line against the joined-file format; every problem is listed.

    Raises:
        JoinedError: the record does not follow the format (paths such as `enrolled[0].amount`).
    """
    known = set(programs)
    problems: list[str] = []
    if not isinstance(value, Mapping):
        raise JoinedError([f"a joined household must be a JSON object, not {type(value).__name__}"])
    extra = sorted(set(value) - {"id", "area", "household", "enrolled", "conflicts"})
    if extra:
        problems.append("unknown key" + ("s " if len(extra) > 1 else " ") + ", ".join(map(repr, extra)))
    hid = value.get("id")
    if not isinstance(hid, str) or not _ID_RE.match(hid):
        problems.append("id: must be a pseudonymous id (letters, digits, _ . -; at most 128), not "
                        + (repr(hid)[:40] if hid is not None else "missing"))
    area = value.get("area", {})
    if area is None:
        area = {}
    if not isinstance(area, Mapping) or not all(isinstance(v, str) or v is None for v in area.values()):
        problems.append("area: must be an object of names (district, town, community)")
        area = {}
    household = value.get("household")
    if not isinstance(household, Mapping):
        problems.append("household: missing, or not an object")
    enrolled = value.get("enrolled", [])
    if not isinstance(enrolled, list):
        problems.append("enrolled: must be a list")
        enrolled = []
    for i, entry in enumerate(enrolled):
        where = f"enrolled[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: must be an object")
            continue
        program = entry.get("program")
        if not isinstance(program, str):
            problems.append(f"{where}.program: missing")
        elif known and program not in known:
            problems.append(f"{where}.program: unknown program {program[:40]!r}")
        amount = entry.get("amount")
        if amount is not None and not (isinstance(amount, str) and _MONEY_RE.match(amount)):
            problems.append(f"{where}.amount: must be an amount as text such as \"1282.00\", or null")
        for key in ("tier", "office", "since", "person"):
            if entry.get(key) is not None and not isinstance(entry.get(key), str):
                problems.append(f"{where}.{key}: must be text or null")
    conflicts = value.get("conflicts", [])
    if not isinstance(conflicts, list):
        problems.append("conflicts: must be a list")
        conflicts = []
    for i, c in enumerate(conflicts):
        if not isinstance(c, Mapping) or c.get("kind") not in CONFLICT_KINDS:
            problems.append(f"conflicts[{i}].kind: must be one of {', '.join(CONFLICT_KINDS)}")
    if problems:
        raise JoinedError(problems)
    assert isinstance(hid, str) and isinstance(household, Mapping)
    return Joined(hid, {k: str(v) for k, v in area.items() if v is not None}, dict(household),
                  tuple(dict(e) for e in enrolled), tuple(dict(c) for c in conflicts))


def discover_item(engine: Engine, job: DiscoverJob, item: tuple[int, str, Any, int | None]) -> Outcome:
    """Read, decide and classify one line of the joined file; never raises (a bad line is its error line)."""
    index, kind, data, line = item
    value: object = None
    joined: Joined | None = None
    with decimal.localcontext(ENGINE_CONTEXT):
        try:
            if kind == "long":
                raise JoinedError([f"the line is longer than {data:,} bytes"])
            text = data.decode("utf-8") if isinstance(data, bytes) else str(data)
            if not text.strip():
                raise JoinedError(["the line is empty"])
            try:
                value = loads_household(text)
            except json.JSONDecodeError as e:
                raise JoinedError([f"not valid JSON: {e.msg} (column {e.colno})"]) from None
            joined = read_joined(value, engine.programs)
            return classify(engine, job, joined, index, line)
        except UnicodeDecodeError:
            return _error(engine, index, line, None, "json", ["not UTF-8 text"])
        except JoinedError as e:
            hid = value.get("id") if isinstance(value, Mapping) else None
            return _error(engine, index, line, hid if isinstance(hid, str) else None, "record", e.problems)
        except InputError as e:
            return _error(engine, index, line, None if joined is None else joined.id, "input",
                          [f"{p.path}: {p.message}" for p in e.problems])
        except (RecursionError, ValueError):
            return _error(engine, index, line, None, "json", ["the JSON is nested too deeply or holds a huge number"])
        except Exception as e:  # a bug must cost one household, not the run
            return _error(engine, index, line, None, "internal",
                          [f"internal error ({type(e).__name__}); please report it"])


def _error(engine: Engine, index: int, line: int | None, hid: str | None, kind: str, problems: list[str]) -> Outcome:
    record = {"index": index, "id": hid, "line": line, "policy_hash": engine.policy_hash,
              "error": {"kind": kind, "message": f"line {line}: " + "; ".join(problems), "problems": problems}}
    return Outcome(index, _line(record), id=hid)


def _line(obj: object) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, default=json_default, separators=(",", ":")) + "\n").encode()


def json_default(o: object) -> object:
    """JSON for the values findings hold: Decimal as its text, dates in ISO form."""
    if isinstance(o, Decimal):
        return decimal_text(o)
    if isinstance(o, dt.date):
        return o.isoformat()
    raise TypeError(type(o).__name__)


def _state(p: ProgramDecision) -> str:
    """yes, no, open (waits on unknown facts) or error."""
    if p.error is not None:
        return "error"
    if p.undetermined:
        return "open"
    return "yes" if p.eligible else "no"


def classify(engine: Engine, job: DiscoverJob, joined: Joined, index: int, line: int | None) -> Outcome:
    """Decide a joined household and return its decision line and its findings.

    Raises:
        InputError: the household is invalid (every problem listed).
    """
    # Triage first, never a decision: the household is decided with the vocabulary's defaults. A
    # household that would be eligible (or not) on those usual assumptions is worth verifying; one
    # that stays undetermined (a fact without a default, such as the economic check, is missing) is
    # counted, not listed. Kleene's logic is monotone (an outcome decided with fewer facts known
    # stays decided with more), so a household not enrolled, without a conflict and eligible for
    # nothing even on the usual assumptions cannot be listed: it is not decided a second time.
    try:
        usual = engine.decide(joined.household, job.on, job.programs, trace=False, assume_defaults=True)
    except InputError as e:
        raise InputError([attrs.evolve(p, path=f"household.{p.path}") for p in e.problems]) from None
    assumed = {name: _state(p) for name, p in usual.programs.items()}
    enrolled: dict[str, list[dict[str, Any]]] = {}
    for entry in joined.enrolled:
        enrolled.setdefault(entry["program"], []).append(entry)
    record: dict[str, Any] = {"index": index, "id": joined.id, "line": line, "policy_hash": engine.policy_hash}
    if usual.defaulted and not enrolled and not joined.conflicts and "yes" not in assumed.values():
        record.update(programs=None, enrolled=[], findings=0, if_defaults=assumed)
        return Outcome(index, _line(record), id=joined.id)
    decision = usual if not usual.defaulted else \
        engine.decide(joined.household, job.on, job.programs, trace=False, assume_defaults=False)
    states = {name: _state(p) for name, p in decision.programs.items()}
    raw = _raw_findings(decision, states, assumed, enrolled, joined)
    record.update(programs={name: {"eligible": p.eligible, "amount": p.amount, "tier": p.tier,
                                   "unknown": len(p.unknown), "error": None if p.error is None else p.error.english}
                            for name, p in decision.programs.items()},
                  enrolled=sorted(enrolled), findings=len(raw))
    if any(st == "open" for st in states.values()):
        record["if_defaults"] = {n: assumed[n] for n, st in states.items() if st == "open"}
    if not raw:
        return Outcome(index, _line(record), id=joined.id)
    # The trace covers the programs of the findings: a trace is the costly part of a flagged household,
    # and each program in it costs about as much again (so do the decisions next_questions makes).
    # A conflict alone (no program enrolled or eligible) is explained by its sources and, for a
    # residence split, by the where-to-apply answer: no program trace.
    named = {p for f in raw for p in f["programs"]}
    traced_programs = tuple(p for p in job.programs if p in named)
    trace: dict[str, Any] = {"programs": {}}
    questions: list[dict[str, Any]] = []
    if traced_programs:
        traced = decision if decision.traced and traced_programs == job.programs else \
            engine.decide(joined.household, job.on, traced_programs, trace=True, assume_defaults=False)
        trace = traced.to_json()
        asked = sorted({p for f in raw if f["status"] == "to_verify" for p in f["programs"]
                        if states.get(p) == "open"})
        questions = traced.next_questions(asked) if asked else []
    office, full = None, None
    if any(f["kind"] == "residence_split" for f in raw):
        office, full = where_to_apply(engine, joined.household, job.on,
                                      {p for f in raw if f["kind"] == "residence_split" for p in f["programs"]})
    findings = tuple(_finish(f, joined, index, trace, questions, office) for f in raw)
    household = _explainable(joined.household, decision)
    trace_line: dict[str, Any] = {"id": joined.id, "index": index, "trace": trace if traced_programs else None}
    if full is not None:
        trace_line["where_to_apply"] = full
    return Outcome(index, _line(record), findings, _line(trace_line),
                   (json.dumps(household, ensure_ascii=False, indent=1, default=json_default) + "\n").encode(),
                   joined.id)


def _paid(entries: list[dict[str, Any]]) -> Decimal | None:
    """The monthly amount paid to a household for a program: the sum of its entries' amounts (None if none says)."""
    amounts = [Decimal(e["amount"]) for e in entries if isinstance(e.get("amount"), str)]
    return sum(amounts, Decimal(0)) if amounts else None


def _raw_findings(decision: Decision, states: dict[str, str], assumed: dict[str, str],
                  enrolled: dict[str, list[dict[str, Any]]], joined: Joined) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    progs = decision.programs
    for name, state in states.items():
        entries = enrolled.get(name, [])
        p = progs[name]
        if_defaults = assumed.get(name)
        if not entries:
            if state == "yes":
                out.append(_raw("missed", "likely", [name], None, p.amount))
            elif state == "open" and if_defaults == "yes":
                out.append(_raw("missed", "to_verify", [name], None, None))
            continue
        entry = entries[0]
        paid = _paid(entries)
        if state == "error":  # enrolled, and the data cannot be decided on: a finding, never a silence
            f = _raw("not_decided", "to_verify", [name], entry, None)
            f["error"] = p.error.english if p.error is not None else None
            out.append(f)
        elif state == "no":
            out.append(_raw("exit", "likely", [name], entry, paid))
        elif state == "open" and p.eligible is None and if_defaults == "no":
            out.append(_raw("exit", "to_verify", [name], entry, paid))
        elif state == "yes":
            if entry.get("tier") is not None and p.tier not in (None, "") and entry["tier"] != p.tier:
                out.append(_raw("wrong_tier", "likely", [name], entry, p.amount))
            elif entry.get("tier") is not None and p.tier_unknown:  # the tier paid cannot be checked
                out.append(_raw("wrong_tier", "to_verify", [name], entry, p.amount))
            if paid is not None and p.amount is not None and paid != p.amount:
                f = _raw("wrong_amount", "likely", [name], entry, abs(p.amount - paid))
                f["paid_below_decided"] = paid < p.amount
                out.append(f)
    # An exit from one alternative and a miss of another are one wrong program.
    exits = [f for f in out if f["kind"] == "exit" and f["programs"][0] in ALTERNATIVES]
    misses = [f for f in out if f["kind"] == "missed" and f["programs"][0] in ALTERNATIVES]
    for ex in exits:
        if not misses:
            break
        miss = max(misses, key=lambda f: (f["status"] == "likely", f["amount"] or Decimal(0)))
        misses.remove(miss)
        out.remove(ex)
        out.remove(miss)
        both = "likely" if ex["status"] == miss["status"] == "likely" else "to_verify"
        out.append(_raw("wrong_program", both, [ex["programs"][0], miss["programs"][0]], ex["enrolled"],
                        miss["amount"]))
    for conflict in joined.conflicts:
        kind = CONFLICT_FINDING[conflict["kind"]]
        f = _raw(kind, "likely" if kind == "enrolled_twice" else "to_verify",
                 sorted({e["program"] for e in joined.enrolled} | {n for n, s in states.items() if s == "yes"}),
                 None, None)
        f["conflict"] = conflict
        out.append(f)
    return out


def _raw(kind: str, status: str, programs: list[str], entry: dict[str, Any] | None,
         amount: Decimal | None) -> dict[str, Any]:
    return {"kind": kind, "status": status, "programs": programs, "enrolled": entry, "amount": amount}


def _money(text: object) -> Decimal | None:
    return Decimal(text) if isinstance(text, str) else None


def priority(f: Mapping[str, Any]) -> int:
    """Return a finding's priority, 1 (first) to 4: the rule in the module docstring."""
    kind, status = f["kind"], f["status"]
    if kind == "wrong_amount":
        return 1 if f.get("paid_below_decided") else 2
    if status == "likely":
        return 1 if kind in ("missed", "wrong_program") else 2
    return 4 if kind in ("exit", "wrong_tier") else 3


def _finish(f: dict[str, Any], joined: Joined, index: int, trace: dict[str, Any], questions: list[dict[str, Any]],
            office: dict[str, Any] | None) -> dict[str, Any]:
    programs = f["programs"]
    decided = {p: {k: trace["programs"][p].get(k) for k in ("eligible", "amount", "tier")}
               for p in programs if p in trace["programs"]}
    row: dict[str, Any] = {
        "household": joined.id, "index": index, "area": joined.area, "kind": f["kind"], "status": f["status"],
        "priority": priority(f), "programs": programs,
        "reason": REASONS.get((f["kind"], f["status"]), {"zh": f["kind"], "en": f["kind"]}),
        "monthly_amount": f["amount"], "enrolled": f["enrolled"], "decided": decided,
        "decisive_facts": decisive_facts(trace, [p for p in programs if p in trace["programs"]]),
        "to_verify": [{"path": q["path"], "label": q["label"], "settles": q["settles"]}
                      for q in questions if set(q["programs"]) & set(programs)][:MAX_QUESTIONS]
        if f["status"] == "to_verify" else [],
        "trace": f"traces.jsonl#{joined.id}", "household_file": f"households/{joined.id}.json",
    }
    if "conflict" in f:
        row["conflict"] = f["conflict"]
    if "error" in f:
        row["error"] = f["error"]
    if f["kind"] == "residence_split":
        row["office"] = office
    return row


def decisive_facts(trace: Mapping[str, Any], programs: Iterable[str]) -> list[dict[str, Any]]:
    """Return the facts the outcome of these programs turned on, with their sources, from a decision's trace.

    The decisive rules are those the decision needed for `eligible`: the failed ones when not
    eligible, the passed ones when eligible, the unknown ones when undetermined; their facts are
    collected through the computed values they read.
    """
    out: dict[str, dict[str, Any]] = {}
    for name in programs:
        prog = trace["programs"][name]
        steps = {s["name"]: s for s in prog["steps"]}
        eligible = prog.get("eligible")
        want = "passed" if eligible is True else "failed" if eligible is False else "unknown"
        if prog.get("unknown"):
            want = "unknown"
        seen: set[str] = set()
        stack = [s["name"] for s in reversed(prog["steps"]) if s["kind"] == "rule" and s.get("needed")
                 and "eligible" in s.get("used_by", ()) and s.get("outcome") == want]
        while stack:
            step = steps.get(stack.pop())
            if step is None or step["name"] in seen:
                continue
            seen.add(step["name"])
            for i in step.get("inputs", ()):
                value = i.get("value")
                if i["kind"] == "fact" and i.get("path") and (not isinstance(value, dict | list)
                                                              or (isinstance(value, dict) and "unknown" in value)):
                    path = str(i["path"]).removeprefix("household.")
                    if path not in out:
                        prov = i.get("provenance") or {}
                        out[path] = {"path": path, "value": i.get("value"), "label": i.get("title"),
                                     "source": prov.get("source"), "as_of": prov.get("as_of"),
                                     "reference": prov.get("reference")}
                elif i["kind"] in ("computed", "rule") and i.get("name") in steps:
                    stack.append(i["name"])
    return list(out.values())


def where_to_apply(engine: Engine, household: Mapping[str, Any], on: dt.date,
                   programs: Iterable[str] = ()) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Return where a household may apply, from `Engine.where_to_apply`: (for the row, in full for the trace file).

    For the row: each office (code, kind, label, the programs and the reasons with their sources)
    and, for each of `programs` the rules cover, its status and the facts it waits on. A policy set
    without where-to-apply rules (or an engine without them) gives `{"available": false}` with a
    note: decide the office by hand. Places that disagree give the error.
    """
    method = getattr(engine, "where_to_apply", None)
    manual = {"available": False,
              "note": {"zh": "所用政策未含申请地规则，请人工确定受理地",
                       "en": "the policies have no where-to-apply rules: decide the office by hand"}}
    if method is None:
        return manual, None
    try:
        result = method(household, on=on)
    except PolicyError:
        return manual, None
    except EligibilityError as e:
        return {"available": True, "error": str(e)}, None
    full = json.loads(json.dumps(result.to_json(), ensure_ascii=False, default=json_default))
    wanted = set(programs)
    offices = [{"code": o["code"], "kind": o["kind"], "label": o["label"], "programs": o["programs"],
                "reasons": [{"text": r["text"], "sources": r["sources"], "record_id": r["record_id"]}
                            for r in o["reasons"]]}
               for o in full["offices"] if not wanted or wanted & set(o["programs"])]
    per = {name: {"status": p["status"], "offices": [o["code"] for o in p["offices"]], "unknown": p["unknown"]}
           for name, p in full["programs"].items() if not wanted or name in wanted}
    return {"available": True, "offices": offices, "programs": per, "undetermined": full["undetermined"]}, full


def _explainable(household: Mapping[str, Any], decision: Decision) -> dict[str, Any]:
    """The household with every fact the decision took as unknown written `{"unknown": true}`.

    So that `eligibility explain` (which takes an absent fact at its default) decides it as
    discovery did.
    """
    out = json.loads(json.dumps(household, default=json_default))
    for path in decision.unknown_facts:
        m = re.match(r"(\w+)(?:\[(\d+)\]\.(\w+))?\Z", path)
        if m is None:
            continue
        if m.group(3) is None:
            out.setdefault(m.group(1), {"unknown": True})
        else:
            items = out.get(m.group(1))
            i = int(m.group(2))
            if isinstance(items, list) and i < len(items) and isinstance(items[i], dict):
                items[i].setdefault(m.group(3), {"unknown": True})
    return dict(out)


__all__ = ["ALTERNATIVES", "DEFAULT_PROGRAMS", "KINDS", "REASONS", "DiscoverJob", "Joined", "JoinedError", "Outcome",
           "classify", "decisive_facts", "discover_item", "priority", "read_joined", "where_to_apply"]
