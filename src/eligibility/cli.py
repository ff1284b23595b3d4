"""The `eligibility` command: check, test, decide, explain, compile."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

try:
    import click
except ImportError:  # pragma: no cover - exercised only without the cli extra
    click = None  # type: ignore[assignment]

from .errors import EvaluationError, InputError, PolicyError

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _json_default(o: object) -> object:
    if isinstance(o, Decimal):
        return format(o, "f")
    raise TypeError(type(o).__name__)


def _policy_arg() -> Any:
    return click.argument("policies", required=False, type=click.Path(file_okay=False, path_type=Path))


def _read_household(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as e:
        raise click.UsageError(f"cannot read {source}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise click.UsageError(f"{source} is not UTF-8 text") from None
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as e:
        raise click.UsageError(f"{source}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None
    except RecursionError:
        raise click.UsageError(f"{source}: the JSON is nested too deeply") from None


def _load(policies: Path | None, jurisdiction: str | None) -> Any:
    from .runtime import load

    try:
        return load(policies, jurisdiction=jurisdiction)
    except PolicyError as e:
        click.echo(e.render(), err=True)
        sys.exit(EXIT_FAIL)


def build() -> Any:
    """Build the click command group."""

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="eligibility")
    def main() -> None:
        """Rules as code for China's social assistance (社会救助).

        Check and test YAML policies, and decide households with explanations.
        Exit codes: 0 ok, 1 policy or test failure (or an invalid household), 2 usage error.
        """

    jur = click.option("--jurisdiction", "-j", metavar="CODE",
                       help="GB/T 2260 code choosing each program's most specific layer, e.g. 440114.")

    @main.command()
    @_policy_arg()
    @jur
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    @click.option("--strict", is_flag=True, help="Treat warnings as errors.")
    def check(policies: Path | None, jurisdiction: str | None, fmt: str, strict: bool) -> None:
        """Check a policy folder (default: the bundled policies) and list every problem."""
        from .compiler import check_policy
        from .runtime import bundled_policies

        root = policies or bundled_policies()
        diags = sorted(check_policy(root, jurisdiction),
                       key=lambda d: (d.span.path, d.span.line, d.span.col) if d.span else ("", 0, 0))
        errors = [d for d in diags if d.severity == "error" or strict]
        if fmt == "json":
            click.echo(json.dumps([d.to_json() for d in diags], ensure_ascii=False, indent=2))
        else:
            from .policyset import read_policy_set

            sources = {}
            try:
                sources = dict(read_policy_set(root, jurisdiction, []).sources)
            except PolicyError as e:
                sources = dict(e.sources)
            for d in diags:
                click.echo(d.render(sources) + "\n")
            n_e = sum(1 for d in diags if d.severity == "error")
            n_w = sum(1 for d in diags if d.severity == "warning")
            rule = " (--strict: warnings count as errors)" if strict and n_w else ""
            click.echo(f"{root.name}: {n_e} error(s), {n_w} warning(s){rule}")
        sys.exit(EXIT_FAIL if errors else EXIT_OK)

    @main.command()
    @_policy_arg()
    @jur
    @click.option("-k", "name_filter", metavar="TEXT", help="Run only cases whose name contains TEXT.")
    @click.option("-q", "--quiet", is_flag=True, help="Print failures and the summary only.")
    def test(policies: Path | None, jurisdiction: str | None, name_filter: str | None, quiet: bool) -> None:
        """Run the YAML test cases of a policy folder."""
        from .testing import run_tests

        engine = _load(policies, jurisdiction)
        passed = failed = 0
        for r in run_tests(engine, name_filter):
            if r.passed:
                passed += 1
                if not quiet:
                    click.echo(f"PASS {r.where}: {r.case.name}")
            else:
                failed += 1
                click.echo(f"FAIL {r.where}: {r.case.name}")
                click.echo("  " + r.message.replace("\n", "\n  "))
        click.echo(f"{passed} passed, {failed} failed")
        sys.exit(EXIT_FAIL if failed or not passed else EXIT_OK)

    @main.command()
    @click.argument("household", default="-")
    @click.option("--on", "on", required=True, metavar="YYYY-MM-DD", help="The date the decision is made for.")
    @click.option("--policies", "-p", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Policy folder (default: the bundled policies).")
    @jur
    @click.option("--program", "programs", multiple=True, help="Decide only this program (repeatable).")
    @click.option("--format", "fmt", type=click.Choice(["json", "text", "markdown"]), default="json",
                  show_default=True)
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
    @click.option("--strict", is_flag=True, help="Stop at the first program that cannot be decided.")
    def decide(household: str, on: str, policies: Path | None, jurisdiction: str | None,
               programs: tuple[str, ...], fmt: str, lang: str, strict: bool) -> None:
        """Decide a household given as JSON (a file, or - for standard input)."""
        engine = _load(policies, jurisdiction)
        data = _read_household(household)
        try:
            decision = engine.decide(data, on, programs or None, strict=strict)
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
        if fmt == "json":
            click.echo(json.dumps(decision.to_json(), ensure_ascii=False, indent=2, default=_json_default))
        else:
            click.echo(decision.explain(lang=lang, fmt=fmt), nl=False)
        if decision.errors:
            sys.exit(EXIT_FAIL)

    @main.command()
    @click.argument("household", default="-")
    @click.option("--on", "on", required=True, metavar="YYYY-MM-DD")
    @click.option("--policies", "-p", type=click.Path(file_okay=False, path_type=Path), default=None)
    @jur
    @click.option("--program", "programs", multiple=True)
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
    @click.option("--markdown", is_flag=True, help="Markdown instead of plain text.")
    @click.pass_context
    def explain(ctx: Any, household: str, on: str, policies: Path | None, jurisdiction: str | None,
                programs: tuple[str, ...], lang: str, markdown: bool) -> None:
        """Explain the decision for a household in Chinese or English."""
        ctx.invoke(decide, household=household, on=on, policies=policies, jurisdiction=jurisdiction,
                   programs=programs, fmt="markdown" if markdown else "text", lang=lang, strict=False)

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
    @click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("docs/policies"),
                  show_default=True, help="Folder for the Markdown pages.")
    @click.option("--check", "check_only", is_flag=True, help="Exit 1 if the pages on disk are not current.")
    def doc(policies: Path | None, jurisdiction: str | None, out: Path, check_only: bool) -> None:
        """Render every program (rules, parameters with history, citations) to Markdown."""
        from .book import render_book, write_book

        engine = _load(policies, jurisdiction)
        if check_only:
            stale = [name for name, text in render_book(engine).items()
                     if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text]
            for name in stale:
                click.echo(f"out of date: {out / name}")
            if stale:
                click.echo("run `eligibility doc` and commit the result", err=True)
            sys.exit(EXIT_FAIL if stale else EXIT_OK)
        for path in write_book(engine, out):
            click.echo(f"wrote {path}")

    return main


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
