"""The columnar backend: decide a batch of households with numpy columns, the row engine deciding the rest.

`decide_columns(engine, households, on, programs)` returns, for each household, exactly the
per-program outcome the row engine gives (`eligibility.scale.results.ProgramOutcome`: eligible,
amount, tier, error, unknown), with counts of the households decided by columns and of those
re-decided by the row engine, by reason. The row engine stays the reference: a household goes to it
when its facts are not plainly valid and known (an input error, an unknown fact, a fact with
provenance, a list long enough for the work limit), when the columnar code marks it (see
`eligibility.compile.columnar`: a possible evaluation error, an int64 bound, an inexact value near a
boundary), and for the programs the columnar generator does not support (`ColumnarBackend.unsupported`
names the construct and the policy file:line).

Input: a sequence of household mappings (validated by the engine's own validator, so that defaults
and every check are the row engine's), or a pyarrow Table / RecordBatch in the nested layout: one
column a household field, list fields as list<struct> columns (what Parquet written from the
households holds), optional `id` and `on` columns; each row is turned into the mapping the row engine
would read (`flat_record`) before validation.
"""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import threading
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs
import numpy as np

from eligibility.base.errors import InputError
from eligibility.base.numbers import ENGINE_CONTEXT, ZERO
from eligibility.compile.columnar import HELPERS, ColumnarModule, Columns, generate_columnar
from eligibility.compile.helpers import MissingValue
from eligibility.engine.runtime import Engine, parse_date

#: Households decided by one columnar call at most (memory stays bounded with the batch size).
BLOCK = 65536

_BACKENDS: dict[int, ColumnarBackend] = {}
#: What a parameter with no value on the date reads as (its households are all marked).
_STAND_IN: dict[str, Any] = {"money": (0, 1, None), "decimal": (0, 1, None), "integer": (0, 1, None),
                             "bool": False, "date": 0, "enum": -1, "text": -1}
_LOCK = threading.Lock()


@attrs.frozen
class Outcome:
    """One program's outcome for one household: the fields batch writes (as ProgramOutcome)."""

    eligible: bool | None
    amount: Decimal | None
    tier: str | None
    error: str | None = None
    unknown: tuple[str, ...] = ()


@attrs.define
class ColumnarResult:
    """Per household: {program: Outcome} (None when the household itself is invalid: see `errors`)."""

    outcomes: list[dict[str, Outcome] | None]
    #: The households whose input the row engine refused (index -> the InputError).
    errors: dict[int, InputError]
    #: Households decided by columns for every program asked.
    columnar: int = 0
    #: Households (or programs of households) re-decided by the row engine, by reason.
    fallback: collections.Counter[str] = attrs.Factory(collections.Counter)


class ColumnarBackend:
    """The columnar code of an engine's policy set, compiled once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        gen = engine.compiled.generated
        self.module: ColumnarModule = generate_columnar(engine.compiled.checked, gen.param_index)
        ns: dict[str, Any] = dict(HELPERS)
        exec(compile(self.module.source, f"<columnar {engine.policy_hash[:12]}>", "exec"), ns)  # noqa: S102
        self.ns = ns
        self.strings: dict[str, int] = {s: i for i, s in enumerate(self.module.strings)}
        self.texts: list[str] = list(self.module.strings)
        self._params: dict[dt.date, tuple[dict[int, Any], frozenset[int]]] = {}
        self._amounts: dict[int, Decimal] = {}

    @property
    def unsupported(self) -> dict[str, str]:
        """Programs decided by the row engine, with the construct and where it stands."""
        return dict(self.module.unsupported)

    @property
    def supported(self) -> tuple[str, ...]:
        """Programs decided by columns."""
        return tuple(sorted(self.module.programs))

    def code(self, s: str) -> int:
        c = self.strings.get(s)
        if c is None:
            c = self.strings[s] = len(self.texts)
            self.texts.append(s)
        return c

    def params_on(self, day: dt.date) -> tuple[dict[int, Any], frozenset[int]]:
        """The parameters in force on a date as generated code reads them, and those with no value then."""
        hit = self._params.get(day)
        if hit is not None:
            return hit
        values, _ = self.engine._params_on(day)
        out: dict[int, Any] = {}
        missing = set()
        for i, (_, _, ptype, den) in self.module.params.items():
            v = values[i]
            if isinstance(v, MissingValue):
                missing.add(i)
                out[i] = _STAND_IN[ptype]
            else:
                out[i] = self.value(v, ptype, den)
        self._params[day] = (out, frozenset(missing))
        return self._params[day]

    def value(self, v: Any, ftype: str, den: int) -> Any:
        """A fact or parameter value as generated code reads it (raises ValueError if it cannot)."""
        if ftype in ("money", "decimal", "integer"):
            if v.__class__ is bool:
                raise ValueError(v)
            scaled = Decimal(v) * den
            n = int(scaled)
            if n != scaled or abs(n) >= 2 ** 62:
                raise ValueError(v)
            return (n, den, None)
        if ftype == "date":
            return v.year * 10000 + v.month * 100 + v.day
        if ftype in ("enum", "text"):
            return self.code(v)
        if ftype == "bool":
            return bool(v)
        raise ValueError(ftype)

    def amount(self, fen: int) -> Decimal:
        d = self._amounts.get(fen)
        if d is None:
            d = ZERO if fen == 0 else Decimal(f"{'-' if fen < 0 else ''}{abs(fen) // 100}.{abs(fen) % 100:02d}")
            if len(self._amounts) < 100_000:
                self._amounts[fen] = d
        return d


def backend(engine: Engine) -> ColumnarBackend:
    """The engine's columnar backend (generated at first use, then kept)."""
    with _LOCK:
        b = _BACKENDS.get(id(engine))
        if b is None or b.engine is not engine:
            b = _BACKENDS[id(engine)] = ColumnarBackend(engine)
        return b


def decide_columns(engine: Engine, households: Sequence[Mapping[str, Any]] | Any, on: object = None,
                   programs: Iterable[str] | None = None) -> ColumnarResult:
    """Decide households (mappings, or a pyarrow Table/RecordBatch) on a date, as the row engine would.

    `on` is the date of every household (a row's own `on` column, in a table, comes first).

    Raises:
        InputError: an unknown program, a bad date, or no date for a household.
    """
    names = engine.programs if programs is None else engine.check_programs(programs)
    default = None if on is None else parse_date(on)
    days: list[dt.date | None]
    if hasattr(households, "to_pylist"):  # pyarrow
        households, days = _from_arrow(engine, households, default)
    else:
        households = list(households)
        days = [default] * len(households)
    result = ColumnarResult([None] * len(households), {})
    rows: list[tuple[int, dt.date, Mapping[str, Any]]] = []
    for i, (h, day) in enumerate(zip(households, days, strict=True)):
        if day is None:
            from eligibility.base.errors import InputProblem
            result.errors[i] = InputError([InputProblem("on", "missing", "no decision date")])
            continue
        rows.append((i, day, h))
    with decimal.localcontext(ENGINE_CONTEXT):
        for start in range(0, len(rows), BLOCK):
            decide_block(engine, rows[start:start + BLOCK], names, result)
    return result


def decide_block(engine: Engine, rows: list[tuple[int, dt.date, Mapping[str, Any]]], names: tuple[str, ...],
                 result: ColumnarResult, row_decide: Any = None) -> list[int]:
    """Decide rows (index, date, household) into `result`; return the indices the row engine must decide.

    With `row_decide` None the row engine decides them here (into `result.outcomes`/`errors`);
    otherwise they are returned for the caller to decide (batch does, to write its exact record).
    """
    b = backend(engine)
    by_day: dict[dt.date, list[tuple[int, dict[str, Any]]]] = collections.defaultdict(list)
    rest: list[int] = []
    reasons = result.fallback
    validator = engine.validator
    small = engine._small
    lists = engine._list_fields
    for i, day, h in rows:
        try:
            read = validator.validate_partial(h, True, on=day, complete=False)
        except InputError:
            rest.append(i)
            reasons["input error"] += 1
            continue
        except Exception:
            rest.append(i)
            reasons["input error"] += 1
            continue
        if read.unknown:
            rest.append(i)
            reasons["unknown facts"] += 1
            continue
        if read.provenance:
            rest.append(i)
            reasons["facts with provenance"] += 1
            continue
        values = read.values
        if sum(len(values[n]) for n in lists) > small:  # type: ignore[arg-type]
            rest.append(i)
            reasons["work limit check"] += 1
            continue
        by_day[day].append((i, values))
    columnar_names = [n for n in names if n in b.module.programs]
    row_names = tuple(n for n in names if n not in b.module.programs)
    if row_names:
        reasons["programs not supported (" + ", ".join(row_names) + ")"] += sum(len(g) for g in by_day.values())
    hh: dict[int, Mapping[str, Any]] = {i: h for i, _, h in rows}
    day_of: dict[int, dt.date] = {i: day for i, day, _ in rows}
    partial: dict[int, tuple[str, ...]] = {}  # decided by columns but for some programs
    for day, group in by_day.items():
        try:
            marked = _run(b, day, group, columnar_names, result)
        except Exception:  # a bug of the columnar code must cost speed, never a result
            marked = {i: tuple(columnar_names) for i, _ in group}
            reasons["columnar code failed"] += len(marked)
        for i, _ in group:
            left = marked.get(i, ())
            if len(left) == len(columnar_names) and (left or not columnar_names):
                result.outcomes[i] = None
                rest.append(i)
                if left:
                    reasons["marked by the columnar code"] += 1
                continue
            if left:
                reasons["programs marked by the columnar code"] += 1
            if not left and not row_names:
                result.columnar += 1
            if left or row_names:
                partial[i] = (*left, *row_names)
    for i, todo in partial.items():  # the programs left, by the row engine, merged in
        decision = engine.decide(hh[i], day_of[i], todo, trace=False)
        out = result.outcomes[i]
        assert out is not None
        for name, p in decision.programs.items():
            out[name] = _outcome(p)
        result.outcomes[i] = {n: out[n] for n in names}
    if row_decide is not None:
        return rest
    for i in rest:
        try:
            decision = engine.decide(hh[i], day_of[i], names, trace=False)
        except InputError as e:
            result.errors[i] = e
            continue
        result.outcomes[i] = {name: _outcome(p) for name, p in decision.programs.items()}
    return rest


def _outcome(p: Any) -> Outcome:
    return Outcome(p.eligible, p.amount, p.tier, None if p.error is None else str(p.error),
                   p.unknown if p.undetermined else ())


def _run(b: ColumnarBackend, day: dt.date, group: list[tuple[int, dict[str, Any]]], names: list[str],
         result: ColumnarResult) -> dict[int, tuple[str, ...]]:
    """Decide one date's households by columns; return the programs the row engine must decide, by index."""
    n = len(group)
    params, missing = b.params_on(day)
    C = Columns(n, day.year * 10000 + day.month * 100 + day.day, params)
    C.missing = missing
    bad_rows = _fill(b, C, [h for _, h in group])
    outs: dict[str, tuple[Any, ...]] = {}
    marks: dict[str, Any] = {}
    ns = b.ns
    for name in names:
        e_i, a_i, t_i, each = b.module.programs[name]
        axis = each or "h"
        C.sink = sink = np.zeros(n, dtype=bool)  # this program's marks
        e = ns["R"](C, e_i, ns[f"d{e_i}"], None, axis)
        a = None
        if a_i is not None:  # read where eligible, as the row engine does
            a = ns["R"](C, a_i, ns[f"d{a_i}"], e, axis)
            fen = _fen(C, a, axis)
            neg = e & (fen < 0)
            if neg.any():  # the row engine refuses a negative amount: its error, its words
                _mark_axis(C, neg, axis)
            a = np.where(e, fen, 0)
        t = ns["R"](C, t_i, ns[f"d{t_i}"], None, axis) if t_i is not None else None
        marks[name] = sink | bad_rows
        if each is not None:
            seg_sum = np.zeros(n, dtype=np.int64)
            if a is not None:
                np.add.at(seg_sum, C.seg[each], a)
            any_e = np.zeros(n, dtype=bool)
            np.logical_or.at(any_e, C.seg[each], e)
            outs[name] = (any_e, seg_sum if a is not None else None, None)
        else:
            outs[name] = (e, a, t)
    texts = b.texts
    cols = {name: (e.tolist(), a.tolist() if a is not None else None, t.tolist() if t is not None else None,
                   marks[name].tolist())
            for name, (e, a, t) in outs.items()}
    marked: dict[int, tuple[str, ...]] = {}
    any_mark = np.zeros(n, dtype=bool)
    for m in marks.values():
        any_mark |= m
    flagged = set(np.flatnonzero(any_mark).tolist())
    for r, (i, _) in enumerate(group):
        row: dict[str, Outcome] = {}
        left: list[str] = []
        for name, (e, a, t, bad) in cols.items():
            if r in flagged and bad[r]:
                left.append(name)
                continue
            amount = b.amount(a[r]) if a is not None else None
            row[name] = Outcome(e[r], amount, texts[t[r]] if t is not None else None)
        result.outcomes[i] = row
        if left:
            marked[i] = tuple(left)
    return marked


def _mark_axis(C: Columns, rows: Any, axis: str) -> None:
    if axis == "h":
        C.sink |= rows
    else:
        C.sink[C.seg[axis][rows]] = True


def _fen(C: Columns, a: Any, axis: str) -> Any:
    n, d, _ = a
    if isinstance(d, np.ndarray) or d != 100:  # an amount is rounded to fen: d is 100 by construction
        raise AssertionError("an amount not in fen")
    return np.broadcast_to(np.asarray(n, dtype=np.int64), (C.size(axis),))


def _fill(b: ColumnarBackend, C: Columns, hs: list[dict[str, Any]]) -> Any:
    """Fill the columns the generated code reads from validated households; return rows that cannot be held."""
    n = len(hs)
    bad = np.zeros(n, dtype=bool)
    m = b.module
    for field, ftype in m.facts.items():
        den = m.scales.get((None, field), 1)
        C.H[field] = _column(b, [h[field] for h in hs], ftype, den, bad, None)
    for lst, fields in m.lists.items():
        counts = np.fromiter((len(h[lst]) for h in hs), dtype=np.int64, count=n)  # type: ignore[arg-type]
        off = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=off[1:])
        C.N[lst] = counts
        C.off[lst] = off
        seg = np.repeat(np.arange(n, dtype=np.int64), counts)
        C.seg[lst] = C.up[("h", lst)] = seg
        C.parent[lst] = "h"
        records = [r for h in hs for r in h[lst]]  # type: ignore[attr-defined]
        cols: dict[str, Any] = {}
        for field, ftype in fields.items():
            den = m.scales.get((lst, field), 1)
            item_bad = np.zeros(len(records), dtype=bool)
            cols[field] = _column(b, [r[field] for r in records], ftype, den, item_bad, None)
            if item_bad.any():
                bad[seg[item_bad]] = True
        C.F[lst] = cols
    for outer, inner in m.pairs:  # each record of `outer` with each record of `inner` of its household
        axis = f"{outer}>{inner}"
        hh = C.seg[outer]
        per = C.N[inner][hh]  # pairs of each outer record
        off = np.zeros(len(hh) + 1, dtype=np.int64)
        np.cumsum(per, out=off[1:])
        first = np.repeat(np.arange(len(hh), dtype=np.int64), per)
        pos = np.arange(int(off[-1]), dtype=np.int64) - off[:-1][first]
        C.N[axis] = per
        C.off[axis] = off
        C.seg[axis] = C.up[("h", axis)] = hh[first]
        C.up[(outer, axis)] = first
        C.up[(inner, axis)] = C.off[inner][hh[first]] + pos
        C.parent[axis] = outer
    return bad


def _column(b: ColumnarBackend, values: list[Any], ftype: str, den: int, bad: Any, _: Any) -> Any:
    if ftype == "bool":
        return np.array(values, dtype=bool)
    if ftype == "date":
        return np.fromiter((v.year * 10000 + v.month * 100 + v.day for v in values), dtype=np.int64,
                           count=len(values))
    if ftype in ("enum", "text"):
        code = b.code
        return np.fromiter((code(v) for v in values), dtype=np.int64, count=len(values))
    out = np.zeros(len(values), dtype=np.int64)
    for k, v in enumerate(values):
        if v.__class__ is int and den == 1:
            out[k] = v
            continue
        scaled = Decimal(v) * den
        q = int(scaled)
        if q != scaled or abs(q) >= 2 ** 62:
            bad[k] = True  # more places than the columns hold: the row engine decides it
        else:
            out[k] = q
    return (out, den, None)


def _from_arrow(engine: Engine, table: Any, default: dt.date | None) -> tuple[list[Mapping[str, Any]],
                                                                             list[dt.date | None]]:
    from eligibility.scale.results import flat_record
    facts = engine.model.facts
    households: list[Mapping[str, Any]] = []
    days: list[dt.date | None] = []
    for row in table.to_pylist():
        try:
            record = flat_record(row, facts)
        except InputError:
            households.append({"\0invalid": True})
            days.append(default)
            continue
        households.append(record["household"])
        on = record.get("on")
        try:
            days.append(parse_date(on) if on is not None else default)
        except InputError:
            days.append(None)
    return households, days


__all__ = ["ColumnarBackend", "ColumnarResult", "Outcome", "backend", "decide_columns", "decide_block"]
