"""The results of a batch: one BatchResult a record, its flat form (CSV, Parquet, Spark) and back, the summary.

The flat mapping of a household to CSV columns (and back) is described in
docs/how-to/batch-and-spark.md.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from json.encoder import encode_basestring as _quote  # json.dumps' own (ensure_ascii=False)
from typing import TYPE_CHECKING, Any

import attrs

from eligibility.base.errors import InputError, InputProblem
from eligibility.base.numbers import decimal_text
from eligibility.engine.jsonin import loads_household
from eligibility.engine.records import SURROGATE

if TYPE_CHECKING:
    from eligibility.lang.model import Facts

_INT_RE = re.compile(r"-?[0-9]{1,18}\Z")


@attrs.frozen
class ProgramOutcome:
    """One program's outcome for one record: eligible True/False, or None with the error or the unknown facts."""

    eligible: bool | None
    amount: Decimal | None
    tier: str | None
    error: str | None = None
    #: The unknown facts an undetermined program waits on that can change it, then those a tier not decided waits on.
    unknown: tuple[str, ...] = ()

    def __reduce__(self) -> tuple[Any, ...]:  # a tuple pickles in a fraction of attrs' default state dict
        return ProgramOutcome, (self.eligible, self.amount, self.tier, self.error, self.unknown)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"eligible": self.eligible,
                               "amount": None if self.amount is None else decimal_text(self.amount),
                               "tier": self.tier}
        if self.error is not None:
            out["error"] = self.error
        if self.unknown:
            out["unknown"] = list(self.unknown)
        return out


#: A program's outcome as a batch carries it: (eligible, amount, tier, error, unknown), ProgramOutcome's fields.
OutcomeFields = tuple[bool | None, Decimal | None, str | None, str | None, tuple[str, ...]]


class Outcomes(Mapping[str, ProgramOutcome]):
    """A record's program outcomes, {name: ProgramOutcome}: held as tuples of their fields, an object when read.

    A batch makes one a record and mostly only writes it out (or sends it to the parent process):
    tuples are made, pickled and written in a fraction of the time of the objects.
    """

    __slots__ = ("_made", "fields")

    def __init__(self, fields: dict[str, OutcomeFields]) -> None:
        #: {program: (eligible, amount, tier, error, unknown)}, in the order of the programs.
        self.fields = fields
        self._made: dict[str, ProgramOutcome] | None = None

    def __getitem__(self, name: str) -> ProgramOutcome:
        made = self._made
        if made is None:
            made = self._made = {}
        o = made.get(name)
        if o is None:
            o = made[name] = ProgramOutcome(*self.fields[name])
        return o

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def __reduce__(self) -> tuple[Any, ...]:
        return Outcomes, (self.fields,)

    def __repr__(self) -> str:
        return repr(dict(self.items()))


def outcome_fields(outcomes: Mapping[str, ProgramOutcome]) -> Iterator[tuple[str, OutcomeFields]]:
    """Each program's name and (eligible, amount, tier, error, unknown), without making objects when it can."""
    if isinstance(outcomes, Outcomes):
        yield from outcomes.fields.items()
        return
    for name, o in outcomes.items():
        yield name, (o.eligible, o.amount, o.tier, o.error, o.unknown)


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
        return {p: f[3] for p, f in outcome_fields(self.programs or {}) if f[3] is not None}

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
        fields = dict(outcome_fields(self.programs or {}))
        for p in programs:
            eligible, amount, tier, unknown = _program_columns(p)
            f = fields.get(p)
            if f is None:
                row[eligible] = row[amount] = row[tier] = row[unknown] = None
            else:
                row[eligible] = f[0]
                row[amount] = None if f[1] is None else _amount_text(f[1])
                row[tier] = f[2]
                row[unknown] = " ".join(f[4]) if f[4] else None
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


_COLUMNS: dict[str, tuple[str, str, str, str]] = {}


def _program_columns(program: str) -> tuple[str, str, str, str]:
    """A program's four flat columns: eligible, amount, tier, unknown (remembered: a row has them for every program)."""
    hit = _COLUMNS.get(program)
    if hit is None:
        hit = (f"{program}_eligible", f"{program}_amount", f"{program}_tier", f"{program}_unknown")
        if len(_COLUMNS) < 4096:
            _COLUMNS[program] = hit
    return hit


def flat_columns(programs: Sequence[str], trace: bool = False) -> list[str]:
    """Return the columns of the flat output: index, id, on, each program's eligible/amount/tier/unknown, then
    policy_hash, error_kind, error (and trace)."""
    cols = ["index", "id", "on"]
    for p in programs:
        cols += [f"{p}_eligible", f"{p}_amount", f"{p}_tier", f"{p}_unknown"]
    cols += ["policy_hash", "error_kind", "error"]
    return [*cols, "trace"] if trace else cols


def _one_line(text: str) -> str:
    return " | ".join(part.strip() for part in text.splitlines() if part.strip())


def _clean(text: str | None) -> str | None:
    """Escape lone surrogates (from "\\ud800" in JSON input), which no UTF-8 file can hold."""
    if text is not None and SURROGATE.search(text):
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


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
        if isinstance(cell, str) and SURROGATE.search(cell):
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


@attrs.define
class BatchSummary:
    """What a batch run did: records decided, outcomes per program and tier, failures by kind."""

    programs: tuple[str, ...]
    records: int = 0
    skipped: int = 0  # already in the output when the run resumed
    interrupted: bool = False
    _outcomes: dict[str, list[int]] = attrs.field(factory=dict, alias="outcomes")
    _tiers: dict[str, collections.Counter[str]] = attrs.field(factory=dict, alias="tiers")
    errors: collections.Counter[str] = attrs.field(factory=collections.Counter)
    #: Decided records not yet added to outcomes and tiers: how many had each (names, flat outcomes).
    #: A batch's records share a few such patterns: counting one is one dictionary update.
    _pending: collections.Counter[tuple[tuple[str, ...], tuple[bool | str | None, ...]]] = attrs.field(
        factory=collections.Counter, init=False, eq=False, repr=False)

    @property
    def outcomes(self) -> dict[str, list[int]]:
        """{program: [eligible, not eligible, undecided]}."""
        self._settle()
        return self._outcomes

    @property
    def tiers(self) -> dict[str, collections.Counter[str]]:
        """{program: {tier: records}}."""
        self._settle()
        return self._tiers

    def add(self, result: BatchResult) -> None:
        """Count one result."""
        self.count(tally(result))

    def count(self, tally: Tally) -> None:
        """Count one result from its tally (what a worker sends instead of the result)."""
        self.records += 1
        kind, names, flat = tally
        if kind is not None:
            self.errors[kind] += 1
            return
        pending = self._pending
        pending[names, flat] += 1
        if len(pending) > 4096:  # memory stays bounded whatever the patterns
            self._settle()

    def _settle(self) -> None:
        """Add the pending patterns to outcomes and tiers."""
        for (names, flat), n in self._pending.items():
            for i, name in enumerate(names):
                eligible, tier = flat[2 * i], flat[2 * i + 1]
                counts = self._outcomes.get(name)
                if counts is None:
                    counts = self._outcomes[name] = [0, 0, 0]
                counts[0 if eligible is True else 1 if eligible is False else 2] += n
                if tier is not None:
                    self._tiers.setdefault(name, collections.Counter())[str(tier)] += n
        self._pending.clear()

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


#: What the summary counts of a result: its error kind, or None with the names of its programs and, flat,
#: each one's eligible and tier: (kind, (name, ...), (eligible, tier, eligible, tier, ...)). Small to pickle.
Tally = tuple[str | None, tuple[str, ...], tuple[bool | str | None, ...]]
#: The tuples of program names seen: one object for each, which a chunk of tallies pickles once.
_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {}


def tally(result: BatchResult) -> Tally:
    """Return what the summary counts of a result (a worker sends this instead of the result)."""
    if result.error is not None:
        return result.error.kind, (), ()
    programs = result.programs or {}
    names = tuple(programs)
    if len(_NAMES) < 64:
        names = _NAMES.setdefault(names, names)
    values = programs.fields.values() if isinstance(programs, Outcomes) else \
        [f for _, f in outcome_fields(programs)]
    return None, names, tuple([x for f in values for x in (f[0], f[2])])


def jsonl_line(result: BatchResult) -> bytes:
    """Return a result's JSONL line: compact JSON, UTF-8, ending with a newline.

    The text is `json.dumps(result.to_json(), ensure_ascii=False, separators=(",", ":"))`, byte for
    byte, written from the result's fields without building the dictionaries (a batch writes one a
    record); with a lone surrogate (from a "\\ud800" escape in the input) the whole line is ASCII
    with escapes, as `json.dumps` writes it by default.
    """
    try:
        return _line_text(result).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: keep it escaped
        return (json.dumps(result.to_json(), separators=(",", ":")) + "\n").encode("ascii")


#: JSON's literals, as json.dumps writes them.
_LITERAL: dict[object, str] = {True: "true", False: "false", None: "null"}
#: The quoted JSON text of the few strings every line repeats (policy hash, program names, tiers).
_QUOTED: dict[str, str] = {}


def _amount_text(amount: Decimal) -> str:
    """`decimal_text(amount)`: the plain text of a Decimal, read from str() (much faster) when it is that already."""
    text = str(amount)
    # An exponent (E, or e under a context without capitals) or a sign (a negative zero loses it): decimal_text.
    if "E" in text or "e" in text or text[0] == "-":
        return decimal_text(amount)
    return text


def _quoted(text: str) -> str:
    """The JSON string of a text that recurs; remembered (a bounded cache)."""
    hit = _QUOTED.get(text)
    if hit is None:
        hit = _quote(text)
        if len(_QUOTED) < 4096:
            _QUOTED[text] = hit
    return hit


def _line_text(result: BatchResult) -> str:
    """A result's JSONL line as text (see jsonl_line), the keys in `BatchResult.to_json`'s order."""
    parts = ['{"index":', str(result.index), ',"id":', "null" if result.id is None else _quote(result.id),
             ',"on":', "null" if result.on is None else f'"{result.on.isoformat()}"',
             ',"policy_hash":', _quoted(result.policy_hash)]
    if result.programs is not None:
        parts.append(',"programs":{')
        first = True
        for name, (eligible, amount, tier, error, unknown) in outcome_fields(result.programs):
            if not first:
                parts.append(",")
            first = False
            parts += [_quoted(name), ':{"eligible":', _LITERAL[eligible],
                      ',"amount":', "null" if amount is None else f'"{_amount_text(amount)}"',
                      ',"tier":', "null" if tier is None else _quoted(tier)]
            if error is not None:
                parts += [',"error":', _quote(error)]
            if unknown:
                parts += [',"unknown":[', ",".join(map(_quote, unknown)), "]"]
            parts.append("}")
        parts.append("}")
    if result.error is not None:
        parts += [',"error":', _dumps(result.error.to_json())]
    if result.trace is not None:
        parts += [',"trace":', _dumps(result.trace)]
    parts.append("}\n")
    return "".join(parts)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


__all__ = ["BatchResult", "BatchSummary", "OutcomeFields", "Outcomes", "ProgramOutcome", "RecordFailure", "Tally",
           "flat_columns", "flat_record", "jsonl_line", "outcome_fields", "tally"]
