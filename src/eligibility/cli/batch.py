"""`batch`: decide a file of households into a file of results (eligibility.scale.files.run_file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from eligibility.cli.common import (
    check_date,
    jurisdiction_option,
    load_policies,
    policies_option,
    progress_reporter,
    run_and_summarize,
)


def add_commands(main: Any) -> None:
    """Add `batch`: decide a file of households into a file of results (eligibility.scale.files.run_file)."""

    @main.command()
    @click.argument("source", metavar="IN", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="Output file: .jsonl, .csv or .parquet (or see --format).")
    @click.option("--on", "on", metavar="YYYY-MM-DD", default=None, callback=check_date,
                  help="Decision date of records without their own \"on\".")
    @policies_option()
    @jurisdiction_option
    @click.option("--program", "programs", multiple=True, help="Decide only this program (repeatable).")
    @click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
                  help="Processes deciding in parallel.")
    @click.option("--resume", is_flag=True, help="Continue an interrupted run after the records OUT holds.")
    @click.option("--trace", type=click.Choice(["full", "compact"]), is_flag=False, flag_value="full", default=None,
                  help="Also write each decision's trace: full (much slower, ~300 KB a line) or compact "
                       "(values only, a few KB; the full one is rebuilt by replay).")
    @click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet"]), default=None,
                  help="Output format [default: from OUT's extension].")
    @click.option("--backend", type=click.Choice(["row", "columnar"]), default="row", show_default=True,
                  help="columnar: numpy columns over blocks of records, the same output (needs the columnar "
                       "extra); with --trace every record is decided by rows.")
    def batch(source: Path, out: Path, on: Any, policies: Path | None, jurisdiction: str | None,
              programs: tuple[str, ...], workers: int, resume: bool, trace: str | None, fmt: str | None,
              backend: str) -> None:
        """Decide every household of a .jsonl, .csv or .parquet file; one result a record, in input order.

        Exit codes: 0 every record decided, 1 a record could not be decided (its output line says
        why) or the policies do not load, 2 usage error, 130 interrupted (rerun with --resume).
        """
        from eligibility.scale.files import run_file

        engine = load_policies(policies, jurisdiction)
        report = progress_reporter()
        run_and_summarize(lambda: run_file(source, out, engine, on=on, programs=programs or None, workers=workers,
                                           trace="compact" if trace == "compact" else trace is not None,
                                           resume=resume, out_format=fmt, progress=report, backend=backend),
                          report, lambda summary: bool(summary.failed))
