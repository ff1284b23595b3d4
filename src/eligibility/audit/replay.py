"""Replaying a decision record: decide its household again and say what differs, and why."""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from eligibility.audit.canonical import canonical_bytes, normalise, short_json
from eligibility.audit.verify import verify_record
from eligibility.base.errors import EligibilityError, InputError, InputProblem
from eligibility.base.i18n import N_
from eligibility.base.i18n import translate as _
from eligibility.base.numbers import ENGINE_CONTEXT
from eligibility.base.version import __version__
from eligibility.engine.trace import COMPACT_SCHEMA
from eligibility.engine.trace import SCHEMA as TRACE_SCHEMA

if TYPE_CHECKING:
    from eligibility.engine.runtime import Engine


@attrs.frozen
class Difference:
    """One thing that differs between the recorded decision and its replay."""

    program: str | None
    step: str | None
    field: str
    old: Any
    new: Any

    def where(self) -> str:
        return ".".join(p for p in (self.program, self.step, self.field) if p)

    def to_json(self) -> dict[str, Any]:
        return {"program": self.program, "step": self.step, "field": self.field, "old": self.old, "new": self.new}


#: The line of a policy file that differs between the record and the replay, by kind of change.
FILE_CHANGES = {"added": N_("added {path}: {old} -> {new}"), "removed": N_("removed {path}: {old} -> {new}"),
                "changed": N_("changed {path}: {old} -> {new}")}


@attrs.frozen
class FileChange:
    """A policy file whose hash differs between the record and the replay (None: absent)."""

    path: str
    old: str | None
    new: str | None

    @property
    def change(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "change": self.change, "old": self.old, "new": self.new}


@attrs.frozen
class ReplayResult:
    """The outcome of replaying a record: identical, or what differs and the likely reasons why."""

    identical: bool
    #: The record's own problems (verify_record); a tampered record is not replayed.
    problems: tuple[str, ...] = ()
    #: Why the household could not be decided again (an InputError or EvaluationError message).
    error: str | None = None
    #: Program outcomes: eligible, amount, tier, members, a program missing on one side.
    outcomes: tuple[Difference, ...] = ()
    #: Per-step differences: value and outcome, and the rule itself (expression, version, at, source).
    steps: tuple[Difference, ...] = ()
    #: Parameter values the replay read differently (value, from, source).
    parameters: tuple[Difference, ...] = ()
    old_policy: str | None = None
    new_policy: str | None = None
    files: tuple[FileChange, ...] = ()
    old_version: str | None = None
    new_version: str | None = None
    old_jurisdiction: str | None = None
    new_jurisdiction: str | None = None
    #: Every JSON path of the decision that differs, old and new value (at most MAX_PATHS).
    paths: tuple[tuple[str, Any, Any], ...] = ()
    record_hash: str | None = None
    decided_for: str | None = None

    @property
    def tampered(self) -> bool:
        return bool(self.problems)

    @property
    def same_outcome(self) -> bool:
        """Whether every program's outcome (eligible, amount, tier, members) is unchanged."""
        return not self.problems and self.error is None and not self.outcomes

    def causes(self) -> list[str]:
        """Return the likely reasons for the differences, most basic first."""
        out: list[str] = []
        if self.old_policy != self.new_policy and self.new_policy is not None:
            out.append(_("another policy set: {old} (recorded) vs {new} (replay)", old=self.old_policy,
                         new=self.new_policy))
            out.extend("  " + _(FILE_CHANGES[f.change], path=f.path, old=(f.old or "-")[:12], new=(f.new or "-")[:12])
                       for f in self.files)
        if self.old_version != self.new_version and self.new_version is not None:
            out.append(_("another library version: {old} (recorded) vs {new} (replay)", old=self.old_version,
                         new=self.new_version))
        if self.old_jurisdiction != self.new_jurisdiction and self.new_policy is not None:
            out.append(_("loaded for another jurisdiction: {old} (recorded) vs {new} (replay)",
                         old=self.old_jurisdiction, new=self.new_jurisdiction))
        rule_fields = ("expression", "version", "source", "article", "rounding", "each", "type", "step")
        for d in self.steps:
            if d.field in rule_fields:
                out.append(_("changed rule {program}.{step}: {field} {old} -> {new}", program=d.program, step=d.step,
                             field=d.field, old=short_json(d.old), new=short_json(d.new)))
            elif d.field in ("at", "layer"):
                out.append(_("rule {program}.{step} is written elsewhere: {field} {old} -> {new}", program=d.program,
                             step=d.step, field=d.field, old=short_json(d.old), new=short_json(d.new)))
        for d in self.parameters:
            out.append(_("changed parameter {program}.{step}: {field} {old} -> {new}", program=d.program, step=d.step,
                         field=d.field, old=short_json(d.old), new=short_json(d.new)))
        if not out and (self.outcomes or self.steps or self.paths):
            out.append(_("the same policy set and library version gave another result: the engine is not "
                         "deterministic here, please report it"))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "identical": self.identical, "tampered": self.tampered, "same_outcome": self.same_outcome,
            "record_hash": self.record_hash, "decided_for": self.decided_for,
            "problems": list(self.problems), "error": self.error,
            "outcomes": [d.to_json() for d in self.outcomes], "steps": [d.to_json() for d in self.steps],
            "parameters": [d.to_json() for d in self.parameters],
            "policy": {"recorded": self.old_policy, "replay": self.new_policy,
                       "files": [f.to_json() for f in self.files]},
            "library_version": {"recorded": self.old_version, "replay": self.new_version},
            "causes": self.causes(),
            "paths": [{"path": p, "old": o, "new": n} for p, o, n in self.paths],
        }

    def render(self) -> str:
        """Return the result as text: a first line `identical`, `different`, `tampered` or `error`."""
        lines: list[str] = []
        if self.problems:
            lines.append(_("tampered: the record is not intact; it was not replayed"))
            lines.extend(f"  {p}" for p in self.problems)
            return "\n".join(lines) + "\n"
        head = _("record {hash}…, decided for {day}", hash=(self.record_hash or "?")[:19], day=self.decided_for)
        if self.error is not None:
            lines.append(_("error: the household cannot be decided again ({head})", head=head))
            lines.append(f"  {self.error}")
        elif self.identical:
            lines.append(_("identical: the replay gives the recorded decision and trace, byte for byte ({head}, "
                           "policy set {policy})", head=head, policy=self.new_policy))
            return "\n".join(lines) + "\n"
        else:
            if self.same_outcome:
                lines.append(_("different: the same outcome, another trace ({head})", head=head))
            else:
                lines.append(_("different: another outcome ({head})", head=head))
        if self.outcomes:
            lines.append(_("outcome:"))
            lines.extend(f"  {d.where()}: {short_json(d.old)} -> {short_json(d.new)}" for d in self.outcomes)
        if self.steps:
            lines.append(_("steps:"))
            lines.extend(f"  {d.where()}: {short_json(d.old)} -> {short_json(d.new)}" for d in self.steps)
        causes = self.causes()
        if causes:
            lines.append(_("why:"))
            lines.extend(f"  {c}" for c in causes)
        shown = {f"programs.{d.program}.{d.field}" for d in self.outcomes}
        shown |= {f"programs.{d.program}.steps[{d.step}].{d.field}" for d in self.steps}
        if self.old_policy != self.new_policy:
            shown |= {"policy.hash", "policy.files"}
        if self.old_version != self.new_version:
            shown.add("library_version")
        rest = [p for p in self.paths if not any(p[0] == s or p[0].startswith((s + ".", s + "[")) for s in shown)]
        if rest:
            lines.append(_("other differences in the trace ({n}):", n=len(rest)))
            lines.extend(f"  {p}: {short_json(o)} -> {short_json(n)}" for p, o, n in rest[:10])
            if len(rest) > 10:
                lines.append("  " + _("… and {n} more (--format json lists them all)", n=len(rest) - 10))
        return "\n".join(lines) + "\n"


MAX_PATHS = 1000
_OUTCOME_FIELDS = ("eligible", "amount", "tier", "members", "error")
_STEP_VALUE_FIELDS = ("outcome", "value", "error")
_STEP_RULE_FIELDS = ("expression", "version", "type", "each", "rounding", "article", "at", "layer")


def replay(record: Mapping[str, Any], engine: Engine) -> ReplayResult:
    """Decide a record's household again, on the same date, and compare with what it recorded.

    Args:
        record: a record from `make_record` (or read back from its JSON text).
        engine: the policy set to replay with; load it with the record's `policy.jurisdiction`.

    Returns:
        A ReplayResult: `identical` when the decision JSON is byte-identical; otherwise the
        program outcomes and steps that differ, and the likely causes (another policy hash and the
        files whose hashes differ, another library version, a changed rule or parameter). A
        tampered record is not replayed: `problems` says why.
    """
    with decimal.localcontext(ENGINE_CONTEXT):
        return _replay(record, engine)


def _replay(record: Mapping[str, Any], engine: Engine) -> ReplayResult:
    problems = verify_record(dict(record) if isinstance(record, Mapping) else record)
    if problems:
        return ReplayResult(False, problems=tuple(problems))
    try:
        return _compare(record, engine)
    except (TypeError, KeyError, AttributeError, ValueError, IndexError):
        return ReplayResult(False, problems=(f"decision is not an {TRACE_SCHEMA} trace",))


def _compare(record: Mapping[str, Any], engine: Engine) -> ReplayResult:
    old: dict[str, Any] = record["decision"]
    wanted = list(old["programs"])
    missing = [p for p in wanted if p not in engine.programs]
    outcomes = [Difference(p, None, "program", "decided", "absent from the policy set") for p in missing]
    base = {"old_policy": old["policy"]["hash"], "new_policy": engine.policy_hash,
            "files": _file_changes(old["policy"]["files"], engine.model.file_hashes),
            "old_version": old["library_version"], "new_version": __version__,
            "old_jurisdiction": old["policy"].get("jurisdiction"), "new_jurisdiction": engine.model.jurisdiction,
            "record_hash": record["record_hash"], "decided_for": record["decided_for"]}
    try:
        decision = engine.decide(record["input"], on=record["decided_for"],
                                 programs=[p for p in wanted if p in engine.programs])
        new = normalise(decision.to_json(), "decision")
    except EligibilityError as e:
        return ReplayResult(False, error=str(e), outcomes=tuple(outcomes), **base)
    if canonical_bytes(new) == canonical_bytes(old) and not missing:
        return ReplayResult(True, **base)
    steps: list[Difference] = []
    params: list[Difference] = []
    for name, prog in old["programs"].items():
        now = new["programs"].get(name)
        if now is None:
            continue
        outcomes.extend(Difference(name, None, f, prog.get(f), now.get(f)) for f in _OUTCOME_FIELDS
                        if prog.get(f) != now.get(f))
        steps.extend(_step_differences(name, prog, now))
        params.extend(_parameter_differences(name, prog, now))
    return ReplayResult(False, outcomes=tuple(outcomes), steps=tuple(steps), parameters=tuple(params),
                        paths=tuple(_paths(old, new)), **base)


def _file_changes(old: Mapping[str, str], new: Mapping[str, str]) -> tuple[FileChange, ...]:
    return tuple(FileChange(f, old.get(f), new.get(f)) for f in sorted(set(old) | set(new))
                 if old.get(f) != new.get(f))


def _steps_by_name(prog: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(s.get("name")): s for s in prog.get("steps") or [] if isinstance(s, dict)}


def _step_differences(program: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Difference]:
    out: list[Difference] = []
    a, b = _steps_by_name(old), _steps_by_name(new)
    for name in [*a, *(n for n in b if n not in a)]:
        sa, sb = a.get(name), b.get(name)
        if sa is None or sb is None:
            out.append(Difference(program, name, "step", "present" if sa else "absent", "present" if sb else "absent"))
            continue
        for f in (*_STEP_VALUE_FIELDS, *_STEP_RULE_FIELDS):
            if sa.get(f) != sb.get(f):
                out.append(Difference(program, name, f, sa.get(f), sb.get(f)))
        src_a = (sa.get("source") or {}).get("id") if isinstance(sa.get("source"), dict) else None
        src_b = (sb.get("source") or {}).get("id") if isinstance(sb.get("source"), dict) else None
        if sa.get("source") != sb.get("source"):
            out.append(Difference(program, name, "source", src_a if src_a != src_b else sa.get("source"),
                                  src_b if src_a != src_b else sb.get("source")))
    return out


def _parameter_differences(program: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Difference]:
    def params(prog: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for step in prog.get("steps") or []:
            for item in step.get("inputs") or [] if isinstance(step, dict) else []:
                if isinstance(item, dict) and item.get("kind") == "parameter":
                    out.setdefault(str(item.get("name")), item)
        return out

    a, b = params(old), params(new)
    diffs: list[Difference] = []
    for name in sorted(set(a) | set(b)):
        pa, pb = a.get(name), b.get(name)
        if pa is None or pb is None:
            diffs.append(Difference(program, name, "read", pa is not None, pb is not None))
            continue
        for f in ("value", "from", "source", "unit"):
            if pa.get(f) != pb.get(f):
                diffs.append(Difference(program, name, f, pa.get(f), pb.get(f)))
    return diffs


def _paths(old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    """Every JSON path where two decisions differ; steps are matched by name, other lists by index."""
    out: list[tuple[str, Any, Any]] = []
    stack: list[tuple[str, Any, Any]] = [("", old, new)]
    while stack and len(out) < MAX_PATHS:
        path, a, b = stack.pop()
        if a == b and type(a) is type(b):
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b), reverse=True):
                stack.append((f"{path}.{k}" if path else k, a.get(k), b.get(k)))
        elif isinstance(a, list) and isinstance(b, list) and path.endswith(".steps"):
            sa = {s.get("name"): s for s in a if isinstance(s, dict)}
            sb = {s.get("name"): s for s in b if isinstance(s, dict)}
            names = [*sa, *(n for n in sb if n not in sa)]
            stack.extend((f"{path}[{n}]", sa.get(n), sb.get(n)) for n in reversed(names))
        elif isinstance(a, list) and isinstance(b, list):
            for i in reversed(range(max(len(a), len(b)))):
                stack.append((f"{path}[{i}]", a[i] if i < len(a) else None, b[i] if i < len(b) else None))
        else:
            out.append((path, a, b))
    return out


__all__ = ["Difference", "FileChange", "ReplayResult", "replay"]


class CompactMismatch(EligibilityError):
    """Deciding again did not give the values a compact trace holds: the household, policy or library differ."""

    def __init__(self, differences: list[str]) -> None:
        self.differences = differences
        super().__init__("the decision made again differs from the compact trace: " + "; ".join(differences[:10])
                         + (f"; and {len(differences) - 10} more" if len(differences) > 10 else ""))


def full_trace(compact: Mapping[str, Any], household: Mapping[str, Any], engine: Engine) -> dict[str, Any]:
    """Rebuild the full trace JSON of a decision from its compact trace, its household and its policy set.

    The household is decided again on the compact trace's date for its programs, with the trace;
    the values it computes must be those the compact trace holds, so the trace returned is the one
    `Decision.to_json()` gave when the decision was made (byte for byte, with the same library).

    Raises:
        InputError: `compact` is not an eligibility.compact/1 trace, or was made with another policy set.
        CompactMismatch: the values differ (another household, library version or policy), each named.
    """
    with decimal.localcontext(ENGINE_CONTEXT):
        if not isinstance(compact, Mapping) or compact.get("schema") != COMPACT_SCHEMA \
                or not isinstance(compact.get("programs"), Mapping):
            raise InputError([InputProblem("compact", "format", f"is not an {COMPACT_SCHEMA} trace")], "arguments")
        if compact.get("policy") != engine.policy_hash:
            raise InputError([InputProblem("compact", "policy",
                                           f"was made with the policy set {compact.get('policy')}, "
                                           f"not this one ({engine.policy_hash})")], "arguments")
        decision = engine.decide(household, on=compact.get("decided_for"), programs=list(compact["programs"]))
        again = decision.to_compact()
        differences = [f"{name}.{rule}: {old!r} then, {new!r} now" for name, rule, old, new in
                       _value_differences(compact["programs"], again["programs"])]
        if compact.get("library_version") != again["library_version"]:
            differences.insert(0, f"library {compact.get('library_version')} then, {again['library_version']} now")
        if differences:
            raise CompactMismatch(differences)
        return decision.to_json()


def _value_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str, Any, Any]]:
    out: list[tuple[str, str, Any, Any]] = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name) or {}, new.get(name) or {}
        out.extend((name, rule, a.get(rule), b.get(rule)) for rule in [*a, *(r for r in b if r not in a)]
                   if a.get(rule) != b.get(rule))
    return out
