"""Finding households: `join` (department extracts into households) and `discover` (eligibility.discover)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from eligibility.base.errors import InputError, PolicyError
from eligibility.base.i18n import translate as _
from eligibility.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    check_date,
    check_programs,
    jurisdiction_option,
    load_policies,
    policies_option,
    progress_reporter,
    run_and_summarize,
)


def _add_discover(main: Any) -> None:
    """Add `discover`: find missed, ineligible and misplaced households in a joined file (eligibility.discover)."""

    @main.command()
    @click.argument("joined", metavar="[JOINED.jsonl]", required=False, type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Join the extracts this mapping file names first (into OUT/joined.jsonl), instead of JOINED.")
    @click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="With --mapping: the file holding the pseudonym key.")
    @click.option("--key-env", metavar="VAR", default=None,
                  help="With --mapping: the environment variable holding the pseudonym key.")
    @click.option("--on", "on", metavar="YYYY-MM-DD", required=True, callback=check_date, help="The decision date.")
    @click.option("-o", "--out", required=True, type=click.Path(file_okay=False, path_type=Path),
                  help="Output folder (created): findings, traces, summaries and report.html.")
    @policies_option()
    @jurisdiction_option
    @click.option("--program", "programs", multiple=True,
                  help="Decide this program (repeatable) [default: dibao, marginal, tekun].")
    @click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
                  help="Processes deciding in parallel.")
    @click.option("--resume", is_flag=True, help="Continue an interrupted run after the households OUT holds.")
    @click.option("--progress", "show_progress", is_flag=True,
                  help="Report progress on standard error even when it is not a terminal.")
    def discover(joined: Path | None, mapping: Path | None, key_file: Path | None, key_env: str | None, on: Any,
                 out: Path, policies: Path | None, jurisdiction: str | None, programs: tuple[str, ...], workers: int,
                 resume: bool, show_progress: bool) -> None:
        """Find households likely missed, no longer eligible or enrolled wrongly, in a joined file.

        Exit codes: 0 every line read, 1 a line could not be read (the summary lists it), the
        mapping has problems or the policies do not load, 2 usage error, 130 interrupted (rerun
        with --resume).
        """
        from eligibility.discover.report import run_discover

        if (joined is None) == (mapping is None):
            raise click.UsageError(_("give either JOINED.jsonl or --mapping MAPPING"))
        engine = load_policies(policies, jurisdiction)
        checked = check_programs(engine, programs)
        if mapping is not None:
            joined = out / "joined.jsonl"
            if not (resume and joined.is_file()):
                key = _pseudonym_key(key_file, key_env, _("--mapping needs the pseudonym key: exactly one of "
                                                          "--key-file or --key-env"))
                _join(mapping, joined, key, policies)
        assert joined is not None
        report = progress_reporter("discover") if show_progress or sys.stderr.isatty() else None
        run_and_summarize(lambda: run_discover(joined, out, engine, on=on, programs=checked, workers=workers,
                                               resume=resume, progress=report),
                          report, lambda summary: bool(summary.bad))


def _pseudonym_key(key_file: Path | None, key_env: str | None, missing: str) -> bytes:
    """Read the pseudonym key of `join` and `discover --mapping`: a usage error (exit 2) without exactly one of
    --key-file or --key-env (saying `missing`), or for a key that cannot be read or is too short."""
    from eligibility.discover.pseudonym import read_key

    if (key_file is None) == (key_env is None):
        raise click.UsageError(missing)
    try:
        return read_key(key_file, key_env)
    except InputError as e:
        raise click.UsageError("; ".join(p.message for p in e.problems)) from None


def _join(mapping: Path, out: Path, key: bytes, policies: Path | None, memory_limit: str = "2GB") -> Any:
    """Check the mapping (against the facts of `policies`, else the bundled ones) and join its extracts into `out`.

    Returns the join's summary; exits 1 on a mapping problem or an extract that cannot be read, 2 if `out`
    cannot be written.
    """
    from eligibility.discover.join import join
    from eligibility.discover.mapping import MappingError, load_mapping, read_vocabulary

    try:
        facts = read_vocabulary(policies / "facts.yaml") if policies else None
        return join(load_mapping(mapping, facts), out, key, memory_limit=memory_limit,
                    progress=lambda stage: click.echo(_("join: {stage}", stage=stage), err=True))
    except (MappingError, PolicyError) as e:
        click.echo(e.render(), err=True)
        sys.exit(EXIT_FAIL)
    except InputError as e:
        click.echo(str(e), err=True)
        sys.exit(EXIT_FAIL)
    except OSError as e:
        raise click.UsageError(_("cannot write {out}: {strerror}", out=out, strerror=e.strerror)) from None


def _add_join(main: Any) -> None:
    """Add `join`: department extracts joined into households (eligibility.discover.join)."""

    @main.command(name="join")
    @click.argument("mapping", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="The joined households, one JSON a line (.jsonl).")
    @click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="File holding the pseudonym key (at least 16 characters; keep it apart from the outputs).")
    @click.option("--key-env", metavar="VAR", default=None,
                  help="Environment variable holding the pseudonym key (instead of --key-file).")
    @policies_option("Policy folder whose facts.yaml the mapping is checked against (default: the bundled one).")
    @click.option("--memory-limit", default="2GB", show_default=True,
                  help="DuckDB's memory limit; beyond it the join spills to a temporary folder.")
    @click.option("--summary", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Also write the summary (counts, conflicts, unreadable values) as JSON to this file.")
    def join_command(mapping: Path, out: Path, key_file: Path | None, key_env: str | None, policies: Path | None,
                     memory_limit: str, summary: Path | None) -> None:
        """Join the department extracts a MAPPING file names into households, with pseudonymous ids.

        Exit codes: 0 joined (conflicts and unreadable values are listed in the summary); 1 the
        mapping has problems (each at file:line:col) or an extract cannot be read; 2 usage error
        (no key, a key too short).
        """
        key = _pseudonym_key(key_file, key_env, _("give the pseudonym key with exactly one of --key-file or --key-env"))
        result = _join(mapping, out, key, policies, memory_limit)
        if summary is not None:
            summary.write_text(json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        click.echo(result.render(), nl=False)
        sys.exit(EXIT_OK)


def add_commands(main: Any) -> None:
    """Add `join` and `discover`."""
    _add_join(main)
    _add_discover(main)
