"""The event format of the monitor: one JSON object a line (JSONL), read into `Event`.

Every event has `id` (text, unique in the log), `time` (ISO 8601 date-time; without an offset it
is Guangzhou time, +08:00) and `type`, one of:

- `facts`: `household`, `set` (facts of the household by field name, or of one member with
  `member`), `source` (where the facts come from) and optionally `as_of` (the date they describe);
  a value may be `{"unknown": true}`. Facts are kept with their provenance and passed to the engine
  as `{"value", "source", "as_of"}`.
- `member_added`: `household`, `member` (the member's facts, with its `id`), optionally `person`
  (an identity across households, for `two_offices`) and `source`.
- `member_removed`: `household`, `member` (the member's id).
- `enrolment`: `household`, `program`, `office` (the enrolling office's code), `status`
  (`approved`, `reviewed` or `ended`), optionally `member` (for a program of one person).
- `document`: `household`, `member`, `document` (one of model.DOCUMENTS), `valid_until` (a date).
- `checkin`: `person`, `station` (a rescue-station check-in).
- `day`: nothing else; it moves the clock to `time`, so that schedules fall due without other events.

Bad lines are reported with their line number and every problem (by field path); the others are
processed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from eligibility.monitor.model import DOCUMENTS, LOCAL

TYPES = ("facts", "member_added", "member_removed", "enrolment", "document", "checkin", "day")
STATUSES = ("approved", "reviewed", "ended")
MAX_LINE = 1 << 16
_ID = re.compile(r"[^\x00-\x1f]{1,128}\Z")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_DAY = 86400
_OFFSET = 8 * 3600

#: The fields each type needs, besides id, time and type, and those it may have.
_NEEDS: dict[str, tuple[str, ...]] = {
    "facts": ("household", "set", "source"),
    "member_added": ("household", "member"),
    "member_removed": ("household", "member"),
    "enrolment": ("household", "program", "office", "status"),
    "document": ("household", "member", "document", "valid_until"),
    "checkin": ("person", "station"),
    "day": (),
}
_MAY: dict[str, tuple[str, ...]] = {
    "facts": ("member", "as_of"),
    "member_added": ("person", "source"),
    "member_removed": (),
    "enrolment": ("member",),
    "document": ("source",),
    "checkin": (),
    "day": (),
}


@attrs.define(slots=True)
class Event:
    """One event: its id, time (seconds since 1970 UTC), local day, type and fields."""

    id: str
    time: int
    day: dt.date
    type: str
    line: int
    household: str | None = None
    member: str | None = None
    person: str | None = None
    station: str | None = None
    program: str | None = None
    office: str | None = None
    status: str | None = None
    document: str | None = None
    valid_until: dt.date | None = None
    source: str | None = None
    as_of: str | None = None
    #: `facts`: the facts set (name -> value as given); `member_added`: the member's record.
    data: dict[str, Any] | None = None

    @property
    def order(self) -> tuple[int, str]:
        """The order events are applied in: time, then id."""
        return (self.time, self.id)


class BadEvent(ValueError):
    """A line that is not a valid event: its line number and every problem."""

    def __init__(self, line: int, problems: list[str]) -> None:
        self.line = line
        self.problems = problems
        super().__init__(f"line {line}: " + "; ".join(problems))


def parse_time(text: object) -> tuple[int, dt.date] | None:
    """Return (seconds since 1970 UTC, local date) of an ISO date-time, or None if it is not one."""
    if not isinstance(text, str) or len(text) > 40 or "T" not in text:
        return None
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=LOCAL)
    seconds = int(t.timestamp())
    return seconds, local_day(seconds)


def local_day(seconds: int) -> dt.date:
    """The local (+08:00) date of a time in seconds since 1970 UTC."""
    n = (seconds + _OFFSET) // _DAY
    day = _DAYS.get(n)
    if day is None:
        day = _DAYS[n] = dt.date.fromordinal(719163 + n)
    return day


_DAYS: dict[int, dt.date] = {}


def day_start(day: dt.date) -> int:
    """The first second of a local date, in seconds since 1970 UTC."""
    return (day.toordinal() - 719163) * _DAY - _OFFSET


def _plain(v: Any) -> bool:
    """Whether a fact value is JSON data the engine may read (numbers as text or integers, no floats)."""
    if isinstance(v, float):
        return False
    if isinstance(v, dict):
        return all(isinstance(k, str) and _plain(x) for k, x in v.items())
    if isinstance(v, list):
        return all(_plain(x) for x in v)
    return v is None or isinstance(v, str | int | bool)


def parse_event(text: str, line: int) -> Event:
    """Read one line into an Event.

    Raises:
        BadEvent: the line is not a valid event; every problem is listed.
    """
    if len(text) > MAX_LINE:
        raise BadEvent(line, [f"the line is {len(text)} characters long; the limit is {MAX_LINE}"])
    try:
        obj = _DECODER.decode(text)
    except _FloatError:
        raise BadEvent(line, ["a number with a decimal point or exponent: write money as text, e.g. \"1200.50\""]) \
            from None
    except (ValueError, RecursionError) as e:
        raise BadEvent(line, [f"not JSON: {str(e)[:120]}"]) from None
    if obj.__class__ is not dict:
        raise BadEvent(line, ["an event is a JSON object"])
    problems: list[str] = []
    kind = obj.get("type")
    if kind not in _NEEDS:
        problems.append(f"type: must be one of {', '.join(TYPES)}" if kind is not None else "type: missing")
        kind = None
    eid = obj.get("id")
    if eid is None:
        problems.append("id: missing")
    elif eid.__class__ is not str or not _ID.match(eid):
        problems.append("id: must be text of 1 to 128 characters")
        eid = None
    when = parse_time(obj.get("time"))
    if "time" not in obj:
        problems.append("time: missing")
    elif when is None:
        problems.append("time: must be an ISO 8601 date-time like 2024-09-01T09:30:00+08:00")
    if kind is None:
        raise BadEvent(line, problems)
    allowed = _ALLOWED[kind]
    for key in sorted(obj) if not obj.keys() <= allowed else ():
        if key not in allowed:
            problems.append(f"{key}: not a field of a {kind} event")
    for key in _NEEDS[kind]:
        if obj.get(key) is None:
            problems.append(f"{key}: missing")
    ev = Event(eid or "", when[0] if when else 0, when[1] if when else _EPOCH_DAY, kind, line)
    for key in _TEXTS:
        v = obj.get(key)
        if v is not None:
            if v.__class__ is str and _ID.match(v):
                setattr(ev, key, v)
            else:
                problems.append(f"{key}: must be text of at most 128 characters")
    program = obj.get("program")
    if program is not None:
        if program.__class__ is str and _NAME.match(program):
            ev.program = program
        else:
            problems.append("program: must be a name of at most 64 characters")
    member = obj.get("member")
    if kind == "member_added":
        if member is not None:
            if member.__class__ is not dict or member.get("id").__class__ is not str or not _ID.match(member["id"]):
                problems.append("member: must be the member's facts, an object with its `id` (text)")
            elif not _plain(member):
                problems.append("member: numbers must be integers or text (money as text, e.g. \"1200.50\")")
            else:
                ev.member, ev.data = member["id"], member
    elif member is not None:
        if member.__class__ is str and _ID.match(member):
            ev.member = member
        else:
            problems.append("member: must be text of at most 128 characters")
    if kind == "facts":
        _read_facts(obj, ev, problems)
    elif kind == "enrolment":
        status = obj.get("status")
        if status is not None and status not in STATUSES:
            problems.append(f"status: must be one of {', '.join(STATUSES)}")
        else:
            ev.status = status
    elif kind == "document":
        _read_document(obj, ev, problems)
    if problems:
        raise BadEvent(line, problems)
    return ev


def _read_facts(obj: dict[str, Any], ev: Event, problems: list[str]) -> None:
    facts = obj.get("set")
    if facts is not None:
        if not isinstance(facts, dict) or not facts:
            problems.append("set: must be an object of facts by name, not empty")
        else:
            for name, v in facts.items():
                if not isinstance(name, str) or not _NAME.match(name):
                    problems.append(f"set.{str(name)[:64]}: not a fact name")
                elif name in ("members", "id"):
                    problems.append(f"set.{name}: use member_added / member_removed events")
                elif not _plain(v):
                    problems.append(f"set.{name}: numbers must be integers or text (money as text)")
            ev.data = facts
    as_of = obj.get("as_of")
    if as_of is not None:
        if not isinstance(as_of, str) or not _DATE.match(as_of):
            problems.append("as_of: must be a date YYYY-MM-DD")
        else:
            ev.as_of = as_of


def _read_document(obj: dict[str, Any], ev: Event, problems: list[str]) -> None:
    doc = obj.get("document")
    if doc is not None and doc not in DOCUMENTS:
        problems.append(f"document: must be one of {', '.join(DOCUMENTS)}")
    else:
        ev.document = doc
    until = obj.get("valid_until")
    if until is not None:
        try:
            if not isinstance(until, str) or not _DATE.match(until):
                raise ValueError
            ev.valid_until = dt.date.fromisoformat(until)
        except ValueError:
            problems.append("valid_until: must be a date YYYY-MM-DD")


class _FloatError(Exception):
    pass


def _no_float(text: str) -> Decimal:
    raise _FloatError


_DECODER = json.JSONDecoder(parse_float=_no_float)
_EPOCH_DAY = dt.date(1970, 1, 1)
#: The text fields of events besides id, type, program and member (checked alike).
_TEXTS = ("household", "person", "station", "office", "source")
_ALLOWED = {kind: frozenset({"id", "time", "type", *_NEEDS[kind], *_MAY[kind]}) for kind in _NEEDS}


def decimal_of(value: Any) -> Decimal | None:
    """A fact value (plain or with provenance) as a Decimal, or None when it is unknown or not a number."""
    if isinstance(value, dict):
        if value.get("unknown") is True:
            return None
        value = value.get("value")
    if isinstance(value, bool) or value is None:
        return None
    try:
        d = Decimal(value) if isinstance(value, str | int) else None
    except InvalidOperation:
        return None
    return d if d is not None and d.is_finite() else None


__all__ = ["STATUSES", "TYPES", "BadEvent", "Event", "day_start", "decimal_of", "local_day", "parse_event",
           "parse_time"]
