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


def read_parquet(engine: Engine, path: str, on: object = None,
                 programs: Iterable[str] | None = None) -> ColumnarResult:
    """Decide every row of a Parquet file (nested layout) by `decide_table`."""
    import pyarrow.parquet as pq
    return decide_table(engine, pq.read_table(path), on, programs)


__all__ = ["decide_table", "read_parquet"]
