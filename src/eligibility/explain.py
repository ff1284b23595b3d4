"""Render a decision's JSON trace as readable text or Markdown, in Chinese or English."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "eligible": "符合条件", "not_eligible": "不符合条件", "amount": "每月金额", "yuan": "元",
        "date": "决定日期", "policy": "政策集", "passed": "通过", "failed": "未通过",
        "not_evaluated": "未评估（前面的条件已决定结果）", "not_in_force": "该日期不适用（未生效）",
        "computed": "计算值", "source": "依据", "confidence": "可信度", "rules": "条件",
        "values": "计算过程", "above": "高于", "below": "低于", "equal": "等于", "by": "，差额",
        "warning": "提示", "defaulted": "未提供、按默认值处理的事实", "layers": "政策层级",
        "because": "原因", "skipped": "未评估", "decisive": "决定性条件", "other": "其他条件",
        "item": "逐项", "tier": "层级", "sep": "：", "lp": "（", "rp": "）", "comma": "，",
    },
    "en": {
        "eligible": "eligible", "not_eligible": "not eligible", "amount": "monthly amount", "yuan": "yuan",
        "date": "Decided for", "policy": "Policy set", "passed": "passed", "failed": "failed",
        "not_evaluated": "not evaluated (the outcome was already decided)", "not_in_force": "not in force on this date",
        "computed": "computed", "source": "Source", "confidence": "confidence", "rules": "Rules",
        "values": "Computed values", "above": "above", "below": "below", "equal": "equal to", "by": " by",
        "warning": "Warning", "defaulted": "Facts not given, taken at their declared default", "layers": "Layers",
        "because": "because", "skipped": "not evaluated", "decisive": "Decisive rules", "other": "Other rules",
        "item": "per item", "tier": "tier", "sep": ": ", "lp": " (", "rp": ")", "comma": ", ",
    },
}
MARK = {"passed": "✓", "failed": "✗", "not_evaluated": "·", "not_in_force": "–", "computed": "=",
        "eligible": "✓", "not_eligible": "✗"}


def _num(value: Any) -> str:
    """Group thousands of a canonical decimal string, keeping its decimals."""
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, dict) and "count" in value:
        return str(value["count"])
    if isinstance(value, str):
        try:
            d = Decimal(value)
        except InvalidOperation:
            return value
        if "." in value or value.lstrip("-").isdigit():
            whole, _, frac = value.partition(".")
            sign = "-" if whole.startswith("-") else ""
            whole = whole.lstrip("-")
            grouped = f"{int(whole):,}" if whole.isdigit() else whole
            if len(frac) > 6:
                frac = frac[:6] + "…"
            return sign + grouped + ("." + frac if frac else "")
        return format(d, "f")
    return str(value)


def _title(obj: dict[str, Any] | None, lang: str, fallback: str) -> str:
    if obj and obj.get(lang):
        return str(obj[lang])
    return fallback


def _side(side: dict[str, Any], lang: str) -> str:
    label = side.get("label")
    name = _title(label, lang, side["expression"]) if label else side["expression"]
    value = side.get("value")
    shown = ", ".join(value) if isinstance(value, list) else _num(value)
    if name == shown or name == str(value) or isinstance(value, list):
        return f"({shown})" if isinstance(value, list) else shown
    return f"{name} {shown}"


def _pair(pair: dict[str, Any], lang: str) -> str:
    w = WORDS[lang]
    if not pair.get("evaluated"):
        return f"{pair['left']['expression']} {pair['op']} {pair['right']['expression']}: {w['skipped']}"
    text = f"{_side(pair['left'], lang)} {pair['op']} {_side(pair['right'], lang)}"
    diff = pair.get("difference")
    if diff is not None:
        d = Decimal(diff)
        if d > 0:
            text += f"{w['lp']}{w['above']}{w['by']} {_num(diff)}{w['rp']}" if lang == "zh" else \
                f" ({_num(diff)} {w['above']})"
        elif d < 0:
            text += f"{w['lp']}{w['below']}{w['by']} {_num(diff.lstrip('-'))}{w['rp']}" if lang == "zh" else \
                f" ({_num(diff.lstrip('-'))} {w['below']})"
    return text


def _citation(step: dict[str, Any], lang: str) -> str | None:
    src = step.get("source")
    if not src:
        return None
    w = WORDS[lang]
    parts = [p for p in (src.get("document"), src.get("title")) if p]
    art = step.get("article") or src.get("articles")
    if len(parts) == 2 and parts[1] in parts[0]:
        parts = parts[:1]
    cite = " ".join(dict.fromkeys(parts))
    if art:
        cite += f" {art}"
    conf = f"{w['confidence']} {src['confidence']}"
    return f"{w['source']}{w['sep']}{cite}{w['lp']}{src['id']}{w['comma']}{conf}{w['rp']}"


def _step_lines(step: dict[str, Any], lang: str, fmt: str) -> list[str]:
    w = WORDS[lang]
    title = _title(step.get("title"), lang, step["name"])
    outcome = step["outcome"]
    head = f"{MARK.get(outcome, ' ')} {title} [{step['name']}]"
    if outcome in ("passed", "failed", "not_evaluated", "not_in_force"):
        head += f"{w['sep']}{w[outcome]}"
    elif outcome == "computed":
        head += f" = {_num(step.get('value'))}"
    lines = [head]
    if outcome == "per_record":
        for item in step.get("value") or []:
            o = item["outcome"]
            shown = w[o] if o in ("passed", "failed", "eligible", "not_eligible") else _num(item["value"])
            lines.append(f"    {MARK.get(o, '=')} {item['item']}{w['sep']}{shown}")
    for comp in step.get("comparisons", []):
        if not comp.get("evaluated"):
            continue
        if "pairs" in comp:
            for pair in comp["pairs"]:
                lines.append("    " + _pair(pair, lang))
        else:
            for item in comp.get("items", []):
                pairs = "; ".join(_pair(p, lang) for p in item["pairs"])
                lines.append(f"    {item['item']}{w['sep']}{pairs} → {_num(item['result'])}")
    if outcome == "computed" and step.get("expression"):
        lines.append(f"    = {' '.join(step['expression'].split())}")
    for skipped in step.get("not_evaluated", []):
        lines.append(f"    {w['skipped']}{w['sep']}{skipped}")
    for f in step.get("inputs", []):
        if f["kind"] == "fact" and not isinstance(f.get("value"), dict):
            t = _title(f.get("title"), lang, f["path"])
            lines.append(f"    {t} [{f['path']}] = {_num(f['value'])}")
    params = [i for i in step.get("inputs", []) if i["kind"] == "parameter"]
    for p in params:
        t = _title(p.get("title"), lang, p["name"])
        since = f"{w['lp']}{p['from']} 起{w['rp']}" if lang == "zh" else f" (from {p['from']})"
        lines.append(f"    {t} = {_num(p['value'])}{since}")
    cite = _citation(step, lang)
    if cite:
        lines.append(f"    {cite}")
    lines.append(f"    {step['at']}")
    return lines


def render(trace: dict[str, Any], lang: str = "zh", fmt: str = "text") -> str:
    """Render the JSON trace of a decision as text (`fmt="text"`) or Markdown (`fmt="markdown"`)."""
    if lang not in WORDS:
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    if fmt not in ("text", "markdown"):
        raise ValueError(f"fmt must be 'text' or 'markdown', not {fmt!r}")
    w = WORDS[lang]
    md = fmt == "markdown"
    out: list[str] = []
    for name, prog in trace["programs"].items():
        title = _title(prog.get("title"), lang, name)
        verdict = w["eligible"] if prog["eligible"] else w["not_eligible"]
        head = f"{title}{w['lp']}{name}{w['rp']}{w['sep']}{verdict}"
        if prog.get("amount") is not None and prog["eligible"]:
            head += f"{w['comma']}{w['amount']} {_num(prog['amount'])} {w['yuan']}"
        if prog.get("tier"):
            head += f"{w['comma']}{w['tier']} {prog['tier']}"
        out.append(("## " if md else "") + head)
        for member in prog.get("members") or []:
            verdict_m = w["eligible"] if member["eligible"] else w["not_eligible"]
            amount_m = f"{w['comma']}{_num(member['amount'])} {w['yuan']}" if member["eligible"] and \
                member.get("amount") is not None else ""
            who = f"[{member['index']}]" + (f" {member['id']}" if member.get("id") else "")
            if member.get("tier"):
                amount_m += f"{w['comma']}{w['tier']} {member['tier']}"
            out.append(f"  {MARK['eligible' if member['eligible'] else 'not_eligible']} {who}{w['sep']}"
                       f"{verdict_m}{amount_m}")
        out.append(f"{w['date']}{w['sep']}{trace['decided_for']}{w['comma']}{prog['file']}{w['lp']}{prog['jurisdiction']}{w['rp']}")
        out.append(f"{w['policy']}{w['sep']}{trace['policy']['hash'][:19]}…{w['comma']}{w['layers']}{w['sep']}"
                   + " → ".join(prog["layers"]))
        steps = prog["steps"]
        rules = [s for s in steps if s["kind"] == "rule"]
        if prog["eligible"]:
            decisive = [s for s in rules if s["outcome"] == "passed"]
        else:
            decisive = [s for s in rules if s["outcome"] == "failed"]
        rest = [s for s in rules if s not in decisive]
        blocks = [(w["decisive"], decisive), (w["other"], rest),
                  (w["values"], [s for s in steps if s["kind"] == "computed" and s["outcome"] != "not_evaluated"])]
        for heading, group in blocks:
            if not group:
                continue
            out.append("")
            out.append(("### " if md else "") + heading)
            for s in group:
                lines = _step_lines(s, lang, fmt)
                if md:
                    out.append("- " + lines[0])
                    out.extend("  " + ln.strip() for ln in lines[1:])
                else:
                    out.append("  " + lines[0])
                    out.extend("  " + ln for ln in lines[1:])
        out.append("")
    if trace.get("warnings"):
        for warning in trace["warnings"]:
            out.append(f"{w['warning']}{w['sep']}{warning}")
    if trace.get("defaulted"):
        shown = trace["defaulted"][:12]
        more = len(trace["defaulted"]) - len(shown)
        out.append(f"{w['defaulted']}{w['sep']}" + ", ".join(shown) + (f" … (+{more})" if more > 0 else ""))
    return "\n".join(out).rstrip() + "\n"
