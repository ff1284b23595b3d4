"""The public error families: PolicyError, InputError, EvaluationError, PolicyTestFailure."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from eligibility.base.source import SourceText, Span, bounded, excerpt, readable


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
        where = str(self.span) if self.span else "<policy set>"
        lines = [bounded(f"{where}: {self.severity}[{self.code}]: {self.message}")]
        if self.span and sources:
            lines.extend(excerpt(sources, self.span))
        for span, note in self.related:
            lines.append(f"  note: {span}: {note}")
            if sources:
                lines.extend("  " + x for x in excerpt(sources, span))
        if self.hint:
            lines.append(f"  hint: {self.hint}")
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


class EligibilityError(Exception):
    """The base of every error this library raises."""


class PolicyError(EligibilityError):
    """A policy set that cannot be loaded: every problem, with its position."""

    def __init__(
        self,
        diagnostics: Sequence[Diagnostic],
        sources: dict[str, SourceText] | None = None,
    ) -> None:
        self.diagnostics = tuple(sorted(diagnostics, key=_position))
        self.sources = sources or {}
        errors = [d for d in self.diagnostics if d.severity == "error"]
        first = errors[0] if errors else self.diagnostics[0]
        self.file = first.span.path if first.span else None
        self.line = first.span.line if first.span else None
        self.col = first.span.col if first.span else None
        self.code = first.code
        self.message = first.message
        super().__init__(self.render())

    def render(self) -> str:
        """Return every diagnostic rendered with its excerpt, and a count."""
        parts = [d.render(self.sources) for d in self.diagnostics]
        n = sum(1 for d in self.diagnostics if d.severity == "error")
        parts.append(f"{n} error{'s' if n != 1 else ''} found")
        return "\n\n".join(parts)


@attrs.frozen
class InputProblem:
    """One problem with a household: its field path, kind and message."""

    path: str
    kind: str  # missing | type | format | range | precision | limit | duplicate | unknown
    message: str

    def __str__(self) -> str:
        # The path is kept as given (a key may hold invisible characters); shown readable here.
        return f"{readable(self.path, 80)}: {self.kind}: {self.message}"


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
        tail = f"\n  … and {more} more" if more > 0 else ""
        n = len(self.problems)
        super().__init__(bounded(f"invalid {subject} ({n} problem{'s' if n != 1 else ''}):\n{shown}{tail}"))

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.problems, self.subject))

    def to_json(self) -> list[dict[str, str]]:
        return [{"path": p.path, "kind": p.kind, "message": p.message} for p in self.problems]


class EvaluationError(EligibilityError, ArithmeticError):
    """A rule could not be evaluated for this household (division by zero, empty min, missing parameter)."""

    def __init__(self, message: str, *, program: str | None = None, rule: str | None = None,
                 path: str | None = None, span: Span | None = None) -> None:
        self.program = program
        self.rule = rule
        self.path = path
        self.span = span
        where = f" at {span}" if span else ""
        who = f"{program}.{rule}" if program and rule else (program or rule or "")
        prefix = f"{who}{where}: " if who or where else ""
        super().__init__(bounded(prefix + message))


class PolicyTestFailure(EligibilityError, AssertionError):
    """A YAML policy test case did not give the expected result."""
