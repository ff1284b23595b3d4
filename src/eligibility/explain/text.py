"""Render a decision's JSON trace as readable text or Markdown, in Chinese or English.

Only the trace JSON is read, so a stored decision record explains itself months later.
"""

from __future__ import annotations

from typing import Any

from eligibility.base.labels import WORDS, labels_scope
from eligibility.explain.whynot import near_miss_lines, step_lines
from eligibility.explain.words import MARK, citation, pair_text, param_line, rule_groups, title_text, value_text


def _step_lines(step: dict[str, Any], trace: dict[str, Any], lang: str) -> list[str]:
    w = WORDS[lang]
    title = title_text(step.get("title"), lang, step["name"])
    outcome = step["outcome"]
    head = f"{MARK.get(outcome, ' ')} {title} [{step['name']}]"
    if outcome in ("passed", "failed", "not_in_force", "error"):
        head += f"{w['sep']}{w[outcome]}"
    elif outcome == "not_evaluated":
        head += f"{w['sep']}{w['skipped']}"
    elif outcome == "computed":
        head += f" = {value_text(step.get('value'), lang)}"
    if step.get("kind") == "rule" and step.get("needed") is False and outcome in ("passed", "failed"):
        head += w["not_needed"]
    lines = [head]
    if outcome == "error" and step.get("error"):
        lines.append(f"    {step['error']}")
    if outcome == "per_record":
        for item in step.get("value") or []:
            o = item["outcome"]
            shown = w[o] if o in ("passed", "failed", "eligible", "not_eligible") else value_text(item["value"], lang)
            lines.append(f"    {MARK.get(o, '=')} {item['item']}{w['sep']}{shown}")
    for comp in step.get("comparisons", []):
        if not comp.get("evaluated"):
            continue
        if "pairs" in comp:
            lines.extend("    " + pair_text(pair, lang) for pair in comp["pairs"])
        else:
            for item in comp.get("items", []):
                pairs = w["comma"].join(pair_text(p, lang) for p in item["pairs"])
                lines.append(f"    {item['item']}{w['sep']}{pairs}")
    if outcome == "computed" and step.get("expression"):
        lines.append(f"    = {' '.join(step['expression'].split())}")
        if step.get("rounding"):
            r = step["rounding"]
            word = {"half_up": "rounded", "up": "rounded_up", "down": "rounded_down"}[r["mode"]]
            lines.append(f"    {w[word]} {r['to']}")
    for skipped in step.get("not_evaluated", []):
        lines.append(f"    {w['skipped']}{w['sep']}{skipped}")
    for f in step.get("inputs", []):
        if f["kind"] == "fact" and not isinstance(f.get("value"), dict):
            t = title_text(f.get("title"), lang, f["path"])
            shown = title_text(f.get("value_label"), lang, "") or value_text(f["value"], lang)
            lines.append(f"    {t} [{f['path']}] = {shown}")
    lines.extend("    " + param_line(p, trace, lang) for p in step.get("inputs", []) if p["kind"] == "parameter")
    cite = citation(step, lang)
    if cite:
        lines.append(f"    {cite}")
    lines.append(f"    {step['at']}")
    return lines


def _amount_lines(prog: dict[str, Any], trace: dict[str, Any], lang: str) -> list[str]:
    step = next((s for s in prog["steps"] if s["name"] == "amount" and s["kind"] == "output"), None)
    if step is None or not step.get("evaluated") or step["outcome"] == "per_record":
        return []
    w = WORDS[lang]
    lines = [f"= {w['amount']} [amount] = {value_text(step.get('value'))} {w['yuan']}",
             f"    = {' '.join(step['expression'].split())}"]
    for i in step.get("inputs", []):
        if i["kind"] == "parameter":
            lines.append("    " + param_line(i, trace, lang))
        elif i["kind"] in ("computed", "rule", "program"):
            name = title_text(i.get("title"), lang, i["name"])
            lines.append(f"    {name} [{i['name']}] = {value_text(i['value'], lang)}")
        elif i["kind"] == "fact" and not isinstance(i.get("value"), dict):
            lines.append(f"    {title_text(i.get('title'), lang, i['path'])} = {value_text(i['value'], lang)}")
    if step.get("rounding"):
        r = step["rounding"]
        word = {"half_up": "rounded", "up": "rounded_up", "down": "rounded_down"}[r["mode"]]
        lines.append(f"    {w[word]} {r['to']}")
    lines.append(f"    {step['at']}")
    return lines


def _summary_line(name: str, prog: dict[str, Any], lang: str) -> str:
    w = WORDS[lang]
    title = title_text(prog.get("title"), lang, name)
    if prog.get("error"):
        return f"! {title} [{name}]{w['sep']}{w['undecided']}"
    mark = MARK["eligible" if prog["eligible"] else "not_eligible"]
    text = f"{mark} {title} [{name}]{w['sep']}{w['eligible'] if prog['eligible'] else w['not_eligible']}"
    if prog["eligible"] and prog.get("amount") not in (None, "0.00"):
        text += f"{w['comma']}{value_text(prog['amount'])} {w['yuan']}"
    members = prog.get("members") or []
    tiers = [m["tier"] for m in members if m.get("tier") and m["eligible"]]
    if tiers:
        text += f"{w['comma']}{w['tier']} " + w["list"].join(tiers)
    elif prog.get("tier"):
        text += f"{w['comma']}{w['tier']} {prog['tier']}"
    elif members and prog["eligible"]:
        who = [str(m.get("id") or m["index"]) for m in members if m["eligible"]]
        text += f"{w['comma']}" + w["list"].join(who)
    return text


def render(trace: dict[str, Any], lang: str = "zh", fmt: str = "text") -> str:
    """Render the JSON trace of a decision as text (`fmt="text"`), Markdown (`"markdown"`) or HTML (`"html"`)."""
    with labels_scope(trace):
        return _render(trace, lang, fmt)


def _render(trace: dict[str, Any], lang: str, fmt: str) -> str:
    if lang not in WORDS:
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    if fmt == "html":
        from eligibility.explain.html import render_html

        return render_html(trace, lang)
    if fmt not in ("text", "markdown"):
        raise ValueError(f"fmt must be 'text', 'markdown' or 'html', not {fmt!r}")
    w = WORDS[lang]
    md = fmt == "markdown"
    out: list[str] = []
    if trace.get("why_not"):  # near misses first (explain(why_not=True))

        out.extend(near_miss_lines(trace, lang, md))
    if len(trace["programs"]) > 1:
        out.append(("## " if md else "") + f"{w['overview']}{w['lp']}{w['date']} {trace['decided_for']}{w['rp']}")
        for name, prog in trace["programs"].items():
            out.append(("- " if md else "  ") + _summary_line(name, prog, lang))
        out.append("")
    for name, prog in trace["programs"].items():
        title = title_text(prog.get("title"), lang, name)
        verdict = w["eligible"] if prog["eligible"] else w["not_eligible"]
        eligible_step = next((s for s in prog["steps"] if s["name"] == "eligible" and s["kind"] == "output"), None)
        if eligible_step is not None and eligible_step["outcome"] == "not_in_force":
            verdict = f"{w['not_eligible']}{w['lp']}{w['not_in_force']}{w['rp']}"
        if prog.get("error"):
            verdict = f"{w['undecided']}{w['sep']}{prog['error']}"
        head = f"{title}{w['lp']}{name}{w['rp']}{w['sep']}{verdict}"
        if prog.get("amount") is not None and prog["eligible"]:
            head += f"{w['comma']}{w['amount']} {value_text(prog['amount'])} {w['yuan']}"
        if prog.get("tier"):
            head += f"{w['comma']}{w['tier']} {prog['tier']}"
        out.append(("## " if md else "") + head)
        for member in prog.get("members") or []:
            verdict_m = w["eligible"] if member["eligible"] else w["not_eligible"]
            extra = ""
            if member["eligible"] and member.get("amount") is not None:
                extra += f"{w['comma']}{value_text(member['amount'])} {w['yuan']}"
            if member.get("tier"):
                extra += f"{w['comma']}{w['tier']} {member['tier']}"
            who = f"[{member['index']}]" + (f" {member['id']}" if member.get("id") else "")
            mark = MARK["eligible" if member["eligible"] else "not_eligible"]
            out.append(("- " if md else "  ") + f"{mark} {who}{w['sep']}{verdict_m}{extra}")
        out.append(f"{w['date']}{w['sep']}{trace['decided_for']}{w['comma']}{prog['file']}"
                   f"{w['lp']}{prog['jurisdiction']}{w['rp']}" + ("  " if md else ""))
        out.append(f"{w['policy']}{w['sep']}{trace['policy']['hash'][:19]}…{w['comma']}{w['layers']}{w['sep']}"
                   + " → ".join(prog["layers"]))
        blocks = rule_groups(prog, lang)
        if prog["eligible"]:
            blocks.insert(1, (w["amount_rule"], [{"_lines": _amount_lines(prog, trace, lang)}]))
        for heading, group in blocks:
            group = [g for g in group if "_lines" not in g or g["_lines"]]
            if not group:
                continue
            out.append("")
            out.append(("### " if md else "") + heading)
            for s in group:
                lines = s["_lines"] if "_lines" in s else _step_lines(s, trace, lang)
                if "_lines" not in s and trace.get("why_not"):  # what would change it, under each failed rule

                    lines = lines + step_lines(trace, name, s, lang)
                if md:
                    out.append("- " + lines[0])
                    out.extend("    - " + ln.strip() for ln in lines[1:])
                else:
                    out.append("  " + lines[0])
                    out.extend("  " + ln for ln in lines[1:])
        out.append("")
    for warning in trace.get("warnings") or []:
        message = warning["message"][lang] if isinstance(warning, dict) else str(warning)
        out.append(f"{w['warning']}{w['sep']}{message}")
    if trace.get("defaulted"):
        shown = trace["defaulted"][:12]
        more = len(trace["defaulted"]) - len(shown)
        out.append(f"{w['defaulted']}{w['sep']}" + w["list"].join(shown) + (f" … (+{more})" if more > 0 else ""))
    return "\n".join(out).rstrip() + "\n"
