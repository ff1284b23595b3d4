"""The policy author's commands: `check`, `test`, `compile` and `doc`."""

from __future__ import annotations

import itertools
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from eligibility.base.errors import PolicyError, cap_per_file
from eligibility.base.i18n import translate as _
from eligibility.cli.common import EXIT_FAIL, EXIT_OK, jurisdiction_option, load_policies, policy_arg


def _seed(ctx: Any, param: Any, value: str | None) -> str | None:
    """Check a --seed option: a whole number at least 0, or `random`, else a usage error (exit 2)."""
    if value is not None and value != "random" and not (value.isascii() and value.isdigit()):
        raise click.BadParameter(_("must be a whole number at least 0 or 'random', not {value!r}", value=value))
    return value


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
        raise click.UsageError(_("properties need hypothesis: pip install 'eligibility[staff]'")) from None
    try:
        chosen = hypothesis_settings(profile)
        start = hypothesis_seed(seed)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    out["seed"] = start
    if fmt == "text" and start is None:
        click.echo(_("properties: derandomized, the same examples on every run (--seed N or --seed random for others)"))
    elif fmt == "text":
        how = _("random") if (seed or os.environ.get(SEED_ENV)) == "random" else _("chosen")
        click.echo(_("properties: hypothesis seed {start} ({how}; --seed {start} reproduces this run)",
                     start=start, how=how))
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
                click.echo(_("rule coverage {percent:.1f}% is below --fail-under {fail_under:g}%",
                             percent=report.percent, fail_under=fail_under))
    if mutate:
        from eligibility.testing.mutate import run_mutants

        def progress(done: int, total: int, killed: int) -> None:
            if done == total or done % max(1, total // 20) == 0:
                click.echo(_("mutants: {done}/{total}, {killed} killed", done=done, total=total, killed=killed),
                           err=True)

        mutation = run_mutants(engine, cases, progress)
        out["mutation"] = mutation.to_json()
        if fmt == "text":
            click.echo("\n" + mutation.render(), nl=False)
    return low


def add_commands(main: Any) -> None:
    """Add `check`, `test`, `compile` and `doc`."""

    @main.command()
    @policy_arg()
    @jurisdiction_option
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
            if model.monitoring_files and not any(d.severity == "error" for d in found):
                found += _check_monitoring(root, jurisdiction, sources)
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
            rule = _(" (--strict: warnings count as errors)") if strict and n_w else ""
            known = _(", {n} acknowledged", n=n_a) if n_a else ""
            click.echo(_("{name}: {n_e} error(s), {n_w} warning(s){known}{rule}",
                         name=root.resolve().name, n_e=n_e, n_w=n_w, known=known, rule=rule))
        sys.exit(EXIT_FAIL if errors else EXIT_OK)

    @main.command()
    @policy_arg()
    @jurisdiction_option
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

        engine = load_policies(policies, jurisdiction)
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
        sequences = _monitoring_cases(engine, policies, name_filter)
        for where, name, ok, message in itertools.chain(cases, sequences, props):
            if ok:
                passed += 1
                if not quiet and fmt == "text":
                    click.echo(_("PASS {where}: {name}", where=where, name=name))
            else:
                failed += 1
                failures.append({"name": name, "where": where, "message": message})
                if fmt == "text":
                    click.echo(_("FAIL {where}: {name}", where=where, name=name))
                    click.echo("  " + message.replace("\n", "\n  "))
        if fmt == "text":
            click.echo(_("{passed} passed, {failed} failed", passed=passed, failed=failed))
        out["passed"] = passed
        low = _quality(engine, name_filter, coverage or fail_under is not None, fail_under, mutate, fmt, out)
        if fmt == "json":
            click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        sys.exit(EXIT_FAIL if failed or not passed or low else EXIT_OK)

    @main.command(name="compile")
    @policy_arg()
    @jurisdiction_option
    @click.option("--emit-python", is_flag=True, help="Print the generated Python source.")
    def compile_cmd(policies: Path | None, jurisdiction: str | None, emit_python: bool) -> None:
        """Compile a policy folder; print its content hash or its generated Python."""
        engine = load_policies(policies, jurisdiction)
        if emit_python:
            click.echo(engine.compiled.generated.source, nl=False)
        else:
            click.echo(_("{policy_hash}  programs: {programs}",
                         policy_hash=engine.policy_hash, programs=', '.join(engine.programs)))

    @main.command()
    @policy_arg()
    @jurisdiction_option
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
        engine = load_policies(policies, jurisdiction)
        if check_only:
            stale = [name for name, text in render_book(engine).items()
                     if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text]
            for name in stale:
                click.echo(_("out of date: {v}", v=out / name))
            if stale:
                what = shlex.quote(str(policies)) + " " if policies is not None else ""
                jur_opt = f"-j {jurisdiction} " if jurisdiction else ""
                click.echo(_("run `eligibility doc {what}{jur_opt}--out {out}` and commit the result",
                             what=what, jur_opt=jur_opt, out=shlex.quote(str(out))),
                           err=True)
                if policies is None:
                    click.echo(_("(this checked the bundled policies; give your policy folder to check its book: "
                               "`eligibility doc POLICIES --check`)"), err=True)
            sys.exit(EXIT_FAIL if stale else EXIT_OK)
        for path in write_book(engine, out):
            click.echo(_("wrote {path}", path=path))


def _check_monitoring(root: Path, jurisdiction: str | None, sources: dict[str, Any]) -> list[Any]:
    """The problems of the monitoring rules and their event-sequence tests (eligibility.monitor)."""
    from eligibility.engine.runtime import load
    from eligibility.monitor.cases import read_cases
    from eligibility.monitor.rules import check_rules

    found: list[Any] = []
    _, texts = check_rules(root, load(root, jurisdiction=jurisdiction), found)
    sources.update(texts)
    try:
        read_cases(root)
    except PolicyError as e:
        found += e.diagnostics
        sources.update(e.sources)
    return found


def _monitoring_cases(engine: Any, policies: Path | None,
                      name_filter: str | None) -> Iterator[tuple[str, str, bool, str]]:
    """Run the event-sequence tests of the monitoring rules for `test`, if the folder has any."""
    from eligibility.engine.runtime import bundled_policies
    from eligibility.monitor.cases import read_cases, run_case
    from eligibility.monitor.rules import load_rules

    root = policies or bundled_policies()
    try:
        cases = [c for c in read_cases(root) if not name_filter or name_filter in c.name]
        if not cases:
            return
        rules = load_rules(root, engine)
    except PolicyError as e:
        yield "monitoring", "monitoring rules and their tests load", False, e.render()
        return
    for case in cases:
        r = run_case(case, engine, rules)
        yield case.span.short, case.name, r.passed, r.message
