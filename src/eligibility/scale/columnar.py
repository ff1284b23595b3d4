"""The columnar backend on Arrow tables and Parquet files, with batch's reading of a row (`flat_record`).

`decide_table(engine, table, on, programs)` decides every row of a pyarrow Table or RecordBatch in
the nested layout (a column a household field, lists of records as list<struct> columns, optional
`id` and `on` columns) exactly as the row engine would: see `eligibility.engine.columnar`.
"""

from __future__ import annotations

import collections
import datetime as dt
import decimal
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from eligibility.base.errors import InputError
from eligibility.base.numbers import ENGINE_CONTEXT
from eligibility.engine.columnar import ColumnarResult, decide_rows
from eligibility.engine.columnar import decide_table as _decide_table
from eligibility.engine.runtime import Engine, parse_date
from eligibility.scale.results import BatchResult, ProgramOutcome, flat_record
from eligibility.scale.stream import Job, _waits, decide_item


def decide_table(engine: Engine, table: Any, on: object = None,
                 programs: Iterable[str] | None = None) -> ColumnarResult:
    """Decide an Arrow table's rows; a row that is not plainly valid is read as batch reads it (`flat_record`).

    Raises:
        InputError: an unknown program or a bad date.
    """
    return _decide_table(engine, table, on, programs, read_row=flat_record)


def nested_row(engine: Engine, household: dict[str, Any]) -> dict[str, Any]:
    """A household (JSON-like values) as a row of the nested layout holds it, for `pyarrow.array`.

    Money and decimal facts given as text or numbers become `Decimal`s (decimal128 in Arrow), dates
    given as text become `datetime.date`s (date32), lists of records stay lists of dicts
    (list<struct>); anything else is kept as it is, so that a value the row engine would refuse
    still reaches it (the row is then decided, and refused, by the row engine).
    """
    facts = engine.model.facts

    def value(spec: Any, v: Any) -> Any:
        if v is None or spec is None:
            return v
        if spec.type in ("money", "decimal") and isinstance(v, str | int | float) and not isinstance(v, bool):
            try:
                return decimal.Decimal(str(v))
            except decimal.InvalidOperation:
                return v
        if spec.type == "date" and isinstance(v, str):
            try:
                return dt.date.fromisoformat(v)
            except ValueError:
                return v
        return v

    out: dict[str, Any] = {}
    for key, v in household.items():
        spec = facts.field(key)
        if spec is not None and spec.type == "list" and isinstance(v, list):
            out[key] = [{f: value(spec.field(f), x) for f, x in r.items()} if isinstance(r, dict) else r for r in v]
        else:
            out[key] = value(spec, v)
    return out


def nested_table(engine: Engine, households: Iterable[dict[str, Any]]) -> Any:
    """Households as a pyarrow Table in the nested layout (`nested_row` of each), ready for `decide_table`."""
    import pyarrow as pa

    return pa.Table.from_struct_array(pa.array([nested_row(engine, h) for h in households]))


def read_households(path: str) -> Any:
    """A Parquet file of households as a pyarrow Table, its text columns (nested too) as dictionary arrays.

    Parquet stores text in dictionary pages: read as they are, the words are decoded once, and the
    columnar backend checks and codes each word once (`decide_table` reads plain text columns too).
    """
    import pyarrow.parquet as pq

    return pq.read_table(path, read_dictionary=_text_paths(pq.read_schema(path)))


def _text_paths(schema: Any) -> list[str]:
    """The column paths of a schema's text columns (nested too), as `read_dictionary` names them."""
    import pyarrow as pa

    paths: list[str] = []

    def walk(prefix: str, typ: Any) -> None:
        if pa.types.is_string(typ) or pa.types.is_large_string(typ):
            paths.append(prefix)
        elif pa.types.is_list(typ) or pa.types.is_large_list(typ):
            walk(f"{prefix}.list.element", typ.value_type)
        elif pa.types.is_struct(typ):
            for k in range(typ.num_fields):
                walk(f"{prefix}.{typ.field(k).name}", typ.field(k).type)

    for field in schema:
        walk(field.name, field.type)
    return paths


def read_parquet(engine: Engine, path: str, on: object = None,
                 programs: Iterable[str] | None = None) -> ColumnarResult:
    """Decide every row of a Parquet file (nested layout) by `decide_table`."""
    return decide_table(engine, read_households(path), on, programs)


#: Rows of a Parquet file decided at a time by `batch_results` (memory stays bounded by it).
BATCH_ROWS = 8192


def nested_layout(engine: Engine, schema: Any) -> bool:
    """Whether a Parquet schema is in the nested layout: no `household` column, and no list field held as text.

    A file in the flat layout (what batch writes: a list field's JSON in a text cell) is read row by row.
    """
    import pyarrow as pa
    for field in schema:
        if field.name == "household":
            return False
        spec = engine.model.facts.field(field.name)
        if spec is not None and spec.type == "list" and not (pa.types.is_list(field.type)
                                                             or pa.types.is_large_list(field.type)):
            return False
    return True


def batch_results(engine: Engine, job: Job, path: str, skip: int = 0, counts: collections.Counter[str] | None = None,
                  batch_rows: int = BATCH_ROWS) -> Iterator[BatchResult]:
    """Decide the rows of a Parquet file (nested layout) from row `skip` on, in order: the row backend's results.

    Each Arrow record batch of the file (text read as dictionaries) is decided by columns
    (`decide_arrays`); a row not decided by columns for every program asked (not plainly valid, an
    unknown fact, a row without a date, an id that is not text or a whole number, ...) is read and
    decided by `decide_item` exactly as the row backend does; a plainly valid row whose columns are
    marked for some programs has those programs decided by the row engine. `counts` (if given) gains
    "columns" (rows decided by columns, some programs perhaps by the row engine: "programs by the row
    engine" counts those rows) and "rows" (rows decided by the row backend).
    """
    import pyarrow.parquet as pq

    counts = collections.Counter() if counts is None else counts
    pf = pq.ParquetFile(path, read_dictionary=_text_paths(pq.read_schema(path)))
    index = 0
    for batch in pf.iter_batches(batch_size=batch_rows):
        if index + batch.num_rows <= skip:
            index += batch.num_rows
            continue
        if index < skip:
            batch = batch.slice(skip - index)
            index = skip
        yield from _batch(engine, job, batch, index, counts)
        index += batch.num_rows


def _batch(engine: Engine, job: Job, batch: Any, start: int, counts: collections.Counter[str]) -> Iterator[BatchResult]:
    n = batch.num_rows
    names = job.programs
    days = _days(batch, job.on)
    ids = _ids(batch)
    by_day: dict[dt.date, list[int]] = collections.defaultdict(list)
    for i, (day, rid) in enumerate(zip(days, ids, strict=True)):
        if day is not None and rid is not False:
            by_day[day].append(i)
    decided: list[dict[str, ProgramOutcome] | None] = [None] * n
    with decimal.localcontext(ENGINE_CONTEXT):
        for day, idx in by_day.items():
            sub = batch.take(idx) if len(idx) != n else batch
            try:
                plain, done, rows = decide_rows(engine, sub, day, names)
            except Exception:  # a bug of the columnar code must cost speed, never a result
                continue
            same: dict[int, ProgramOutcome] = {}  # rows share their Outcome objects: one ProgramOutcome each
            for r in np.flatnonzero(plain).tolist():
                out: dict[str, ProgramOutcome | None] = {}
                for name, o in rows[r].items():
                    if o is None:  # a program the columns marked: the row engine decides it, below
                        out[name] = None
                        continue
                    p = same.get(id(o))
                    if p is None:
                        p = same[id(o)] = ProgramOutcome(o.eligible, o.amount, o.tier, o.error, o.unknown)
                    out[name] = p
                decided[idx[r]] = out  # type: ignore[assignment]
            left = np.flatnonzero(plain & ~done).tolist()  # decided by columns but for some programs
            if left:
                partly = [idx[r] for r in left]
                for i, row in zip(partly, sub.take(left).to_pylist(), strict=True):
                    decided[i] = _rest(engine, day, row, decided[i])  # type: ignore[arg-type]
                counts["programs by the row engine"] += len(left)
    slow = [i for i in range(n) if decided[i] is None]
    cells = iter(batch.take(slow).to_pylist() if slow else [])
    counts["columns"] += n - len(slow)
    counts["rows"] += len(slow)
    for i in range(n):
        programs = decided[i]
        if programs is None:
            yield decide_item(engine, job, (start + i, "row", next(cells), None))
        else:
            rid = ids[i]
            yield BatchResult(start + i, rid if isinstance(rid, str) else None, days[i], engine.policy_hash, programs)


def _rest(engine: Engine, day: dt.date, row: dict[str, Any],
          out: dict[str, ProgramOutcome | None]) -> dict[str, ProgramOutcome] | None:
    """A plainly valid row's outcomes with the programs the columns marked decided by the row engine (as
    `decide_item` writes them); None when anything fails (the whole row is then decided by `decide_item`)."""
    todo = tuple(name for name, o in out.items() if o is None)
    try:
        household = flat_record(row, engine.model.facts)["household"]
        decision = engine.decide(household, day, todo, trace=False)
    except Exception:
        return None
    for name, p in decision.programs.items():
        error = p.error
        out[name] = ProgramOutcome(p.eligible, p.amount, p.tier, None, _waits(p)) if error is None else \
            ProgramOutcome(p.eligible, p.amount, p.tier, error.english, ())
    if any(o is None for o in out.values()):
        return None
    return out  # type: ignore[return-value]


def _days(batch: Any, default: dt.date | None) -> list[dt.date | None]:
    """Each row's decision date as the row backend reads it, None where it has none or cannot be read."""
    n = batch.num_rows
    if "on" not in batch.schema.names:
        return [default] * n
    out: list[dt.date | None] = []
    for v in batch.column(batch.schema.get_field_index("on")).to_pylist():
        if v is None or v == "":
            out.append(default)
            continue
        if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
            v = v.isoformat()
        try:
            out.append(parse_date(v))
        except InputError:
            out.append(None)
    return out


def _ids(batch: Any) -> list[str | bool | None]:
    """Each row's id as the row backend reads it (text or None); False where it is not text or a whole number."""
    n = batch.num_rows
    if "id" not in batch.schema.names:
        return [None] * n
    out: list[str | bool | None] = []
    for v in batch.column(batch.schema.get_field_index("id")).to_pylist():
        if v is None or v == "":
            out.append(None)
        elif isinstance(v, str):
            out.append(v)
        elif isinstance(v, int) and not isinstance(v, bool):
            out.append(str(v))
        else:
            out.append(False)
    return out


__all__ = ["BATCH_ROWS", "batch_results", "decide_table", "nested_layout", "nested_row", "nested_table",
           "read_households", "read_parquet"]
