"""Source positions and the rendering of diagnostics with excerpts and carets."""

from __future__ import annotations

import bisect
import difflib
import functools
import re
import unicodedata
from collections import Counter
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
        """Return the text of a 1-based line without its line break ("" outside the file)."""
        start, end = self.line_bounds(line)
        return self.text[start:end]

    def line_bounds(self, line: int) -> tuple[int, int]:
        """Return the character range of a 1-based line without its line break, copying nothing."""
        if line < 1 or line > len(self.line_starts):
            return 0, 0
        start = self.line_starts[line - 1]
        if line == len(self.line_starts):
            return start, len(self.text)  # the last line has no break
        end = self.line_starts[line]
        return start, end - (2 if self.text.startswith("\r\n", end - 2) else 1)


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


#: The most characters of a source line an excerpt shows; a longer line is cut around the caret.
EXCERPT_WIDTH = 240
#: Characters kept before the caret when a long line is cut.
_LEAD = 80


def excerpt(sources: dict[str, SourceText], span: Span) -> list[str]:
    """Return the source line of a span and a caret line under it.

    A line longer than EXCERPT_WIDTH is shown as a window around the caret, with `…` where it
    was cut; only that window is ever copied out of the file, so a diagnostic on a 1 MiB line
    costs no more than one on a short line.
    """
    src = sources.get(span.path)
    if src is None:
        return []
    line_start, line_end = src.line_bounds(span.line)
    length = line_end - line_start
    start = min(max(span.col - 1, 0), length)
    end = span.end_col - 1 if span.end_line == span.line else length
    end = max(end, start + 1)
    first = 0
    if length > EXCERPT_WIDTH and start >= EXCERPT_WIDTH - _LEAD:
        first = min(start - _LEAD, length - EXCERPT_WIDTH)
    last = min(first + EXCERPT_WIDTH, length)
    text = src.text[line_start + first:line_start + last]
    before = "…" if first > 0 else ""
    after = "…" if last < length else ""
    start, end = start - first, min(end - first, len(text))
    pad = sum(_width(c) for c in before + readable(text[:start], EXCERPT_WIDTH))
    carets = max(sum(_width(c) for c in readable(text[start:end], EXCERPT_WIDTH)), 1)
    gutter = f"{span.line:>5} | "
    return [gutter + before + readable(text, EXCERPT_WIDTH) + after, " " * 5 + " | " + " " * pad + "^" * carets]


@functools.lru_cache(maxsize=64)
def _suggestion_index(choices: tuple[str, ...]) -> tuple[list[tuple[str, int, Counter[str]]], dict[str, str]]:
    """Each choice with its length and letter counts, and the choices by lower case (the last wins)."""
    return [(c, len(c), Counter(c)) for c in choices], {c.lower(): c for c in choices}


def did_you_mean(name: str, choices: Sequence[str]) -> str | None:
    """Suggest the closest of `choices` to `name`, or None.

    The same answer as difflib.get_close_matches(name, choices, n=1, cutoff=0.6) (after NFKC),
    then a case-insensitive match; the letter counts of the choices are computed once per set of
    choices, so that thousands of unknown names cost milliseconds, not seconds.
    """
    cutoff = 0.6
    folded = unicodedata.normalize("NFKC", name)
    index, lowered = _suggestion_index(tuple(choices))
    n = len(folded)
    counts: Counter[str] | None = None
    found: list[tuple[float, str]] = []
    for choice, m, letters in index:
        total = n + m
        # difflib's three tests, cheapest first: lengths, letters in common, then the real ratio.
        if total and 2.0 * min(n, m) / total < cutoff:
            continue
        if counts is None:
            counts = Counter(folded)
        common = sum(min(k, counts[ch]) for ch, k in letters.items() if ch in counts)
        if total and 2.0 * common / total < cutoff:
            continue
        ratio = difflib.SequenceMatcher(None, choice, folded).ratio()
        if ratio >= cutoff:
            found.append((ratio, choice))
    if found:
        return max(found)[1]
    return lowered.get(folded.lower())
