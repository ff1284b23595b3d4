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
  The host computes each candidate's fields in the reference engine's code (`Reference._candidate`
  is its one matching step, replaced here); Decimal fields are sent as exactly scaled integers.

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
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from math import lcm
from pathlib import Path
from typing import IO, Any

import attrs

from eligibility.engine.runtime import Engine
from eligibility.monitor.model import Rule, RuleSet
from eligibility.monitor.reference import BATCH, RunStats
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
        """Queue the candidate for the worker (the reference engine matches it in place)."""
        exact = [k for k, v in fields.items() if isinstance(v, Decimal)]
        if exact:  # compared as integers scaled by one common factor (exact in durable's numbers)
            fields = dict(fields)
            fields.update(zip(exact, _ints(*(fields[k] for k in exact)), strict=True))
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


__all__ = ["FLUSH", "Monitor", "Worker", "WorkerFailed", "rule_specs"]
