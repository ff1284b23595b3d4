"""Seeded households for the peer comparison: the six of bench_decide.py plus generated ones.

Standard library only (imported by the peers' runner, by compare.py inside the peers' virtual
environment, and by a test of the project that installs no peer package).

The generated households aim at the edges of the dibao rules of Huadu (benchmarks/handwritten.py):
1 to 6 members; assessed monthly income and financial assets drawn around the limits, a quarter
of each exactly on a limit or one fen either side of it (income per capita < standard; assets per
capita <= 24 x standard); residential units, exempt inherited houses and non-residential units
around the housing limit; vehicles of every kind, sole livelihood or not; business registrations
exempt on review or not; now and then no member with Guangdong hukou. Money is given as text with
two decimals, as the engine and the hand-written baseline accept it.
"""

from __future__ import annotations

import copy
import random
import sys
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from handwritten import EXAMPLE_HOUSEHOLD  # noqa: E402

__all__ = ["ASSET_LIMIT_MONTHS", "BOUNDARY_OFFSETS", "boundary_households", "fixed_households",
           "generated_households"]

ASSET_LIMIT_MONTHS = 24  # R-DB-20, guangdong/dibao.yaml
BOUNDARY_OFFSETS = (Decimal("-0.01"), Decimal(0), Decimal("0.01"))
_CENT = Decimal("0.01")
_VEHICLE_KINDS = ("car", "truck", "other_motor_vehicle", "disabled_scooter", "fuel_motorcycle",
                  "e_bike")
_BUSINESS_KINDS = ("couple_shop", "poor_household_cooperative", "other")
_RELATIONS = ("spouse", "child", "parent", "grandparent", "sibling")


def fixed_households() -> list[tuple[str, dict[str, Any]]]:
    """The six households of bench_decide.py (1, 3, 6 members; eligible or not by income)."""
    from bench_decide import CASES, build_household

    return [(label, build_household(n, income)) for label, n, income, _ in CASES]


def _money(value: Decimal) -> str:
    return str(max(value, Decimal(0)).quantize(_CENT))


def _members(rng: random.Random, size: int, hukou: bool) -> list[dict[str, Any]]:
    members = []
    for m in range(size):
        members.append({
            "id": f"m{m + 1}",
            "birth_date": f"{rng.randint(1935, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "sex": rng.choice(("male", "female")),
            "relation": "applicant" if m == 0 else rng.choice(_RELATIONS),
            "guangdong_hukou": hukou and (m == 0 or rng.random() < 0.8),
        })
    if hukou and rng.random() < 0.3:  # Guangdong hukou held by another member than the first
        members[0]["guangdong_hukou"] = False
        members[-1]["guangdong_hukou"] = True
    return members


def _around(rng: random.Random, limit: Decimal, spread: int) -> Decimal:
    """A quarter exactly on `limit` or one fen either side; else uniform in limit +/- spread."""
    if rng.random() < 0.25:
        return limit + rng.choice(BOUNDARY_OFFSETS)
    return limit + Decimal(rng.randint(-spread * 100, spread * 100)) / 100


def generated_households(n: int, standard: Decimal, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Yield `n` households around the limits for the monthly `standard`, the same for a seed."""
    rng = random.Random(seed)
    for _ in range(n):
        size = rng.randint(1, 6)
        household: dict[str, Any] = {
            "assessed_monthly_income": _money(_around(rng, standard * size, 300 * size)),
            "financial_assets": _money(_around(rng, standard * ASSET_LIMIT_MONTHS * size,
                                               3000 * size)),
            "members": _members(rng, size, hukou=rng.random() < 0.95),
        }
        if rng.random() < 0.5:
            household["residential_units"] = rng.choice((0, 1, 1, 2))
            household["exempt_inherited_houses"] = rng.choice((0, 0, 1))
        if rng.random() < 0.1:
            household["nonresidential_units"] = rng.choice((0, 1))
        if rng.random() < 0.3:
            household["vehicles"] = [
                {"kind": rng.choice(_VEHICLE_KINDS), "sole_livelihood": rng.random() < 0.5}
                for _ in range(rng.randint(0, 2))]
        if rng.random() < 0.15:
            household["business_registrations"] = [
                {"kind": rng.choice(_BUSINESS_KINDS), "employees": rng.choice((0, 0, 1, 3)),
                 "high_end_goods": rng.random() < 0.2, "exempt_on_review": rng.random() < 0.6}
                for _ in range(rng.randint(1, 2))]
        yield household


def boundary_households(standard: Decimal, sizes: Iterable[int] = range(1, 7)
                        ) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield, for each size, households exactly on each money limit and one fen either side.

    Built from EXAMPLE_HOUSEHOLD (every other test passed): income = size x standard + offset
    with assets far below their limit, then assets = size x 24 x standard + offset with income
    one fen below its limit.
    """
    for size in sizes:
        for offset in BOUNDARY_OFFSETS:
            for what in ("income", "assets"):
                h = copy.deepcopy(EXAMPLE_HOUSEHOLD)
                h["members"] = [dict(h["members"][i % 3], id=f"m{i + 1}") for i in range(size)]
                if what == "income":
                    h["assessed_monthly_income"] = _money(standard * size + offset)
                    h["financial_assets"] = "0.00"
                else:
                    h["assessed_monthly_income"] = _money(standard * size - _CENT)
                    h["financial_assets"] = _money(
                        standard * ASSET_LIMIT_MONTHS * size + offset)
                yield f"{size}p {what} {'limit' if not offset else f'limit {offset:+}'}", h
