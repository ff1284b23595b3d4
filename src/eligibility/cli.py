"""The `eligibility` command: check, test, decide, explain, compile."""

from __future__ import annotations

import itertools
import json
import os
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

try:
    import click
except ImportError:  # pragma: no cover - exercised only without the cli extra
    click = None  # type: ignore[assignment]

from eligibility.base.errors import EvaluationError, InputError, PolicyError, cap_per_file

#: The exit codes of every command (docs/reference/cli.md#exit-codes): 0 success; 1 the command ran
#: and the answer is no (policy errors, failing tests, an invalid household, a program not decided,
#: a record not intact, differences); 2 the command line is wrong (an unknown option, a bad
#: --on, --program or --jurisdiction, a file that cannot be read or is not JSON); 130 interrupted.
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _json_default(o: object) -> object:
    if isinstance(o, Decimal):
        return format(o, "f")
    raise TypeError(type(o).__name__)


def _policy_arg() -> Any:
    return click.argument("policies", required=False, type=click.Path(file_okay=False, path_type=Path))


def _date(ctx: Any, param: Any, value: str | None) -> Any:
    """Check a --on option: a date YYYY-MM-DD, else a usage error (exit 2) in every command."""
    from eligibility.engine.runtime import parse_date

    if value is None:
        return None
    try:
        return parse_date(value)
    except InputError as e:
        raise click.BadParameter(e.problems[0].message) from None


def _jurisdiction(ctx: Any, param: Any, value: str | None) -> str | None:
    """Check a --jurisdiction option: six digits, else a usage error (exit 2)."""
    if value is not None and not (len(value) == 6 and value.isascii() and value.isdigit()):
        raise click.BadParameter(f"must be a 6-digit GB/T 2260 code such as 440114, not {value!r}")
    return value


def _seed(ctx: Any, param: Any, value: str | None) -> str | None:
    """Check a --seed option: a whole number at least 0, or `random`, else a usage error (exit 2)."""
    if value is not None and value != "random" and not (value.isascii() and value.isdigit()):
        raise click.BadParameter(f"must be a whole number at least 0 or 'random', not {value!r}")
    return value


def _check_programs(engine: Any, programs: tuple[str, ...]) -> tuple[str, ...] | None:
    """Check --program options against the policy set: an unknown program is a usage error (exit 2)."""
    if not programs:
        return None
    try:
        return tuple(engine.check_programs(programs))
    except InputError as e:
        raise click.BadParameter("; ".join(p.message for p in e.problems), param_hint="--program") from None


def _read_household(source: str) -> Any:
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
        raise click.UsageError(f"cannot read {source}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise click.UsageError(f"{source} is not UTF-8 text") from None
    try:
        return loads_household(text)
    except json.JSONDecodeError as e:
        raise click.UsageError(f"{source}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None
    except RecursionError:
        raise click.UsageError(f"{source}: the JSON is nested too deeply") from None


def _load(policies: Path | None, jurisdiction: str | None) -> Any:
    from eligibility.engine.runtime import load

    try:
        return load(policies, jurisdiction=jurisdiction)
    except PolicyError as e:
        click.echo(e.render(), err=True)
        sys.exit(EXIT_FAIL)
    except InputError as e:  # a bad argument
        raise click.UsageError("; ".join(f"{p.path}: {p.message}" for p in e.problems)) from None


def _properties(engine: Any, name_filter: str | None, profile: str | None, seed: str | None,
                fmt: str, out: dict[str, Any]) -> Iterator[tuple[str, str, bool, str]]:
    """Run the set's properties for `test`: (where, name, passed, message) each, as they finish.

    The seed is printed first (text) or recorded in `out["seed"]` (JSON): the same seed reproduces the run.
    """
    if not engine.model.properties:
        return
    try:
        from eligibility.testing.properties import SEED_ENV, hypothesis_seed, hypothesis_settings, run_properties
    except ImportError:
        raise click.UsageError("properties need hypothesis: pip install 'eligibility[staff]'") from None
    try:
        chosen = hypothesis_settings(profile)
        start = hypothesis_seed(seed)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    out["seed"] = start
    if fmt == "text" and start is None:
        click.echo("properties: derandomized, the same examples on every run (--seed N or --seed random for others)")
    elif fmt == "text":
        how = "random" if (seed or os.environ.get(SEED_ENV)) == "random" else "chosen"
        click.echo(f"properties: hypothesis seed {start} ({how}; --seed {start} reproduces this run)")
    for r in run_properties(engine, name_filter, chosen, start):
        yield r.where, r.prop.name, r.passed, r.message


def _quality(engine: Any, name_filter: str | None, coverage: bool, fail_under: float | None, mutate: bool,
             fmt: str, out: dict[str, Any]) -> bool:
    """Run rule coverage and the mutation check for `test`; return True if coverage is below the bar."""
    cases = [c for c in engine.model.tests if not name_filter or name_filter in c.name]
    low = False
    if coverage:
        from eligibility.testing.coverage import measure

        report = measure(engine, cases)
        low = fail_under is not None and report.percent < fail_under
        out["coverage"] = report.to_json()
        if fmt == "text":
            click.echo("\n" + report.render(), nl=False)
            if low:
                click.echo(f"rule coverage {report.percent:.1f}% is below --fail-under {fail_under:g}%")
    if mutate:
        from eligibility.testing.mutate import run_mutants

        def progress(done: int, total: int, killed: int) -> None:
            if done == total or done % max(1, total // 20) == 0:
                click.echo(f"mutants: {done}/{total}, {killed} killed", err=True)

        mutation = run_mutants(engine, cases, progress)
        out["mutation"] = mutation.to_json()
        if fmt == "text":
            click.echo("\n" + mutation.render(), nl=False)
    return low


def build() -> Any:
    """Build the click command group."""

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="eligibility")
    def main() -> None:
        """Rules as code for China's social assistance (社会救助).

        Check and test YAML policies, and decide households with explanations.

        Exit codes, in every command: 0 ok; 1 the command ran and the answer is no (policy errors,
        failing tests, an invalid household, a program not decided, a record not intact,
        differences); 2 the command line is wrong (an unknown option, a bad --on, --program or
        --jurisdiction, a file that cannot be read or is not JSON); 130 interrupted.
        """

    jur = click.option("--jurisdiction", "-j", metavar="CODE", callback=_jurisdiction,
                       help="GB/T 2260 code choosing each program's most specific layer, e.g. 440114.")

    @main.command()
    @_policy_arg()
    @jur
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    @click.option("--strict", is_flag=True, help="Treat warnings as errors.")
    def check(policies: Path | None, jurisdiction: str | None, fmt: str, strict: bool) -> None:
        """Check a policy folder (default: the bundled policies) and list every problem."""
        from eligibility.compile.pipeline import check_policy
        from eligibility.engine.runtime import bundled_policies
        from eligibility.lang.policyset import read_policy_set
        from eligibility.testing.cases import check_households

        root = policies or bundled_policies()
        found = check_policy(root, jurisdiction)
        sources = {}
        try:
            model = read_policy_set(root, jurisdiction, [])
            sources = dict(model.sources)
            found += check_households(model.facts, model.tests)  # the households of the test cases
        except PolicyError as e:
            sources = dict(e.sources)
        # At most 100 a file (then one that counts the rest); errors first, then warnings, each by position.
        order = {"error": 0, "warning": 1, "acknowledged": 2}  # errors, then warnings, then what staff accepted
        diags = sorted(cap_per_file(found), key=lambda d: order.get(d.severity, 1))
        errors = [d for d in diags if d.severity == "error" or (strict and d.severity == "warning")]
        if fmt == "json":
            click.echo(json.dumps([d.to_json() for d in diags], ensure_ascii=False, indent=2))
        else:
            for d in diags:
                click.echo(d.render(sources) + "\n")
            n_e = sum(1 for d in diags if d.severity == "error")
            n_w = sum(1 for d in diags if d.severity == "warning")
            n_a = sum(1 for d in diags if d.severity == "acknowledged")
            rule = " (--strict: warnings count as errors)" if strict and n_w else ""
            known = f", {n_a} acknowledged" if n_a else ""
            click.echo(f"{root.resolve().name}: {n_e} error(s), {n_w} warning(s){known}{rule}")
        sys.exit(EXIT_FAIL if errors else EXIT_OK)

    @main.command()
    @_policy_arg()
    @jur
    @click.option("-k", "name_filter", metavar="TEXT", help="Run only cases and properties whose name contains TEXT.")
    @click.option("-q", "--quiet", is_flag=True, help="Print failures and the summary only.")
    @click.option("--coverage", is_flag=True, help="Also report which rules the cases make decisive both ways.")
    @click.option("--fail-under", type=click.FloatRange(0, 100), metavar="PCT", default=None,
                  help="Exit 1 if fewer than PCT% of the rules are decisive both ways (implies --coverage).")
    @click.option("--mutate", is_flag=True, help="Also run the mutation check and list the surviving mutants.")
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    @click.option("--profile", type=click.Choice(["ci", "dev", "thorough"]), default=None,
                  help="How hard to search properties for counterexamples "
                       "[default: $ELIGIBILITY_HYPOTHESIS_PROFILE, else dev].")
    @click.option("--seed", metavar="N|random", default=None, callback=_seed,
                  help="Seed of the property searches: the same seed gives the same run; `random` draws one "
                       "(printed) [default: $ELIGIBILITY_HYPOTHESIS_SEED, else derandomized: the same every run].")
    def test(policies: Path | None, jurisdiction: str | None, name_filter: str | None, quiet: bool,
             coverage: bool, fail_under: float | None, mutate: bool, fmt: str, profile: str | None,
             seed: str | None = None) -> None:
        """Run the YAML test cases and properties of a policy folder (and rule coverage, the mutation check)."""
        from eligibility.testing.cases import run_tests

        engine = _load(policies, jurisdiction)
        try:
            engine.model.tests  # noqa: B018 - read the test files now, to report their problems first
        except PolicyError as e:
            click.echo(e.render(), err=True)
            sys.exit(EXIT_FAIL)
        passed = failed = 0
        failures: list[dict[str, str]] = []
        out: dict[str, Any] = {"passed": 0, "failed": failures}
        cases = ((r.where, r.case.name, r.passed, r.message) for r in run_tests(engine, name_filter))
        props = _properties(engine, name_filter, profile, seed, fmt, out)
        for where, name, ok, message in itertools.chain(cases, props):
            if ok:
                passed += 1
                if not quiet and fmt == "text":
                    click.echo(f"PASS {where}: {name}")
            else:
                failed += 1
                failures.append({"name": name, "where": where, "message": message})
                if fmt == "text":
                    click.echo(f"FAIL {where}: {name}")
                    click.echo("  " + message.replace("\n", "\n  "))
        if fmt == "text":
            click.echo(f"{passed} passed, {failed} failed")
        out["passed"] = passed
        low = _quality(engine, name_filter, coverage or fail_under is not None, fail_under, mutate, fmt, out)
        if fmt == "json":
            click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        sys.exit(EXIT_FAIL if failed or not passed or low else EXIT_OK)

    why_opt = click.option("--why-not", "why_not", is_flag=True,
                           help="Also say, for each program not eligible, what change to one fact would change it, "
                                "and flag near misses.")

    view_opt = click.option(
        "--view", type=click.Choice(["auditor", "applicant"]), default="auditor", show_default=True,
        help="auditor: every rule, number and citation; applicant: plain words only, the outcome and total first.")

    complete_opt = click.option(
        "--complete", is_flag=True,
        help="Every fact without a declared default must be given: an absent one is an input error "
             "(by default it is unknown, and a program that depends on it is undetermined).")

    @main.command()
    @click.argument("household", default="-")
    @click.option("--on", "on", required=True, metavar="YYYY-MM-DD", callback=_date,
                  help="The date the decision is made for.")
    @click.option("--policies", "-p", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Policy folder (default: the bundled policies).")
    @jur
    @click.option("--program", "programs", multiple=True, help="Decide only this program (repeatable).")
    @click.option("--format", "fmt", type=click.Choice(["json", "text", "markdown", "html"]), default="json",
                  show_default=True)
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
    @click.option("--strict", is_flag=True, help="Stop at the first program that cannot be decided.")
    @complete_opt
    @click.option("--record", "record_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  metavar="OUT.json", help="Also write the decision record (input, decision, hashes) to OUT.json.")
    @click.option("--record-log", "record_log", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  metavar="LOG.jsonl", help="Also append the decision record to the hash-chained log LOG.jsonl.")
    @click.option("--sign-key", "sign_key", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  metavar="KEY.pem", help="Sign the log entry with this Ed25519 private key (needs the sign extra).")
    @why_opt
    @view_opt
    def decide(household: str, on: Any, policies: Path | None, jurisdiction: str | None,
               programs: tuple[str, ...], fmt: str, lang: str, strict: bool, record_out: Path | None = None,
               why_not: bool = False, complete: bool = False, record_log: Path | None = None,
               sign_key: Path | None = None, view: str = "auditor") -> None:
        """Decide a household given as JSON (a file, or - for standard input)."""
        key = _signing_key(sign_key, record_log)
        engine = _load(policies, jurisdiction)
        names = _check_programs(engine, programs)
        try:
            data = _read_household(household)
            decision = engine.decide(data, on, names, strict=strict, complete=complete)
        except InputError as e:
            if fmt == "json":
                click.echo(json.dumps({"error": "input", "problems": e.to_json()}, ensure_ascii=False, indent=2))
            else:
                click.echo(str(e), err=True)
            sys.exit(EXIT_FAIL)
        except EvaluationError as e:
            if fmt == "json":
                click.echo(json.dumps({"error": "evaluation", "message": str(e), "program": e.program,
                                       "rule": e.rule}, ensure_ascii=False, indent=2))
            else:
                click.echo(str(e), err=True)
            sys.exit(EXIT_FAIL)
        if record_out is not None:
            _write_record(decision, data, record_out)
        if record_log is not None:
            _append_record(decision, data, record_log, key)
        if fmt == "json":
            click.echo(json.dumps(decision.to_json(why_not=why_not), ensure_ascii=False, indent=2,
                                  default=_json_default))
        else:
            click.echo(decision.explain(lang=lang, fmt=fmt, why_not=why_not, view=view), nl=False)
        # A program that cannot be decided is part of the answer (printed with its reason): exit 0.
        # --strict asks for every program decided, and stops at the first that is not (exit 1 above).

    @main.command()
    @click.argument("household", default="-")
    @click.option("--on", "on", required=True, metavar="YYYY-MM-DD", callback=_date)
    @click.option("--policies", "-p", type=click.Path(file_okay=False, path_type=Path), default=None)
    @jur
    @click.option("--program", "programs", multiple=True)
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
    @click.option("--markdown", is_flag=True, help="Markdown instead of plain text.")
    @click.option("--html", is_flag=True, help="One printable HTML page instead of plain text.")
    @why_opt
    @complete_opt
    @view_opt
    @click.pass_context
    def explain(ctx: Any, household: str, on: Any, policies: Path | None, jurisdiction: str | None,
                programs: tuple[str, ...], lang: str, markdown: bool, html: bool = False,
                why_not: bool = False, complete: bool = False, view: str = "auditor") -> None:
        """Explain the decision for a household in Chinese or English."""
        if markdown and html:
            raise click.UsageError("--markdown and --html cannot be used together")
        ctx.invoke(decide, household=household, on=on, policies=policies, jurisdiction=jurisdiction,
                   programs=programs, fmt="html" if html else "markdown" if markdown else "text", lang=lang,
                   strict=False, why_not=why_not, complete=complete, view=view)

    @main.command(name="compile")
    @_policy_arg()
    @jur
    @click.option("--emit-python", is_flag=True, help="Print the generated Python source.")
    def compile_cmd(policies: Path | None, jurisdiction: str | None, emit_python: bool) -> None:
        """Compile a policy folder; print its content hash or its generated Python."""
        engine = _load(policies, jurisdiction)
        if emit_python:
            click.echo(engine.compiled.generated.source, nl=False)
        else:
            click.echo(f"{engine.policy_hash}  programs: {', '.join(engine.programs)}")

    @main.command()
    @_policy_arg()
    @jur
    @click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Folder for the Markdown pages [default: docs/policies beside the POLICIES folder, "
                       "e.g. docs/policies for policies; without POLICIES, docs/policies in the current folder].")
    @click.option("--check", "check_only", is_flag=True, help="Exit 1 if the pages on disk are not current.")
    def doc(policies: Path | None, jurisdiction: str | None, out: Path | None, check_only: bool) -> None:
        """Render every program (rules, parameters with history, citations) to Markdown.

        Without POLICIES, the bundled policies are rendered (or checked).
        """
        import shlex

        from eligibility.audit.book import render_book, write_book

        if out is None:
            out = policies.parent / "docs" / "policies" if policies is not None else Path("docs/policies")
        engine = _load(policies, jurisdiction)
        if check_only:
            stale = [name for name, text in render_book(engine).items()
                     if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text]
            for name in stale:
                click.echo(f"out of date: {out / name}")
            if stale:
                what = shlex.quote(str(policies)) + " " if policies is not None else ""
                jur_opt = f"-j {jurisdiction} " if jurisdiction else ""
                click.echo(f"run `eligibility doc {what}{jur_opt}--out {shlex.quote(str(out))}` and commit the result",
                           err=True)
                if policies is None:
                    click.echo("(this checked the bundled policies; give your policy folder to check its book: "
                               "`eligibility doc POLICIES --check`)", err=True)
            sys.exit(EXIT_FAIL if stale else EXIT_OK)
        for path in write_book(engine, out):
            click.echo(f"wrote {path}")

    _add_audit_commands(main, jur)
    _add_batch_command(main, jur)
    _add_service_commands(main, jur)
    return main


def _write_record(decision: Any, household: Any, out: Path) -> None:
    """Write the canonical decision record of `decide --record`."""
    from eligibility.audit.canonical import dumps_record, make_record

    try:
        text = dumps_record(make_record(decision, household))
    except InputError as e:
        click.echo(str(e), err=True)
        sys.exit(EXIT_FAIL)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise click.UsageError(f"cannot write {out}: {e.strerror}") from None


def _signing_key(path: Path | None, record_log: Path | None) -> Any:
    """Read `--sign-key` (a usage error without `--record-log`, without cryptography, or for a bad key)."""
    if path is None:
        return None
    if record_log is None:
        raise click.UsageError("--sign-key signs log entries: give --record-log LOG.jsonl too")
    from eligibility.audit.log import load_signing_key

    try:
        return load_signing_key(path)
    except ImportError as e:
        raise click.UsageError(str(e)) from None
    except OSError as e:
        raise click.UsageError(f"cannot read {path}: {e.strerror}") from None
    except InputError as e:
        raise click.UsageError(f"--sign-key {e.problems[0]}") from None


def _append_record(decision: Any, household: Any, log: Path, key: Any) -> None:
    """Append the decision record to the log of `decide --record-log`."""
    from eligibility.audit.canonical import make_record
    from eligibility.audit.log import append

    try:
        record = make_record(decision, household)
    except InputError as e:
        click.echo(str(e), err=True)
        sys.exit(EXIT_FAIL)
    try:
        append(log, record, key)
    except InputError as e:
        raise click.UsageError(f"cannot append to {e.problems[0]}") from None
    except OSError as e:
        raise click.UsageError(f"cannot write {log}: {e.strerror}") from None


def _is_log(path: Path) -> bool:
    """Whether a file is a record log: its first line is a whole JSON object of schema eligibility.log/1."""
    from eligibility.audit.log import LOG_SCHEMA

    try:
        with open(path, "rb") as f:
            first = f.readline(1 << 24)
        entry = json.loads(first)
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(entry, dict) and entry.get("schema") == LOG_SCHEMA


def _verify_log(path: Path, head: str | None, verify_key: Path | None) -> NoReturn:
    """`eligibility verify LOG.jsonl`: print `intact:` or `tampered:` and the problems; exit 0 or 1."""
    from eligibility.audit.log import load_verify_key, verify_log

    try:
        key = load_verify_key(verify_key) if verify_key is not None else None
    except ImportError as e:
        raise click.UsageError(str(e)) from None
    except OSError as e:
        raise click.UsageError(f"cannot read {verify_key}: {e.strerror}") from None
    except InputError as e:
        raise click.UsageError(f"--verify-key {e.problems[0]}") from None
    try:
        report = verify_log(path, head=head, verify_key=key)
    except OSError as e:
        raise click.UsageError(f"cannot read {path}: {e.strerror}") from None
    if not report.intact:
        first = report.first_bad_line
        click.echo("tampered: the log is not intact" + (f"; first bad line: {first}" if first else ""))
        for p in report.problems:
            click.echo(f"  {p}")
        sys.exit(EXIT_FAIL)
    click.echo(f"intact: log of {report.entries} entries, head {report.head}")
    if report.signatures_checked:
        click.echo(f"  every entry is signed by the verify key ({report.signed} signatures checked)")
    else:
        signed = f"{report.signed} of {report.entries} entries signed; " if report.signed else ""
        click.echo(f"  signatures not checked ({signed}give --verify-key PUB.pem)")
    if report.anchored_line is not None:
        after = report.entries - report.anchored_line
        click.echo(f"  the anchored head is line {report.anchored_line}; {after} entries were appended after it")
    else:
        click.echo("  no anchored head: keep the head elsewhere and give it with --head to detect truncation "
                   "and rewriting")
    sys.exit(EXIT_OK)


def _read_record(path: Path) -> tuple[Any, list[str]]:
    """Read a record file; return it and its problems (a usage error if it is not readable JSON)."""
    from eligibility.audit.canonical import loads_record
    from eligibility.audit.verify import verify_record

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise click.UsageError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise click.UsageError(f"{path} is not UTF-8 text") from None
    try:
        data = loads_record(text)
    except InputError as e:
        if e.kind != "duplicate":
            raise click.UsageError(f"{path}: {e.problems[0].message}") from None
        return None, [e.problems[0].message]
    return data, verify_record(data)


def _record_policies(data: Any, policies: Path | None) -> tuple[Any, str]:
    """Return the policy set to check a record against (or None), and a line saying which it is."""
    from eligibility.engine.runtime import load

    jurisdiction = data["policy"].get("jurisdiction")
    if policies is not None:
        return _load(policies, jurisdiction), f"checked against the policies in {policies}: rule texts, " \
            "parameter values and citations"
    try:
        bundled = load(None, jurisdiction=jurisdiction)
    except PolicyError:
        bundled = None
    if bundled is not None and bundled.policy_hash == data["policy"]["hash"]:
        return bundled, "checked against the bundled policies (the record's policy set): rule texts, " \
            "parameter values and citations"
    return None, ("not checked against policy files (the bundled policies are not the record's policy set): "
                  "give --policies with the folder it was decided with")


def _add_audit_commands(main: Any, jur: Any) -> None:
    """Add `verify`, `replay` and `diff`: the auditor's commands."""

    @main.command()
    @click.argument("record", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--explain", "fmt", type=click.Choice(["text", "markdown", "html"]), default=None,
                  help="Print the recorded decision's explanation (when the record is intact).")
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
    @click.option("--policies", "-p", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="The policy folder the record was decided with: also check its rule texts, parameter "
                       "values and citations against it [default: the bundled policies, when they are the "
                       "record's policy set].")
    @click.option("--head", default=None, metavar="sha256:HEX",
                  help="For a record log: an entry hash kept elsewhere, which must be in the log (detects "
                       "truncation and rewriting).")
    @click.option("--verify-key", "verify_key", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  metavar="PUB.pem", help="For a record log: every entry must be signed by this Ed25519 public key.")
    @click.option("--view", type=click.Choice(["auditor", "applicant"]), default="auditor", show_default=True,
                  help="The explanation's reader (with --explain): the auditor (everything) or the applicant.")
    def verify(record: Path, fmt: str | None, lang: str, policies: Path | None, head: str | None = None,
               verify_key: Path | None = None, view: str = "auditor") -> None:
        """Check that a decision record, or a record log, is intact; optionally print a record's explanation.

        Exit codes: 0 intact, 1 changed after it was made (or the policies do not load), 2 usage error
        (including --policies that are not the record's policy set).
        """
        from eligibility.audit.verify import verify_record
        from eligibility.explain.text import render

        if _is_log(record):
            if fmt is not None or policies is not None:
                raise click.UsageError("--explain and --policies are for a single record, not a record log")
            _verify_log(record, head, verify_key)
        if head is not None or verify_key is not None:
            raise click.UsageError("--head and --verify-key are for a record log (LOG.jsonl)")
        data, problems = _read_record(record)
        note = None
        if not problems:
            engine, note = _record_policies(data, policies)
            if engine is not None:
                try:
                    problems = verify_record(data, engine)
                except InputError as e:
                    raise click.UsageError(f"--policies {policies}: {e.problems[0].message}") from None
        if problems:
            click.echo("tampered: the record is not intact")
            for p in problems:
                click.echo(f"  {p}")
            sys.exit(EXIT_FAIL)
        head = (f"intact: record {data['record_hash']}, decided for {data['decided_for']}, "
                f"policy set {data['policy']['hash']}, eligibility {data['library_version']}")
        if fmt is None:
            click.echo(head)
            click.echo(f"  {note}")
        else:
            try:
                text = render(data["decision"], lang=lang, fmt=fmt, view=view)
            except (KeyError, TypeError, ValueError, AttributeError, IndexError, ArithmeticError):
                click.echo("the recorded decision is not an eligibility.decision/1 trace; it cannot be explained",
                           err=True)
                sys.exit(EXIT_FAIL)
            click.echo(head, err=True)
            click.echo(f"  {note}", err=True)
            click.echo(text, nl=False)
        sys.exit(EXIT_OK)

    @main.command()
    @click.argument("record", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--policies", "-p", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Policy folder to replay with (default: the bundled policies).")
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    def replay(record: Path, policies: Path | None, fmt: str) -> None:
        """Decide a record's household again and say whether the decision is identical, or what differs and why.

        Exit codes: 0 identical, 1 different or tampered (or the policies do not load), 2 usage error.
        """
        from eligibility.audit.replay import ReplayResult
        from eligibility.audit.replay import replay as replay_record

        data, problems = _read_record(record)
        if problems:
            result = ReplayResult(False, problems=tuple(problems))
        else:
            engine = _load(policies, data["policy"].get("jurisdiction"))
            result = replay_record(data, engine)
        if fmt == "json":
            click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2, default=_json_default))
        else:
            click.echo(result.render(), nl=False)
        sys.exit(EXIT_OK if result.identical else EXIT_FAIL)

    @main.command(name="diff")
    @click.argument("old")
    @click.argument("new")
    @jur
    @click.option("--households", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  metavar="FILE.jsonl", help="Households, one JSON object a line (or {\"on\", \"household\"}).")
    @click.option("--on", "on", metavar="YYYY-MM-DD", default=None, callback=_date,
                  help="Decision date of household lines without their own \"on\".")
    @click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text",
                  show_default=True)
    @click.option("--top", type=click.IntRange(0), default=10, show_default=True, metavar="N",
                  help="With --households: list the N households whose monthly total across programs falls "
                       "most, and the N whose total rises most, with the programs that changed for each.")
    def diff_cmd(old: str, new: str, jurisdiction: str | None, households: Path | None, on: Any,
                 fmt: str, top: int = 10) -> None:
        """Compare two policy sets (folders or git:REV:PATH): rules, parameters, citations, outputs.

        With --households, decide each household under both and count the changes per program, then
        list the households whose monthly total across programs changes most (--top).
        Exit codes: 0 no difference, 1 differences, household errors or a policy error, 2 usage error.
        """
        import contextlib

        from eligibility.audit.diff import diff_policies
        from eligibility.audit.git import policy_folder

        day = on  # checked by the option (_date)
        for spec in (old, new):
            if not spec.startswith("git:") and not Path(spec).is_dir():
                raise click.UsageError(f"{spec} is not a folder (nor git:REV:PATH)")
        with contextlib.ExitStack() as stack:
            roots = []
            for spec in (old, new):
                try:
                    roots.append(stack.enter_context(policy_folder(spec)))
                except PolicyError as e:
                    raise click.UsageError(e.message) from None
            engines = [_load(r, jurisdiction) for r in roots]
            lines = None
            if households is not None:
                try:
                    lines = stack.enter_context(households.open("rb"))
                except OSError as e:
                    raise click.UsageError(f"cannot read {households}: {e.strerror}") from None
            try:
                result = diff_policies(engines[0], engines[1], old_name=old, new_name=new, households=lines, on=day,
                                       top=top)
            except OSError as e:
                raise click.UsageError(f"cannot read {households}: {e.strerror}") from None
        if fmt == "json":
            click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2, default=_json_default))
        else:
            click.echo(result.render(fmt), nl=False)
        errors = result.impact is not None and bool(result.impact.errors)
        sys.exit(EXIT_FAIL if result.different or errors else EXIT_OK)


def _add_batch_command(main: Any, jur: Any) -> None:
    """Add `batch`: decide a file of households into a file of results (eligibility.scale.files.run_file)."""

    @main.command()
    @click.argument("source", metavar="IN", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="Output file: .jsonl, .csv or .parquet (or see --format).")
    @click.option("--on", "on", metavar="YYYY-MM-DD", default=None, callback=_date,
                  help="Decision date of records without their own \"on\".")
    @click.option("--policies", "-p", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Policy folder (default: the bundled policies).")
    @jur
    @click.option("--program", "programs", multiple=True, help="Decide only this program (repeatable).")
    @click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
                  help="Processes deciding in parallel.")
    @click.option("--resume", is_flag=True, help="Continue an interrupted run after the records OUT holds.")
    @click.option("--trace", is_flag=True, help="Also write each decision's trace (much slower, much larger).")
    @click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet"]), default=None,
                  help="Output format [default: from OUT's extension].")
    def batch(source: Path, out: Path, on: Any, policies: Path | None, jurisdiction: str | None,
              programs: tuple[str, ...], workers: int, resume: bool, trace: bool, fmt: str | None) -> None:
        """Decide every household of a .jsonl, .csv or .parquet file; one result a record, in input order.

        Exit codes: 0 every record decided, 1 a record could not be decided (its output line says
        why) or the policies do not load, 2 usage error, 130 interrupted (rerun with --resume).
        """
        from eligibility.scale.files import run_file

        engine = _load(policies, jurisdiction)
        report = _progress_reporter()
        try:
            summary = run_file(source, out, engine, on=on, programs=programs or None, workers=workers,
                               trace=trace, resume=resume, out_format=fmt, progress=report)
        except InputError as e:
            raise click.UsageError("; ".join(f"{p.path}: {p.message}" for p in e.problems)) from None
        except PolicyError as e:
            click.echo(e.render(), err=True)
            sys.exit(EXIT_FAIL)
        finally:
            report(-1, None)
        click.echo(summary.render(), nl=False)
        if summary.interrupted:
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(EXIT_FAIL if summary.failed else EXIT_OK)


def _add_service_commands(main: Any, jur: Any) -> None:
    """Add `schema` (the JSON Schema of the household) and `serve` (the HTTP service, eligibility.serve)."""

    @main.command()
    @_policy_arg()
    @jur
    @click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Write the schema to this file instead of standard output.")
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
                  help="Language of titles and descriptions (x-labels always has both).")
    @click.option("--decision", is_flag=True, help="The schema of the decision and trace JSON instead.")
    def schema(policies: Path | None, jurisdiction: str | None, out: Path | None, lang: str, decision: bool) -> None:
        """Print the JSON Schema (draft 2020-12) of the households a policy folder accepts."""
        from eligibility.engine.household_schema import engine_household_schema, trace_schema_text

        if decision:
            text = trace_schema_text()
        else:
            text = json.dumps(engine_household_schema(_load(policies, jurisdiction), lang=lang),
                              ensure_ascii=False, indent=2) + "\n"
        if out is None:
            click.echo(text, nl=False)
            return
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as e:
            raise click.UsageError(f"cannot write {out}: {e.strerror}") from None

    @main.command()
    @_policy_arg()
    @jur
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
    @click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
                  help="Port to listen on (0: a free port, logged at start).")
    @click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="File whose first line is the bearer token callers must send [default: $ELIGIBILITY_TOKEN].")
    @click.option("--no-auth", is_flag=True, help="Serve without a token: allowed on a loopback address only.")
    @click.option("--ssl-certfile", type=click.Path(dir_okay=False, exists=True), default=None,
                  help="TLS certificate (PEM), passed to uvicorn.")
    @click.option("--ssl-keyfile", type=click.Path(dir_okay=False, exists=True), default=None,
                  help="TLS private key (PEM), passed to uvicorn.")
    @click.option("--max-body", type=click.IntRange(1), default=1024 * 1024, show_default=True, metavar="BYTES",
                  help="Largest request body; 413 beyond.")
    @click.option("--time-limit", type=click.FloatRange(0, min_open=True), default=10.0, show_default=True,
                  metavar="SECONDS", help="Longest a request may wait and decide; 503 beyond.")
    @click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
                  show_default=True)
    def serve(policies: Path | None, jurisdiction: str | None, host: str, port: int, token_file: Path | None,
              no_auth: bool, ssl_certfile: str | None, ssl_keyfile: str | None, max_body: int, time_limit: float,
              log_level: str) -> None:
        """Serve decisions and explanations over HTTP (needs the serve extra).

        Every route but /health needs `Authorization: Bearer TOKEN`. Logs are JSON lines on standard
        error, without household facts. See docs/how-to/call-the-service.md.
        """
        try:
            from eligibility.serve.body import Limits
            from eligibility.serve.run import ServeError, resolve_token
            from eligibility.serve.run import serve as run_service
        except ImportError:
            raise click.UsageError("serve needs starlette and uvicorn: pip install 'eligibility[serve]'") from None
        try:
            token = resolve_token(token_file, no_auth, host)
        except ServeError as e:
            raise click.UsageError(str(e)) from None
        engine = _load(policies, jurisdiction)
        try:
            run_service(engine, host=host, port=port, token=token, ssl_certfile=ssl_certfile,
                        ssl_keyfile=ssl_keyfile, log_level=log_level,
                        limits=Limits(max_body=max_body, time_limit=time_limit))
        except ServeError as e:
            raise click.UsageError(str(e)) from None


def _progress_reporter() -> Any:
    """Return progress(done, total): a bar with rate and ETA on a terminal, else a line on stderr every 5 s.

    The first call gives the records already done (a resumed run); progress(-1, None) closes the bar.
    """
    import time

    state: dict[str, Any] = {"bar": None, "shown": 0, "last": 0.0, "first": None}

    def rate(done: int) -> str:
        first, since = state["first"]
        elapsed = time.monotonic() - since
        return f"{(done - first) / elapsed:,.0f} records/s" if elapsed > 0 and done > first else ""

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
                bar: Any = click.progressbar(length=total, label="deciding", file=sys.stderr, show_eta=True,
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
            click.echo(f"batch: {done:,}{of} records, {rate(done) or '-'}{eta}", err=True)

    return progress


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    if click is None:
        sys.stderr.write("the eligibility command needs click: pip install 'eligibility[cli]'\n")
        return EXIT_USAGE
    cmd = build()
    try:
        cmd.main(args=argv, prog_name="eligibility", standalone_mode=True)
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else EXIT_USAGE
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
