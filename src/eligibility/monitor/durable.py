"""The durable_rules backend: the reference engine's host, with the alert conditions matched by durable_rules.

`Monitor(engine, rules, store).run(path)` is used like the reference engine (`eligibility monitor
--engine durable`), on the same SQLite state and alert format. What runs where:

- In this process (the host, shared with the reference engine): reading the log, reordering
  within the lateness, days and their closes, re-deciding households with the policy engine,
  the check-in and fact-history windows (our own expiry: durable's events never expire), the
  schedules (reviews, ages, documents: computed dates, not events), de-duplication by alert key
  and `repeat_after_days` windows, the alert's text, and the SQLite commits.
- In a child process (`eligibility.monitor.durable_worker`), in durable_rules: the decision
  whether each candidate raises its rule, for `station_repeat` (count within the window reaches
  N), `indicator_change` (the change exceeds the share, compared on exact integers),
  `household_changed` (the change is one watched), `two_offices` (a watched program held at two
  offices), `outcome_changed` (a watched program changed in a watched way) and `near_threshold`
  (the gap is within the band on the watched side). The durable rules are generated from the
  checked model (`rule_specs`), one ruleset per rule set, one durable rule per monitoring rule.

The worker is stateless between batches, so a crash of its C core costs only a restart: the host
sees the dead pipe, reports it on stderr, starts a new worker and sends the same batch again.
Alerts are raised by the host, in order, only from the replies (scheduled alerts queue behind the
candidates), and committed with the state after every reply is in, so none is lost or repeated.
One batch is in flight at a time, so the host's work and the worker's overlap.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from math import lcm
from pathlib import Path
from typing import IO, Any

import attrs

from eligibility.base.errors import EligibilityError
from eligibility.engine.runtime import Engine
from eligibility.monitor.events import Event, decimal_of
from eligibility.monitor.model import NearThreshold, Rule, RuleSet
from eligibility.monitor.reference import BATCH, RunStats, _change, _end_of, _money, _outcome, _word, ev_time
from eligibility.monitor.reference import Monitor as Reference
from eligibility.monitor.run import MonitorUnavailable
from eligibility.monitor.store import Store

# The worker needs durable-rules in this interpreter: say so now (make_monitor turns it into a usage error)
# rather than after five dead workers.
if sys.version_info >= (3, 13):
    raise ImportError("durable-rules 2.0.28 does not import on Python 3.13 or later")
if importlib.util.find_spec("durable") is None:
    raise ImportError("durable-rules is not installed")

#: Candidates sent to the worker in one request (at most; the pending ones are also sent, and every
#: reply awaited, before each commit).
FLUSH = 4096
#: Consecutive failures of one batch after which the run stops (the worker cannot get past it).
MAX_RESTARTS = 5
#: Integers beyond this lose precision in durable_rules' number handling.
_EXACT = 2**53


#: What a dead worker looks like from here: a broken pipe, no reply, or half a line.
_DEAD = (BrokenPipeError, ConnectionResetError, ValueError, OSError)


class WorkerFailed(MonitorUnavailable):
    """The durable_rules worker failed on the same batch MAX_RESTARTS times, or an action raised."""


def rule_specs(rules: RuleSet) -> list[dict[str, Any]]:
    """The monitoring rules as data for the worker: id, kind and settings (Decimal as text)."""
    def plain(v: Any) -> Any:
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        return v

    return [{"id": r.id, "kind": r.kind,
             "settings": {k: plain(v) for k, v in attrs.asdict(r.settings, recurse=False).items()}}
            for r in rules.rules]


def _ints(*values: Decimal) -> list[int]:
    """Decimals scaled to integers by one common factor (so their order is exact in durable's numbers)."""
    fr = [Fraction(v) for v in values]
    den = lcm(*(f.denominator for f in fr))
    out = [int(f * den) for f in fr]
    if any(abs(x) >= _EXACT for x in out):
        # Only the order and the sign matter: keep them with small integers (each value's rank from zero).
        keys = sorted(set(fr) | {Fraction(0)})
        zero = keys.index(Fraction(0))
        out = [keys.index(f) - zero for f in fr]
    return out


class Worker:
    """The durable_rules child process: started, asked, watched and restarted."""

    def __init__(self, rules: RuleSet, env: dict[str, str] | None = None,
                 notify: Callable[[str], None] | None = None) -> None:
        self.setup = json.dumps({"rules": rule_specs(rules), "name": "eligibility_" + rules.hash[:16]})
        self.env = env
        self.notify = notify or (lambda text: print(text, file=sys.stderr))
        self.proc: subprocess.Popen[str] | None = None
        self._batch: list[list[Any]] = []
        self._send_error: Exception | None = None
        self.restarts = 0
        self.pids: list[int] = []

    def start(self) -> None:
        # The worker imports only the standard library and durable: run as a file (-P: its folder is not put on
        # sys.path), it starts in a fraction of the time `-m eligibility...` would take to import the package.
        self.proc = subprocess.Popen([sys.executable, "-P", str(Path(__file__).with_name("durable_worker.py"))],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env, text=True,
                                     encoding="utf-8", bufsize=1 << 16)
        reply = self._ask(self.setup)
        self.pids.append(int(reply["ready"]))

    def _ask(self, text: str) -> dict[str, Any]:
        proc = self.proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        stdin: IO[str] = proc.stdin
        stdin.write(text + "\n")
        stdin.flush()
        line = proc.stdout.readline()
        if not line:
            raise BrokenPipeError("the worker closed its output")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def send(self, batch: list[list[Any]]) -> None:
        """Send a batch without waiting for the reply (`receive` reads it); the worker is started when needed."""
        self._batch, self._send_error = batch, None
        try:
            if self.proc is None:
                self.start()
            self._write(batch)
        except _DEAD as e:
            self._send_error = e

    def receive(self) -> set[str]:
        """The ids of the sent batch's candidates whose rule fired; a dead worker is restarted and asked again."""
        batch, error, failures = self._batch, self._send_error, 0
        self._send_error = None
        while True:
            if error is None:
                try:
                    reply = self._read()
                    break
                except _DEAD as e:
                    error = e
            failures += 1
            self._died(error, len(batch))
            if failures >= MAX_RESTARTS:
                raise WorkerFailed(f"the durable_rules worker died {failures} times on one batch of "
                                   f"{len(batch)} candidate(s)")
            error = None
            try:
                self.start()
                self._write(batch)
            except _DEAD as e:
                error = e
        if "error" in reply:
            raise WorkerFailed("a durable_rules action raised:\n" + str(reply["error"]))
        return set(reply["matched"])

    def match(self, batch: list[list[Any]]) -> set[str]:
        """Send a batch and wait for its reply."""
        self.send(batch)
        return self.receive()

    def _write(self, batch: list[list[Any]]) -> None:
        proc = self.proc
        assert proc is not None and proc.stdin is not None
        proc.stdin.write(json.dumps({"batch": batch}, separators=(",", ":")) + "\n")
        proc.stdin.flush()

    def _read(self) -> dict[str, Any]:
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise BrokenPipeError("the worker closed its output")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _died(self, error: Exception, n: int) -> None:
        proc, self.proc = self.proc, None
        code = None
        if proc is not None:
            proc.kill()
            code = proc.wait()
            for f in (proc.stdin, proc.stdout):
                if f is not None:
                    with contextlib.suppress(OSError):
                        f.close()
        how = (f"signal {signal.Signals(-code).name}" if code is not None and code < 0
               else f"exit code {code}" if code is not None else type(error).__name__)
        self.restarts += 1
        self.notify(f"durable_rules worker died ({how}); restarted, {n} candidate(s) sent again")

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


class Monitor(Reference):
    """The durable_rules backend over one state file (see the module's docstring for what runs where)."""

    def __init__(self, engine: Engine, rules: RuleSet, store: Store, *, batch: int = BATCH,
                 env: dict[str, str] | None = None, notify: Callable[[str], None] | None = None) -> None:
        super().__init__(engine, rules, store, batch=batch)
        self.worker = Worker(rules, env, notify)
        #: Candidates in the order they arose: (id, rule, fields) for the worker, and what to do on a match.
        #: None for an alert decided by the host (a schedule), raised in its turn.
        self._candidates: list[tuple[list[Any] | None, Callable[[], None]]] = []
        self._cid = 0
        self._deferring = False
        #: The entries of the batch the worker is matching while the host goes on.
        self._in_flight: list[tuple[list[Any] | None, Callable[[], None]]] | None = None

    # ------------------------------------------------------------------ the worker

    def _candidate(self, rule: Rule, fields: dict[str, Any], then: Callable[[], None]) -> None:
        self._cid += 1
        self._candidates.append(([str(self._cid), rule.id, fields], then))
        if len(self._candidates) >= FLUSH:
            self.flush(wait=False)

    def flush(self, wait: bool = True) -> None:
        """Send the pending candidates to durable_rules; raise the alerts of those matched, in order.

        With `wait` false the batch is left in flight: the host goes on reading events while the
        worker matches it, and its alerts are raised (before any later one) at the next flush.
        """
        if self._in_flight is not None:
            entries, self._in_flight = self._in_flight, None
            self._raise(entries, self.worker.receive())
        if not self._candidates:
            return
        pending, self._candidates = self._candidates, []
        batch = [p[0] for p in pending if p[0] is not None]
        if not batch:
            self._raise(pending, set())
            return
        self.worker.send(batch)
        if wait:
            self._raise(pending, self.worker.receive())
        else:
            self._in_flight = pending

    @staticmethod
    def _raise(entries: list[tuple[list[Any] | None, Callable[[], None]]], matched: set[str]) -> None:
        for cand, then in entries:
            if cand is None or cand[0] in matched:
                then()

    def run(self, path: Path | str, progress: Callable[[int, int], None] | None = None, *,
            stop_after: int | None = None) -> RunStats:
        try:
            return super().run(path, progress, stop_after=stop_after)
        finally:
            self.worker.close()

    def commit(self) -> None:
        self.flush()
        super().commit()

    def schedule(self, hid: str, hh: dict[str, Any], day: dt.date, events: list[str]) -> None:
        # Scheduled alerts are decided here, not matched; they queue behind the candidates so that the
        # alerts keep the reference engine's order without a round trip to the worker per household.
        # (Their key check before raising only skips work: raise_alert checks the key again when it runs.)
        self._deferring = True
        try:
            super().schedule(hid, hh, day, events)
        finally:
            self._deferring = False

    def raise_alert(self, *args: Any, **kwargs: Any) -> None:
        if self._deferring:
            self._candidates.append((None, lambda: Reference.raise_alert(self, *args, **kwargs)))
        else:
            super().raise_alert(*args, **kwargs)

    # ------------------------------------------------------------------ the matched kinds

    def checkin(self, ev: Event) -> None:
        pid = ev.person or ""
        c = self.checkins.get(pid)
        if c is None:
            c = self.checkins[pid] = []
        t = ev.time
        c.append((t, ev.station or "", ev.id))
        self._new_checkins.append((pid, t, ev.station or "", ev.id))
        keep = t - self.checkin_days * 86400
        if c[0][0] <= keep:  # our own expiry of check-ins older than the longest window
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

    def indicator(self, hid: str, hh: dict[str, Any], name: str, value: Any, ev: Event) -> None:
        import bisect

        hist: list[list[Any]] = hh.setdefault("h", {}).setdefault(name, [])
        new = decimal_of(value)
        t = ev.time
        for rule, s in self.indicator_rules:
            if s.fact != name or new is None:
                continue
            i = bisect.bisect_right([h[0] for h in hist], t - s.window_days * 86400)
            known = [(Decimal(v), eid) for _, v, eid in hist[max(i - 1, 0):] if v is not None]
            if not known:
                continue
            if s.direction == "down":
                ref, ref_id = max(known, key=lambda x: x[0])
                diff = ref - new
            else:
                ref, ref_id = min(known, key=lambda x: x[0])
                diff = new - ref
            # change > share, with change = diff / ref (0 when ref <= 0), as exact integers for durable
            lhs, rhs = _ints(diff, s.share * ref) if ref > 0 else _ints(Decimal(0), s.share)

            def then(rule: Rule = rule, s: Any = s, ref: Decimal = ref, ref_id: str = ref_id,
                     diff: Decimal = diff, new: Decimal = new) -> None:
                w = self._open_window("household:" + hid, rule, name, ev.day, s.repeat_after_days)
                if w is None:
                    return
                pct = f"{(diff / ref * 100).quantize(Decimal('0.1'))}%"
                self.raise_alert(rule, "household:" + hid, name, w, ev_time(ev),
                                 {"fact": name, "before": _money(ref), "after": _money(new), "change": pct,
                                  "window_days": str(s.window_days)}, [ref_id, ev.id], household=hid)
            self._candidate(rule, {"lhs": lhs, "rhs": rhs}, then)
        hist.append([t, None if new is None else str(new), ev.id])
        keep = t - self.history_days * 86400
        i = bisect.bisect_right([h[0] for h in hist], keep)
        if i > 1:
            del hist[:i - 1]

    def _composition(self, hid: str, change: str, mid: str, ev: Event) -> None:
        for rule, _ in self.composition_rules:
            def then(rule: Rule = rule) -> None:
                self.raise_alert(rule, "household:" + hid, "", ev.day.toordinal(), ev_time(ev),
                                 {"change": change, "member": mid}, [ev.id], household=hid, member=mid)
            self._candidate(rule, {"change": change}, then)

    def _offices(self, hid: str, hh: dict[str, Any], ev: Event) -> None:
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
            for rule, s in self.office_rules:
                def then(rule: Rule = rule, s: Any = s, pid: str = pid,
                         others: list[tuple[str, str]] = others) -> None:
                    for other, other_ev in others:
                        pair = "|".join(sorted((other, ev.office or "")))
                        w = self._open_window("person:" + pid, rule, pair, ev.day, s.repeat_after_days)
                        if w is None:
                            continue
                        self.raise_alert(rule, "person:" + pid, pair, w, ev_time(ev),
                                         {"person": pid, "program": ev.program or "",
                                          "offices": pair.replace("|", ", ")},
                                         [other_ev, ev.id], household=hid, person=pid)
                self._candidate(rule, {"program": ev.program or "", "offices": len(offices)}, then)

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
            new[p] = [elig, pd.tier or "", None if pd.amount is None or elig is not True else _money(pd.amount)]
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
        gap_i, neg_i, band_i = _ints(gap, -gap, limit * s.margin)

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
                                       "after": _outcome([pd.eligible, pd.tier or "",
                                                          None if pd.amount is None else _money(pd.amount)])})
        self._candidate(rule, {"gap": gap_i, "neg": neg_i, "band": band_i}, then)


__all__ = ["FLUSH", "Monitor", "Worker", "WorkerFailed", "rule_specs"]
