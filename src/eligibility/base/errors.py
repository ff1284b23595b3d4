"""The public error families: PolicyError, InputError, EvaluationError, PolicyTestFailure."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import attrs

from eligibility.base.i18n import N_, ngettext
from eligibility.base.i18n import translate as _
from eligibility.base.source import SourceText, Span, bounded, excerpt, readable

#: How each severity reads in a rendered diagnostic (the JSON keeps the English word).
SEVERITY_WORDS = {"error": N_("error"), "warning": N_("warning"), "acknowledged": N_("acknowledged")}


@attrs.frozen
class Diagnostic:
    """One problem found in a policy file."""

    span: Span | None
    code: str
    message: str
    hint: str | None = None
    severity: str = "error"
    related: tuple[tuple[Span, str], ...] = ()

    def render(self, sources: dict[str, SourceText] | None = None) -> str:
        """Return `file:line:col: error[code]: message`, the excerpt with carets and the hint."""
        where = str(self.span) if self.span else _("<policy set>")
        severity = _(SEVERITY_WORDS.get(self.severity, self.severity))
        lines = [bounded(f"{where}: {severity}[{self.code}]: {self.message}")]
        if self.span and sources:
            lines.extend(excerpt(sources, self.span))
        for span, note in self.related:
            lines.append("  " + _("note: {where}: {note}", where=span, note=note))
            if sources:
                lines.extend("  " + x for x in excerpt(sources, span))
        if self.hint:
            lines.append("  " + _("hint: {hint}", hint=self.hint))
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        s = self.span
        return {
            "file": s.path if s else None,
            "line": s.line if s else None,
            "col": s.col if s else None,
            "end_line": s.end_line if s else None,
            "end_col": s.end_col if s else None,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


def _position(d: Diagnostic) -> tuple[str, int, int]:
    s = d.span
    return (s.path, s.line, s.col) if s else ("", 0, 0)


#: Diagnostics kept per file; the rest are counted in one closing diagnostic of that file.
MAX_DIAGNOSTICS_PER_FILE = 100


def cap_per_file(diagnostics: Sequence[Diagnostic], limit: int = MAX_DIAGNOSTICS_PER_FILE) -> list[Diagnostic]:
    """Sort diagnostics by position and keep the first `limit` of each file, then one counting the rest.

    Diagnostics whose code starts with `limit-` are always kept, after the count.
    """
    ordered = sorted(diagnostics, key=_position)
    out: list[Diagnostic] = []
    for _path, group in itertools.groupby(ordered, key=lambda d: _position(d)[0]):
        items = list(group)
        out.extend(items[:limit])
        # A limit error (file too deep, too many values, ...) says why reading stopped: always kept.
        hidden = [d for d in items[limit:] if not d.code.startswith("limit-")]
        kept = [d for d in items[limit:] if d.code.startswith("limit-")]
        if hidden:
            first = hidden[0]
            severity = "error" if any(d.severity == "error" for d in hidden) else "warning"
            out.append(Diagnostic(first.span, "too-many-problems",
                                  ngettext("and {n} more problem in this file", "and {n} more problems in this file",
                                           len(hidden)),
                                  _("only the first {limit} problems of a file are listed; fix them and load again",
                                    limit=limit),
                                  severity))
        out.extend(kept)
    return out


def _restore(cls: type[PolicyError], state: dict[str, object]) -> PolicyError:
    """Rebuild a pickled PolicyError from its attributes, without capping or sorting again."""
    err = cls.__new__(cls)
    err.__dict__.update(state)
    return err


class EligibilityError(Exception):
    """The base of every error this library raises."""


class PolicyError(EligibilityError):
    """A policy set that cannot be loaded: every problem, with its position.

    At most MAX_DIAGNOSTICS_PER_FILE diagnostics of each file are kept, then one that counts
    the rest. The message (`str(err)`, `err.render()`) is built on first use, not when the
    error is raised, so a caller that only reads `diagnostics` pays nothing for excerpts.
    """

    def __init__(
        self,
        diagnostics: Sequence[Diagnostic],
        sources: dict[str, SourceText] | None = None,
    ) -> None:
        super().__init__()
        #: The number of errors found, those beyond the per-file cap included.
        self.error_count = sum(1 for d in diagnostics if d.severity == "error")
        kept = cap_per_file(diagnostics) or [Diagnostic(None, "policy", _("the policy set has problems"))]
        self.diagnostics = tuple(kept)
        self.sources = sources or {}
        errors = [d for d in self.diagnostics if d.severity == "error"]
        first = errors[0] if errors else self.diagnostics[0]
        self.file = first.span.path if first.span else None
        self.line = first.span.line if first.span else None
        self.col = first.span.col if first.span else None
        self.code = first.code
        self.message = first.message
        self._rendered: str | None = None

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.file else "<policy set>"
        return f"PolicyError({where}: {self.code}, {self.error_count} error(s))"

    def __reduce__(self) -> tuple[object, ...]:
        return _restore, (type(self), self.__dict__)

    def render(self) -> str:
        """Return every diagnostic kept rendered with its excerpt, and the count of errors found."""
        if self._rendered is None:
            parts = [d.render(self.sources) for d in self.diagnostics]
            parts.append(ngettext("{n} error found", "{n} errors found", self.error_count))
            self._rendered = "\n\n".join(parts)
        return self._rendered


#: How each kind of input problem reads in a message (the JSON keeps the English word).
PROBLEM_KINDS = {"missing": N_("missing"), "type": N_("type"), "format": N_("format"), "range": N_("range"),
                 "precision": N_("precision"), "limit": N_("limit"), "duplicate": N_("duplicate"),
                 "unknown": N_("unknown"), "constraint": N_("constraint")}


@attrs.frozen
class InputProblem:
    """One problem with a household: its field path, kind and message."""

    path: str
    kind: str  # missing | type | format | range | precision | limit | duplicate | unknown
    message: str

    def __str__(self) -> str:
        # The path is kept as given (a key may hold invisible characters); shown readable here.
        return f"{readable(self.path, 80)}: {_(PROBLEM_KINDS.get(self.kind, self.kind))}: {self.message}"


#: How the subject of an InputError reads in its message.
SUBJECT_WORDS = {"household": N_("household"), "arguments": N_("arguments")}


class InputError(EligibilityError, ValueError):
    """Household facts that do not match the facts vocabulary, or a bad argument; no decision was made.

    `subject` names what was invalid in the message: "household" (the default), or "arguments"
    when the problems are the caller's arguments (a date, a program name, an option).
    """

    def __init__(self, problems: Sequence[InputProblem], subject: str = "household") -> None:
        self.problems = tuple(problems)
        self.subject = subject
        self.path = self.problems[0].path
        self.kind = self.problems[0].kind
        shown = "\n".join(f"  {p}" for p in self.problems[:50])
        more = len(self.problems) - 50
        tail = "\n  " + _("… and {more} more", more=more) if more > 0 else ""
        n = len(self.problems)
        what = _(SUBJECT_WORDS.get(subject, subject))
        head = ngettext("invalid {what} ({n} problem):", "invalid {what} ({n} problems):", n, what=what)
        super().__init__(bounded(f"{head}\n{shown}{tail}"))

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.problems, self.subject))

    def to_json(self) -> list[dict[str, str]]:
        return [{"path": p.path, "kind": p.kind, "message": p.message} for p in self.problems]


class EvaluationError(EligibilityError, ArithmeticError):
    """A rule could not be evaluated for this household (division by zero, empty min, missing parameter)."""

    def __init__(self, message: str, *, program: str | None = None, rule: str | None = None,
                 path: str | None = None, span: Span | None = None, english: str | None = None) -> None:
        self.program = program
        self.rule = rule
        self.path = path
        self.span = span
        who = f"{program}.{rule}" if program and rule else (program or rule or "")
        #: The message in English, whatever the language of `str(error)`: what a trace records, so that a
        #: decision record is the same whichever language the decision was made in.
        self.english = bounded(_prefix(who, span, translated=False) + (message if english is None else english))
        super().__init__(bounded(_prefix(who, span, translated=True) + message))


def _prefix(who: str, span: Span | None, *, translated: bool) -> str:
    """`dibao.amount at huadu/dibao.yaml:3:5: `, in the current language or in English."""
    if span is None:
        return f"{who}: " if who else ""
    if not translated:
        return f"{who} at {span}: " if who else f" at {span}: "
    return _("{who} at {span}: ", who=who, span=span) if who else _(" at {span}: ", span=span)


class PolicyTestFailure(EligibilityError, AssertionError):
    """A YAML policy test case did not give the expected result."""
