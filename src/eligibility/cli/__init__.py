"""The `eligibility` command: check, test, decide, explain, compile.

The group and its language of messages are here; the commands are in one module a family (policy,
decide, audit, batch, discover, monitor, serve), and what they share in `common`. Heavy modules are
imported inside the commands, so that `eligibility --help` stays fast.
"""

from __future__ import annotations

import sys
from typing import Any

try:
    import click
except ImportError:  # pragma: no cover - exercised only without the cli extra
    click = None  # type: ignore[assignment]

from eligibility.base.i18n import LANGUAGES, N_, language_from_locale, use_language
from eligibility.base.i18n import translate as _
from eligibility.cli.common import EXIT_OK, EXIT_USAGE


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

    from eligibility.cli import audit, batch, decide, discover, monitor, policy, serve

    policy.add_commands(main)
    decide.add_commands(main)
    audit.add_commands(main)
    batch.add_commands(main)
    serve.add_commands(main)
    discover.add_commands(main)
    monitor.add_commands(main)
    _lang_option(main)
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
