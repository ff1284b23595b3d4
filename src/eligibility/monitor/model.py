"""The compiled model of monitoring rules and the reference semantics of an alert.

Monitoring rules live in `policies/monitoring/*.yaml` (docs/reference/monitoring.md); the reader
(`eligibility.monitor.rules`) checks them against the policy set and builds the classes below.
They are plain data: windows, counts, shares, margins and de-duplication are fields, never code,
so that every engine (the pure-Python reference engine, `eligibility.monitor.reference`, and any
other backend) runs the same model. The reference engine is the definition; another engine is
correct when it emits the same alerts, byte for byte, on the same event log.

What an alert is (the reference semantics)
-------------------------------------------

Time is data. Each event carries its time (`time`, ISO 8601, +08:00 when no offset is given);
the clock is the events' time, never the wall clock. Events are applied in the order of
(time, id), whatever order they arrive in, as long as they are at most `lateness_seconds` older
than the newest event seen (the watermark is the newest time minus the lateness). An event older
than the watermark is *late*: reported with its line and reason and not applied. The end of the
log releases every held event.

A *day* is a local calendar date (+08:00). When the applied events move past a day (an event of a
later date, a `day` event, or the end of the log), the day *closes*:

1. every household whose facts or members changed that day is decided again with the policy
   engine on that date; an alert from a re-decision refers (by SHA-256) to the stored decision:
   the facts as known then with their provenance, the date, the program and the policy hash, from
   which the full trace is rebuilt exactly;
2. `outcome_changed` compares each program's outcome with the one stored at the household's
   previous decision; `near_threshold` compares a value of the decision with its limit;
3. schedules (`review_due`, `age_reached`, `document_expiry`) raise the alerts whose notice date
   is on or before the closed day (and no later than the date itself, except an overdue review);
   enrolments and documents change the schedules, not the decisions.

Other kinds are raised when their event is applied: `indicator_change` and `household_changed`
on facts and member events, `station_repeat` on check-ins, `two_offices` on enrolments.

Each alert has a key (subject, rule, scope, window): the subject is `household:ID` or
`person:ID`; the scope names what within the subject it is about (a program, a fact, a member,
a station, or "" for the whole subject); the window is an ISO date. An alert is raised at most
once per key. For the kinds with a `repeat_after_days` setting the window is the date of the alert
that opened it: a trigger for the same (subject, rule, scope) less than `repeat_after_days` days
after that date is absorbed (counted in the state, not alerted). For the others the window is the
date the alert is about: the day of the change, the due date, the date of the birthday, the expiry
date. Alerts are written in the order they are raised; replaying the same log gives the same
alerts, byte for byte.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs

from eligibility.base.source import Span
from eligibility.lang.model import Label

#: Warning levels, most to least urgent: the code used in YAML and JSON, and its Chinese name.
LEVELS: dict[str, str] = {"red": "红", "orange": "橙", "yellow": "黄", "blue": "蓝", "green": "绿"}

#: The kinds of monitoring rule, each with the class holding its settings.
KINDS = ("outcome_changed", "near_threshold", "indicator_change", "household_changed", "review_due",
         "age_reached", "document_expiry", "station_repeat", "two_offices")

#: The changes of a program's outcome `outcome_changed` can watch.
OUTCOME_CHANGES = ("newly_eligible", "no_longer_eligible", "tier_changed", "amount_changed", "now_undetermined")

#: The values each kind gives its alerts (`values` in the alert), which `message` may name as `{name}`.
KIND_VALUES: dict[str, tuple[str, ...]] = {
    "outcome_changed": ("program", "change", "before", "after", "before_amount", "after_amount"),
    "near_threshold": ("program", "value", "limit", "gap", "margin"),
    "indicator_change": ("fact", "before", "after", "change", "window_days"),
    "household_changed": ("change", "member"),
    "review_due": ("program", "due", "months"),
    "age_reached": ("member", "age", "date"),
    "document_expiry": ("member", "document", "date"),
    "station_repeat": ("person", "count", "days", "station"),
    "two_offices": ("person", "program", "offices", "office_a", "office_a_accepts", "office_b",
                    "office_b_accepts"),
}

#: Documents a `document` event may carry and `document_expiry` may watch.
DOCUMENTS = ("disability_certificate", "residence_permit", "tekun_certificate", "rigid_expense_recognition")


@attrs.frozen
class Citation:
    """Where a rule comes from: a source id of the policy set's registry, local practice, or both.

    Both: the source names the indicator, and its settings (shares, windows, counts) are local
    practice, stated in the rule and explained in `note`.
    """

    source: str | None  # an id of policies/sources.yaml; None for a rule of local practice only
    article: str | None
    local_practice: bool
    #: Why the rule is local practice and what its settings mean (required for local practice).
    note: Label | None

    def to_json(self) -> dict[str, object]:
        return {"source": self.source, "article": self.article, "local_practice": self.local_practice,
                "note": None if self.note is None else {"zh": self.note.zh, "en": self.note.en}}


@attrs.frozen
class OutcomeChanged:
    """Alert when a program's outcome changes at a re-decision (scope: the program; window: the day)."""

    programs: tuple[str, ...]
    changes: tuple[str, ...]  # a subset of OUTCOME_CHANGES


@attrs.frozen
class NearThreshold:
    """Alert when a decided value is within `margin` (a share of the limit) of its limit.

    `value` and `limit` name a computed value or parameter of `program`; `side` is `below` (the
    value is under the limit by at most the margin: about to lose eligibility when it rises),
    `above` (over it by at most the margin: about to gain it) or `either`. Only a household the
    program decided (eligible or not, never undetermined) is compared. Scope: program.value.
    """

    program: str
    value: str
    limit: str
    margin: Decimal
    side: str
    repeat_after_days: int


@attrs.frozen
class IndicatorChange:
    """Guangdong's indicators: a household money fact dropped (`down`) or rose (`up`) by more than `share`.

    The new value is compared with the highest (`down`) or lowest (`up`) value the fact had in the
    `window_days` days before the change (the value in force at the window's start included).
    A change from or to an unknown value is not compared. Scope: the fact.
    """

    fact: str
    direction: str  # down | up
    share: Decimal
    window_days: int
    repeat_after_days: int


@attrs.frozen
class HouseholdChanged:
    """Alert when a member is added or removed (scope: ""; window: the day)."""

    changes: tuple[str, ...]  # member_added | member_removed


@attrs.frozen
class ReviewDue:
    """A program enrolment must be reviewed `months` (or the policy value `months_value`) after approval.

    The cycle starts at an `enrolment` event with status `approved` or `reviewed` and stops at
    `ended`. With `months_value` the number of months is that value of the program decided on the
    household's facts on the day of the enrolment (for dibao, review_cycle_months: 6 or 12). The
    alert is raised `notice_days` before the due date. Scope: the program; window: the due date.
    """

    program: str
    months: int | None
    months_value: str | None
    notice_days: int


@attrs.frozen
class AgeReached:
    """A member of a household enrolled in one of `programs` reaches an age.

    The age is `age` or the parameter `age_parameter` (program, name) in force on the birthday.
    A member for whom every field of `unless` is true on the birthday (for example
    full_time_student) raises nothing. With `retirement` instead of an age the date is the first
    day on which the employment program's per-member value `below_retirement_age` is false (found
    by deciding the member's household, so that the gradual raise of the statutory age applies).
    Scope: the member; window: the date reached.
    """

    programs: tuple[str, ...]
    age: int | None
    age_parameter: tuple[str, str] | None
    retirement: bool
    unless: tuple[str, ...]
    member_program: bool  # only members who are themselves enrolled (enrolment with `member`)
    notice_days: int


@attrs.frozen
class DocumentExpiry:
    """A member's document (a `document` event) expires. Scope: member/document; window: the expiry date."""

    documents: tuple[str, ...]
    notice_days: int


@attrs.frozen
class StationRepeat:
    """Repeat rescue-station use (跑站): `count` check-ins within `days` days.

    `per_station`: counted at one station (scope: the station); otherwise across stations (scope
    ""). The window is the date of the alert, and further check-ins within `repeat_after_days`
    are absorbed.
    """

    count: int
    days: int
    per_station: bool
    repeat_after_days: int


@attrs.frozen
class TwoOffices:
    """The same person enrolled in one of `programs` by two offices at once (人户分离 or a duplicate).

    Offices are compared by their code (the office named in the `enrolment` event). Scope: the
    sorted pair of offices; window: the date of the alert, repeated after `repeat_after_days`.
    """

    programs: tuple[str, ...]
    repeat_after_days: int


Settings = (OutcomeChanged | NearThreshold | IndicatorChange | HouseholdChanged | ReviewDue | AgeReached
            | DocumentExpiry | StationRepeat | TwoOffices)


@attrs.frozen
class Rule:
    """One alert kind as configured: what raises it, its wording, level, citation and settings."""

    id: str
    kind: str  # one of KINDS
    title: Label
    #: The alert's text; `{name}` stands for a value of the alert's `values` (documented per kind).
    message: Label
    level: str  # a key of LEVELS
    citation: Citation
    settings: Settings
    #: The settings as stated in the YAML (name -> text), shown in every alert of the rule.
    parameters: dict[str, str]
    span: Span


@attrs.frozen
class RuleSet:
    """The checked monitoring rules of a policy set."""

    title: Label
    jurisdiction: str | None
    lateness_seconds: int
    rules: tuple[Rule, ...]
    #: SHA-256 over the rule files (path and content, sorted by path): names the rules in each alert.
    hash: str
    files: tuple[str, ...]

    def of_kind(self, kind: str) -> tuple[Rule, ...]:
        """Return the rules of one kind, in file order."""
        return tuple(r for r in self.rules if r.kind == kind)


#: The local time zone of the event clock when an event's time has no offset.
LOCAL = dt.timezone(dt.timedelta(hours=8))


__all__ = [
    "DOCUMENTS", "KINDS", "KIND_VALUES", "LEVELS", "LOCAL", "OUTCOME_CHANGES", "AgeReached", "Citation",
    "DocumentExpiry", "HouseholdChanged", "IndicatorChange", "NearThreshold", "OutcomeChanged", "ReviewDue", "Rule",
    "RuleSet", "Settings", "StationRepeat", "TwoOffices",
]
