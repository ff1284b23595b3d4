"""Huadu's dibao rules as a minimal OpenFisca tax-benefit system, and its vectorised run.

Runs in the peers' virtual environment only (openfisca-core 46, numpy). The rules are those of
benchmarks/handwritten.py (guangdong/dibao.yaml + guangzhou/dibao.yaml + huadu/dibao.yaml),
written the way an OpenFisca country package writes them: two entities (person, household),
dated parameters, and one vectorised formula a variable over every household of a simulation.

OpenFisca's `float` variables are numpy float32, so money is float32 here: the comparison with
the exact engines is made in fen after the same rounding (half up, to the fen), and compare.py
also counts the households where float32 or float64 arithmetic would have decided otherwise.

OpenFisca has no entity for a household's vehicles or business registrations (records that are
not persons), so their exemptions (R-DB-22/24, R-DB-23) are counted in Python when the input
arrays are built (`arrays()`); that step is timed with the build in the "from dicts" row.
"""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
from openfisca_core.entities import build_entity
from openfisca_core.parameters import ParameterNode
from openfisca_core.periods import DateUnit
from openfisca_core.periods import period as make_period
from openfisca_core.simulations import SimulationBuilder
from openfisca_core.taxbenefitsystems import TaxBenefitSystem
from openfisca_core.variables import Variable

MONTH = DateUnit.MONTH

Person = build_entity(key="person", plural="persons", label="A household member", is_person=True)
Household = build_entity(key="household", plural="households", label="A dibao household",
                         roles=[{"key": "member", "plural": "members", "label": "Member"}])

PARAMETERS: dict[str, Any] = {
    "dibao": {
        # guangzhou/dibao.yaml `standard`, CNY/person/month
        "standard": {"values": {"2019-01-01": 1010, "2020-03-10": 1080, "2021-04-15": 1120,
                                "2022-01-01": 1196, "2023-06-08": 1238, "2024-06-01": 1282}},
        # guangdong/dibao.yaml, from 2019-09-01
        "asset_limit_months": {"values": {"2019-09-01": 24}},  # R-DB-20
        "residential_units_limit": {"values": {"2019-09-01": 1}},  # R-DB-21
        "livelihood_vehicles_allowed": {"values": {"2019-09-01": 0, "2026-01-01": 1}},  # R-DB-22/24
    }
}


def _input(name: str, entity: Any, value_type: type, label: str) -> type[Variable]:
    return type(name, (Variable,), {"value_type": value_type, "entity": entity,
                                    "definition_period": MONTH, "label": label})


guangdong_hukou = _input("guangdong_hukou", Person, bool, "Holds Guangdong hukou")
assessed_monthly_income = _input("assessed_monthly_income", Household, float,
                                 "Assessed monthly household income")
financial_assets = _input("financial_assets", Household, float, "Financial assets")
residential_units = _input("residential_units", Household, int, "Residential units")
exempt_inherited_houses = _input("exempt_inherited_houses", Household, int,
                                 "Inherited unused houses")
nonresidential_units = _input("nonresidential_units", Household, int, "Non-residential units")
counted_vehicles = _input("counted_vehicles", Household, int,
                          "Motor vehicles of a non-exempt kind, not the sole livelihood")
livelihood_vehicles = _input("livelihood_vehicles", Household, int,
                             "Motor vehicles of a non-exempt kind, the sole livelihood")
counted_business_registrations = _input("counted_business_registrations", Household, int,
                                        "Business registrations not exempt on review")


class household_size(Variable):
    value_type = int
    entity = Household
    definition_period = MONTH

    def formula(household, period, parameters):
        return household.nb_persons()


class income_per_capita(Variable):
    value_type = float
    entity = Household
    definition_period = MONTH

    def formula(household, period, parameters):
        return household("assessed_monthly_income", period) / household("household_size", period)


class dibao_eligible(Variable):
    value_type = bool
    entity = Household
    definition_period = MONTH

    def formula(household, period, parameters):
        p = parameters(period).dibao
        size = household("household_size", period)
        hukou = household.any(household.members("guangdong_hukou", period))  # R-DB-01
        income = household("income_per_capita", period) < p.standard  # R-DB-30
        assets = (household("financial_assets", period) / size
                  <= p.standard * p.asset_limit_months)  # R-DB-20
        housing = ((household("residential_units", period)
                    - household("exempt_inherited_houses", period) <= p.residential_units_limit)
                   * (household("nonresidential_units", period) == 0))  # R-DB-21
        vehicles = ((household("counted_vehicles", period) == 0)
                    * (household("livelihood_vehicles", period)
                       <= p.livelihood_vehicles_allowed))  # R-DB-22, R-DB-24
        business = household("counted_business_registrations", period) == 0  # R-DB-23
        return hukou * income * assets * housing * vehicles * business


class dibao_amount(Variable):
    value_type = float
    entity = Household
    definition_period = MONTH

    def formula(household, period, parameters):
        standard = parameters(period).dibao.standard
        gap = (standard - household("income_per_capita", period)) * household("household_size", period)
        rounded = np.floor(gap * 100 + 0.5) / 100  # R-DB-50, half up to the fen
        return np.where(household("dibao_eligible", period), rounded, 0)


VARIABLES = (guangdong_hukou, assessed_monthly_income, financial_assets, residential_units,
             exempt_inherited_houses, nonresidential_units, counted_vehicles,
             livelihood_vehicles, counted_business_registrations, household_size,
             income_per_capita, dibao_eligible, dibao_amount)


class DibaoHuadu(TaxBenefitSystem):
    def __init__(self) -> None:
        super().__init__([Person, Household])
        self.parameters = ParameterNode("", data=PARAMETERS)
        for variable in VARIABLES:
            self.add_variable(variable)


_EXEMPT_VEHICLES = frozenset({"disabled_scooter", "fuel_motorcycle", "e_bike"})


def _business_counts(b: dict[str, Any]) -> bool:
    exempt = bool(b.get("exempt_on_review")) and (
        (b["kind"] == "couple_shop" and not b.get("employees") and not b.get("high_end_goods"))
        or b["kind"] == "poor_household_cooperative")
    return not exempt


def arrays(households: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Return the simulation's input columns for valid households (one row a household)."""
    n = len(households)
    cols: dict[str, Any] = {k: [0] * n for k in (
        "assessed_monthly_income", "financial_assets", "residential_units",
        "exempt_inherited_houses", "nonresidential_units", "counted_vehicles",
        "livelihood_vehicles", "counted_business_registrations")}
    person_household: list[int] = []
    hukou: list[bool] = []
    for i, h in enumerate(households):
        cols["assessed_monthly_income"][i] = float(h["assessed_monthly_income"])
        cols["financial_assets"][i] = float(h["financial_assets"])
        cols["residential_units"][i] = h.get("residential_units") or 0
        cols["exempt_inherited_houses"][i] = h.get("exempt_inherited_houses") or 0
        cols["nonresidential_units"][i] = h.get("nonresidential_units") or 0
        counted = livelihood = 0
        for v in h.get("vehicles") or ():
            if v["kind"] not in _EXEMPT_VEHICLES:
                if v.get("sole_livelihood"):
                    livelihood += 1
                else:
                    counted += 1
        cols["counted_vehicles"][i] = counted
        cols["livelihood_vehicles"][i] = livelihood
        cols["counted_business_registrations"][i] = sum(
            map(_business_counts, h.get("business_registrations") or ()))
        for m in h["members"]:
            person_household.append(i)
            hukou.append(m["guangdong_hukou"])
    out = {k: np.array(v, dtype=np.float32 if k in ("assessed_monthly_income", "financial_assets")
                       else np.int32) for k, v in cols.items()}
    out["person_household"] = np.array(person_household, dtype=np.int64)
    out["guangdong_hukou"] = np.array(hukou, dtype=bool)
    return out


def run(tbs: DibaoHuadu, columns: dict[str, np.ndarray], on: datetime.date
        ) -> tuple[np.ndarray, np.ndarray]:
    """Build one simulation over every household and calculate (eligible, amount) for them all."""
    period = make_period(f"{on.year:04d}-{on.month:02d}")
    n_households = len(columns["assessed_monthly_income"])
    builder = SimulationBuilder()
    builder.create_entities(tbs)
    builder.declare_person_entity("person", np.arange(len(columns["person_household"])))
    households = builder.declare_entity("household", np.arange(n_households))
    builder.join_with_persons(households, columns["person_household"],
                              np.zeros(len(columns["person_household"]), dtype=np.int64))
    sim = builder.build(tbs)
    for name, value in columns.items():
        if name != "person_household":
            sim.set_input(name, period, value)
    return sim.calculate("dibao_eligible", period), sim.calculate("dibao_amount", period)


def decide(tbs: DibaoHuadu, households: list[dict[str, Any]], on: datetime.date
           ) -> tuple[np.ndarray, np.ndarray]:
    """From household dicts: input arrays, one simulation, (eligible, amount)."""
    return run(tbs, arrays(households), on)
