"""The durable_rules worker: a child process that matches alert candidates with durable_rules' rete.

Run as `python -P .../durable_worker.py` by `eligibility.monitor.durable` (it imports only the standard
library and durable); it speaks JSON
lines on stdin/stdout, one request and one reply a line, single-threaded:

- `{"rules": [...]}`: the rule specs (`eligibility.monitor.durable.rule_specs`, built from the
  checked model, never from YAML text): one durable ruleset is generated with one durable rule per
  monitoring rule; the reply is `{"ready": PID}`.
- `{"batch": [[ID, RULE, FIELDS], ...]}`: each candidate is posted to durable as an event with an
  explicit `id`; the reply is `{"matched": [ID, ...]}`, the candidates whose rule fired, in the
  order posted, or `{"error": TEXT}` when an action raised (durable stores such exceptions instead
  of raising them: the actions here record them and the batch fails loudly).

Nothing outlives a batch: every event is matched or discarded by a single-pattern rule as it is
posted (no joins, no timers, no waiting events), and all events go to one partition (`sid` "0").
The worker can therefore be killed and restarted at any point and the batch sent again.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import traceback
from typing import Any

#: Test hook: crash (SIGSEGV, as a fault in durable's C core would) on receiving the Nth batch.
CRASH_ENV = "ELIGIBILITY_DURABLE_CRASH_AT"


def _any_of(field: Any, values: list[str]) -> Any:
    """`field == v1 | field == v2 | ...` as a durable condition."""
    cond = field == values[0]
    for v in values[1:]:
        cond = cond | (field == v)
    return cond


def build(name: str, specs: list[dict[str, Any]], matched: list[str], errors: list[str]) -> int:
    """Generate one durable ruleset named `name` from the rule specs; return how many rules it has."""
    from durable.lang import m, ruleset, when_all

    def action(c: Any) -> None:
        try:
            matched.append(c.m.cid)
        except Exception:
            errors.append(traceback.format_exc())

    n = 0
    with ruleset(name):
        for spec in specs:
            kind, s, rid = spec["kind"], spec["settings"], spec["id"]
            cond: Any = m.r == rid
            if kind == "station_repeat":
                cond = cond & (m.n >= s["count"])
            elif kind == "indicator_change":
                cond = cond & (m.lhs > m.rhs)
            elif kind == "household_changed":
                if not s["changes"]:
                    continue
                cond = cond & _any_of(m.change, list(s["changes"]))
            elif kind == "two_offices":
                if not s["programs"]:
                    continue
                cond = cond & _any_of(m.program, list(s["programs"])) & (m.offices >= 2)
            elif kind == "outcome_changed":
                if not s["programs"] or not s["changes"]:
                    continue
                cond = cond & _any_of(m.program, list(s["programs"])) & _any_of(m.change, list(s["changes"]))
            elif kind == "near_threshold":
                below = (m.gap >= 0) & (m.gap <= m.band)
                above = (m.neg >= 0) & (m.neg <= m.band)
                side = s["side"]
                cond = cond & (below if side == "below" else above if side == "above" else (below | above))
            else:
                continue  # schedules are computed by the host (see eligibility.monitor.durable)
            when_all(cond)(action)
            n += 1
    return n


def serve(stdin: Any, stdout: Any) -> None:
    """Answer requests from `stdin` on `stdout` until stdin closes."""
    import durable.lang as lang
    from durable.engine import MessageNotHandledException

    matched: list[str] = []
    errors: list[str] = []
    name = ""
    crash_at = int(os.environ.get(CRASH_ENV, "0") or "0")
    batches = 0
    for raw in stdin:
        if not raw.strip():
            continue
        request = json.loads(raw)
        if "rules" in request:
            name = request["name"]
            build(name, request["rules"], matched, errors)
            # Warm the host on this thread (durable's first use races with its timer thread on a cold host).
            with contextlib.suppress(MessageNotHandledException):
                lang.post(name, {"id": "warm", "sid": "0", "r": ""})
            reply: dict[str, Any] = {"ready": os.getpid()}
        else:
            batches += 1
            if crash_at and batches == crash_at:
                os.kill(os.getpid(), signal.SIGSEGV)
            matched.clear()
            for cid, rule, fields in request["batch"]:
                event = dict(fields)
                event["id"], event["cid"], event["sid"], event["r"] = "c" + cid, cid, "0", rule
                try:  # noqa: SIM105 - a try costs less than contextlib.suppress on every event
                    lang.post(name, event)
                except MessageNotHandledException:
                    pass
            reply = {"error": "\n".join(errors)} if errors else {"matched": list(matched)}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
