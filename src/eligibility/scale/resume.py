"""Resuming a batch: how many records an interrupted output holds, and whether it is this batch's output.

Every output of `run_file` (JSONL or CSV) has a companion file, OUT.run.json, recording what it
was written with: the decision date, programs, jurisdiction, policy set hash, library version,
output format, --trace and the input's name. `--resume` refuses an output whose options are not
those of the run that would continue it, and names each difference.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from eligibility.base.errors import InputError, InputProblem
from eligibility.base.version import __version__

RUN_SCHEMA = "eligibility.batch-run/1"


def options_path(out: Path) -> Path:
    """Return the companion file recording the options an output was written with: OUT.run.json."""
    return out.with_name(out.name + ".run.json")


def run_options(*, on: str | None, programs: Sequence[str], jurisdiction: str | None, policy_hash: str,
                out_format: str, trace: bool | str, source: str) -> dict[str, Any]:
    """Return the options of a batch run as they are recorded next to its output."""
    return {"schema": RUN_SCHEMA, "on": on, "programs": list(programs), "jurisdiction": jurisdiction,
            "policy_hash": policy_hash, "library_version": __version__, "format": out_format,
            "trace": trace, "source": source}


def write_options(out: Path, options: dict[str, Any]) -> None:
    """Write the options next to the output (atomically).

    Raises:
        InputError: the file cannot be written.
    """
    path = options_path(out)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(options, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        raise InputError([InputProblem("out", "format", f"cannot write {path}: {e.strerror or e}")]) from None


def _show(key: str, value: Any) -> str:
    """How a recorded option reads in a message: as the option that gives it."""
    if key == "on":
        return f"--on {value}" if value else "no --on"
    if key == "programs":
        return "--program " + ", ".join(value) if value else "no program"
    if key == "jurisdiction":
        return f"--jurisdiction {value}" if value else "no --jurisdiction"
    if key == "policy_hash":
        return f"the policy set {value}"
    if key == "library_version":
        return f"eligibility {value}"
    if key == "format":
        return f"--format {value}"
    if key == "trace":
        return f"--trace {value}" if isinstance(value, str) else "--trace" if value else "no --trace"
    if key == "source":
        return f"the input {value}"
    return f"{key} {value}"


def check_options(out: Path, want: dict[str, Any]) -> None:
    """Refuse to resume an output written with other options than `want`, naming each difference.

    Raises:
        InputError: the companion file is missing or unreadable, or an option differs.
    """
    def refuse(message: str) -> InputError:
        return InputError([InputProblem("resume", "format", f"{out.name}: {message}; it cannot be resumed")])

    path = options_path(out)
    try:
        got = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise refuse(f"{path.name}, which records the options it was written with, is missing") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        raise refuse(f"{path.name}, which records the options it was written with, is not readable") from None
    if not isinstance(got, dict) or got.get("schema") != RUN_SCHEMA:
        raise refuse(f"{path.name} is not a record of batch options ({RUN_SCHEMA})")
    differences = [f"the output was written for {_show(k, got.get(k))}, not {_show(k, v)}"
                   for k, v in want.items() if k != "schema" and got.get(k) != v]
    if differences:
        raise refuse("; ".join(differences))


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
        _check_output(path, fmt, last, done, columns, policy_hash)
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


def _check_output(path: Path, fmt: str, last: bytes, done: int, columns: Sequence[str], policy_hash: str) -> None:
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


__all__ = ["RUN_SCHEMA", "check_options", "completed_records", "options_path", "run_options", "write_options"]
