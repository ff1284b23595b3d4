"""The households of the peer comparison (benchmarks/peers/households.py) with our engine only.

The peers themselves (OpenFisca, Zen) run in their own virtual environment by hand
(benchmarks/peers/run.py); these tests need none of them. They check that the generator's
boundary households sit where they claim, one fen either side of each money limit, and that our
engine decides them, and the generated ones, as the dibao rules say.
"""

from __future__ import annotations

import datetime
import importlib.util
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import eligibility

ROOT = Path(__file__).parent.parent
ON = datetime.date(2024, 9, 1)
STANDARD = Decimal(1282)  # tests/fixtures/dibao/guangzhou/dibao.yaml, in force from 2024-06-01


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "peers" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def households() -> ModuleType:
    return _load("households")


@pytest.fixture(scope="module")
def handwritten(households: ModuleType) -> ModuleType:
    return sys.modules["handwritten"]  # imported by households.py from benchmarks/


def _dibao(engine: eligibility.Engine, household: dict[str, Any]) -> Any:
    return engine.decide(household, on=ON, programs=["dibao"], trace=False).programs["dibao"]


def test_the_standard_the_boundaries_use_is_the_policys(engine: eligibility.Engine) -> None:
    decision = engine.decide({"assessed_monthly_income": "0.00", "financial_assets": "0.00",
                              "members": [{"id": "a", "birth_date": "1980-01-01", "sex": "male",
                                           "relation": "applicant", "guangdong_hukou": True}]},
                             on=ON, programs=["dibao"], trace=False)
    assert decision.programs["dibao"].amount == STANDARD  # no income: the whole standard


@pytest.mark.parametrize("size", [1, 3, 6])
def test_income_one_fen_under_the_limit_is_eligible_on_it_or_over_not(
        engine: eligibility.Engine, households: ModuleType, size: int) -> None:
    cases = {label: h for label, h in households.boundary_households(STANDARD, [size])
             if "income" in label}
    assert len(cases) == 3
    outcomes = {}
    for label, h in cases.items():
        income = Decimal(h["assessed_monthly_income"])
        offset = income - STANDARD * size
        assert offset in households.BOUNDARY_OFFSETS, label
        outcomes[offset] = _dibao(engine, h)
    under = outcomes[Decimal("-0.01")]
    assert under.eligible is True and under.amount == Decimal("0.01")  # (standard - income/size) x size
    assert outcomes[Decimal(0)].eligible is False  # income per capita must be below the standard
    assert outcomes[Decimal("0.01")].eligible is False


@pytest.mark.parametrize("size", [1, 4, 9])
def test_assets_on_the_limit_are_eligible_one_fen_over_not(
        engine: eligibility.Engine, households: ModuleType, size: int) -> None:
    limit = STANDARD * households.ASSET_LIMIT_MONTHS * size
    got = {Decimal(h["financial_assets"]) - limit: _dibao(engine, h)
           for label, h in households.boundary_households(STANDARD, [size]) if "assets" in label}
    assert set(got) == set(households.BOUNDARY_OFFSETS)
    assert got[Decimal("-0.01")].eligible is True
    assert got[Decimal(0)].eligible is True  # per-capita assets may equal 24 x the standard
    assert got[Decimal("0.01")].eligible is False


def test_generator_is_reproducible_and_reaches_every_size_and_both_outcomes(
        engine: eligibility.Engine, households: ModuleType, handwritten: ModuleType) -> None:
    first = list(households.generated_households(400, STANDARD, seed=7))
    assert first == list(households.generated_households(400, STANDARD, seed=7))
    assert first != list(households.generated_households(400, STANDARD, seed=8))
    assert {len(h["members"]) for h in first} == set(range(1, 7))
    on_limit = sum(Decimal(h["assessed_monthly_income"]) - STANDARD * len(h["members"])
                   in households.BOUNDARY_OFFSETS for h in first)
    assert on_limit >= 40  # about a quarter are on the income limit or one fen from it
    outcomes = []
    for h in first:
        ours = _dibao(engine, h)
        eligible, amount = handwritten.decide_dibao(h, ON)
        assert (ours.eligible, ours.amount) == (eligible, amount), h
        outcomes.append(eligible)
    assert 0 < sum(outcomes) < len(outcomes)


def test_fixed_households_are_bench_decides_six(households: ModuleType) -> None:
    fixed = households.fixed_households()
    assert [len(h["members"]) for _, h in fixed] == [1, 1, 3, 3, 6, 6]
