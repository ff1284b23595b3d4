"""Verifying a decision record without deciding again: what the record itself lets one re-derive.

See docs/how-to/audit.md for what `verify_record` proves without and with the policy set, and what
only `replay` proves.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from eligibility.audit.against import check_policies_match, policy_problems
from eligibility.audit.canonical import (
    FILE_HASH_RE,
    HASH_RE,
    KEYS,
    SCHEMA,
    SCHEMA_V1,
    SCHEMAS,
    json_problems,
    policy_hash,
    record_hash,
    short_json,
)
from eligibility.audit.consistency import citation_problems, outcome_problems, reference_problems
from eligibility.audit.rederive import step_problems
from eligibility.base.errors import InputError
from eligibility.base.i18n import N_
from eligibility.base.i18n import translate as _
from eligibility.base.numbers import ENGINE_CONTEXT
from eligibility.engine.trace import SCHEMA as TRACE_SCHEMA

if TYPE_CHECKING:
    from eligibility.engine.runtime import Engine

#: The problems listed at most (a record edited throughout has hundreds).
MAX_PROBLEMS = 50


def verify_record(record: object, policies: Engine | None = None) -> list[str]:
    """Return the problems of a record; an empty list when it is intact.

    Without `policies` it checks what the record proves by itself: the `record_hash`; and, for an
    edit whose author recomputed the hash, that the parts of the record agree: the header and the
    decision, the policy hash and the file hashes, the input and the facts the trace read, each
    step's value re-derived from its expression and recorded inputs (with its rounding), each
    comparison from its operands, each value a step read with the step that computed it, each
    program's outcome, amount, tier and members with its steps, each parameter alike in every step,
    each step read present, each citation with the table of sources. With `policies` (the policy
    set the record's hash names, loaded with its jurisdiction) it also checks every step's rule
    text, version, position and citation, every parameter value read on the record's date, each
    program's steps (none missing, none added) and the table of sources against the policy files.
    See docs/how-to/audit.md for what only `replay` proves.

    Raises:
        InputError: `policies` is not the policy set the (otherwise intact) record names.
    """
    with decimal.localcontext(ENGINE_CONTEXT):
        problems = _verify(record)
        if policies is None or not isinstance(record, dict) or not isinstance(record.get("decision"), dict):
            return problems
        try:
            check_policies_match(record["decision"], policies)
        except InputError:
            if problems:
                return problems
            raise
        return problems + policy_problems(record["decision"], policies)


def _verify(record: object) -> list[str]:
    if not isinstance(record, dict):
        return [_("a record is a JSON object")]
    problems = [_("not canonical JSON: {problem}", problem=p)
                for p in json_problems(record, safe_integers=record.get("schema") != SCHEMA_V1)]
    if problems:
        return problems
    missing = [k for k in KEYS if k not in record]
    extra = sorted(k for k in record if k not in KEYS)
    if missing:
        problems.append(_("missing {keys}", keys=", ".join(missing)))
    if extra:
        schema = record.get("schema") if record.get("schema") in SCHEMAS else SCHEMA
        problems.append(_("unknown key(s) {keys} (not part of {schema})", keys=", ".join(extra), schema=schema))
    if record.get("schema") not in SCHEMAS:
        problems.append(_("schema is {actual}, expected {schema!r} (or {old!r})",
                          actual=short_json(record.get("schema")), schema=SCHEMA, old=SCHEMA_V1))
    stored = record.get("record_hash")
    if not isinstance(stored, str) or not HASH_RE.match(stored):
        problems.append(_("record_hash is not sha256: and 64 hex digits"))
    else:
        try:
            actual = record_hash(record)
        except (ValueError, TypeError, RecursionError):
            actual = None
        if actual != stored:
            problems.append(_("record_hash does not match the content (recorded {recorded}…, computed "
                              "{computed}…): the record was changed after it was made",
                              recorded=stored[:19], computed=(actual or "?")[:19]))
    shape = _shape_problems(record)
    if shape:
        return problems + shape
    decision: dict[str, Any] = record["decision"]
    for key in ("decided_for", "library_version", "policy"):
        if key in record and record.get(key) != decision.get(key):
            problems.append(_("{key} differs between the record ({recorded}) and its decision ({decided})",
                              key=key, recorded=short_json(record.get(key)), decided=short_json(decision.get(key))))
    try:
        problems.extend(_policy_problems(decision.get("policy")))
        problems.extend(_decision_problems(decision))
        problems.extend(_input_problems(record.get("input"), decision))
    except (TypeError, KeyError, AttributeError, ValueError, IndexError):
        problems.append(_("decision is not an {schema} trace", schema=TRACE_SCHEMA))
    return problems


def _shape_problems(record: dict[str, Any]) -> list[str]:
    """The parts of a record that verify and replay read must have the types make_record gives them."""
    out: list[str] = []

    def want(value: object, types: type | tuple[type, ...], where: str) -> bool:
        if isinstance(value, types):
            return True
        out.append(_("{where} is {value}, not {kind}", where=where, value=short_json(value), kind=_kind(types)))
        return False

    for where, value in (("decided_for", record.get("decided_for")),
                         ("decision.decided_for", (record.get("decision") or {}).get("decided_for")
                          if isinstance(record.get("decision"), dict) else None)):
        if not isinstance(value, str) or not _is_date(value):
            out.append(_("{where} is {value}, not a date \"YYYY-MM-DD\"", where=where, value=short_json(value)))
    want(record.get("library_version"), str, "library_version")
    want(record.get("input"), dict, "input")
    decision = record.get("decision")
    if not want(decision, dict, "decision") or not isinstance(decision, dict):
        return out
    d = decision  # a dict from here on
    if d.get("schema") != TRACE_SCHEMA:
        out.append(_("{where} is {value}, not {kind}", where="decision.schema", value=short_json(d.get("schema")),
                     kind=repr(TRACE_SCHEMA)))
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
            out.append(_("decision.programs is empty"))
    return out[:20]


def _kind(types: type | tuple[type, ...]) -> str:
    names = {str: N_("text"), dict: N_("an object"), list: N_("a list"), bool: N_("true/false"), type(None): "null"}
    seq = types if isinstance(types, tuple) else (types,)
    return _(" or ").join(_(names[t]) if t in names else t.__name__ for t in seq)


def _is_date(text: str) -> bool:
    try:
        return len(text) == 10 and dt.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def _decision_problems(decision: dict[str, Any]) -> list[str]:
    """Everything the decision lets one re-derive: outcomes, step values, comparisons, references, citations."""
    programs = decision.get("programs")
    if not isinstance(programs, dict):
        return [_("{where} is not an object", where="decision.programs")]
    out: list[str] = []
    for name, prog in programs.items():
        if not isinstance(prog, dict) or not isinstance(prog.get("steps"), list):
            where = f"decision.programs.{name}"
            out.append(_("{where} has no steps", where=where))
            continue
        out.extend(outcome_problems(name, prog))
        out.extend(reference_problems(name, prog, programs))
        for step in prog["steps"]:
            if len(out) >= MAX_PROBLEMS:
                return out
            out.extend(step_problems(name, step, str(decision.get("decided_for"))))
    out.extend(citation_problems(decision))
    return out[:MAX_PROBLEMS]


def _policy_problems(policy: object) -> list[str]:
    if not isinstance(policy, dict):
        return [_("{where} is not an object", where="decision.policy")]
    files = policy.get("files")
    if not isinstance(files, dict) or not files:
        return [_("decision.policy.files is not a table of files")]
    bad = [f for f, h in files.items() if not isinstance(h, str) or not FILE_HASH_RE.match(h)]
    if bad:
        return [_("decision.policy.files: {file} has no sha256", file=f) for f in bad[:5]]
    if policy.get("hash") != policy_hash(files):
        return [_("decision.policy.hash {recorded} is not the hash of its files ({computed}…): a file hash or the "
                  "policy hash was changed", recorded=short_json(policy.get("hash")), computed=policy_hash(files)[:19])]
    return []


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
        return [_("{where} is not an object", where="input")]
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
                out.append(_("input.{path} is given but the decision took its default", path=path[len("household."):]))
            continue
        if not found or not _same_fact(value, item.get("value")):
            out.append(_("input.{path} is {given} but the decision read {read} (programs.{program} step {step})",
                         path=path[len("household."):], given=short_json(value) if found else _("absent"),
                         read=short_json(item.get("value")), program=pname, step=sname))
        if len(out) >= 20:
            break
    for path in decision.get("defaulted") or []:
        found, value = _lookup(given, "household." + str(path))
        if found and value is not None:
            out.append(_("input.{path} is given but the decision lists it as defaulted", path=path))
    return out


__all__ = ["verify_record"]
