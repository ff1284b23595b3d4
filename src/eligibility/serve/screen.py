"""Screening: a partial household -> the outcomes so far, the next questions, and, at the end, what to verify.

A screening asks rather than assumes: the household is decided with `assume_defaults=False`, so a
fact not given is unknown even where the vocabulary declares a default (the records of a list are
the ones given: a list left out is taken as empty, and that is reported as *assumed*). Each
answer is a statement of the applicant; at the end, the facts a settled outcome depends on (made
unknown again, that outcome would no longer be settled) are reported as *to verify*. Nothing is
kept between calls: the client sends the household so far each time.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from eligibility.compile.unknown import UnknownTruth
from eligibility.engine.runtime import Decision, Engine, ProgramDecision
from eligibility.lang.model import Facts, FieldSpec

#: The programs a screening settles when the request names none (those of them the policy set has).
SCREEN_PROGRAMS = ("dibao", "marginal", "tekun")
#: Next questions returned by default, and at most.
QUESTIONS = 3
MAX_QUESTIONS = 50
_PATH = re.compile(r"(\w+)(?:\[(\d+)\]\.(\w+))?\Z")

#: Short nouns for the records of the bundled vocabulary's lists (others use the list's label).
RECORD_NOUNS = {
    "members": {"zh": "成员", "en": "Member"},
    "vehicles": {"zh": "车辆", "en": "Vehicle"},
    "business_registrations": {"zh": "经营登记", "en": "Business registration"},
    "obligors": {"zh": "义务人", "en": "Obligor"},
}
WORDS = {
    "zh": {"yes": "是", "no": "否", "choose": "请选择一项。", "money": "金额，单位：{unit}，例如 1200.00。",
           "decimal": "数字，例如 1.5。", "integer": "整数。", "date": "日期（年-月-日）。", "text": "文字。",
           "at_least": "不小于 {min}。", "at_most": "不大于 {max}。", "matters": "影响：{programs}。",
           "unknown": "不清楚可选“不知道”，该项将留待核实。", "none": "无（未填写，按没有处理）",
           "records": "{n} 条", "summary": "初筛结果（未经核实）", "eligible": "符合条件",
           "not_eligible": "不符合条件", "undetermined": "尚无法确定", "error": "无法评估",
           "amount": "，每月金额 {amount} 元", "assumed": "按假定处理（未询问）", "verify": "需核实（申请人自述）",
           "open": "仍待查明", "sep": "：", "list": "、"},
    "en": {"yes": "Yes", "no": "No", "choose": "Choose one.", "money": "An amount in {unit}, e.g. 1200.00.",
           "decimal": "A number, e.g. 1.5.", "integer": "A whole number.", "date": "A date (year-month-day).",
           "text": "Text.", "at_least": "At least {min}.", "at_most": "At most {max}.",
           "matters": "Matters for: {programs}.",
           "unknown": "If you are not sure, answer \"don't know\": it is left to be checked.",
           "none": "none (not given, taken as none)", "records": "{n} record(s)",
           "summary": "Screening result (not verified)", "eligible": "eligible", "not_eligible": "not eligible",
           "undetermined": "cannot be settled yet", "error": "cannot be evaluated",
           "amount": ", {amount} yuan a month", "assumed": "Assumed (not asked)",
           "verify": "To verify (stated by the applicant)", "open": "Still to find out", "sep": ": ",
           "list": ", "},
}
UNITS = {"zh": (("CNY", "元"), ("/person", "/人"), ("/month", "/月"), ("/year", "/年")),
         "en": (("CNY", "yuan"), ("/person", " a person"), ("/month", " a month"), ("/year", " a year"))}


def default_programs(engine: Engine) -> list[str]:
    """The programs a screening settles by default: dibao, marginal and tekun (all programs if none exist)."""
    return [p for p in SCREEN_PROGRAMS if p in engine.programs] or list(engine.programs)


def unit_text(unit: str | None, lang: str) -> str:
    """A vocabulary unit (CNY/month) in words of the language (元/月, yuan a month)."""
    if not unit:
        return ""
    for a, b in UNITS[lang]:
        unit = unit.replace(a, b)
    return unit


def spec_at(facts: Facts, path: str) -> tuple[FieldSpec | None, str | None, int | None]:
    """The field spec of a fact path (`members[0].sex`), its list's name and the record's index."""
    m = _PATH.match(path)
    if m is None:
        return None, None, None
    top = facts.field(m.group(1))
    if top is None or m.group(3) is None:
        return top, None, None
    return top.field(m.group(3)), m.group(1), int(m.group(2))


def record_name(facts: Facts, household: Mapping[str, Any], name: str, index: int, lang: str) -> str:
    """How a record is named to a person: "成员 1（申请人）", "Vehicle 2"."""
    spec = facts.field(name)
    noun = RECORD_NOUNS.get(name, {}).get(lang) or (spec.label.get(lang) if spec else name)
    out = f"{noun} {index + 1}"
    records = household.get(name)
    relation_spec = spec.field("relation") if spec else None
    if isinstance(records, list) and index < len(records) and relation_spec is not None:
        record = records[index]
        relation = record.get("relation") if isinstance(record, Mapping) else None
        label = next((lab.get(lang) for v, lab in relation_spec.values if v == relation), None)
        if label:
            out += f"（{label}）" if lang == "zh" else f" ({label})"
    return out


def fact_label(facts: Facts, household: Mapping[str, Any], path: str, lang: str) -> str:
    """The label of a fact path for a person: the field's label, after the record's name for a list field."""
    spec, name, index = spec_at(facts, path)
    if spec is None:
        return path
    if name is None or index is None:
        return spec.label.get(lang)
    return record_name(facts, household, name, index, lang) + WORDS[lang]["sep"] + spec.label.get(lang)


def choices(spec: FieldSpec, lang: str) -> list[dict[str, Any]] | None:
    """The answers to offer for a yes/no or enum fact, with their labels; None for other types."""
    if spec.type == "bool":
        return [{"value": True, "label": WORDS[lang]["yes"]}, {"value": False, "label": WORDS[lang]["no"]}]
    if spec.type == "enum":
        return [{"value": v, "label": label.get(lang)} for v, label in spec.values]
    return None


def help_text(spec: FieldSpec, programs: Sequence[str], titles: Mapping[str, str], lang: str) -> str:
    """How to answer a question: the vocabulary's help text where it has one, else what kind of answer it takes.

    Followed by the programs the answer matters for and what "don't know" does.
    """
    w = WORDS[lang]
    own = getattr(spec, "help", None)  # a vocabulary with help texts (Label) is used as it is
    parts: list[str] = []
    if own is not None and hasattr(own, "get"):
        parts.append(str(own.get(lang)))
    elif spec.type in ("bool", "enum"):
        parts.append(w["choose"])
    elif spec.type == "money":
        parts.append(w["money"].format(unit=unit_text(spec.unit or "CNY", lang)))
    else:
        parts.append(w.get(spec.type, ""))
        if spec.unit:
            parts[-1] = parts[-1].rstrip("。.") + (f"（{unit_text(spec.unit, lang)}）。" if lang == "zh"
                                                  else f" ({unit_text(spec.unit, lang)}).")
    if spec.type in ("integer", "decimal", "money"):
        if spec.minimum is not None and spec.minimum != 0:
            parts.append(w["at_least"].format(min=spec.minimum))
        if spec.maximum is not None:
            parts.append(w["at_most"].format(max=spec.maximum))
    if programs:
        parts.append(w["matters"].format(programs=w["list"].join(titles.get(p, p) for p in programs)))
    parts.append(w["unknown"])
    return ("" if lang == "zh" else " ").join(p for p in parts if p)


def question(engine: Engine, household: Mapping[str, Any], q: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """One ranked question (`Decision.next_questions()`) with what a form needs to ask it."""
    facts = engine.model.facts
    path = str(q["path"])
    spec, name, index = spec_at(facts, path)
    assert spec is not None  # next_questions lists only facts of the vocabulary
    titles = {p: engine.model.programs[p].title.get(lang) for p in q["programs"]}
    out: dict[str, Any] = {
        "path": path, "label": fact_label(facts, household, path, lang), "field_label": spec.label.get(lang),
        "record": None, "help": help_text(spec, q["programs"], titles, lang), "type": spec.type,
        "unit": spec.unit, "unit_label": unit_text(spec.unit, lang) or None, "choices": choices(spec, lang),
        "min": _plain(spec.minimum), "max": _plain(spec.maximum), "programs": list(q["programs"]),
        "settles": q["settles"]}
    if name is not None and index is not None:
        records = household.get(name)
        record = records[index] if isinstance(records, list) and index < len(records) else {}
        out["record"] = {"list": name, "index": index, "id": record.get("id") if isinstance(record, Mapping) else None,
                         "name": record_name(facts, household, name, index, lang)}
    return out


def _plain(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def stated_unknown(household: Mapping[str, Any]) -> set[str]:
    """The paths of the facts given as `{"unknown": true}` (the applicant said "don't know")."""
    return {path for path, value in _given(household) if _is_unknown(value)}


def _is_unknown(value: object) -> bool:
    return isinstance(value, Mapping) and value.get("unknown") is True


def _given(household: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """Each fact given in the household, with its path (list fields by record; lists themselves not)."""
    for key, value in household.items():
        if isinstance(value, list):
            for i, record in enumerate(value):
                if isinstance(record, Mapping):
                    for field, v in record.items():
                        yield f"{key}[{i}].{field}", v
        else:
            yield str(key), value


def _with_unknown(household: Mapping[str, Any], path: str) -> dict[str, Any]:
    out = copy.deepcopy(dict(household))
    m = _PATH.match(path)
    if m is None:
        return out
    if m.group(3) is None:
        out[m.group(1)] = {"unknown": True}
    else:
        out[m.group(1)][int(m.group(2))][m.group(3)] = {"unknown": True}
    return out


def status(p: ProgramDecision) -> str:
    """eligible, not_eligible, undetermined or error."""
    if p.error is not None:
        return "error"
    if p.undetermined or p.eligible is None:
        return "undetermined"
    return "eligible" if p.eligible else "not_eligible"


def shown_value(spec: FieldSpec | None, value: Any, lang: str) -> str:
    """A fact's value as a person reads it: yes/no, an enum's label, an amount with its unit."""
    if isinstance(value, Mapping) and "value" in value:
        value = value["value"]
    if spec is None:
        return str(value)
    if spec.type == "bool" and isinstance(value, bool):
        return WORDS[lang]["yes"] if value else WORDS[lang]["no"]
    if spec.type == "enum":
        return next((lab.get(lang) for v, lab in spec.values if v == value), str(value))
    unit = unit_text(spec.unit, lang)
    return f"{value} {unit}" if unit else str(value)


def to_verify(engine: Engine, household: Mapping[str, Any], decision: Decision, on: Any,
              programs: Sequence[str], lang: str) -> list[dict[str, Any]]:
    """The stated facts a settled outcome depends on: made unknown again, that outcome would not be settled."""
    facts = engine.model.facts
    settled = [n for n in programs if status(decision.programs[n]) in ("eligible", "not_eligible")]
    out: list[dict[str, Any]] = []
    if not settled:
        return out
    for list_spec in (f for f in facts.fields if f.type == "list"):
        name = list_spec.name
        records = household.get(name)
        if name in engine.validator.structural and isinstance(records, list) and records:
            out.append({"path": name, "label": list_spec.label.get(lang),
                        "value": WORDS[lang]["records"].format(n=len(records)), "source": None})
    for path, value in _given(household):
        spec, list_name, _ = spec_at(facts, path)
        if _is_unknown(value) or spec is None or spec.type == "list":
            continue
        if list_name is not None and spec.name in engine.validator.structural.get(list_name, frozenset()):
            continue  # ids and relations: the composition, listed above
        again = engine.decide(_with_unknown(household, path), on, settled, trace=False, assume_defaults=False)
        if any(again.programs[n].undetermined for n in settled):
            source = value.get("source") if isinstance(value, Mapping) else None
            out.append({"path": path, "label": fact_label(facts, household, path, lang),
                        "value": shown_value(spec, value, lang), "source": source})
    return out


def assumed(engine: Engine, decision: Decision, lang: str) -> list[dict[str, Any]]:
    """What the screening took without asking: the lists not given, taken as having no records."""
    out = []
    for path in decision.defaulted:
        found, _, _ = spec_at(engine.model.facts, path)
        out.append({"path": path, "label": found.label.get(lang) if found else path, "value": WORDS[lang]["none"]})
    return out


def summary(outcomes: Mapping[str, Mapping[str, Any]], sections: Sequence[tuple[str, list[dict[str, Any]]]],
            lang: str) -> str:
    """A short text of the outcomes and of what was assumed and remains to verify."""
    w = WORDS[lang]
    lines = [w["summary"]]
    for o in outcomes.values():
        line = f"- {o['title']}{w['sep']}{w[o['status']]}"
        if o["status"] == "eligible" and o["amount"] is not None:
            line += w["amount"].format(amount=o["amount"])
        lines.append(line)
    for title, items in sections:
        if items:
            lines += ["", title]
            lines += [f"- {x['label']}{w['sep']}{x['value']}" for x in items]
    return "\n".join(lines)


def screen(engine: Engine, household: Mapping[str, Any], decision: Decision, on: Any, programs: Sequence[str],
           lang: str, max_questions: int) -> dict[str, Any]:
    """The answer of POST /screen for a decision made with `assume_defaults=False`."""
    facts = engine.model.facts
    outcomes: dict[str, dict[str, Any]] = {}
    for name in programs:
        p = decision.programs[name]
        outcomes[name] = {"status": status(p), "eligible": None if p.undetermined else p.eligible,
                          "amount": None if p.amount is None or p.undetermined else format(p.amount, "f"),
                          "unknown": list(p.unknown), "title": p.title.get(lang, name)}
    skipped = stated_unknown(household)
    ranked = [q for q in decision.next_questions(programs) if q["path"] not in skipped]
    questions = [question(engine, household, q, lang) for q in ranked[:max_questions]]
    done = not questions
    out: dict[str, Any] = {
        "outcomes": outcomes, "unknown_facts": list(decision.unknown_facts), "next_questions": questions,
        "done": done, "assumed": assumed(engine, decision, lang)}
    if done:
        verify = to_verify(engine, household, decision, on, programs, lang)
        open_paths = sorted({p for n in programs for p in decision.programs[n].unknown})
        still = [{"path": p, "label": fact_label(facts, household, p, lang), "value": "?"} for p in open_paths]
        out["to_verify"] = verify
        out["still_unknown"] = still
        w = WORDS[lang]
        sections = [(w["assumed"], out["assumed"]), (w["verify"], verify), (w["open"], still)]
        text = summary(outcomes, sections, lang)
        try:
            detail = decision.explain(lang=lang, fmt="text")
        except UnknownTruth:  # the trace of a partial decision cannot yet render every unknown value
            detail = ""
        out["explanation"] = text + ("\n\n" + detail if detail else "")
    return out

