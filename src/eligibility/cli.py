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
from eligibility.base.i18n import LANGUAGES, N_, language_from_locale, use_language
from eligibility.base.i18n import translate as _

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
        raise click.BadParameter(_("must be a 6-digit GB/T 2260 code such as 440114, not {value!r}",
                                   value=value))
    return value


def _seed(ctx: Any, param: Any, value: str | None) -> str | None:
    """Check a --seed option: a whole number at least 0, or `random`, else a usage error (exit 2)."""
    if value is not None and value != "random" and not (value.isascii() and value.isdigit()):
        raise click.BadParameter(_("must be a whole number at least 0 or 'random', not {value!r}", value=value))
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
        how = "random" if (seed or os.environ.get(SEED_ENV)) == "random" else "chosen"
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


def _requested_language(argv: list[str]) -> str | None:
    """The language a command line asks for with `--lang zh|en` (anywhere before `--`), or None."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        value = argv[i + 1] if arg == "--lang" and i + 1 < len(argv) else arg[7:] if arg.startswith("--lang=") else None
        if value in LANGUAGES:
            return value
    return None


#: click's own words in help pages, translated like ours.
_CLICK_WORDS = (N_("Usage: "), N_("Options"), N_("Commands"), N_("Show this message and exit."),
                N_("Show the version and exit."), N_("[default: "), N_("[required]"))


def _translated_help(cmd: Any) -> None:
    """Put a command's help texts, its options' and its subcommands' in the current language."""
    import inspect

    for obj in (cmd, *cmd.params):
        original = obj.__dict__.setdefault("_help_msgid", obj.help)  # the English text: the msgid
        if original:
            obj.help = _(inspect.cleandoc(original) if obj is cmd else original)
    cmd.context_class = _Context
    for sub in getattr(cmd, "commands", {}).values():
        _translated_help(sub)


def _lang_option(cmd: Any) -> None:
    """Give every command a `--lang` option (the language was chosen before parsing: see _Main.main)."""
    for sub in cmd.commands.values():
        if not any(p.name == "lang" for p in sub.params):
            sub.params.append(click.Option(["--lang"], type=click.Choice(LANGUAGES), expose_value=False,
                                           help="Language of messages [default: from the locale: zh if it is zh_*, "
                                                "else en]."))


if click is not None:
    class _Formatter(click.HelpFormatter):
        """click's help formatter, with click's own words (headings, usage, defaults) translated."""

        def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
            super().write_usage(prog, args, _("Usage: ") if prefix is None else prefix)

        def write_heading(self, heading: str) -> None:
            line = _("{heading}:", heading=_(heading))
            self.write(" " * self.current_indent + line + "\n")

        def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
            def words(text: str) -> str:
                for w in _CLICK_WORDS[3:]:
                    text = text.replace(w, _(w))
                return text

            super().write_dl([(a, words(b)) for a, b in rows], col_max, col_spacing)

    class _Context(click.Context):
        formatter_class = _Formatter

    class _Main(click.Group):
        """The command group: chooses the language of messages once, before anything is parsed or shown."""

        context_class = _Context

        def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
            argv = list(sys.argv[1:] if args is None else args)
            with use_language(_requested_language(argv) or language_from_locale()):
                _translated_help(self)
                return super().main(argv, *rest, **kwargs)


def build() -> Any:
    """Build the click command group."""

    @click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("--lang", type=click.Choice(LANGUAGES), expose_value=False,
                  help="Language of messages [default: from the locale: zh if it is zh_*, else en].")
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
            raise click.UsageError(_("--markdown and --html cannot be used together"))
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
            click.echo(_("{policy_hash}  programs: {programs}",
                         policy_hash=engine.policy_hash, programs=', '.join(engine.programs)))

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

    _add_audit_commands(main, jur)
    _add_batch_command(main, jur)
    _add_service_commands(main, jur)
    _add_discover_command(main, jur)
    _add_where_command(main, jur)
    _add_join_command(main)
    _add_monitor_command(main, jur)
    _lang_option(main)
    return main


def _add_where_command(main: Any, jur: Any) -> None:
    @main.command()
    @click.argument("household", default="-")
    @click.option("--on", "on", required=True, metavar="YYYY-MM-DD", callback=_date,
                  help="The date of the application.")
    @click.option("--policies", "-p", type=click.Path(file_okay=False, path_type=Path), default=None)
    @jur
    @click.option("--program", "programs", multiple=True, help="Only this program (repeatable).")
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    def where(household: str, on: Any, policies: Path | None, jurisdiction: str | None,
              programs: tuple[str, ...], lang: str, fmt: str) -> None:
        """Say which offices may accept the household's application for each program, and why."""
        engine = _load(policies, jurisdiction)
        try:
            data = _read_household(household)
            answer = engine.where_to_apply(data, on, programs or None)
        except InputError as e:
            if e.subject == "arguments":
                raise click.BadParameter("; ".join(p.message for p in e.problems), param_hint="--program") from None
            if fmt == "json":
                click.echo(json.dumps({"error": "input", "problems": e.to_json()}, ensure_ascii=False, indent=2))
            else:
                click.echo(str(e), err=True)
            sys.exit(EXIT_FAIL)
        except (EvaluationError, PolicyError) as e:
            click.echo(e.render() if isinstance(e, PolicyError) else str(e), err=True)
            sys.exit(EXIT_FAIL)
        if fmt == "json":
            click.echo(json.dumps(answer.to_json(), ensure_ascii=False, indent=2, default=_json_default))
        else:
            click.echo(answer.explain(lang), nl=False)
        # An undetermined answer names the facts it waits on; like `decide`, that is an answer: exit 0.


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
        head = (f"intact: record {data['record_hash']}, decided for {data['decided_for']}, "
                f"policy set {data['policy']['hash']}, eligibility {data['library_version']}")
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
                raise click.UsageError(_("{spec} is not a folder (nor git:REV:PATH)", spec=spec))
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
                    raise click.UsageError(_("cannot read {households}: {strerror}",
                                             households=households, strerror=e.strerror)) from None
            try:
                result = diff_policies(engines[0], engines[1], old_name=old, new_name=new, households=lines, on=day,
                                       top=top)
            except OSError as e:
                raise click.UsageError(_("cannot read {households}: {strerror}",
                                         households=households, strerror=e.strerror)) from None
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
    @click.option("--trace", type=click.Choice(["full", "compact"]), is_flag=False, flag_value="full", default=None,
                  help="Also write each decision's trace: full (much slower, ~300 KB a line) or compact "
                       "(values only, a few KB; the full one is rebuilt by replay).")
    @click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet"]), default=None,
                  help="Output format [default: from OUT's extension].")
    def batch(source: Path, out: Path, on: Any, policies: Path | None, jurisdiction: str | None,
              programs: tuple[str, ...], workers: int, resume: bool, trace: str | None, fmt: str | None) -> None:
        """Decide every household of a .jsonl, .csv or .parquet file; one result a record, in input order.

        Exit codes: 0 every record decided, 1 a record could not be decided (its output line says
        why) or the policies do not load, 2 usage error, 130 interrupted (rerun with --resume).
        """
        from eligibility.scale.files import run_file

        engine = _load(policies, jurisdiction)
        report = _progress_reporter()
        try:
            summary = run_file(source, out, engine, on=on, programs=programs or None, workers=workers,
                               trace="compact" if trace == "compact" else trace is not None, resume=resume,
                               out_format=fmt, progress=report)
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
            raise click.UsageError(_("cannot write {out}: {strerror}", out=out, strerror=e.strerror)) from None

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
            raise click.UsageError(_("serve needs starlette and uvicorn: pip install 'eligibility[serve]'")) from None
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


def _add_discover_command(main: Any, jur: Any) -> None:
    """Add `discover`: find missed, ineligible and misplaced households in a joined file (eligibility.discover)."""

    @main.command()
    @click.argument("joined", metavar="[JOINED.jsonl]", required=False, type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Join the extracts this mapping file names first (into OUT/joined.jsonl), instead of JOINED.")
    @click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="With --mapping: the file holding the pseudonym key.")
    @click.option("--key-env", metavar="VAR", default=None,
                  help="With --mapping: the environment variable holding the pseudonym key.")
    @click.option("--on", "on", metavar="YYYY-MM-DD", required=True, callback=_date, help="The decision date.")
    @click.option("-o", "--out", required=True, type=click.Path(file_okay=False, path_type=Path),
                  help="Output folder (created): findings, traces, summaries and report.html.")
    @click.option("--policies", "-p", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Policy folder (default: the bundled policies).")
    @jur
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
        engine = _load(policies, jurisdiction)
        checked = _check_programs(engine, programs)
        if mapping is not None:
            joined = out / "joined.jsonl"
            if not (resume and joined.is_file()):
                _join_for_discover(mapping, joined, key_file, key_env, policies)
        assert joined is not None
        report = _progress_reporter("discover") if show_progress or sys.stderr.isatty() else None
        try:
            summary = run_discover(joined, out, engine, on=on, programs=checked, workers=workers, resume=resume,
                                   progress=report)
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
        sys.exit(EXIT_FAIL if summary.bad else EXIT_OK)


def _join_for_discover(mapping: Path, joined: Path, key_file: Path | None, key_env: str | None,
                       policies: Path | None) -> None:
    """Run the join of `discover --mapping` into `joined` (exit 1 on a mapping problem, 2 without a key)."""
    from eligibility.discover.join import join
    from eligibility.discover.mapping import MappingError, load_mapping, read_vocabulary
    from eligibility.discover.pseudonym import read_key

    if (key_file is None) == (key_env is None):
        raise click.UsageError(_("--mapping needs the pseudonym key: exactly one of --key-file or --key-env"))
    try:
        key = read_key(key_file, key_env)
    except InputError as e:
        raise click.UsageError("; ".join(p.message for p in e.problems)) from None
    try:
        joined.parent.mkdir(parents=True, exist_ok=True)
        facts = read_vocabulary(policies / "facts.yaml") if policies else None
        join(load_mapping(mapping, facts), joined, key,
             progress=lambda stage: click.echo(_("join: {stage}", stage=stage), err=True))
    except (MappingError, PolicyError) as e:
        click.echo(e.render(), err=True)
        sys.exit(EXIT_FAIL)
    except InputError as e:
        click.echo(str(e), err=True)
        sys.exit(EXIT_FAIL)
    except OSError as e:
        raise click.UsageError(_("cannot write {out}: {strerror}", out=joined, strerror=e.strerror)) from None


def _add_join_command(main: Any) -> None:
    """Add `join`: department extracts joined into households (eligibility.discover.join)."""

    @main.command(name="join")
    @click.argument("mapping", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="The joined households, one JSON a line (.jsonl).")
    @click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="File holding the pseudonym key (at least 16 characters; keep it apart from the outputs).")
    @click.option("--key-env", metavar="VAR", default=None,
                  help="Environment variable holding the pseudonym key (instead of --key-file).")
    @click.option("--policies", "-p", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Policy folder whose facts.yaml the mapping is checked against (default: the bundled one).")
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
        from eligibility.discover.join import join
        from eligibility.discover.mapping import MappingError, load_mapping, read_vocabulary
        from eligibility.discover.pseudonym import read_key

        if (key_file is None) == (key_env is None):
            raise click.UsageError(_("give the pseudonym key with exactly one of --key-file or --key-env"))
        try:
            key = read_key(key_file, key_env)
        except InputError as e:
            raise click.UsageError("; ".join(p.message for p in e.problems)) from None
        try:
            facts = read_vocabulary(policies / "facts.yaml") if policies else None
            checked = load_mapping(mapping, facts)
            result = join(checked, out, key, memory_limit=memory_limit,
                          progress=lambda stage: click.echo(_("join: {stage}", stage=stage), err=True))
        except (MappingError, PolicyError) as e:
            click.echo(e.render(), err=True)
            sys.exit(EXIT_FAIL)
        except InputError as e:
            click.echo(str(e), err=True)
            sys.exit(EXIT_FAIL)
        if summary is not None:
            summary.write_text(json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        click.echo(result.render(), nl=False)
        sys.exit(EXIT_OK)


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


def _add_monitor_command(main: Any, jur: Any) -> None:
    """Add `monitor`: an event log in, alerts out (eligibility.monitor; docs/how-to/monitoring.md)."""

    @main.command()
    @click.argument("events", metavar="EVENTS.jsonl", type=click.Path(dir_okay=False, exists=True, path_type=Path))
    @click.option("--state", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="SQLite state file: created, or resumed from where it stopped.")
    @click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Write every alert of the state as JSONL here [default: EVENTS with .alerts.jsonl].")
    @click.option("--policies", "-p", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Policy folder with its monitoring/ rules (default: the bundled policies).")
    @jur
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

        engine = _load(policies, jurisdiction)
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
        report = _progress_reporter("monitoring", "bytes") if (progress or sys.stderr.isatty()) else None
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


def _progress_reporter(label: str = "batch", unit: str = "records") -> Any:
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
