"""Batch files: what `eligibility batch` runs. JSONL, CSV or Parquet in, JSONL, CSV or Parquet out,
in input order, resumable, and never losing a record."""

from __future__ import annotations

import contextlib
import csv
import importlib
import importlib.util
import io
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import attrs

from eligibility.base.errors import EligibilityError, InputError, InputProblem
from eligibility.engine.runtime import Engine
from eligibility.scale.results import BatchResult, BatchSummary, Tally, flat_columns, jsonl_line, tally
from eligibility.scale.resume import check_options, completed_records, run_options, write_options
from eligibility.scale.stream import DEFAULT_CHUNK, Item, columnar_stream, engine_of, make_job, stream

#: A JSONL line longer than this is an error line, not a record (and is never held in memory whole).
MAX_LINE = 16 * 1024 * 1024
FORMATS = ("jsonl", "csv", "parquet")


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
            data: bytes | int = line
            if len(line) > MAX_LINE and not line.endswith(b"\n"):
                kind, data = "long", MAX_LINE  # a long item's data is the limit it went over
                while (rest := f.readline(1 << 20)) and not rest.endswith(b"\n"):
                    pass
            if index >= skip:
                yield index, kind, data, index + 1
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


@attrs.frozen
class _Render:
    """Turn a result into its output (a JSONL or CSV line, or a Parquet row) and its tally, in the worker."""

    fmt: str
    programs: tuple[str, ...]
    columns: tuple[str, ...]

    def __call__(self, result: BatchResult) -> tuple[Any, Tally]:
        if self.fmt == "jsonl":
            return jsonl_line(result), tally(result)
        row = result.to_row(self.programs)
        if self.fmt == "parquet":
            return {c: row[c] for c in self.columns}, tally(result)
        return _csv_line([_csv_cell(row[c]) for c in self.columns]), tally(result)


class _CsvLines(threading.local):
    """A CSV writer into a buffer, one for each thread, emptied at each line."""

    def __init__(self) -> None:
        self.buf = io.StringIO()
        self.writer = csv.writer(self.buf, lineterminator="\n")


_CSV = _CsvLines()


def _csv_line(cells: Sequence[object]) -> bytes:
    buf = _CSV.buf
    buf.seek(0)
    buf.truncate()
    _CSV.writer.writerow(cells)
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



def run_file(source: Path, out: Path, engine_or_path: Engine | str | os.PathLike[str] | None = None, *,
             on: object = None, programs: Iterable[str] | None = None, workers: int = 1, trace: bool | str = False,
             resume: bool = False, out_format: str | None = None, jurisdiction: str | None = None,
             chunk_size: int = DEFAULT_CHUNK,
             progress: Callable[[int, int | None], None] | None = None, backend: str = "row") -> BatchSummary:
    """Decide every record of a file into an output file, in input order: what `eligibility batch` does.

    Every input record (every line of a JSONL file, malformed or not) yields exactly one output
    record. The output is flushed at least every second; an interrupted run (Ctrl-C, SIGTERM)
    leaves a valid prefix, and `resume=True` continues after the records the output holds. A JSONL
    or CSV output has a companion file, OUT.run.json, recording the options it was written with
    (date, programs, jurisdiction, policy hash, library version, format, trace, input name); resuming
    with any other option is refused, naming the difference.

    Args:
        source: a .jsonl, .csv or .parquet file.
        out: the output file; its format is `out_format`, or else its extension's.
        progress: called now and then with (records in the output, records in the input or None).
        backend: "row", or "columnar" (numpy columns over blocks of records, in this process; the
            same output, byte for byte: see eligibility.engine.columnar); with a trace, "row".

    Returns:
        The summary; `interrupted` is set when a KeyboardInterrupt or SIGTERM stopped the run.

    Raises:
        InputError: a bad argument, an unreadable input, or an output that cannot be resumed.
        PolicyError: the policies do not load.
    """
    if backend not in ("row", "columnar"):
        raise InputError([InputProblem("backend", "format", 'must be "row" or "columnar"')])
    if backend == "columnar" and importlib.util.find_spec("numpy") is None:
        raise InputError([InputProblem("backend", "format", "the columnar backend needs numpy: "
                                       "pip install 'eligibility[columnar]'")])
    in_fmt = file_format(source, "source")
    fmt = out_format or file_format(out, "out")
    if fmt not in FORMATS:
        raise InputError([InputProblem("format", "format", "the output format must be jsonl, csv or parquet")])
    if not source.is_file():
        raise InputError([InputProblem("source", "missing", f"{source} is not a file")])
    engine = engine_of(engine_or_path, jurisdiction)
    job, workers, chunk_size = make_job(engine, on, programs, trace, workers, chunk_size)
    if "parquet" in (fmt, in_fmt):
        _parquet()
    columns = flat_columns(job.programs, job.trace)
    options = run_options(on=None if job.on is None else job.on.isoformat(), programs=job.programs,
                          jurisdiction=engine.model.jurisdiction, policy_hash=engine.policy_hash, out_format=fmt,
                          trace="compact" if job.compact else job.trace, source=source.name)
    if resume and fmt != "parquet" and out.is_file() and out.stat().st_size > 0:
        check_options(out, options)
    done = completed_records(out, fmt, columns, engine.policy_hash) if resume else 0
    if done == 0 and fmt != "parquet":
        write_options(out, options)
    total = count_records(source, in_fmt)
    summary = BatchSummary(job.programs, skipped=done)
    try:
        writer = _Writer(out, fmt, columns, append=done > 0)
    except OSError as e:
        raise InputError([InputProblem("out", "format", f"cannot write {out}: {e.strerror}")]) from None
    render = _Render(fmt, job.programs, tuple(columns))
    if backend == "columnar" and not job.trace and in_fmt == "parquet" and _nested(engine, source):
        from eligibility.scale.columnar import batch_results  # numpy only when asked for
        results = (render(r) for r in batch_results(engine, job, str(source), done))
    elif backend == "columnar" and not job.trace:
        results = (render(r) for r in columnar_stream(engine, job, read_items(source, in_fmt, done)))
    else:
        results = stream(engine, job, read_items(source, in_fmt, done), workers, chunk_size, render)
    previous = _terminate_as_interrupt()
    if progress is not None:
        progress(done, total)
    try:
        tick = time.monotonic()
        for rendered, counted in results:
            writer.write(rendered)
            summary.count(counted)
            if progress is not None and (summary.records & 255) == 0 and time.monotonic() - tick >= 0.2:
                tick = time.monotonic()
                progress(done + summary.records, total)
    except KeyboardInterrupt:
        summary.interrupted = True
    except OSError as e:
        raise InputError([InputProblem("source", "format", f"cannot read {source}: {e.strerror}")]) from None
    finally:
        results.close()
        writer.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if progress is not None:
        progress(done + summary.records, total)
    return summary


def _nested(engine: Engine, source: Path) -> bool:
    """Whether a Parquet input is in the nested layout (decided by columns a record batch at a time)."""
    from eligibility.scale.columnar import nested_layout
    _, pq = _parquet()
    try:
        return nested_layout(engine, pq.read_schema(source))
    except Exception:  # an unreadable file: the row reader reports it as it does
        return False


def _terminate_as_interrupt() -> Any:
    """Make SIGTERM stop a run like Ctrl-C, so that the output ends with a whole record; return the old handler."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, handler)


__all__ = ["FORMATS", "MAX_LINE", "count_records", "file_format", "read_items", "run_file"]
