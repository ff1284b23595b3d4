"""Discovery on Apache Spark: the same findings as a local run, each executor compiling the policies once.

Needs the `spark` extra. The input is a DataFrame of the joined file's lines with their line
numbers (`spark.read.text` and a row number, or a table the join wrote); each row gives back
the household's id, its decisions line, its findings (a JSON array, the rows of findings.jsonl),
its trace line and its household file, exactly as `run_discover` writes them.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from eligibility.base.errors import InputError, InputProblem
from eligibility.discover.find import DEFAULT_PROGRAMS, DiscoverJob, discover_item, json_default
from eligibility.engine.runtime import load, parse_date
from eligibility.scale.spark import executor_engine, policy_files

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: The columns added: the id, then decisions.jsonl, findings.jsonl (as one JSON array), traces.jsonl
#: and the household file, as `run_discover` writes them (null where the household has none).
COLUMNS = ("id", "decision", "findings", "trace", "household")


@attrs.frozen
class _Spec:
    files: tuple[tuple[str, bytes], ...]
    policy_hash: str
    jurisdiction: str | None
    job: DiscoverJob
    line_col: str
    text_col: str


def discover(df: DataFrame, policies: str | Path | None = None, *, on: object,
             programs: Iterable[str] | None = None, text_col: str = "value", line_col: str = "line",
             jurisdiction: str | None = None) -> DataFrame:
    """Discover over a DataFrame of joined lines; return each line's number with what discovery writes for it.

    Args:
        df: a DataFrame with the line's text (`text_col`, a string) and its 1-based number
            (`line_col`, an integer).
        policies: the policy folder on the driver; the bundled policies when None.
        on: the decision date.
        programs: the programs to decide; dibao, marginal and tekun by default.

    Returns:
        A DataFrame of `line_col` and COLUMNS; lazy, like any DataFrame.

    Raises:
        InputError: a missing column, an unknown program or a bad date.
    """
    types = importlib.import_module("pyspark.sql.types")
    engine = load(None if policies is None else Path(policies), jurisdiction=jurisdiction)
    names = engine.check_programs(programs if programs is not None else
                                  [p for p in DEFAULT_PROGRAMS if p in engine.programs])
    for name in (text_col, line_col):
        if name not in df.columns:
            raise InputError([InputProblem(name, "missing", f"the DataFrame has no column {name!r}; "
                                           f"its columns: {', '.join(df.columns)}")])
    spec = _Spec(policy_files(engine), engine.policy_hash, jurisdiction, DiscoverJob(parse_date(on), names),
                 line_col, text_col)
    schema = types.StructType([types.StructField(line_col, types.LongType(), True)]
                              + [types.StructField(c, types.StringType(), True) for c in COLUMNS])
    result: DataFrame = df.select(line_col, text_col).mapInArrow(functools.partial(_map_batches, spec), schema)
    return result


def _map_batches(spec: _Spec, batches: Iterator[Any]) -> Iterator[Any]:
    """Discover each Arrow batch's lines on an executor."""
    pa = importlib.import_module("pyarrow")
    engine = executor_engine(spec.files, spec.policy_hash, spec.jurisdiction)
    for batch in batches:
        lines = batch.column(spec.line_col).to_pylist()
        texts = batch.column(spec.text_col).to_pylist()
        cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
        for line, text in zip(lines, texts, strict=True):
            out = discover_item(engine, spec.job, (int(line) - 1, "json", text or "", int(line)))
            cols["id"].append(out.id)
            cols["decision"].append(out.decision.decode())
            cols["findings"].append(json.dumps(list(out.findings), ensure_ascii=False, default=json_default,
                                               separators=(",", ":")) if out.findings else None)
            cols["trace"].append(None if out.trace is None else out.trace.decode())
            cols["household"].append(None if out.household is None else out.household.decode())
        arrays = [pa.array(lines, type=pa.int64())] + [pa.array(cols[c], type=pa.string()) for c in COLUMNS]
        yield pa.RecordBatch.from_arrays(arrays, names=[spec.line_col, *COLUMNS])


__all__ = ["COLUMNS", "discover"]
