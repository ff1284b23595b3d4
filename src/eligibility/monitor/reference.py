"""The reference engine: the pure-Python monitor that defines what an alert is (see `model`).

`Monitor(engine, rules, store).run(path)` reads an event log from where the state left off,
applies the events in (time, id) order within the declared lateness, closes days, raises alerts
and commits state, alerts and the input offset together every `batch` events.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import hashlib
import heapq
import json
import mmap
import operator
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import attrs

from eligibility.base.errors import EligibilityError
from eligibility.engine.runtime import Engine
from eligibility.monitor.events import BadEvent, Event, decimal_of, local_day, parse_event
from eligibility.monitor.model import (
    LEVELS,
    AgeReached,
    DocumentExpiry,
    HouseholdChanged,
    IndicatorChange,
    NearThreshold,
    OutcomeChanged,
    ReviewDue,
    Rule,
    RuleSet,
    StationRepeat,
    TwoOffices,
)
from eligibility.monitor.store import Store, dumps

_S = TypeVar("_S")
_OFFSET = operator.itemgetter(5)  # where a held event's line starts

#: Events read between two commits.
BATCH = 20_000
#: The schema of a stored decision: what the engine was given (facts as known then, with their
#: provenance; date; programs; policy hash), from which `Store.trace` rebuilds the full trace.
DECISION_SCHEMA = "eligibility.monitor.decision/1"
#: Events held for reordering kept parsed; beyond them an event is held as where its line is (a
#: tenth of the memory) and read again from the log when released.
HOLD_PARSED = 100_000
#: How far ahead the retirement date is searched (days); a member further from it is looked at again later.
RETIREMENT_HORIZON = 400
_CENT = Decimal("0.01")
_WORDS: dict[str, tuple[str, str]] = {
    "eligible": ("符合", "eligible"), "not_eligible": ("不符合", "not eligible"),
    "undetermined": ("待定", "undetermined"),
    "newly_eligible": ("新符合条件", "newly eligible"), "no_longer_eligible": ("不再符合条件", "no longer eligible"),
    "tier_changed": ("类别变化", "category changed"), "amount_changed": ("金额变化", "amount changed"),
    "now_undetermined": ("需补充信息", "now undetermined"),
    "member_added": ("新增成员", "member added"), "member_removed": ("减少成员", "member removed"),
    "disability_certificate": ("残疾证", "disability certificate"), "residence_permit": ("居住证", "residence permit"),
    "tekun_certificate": ("特困人员证", "tekun certificate"),
    "rigid_expense_recognition": ("刚性支出困难认定", "rigid-expense recognition"),
}

#: An office code that names its district: 6 digits, or 9 (a township within it); ASCII digits only.
_OFFICE_CODE = re.compile(r"[0-9]{6}(?:[0-9]{3})?")
#: What where-to-apply says of an office (the `office_*_accepts` values of `two_offices`).
_ACCEPTS: dict[str, tuple[str, str]] = {
    "yes": ("所在区属受理地", "is in a district where to apply"),
    "no": ("所在区非受理地", "is not in a district where to apply"),
    "unknown": ("受理地待定", "where to apply unknown"),
}


@attrs.define
class RunStats:
    """What one run did: lines read, events applied, bad and late lines, re-decisions, alerts by rule."""

    lines: int = 0
    applied: int = 0
    bad: int = 0
    late: int = 0
    redecisions: int = 0
    #: Seconds (wall clock) spent deciding with the policy engine (measured; never part of an alert).
    decide_seconds: float = 0.0
    alerts: Counter[str] = attrs.Factory(Counter)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (the last day of the month when it has no such day)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def birthday(birth: dt.date, years: int) -> dt.date:
    """The day a person born on `birth` reaches `years` full years (29 February: 1 March)."""
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:
        return dt.date(birth.year + years, 3, 1)


def _plain(v: Any) -> Any:
    """A fact's value without its provenance (None when unknown)."""
    if isinstance(v, dict) and ("value" in v or "unknown" in v):
        return None if v.get("unknown") is True else v.get("value")
    return v


def _date(v: Any) -> dt.date | None:
    v = _plain(v)
    if not isinstance(v, str):
        return None
    try:
        return dt.date.fromisoformat(v)
    except ValueError:
        return None


def _money(d: Decimal) -> str:
    return str(d.quantize(_CENT))


def _end_of(day: dt.date) -> str:
    return f"{day.isoformat()}T23:59:59+08:00"


class Monitor:
    """The reference engine over one state file."""

    def __init__(self, engine: Engine, rules: RuleSet, store: Store, *, batch: int = BATCH) -> None:
        self.engine = engine
        self.rules = rules
        self.store = store
        self.batch = batch
        self.lateness = rules.lateness_seconds
        self.outcome_rules = _of(rules, OutcomeChanged)
        self.near_rules = _of(rules, NearThreshold)
        self.indicator_rules = _of(rules, IndicatorChange)
        self.composition_rules = _of(rules, HouseholdChanged)
        self.review_rules = _of(rules, ReviewDue)
        self.office_rules = _of(rules, TwoOffices)
        self.station_rules = _of(rules, StationRepeat)
        self.office_programs = {p for _, s in self.office_rules for p in s.programs}
        progs = {p for _, s in self.outcome_rules for p in s.programs} | {s.program for _, s in self.near_rules}
        self.decide_programs = tuple(sorted(progs))
        self.indicator_facts = {s.fact for _, s in self.indicator_rules}
        self.history_days = max((s.window_days for _, s in self.indicator_rules), default=0)
        self.checkin_days = max((s.days for _, s in self.station_rules), default=0)
        self.scheduled = [r for r in rules.rules if r.kind in ("review_due", "age_reached", "document_expiry")]
        # State (persisted as subjects): households and persons.
        #: Each household's state: a dict while it changes, its JSON text once committed (a fraction
        #: of the memory; read again when the household is next touched).
        self.households: dict[str, Any] = {}
        self.persons: dict[str, Any] = {}
        #: Where the event being applied starts (offset, line): it counts as held until applied.
        self._applying: tuple[int, int] | None = None
        self._pending = 0
        self._progress: Callable[[], None] | None = None
        self.changed: set[str] = set()
        self.day_dirty: set[str] = set()
        self.wakes: list[tuple[int, str]] = []
        self.keys: set[str] = set()
        self.last_window: dict[tuple[str, str, str], int] = {}
        self.heap: list[tuple[int, str, int, Event | None, int, int]] = []
        #: Each person's check-ins within the longest `days` of the station rules: (time, station, event id).
        self.checkins: dict[str, list[tuple[int, str, str]]] = {}
        self._new_checkins: list[tuple[str, int, str, str]] = []
        self._static: dict[str, tuple[str, ...]] = {}
        self._log: Any = None
        # Pending writes of the batch.
        self._alerts: list[tuple[int, str, str]] = []
        self._traces: list[tuple[str, str]] = []
        self._reports: list[tuple[int, int, str]] = []
        self.stats = RunStats()
        self._extra_wake: int | None = None
        self._load()

    # ------------------------------------------------------------------ state

    def _load(self) -> None:
        m = self.store.meta()
        self.offset = int(m.get("offset", "0"))
        self.line = int(m.get("line", "0"))
        self.max_time: int | None = int(m["max_time"]) if "max_time" in m else None
        self.last_order: tuple[int, str] | None = ((int(m["last_time"]), m["last_id"]) if "last_time" in m else None)
        self.day: dt.date | None = dt.date.fromisoformat(m["day"]) if "day" in m else None
        self.alert_seq = int(m.get("alert_seq", "0"))
        self.report_seq = int(m.get("report_seq", "0"))
        self.held_seq = int(m.get("held_seq", "0"))
        #: Where the oldest event still held for reordering starts (byte offset, line): a resumed
        #: run reads the log again from there to hold those events again.
        self.held_from = (int(m.get("held_offset", self.offset)), int(m.get("held_line", self.line)))
        for sid, text in self.store.subject_texts():
            if sid.startswith("h:"):
                hid = sid[2:]
                self.households[hid] = text
                state = json.loads(text)
                if "d" in state:
                    self.day_dirty.add(hid)
                if "w" in state:
                    self.wakes.append((state["w"], hid))
            else:
                self.persons[sid[2:]] = text
        heapq.heapify(self.wakes)
        for pid, t, station, eid in self.store.checkins():
            self.checkins.setdefault(pid, []).append((t, station, eid))
        for alert in self.store.alerts():
            key = alert["key"]
            self.keys.add(dumps(key))
            k = (key[0], key[1], key[2])
            w = dt.date.fromisoformat(key[3]).toordinal()
            if w > self.last_window.get(k, -1):
                self.last_window[k] = w

    def commit(self) -> None:
        """Write the batch: changed subjects, alerts, traces, reports, held events and the offset."""
        subjects = []
        for sid in sorted(self.changed):
            table = self.households if sid[0] == "h" else self.persons
            state = table.get(sid[2:])
            if state is not None and state.__class__ is not str:
                text = _STATE(state)
                subjects.append((sid, text))
                table[sid[2:]] = text
        oldest = min(self.heap, key=_OFFSET, default=None)
        held = [(oldest[5], oldest[4])] if oldest is not None else []
        if self._applying is not None:
            held.append(self._applying)
        held_offset, held_line = min(held, default=(self.offset, self.line))
        meta = {"offset": str(self.offset), "line": str(self.line), "alert_seq": str(self.alert_seq),
                "report_seq": str(self.report_seq), "held_seq": str(self.held_seq),
                "held_offset": str(held_offset), "held_line": str(held_line)}
        if self.max_time is not None:
            meta["max_time"] = str(self.max_time)
        if self.last_order is not None:
            meta["last_time"], meta["last_id"] = str(self.last_order[0]), self.last_order[1]
        if self.day is not None:
            meta["day"] = self.day.isoformat()
        forget = (self.max_time or 0) - self.lateness - self.checkin_days * 86400
        self.store.commit(subjects=subjects, alerts=self._alerts, traces=self._traces, reports=self._reports,
                          meta=meta, checkins=self._new_checkins, forget_checkins_before=forget)
        self._new_checkins = []
        self.changed.clear()
        self._alerts, self._traces, self._reports = [], [], []
        self._pending = 0
        if self._progress is not None:
            self._progress()

    # ------------------------------------------------------------------ the log

    def run(self, path: Path | str, progress: Callable[[int, int], None] | None = None, *,
            stop_after: int | None = None) -> RunStats:
        """Process the log from the committed offset to its end, then release held events and close the day.

        `stop_after` (for tests) stops after that many lines, committed, without closing anything.
        """
        size = os.path.getsize(path)
        self._progress = None if progress is None else (lambda: progress(self.offset, size))
        with open(path, "rb") as f, (mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else
                                     contextlib.nullcontext()) as log:
            self._log = log
            self._hold_again(f)
            f.seek(self.offset)
            for raw in f:  # the log as it was when the run started (lines appended since wait for the next)
                start = self.offset
                if start >= size:
                    break
                self.offset += len(raw)
                self.line += 1
                self.stats.lines += 1
                self.feed(raw, self.line, start)
                self._tick()
                if stop_after is not None and self.stats.lines >= stop_after:
                    self.commit()
                    return self.stats
            self.finish()
        self.commit()
        if progress is not None:
            progress(self.offset, size)
        return self.stats

    def _hold_again(self, f: Any) -> None:
        """Resuming: hold again the events that were held, unapplied, at the last commit.

        They are the lines from the oldest one held to the committed offset that were neither
        reported (bad or late) nor applied (an applied event is at or before the last applied order).
        """
        offset, line = self.held_from
        if offset >= self.offset:
            return
        reported = self.store.reported_lines(line)
        f.seek(offset)
        while offset < self.offset:
            raw = f.readline()
            start, offset, line = offset, offset + len(raw), line + 1
            text = raw.decode("utf-8").strip()
            if not text or line in reported:
                continue
            ev = parse_event(text, line)
            if self.last_order is None or ev.order > self.last_order:
                self._hold(ev, raw, start)

    def feed(self, raw: bytes, line: int, offset: int = 0) -> None:
        """Read one line: report it if bad or late, else hold it and release what the watermark allows."""
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            self.report(line, "bad", ["the line is not valid UTF-8"])
            return
        if not text:
            return
        try:
            ev = parse_event(text, line)
        except BadEvent as e:
            self.report(line, "bad", e.problems)
            return
        if self.max_time is not None and (ev.time < self.max_time - self.lateness
                                          or (self.last_order is not None and ev.order <= self.last_order)):
            self.report(line, "late", [f"event {ev.id} at {ev_time(ev)} "
                                       f"is more than the lateness ({self.lateness // 3600} h) behind the log; "
                                       "not applied"], ev.id)
            return
        if self.max_time is None or ev.time > self.max_time:
            self.max_time = ev.time
        self._hold(ev, raw, offset)
        heap = self.heap
        watermark = self.max_time - self.lateness
        while heap[0][0] < watermark:
            self._release(heapq.heappop(heap))
            if not heap:
                break

    def _hold(self, ev: Event, raw: bytes, offset: int) -> None:
        """Hold an event for reordering: parsed, or (when HOLD_PARSED events are held already) only where
        its line is, to be read again from the log when it is released."""
        self.held_seq += 1
        payload: Event | None = ev if len(self.heap) < HOLD_PARSED else None
        heapq.heappush(self.heap, (ev.time, ev.id, self.held_seq, payload, ev.line, offset))

    def _release(self, held: tuple[int, str, int, Event | None, int, int]) -> None:
        payload = held[3]
        if payload is None:
            start = held[5]
            end = self._log.find(b"\n", start)
            payload = parse_event(self._log[start:end if end >= 0 else len(self._log)].decode("utf-8").strip(),
                                  held[4])
        self._applying = (held[5], held[4])
        self.apply(payload)
        self._applying = None
        self._tick()

    def finish(self) -> None:
        """The end of the log: apply every held event, then close the current day."""
        while self.heap:
            self._release(heapq.heappop(self.heap))
        if self.day is not None:
            self.close_day(self.day)

    def report(self, line: int, kind: str, problems: list[str], event: str | None = None,
               household: str | None = None) -> None:
        self.report_seq += 1
        if kind == "late":
            self.stats.late += 1
        elif kind == "bad":
            self.stats.bad += 1
        self._reports.append((self.report_seq, line, dumps({"seq": self.report_seq, "line": line, "kind": kind,
                                                      "event": event, "household": household,
                                                      "problems": problems})))

    # ------------------------------------------------------------------ applying events

    def _hh(self, hid: str) -> dict[str, Any]:
        """A household's state, to change it (created when new)."""
        hh = self._household(hid)
        if hh is None:
            hh = self.households[hid] = {"f": {}, "m": {}}
        self.changed.add("h:" + hid)
        return hh

    def _household(self, hid: str) -> dict[str, Any] | None:
        hh = self.households.get(hid)
        if hh.__class__ is str:
            hh = self.households[hid] = json.loads(hh)
        return hh

    def _person(self, pid: str) -> dict[str, Any]:
        """A person's state, to change it (created when new)."""
        p = self.persons.get(pid)
        if p is None:
            p = self.persons[pid] = {}
        elif p.__class__ is str:
            p = self.persons[pid] = json.loads(p)
        self.changed.add("p:" + pid)
        return p

    def _tick(self) -> None:
        """Count a unit of work (a line read, an event applied, a household closed); commit every `batch`."""
        self._pending += 1
        if self._pending >= self.batch:
            self.commit()

    def _dirty(self, hid: str, hh: dict[str, Any], ev: Event, decide: bool = True) -> None:
        """Mark the household changed today: decided again at the day's close (or only rescheduled)."""
        hh["d"] = 1 if decide or hh.get("d") == 1 else 2
        ids = hh.setdefault("de", [])
        if len(ids) < 20:
            ids.append(ev.id)
        self.day_dirty.add(hid)

    def apply(self, ev: Event) -> None:
        """Apply one event in order: close the days it moves past, then the event itself."""
        if self.day is None:
            self.day = ev.day
        elif ev.day > self.day:
            self.close_day(self.day)
            target = ev.day.toordinal()
            while self.wakes and self.wakes[0][0] < target:
                self.schedule_day(dt.date.fromordinal(self.wakes[0][0]))
            self.day = ev.day
        self.last_order = ev.order
        self.stats.applied += 1
        kind = ev.type
        if kind == "checkin":
            self.checkin(ev)
        elif kind == "facts":
            self.facts(ev)
        elif kind == "member_added":
            self.member_added(ev)
        elif kind == "member_removed":
            self.member_removed(ev)
        elif kind == "enrolment":
            self.enrolment(ev)
        elif kind == "document":
            hid = ev.household or ""
            hh = self._hh(hid)
            if ev.member not in hh["m"]:
                self.report(ev.line, "unknown_member", [f"household {hid} has no member {ev.member}"], ev.id, hid)
                return
            hh.setdefault("doc", {})[f"{ev.member}/{ev.document}"] = str(ev.valid_until)
            self._dirty(hid, hh, ev, decide=False)

    def _wrap(self, value: Any, ev: Event) -> Any:
        if isinstance(value, dict | list) or value is None:
            return value
        out = {"value": value, "source": ev.source}
        if ev.as_of is not None:
            out["as_of"] = ev.as_of
        return out

    def facts(self, ev: Event) -> None:
        hid = ev.household or ""
        hh = self._hh(hid)
        data = ev.data or {}
        if ev.member is not None:
            rec = hh["m"].get(ev.member)
            if rec is None:
                self.report(ev.line, "unknown_member", [f"household {hid} has no member {ev.member}"], ev.id, hid)
                return
            for name, value in data.items():
                rec[name] = self._wrap(value, ev)
        else:
            f = hh["f"]
            for name, value in data.items():
                if name in self.indicator_facts:
                    self.indicator(hid, hh, name, value, ev)
                f[name] = self._wrap(value, ev)
        self._dirty(hid, hh, ev)

    def indicator(self, hid: str, hh: dict[str, Any], name: str, value: Any, ev: Event) -> None:
        """Guangdong's indicators: compare the new value with the window's highest or lowest."""
        hist: list[list[Any]] = hh.setdefault("h", {}).setdefault(name, [])
        new = decimal_of(value)
        t = ev.time
        for rule, s in self.indicator_rules:
            if s.fact != name or new is None:
                continue
            start = t - s.window_days * 86400
            i = bisect.bisect_right([h[0] for h in hist], start)
            window = hist[max(i - 1, 0):]
            known = [(Decimal(v), eid) for _, v, eid in window if v is not None]
            if not known:
                continue
            if s.direction == "down":
                ref, ref_id = max(known, key=lambda x: x[0])
                diff = ref - new
            else:
                ref, ref_id = min(known, key=lambda x: x[0])
                diff = new - ref

            def then(rule: Rule = rule, s: Any = s, ref: Decimal = ref, ref_id: str = ref_id,
                     diff: Decimal = diff, new: Decimal = new) -> None:
                w = self._open_window("household:" + hid, rule, name, ev.day, s.repeat_after_days)
                if w is None:
                    return
                pct = f"{(diff / ref * 100).quantize(Decimal('0.1'))}%"
                self.raise_alert(rule, "household:" + hid, name, w, ev_time(ev),
                                 {"fact": name, "before": _money(ref), "after": _money(new), "change": pct,
                                  "window_days": str(s.window_days)}, [ref_id, ev.id], household=hid)
            # change > share, with change = diff / ref (0 when ref <= 0)
            self._candidate(rule, {"lhs": diff, "rhs": s.share * ref} if ref > 0
                            else {"lhs": Decimal(0), "rhs": s.share}, then)
        hist.append([t, None if new is None else str(new), ev.id])
        keep = t - self.history_days * 86400
        i = bisect.bisect_right([h[0] for h in hist], keep)
        if i > 1:
            del hist[:i - 1]

    def member_added(self, ev: Event) -> None:
        hid = ev.household or ""
        hh = self._hh(hid)
        rec = dict(ev.data or {})
        mid = ev.member or ""
        if ev.source is not None:
            rec = {k: (v if k == "id" else self._wrap(v, ev)) for k, v in rec.items()}
        new = mid not in hh["m"]
        hh["m"][mid] = rec
        if ev.person is not None:
            hh.setdefault("p", {})[mid] = ev.person
        if new and "o" in hh:
            self._composition(hid, "member_added", mid, ev)
        self._dirty(hid, hh, ev)

    def member_removed(self, ev: Event) -> None:
        hid = ev.household or ""
        hh = self._hh(hid)
        mid = ev.member or ""
        if mid not in hh["m"]:
            self.report(ev.line, "unknown_member", [f"household {hid} has no member {mid}"], ev.id, hid)
            return
        del hh["m"][mid]
        if "o" in hh:
            self._composition(hid, "member_removed", mid, ev)
        self._dirty(hid, hh, ev)

    def _composition(self, hid: str, change: str, mid: str, ev: Event) -> None:
        for rule, _ in self.composition_rules:
            def then(rule: Rule = rule) -> None:
                self.raise_alert(rule, "household:" + hid, "", ev.day.toordinal(), ev_time(ev),
                                 {"change": change, "member": mid}, [ev.id], household=hid, member=mid)
            self._candidate(rule, {"change": change}, then)

    def enrolment(self, ev: Event) -> None:
        hid = ev.household or ""
        hh = self._hh(hid)
        program = ev.program or ""
        if program not in self.engine.programs:
            self.report(ev.line, "unknown_program", [f"no program {program} in the policy set"], ev.id, hid)
            return
        if ev.member is not None and ev.member not in hh["m"]:
            self.report(ev.line, "unknown_member", [f"household {hid} has no member {ev.member}"], ev.id, hid)
            return
        key = program if ev.member is None else f"{program}/{ev.member}"
        enrol = hh.setdefault("e", {})
        rec: dict[str, Any] = {"o": ev.office, "s": ev.day.isoformat(), "st": ev.status, "ev": ev.id}
        if ev.status != "ended":
            for _, s in self.review_rules:
                if s.program == program and s.months_value is not None:
                    rec["n"] = self._months(hid, hh, program, s.months_value, ev)
        enrol[key] = rec
        self._offices(hid, hh, ev)
        self._dirty(hid, hh, ev, decide=False)

    def _months(self, hid: str, hh: dict[str, Any], program: str, name: str, ev: Event) -> int | None:
        """The policy's own review cycle for this household on the day of the enrolment, or None (reported)."""
        try:
            d = self._decide(self.household_json(hh), ev.day, [program])
            v = d.value(program, name)
        except EligibilityError as e:
            self.report(ev.line, "review_cycle_unknown",
                        [f"{program}.{name} cannot be computed: {str(e).splitlines()[0][:200]}"], ev.id, hid)
            return None
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    def _offices(self, hid: str, hh: dict[str, Any], ev: Event) -> None:
        """Index the persons this enrolment covers by office; two offices for one person raise `two_offices`."""
        persons = hh.get("p", {})
        covered = [persons[ev.member]] if ev.member is not None and ev.member in persons else (
            [] if ev.member is not None else [persons[m] for m in sorted(persons) if m in hh["m"]])
        for pid in covered:
            p = self._person(pid)
            offices: dict[str, list[str]] = p.setdefault("x", {}).setdefault(ev.program, {})
            if ev.status == "ended":
                offices.pop(ev.office or "", None)
                continue
            offices[ev.office or ""] = [hid, ev.id]
            others = [(o, offices[o][1]) for o in sorted(o for o in offices if o != ev.office)]
            # What where-to-apply says of each office, for the household that enrolled there, as of
            # this event (computed now: the durable backend raises the alert after later events).
            # Only for a program some rule watches (the only ones whose candidates can match).
            accepts = ({o: self._accepts(offices[o][0], ev.program or "", o, ev.day) for o in offices}
                       if others and ev.program in self.office_programs else {})
            for rule, s in self.office_rules:
                def then(rule: Rule = rule, s: Any = s, pid: str = pid,
                         others: list[tuple[str, str]] = others, accepts: dict[str, str] = accepts) -> None:
                    for other, other_ev in others:
                        a, b = sorted((other, ev.office or ""))
                        pair = f"{a}|{b}"
                        w = self._open_window("person:" + pid, rule, pair, ev.day, s.repeat_after_days)
                        if w is None:
                            continue
                        self.raise_alert(rule, "person:" + pid, pair, w, ev_time(ev),
                                         {"person": pid, "program": ev.program or "", "offices": f"{a}, {b}",
                                          "office_a": a, "office_a_accepts": accepts[a],
                                          "office_b": b, "office_b_accepts": accepts[b]},
                                         [other_ev, ev.id], household=hid, person=pid)
                self._candidate(rule, {"program": ev.program or "", "offices": len(offices)}, then)

    def _accepts(self, hid: str, program: str, code: str, day: dt.date) -> str:
        """Whether where-to-apply says office `code` may accept `program` for household `hid` on `day`.

        Where-to-apply names districts (6-digit division codes); an office's 9-digit township code
        is compared by its district. "yes", "no", or "unknown" (a fact it waits on is unknown, the
        code is of another form, or it cannot be answered): never a guess.
        """
        hh = self._household(hid)
        district = code[:6] if _OFFICE_CODE.fullmatch(code) else None
        if hh is None or not hh["m"] or district is None:
            return "unknown"
        try:
            answer = self.engine.where_to_apply(self.household_json(hh), day, [program], trace=False)
            ok = answer.accepts(program, district)
        except EligibilityError:
            return "unknown"
        return "unknown" if ok is None else ("yes" if ok else "no")

    def checkin(self, ev: Event) -> None:
        """Count the person's check-ins within each rule's days (kept in memory and in the checkins table)."""
        pid = ev.person or ""
        c = self.checkins.get(pid)
        if c is None:
            c = self.checkins[pid] = []
        t = ev.time
        c.append((t, ev.station or "", ev.id))
        self._new_checkins.append((pid, t, ev.station or "", ev.id))
        keep = t - self.checkin_days * 86400
        if c[0][0] <= keep:
            i = 1
            while c[i][0] <= keep:
                i += 1
            del c[:i]
        for rule, s in self.station_rules:
            start = t - s.days * 86400
            counted = [x for x in c if x[0] > start and (not s.per_station or x[1] == ev.station)]
            scope = (ev.station or "") if s.per_station else ""

            def then(rule: Rule = rule, s: Any = s, counted: list[Any] = counted, scope: str = scope) -> None:
                w = self._open_window("person:" + pid, rule, scope, ev.day, s.repeat_after_days)
                if w is not None:
                    self.raise_alert(rule, "person:" + pid, scope, w, ev_time(ev),
                                     {"person": pid, "count": str(len(counted)), "days": str(s.days),
                                      "station": scope}, [x[2] for x in counted], person=pid)
            self._candidate(rule, {"n": len(counted)}, then)

    # ------------------------------------------------------------------ days

    def _decide(self, facts: dict[str, Any], day: dt.date, programs: Any, trace: bool = False) -> Any:
        """Decide with the policy engine, counting the decisions and the time they take (for the benchmarks)."""
        start = time.perf_counter()  # process_time is a system call on some hosts, 1000 times slower
        try:
            return self.engine.decide(facts, day, programs=programs, trace=trace)
        finally:
            self.stats.redecisions += 1
            self.stats.decide_seconds += time.perf_counter() - start

    def household_json(self, hh: dict[str, Any]) -> dict[str, Any]:
        out = dict(hh["f"])
        out["members"] = list(hh["m"].values())
        return out

    def close_day(self, day: dt.date) -> None:
        """Decide again every household changed on `day`, then raise what falls due on it."""
        for hid in sorted(self.day_dirty):
            hh = self._hh(hid)
            if hh.pop("d", None) == 1:
                self.redecide(hid, hh, day)
            events = hh.pop("de", [])
            self.schedule(hid, hh, day, events)
            self.day_dirty.discard(hid)
            self._tick()
        self.schedule_day(day)

    def schedule_day(self, day: dt.date) -> None:
        """Raise the scheduled alerts of households whose next notice falls on or before `day`."""
        o = day.toordinal()
        while self.wakes and self.wakes[0][0] <= o:
            w, hid = heapq.heappop(self.wakes)
            hh = self._household(hid)
            if hh is None or hh.get("w") != w:
                continue  # a stale wake-up: the household's schedule was computed again since
            self.changed.add("h:" + hid)
            self.schedule(hid, hh, day, [])
            self._tick()

    def redecide(self, hid: str, hh: dict[str, Any], day: dt.date) -> None:
        if not self.decide_programs or not hh["m"]:
            return
        facts = self.household_json(hh)
        try:
            d = self._decide(facts, day, self.decide_programs)
        except EligibilityError as e:
            self.report(0, "invalid_household", str(e).splitlines()[1:21] or [str(e)], None, hid)
            return
        new: dict[str, list[Any]] = {}
        for p, pd in d.programs.items():
            elig = None if pd.error is not None else pd.eligible
            # A tier that waits on unknown facts is None (not known), never "" (no tier).
            new[p] = [elig, _tier(pd), None if pd.amount is None or elig is not True else _money(pd.amount)]
        old = hh.get("o")
        hh["o"] = new
        events = list(hh.get("de", []))
        if old is not None:
            for rule, oc in self.outcome_rules:
                for p in oc.programs:
                    change = _change(old.get(p), new.get(p))
                    if change is None:
                        continue
                    before, after = old[p], new[p]

                    def then(rule: Rule = rule, p: str = p, change: str = change, before: list[Any] = before,
                             after: list[Any] = after) -> None:
                        self.raise_alert(
                            rule, "household:" + hid, p, day.toordinal(), _end_of(day),
                            {"program": p, "change": change, "before": _word(before[0]), "after": _word(after[0]),
                             "before_amount": before[2] or "", "after_amount": after[2] or ""},
                            events, household=hid,
                            decision={"program": p, "on": day.isoformat(), "before": _outcome(before),
                                      "after": _outcome(after)},
                            trace=(facts, day, p))
                    self._candidate(rule, {"program": p, "change": change}, then)
        for rule, nt in self.near_rules:
            self.near(hid, rule, nt, d, facts, day, events)

    def near(self, hid: str, rule: Rule, s: NearThreshold, d: Any, facts: dict[str, Any], day: dt.date,
             events: list[str]) -> None:
        pd = d.programs.get(s.program)
        if pd is None or pd.eligible is None or pd.error is not None:
            return  # only a decided program is compared: never a guess
        start = time.perf_counter()
        try:
            value = d.value(s.program, s.value)
            limit, param = self._limit(d, s, day)
        except EligibilityError:
            return
        finally:
            self.stats.decide_seconds += time.perf_counter() - start  # the engine's work, counted with decisions
        if not isinstance(value, Decimal) or not isinstance(limit, Decimal) or limit <= 0:
            return
        gap = limit - value

        def then() -> None:
            scope = f"{s.program}.{s.value}"
            w = self._open_window("household:" + hid, rule, scope, day, s.repeat_after_days)
            if w is None:
                return
            self.raise_alert(rule, "household:" + hid, scope, w, _end_of(day),
                             {"program": s.program, "value": _money(value), "limit": _money(limit),
                              "gap": _money(abs(gap)), "margin": str(s.margin)},
                             events, household=hid, policy_parameters=param, trace=(facts, day, s.program),
                             decision={"program": s.program, "on": day.isoformat(),
                                       "after": _outcome([pd.eligible, _tier(pd),
                                                          None if pd.amount is None else _money(pd.amount)])})
        self._candidate(rule, {"gap": gap, "neg": -gap, "band": limit * s.margin}, then)

    def _limit(self, d: Any, s: NearThreshold, day: dt.date) -> tuple[Any, dict[str, str]]:
        params = self.engine.model.programs[s.program].parameters
        if (s.program, s.limit) in self.engine.compiled.checked.defs:
            return d.value(s.program, s.limit), {}
        p = params[s.limit]
        i = bisect.bisect_right([v.start for v in p.values], day) - 1
        if i < 0:
            return None, {}
        value = p.values[i].value
        return value, {f"{s.program}.{s.limit}": str(value)}

    def schedule(self, hid: str, hh: dict[str, Any], day: dt.date, events: list[str]) -> None:
        """Raise the scheduled alerts due on `day` and set the household's next wake-up."""
        o = day.toordinal()
        self._extra_wake = None
        items = self._items(hid, hh, day)
        wake: int | None = self._extra_wake
        for rule, scope, notice, window, values, evs, member, params in items:
            key = dumps(["household:" + hid, rule.id, scope, dt.date.fromordinal(window).isoformat()])
            if key in self.keys:
                continue
            if notice > o:
                wake = notice if wake is None else min(wake, notice)
                continue
            if window < o and rule.kind != "review_due":
                continue  # a birthday or expiry already past when first seen: not a warning
            if isinstance(rule.settings, AgeReached) and member is not None:
                rec = hh["m"].get(member, {})
                if rule.settings.unless and all(_plain(rec.get(f)) is True for f in rule.settings.unless):
                    continue
            self.raise_alert(rule, "household:" + hid, scope, window, _end_of(day), values, evs or events,
                             household=hid, member=member, policy_parameters=params)
        if wake is None:
            hh.pop("w", None)
        else:
            hh["w"] = wake
            heapq.heappush(self.wakes, (wake, hid))

    def _items(self, hid: str, hh: dict[str, Any], day: dt.date) -> list[tuple[Any, ...]]:
        items: list[tuple[Any, ...]] = []
        enrol: dict[str, dict[str, Any]] = hh.get("e", {})
        active = {k: e for k, e in enrol.items() if e["st"] != "ended"}
        for rule in self.scheduled:
            s = rule.settings
            if isinstance(s, ReviewDue):
                for key, e in sorted(active.items()):
                    if key.split("/")[0] != s.program:
                        continue
                    months = s.months if s.months is not None else e.get("n")
                    if months is None:
                        continue
                    due = add_months(dt.date.fromisoformat(e["s"]), months)
                    o = due.toordinal()
                    items.append((rule, key, o - s.notice_days, o,
                                  {"program": s.program, "due": due.isoformat(), "months": str(months)},
                                  [e["ev"]], key.partition("/")[2] or None, {}))
            elif isinstance(s, AgeReached):
                for mid in sorted(hh["m"]):
                    if not any((k == p and not s.member_program) or k == f"{p}/{mid}"
                               for k in active for p in s.programs):
                        continue
                    target, params = self._age_target(hid, hh, mid, s, day)
                    if target is None:
                        continue
                    o = target[0].toordinal()
                    items.append((rule, mid, o - s.notice_days, o,
                                  {"member": mid, "age": target[1], "date": target[0].isoformat()},
                                  [], mid, params))
            elif isinstance(s, DocumentExpiry):
                for key, until in sorted(hh.get("doc", {}).items()):
                    mid, _, doc = key.partition("/")
                    if doc not in s.documents or mid not in hh["m"]:
                        continue
                    o = dt.date.fromisoformat(until).toordinal()
                    items.append((rule, key, o - s.notice_days, o,
                                  {"member": mid, "document": doc, "date": until}, [], mid, {}))
        return items

    def _age_target(self, hid: str, hh: dict[str, Any], mid: str, s: AgeReached,
                    day: dt.date) -> tuple[tuple[dt.date, str] | None, dict[str, str]]:
        rec = hh["m"][mid]
        birth = _date(rec.get("birth_date"))
        if birth is None:
            return None, {}
        if s.age is not None:
            return (birthday(birth, s.age), str(s.age)), {}
        if s.age_parameter is not None:
            prog, name = s.age_parameter
            p = self.engine.model.programs[prog].parameters[name]
            i = bisect.bisect_right([v.start for v in p.values], day) - 1
            if i < 0:
                return None, {}
            age = int(str(p.values[i].value))
            return (birthday(birth, age), str(age)), {f"{prog}.{name}": str(age)}
        found = self._retirement(hid, hh, mid, day)
        return ((found, "retirement"), {}) if found is not None else (None, {})

    def _retirement(self, hid: str, hh: dict[str, Any], mid: str, day: dt.date) -> dt.date | None:
        """The first day the member is no longer below the statutory retirement age, found by deciding.

        The household is decided on `day` and RETIREMENT_HORIZON days later (one decision each for
        all its members); only a member whose value changes in between is searched for the day
        (by halving). The result is kept until the members' facts change or the horizon is near.
        """
        sig = dumps([[m, r.get("birth_date"), r.get("sex"), r.get("female_retirement_track")]
                     for m, r in sorted(hh["m"].items())])
        o = day.toordinal()
        c = hh.get("r")
        if c is None or c[0] != sig or o >= c[2]:
            facts = self.household_json(hh)

            def below(x: int) -> dict[str, bool]:
                try:
                    d = self._decide(facts, dt.date.fromordinal(x), ("employment",))
                    v = d.value("employment", "below_retirement_age")
                except EligibilityError:
                    return {}
                return {str(k): x is True for k, x in v.items()}

            now, later = below(o), below(o + RETIREMENT_HORIZON)
            found: dict[str, int | None] = {}
            for m in sorted(hh["m"]):
                if now.get(m) and not later.get(m):
                    lo, hi = o, o + RETIREMENT_HORIZON
                    while hi - lo > 1:
                        mid_o = (lo + hi) // 2
                        lo, hi = (mid_o, hi) if below(mid_o).get(m) else (lo, mid_o)
                    found[m] = hi
                else:
                    found[m] = None
            c = hh["r"] = [sig, found, o + RETIREMENT_HORIZON - 30]
        self._recheck(c[2])
        at = c[1].get(mid)
        return None if at is None else dt.date.fromordinal(at)

    def _recheck(self, o: int) -> None:
        """Ask the schedule being computed to wake the household again on day `o`."""
        self._extra_wake = o if self._extra_wake is None else min(self._extra_wake, o)

    # ------------------------------------------------------------------ alerts

    def _candidate(self, rule: Rule, fields: dict[str, Any], then: Callable[[], None]) -> None:
        """An alert candidate of a matched kind: `then()` raises it if `fields` match the rule.

        The durable backend replaces only this step (durable_rules matches the same fields).
        """
        if matches(rule, fields):
            then()


    def _open_window(self, subject: str, rule: Rule, scope: str, day: dt.date | int, repeat: int) -> int | None:
        """The window of a new alert, or None when an alert of the same scope is less than `repeat` days old."""
        o = day if isinstance(day, int) else day.toordinal()
        k = (subject, rule.id, scope)
        last = self.last_window.get(k)
        if last is not None and o < last + repeat:
            return None
        return o

    def raise_alert(self, rule: Rule, subject: str, scope: str, window: int, at: str, values: dict[str, str],
                    events: list[str], *, household: str | None = None, person: str | None = None,
                    member: str | None = None, decision: dict[str, Any] | None = None,
                    policy_parameters: dict[str, str] | None = None,
                    trace: tuple[dict[str, Any], dt.date, str] | None = None) -> None:
        """Raise one alert, unless its key was raised before."""
        window_iso = dt.date.fromordinal(window).isoformat()
        key = [subject, rule.id, scope, window_iso]
        ks = dumps(key)
        if ks in self.keys:
            return
        self.keys.add(ks)
        k3 = (subject, rule.id, scope)
        if window > self.last_window.get(k3, -1):
            self.last_window[k3] = window
        ref = None
        if trace is not None:
            facts, day, program = trace
            text = dumps({"schema": DECISION_SCHEMA, "policy_hash": self.engine.policy_hash, "on": day.isoformat(),
                          "programs": [program], "facts": facts})
            ref = "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
            self._traces.append((ref, text))
            if len(self._traces) >= 1000:
                # Content-addressed and written alone: a trace stored before its alert is harmless.
                self.store.add_traces(self._traces)
                self._traces = []
        self.alert_seq += 1
        self.stats.alerts[rule.id] += 1
        message = {lang: rule.message.get(lang).format_map(self._localise(values, lang)) for lang in ("zh", "en")}
        static = self._static.get(rule.id)
        if static is None:
            static = self._static[rule.id] = _static_parts(rule, self.engine.policy_hash, self.rules.hash)
        # The alert's canonical JSON (keys sorted), its fixed parts encoded once a rule.
        text = "".join((
            '{"at":', dumps(at), static[0], dumps(decision), ',"events":', dumps(events),
            ',"household":', dumps(household), ',"key":', ks, static[1], ',"member":', dumps(member),
            ',"message":', dumps(message), static[2], ',"person":', dumps(person), static[3],
            dumps(policy_parameters or {}), static[4], ',"seq":', str(self.alert_seq), ',"subject":', dumps(subject),
            static[5], dumps(ref), ',"values":', dumps(values), ',"window":', dumps(window_iso), "}"))
        self._alerts.append((self.alert_seq, ks, text))

    def _localise(self, values: dict[str, str], lang: str) -> dict[str, str]:
        i = 0 if lang == "zh" else 1
        out = {}
        for k, v in values.items():
            if k == "program" and v in self.engine.model.programs:
                out[k] = self.engine.model.programs[v].title.get(lang)
            elif k == "fact":
                f = self.engine.model.facts.field(v)
                out[k] = f.label.get(lang) if f is not None else v
            elif k.endswith("_accepts"):
                out[k] = _ACCEPTS.get(v, (v, v))[i]
            elif v in _WORDS:
                out[k] = _WORDS[v][i]
            else:
                out[k] = v
        return out


#: The JSON of a subject's state: compact, in insertion order (the state is never compared as text).
_STATE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def _static_parts(rule: Rule, policy_hash: str, rules_hash: str) -> tuple[str, ...]:
    """The JSON of an alert's fixed fields (those of its rule), between the fields that vary, in key order."""
    return (
        ',"citation":' + dumps(rule.citation.to_json()) + ',"decision":',
        ',"kind":' + dumps(rule.kind) + ',"level":' + dumps(rule.level) + ',"level_zh":' + dumps(LEVELS[rule.level]),
        ',"parameters":' + dumps(rule.parameters),
        ',"policy_hash":' + dumps(policy_hash) + ',"policy_parameters":',
        ',"rule":' + dumps(rule.id) + ',"rules_hash":' + dumps(rules_hash),
        ',"title":' + dumps({"zh": rule.title.zh, "en": rule.title.en}) + ',"trace":',
    )


def matches(rule: Rule, f: dict[str, Any]) -> bool:
    """Whether a candidate's fields raise its rule (the conditions of `durable_worker.build`)."""
    s: Any = rule.settings
    kind = rule.kind
    if kind == "station_repeat":
        return bool(f["n"] >= s.count)
    if kind == "indicator_change":
        return bool(f["lhs"] > f["rhs"])
    if kind == "household_changed":
        return f["change"] in s.changes
    if kind == "two_offices":
        return f["program"] in s.programs and f["offices"] >= 2
    if kind == "outcome_changed":
        return f["program"] in s.programs and f["change"] in s.changes
    if kind == "near_threshold":
        below = 0 <= f["gap"] <= f["band"]
        above = 0 <= f["neg"] <= f["band"]
        return bool(below if s.side == "below" else above if s.side == "above" else below or above)
    return False


def _of(rules: RuleSet, cls: type[_S]) -> list[tuple[Rule, _S]]:
    """The rules whose settings are of one class, with their settings typed."""
    return [(r, r.settings) for r in rules.rules if isinstance(r.settings, cls)]


def ev_time(ev: Event) -> str:
    """The event's time as ISO 8601 at +08:00."""
    return dt.datetime.fromtimestamp(ev.time, dt.timezone(dt.timedelta(hours=8))).isoformat()


def _word(eligible: bool | None) -> str:
    return "eligible" if eligible is True else ("not_eligible" if eligible is False else "undetermined")


def _outcome(o: list[Any]) -> dict[str, Any]:
    return {"eligible": o[0], "tier": o[1], "amount": o[2]}


def _tier(pd: Any) -> str | None:
    """A program's tier for an outcome: "" when it has none, None when it waits on unknown facts."""
    return None if pd.tier_unknown else (pd.tier or "")


def _change(old: list[Any] | None, new: list[Any] | None) -> str | None:
    """How a program's outcome changed between two decisions, or None."""
    if old is None or new is None:
        return None
    if old[0] is not True and new[0] is True:
        return "newly_eligible"
    if old[0] is True and new[0] is False:
        return "no_longer_eligible"
    if old[0] is not None and new[0] is None:
        return "now_undetermined"
    if old[0] is True and new[0] is True:
        if old[1] is not None and new[1] is not None and old[1] != new[1]:  # a tier that waits did not change
            return "tier_changed"
        if old[2] != new[2]:
            return "amount_changed"
    return None


__all__ = ["BATCH", "Monitor", "RunStats", "add_months", "birthday", "local_day"]
