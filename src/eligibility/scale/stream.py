"""Deciding a stream of records: one at a time, or in spawned worker processes, in input order.

`decide_many` is the library call; `decide_item` decides one item and never raises, so that a bad
record (or a bug) costs that record only. Every decision runs under the engine's decimal context.
"""

from __future__ import annotations

import collections
import concurrent.futures
import datetime as dt
import decimal
import json
import multiprocessing
import os
import signal
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs

from eligibility.base.errors import Diagnostic, EligibilityError, InputError, InputProblem, PolicyError
from eligibility.base.numbers import ENGINE_CONTEXT
from eligibility.engine.jsonin import loads_household
from eligibility.engine.records import WrapperError, unwrap
from eligibility.engine.runtime import Engine, ProgramDecision, load, parse_date
from eligibility.scale.results import BatchResult, OutcomeFields, Outcomes, ProgramOutcome, RecordFailure, flat_record

#: Records sent to a worker at a time: enough to make the cost of a round trip negligible.
DEFAULT_CHUNK = 256
#: Chunks in flight per worker: enough to keep every worker busy, few enough to bound memory.
IN_FLIGHT = 3

#: An input record on its way to being decided: (index, kind, data, line number in the file or None).
#: kind is "obj" (a household or record object), "json" (its JSON text), "csv" (a row of text cells),
#: "row" (a Parquet row of typed cells), "cell" (a household's JSON text and date, from Spark),
#: "long" (a line over the reader's limit, which is its data) or "bad" (an unreadable row).
Item = tuple[int, str, Any, int | None]
T = TypeVar("T")


@attrs.frozen
class Job:
    """What every record of a batch is decided with (sent once to each worker)."""

    on: dt.date | None
    programs: tuple[str, ...]
    trace: bool
    #: With trace: the compact trace (Decision.to_compact) instead of the full one.
    compact: bool = False


def decide_item(engine: Engine, job: Job, item: Item) -> BatchResult:
    """Decide one item; every failure becomes the result's error, never an exception."""
    with decimal.localcontext(ENGINE_CONTEXT):
        return _decide_item(engine, job, item)


def _decide_item(engine: Engine, job: Job, item: Item) -> BatchResult:
    index, kind, data, line = item
    try:
        return _decide_record(engine, job, index, _item_value(engine, kind, data, line), line)
    except _Fail as f:
        return BatchResult(index, None, None, engine.policy_hash, error=attrs.evolve(f.failure, line=line))
    except InputError as e:
        return BatchResult(index, None, None, engine.policy_hash, error=_input_failure(e, line))
    except Exception as e:  # a bug must cost one record, not the batch
        return BatchResult(index, None, None, engine.policy_hash, error=_internal(e, line))


def _item_value(engine: Engine, kind: str, data: Any, line: int | None) -> Any:
    """The record an item holds (a household, or an object with `id`, `on`, `household`), or _Fail."""
    if kind == "json":
        return _parse_json(data, line)
    if kind == "obj":
        return data
    if kind in ("csv", "row"):
        return flat_record(data, engine.model.facts)
    if kind == "cell":  # a household's JSON text and the date, from a table (Spark)
        text, day = data
        if text is None:
            raise _Fail(RecordFailure("record", "the household is null"))
        household = _parse_json(text, line)
        return {"household": household} if day is None else {"household": household, "on": day}
    if kind == "long":
        raise _Fail(RecordFailure("json", _at(line, f"the line is longer than {data:,} bytes")))
    raise _Fail(RecordFailure("record", _at(line, str(data))))


def _waits(p: ProgramDecision) -> tuple[str, ...]:
    """The unknown facts a program's outcome, amount or tier waits on (its `unknown` column)."""
    waits = p.unknown if p.undetermined else ()
    if p.tier_unknown and p.error is None:
        waits = tuple(dict.fromkeys((*waits, *p.tier_unknown)))
    return waits


def _decide_record(engine: Engine, job: Job, index: int, value: object, line: int | None) -> BatchResult:
    record_id, given_on, household = _unwrap(value, line)
    day = job.on if given_on is None else None
    try:
        if given_on is not None:
            day = _record_date(given_on)
        if day is None:
            raise InputError([InputProblem("on", "missing",
                                           "no decision date: give the record an \"on\" or the batch a default")])
        decision = engine.decide(household, day, job.programs, trace=job.trace and not job.compact)
        # `unknown`: what the outcome or amount waits on, then what a tier not decided (None) waits on.
        fields: dict[str, OutcomeFields] = {}
        for name, p in decision.programs.items():
            error = p.error
            fields[name] = (p.eligible, p.amount, p.tier, None, _waits(p)) \
                if error is None else (p.eligible, p.amount, p.tier, error.english, ())
        programs = Outcomes(fields)
        trace = (decision.to_compact() if job.compact else decision.to_json()) if job.trace else None
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
    if not text or text.isspace():
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
    if value.__class__ is not dict and not isinstance(value, Mapping):
        what = "a list" if isinstance(value, list) else f"a {type(value).__name__}"
        raise _Fail(RecordFailure("record", _at(line, f"a record must be a JSON object, not {what}")))
    try:
        return unwrap(value)
    except WrapperError as e:
        raise _Fail(RecordFailure("record", _at(line, str(e)))) from None


def decide_many(engine_or_path: Engine | str | os.PathLike[str] | None, records: Iterable[object], *,
                on: object = None, programs: Iterable[str] | None = None, workers: int = 1,
                trace: bool | str = False, chunk_size: int = DEFAULT_CHUNK,
                jurisdiction: str | None = None, backend: str = "row") -> Iterator[BatchResult]:
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
        trace: also record each decision's trace (`BatchResult.trace`): True or "full" the full
            trace (much slower, a few hundred KB), "compact" the values only (`Decision.to_compact`,
            a few KB; `eligibility.audit.replay.full_trace` rebuilds the full one).
        chunk_size: records sent to a worker at a time.
        jurisdiction: with a folder, the GB/T 2260 code choosing each program's layer.
        backend: "row" (the engine, one household at a time) or "columnar" (numpy columns over
            blocks of households, in this process, with the same results: see
            `eligibility.engine.columnar`); with a trace the row engine decides every record.

    Returns:
        An iterator of BatchResult: `programs` when the record was decided, else `error`.

    Raises:
        InputError: a bad argument (an unknown program, a bad date, workers < 1), raised at once.
        PolicyError: the policies do not load, or a worker found them changed on disk.
    """
    if backend not in ("row", "columnar"):
        raise InputError([InputProblem("backend", "format", 'must be "row" or "columnar"')])
    engine = engine_of(engine_or_path, jurisdiction)
    job, workers, chunk_size = make_job(engine, on, programs, trace, workers, chunk_size)
    items = ((i, "json" if isinstance(r, str | bytes) else "obj", r, None) for i, r in enumerate(records))
    if backend == "columnar" and not job.trace:
        return columnar_stream(engine, job, items)
    return stream(engine, job, items, workers, chunk_size)


#: Records decided by one columnar block.
COLUMNAR_BLOCK = 8192


def columnar_stream(engine: Engine, job: Job, items: Iterable[Item],
                    block: int = COLUMNAR_BLOCK) -> Generator[BatchResult, None, None]:
    """Decide items in order by the columnar backend, in blocks; each result is the row backend's.

    A record that is not a plainly valid household with a date (bad JSON, a bad wrapper or date, an
    invalid or partly unknown household, ...), or that the columnar code marks, is decided by
    `decide_item` exactly as the row backend decides it.
    """
    from eligibility.engine.columnar import ColumnarResult, decide_block  # numpy only when asked for
    for chunk in _chunks(items, block):
        prepared: list[tuple[int, dt.date, Any]] = []
        ids: dict[int, str | None] = {}
        results: dict[int, BatchResult] = {}
        for pos, (index, kind, data, line) in enumerate(chunk):
            try:  # as _decide_item reads the item; any failure: the row backend says it
                record_id, given_on, household = _unwrap(_item_value(engine, kind, data, line), line)
                day = job.on if given_on is None else _record_date(given_on)
                if day is None:
                    raise _Fail(RecordFailure("record", ""))
            except Exception:  # the row backend's own error, with its own words
                results[pos] = decide_item(engine, job, (index, kind, data, line))
                continue
            ids[pos] = record_id
            prepared.append((pos, day, household))
        result = ColumnarResult([None] * len(chunk), {})
        rest = set(decide_block(engine, prepared, job.programs, result, row_decide=True))
        days = {pos: day for pos, day, _ in prepared}
        for pos, (index, kind, data, line) in enumerate(chunk):
            if pos in results:
                yield results[pos]
                continue
            outcomes = result.outcomes[pos]
            if pos in rest or outcomes is None:
                yield decide_item(engine, job, (index, kind, data, line))
                continue
            programs = {name: ProgramOutcome(o.eligible, o.amount, o.tier, o.error, o.unknown)
                        for name, o in outcomes.items()}
            yield BatchResult(index, ids[pos], days[pos], engine.policy_hash, programs)


def engine_of(engine_or_path: Engine | str | os.PathLike[str] | None, jurisdiction: str | None) -> Engine:
    """Return the engine given, or load the policy folder given (the bundled policies for None)."""
    if isinstance(engine_or_path, Engine):
        return engine_or_path
    return load(None if engine_or_path is None else Path(engine_or_path), jurisdiction=jurisdiction)


def make_job(engine: Engine, on: object, programs: Iterable[str] | None, trace: bool | str, workers: int,
         chunk_size: int) -> tuple[Job, int, int]:
    """Check a batch's arguments; return its Job, workers and chunk size.

    Raises:
        InputError: a bad argument (an unknown program, a bad date, workers < 1).
    """
    problems = []
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        problems.append(InputProblem("workers", "range", "must be a whole number of at least 1"))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        problems.append(InputProblem("chunk_size", "range", "must be a whole number of at least 1"))
    if trace not in (True, False, "full", "compact"):
        problems.append(InputProblem("trace", "format", 'must be True, False, "full" or "compact"'))
    if problems:
        raise InputError(problems)
    if workers > 1 and engine.root is None:
        raise InputError([InputProblem("engine_or_path", "type",
                                       "workers > 1 needs the engine's policy folder: pass the folder, "
                                       "or an engine made by eligibility.load()")])
    day = None if on is None else parse_date(on)
    names = engine.programs if programs is None else engine.check_programs(programs)
    return Job(day, names, trace is not False, trace == "compact"), workers, chunk_size


def _same(result: BatchResult) -> BatchResult:
    return result


def stream(engine: Engine, job: Any, items: Iterable[Item], workers: int, chunk_size: int,
           finish: Callable[[Any], T] = _same,  # type: ignore[assignment]
           decide: Callable[[Engine, Any, Item], Any] = decide_item) -> Generator[T, None, None]:
    """Decide items in order, here or in a pool of spawned workers with a bounded number of chunks in flight.

    `finish` (picklable) turns each result into what is yielded, in the worker: rendering output
    lines there keeps the parent's share of the work small. `decide` (a picklable module-level
    function, `decide_item` by default) turns an item into a result; it must never raise: discovery
    passes its own, which reads a joined household and classifies its decision.
    """
    if workers == 1:
        for item in items:
            yield finish(decide(engine, job, item))
        return
    if engine.root is None:  # checked by make_job; kept for the type checker
        return
    ctx = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_worker,
        initargs=(str(engine.root), engine.model.jurisdiction, engine.policy_hash, job, finish, decide))
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
        return [finish(decide(engine, job, item)) for item in chunk]

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


def _init_worker(root: str, jurisdiction: str | None, policy_hash: str, job: Any,
                 finish: Callable[[Any], Any], decide: Callable[[Engine, Any, Item], Any] = decide_item) -> None:
    """Load the policies once in a worker and check they are the ones the batch was started with."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    _WORKER["job"], _WORKER["finish"], _WORKER["decide"] = job, finish, decide
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
    engine, job, finish, decide = _WORKER["engine"], _WORKER["job"], _WORKER["finish"], _WORKER["decide"]
    return [finish(decide(engine, job, item)) for item in chunk]


__all__ = [
    "COLUMNAR_BLOCK",
    "DEFAULT_CHUNK",
    "IN_FLIGHT",
    "Item",
    "Job",
    "columnar_stream",
    "decide_item",
    "decide_many",
    "engine_of",
    "make_job",
    "stream",
]
