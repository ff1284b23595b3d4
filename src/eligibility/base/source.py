"""Source positions and the rendering of diagnostics with excerpts and carets."""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Sequence

import attrs

_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
MAX_MESSAGE = 2000
MAX_VALUE = 200


@attrs.frozen
class Span:
    """A region of a source file; lines and columns are 1-based, columns in code points."""

    path: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    @property
    def short(self) -> str:
        """`path:line`, as traces show it."""
        return f"{self.path}:{self.line}"


class SourceText:
    """A decoded source file with a YAML-compatible line table."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.line_starts = [0]
        for m in _BREAK.finditer(text):
            self.line_starts.append(m.end())

    def position(self, index: int) -> tuple[int, int]:
        """Return the 1-based (line, col) of a character index."""
        i = bisect.bisect_right(self.line_starts, index) - 1
        return i + 1, index - self.line_starts[i] + 1

    def span(self, start: int, end: int) -> Span:
        line, col = self.position(start)
        end_line, end_col = self.position(max(start, end))
        return Span(self.path, line, col, end_line, end_col)

    def line_text(self, line: int) -> str:
        if line < 1 or line > len(self.line_starts):
            return ""
        start = self.line_starts[line - 1]
        end = self.line_starts[line] if line < len(self.line_starts) else len(self.text)
        return _BREAK.sub("", self.text[start:end])


def readable(text: str, limit: int = MAX_VALUE) -> str:
    """Show text with invisible and control characters as U+XXXX, truncated."""
    out = []
    for ch in text[: limit + 1]:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Zl", "Zp") or (cat == "Zs" and ch != " "):
            out.append(f"U+{ord(ch):04X}")
        else:
            out.append(ch)
    shown = "".join(out)
    if len(text) > limit:
        shown = shown[:limit] + "…"
    return shown


def bounded(text: str) -> str:
    """Cut a message to MAX_MESSAGE characters."""
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def excerpt(sources: dict[str, SourceText], span: Span) -> list[str]:
    """Return the source line of a span and a caret line under it."""
    src = sources.get(span.path)
    if src is None:
        return []
    text = src.line_text(span.line)
    if len(text) > 240:
        text = text[:240]
    shown = readable(text, 240)
    start = max(span.col - 1, 0)
    end = span.end_col - 1 if span.end_line == span.line else len(text)
    end = max(end, start + 1)
    pad = sum(_width(c) for c in readable(text[:start], 240))
    carets = max(sum(_width(c) for c in readable(text[start:end], 240)), 1)
    gutter = f"{span.line:>5} | "
    return [gutter + shown, " " * 5 + " | " + " " * pad + "^" * carets]


def did_you_mean(name: str, choices: Sequence[str]) -> str | None:
    """Suggest the closest of `choices` to `name`, or None."""
    import difflib

    folded = unicodedata.normalize("NFKC", name)
    found = difflib.get_close_matches(folded, list(choices), n=1, cutoff=0.6)
    if not found:
        lowered = {c.lower(): c for c in choices}
        if folded.lower() in lowered:
            return lowered[folded.lower()]
        return None
    return found[0]
