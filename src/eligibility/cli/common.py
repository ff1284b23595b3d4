"""What the commands share: exit codes, option checks, reading households, loading policies, progress."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

try:
    import click
except ImportError:  # pragma: no cover - exercised only without the cli extra
    click = None  # type: ignore[assignment]

from eligibility.base.errors import EvaluationError, InputError, PolicyError
from eligibility.base.i18n import translate as _

#: The exit codes of every command (docs/reference/cli.md#exit-codes): 0 success; 1 the command ran
#: and the answer is no (policy errors, failing tests, an invalid household, a program not decided,
#: a record not intact, differences); 2 the command line is wrong (an unknown option, a bad
#: --on, --program or --jurisdiction, a file that cannot be read or is not JSON); 130 interrupted.
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def json_default(o: object) -> object:
    if isinstance(o, Decimal):
        return format(o, "f")
    raise TypeError(type(o).__name__)


def policy_arg() -> Any:
    return click.argument("policies", required=False, type=click.Path(file_okay=False, path_type=Path))


def check_date(ctx: Any, param: Any, value: str | None) -> Any:
    """Check a --on option: a date YYYY-MM-DD, else a usage error (exit 2) in every command."""
    from eligibility.engine.runtime import parse_date

    if value is None:
        return None
    try:
        return parse_date(value)
    except InputError as e:
        raise click.BadParameter(e.problems[0].message) from None


def check_jurisdiction(ctx: Any, param: Any, value: str | None) -> str | None:
    """Check a --jurisdiction option: six digits, else a usage error (exit 2)."""
    if value is not None and not (len(value) == 6 and value.isascii() and value.isdigit()):
        raise click.BadParameter(_("must be a 6-digit GB/T 2260 code such as 440114, not {value!r}",
                                   value=value))
    return value


def jurisdiction_option(command: Any) -> Any:
    """Give a command the --jurisdiction option (of the commands that load a policy set)."""
    return click.option("--jurisdiction", "-j", metavar="CODE", callback=check_jurisdiction,
                        help="GB/T 2260 code choosing each program's most specific layer, e.g. 440114.")(command)


def policies_option(text: str | None = "Policy folder (default: the bundled policies).") -> Any:
    """The --policies/-p option (a folder) of the commands that take their policies as an option, with help `text`."""
    return click.option("--policies", "-p", type=click.Path(file_okay=False, path_type=Path), default=None, help=text)


def check_programs(engine: Any, programs: tuple[str, ...]) -> tuple[str, ...] | None:
    """Check --program options against the policy set: an unknown program is a usage error (exit 2)."""
    if not programs:
        return None
    try:
        return tuple(engine.check_programs(programs))
    except InputError as e:
        raise click.BadParameter("; ".join(p.message for p in e.problems), param_hint="--program") from None


def read_household(source: str) -> Any:
    """Read household JSON (a file, or - for standard input) with the shared reader.

    Raises:
        click.UsageError: the file cannot be read or is not JSON (exit 2).
        InputError: a key is given twice (an invalid household: exit 1).
    """
    from eligibility.engine.jsonin import loads_household

    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
        text = data.decode("utf-8")
    except OSError as e:
        raise click.UsageError(_("cannot read {source}: {strerror}", source=source, strerror=e.strerror)) from None
    except UnicodeDecodeError:
        raise click.UsageError(_("{source} is not UTF-8 text", source=source)) from None
    try:
        return loads_household(text)
    except json.JSONDecodeError as e:
        raise click.UsageError(_("{source}:{lineno}:{colno}: not valid JSON: {msg}",
                                 source=source, lineno=e.lineno, colno=e.colno, msg=e.msg)) from None
    except RecursionError:
        raise click.UsageError(_("{source}: the JSON is nested too deeply", source=source)) from None


def exit_undecided(error: InputError | EvaluationError, fmt: str) -> NoReturn:
    """Say why a household could not be decided, and exit 1: with --format json as JSON on standard output
    (`{"error": "input", "problems"}` or `{"error": "evaluation", "message", "program", "rule"}`), else as text
    on standard error."""
    if fmt != "json":
        click.echo(str(error), err=True)
    elif isinstance(error, InputError):
        click.echo(json.dumps({"error": "input", "problems": error.to_json()}, ensure_ascii=False, indent=2))
    else:
        click.echo(json.dumps({"error": "evaluation", "message": str(error), "program": error.program,
                               "rule": error.rule}, ensure_ascii=False, indent=2))
    sys.exit(EXIT_FAIL)


def load_policies(policies: Path | None, jurisdiction: str | None) -> Any:
    from eligibility.engine.runtime import load

    try:
        return load(policies, jurisdiction=jurisdiction)
    except PolicyError as e:
        click.echo(e.render(), err=True)
        sys.exit(EXIT_FAIL)
    except InputError as e:  # a bad argument
        raise click.UsageError("; ".join(f"{p.path}: {p.message}" for p in e.problems)) from None

def progress_reporter(label: str = "batch", unit: str = "records") -> Any:
    """Return progress(done, total): a bar with rate and ETA on a terminal, else a line on stderr every 5 s.

    The first call gives the records already done (a resumed run); progress(-1, None) closes the bar.
    """
    import time

    state: dict[str, Any] = {"bar": None, "shown": 0, "last": 0.0, "first": None}

    def rate(done: int) -> str:
        first, since = state["first"]
        elapsed = time.monotonic() - since
        return f"{(done - first) / elapsed:,.0f} {unit}/s" if elapsed > 0 and done > first else ""

    def progress(done: int, total: int | None) -> None:
        now = time.monotonic()
        if done < 0:
            if state["bar"] is not None:
                state["bar"].render_finish()
            return
        if state["first"] is None:
            state["first"] = (done, now)  # the rate and ETA count this run's records only
            state["last"] = now
        if sys.stderr.isatty() and total:
            if state["bar"] is None:
                bar: Any = click.progressbar(length=total, label="deciding" if label == "batch" else label,
                                             file=sys.stderr, show_eta=True,
                                             show_pos=True, item_show_func=lambda d: rate(d) if d else None)
                state["bar"], state["shown"] = bar, 0
            step = min(done, total) - state["shown"]
            state["shown"] += step
            state["bar"].update(step, done)
        elif now - state["last"] >= 5 or (total and done >= total):
            state["last"] = now
            first, since = state["first"]
            eta = ""
            if total and first < done < total:
                left = (total - done) * (now - since) / (done - first)
                eta = f", ETA {int(left) // 60}:{int(left) % 60:02d}"
            of = f"/{total:,}" if total else ""
            if unit == "bytes":
                click.echo(_("{label}: {done:,}{of} bytes, {rate}{eta}",
                             label=label, done=done, of=of, rate=rate(done) or "-", eta=eta), err=True)
            else:
                click.echo(_("{label}: {done:,}{of} records, {rate}{eta}",
                             label=label, done=done, of=of, rate=rate(done) or "-", eta=eta), err=True)

    return progress


def run_and_summarize(work: Callable[[], Any], report: Any, failed: Callable[[Any], bool]) -> NoReturn:
    """Run a file-to-file command's work (`batch`, `discover`), print its summary and exit with its code.

    Exit codes: 0 done; 1 `failed(summary)` or the policies do not load; 2 bad input (a usage error);
    130 interrupted (rerun with --resume). `report` (a progress_reporter, or None) is closed either way.
    """
    try:
        summary = work()
    except InputError as e:
        raise click.UsageError("; ".join(f"{p.path}: {p.message}" for p in e.problems)) from None
    except PolicyError as e:
        click.echo(e.render(), err=True)
        sys.exit(EXIT_FAIL)
    finally:
        if report is not None:
            report(-1, None)
    click.echo(summary.render(), nl=False)
    if summary.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_FAIL if failed(summary) else EXIT_OK)
