"""Decision records: a canonical JSON document an auditor can keep, verify and replay years later.

A record holds the household as given, the decision and its trace (`Decision.to_json()`), the
date decided for, the policy set's hash and each file's hash, the library version, and a
`record_hash`: the sha256 of the canonical serialisation of everything else. The hash shows a
record was changed after it was made; it cannot show who made it (anyone who changes a record can
compute a new hash), so keep the hash, or a signature over it, where the record cannot be edited.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import attrs

from eligibility.base.errors import EligibilityError, InputError, InputProblem
from eligibility.lang.policyset import policy_hash as _policy_hash

if TYPE_CHECKING:
    from eligibility.engine.runtime import Decision, Engine

SCHEMA = "eligibility.record/1"
#: Records nest a few levels (decision > programs > steps > comparisons > pairs > sides); anything
#: much deeper was not made by make_record.
MAX_DEPTH = 64
HASH_RE = re.compile(r"sha256:[0-9a-f]{64}\Z")
FILE_HASH_RE = re.compile(r"[0-9a-f]{64}\Z")
_SURROGATE = re.compile("[\ud800-\udfff]")
_KEYS = ("decided_for", "decision", "input", "library_version", "policy", "record_hash", "schema")


# ------------------------------------------------------------------ canonical JSON


def _decimal_text(d: Decimal) -> str:
    text = format(d, "f")
    return "0" + text[2:] if text.startswith("-0") and Decimal(text) == 0 else text


def _normalise(value: object, path: str) -> Any:
    """Return a JSON-typed copy: Decimal and float as canonical decimal strings, dates as ISO strings.

    Raises InputError naming the path of a value that has no JSON form.
    """
    problems: list[InputProblem] = []
    out = _normalise_into(value, path, problems)
    if problems:
        raise InputError(problems)
    return out


def _normalise_into(value: object, path: str, problems: list[InputProblem], depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        problems.append(InputProblem(path, "limit", f"is nested more than {MAX_DEPTH} levels deep"))
        return None
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        if _SURROGATE.search(value):
            problems.append(InputProblem(path, "format", "is not valid Unicode text (it holds a lone surrogate)"))
            return None
        return str(value)
    if isinstance(value, Decimal | float):
        if isinstance(value, float):
            if not math.isfinite(value):
                problems.append(InputProblem(path, "range", "is not a finite number"))
                return None
            value = Decimal(repr(value))
        if not value.is_finite():
            problems.append(InputProblem(path, "range", "is not a finite number"))
            return None
        return _decimal_text(value)
    if isinstance(value, dt.datetime):
        problems.append(InputProblem(path, "type", "is a date and time; a record holds dates only"))
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str) or _SURROGATE.search(k):
                problems.append(InputProblem(path, "type", "has a key that is not text"))
                continue
            out[k] = _normalise_into(v, f"{path}.{k}" if path else k, problems, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_normalise_into(v, f"{path}[{i}]", problems, depth + 1) for i, v in enumerate(value)]
    problems.append(InputProblem(path, "type", f"has no JSON form ({type(value).__name__})"))
    return None


def _json_problems(value: object) -> list[str]:
    """Return where a value holds anything but canonical JSON types (iteratively, depth-bounded)."""
    out: list[str] = []
    stack: list[tuple[object, str, int]] = [(value, "", 0)]
    while stack and len(out) < 20:
        v, path, depth = stack.pop()
        where = path or "the record"
        if depth > MAX_DEPTH:
            out.append(f"{where}: nested more than {MAX_DEPTH} levels deep")
        elif v is None or isinstance(v, bool):
            continue
        elif isinstance(v, int):
            if abs(v) >= 10 ** 30:
                out.append(f"{where}: a number too large for a record")
        elif isinstance(v, str):
            if _SURROGATE.search(v):
                out.append(f"{where}: text with a lone surrogate")
        elif isinstance(v, float):
            out.append(f"{where}: a floating-point number; records hold decimals as strings")
        elif isinstance(v, dict):
            for k, item in v.items():
                if not isinstance(k, str):
                    out.append(f"{where}: a key that is not text")
                    continue
                stack.append((item, f"{path}.{k}" if path else k, depth + 1))
        elif isinstance(v, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(v))
        else:
            out.append(f"{where}: a {type(v).__name__}, which is not a JSON value")
    return out


def canonical_bytes(value: Any) -> bytes:
    """Serialise JSON-typed data canonically: sorted keys, no spaces, UTF-8, no floats."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def _hash(body: Mapping[str, Any]) -> str:
    rest = {k: v for k, v in body.items() if k != "record_hash"}
    return "sha256:" + hashlib.sha256(canonical_bytes(rest)).hexdigest()


def policy_hash(files: Mapping[str, str]) -> str:
    """Return the policy set hash of a file → sha256 table (policyset.policy_hash)."""
    return _policy_hash(dict(files))


# ------------------------------------------------------------------ making and writing


def make_record(decision: Decision, household: Mapping[str, Any]) -> dict[str, Any]:
    """Make the canonical decision record of a decision and the household it was made for.

    Args:
        decision: a decision, traced or not (its trace is built if needed).
        household: the household exactly as passed to `Engine.decide`.

    Returns:
        A dict of JSON types only (decimals are strings): `schema`, `decided_for`,
        `library_version`, `policy` (`hash`, `jurisdiction`, `files`), `input`, `decision`
        and `record_hash`. `dumps_record` writes it.

    Raises:
        InputError: the household is not the one the decision was made for, or holds a value
            with no JSON form.
    """
    from eligibility.base.numbers import ENGINE_CONTEXT

    with decimal.localcontext(ENGINE_CONTEXT):
        return _make_record(decision, household)


def _make_record(decision: Decision, household: Mapping[str, Any]) -> dict[str, Any]:
    engine = decision.engine
    try:
        facts, _ = engine.validator.validate(household)
    except InputError as e:
        raise InputError([InputProblem("household", "mismatch",
                                       "is not the household this decision was made for: it is not valid "
                                       f"({e.problems[0]})")]) from None
    if facts != decision.facts:
        raise InputError([InputProblem("household", "mismatch",
                                       "is not the household this decision was made for (its facts differ)")])
    given = _normalise(household, "")
    trace = _normalise(decision.to_json(), "decision")
    body: dict[str, Any] = {
        "schema": SCHEMA,
        "decided_for": trace["decided_for"],
        "library_version": trace["library_version"],
        "policy": trace["policy"],
        "input": given,
        "decision": trace,
    }
    body["record_hash"] = _hash(body)
    return body


def dumps_record(record: Mapping[str, Any]) -> str:
    """Return the canonical text of a record: sorted keys, two-space indent, UTF-8, a final newline.

    The same record gives the same text, byte for byte, in every process.

    Raises:
        InputError: the record holds a value that is not JSON (a float, a Decimal, a date).
    """
    problems = _json_problems(record)
    if problems:
        raise InputError([InputProblem("record", "type", p) for p in problems])
    return json.dumps(record, sort_keys=True, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def loads_record(text: str) -> Any:
    """Parse a record's text; a duplicated key or a non-JSON constant (NaN, Infinity) is refused.

    Raises:
        InputError: the text is not JSON (kind `format`), or has a duplicated key (kind `duplicate`,
            which a record made by dumps_record never has: someone edited it).
    """
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                raise _Duplicate(k)
            out[k] = v
        return out

    def constant(name: str) -> Any:
        raise _Duplicate(name, constant=True)

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except _Duplicate as d:
        what = f"the constant {d.key}" if d.constant else f"the key {json.dumps(d.key, ensure_ascii=False)} twice"
        raise InputError([InputProblem("record", "duplicate" if not d.constant else "format",
                                       f"has {what}; a record is plain JSON")]) from None
    except json.JSONDecodeError as e:
        raise InputError([InputProblem("record", "format",
                                       f"is not JSON (line {e.lineno} column {e.colno}: {e.msg})")]) from None
    except (RecursionError, ValueError):
        raise InputError([InputProblem("record", "limit", "is nested too deeply or holds a huge number")]) from None


class _Duplicate(Exception):
    def __init__(self, key: str, constant: bool = False) -> None:
        self.key = key
        self.constant = constant


# ------------------------------------------------------------------ verifying


def verify_record(record: object) -> list[str]:
    """Return the problems of a record; an empty list when it is intact.

    It detects any change to the input, the decision or the hashes: the `record_hash` no longer
    matches, or (when the hash was recomputed after a change) the parts of the record no longer
    agree with each other: the header and the decision, the policy hash and the file hashes, each
    program's outcome and its trace, the input and the facts the trace read.
    """
    from eligibility.base.numbers import ENGINE_CONTEXT

    with decimal.localcontext(ENGINE_CONTEXT):
        return _verify(record)


def _verify(record: object) -> list[str]:
    if not isinstance(record, dict):
        return ["a record is a JSON object"]
    problems = [f"not canonical JSON: {p}" for p in _json_problems(record)]
    if problems:
        return problems
    missing = [k for k in _KEYS if k not in record]
    extra = sorted(k for k in record if k not in _KEYS)
    if missing:
        problems.append("missing " + ", ".join(missing))
    if extra:
        problems.append("unknown key(s) " + ", ".join(extra) + f" (not part of {SCHEMA})")
    if record.get("schema") != SCHEMA:
        problems.append(f"schema is {_short(record.get('schema'))}, expected {SCHEMA!r}")
    stored = record.get("record_hash")
    if not isinstance(stored, str) or not HASH_RE.match(stored):
        problems.append("record_hash is not sha256: and 64 hex digits")
    else:
        try:
            actual = _hash(record)
        except (ValueError, TypeError, RecursionError):
            actual = None
        if actual != stored:
            problems.append(f"record_hash does not match the content (recorded {stored[:19]}…, computed "
                            f"{(actual or '?')[:19]}…): the record was changed after it was made")
    shape = _shape_problems(record)
    if shape:
        return problems + shape
    decision: dict[str, Any] = record["decision"]
    for key in ("decided_for", "library_version", "policy"):
        if key in record and record.get(key) != decision.get(key):
            problems.append(f"{key} differs between the record ({_short(record.get(key))}) and its decision "
                            f"({_short(decision.get(key))})")
    try:
        problems.extend(_policy_problems(decision.get("policy")))
        problems.extend(_outcome_problems(decision))
        problems.extend(_input_problems(record.get("input"), decision))
    except (TypeError, KeyError, AttributeError, ValueError, IndexError):
        problems.append(f"decision is not an {_TRACE_SCHEMA} trace")
    return problems


_TRACE_SCHEMA = "eligibility.decision/1"


def _shape_problems(record: dict[str, Any]) -> list[str]:
    """The parts of a record that verify and replay read must have the types make_record gives them."""
    out: list[str] = []

    def want(value: object, types: type | tuple[type, ...], where: str) -> bool:
        if isinstance(value, types):
            return True
        out.append(f"{where} is {_short(value)}, not {_kind(types)}")
        return False

    for where, value in (("decided_for", record.get("decided_for")),
                         ("decision.decided_for", (record.get("decision") or {}).get("decided_for")
                          if isinstance(record.get("decision"), dict) else None)):
        if not isinstance(value, str) or not _is_date(value):
            out.append(f"{where} is {_short(value)}, not a date \"YYYY-MM-DD\"")
    want(record.get("library_version"), str, "library_version")
    want(record.get("input"), dict, "input")
    decision = record.get("decision")
    if not want(decision, dict, "decision") or not isinstance(decision, dict):
        return out
    d = decision  # a dict from here on
    if d.get("schema") != _TRACE_SCHEMA:
        out.append(f"decision.schema is {_short(d.get('schema'))}, not {_TRACE_SCHEMA!r}")
    want(d.get("library_version"), str, "decision.library_version")
    policy = d.get("policy")
    if want(policy, dict, "decision.policy") and isinstance(policy, dict):
        want(policy.get("hash"), str, "decision.policy.hash")
        want(policy.get("jurisdiction"), (str, type(None)), "decision.policy.jurisdiction")
        if want(policy.get("files"), dict, "decision.policy.files"):
            for f, h in policy["files"].items():
                want(h, str, f"decision.policy.files.{f}")
    for key in ("warnings", "defaulted"):
        want(d.get(key), list, f"decision.{key}")
    programs = d.get("programs")
    if want(programs, dict, "decision.programs") and isinstance(programs, dict):
        for name, prog in programs.items():
            where = f"decision.programs.{name}"
            if not want(prog, dict, where):
                continue
            want(prog.get("eligible"), (bool, type(None)), f"{where}.eligible")
            want(prog.get("error"), (str, type(None)), f"{where}.error")
            want(prog.get("amount"), (str, type(None)), f"{where}.amount")
            want(prog.get("tier"), (str, type(None)), f"{where}.tier")
            want(prog.get("members"), (list, type(None)), f"{where}.members")
            if want(prog.get("steps"), list, f"{where}.steps"):
                for i, step in enumerate(prog["steps"]):
                    if want(step, dict, f"{where}.steps[{i}]") and isinstance(step, dict):
                        want(step.get("name"), str, f"{where}.steps[{i}].name")
                        if want(step.get("inputs"), list, f"{where}.steps[{i}].inputs"):
                            for j, item in enumerate(step["inputs"]):
                                want(item, dict, f"{where}.steps[{i}].inputs[{j}]")
        if not programs:
            out.append("decision.programs is empty")
    return out[:20]


def _kind(types: type | tuple[type, ...]) -> str:
    names = {str: "text", dict: "an object", list: "a list", bool: "true/false", type(None): "null"}
    seq = types if isinstance(types, tuple) else (types,)
    return " or ".join(names.get(t, t.__name__) for t in seq)


def _is_date(text: str) -> bool:
    try:
        return len(text) == 10 and dt.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def _short(value: object) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:79] + "…"


def _policy_problems(policy: object) -> list[str]:
    if not isinstance(policy, dict):
        return ["decision.policy is not an object"]
    files = policy.get("files")
    if not isinstance(files, dict) or not files:
        return ["decision.policy.files is not a table of files"]
    bad = [f for f, h in files.items() if not isinstance(h, str) or not FILE_HASH_RE.match(h)]
    if bad:
        return [f"decision.policy.files: {f} has no sha256" for f in bad[:5]]
    if policy.get("hash") != policy_hash(files):
        return [f"decision.policy.hash {_short(policy.get('hash'))} is not the hash of its files "
                f"({policy_hash(files)[:19]}…): a file hash or the policy hash was changed"]
    return []


def _outcome_problems(decision: dict[str, Any]) -> list[str]:
    """Each program's outcome must be what its own `eligible` and `amount` steps computed."""
    out: list[str] = []
    programs = decision.get("programs")
    if not isinstance(programs, dict):
        return ["decision.programs is not an object"]
    for name, prog in programs.items():
        if not isinstance(prog, dict) or not isinstance(prog.get("steps"), list):
            out.append(f"decision.programs.{name} has no steps")
            continue
        steps = {s.get("name"): s for s in prog["steps"] if isinstance(s, dict) and s.get("kind") == "output"}
        elig = steps.get("eligible")
        decided = elig is not None and elig.get("outcome") in ("eligible", "not_eligible")
        if elig is not None and decided and elig.get("value") is not prog.get("eligible"):
            out.append(f"programs.{name}.eligible is {_short(prog.get('eligible'))} but its trace computed "
                       f"{_short(elig.get('value'))}")
        amount = steps.get("amount")
        if amount and amount.get("outcome") == "computed" and prog.get("eligible") is True:
            computed = _cents(amount.get("value"))
            if computed is None or computed != _cents(prog.get("amount")):
                out.append(f"programs.{name}.amount is {_short(prog.get('amount'))} but its trace computed "
                           f"{_short(amount.get('value'))}")
        members = prog.get("members")
        if isinstance(members, list) and members and isinstance(elig, dict) and elig.get("outcome") == "per_record":
            per = {item.get("path"): item.get("value") for item in elig.get("value") or [] if isinstance(item, dict)}
            for m in members:
                if not isinstance(m, dict):
                    continue
                traced = per.get(f"household.members[{m.get('index')}]")
                if traced is not None and traced is not m.get("eligible"):
                    out.append(f"programs.{name}.members[{m.get('index')}].eligible is {_short(m.get('eligible'))} "
                               f"but its trace computed {_short(traced)}")
    return out


def _cents(value: object) -> Decimal | None:
    if not isinstance(value, str):
        return None
    try:
        return Decimal(value).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    except (InvalidOperation, ValueError):
        return None


_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?\Z")


def _lookup(data: object, path: str) -> tuple[bool | None, object]:
    """Return (found, value) for a trace path such as `household.members[1].birth_date`.

    `found` is None for a path this check does not read (not a plain path into the household).
    """
    if not path.startswith("household."):
        return None, None
    cur = data
    for part in path[len("household."):].split("."):
        m = _SEGMENT.match(part)
        if m is None:
            return None, None
        if not isinstance(cur, dict):
            return False, None
        cur = cur.get(m.group(1))
        if m.group(2) is not None:
            i = int(m.group(2))
            if not isinstance(cur, list) or i >= len(cur):
                return False, None
            cur = cur[i]
    return True, cur


def _same_fact(given: object, traced: object) -> bool:
    if isinstance(traced, dict) and set(traced) == {"count"}:
        return isinstance(given, list) and len(given) == traced["count"]
    if isinstance(traced, bool) or isinstance(given, bool):
        return given is traced
    if isinstance(traced, str) and isinstance(given, str | int):
        if given == traced:
            return True
        try:
            return Decimal(str(given)) == Decimal(traced)
        except (InvalidOperation, ValueError):
            return False
    return given == traced


def _fact_inputs(decision: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for pname, prog in (decision.get("programs") or {}).items():
        if not isinstance(prog, dict):
            continue
        for step in prog.get("steps") or []:
            if not isinstance(step, dict):
                continue
            for item in step.get("inputs") or []:
                if isinstance(item, dict) and item.get("kind") == "fact" and isinstance(item.get("path"), str):
                    yield pname, str(step.get("name")), item


def _input_problems(given: object, decision: dict[str, Any]) -> list[str]:
    """The facts the trace read must be the ones in the record's input."""
    if not isinstance(given, dict):
        return ["input is not an object"]
    out: list[str] = []
    seen: set[str] = set()
    for pname, sname, item in _fact_inputs(decision):
        path = item["path"]
        if path in seen:
            continue
        seen.add(path)
        found, value = _lookup(given, path)
        if found is None:
            continue
        if item.get("defaulted") is True:
            if found and value is not None:
                out.append(f"input.{path[len('household.'):]} is given but the decision took its default")
            continue
        if not found or not _same_fact(value, item.get("value")):
            out.append(f"input.{path[len('household.'):]} is {_short(value) if found else 'absent'} but the "
                       f"decision read {_short(item.get('value'))} (programs.{pname} step {sname})")
        if len(out) >= 20:
            break
    for path in decision.get("defaulted") or []:
        found, value = _lookup(given, "household." + str(path))
        if found and value is not None:
            out.append(f"input.{path} is given but the decision lists it as defaulted")
    return out


# ------------------------------------------------------------------ replaying


@attrs.frozen
class Difference:
    """One thing that differs between the recorded decision and its replay."""

    program: str | None
    step: str | None
    field: str
    old: Any
    new: Any

    def where(self) -> str:
        return ".".join(p for p in (self.program, self.step, self.field) if p)

    def to_json(self) -> dict[str, Any]:
        return {"program": self.program, "step": self.step, "field": self.field, "old": self.old, "new": self.new}


@attrs.frozen
class FileChange:
    """A policy file whose hash differs between the record and the replay (None: absent)."""

    path: str
    old: str | None
    new: str | None

    @property
    def change(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "change": self.change, "old": self.old, "new": self.new}


@attrs.frozen
class ReplayResult:
    """The outcome of replaying a record: identical, or what differs and the likely reasons why."""

    identical: bool
    #: The record's own problems (verify_record); a tampered record is not replayed.
    problems: tuple[str, ...] = ()
    #: Why the household could not be decided again (an InputError or EvaluationError message).
    error: str | None = None
    #: Program outcomes: eligible, amount, tier, members, a program missing on one side.
    outcomes: tuple[Difference, ...] = ()
    #: Per-step differences: value and outcome, and the rule itself (expression, version, at, source).
    steps: tuple[Difference, ...] = ()
    #: Parameter values the replay read differently (value, from, source).
    parameters: tuple[Difference, ...] = ()
    old_policy: str | None = None
    new_policy: str | None = None
    files: tuple[FileChange, ...] = ()
    old_version: str | None = None
    new_version: str | None = None
    old_jurisdiction: str | None = None
    new_jurisdiction: str | None = None
    #: Every JSON path of the decision that differs, old and new value (at most MAX_PATHS).
    paths: tuple[tuple[str, Any, Any], ...] = ()
    record_hash: str | None = None
    decided_for: str | None = None

    @property
    def tampered(self) -> bool:
        return bool(self.problems)

    @property
    def same_outcome(self) -> bool:
        """Whether every program's outcome (eligible, amount, tier, members) is unchanged."""
        return not self.problems and self.error is None and not self.outcomes

    def causes(self) -> list[str]:
        """Return the likely reasons for the differences, most basic first."""
        out: list[str] = []
        if self.old_policy != self.new_policy and self.new_policy is not None:
            out.append(f"another policy set: {self.old_policy} (recorded) vs {self.new_policy} (replay)")
            out.extend(f"  {f.change} {f.path}: {(f.old or '-')[:12]} -> {(f.new or '-')[:12]}" for f in self.files)
        if self.old_version != self.new_version and self.new_version is not None:
            out.append(f"another library version: {self.old_version} (recorded) vs {self.new_version} (replay)")
        if self.old_jurisdiction != self.new_jurisdiction and self.new_policy is not None:
            out.append(f"loaded for another jurisdiction: {self.old_jurisdiction} (recorded) vs "
                       f"{self.new_jurisdiction} (replay)")
        rule_fields = ("expression", "version", "source", "article", "rounding", "each", "type", "step")
        for d in self.steps:
            if d.field in rule_fields:
                out.append(f"changed rule {d.program}.{d.step}: {d.field} {_short(d.old)} -> {_short(d.new)}")
            elif d.field in ("at", "layer"):
                out.append(f"rule {d.program}.{d.step} is written elsewhere: {d.field} {_short(d.old)} -> "
                           f"{_short(d.new)}")
        for d in self.parameters:
            out.append(f"changed parameter {d.program}.{d.step}: {d.field} {_short(d.old)} -> {_short(d.new)}")
        if not out and (self.outcomes or self.steps or self.paths):
            out.append("the same policy set and library version gave another result: the engine is not "
                       "deterministic here, please report it")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "identical": self.identical, "tampered": self.tampered, "same_outcome": self.same_outcome,
            "record_hash": self.record_hash, "decided_for": self.decided_for,
            "problems": list(self.problems), "error": self.error,
            "outcomes": [d.to_json() for d in self.outcomes], "steps": [d.to_json() for d in self.steps],
            "parameters": [d.to_json() for d in self.parameters],
            "policy": {"recorded": self.old_policy, "replay": self.new_policy,
                       "files": [f.to_json() for f in self.files]},
            "library_version": {"recorded": self.old_version, "replay": self.new_version},
            "causes": self.causes(),
            "paths": [{"path": p, "old": o, "new": n} for p, o, n in self.paths],
        }

    def render(self) -> str:
        """Return the result as text: a first line `identical`, `different`, `tampered` or `error`."""
        lines: list[str] = []
        if self.problems:
            lines.append("tampered: the record is not intact; it was not replayed")
            lines.extend(f"  {p}" for p in self.problems)
            return "\n".join(lines) + "\n"
        head = f"record {(self.record_hash or '?')[:19]}…, decided for {self.decided_for}"
        if self.error is not None:
            lines.append(f"error: the household cannot be decided again ({head})")
            lines.append(f"  {self.error}")
        elif self.identical:
            lines.append(f"identical: the replay gives the recorded decision and trace, byte for byte ({head}, "
                         f"policy set {self.new_policy})")
            return "\n".join(lines) + "\n"
        else:
            same = "the same outcome, another trace" if self.same_outcome else "another outcome"
            lines.append(f"different: {same} ({head})")
        if self.outcomes:
            lines.append("outcome:")
            lines.extend(f"  {d.where()}: {_short(d.old)} -> {_short(d.new)}" for d in self.outcomes)
        if self.steps:
            lines.append("steps:")
            lines.extend(f"  {d.where()}: {_short(d.old)} -> {_short(d.new)}" for d in self.steps)
        causes = self.causes()
        if causes:
            lines.append("why:")
            lines.extend(f"  {c}" for c in causes)
        shown = {f"programs.{d.program}.{d.field}" for d in self.outcomes}
        shown |= {f"programs.{d.program}.steps[{d.step}].{d.field}" for d in self.steps}
        if self.old_policy != self.new_policy:
            shown |= {"policy.hash", "policy.files"}
        if self.old_version != self.new_version:
            shown.add("library_version")
        rest = [p for p in self.paths if not any(p[0] == s or p[0].startswith((s + ".", s + "[")) for s in shown)]
        if rest:
            lines.append(f"other differences in the trace ({len(rest)}):")
            lines.extend(f"  {p}: {_short(o)} -> {_short(n)}" for p, o, n in rest[:10])
            if len(rest) > 10:
                lines.append(f"  … and {len(rest) - 10} more (--format json lists them all)")
        return "\n".join(lines) + "\n"


MAX_PATHS = 1000
_OUTCOME_FIELDS = ("eligible", "amount", "tier", "members", "error")
_STEP_VALUE_FIELDS = ("outcome", "value", "error")
_STEP_RULE_FIELDS = ("expression", "version", "type", "each", "rounding", "article", "at", "layer")


def replay(record: Mapping[str, Any], engine: Engine) -> ReplayResult:
    """Decide a record's household again, on the same date, and compare with what it recorded.

    Args:
        record: a record from `make_record` (or read back from its JSON text).
        engine: the policy set to replay with; load it with the record's `policy.jurisdiction`.

    Returns:
        A ReplayResult: `identical` when the decision JSON is byte-identical; otherwise the
        program outcomes and steps that differ, and the likely causes (another policy hash and the
        files whose hashes differ, another library version, a changed rule or parameter). A
        tampered record is not replayed: `problems` says why.
    """
    from eligibility.base.numbers import ENGINE_CONTEXT

    with decimal.localcontext(ENGINE_CONTEXT):
        return _replay(record, engine)


def _replay(record: Mapping[str, Any], engine: Engine) -> ReplayResult:
    problems = verify_record(dict(record) if isinstance(record, Mapping) else record)
    if problems:
        return ReplayResult(False, problems=tuple(problems))
    try:
        return _compare(record, engine)
    except (TypeError, KeyError, AttributeError, ValueError, IndexError):
        return ReplayResult(False, problems=(f"decision is not an {_TRACE_SCHEMA} trace",))


def _compare(record: Mapping[str, Any], engine: Engine) -> ReplayResult:
    old: dict[str, Any] = record["decision"]
    wanted = list(old["programs"])
    missing = [p for p in wanted if p not in engine.programs]
    outcomes = [Difference(p, None, "program", "decided", "absent from the policy set") for p in missing]
    base = {"old_policy": old["policy"]["hash"], "new_policy": engine.policy_hash,
            "files": _file_changes(old["policy"]["files"], engine.model.file_hashes),
            "old_version": old["library_version"], "new_version": _library_version(),
            "old_jurisdiction": old["policy"].get("jurisdiction"), "new_jurisdiction": engine.model.jurisdiction,
            "record_hash": record["record_hash"], "decided_for": record["decided_for"]}
    try:
        decision = engine.decide(record["input"], on=record["decided_for"],
                                 programs=[p for p in wanted if p in engine.programs])
        new = _normalise(decision.to_json(), "decision")
    except EligibilityError as e:
        return ReplayResult(False, error=str(e), outcomes=tuple(outcomes), **base)
    if canonical_bytes(new) == canonical_bytes(old) and not missing:
        return ReplayResult(True, **base)
    steps: list[Difference] = []
    params: list[Difference] = []
    for name, prog in old["programs"].items():
        now = new["programs"].get(name)
        if now is None:
            continue
        outcomes.extend(Difference(name, None, f, prog.get(f), now.get(f)) for f in _OUTCOME_FIELDS
                        if prog.get(f) != now.get(f))
        steps.extend(_step_differences(name, prog, now))
        params.extend(_parameter_differences(name, prog, now))
    return ReplayResult(False, outcomes=tuple(outcomes), steps=tuple(steps), parameters=tuple(params),
                        paths=tuple(_paths(old, new)), **base)


def _library_version() -> str:
    from eligibility.base.version import __version__

    return __version__


def _file_changes(old: Mapping[str, str], new: Mapping[str, str]) -> tuple[FileChange, ...]:
    return tuple(FileChange(f, old.get(f), new.get(f)) for f in sorted(set(old) | set(new))
                 if old.get(f) != new.get(f))


def _steps_by_name(prog: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(s.get("name")): s for s in prog.get("steps") or [] if isinstance(s, dict)}


def _step_differences(program: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Difference]:
    out: list[Difference] = []
    a, b = _steps_by_name(old), _steps_by_name(new)
    for name in [*a, *(n for n in b if n not in a)]:
        sa, sb = a.get(name), b.get(name)
        if sa is None or sb is None:
            out.append(Difference(program, name, "step", "present" if sa else "absent", "present" if sb else "absent"))
            continue
        for f in (*_STEP_VALUE_FIELDS, *_STEP_RULE_FIELDS):
            if sa.get(f) != sb.get(f):
                out.append(Difference(program, name, f, sa.get(f), sb.get(f)))
        src_a = (sa.get("source") or {}).get("id") if isinstance(sa.get("source"), dict) else None
        src_b = (sb.get("source") or {}).get("id") if isinstance(sb.get("source"), dict) else None
        if sa.get("source") != sb.get("source"):
            out.append(Difference(program, name, "source", src_a if src_a != src_b else sa.get("source"),
                                  src_b if src_a != src_b else sb.get("source")))
    return out


def _parameter_differences(program: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Difference]:
    def params(prog: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for step in prog.get("steps") or []:
            for item in step.get("inputs") or [] if isinstance(step, dict) else []:
                if isinstance(item, dict) and item.get("kind") == "parameter":
                    out.setdefault(str(item.get("name")), item)
        return out

    a, b = params(old), params(new)
    diffs: list[Difference] = []
    for name in sorted(set(a) | set(b)):
        pa, pb = a.get(name), b.get(name)
        if pa is None or pb is None:
            diffs.append(Difference(program, name, "read", pa is not None, pb is not None))
            continue
        for f in ("value", "from", "source", "unit"):
            if pa.get(f) != pb.get(f):
                diffs.append(Difference(program, name, f, pa.get(f), pb.get(f)))
    return diffs


def _paths(old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    """Every JSON path where two decisions differ; steps are matched by name, other lists by index."""
    out: list[tuple[str, Any, Any]] = []
    stack: list[tuple[str, Any, Any]] = [("", old, new)]
    while stack and len(out) < MAX_PATHS:
        path, a, b = stack.pop()
        if a == b and type(a) is type(b):
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b), reverse=True):
                stack.append((f"{path}.{k}" if path else k, a.get(k), b.get(k)))
        elif isinstance(a, list) and isinstance(b, list) and path.endswith(".steps"):
            sa = {s.get("name"): s for s in a if isinstance(s, dict)}
            sb = {s.get("name"): s for s in b if isinstance(s, dict)}
            names = [*sa, *(n for n in sb if n not in sa)]
            stack.extend((f"{path}[{n}]", sa.get(n), sb.get(n)) for n in reversed(names))
        elif isinstance(a, list) and isinstance(b, list):
            for i in reversed(range(max(len(a), len(b)))):
                stack.append((f"{path}[{i}]", a[i] if i < len(a) else None, b[i] if i < len(b) else None))
        else:
            out.append((path, a, b))
    return out


__all__ = ["SCHEMA", "Difference", "FileChange", "ReplayResult", "canonical_bytes", "dumps_record",
           "loads_record", "make_record", "policy_hash", "replay", "verify_record"]
