"""Render a decision's JSON trace as readable text or Markdown, in Chinese or English.

Only the trace JSON is read, so a stored decision record explains itself months later.
"""

from __future__ import annotations

import decimal
from typing import Any

from eligibility.base.labels import WORDS, labels_scope
from eligibility.base.numbers import ENGINE_CONTEXT
from eligibility.explain.whynot import near_miss_lines, step_lines
from eligibility.explain.words import (
    MARK,
    amount_waits,
    citation,
    fact_line,
    fact_name,
    fact_titles,
    facts_read_through,
    is_unknown,
    pair_text,
    param_line,
    provenance_text,
    rule_groups,
    shown_fact,
    tier_waits,
    title_text,
    unknown_text,
    value_text,
    verdict_of,
    waiting_verdict,
)


def _step_lines(step: dict[str, Any], trace: dict[str, Any], lang: str,
                prog: dict[str, Any] | None = None) -> list[str]:
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
    elif outcome == "unknown":
        head += f"{w['sep']}{unknown_text(step.get('value'), trace, lang)}"
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
    lines.extend("    " + fact_line(f, lang) for f in step.get("inputs", []) if shown_fact(f))
    if prog is not None and step.get("kind") == "rule":
        lines.extend(f"    {w['read_via']}{w['sep']}{fact_line(f, lang)}" for f in facts_read_through(step, prog))
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
    value = step.get("value")
    shown = unknown_text(value, trace, lang) if is_unknown(value) else f"{value_text(value)} {w['yuan']}"
    lines = [f"{MARK['unknown'] if is_unknown(value) else '='} {w['amount']} [amount] = {shown}",
             f"    = {' '.join(step['expression'].split())}"]
    for i in step.get("inputs", []):
        if i["kind"] == "parameter":
            lines.append("    " + param_line(i, trace, lang))
        elif i["kind"] in ("computed", "rule", "program"):
            name = title_text(i.get("title"), lang, i["name"])
            lines.append(f"    {name} [{i['name']}] = {value_text(i['value'], lang)}")
        elif shown_fact(i):
            lines.append("    " + fact_line(i, lang, with_path=False))
    if step.get("rounding"):
        r = step["rounding"]
        word = {"half_up": "rounded", "up": "rounded_up", "down": "rounded_down"}[r["mode"]]
        lines.append(f"    {w[word]} {r['to']}")
    lines.append(f"    {step['at']}")
    return lines


def _summary_line(name: str, prog: dict[str, Any], lang: str, trace: dict[str, Any]) -> str:
    w = WORDS[lang]
    title = title_text(prog.get("title"), lang, name)
    if prog.get("error"):
        return f"! {title} [{name}]{w['sep']}{w['undecided']}"
    if verdict_of(prog) == "undetermined":
        return f"{MARK['undetermined']} {title} [{name}]{w['sep']}{waiting_verdict(prog, trace, lang)}"
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
    waits = [x for x in (amount_waits(prog, trace, lang), tier_waits(prog, trace, lang)) if x]
    return text + "".join(f"{w['comma']}{x}" for x in waits)


def _member_line(member: dict[str, Any], trace: dict[str, Any], lang: str) -> str:
    w = WORDS[lang]
    who = f"[{member['index']}]" + (f" {member['id']}" if member.get("id") else "")
    if member.get("eligible") is None:
        return f"{MARK['undetermined']} {who}{w['sep']}{waiting_verdict(member, trace, lang)}"
    verdict_m = w["eligible"] if member["eligible"] else w["not_eligible"]
    extra = ""
    if member["eligible"] and member.get("amount") is not None:
        extra += f"{w['comma']}{value_text(member['amount'])} {w['yuan']}"
    if member.get("tier"):
        extra += f"{w['comma']}{w['tier']} {member['tier']}"
    for waits in (amount_waits(member, trace, lang), tier_waits(member, trace, lang)):
        if waits:
            extra += f"{w['comma']}{waits}"
    mark = MARK["eligible" if member["eligible"] else "not_eligible"]
    return f"{mark} {who}{w['sep']}{verdict_m}{extra}"


def assumed_lines(trace: dict[str, Any], lang: str, md: bool) -> list[str]:
    """The closing section: what was assumed (defaults), what remains to verify (unknown), what is out of date.

    Only a decision with facts not known or out of date has the section; otherwise the defaults
    are one line, as they always were.
    """
    w = WORDS[lang]
    defaulted = [str(p) for p in trace.get("defaulted") or []]
    unknown = [str(p) for p in trace.get("unknown") or []]
    stale = {str(p): m for p, m in (trace.get("provenance") or {}).items() if isinstance(m, dict) and m.get("stale")}

    def listed(paths: list[str]) -> str:
        shown = paths[:12]
        more = len(paths) - len(shown)
        return str(w["list"]).join(shown) + (f" … (+{more})" if more > 0 else "")

    if not unknown and not stale:
        return [f"{w['defaulted']}{w['sep']}{listed(defaulted)}"] if defaulted else []
    titles = fact_titles(trace)
    waiting: dict[str, list[str]] = {}
    for name, prog in (trace.get("programs") or {}).items():
        for p in dict.fromkeys([*(prog.get("unknown") or []), *(prog.get("tier_unknown") or [])]):
            waiting.setdefault(str(p), []).append(name)
    item = "- " if md else "  "
    out = [("## " if md else "") + str(w["assumed_heading"])]
    if defaulted:
        out.append(f"{item}{w['assumed']}{w['sep']}{listed(defaulted)}")
    if unknown:
        out.append(f"{item}{w['to_verify']}{w['sep']}".rstrip())
        for p in unknown:
            who = w["list"].join(waiting[p]) if p in waiting else w["not_needed_now"]
            prov = provenance_text((trace.get("provenance") or {}).get(p), lang)
            out.append(f"{'    - ' if md else '    '}{fact_name(p, titles, lang)}{w['lp']}{who}{w['rp']}"
                       + (f"{w['prov_dash']}{prov}" if prov else ""))
    if stale:
        out.append(f"{item}{w['stale_facts']}{w['sep']}".rstrip())
        for p, meta in sorted(stale.items()):
            out.append(f"{'    - ' if md else '    '}{fact_name(p, titles, lang)}{w['prov_dash']}"
                       f"{provenance_text(meta, lang)}")
    return out


#: Who reads the explanation: the applicant (plain words, the outcome first) or the auditor (everything).
VIEWS = ("auditor", "applicant")


def render(trace: dict[str, Any], lang: str = "zh", fmt: str = "text", view: str = "auditor") -> str:
    """Render the JSON trace of a decision as text (`fmt="text"`), Markdown (`"markdown"`) or HTML (`"html"`).

    `view="auditor"` shows every rule, number, expression and citation; `view="applicant"` only
    plain words: what the household receives, what cannot be decided yet, and why not.
    Numbers are shown under the engine's decimal context, whatever the caller's context is.
    """
    with decimal.localcontext(ENGINE_CONTEXT), labels_scope(trace):
        return _render(trace, lang, fmt, view)


def _render(trace: dict[str, Any], lang: str, fmt: str, view: str = "auditor") -> str:
    if lang not in WORDS:
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    if view not in VIEWS:
        raise ValueError(f"view must be 'auditor' or 'applicant', not {view!r}")
    if view == "applicant":
        from eligibility.explain.applicant import render_applicant_html, render_applicant_text

        if fmt == "html":
            return render_applicant_html(trace, lang)
        if fmt not in ("text", "markdown"):
            raise ValueError(f"fmt must be 'text', 'markdown' or 'html', not {fmt!r}")
        return render_applicant_text(trace, lang, md=fmt == "markdown")
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
            out.append(("- " if md else "  ") + _summary_line(name, prog, lang, trace))
        out.append("")
    for name, prog in trace["programs"].items():
        title = title_text(prog.get("title"), lang, name)
        verdict = w["eligible"] if prog["eligible"] else w["not_eligible"]
        eligible_step = next((s for s in prog["steps"] if s["name"] == "eligible" and s["kind"] == "output"), None)
        if eligible_step is not None and eligible_step["outcome"] == "not_in_force":
            verdict = f"{w['not_eligible']}{w['lp']}{w['not_in_force']}{w['rp']}"
        if prog.get("error"):
            verdict = f"{w['undecided']}{w['sep']}{prog['error']}"
        elif verdict_of(prog) == "undetermined":
            verdict = f"{MARK['undetermined']} {waiting_verdict(prog, trace, lang)}"
        head = f"{title}{w['lp']}{name}{w['rp']}{w['sep']}{verdict}"
        if prog.get("amount") is not None and prog["eligible"]:
            head += f"{w['comma']}{w['amount']} {value_text(prog['amount'])} {w['yuan']}"
        if prog.get("tier") and verdict_of(prog) != "undetermined":
            head += f"{w['comma']}{w['tier']} {prog['tier']}"
        waits = amount_waits(prog, trace, lang)
        if waits:
            head += f"{w['comma']}{waits}"
        waits = tier_waits(prog, trace, lang) if not prog.get("members") else ""  # else under each member
        if waits:
            head += f"{w['comma']}{waits}"
        out.append(("## " if md else "") + head)
        for member in prog.get("members") or []:
            out.append(("- " if md else "  ") + _member_line(member, trace, lang))
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
                lines = s["_lines"] if "_lines" in s else _step_lines(s, trace, lang, prog)
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
    out.extend(assumed_lines(trace, lang, md))
    return "\n".join(out).rstrip() + "\n"
