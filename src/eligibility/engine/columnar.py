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
from eligibility.engine.facts import constraints
from eligibility.engine.runtime import Engine, parse_date

#: Households decided by one columnar call at most (memory stays bounded with the batch size).
BLOCK = 65536

_BACKENDS: dict[int, ColumnarBackend] = {}
_ROUND: Any = HELPERS["ROUND"]
#: What a parameter with no value on the date reads as (its households are all marked).
_STAND_IN: dict[str, Any] = {"money": (0, 1, None), "decimal": (0, 1, None), "integer": (0, 1, None),
                             "bool": False, "date": 0, "enum": -1, "text": -1}
_LOCK = threading.Lock()
_CODES = threading.Lock()


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
        exec(compile(self.module.source, f"<columnar {engine.policy_hash[:12]}>", "exec"), ns)
        self.ns = ns
        self.strings: dict[str, int] = {s: i for i, s in enumerate(self.module.strings)}
        self.texts: list[str] = list(self.module.strings)
        self._params: dict[dt.date, tuple[dict[int, Any], frozenset[int]]] = {}
        self._amounts: dict[int, Decimal] = {}
        self._reads: dict[frozenset[str] | None, frozenset[tuple[str | None, str]]] = {}

    @property
    def unsupported(self) -> dict[str, str]:
        """Programs decided by the row engine, with the construct and where it stands."""
        return dict(self.module.unsupported)

    @property
    def supported(self) -> tuple[str, ...]:
        """Programs decided by columns."""
        return tuple(sorted(self.module.programs))

    def code(self, s: str) -> int:
        """The int code of a text (enum values and text interned: equal texts, equal codes)."""
        c = self.strings.get(s)
        if c is None:
            with _CODES:
                c = self.strings.get(s)
                if c is None:
                    self.texts.append(s)
                    c = self.strings[s] = len(self.texts) - 1
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

    def reads(self, programs: Any = None) -> frozenset[tuple[str | None, str]]:
        """The fields the code of these programs reads (all programs: None), as (None, field) or (list, field)."""
        key = None if programs is None else frozenset(programs)
        hit = self._reads.get(key)
        if hit is None:
            hit = self._reads[key] = self.module.fields_read(self.module.programs if key is None else key)
        return hit

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


def decide_columns(engine: Engine, households: Sequence[Mapping[str, Any]], on: object = None,
                   programs: Iterable[str] | None = None) -> ColumnarResult:
    """Decide household mappings on a date, as the row engine would (Arrow tables: `decide_table`).

    Raises:
        InputError: an unknown program or a bad date.
    """
    names = engine.programs if programs is None else engine.check_programs(programs)
    default = None if on is None else parse_date(on)
    days: list[dt.date | None]
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
        if sum(len(values[n]) for n in lists) > small:  # type: ignore[arg-type, misc]
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
    return Outcome(p.eligible, p.amount, p.tier, None if p.error is None else p.error.english,
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
    """An amount in fen, as `_money` makes it: quantized to 0.01 half up (a no-op for an amount in fen)."""
    if isinstance(a[1], np.ndarray) or a[1] != 100:
        a = _ROUND(C, a, 1, 100, "half_up", None, axis)
    return np.broadcast_to(np.asarray(a[0], dtype=np.int64), (C.size(axis),))


def _fill(b: ColumnarBackend, C: Columns, hs: list[dict[str, Any]]) -> Any:
    """Fill the columns the generated code reads from validated households; return rows that cannot be held."""
    n = len(hs)
    bad = np.zeros(n, dtype=bool)
    m = b.module
    for field, ftype in m.facts.items():
        den = m.scales.get((None, field), 1)
        C.H[field] = _column(b, [h[field] for h in hs], ftype, den, bad, None)
    for lst, fields in m.lists.items():
        counts = np.fromiter((len(h[lst]) for h in hs), dtype=np.int64, count=n)
        off = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=off[1:])
        C.N[lst] = counts
        C.off[lst] = off
        seg = np.repeat(np.arange(n, dtype=np.int64), counts)
        C.seg[lst] = C.up[("h", lst)] = seg
        C.parent[lst] = "h"
        records = [r for h in hs for r in h[lst]]
        cols: dict[str, Any] = {}
        for field, ftype in fields.items():
            den = m.scales.get((lst, field), 1)
            item_bad = np.zeros(len(records), dtype=bool)
            cols[field] = _column(b, [r[field] for r in records], ftype, den, item_bad, None)
            if item_bad.any():
                bad[seg[item_bad]] = True
        C.F[lst] = cols
    _pair_axes(C, m.pairs)
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




# --- Arrow input: columns validated vectorised, the rows that are not plainly valid as mappings ---------


def _ymd_of_days_many(days: Any) -> Any:
    """`_ymd_of_days` of many days: computed once for each day of their range, then looked up."""
    if len(days) < 1024:
        return _ymd_of_days(days)
    lo, hi = int(days.min()), int(days.max())
    if hi - lo >= len(days):  # a range wider than the values: no gain
        return _ymd_of_days(days)
    return _ymd_of_days(np.arange(lo, hi + 1, dtype=np.int64))[days - lo]


def _one_chunk(col: Any) -> Any:
    """A chunked column as one array (no copy when it is one chunk already)."""
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


def _valid(arr: Any, n: int) -> Any:
    """The rows of an array that hold a value (not null), from its validity bitmap."""
    if arr.null_count == 0:
        return np.ones(n, dtype=bool)
    if arr.type.id == 0 or arr.buffers()[0] is None:  # null type; a union or dictionary without bitmap
        return ~np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    bits = np.unpackbits(np.frombuffer(arr.buffers()[0], dtype=np.uint8), bitorder="little")
    return bits[arr.offset: arr.offset + len(arr)].astype(bool)


def _arrow_rows(table: Any) -> Any:
    import pyarrow as pa
    if isinstance(table, pa.RecordBatch):
        return pa.Table.from_batches([table])
    return table


def _np(arr: Any, dtype: Any) -> Any:
    """A pyarrow array with no nulls (they were filled) as numpy."""
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=dtype)


def _unscaled(arr: Any) -> Any:
    """The unscaled int64 values of a decimal128 array where they fit int64 (null slots: anything)."""
    words = np.frombuffer(arr.buffers()[1], dtype=np.int64)[2 * arr.offset: 2 * (arr.offset + len(arr))]
    low, high = words[0::2], words[1::2]
    return low, high == (low >> 63)


def _bools(arr: Any) -> Any:
    """bool values of a boolean array (null slots: anything)."""
    bits = np.unpackbits(np.frombuffer(arr.buffers()[1], dtype=np.uint8), bitorder="little")
    return bits[arr.offset: arr.offset + len(arr)].astype(bool)


def _int32s(arr: Any) -> Any:
    """int32 storage of an array (date32, dictionary indices) as int64 (null slots: anything)."""
    return np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset: arr.offset + len(arr)].astype(np.int64)


def _ints(arr: Any) -> Any:
    """int64 values of an integer array (null slots: anything)."""
    import pyarrow as pa
    if arr.type != pa.int64():
        arr = arr.cast(pa.int64())
    return np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + len(arr)]


def _arrow_column(b: ColumnarBackend, arr: Any, spec: Any, den: int, n: int, top: bool = True,
                  need: bool = True) -> tuple[Any, Any]:
    """(values as generated code reads them, rows plainly valid) of one field's column (nulls: absent).

    An empty text cell of a household field is a field not given (as `flat_record` reads it); in a
    record of a list it is the empty text.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    t = spec.type
    ok = np.ones(n, dtype=bool)
    if arr is None:
        arr = pa.nulls(n)
    if top and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        empty = pc.equal(arr, "")
        arr = pc.if_else(empty, pa.scalar(None, arr.type), arr)
    typ = arr.type
    if typ == pa.null():  # not given anywhere: the default (or unknown)
        return _absent(b, spec, den, n, ok)
    given = _valid(arr, n)
    if spec.required:
        ok &= given  # absent with no default: unknown (the row engine says so)
    if t in ("money", "decimal", "integer"):
        fast = _numbers_within(arr, spec, den, n, given, ok, need)
        if fast is not None:
            return fast
        out = np.zeros(n, dtype=np.int64)
        if pa.types.is_integer(typ) and not pa.types.is_unsigned_integer(typ):
            raw = _ints(arr)
            limit = 10 ** 15
            good = np.abs(raw) <= limit
            if t == "money":
                good &= raw >= 0
                good &= raw < limit
            good &= np.abs(raw) <= (2 ** 62 - 1) // den  # the value in the column's unit fits int64
            out = np.where(good, raw, 0) * den
            ok &= good | ~given
        elif pa.types.is_decimal128(typ) and typ.scale >= 0 and t != "integer":
            raw, fits = _unscaled(arr)
            good = fits
            if t == "money":
                good &= (raw >= 0) & (np.abs(raw) < 10 ** 15 * 10 ** typ.scale)
            if den % (10 ** typ.scale) == 0:
                factor = den // (10 ** typ.scale)
                good &= np.abs(raw) < 2 ** 62 // factor
                out = np.where(good, raw, 0) * factor
            else:  # more places than the value holds: plain where the extra places are zeros
                extra = 10 ** typ.scale // den
                good &= raw % extra == 0
                out = np.where(good, raw // extra, 0)
            ok &= good | ~given
        elif typ != pa.null():
            ok &= ~given  # other types (text, floats, ...): read as the row engine reads them, one by one
        if spec.minimum is not None:
            lo = spec.minimum * den
            ok &= (out >= int(lo)) | ~given if lo == int(lo) else ~given
        if spec.maximum is not None:
            hi = spec.maximum * den
            ok &= (out <= int(hi)) | ~given if hi == int(hi) else ~given
        if not given.all() and spec.default is not None:
            dflt = Decimal(spec.default) * den
            out = np.where(given, out, int(dflt))
        return (out, den, None), ok
    if t == "bool":
        if pa.types.is_boolean(typ) and not need:  # a bool of the right type is plainly valid
            return None, ok
        if pa.types.is_boolean(typ):
            vals = _bools(arr)
        else:
            vals = np.zeros(n, dtype=bool)
            ok &= ~given
        if spec.default is not None and arr.null_count:
            vals = np.where(given, vals, bool(spec.default))
        return vals, ok
    if t == "date":
        if pa.types.is_date32(typ) and not need:  # a date of the right type is plainly valid
            return None, ok
        if pa.types.is_date32(typ):
            days = np.where(given, _int32s(arr), 0)
            vals = _ymd_of_days_many(days)
        else:
            vals = np.zeros(n, dtype=np.int64)
            ok &= ~given
        if spec.default is not None and not given.all():
            d = dt.date.fromisoformat(str(spec.default)) if not isinstance(spec.default, dt.date) else spec.default
            vals = np.where(given, vals, d.year * 10000 + d.month * 100 + d.day)
        return vals, ok
    if t in ("enum", "text"):
        if pa.types.is_dictionary(typ) and (pa.types.is_string(typ.value_type)
                                            or pa.types.is_large_string(typ.value_type)) \
                and arr.dictionary.null_count == 0 and pa.types.is_integer(typ.index_type):
            return _dictionary_codes(b, arr, spec, n, top, given, ok, need)
        if pa.types.is_dictionary(typ):
            arr = arr.cast(typ.value_type)
            typ = arr.type
        if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
            ok &= ~given
            codes = np.full(n, b.code(str(spec.default)) if spec.default is not None else -1, dtype=np.int64)
            return codes, ok
        if not need:  # only checked: a known value of the enum, text not too long
            if t == "enum":
                inside = pc.is_in(arr, value_set=pa.array([v for v, _ in spec.values], typ))
            else:
                inside = pc.less_equal(pc.utf8_length(arr), 256)
                if spec.name == "id":
                    inside = pc.and_(inside, pc.not_equal(arr, ""))
            ok &= _bools(inside) | ~given
            return None, ok
        if t == "enum":  # the position of each value among the enum's, once per column (null: not one)
            allowed = [v for v, _ in spec.values]
            pos = pc.index_in(arr, value_set=pa.array(allowed, typ))
            found = np.ones(n, dtype=bool) if pos.null_count == 0 else \
                ~np.asarray(pos.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            ok &= found | ~given
            dflt_code = b.code(str(spec.default)) if spec.default is not None else -1
            lookup = np.array([*(b.code(w) for w in allowed), dflt_code], dtype=np.int64)
            raw = _int32s(pos) if pos.type == pa.int32() else _ints(pos)
            return lookup[np.where(found, raw, len(allowed))], ok
        enc = pc.dictionary_encode(arr)
        words = enc.dictionary.to_pylist()
        table = np.array([b.code(w) for w in words] + [-1], dtype=np.int64)
        indices = enc.indices
        raw = _int32s(indices) if indices.type == pa.int32() else _ints(indices)
        idx = np.where(given, raw, len(words))
        codes = table[idx]
        long = np.array([len(w) > 256 or (w == "" and spec.name == "id") for w in words] + [False], dtype=bool)
        ok &= ~long[idx]
        if spec.default is not None and not given.all():
            codes = np.where(given, codes, b.code(str(spec.default)))
        return codes, ok
    ok &= ~given
    return np.zeros(n, dtype=np.int64), ok


def _dictionary_codes(b: ColumnarBackend, arr: Any, spec: Any, n: int, top: bool, given: Any,
                      ok: Any, need: bool = True) -> tuple[Any, Any]:
    """Codes of a dictionary-encoded text column (as Parquet's dictionary pages give it): each word checked once."""
    import pyarrow as pa
    words = arr.dictionary.to_pylist()
    if spec.type == "enum":
        allowed = {v for v, _ in spec.values}
        bad = [w not in allowed for w in words]
    else:
        bad = [len(w) > 256 or (w == "" and spec.name == "id") for w in words]
    bad_word = np.array([*bad, False], dtype=bool)
    indices = arr.indices
    raw = _int32s(indices) if indices.type == pa.int32() else _ints(indices)
    idx = np.where(given, raw, len(words)) if not given.all() else raw
    if top and "" in words:  # an empty household cell is a field not given (as `flat_record` reads it)
        given = given & (idx != words.index(""))
        if spec.required:
            ok &= given
        idx = np.where(given, idx, len(words))
    ok &= ~bad_word[idx]
    if not need:  # only checked: its words are not interned
        return None, ok
    dflt = b.code(str(spec.default)) if spec.default is not None else -1
    lookup = np.array([*(b.code(w) for w in words), dflt], dtype=np.int64)
    return lookup[idx], ok


def _numbers_within(arr: Any, spec: Any, den: int, n: int, given: Any, ok: Any, need: bool) -> tuple[Any, Any] | None:
    """A numeric column whose smallest and largest values are plainly valid: every value is (one reduction).

    None when a per-value check is needed (a value out of bounds, more places than the column holds,
    a type read one by one): `_arrow_column` checks each value then.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    typ = arr.type
    t = spec.type
    if pa.types.is_integer(typ) and not pa.types.is_unsigned_integer(typ):
        scale, factor = 0, den
        lo, hi = Decimal(-10 ** 15), Decimal(10 ** 15 - 1 if t == "money" else 10 ** 15)
    elif pa.types.is_decimal128(typ) and typ.scale >= 0 and t != "integer" and den % (10 ** typ.scale) == 0:
        scale, factor = typ.scale, den // (10 ** typ.scale)
        lo, hi = Decimal(-(2 ** 62 // factor - 1)).scaleb(-scale), Decimal(2 ** 62 // factor - 1).scaleb(-scale)
        if t == "money":
            hi = min(hi, Decimal(10 ** (15 + scale) - 1).scaleb(-scale))
    else:
        return None
    if t == "money":
        lo = max(lo, Decimal(0))
    hi = min(hi, Decimal((2 ** 62 - 1) // den))  # the value in the unit of the columns fits int64
    lo = max(lo, Decimal(-((2 ** 62 - 1) // den)))
    if spec.minimum is not None:
        if (spec.minimum * den) != int(spec.minimum * den):
            return None
        lo = max(lo, Decimal(spec.minimum))
    if spec.maximum is not None:
        if (spec.maximum * den) != int(spec.maximum * den):
            return None
        hi = min(hi, Decimal(spec.maximum))
    if len(arr) - arr.null_count:
        mm = pc.min_max(arr)
        mn, mx = mm["min"].as_py(), mm["max"].as_py()
        if not (lo <= Decimal(mn) and Decimal(mx) <= hi):
            return None
    if not need:
        out = np.zeros(n, dtype=np.int64)
    elif scale:
        out = _unscaled(arr)[0] * factor if factor != 1 else _unscaled(arr)[0].copy()
    else:
        out = _ints(arr) * factor
    if need and not given.all():
        out = np.where(given, out, int(Decimal(spec.default) * den) if spec.default is not None else 0)
    return (out, den, None), ok


def _absent(b: ColumnarBackend, spec: Any, den: int, n: int, ok: Any) -> tuple[Any, Any]:
    """A field given in no row: its default everywhere, or unknown (not plain) when it has none."""
    if spec.required:  # unknown: not plain; stand-ins of the type for the columns
        ok = np.zeros(n, dtype=bool)
    d = spec.default
    if spec.type in ("money", "decimal", "integer"):
        return (np.full(n, int(Decimal(d if d is not None else 0) * den), dtype=np.int64), den, None), ok
    if spec.type == "bool":
        return np.full(n, bool(d)), ok
    if spec.type == "date":
        day = d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)) if d is not None else None
        return np.full(n, day.year * 10000 + day.month * 100 + day.day if day else 0, dtype=np.int64), ok
    if spec.type in ("enum", "text"):
        return np.full(n, b.code(str(d)) if d is not None else -1, dtype=np.int64), ok
    return None, ok


def _ymd_of_days(days: Any) -> Any:
    """yyyymmdd of days since 1970-01-01 (Howard Hinnant's civil_from_days)."""
    z = days + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    y = y + (m <= 2)
    return y * 10000 + m * 100 + d


def _fill_arrow(b: ColumnarBackend, C: Columns, table: Any, programs: Any = None) -> Any:
    """Fill the columns from an Arrow table (nested layout); return the rows that are plainly valid and known.

    Every field is checked; only those the code of `programs` reads (all programs: None) are converted.
    """
    import pyarrow as pa
    facts = b.engine.model.facts
    wanted = b.reads(programs)
    n = table.num_rows
    ok = np.ones(n, dtype=bool)
    known = {f.name for f in facts.fields} | {"id", "on"}
    for name in table.column_names:
        if name not in known:  # a `household` column or an unknown field: each row as a mapping
            ok[:] = False
    m = b.module
    for spec in facts.fields:
        col = _one_chunk(table.column(spec.name)) if spec.name in table.column_names else None
        if spec.type != "list":
            vals, good = _arrow_column(b, col, spec, m.scales.get((None, spec.name), 1), n,
                                       need=(None, spec.name) in wanted)
            ok &= good
            if (None, spec.name) in wanted:
                C.H[spec.name] = vals
            continue
        if col is None:
            col = pa.nulls(n, pa.list_(pa.struct([])))
        if not (pa.types.is_list(col.type) or pa.types.is_large_list(col.type)) \
                or not pa.types.is_struct(col.type.value_type):
            ok &= np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool) if col.type != pa.null() \
                else np.ones(n, dtype=bool)
            col = pa.nulls(n, pa.list_(pa.struct([])))
        nulls = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        if nulls.any() and (spec.required or spec.default):
            ok &= ~nulls  # required: unknown or an error; a default with records: as mappings
        offsets = np.asarray(col.offsets.to_numpy(), dtype=np.int64)  # a null list: no records (checked)
        values = col.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        off = offsets - offsets[0]
        counts = np.diff(off)
        if nulls.any():
            ok &= ~(nulls & (counts != 0))  # Arrow allows a null list over records: read it as a mapping
        ok &= (counts >= spec.min_items) & (counts <= spec.max_items)
        seg = np.repeat(np.arange(n, dtype=np.int64), counts)
        size = len(seg)
        item_ok = np.ones(size, dtype=bool)
        if values.null_count:
            item_ok &= ~np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        inner = {f.name for f in spec.fields}
        struct = values.type
        for k in range(struct.num_fields):  # a field that is not in the vocabulary, where given
            if struct.field(k).name not in inner:
                item_ok &= np.asarray(values.field(k).is_null().to_numpy(zero_copy_only=False), dtype=bool)
        cols: dict[str, Any] = {}
        codes_of: dict[str, Any] = {}
        keys = {str(c.field) for c in constraints(spec) if c.field}
        for f in spec.fields:
            child = values.field(f.name) if struct.get_field_index(f.name) >= 0 else None
            vals, good = _arrow_column(b, child, f, m.scales.get((spec.name, f.name), 1), size, top=False,
                                       need=(spec.name, f.name) in wanted or f.name in keys)
            item_ok &= good
            if (spec.name, f.name) in wanted:
                cols[f.name] = vals
            if f.type in ("enum", "text", "bool", "integer"):
                codes_of[f.name] = vals[0] if isinstance(vals, tuple) else vals
        if not item_ok.all():
            ok[seg[~item_ok]] = False
        for c in constraints(spec):
            if c.kind == "max_items":
                ok &= counts <= (c.maximum if c.maximum is not None else counts.max(initial=0))
                continue
            field_vals = codes_of.get(str(c.field))
            if field_vals is None:
                ok[:] = False
                continue
            if c.kind == "unique":
                order = np.lexsort((field_vals, seg))
                same = (np.diff(seg[order]) == 0) & (np.diff(field_vals[order]) == 0)
                ok[seg[order][1:][same]] = False
            else:  # count_where
                target = c.value
                spec_f = spec.field(str(c.field))
                if isinstance(target, str):
                    want = b.code(target)
                elif isinstance(target, bool) and spec_f is not None and spec_f.type == "bool":
                    want = target
                else:
                    ok[:] = False
                    continue
                hits = np.bincount(seg[field_vals == want], minlength=n)
                lo = c.minimum if c.minimum is not None else 0
                ok &= hits >= lo
                if c.maximum is not None:
                    ok &= hits <= c.maximum
        if spec.name in m.lists or any(spec.name in (o, i) for o, i in m.pairs):
            C.N[spec.name] = counts
            C.off[spec.name] = off
            C.seg[spec.name] = C.up[("h", spec.name)] = seg
            C.parent[spec.name] = "h"
            C.F[spec.name] = cols
    _pairs(C, m)
    return ok


def _pairs(C: Columns, m: ColumnarModule) -> None:
    _pair_axes(C, m.pairs)


@attrs.define
class Arrays:
    """Columnar outcomes of a table on one date: per program (eligible, amount in fen or None, tier codes or None),
    the rows decided by columns for it (`done`), and the rows to read as mappings (`rows`: not plainly valid)."""

    eligible: dict[str, Any]
    amount: dict[str, Any]
    tier: dict[str, Any]
    done: dict[str, Any]
    plain: Any


def _pair_axes(C: Columns, pairs: Iterable[tuple[str, str]]) -> None:
    """Add an axis for each (outer, inner) pair of lists: each record of `outer` with each record of
    `inner` of its household (a generator over one list inside a per-record rule of another)."""
    for outer, inner in pairs:
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


def decide_arrays(engine: Engine, table: Any, on: dt.date, programs: Sequence[str]) -> Arrays:
    """Decide a table's rows on one date by columns only: the arrays, with where each program was decided."""
    programs = tuple(programs)
    b = backend(engine)
    table = _arrow_rows(table)
    n = table.num_rows
    params, missing = b.params_on(on)
    C = Columns(n, on.year * 10000 + on.month * 100 + on.day, params)
    C.missing = missing
    plain = _fill_arrow(b, C, table, programs)
    plain &= _other_lists_small(table, engine)  # the row engine counts the work of larger households
    out = Arrays({}, {}, {}, {}, plain)
    ns = b.ns
    with np.errstate(all="ignore"):
        for name in programs:
            if name not in b.module.programs:
                out.done[name] = np.zeros(n, dtype=bool)
                continue
            e_i, a_i, t_i, each = b.module.programs[name]
            axis = each or "h"
            C.sink = sink = np.zeros(n, dtype=bool)
            e = ns["R"](C, e_i, ns[f"d{e_i}"], None, axis)
            a = None
            if a_i is not None:
                a = ns["R"](C, a_i, ns[f"d{a_i}"], e, axis)
                fen = _fen(C, a, axis)
                neg = e & (fen < 0)
                if neg.any():
                    _mark_axis(C, neg, axis)
                a = np.where(e, fen, 0)
            t = ns["R"](C, t_i, ns[f"d{t_i}"], None, axis) if t_i is not None else None
            if each is not None:
                total = np.zeros(n, dtype=np.int64)
                if a is not None:
                    total = _sum_to(C, each, a)
                e = _sum_to(C, each, e.astype(np.int64)) > 0
                a = total if a is not None else None
                t = None
            out.eligible[name], out.amount[name], out.tier[name] = e, a, t
            out.done[name] = plain & ~sink
    return out


def _sum_to(C: Columns, lst: str, vals: Any) -> Any:
    cs = np.zeros(len(vals) + 1, dtype=np.int64)
    np.cumsum(vals, out=cs[1:])
    off = C.off[lst]
    return cs[off[1:]] - cs[off[:-1]]


def _other_lists_small(table: Any, engine: Engine) -> Any:
    import pyarrow.compute as pc
    n = table.num_rows
    sizes = np.zeros(n, dtype=np.int64)
    for f in engine._list_fields:
        if f in table.column_names:
            col = _one_chunk(table.column(f))
            try:
                sizes += np.asarray(pc.fill_null(pc.list_value_length(col), 0).to_numpy(zero_copy_only=False),
                                    dtype=np.int64)
            except Exception:
                return np.zeros(n, dtype=bool)
    return sizes <= engine._small


def decide_table(engine: Engine, table: Any, on: object = None, programs: Iterable[str] | None = None, *,
                 read_row: Any) -> ColumnarResult:
    """Decide an Arrow table (nested layout) as the row engine would: columns where plain, mappings elsewhere.

    `read_row(row, facts)` turns a row (a dict of cells) into the record batch reads from it
    (`eligibility.scale.results.flat_record`; `eligibility.scale.columnar.decide_table` passes it).
    """
    names = engine.programs if programs is None else engine.check_programs(programs)
    default = None if on is None else parse_date(on)
    table = _arrow_rows(table)
    n = table.num_rows
    result = ColumnarResult([None] * n, {})
    days = _table_days(table, default)
    rows_by_day: dict[dt.date | None, list[int]] = collections.defaultdict(list)
    for i, d in enumerate(days):
        rows_by_day[d].append(i)
    slow: list[int] = []
    with decimal.localcontext(ENGINE_CONTEXT):
        for day, idx in rows_by_day.items():
            if day is None:
                slow.extend(idx)
                continue
            sub = table.take(idx) if len(idx) != n else table
            try:
                plain, all_done, decided = decide_rows(engine, sub, day, names)
            except Exception:  # a bug of the columnar code must cost speed, never a result
                result.fallback["columnar code failed"] += len(idx)
                slow.extend(idx)
                continue
            not_plain = np.flatnonzero(~plain).tolist()
            slow.extend(idx[r] for r in not_plain)
            outcomes = result.outcomes
            for r in np.flatnonzero(plain).tolist():
                outcomes[idx[r]] = decided[r]
            result.columnar += int(all_done.sum())
            left = np.flatnonzero(plain & ~all_done).tolist()  # decided by columns but for some programs
            if left:
                hs = _mappings(engine, sub.take(left), read_row)
                for r, h in zip(left, hs, strict=True):
                    out = decided[r]
                    todo = tuple(name for name in names if out[name] is None)
                    result.fallback["programs marked by the columnar code"] += 1
                    decision = engine.decide(h, day, todo, trace=False)
                    for name, p in decision.programs.items():
                        out[name] = _outcome(p)
    if slow:  # rows to read as mappings: the dict path, which validates as the row engine does
        slow.sort()
        hs = _mappings(engine, table.take(slow), read_row)
        sub_days = [days[i] for i in slow]
        rows = []
        for i, h, d in zip(slow, hs, sub_days, strict=True):
            if d is None:
                from eligibility.base.errors import InputProblem
                result.errors[i] = InputError([InputProblem("on", "missing", "no decision date")])
                continue
            if isinstance(h, InputError):
                result.errors[i] = h
                continue
            rows.append((i, d, h))
        result.fallback["rows read as mappings"] += len(rows)
        with decimal.localcontext(ENGINE_CONTEXT):
            decide_block(engine, rows, names, result)
    return result


def decide_rows(engine: Engine, table: Any, day: dt.date,
                names: tuple[str, ...]) -> tuple[Any, Any, list[dict[str, Any]]]:
    """Decide a table's rows on one date by columns (`decide_arrays`), as outcome objects.

    Returns whether each row is plainly valid (numpy bool array), whether the columns decided every
    program of it, and each row's {program: Outcome}, in the order of `names`, where None means
    the row engine decides that program (a row not plainly valid is to be decided by the row engine
    whole).
    """
    b = backend(engine)
    arrays = decide_arrays(engine, table, day, names)
    plain = arrays.plain
    all_done = plain.copy()
    cols = []
    for name in names:
        all_done &= arrays.done[name]
        cols.append(_outcome_objects(b, arrays, name))
    rows = list(map(_row_maker(names), *cols)) if cols else [{} for _ in range(table.num_rows)]
    return plain, all_done, rows


def _outcome_objects(b: ColumnarBackend, arrays: Arrays, name: str) -> list[Outcome | None]:
    """One program's outcome of each row as an `Outcome` (None where not decided by columns): one object for
    each distinct outcome, shared by the rows that have it (an `Outcome` is frozen)."""
    done = arrays.done[name]
    n = len(done)
    if name not in arrays.eligible:
        return [None] * n
    e, a, t = arrays.eligible[name], arrays.amount.get(name), arrays.tier.get(name)
    keys = [done.astype(np.int64), e.astype(np.int64)]
    if a is not None:
        keys.append(np.asarray(a, dtype=np.int64))
    if t is not None:
        keys.append(np.asarray(t, dtype=np.int64))
    if n == 0:
        return []
    distinct, inverse = _distinct_rows(keys)
    objs: list[Outcome | None] = []
    for row in distinct:
        if not row[0]:
            objs.append(None)
            continue
        k = 2
        amount = None
        if a is not None:
            amount = b.amount(row[k])
            k += 1
        objs.append(Outcome(bool(row[1]), amount, b.texts[row[k]] if t is not None else None))
    return [objs[k] for k in np.asarray(inverse).reshape(-1).tolist()]


def _distinct_rows(keys: list[Any]) -> tuple[list[list[int]], Any]:
    """The distinct rows of equal-length int64 columns (as lists) and each row's index among them."""
    n = len(keys[0])
    lows = [int(k.min()) for k in keys]
    spans = [int(k.max()) - lo + 1 for k, lo in zip(keys, lows, strict=True)]
    total = 1
    for sp in spans:
        total *= sp
    if total >= 2 ** 62:  # too wide for one int64 key: rows sorted as they are
        table = np.stack(keys, axis=1)
        distinct, inverse = np.unique(table, axis=0, return_inverse=True)
        return distinct.tolist(), np.asarray(inverse).reshape(-1)
    key = np.zeros(n, dtype=np.int64)
    for k, lo, sp in zip(keys, lows, spans, strict=True):  # mixed radix: one int64 per row, in row order
        key = key * sp + (k - lo)
    if total <= 4 * n:  # a dense table of the keys: no sort
        present = np.zeros(total, dtype=bool)
        present[key] = True
        uniq = np.flatnonzero(present)
        rank = np.cumsum(present) - 1
        inverse = rank[key]
    else:
        uniq, inverse = np.unique(key, return_inverse=True)
    cols = []
    rest = uniq.astype(np.int64)
    for lo, sp in zip(reversed(lows), reversed(spans), strict=True):
        cols.append(rest % sp + lo)
        rest = rest // sp
    cols.reverse()
    return np.stack(cols, axis=1).tolist(), inverse


_ROW_MAKERS: dict[tuple[str, ...], Any] = {}


def _row_maker(names: tuple[str, ...]) -> Any:
    """A function of one outcome a program (in `names` order) returning the row's {program: outcome} dict."""
    f = _ROW_MAKERS.get(names)
    if f is None:
        args = ", ".join(f"a{k}" for k in range(len(names)))
        items = ", ".join(f"N[{k}]: a{k}" for k in range(len(names)))
        ns: dict[str, Any] = {"N": names}
        exec(f"def make({args}):\n    return {{{items}}}\n", ns)  # names by index: no text of them in code
        f = _ROW_MAKERS[names] = ns["make"]
    return f


def _mappings(engine: Engine, table: Any, read_row: Any) -> list[Any]:
    out: list[Any] = []
    for row in table.to_pylist():
        try:
            out.append(read_row(row, engine.model.facts)["household"])
        except InputError as e:
            out.append(e)
    return out


def _table_days(table: Any, default: dt.date | None) -> list[dt.date | None]:
    n = table.num_rows
    if "on" not in table.column_names:
        return [default] * n
    out: list[dt.date | None] = []
    for v in table.column("on").to_pylist():
        if v is None or v == "":
            out.append(default)
        elif isinstance(v, dt.date) and not isinstance(v, dt.datetime):
            out.append(v)
        else:
            try:
                out.append(parse_date(v))
            except InputError:
                out.append(None)
    return out


__all__ = ["Arrays", "ColumnarBackend", "ColumnarResult", "Outcome", "backend", "decide_arrays", "decide_block",
           "decide_columns", "decide_rows", "decide_table"]
