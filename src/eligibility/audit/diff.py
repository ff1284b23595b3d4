"""What changes between two policy sets and what the change does to a file of households: the report.

The policy changes are found by audit/changes.py, the households' impact by audit/impact.py, and a
`git:REV:PATH` policy set is exported by audit/git.py.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from eligibility.audit.changes import Change, policy_changes
from eligibility.audit.impact import KINDS, HouseholdImpact, household_impact
from eligibility.base.numbers import ENGINE_CONTEXT

if TYPE_CHECKING:
    from eligibility.engine.runtime import Engine


@attrs.frozen
class PolicyDiff:
    """The changes between two policy sets and, when households were given, their impact."""

    old: str
    new: str
    old_hash: str
    new_hash: str
    changes: tuple[Change, ...]
    impact: HouseholdImpact | None = None

    @property
    def different(self) -> bool:
        """Whether anything changed: a rule, a parameter, a citation, a fact, or a household's outcome."""
        if self.changes:
            return True
        return self.impact is not None and any(p.changed or p.counts["tier_changed"]
                                               for p in self.impact.programs.values())

    def to_json(self) -> dict[str, Any]:
        return {"old": {"policies": self.old, "hash": self.old_hash},
                "new": {"policies": self.new, "hash": self.new_hash},
                "changes": [c.to_json() for c in self.changes],
                "households": self.impact.to_json() if self.impact is not None else None}

    def render(self) -> str:
        """Return the report as text: the changes per program, then the households' impact."""
        lines = [f"old: {self.old} ({self.old_hash})", f"new: {self.new} ({self.new_hash})"]
        if not self.changes:
            lines.append("no change in rules, parameters, citations, outputs or facts")
        by_program: dict[str | None, list[Change]] = {}
        for c in self.changes:
            by_program.setdefault(c.program, []).append(c)
        for program, changes in by_program.items():
            lines.append("")
            lines.append(program if program is not None else "facts vocabulary")
            lines.extend(f"  {c.render()}" for c in changes)
        if self.impact is not None:
            with decimal.localcontext(ENGINE_CONTEXT):
                lines.extend(["", *_impact_lines(self.impact)])
        return "\n".join(lines) + "\n"


def _money(d: Decimal, sign: bool = False) -> str:
    text = f"{d:,.2f}"
    return ("+" + text) if sign and d > 0 else text


def _impact_lines(impact: HouseholdImpact) -> list[str]:
    out = [f"households: {impact.lines} read, {impact.decided} decided under both sets, "
           f"{len({e['line'] for e in impact.errors})} with errors"]
    if any(e.get("program") for e in impact.errors):
        out[0] += " (a program that cannot be decided for a line is left out of that program's counts)"
    quiet = []
    for name, p in sorted(impact.programs.items()):
        c = p.counts
        change = p.cost_change
        if not any(c.values()) and change == 0 and p.status is None:
            quiet.append(name)
            continue
        status = f" (program {p.status})" if p.status else ""
        out.append(f"  {name}{status}: {c['gained']} gained, {c['lost']} lost, {c['amount_up']} amount up, "
                   f"{c['amount_down']} amount down, {c['tier_changed']} tier changed; monthly cost "
                   f"{_money(change, True)} ({_money(p.cost_old)} -> {_money(p.cost_new)})")
        for kind in KINDS:
            for ex in p.examples.get(kind, []):
                who = f"line {ex['line']}" + (f" ({ex['id']})" if ex.get("id") else "")
                out.append(f"    {kind}: {who}, {ex['on']}: {_state(ex['old'])} -> {_state(ex['new'])}")
    if quiet:
        out.append(f"  no change: {', '.join(quiet)}")
    out.append(f"total monthly cost change: {_money(impact.cost_change, True)}")
    if impact.errors:
        out.append(f"errors ({len(impact.errors)}):")
        for e in impact.errors:
            first = str(e["message"]).splitlines()
            more = " …" if len(first) > 1 else ""
            head = first[0] if first else ""
            head = head if len(head) <= 300 else head[:299] + "…"
            where = f"{e['side']}, {e['program']}" if e.get("program") else e["side"]
            out.append(f"  line {e['line']} ({where}): {head}{more}")
            out.extend(f"    {x}" for x in first[1:6])
    return out


def _state(o: dict[str, Any]) -> str:
    text = "not eligible" if not o["eligible"] else "eligible" + (f" {o['amount']}" if o["amount"] else "")
    return text + (f", tier {o['tier']}" if o.get("tier") else "")


def diff_policies(old: Engine, new: Engine, *, old_name: str = "old", new_name: str = "new",
                  households: Iterable[bytes] | None = None, on: dt.date | None = None) -> PolicyDiff:
    """Compare two loaded policy sets, and decide the households (JSONL lines) under both when given.

    Args:
        old, new: the two engines (load them with the same jurisdiction).
        old_name, new_name: how the report names them.
        households: JSONL lines as bytes (a file opened in binary mode works).
        on: the decision date of lines without their own `"on"`.

    Returns:
        A PolicyDiff; `render()` gives the text report, `to_json()` the JSON one.
    """
    impact = household_impact(old, new, households, on) if households is not None else None
    with decimal.localcontext(ENGINE_CONTEXT):
        changes = tuple(policy_changes(old, new))
    return PolicyDiff(old_name, new_name, old.policy_hash, new.policy_hash, changes, impact)


__all__ = ["PolicyDiff", "diff_policies"]
