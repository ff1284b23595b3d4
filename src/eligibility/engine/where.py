"""Where to apply: the offices that may accept a household's application, each with its rules.

`where_to_apply(engine, household, on)` reads the set's `where_to_apply:` rules (compiled as one
program of their own, see `eligibility.lang.where`), decides them for the household with the
trace on, and gathers, program by program, the offices their rules give, why (the rule's title,
citation and position, and the member or permit it is about), and what is still unknown.

Before deciding, the places are made consistent (`reconcile`): a 6-digit hukou code implies
`guangdong_hukou`, `hukou_province` and `hukou_local` (hukou in the deciding district), a
residence code implies `resides_locally`, and `hukou_local` with `guangdong_hukou` implies the
deciding district's code; two given facts that disagree are an input error naming both.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from eligibility.base.errors import InputError, InputProblem, PolicyError
from eligibility.base.numbers import ENGINE_CONTEXT
from eligibility.base.source import readable
from eligibility.compile.helpers import U
from eligibility.compile.pipeline import compile_where
from eligibility.compile.unknown import Unknown
from eligibility.engine.facts import field_at
from eligibility.lang.where import OFFICE_SUFFIX, PROGRAM, OfficeRule, WhereRules

if TYPE_CHECKING:
    from eligibility.engine.runtime import Decision, Engine

SCHEMA = "eligibility.where_to_apply/1"
_CODE = re.compile(r"\d{6}")
_MEMBER_PLACES = ("hukou_district", "hukou_province", "residence_district")
_HOUSEHOLD_PLACES = ("emergency_district",)
_PROVINCE = re.compile(r"\d{2}")

#: How each kind of office is named, around the name of its district ({} is the place).
KIND_WORDS = {
    "zh": {
        "on": "决定日期", "may": "可受理申请的机构：", "none": "没有规则给出受理机构。",
        "rule": "依据", "source": "出处", "about": "涉及",
        "pending": "尚未确定：以下规则是否适用、给出哪个机构，取决于未知事实：",
        "maybe": "可能还有（取决于未知事实）：", "needed": "还需核实：",
        "uncovered": "本规则集没有关于该项目受理地的规则。",
        "derived": "由其他事实推出：", "not_covered": "未编码受理地规则的项目：",
        "from": "来自", "cannot": "（尚不能确定受理机构）",
    },
    "en": {
        "on": "decided for", "may": "Offices that may accept the application:",
        "none": "No rule gives an office.", "rule": "rule", "source": "source", "about": "about",
        "pending": "Not settled yet: whether these rules apply, and which office they give, waits on unknown facts:",
        "maybe": "Possibly also (waiting on unknown facts):", "needed": "Still needed:",
        "uncovered": "No rule of this set says where to apply for this program.",
        "derived": "Derived from other facts:", "not_covered": "Programs with no rule on where to apply:",
        "from": "from", "cannot": "(the office cannot be named yet)",
    },
}


def _explain(w: WhereToApply, lang: str) -> str:
    t = _WORDS[lang]
    engine = w._decision.engine
    rules_title = engine.model.programs[PROGRAM].title.get(lang)
    out = [f"{rules_title} — {t['on']} {w.on.isoformat()}", ""]
    sources = engine.model.programs[PROGRAM].sources
    for name, p in w.programs.items():
        title = p.title[lang] if p.title else name
        out.append(f"{name}  {title}")
        if p.offices:
            out.append(f"  {t['may']}")
        elif p.status == "not_covered":
            out.append(f"  {t['uncovered']}")
        elif not p.pending:
            out.append(f"  {t['none']}")
        for o in p.offices:
            out.append(f"  • {o.label(lang)}")
            for r in o.reasons:
                if not set(r.programs) & {name}:
                    continue
                about = f"；{t['about']} {r.record}" if lang == "zh" else f"; {t['about']} {r.record}"
                about = (about + (f" ({r.record_id})" if r.record_id else "")) if r.record else ""
                out.append(f"      {t['rule']} {r.rule}: {r.text[lang]}{about}")
                out.append(f"      {t['source']}: {_cite(sources, r, lang)} — {r.at}")
        if p.pending:
            out.append(f"  {t['pending'] if not p.offices else t['maybe']}")
            for q in p.pending:
                place = q.code if q.code else t["cannot"]
                rec = f" [{q.reason.record}]" if q.reason.record else ""
                out.append(f"  ? {q.reason.rule}{rec}: {q.reason.text[lang]} → {place}")
                out.append(f"      {t['source']}: {_cite(sources, q.reason, lang)} — {q.reason.at}")
            out.append(f"  {t['needed']}")
            for u in p.unknown:
                out.append(f"    - {_fact_label(engine, u, lang)}")
        out.append("")
    if w.derived:
        out.append(t["derived"])
        for d in w.derived:
            out.append(f"  {d['path']} = {_show(d['value']) if isinstance(d['value'], bool) else d['value']}"
                       f"  ({t['from']} {d['from']})")
        out.append("")
    if w.not_covered:
        out.append(f"{t['not_covered']} {', '.join(w.not_covered)}")
    return "\n".join(out).rstrip() + "\n"


def _cite(sources: Mapping[str, Any], r: Reason, lang: str) -> str:
    parts = []
    for sid in r.sources:
        s = sources.get(sid)
        title = f"《{s.title}》" if s is not None and lang == "zh" else (s.title if s is not None else "")
        doc = f" {s.document}" if s is not None and s.document else ""
        parts.append(f"{sid} {title}{doc}".strip())
    text = "; ".join(parts) or "—"
    return f"{text} {r.article}" if r.article else text


__all__ = ["SCHEMA", "Office", "Pending", "ProgramPlaces", "Reason", "WhereToApply", "reconcile", "where_to_apply"]
