"""Deciding households: `decide`, `explain`, `where` and `schema`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from eligibility.base.errors import EvaluationError, InputError, PolicyError
from eligibility.base.i18n import translate as _
from eligibility.cli.common import (
    EXIT_FAIL,
    check_date,
    check_programs,
    exit_undecided,
    json_default,
    jurisdiction_option,
    load_policies,
    policies_option,
    policy_arg,
    read_household,
)


def add_commands(main: Any) -> None:
    """Add `decide`, `explain`, `where` and `schema`."""

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
    @click.option("--on", "on", required=True, metavar="YYYY-MM-DD", callback=check_date,
                  help="The date the decision is made for.")
    @policies_option()
    @jurisdiction_option
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
        engine = load_policies(policies, jurisdiction)
        names = check_programs(engine, programs)
        try:
            data = read_household(household)
            decision = engine.decide(data, on, names, strict=strict, complete=complete)
        except (InputError, EvaluationError) as e:
            exit_undecided(e, fmt)
        if record_out is not None:
            _write_record(decision, data, record_out)
        if record_log is not None:
            _append_record(decision, data, record_log, key)
        if fmt == "json":
            click.echo(json.dumps(decision.to_json(why_not=why_not), ensure_ascii=False, indent=2,
                                  default=json_default))
        else:
            click.echo(decision.explain(lang=lang, fmt=fmt, why_not=why_not, view=view), nl=False)
        # A program that cannot be decided is part of the answer (printed with its reason): exit 0.
        # --strict asks for every program decided, and stops at the first that is not (exit 1 above).

    @main.command()
    @click.argument("household", default="-")
    @click.option("--on", "on", required=True, metavar="YYYY-MM-DD", callback=check_date)
    @policies_option(None)
    @jurisdiction_option
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
            raise click.UsageError(_("--markdown and --html cannot be used together"))
        ctx.invoke(decide, household=household, on=on, policies=policies, jurisdiction=jurisdiction,
                   programs=programs, fmt="html" if html else "markdown" if markdown else "text", lang=lang,
                   strict=False, why_not=why_not, complete=complete, view=view)

    @main.command()
    @click.argument("household", default="-")
    @click.option("--on", "on", required=True, metavar="YYYY-MM-DD", callback=check_date,
                  help="The date of the application.")
    @policies_option(None)
    @jurisdiction_option
    @click.option("--program", "programs", multiple=True, help="Only this program (repeatable).")
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    def where(household: str, on: Any, policies: Path | None, jurisdiction: str | None,
              programs: tuple[str, ...], lang: str, fmt: str) -> None:
        """Say which offices may accept the household's application for each program, and why."""
        engine = load_policies(policies, jurisdiction)
        try:
            data = read_household(household)
            answer = engine.where_to_apply(data, on, programs or None)
        except InputError as e:
            if e.subject == "arguments":
                raise click.BadParameter("; ".join(p.message for p in e.problems), param_hint="--program") from None
            exit_undecided(e, fmt)
        except (EvaluationError, PolicyError) as e:
            click.echo(e.render() if isinstance(e, PolicyError) else str(e), err=True)
            sys.exit(EXIT_FAIL)
        if fmt == "json":
            click.echo(json.dumps(answer.to_json(), ensure_ascii=False, indent=2, default=json_default))
        else:
            click.echo(answer.explain(lang), nl=False)
        # An undetermined answer names the facts it waits on; like `decide`, that is an answer: exit 0.

    @main.command()
    @policy_arg()
    @jurisdiction_option
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
            text = json.dumps(engine_household_schema(load_policies(policies, jurisdiction), lang=lang),
                              ensure_ascii=False, indent=2) + "\n"
        if out is None:
            click.echo(text, nl=False)
            return
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as e:
            raise click.UsageError(_("cannot write {out}: {strerror}", out=out, strerror=e.strerror)) from None


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
        raise click.UsageError(_("cannot write {out}: {strerror}", out=out, strerror=e.strerror)) from None


def _signing_key(path: Path | None, record_log: Path | None) -> Any:
    """Read `--sign-key` (a usage error without `--record-log`, without cryptography, or for a bad key)."""
    if path is None:
        return None
    if record_log is None:
        raise click.UsageError(_("--sign-key signs log entries: give --record-log LOG.jsonl too"))
    from eligibility.audit.log import load_signing_key

    try:
        return load_signing_key(path)
    except ImportError as e:
        raise click.UsageError(str(e)) from None
    except OSError as e:
        raise click.UsageError(_("cannot read {path}: {strerror}", path=path, strerror=e.strerror)) from None
    except InputError as e:
        raise click.UsageError(_("--sign-key {problems}", problems=e.problems[0])) from None


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
        raise click.UsageError(_("cannot append to {problems}", problems=e.problems[0])) from None
    except OSError as e:
        raise click.UsageError(_("cannot write {log}: {strerror}", log=log, strerror=e.strerror)) from None
