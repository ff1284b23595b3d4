"""Decide a Spark DataFrame of households, each executor compiling the policies once (pyspark, mapInArrow).

Needs the `spark` extra (`pip install 'eligibility[spark]'`): pyspark with pyarrow and pandas.
The policy files travel with the job (their text, a few hundred kB), so executors need the
library installed but not the policy folder; each Python worker writes them to a temporary
folder, loads them once, and checks their hash against the driver's.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from eligibility.base.errors import Diagnostic, InputError, InputProblem, PolicyError
from eligibility.engine.runtime import Engine, load
from eligibility.scale.results import flat_columns
from eligibility.scale.stream import Job, columnar_stream, decide_item, make_job

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: Engines compiled in this Python worker, by (policy hash, jurisdiction): one compilation a worker.
_ENGINES: dict[tuple[str, str | None], Engine] = {}


@attrs.frozen
class _SparkJob:
    """Everything an executor needs: the policy files' text, their hash, and what to decide."""

    files: tuple[tuple[str, bytes], ...]
    policy_hash: str
    jurisdiction: str | None
    job: Job
    household_col: str
    on_col: str | None
    keep: tuple[str, ...]  # the input columns passed through
    columns: tuple[str, ...]  # the decision columns added
    backend: str = "row"


def decide(df: DataFrame, policies: str | Path | None = None, on: object = None,
           programs: Iterable[str] | None = None, household_col: str = "household", trace: bool | str = False, *,
           jurisdiction: str | None = None, on_col: str | None = None, backend: str = "row") -> DataFrame:
    """Decide the household of every row of a DataFrame; return the rows with their decisions.

    Args:
        df: a DataFrame with a household column: the household's JSON text (a string column,
            money as strings or exact decimals), or a struct column, turned into JSON with
            `to_json` (decimal columns keep their exact value).
        policies: the policy folder on the driver; the bundled policies when None.
        on: the decision date of every row ("YYYY-MM-DD" or a date), unless `on_col` gives one.
        programs: the programs to decide; all by default.
        household_col: the name of the household column.
        trace: add a `trace` column holding each decision's JSON trace (much slower); "compact"
            for the values only (a few KB a row; `eligibility.audit.replay.full_trace` rebuilds the full one).
        jurisdiction: the GB/T 2260 code choosing each program's layer.
        on_col: a column holding each row's decision date (a date, or "YYYY-MM-DD"); rows where
            it is null use `on`.
        backend: "row", or "columnar" to decide each Arrow batch with the columnar backend (the
            same results: see eligibility.engine.columnar; with trace, the row engine decides).

    Returns:
        A DataFrame with the input's columns except the household, then for each program
        `<p>_eligible` (boolean), `<p>_amount` (the amount as a decimal string, e.g. "1446.00")
        `<p>_tier` and `<p>_unknown`, then `policy_hash`, `error_kind`, `error` (null when every program was
        decided; see docs/how-to/batch-and-spark.md) and, with trace, `trace`. It is lazy, like
        any DataFrame.

    Raises:
        InputError: a missing column, a column name the output would repeat, an unknown
            program or a bad date.
        PolicyError: the policies do not load on the driver (or, when the job runs, on an executor).
    """
    types = importlib.import_module("pyspark.sql.types")
    functions = importlib.import_module("pyspark.sql.functions")
    if backend not in ("row", "columnar"):
        raise InputError([InputProblem("backend", "format", 'must be "row" or "columnar"')])
    engine = load(None if policies is None else Path(policies), jurisdiction=jurisdiction)
    job, _, _ = make_job(engine, on, programs, trace, 1, 1)
    for name in (household_col, on_col):
        if name is not None and name not in df.columns:
            raise InputError([InputProblem(name, "missing", f"the DataFrame has no column {name!r}; "
                                           f"its columns: {', '.join(df.columns)}")])
    columns = tuple(c for c in flat_columns(job.programs, job.trace) if c not in ("index", "id", "on"))
    keep = tuple(c for c in df.columns if c != household_col)
    clash = [c for c in keep if c in columns]
    if clash:
        raise InputError([InputProblem(c, "duplicate", "the output adds a column of this name; rename it first")
                          for c in clash])
    if not isinstance(df.schema[household_col].dataType, types.StringType):
        df = df.withColumn(household_col, functions.to_json(functions.col(household_col)))
    files = policy_files(engine)
    spec = _SparkJob(files, engine.policy_hash, jurisdiction, job, household_col, on_col, keep, columns, backend)
    out = types.StructType(
        [df.schema[c] for c in keep]
        + [types.StructField(c, types.BooleanType() if c.endswith("_eligible") else types.StringType(), True)
           for c in columns])
    result: DataFrame = df.mapInArrow(functools.partial(_map_batches, spec), out)
    return result


def _map_batches(spec: _SparkJob, batches: Iterator[Any]) -> Iterator[Any]:
    """Decide each Arrow batch's rows on an executor, passing the kept columns through."""
    pa = importlib.import_module("pyarrow")
    engine = _executor_engine(spec)
    programs = spec.job.programs
    for batch in batches:
        households = batch.column(spec.household_col).to_pylist()
        days = batch.column(spec.on_col).to_pylist() if spec.on_col else [None] * len(households)
        items = [(i, "cell", (text, day), None) for i, (text, day) in enumerate(zip(households, days, strict=True))]
        if spec.backend == "columnar" and not spec.job.trace:
            rows = [r.to_row(programs) for r in columnar_stream(engine, spec.job, items)]
        else:
            rows = [decide_item(engine, spec.job, item).to_row(programs) for item in items]
        arrays = [batch.column(c) for c in spec.keep]
        arrays += [pa.array([r[c] for r in rows], type=pa.bool_() if c.endswith("_eligible") else pa.string())
                   for c in spec.columns]
        yield pa.RecordBatch.from_arrays(arrays, names=[*spec.keep, *spec.columns])


def policy_files(engine: Engine) -> tuple[tuple[str, bytes], ...]:
    """Return the policy files of an engine made by load(), as (path in the folder, bytes), to send to executors.

    Raises:
        PolicyError: the engine has no policy folder.
    """
    root = engine.root
    if root is None:  # load() always sets it
        raise PolicyError([Diagnostic(None, "no-policy-folder", "the engine has no policy folder")])
    return tuple((p.relative_to(root).as_posix(), p.read_bytes()) for p in sorted(root.rglob("*.yaml")) if p.is_file())


def executor_engine(files: tuple[tuple[str, bytes], ...], policy_hash: str, jurisdiction: str | None) -> Engine:
    """Return this Python worker's engine for these policy files, writing and compiling them the first time.

    Raises:
        PolicyError: they compile to another hash than the driver's (another eligibility version?).
    """
    return _executor_engine(_SparkJob(files, policy_hash, jurisdiction, Job(None, (), False), "", None, (), ()))


def _executor_engine(spec: _SparkJob) -> Engine:
    """Return this worker's engine for the job's policies, writing and compiling them the first time."""
    key = (spec.policy_hash, spec.jurisdiction)
    engine = _ENGINES.get(key)
    if engine is not None:
        return engine
    folder = Path(tempfile.mkdtemp(prefix="eligibility-policies-"))
    atexit.register(shutil.rmtree, folder, True)
    for rel, data in spec.files:
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    engine = load(folder, jurisdiction=spec.jurisdiction)
    if engine.policy_hash != spec.policy_hash:
        raise PolicyError([Diagnostic(None, "policy-changed",
                                      f"an executor compiled the policies to {engine.policy_hash}, "
                                      f"not the driver's {spec.policy_hash} (another eligibility version?)")])
    _ENGINES[key] = engine
    return engine


__all__ = ["decide", "executor_engine", "policy_files"]
