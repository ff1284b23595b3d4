"""Decide many households: streamed in input order, in worker processes if asked, one result a record.

`decide_many` is the library call; `run_file` is what `eligibility batch` runs: JSONL, CSV or
Parquet in, JSONL, CSV or Parquet out, resumable, and never losing a record. The flat mapping of
a household to CSV columns (and back) is described in docs/how-to/batch-and-spark.md.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import csv
import datetime as dt
import importlib
import io
import json
import multiprocessing
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import attrs

from eligibility.base.errors import Diagnostic, EligibilityError, InputError, InputProblem, PolicyError
from eligibility.engine.jsonin import loads_household
from eligibility.engine.runtime import Engine, load, parse_date

if TYPE_CHECKING:
    from eligibility.lang.model import Facts

#: Records sent to a worker at a time: enough to make the cost of a round trip negligible.
DEFAULT_CHUNK = 256
#: A JSONL line longer than this is an error line, not a record (and is never held in memory whole).
MAX_LINE = 16 * 1024 * 1024
#: Chunks in flight per worker: enough to keep every worker busy, few enough to bound memory.
IN_FLIGHT = 3
FORMATS = ("jsonl", "csv", "parquet")
WRAPPER_KEYS = frozenset({"id", "on", "household"})
_INT_RE = re.compile(r"-?[0-9]{1,18}\Z")
_SURROGATE = re.compile("[\ud800-\udfff]")

#: An input record on its way to being decided: (index, kind, data, line number in the file or None).
#: kind is "obj" (a household or record object), "json" (its JSON text), "csv" (a row of text cells),
#: "row" (a Parquet row of typed cells), "cell" (a household's JSON text and date, from Spark),
#: "long" (a line over MAX_LINE) or "bad" (an unreadable row).
Item = tuple[int, str, Any, int | None]
T = TypeVar("T")


# ------------------------------------------------------------------ results


@attrs.frozen
class ProgramOutcome:
    """One program's outcome for one record: eligible True/False, or None with the error."""

    eligible: bool | None
    amount: Decimal | None
    tier: str | None
    error: str | None = None

    def __reduce__(self) -> tuple[Any, ...]:  # a tuple pickles in a fraction of attrs' default state dict
        return ProgramOutcome, (self.eligible, self.amount, self.tier, self.error)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"eligible": self.eligible,
                               "amount": None if self.amount is None else format(self.amount, "f"),
                               "tier": self.tier}
        if self.error is not None:
            out["error"] = self.error
        return out


@attrs.frozen
class RecordFailure:
    """Why a record got no decision.

    `kind` is `json` (the line is not JSON), `record` (not a household or record object),
    `input` (an invalid household or date: `problems` lists each with its path),
    `evaluation` (the decision or its trace could not be made) or `internal` (a bug: please
    report it).
    """

    kind: str
    message: str
    problems: tuple[InputProblem, ...] = ()
    line: int | None = None

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(p.path for p in self.problems)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "line": self.line,
                "problems": [{"path": p.path, "kind": p.kind, "message": p.message} for p in self.problems]}


@attrs.frozen
class BatchResult:
    """The outcome of one input record: its programs, or the failure that prevented a decision."""

    index: int  # 0-based position in the input
    id: str | None  # the record's "id", if it had one
    on: dt.date | None
    policy_hash: str
    programs: Mapping[str, ProgramOutcome] | None = None
    error: RecordFailure | None = None
    trace: dict[str, Any] | None = None  # Decision.to_json(), with trace=True

    def __reduce__(self) -> tuple[Any, ...]:
        return BatchResult, (self.index, self.id, self.on, self.policy_hash, self.programs, self.error, self.trace)

    @property
    def undecided(self) -> dict[str, str]:
        """The programs that could not be decided for this record, with why."""
        return {p: o.error for p, o in (self.programs or {}).items() if o.error is not None}

    def to_json(self) -> dict[str, Any]:
        """Return the JSONL form: index, id, on, policy_hash, then programs or error (and trace)."""
        out: dict[str, Any] = {"index": self.index, "id": self.id,
                               "on": self.on.isoformat() if self.on else None, "policy_hash": self.policy_hash}
        if self.programs is not None:
            out["programs"] = {p: o.to_json() for p, o in self.programs.items()}
        if self.error is not None:
            out["error"] = self.error.to_json()
        if self.trace is not None:
            out["trace"] = self.trace
        return out

    def to_row(self, programs: Sequence[str]) -> dict[str, Any]:
        """Return the flat form (CSV, Parquet, Spark): see `flat_columns`."""
        row: dict[str, Any] = {"index": self.index, "id": _clean(self.id),
                               "on": self.on.isoformat() if self.on else None}
        outcomes = self.programs or {}
        for p in programs:
            o = outcomes.get(p)
            row[f"{p}_eligible"] = o.eligible if o else None
            row[f"{p}_amount"] = format(o.amount, "f") if o and o.amount is not None else None
            row[f"{p}_tier"] = o.tier if o else None
        row["policy_hash"] = self.policy_hash
        if self.error is not None:
            row["error_kind"], row["error"] = self.error.kind, _clean(_one_line(self.error.message))
        elif self.undecided:
            row["error_kind"] = "evaluation"
            row["error"] = _clean(_one_line("; ".join(f"{p}: {m}" for p, m in self.undecided.items())))
        else:
            row["error_kind"] = row["error"] = None
        row["trace"] = None if self.trace is None else _clean(json.dumps(self.trace, ensure_ascii=False,
                                                                         separators=(",", ":")))
        return row


def flat_columns(programs: Sequence[str], trace: bool = False) -> list[str]:
    """Return the columns of the flat output: index, id, on, each program's eligible/amount/tier, then
    policy_hash, error_kind, error (and trace)."""
    cols = ["index", "id", "on"]
    for p in programs:
        cols += [f"{p}_eligible", f"{p}_amount", f"{p}_tier"]
    cols += ["policy_hash", "error_kind", "error"]
    return [*cols, "trace"] if trace else cols


def _one_line(text: str) -> str:
    return " | ".join(part.strip() for part in text.splitlines() if part.strip())


def _clean(text: str | None) -> str | None:
    """Escape lone surrogates (from "\\ud800" in JSON input), which no UTF-8 file can hold."""
    if text is not None and _SURROGATE.search(text):
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


# ------------------------------------------------------------------ deciding one record


@attrs.frozen
class _Job:
    """What every record of a batch is decided with (sent once to each worker)."""

    on: dt.date | None
    programs: tuple[str, ...]
    trace: bool


def _decide_item(engine: Engine, job: _Job, item: Item) -> BatchResult:
    """Decide one item; every failure becomes the result's error, never an exception."""
    index, kind, data, line = item
    try:
        if kind == "json":
            value = _parse_json(data, line)
        elif kind == "obj":
            value = data
        elif kind in ("csv", "row"):
            value = flat_record(data, engine.model.facts)
        elif kind == "cell":  # a household's JSON text and the date, from a table (Spark)
            text, day = data
            if text is None:
                raise _Fail(RecordFailure("record", "the household is null"))
            value = {"household": _parse_json(text, line)} if day is None else \
                {"household": _parse_json(text, line), "on": day}
        elif kind == "long":
            raise _Fail(RecordFailure("json", _at(line, f"the line is longer than {MAX_LINE:,} bytes")))
        else:
            raise _Fail(RecordFailure("record", _at(line, str(data))))
        return _decide_record(engine, job, index, value, line)
    except _Fail as f:
        return BatchResult(index, None, None, engine.policy_hash, error=attrs.evolve(f.failure, line=line))
    except InputError as e:
        return BatchResult(index, None, None, engine.policy_hash, error=_input_failure(e, line))
    except Exception as e:  # a bug must cost one record, not the batch
        return BatchResult(index, None, None, engine.policy_hash, error=_internal(e, line))


def _decide_record(engine: Engine, job: _Job, index: int, value: object, line: int | None) -> BatchResult:
    record_id, given_on, household = _unwrap(value, line)
    day = job.on if given_on is None else None
    try:
        if given_on is not None:
            day = _record_date(given_on)
        if day is None:
            raise InputError([InputProblem("on", "missing",
                                           "no decision date: give the record an \"on\" or the batch a default")])
        decision = engine.decide(household, day, job.programs, trace=job.trace)
        programs = {name: ProgramOutcome(p.eligible, p.amount, p.tier, None if p.error is None else str(p.error))
                    for name, p in decision.programs.items()}
        trace = decision.to_json() if job.trace else None
    except InputError as e:
        return BatchResult(index, record_id, day, engine.policy_hash, error=_input_failure(e, line))
    except EligibilityError as e:
        return BatchResult(index, record_id, day, engine.policy_hash,
                           error=RecordFailure("evaluation", _at(line, str(e)), line=line))
    except Exception as e:  # a bug must cost one record, not the batch
        return BatchResult(index, record_id, day, engine.policy_hash, error=_internal(e, line))
    return BatchResult(index, record_id, day, engine.policy_hash, programs, trace=trace)


class _Fail(Exception):
    def __init__(self, failure: RecordFailure) -> None:
        self.failure = failure


def _at(line: int | None, message: str) -> str:
    return f"line {line}: {message}" if line is not None else message


def _input_failure(e: InputError, line: int | None) -> RecordFailure:
    return RecordFailure("input", _at(line, str(e)), e.problems, line)


def _internal(e: BaseException, line: int | None) -> RecordFailure:
    return RecordFailure("internal", _at(line, f"internal error ({type(e).__name__}); please report it"), line=line)


def _parse_json(data: bytes | str, line: int | None) -> Any:
    text = data.rstrip(b"\r\n") if isinstance(data, bytes) else data.rstrip("\r\n")
    if not text.strip():
        raise _Fail(RecordFailure("json", _at(line, "the line is empty")))
    try:
        return loads_household(text)
    except InputError as e:
        raise _Fail(_input_failure(e, line)) from None
    except json.JSONDecodeError as e:
        raise _Fail(RecordFailure("json", _at(line, f"not valid JSON: {e.msg} (column {e.colno})"))) from None
    except UnicodeDecodeError:
        raise _Fail(RecordFailure("json", _at(line, "not UTF-8 text"))) from None
    except (RecursionError, ValueError):
        raise _Fail(RecordFailure("json", _at(line, "the JSON is nested too deeply or holds a huge number"))) from None


def _record_date(on: object) -> dt.date:
    try:
        return parse_date(on)
    except InputError as e:
        raise InputError([InputProblem("on", p.kind, p.message) for p in e.problems]) from None


def _unwrap(value: object, line: int | None) -> tuple[str | None, object, Any]:
    """Return (id, date as given, household) of a household or of a {"id", "on", "household"} record."""
    if not isinstance(value, Mapping):
        what = "a list" if isinstance(value, list) else f"a {type(value).__name__}"
        raise _Fail(RecordFailure("record", _at(line, f"a record must be a JSON object, not {what}")))
    if "household" not in value or not set(value) <= WRAPPER_KEYS:
        return None, None, value
    rid = value.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, str | int)):
        raise _Fail(RecordFailure("record", _at(line, "the record's \"id\" must be text or a whole number")))
    return None if rid is None else str(rid), value.get("on"), value["household"]


# ------------------------------------------------------------------ the flat mapping (CSV, Parquet)


def flat_record(row: Mapping[str, Any], facts: Facts) -> dict[str, Any]:
    """Turn a flat row into a record: `id` and `on` columns, and one column a household field.

    An empty cell is a field not given. A list field (`members`, `vehicles`) is a cell holding its
    JSON (Parquet may also hold it as a list of structs). A text cell of an integer field is
    converted to a whole number, and one of a bool field must read `true` or `false`; any other
    text is passed on as it is, for the household check to report with its path. A single
    `household` column holding the household's JSON can be used instead of the field columns.

    Raises:
        InputError: a list cell is not JSON, or a cell is not UTF-8.
    """
    problems: list[InputProblem] = []
    household: dict[str, Any] = {}
    record: dict[str, Any] = {}
    for key, cell in row.items():
        if key is None:
            problems.append(InputProblem("row", "limit", "has more cells than the header has columns"))
            continue
        if cell is None or (isinstance(cell, str) and cell == ""):
            continue
        if isinstance(cell, str) and _SURROGATE.search(cell):
            problems.append(InputProblem(key, "format", "is not UTF-8 text"))
            continue
        if key in ("id", "on"):
            record[key] = cell.isoformat() if isinstance(cell, dt.date) and not isinstance(cell, dt.datetime) \
                else cell
            continue
        spec = facts.field(key)
        if key == "household" or (spec is not None and spec.type == "list"):
            if isinstance(cell, str):
                try:
                    cell = loads_household(cell, "" if key == "household" else key)
                except InputError as e:
                    problems.extend(e.problems)
                    continue
                except (ValueError, RecursionError):
                    problems.append(InputProblem(key, "format", "is not JSON"))
                    continue
            elif isinstance(cell, list):
                cell = [_drop_nulls(x) for x in cell]
            if key == "household":
                record["household"] = cell
                continue
        elif spec is not None and isinstance(cell, str):
            if spec.type == "integer" and _INT_RE.match(cell):
                cell = int(cell)
            elif spec.type == "bool" and cell.lower() in ("true", "false"):
                cell = cell.lower() == "true"
        household[key] = cell
    if problems:
        raise InputError(problems)
    if "household" in record:
        if household:
            raise InputError([InputProblem(sorted(household)[0], "unknown",
                                           "a row with a `household` column holds no household field columns")])
        return record
    record["household"] = household
    return record


def _drop_nulls(item: object) -> object:
    """Parquet gives every field of a struct; a missing one is null, which means not given."""
    if isinstance(item, dict):
        return {k: v for k, v in item.items() if v is not None}
    return item


# ------------------------------------------------------------------ many records


def decide_many(engine_or_path: Engine | str | os.PathLike[str] | None, records: Iterable[object], *,
                on: object = None, programs: Iterable[str] | None = None, workers: int = 1,
                trace: bool = False, chunk_size: int = DEFAULT_CHUNK,
                jurisdiction: str | None = None) -> Iterator[BatchResult]:
    """Decide every record, yielding exactly one BatchResult a record, in input order.

    A record is a household (a mapping), a `{"id": ..., "on": "YYYY-MM-DD", "household": {...}}`
    mapping, or the JSON text of either (a JSONL line, `str` or `bytes`). Records are read as
    they are needed: memory does not grow with their number.

    Args:
        engine_or_path: an Engine, a policy folder, or None for the bundled policies.
        records: the records; consumed lazily.
        on: the decision date of records without their own `"on"`.
        programs: the programs to decide; all by default.
        workers: processes deciding in parallel (spawned; each loads the policies once and checks
            their hash). 1 decides in this process.
        trace: also record each decision's trace (`BatchResult.trace`); much slower.
        chunk_size: records sent to a worker at a time.
        jurisdiction: with a folder, the GB/T 2260 code choosing each program's layer.

    Returns:
        An iterator of BatchResult: `programs` when the record was decided, else `error`.

    Raises:
        InputError: a bad argument (an unknown program, a bad date, workers < 1), raised at once.
        PolicyError: the policies do not load, or a worker found them changed on disk.
    """
    engine = _engine(engine_or_path, jurisdiction)
    job, workers, chunk_size = _job(engine, on, programs, trace, workers, chunk_size)
    items = ((i, "json" if isinstance(r, str | bytes) else "obj", r, None) for i, r in enumerate(records))
    return _stream(engine, job, items, workers, chunk_size)


def _engine(engine_or_path: Engine | str | os.PathLike[str] | None, jurisdiction: str | None) -> Engine:
    if isinstance(engine_or_path, Engine):
        return engine_or_path
    return load(None if engine_or_path is None else Path(engine_or_path), jurisdiction=jurisdiction)


def _job(engine: Engine, on: object, programs: Iterable[str] | None, trace: bool, workers: int,
         chunk_size: int) -> tuple[_Job, int, int]:
    problems = []
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        problems.append(InputProblem("workers", "range", "must be a whole number of at least 1"))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        problems.append(InputProblem("chunk_size", "range", "must be a whole number of at least 1"))
    if problems:
        raise InputError(problems)
    if workers > 1 and engine.root is None:
        raise InputError([InputProblem("engine_or_path", "type",
                                       "workers > 1 needs the engine's policy folder: pass the folder, "
                                       "or an engine made by eligibility.load()")])
    day = None if on is None else parse_date(on)
    names = engine.programs if programs is None else engine.check_programs(programs)
    return _Job(day, names, bool(trace)), workers, chunk_size


def _same(result: BatchResult) -> BatchResult:
    return result


def _stream(engine: Engine, job: _Job, items: Iterable[Item], workers: int, chunk_size: int,
            finish: Callable[[BatchResult], T] = _same) -> Generator[T, None, None]:  # type: ignore[assignment]
    """Decide items in order, here or in a pool of spawned workers with a bounded number of chunks in flight.

    `finish` (picklable) turns each result into what is yielded, in the worker: rendering output
    lines there keeps the parent's share of the work small.
    """
    if workers == 1:
        for item in items:
            yield finish(_decide_item(engine, job, item))
        return
    if engine.root is None:  # checked by _job; kept for the type checker
        return
    ctx = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_worker,
        initargs=(str(engine.root), engine.model.jurisdiction, engine.policy_hash, job, finish))
    pending: collections.deque[tuple[list[Item], concurrent.futures.Future[Any] | None]] = collections.deque()
    broken = False

    def collect(chunk: list[Item], future: concurrent.futures.Future[Any] | None) -> list[T]:
        nonlocal broken
        if future is not None and not broken:
            try:
                out = future.result()
            except concurrent.futures.process.BrokenProcessPool:
                broken = True  # a worker died (killed, out of memory): finish here, losing nothing
            except Exception:  # e.g. a record that cannot be pickled: this chunk is decided here instead
                pass
            else:
                if isinstance(out, str):
                    raise PolicyError([_diagnostic(out)])
                results: list[T] = out
                return results
        return [finish(_decide_item(engine, job, item)) for item in chunk]

    def submit(chunk: list[Item]) -> concurrent.futures.Future[Any] | None:
        nonlocal broken
        if not broken:
            try:
                return pool.submit(_run_chunk, chunk)
            except concurrent.futures.process.BrokenProcessPool:
                broken = True
        return None

    try:
        for chunk in _chunks(items, chunk_size):
            pending.append((chunk, submit(chunk)))
            while len(pending) >= workers * IN_FLIGHT or (pending and broken):
                yield from collect(*pending.popleft())
        while pending:
            yield from collect(*pending.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _diagnostic(message: str) -> Diagnostic:
    return Diagnostic(None, "policy-changed", message)


#: The worker's engine and job, set once by _init_worker (spawned processes share nothing).
_WORKER: dict[str, Any] = {}


def _init_worker(root: str, jurisdiction: str | None, policy_hash: str, job: _Job,
                 finish: Callable[[BatchResult], Any]) -> None:
    """Load the policies once in a worker and check they are the ones the batch was started with."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    _WORKER["job"], _WORKER["finish"] = job, finish
    try:
        engine = load(root, jurisdiction=jurisdiction)
    except PolicyError as e:
        _WORKER["error"] = f"a worker could not load the policies in {root}: {e.message}"
        return
    if engine.policy_hash != policy_hash:
        _WORKER["error"] = (f"the policies in {root} changed while the batch ran: the batch started with "
                            f"{policy_hash}, a worker loaded {engine.policy_hash}")
        return
    _WORKER["engine"] = engine


def _run_chunk(chunk: list[Item]) -> list[Any] | str:
    """Decide a chunk in a worker; return the error text if the worker has no engine."""
    if "engine" not in _WORKER:
        return str(_WORKER.get("error", "the worker was not initialised"))
    engine, job, finish = _WORKER["engine"], _WORKER["job"], _WORKER["finish"]
    return [finish(_decide_item(engine, job, item)) for item in chunk]


# ------------------------------------------------------------------ files


@attrs.define
class BatchSummary:
    """What a batch run did: records decided, outcomes per program and tier, failures by kind."""

    programs: tuple[str, ...]
    records: int = 0
    skipped: int = 0  # already in the output when the run resumed
    interrupted: bool = False
    outcomes: dict[str, list[int]] = attrs.field(factory=dict)  # program -> [eligible, not, undecided]
    tiers: dict[str, collections.Counter[str]] = attrs.field(factory=dict)
    errors: collections.Counter[str] = attrs.field(factory=collections.Counter)

    def add(self, result: BatchResult) -> None:
        """Count one result."""
        self.count(_tally(result))

    def count(self, tally: Tally) -> None:
        """Count one result from its tally (what a worker sends instead of the result)."""
        self.records += 1
        kind, outcomes = tally
        if kind is not None:
            self.errors[kind] += 1
            return
        for name, eligible, tier in outcomes:
            counts = self.outcomes.get(name)
            if counts is None:
                counts = self.outcomes[name] = [0, 0, 0]
            counts[0 if eligible is True else 1 if eligible is False else 2] += 1
            if tier is not None:
                self.tiers.setdefault(name, collections.Counter())[tier] += 1

    @property
    def failed(self) -> bool:
        """Whether any record got no decision or any program could not be decided."""
        return bool(self.errors) or any(c[2] for c in self.outcomes.values())

    def to_json(self) -> dict[str, Any]:
        return {"records": self.records, "skipped": self.skipped, "interrupted": self.interrupted,
                "programs": {p: dict(zip(("eligible", "not_eligible", "undecided"), c, strict=True))
                             for p, c in sorted(self.outcomes.items())},
                "tiers": {p: dict(sorted(c.items())) for p, c in sorted(self.tiers.items())},
                "errors": dict(sorted(self.errors.items()))}

    def render(self) -> str:
        """Return the summary as text: one line a program, the tiers, the failures by kind."""
        failed = sum(self.errors.values())
        head = f"{self.records:,} records: {self.records - failed:,} decided, {failed:,} failed"
        if self.skipped:
            head += f" (after {self.skipped:,} already in the output)"
        if self.interrupted:
            head += "; interrupted: run again with --resume to continue"
        lines = [head]
        width = max((len(p) for p in self.outcomes), default=0)
        for p in self.programs:
            if p in self.outcomes:
                e, n, u = self.outcomes[p]
                lines.append(f"  {p:<{width}}  eligible {e:,}  not eligible {n:,}  undecided {u:,}")
        for p, counts in sorted(self.tiers.items()):
            tiers = ", ".join(f"{t} {n:,}" for t, n in sorted(counts.items()))
            lines.append(f"  {p} tiers: {tiers}")
        if self.errors:
            lines.append("  errors: " + ", ".join(f"{k} {n:,}" for k, n in sorted(self.errors.items())))
        else:
            lines.append("  errors: none")
        return "\n".join(lines) + "\n"


def file_format(path: Path, what: str) -> str:
    """Return the format named by a file's extension: jsonl, csv or parquet.

    Raises:
        InputError: the extension is none of .jsonl, .ndjson, .csv, .parquet.
    """
    suffix = path.suffix.lower().lstrip(".")
    fmt = {"jsonl": "jsonl", "ndjson": "jsonl", "csv": "csv", "parquet": "parquet"}.get(suffix)
    if fmt is None:
        raise InputError([InputProblem(what, "format",
                                       f"{path.name}: the extension must be .jsonl, .csv or .parquet")])
    return fmt


def count_records(path: Path, fmt: str) -> int | None:
    """Return the number of records in an input file (the lines of a CSV: an estimate), or None."""
    try:
        if fmt == "parquet":
            _, pq = _parquet()
            return int(pq.ParquetFile(path).metadata.num_rows)
        lines = 0
        last = b"\n"
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                lines += block.count(b"\n")
                last = block[-1:]
        lines += last != b"\n"
        return max(0, lines - (fmt == "csv"))
    except (OSError, EligibilityError):
        return None


def read_items(path: Path, fmt: str, skip: int = 0) -> Iterator[Item]:
    """Yield the records of a file as items, from record `skip` on (0-based), with their line numbers."""
    if fmt == "jsonl":
        yield from _jsonl_items(path, skip)
    elif fmt == "csv":
        yield from _csv_items(path, skip)
    else:
        yield from _parquet_items(path, skip)


def _jsonl_items(path: Path, skip: int) -> Iterator[Item]:
    with path.open("rb") as f:
        index = 0
        while line := f.readline(MAX_LINE + 1):
            kind: str = "json"
            if len(line) > MAX_LINE and not line.endswith(b"\n"):
                kind, line = "long", b""
                while (rest := f.readline(1 << 20)) and not rest.endswith(b"\n"):
                    pass
            if index >= skip:
                yield index, kind, line, index + 1
            index += 1


def _csv_items(path: Path, skip: int) -> Iterator[Item]:
    csv.field_size_limit(MAX_LINE)
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        reader = csv.DictReader(f)
        with contextlib.suppress(csv.Error):
            reader.fieldnames  # noqa: B018 - reads the header, so that line_num counts from it
        index = 0
        while True:
            line = reader.line_num + 1
            try:
                row: Any = next(reader)
                kind = "csv"
            except StopIteration:
                return
            except csv.Error as e:
                row, kind = f"not a CSV row: {e}", "bad"
            if index >= skip:
                yield index, kind, row, line
            index += 1


def _parquet_items(path: Path, skip: int) -> Iterator[Item]:
    _, pq = _parquet()
    index = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
        if index + batch.num_rows <= skip:
            index += batch.num_rows
            continue
        for row in batch.to_pylist():
            if index >= skip:
                yield index, "row", row, None
            index += 1


#: What the summary needs of a result: its error kind, or each program's (name, eligible, tier).
Tally = tuple[str | None, tuple[tuple[str, bool | None, str | None], ...]]


def _tally(result: BatchResult) -> Tally:
    if result.error is not None:
        return result.error.kind, ()
    return None, tuple((name, o.eligible, o.tier) for name, o in (result.programs or {}).items())


@attrs.frozen
class _Render:
    """Turn a result into its output (a JSONL or CSV line, or a Parquet row) and its tally, in the worker."""

    fmt: str
    programs: tuple[str, ...]
    columns: tuple[str, ...]

    def __call__(self, result: BatchResult) -> tuple[Any, Tally]:
        if self.fmt == "jsonl":
            return jsonl_line(result), _tally(result)
        row = result.to_row(self.programs)
        if self.fmt == "parquet":
            return {c: row[c] for c in self.columns}, _tally(result)
        return _csv_line([_csv_cell(row[c]) for c in self.columns]), _tally(result)


def _csv_line(cells: Sequence[object]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue().encode("utf-8")


class _Writer:
    """An output file written record by record, flushed at least every second."""

    def __init__(self, path: Path, fmt: str, columns: Sequence[str], append: bool) -> None:
        self.path = path
        self.last_flush = time.monotonic()
        self.rows: list[dict[str, Any]] = []
        self.binary: IO[bytes] | None = None
        self.parquet: Any = None
        if fmt == "parquet":
            pa, pq = _parquet()
            self.schema = pa.schema([(c, pa.int64() if c == "index" else pa.bool_() if c.endswith("_eligible")
                                      else pa.string()) for c in columns])
            self.parquet = pq.ParquetWriter(path, self.schema)
        else:
            self.binary = path.open("ab" if append else "wb", buffering=1 << 16)
            if fmt == "csv" and not append:
                self.binary.write(_csv_line(columns))

    def write(self, out: bytes | dict[str, Any]) -> None:
        """Write one rendered record: a line (JSONL, CSV) or a row (Parquet).

        Raises:
            InputError: the output cannot be written (a full disk, say).
        """
        try:
            if self.binary is not None and isinstance(out, bytes):
                self.binary.write(out)
            elif isinstance(out, dict):
                self.rows.append(out)
                if len(self.rows) >= 10_000:
                    self._row_group()
            now = time.monotonic()
            if now - self.last_flush >= 1.0:
                self.flush()
                self.last_flush = now
        except OSError as e:
            raise self._error(e) from None

    def _error(self, e: OSError) -> InputError:
        return InputError([InputProblem("out", "format", f"cannot write {self.path}: {e.strerror or e}")])

    def _row_group(self) -> None:
        if self.rows:
            pa, _ = _parquet()
            self.parquet.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def flush(self) -> None:
        if self.binary is not None:
            self.binary.flush()
        else:
            self._row_group()

    def close(self) -> None:
        try:
            self.flush()
            if self.binary is not None:
                os.fsync(self.binary.fileno())
                self.binary.close()
            else:
                self.parquet.close()
        except OSError as e:
            raise self._error(e) from None


def jsonl_line(result: BatchResult) -> bytes:
    """Return a result's JSONL line: compact JSON, UTF-8, ending with a newline."""
    data = result.to_json()
    try:
        return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (from a "\ud800" escape in the input): keep it escaped
        return (json.dumps(data, separators=(",", ":")) + "\n").encode("ascii")


def _csv_cell(value: object) -> object:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str) and ("\n" in value or "\r" in value):  # one record a line, for --resume
        return value.replace("\r", " ").replace("\n", " ")
    return value


def _parquet() -> tuple[Any, Any]:
    try:
        pa = importlib.import_module("pyarrow")
        pq = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise InputError([InputProblem("format", "unknown",
                                       "Parquet needs pyarrow: pip install 'eligibility[parquet]'")]) from None
    return pa, pq


def completed_records(path: Path, fmt: str, columns: Sequence[str], policy_hash: str) -> int:
    """Return how many records an interrupted output holds, truncating a torn last line.

    Raises:
        InputError: the output cannot be resumed: it is Parquet, or made with other policies, programs
            or input.
    """
    if not path.exists():
        return 0
    if fmt == "parquet":
        raise InputError([InputProblem("resume", "format",
                                       "a Parquet output cannot be resumed; write .jsonl or .csv to resume")])
    lines = end = 0  # end: the offset after the last newline
    with path.open("rb") as f:
        offset = 0
        while block := f.read(1 << 20):
            n = block.count(b"\n")
            if n:
                lines += n
                end = offset + block.rindex(b"\n") + 1
            offset += len(block)
        last = _line_before(f, end)
    if end < offset:
        with path.open("r+b") as f:
            f.truncate(end)
    done = lines - (fmt == "csv")
    if done > 0:
        _check_resume(path, fmt, last, done, columns, policy_hash)
    return max(done, 0)


def _first_decided(path: Path, limit: int = 100_000) -> dict[str, Any] | None:
    """Return the first decided record of a JSONL output (error lines have no programs)."""
    with path.open("rb") as f:
        for n, line in enumerate(f):
            if n >= limit:
                break
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict) and isinstance(data.get("programs"), dict):
                return data
    return None


def _line_before(f: IO[bytes], end: int) -> bytes:
    """Return the line that ends at offset `end` (without its newline), reading backwards."""
    pos = end - 1  # the newline
    parts: list[bytes] = []
    while pos > 0:
        step = min(pos, 1 << 16)
        f.seek(pos - step)
        block = f.read(step)
        cut = block.rfind(b"\n")
        if cut >= 0:
            parts.append(block[cut + 1:])
            break
        parts.append(block)
        pos -= step
    return b"".join(reversed(parts))


def _check_resume(path: Path, fmt: str, last: bytes, done: int, columns: Sequence[str], policy_hash: str) -> None:
    def refuse(message: str) -> InputError:
        return InputError([InputProblem("resume", "format", f"{path.name}: {message}; it cannot be resumed")])

    text = last.decode("utf-8", "replace")
    if fmt == "jsonl":
        try:
            data = json.loads(text)
        except ValueError:
            raise refuse("its last line is not JSON") from None
        if not isinstance(data, dict):
            raise refuse("its last line is not a batch result")
        index, got_hash = data.get("index"), data.get("policy_hash")
        decided = data if isinstance(data.get("programs"), dict) else _first_decided(path)
        if decided is not None:
            got = decided["programs"]
            want = [c[:-len("_eligible")] for c in columns if c.endswith("_eligible")]
            if list(got) != want:
                raise refuse(f"it holds other programs ({', '.join(got)})")
            if ("trace" in decided) != ("trace" in columns):
                raise refuse("it was written " + ("without" if "trace" in columns else "with") + " --trace")
    else:
        with path.open(encoding="utf-8", errors="replace", newline="") as f:
            header = next(csv.reader(f), [])
        if header != list(columns):
            raise refuse("its columns are not those of this batch (other programs, or --trace?)")
        row = dict(zip(header, next(csv.reader([text]), []), strict=False))
        got_hash = row.get("policy_hash")
        index = int(row["index"]) if row.get("index", "").isdigit() else row.get("index")
    if index != done - 1:
        raise refuse(f"its last record has index {index!r}, not {done - 1}: it is not this batch's output")
    if got_hash != policy_hash:
        raise refuse(f"it was made with the policy set {got_hash}, not {policy_hash}")


def run_file(source: Path, out: Path, engine_or_path: Engine | str | os.PathLike[str] | None = None, *,
             on: object = None, programs: Iterable[str] | None = None, workers: int = 1, trace: bool = False,
             resume: bool = False, out_format: str | None = None, jurisdiction: str | None = None,
             chunk_size: int = DEFAULT_CHUNK,
             progress: Callable[[int, int | None], None] | None = None) -> BatchSummary:
    """Decide every record of a file into an output file, in input order: what `eligibility batch` does.

    Every input record (every line of a JSONL file, malformed or not) yields exactly one output
    record. The output is flushed at least every second; an interrupted run (Ctrl-C, SIGTERM)
    leaves a valid prefix, and `resume=True` continues after the records the output holds.

    Args:
        source: a .jsonl, .csv or .parquet file.
        out: the output file; its format is `out_format`, or else its extension's.
        progress: called now and then with (records in the output, records in the input or None).

    Returns:
        The summary; `interrupted` is set when a KeyboardInterrupt or SIGTERM stopped the run.

    Raises:
        InputError: a bad argument, an unreadable input, or an output that cannot be resumed.
        PolicyError: the policies do not load.
    """
    in_fmt = file_format(source, "source")
    fmt = out_format or file_format(out, "out")
    if fmt not in FORMATS:
        raise InputError([InputProblem("format", "format", "the output format must be jsonl, csv or parquet")])
    if not source.is_file():
        raise InputError([InputProblem("source", "missing", f"{source} is not a file")])
    engine = _engine(engine_or_path, jurisdiction)
    job, workers, chunk_size = _job(engine, on, programs, trace, workers, chunk_size)
    if "parquet" in (fmt, in_fmt):
        _parquet()
    columns = flat_columns(job.programs, job.trace)
    done = completed_records(out, fmt, columns, engine.policy_hash) if resume else 0
    total = count_records(source, in_fmt)
    summary = BatchSummary(job.programs, skipped=done)
    try:
        writer = _Writer(out, fmt, columns, append=done > 0)
    except OSError as e:
        raise InputError([InputProblem("out", "format", f"cannot write {out}: {e.strerror}")]) from None
    render = _Render(fmt, job.programs, tuple(columns))
    stream = _stream(engine, job, read_items(source, in_fmt, done), workers, chunk_size, render)
    previous = _terminate_as_interrupt()
    if progress is not None:
        progress(done, total)
    try:
        tick = time.monotonic()
        for rendered, tally in stream:
            writer.write(rendered)
            summary.count(tally)
            if progress is not None and (summary.records & 255) == 0 and time.monotonic() - tick >= 0.2:
                tick = time.monotonic()
                progress(done + summary.records, total)
    except KeyboardInterrupt:
        summary.interrupted = True
    except OSError as e:
        raise InputError([InputProblem("source", "format", f"cannot read {source}: {e.strerror}")]) from None
    finally:
        stream.close()
        writer.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if progress is not None:
        progress(done + summary.records, total)
    return summary


def _terminate_as_interrupt() -> Any:
    """Make SIGTERM stop a run like Ctrl-C, so that the output ends with a whole record; return the old handler."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, handler)


__all__ = ["BatchResult", "BatchSummary", "ProgramOutcome", "RecordFailure", "decide_many", "flat_columns",
           "flat_record", "jsonl_line", "run_file"]
