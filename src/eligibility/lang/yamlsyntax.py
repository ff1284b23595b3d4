"""Our own words for PyYAML's indentation and key errors, at the line where the mistake is.

PyYAML reports a missing colon or a key indented one space too far where it notices it: often
the line after the mistake, in words such as "mapping values are not allowed here" or
"expected <block end>, but found '<block mapping start>'". `explain_syntax_error` reads the lines
around that position and, for the mistakes policy staff make (a key indented more or less than
its neighbours, a missing colon or space, a `-` without a space, a value containing ': ', a quote
never closed), returns a diagnostic at the line to change; otherwise None.
"""

from __future__ import annotations

import re

import attrs

from eligibility.base.errors import Diagnostic
from eligibility.base.i18n import ngettext
from eligibility.base.i18n import translate as _
from eligibility.base.source import SourceText, Span, readable

#: A block key at the start of a line, after its indentation and any `- ` of list items.
_KEY = re.compile(r"(?P<lead>[ ]*(?:-[ ]+)*)(?P<key>[^\s#'\"\-{\[][^#]*?|-\S[^#]*?)[ ]*:"
                  r"(?:[ ]+(?P<value>\S.*?))?[ ]*\Z")


@attrs.frozen
class _Line:
    """One line of the file that holds something other than blanks and a comment."""

    number: int
    text: str
    indent: int

    @property
    def key(self) -> re.Match[str] | None:
        return _KEY.match(self.text.split(" #")[0].rstrip())

    @property
    def shown(self) -> str:
        """How messages name the line: its key (after the `-` of a list item), else its text."""
        m = self.key
        return readable((m.group("lead").strip() + " " + m.group("key")).strip() if m else self.text.strip(), 40)

    @property
    def key_col(self) -> int:
        """The 0-based column of the line's key (after `- `), or of its text."""
        m = self.key
        return len(m.group("lead")) if m else self.indent


def _content(source: SourceText, number: int) -> _Line | None:
    text = source.line_text(number)
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    return _Line(number, text, len(text) - len(text.lstrip(" ")))


def _before(source: SourceText, number: int) -> list[_Line]:
    """The lines with content before line `number`, nearest first."""
    out = []
    for n in range(number - 1, 0, -1):
        line = _content(source, n)
        if line is not None:
            out.append(line)
    return out


def _span(source: SourceText, line: _Line, start: int | None = None, end: int | None = None) -> Span:
    text = line.text.rstrip()
    start = line.indent if start is None else start
    end = len(text) if end is None else end
    return Span(source.path, line.number, start + 1, line.number, max(end, start + 1) + 1)


def _spaces(n: int) -> str:
    return ngettext("{n} space", "{n} spaces", n)


def _diag(span: Span, code: str, message: str, hint: str) -> Diagnostic:
    return Diagnostic(span, code, message, hint)


def explain_syntax_error(source: SourceText, problem: str, context: str | None,
                         problem_at: tuple[int, int] | None, context_at: tuple[int, int] | None) -> Diagnostic | None:
    """Our diagnostic for a PyYAML error (positions 1-based line and 0-based column), or None."""
    if problem_at is None:
        return None
    line_no, col = problem_at
    if "could not find expected ':'" in problem and context_at is not None:
        return _missing_colon(source, context_at[0])
    if "found unexpected end of stream" in problem and context and "quoted scalar" in context and context_at:
        line = _content(source, context_at[0])
        if line is not None:
            return _diag(_span(source, line, context_at[1], context_at[1] + 1), "yaml-syntax",
                         _("this quote is never closed"),
                         _("close the text with the same quote mark on this line, or remove the quote"))
    if context and context.startswith("while parsing a flow") and context_at and context_at[0] < line_no:
        opened = _content(source, context_at[0])
        if opened is not None:
            bracket = opened.text[context_at[1]:context_at[1] + 1]
            return _diag(_span(source, opened, context_at[1], context_at[1] + 1), "yaml-syntax",
                         _("the '{bracket}' opened here is not closed on this line", bracket=bracket),
                         _("close it with '{close}' before the end of the line", close="}" if bracket == "{" else "]"))
    line = _content(source, line_no)
    if line is None:
        return None
    if "mapping values are not allowed" in problem:
        m = line.key
        if m is not None and m.group("value") is not None and col > m.start("value"):
            key, value = m.group("key"), m.group("value")
            return _diag(_span(source, line, m.start("value")), "yaml-colon-in-value",
                         _("the value of '{key}' contains ': ', which YAML reads as another key",
                           key=readable(key, 40)),
                         _("put the value in quotes: {key}: \"{value}\"", key=readable(key, 40),
                           value=readable(value, 60)))
        return _after(source, line) or _deeper(source, line)
    if "expected <block end>" in problem:
        return _after(source, line) or _dash(source, line, context_at) or _deeper(source, line) \
            or _between(source, line)
    return None


def _missing_colon(source: SourceText, number: int) -> Diagnostic | None:
    """The key on line `number` has no colon (PyYAML notices on a later line)."""
    line = _content(source, number)
    if line is None:
        return None
    text = line.text.strip()
    spaceless = _no_space(source, line)
    if spaceless is not None:
        return spaceless
    word, _sep, rest = text.partition(" ")
    example = f"{word}: {rest}" if rest else f"{word}:"
    return _diag(_span(source, line), "yaml-key",
                 _("'{text}' has no colon: YAML cannot tell the key from its value", text=readable(text, 60)),
                 _("write a colon and a space after the key, e.g. '{example}'", example=readable(example, 60)))


def _after(source: SourceText, line: _Line) -> Diagnostic | None:
    """The line before has a key with no colon, or a colon with no space: the mistake is there."""
    before = _before(source, line.number)
    if not before:
        return None
    prev = before[0]
    text = prev.text.strip()
    if prev.key is None and ":" not in text and prev.indent < line.indent and not text.startswith(("-", "[", "{")):
        return _diag(_span(source, prev), "yaml-key",
                     _("'{key}' needs a colon after it: the lines below are indented under it",
                       key=readable(text, 40)),
                     _("write '{key}:'", key=readable(text, 40)))
    return _no_space(source, prev)


def _no_space(source: SourceText, line: _Line) -> Diagnostic | None:
    """A key written `key:value`, with no space after its colon (YAML reads it as text)."""
    text = line.text.strip()
    m = re.match(r"(-[ ]+)*(?P<key>[a-z0-9_]+):(?P<value>[^\s:].*)\Z", text)
    if line.key is not None or m is None:
        return None
    return _diag(_span(source, line), "yaml-key",
                 _("'{text}' needs a space after the colon", text=readable(text, 40)),
                 _("write '{key}: {value}'", key=m.group("key"), value=readable(m.group("value"), 40)))


def _deeper(source: SourceText, line: _Line) -> Diagnostic | None:
    """A key indented under a key that already has its value on its own line."""
    before = _before(source, line.number)
    if not before:
        return None
    prev = before[0]
    m = prev.key
    if m is None or m.group("value") is None or m.group("value")[0] in "|>" or line.indent <= prev.key_col:
        return None
    return _diag(_span(source, line), "yaml-indentation",
                 _("'{key}' is indented {spaces}, more than '{prev}' on line {line}, which already has a value",
                   key=line.shown, spaces=_spaces(line.indent), prev=prev.shown, line=prev.number),
                 _("indent '{key}' {spaces} like '{prev}', or move the value of '{prev}' to the lines below it",
                   key=line.shown, spaces=_spaces(prev.key_col), prev=prev.shown))


def _dash(source: SourceText, line: _Line, context_at: tuple[int, int] | None) -> Diagnostic | None:
    """A `-` with no space after it, or a list item among the keys of a mapping."""
    start = context_at[0] if context_at else 1
    for n in range(start, line.number + 1):
        other = _content(source, n)
        if other is not None and re.match(r"-[^\s-]", other.text.strip()):
            return _diag(_span(source, other, other.indent, other.indent + 1), "yaml-key",
                         _("a list item needs a space after '-'"),
                         _("write '- {item}'", item=readable(other.text.strip()[1:], 40)))
    if line.text.strip().startswith("- ") and context_at is not None:
        opened = _content(source, context_at[0])
        if opened is not None and opened.key is not None and opened.key_col == line.indent:
            return _diag(_span(source, line, line.indent, line.indent + 1), "yaml-indentation",
                         _("a list item among the keys of the mapping that starts on line {line}",
                           line=opened.number),
                         _("a list belongs under a key ending with ':' and is indented more than that key"))
    return None


def _between(source: SourceText, line: _Line) -> Diagnostic | None:
    """A line indented between the levels of the lines above: more than one, less than the next."""
    levels: list[_Line] = []
    for prev in _before(source, line.number):
        if not levels or prev.indent < levels[-1].indent:
            levels.append(prev)
        if prev.indent == 0:
            break
    deeper = [p for p in levels if p.indent > line.indent]
    shallower = [p for p in levels if p.indent < line.indent]
    if not deeper or not shallower:
        return None
    near, far = deeper[-1], shallower[0]
    return _diag(_span(source, line), "yaml-indentation",
                 _("'{key}' is indented {spaces}: lines at this place are indented {near_spaces} (like '{near}' on "
                   "line {near_line}) or {far_spaces} (like '{far}' on line {far_line})",
                   key=line.shown, spaces=_spaces(line.indent), near_spaces=_spaces(near.indent), near=near.shown,
                   near_line=near.number, far_spaces=_spaces(far.indent), far=far.shown, far_line=far.number),
                 _("align '{key}' with the key it belongs beside; keys of one mapping are indented alike",
                   key=line.shown))
