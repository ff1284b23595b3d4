"""Properties declared in YAML (`properties:` files), checked with generated households (no pytest here).

Each property is searched for a counterexample with hypothesis' `find`; the smallest one found is
reported as a YAML test case that reproduces the failure. The size of the search is a settings
profile chosen by the `ELIGIBILITY_HYPOTHESIS_PROFILE` environment variable (`dev` by default).

Runs are reproducible by default: every profile is derandomized (hypothesis draws its examples
from a fixed seed), so the same policies give the same examples, the same verdict and the same
counterexample on every run. `ELIGIBILITY_HYPOTHESIS_SEED=N` (or `eligibility test --seed N`)
starts the searches from seed N instead, and `random` draws a seed, which is printed so that a
failure can be reproduced with `--seed`. The profiles and seeds are in `profiles.py` (and
importable from here), the counterexample's YAML in `counterexample.py`.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import random as random_module
import re
import weakref
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import find, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException, InvalidArgument, NoSuchExample

from eligibility.base.errors import Diagnostic, EligibilityError, EvaluationError, InputError
from eligibility.base.numbers import ENGINE_CONTEXT
from eligibility.base.source import did_you_mean
from eligibility.compile.codegen import generate
from eligibility.compile.pipeline import CompiledPolicy, compile_generated, namespace
from eligibility.engine.runtime import Decision, Engine, ProgramDecision
from eligibility.lang.checker import Checker
from eligibility.lang.model import Definition, Expr, FieldSpec, Program, Property, Version
from eligibility.testing.counterexample import Failure, flow, plain_number, reproducing_case
from eligibility.testing.profiles import PROFILES, SEED_ENV, hypothesis_seed, hypothesis_settings
from eligibility.testing.strategies import (
    DECIMAL_LIMIT,
    INTEGER_LIMIT,
    MONEY_LIMIT_FEN,
    _Plan,
    decision_dates,
    households,
)

__all__ = ["PROFILES", "SEED_ENV", "PropertyResult", "hypothesis_seed", "hypothesis_settings",
           "run_properties", "run_property"]

OUTCOMES = ("eligible", "amount", "tier")


@attrs.frozen
class PropertyResult:
    """The outcome of one property: passed, or the counterexample as a YAML test case."""

    prop: Property
    passed: bool
    message: str
    #: A `tests:` file with one case that reproduces the failure, when a counterexample was found.
    counterexample: str | None = None

    @property
    def where(self) -> str:
        return f"{self.prop.file}:{self.prop.span.line}"


class _Problem(Exception):
    """The property cannot be run as written (an unknown program or field, a bad bound)."""


# --- running ----------------------------------------------------------------------------------------


def run_properties(engine: Engine, name_filter: str | None = None,
                   profile: settings | None = None, seed: int | None = None) -> Iterator[PropertyResult]:
    """Run every property of the engine's policy set, in file order.

    Args:
        engine: a loaded policy set; its `model.properties` are run.
        name_filter: run only the properties whose name contains this text.
        profile: hypothesis settings; by default `hypothesis_settings()`.
        seed: the seed of every search; by default `hypothesis_seed()` (None: derandomized).
    """
    for prop in engine.model.properties:
        if name_filter and name_filter not in prop.name:
            continue
        yield run_property(engine, prop, profile, seed)


def run_property(engine: Engine, prop: Property, profile: settings | None = None,
                 seed: int | None = None) -> PropertyResult:
    """Search for a counterexample to one property; report the smallest one found as a YAML case.

    The search is derandomized, or starts from `seed` (by default `hypothesis_seed()`): either way
    the same run gives the same verdict and counterexample every time.

    A property that cannot run (an unknown program or field, a bound that does not type-check) fails
    with the problem at its file:line:col. A valid household the policy cannot decide (an
    EvaluationError) is a counterexample too.
    """
    try:
        check = _CHECKS[prop.kind](engine, prop)
    except _Problem as p:
        return PropertyResult(prop, False, str(p))
    chosen = profile or hypothesis_settings()
    start = hypothesis_seed() if seed is None else seed

    def violated(example: Any) -> bool:
        return check.violation(example) is not None

    try:
        found = find(check.strategy(), violated, settings=chosen,
                     random=random_module.Random(start) if start is not None else None)
    except NoSuchExample:
        return PropertyResult(prop, True, "")
    except HypothesisException as e:  # e.g. a failed health check: say so rather than crash the run
        return PropertyResult(prop, False, f"hypothesis could not search for a counterexample: "
                                           f"{type(e).__name__}: {e}")
    failure = check.violation(found)
    if failure is None:  # pragma: no cover - decisions are deterministic (G-I 1)
        return PropertyResult(prop, False, "a counterexample was found but did not fail again: please report it")
    case = reproducing_case(prop, failure)
    message = (f"falsified ({prop.kind}): {failure.explanation}\n\n"
               "A test case that reproduces it (its expectation is what the property requires); "
               "paste it into a tests file:\n\n" + case)
    return PropertyResult(prop, False, message, case)


class _Check:
    """One kind of property: the examples it draws and how an example violates it."""

    def __init__(self, engine: Engine, prop: Property) -> None:
        self.engine = engine
        self.prop = prop
        self.programs = tuple(prop.programs) or engine.programs
        for name in prop.programs:
            if name not in engine.programs:
                key = "programs" if "programs" in prop.spans else "program"
                guess = did_you_mean(name, list(engine.programs))
                hint = f"did you mean '{guess}'?" if guess else "programs: " + ", ".join(engine.programs)
                raise self.problem(key, "unknown-program", f"unknown program '{name}'", hint)
        if prop.members is not None:
            lo, hi = prop.members
            try:
                _Plan(engine, "members", lo if lo == hi else prop.members, None, None, None, None, 6)
            except InvalidArgument as e:
                raise self.problem("members", "property-value", str(e).removeprefix("members: ")) from None

    def problem(self, key: str, code: str, message: str, hint: str | None = None) -> _Problem:
        where = self.prop.spans.get(key, self.prop.span)
        return _Problem(Diagnostic(where, code, message, hint).render(self.engine.model.sources))

    def cases(self) -> st.SearchStrategy[tuple[dt.date, dict[str, Any]]]:
        """Draw a decision date, then a household for it, steered toward the programs' money parameters."""
        engine, prop = self.engine, self.prop
        dates = st.just(prop.on) if prop.on is not None else decision_dates(engine, programs=list(self.programs))
        money = [(p, par) for p in self.programs for par in engine.model.programs[p].parameters.values()
                 if par.type == "money"]
        by_date: dict[dt.date, st.SearchStrategy[dict[str, Any]]] = {}

        @st.composite
        def case(draw: st.DrawFn) -> tuple[dt.date, dict[str, Any]]:
            on = draw(dates)
            strategy = by_date.get(on)
            if strategy is None:
                near = [(p, par.name) for p, par in money if any(v.start <= on for v in par.values)]
                strategy = by_date[on] = households(engine, on=on, near=near or None, members=prop.members)
            return on, draw(strategy)

        return case()

    def strategy(self) -> st.SearchStrategy[Any]:
        return self.cases()

    def violation(self, example: Any) -> Failure | None:  # pragma: no cover - every kind overrides it
        raise NotImplementedError

    def decide(self, on: dt.date, household: dict[str, Any], engine: Engine | None = None) -> Decision | Failure:
        """Decide, or return the failure of a household the engine cannot decide."""
        try:
            decision = (engine or self.engine).decide(copy.deepcopy(household), on, self.programs, trace=False)
        except InputError as e:
            why = f"the generated household was refused (a bug in eligibility.strategies, please report it): {e}"
        except EligibilityError as e:  # pragma: no cover - without strict=True decide raises only InputError
            why = f"{type(e).__name__}: {e}"
        except Exception as e:  # a raw exception is a bug of the engine (G-E); show it as a case
            why = f"the engine raised {type(e).__name__}: {e}"
        else:
            errors = [(name, decision.programs[name].error) for name in self.programs]
            why = "; ".join(f"the policy cannot decide {name} for this household: {error}"
                            for name, error in errors if error is not None)
            if not why:
                return decision
        return Failure(why, on, household, {p: {} for p in self.programs},
                        ("the expectation is left empty: fill in the outcome the policy should give",))


class _Monotonic(_Check):
    """Moving one numeric field in one direction never moves an output the forbidden way."""

    def __init__(self, engine: Engine, prop: Property) -> None:
        super().__init__(engine, prop)
        facts = engine.model.facts
        vary = prop.vary or ""
        self.list_name, _, field = vary.rpartition(".")
        spec: FieldSpec | None
        if self.list_name:
            lst = facts.field(self.list_name)
            if lst is None or lst.type != "list":
                lists = [f.name for f in facts.fields if f.type == "list"]
                guess = did_you_mean(self.list_name, lists)
                raise self.problem("vary", "unknown-field", f"'{self.list_name}' is not a list of the facts vocabulary",
                                   f"did you mean '{guess}'?" if guess else "lists: " + ", ".join(lists))
            spec = lst.field(field)
            choices = [f.name for f in lst.fields]
        else:
            spec = facts.field(field)
            choices = [f.name for f in facts.fields]
        if spec is None:
            guess = did_you_mean(field, choices)
            raise self.problem("vary", "unknown-field", f"the facts vocabulary has no field '{vary}'",
                               f"did you mean '{guess}'?" if guess else None)
        if spec.type not in ("money", "integer", "decimal"):
            raise self.problem("vary", "property-value", f"'{vary}' is {spec.type}; vary needs a money or number field")
        self.spec = spec
        self.field = field
        program = engine.model.programs[self.programs[0]]
        if "amount" in prop.expect and program.amount is None:
            raise self.problem("expect", "property-value", f"program '{program.name}' has no amount")

    def strategy(self) -> st.SearchStrategy[Any]:
        kind = self.spec.type
        step: st.SearchStrategy[Decimal]
        if kind == "money":
            step = st.one_of(st.just(1), st.integers(1, 10 ** 7)).map(lambda fen: Decimal(fen) / 100)
        elif kind == "integer":
            step = st.integers(1, 100).map(Decimal)
        else:
            step = st.decimals(Decimal("0.0001"), Decimal(10) ** 6, places=4)
        return st.tuples(self.cases(), step, st.integers(0, 10 ** 6))

    def moved(self, household: dict[str, Any], step: Decimal, pick: int) -> tuple[dict[str, Any], str, Any, Any] | None:
        """Return the household with the field moved, the path moved, and the value before and after."""
        moved = copy.deepcopy(household)
        if self.list_name:
            items = moved.get(self.list_name) or []
            if not items:
                return None
            i = pick % len(items)
            record, path = items[i], f"{self.list_name}[{i}].{self.field}"
        else:
            record, path = moved, self.field
        raw = record.get(self.field)
        base = Decimal(str(raw if raw is not None else self.spec.default if self.spec.default is not None else 0))
        lo = self.spec.minimum if self.spec.minimum is not None else (Decimal(0) if self.spec.type == "money" else None)
        hi = self.spec.maximum
        new = base + step if self.prop.direction == "up" else base - step
        if lo is not None:
            new = max(new, lo)
        if hi is not None:
            new = min(new, hi)
        # Stay within what the engine accepts, as the strategies do.
        limit = {"money": Decimal(MONEY_LIMIT_FEN) / 100, "integer": Decimal(INTEGER_LIMIT)}.get(self.spec.type,
                                                                                               DECIMAL_LIMIT)
        new = max(min(new, limit), -limit)
        if new == base:
            return None
        value: Any = int(new) if self.spec.type == "integer" else plain_number(new, self.spec.type)
        before: Any = raw if raw is not None else self.spec.default
        record[self.field] = value
        return moved, path, before, value

    def violation(self, example: Any) -> Failure | None:
        (on, household), step, pick = example
        change = self.moved(household, step, pick)
        if change is None:
            return None
        moved, path, before, after = change
        first = self.decide(on, household)
        if isinstance(first, Failure):
            return first
        second = self.decide(on, moved)
        if isinstance(second, Failure):
            return second
        name = self.programs[0]
        a, b = first.programs[name], second.programs[name]
        wrong: list[str] = []
        want: dict[str, Any] = {}
        comments: list[str] = []
        rule = self.prop.expect.get("eligible")
        if (rule == "never_gains" and b.eligible and not a.eligible) or \
                (rule == "never_loses" and a.eligible and not b.eligible):
            wrong.append(f"{name} went from {_eligible(a.eligible)} to {_eligible(b.eligible)} "
                         f"(the property: eligible {rule})")
            want["eligible"] = a.eligible
        rule = self.prop.expect.get("amount")
        if a.amount is not None and b.amount is not None and (
                (rule == "never_rises" and b.amount > a.amount) or (rule == "never_falls" and b.amount < a.amount)):
            wrong.append(f"the {name} amount went from {a.amount} to {b.amount} (the property: amount {rule})")
            want["amount"] = a.amount
            bound = "at most" if rule == "never_rises" else "at least"
            comments.append(f"the property allows any amount {bound} {a.amount}; the case asks for exactly that")
        if not wrong:
            return None
        moved_word = "raised" if self.prop.direction == "up" else "lowered"
        explanation = (f"with {path} {moved_word} from {_show(before)} to {_show(after)} on {on}, "
                       + " and ".join(wrong))
        comments.insert(0, f"the same household with {path}: {_show(before)} is "
                           f"{_eligible(a.eligible)} for {name}" + (f" with amount {a.amount}" if a.amount else ""))
        return Failure(explanation, on, moved, {name: want}, tuple(comments))


class _Bounds(_Check):
    """A program's amount stays between two expressions evaluated in the program's scope."""

    def __init__(self, engine: Engine, prop: Property) -> None:
        super().__init__(engine, prop)
        program = engine.model.programs[self.programs[0]]
        if program.amount is None:
            raise self.problem("program", "property-value", f"program '{program.name}' has no amount")
        self.bounded, self.names = _bounds_engine(engine, prop, self)

    def violation(self, example: Any) -> Failure | None:
        on, household = example
        decision = self.decide(on, household, self.bounded)
        if isinstance(decision, Failure):
            return decision
        name = self.programs[0]
        amount = decision.programs[name].amount
        if amount is None:  # pragma: no cover - checked in __init__
            return None
        limits: dict[str, Decimal] = {}
        for which, dname in self.names.items():
            try:
                limits[which] = Decimal(decision.value(name, dname))
            except EvaluationError as e:
                expr = self.prop.amount_min if which == "min" else self.prop.amount_max
                return Failure(f"the {which}imum {_text(expr)} cannot be evaluated: {e}", on, household,
                                {name: {}}, ("fill in the outcome the policy should give",))
        lo, hi = limits.get("min"), limits.get("max")
        if lo is not None and amount < lo:
            wanted, side, expr = lo, "below the minimum", self.prop.amount_min
        elif hi is not None and amount > hi:
            wanted, side, expr = hi, "above the maximum", self.prop.amount_max
        else:
            return None
        wanted = _as_money(wanted)
        shown = _text(expr)
        limit = str(wanted) if _NUMBER.match(shown) else f"{shown} = {wanted}"
        word = "from" if side == "below the minimum" else "up to"
        return Failure(f"on {on} the {name} amount is {amount}, {side} {limit}", on, household,
                        {name: {"amount": wanted}},
                        (f"the property allows an amount {word} {limit}; the case asks for exactly that",))


class _Exclusive(_Check):
    """At most one of the listed programs makes any one person eligible."""

    def violation(self, example: Any) -> Failure | None:
        on, household = example
        decision = self.decide(on, household)
        if isinstance(decision, Failure):
            return decision
        members = household.get("members") or []
        for i, member in enumerate(members):
            who = member.get("id") if isinstance(member.get("id"), str) else str(i)
            hits: list[tuple[str, ProgramDecision, bool]] = []
            for name in self.programs:
                pd = decision.programs[name]
                program = self.engine.model.programs[name]
                if program.each is not None and program.each[1] == "members" and pd.members is not None:
                    if pd.members[i].eligible:
                        hits.append((name, pd, True))
                elif pd.eligible:
                    hits.append((name, pd, False))
            if len(hits) < 2:
                continue
            names = [n for n, _, _ in hits]
            expect: dict[str, Any] = {}
            for name, _, per_member in hits[1:]:
                expect[f"{name}[{who}]" if per_member else name] = {"eligible": False}
            return Failure(f"on {on} member {who} is eligible for {' and '.join(names)} "
                            f"(the property: at most one of {', '.join(self.programs)})", on, household, expect,
                            (f"the case keeps {names[0]}, the first listed, and expects no other; "
                             "change it if another program should win",))
        return None


class _Invariant(_Check):
    """A transformation of the household that must not change any decision."""

    def strategy(self) -> st.SearchStrategy[Any]:
        if self.prop.transform == "shuffle_members":
            return self.cases().flatmap(lambda c: st.tuples(
                st.just(c), st.permutations(range(len(c[1].get("members") or [])))))
        return st.tuples(self.cases(), st.just(None))

    def violation(self, example: Any) -> Failure | None:
        (on, household), order = example
        if order is not None:
            changed = dict(household)
            changed["members"] = [household["members"][j] for j in order]
            origin = list(order)
        else:
            changed = _reverse_keys(household)
            origin = list(range(len(household.get("members") or [])))
        first = self.decide(on, household)
        if isinstance(first, Failure):
            return first
        second = self.decide(on, changed)
        if isinstance(second, Failure):
            return Failure(f"after {self.prop.transform} {second.explanation}", on, changed, second.expect,
                            second.comments)
        expect: dict[str, Any] = {}
        wrong: list[str] = []
        for name in self.programs:
            a, b = first.programs[name], second.programs[name]
            pairs: list[tuple[str, Any, Any]] = [(name, a, b)]
            if a.members is not None and b.members is not None:
                pairs += [(f"{name}[{rb.id if rb.id is not None else j}]", a.members[origin[j]], rb)
                          for j, rb in enumerate(b.members)]
            for key, before, after in pairs:
                want = {k: getattr(before, k) for k in OUTCOMES if getattr(before, k) != getattr(after, k)}
                if want:
                    expect[key] = want
                    wrong.append(f"{key} " + ", ".join(f"{k} {_show(v)} -> {_show(getattr(after, k))}"
                                                       for k, v in want.items()))
        if not wrong:
            return None
        return Failure(f"on {on}, {self.prop.transform} changed the decision: " + "; ".join(wrong), on, changed,
                        expect, ("the expectation is the decision for the same household before "
                                 f"{self.prop.transform}",))


_CHECKS: dict[str, Callable[[Engine, Property], _Check]] = {
    "monotonic": _Monotonic, "bounds": _Bounds, "exclusive": _Exclusive, "invariant": _Invariant}


# --- bounds: expressions checked and compiled by the engine's own pipeline -------------------------

_BOUNDED: weakref.WeakKeyDictionary[Engine, dict[tuple[str, int, int], tuple[Engine, dict[str, str]]]] = \
    weakref.WeakKeyDictionary()


def _bounds_engine(engine: Engine, prop: Property, check: _Check) -> tuple[Engine, dict[str, str]]:
    """Return an engine whose program also computes the property's bounds, and their names.

    The bounds become computed values of the program, so they are parsed, type-checked and compiled
    exactly like the policy's own expressions, and errors point at the properties file.
    """
    key = (prop.file, prop.span.line, prop.span.col)
    cache = _BOUNDED.setdefault(engine, {})
    if key not in cache:
        with decimal.localcontext(ENGINE_CONTEXT):  # as compile_policy does
            cache[key] = _compile_bounds(engine, prop, check)
    return cache[key]


def _compile_bounds(engine: Engine, prop: Property, check: _Check) -> tuple[Engine, dict[str, str]]:
    name = check.programs[0]
    program = engine.model.programs[name]
    extra: dict[str, Definition] = {}
    names: dict[str, str] = {}
    for which, expr in (("min", prop.amount_min), ("max", prop.amount_max)):
        if expr is None:
            continue
        dname = f"_property_{which}"  # a name no policy can use: names start with a letter
        names[which] = dname
        extra[dname] = Definition(dname, "computed", None, None, None, (Version(None, None, expr, None, expr.span),),
                                  None, prop.file, expr.span)
    programs: dict[str, Program] = dict(engine.model.programs)
    programs[name] = attrs.evolve(program, definitions={**program.definitions, **extra})
    diags: list[Diagnostic] = []
    checked = Checker(engine.model.facts, programs, diags).run()
    errors = [d for d in diags if d.severity == "error"]
    for which, dname in names.items():
        t = checked.defs[(name, dname)].type
        if t not in ("money", "integer", "decimal", "?"):
            span = extra[dname].span
            errors.append(Diagnostic(span, "type", f"amount.{which} must be money or a number, but is {t}"))
    if errors:
        sources = engine.model.sources
        raise _Problem("\n\n".join(d.render(sources) for d in errors))
    gen = generate(checked)
    model = attrs.evolve(engine.model, programs=programs)
    filename = f"<policy:{model.root}:{model.hash[7:19]}:{prop.file}:{prop.span.line}>"
    ns = namespace(gen, compile_generated(gen, filename))
    return Engine(CompiledPolicy(model, checked, gen, filename, ns, ())), names


# --- small helpers -------------------------------------------------------------------------------------


_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")


def _as_money(d: Decimal) -> Decimal:
    """Show a bound with two decimals when it has at most two (100 as 100.00)."""
    exp = d.as_tuple().exponent
    return d.quantize(Decimal("0.01")) if isinstance(exp, int) and exp >= -2 else d


def _show(v: Any) -> str:
    """A value in a message: as YAML writes it, but a number plain (unquoted)."""
    return flow(v) if isinstance(v, bool | int | str) or v is None else str(v)


def _eligible(flag: bool | None) -> str:
    return "eligible" if flag else "not eligible"


def _text(expr: Expr | None) -> str:
    return " ".join(expr.text.split()) if expr is not None else "?"


def _reverse_keys(value: Any) -> Any:
    """Return a copy with every mapping's keys in reverse order."""
    if isinstance(value, dict):
        return {k: _reverse_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value
