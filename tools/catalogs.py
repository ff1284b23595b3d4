"""Maintain the message catalogs: extract the English messages, merge them into each language's .po, compile .mo.

Run by `python3 dev.py messages` (it needs Babel: `pip install -e ".[i18n]"`). The messages are the
strings the code wraps in `_()`, `ngettext()` and `N_()`, and the help texts of the command line
(its commands' docstrings and its options' help), which the command line translates when it starts.
Then translate the new entries of src/eligibility/base/locale/zh/LC_MESSAGES/eligibility.po (an
entry marked `#, fuzzy` is a guess Babel made from a similar message: check it and remove the
mark) and run the command again to compile.
"""

from __future__ import annotations

import inspect
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "eligibility"
LOCALE = PACKAGE / "base" / "locale"
TEMPLATE = LOCALE / "eligibility.pot"
#: The languages with a catalog (English is the language of the code).
TRANSLATED = ("zh",)


HEADER = "# The messages of eligibility (python3 dev.py messages; docs/how-to/translate.md).\n#"


def write_if_changed(path: Path, data: bytes) -> None:
    """Write a catalog file unless only its dates would change, so that an unchanged catalog stays unchanged."""
    def body(b: bytes) -> list[bytes]:
        return [x for x in b.splitlines() if not x.startswith((b'"POT-Creation-Date', b'"PO-Revision-Date'))]

    if not path.exists() or body(path.read_bytes()) != body(data):
        path.write_bytes(data)


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / "eligibility.po"


def cli_help() -> list[tuple[str, str]]:
    """The help texts of the command line: (where, text) for each command and option."""
    from eligibility.cli import build

    found: list[tuple[str, str]] = []

    def walk(cmd: object, name: str) -> None:
        help_text = getattr(cmd, "help", None)
        if help_text:
            found.append((f"cli:{name}", inspect.cleandoc(help_text)))
        for param in getattr(cmd, "params", []):
            if getattr(param, "help", None):
                found.append((f"cli:{name}:{param.name}", param.help))
        for sub_name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, f"{name}.{sub_name}")

    walk(build(), "eligibility")
    return found


def template() -> Catalog:
    """Every message of the code and of the command line's help, as a Babel catalog."""
    cat = Catalog(project="eligibility", version="", msgid_bugs_address="", copyright_holder="", fuzzy=False,
                  header_comment=HEADER)
    for filename, lineno, message, comments, context in extract_from_dir(PACKAGE):
        cat.add(message, None, [(f"src/eligibility/{filename}", lineno)], auto_comments=comments, context=context)
    for where, text in cli_help():
        cat.add(text, None, [(where, 0)])
    return cat


def translated(string: str | tuple[str, ...]) -> bool:
    """Whether a catalog entry's translation is filled in (every plural form, for a plural message)."""
    return all(string) if isinstance(string, tuple) else bool(string)


def read(path: Path, lang: str | None = None) -> Catalog:
    with open(path, "rb") as f:
        return read_po(f, locale=lang)


def update() -> list[str]:
    """Write the template, merge it into each .po, compile each .mo; return the untranslated messages."""
    tmpl = template()
    LOCALE.mkdir(parents=True, exist_ok=True)
    out = io.BytesIO()
    write_po(out, tmpl, width=120, omit_header=False, sort_output=False, include_lineno=False)
    write_if_changed(TEMPLATE, out.getvalue())
    missing = []
    for lang in TRANSLATED:
        path = po_path(lang)
        if path.exists():
            cat = read(path, lang)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            cat = Catalog(locale=lang, project="eligibility", fuzzy=False)
        cat.update(tmpl, no_fuzzy_matching=False)
        cat.obsolete.clear()
        cat.header_comment = HEADER
        cat.last_translator = cat.language_team = "eligibility maintainers"
        out = io.BytesIO()
        write_po(out, cat, width=120, include_previous=False, include_lineno=False)
        write_if_changed(path, out.getvalue())
        cat = read(path, lang)  # compiled from the file as it is on disk (its dates too)
        out = io.BytesIO()
        write_mo(out, cat, use_fuzzy=False)
        write_if_changed(path.with_suffix(".mo"), out.getvalue())
        missing += [f"{lang}: {m.id!r}" for m in cat if m.id and (not translated(m.string) or m.fuzzy)]
    return missing


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    untranslated = update()
    for line in untranslated:
        print("untranslated", line)
    print(f"{len(untranslated)} message(s) to translate", file=sys.stderr)
