"""The language of messages: diagnostics, input errors, test failures and the command line's words.

Messages are written in English in the code, wrapped in `_()` (`translate`; or `ngettext()` when a count
chooses the words), and translated through the gettext catalogs shipped in `base/locale/`
(compiled `.mo` files, read with the standard library; Babel is needed only to extract and
compile them: docs/how-to/translate.md). The language is chosen once for a piece of work with
`use_language("zh")` — the command line does it once per invocation, from `--lang` or the
locale — and every message built inside it is in that language. Outside, messages are English.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

#: The languages messages can be shown in; English is the language of the code (the msgids).
LANGUAGES = ("zh", "en")
DOMAIN = "eligibility"
LOCALE_DIR = Path(__file__).with_name("locale")

_LANGUAGE: ContextVar[str] = ContextVar("eligibility_language", default="en")


@cache
def _catalog(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of a language (none for English: the msgids are the English text)."""
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


def current_language() -> str:
    """The language messages are built in now: "zh" or "en"."""
    return _LANGUAGE.get()


@contextmanager
def use_language(lang: str) -> Iterator[str]:
    """Build every message inside the block in `lang` ("zh" or "en")."""
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {lang!r}")
    token = _LANGUAGE.set(lang)
    try:
        yield lang
    finally:
        _LANGUAGE.reset(token)


def language_from_locale(environ: Mapping[str, str] | None = None) -> str:
    """Choose the language from the locale: "zh" when it is Chinese (zh, zh_CN.UTF-8, ...), else "en".

    The variables are read in the order the C library reads them for messages: the first of
    LC_ALL, LC_MESSAGES and LANG that is set and not empty decides.
    """
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def translate(message: str, /, **values: object) -> str:
    """Translate an English message into the current language, then fill in its `{named}` values.

    Modules import it as `_` (`from eligibility.base.i18n import translate as _`), the name gettext's
    tools look for.
    """
    text = _catalog(_LANGUAGE.get()).gettext(message)
    return text.format(**values) if values else text


def ngettext(singular: str, plural: str, n: int, /, **values: object) -> str:
    """Translate a message whose words depend on a count `n`, then fill in its values (and `{n}`)."""
    text = _catalog(_LANGUAGE.get()).ngettext(singular, plural, n)
    return text.format(n=n, **values)


def N_(message: str, /) -> str:
    """Mark a message for translation where it is defined; it is translated by `_()` where it is shown."""
    return message

