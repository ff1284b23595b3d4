"""Strict YAML loading: nodes with positions, no tags, anchors, aliases, directives or duplicates."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import Any

import attrs
import yaml
import yaml.reader

from eligibility.base.errors import Diagnostic
from eligibility.base.i18n import translate as _
from eligibility.base.source import SourceText, Span, readable
from eligibility.lang.yamlsyntax import explain_syntax_error

MAX_FILE_BYTES = 1 << 20
#: libyaml's parser when PyYAML was built with it (several times faster); None otherwise.
FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)
MAX_DEPTH = 32
#: The most YAML nodes (scalars, sequences, mappings) one file may hold; a bound on the work of
#: reading it. The largest bundled file has a few thousand.
MAX_NODES = 100_000
#: A file that libyaml finds invalid is parsed again with PyYAML's pure-Python parser, whose
#: messages the hints are written for, when it is at most this many characters long (real policy
#: files are); a longer one is reported with libyaml's own message, as the pure-Python parser
#: takes seconds on a dense 1 MiB file.
MAX_REPARSE_CHARS = 64 * 1024
#: The characters YAML does not allow in a file (PyYAML's Reader rejects them before parsing).
_NON_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]")


@attrs.frozen
class YScalar:
    """A scalar, always kept as its text; the schema types it."""

    value: str
    span: Span
    style: str | None  # None (plain), "'", '"', "|", ">"
    start: int  # character index of the token in the file
    end: int

    @property
    def is_null(self) -> bool:
        return self.style is None and self.value in ("", "~", "null", "Null", "NULL")


@attrs.frozen
class YMap:
    """A mapping whose keys are scalars, in file order."""

    items: tuple[tuple[YScalar, YNode], ...]
    span: Span

    def get(self, key: str) -> YNode | None:
        for k, v in self.items:
            if k.value == key:
                return v
        return None

    def keys(self) -> list[str]:
        return [k.value for k, _ in self.items]


@attrs.frozen
class YSeq:
    """A sequence."""

    items: tuple[YNode, ...]
    span: Span


YNode = YScalar | YMap | YSeq


@attrs.frozen
class YamlFile:
    """A loaded file: its root node (or None) and its text."""

    source: SourceText
    root: YNode | None


def read_source(path: Path, display: str, diags: list[Diagnostic]) -> SourceText | None:
    """Read a file as UTF-8 within the size limit, or add a diagnostic and return None."""
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            diags.append(Diagnostic(Span(display, 1, 1, 1, 1), "limit-file-size",
                                    _("policy file is {size} bytes; the limit is {MAX_FILE_BYTES}",
                                      size=size, MAX_FILE_BYTES=MAX_FILE_BYTES),
                                    _("split the file by program or jurisdiction")))
            return None
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        diags.append(Diagnostic(None, "io", _("cannot read {display}: {strerror}",
                                              display=display, strerror=e.strerror)))
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        before = SourceText(display, data[: e.start].decode("utf-8"))
        line, col = before.position(len(before.text))
        diags.append(Diagnostic(Span(display, line, col, line, col + 1), "encoding",
                                _("the file is not valid UTF-8 (byte 0x{data:02x})", data=data[e.start]),
                                _("save the file as UTF-8")))
        return None
    return SourceText(display, text)


def parse_yaml(source: SourceText, diags: list[Diagnostic]) -> YNode | None:
    """Build the node tree of one YAML document, adding a diagnostic for each problem."""
    bad = _NON_PRINTABLE.search(source.text)
    if bad is not None:
        diags.append(_bad_character(source, bad.start()))
        return None
    deep = _flow_too_deep(source.text)
    if deep is not None:
        diags.append(Diagnostic(source.span(deep, deep + 1), "limit-depth",
                                _("YAML nesting is deeper than {n} levels", n=MAX_DEPTH), _("flatten the structure")))
        return None
    if FAST_LOADER is not None:
        # libyaml's event stream carries the same marks; on any YAML error, parse again
        # with the pure-Python parser so that messages and positions are always the same
        # (for files of a realistic size; see MAX_REPARSE_CHARS).
        fast_diags: list[Diagnostic] = []
        try:
            root = _Builder(source, fast_diags, FAST_LOADER).run()
        except yaml.MarkedYAMLError as e:
            if len(source.text) > MAX_REPARSE_CHARS:
                diags.extend(fast_diags)
                diags.append(_syntax_diagnostic(source, e))
                return None
        except (yaml.YAMLError, RecursionError):
            pass
        else:
            diags.extend(fast_diags)
            return root
    builder = _Builder(source, diags)
    try:
        return builder.run()
    except yaml.MarkedYAMLError as e:
        diags.append(_syntax_diagnostic(source, e))
    except yaml.reader.ReaderError as e:  # not reached: _NON_PRINTABLE finds these first
        diags.append(_bad_character(source, min(max(e.position, 0), len(source.text))))
    except yaml.YAMLError as e:
        diags.append(Diagnostic(Span(source.path, 1, 1, 1, 1), "yaml-syntax",
                                _("YAML error: {e}", e=readable(str(e)))))
    except RecursionError:
        diags.append(Diagnostic(Span(source.path, 1, 1, 1, 1), "limit-depth",
                                _("YAML nesting is too deep (limit {n})", n=MAX_DEPTH)))
    return None


def _syntax_diagnostic(source: SourceText, e: yaml.MarkedYAMLError) -> Diagnostic:
    mark = e.problem_mark or e.context_mark
    problem = e.problem or e.context or "invalid YAML"

    def at(m: yaml.Mark | None) -> tuple[int, int] | None:
        return (m.line + 1, m.column) if m is not None else None

    ours = explain_syntax_error(source, problem, e.context, at(e.problem_mark), at(e.context_mark))
    if ours is not None:
        return ours
    return Diagnostic(_mark_span(source, mark), "yaml-syntax", _("YAML syntax error: {problem}", problem=problem),
                      _yaml_hint(problem))


def _bad_character(source: SourceText, index: int) -> Diagnostic:
    """The diagnostic of a character YAML does not allow (a control character, U+FFFE, ...), at its position."""
    ch = source.text[index] if index < len(source.text) else ""
    code = f"U+{ord(ch):04X}" if ch else "U+0000"
    if unicodedata.category(ch or "\0") == "Cc":
        message = _("control character {code} is not allowed in a policy file", code=code)
    else:
        message = _("character {code} is not allowed in a policy file", code=code)
    more = len(_NON_PRINTABLE.findall(source.text, index + 1))
    if more:
        message += " " + _("({more} more in this file)", more=more)
    return Diagnostic(source.span(index, index + 1), "yaml-character", message,
                      _("delete it; such characters are invisible in most editors "
                      "(in a double-quoted string an escape such as \\t may stand for it)"))


def _flow_too_deep(text: str) -> int | None:
    """Return the index of the first flow bracket nested deeper than MAX_DEPTH, or None.

    PyYAML's scanner is quadratic in flow nesting, so this bounded pre-scan runs first.
    It skips quoted scalars and comments; brackets inside plain scalars count, which at
    this depth only ever rejects nonsense.
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None  # too few brackets to nest that deep
    depth = 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#" and (i == 0 or text[i - 1] in " \t\n"):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl
            continue
        if ch in "'\"" and (i == 0 or text[i - 1] in " \t\n[{,:-"):
            close = i + 1
            while close < n:
                if text[close] == "\\" and ch == '"':
                    close += 2
                    continue
                if text[close] == ch:
                    if ch == "'" and close + 1 < n and text[close + 1] == "'":
                        close += 2
                        continue
                    break
                close += 1
            i = close + 1
            continue
        if ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return i
        elif ch in "]}":
            depth = max(depth - 1, 0)
        elif ch == "\n" and depth == 0:
            pass
        i += 1
    return None


def _yaml_hint(problem: str) -> str | None:
    if "tab" in problem or "\\t" in problem or "\t" in problem:
        return "indent with spaces, not tabs"
    if ("expected <block end>" in problem or "expected <document start>" in problem
            or "did not find expected key" in problem or "did not find expected <document start>" in problem):
        return "check the indentation; an expression starting with [ or { or containing ': ' must be quoted"
    if "mapping values are not allowed" in problem:  # "here" (PyYAML) or "in this context" (libyaml)
        return "quote a value that contains ': ', or check the indentation"
    if "could not find expected ':'" in problem:
        return "a key needs a colon after it; check the indentation of the previous lines"
    return None


def _mark_span(source: SourceText, mark: yaml.Mark | None) -> Span:
    if mark is None:
        return Span(source.path, 1, 1, 1, 1)
    return Span(source.path, mark.line + 1, mark.column + 1, mark.line + 1, mark.column + 2)


class _TooManyNodes(Exception):
    """Raised inside the builder when a file holds more than MAX_NODES nodes."""


class _Builder:
    def __init__(self, source: SourceText, diags: list[Diagnostic], loader: Any = yaml.SafeLoader) -> None:
        self.source = source
        self.diags = diags
        self.events = yaml.parse(source.text, Loader=loader)
        self.too_deep = False
        self.nodes = 0

    def span(self, start: Any, end: Any) -> Span:
        return self.source.span(start.index, end.index)

    def error(self, start: Any, end: Any, code: str, msg: str, hint: str | None = None) -> None:
        self.diags.append(Diagnostic(self.span(start, end), code, msg, hint))

    def run(self) -> YNode | None:
        try:
            return self.document()
        except _TooManyNodes:
            return None

    def document(self) -> YNode | None:
        root: YNode | None = None
        docs = 0
        for ev in self.events:
            if isinstance(ev, yaml.DocumentStartEvent):
                docs += 1
                if ev.version or ev.tags:
                    self.error(ev.start_mark, ev.end_mark, "yaml-directive",
                               _("YAML directives (%YAML, %TAG) are not allowed"),
                               _("delete the directive line"))
                if docs > 1:
                    self.error(ev.start_mark, ev.end_mark, "yaml-multi-document",
                               _("a policy file holds exactly one YAML document"),
                               _("split the documents into separate files"))
                    return None
                root = self.node(next(self.events), 1)
            elif isinstance(ev, yaml.StreamEndEvent):
                break
        if docs == 0 or root is None:
            self.diags.append(Diagnostic(Span(self.source.path, 1, 1, 1, 1), "empty-file",
                                         _("the file is empty"), _("start with `program:`, `facts:` or `tests:`")))
            return None
        return root

    def check_props(self, ev: Any) -> None:
        if ev.anchor is not None:
            self.error(ev.start_mark, ev.end_mark, "yaml-anchor",
                       _("YAML anchors are not allowed (&{anchor})", anchor=readable(ev.anchor, 40)),
                       _("write the value out in full; policies must read top to bottom"))
        tag = getattr(ev, "tag", None)
        if tag is not None and tag != "!":
            shown = tag.replace("tag:yaml.org,2002:", "!!")
            self.error(ev.start_mark, ev.end_mark, "yaml-tag",
                       _("YAML tags are not allowed ({shown})", shown=readable(shown, 60)),
                       _("delete the tag; the schema gives every field its type"))

    def node(self, ev: Any, depth: int) -> YNode | None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.error(ev.start_mark, ev.end_mark, "limit-nodes",
                       _("the file holds more than {MAX_NODES} YAML values; reading stopped here",
                         MAX_NODES=MAX_NODES),
                       _("split the file by program, or the test cases into several files"))
            raise _TooManyNodes
        if depth > MAX_DEPTH and isinstance(ev, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            if not self.too_deep:
                self.error(ev.start_mark, ev.end_mark, "limit-depth",
                           _("YAML nesting is deeper than {n} levels", n=MAX_DEPTH), _("flatten the structure"))
            self.too_deep = True
            self.skip(ev)
            return None
        if isinstance(ev, yaml.AliasEvent):
            self.error(ev.start_mark, ev.end_mark, "yaml-alias",
                       _("YAML aliases are not allowed (*{v})", v=readable(ev.anchor or '', 40)),
                       _("write the value out in full"))
            return None
        if isinstance(ev, yaml.ScalarEvent):
            self.check_props(ev)
            start: Any = ev.start_mark
            end: Any = ev.end_mark
            return YScalar(ev.value, self.span(start, end), ev.style or None, start.index, end.index)
        if isinstance(ev, yaml.SequenceStartEvent):
            self.check_props(ev)
            items: list[YNode] = []
            for child in self.events:
                if isinstance(child, yaml.SequenceEndEvent):
                    return YSeq(tuple(items), self.span(ev.start_mark, child.end_mark))
                n = self.node(child, depth + 1)
                if n is not None:
                    items.append(n)
        if isinstance(ev, yaml.MappingStartEvent):
            self.check_props(ev)
            pairs: list[tuple[YScalar, YNode]] = []
            seen: dict[str, YScalar] = {}
            for child in self.events:
                if isinstance(child, yaml.MappingEndEvent):
                    return YMap(tuple(pairs), self.span(ev.start_mark, child.end_mark))
                key = self.node(child, depth + 1)
                value = self.node(next(self.events), depth + 1)
                if key is None or value is None:
                    continue
                if not isinstance(key, YScalar):
                    self.diags.append(Diagnostic(key.span, "yaml-complex-key",
                                                 _("mapping keys must be plain text")))
                    continue
                if key.style is None and key.value == "<<":
                    self.diags.append(Diagnostic(key.span, "yaml-merge-key",
                                                 _("YAML merge keys (<<) are not allowed"),
                                                 _("write the merged entries out in full")))
                    continue
                if key.value in seen:
                    first = seen[key.value]
                    self.diags.append(Diagnostic(
                        key.span, "duplicate-key",
                        _("duplicate key '{value}' (first defined on line {line})",
                          value=readable(key.value, 64), line=first.span.line),
                        _("remove one of the two entries; YAML would silently keep the last"),
                        related=((first.span, "first defined here"),)))
                    continue
                seen[key.value] = key
                pairs.append((key, value))
        return None

    def skip(self, ev: yaml.Event) -> None:
        if isinstance(ev, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            level = 1
            for child in self.events:
                if isinstance(child, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                    level += 1
                elif isinstance(child, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                    level -= 1
                    if level == 0:
                        return


def load_file(path: Path, display: str, diags: list[Diagnostic]) -> YamlFile | None:
    """Read and parse one policy file."""
    source = read_source(path, display, diags)
    if source is None:
        return None
    return YamlFile(source, parse_yaml(source, diags))


def scalar_text_span(node: YScalar, source: SourceText, offset: int, end: int,
                     positions: list[int] | None = None) -> Span:
    """Map a character range of a scalar's value to its position in the file.

    Non-space characters of the value appear in the same order in the file for plain,
    quoted and block scalars (escapes aside), so the range is found by walking both.
    `positions` (from scalar_positions) saves the walk when many ranges are mapped.
    """
    if positions is None:
        positions = scalar_positions(node, source)
    after = [p for p in positions[offset:] if p >= 0]
    before = [p for p in positions[:offset] if p >= 0]
    s = after[0] if after else (before[-1] if before else node.start)
    inside = [p for p in positions[offset:end] if p >= 0]
    e = (inside[-1] + 1) if inside else s + 1
    return source.span(s, e)


def scalar_positions(node: YScalar, source: SourceText) -> list[int]:
    """Return, for each character of a scalar's value, its index in the file (-1 for spaces)."""
    text = source.text
    value = node.value
    i = node.start
    if node.style in ("'", '"'):
        i += 1
    elif node.style in ("|", ">"):
        nl = text.find("\n", i)
        i = nl + 1 if nl >= 0 else i
    positions: list[int] = []
    limit = node.end
    for ch in value:
        if ch.isspace():
            positions.append(-1)
            continue
        j = text.find(ch, i, limit)
        if j < 0:
            positions.append(-1)
            continue
        positions.append(j)
        i = j + 1
    return positions
