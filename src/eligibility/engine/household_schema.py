"""The JSON Schema (draft 2020-12) of a facts vocabulary, and the shipped schema of the decision trace.

`household_schema(facts)` describes exactly the households `engine.decide()` accepts, as far as
JSON Schema can say it: field types and formats, money as a string such as "1234.50" or a number
with at most two decimals, dates as "YYYY-MM-DD", enum values with their zh/en labels, list
sizes, required fields, no unknown field. A few checks are beyond JSON Schema and stay with the
engine: unique ids within a list, the bounds of a money or decimal field given as a string, the
work bound on very long lists, and the JSON data model's `3.0` counting as an integer.

Numbers must be compared exactly for `multipleOf: 0.01`: with binary floats 0.07 / 0.01 is not a
whole number. In Python, read the schema and the household with `json.loads(..., parse_float=Decimal)`;
with ajv, set `multipleOfPrecision: 2`. Money as strings, as the library writes it, avoids the question.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from importlib import resources
from typing import Any

from eligibility.engine.facts import MAX_TEXT, MONEY_LIMIT
from eligibility.engine.runtime import Engine
from eligibility.lang.model import Facts, FieldSpec

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
HOUSEHOLD_SCHEMA_ID = "https://eligibility.invalid/schemas/household"
#: The largest whole number the engine accepts, either sign (engine/facts.py).
INTEGER_LIMIT = 10 ** 15

# Patterns end with `$(?!\n)`: in ECMA-262 `$` is the end of the text, but in Python (which
# jsonschema uses) it also matches before a final newline, which the engine refuses.
#: Money as text: what engine/facts.py accepts. Digits only (no sign, separator or exponent), below
#: 10^15 yuan (leading zeros allowed), at most two decimals other than trailing zeros ("12.500").
MONEY_PATTERN = r"^0*[0-9]{1,15}(\.[0-9]{1,2}0*)?$(?!\n)"
DECIMAL_PATTERN = r"^-?[0-9]{1,18}(\.[0-9]{1,12})?$(?!\n)"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$(?!\n)"

_WORDS: dict[str, dict[str, str]] = {
    "title": {"zh": "家庭事实", "en": "Household facts"},
    "about": {"zh": "eligibility 的家庭事实（facts 词汇表 {file}）。未知字段不被接受；"
                    "可选字段可以省略或为 null，取其默认值。",
              "en": "The household facts of eligibility (facts vocabulary {file}). Unknown fields are refused; "
                    "an optional field may be left out or null, and then takes its default."},
    "money": {"zh": "金额（元）：字符串如 \"1234.50\"（最多两位小数，不带符号、千位分隔符或货币符号），"
                    "或最多两位小数的数字",
              "en": "An amount of money in yuan: a string such as \"1234.50\" (at most two decimals; no sign, "
                    "separator or currency symbol), or a number with at most two decimals"},
    "decimal": {"zh": "数值：字符串如 \"1.5\"，或数字", "en": "A number: a string such as \"1.5\", or a number"},
    "bounds": {"zh": "；以字符串给出时，范围 {lo}–{hi} 由引擎检查",
               "en": "; given as a string, the range {lo} to {hi} is checked by the engine"},
    "integer": {"zh": "整数", "en": "A whole number"},
    "bool": {"zh": "true 或 false", "en": "true or false"},
    "date": {"zh": "日期 \"YYYY-MM-DD\"", "en": "A date \"YYYY-MM-DD\""},
    "text": {"zh": "文本，最多 {n} 个字符", "en": "Text of at most {n} characters"},
    "enum": {"zh": "取值之一", "en": "One of the values"},
    "list": {"zh": "记录列表", "en": "A list of records"},
    "unique": {"zh": "；各记录的 id 不得重复", "en": "; the records' ids must differ"},
    "unit": {"zh": "；单位 {unit}", "en": "; unit {unit}"},
    "null": {"zh": "未提供：取默认值", "en": "Not given: the default applies"},
}


def _w(key: str, lang: str, **kw: object) -> str:
    text = _WORDS[key][lang]
    return text.format(**kw) if kw else text


def _number(d: Decimal) -> int | float:
    """A bound as a JSON number (an int when whole, so that it prints without a fraction)."""
    return int(d) if d == d.to_integral_value() else float(d)


def _default(spec: FieldSpec) -> object:
    v = spec.default
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, tuple):
        return list(v)
    return v


def _bounds_text(spec: FieldSpec, lang: str) -> str:
    if spec.minimum is None and spec.maximum is None:
        return ""
    lo = "" if spec.minimum is None else str(spec.minimum)
    hi = "" if spec.maximum is None else str(spec.maximum)
    return _w("bounds", lang, lo=lo or "-∞", hi=hi or "∞")


def _core(spec: FieldSpec, lang: str) -> tuple[dict[str, Any], str]:
    """Return the validating part of a field's schema and its description."""
    t = spec.type
    if t == "money":
        num: dict[str, Any] = {"type": "number", "minimum": 0, "exclusiveMaximum": int(MONEY_LIMIT),
                               "multipleOf": 0.01}
        if spec.minimum is not None:
            num["minimum"] = _number(max(spec.minimum, Decimal(0)))
        if spec.maximum is not None:
            num["maximum"] = _number(spec.maximum)
        return ({"anyOf": [{"type": "string", "pattern": MONEY_PATTERN}, num]},
                _w("money", lang) + _bounds_text(spec, lang))
    if t == "decimal":
        dnum: dict[str, Any] = {"type": "number"}
        if spec.minimum is not None:
            dnum["minimum"] = _number(spec.minimum)
        if spec.maximum is not None:
            dnum["maximum"] = _number(spec.maximum)
        return ({"anyOf": [{"type": "string", "pattern": DECIMAL_PATTERN}, dnum]},
                _w("decimal", lang) + _bounds_text(spec, lang))
    if t == "integer":
        lo = -INTEGER_LIMIT if spec.minimum is None else max(-INTEGER_LIMIT, _ceil(spec.minimum))
        hi = INTEGER_LIMIT if spec.maximum is None else min(INTEGER_LIMIT, _floor(spec.maximum))
        return {"type": "integer", "minimum": lo, "maximum": hi}, _w("integer", lang)
    if t == "bool":
        return {"type": "boolean"}, _w("bool", lang)
    if t == "date":
        return {"type": "string", "format": "date", "pattern": DATE_PATTERN}, _w("date", lang)
    if t == "text":
        text: dict[str, Any] = {"type": "string", "maxLength": MAX_TEXT}
        if spec.name == "id":
            text["minLength"] = 1  # the engine refuses an empty id
        return text, _w("text", lang, n=MAX_TEXT)
    if t == "enum":
        return ({"type": "string", "enum": [v for v, _ in spec.values],
                 "oneOf": [{"const": v, "title": label.get(lang), "x-labels": {"zh": label.zh, "en": label.en}}
                           for v, label in spec.values]},
                _w("enum", lang))
    if t == "list":
        items = _record(spec.fields, lang)
        arr: dict[str, Any] = {"type": "array", "items": items, "maxItems": spec.max_items}
        if spec.min_items:
            arr["minItems"] = spec.min_items
        about = _w("list", lang)
        if spec.field("id") is not None:
            arr["x-unique-keys"] = ["id"]
            about += _w("unique", lang)
        return arr, about
    raise ValueError(f"unknown field type {t!r}")  # pragma: no cover - the vocabulary's checker refuses it


def _ceil(d: Decimal) -> int:
    return int(d.to_integral_value(rounding=ROUND_CEILING))


def _floor(d: Decimal) -> int:
    return int(d.to_integral_value(rounding=ROUND_FLOOR))


def _nullable(core: dict[str, Any], lang: str) -> dict[str, Any]:
    """Also accept null: the engine treats null as not given (the default applies)."""
    if "anyOf" in core:
        return {**core, "anyOf": [*core["anyOf"], {"type": "null", "title": _w("null", lang)}]}
    out = {**core, "type": [core["type"], "null"]}
    if "enum" in core:
        out["enum"] = [*core["enum"], None]
        out["oneOf"] = [*core["oneOf"], {"const": None, "title": _w("null", lang)}]
    return out


def _field(spec: FieldSpec, lang: str, complete: bool = True) -> dict[str, Any]:
    core, about = _core(spec, lang)
    if spec.type == "list" and not complete and "items" in core:
        keep = frozenset({"id"} | {c.field for c in spec.constraints if c.field})
        core = {**core, "items": {**core["items"], "required": [
            f.name for f in spec.fields if f.required and f.name in keep]}}
    if spec.unit:
        about += _w("unit", lang, unit=spec.unit)
    out: dict[str, Any] = {"title": spec.label.get(lang), "description": about,
                           "x-labels": {"zh": spec.label.zh, "en": spec.label.en}}
    if spec.unit:
        out["x-unit"] = spec.unit
    if not spec.required:
        out["default"] = _default(spec)
        core = _nullable(core, lang)
    if spec.type == "list":
        out.update(core)
        return out
    # A fact may also come with where it came from, or be stated unknown (decide() reads both).
    meta = {"source": {"type": "string", "minLength": 1, "maxLength": 256},
            "reference": {"type": "string", "minLength": 1, "maxLength": 256},
            "note": {"type": "string", "minLength": 1, "maxLength": 256},
            "as_of": {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
            "valid_until": {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}}
    out["anyOf"] = [core,
                    {"type": "object", "properties": {"value": core, **meta}, "required": ["value"],
                     "additionalProperties": False, "title": "value with provenance"},
                    {"type": "object", "properties": {"unknown": {"const": True}, **meta}, "required": ["unknown"],
                     "additionalProperties": False, "title": "stated unknown"}]
    return out


def _record(fields: tuple[FieldSpec, ...], lang: str, complete: bool = True,
            structural: frozenset[str] = frozenset()) -> dict[str, Any]:
    return {"type": "object",
            "properties": {f.name: _field(f, lang, complete) for f in fields},
            "required": [f.name for f in fields
                         if f.required and (complete or f.type == "list" or f.name in structural)],
            "additionalProperties": False}


def household_schema(facts: Facts, *, lang: str = "zh", facts_sha256: str | None = None,
                     complete: bool = True) -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of the households a facts vocabulary accepts.

    Args:
        facts: the vocabulary, `engine.model.facts`.
        lang: the language of titles and descriptions, "zh" or "en"; `x-labels` always has both.
        facts_sha256: the sha256 of the facts file, recorded under `x-facts` when given
            (`engine.model.file_hashes[facts.file]`).
        complete: require every fact without a default, as `decide(complete=True)` does; False
            gives the partial form `decide()` accepts by default (absent facts are unknown; only the
            records' structure, ids and the fields constraints read, is required).

    Raises:
        ValueError: `lang` is not "zh" or "en".
    """
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    about: dict[str, Any] = {"file": facts.file}
    if facts_sha256 is not None:
        about["sha256"] = facts_sha256
    return {"$schema": SCHEMA_DIALECT, "$id": HOUSEHOLD_SCHEMA_ID,
            "title": _w("title", lang), "description": _w("about", lang, file=facts.file),
            "x-facts": about, "x-complete": complete, **_record(facts.fields, lang, complete)}


def engine_household_schema(engine: Engine, *, lang: str = "zh", complete: bool = True) -> dict[str, Any]:
    """Return `household_schema` of an engine's vocabulary, with the facts file's hash."""
    facts = engine.model.facts
    return household_schema(facts, lang=lang, facts_sha256=engine.model.file_hashes.get(facts.file),
                            complete=complete)


def trace_schema_text() -> str:
    """Return the JSON Schema of the decision trace (eligibility.decision/1), as shipped in the package."""
    return resources.files("eligibility.engine").joinpath("trace.schema.json").read_text(encoding="utf-8")


def trace_schema() -> dict[str, Any]:
    """Return the JSON Schema of the decision trace (docs/reference/trace.md), parsed."""
    out: dict[str, Any] = json.loads(trace_schema_text())
    return out
