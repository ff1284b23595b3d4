"""Hypothesis strategies for households and decision dates, derived from a policy set's facts vocabulary.

Every household drawn passes the engine's validation: required fields are present, optional fields
are given, null or left out, values respect the vocabulary's types and limits, ids are unique and
dates lie before the decision date.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from eligibility.base.errors import InputError
from eligibility.base.source import did_you_mean
from eligibility.engine.facts import Validator, constraints
from eligibility.engine.runtime import Engine, parse_date
from eligibility.lang.model import Constraint, Facts, FieldSpec, ParamValue

__all__ = ["decision_dates", "households"]

#: Largest amount of money the vocabulary accepts, in fen (10^15 yuan excluded).
MONEY_LIMIT_FEN = 10 ** 17 - 1
#: Money up to this (in fen: 100,000 yuan) is drawn half of the time, so that amounts look like incomes.
EVERYDAY_FEN = 10 ** 7
INTEGER_LIMIT = 10 ** 15
DECIMAL_LIMIT = Decimal(10) ** 12
#: Lists other than members hold at most this many records unless their vocabulary asks for more.
OTHER_LIST_ITEMS = 3
#: Birth dates and other dates reach back this many years before the decision date.
YEARS_BACK = 110
ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_-"
CENT = Decimal("0.01")
_ABSENT = object()

Pin = Mapping[str, object]


def _fail(call: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"{call}: {message}")


def _check_engine(engine: object, call: str) -> Engine:
    if not isinstance(engine, Engine):
        raise _fail(call, "engine must be an eligibility.Engine (from eligibility.load()), "
                          f"not {type(engine).__name__}")
    return engine


def _fen(d: Decimal, up: bool) -> int:
    scaled = d * 100
    return math.ceil(scaled) if up else math.floor(scaled)


def _money_text(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _decimal_text(d: Decimal) -> str:
    return format(d + 0, "f")


class _Plan:
    """Everything households() needs, checked once when the strategy is made."""

    def __init__(self, engine: Engine, call: str, members: object, pin: object, member_pin: object,
                 near: object, on: object, max_members: object) -> None:
        self.call = call
        self.engine = engine
        self.facts: Facts = engine.model.facts
        self.on = self._date(on)
        self.latest_date = (self.on or _date_range(engine, None)[0]) - dt.timedelta(days=1)
        self.earliest_date = dt.date(self.latest_date.year - YEARS_BACK, 1, 1)
        members_spec = self.facts.field("members")
        if members_spec is None or members_spec.type != "list":  # pragma: no cover - the schema refuses it
            raise _fail(call, "the facts vocabulary has no `members` list")
        self.members_spec = members_spec
        if isinstance(max_members, bool) or not isinstance(max_members, int) or max_members < 1:
            raise _fail(call, f"max_members must be a whole number of at least 1, not {max_members!r}")
        self.member_range = self._members(members, max_members)
        self.max_members = self.member_range[1] if members is not None else max_members
        self.pin = self._pins(pin, "pin", self.facts.fields, forbid=("members",))
        self.member_pin = self._pins(member_pin, "member_pin", members_spec.fields, forbid=())
        if "id" in self.member_pin and not isinstance(self.member_pin["id"], st.SearchStrategy) \
                and self.member_range[1] > 1:
            raise _fail(call, "member_pin['id'] is one value, but member ids must be unique; "
                              "give a strategy, or members=1")
        self.targets = self._near(near)
        self.multipliers = self._multipliers() if self.targets else ()

    # --- argument checks ---------------------------------------------------------------------

    def _date(self, on: object) -> dt.date | None:
        if on is None:
            return None
        if isinstance(on, dt.datetime) or not isinstance(on, dt.date | str):
            raise _fail(self.call, f"on must be a datetime.date or 'YYYY-MM-DD', not {on!r}")
        try:
            return parse_date(on)
        except InputError:
            raise _fail(self.call, f"on={on!r} is not a date 'YYYY-MM-DD'") from None

    def _members(self, members: object, max_members: int) -> tuple[int, int]:
        spec = self.members_spec
        if members is None:
            lo, hi = spec.min_items, min(max_members, spec.max_items)
            if lo > hi:
                raise _fail(self.call, f"max_members={max_members} is below the {lo} members the vocabulary requires")
            return lo, hi
        if isinstance(members, int) and not isinstance(members, bool):
            lo = hi = members
        elif (isinstance(members, tuple | list) and len(members) == 2
              and all(isinstance(x, int) and not isinstance(x, bool) for x in members)):
            lo, hi = members
        else:
            raise _fail(self.call, f"members must be a number or a (min, max) pair of numbers, not {members!r}")
        if lo > hi:
            raise _fail(self.call, f"members={members!r}: the minimum {lo} is above the maximum {hi}")
        if lo < spec.min_items:
            raise _fail(self.call, f"members={members!r}: the vocabulary requires at least {spec.min_items} members")
        if hi > spec.max_items:
            raise _fail(self.call, f"members={members!r}: the vocabulary allows at most {spec.max_items} members")
        return lo, hi

    def _pins(self, pin: object, arg: str, fields: tuple[FieldSpec, ...],
              forbid: tuple[str, ...]) -> dict[str, object]:
        if pin is None:
            return {}
        if not isinstance(pin, Mapping):
            raise _fail(self.call, f"{arg} must be a mapping of field names to values or strategies, not {pin!r}")
        out: dict[str, object] = {}
        names = [f.name for f in fields]
        for name, value in pin.items():
            spec = next((f for f in fields if f.name == name), None)
            if name in forbid:
                raise _fail(self.call, f"{arg}[{name!r}]: use members= and member_pin= to shape the members")
            if spec is None:
                guess = did_you_mean(str(name), names)
                hint = f"; did you mean {guess!r}?" if guess else f"; fields: {', '.join(names)}"
                raise _fail(self.call, f"{arg}[{name!r}] is not a field of the facts vocabulary{hint}")
            if isinstance(value, st.SearchStrategy):
                out[name] = value.map(_checker(self.call, f"{arg}[{name!r}]", spec))
            else:
                _checker(self.call, f"{arg}[{name!r}]", spec)(value)
                out[name] = value
        return out

    def _near(self, near: object) -> tuple[tuple[str, str, tuple[Decimal, ...]], ...]:
        if near is None:
            return ()
        pairs: list[tuple[object, object]] = []
        if isinstance(near, Mapping):
            for program, params in near.items():
                if isinstance(params, str):
                    pairs.append((program, params))
                elif isinstance(params, Iterable):
                    pairs.extend((program, p) for p in params)
                else:
                    raise _fail(self.call, f"near[{program!r}] must be a parameter name or a list of them")
        elif isinstance(near, Iterable) and not isinstance(near, str):
            for item in near:
                if not (isinstance(item, tuple | list) and len(item) == 2):
                    raise _fail(self.call, f"near must hold (program, parameter) pairs, not {item!r}")
                pairs.append((item[0], item[1]))
        else:
            raise _fail(self.call, 'near must be a mapping such as {"dibao": "standard"} or a list of '
                                   f"(program, parameter) pairs, not {near!r}")
        out = []
        programs = self.engine.model.programs
        for program, param in pairs:
            prog = programs.get(program) if isinstance(program, str) else None
            if prog is None:
                guess = did_you_mean(str(program), sorted(programs))
                hint = f"; did you mean {guess!r}?" if guess else f"; programs: {', '.join(sorted(programs))}"
                raise _fail(self.call, f"near: unknown program {program!r}{hint}")
            p = prog.parameters.get(param) if isinstance(param, str) else None
            if p is None:
                guess = did_you_mean(str(param), sorted(prog.parameters))
                hint = f"; did you mean {guess!r}?" if guess else ""
                raise _fail(self.call, f"near: program {program!r} has no parameter {param!r}{hint}")
            if p.type != "money":
                raise _fail(self.call, f"near: {program}.{param} is {p.type}; near steers money toward money "
                                       "parameters")
            values = _values_on(p.values, self.on)
            if not values:
                when = f" on {self.on}" if self.on else ""
                raise _fail(self.call, f"near: {program}.{param} has no value{when}")
            out.append((prog.name, p.name, values))
        return tuple(out)

    def _multipliers(self) -> tuple[Decimal, ...]:
        """Return 1 and every positive integer or decimal parameter of the set (24 months, a 1.5 factor)."""
        found = {Decimal(1)}
        for prog in self.engine.model.programs.values():
            for p in prog.parameters.values():
                if p.type in ("integer", "decimal"):
                    found.update(v for v in _values_on(p.values, self.on) if 0 < v <= 1000)
        return tuple(sorted(found))

    # --- strategies ----------------------------------------------------------------------------

    def near_fen(self, sizes: Sequence[int], lo: int, hi: int) -> list[st.SearchStrategy[int]]:
        """Amounts of k x a parameter, one fen either side, k a member count times a multiplier.

        The first strategy uses the first size only (the household's own), the second every size.
        """
        out = []
        for counts in (sizes[:1], sizes):
            targets: dict[int, None] = {}
            for n in counts:
                for m in self.multipliers:
                    for _, _, values in self.targets:
                        for v in values:
                            targets[int((v * m * n).quantize(CENT, rounding=ROUND_HALF_UP) * 100)] = None
            ok = [t for t in targets if lo - 1 <= t <= hi + 1]
            if ok:
                out.append(st.tuples(st.sampled_from(ok), st.sampled_from((0, -1, 1))).map(
                    lambda tw: min(max(tw[0] + tw[1], lo), hi)))
        return out

    def value(self, spec: FieldSpec, sizes: Sequence[int]) -> st.SearchStrategy[Any]:
        t = spec.type
        if t == "bool":
            return st.booleans()
        if t == "enum":
            return st.sampled_from([v for v, _ in spec.values])
        if t == "date":
            return st.dates(self.earliest_date, self.latest_date).map(dt.date.isoformat)
        if t == "text":
            if spec.name == "id":
                return st.one_of(st.integers(1, 999).map(lambda i: f"m{i}"),
                                 st.text(ID_ALPHABET, min_size=1, max_size=12))
            return st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=24)
        if t == "integer":
            lo = -INTEGER_LIMIT if spec.minimum is None else max(-INTEGER_LIMIT, math.ceil(spec.minimum))
            hi = INTEGER_LIMIT if spec.maximum is None else min(INTEGER_LIMIT, math.floor(spec.maximum))
            return st.integers(lo, hi)
        if t == "decimal":
            dlo = -DECIMAL_LIMIT if spec.minimum is None else max(-DECIMAL_LIMIT, spec.minimum)
            dhi = DECIMAL_LIMIT if spec.maximum is None else min(DECIMAL_LIMIT, spec.maximum)
            return st.decimals(dlo, dhi, places=4, allow_nan=False, allow_infinity=False).map(_decimal_text)
        if t == "money":
            lo = 0 if spec.minimum is None else max(0, _fen(spec.minimum, up=True))
            hi = MONEY_LIMIT_FEN if spec.maximum is None else min(MONEY_LIMIT_FEN, _fen(spec.maximum, up=False))
            # With near, half of the amounts are thresholds; plain amounts come first, so they shrink to 0.00.
            near = self.near_fen(sizes, lo, hi) if self.targets else []
            fen = st.one_of(st.integers(lo, max(lo, min(hi, EVERYDAY_FEN))), st.integers(lo, hi), *near)
            return fen.map(_money_text)
        raise AssertionError(f"unknown field type {t}")  # pragma: no cover - the schema refuses it

    def record(self, fields: tuple[FieldSpec, ...], pins: dict[str, object],
               sizes: Sequence[int]) -> st.SearchStrategy[dict[str, Any]]:
        """A record (the household, or one item of a list) with its fields in vocabulary order."""
        parts: list[tuple[str, st.SearchStrategy[Any]]] = []
        for spec in fields:
            if spec.name in pins:
                pinned = pins[spec.name]
                parts.append((spec.name, pinned if isinstance(pinned, st.SearchStrategy) else st.just(pinned)))
                continue
            item = self.list_of(spec, {}, (1,)) if spec.type == "list" else self.value(spec, sizes)
            if not spec.required:
                item = st.one_of(st.just(_ABSENT), st.none(), item)
            parts.append((spec.name, item))
        names = [n for n, _ in parts]
        return st.tuples(*(s for _, s in parts)).map(
            lambda values: {n: v for n, v in zip(names, values, strict=True) if v is not _ABSENT})

    def list_of(self, spec: FieldSpec, pins: dict[str, object], sizes: Sequence[int],
                size: tuple[int, int] | None = None) -> st.SearchStrategy[list[dict[str, Any]]]:
        lo, hi = size or (spec.min_items, min(spec.max_items, max(spec.min_items, OTHER_LIST_ITEMS)))
        rules = constraints(spec)  # the vocabulary's constraints: unique fields, counts, a size limit
        hi = min([hi, *(c.maximum for c in rules if c.kind == "max_items" and c.maximum is not None)])
        lo = min(hi, max([lo, *(c.minimum or 0 for c in rules if c.kind == "count_where")]))
        keys = tuple(_getter(str(c.field)) for c in rules if c.kind == "unique")
        drawn = st.lists(self.record(spec.fields, pins, sizes), min_size=lo, max_size=hi,
                         unique_by=keys or None)
        counts = [(c, spec.field(str(c.field))) for c in rules if c.kind == "count_where"]
        return drawn.map(lambda items: _counted(items, counts)) if counts else drawn

    def households(self) -> st.SearchStrategy[dict[str, Any]]:
        order = [f.name for f in self.facts.fields]
        others = tuple(f for f in self.facts.fields if f.name != "members")
        members_strategy = self.list_of(self.members_spec, self.member_pin, (1,), self.member_range)
        by_size: dict[int, st.SearchStrategy[dict[str, Any]]] = {}

        @st.composite
        def household(draw: st.DrawFn) -> dict[str, Any]:
            members = draw(members_strategy)
            n = len(members)
            rest_strategy = by_size.get(n)
            if rest_strategy is None:
                # Household totals meet per-person thresholds at n x the parameter: that size first.
                sizes = [n, *(k for k in range(1, self.max_members + 1) if k != n)] if n else [1]
                rest_strategy = by_size[n] = self.record(others, self.pin, sizes)
            rest = draw(rest_strategy)
            rest["members"] = members
            return {k: rest[k] for k in order if k in rest}

        return household()


def _getter(name: str) -> Callable[[dict[str, Any]], object]:
    return lambda r: r.get(name)


def _counted(items: list[dict[str, Any]], counts: list[tuple[Constraint, FieldSpec | None]]) -> list[dict[str, Any]]:
    """Make drawn records meet `count_where` constraints: the first records take the value, extra ones another."""
    for c, spec in counts:
        name = str(c.field)
        other = _other_value(spec, c.value)
        hits = [i for i, r in enumerate(items) if r.get(name) == c.value]
        need = c.minimum or 0
        for i in [i for i in range(len(items)) if i not in hits][:max(0, need - len(hits))]:
            items[i][name] = c.value
            hits.append(i)
        hits.sort()
        if c.maximum is not None and other is not None:
            for i in hits[c.maximum:]:
                items[i][name] = other
    return items


def _other_value(spec: FieldSpec | None, value: object) -> object:
    """A value of the field other than `value` (None when the strategy cannot tell one)."""
    if spec is None:
        return None
    if spec.type == "enum":
        return next((v for v, _ in spec.values if v != value), None)
    if spec.type == "bool":
        return not value
    return None


def _checker(call: str, what: str, spec: FieldSpec) -> Callable[[object], object]:
    """Return a function that checks one pinned value against its field, as the engine will."""
    validator = Validator(Facts((spec,), "<pin>", spec.span))

    def check(value: object) -> object:
        try:
            validator.validate({spec.name: value})
        except InputError as e:
            raise _fail(call, f"{what}={value!r} would be refused: {e.problems[0].message}") from None
        return value

    return check


def _values_on(values: Sequence[ParamValue], on: dt.date | None) -> tuple[Decimal, ...]:
    """Return the value in force on a date, or every dated value when no date is given."""
    if on is None:
        return tuple(Decimal(v.value) for v in values)  # type: ignore[arg-type]
    current = [v for v in values if v.start <= on]
    return (Decimal(current[-1].value),) if current else ()  # type: ignore[arg-type]


def _date_range(engine: Engine, programs: Sequence[str] | None) -> tuple[dt.date, dt.date, list[dt.date]]:
    """Return the dates on which every parameter the decisions need has a value, and where values change."""
    starts: list[dt.date] = []
    firsts: list[dt.date] = []
    for prog, pname in engine.parameters_needed(programs):
        p = engine.model.programs[prog].parameters[pname]
        if p.values:
            firsts.append(p.values[0].start)
            starts.extend(v.start for v in p.values)
    if not firsts:
        return dt.date(2000, 1, 1), dt.date(2099, 12, 31), []
    lo = max(firsts)
    hi = dt.date(max(starts).year + 1, 12, 31)
    edges = sorted({d for s in starts for d in (s, s - dt.timedelta(days=1)) if lo <= d <= hi})
    return lo, hi, edges


def households(engine: Engine, *, members: int | tuple[int, int] | None = None, pin: Pin | None = None,
               member_pin: Pin | None = None, near: object = None, on: dt.date | str | None = None,
               max_members: int = 6) -> st.SearchStrategy[dict[str, Any]]:
    """Return a strategy for households that the engine accepts, shaped by its facts vocabulary.

    Money comes as canonical strings (`"1282.00"`), decimals as strings and dates as `"YYYY-MM-DD"`
    strings before `on` (or before the first date `decision_dates` gives), so a household is JSON
    and pastes into a YAML test case.

    Args:
        engine: the engine whose vocabulary (`engine.model.facts`) the households follow.
        members: the number of members, or a `(min, max)` pair; default the vocabulary's minimum
            (at least 0) to `max_members`.
        pin: household fields held to a value, or drawn from a strategy, e.g. `{"vehicles": []}`.
        member_pin: member fields held to a value or drawn from a strategy, for every member.
        near: money parameters to steer money fields toward: `{"dibao": "standard"}`, or a list of
            `(program, parameter)` pairs. Money fields then often take k x the parameter, exactly or
            one fen either side, where k is a member count (the household's own first) times 1 or a
            positive integer or decimal parameter of the set (such as 24 months).
        on: the decision date: the parameter values `near` uses, and the day before which dates
            fall. Without it, `near` uses every dated value.
        max_members: the largest household drawn when `members` is not given.

    Returns:
        A strategy for dicts that `engine.decide(household, on)` validates.

    Raises:
        InvalidArgument: an argument is wrong (the message names it), at once, not on first draw.
    """
    call = "households()"
    plan = _Plan(_check_engine(engine, call), call, members, pin, member_pin, near, on, max_members)
    return plan.households()


def decision_dates(engine: Engine, *, programs: Sequence[str] | None = None) -> st.SearchStrategy[dt.date]:
    """Return a strategy for dates on which the engine's programs can be decided.

    The dates run from the first day on which every parameter the decisions need has a value to
    the end of the year after the latest dated value of those parameters; the days on which a value
    changes, and the days before them, come often. (Without any parameter: 2000 to 2099.)

    Args:
        engine: the engine whose parameters bound the dates.
        programs: only the parameters these programs need count (all programs by default).

    Raises:
        InvalidArgument: an argument is wrong (the message names it).
    """
    call = "decision_dates()"
    engine = _check_engine(engine, call)
    if programs is not None:
        if isinstance(programs, str) or not isinstance(programs, Sequence):
            raise _fail(call, f"programs must be a list of program names, not {programs!r}")
        for p in programs:
            if p not in engine.programs:
                guess = did_you_mean(str(p), list(engine.programs))
                hint = f"; did you mean {guess!r}?" if guess else f"; programs: {', '.join(engine.programs)}"
                raise _fail(call, f"programs: unknown program {p!r}{hint}")
    lo, hi, edges = _date_range(engine, programs)
    anywhere = st.dates(lo, hi)
    return st.one_of(anywhere, st.sampled_from(edges)) if edges else anywhere
