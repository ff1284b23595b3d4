"""The canonical form of a decision record: JSON types only, one serialisation, one hash.

A record holds the household as given, the decision and its trace (`Decision.to_json()`), the
date decided for, the policy set's hash and each file's hash, the library version, and a
`record_hash`: the sha256 of the canonical serialisation of everything else. Records of schema
`eligibility.record/2` (made today) serialise by RFC 8785 (JSON Canonicalization Scheme), which a
case system in any language can recompute; records of `eligibility.record/1` were serialised by
Python's `json.dumps(sort_keys=True, ensure_ascii=False, separators=(",", ":"))` and are still
verified by that rule. The hash shows a
record was changed after it was made; it cannot show who made it (anyone who changes a record can
compute a new hash), so keep the hash, or a signature over it, where the record cannot be edited.
What `verify_record` checks beyond the hash is in audit/verify.py; replaying is in audit/replay.py.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import rfc8785

from eligibility.base.errors import InputError, InputProblem
from eligibility.base.numbers import ENGINE_CONTEXT, decimal_text
from eligibility.engine.records import SURROGATE
from eligibility.lang.policyset import policy_hash as _policy_hash

if TYPE_CHECKING:
    from eligibility.engine.runtime import Decision

#: The schema of the records made today: `record_hash` over the RFC 8785 form.
SCHEMA = "eligibility.record/2"
#: The first schema: `record_hash` over Python's sorted-keys JSON (still verified by that rule).
SCHEMA_V1 = "eligibility.record/1"
SCHEMAS = (SCHEMA_V1, SCHEMA)
#: RFC 8785 writes numbers as IEEE doubles: an integer beyond this is not exact in every language.
MAX_SAFE_INTEGER = 2**53 - 1
#: Records nest a few levels (decision > programs > steps > comparisons > pairs > sides); anything
#: much deeper was not made by make_record.
MAX_DEPTH = 64
HASH_RE = re.compile(r"sha256:[0-9a-f]{64}\Z")
FILE_HASH_RE = re.compile(r"[0-9a-f]{64}\Z")
#: The keys of a record, in canonical order.
KEYS = ("decided_for", "decision", "input", "library_version", "policy", "record_hash", "schema")


# ------------------------------------------------------------------ canonical JSON


def normalise(value: object, path: str) -> Any:
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
        if SURROGATE.search(value):
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
        return decimal_text(value)
    if isinstance(value, dt.datetime):
        problems.append(InputProblem(path, "type", "is a date and time; a record holds dates only"))
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str) or SURROGATE.search(k):
                problems.append(InputProblem(path, "type", "has a key that is not text"))
                continue
            out[k] = _normalise_into(v, f"{path}.{k}" if path else k, problems, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_normalise_into(v, f"{path}[{i}]", problems, depth + 1) for i, v in enumerate(value)]
    problems.append(InputProblem(path, "type", f"has no JSON form ({type(value).__name__})"))
    return None


def json_problems(value: object, safe_integers: bool = False) -> list[str]:
    """Return where a value holds anything but canonical JSON types (iteratively, depth-bounded).

    With `safe_integers` (records of schema 2) an integer must be within ±(2**53 - 1), which RFC 8785
    (numbers as IEEE doubles) and every JSON parser keep exact; amounts are decimal strings anyway.
    """
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
            if safe_integers and abs(v) > MAX_SAFE_INTEGER:
                out.append(f"{where}: an integer beyond ±(2**53 - 1), which RFC 8785 cannot write exactly; "
                           "write it as a string")
            elif abs(v) >= 10 ** 30:
                out.append(f"{where}: a number too large for a record")
        elif isinstance(v, str):
            if SURROGATE.search(v):
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
    """Serialise JSON-typed data by the first rule (records of schema 1): sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def jcs_bytes(value: Any) -> bytes:
    """Serialise JSON-typed data by RFC 8785 (the `rfc8785` package): the form record/2 and the log hash.

    Keys sorted by UTF-16 code units, no spaces, UTF-8, strings escaped as ECMAScript's
    JSON.stringify does, numbers as ECMAScript writes IEEE doubles (so 1e30 is `1e+30`).

    Raises:
        ValueError: a value with no RFC 8785 form (an integer beyond ±(2**53 - 1), NaN, a non-JSON type).
    """
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as e:
        raise ValueError(str(e)) from None


def record_hash(body: Mapping[str, Any]) -> str:
    """Return the `record_hash` a record's other keys give: sha256 of their canonical bytes.

    The canonical form is the one the record's `schema` names: RFC 8785 for `eligibility.record/2`
    (and any other), the first rule (`canonical_bytes`) for `eligibility.record/1`.

    Raises:
        ValueError: the record holds a value with no canonical form (an integer too large for RFC 8785).
    """
    rest = {k: v for k, v in body.items() if k != "record_hash"}
    data = canonical_bytes(rest) if body.get("schema") == SCHEMA_V1 else jcs_bytes(rest)
    return "sha256:" + hashlib.sha256(data).hexdigest()


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
    given = normalise(household, "")
    trace = normalise(decision.to_json(), "decision")
    body: dict[str, Any] = {
        "schema": SCHEMA,
        "decided_for": trace["decided_for"],
        "library_version": trace["library_version"],
        "policy": trace["policy"],
        "input": given,
        "decision": trace,
    }
    problems = json_problems(body, safe_integers=True)
    if problems:
        raise InputError([InputProblem("household", "range", p) for p in problems])
    body["record_hash"] = record_hash(body)
    return body


def dumps_record(record: Mapping[str, Any]) -> str:
    """Return the canonical text of a record: sorted keys, two-space indent, UTF-8, a final newline.

    The same record gives the same text, byte for byte, in every process.

    Raises:
        InputError: the record holds a value that is not JSON (a float, a Decimal, a date).
    """
    problems = json_problems(record, safe_integers=record.get("schema") != SCHEMA_V1)
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



def short_json(value: object) -> str:
    """Return a value as JSON text of at most 80 characters, for messages."""
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:79] + "…"


__all__ = ["FILE_HASH_RE", "HASH_RE", "KEYS", "MAX_DEPTH", "MAX_SAFE_INTEGER", "SCHEMA", "SCHEMAS", "SCHEMA_V1",
           "canonical_bytes", "dumps_record", "jcs_bytes", "json_problems", "loads_record", "make_record",
           "normalise", "policy_hash", "record_hash", "short_json"]
