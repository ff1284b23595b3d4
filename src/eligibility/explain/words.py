"""The pieces of an explanation shared by text, HTML and why-not: values, titles, comparisons, citations."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from eligibility.base.labels import OPS, WORDS

MARK = {"passed": "✓", "failed": "✗", "not_evaluated": "·", "not_in_force": "–", "computed": "=",
        "eligible": "✓", "not_eligible": "✗", "error": "!", "per_record": "·"}


def value_text(value: Any, lang: str = "en") -> str:
    """Show a trace value: thousands grouped, booleans and lists in words."""
    if isinstance(value, bool):
        return str(WORDS[lang]["true" if value else "false"])
    if value is None:
        return "—"
    if isinstance(value, dict) and "count" in value:
        return str(value["count"])
    if isinstance(value, list):
        return str(WORDS[lang]["list"]).join(value_text(v, lang) for v in value)
    if isinstance(value, str):
        try:
            Decimal(value)
        except InvalidOperation:
            return value
        whole, _, frac = value.partition(".")
        sign = "-" if whole.startswith("-") else ""
        whole = whole.lstrip("-")
        if not whole.isdigit():
            return value
        if len(frac) > 6:
            frac = frac[:6] + "…"
        return sign + f"{int(whole):,}" + ("." + frac if frac else "")
    return str(value)



def title_text(obj: dict[str, Any] | None, lang: str, fallback: str) -> str:
    if obj and obj.get(lang):
        return str(obj[lang])
    return fallback



def side(side: dict[str, Any], lang: str) -> str:
    value = side.get("value")
    shown = title_text(side.get("value_label"), lang, "") or value_text(value, lang)
    label = side.get("label")
    name = title_text(label, lang, side["expression"]) if label else side["expression"]
    if isinstance(value, list):
        return f"({shown})"
    if name in (shown, str(value)) or name.strip("\"'") == str(value):
        return shown
    return f"{name} {shown}"



def pair_text(pair: dict[str, Any], lang: str) -> str:
    w = WORDS[lang]
    if not pair.get("evaluated"):
        return f"{pair['left']['expression']} {pair['op']} {pair['right']['expression']}{w['sep']}{w['not_evaluated']}"
    holds = pair.get("result")
    words = OPS[lang].get(pair["op"], (pair["op"], "not " + pair["op"]))
    verb = words[0] if holds is not False else words[1]
    text = f"{side(pair['left'], lang)} {verb} {side(pair['right'], lang)}"
    diff = pair.get("difference")
    if diff is not None and Decimal(diff) != 0 and pair["op"] in ("<", "<=", ">", ">="):
        amount = value_text(diff.lstrip("-"))
        above = Decimal(diff) > 0
        if lang == "zh":
            text += f"（{'高出' if above else '低'} {amount}）"
        else:
            text += f" ({amount} {'above' if above else 'below'})"
    return text



def citation(step: dict[str, Any], lang: str) -> str | None:
    src = step.get("source")
    if not src:
        return None
    w = WORDS[lang]
    parts = [p for p in (src.get("document"), src.get("title")) if p]
    if len(parts) == 2 and (parts[1] in parts[0] or parts[0] in parts[1]):
        parts = [max(parts, key=len)]
    cite = " ".join(dict.fromkeys(parts))
    art = step.get("article") or src.get("articles")
    if art:
        cite += f" {art}"
    conf = f"{w['confidence']} {src['confidence']}"
    return f"{w['source']}{w['sep']}{cite}{w['lp']}{src['id']}{w['comma']}{conf}{w['rp']}"



def param_line(p: dict[str, Any], trace: dict[str, Any], lang: str) -> str:
    w = WORDS[lang]
    title = title_text(p.get("title"), lang, p["name"])
    notes = []
    if p.get("from"):
        notes.append(f"{p['from']} {w['since']}".strip() if lang == "zh" else f"{w['from']} {p['from']}")
    src = (trace.get("sources") or {}).get(p.get("source") or "")
    if src:
        notes.append(f"{p['source']}{w['comma']}{w['confidence']} {src['confidence']}")
    elif p.get("source"):
        notes.append(str(p["source"]))
    return f"{title} = {value_text(p['value'])}" + (f"{w['lp']}{w['comma'].join(notes)}{w['rp']}" if notes else "")



def rule_groups(prog: dict[str, Any], lang: str) -> list[tuple[str, list[dict[str, Any]]]]:
    w = WORDS[lang]
    rules = [s for s in prog["steps"] if s["kind"] == "rule"]
    if prog.get("error"):  # not decided: what stopped it first, then the rest
        stopped = [s for s in prog["steps"] if s["outcome"] == "error"]
        rest = [s for s in rules if s not in stopped]
        computed = [s for s in prog["steps"]
                    if s["kind"] == "computed" and s["outcome"] not in ("not_evaluated", "error")]
        return [(w["error"], stopped), (w["other"], rest), (w["values"], computed)]
    # Decisive: needed by this decision and part of the eligibility test (not only the tier or amount).
    needed = [s for s in rules if s.get("needed", True) and "eligible" in s.get("used_by", ["eligible"])]
    if prog["eligible"]:
        decisive = [s for s in needed if s["outcome"] in ("passed", "per_record")]
        also: list[dict[str, Any]] = []
    else:
        decisive = [s for s in needed if s["outcome"] == "failed"]
        also = [s for s in rules if not s.get("needed", True) and s["outcome"] in ("failed", "error")]
    rest = [s for s in rules if s not in decisive and s not in also]
    computed = [s for s in prog["steps"] if s["kind"] == "computed" and s["outcome"] != "not_evaluated"]
    return [(w["decisive"], decisive), (w["also_failing"], also), (w["other"], rest), (w["values"], computed)]
