"""`monitor`: an event log in, alerts out (eligibility.monitor; docs/how-to/monitoring.md)."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

import click

from eligibility.base.errors import PolicyError
from eligibility.cli.common import (
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    jurisdiction_option,
    load_policies,
    policies_option,
    progress_reporter,
)


def add_commands(main: Any) -> None:
    """Add `monitor`: an event log in, alerts out (eligibility.monitor; docs/how-to/monitoring.md)."""

    @main.command()
    @click.argument("events", metavar="EVENTS.jsonl", type=click.Path(dir_okay=False, exists=True, path_type=Path))
    @click.option("--state", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="SQLite state file: created, or resumed from where it stopped.")
    @click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Write every alert of the state as JSONL here [default: EVENTS with .alerts.jsonl].")
    @policies_option("Policy folder with its monitoring/ rules (default: the bundled policies).")
    @jurisdiction_option
    @click.option("--engine", "engine_name", type=click.Choice(["reference", "durable"]), default="reference",
                  show_default=True, help="The monitoring engine.")
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
                  help="Language of the summary.")
    @click.option("--progress", is_flag=True, help="Report progress on stderr even when it is not a terminal.")
    def monitor(events: Path, state: Path, out: Path | None, policies: Path | None, jurisdiction: str | None,
                engine_name: str, lang: str, progress: bool) -> None:
        """Read timestamped events, raise alerts (re-decisions, thresholds, indicators, reviews due, repeat use).

        Bad and late events are listed on stderr with their line and reason, and processing goes on.
        Exit codes: 0 done, 1 the policies or monitoring rules do not load, 2 usage error (also a
        state file made by other rules or another log), 130 interrupted (run again to resume).
        """
        from eligibility.engine.runtime import bundled_policies
        from eligibility.monitor.rules import load_rules
        from eligibility.monitor.run import MonitorUnavailable, identity, make_monitor, summary, write_alerts
        from eligibility.monitor.store import StateMismatch, Store

        engine = load_policies(policies, jurisdiction)
        try:
            rules = load_rules(policies or bundled_policies(), engine)
        except PolicyError as e:
            click.echo(e.render(), err=True)
            sys.exit(EXIT_FAIL)
        store = Store(state)
        try:
            store.check_identity(identity(engine, rules, engine_name, events))
            mon = make_monitor(engine_name, engine, rules, store)
        except (StateMismatch, MonitorUnavailable) as e:
            raise click.UsageError(str(e)) from None
        _, reports_before = store.counts()
        report = progress_reporter("monitoring", "bytes") if (progress or sys.stderr.isatty()) else None
        try:
            stats = mon.run(events, None if report is None else (lambda done, total: report(done, total)))
        except KeyboardInterrupt:
            click.echo("interrupted: run the same command again to resume", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except MonitorUnavailable as e:  # the engine gave up mid-run (durable: its worker kept dying)
            click.echo(f"{e}\nstopped at the last commit: run the same command again to resume", err=True)
            sys.exit(EXIT_FAIL)
        finally:
            if report is not None:
                report(-1, None)
        for line in itertools.islice(store.reports(), reports_before, None):
            r = json.loads(line)
            where = f"line {r['line']}" if r["line"] else f"household {r['household']}"
            click.echo(f"{events.name}: {where}: {r['kind']}: " + "; ".join(r["problems"]), err=True)
        target = out or events.with_name(events.stem + ".alerts.jsonl")
        write_alerts(store, target)
        click.echo(summary(store, rules, stats, lang), nl=False)
        store.close()
        sys.exit(EXIT_OK)
