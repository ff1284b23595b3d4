"""Differential tests: the compiled engine against the reference interpreter (eligibility.testing.interp).

Two sources of programs: the bundled policies, on households generated from the facts
vocabulary, and small well-typed expressions generated within the language, written into a
policy folder (G-I 6: what the checker accepts compiles, runs and agrees with the interpreter).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eligibility
from eligibility.base.errors import EvaluationError, InputError, PolicyError
from eligibility.engine.runtime import ENGINE_CONTEXT, Engine
from eligibility.lang.model import Facts, FieldSpec
from eligibility.testing.interp import InterpError, interpret
from eligibility.testing.variants import Variants

# --- comparing the two ------------------------------------------------------------------------


def same(compiled: Any, interpreted: Any) -> bool:
    """Equal values of equal kinds: no float, bools only with bools, numbers by exact value."""
    if isinstance(compiled, dict) or isinstance(interpreted, dict):
        return (isinstance(compiled, dict) and isinstance(interpreted, dict)
                and compiled.keys() == interpreted.keys()
                and all(same(compiled[k], interpreted[k]) for k in compiled))
    if isinstance(compiled, float) or isinstance(interpreted, float):
        return False
    if isinstance(compiled, bool) or isinstance(interpreted, bool):
        return compiled is interpreted
    if isinstance(compiled, Decimal | int) and isinstance(interpreted, Decimal | int):
        return Decimal(compiled) == Decimal(interpreted)
    if compiled is None or interpreted is None:
        return compiled is interpreted
    return type(compiled) is type(interpreted) and bool(compiled == interpreted)


def outcome(call: Callable[[], Any], error: type[Exception]) -> tuple[str, Any]:
    """Return ("value", v) or ("error", None) when the call raises the given error type."""
    try:
        return "value", call()
    except error:
        return "error", None


def agree(engine: Engine, household: dict[str, Any], on: dt.date) -> list[str]:
    """Decide with both and return every disagreement (program outcomes and every definition)."""
    with decimal.localcontext(ENGINE_CONTEXT):
        h, _ = engine.validator.validate(household)
    decision = engine.decide(household, on, trace=False)
    interp = interpret(engine.compiled.checked, h, on)
    programs = interp.decide()
    diffs = []
    for name, pd in decision.programs.items():
        o = programs[name]
        if (pd.error is None) != (o.error is None):
            diffs.append(f"{name}: compiled error {pd.error}, interpreted error {o.error}")
            continue
        for field in ("eligible", "amount", "tier"):
            if not same(getattr(pd, field), getattr(o, field)):
                diffs.append(f"{name}.{field}: compiled {getattr(pd, field)!r}, interpreted {getattr(o, field)!r}")
        if pd.members is not None:
            mine = tuple((r.id, r.eligible, r.amount, r.tier) for r in pd.members)
            if o.members is None or len(mine) != len(o.members) or not all(
                    same(a, b) for x, y in zip(mine, o.members, strict=True) for a, b in zip(x, y, strict=True)):
                diffs.append(f"{name} members: compiled {mine!r}, interpreted {o.members!r}")
    for (program, name), cd in engine.compiled.checked.defs.items():
        if cd.definition.kind == "output":
            continue
        got = outcome(lambda p=program, n=name: decision.value(p, n), EvaluationError)
        want = outcome(lambda p=program, n=name: interp.value(p, n), InterpError)
        if got[0] != want[0] or not same(got[1], want[1]):
            diffs.append(f"{program}.{name}: compiled {got!r}, interpreted {want!r}")
    return diffs


# --- households from a facts vocabulary -------------------------------------------------------


def _money() -> st.SearchStrategy[str]:
    cents = st.one_of(st.integers(0, 300_000), st.sampled_from([0, 1, 99, 100, 128_200, 256_400, 3_076_800]))
    return cents.map(lambda c: f"{c // 100}.{c % 100:02d}")


def _value(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """A valid JSON-like value for one field."""
    t = spec.type
    if t == "bool":
        return st.booleans()
    if t == "integer":
        lo = int(spec.minimum) if spec.minimum is not None else 0
        hi = int(spec.maximum) if spec.maximum is not None else lo + 12
        return st.integers(lo, min(hi, lo + 100))
    if t == "decimal":
        lo = spec.minimum if spec.minimum is not None else Decimal(0)
        hi = spec.maximum if spec.maximum is not None else lo + 100
        return st.decimals(lo, hi, places=2, allow_nan=False, allow_infinity=False).map(lambda d: format(d, "f"))
    if t == "money":
        return _money()
    if t == "date":
        return st.dates(dt.date(1930, 1, 1), dt.date(2018, 12, 31)).map(dt.date.isoformat)
    if t == "enum":
        return st.sampled_from([v for v, _ in spec.values])
    return st.text("abcdefgh", min_size=1, max_size=8)


def _record(fields: tuple[FieldSpec, ...], index: int | None) -> st.SearchStrategy[dict[str, Any]]:
    required = {f.name: (st.just(f"r{index}") if f.name == "id" and index is not None else _value(f))
                for f in fields if f.required and f.type != "list"}
    optional = {f.name: _value(f) for f in fields if not f.required and f.type != "list"}
    lists = {f.name: _records(f) for f in fields if f.type == "list"}
    return st.fixed_dictionaries({**required, **lists}, optional=optional)


def _records(spec: FieldSpec) -> st.SearchStrategy[list[dict[str, Any]]]:
    hi = max(spec.min_items, min(spec.max_items, 4))
    return st.integers(spec.min_items, hi).flatmap(
        lambda n: st.tuples(*(_record(spec.fields, i) for i in range(n))).map(list))


def households(facts: Facts) -> st.SearchStrategy[dict[str, Any]]:
    """Valid households for a facts vocabulary: every required field, some optional ones, 0-4 records a list."""
    return _record(facts.fields, None)


DATES = st.dates(dt.date(2019, 1, 1), dt.date(2027, 12, 31))


# --- the policies on generated households -------------------------------------------------------


@pytest.fixture(scope="module")
def bundled() -> Engine:
    """The bundled policies as they are (every program), skipped while they do not load."""
    try:
        return eligibility.load(Path(__file__).parent.parent / "policies")
    except PolicyError as e:  # reported by their own checks (`eligibility check policies`)
        pytest.skip(f"the bundled policies do not load: {e.diagnostics[0].message}")


def check_generated(engine: Engine, data: st.DataObject) -> None:
    """Draw a household and a date and assert that the engine and the interpreter agree."""
    household = data.draw(households(engine.model.facts), label="household")
    on = data.draw(DATES, label="on")
    try:
        engine.decide(household, on, trace=False)
    except InputError:
        return  # a generated combination the vocabulary's cross-field checks refuse
    assert agree(engine, household, on) == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_bundled_policies_agree_with_the_interpreter(bundled: Engine, data: st.DataObject) -> None:
    """On generated households and dates, every bundled program's outcome and every value agree."""
    check_generated(bundled, data)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_dibao_fixture_agrees_with_the_interpreter(engine: Engine, data: st.DataObject) -> None:
    """The same on the frozen dibao fixture, which does not change with the bundled policies."""
    check_generated(engine, data)


# --- generated expressions --------------------------------------------------------------------------

#: Known deviation (see test_known_deviation_whole_number_typed_decimal): a number typed decimal
#: or money whose value is a whole number at run time (`(1 if c else 0.5)`, `max(m, 0)`) is a
#: Python int in generated code, and dividing it gives a float. Until codegen fixes it,
#: dividends are generated "pure" (a Decimal at run time).
KNOWN_MIXED_DIVISION = False

TYPES = ("bool", "integer", "decimal", "money", "date")
LOOP_VARS = ("p", "q")


class Exprs:
    """Draw well-typed expression text over the small vocabulary of tests/conftest.py."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def pick(self, options: list[Callable[[], str]]) -> str:
        return self.draw(st.sampled_from(options))()

    def expr(self, t: str, depth: int, scope: tuple[str, ...], pure: bool = False) -> str:
        if t == "integer":
            return self.integer(depth, scope)
        if t == "decimal":
            return self.decimal(depth, scope, pure)
        if t == "money":
            return self.money(depth, scope, pure)
        if t == "date":
            return self.date(scope)
        return self.boolean(depth, scope)

    def var(self, scope: tuple[str, ...]) -> str:
        return self.draw(st.sampled_from(scope))

    def generator(self, depth: int, scope: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
        """Return `for v in household.members [if c]` and the scope inside it."""
        v = LOOP_VARS[len(scope)]
        inner = (*scope, v)
        clause = f"for {v} in household.members"
        if self.draw(st.booleans()):
            clause += f" if {self.boolean(depth - 1, inner)}"
        return clause, inner

    def integer(self, depth: int, scope: tuple[str, ...]) -> str:
        leaves: list[Callable[[], str]] = [
            lambda: str(self.draw(st.integers(0, 100))), lambda: "count(household.members)", lambda: "limit"]
        if scope:
            leaves += [lambda: f"{self.var(scope)}.disability_grade", lambda: f"age({self.var(scope)}.birth_date)",
                       lambda: f"{self.var(scope)}.grade2"]
        if depth <= 0:
            return self.pick(leaves)
        d = depth - 1

        def gen_count() -> str:
            clause, inner = self.generator(depth, scope)
            if self.draw(st.booleans()):
                return f"count({self.boolean(d, inner)} {clause})"
            return f"count({inner[-1]} {clause})"

        def gen_sum() -> str:
            clause, inner = self.generator(depth, scope)
            return f"sum({self.integer(d, inner)} {clause})"

        compound: list[Callable[[], str]] = [
            lambda: f"({self.integer(d, scope)} {self.draw(st.sampled_from('+-*'))} {self.integer(d, scope)})",
            lambda: f"abs({self.integer(d, scope)})",
            lambda: f"{self.draw(st.sampled_from(['min', 'max']))}({self.integer(d, scope)}, {self.integer(d, scope)})",
            lambda: f"({self.integer(d, scope)} if {self.boolean(d, scope)} else {self.integer(d, scope)})",
            lambda: f"(-{self.integer(d, scope)})",
            lambda: f"days_between({self.date(scope)}, {self.date(scope)})",
        ]
        if len(scope) < len(LOOP_VARS):
            compound += [gen_count, gen_sum]
        return self.pick(leaves + compound)

    def decimal(self, depth: int, scope: tuple[str, ...], pure: bool = False) -> str:
        leaves: list[Callable[[], str]] = [
            lambda: self.draw(st.sampled_from(["0.5", "1.25", "0.01", "2.0", "0.333"])), lambda: "rate"]
        if depth <= 0:
            return self.pick(leaves)
        d = depth - 1

        def number() -> str:
            return self.draw(st.sampled_from([self.integer, lambda dd, sc: self.decimal(dd, sc, True)]))(d, scope)

        def dividend() -> str:
            return self.draw(st.sampled_from(
                [self.integer, lambda dd, sc: self.decimal(dd, sc, pure or KNOWN_MIXED_DIVISION)]))(d, scope)

        compound: list[Callable[[], str]] = [
            lambda: f"({dividend()} / {number()})",
            lambda: f"({self.decimal(d, scope, pure)} {self.draw(st.sampled_from('+-*'))} {number()})",
            lambda: f"({self.money(d, scope, pure or KNOWN_MIXED_DIVISION)} / {self.money(d, scope)})",
            lambda: f"round_half_up({self.decimal(d, scope, pure)}, 0.01)",
            lambda: f"round_down({self.decimal(d, scope, pure)}, 0.1)",
            lambda: f"round_up({self.integer(d, scope)}, 1)",
            lambda: f"round_down({self.decimal(d, scope, pure)}, 1)",
            lambda: f"abs({self.decimal(d, scope, pure)})",
        ]
        if not (pure and KNOWN_MIXED_DIVISION):
            compound += [
                lambda: f"max({self.integer(d, scope)}, {self.decimal(d, scope)})",
                lambda: f"min({self.decimal(d, scope)}, {self.integer(d, scope)})",
                lambda: f"({self.integer(d, scope)} if {self.boolean(d, scope)} else {self.decimal(d, scope)})",
            ]
        return self.pick(leaves + compound)

    def money(self, depth: int, scope: tuple[str, ...], pure: bool = False) -> str:
        leaves: list[Callable[[], str]] = [
            lambda: "household.assessed_monthly_income", lambda: "household.financial_assets",
            lambda: "standard", lambda: "base"]
        if depth <= 0:
            return self.pick(leaves)
        d = depth - 1

        def literal() -> str:
            return self.draw(st.sampled_from(["0", "5", "100", "0.01", "1282"]))

        def number() -> str:
            return self.draw(st.sampled_from([self.integer, self.decimal]))(d, scope)

        compound: list[Callable[[], str]] = [
            lambda: f"({self.money(d, scope, pure)} {self.draw(st.sampled_from('+-'))} {self.money(d, scope, pure)})",
            lambda: f"({self.money(d, scope, pure)} + {literal()})",
            lambda: f"({self.money(d, scope, pure)} * {number()})",
            lambda: f"({number()} * {self.money(d, scope, pure)})",
            lambda: f"({self.money(d, scope, pure or KNOWN_MIXED_DIVISION)} / {number()})",
            lambda: f"abs({self.money(d, scope, pure)})",
            lambda: f"(-{self.money(d, scope, pure)})",
            lambda: f"round_half_up({self.money(d, scope, pure)}, 0.01)",
            lambda: f"({self.money(d, scope, pure)} if {self.boolean(d, scope)} else {self.money(d, scope, pure)})",
            lambda: f"min({self.money(d, scope, pure)}, {self.money(d, scope, pure)})",
        ]
        if not (pure and KNOWN_MIXED_DIVISION):
            compound += [
                lambda: f"max({self.money(d, scope)}, {literal()})",
                lambda: f"({self.money(d, scope)} if {self.boolean(d, scope)} else 0)",
            ]
        return self.pick(leaves + compound)

    def date(self, scope: tuple[str, ...]) -> str:
        options = ["date(2000, 1, 1)", "date(2020, 2, 29)", "decision_date"]
        options += [f"{v}.birth_date" for v in scope]
        return self.draw(st.sampled_from(options))

    def boolean(self, depth: int, scope: tuple[str, ...]) -> str:
        leaves: list[Callable[[], str]] = [lambda: "True", lambda: "False", lambda: "poor"]
        if scope:
            leaves += [lambda: f'({self.var(scope)}.sex == "male")', lambda: f"{self.var(scope)}.adult",
                       lambda: f'({self.var(scope)}.sex in ("male", "female"))']
        if depth <= 0:
            return self.pick(leaves)
        d = depth - 1
        cmp = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])

        def numbers() -> str:
            a, b = self.draw(st.sampled_from([("integer", "integer"), ("integer", "decimal"),
                                              ("decimal", "decimal"), ("money", "money"), ("date", "date")]))
            return f"({self.expr(a, d, scope)} {self.draw(cmp)} {self.expr(b, d, scope)})"

        def money_literal() -> str:
            lit = self.draw(st.sampled_from(["0", "1282", "0.01", "-5"]))
            return f"({self.money(d, scope)} {self.draw(cmp)} {lit})"

        def chain() -> str:
            return (f"({self.integer(d, scope)} {self.draw(cmp)} {self.integer(d, scope)} "
                    f"{self.draw(cmp)} {self.integer(d, scope)})")

        def quantifier() -> str:
            clause, inner = self.generator(depth, scope)
            return f"{self.draw(st.sampled_from(['any', 'all']))}({self.boolean(d, inner)} {clause})"

        compound: list[Callable[[], str]] = [
            numbers, numbers, money_literal, chain,
            lambda: f"({self.boolean(d, scope)} {self.draw(st.sampled_from(['and', 'or']))} {self.boolean(d, scope)})",
            lambda: f"(not {self.boolean(d, scope)})",
            lambda: f"({self.integer(d, scope)} in (1, 2, 3))",
            lambda: f"({self.boolean(d, scope)} == {self.boolean(d, scope)})",
            lambda: f"({self.boolean(d, scope)} if {self.boolean(d, scope)} else {self.boolean(d, scope)})",
        ]
        if len(scope) < len(LOOP_VARS):
            compound.append(quantifier)
        return self.pick(leaves + compound)


PROGRAM = """\
program: gen
title: {{zh: 生成, en: Generated}}
jurisdiction: "000000"
parameters:
  standard: {{type: money, title: {{zh: 标准, en: Standard}}, values: {{2020-01-01: 1000, 2024-06-01: 1282}}}}
  rate: {{type: decimal, title: {{zh: 比例, en: Rate}}, values: {{2020-01-01: "0.20"}}}}
  limit: {{type: integer, title: {{zh: 上限, en: Limit}}, values: {{2020-01-01: 3}}}}
computed:
  base: {{title: {{zh: 人均, en: Per capita}}, expr: household.assessed_monthly_income / count(household.members)}}
  grade2: {{title: {{zh: 等级, en: Grade}}, each: member in household.members, expr: member.disability_grade * 2}}
{computed}
rules:
  poor: {{title: {{zh: 低收入, en: Poor}}, when: base < standard}}
  adult: {{title: {{zh: 成年, en: Adult}}, each: member in household.members, when: age(member.birth_date) >= 18}}
  gen_rule: {{title: {{zh: 生成, en: Generated}}, when: '{rule}'}}
eligible: gen_rule
amount: '{amount}'
"""


@st.composite
def programs(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A program text with generated computed values, a generated rule and a generated amount."""
    g = Exprs(draw)
    exprs = [(t, g.expr(t, draw(st.integers(1, 3)), ())) for t in draw(st.lists(st.sampled_from(TYPES),
                                                                                   min_size=1, max_size=4))]
    computed = "".join(f"  c{i}: {{title: {{zh: 值, en: Value}}, expr: '{e}'}}\n" for i, (_, e) in enumerate(exprs))
    rule = g.boolean(draw(st.integers(1, 3)), ())
    amount = f"max({g.money(draw(st.integers(0, 2)), ())}, 0)"
    return PROGRAM.format(computed=computed, rule=rule, amount=amount), [e for _, e in exprs] + [rule, amount]


SMALL_FACTS_HOUSEHOLDS = st.fixed_dictionaries(
    {"assessed_monthly_income": _money(),
     "members": st.lists(st.fixed_dictionaries(
         {"birth_date": st.dates(dt.date(1930, 1, 1), dt.date(2019, 12, 31)).map(dt.date.isoformat),
          "sex": st.sampled_from(["male", "female"])},
         optional={"disability_grade": st.integers(0, 4)}), min_size=1, max_size=3)},
    optional={"financial_assets": _money()},
).map(lambda h: {**h, "members": [{"id": f"m{i}", **m} for i, m in enumerate(h["members"])]})


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(program=programs(), cases=st.lists(st.tuples(SMALL_FACTS_HOUSEHOLDS, st.dates(dt.date(2020, 1, 1),
                                                                                 dt.date(2027, 12, 31))),
                                           min_size=1, max_size=3))
def test_generated_expressions_compile_run_and_agree(policy_dir: Callable[..., Path],
                                                       program: tuple[str, list[str]],
                                                       cases: list[tuple[dict[str, Any], dt.date]]) -> None:
    """Every generated well-typed expression is accepted, compiles, runs, and gives the interpreter's value."""
    text, exprs = program
    try:
        engine = eligibility.load(policy_dir({"gen.yaml": text}))
    except PolicyError as e:
        pytest.fail("the checker refused a well-typed expression:\n" + "\n".join(exprs) + "\n" + e.render())
    for household, on in cases:
        assert agree(engine, household, on) == [], "\n".join(exprs)


# --- the interpreter itself, and known deviations ---------------------------------------------------

DEMO = """\
program: demo
title: {zh: 演示, en: Demo}
jurisdiction: "000000"
parameters:
  flag: {type: bool, title: {zh: 旗, en: Flag}, values: {2025-01-01: true}}
computed:
  half: {title: {zh: 半, en: Half}, expr: "(1 if count(household.members) > 0 else 0.5) / 2"}
  top: {title: {zh: 上, en: Top}, expr: "round_up(max(1, 0.5), 1.0)"}
rules:
  flagged: {title: {zh: 旗, en: Flagged}, when: flag}
eligible: count(household.members) > 0
"""
ONE = {"assessed_monthly_income": "0", "members": [{"id": "a", "birth_date": "1950-01-01", "sex": "male"}]}


def test_interpreter_agrees_on_a_hand_written_household(engine: Engine) -> None:
    """The README household: both give the same decision and values for every program."""
    household = {"assessed_monthly_income": "2400.00", "financial_assets": "12000.00",
                 "members": [{"id": "m1", "birth_date": "1984-03-12", "sex": "female", "relation": "applicant",
                              "guangdong_hukou": True}]}
    assert agree(engine, household, dt.date(2024, 9, 1)) == []


def test_interpreter_sees_a_deliberate_disagreement(policy_dir: Callable[..., Path]) -> None:
    """The comparison is not vacuous: an engine whose generated rule is replaced is caught."""
    program = DEMO.split("parameters:")[0] + "rules:\n  r: {title: {zh: 规则, en: Rule}, when: 1 < 2}\neligible: r\n"
    engine = eligibility.load(policy_dir({"demo.yaml": program}))
    k = engine.compiled.generated.def_index[("demo", "r")]

    def wrong(h: Any, pv: Any, c: list[Any], on: Any) -> bool:
        c[k] = False
        return False

    variants = Variants(engine)
    ns = variants.namespace()
    ns[f"d{k}"] = wrong
    assert agree(variants.engine(namespace=ns), ONE, dt.date(2025, 6, 1)) == [
        "demo.eligible: compiled False, interpreted True",
        "demo.r: compiled ('value', False), interpreted ('value', True)"]


def test_whole_valued_decimals_divide_as_decimals(policy_dir: Callable[..., Path]) -> None:
    """`(1 if c else 0.5) / 2` is the decimal 0.5, and an amount `max(x - 5000, 0)` of 0 is 0.00."""
    amount = "amount: max(household.assessed_monthly_income - 5000, 0)\n"
    engine = eligibility.load(policy_dir({"demo.yaml": DEMO + amount}))
    decision = engine.decide(ONE, "2025-06-01")
    assert same(decision.value("demo", "half"), Decimal("0.5"))
    assert same(decision.value("demo", "top"), Decimal(1))
    assert decision.programs["demo"].amount == Decimal("0.00")


def test_bare_parameter_without_a_value_leaves_the_program_undecided(policy_dir: Callable[..., Path]) -> None:
    """A program whose eligible is a bool parameter with no value on the date is not decided (its error is set)."""
    engine = eligibility.load(policy_dir({"demo.yaml": DEMO.replace("eligible: count(household.members) > 0",
                                                                    "eligible: flagged")}))
    decision = engine.decide(ONE, "2024-06-01")
    assert decision.programs["demo"].eligible is None
    assert decision.programs["demo"].error is not None
