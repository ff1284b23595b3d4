"""What a policy change does to a file of households: each line decided under both sets, counted per
program (gained, lost, amount up or down, tier changed) with the monthly cost under each, and per
household: the net change of its monthly total across programs, the largest losses and gains kept
with the programs that changed (a family moved from one program to a smaller one is a cliff that a
program's total hides).

Every Decimal operation runs under the engine's context, whatever the caller's context is.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from eligibility.base.errors import EligibilityError, InputError
from eligibility.base.numbers import ENGINE_CONTEXT, ZERO, decimal_text
from eligibility.engine.jsonin import loads_household
from eligibility.engine.records import is_wrapped, unwrap
from eligibility.engine.runtime import parse_date

if TYPE_CHECKING:
    from eligibility.engine.runtime import Engine

#: Example households kept for each kind of change of each program.
EXAMPLES = 3
MAX_LINE = 1 << 20


KINDS = ("gained", "lost", "amount_up", "amount_down", "tier_changed")
#: Households kept for each side of the net view by default (`diff --top`).
TOP = 10


@attrs.define
class ProgramImpact:
    """What the change does to one program over the households decided under both sets."""

    #: "added" or "removed" for a program only one of the sets has.
    status: str | None = None
    decided: int = 0
    counts: dict[str, int] = attrs.Factory(lambda: dict.fromkeys(KINDS, 0))
    cost_old: Decimal = ZERO
    cost_new: Decimal = ZERO
    examples: dict[str, list[dict[str, Any]]] = attrs.Factory(dict)

    @property
    def changed(self) -> int:
        return self.counts["gained"] + self.counts["lost"] + self.counts["amount_up"] + self.counts["amount_down"]

    @property
    def cost_change(self) -> Decimal:
        """The new monthly cost minus the old one."""
        with decimal.localcontext(ENGINE_CONTEXT):
            return self.cost_new - self.cost_old

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "decided": self.decided, **self.counts,
                "cost_old": decimal_text(self.cost_old), "cost_new": decimal_text(self.cost_new),
                "cost_change": decimal_text(self.cost_change),
                "examples": {k: v for k, v in self.examples.items() if v}}


@attrs.define
class NetImpact:
    """Per household, the change of its monthly total across programs: counts, sums, and the largest.

    `losses` holds the `top` households whose total falls most (largest loss first), `gains` the
    `top` whose total rises most; each with its line, id, date, totals, net change, and the programs
    whose eligibility or amount changed (`programs`), and those it could not be compared on (`undecided`).
    """

    top: int = TOP
    losers: int = 0
    gainers: int = 0
    lost: Decimal = ZERO
    gained: Decimal = ZERO
    losses: list[dict[str, Any]] = attrs.Factory(list)
    gains: list[dict[str, Any]] = attrs.Factory(list)

    def add(self, entry: dict[str, Any], net: Decimal) -> None:
        """Count one household's net change and keep it if it is among the largest (ties: the earlier line)."""
        if net == 0:
            return
        if net < 0:
            self.losers += 1
            self.lost += net
            kept = self.losses
        else:
            self.gainers += 1
            self.gained += net
            kept = self.gains
        if self.top <= 0:
            return
        kept.append(entry)
        if len(kept) > 4 * self.top:
            self._prune()

    def _prune(self) -> None:
        self.losses.sort(key=lambda e: (Decimal(e["net"]), e["line"]))
        self.gains.sort(key=lambda e: (Decimal(e["net"]), -e["line"]), reverse=True)
        del self.losses[self.top:]
        del self.gains[self.top:]

    def to_json(self) -> dict[str, Any]:
        self._prune()
        return {"top": self.top, "losers": self.losers, "gainers": self.gainers, "lost": decimal_text(self.lost),
                "gained": decimal_text(self.gained), "losses": self.losses, "gains": self.gains}


@attrs.define
class HouseholdImpact:
    """The households read, those decided under both sets, the impact per program, the net change
    per household, and every error."""

    lines: int = 0
    decided: int = 0
    programs: dict[str, ProgramImpact] = attrs.Factory(dict)
    errors: list[dict[str, Any]] = attrs.Factory(list)
    net: NetImpact = attrs.Factory(NetImpact)

    @property
    def cost_change(self) -> Decimal:
        """The change in the monthly cost of every program together."""
        with decimal.localcontext(ENGINE_CONTEXT):
            return sum((p.cost_change for p in self.programs.values()), ZERO)

    def to_json(self) -> dict[str, Any]:
        return {"households": self.lines, "decided": self.decided,
                "programs": {k: v.to_json() for k, v in sorted(self.programs.items())},
                "cost_change": decimal_text(self.cost_change), "net": self.net.to_json(), "errors": self.errors}


def _outcome(d: Any) -> dict[str, Any]:
    """A program's outcome in a report; a program the set does not have counts as not eligible."""
    if d is None:
        return {"eligible": False, "amount": None, "tier": None}
    return {"eligible": d.eligible, "amount": decimal_text(d.amount) if d.amount is not None else None,
            "tier": d.tier}


def _amount(o: dict[str, Any]) -> Decimal:
    return Decimal(o["amount"]) if o["amount"] is not None else ZERO


def _parse_line(raw: bytes, on: dt.date | None) -> tuple[Any, dt.date, str | None]:
    """Return (household, date, label) of one JSONL line; raise ValueError with a message."""
    if len(raw) > MAX_LINE:
        raise ValueError(f"the line is longer than {MAX_LINE} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the line is not UTF-8 text") from None
    try:
        data = loads_household(text)  # a key given twice: an InputError, a ValueError with its path
    except InputError:
        raise  # a key given twice: a ValueError naming its path, reported on the line as it is
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON (column {e.colno}: {e.msg})") from None
    except (RecursionError, ValueError):
        raise ValueError("the JSON is nested too deeply or holds a huge number") from None
    label = None
    day = on
    if is_wrapped(data):
        rid, given_on, data = unwrap(data)  # WrapperError is a ValueError
        label = None if rid is None else rid[:64]
        if given_on is not None:
            try:
                day = parse_date(given_on, "on")
            except EligibilityError:
                raise ValueError(f"\"on\" is not a date \"YYYY-MM-DD\": {str(given_on)[:40]!r}") from None
    if day is None:
        raise ValueError("no decision date: give --on, or write the line as {\"on\": \"YYYY-MM-DD\", "
                         "\"household\": {...}}")
    return data, day, label


def household_impact(old: Engine, new: Engine, lines: Iterable[bytes], on: dt.date | None, *,
                     top: int = TOP) -> HouseholdImpact:
    """Decide each JSONL line's household under both sets and count what changes, per program and per household.

    The `top` households whose monthly total across programs falls most, and the `top` whose total
    rises most, are kept with the programs that changed for them (`impact.net`).

    A line is a household, or `{"on": "YYYY-MM-DD", "household": {...}, "id": "..."}`. A line that
    cannot be read or decided under either set is kept in `errors` with its number (and the program,
    when only that program could not be decided); it is never dropped silently. Blank lines are
    skipped. Every Decimal operation runs under the engine's context, whatever the caller's is.
    """
    with decimal.localcontext(ENGINE_CONTEXT):
        return _household_impact(old, new, lines, on, top)


def _household_impact(old: Engine, new: Engine, lines: Iterable[bytes], on: dt.date | None,
                      top: int) -> HouseholdImpact:
    impact = HouseholdImpact(net=NetImpact(top))
    names = sorted(set(old.programs) | set(new.programs))
    for name in names:
        status = "added" if name not in old.programs else "removed" if name not in new.programs else None
        impact.programs[name] = ProgramImpact(status)
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        impact.lines += 1
        try:
            household, day, label = _parse_line(raw.rstrip(b"\r\n"), on)
        except ValueError as e:
            impact.errors.append({"line": number, "side": "input", "message": str(e)})
            continue
        results = []
        errors: dict[str, str] = {}
        for side, engine in (("old", old), ("new", new)):
            try:
                results.append(engine.decide(household, on=day, trace=False))
            except EligibilityError as e:
                errors[side] = str(e)[:2000]
        if errors.get("old") is not None and errors.get("old") == errors.get("new"):
            errors = {"both": errors["old"]}
        for side, message in errors.items():
            impact.errors.append({"line": number, "side": side, "id": label, "message": message})
        if errors:
            continue
        impact.decided += 1
        a, b = results
        total_old = total_new = ZERO
        moved: list[dict[str, Any]] = []
        undecided: list[str] = []
        for name in names:
            pi = impact.programs[name]
            pa, pb = a.programs.get(name), b.programs.get(name)
            failed = {side: str(p.error)[:2000] for side, p in (("old", pa), ("new", pb))
                      if p is not None and p.error is not None}
            if failed.get("old") is not None and failed.get("old") == failed.get("new"):
                failed = {"both": failed["old"]}
            for side, message in failed.items():
                impact.errors.append({"line": number, "side": side, "id": label, "program": name,
                                      "message": message})
            if failed:
                undecided.append(name)
                continue  # this program cannot be compared for this line; the others still are
            x, y = _outcome(pa), _outcome(pb)
            pi.decided += 1
            pi.cost_old += _amount(x)
            pi.cost_new += _amount(y)
            total_old += _amount(x)
            total_new += _amount(y)
            if x["eligible"] != y["eligible"] or _amount(x) != _amount(y):
                moved.append({"program": name, "old": x, "new": y,
                              "change": decimal_text(_amount(y) - _amount(x))})
            kinds = []
            if x["eligible"] != y["eligible"]:
                kinds.append("gained" if y["eligible"] else "lost")
            elif _amount(x) != _amount(y):
                kinds.append("amount_up" if _amount(y) > _amount(x) else "amount_down")
            if x["tier"] != y["tier"]:
                kinds.append("tier_changed")
            for kind in kinds:
                pi.counts[kind] += 1
                shown = pi.examples.setdefault(kind, [])
                if len(shown) < EXAMPLES:
                    shown.append({"line": number, "id": label, "on": day.isoformat(), "old": x, "new": y})
        net = total_new - total_old
        impact.net.add({"line": number, "id": label, "on": day.isoformat(), "net": decimal_text(net),
                        "old": decimal_text(total_old), "new": decimal_text(total_new), "programs": moved,
                        "undecided": undecided}, net)
    return impact


__all__ = ["KINDS", "TOP", "HouseholdImpact", "NetImpact", "ProgramImpact", "household_impact"]
