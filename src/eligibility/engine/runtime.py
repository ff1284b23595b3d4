"""The engine: validate facts, run the generated code under an engine-owned decimal context."""

from __future__ import annotations

import bisect
import datetime as dt
import decimal
import os
import re
import threading
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from eligibility.base.errors import EligibilityError, EvaluationError, InputError, InputProblem
from eligibility.base.i18n import N_, translate
from eligibility.base.numbers import CENT, ENGINE_CONTEXT, ZERO
from eligibility.base.source import did_you_mean, readable
from eligibility.base.version import __version__
from eligibility.compile.codegen import FieldRead, LineInfo
from eligibility.compile.helpers import (
    DateOrder,
    EmptyAggregate,
    MissingParameter,
    MissingValue,
    NotInForce,
    U,
)
from eligibility.compile.pipeline import LEAN_REFERENCE, CompiledPolicy, compile_policy
from eligibility.compile.unknown import Unknown
from eligibility.engine.facts import Validator, stale_warnings
from eligibility.engine.questions import next_questions
from eligibility.engine.relevance import Relevance
from eligibility.engine.trace import build_trace, compact_trace
from eligibility.engine.where import WhereToApply, where_to_apply
from eligibility.engine.whynot import MAX_WORK as WHY_NOT_MAX_WORK
from eligibility.engine.whynot import why_not as analyse_why_not
from eligibility.explain.text import VIEWS, render
from eligibility.lang.model import ParamValue

#: Validators by the sha256 of their facts file: compiling one takes milliseconds.
_VALIDATORS: dict[str, Validator] = {}
#: The most generator iterations one decision may need (G-R: a budget, not a timer).
MAX_WORK = 2_000_000
#: The formats of `Decision.explain`.
FORMATS = ("text", "markdown", "html")


#: Per-thread state: the thread's own copy of the engine's decimal context.
_THREAD = threading.local()
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_JURISDICTION_RE = re.compile(r"[0-9]{6}\Z")


def parse_date(on: object, what: str = "on") -> dt.date:
    """Accept a `datetime.date` or a "YYYY-MM-DD" string (nothing else: no week dates, no times).

    Raises:
        InputError: anything else, with `what` as the problem's path (an argument error).
    """
    if on.__class__ is dt.date:
        return on
    if isinstance(on, dt.datetime):
        message = "must be a date, not a date and time"
    elif isinstance(on, dt.date):
        return on
    elif isinstance(on, str) and _DATE_RE.match(on):
        try:
            return dt.date.fromisoformat(on)
        except ValueError:
            message = f"{readable(on, 20)!r} is not a calendar date"
    else:
        shown = repr(readable(on, 40)) if isinstance(on, str) else type(on).__name__
        message = f"must be a date \"YYYY-MM-DD\" or a datetime.date, not {shown}"
    raise argument_error(what, "format", message)


def argument_error(name: str, kind: str, message: str) -> InputError:
    """Return the InputError for a bad argument `name` (its message says "invalid arguments", not "household")."""
    return InputError([InputProblem(name, kind, message)], "arguments")


def _flag(value: object, name: str) -> bool:
    """Check a true/false argument (a typo such as trace="no" must not read as True)."""
    if value is not True and value is not False:
        raise argument_error(name, "type", f"must be True or False, not {readable(repr(value), 40)}")
    return value


def _name(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise argument_error(what, "type", f"must be a name (text), not {type(value).__name__}")
    return value


@attrs.frozen(slots=False)  # no slots: built from one dict (`_builder`), not a call a field
class RecordDecision:
    """A per-person program's outcome for one member (or other record)."""

    index: int
    id: str | None
    eligible: bool | None  # None when it depends on facts that are not known: see `unknown`
    amount: Decimal | None
    tier: str | None = None
    #: The unknown facts the outcome (or, for an eligible record, the amount) depends on.
    unknown: tuple[str, ...] = ()

    @property
    def tier_unknown(self) -> tuple[str, ...]:
        """The unknown facts the tier waits on; not empty only when the tier is not decided (`tier` is
        then None: not known, not "no tier"), every fact its three-valued evaluation read."""
        return ()


@attrs.frozen
class _RecordTierWaits(RecordDecision):
    """A record whose tier waits on unknown facts (a class of its own: no field to fill in for the others)."""

    waits: tuple[str, ...] = ()

    @property
    def tier_unknown(self) -> tuple[str, ...]:
        return self.waits


@attrs.frozen(slots=False)  # no slots: built from one dict (`_builder`)
class ProgramDecision:
    """One program's outcome for a household.

    For a program decided per person (`each:` in its policy), `eligible` says whether any
    member is eligible, `amount` is the members' total, and `members` holds each one.
    """

    program: str
    eligible: bool | None  # None when the program could not be decided: see `error`
    amount: Decimal | None
    title: dict[str, str]
    members: tuple[RecordDecision, ...] | None = None
    tier: str | None = None
    error: EvaluationError | None = None
    #: Every unknown fact the outcome (or the amount of an eligible household) was computed from,
    #: as three-valued evaluation found them; `unknown` keeps those that can matter. Given as `unknown=`.
    reads_unknown: tuple[str, ...] = attrs.field(default=(), alias="unknown")
    _relevance: Relevance | None = attrs.field(default=None, eq=False, repr=False, alias="relevance")

    @property
    def tier_unknown(self) -> tuple[str, ...]:
        """The unknown facts the tier waits on (for a per-record program, any member's tier).

        Not empty only when a tier is not decided, which `tier` None alone does not say. The outcome
        and the amount may be decided all the same (`undetermined` is about them); not pruned as
        `unknown` is.
        """
        if self.members is not None:  # from the members when asked: nothing to gather while deciding
            return tuple(sorted({p for r in self.members for p in r.tier_unknown}))
        return ()

    @property
    def undetermined(self) -> bool:
        """Whether the outcome or the amount waits on facts that are not known (see `unknown`)."""
        return bool(self.reads_unknown) and self.error is None

    @property
    def unknown(self) -> tuple[str, ...]:
        """The unknown facts that stop the outcome (or the amount of an eligible household) from being known.

        Each one, answered, can change the outcome (a witness was found: `Decision.relevance`), or
        could not be shown not to; facts that provably cannot are left out. Computed when first
        read (it decides again with each fact answered) and cached. Empty when the program is decided.
        """
        if self._relevance is None or not self.reads_unknown or self.error is not None:
            return self.reads_unknown
        return self._relevance.listed(self.program)


@attrs.frozen
class _TierWaits(ProgramDecision):
    """A program whose tier waits on unknown facts (a class of its own: no field to fill in for the others)."""

    waits: tuple[str, ...] = attrs.field(default=(), kw_only=True)

    @property
    def tier_unknown(self) -> tuple[str, ...]:
        return self.waits


@attrs.frozen(eq=False, slots=False)  # no slots: built from one dict (`_builder`)
class Decision:
    """The outcome of every requested program, with what is needed to trace and explain it."""

    on: dt.date
    programs: dict[str, ProgramDecision]
    policy_hash: str
    library_version: str
    warnings: tuple[str, ...]
    _engine: Engine = attrs.field(repr=False)
    _facts: dict[str, Any] = attrs.field(repr=False)
    _defaulted: Sequence[str] = attrs.field(repr=False)
    #: The values evaluated, one a definition; a lean decision's lacks the rules read in line.
    _memo_given: list[Any] | None = attrs.field(repr=False, alias="memo")
    _recorded: dict[int, Any] | None = attrs.field(repr=False)
    _params: tuple[list[Any], list[ParamValue | None]] = attrs.field(repr=False)
    #: The paths of every fact not known when deciding (given as unknown, or absent without a default).
    unknown_facts: tuple[str, ...] = attrs.field(default=(), kw_only=True)
    #: Where facts came from, as given: {path: {"source", "as_of", "reference", "note"}}.
    provenance: dict[str, dict[str, str]] = attrs.field(factory=dict, kw_only=True, repr=False)
    _relevance: Relevance | None = attrs.field(default=None, kw_only=True, repr=False, alias="relevance")
    #: Decided by the lean functions: the memo is completed by the reference ones when first read.
    _lean: bool = attrs.field(default=False, kw_only=True, repr=False, alias="lean")

    @property
    def _memo(self) -> list[Any] | None:
        """The values of every rule and value the decision evaluated, one a definition (U: not evaluated).

        A lean decision (untraced, see `Engine._run`) kept only those of the rules it did not read
        in line: the reference functions decide again, once, to fill in the rest.
        """
        if self._lean:
            memo = self._engine._full_memo(self._facts, self.on, tuple(self.programs), self._params[0])
            object.__setattr__(self, "_memo_given", memo)
            object.__setattr__(self, "_lean", False)
        return self._memo_given

    @property
    def errors(self) -> dict[str, EvaluationError]:
        """The programs that could not be decided, with why (empty when all were)."""
        return {name: p.error for name, p in self.programs.items() if p.error is not None}

    @property
    def traced(self) -> bool:
        """Whether the decision recorded what `to_json()` and `explain()` need."""
        return self._recorded is not None

    @property
    def engine(self) -> Engine:
        """The engine that made this decision."""
        return self._engine

    @property
    def facts(self) -> dict[str, Any]:
        """The validated facts the decision was made on (defaults filled in); do not modify."""
        return self._facts

    def next_questions(self, programs: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Rank the unknown facts the undetermined programs wait on by how much one answer settles.

        Each entry: `path`, `label` ({zh, en}), `help` ({zh, en}: how to answer, from the vocabulary's
        `help:`; None where it has none), `type`, `unit`, `programs` (those waiting on it),
        `settles` (programs settled by one answer, on average over the answers tried) and
        `settles_values` (rules and values settled). Empty when nothing waits on an unknown fact.

        Raises:
            InputError: an unknown program name.
        """
        return next_questions(self, programs)

    def relevance(self, program: str) -> list[dict[str, Any]]:
        """Say, for each unknown fact an undetermined program's evaluation read, whether it can change the outcome.

        Each entry: `path`, `status` ("relevant": with `fixed` (other unknown facts set so), the two
        `answers` give the two `outcomes`; "irrelevant": proven not to matter, so not in
        `ProgramDecision.unknown`; "unsure": kept, with a `note`). Empty for a decided program.

        Raises:
            InputError: an unknown program name.
        """
        name = self._engine.check_programs([_name(program, "program")])[0]
        if name not in self.programs:
            raise argument_error("program", "unknown", f"{readable(name, 64)!r} was not decided")
        if self._relevance is None or not self.programs[name].undetermined:
            return []
        return [f.to_json() for f in self._relevance.findings(name)]

    def memo_values(self) -> list[Any]:
        """The values evaluated for this decision, one a definition (for measuring what is still unknown)."""
        return list(self._memo or ())

    def parameter_values(self) -> list[Any]:
        """The parameter values in force on the decision date."""
        return list(self._params[0])

    @property
    def defaulted(self) -> Sequence[str]:
        """The paths of the facts that were not given and took their declared default."""
        return self._defaulted

    def to_json(self, *, why_not: bool = False) -> dict[str, Any]:
        """Return the decision and its trace as the documented JSON contract (docs/reference/trace.md).

        With `why_not=True` the trace also has a `why_not` section: see `Decision.why_not`.
        """
        _flag(why_not, "why_not")
        out = build_trace(self._engine, self, self._facts, self._defaulted, self._memo,
                          self._recorded, self._params)
        if why_not:
            out["why_not"] = analyse_why_not(self, trace=out)
        return out

    def to_compact(self) -> dict[str, Any]:
        """Return the compact trace: the values this decision computed, a few KB instead of a few hundred.

        The full trace (`to_json()`) follows from it, the household and the same policy set:
        `eligibility.audit.replay.full_trace` decides again and checks the values. Cheap on an
        untraced decision too (batch and Spark write it with `--trace compact`).
        """
        return compact_trace(self._engine, self, self._facts, self._memo or [])

    def why_not(self, programs: Iterable[str] | str | None = None, *, near_miss: object = Decimal("0.05"),
                max_probes: int = 4000, max_work: int | None = None) -> dict[str, Any]:
        """Say, for each program not eligible, the smallest change to one fact that makes each failed rule pass.

        Found by deciding again with the engine (see `eligibility.engine.whynot`); the decision is not changed.
        The search is bounded by `max_probes` decisions and by `max_work` (default
        `eligibility.engine.whynot.MAX_WORK`, which keeps a large household's analysis near a second);
        past either bound the section says `"complete": false` with a `note`.
        Returns the JSON-ready `why_not` section of the trace (docs/reference/trace.md).

        Raises:
            InputError: an unknown program, `near_miss` not a share between 0 and 1, or a bound
                that is not a whole number at least 0 (an argument error).
        """
        return analyse_why_not(self, programs, near_miss=near_miss, max_probes=max_probes,
                               max_work=WHY_NOT_MAX_WORK if max_work is None else max_work)

    def value(self, program: str, name: str) -> Any:
        """Return a computed value or rule outcome of a program, evaluating it if it was skipped.

        The decision and its trace are not changed by asking.

        Values are typed as the policy declares them: money and decimal values are Decimal (a
        literal `0` of a money value is `Decimal("0")`), integers int, rules bool. For a value
        decided per record, a dict from each record's id (its index when the list has no `id`).
        A value that waits on unknown facts is an `Unknown` whose `paths` name them: a rule, a
        tier, or an amount whose outcome (or own computation) waits; never None nor zero.

        Raises:
            InputError: `program` or `name` is not text, or the program has no such definition
                (that error is also a KeyError, as earlier versions raised).
            EvaluationError: it cannot be evaluated for this household.
        """
        return self._engine._value(self, _name(program, "program"), _name(name, "name"))

    def explain(self, lang: str = "zh", fmt: str = "text", *, why_not: bool = False, view: str = "auditor") -> str:
        """Render the explanation of this decision in Chinese (`zh`) or English (`en`).

        `fmt` is `text`, `markdown` or `html`. `view` is `auditor` (every rule, number, expression
        and citation) or `applicant` (plain words only: the outcome and the monthly total first,
        what cannot be decided yet, the reasons of each refusal). With `why_not=True` the auditor's
        view also says under each failed rule what single change would make it pass.

        Raises:
            InputError: `lang`, `fmt`, `view` or `why_not` is not one of its values.
        """
        if lang not in ("zh", "en"):
            raise argument_error("lang", "format", f"must be 'zh' or 'en', not {readable(repr(lang), 40)}")
        if fmt not in FORMATS:
            raise argument_error("fmt", "format", f"must be one of {', '.join(map(repr, FORMATS))}, "
                                 f"not {readable(repr(fmt), 40)}")
        if view not in VIEWS:
            raise argument_error("view", "format", f"must be 'auditor' or 'applicant', not {readable(repr(view), 40)}")
        _flag(why_not, "why_not")
        with decimal.localcontext(ENGINE_CONTEXT):
            return render(self.to_json(why_not=why_not), lang=lang, fmt=fmt, view=view)


class Engine:
    """A compiled policy set ready to decide households. Thread-safe."""

    def __init__(self, compiled: CompiledPolicy) -> None:
        self.compiled = compiled
        self.model = compiled.model
        self.policy_hash = compiled.model.hash
        #: The policy folder, when made by load(): batch workers load the policies again from it.
        self.root: Path | None = None
        facts = compiled.model.facts
        key = compiled.model.file_hashes.get(facts.file, "")
        validator = _VALIDATORS.get(key)
        if validator is None:  # the fast validator is compiled once per facts file content
            validator = _VALIDATORS[key] = Validator(facts)
        self.validator = validator
        self.programs = tuple(sorted(compiled.model.programs))
        gen = compiled.generated
        ns = compiled.namespace
        self._size = len(gen.def_index)
        self._untraced = {p: ns[f"p_{i}"] for i, p in enumerate(gen.programs)}
        #: The lean untraced program functions (small per-record rules read in line), used while
        #: the namespace's d-functions are the ones they were generated with; else the reference ones.
        reference = ns.get(LEAN_REFERENCE)
        lean_ok = (reference is not None and all(ns.get(n) is fn for n, fn in reference.items())
                   and all(f"lp_{i}" in ns for i in range(len(gen.programs))))
        self._lean = {p: ns[f"lp_{i}"] for i, p in enumerate(gen.programs)} if lean_ok else self._untraced
        self._traced = {p: ns[f"tp_{i}"] for i, p in enumerate(gen.programs)}
        self._index_to_def = {i: k for k, i in gen.def_index.items()}
        self._params = sorted(gen.param_index.items(), key=lambda kv: kv[1])
        self._param_cache: dict[dt.date, tuple[list[Any], list[ParamValue | None]]] = {}
        #: (programs, date) -> warnings, for dates whose needed parameters all have values
        self._checked: dict[tuple[tuple[str, ...], dt.date], tuple[str, ...]] = {}
        # The work bound: generators over lists of records multiply their lengths. Households
        # whose lists are short enough are under it whatever their shape; others are counted.
        self._loops = compiled.generated.loops
        self._list_fields = tuple(f.name for f in compiled.model.facts.fields if f.type == "list")
        depth = max((len(sig) for sig, _ in self._loops), default=1)
        count = sum(n for _, n in self._loops) or 1
        self._small = int((MAX_WORK / count) ** (1 / depth))
        self._titles = {name: {"zh": p.title.zh, "en": p.title.en} for name, p in compiled.model.programs.items()}
        #: Each program's title, whether it has an amount, and the list it is decided per record of (or None).
        self._shapes = {name: (self._titles[name], p.amount is not None, p.each[1] if p.each is not None else None)
                        for name, p in compiled.model.programs.items()}
        #: Each program's common refusal (not eligible, nothing unknown): one immutable object, shared.
        self._refusals = {name: _new_decided(name, False, ZERO if has_amount else None, title, None)
                          for name, (title, has_amount, _) in self._shapes.items()}
        self._needs = {p: self._needed_params(p) for p in self.programs}
        self._lock = threading.Lock()
        #: Program names as given (a list or tuple) -> the checked tuple.
        self._names: dict[tuple[Any, ...], tuple[str, ...]] = {}
        self._latest = {k: self.model.programs[k[0]].parameters[k[1]].values[-1].start
                        for k, _ in self._params if self.model.programs[k[0]].parameters[k[1]].values}

    def parameters_needed(self, programs: Iterable[str] | None = None) -> list[tuple[str, str]]:
        """Return the (program, parameter) pairs that deciding these programs (all by default) may read."""
        names = self.programs if programs is None else self.check_programs(programs)
        return [self._params[i][0] for i in sorted({i for name in names for i in self._needs[name]})]

    def _needed_params(self, program: str) -> tuple[int, ...]:
        cs = self.compiled.checked
        seen: set[tuple[str, str]] = set()
        stack = [(program, out) for out in ("eligible", "amount", "tier") if (program, out) in cs.defs]
        params: set[int] = set()
        while stack:
            key = stack.pop()
            if key in seen or key not in cs.defs:
                continue
            seen.add(key)
            cd = cs.defs[key]
            params.update(self.compiled.generated.param_index[(key[0], p)] for p in cd.params)
            stack.extend(cd.deps)
        return tuple(sorted(params))

    def _params_on(self, on: dt.date) -> tuple[list[Any], list[ParamValue | None]]:
        hit = self._param_cache.get(on)
        if hit is not None:
            return hit
        values: list[Any] = []
        used: list[ParamValue | None] = []
        for (prog, name), _ in self._params:
            p = self.model.programs[prog].parameters[name]
            i = bisect.bisect_right([v.start for v in p.values], on) - 1
            if i < 0:
                values.append(MissingValue(len(values)))
                used.append(None)
            else:
                values.append(p.values[i].value)
                used.append(p.values[i])
        result = (values, used)
        if len(self._param_cache) < 4096:
            self._param_cache[on] = result
        return result

    def decide(self, household: Mapping[str, Any], on: object, programs: Iterable[str] | None = None,
               *, trace: bool = True, strict: bool = False, complete: bool = False,
               assume_defaults: bool = True) -> Decision:
        """Decide every program (or those named) for a household on a date.

        Args:
            household: JSON-like facts, as described by the policy set's facts vocabulary.
            on: the decision date, a `datetime.date` or "YYYY-MM-DD".
            programs: program names to decide; all by default. Programs they depend on are
                evaluated as needed.
            trace: record the trace needed by `to_json()` and `explain()`; False is faster.
            strict: raise the first program's EvaluationError instead of recording it in
                that program's `error` (and `Decision.errors`) while deciding the others.
            complete: every fact without a declared default must be given (an absent one is an
                InputError). By default an absent fact without a default is *unknown*: a program
                whose outcome depends on it is undetermined (`ProgramDecision.unknown` lists the
                facts), never decided on a guess. A fact may also be given as `{"unknown": true}`,
                or with its provenance as `{"value": ..., "source": ..., "as_of": ...}`.
            assume_defaults: take an absent fact at its declared default (recorded in the trace as
                defaulted). False (for a screening that asks rather than assumes) makes it unknown;
                the records of a list are still the ones given.

        Returns:
            A Decision.

        Raises:
            InputError: the household or date is invalid; every problem is listed.
            EvaluationError: with strict=True, a rule cannot be evaluated for this household on
                this date (otherwise the program's `error` holds it).
        """
        day = on if on.__class__ is dt.date else parse_date(on)
        names: tuple[str, ...] | None = self.programs if programs is None else None
        if names is None:  # a list or tuple of names seen before is known to be valid
            given: Any = programs
            as_given = tuple(given) if given.__class__ in (list, tuple) else None
            try:
                names = self._names.get(as_given) if as_given is not None else None
            except TypeError:  # an unhashable item: check_programs names it
                as_given = None
            if names is None:
                names = self.check_programs(given)
                if as_given is not None and len(self._names) < 1024:
                    self._names[as_given] = names
        if trace is not True and trace is not False:
            _flag(trace, "trace")
        if strict is not False and strict is not True:
            _flag(strict, "strict")
        if complete is not False and complete is not True:
            _flag(complete, "complete")
        if assume_defaults is not False and assume_defaults is not True:
            _flag(assume_defaults, "assume_defaults")
        # The engine's decimal context, as decimal.localcontext(ENGINE_CONTEXT) would enter it, without
        # copying a context at every decision: each thread keeps its own copy (its flags cleared here).
        before = decimal.getcontext()
        mine = _THREAD.__dict__.get("context")
        if mine is None:
            mine = _THREAD.context = ENGINE_CONTEXT.copy()
        if before is not mine:
            mine.clear_flags()
            decimal.setcontext(mine)
        try:
            quick = self.validator.quick(household, assume_defaults or complete)
            if quick is None:  # not the generated validator's common case: read field by field
                read = self.validator.read(household, complete=complete, assume_defaults=assume_defaults or complete,
                                           on=day)
                h, defaulted = read.values, read.defaulted
            else:
                h, defaulted = quick
            records = 0
            for n in self._list_fields:
                records += len(h[n])  # type: ignore[arg-type]
            if records > self._small:
                self._check_work(h)
            if quick is not None or not (read.unknown or read.provenance):
                return self._run(h, defaulted, day, names, trace, strict)
            return self._run(h, defaulted, day, names, trace, strict, read.unknown, read.provenance)
        finally:
            if before is not mine:
                decimal.setcontext(before)

    def where_to_apply(self, household: Mapping[str, Any], on: object,
                       programs: Iterable[str] | None = None, *, trace: bool = True) -> WhereToApply:
        """Say which offices may accept the household's application for each program, and why.

        The set's `where_to_apply:` rules (hukou place, habitual residence with a residence permit,
        any member's hukou place, the rescue station for a person with no fixed residence ...) are
        decided like a program, with the trace on; see `eligibility.engine.where.WhereToApply` and
        docs/reference/where-to-apply.md. An unknown place is never guessed: a program whose offices
        wait on it is `undetermined` and names the facts. `trace=False` leaves `Office.trace` empty
        (faster, for many households).

        Raises:
            InputError: the household or date is invalid, or two facts disagree on a place
                (`members[0].hukou_district` and `members[0].hukou_local`, kind `conflict`).
            PolicyError: the policy set has no `where_to_apply:` file.
            EvaluationError: a rule cannot be evaluated for this household.
        """
        day = on if on.__class__ is dt.date else parse_date(on)
        _flag(trace, "trace")
        return where_to_apply(self, household, day, programs, trace=trace)

    def rerun(self, facts: dict[str, Any], decision: Decision, unknown: Sequence[str]) -> Decision:
        """Decide validated facts again, as `decision` was (date, programs), with these facts still unknown."""
        with decimal.localcontext(ENGINE_CONTEXT):
            return self._run(facts, decision.defaulted, decision.on, tuple(decision.programs), False, False,
                             unknown, decision.provenance)

    def _run(self, h: dict[str, Any], defaulted: Sequence[str], day: dt.date, names: tuple[str, ...],
             trace: bool, strict: bool = False, unknown: Sequence[str] = (),
             provenance: dict[str, dict[str, str]] | None = None) -> Decision:
        """Evaluate validated facts; the caller has entered the engine's decimal context.

        Facts with unknowns run through the traced functions, which evaluate by Kleene's logic.
        """
        if unknown:
            trace = True
        params = self._param_cache.get(day)
        pv, used = params if params is not None else self._params_on(day)
        warnings = self._checked.get((names, day))
        if warnings is None:
            warnings = self._warnings(names, day)
            if len(self._checked) < 4096:
                self._checked[(names, day)] = warnings
        if provenance:  # facts older than their vocabulary's fresh_for allows
            warnings += tuple(w["message"]["en"] for w in stale_warnings(self.model.facts, provenance))
        memo: list[Any] = [U] * self._size
        recorded: dict[int, Any] | None = {} if trace else None
        out: dict[str, ProgramDecision] = {}
        lean = self._lean
        for name in names:
            try:
                if recorded is None:
                    try:
                        result = lean[name](h, pv, memo, day)
                    except Exception:
                        if lean is self._untraced:
                            raise
                        # The reference functions meet the same failure (the memo holds only values
                        # both compute), with the frames that name the rule, record and field.
                        result = self._untraced[name](h, pv, memo, day)
                else:
                    result = self._traced[name](h, pv, memo, day, recorded)
                out[name] = self._program_decision(name, h, result)
            except Exception as exc:  # generated code failed: name the rule, never leak the raw error
                if isinstance(exc, NegativeAmount):
                    exc.program = name
                error = exc if isinstance(exc, EvaluationError) else self._evaluation_error(exc, day, h, name)
                if strict:
                    raise error from None
                out[name] = ProgramDecision(name, None, None, self._titles[name], error=error)
        relevance = None
        # Untraced, no fact is unknown (unknown facts are decided traced): nothing waits on one.
        waiting = {n: p.reads_unknown for n, p in out.items() if p.undetermined} if recorded is not None else None
        if waiting:  # which of the facts read can matter is found when first asked (engine/relevance.py)
            relevance = Relevance(self, h, defaulted, day, names, tuple(unknown), provenance or {}, (pv, used),
                                  waiting)
            for n in waiting:
                object.__setattr__(out[n], "_relevance", relevance)
        return _new_decision(day, out, self.policy_hash, __version__, warnings, self, h, defaulted, memo,
                             recorded, (pv, used), unknown if unknown.__class__ is tuple else tuple(unknown),
                             provenance or {}, relevance,
                             recorded is None and lean is not self._untraced)

    def _full_memo(self, h: dict[str, Any], day: dt.date, names: tuple[str, ...], pv: list[Any]) -> list[Any]:
        """The memo an untraced decision of these programs fills with the reference functions (every rule it reads)."""
        memo: list[Any] = [U] * self._size
        with decimal.localcontext(ENGINE_CONTEXT):
            for name in names:
                try:
                    self._untraced[name](h, pv, memo, day)
                except Exception:  # the decision recorded this program's error already
                    continue
        return memo

    def _unknown(self, program: str, name: str) -> InputError:
        if program not in self.model.programs:
            return _UnknownName([InputProblem("program", "unknown", f"unknown program {readable(program, 64)!r}; "
                                              f"known: {', '.join(self.programs)}")], "arguments")
        names = sorted(n for p, n in self.compiled.generated.def_index if p == program)
        guess = did_you_mean(name, names)
        hint = f"; did you mean '{guess}'?" if guess else ""
        return _UnknownName([InputProblem("name", "unknown", f"{program} has no rule or value "
                                          f"{readable(name, 64)!r}{hint}")], "arguments")

    def _value(self, decision: Decision, program: str, name: str) -> Any:
        key = (program, name)
        if key not in self.compiled.generated.def_index:
            raise self._unknown(program, name)
        value = self._value_untyped(decision, program, name)
        kind = self.compiled.checked.defs[key].type
        if kind not in ("money", "decimal"):
            return value
        cents = kind == "money"
        if isinstance(value, dict):
            return {k: _decimal(v, cents) for k, v in value.items()}
        return _decimal(value, cents)

    def _value_untyped(self, decision: Decision, program: str, name: str) -> Any:
        key = (program, name)
        d = self.compiled.checked.defs[key].definition
        if name == "amount" and d.kind == "output":
            # The decided amount: nothing for whoever is not eligible (as expressions read it).
            pd = decision.programs.get(program)
            if pd is not None and pd.error is not None:
                raise pd.error
            # An amount that waits on unknown facts (the outcome's or its own) is an Unknown naming them,
            # as rules are: never None, nor zero for an outcome not known.
            if d.each is None:
                if pd is not None:
                    if pd.amount is None and pd.reads_unknown:
                        return Unknown(frozenset(pd.reads_unknown))
                    return pd.amount
                eligible = self._value(decision, program, "eligible")
                if eligible.__class__ is Unknown:
                    try:  # the facts the amount itself waits on too, when it can be evaluated
                        return eligible.merge(self._value_raw(decision, program, name))
                    except EligibilityError:
                        return eligible
                if eligible is not True:
                    return ZERO
            elif pd is not None and pd.members is not None:
                return {(r.id if r.id is not None else r.index):
                        (Unknown(frozenset(r.unknown)) if r.amount is None and r.unknown else r.amount)
                        for r in pd.members}
            else:
                eligible = self._value(decision, program, "eligible")
                amounts = self._value_raw(decision, program, name)
                return {rid: (v if (e := eligible.get(rid)) is True
                              else (e.merge(v) if e.__class__ is Unknown else ZERO))
                        for rid, v in amounts.items()}
        return self._value_raw(decision, program, name)

    def _value_raw(self, decision: Decision, program: str, name: str) -> Any:
        key = (program, name)
        k = self.compiled.generated.def_index.get(key)
        if k is None:
            raise self._unknown(program, name)
        # A scratch copy: asking for a value never changes what the decision recorded.
        memo = [dict(v) if isinstance(v, dict) else v for v in decision._memo or [U] * self._size]
        d = self.compiled.checked.defs[key].definition
        pv, _ = decision._params
        ns = self.compiled.namespace
        h, on = decision._facts, decision.on
        # With unknown facts only the traced functions (Kleene's logic) may run; a scratch record.
        rec: dict[int, Any] | None = {} if decision.unknown_facts else None
        try:
            with decimal.localcontext(ENGINE_CONTEXT):
                if d.each is not None:
                    out = {}
                    for i, x in enumerate(h[d.each[1]]):
                        if rec is None:
                            v = ns["pm"](memo, k, ns[f"d{k}"], h, pv, on, x)
                        else:
                            v = ns["tpm"](memo, k, ns[f"t{k}"], h, pv, on, rec, x, i)
                        if v.__class__ is MissingValue:
                            raise MissingParameter(v.index)
                        out[x.get("id", i)] = v
                    return out
                if memo[k] is U:
                    if rec is None:
                        ns[f"d{k}"](h, pv, memo, on)
                    else:
                        ns[f"t{k}"](h, pv, memo, on, rec)
        except EligibilityError:
            raise
        except Exception as exc:
            raise self._evaluation_error(exc, decision.on, h, program) from None
        value = memo[k]
        if value.__class__ is MissingValue:
            raise self._evaluation_error(MissingParameter(value.index), decision.on, h, program)
        return value

    def _program_decision(self, name: str, h: dict[str, Any], result: Any) -> ProgramDecision:
        title, has_amount, each = self._shapes[name]
        if each is None:
            e, a, t = result
            if e is False and a is None and t is None:  # the common refusal: nothing more to read
                return self._refusals[name]
            if e.__class__ is bool and a.__class__ is not Unknown and t.__class__ is not Unknown:  # decided
                return _new_decided(name, e, _money(a) if a is not None else (ZERO if has_amount else None),
                                    title, t)
            if e.__class__ is MissingValue:
                raise MissingParameter(e.index)
            if e.__class__ is Unknown or a.__class__ is Unknown:
                if t.__class__ is Unknown:
                    return _TierWaits(name, None if e.__class__ is Unknown else e, None, title, None, None,
                                      unknown=_paths(e, a), waits=_paths(t))
                return ProgramDecision(name, None if e.__class__ is Unknown else e, None, title, None, t,
                                       unknown=_paths(e, a))
            # A tier may read a fact the outcome does not: the outcome is decided, the tier says it waits.
            if t.__class__ is Unknown:
                return _TierWaits(name, e, _money(a) if a is not None else (ZERO if has_amount else None),
                                  title, None, None, waits=_paths(t))
            return ProgramDecision(name, e, _money(a) if a is not None else (ZERO if has_amount else None),
                                   title, None, t)
        records: list[dict[str, Any]] = h[each]
        for pe, _, _ in result:
            if pe.__class__ is MissingValue:
                raise MissingParameter(pe.index)
        none = ZERO if has_amount else None
        built: list[RecordDecision] = []
        add = built.append
        some_eligible = some_unknown = False
        total: Decimal | None = ZERO if has_amount else None
        new, setd, cls = object.__new__, object.__setattr__, RecordDecision
        for i, (rec, (pe, pa, pt)) in enumerate(zip(records, result, strict=True)):
            # The decided records built in line (`_builder`'s dict, the fields of RecordDecision in order).
            if pe is False and pa is None and pt.__class__ is not Unknown:  # the common refusal
                r = new(cls)
                setd(r, "__dict__", {"index": i, "id": rec.get("id"), "eligible": False, "amount": none, "tier": pt,
                                     "unknown": ()})
                add(r)
                if has_amount:
                    total += ZERO  # type: ignore[operator]
                continue
            if pe.__class__ is bool and pa.__class__ is not Unknown and pt.__class__ is not Unknown:  # decided
                amount = _money(pa) if pa is not None else none
                r = new(cls)
                setd(r, "__dict__", {"index": i, "id": rec.get("id"), "eligible": pe, "amount": amount, "tier": pt,
                                     "unknown": ()})
            else:
                r = _record_decision(i, rec.get("id"), pe, pa, pt, has_amount)
                some_unknown = some_unknown or bool(r.unknown)
                amount = r.amount
            add(r)
            if has_amount and amount is not None:
                total += amount  # type: ignore[operator]
            some_eligible = some_eligible or pe is True
        per = tuple(built)
        # Kleene's `any` over the members; the total is known when every member's amount is.
        unknown = tuple(sorted({p for r in per if r.unknown for p in r.unknown})) if some_unknown else ()
        eligible: bool | None = True if some_eligible else (None if unknown else False)
        if not (eligible is False or not unknown):
            total = None
        return _new_each(name, eligible, total, title, per, unknown if eligible is not False else ())

    def work(self, facts: Mapping[str, Any]) -> int:
        """The most generator iterations deciding these validated facts may need (the measure MAX_WORK bounds)."""
        work = 0
        for signature, n in self._loops:
            product = n
            for name in signature:
                product *= len(facts[name])
            work += product
        return work

    def _check_work(self, h: dict[str, Any]) -> None:
        work = self.work(h)
        if work > MAX_WORK:
            sizes = ", ".join(f"{n}: {len(h[n])}" for n in self._list_fields)
            raise InputError([InputProblem(self._list_fields[0], "limit",
                                           f"this household ({sizes}) would need up to {work:,} rule evaluations "
                                           f"under these policies; the limit is {MAX_WORK:,}")])

    def check_programs(self, programs: Iterable[str] | str) -> tuple[str, ...]:
        """Return the program names (one name, or an iterable of names) as a tuple.

        Raises:
            InputError: `programs` is not a name nor an iterable of names, or names unknown
                programs (each one listed).
        """
        if isinstance(programs, str):
            programs = [programs]
        try:
            names = tuple(programs)
        except TypeError:
            raise argument_error("programs", "type", "must be a program name or a list of program names, "
                                 f"not {type(programs).__name__}") from None
        problems = [InputProblem("programs", "type", f"must hold program names (text), not {type(p).__name__}")
                    for p in names if not isinstance(p, str)]
        problems += [InputProblem("programs", "unknown",
                                  f"unknown program {readable(p, 64)!r}; known: {', '.join(self.programs)}")
                     for p in names if isinstance(p, str) and p not in self._untraced]
        if problems:
            raise InputError(problems, "arguments")
        return names

    def _missing_message(self, i: int, day: dt.date) -> str:
        """The English message of a parameter with no value on `day` (what a trace records)."""
        return self._missing_said(i, day)[1]

    def _missing_said(self, i: int, day: dt.date) -> tuple[str, str]:
        (prog, pname), _ = self._params[i]
        p = self.model.programs[prog].parameters[pname]
        src = self.model.programs[prog].sources.get(p.source or "")
        source = f"{p.source}: {src.document or src.title}" if src else ""
        if p.values and src:
            return _said(N_("parameter '{name}' of {program} has no value on {day} (its first value is from "
                            "{start}; {file}; source {source})"), name=pname, program=prog, day=day,
                         start=p.values[0].start, file=p.file, source=source)
        if p.values:
            return _said(N_("parameter '{name}' of {program} has no value on {day} (its first value is from "
                            "{start}; {file})"), name=pname, program=prog, day=day, start=p.values[0].start,
                         file=p.file)
        if src:
            return _said(N_("parameter '{name}' of {program} has no known value ({file}; source {source}); a "
                            "decision that needs it cannot be made until a value is added"),
                         name=pname, program=prog, file=p.file, source=source)
        return _said(N_("parameter '{name}' of {program} has no known value ({file}); a decision that needs it "
                        "cannot be made until a value is added"), name=pname, program=prog, file=p.file)

    def _warnings(self, names: tuple[str, ...], day: dt.date) -> tuple[str, ...]:
        return tuple(w["message"]["en"] for w in self.warning_records(names, day))

    def warning_records(self, names: tuple[str, ...], day: dt.date) -> list[dict[str, Any]]:
        """Return the warnings of a decision as JSON records with zh/en messages."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for name in names:
            for i in self._needs[name]:
                key = self._params[i][0]
                latest = self._latest.get(key)
                if latest is None or key in out:
                    continue
                param = self.model.programs[key[0]].parameters[key[1]]
                if param.type == "money" and day - latest > dt.timedelta(days=366):
                    out[key] = {
                        "code": "stale-parameter", "program": key[0], "parameter": key[1], "last_from": str(latest),
                        "message": {
                            "en": f"{key[0]}.{key[1]}: the decision date {day} is more than a year after the "
                                  f"last known value (from {latest}); a newer standard may exist",
                            "zh": f"{key[0]}.{key[1]}（{param.title.zh}）：决定日期 {day} 距最后一个已知取值"
                                  f"（{latest} 起）已超过一年，可能已有新标准",
                        }}
        return list(out.values())

    def _evaluation_error(self, exc: BaseException, day: dt.date, h: dict[str, Any],
                          program: str | None = None) -> EvaluationError:
        key = self._failing_def(exc.__traceback__)
        prog, rule = key if key else (program, None)
        span = None
        if key is not None:
            span = self.compiled.checked.defs[key].definition.span
        if isinstance(exc, NotInForce):
            k = self._index_to_def[exc.index]
            d = self.compiled.checked.defs[k].definition
            msg, en = _said(N_("no version of '{rule}' is in force on {day}"), rule=k[1], day=day)
            return EvaluationError(msg, program=k[0], rule=k[1], span=d.span, english=en)
        if isinstance(exc, MissingParameter):
            msg, en = self._missing_said(exc.index, day)
            return EvaluationError(msg, program=prog, rule=rule, span=span, english=en)
        if isinstance(exc, NegativeAmount):
            prog_n = exc.program
            amount_def = self.model.programs[prog_n].amount if prog_n in self.model.programs else None
            msg, en = _said(N_("the amount is negative ({value}); a benefit cannot be below zero: check the policy"),
                            value=exc.value)
            return EvaluationError(msg, program=prog_n, rule="amount", span=amount_def.span if amount_def else None,
                                   english=en)
        elif isinstance(exc, EmptyAggregate):
            msg, en = _said(N_("{text} has no items to take the minimum or maximum of"), text=exc.text)
        elif isinstance(exc, DateOrder):
            msg, en = _said(N_("a date {born} is after the date {on} it is measured on"), born=exc.born, on=exc.on)
        elif isinstance(exc, decimal.DivisionByZero | ZeroDivisionError | decimal.DivisionUndefined):
            msg, en = _said(N_("division by zero"))
        elif isinstance(exc, decimal.DecimalException):
            msg, en = _said(N_("invalid arithmetic ({error})"), error=type(exc).__name__)
        elif isinstance(exc, RecursionError):
            msg, en = _said(N_("the evaluation is nested too deeply"))
        else:
            msg, en = _said(N_("internal error while evaluating ({error}); please report it"),
                            error=type(exc).__name__)
        # Which record and field was being read: walks the frames, so only for the messages that say it.
        path = self._failing_record(exc.__traceback__, h)
        if path:
            more = _said(N_(" (for {path})"), path=path)
            msg, en = msg + more[0], en + more[1]
        return EvaluationError(msg, program=prog, rule=rule, span=span, path=path, english=en)

    def _failing_record(self, tb: types.TracebackType | None, h: dict[str, Any]) -> str | None:
        """Return the path of the record (and field) a failing generator or per-record value was reading.

        The field comes from the code generator's line table, never from the generated source read
        back, so the message is the same whatever happened to linecache.
        """
        records: dict[str, str] = {}
        reads: tuple[FieldRead, ...] = ()
        table = self.compiled.generated.lines
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_code.co_filename == self.compiled.filename:
                for name, value in frame.f_locals.items():
                    if name[:1] == "v" and name[1:].isdigit() and isinstance(value, dict):
                        for field, items in h.items():
                            if isinstance(items, list):
                                for i, rec in enumerate(items):
                                    if rec is value:
                                        records[name] = f"{field}[{i}]"
                reads = _reads_at(frame.f_code, tb.tb_lasti, table)
            tb = tb.tb_next
        for read in reversed(reads):
            if read.var in records:
                return f"{records[read.var]}.{read.field}"
        return list(records.values())[-1] if records else None

    def _failing_def(self, tb: types.TracebackType | None) -> tuple[str, str] | None:
        found = None
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_filename == self.compiled.filename and code.co_name[:1] in ("d", "t") \
                    and code.co_name[1:].isdigit():
                found = self._index_to_def.get(int(code.co_name[1:]))
            tb = tb.tb_next
        return found


def _reads_at(code: types.CodeType, lasti: int, table: dict[int, LineInfo]) -> tuple[FieldRead, ...]:
    """Return the record-field reads within the source span of the instruction that failed."""
    positions = list(code.co_positions())
    if not 0 <= lasti // 2 < len(positions):
        return ()
    line, end_line, col, end_col = positions[lasti // 2]
    if line is None or end_line is None or col is None or end_col is None:
        return ()
    out: list[FieldRead] = []
    for number in range(line, end_line + 1):
        info = table.get(number)
        if info is None:
            continue
        lo = col if number == line else 0
        hi = end_col if number == end_line else 1 << 30
        out.extend(r for r in info.reads if r.col >= lo and r.end_col <= hi)
    return tuple(out)


def _decimal(v: Any, cents: bool) -> Any:
    """A whole number where money or a decimal is declared (a literal `0`) as the Decimal it stands for.

    Money as in the trace: `Decimal("0.00")`, two decimals.
    """
    if v.__class__ is not int:
        return v
    return Decimal(f"{v}.00") if cents else Decimal(v)


def _paths(*values: Any) -> tuple[str, ...]:
    """The unknown facts behind values that are Unknown."""
    return tuple(sorted({p for v in values if v.__class__ is Unknown for p in v.paths}))


def _record_decision(i: int, rid: Any, e: Any, a: Any, t: Any, has_amount: bool) -> RecordDecision:
    if e.__class__ is Unknown or a.__class__ is Unknown:
        if t.__class__ is Unknown:
            return _RecordTierWaits(i, rid, None if e.__class__ is Unknown else e, None, None, _paths(e, a),
                                    _paths(t))
        return RecordDecision(i, rid, None if e.__class__ is Unknown else e, None, t, _paths(e, a))
    if t.__class__ is Unknown:
        return _RecordTierWaits(i, rid, e, _money(a) if a is not None else (ZERO if has_amount else None), None,
                                (), _paths(t))
    return RecordDecision(i, rid, e, _money(a) if a is not None else (ZERO if has_amount else None), t)


def _money(a: Any) -> Decimal:
    """An amount in yuan and fen (half up), never negative; zero as 0.00."""
    if a.__class__ is not Decimal:
        if a.__class__ is MissingValue:
            raise MissingParameter(a.index)
        a = Decimal(a)
    v = a.quantize(CENT, decimal.ROUND_HALF_UP, ENGINE_CONTEXT)
    if v < ZERO:
        raise NegativeAmount(v)
    return v if v else ZERO


def _builder(cls: type, params: tuple[str, ...]) -> Any:
    """A constructor of a frozen attrs class taking the attributes `params` in order, the others at their defaults.

    It sets the attributes directly: what attrs' `__init__` does, without a call of `object.__setattr__`
    by name for each field (the result objects of every decision are built this way): a class without
    slots gets its `__dict__` whole, in one call; a slotted one each slot by its descriptor.
    """
    fields = attrs.fields(cls)
    slotted = "__dict__" not in dir(cls) and "__slots__" in cls.__dict__
    ns: dict[str, Any] = {"new": object.__new__, "cls": cls, "setd": object.__setattr__}
    lines = [f"def build({', '.join(params)}):", "    o = new(cls)"]
    items: list[str] = []
    for f in fields:
        if slotted:
            ns[f"s_{f.name}"] = cls.__dict__[f.name].__set__
        if f.name in params:
            value = f.name
        elif isinstance(f.default, attrs.Factory):  # type: ignore[arg-type]
            ns[f"f_{f.name}"] = f.default.factory
            value = f"f_{f.name}()"
        else:
            assert f.default is not attrs.NOTHING, f"{cls.__name__}.{f.name} has no default"
            ns[f"d_{f.name}"] = f.default
            value = f"d_{f.name}"
        if slotted:
            lines.append(f"    s_{f.name}(o, {value})")
        else:
            items.append(f"{f.name!r}: {value}")
    if not slotted:
        lines.append(f"    setd(o, '__dict__', {{{', '.join(items)}}})")
    lines.append("    return o")
    exec(compile("\n".join(lines), f"<{cls.__name__} builder>", "exec"), ns)  # from the class's own fields
    return ns["build"]


#: ProgramDecision(program, eligible, amount, title, tier=tier), the other fields at their defaults.
_new_decided: Callable[..., ProgramDecision] = _builder(ProgramDecision,
                                                       ("program", "eligible", "amount", "title", "tier"))
#: RecordDecision(index, id, eligible, amount, tier), no unknown facts.
_new_record: Callable[..., RecordDecision] = _builder(RecordDecision, ("index", "id", "eligible", "amount", "tier"))
#: ProgramDecision of a program decided per record, with its records and unknown facts.
_new_each: Callable[..., ProgramDecision] = _builder(ProgramDecision, ("program", "eligible", "amount", "title",
                                                                     "members", "reads_unknown"))
_RECORD_FIELDS = ("index", "id", "eligible", "amount", "tier", "unknown")
assert tuple(f.name for f in attrs.fields(RecordDecision)) == _RECORD_FIELDS, \
    "_program_decision builds RecordDecision's dict in line: keep its fields there"
#: Decision(...) with every field given in order.
_new_decision: Callable[..., Decision] = _builder(Decision, tuple(f.name for f in attrs.fields(Decision)))


class _UnknownName(InputError, KeyError):
    """An unknown program or definition asked of `Decision.value`: an InputError, and a KeyError as before."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NegativeAmount(Exception):
    """A program's amount came out below zero: the policy, not the household, is wrong."""

    def __init__(self, value: Decimal) -> None:
        self.value = value
        self.program = ""


def load(path: str | Path | None = None, *, jurisdiction: str | None = None) -> Engine:
    """Load, check and compile a policy set (the bundled one by default).

    Args:
        path: a folder of policy files; the bundled `policies/` when None.
        jurisdiction: a GB/T 2260 code choosing each program's most specific layer.

    Raises:
        PolicyError: the policy set has problems; all of them are listed with positions.
        InputError: `path` is not a folder name (text or a path), or `jurisdiction` is not six
            digits (an argument error).
    """
    if path is not None and not isinstance(path, str | os.PathLike):
        raise argument_error("path", "type", f"must be a folder (text or a path), not {type(path).__name__}")
    if jurisdiction is not None and (not isinstance(jurisdiction, str) or not _JURISDICTION_RE.match(jurisdiction)):
        shown = repr(readable(jurisdiction, 20)) if isinstance(jurisdiction, str) else type(jurisdiction).__name__
        raise argument_error("jurisdiction", "format" if isinstance(jurisdiction, str) else "type",
                             f"must be a 6-digit GB/T 2260 code such as \"440114\" (text), not {shown}")
    root = Path(path) if path is not None else bundled_policies()
    engine = Engine(compile_policy(root, jurisdiction))
    engine.root = root.resolve()
    return engine


def bundled_policies() -> Path:
    """Return the folder of the policies that ship with the library."""
    here = Path(__file__).resolve().parent.parent  # the eligibility package
    for candidate in (here / "policies", here.parent.parent / "policies"):
        if (candidate / "facts.yaml").is_file():
            return candidate
    return here / "policies"


def _said(message: str, /, **values: object) -> tuple[str, str]:
    """A message in the current language and in English: `str(error)` shows the first, a trace records the second."""
    return translate(message, **values), message.format(**values) if values else message
