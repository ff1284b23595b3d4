"""The checked policy model: frozen attrs classes, each with its Span."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs

from eligibility.base.source import SourceText, Span
from eligibility.lang.loader import YScalar


@attrs.frozen
class Label:
    """A text in Chinese and English."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


@attrs.frozen
class Source:
    """A legal or documentary citation."""

    id: str
    title: str
    document: str | None
    articles: str | None
    date: str | None
    url: str | None
    confidence: str
    file: str
    span: Span

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "title": self.title, "document": self.document,
                "articles": self.articles, "date": self.date, "url": self.url,
                "confidence": self.confidence, "file": self.file}


class _HasFields:
    """Something with named fields: a list field's records, or the household itself."""

    fields: tuple[FieldSpec, ...]

    def field(self, name: str) -> FieldSpec | None:
        """Return the field of that name, or None."""
        for f in self.fields:
            if f.name == name:
                return f
        return None


@attrs.frozen
class Constraint:
    """A rule on the records of a list field, checked with the household (facts.yaml `constraints:`).

    `unique`: no two records have the same `field`; `count_where`: between `minimum` and `maximum`
    records (both included) have `field` equal to `value`; `max_items`: at most `maximum` records.
    """

    kind: str  # unique | count_where | max_items
    field: str | None
    value: object
    minimum: int | None
    maximum: int | None
    reason: Label
    span: Span


@attrs.frozen
class Freshness:
    """How old a fact may be (facts.yaml `fresh_for:`): older than `days` on the decision date it is stale.

    `stale` says what a stale fact is: `unknown` (not used; programs that need it are undetermined)
    or `warning` (used, with a warning in the decision).
    """

    days: int
    stale: str  # unknown | warning
    reason: Label
    span: Span


@attrs.frozen
class Expiry:
    """A fact that holds until a date given with it (facts.yaml `valid_until:`), as a certificate does.

    Given with `"valid_until": "YYYY-MM-DD"` in its provenance form; past that date on the decision
    date it has expired, and `expired` says what it is then: `unknown` or `warning` (as `Freshness`).
    """

    expired: str  # unknown | warning
    reason: Label
    span: Span


@attrs.frozen
class FieldSpec(_HasFields):
    """One field of the facts vocabulary."""

    name: str
    type: str  # bool integer decimal money date enum text list
    label: Label
    unit: str | None
    required: bool
    default: object
    minimum: Decimal | None
    maximum: Decimal | None
    values: tuple[tuple[str, Label], ...]  # enum values
    fields: tuple[FieldSpec, ...]  # list item fields
    min_items: int
    max_items: int
    span: Span
    #: Rules on the records of a list field (empty for other fields).
    constraints: tuple[Constraint, ...] = ()
    #: How old the fact may be when given with `as_of` (facts.yaml `fresh_for:`), or None.
    fresh_for: Freshness | None = None
    #: What the fact is once the `valid_until` given with it has passed (facts.yaml `valid_until:`), or None.
    valid_until: Expiry | None = None
    #: How to answer the question for this fact (facts.yaml `help:`), shown by a screening; or None.
    help: Label | None = None


@attrs.frozen
class Facts(_HasFields):
    """The facts vocabulary: household fields, some of them lists of records."""

    fields: tuple[FieldSpec, ...]
    file: str
    span: Span


@attrs.frozen
class Expr:
    """An expression's text and where it sits in the YAML file."""

    text: str
    node: YScalar
    source: SourceText

    @property
    def span(self) -> Span:
        return self.node.span


@attrs.frozen
class ParamValue:
    """One dated value of a parameter."""

    start: dt.date
    value: object
    source: str | None
    note: str | None
    span: Span
    source_span: Span | None = None


@attrs.frozen
class Parameter:
    """A named, dated policy parameter."""

    name: str
    type: str
    unit: str | None
    title: Label
    source: str | None
    values: tuple[ParamValue, ...]  # sorted by start
    file: str
    span: Span
    source_span: Span | None = None


@attrs.frozen
class Version:
    """One dated version of a definition's expression."""

    start: dt.date | None
    until: dt.date | None
    expr: Expr
    source: str | None
    span: Span
    source_span: Span | None = None


@attrs.frozen
class Rounding:
    """A declared rounding: a step such as 0.01 and a mode."""

    step: Decimal
    mode: str  # half_up | up | down


@attrs.frozen
class Definition:
    """A computed value, a rule, or a program output (eligible, amount)."""

    name: str
    kind: str  # computed | rule | output
    title: Label | None
    source: str | None
    article: str | None
    versions: tuple[Version, ...]
    rounding: Rounding | None
    file: str
    span: Span
    #: (variable, list field) when evaluated once per record, e.g. ("member", "members").
    each: tuple[str, str] | None = None
    source_span: Span | None = None
    #: What holds on a date no version covers: "undecided" (the default: the program cannot be
    #: decided), or, stated on purpose, "passes" or "fails" (rules and `eligible` only).
    not_in_force: str = "undecided"


#: The values of a definition's `not_in_force:`.
NOT_IN_FORCE = ("undecided", "passes", "fails")


@attrs.frozen
class Program:
    """A program as merged from its layers."""

    name: str
    title: Label
    jurisdiction: str
    file: str
    layers: tuple[str, ...]  # most general first
    sources: dict[str, Source]
    parameters: dict[str, Parameter]
    definitions: dict[str, Definition]  # computed and rules, in layer order
    eligible: Definition
    amount: Definition | None
    span: Span
    tier: Definition | None = None
    #: (variable, list field) for a program decided per person (tekun), else None.
    each: tuple[str, str] | None = None
    #: Names that failed to read; the checker stays silent about their uses.
    failed: frozenset[str] = frozenset()
    #: `benefit`, `helper` (read by other programs, not shown to applicants as a benefit) or `notice`.
    role: str = "benefit"


@attrs.frozen
class TestCase:
    """A YAML policy test case."""

    name: str
    on: dt.date
    household: object
    expect: dict[str, object]
    expect_error: dict[str, str] | None
    file: str
    span: Span
    expect_spans: dict[str, Span]
    #: Decide as `decide(complete=True)`: a fact without a default that is absent is an input error.
    complete: bool = False
    #: The case is about where to apply only (`where_to_apply: true`): `Engine.where_to_apply` is run
    #: instead of `decide`, and `expect_error` is about its error.
    where_only: bool = False


@attrs.frozen
class Property:
    """A property every household must satisfy, checked with generated households."""

    name: str
    kind: str  # monotonic | bounds | exclusive | invariant
    #: The program (monotonic, bounds), the programs (exclusive), or those compared (invariant; () = all).
    programs: tuple[str, ...]
    file: str
    span: Span
    #: Where each key of the property sits, for messages about its values.
    spans: dict[str, Span]
    vary: str | None = None  # monotonic: a numeric household field, or `list.field`
    direction: str = "up"  # monotonic: up | down
    expect: dict[str, str] = attrs.Factory(dict)  # monotonic: {eligible: never_gains, amount: never_rises}
    amount_min: Expr | None = None  # bounds
    amount_max: Expr | None = None
    transform: str | None = None  # invariant: shuffle_members | reorder_keys
    on: dt.date | None = None  # a fixed decision date instead of generated ones
    members: tuple[int, int] | None = None  # the household sizes drawn
