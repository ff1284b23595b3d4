"""The pieces of an explanation shared by text, HTML and why-not: values, titles, comparisons, citations."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from eligibility.base.labels import OPS, WORDS

MARK = {"passed": "✓", "failed": "✗", "not_evaluated": "·", "not_in_force": "–", "computed": "=",
        "eligible": "✓", "not_eligible": "✗", "error": "!", "per_record": "·", "unknown": "?", "undetermined": "?"}
#: How a comparison whose outcome is not known reads: the operator itself.
SYMBOL = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}


def is_unknown(value: Any) -> bool:
    """Whether a trace value waits on facts not known (`{"unknown": [paths]}`)."""
    return isinstance(value, dict) and "unknown" in value


def unknown_paths(value: Any) -> list[str]:
    """The input paths an unknown trace value waits on ([] for a known value)."""
    if not is_unknown(value):
        return []
    return [str(p) for p in value.get("unknown") or []]


def verdict_of(prog: dict[str, Any]) -> str:
    """A program's (or member's) state: `error`, `undetermined`, `eligible` or `not_eligible`."""
    if prog.get("error"):
        return "error"
    if prog.get("eligible") is None:
        return "undetermined"
    return "eligible" if prog["eligible"] else "not_eligible"


def value_text(value: Any, lang: str = "en") -> str:
    """Show a trace value: thousands grouped, booleans and lists in words."""
    if isinstance(value, bool):
        return str(WORDS[lang]["true" if value else "false"])
    if value is None:
        return "—"
    if is_unknown(value):
        return str(WORDS[lang]["not_known"])
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
    if is_unknown(value):  # "月收入（未知）", "Monthly income (not known)"
        w = WORDS[lang]
        return f"{name}{w['lp']}{shown}{w['rp']}"
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
    if is_unknown(holds) or is_unknown(pair["left"].get("value")) or is_unknown(pair["right"].get("value")):
        op = SYMBOL.get(pair["op"], words[0])  # not known whether it holds: the comparison as written
        return f"{side(pair['left'], lang)} {op} {side(pair['right'], lang)}"
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



def fact_titles(trace: dict[str, Any]) -> dict[str, Any]:
    """The label of each fact the trace's steps read, by input path (`members[0].sex`)."""
    out: dict[str, Any] = {}
    for prog in (trace.get("programs") or {}).values():
        for step in prog.get("steps") or []:
            for i in step.get("inputs") or []:
                path = str(i.get("path") or "")
                if i.get("kind") == "fact" and path.startswith("household."):
                    out.setdefault(path[len("household."):], i.get("title"))
    return out


def fact_name(path: str, titles: dict[str, Any], lang: str) -> str:
    """A fact by its label and input path ("Financial assets [financial_assets]"), or its path alone."""
    title = title_text(titles.get(path), lang, "")
    return f"{title} [{path}]" if title else path


def waits_on(paths: list[str], trace: dict[str, Any], lang: str) -> str:
    """The facts something waits on, by label: "Financial assets [financial_assets], ..."."""
    titles = fact_titles(trace)
    return str(WORDS[lang]["list"]).join(fact_name(p, titles, lang) for p in paths)


def unknown_text(value: Any, trace: dict[str, Any], lang: str) -> str:
    """A value or outcome not known: "not known yet (it waits on: Financial assets [financial_assets])"."""
    w = WORDS[lang]
    paths = unknown_paths(value)
    if not paths:
        return str(w["unknown"])
    return f"{w['unknown']}{w['lp']}{w['waits_on']}{waits_on(paths, trace, lang)}{w['rp']}"


def waiting_verdict(prog: dict[str, Any], trace: dict[str, Any], lang: str) -> str:
    """An undetermined program or member: "cannot be decided yet: it waits on ..."."""
    w = WORDS[lang]
    paths = [str(p) for p in prog.get("unknown") or []]
    text = str(w["undetermined"])
    if paths:
        text += f"{w['sep']}{w['waits_on']}{waits_on(paths, trace, lang)}"
    return text


def amount_waits(prog: dict[str, Any], trace: dict[str, Any], lang: str) -> str:
    """For an eligible program whose amount is not known: "the amount cannot be computed yet: it waits on ..."."""
    w = WORDS[lang]
    paths = [str(p) for p in prog.get("unknown") or []]
    if not (prog.get("eligible") and paths):
        return ""
    return f"{w['amount_waits']}{w['sep']}{w['waits_on']}{waits_on(paths, trace, lang)}"


def tier_waits(prog: dict[str, Any], trace: dict[str, Any], lang: str) -> str:
    """For a decided program or member whose tier is not known: "the tier cannot be decided yet: it waits on ...".

    "" when the tier is known (or the outcome itself waits: that verdict already says so). The tier
    is then `null`, which alone would read as "no tier".
    """
    w = WORDS[lang]
    paths = [str(p) for p in prog.get("tier_unknown") or []]
    if not paths or prog.get("eligible") is None or prog.get("error"):
        return ""
    return f"{w['tier_waits']}{w['sep']}{w['waits_on']}{waits_on(paths, trace, lang)}"


def provenance_text(meta: dict[str, Any] | None, lang: str) -> str:
    """Where a fact came from: "来源：人社 wage record，核实于 2024-08-31" ("" when not said)."""
    if not meta:
        return ""
    w = WORDS[lang]
    parts = []
    if meta.get("source"):
        parts.append(f"{w['prov_source']}{w['sep']}{meta['source']}")
    if meta.get("as_of"):
        parts.append(f"{w['prov_as_of']} {meta['as_of']}")
    if meta.get("reference"):
        parts.append(f"{w['prov_reference']} {meta['reference']}")
    if meta.get("note"):
        parts.append(f"{w['prov_note']}{w['sep']}{meta['note']}")
    if meta.get("valid_until"):
        parts.append(f"{w['valid_until']} {meta['valid_until']}")
    if meta.get("stale"):
        until = meta.get("fresh_until")  # absent when only the validity has passed (shown above)
        parts.append(f"{w['stale']}{w['lp']}{w['stale_until']} {until}{w['rp']}" if until else str(w["stale"]))
    return str(w["comma"]).join(parts)


def fact_line(f: dict[str, Any], lang: str, with_path: bool = True) -> str:
    """A fact input: its label, path and value, and where it came from when the household said."""
    t = title_text(f.get("title"), lang, str(f.get("path")))
    shown = title_text(f.get("value_label"), lang, "") or value_text(f.get("value"), lang)
    text = f"{t} [{f.get('path')}] = {shown}" if with_path else f"{t} = {shown}"
    prov = provenance_text(f.get("provenance"), lang)
    return text + (f"{WORDS[lang]['prov_dash']}{prov}" if prov else "")


def shown_fact(f: dict[str, Any]) -> bool:
    """Whether a fact input is shown on its own line (a list of records, `{count}`, is not)."""
    return f.get("kind") == "fact" and not (isinstance(f.get("value"), dict) and "count" in f["value"])


def facts_read_through(step: dict[str, Any], prog: dict[str, Any]) -> list[dict[str, Any]]:
    """The facts with provenance a step read through the program's computed values, not directly."""
    by_name = {s["name"]: s for s in prog.get("steps") or []}
    direct = {f.get("path") for f in step.get("inputs") or [] if f.get("kind") == "fact"}
    seen: set[str] = {step["name"]}
    stack = [i["name"] for i in step.get("inputs") or []
             if i.get("kind") in ("computed", "rule") and i.get("name") in by_name]
    out: dict[Any, dict[str, Any]] = {}
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for i in by_name[name].get("inputs") or []:
            if i.get("kind") == "fact" and i.get("provenance") and i.get("path") not in direct:
                out.setdefault(i.get("path"), i)
            elif i.get("kind") in ("computed", "rule") and i.get("name") in by_name:
                stack.append(i["name"])
    return [out[k] for k in sorted(out, key=str)]


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



def step_waits(step: dict[str, Any]) -> bool:
    """Whether a step's outcome (or one record's) is not known."""
    if step.get("outcome") == "unknown":
        return True
    return step.get("outcome") == "per_record" and any(
        i.get("outcome") == "unknown" for i in step.get("value") or [] if isinstance(i, dict))


def rule_groups(prog: dict[str, Any], lang: str) -> list[tuple[str, list[dict[str, Any]]]]:
    w = WORDS[lang]
    rules = [s for s in prog["steps"] if s["kind"] == "rule"]
    if not prog.get("error") and prog.get("eligible") is None:  # undetermined: what it waits on, then the rest
        waiting = [s for s in rules if s.get("needed", True) and "eligible" in s.get("used_by", ["eligible"])
                   and step_waits(s)]
        rest = [s for s in rules if s not in waiting]
        computed = [s for s in prog["steps"] if s["kind"] == "computed" and s["outcome"] != "not_evaluated"]
        return [(w["waiting_rules"], waiting), (w["other"], rest), (w["values"], computed)]
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
