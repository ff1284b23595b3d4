"""Hypothesis strategies: arguments checked at once, households the engine always accepts, `near`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import eligibility
from conftest import DEMO
from eligibility.testing.properties import hypothesis_settings
from eligibility.testing.strategies import decision_dates, households

SETTINGS = hypothesis_settings()
MONEY = re.compile(r"[0-9]+\.[0-9]{2}\Z")

#: A vocabulary with every field type, bounds, defaults and two lists of records.
FACTS = """\
facts: 1
household:
  assessed_monthly_income: {type: money, label: {zh: 月收入, en: Monthly income}}
  financial_assets:
    {type: money, min: 100, max: "5000.50", required: false, default: 100, label: {zh: 资产, en: Assets}}
  ratio: {type: decimal, min: "-2.5", max: 3, required: false, default: 0, label: {zh: 比例, en: Ratio}}
  rooms: {type: integer, min: 1, max: 9, label: {zh: 房间, en: Rooms}}
  owns_shop: {type: bool, label: {zh: 商铺, en: Shop}}
  applied_on: {type: date, required: false, default: 2020-01-01, label: {zh: 申请日, en: Applied on}}
  note: {type: text, required: false, default: "", label: {zh: 备注, en: Note}}
  vehicles:
    type: list
    max_items: 5
    required: false
    default: []
    label: {zh: 车辆, en: Vehicles}
    fields:
      kind:
        type: enum
        label: {zh: 类型, en: Kind}
        values: {car: {zh: 汽车, en: car}, e_bike: {zh: 电瓶车, en: e-bike}}
      value: {type: money, label: {zh: 价值, en: Value}}
  members:
    type: list
    min_items: 1
    max_items: 8
    label: {zh: 家庭成员, en: Members}
    fields:
      id: {type: text, label: {zh: 编号, en: Id}}
      birth_date: {type: date, label: {zh: 出生日期, en: Date of birth}}
      sex:
        type: enum
        label: {zh: 性别, en: Sex}
        values: {male: {zh: 男, en: male}, female: {zh: 女, en: female}}
      income: {type: money, required: false, default: 0, label: {zh: 收入, en: Income}}
      name: {type: text, required: false, default: "", label: {zh: 姓名, en: Name}}
"""

PROGRAM = DEMO.replace("standard: {type: money,", "standard:\n    {type: money,").replace(
    "{2020-01-01: 1000}}\n", """{2024-01-01: 1000, 2025-01-01: 1100}}
  months: {type: integer, title: {zh: 月数, en: Months}, source: S1, values: {2024-01-01: 24}}
  rate: {type: decimal, title: {zh: 比例, en: Rate}, source: S1, values: {2024-01-01: "0.5"}}
""").replace("eligible: low_income\n", """\
  shopless: {title: {zh: 无商铺, en: No shop}, when: not household.owns_shop, source: S1}
eligible: low_income and shopless
""").replace("amount:\n  expr:", "amount:")


@pytest.fixture
def demo(policy_dir: Callable[..., Path]) -> eligibility.Engine:
    """An engine whose vocabulary has every field type."""
    return eligibility.load(policy_dir({"demo.yaml": PROGRAM}, facts=FACTS))


def draws(strategy: st.SearchStrategy[Any], n: int = 60) -> list[Any]:
    """Draw n examples, the same ones every run."""
    seen: list[Any] = []

    @settings(SETTINGS, max_examples=n, derandomize=True)
    @given(strategy)
    def collect(x: Any) -> None:
        seen.append(x)

    collect()
    return seen


# ------------------------------------------------------------------ arguments


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"members": 0}, r"members=0: the vocabulary requires at least 1 members"),
    ({"members": (3, 1)}, r"members=\(3, 1\): the minimum 3 is above the maximum 1"),
    ({"members": 9}, r"members=9: the vocabulary allows at most 8 members"),
    ({"members": "2"}, r"members must be a number or a \(min, max\) pair"),
    ({"members": True}, r"members must be a number"),
    ({"max_members": 0}, r"max_members must be a whole number of at least 1"),
    ({"pin": "rooms"}, r"pin must be a mapping"),
    ({"pin": {"room": 2}}, r"pin\['room'\] is not a field of the facts vocabulary; did you mean 'rooms'\?"),
    ({"pin": {"members": []}}, r"pin\['members'\]: use members= and member_pin="),
    ({"pin": {"rooms": 10}}, r"pin\['rooms'\]=10 would be refused: must be at most 9"),
    ({"pin": {"assessed_monthly_income": "12.345"}}, r"pin\['assessed_monthly_income'\]='12.345' would be refused"),
    ({"member_pin": {"sex": "other"}}, r"member_pin\['sex'\]='other' would be refused"),
    ({"member_pin": {"id": "a"}}, r"member_pin\['id'\] is one value, but member ids must be unique"),
    ({"near": "demo"}, r"near must be a mapping"),
    ({"near": [("demo",)]}, r"near must hold \(program, parameter\) pairs"),
    ({"near": {"dem": "standard"}}, r"near: unknown program 'dem'; did you mean 'demo'\?"),
    ({"near": {"demo": "standrd"}}, r"near: program 'demo' has no parameter 'standrd'; did you mean 'standard'\?"),
    ({"near": {"demo": "rate"}}, r"near: demo.rate is decimal; near steers money toward money parameters"),
    ({"near": {"demo": "standard"}, "on": "2023-12-31"}, r"near: demo.standard has no value on 2023-12-31"),
    ({"on": "2024-13-01"}, r"on='2024-13-01' is not a date"),
    ({"on": dt.datetime(2024, 1, 1)}, r"on must be a datetime.date or 'YYYY-MM-DD'"),
])
def test_bad_arguments_raise_at_once_naming_the_argument(demo: eligibility.Engine, kwargs: dict[str, Any],
                                                           message: str) -> None:
    """A wrong argument raises InvalidArgument when the strategy is made, and the message names it."""
    with pytest.raises(InvalidArgument, match=r"^households\(\): " + message):
        households(demo, **kwargs)


def test_engine_must_be_an_engine() -> None:
    """Passing something other than an Engine is refused by both strategies."""
    with pytest.raises(InvalidArgument, match=r"households\(\): engine must be an eligibility.Engine"):
        households("policies")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match=r"decision_dates\(\): engine must be an eligibility.Engine"):
        decision_dates(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("programs", "message"), [
    ("demo", r"programs must be a list of program names"),
    (["dmo"], r"programs: unknown program 'dmo'; did you mean 'demo'\?"),
])
def test_decision_dates_arguments_are_checked(demo: eligibility.Engine, programs: Any, message: str) -> None:
    """decision_dates() refuses a bare string or an unknown program at once."""
    with pytest.raises(InvalidArgument, match=message):
        decision_dates(demo, programs=programs)


def test_a_pinned_strategy_that_draws_a_bad_value_names_the_pin(demo: eligibility.Engine) -> None:
    """A pinned strategy is checked on each draw; a value the engine would refuse names the pin."""
    strategy = households(demo, pin={"rooms": st.just(0)})
    with pytest.raises(InvalidArgument, match=r"pin\['rooms'\]=0 would be refused: must be at least 1"):
        draws(strategy, 1)


# ------------------------------------------------------------------ households always validate


def test_generated_households_always_validate(demo: eligibility.Engine) -> None:
    """Every type, bound, optional field and list of the vocabulary yields households the engine accepts."""
    @SETTINGS
    @given(decision_dates(demo).flatmap(lambda on: st.tuples(st.just(on), households(demo, on=on))))
    def check(example: tuple[dt.date, dict[str, Any]]) -> None:
        on, household = example
        demo.validator.validate(household)
        demo.decide(household, on)
        ids = [m["id"] for m in household["members"]]
        assert len(set(ids)) == len(ids)
        assert all(m["birth_date"] < on.isoformat() for m in household["members"])
        assert MONEY.match(household["assessed_monthly_income"])

    check()


def test_bundled_households_always_validate(engine: eligibility.Engine) -> None:
    """Households drawn for the bundled policies are accepted and decided on any decision date."""
    @SETTINGS
    @given(decision_dates(engine).flatmap(lambda on: st.tuples(st.just(on), households(engine, on=on))))
    def check(example: tuple[dt.date, dict[str, Any]]) -> None:
        on, household = example
        engine.decide(household, on)

    check()


def test_optional_fields_are_sometimes_left_out_or_null(demo: eligibility.Engine) -> None:
    """Optional fields come as values, as null and absent, so that defaults are exercised."""
    seen = draws(households(demo), 80)
    ratios = [h.get("ratio", "absent") for h in seen]
    assert "absent" in ratios and None in ratios and any(isinstance(r, str) for r in ratios)


def test_values_respect_the_vocabulary_bounds(demo: eligibility.Engine) -> None:
    """Integers, decimals and money stay within min and max; money has exactly two decimals."""
    for h in draws(households(demo), 80):
        assert 1 <= h["rooms"] <= 9
        if isinstance(h.get("ratio"), str):
            assert Decimal("-2.5") <= Decimal(h["ratio"]) <= 3
        if isinstance(h.get("financial_assets"), str):
            assert MONEY.match(h["financial_assets"])
            assert Decimal(100) <= Decimal(h["financial_assets"]) <= Decimal("5000.50")
        assert len(h.get("vehicles") or []) <= 5


def test_members_and_pins_shape_the_households(demo: eligibility.Engine) -> None:
    """members= fixes the size; pin and member_pin hold fields to values or strategies."""
    strategy = households(demo, members=(2, 3), pin={"owns_shop": False, "rooms": st.sampled_from([2, 3])},
                          member_pin={"sex": "female", "income": st.just("10.00")})
    for h in draws(strategy, 30):
        assert 2 <= len(h["members"]) <= 3
        assert h["owns_shop"] is False and h["rooms"] in (2, 3)
        assert all(m["sex"] == "female" and m["income"] == "10.00" for m in h["members"])


def test_max_members_caps_the_size(demo: eligibility.Engine) -> None:
    """Without members=, households have from the vocabulary's minimum to max_members members."""
    sizes = {len(h["members"]) for h in draws(households(demo, max_members=2), 40)}
    assert sizes == {1, 2}


def test_dates_fall_before_the_decision_date(demo: eligibility.Engine) -> None:
    """With on=, every date field lies before that day."""
    for h in draws(households(demo, on="2024-03-01"), 40):
        assert all(m["birth_date"] < "2024-03-01" for m in h["members"])
        assert h.get("applied_on") is None or h["applied_on"] < "2024-03-01"


# ------------------------------------------------------------------ near


def test_near_reaches_k_times_the_standard_and_one_fen_either_side(demo: eligibility.Engine) -> None:
    """near= hits the per-capita threshold of a 3-person household exactly and one fen either side."""
    strategy = households(demo, members=3, near={"demo": "standard"}, on="2024-06-01")
    incomes = {h["assessed_monthly_income"] for h in draws(strategy, 300)}
    assert {"2999.99", "3000.00", "3000.01"} <= incomes


def test_near_values_are_within_a_fen_of_k_times_the_standard(demo: eligibility.Engine) -> None:
    """Much money drawn with near= lies within a fen of k x 1000 (k: members x 1, 0.5 or 24); little without."""
    ks = {n * m for n in range(1, 7) for m in (Decimal(1), Decimal("0.5"), Decimal(24))}
    near = [h["assessed_monthly_income"] for h in
            draws(households(demo, near={"demo": "standard"}, on="2024-06-01"), 100)]
    close = [v for v in near if any(abs(Decimal(v) - k * 1000) <= Decimal("0.01") for k in ks)]
    plain = [h["assessed_monthly_income"] for h in draws(households(demo, on="2024-06-01"), 100)]
    assert len(close) >= len(near) / 5  # half are steered by design; allow for hypothesis' skew
    assert sum(1 for v in plain if any(abs(Decimal(v) - k * 1000) <= Decimal("0.01") for k in ks)) <= 2


def test_near_without_a_date_uses_every_dated_value(demo: eligibility.Engine) -> None:
    """Without on=, near= steers toward each dated value of the parameter (1000 and 1100)."""
    strategy = households(demo, members=1, near={"demo": ["standard"]})
    incomes = {h["assessed_monthly_income"] for h in draws(strategy, 300)}
    assert {"999.99", "1100.01"} <= incomes


# ------------------------------------------------------------------ decision dates


def test_decision_dates_need_every_parameter_and_favour_change_days(demo: eligibility.Engine) -> None:
    """Dates start when every needed parameter has a value, end a year after the last, and hit change days."""
    seen = draws(decision_dates(demo), 80)
    assert all(dt.date(2024, 1, 1) <= d <= dt.date(2026, 12, 31) for d in seen)
    assert dt.date(2025, 1, 1) in seen or dt.date(2024, 12, 31) in seen


def test_decision_dates_of_one_program(policy_dir: Callable[..., Path]) -> None:
    """programs= counts only the parameters those programs' decisions need."""
    later = PROGRAM.replace("program: demo", "program: later").replace("2024-01-01: 1000, ", "")
    engine = eligibility.load(policy_dir({"demo.yaml": PROGRAM, "later.yaml": later}, facts=FACTS))
    assert min(draws(decision_dates(engine, programs=["demo"]), 40)) < dt.date(2025, 1, 1)
    assert min(draws(decision_dates(engine), 40)) >= dt.date(2025, 1, 1)
