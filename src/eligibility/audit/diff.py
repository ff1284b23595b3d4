"""What changes between two policy sets and what the change does to a file of households: the report,
as text, Markdown or JSON.

The policy changes are found by audit/changes.py, the households' impact by audit/impact.py, and a
`git:REV:PATH` policy set is exported by audit/git.py.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from eligibility.audit.changes import Change, policy_changes
from eligibility.audit.impact import KINDS, TOP, HouseholdImpact, NetImpact, household_impact
from eligibility.base.i18n import N_
from eligibility.base.i18n import translate as _
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

    def render(self, fmt: str = "text") -> str:
        """Return the report as text or Markdown (`fmt="markdown"`): the changes per program, then the
        households' impact per program, then the households whose monthly total changes most."""
        if fmt == "markdown":
            return self._markdown()
        if fmt != "text":
            raise ValueError(f"fmt must be 'text' or 'markdown', not {fmt!r}")
        lines = [_("old: {name} ({hash})", name=self.old, hash=self.old_hash),
                 _("new: {name} ({hash})", name=self.new, hash=self.new_hash)]
        if not self.changes:
            lines.append(_("no change in rules, parameters, citations, outputs or facts"))
        for program, changes in self._by_program().items():
            lines.append("")
            lines.append(program if program is not None else _("facts vocabulary"))
            lines.extend(f"  {c.render()}" for c in changes)
        if self.impact is not None:
            with decimal.localcontext(ENGINE_CONTEXT):
                lines.extend(["", *_impact_lines(self.impact)])
                lines.extend(["", *_net_lines(self.impact.net)])
        return "\n".join(lines) + "\n"

    def _by_program(self) -> dict[str | None, list[Change]]:
        by_program: dict[str | None, list[Change]] = {}
        for c in self.changes:
            by_program.setdefault(c.program, []).append(c)
        return by_program

    def _markdown(self) -> str:
        lines = ["# Policy diff", "", f"- old: `{_code(self.old)}` (`{self.old_hash}`)",
                 f"- new: `{_code(self.new)}` (`{self.new_hash}`)", "", "## Changes", ""]
        if not self.changes:
            lines.extend(["No change in rules, parameters, citations, outputs or facts.", ""])
        for program, changes in self._by_program().items():
            lines.extend([f"### {_md(program) if program is not None else 'Facts vocabulary'}", ""])
            lines.extend(f"- {_md(c.kind)} `{_code(c.name)}`: {_md(c.detail)}" for c in changes)
            lines.append("")
        if self.impact is not None:
            with decimal.localcontext(ENGINE_CONTEXT):
                lines.extend(_impact_markdown(self.impact))
        return "\n".join(lines).rstrip("\n") + "\n"


#: The words of each kind of change of a household, translated where they are shown.
KIND_WORDS = {"gained": N_("gained"), "lost": N_("lost"), "amount_up": N_("amount_up"),
              "amount_down": N_("amount_down"), "tier_changed": N_("tier_changed")}


def _money(d: Decimal, sign: bool = False) -> str:
    text = f"{d:,.2f}"
    return ("+" + text) if sign and d > 0 else text


def _impact_lines(impact: HouseholdImpact) -> list[str]:
    out = [_("households: {read} read, {decided} decided under both sets, {errors} with errors", read=impact.lines,
             decided=impact.decided, errors=len({e["line"] for e in impact.errors}))]
    if any(e.get("program") for e in impact.errors):
        out[0] += _(" (a program that cannot be decided for a line is left out of that program's counts)")
    quiet = []
    for name, p in sorted(impact.programs.items()):
        c = p.counts
        change = p.cost_change
        if not any(c.values()) and change == 0 and p.status is None:
            quiet.append(name)
            continue
        status = _(" (program {status})", status=p.status) if p.status else ""
        out.append("  " + _("{name}{status}: {gained} gained, {lost} lost, {up} amount up, {down} amount down, "
                            "{tier} tier changed; monthly cost {change} ({old} -> {new})", name=name, status=status,
                            gained=c["gained"], lost=c["lost"], up=c["amount_up"], down=c["amount_down"],
                            tier=c["tier_changed"], change=_money(change, True), old=_money(p.cost_old),
                            new=_money(p.cost_new)))
        for kind in KINDS:
            for ex in p.examples.get(kind, []):
                out.append("    " + _("{kind}: {who}, {on}: {old} -> {new}", kind=_(KIND_WORDS[kind]), who=_who(ex),
                                          on=ex["on"], old=_state(ex["old"]), new=_state(ex["new"])))
    if quiet:
        out.append("  " + _("no change: {programs}", programs=", ".join(quiet)))
    out.append(_("total monthly cost change: {change}", change=_money(impact.cost_change, True)))
    if impact.errors:
        out.append(_("errors ({n}):", n=len(impact.errors)))
        for e in impact.errors:
            first = str(e["message"]).splitlines()
            more = " …" if len(first) > 1 else ""
            head = first[0] if first else ""
            head = head if len(head) <= 300 else head[:299] + "…"
            where = f"{e['side']}, {e['program']}" if e.get("program") else e["side"]
            out.append("  " + _("line {line} ({where}): {message}", line=e["line"], where=where, message=head + more))
            out.extend(f"    {x}" for x in first[1:6])
    return out


def _who(e: dict[str, Any]) -> str:
    if e.get("id"):
        return _("line {line} ({id})", line=e["line"], id=e["id"])
    return _("line {line}", line=e["line"])


def _shift(e: dict[str, Any]) -> str:
    """What happened to one household, in words: e.g. `dibao 54.00 replacing dibao_single 1,282.00`."""
    def named(p: dict[str, Any], o: dict[str, Any]) -> str:
        name: str = p["program"]
        return name + (f" {_money(Decimal(o['amount']))}" if o["amount"] else "")

    won = [named(p, p["new"]) for p in e["programs"] if p["new"]["eligible"] and not p["old"]["eligible"]]
    gone = [named(p, p["old"]) for p in e["programs"] if p["old"]["eligible"] and not p["new"]["eligible"]]
    both = _(" and ")
    if won and gone:
        return _("{won} replacing {gone}", won=both.join(won), gone=both.join(gone))
    if gone:
        return _("loses {programs}", programs=both.join(gone))
    if won:
        return _("gains {programs}", programs=both.join(won))
    return ", ".join(f"{p['program']} {_money(Decimal(p['change']), True)}" for p in e["programs"])


def _program_shift(p: dict[str, Any]) -> str:
    return _("{program}: {old} -> {new} ({change})", program=p["program"], old=_state(p["old"], True),
             new=_state(p["new"], True), change=_money(Decimal(p["change"]), True))


def _net_head(net: NetImpact) -> str:
    return _("{losers} household(s) lose {lost} a month in all, {gainers} gain {gained}", losers=net.losers,
             lost=_money(-net.lost), gainers=net.gainers, gained=_money(net.gained))


def _shown(kept: int, count: int) -> str:
    if kept < count:
        return _("the {kept} largest of {count}", kept=kept, count=count)
    return _("1 household") if count == 1 else _("all {count}", count=count)


def _net_lines(net: NetImpact) -> list[str]:
    """The households whose monthly total across programs changes most: largest losses, then gains."""
    net.to_json()  # keeps the largest only, in order
    out = [_("households by net monthly change across programs: {summary}", summary=_net_head(net))]
    for title, kept, count in ((N_("largest losses ({shown}):"), net.losses, net.losers),
                               (N_("largest gains ({shown}):"), net.gains, net.gainers)):
        if not kept:
            continue
        out.append("  " + _(title, shown=_shown(len(kept), count)))
        for e in kept:
            undecided = _("; not compared: {programs}", programs=", ".join(e["undecided"])) if e["undecided"] else ""
            out.append("    " + _("{who}, {on}: {net} to this family ({old} -> {new}): {shift}", who=_who(e),
                                  on=e["on"], net=_money(Decimal(e["net"]), True), old=_money(Decimal(e["old"])),
                                  new=_money(Decimal(e["new"])), shift=_shift(e)) + undecided)
            out.extend(f"      {_program_shift(p)}" for p in e["programs"])
    return out


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def _md(text: object) -> str:
    """Text in Markdown, its special characters escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _code(text: object) -> str:
    return " ".join(str(text).split()).replace("`", "'")


def _impact_markdown(impact: HouseholdImpact) -> list[str]:
    out = ["## Households", "", _md(_impact_lines(impact)[0]) + ".", "",
           "| program | gained | lost | amount up | amount down | tier changed | monthly cost before | after "
           "| change |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, p in sorted(impact.programs.items()):
        c = p.counts
        status = f" (program {p.status})" if p.status else ""
        out.append(f"| {_md(name)}{status} | {c['gained']} | {c['lost']} | {c['amount_up']} | {c['amount_down']} | "
                   f"{c['tier_changed']} | {_money(p.cost_old)} | {_money(p.cost_new)} | "
                   f"{_money(p.cost_change, True)} |")
    out.extend(["", f"Total monthly cost change: **{_money(impact.cost_change, True)}**", ""])
    net = impact.net
    net.to_json()
    out.extend(["## Households by net monthly change", "", _net_head(net) + ".", ""])
    for title, kept, count in (("Largest losses", net.losses, net.losers), ("Largest gains", net.gains, net.gainers)):
        if not kept:
            continue
        out.extend([f"### {title} ({_shown(len(kept), count)})", "",
                    "| household | on | before | after | change | what changed |",
                    "|---|---|---:|---:|---:|---|"])
        for e in kept:
            detail = "; ".join(_md(_program_shift(p)) for p in e["programs"])
            if e["undecided"]:
                detail += "; not compared: " + _md(", ".join(e["undecided"]))
            out.append(f"| {_md(_who(e))} | {e['on']} | {_money(Decimal(e['old']))} | {_money(Decimal(e['new']))} | "
                       f"**{_money(Decimal(e['net']), True)}** | {_md(_shift(e))}: {detail} |")
        out.append("")
    if impact.errors:
        out.extend([f"## Errors ({len(impact.errors)})", ""])
        for e in impact.errors:
            where = f"{e['side']}, {e['program']}" if e.get("program") else e["side"]
            first = str(e["message"]).splitlines()
            head = first[0] if first else ""
            out.append(f"- line {e['line']} ({_md(where)}): {_md(head[:300])}")
        out.append("")
    return out


def _state(o: dict[str, Any], grouped: bool = False) -> str:
    amount = (_money(Decimal(o["amount"])) if grouped else o["amount"]) if o["amount"] else None
    text = _("not eligible") if not o["eligible"] else _("eligible") + (f" {amount}" if amount else "")
    return text + (_(", tier {tier}", tier=o["tier"]) if o.get("tier") else "")


def diff_policies(old: Engine, new: Engine, *, old_name: str = "old", new_name: str = "new",
                  households: Iterable[bytes] | None = None, on: dt.date | None = None,
                  top: int = TOP) -> PolicyDiff:
    """Compare two loaded policy sets, and decide the households (JSONL lines) under both when given.

    Args:
        old, new: the two engines (load them with the same jurisdiction).
        old_name, new_name: how the report names them.
        households: JSONL lines as bytes (a file opened in binary mode works).
        on: the decision date of lines without their own `"on"`.
        top: how many households of largest net loss, and of largest net gain, the report keeps.

    Returns:
        A PolicyDiff; `render()` gives the text report, `render("markdown")` the Markdown one,
        `to_json()` the JSON one.
    """
    impact = household_impact(old, new, households, on, top=top) if households is not None else None
    with decimal.localcontext(ENGINE_CONTEXT):
        changes = tuple(policy_changes(old, new))
    return PolicyDiff(old_name, new_name, old.policy_hash, new.policy_hash, changes, impact)


__all__ = ["PolicyDiff", "diff_policies"]
