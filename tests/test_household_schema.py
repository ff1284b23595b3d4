"""The JSON Schema of the facts vocabulary: it accepts what the engine accepts and refuses what it refuses."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from hypothesis import given, settings

import eligibility
from eligibility.cli import build
from eligibility.engine.household_schema import engine_household_schema, household_schema, trace_schema_text
from eligibility.strategies import households
from eligibility.testing.properties import hypothesis_settings

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
ON = "2024-09-01"

#: Every field type, bounds on each kind of number, defaults, enums and two lists.
ALL_TYPES = """\
facts: 1
household:
  income: {type: money, label: {zh: 收入, en: Income}}
  assets: {type: money, min: 100, max: "5000.50", required: false, default: 100, label: {zh: 资产, en: Assets}}
  ratio: {type: decimal, min: "-2.5", max: 3, required: false, default: 0, label: {zh: 比例, en: Ratio}}
  rooms: {type: integer, min: 1, max: 9, label: {zh: 房间, en: Rooms}}
  owns_shop: {type: bool, label: {zh: 商铺, en: Shop}}
  applied_on: {type: date, required: false, default: 2020-01-01, label: {zh: 申请日, en: Applied on}}
  note: {type: text, required: false, default: "", label: {zh: 备注, en: Note}}
  tenure:
    type: enum
    required: false
    default: owner
    label: {zh: 住房, en: Tenure}
    values: {owner: {zh: 自有, en: owner}, tenant: {zh: 租住, en: tenant}}
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
  members:
    type: list
    min_items: 1
    max_items: 8
    label: {zh: 家庭成员, en: Members}
    fields:
      id: {type: text, label: {zh: 编号, en: Id}}
      birth_date: {type: date, label: {zh: 出生日期, en: Date of birth}}
"""

PROGRAM = """\
program: demo
title: {zh: 演示, en: Demo}
jurisdiction: "000000"
sources:
  S1: {title: 演示文件, document: 演示〔2024〕1号, confidence: C}
parameters:
  standard: {type: money, title: {zh: 标准, en: Standard}, source: S1, values: {2024-01-01: 1000}}
rules:
  low_income: {title: {zh: 收入低于标准, en: Income below the standard}, when: household.income < standard, source: S1}
eligible: low_income
"""


def exact(value: Any) -> Any:
    """The value as an integrator reads JSON for exact decimals: numbers with a fraction as Decimal."""
    return json.loads(json.dumps(value, default=_number), parse_float=Decimal)


def _number(value: object) -> float:
    """Write a Decimal as a JSON number (read back exactly by `exact`)."""
    assert isinstance(value, Decimal)
    return float(value)


def validator(engine: eligibility.Engine, lang: str = "zh") -> jsonschema.Draft202012Validator:
    """A draft 2020-12 validator for the engine's household schema, checking formats (dates)."""
    schema = exact(engine_household_schema(engine, lang=lang))
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def engine_accepts(engine: eligibility.Engine, household: Any) -> bool:
    """Whether the engine validates the household (a decision for another reason still counts as accepted)."""
    try:
        engine.validator.validate_full(household)
    except eligibility.InputError:
        return False
    return True


@pytest.fixture(scope="module")
def bundled() -> eligibility.Engine:
    """The engine of the bundled policies, which the examples are written for."""
    return eligibility.load()


@pytest.fixture
def all_types(policy_dir: Callable[..., Path]) -> eligibility.Engine:
    """An engine whose vocabulary has every field type, with bounds."""
    return eligibility.load(policy_dir({"demo.yaml": PROGRAM}, facts=ALL_TYPES))


def test_schema_is_a_valid_draft_2020_12_schema(bundled: eligibility.Engine) -> None:
    """The schema of the bundled vocabulary is itself valid JSON Schema 2020-12, in both languages."""
    for lang in ("zh", "en"):
        schema = engine_household_schema(bundled, lang=lang)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        json.dumps(schema)  # plain JSON: no Decimal or date left in it


def test_schema_carries_labels_required_fields_and_enum_titles(bundled: eligibility.Engine) -> None:
    """Titles follow the language, x-labels hold both, required lists the fields without default."""
    zh = engine_household_schema(bundled, lang="zh")
    en = engine_household_schema(bundled, lang="en")
    assert zh["additionalProperties"] is False
    assert set(zh["required"]) == {"assessed_monthly_income", "financial_assets", "members"}
    income = zh["properties"]["assessed_monthly_income"]
    assert income["title"] == "综合评估后家庭月收入（家庭合计）"
    assert en["properties"]["assessed_monthly_income"]["title"].startswith("Assessed monthly household income")
    assert income["x-labels"]["en"] == en["properties"]["assessed_monthly_income"]["title"]
    member = zh["properties"]["members"]["items"]
    assert member["additionalProperties"] is False
    assert "id" in member["required"] and "disability_type" not in member["required"]
    vehicle_kind = zh["properties"]["vehicles"]["items"]["properties"]["kind"]["anyOf"][0]
    assert "disabled_scooter" in vehicle_kind["enum"]
    scooter = next(v for v in vehicle_kind["oneOf"] if v["const"] == "disabled_scooter")
    assert scooter["title"] == "残疾人代步车"
    assert scooter["x-labels"] == {"zh": "残疾人代步车", "en": "disabled person's mobility vehicle"}
    assert zh["properties"]["annual_income"]["default"] == "0.00"
    assert zh["x-facts"]["sha256"] == bundled.model.file_hashes["facts.yaml"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_household_validates(bundled: eligibility.Engine, path: Path) -> None:
    """Each household of examples/ is valid under the schema of the bundled vocabulary."""
    household = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    assert list(validator(bundled).iter_errors(household)) == []


def test_generated_households_of_the_bundled_vocabulary_validate(bundled: eligibility.Engine) -> None:
    """Households from eligibility.strategies (nulls, omitted fields, long texts) all validate."""
    check = validator(bundled)

    @settings(hypothesis_settings(), derandomize=True, deadline=None)
    @given(households(bundled, on=ON))
    def each(household: dict[str, Any]) -> None:
        assert [e.message for e in check.iter_errors(exact(household))] == []

    each()


def test_generated_households_of_every_field_type_validate(all_types: eligibility.Engine) -> None:
    """Bounded money, decimals, integers, dates, enums and texts: generated households validate."""
    check = validator(all_types, lang="en")

    @settings(hypothesis_settings(), derandomize=True, deadline=None)
    @given(households(all_types, on=ON))
    def each(household: dict[str, Any]) -> None:
        assert [e.message for e in check.iter_errors(exact(household))] == []

    each()


def _example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLES[0].read_text(encoding="utf-8"))
    return data


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change to the example household: set (or, with value DELETE, remove) one field."""
    def change(h: dict[str, Any]) -> None:
        *parents, name = path.split(".")
        node: Any = h
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        last: Any = int(name) if name.isdigit() else name
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return change


DELETE = object()

REFUSED = {
    "float money with 3 decimals": _set("assessed_monthly_income", 2400.125),
    "decimal money with 3 decimals": _set("assessed_monthly_income", Decimal("2400.125")),
    "money text with 3 decimals": _set("assessed_monthly_income", "2400.125"),
    "money with a thousands separator": _set("assessed_monthly_income", "2,400.00"),
    "money with a currency sign": _set("assessed_monthly_income", "¥2400"),
    "negative money": _set("financial_assets", "-1.00"),
    "negative money as a number": _set("financial_assets", -1),
    "money of 10^15 yuan": _set("financial_assets", "1000000000000000"),
    "money followed by a newline": _set("financial_assets", "12.00\n"),
    "money in full-width digits": _set("financial_assets", "１２"),
    "money as true": _set("financial_assets", True),
    "bad calendar date": _set("members.0.birth_date", "2023-02-30"),
    "date and time": _set("members.0.birth_date", "1984-03-12T00:00:00"),
    "compact date": _set("members.0.birth_date", "19840312"),
    "date as a number": _set("members.0.birth_date", 19840312),
    "unknown household key": _set("assessed_income", "1.00"),
    "unknown member key": _set("members.0.name", "Li"),
    "wrong enum value": _set("members.0.sex", "woman"),
    "enum value in another case": _set("members.0.relation", "Applicant"),
    "integer as text": _set("residential_units", "1"),
    "integer as a fraction": _set("residential_units", Decimal("1.5")),
    "negative count": _set("residential_units", -1),
    "grade above its maximum": _set("members.1.disability_grade", 5),
    "bool as a number": _set("members.0.guangdong_hukou", 1),
    "text too long": _set("members.0.id", "x" * 257),
    "empty id": _set("members.0.id", ""),
    "missing required fact": _set("financial_assets", DELETE),
    "required fact null": _set("financial_assets", None),
    "missing member field": _set("members.0.birth_date", DELETE),
    "no members": _set("members", []),
    "members not a list": _set("members", {"id": "m1"}),
    "member not an object": _set("members.0", "m1"),
}

ACCEPTED = {
    "money with leading zeros": _set("assessed_monthly_income", "0002400.50"),
    "money with trailing zeros": _set("assessed_monthly_income", "2400.500"),
    "money as a whole number": _set("assessed_monthly_income", 2400),
    "money as a decimal number": _set("assessed_monthly_income", Decimal("2400.5")),
    "optional fact null": _set("residential_units", None),
    "optional enum null": _set("members.1.disability_type", None),
    "optional list null": _set("vehicles", None),
    "optional fact left out": _set("vehicles", DELETE),
    "text of 256 characters": _set("members.0.id", "x" * 256),
}


@pytest.mark.parametrize("change", REFUSED.values(), ids=REFUSED.keys())
def test_households_the_engine_refuses_are_refused_by_the_schema(bundled: eligibility.Engine,
                                                                 change: Callable[[dict[str, Any]], None]) -> None:
    """A type, format, range or unknown-key error the engine reports is also a schema error."""
    household = _example()
    change(household)
    household = exact(household)
    assert not engine_accepts(bundled, household)
    with pytest.raises(eligibility.InputError):
        bundled.decide(household, ON, complete=True)
    assert not validator(bundled).is_valid(household)


@pytest.mark.parametrize("change", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_edge_forms_the_engine_accepts_are_accepted_by_the_schema(bundled: eligibility.Engine,
                                                                  change: Callable[[dict[str, Any]], None]) -> None:
    """Leading and trailing zeros, whole-number money, nulls for optional facts: both accept them."""
    household = _example()
    change(household)
    household = exact(household)
    assert engine_accepts(bundled, household)
    assert [e.message for e in validator(bundled).iter_errors(household)] == []


def test_money_with_3_decimals_is_refused_with_binary_floats_too(bundled: eligibility.Engine) -> None:
    """Read the ordinary way (floats), the schema still refuses 2400.125 yuan, as the engine does."""
    schema = json.loads(json.dumps(engine_household_schema(bundled)))
    household = {**_example(), "assessed_monthly_income": 2400.125}
    assert not engine_accepts(bundled, household)
    assert not jsonschema.Draft202012Validator(schema).is_valid(household)
    assert jsonschema.Draft202012Validator(schema).is_valid({**household, "assessed_monthly_income": 2400.5})


def test_bounds_of_numbers_are_in_the_schema(all_types: eligibility.Engine) -> None:
    """Integer, decimal and money bounds given as numbers are refused by both beyond their limits."""
    base = {"income": "1.00", "rooms": 1, "owns_shop": False, "members": [{"id": "a", "birth_date": "2000-01-01"}]}
    check = validator(all_types)
    for field, value in (("rooms", 10), ("rooms", 0), ("ratio", Decimal("3.5")), ("ratio", -3),
                         ("assets", 99), ("assets", Decimal("5000.51"))):
        household = {**base, field: value}
        assert not engine_accepts(all_types, household), (field, value)
        assert not check.is_valid(household), (field, value)
    assert check.is_valid({**base, "assets": Decimal("5000.50"), "ratio": "-2.5", "rooms": 9})


def test_schema_refuses_an_unknown_language(bundled: eligibility.Engine) -> None:
    """household_schema() takes zh or en only."""
    with pytest.raises(ValueError, match="lang must be 'zh' or 'en'"):
        household_schema(bundled.model.facts, lang="fr")


def test_the_schema_leaves_the_example_household_unchanged(bundled: eligibility.Engine) -> None:
    """Validating does not fill in defaults or change the household."""
    household = _example()
    before = copy.deepcopy(household)
    validator(bundled).validate(household)
    assert household == before


def test_trace_schema_in_the_package_is_the_documented_one() -> None:
    """The trace.schema.json shipped in the package is identical to docs/reference/trace.schema.json."""
    docs = (ROOT / "docs" / "reference" / "trace.schema.json").read_text(encoding="utf-8")
    assert trace_schema_text() == docs


def test_pyproject_ships_the_trace_schema_as_package_data() -> None:
    """pyproject.toml lists the trace schema in the package data, so that the wheel contains it."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "engine/trace.schema.json" in project["tool"]["setuptools"]["package-data"]["eligibility"]


def test_cli_schema_prints_the_household_schema(bundled: eligibility.Engine) -> None:
    """`eligibility schema --lang en` prints the same schema as engine_household_schema()."""
    result = CliRunner().invoke(build(), ["schema", "--lang", "en"], catch_exceptions=False)
    assert result.exit_code == 0
    assert json.loads(result.output) == engine_household_schema(bundled, lang="en")


def test_cli_schema_writes_a_file_and_the_decision_schema(tmp_path: Path) -> None:
    """`--out FILE` writes the schema to the file; `--decision` prints the trace schema instead."""
    out = tmp_path / "household.schema.json"
    result = CliRunner().invoke(build(), ["schema", str(ROOT / "policies"), "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0 and result.output == ""
    assert json.loads(out.read_text(encoding="utf-8"))["title"] == "家庭事实"
    result = CliRunner().invoke(build(), ["schema", "--decision"], catch_exceptions=False)
    assert result.exit_code == 0
    assert json.loads(result.output)["$id"] == "https://eligibility.invalid/schemas/eligibility.decision/1"


def test_the_partial_schema_accepts_what_decide_accepts_by_default(bundled: eligibility.Engine) -> None:
    """Without `complete`, an absent fact is unknown: the partial schema accepts it, and provenance forms too."""
    from jsonschema import Draft202012Validator

    from eligibility.engine.household_schema import engine_household_schema

    partial = Draft202012Validator(engine_household_schema(bundled, complete=False))
    household = {"members": [{"id": "m1", "relation": "applicant"}],
                 "assessed_monthly_income": {"value": "1000.00", "source": "人社 wage record", "as_of": "2024-08-31"},
                 "financial_assets": {"unknown": True, "source": "bank query pending"}}
    bundled.decide(household, ON)  # accepted: unknown facts, provenance
    assert partial.is_valid(household)
    assert not validator(bundled).is_valid(household)  # the complete form wants every fact
    assert not partial.is_valid({**household, "financial_assets": {"unknown": True, "value": "1.00"}})
