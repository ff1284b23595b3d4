"""The auditor's commands: `verify`, `replay` and `diff`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from eligibility.base.errors import InputError, PolicyError
from eligibility.base.i18n import translate as _
from eligibility.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    check_date,
    json_default,
    jurisdiction_option,
    load_policies,
    policies_option,
)


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
        raise click.UsageError(_("cannot read {verify_key}: {strerror}",
                                 verify_key=verify_key, strerror=e.strerror)) from None
    except InputError as e:
        raise click.UsageError(_("--verify-key {problems}", problems=e.problems[0])) from None
    try:
        report = verify_log(path, head=head, verify_key=key)
    except OSError as e:
        raise click.UsageError(_("cannot read {path}: {strerror}", path=path, strerror=e.strerror)) from None
    if not report.intact:
        first = report.first_bad_line
        click.echo(_("tampered: the log is not intact; first bad line: {first}", first=first) if first
                   else _("tampered: the log is not intact"))
        for p in report.problems:
            click.echo(f"  {p}")
        sys.exit(EXIT_FAIL)
    click.echo(_("intact: log of {entries} entries, head {head}", entries=report.entries, head=report.head))
    if report.signatures_checked:
        click.echo(_("  every entry is signed by the verify key ({signed} signatures checked)",
                     signed=report.signed))
    else:
        signed = _("{signed} of {entries} entries signed; ", signed=report.signed, entries=report.entries) \
            if report.signed else ""
        click.echo(_("  signatures not checked ({signed}give --verify-key PUB.pem)", signed=signed))
    if report.anchored_line is not None:
        after = report.entries - report.anchored_line
        click.echo(_("  the anchored head is line {anchored_line}; {after} entries were appended after it",
                     anchored_line=report.anchored_line, after=after))
    else:
        click.echo(_("  no anchored head: keep the head elsewhere and give it with --head to detect truncation "
                   "and rewriting"))
    sys.exit(EXIT_OK)


def _read_record(path: Path) -> tuple[Any, list[str]]:
    """Read a record file; return it and its problems (a usage error if it is not readable JSON)."""
    from eligibility.audit.canonical import loads_record
    from eligibility.audit.verify import verify_record

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise click.UsageError(_("cannot read {path}: {strerror}", path=path, strerror=e.strerror)) from None
    except UnicodeDecodeError:
        raise click.UsageError(_("{path} is not UTF-8 text", path=path)) from None
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
        return load_policies(policies, jurisdiction), _(
            "checked against the policies in {policies}: rule texts, parameter values and citations",
            policies=policies)
    try:
        bundled = load(None, jurisdiction=jurisdiction)
    except PolicyError:
        bundled = None
    if bundled is not None and bundled.policy_hash == data["policy"]["hash"]:
        return bundled, _("checked against the bundled policies (the record's policy set): rule texts, "
                          "parameter values and citations")
    return None, _("not checked against policy files (the bundled policies are not the record's policy set): "
                   "give --policies with the folder it was decided with")


def add_commands(main: Any) -> None:
    """Add `verify`, `replay` and `diff`: the auditor's commands."""

    @main.command()
    @click.argument("record", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--explain", "fmt", type=click.Choice(["text", "markdown", "html"]), default=None,
                  help="Print the recorded decision's explanation (when the record is intact).")
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
    @policies_option("The policy folder the record was decided with: also check its rule texts, parameter "
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
                raise click.UsageError(_("--explain and --policies are for a single record, not a record log"))
            _verify_log(record, head, verify_key)
        if head is not None or verify_key is not None:
            raise click.UsageError(_("--head and --verify-key are for a record log (LOG.jsonl)"))
        data, problems = _read_record(record)
        note = None
        if not problems:
            engine, note = _record_policies(data, policies)
            if engine is not None:
                try:
                    problems = verify_record(data, engine)
                except InputError as e:
                    raise click.UsageError(_("--policies {policies}: {message}",
                                             policies=policies, message=e.problems[0].message)) from None
        if problems:
            click.echo(_("tampered: the record is not intact"))
            for p in problems:
                click.echo(f"  {p}")
            sys.exit(EXIT_FAIL)
        head = _("intact: record {hash}, decided for {day}, policy set {policy}, eligibility {version}",
                 hash=data["record_hash"], day=data["decided_for"], policy=data["policy"]["hash"],
                 version=data["library_version"])
        if fmt is None:
            click.echo(head)
            click.echo(f"  {note}")
        else:
            try:
                text = render(data["decision"], lang=lang, fmt=fmt, view=view)
            except (KeyError, TypeError, ValueError, AttributeError, IndexError, ArithmeticError):
                click.echo(_("the recorded decision is not an eligibility.decision/1 trace; it cannot be explained"),
                           err=True)
                sys.exit(EXIT_FAIL)
            click.echo(head, err=True)
            click.echo(f"  {note}", err=True)
            click.echo(text, nl=False)
        sys.exit(EXIT_OK)

    @main.command()
    @click.argument("record", type=click.Path(dir_okay=False, path_type=Path))
    @policies_option("Policy folder to replay with (default: the bundled policies).")
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
            engine = load_policies(policies, data["policy"].get("jurisdiction"))
            result = replay_record(data, engine)
        if fmt == "json":
            click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2, default=json_default))
        else:
            click.echo(result.render(), nl=False)
        sys.exit(EXIT_OK if result.identical else EXIT_FAIL)

    @main.command(name="diff")
    @click.argument("old")
    @click.argument("new")
    @jurisdiction_option
    @click.option("--households", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  metavar="FILE.jsonl", help="Households, one JSON object a line (or {\"on\", \"household\"}).")
    @click.option("--on", "on", metavar="YYYY-MM-DD", default=None, callback=check_date,
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

        day = on  # checked by the option (check_date)
        for spec in (old, new):
            if not spec.startswith("git:") and not Path(spec).is_dir():
                raise click.UsageError(_("{spec} is not a folder (nor git:REV:PATH)", spec=spec))
        with contextlib.ExitStack() as stack:
            roots = []
            for spec in (old, new):
                try:
                    roots.append(stack.enter_context(policy_folder(spec)))
                except PolicyError as e:
                    raise click.UsageError(e.message) from None
            engines = [load_policies(r, jurisdiction) for r in roots]
            lines = None
            if households is not None:
                try:
                    lines = stack.enter_context(households.open("rb"))
                except OSError as e:
                    raise click.UsageError(_("cannot read {households}: {strerror}",
                                             households=households, strerror=e.strerror)) from None
            try:
                result = diff_policies(engines[0], engines[1], old_name=old, new_name=new, households=lines, on=day,
                                       top=top)
            except OSError as e:
                raise click.UsageError(_("cannot read {households}: {strerror}",
                                         households=households, strerror=e.strerror)) from None
        if fmt == "json":
            click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2, default=json_default))
        else:
            click.echo(result.render(fmt), nl=False)
        errors = result.impact is not None and bool(result.impact.errors)
        sys.exit(EXIT_FAIL if result.different or errors else EXIT_OK)
