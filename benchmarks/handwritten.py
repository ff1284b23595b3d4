"""Hand-written dibao decision for Huadu District: the speed floor for the engine.

Implements exactly the rules of policies/guangdong/dibao.yaml + policies/guangzhou/dibao.yaml
+ policies/huadu/dibao.yaml (jurisdiction 440114) with Decimal arithmetic, and validates the
input fields it reads the way the facts vocabulary (policies/facts.yaml) does, so that a
timing comparison with the engine is fair. Standard library only.
"""

from __future__ import annotations

import datetime
import re
import sys
from bisect import bisect_right
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

__all__ = ["EXAMPLE_HOUSEHOLD", "category_supplement", "decide_dibao"]

# Guangzhou dibao standard (guangzhou/dibao.yaml `standard`), CNY/person/month.
_STANDARD: tuple[tuple[datetime.date, Decimal], ...] = (
    (datetime.date(2019, 1, 1), Decimal(1010)),
    (datetime.date(2020, 3, 10), Decimal(1080)),
    (datetime.date(2021, 4, 15), Decimal(1120)),
    (datetime.date(2022, 1, 1), Decimal(1196)),
    (datetime.date(2023, 6, 8), Decimal(1238)),
    (datetime.date(2024, 6, 1), Decimal(1282)),
)
_STANDARD_DATES = [d for d, _ in _STANDARD]

# Guangdong parameters (guangdong/dibao.yaml), in force from 2019-09-01.
_GD_FROM = datetime.date(2019, 9, 1)
_ASSET_LIMIT_MONTHS = 24  # R-DB-20
_RESIDENTIAL_UNITS_LIMIT = 1  # R-DB-21
_VEHICLE_2026 = datetime.date(2026, 1, 1)  # R-DB-24

# Category supplement (guangzhou/dibao.yaml), in force from 2024-05-27.
_SUPPLEMENT_FROM = datetime.date(2024, 5, 27)
_SUPPLEMENT_RATE = Decimal("0.20")

_VEHICLE_KINDS = frozenset(
    {"car", "truck", "other_motor_vehicle", "disabled_scooter", "fuel_motorcycle", "e_bike"}
)
_EXEMPT_VEHICLE_KINDS = frozenset({"disabled_scooter", "fuel_motorcycle", "e_bike"})
_BUSINESS_KINDS = frozenset({"couple_shop", "poor_household_cooperative", "other"})
_MENTE = frozenset({"none", "category_1", "category_2", "other_category"})
_SEXES = frozenset({"male", "female"})

_MONEY_RE = re.compile(r"\d{1,15}(\.\d{1,2})?")
_MONEY_LIMIT = Decimal(10) ** 15
_CENT = Decimal("0.01")
_CTX = Context(prec=34)
_MAX_MEMBERS = 1000
_MAX_RECORDS = 100


def _money(value: Any, path: str) -> Decimal:
    """Return `value` as a money Decimal or raise ValueError naming `path`."""
    if isinstance(value, bool):
        raise ValueError(f"{path}: money must not be a bool")
    if isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{path}: money must be finite")
        if value.as_tuple().exponent < -2:  # type: ignore[operator]
            raise ValueError(f"{path}: money has more than 2 decimals")
        result = value
    elif isinstance(value, str):
        if _MONEY_RE.fullmatch(value) is None:
            raise ValueError(f"{path}: money string must look like '1234.50'")
        result = Decimal(value)
    else:
        raise ValueError(f"{path}: money must be an int, a Decimal or a string")
    if result < 0:
        raise ValueError(f"{path}: money must not be negative")
    if result >= _MONEY_LIMIT:
        raise ValueError(f"{path}: money must be below 10^15")
    return result


def _integer(value: Any, path: str, minimum: int = 0, maximum: int | None = None) -> int:
    """Return `value` as a bounded int or raise ValueError naming `path`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{path}: must be an integer")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{path}: out of range")
    return value


def _bool(value: Any, path: str) -> bool:
    """Return `value` if it is a real bool, else raise ValueError naming `path`."""
    if not isinstance(value, bool):
        raise ValueError(f"{path}: must be true or false")
    return value


def _enum(value: Any, allowed: frozenset[str], path: str) -> str:
    """Return `value` if it is one of `allowed`, else raise ValueError naming `path`."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{path}: must be one of {sorted(allowed)}")
    return value


def _date(value: Any, path: str) -> datetime.date:
    """Return `value` as a date (date or 'YYYY-MM-DD') or raise ValueError naming `path`."""
    if isinstance(value, datetime.datetime):
        raise ValueError(f"{path}: must be a date, not a datetime")
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{path}: must be a date 'YYYY-MM-DD'")


def _optional(record: dict[str, Any], key: str, default: Any) -> Any:
    """Return `record[key]`, or `default` when the key is absent or null."""
    value = record.get(key)
    return default if value is None else value


def _records(household: dict[str, Any], key: str, limit: int, required: bool) -> list[Any]:
    """Return the list `household[key]` of dicts, validated for shape and size."""
    value = household.get(key)
    if value is None:
        if required:
            raise ValueError(f"{key}: missing")
        return []
    if not isinstance(value, list):
        raise ValueError(f"{key}: must be a list")
    if len(value) > limit:
        raise ValueError(f"{key}: more than {limit} items")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ValueError(f"{key}[{i}]: must be an object")
    return value


def _members(household: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the validated members list (non-empty, unique ids, hukou flag)."""
    members = _records(household, "members", _MAX_MEMBERS, required=True)
    if not members:
        raise ValueError("members: at least one member is required")
    seen: set[str] = set()
    for i, m in enumerate(members):
        member_id = m.get("id")
        if not isinstance(member_id, str) or not member_id or len(member_id) > 256:
            raise ValueError(f"members[{i}].id: must be a non-empty text of at most 256 characters")
        if member_id in seen:
            raise ValueError(f"members[{i}].id: duplicate id")
        seen.add(member_id)
        if "guangdong_hukou" not in m or m["guangdong_hukou"] is None:
            raise ValueError(f"members[{i}].guangdong_hukou: missing")
        _bool(m["guangdong_hukou"], f"members[{i}].guangdong_hukou")
    return members


def _standard(on: datetime.date) -> Decimal:
    """Return the Guangzhou standard in force on `on`."""
    i = bisect_right(_STANDARD_DATES, on)
    if i == 0:
        raise LookupError(f"no dibao standard in force on {on.isoformat()}")
    return _STANDARD[i - 1][1]


def decide_dibao(household: dict[str, Any], on: datetime.date) -> tuple[bool, Decimal]:
    """Decide dibao for a Huadu household on `on`: (eligible, monthly amount).

    The amount is "0.00" when the household is not eligible. Invalid input raises
    ValueError naming the field path; a date before the rules apply raises LookupError.
    """
    if not isinstance(household, dict):
        raise ValueError("household: must be an object")
    if "assessed_monthly_income" not in household or household["assessed_monthly_income"] is None:
        raise ValueError("assessed_monthly_income: missing")
    if "financial_assets" not in household or household["financial_assets"] is None:
        raise ValueError("financial_assets: missing")
    income = _money(household["assessed_monthly_income"], "assessed_monthly_income")
    assets = _money(household["financial_assets"], "financial_assets")
    residential = _integer(_optional(household, "residential_units", 0), "residential_units")
    inherited = _integer(
        _optional(household, "exempt_inherited_houses", 0), "exempt_inherited_houses"
    )
    nonresidential = _integer(
        _optional(household, "nonresidential_units", 0), "nonresidential_units"
    )
    vehicles = _records(household, "vehicles", _MAX_RECORDS, required=False)
    counted_vehicles = 0  # non-exempt kinds, not the sole livelihood vehicle
    livelihood_vehicles = 0  # non-exempt kinds, sole livelihood vehicle
    for i, v in enumerate(vehicles):
        kind = _enum(v.get("kind"), _VEHICLE_KINDS, f"vehicles[{i}].kind")
        sole = _bool(_optional(v, "sole_livelihood", False), f"vehicles[{i}].sole_livelihood")
        if kind not in _EXEMPT_VEHICLE_KINDS:
            if sole:
                livelihood_vehicles += 1
            else:
                counted_vehicles += 1
    businesses = _records(household, "business_registrations", _MAX_RECORDS, required=False)
    counted_businesses = 0
    for i, b in enumerate(businesses):
        path = f"business_registrations[{i}]"
        kind = _enum(b.get("kind"), _BUSINESS_KINDS, f"{path}.kind")
        employees = _integer(_optional(b, "employees", 0), f"{path}.employees")
        high_end = _bool(_optional(b, "high_end_goods", False), f"{path}.high_end_goods")
        reviewed = _bool(_optional(b, "exempt_on_review", False), f"{path}.exempt_on_review")
        exempt = reviewed and (
            (kind == "couple_shop" and employees == 0 and not high_end)
            or kind == "poor_household_cooperative"
        )
        if not exempt:
            counted_businesses += 1
    members = _members(household)

    if on < _GD_FROM:
        raise LookupError(f"no Guangdong dibao parameters in force on {on.isoformat()}")
    standard = _standard(on)
    size = len(members)

    with localcontext(_CTX):
        income_per_capita = income / size
        hukou_ok = any(m["guangdong_hukou"] for m in members)  # R-DB-01
        income_ok = income_per_capita < standard  # R-DB-30
        assets_ok = assets / size <= standard * _ASSET_LIMIT_MONTHS  # R-DB-20
        housing_ok = (
            residential - inherited <= _RESIDENTIAL_UNITS_LIMIT and nonresidential == 0
        )  # R-DB-21
        if on < _VEHICLE_2026:  # R-DB-22
            vehicle_ok = counted_vehicles + livelihood_vehicles == 0
        else:  # R-DB-24
            vehicle_ok = counted_vehicles == 0 and livelihood_vehicles <= 1
        business_ok = counted_businesses == 0  # R-DB-23
        eligible = (
            hukou_ok and income_ok and assets_ok and housing_ok and vehicle_ok and business_ok
        )
        if not eligible:
            return False, Decimal("0.00")
        amount = ((standard - income_per_capita) * size).quantize(_CENT, ROUND_HALF_UP)  # R-DB-50
    return True, amount


def category_supplement(household: dict[str, Any], on: datetime.date) -> Decimal:
    """Return the GZ category supplement (R-DB-51) for the household on `on`, unrounded."""
    if on < _SUPPLEMENT_FROM:
        raise LookupError(f"no category supplement rate in force on {on.isoformat()}")
    members = _members(household)
    n = 0
    for i, m in enumerate(members):
        path = f"members[{i}]"
        student = _bool(_optional(m, "full_time_student", False), f"{path}.full_time_student")
        childless = _bool(_optional(m, "childless", False), f"{path}.childless")
        mente = _enum(_optional(m, "mente_category", "none"), _MENTE, f"{path}.mente_category")
        sex = _enum(m.get("sex"), _SEXES, f"{path}.sex")
        born = _date(m.get("birth_date"), f"{path}.birth_date")
        age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
        elderly = (sex == "male" and age >= 60) or (sex == "female" and age >= 55)
        if student or (childless and elderly) or mente in ("category_1", "category_2"):
            n += 1
    with localcontext(_CTX):
        return _standard(on) * _SUPPLEMENT_RATE * n


# The README example: a 3-person Huadu family, assessed monthly income 2400, on 2024-09-01.
EXAMPLE_HOUSEHOLD: dict[str, Any] = {
    "assessed_monthly_income": "2400.00",
    "financial_assets": "12000.00",
    "residential_units": 1,
    "exempt_inherited_houses": 0,
    "nonresidential_units": 0,
    "vehicles": [{"kind": "e_bike", "sole_livelihood": False}],
    "business_registrations": [],
    "members": [
        {
            "id": "m1",
            "birth_date": "1984-03-12",
            "sex": "female",
            "relation": "applicant",
            "guangdong_hukou": True,
        },
        {
            "id": "m2",
            "birth_date": "1981-11-02",
            "sex": "male",
            "relation": "spouse",
            "guangdong_hukou": True,
            "disability_type": "physical",
            "disability_grade": 2,
        },
        {
            "id": "m3",
            "birth_date": "2015-06-30",
            "sex": "male",
            "relation": "child",
            "guangdong_hukou": True,
            "full_time_student": True,
        },
    ],
}


if __name__ == "__main__":
    example_on = datetime.date(2024, 9, 1)
    ok, monthly = decide_dibao(EXAMPLE_HOUSEHOLD, example_on)
    supplement = category_supplement(EXAMPLE_HOUSEHOLD, example_on)
    sys.stdout.write(
        f"{example_on.isoformat()} eligible={ok} amount={monthly} "
        f"category_supplement={supplement}\n"
    )
