"""The columnar backend on Arrow tables and Parquet files, with batch's reading of a row (`flat_record`).

`decide_table(engine, table, on, programs)` decides every row of a pyarrow Table or RecordBatch in
the nested layout (a column a household field, lists of records as list<struct> columns, optional
`id` and `on` columns) exactly as the row engine would: see `eligibility.engine.columnar`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eligibility.engine.columnar import ColumnarResult
from eligibility.engine.columnar import decide_table as _decide_table
from eligibility.engine.runtime import Engine
from eligibility.scale.results import flat_record


def decide_table(engine: Engine, table: Any, on: object = None,
                 programs: Iterable[str] | None = None) -> ColumnarResult:
    """Decide an Arrow table's rows; a row that is not plainly valid is read as batch reads it (`flat_record`).

    Raises:
        InputError: an unknown program or a bad date.
    """
    return _decide_table(engine, table, on, programs, read_row=flat_record)


def read_households(path: str) -> Any:
    """A Parquet file of households as a pyarrow Table, its text columns (nested too) as dictionary arrays.

    Parquet stores text in dictionary pages: read as they are, the words are decoded once, and the
    columnar backend checks and codes each word once (`decide_table` reads plain text columns too).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths: list[str] = []

    def walk(prefix: str, typ: Any) -> None:
        if pa.types.is_string(typ) or pa.types.is_large_string(typ):
            paths.append(prefix)
        elif pa.types.is_list(typ) or pa.types.is_large_list(typ):
            walk(f"{prefix}.list.element", typ.value_type)
        elif pa.types.is_struct(typ):
            for k in range(typ.num_fields):
                walk(f"{prefix}.{typ.field(k).name}", typ.field(k).type)

    for field in pq.read_schema(path):
        walk(field.name, field.type)
    return pq.read_table(path, read_dictionary=paths)


def read_parquet(engine: Engine, path: str, on: object = None,
                 programs: Iterable[str] | None = None) -> ColumnarResult:
    """Decide every row of a Parquet file (nested layout) by `decide_table`."""
    return decide_table(engine, read_households(path), on, programs)


__all__ = ["decide_table", "read_households", "read_parquet"]
