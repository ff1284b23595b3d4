"""The why-not section of a trace in words: what single change would make each failed rule pass.

Reads the trace JSON only (the search that fills it is `eligibility.engine.whynot`).
"""

from __future__ import annotations

from typing import Any

from eligibility.base.labels import WORDS
from eligibility.explain.words import title_text, value_text


def _words(lang: str) -> dict[str, Any]:
    return WORDS[lang]


def _shown(value: Any, label: dict[str, str] | None, lang: str) -> str:
    return title_text(label, lang, "") or value_text(value, lang)


def _alternatives(items: list[str], lang: str) -> str:
    w = _words(lang)
    if len(items) == 1:
        return items[0]
    return str(w["list"]).join(items[:-1]) + str(w["why_not_or"]) + items[-1]


def change_text(changes: list[dict[str, Any]], lang: str, member: bool = False, brief: bool = False) -> str:
    """One suggestion: a change (or several values of one enum fact) and, unless brief, what it alone would do."""
    w = _words(lang)
    c = changes[0]
    path = str(c.get("path"))
    if c["kind"] == "remove":
        text = f"{w['why_not_remove']} {path}"
        detail = [_shown(None, c.get("from_label"), lang)] if c.get("from_label") else []
    else:
        title = title_text(c.get("title"), lang, path)
        to = _alternatives([_shown(x.get("to"), x.get("to_label"), lang) for x in changes], lang)
        verb = w[f"why_not_{c['kind']}"]
        text = f"{title} [{path}] {verb} {to}"
        detail = [f"{w['why_not_now']} {_shown(c.get('from'), c.get('from_label'), lang)}"]
    if not brief:
        alone = "why_not_alone_member" if member else "why_not_alone"
        detail.append(w[alone] if c.get("program_eligible_alone") else w["why_not_not_alone"])
    return text + (f"{w['lp']}{w['why_not_semi'].join(detail)}{w['rp']}" if detail else "")


def _grouped(changes: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive values of one enum fact with the same effect read as one suggestion."""
    groups: list[list[dict[str, Any]]] = []
    for c in changes:
        last = groups[-1][0] if groups else None
        if (last is not None and c["kind"] == "set" and last["kind"] == "set" and c["path"] == last["path"]
                and c.get("to_label") is not None and c["program_eligible_alone"] == last["program_eligible_alone"]):
            groups[-1].append(c)
        else:
            groups.append([c])
    return groups


def _rule_lines(entry: dict[str, Any], lang: str, who: str | None) -> list[str]:
    w = _words(lang)
    head = w["why_not_change"] + (f"{w['lp']}{who}{w['rp']}" if who else "") + w["sep"]
    tail = "" if entry.get("complete", True) else w["why_not_incomplete"]
    if not entry.get("changes"):
        return [head + w["why_not_none"] + tail]
    return [head + change_text(g, lang, member=who is not None) + tail for g in _grouped(entry["changes"])]


def step_lines(trace: dict[str, Any], program: str, step: dict[str, Any], lang: str) -> list[str]:
    """The lines under a rule of the explanation: what would change it (empty when the trace has no why_not)."""
    section = (trace.get("why_not") or {}).get("programs", {}).get(program)
    if not isinstance(section, dict) or step.get("kind") != "rule":
        return []
    lines: list[str] = []
    for entry in section.get("failed") or []:
        if entry.get("rule") == step.get("name"):
            lines.extend("    " + x for x in _rule_lines(entry, lang, None))
    for m in section.get("members") or []:
        for entry in m.get("failed") or []:
            if entry.get("rule") == step.get("name"):
                lines.extend("    " + x for x in _rule_lines(entry, lang, str(m.get("item"))))
    return lines


def near_misses(trace: dict[str, Any], lang: str) -> list[str]:
    """One line for each program (or member of a per-person program) that one change alone would make eligible."""
    w = _words(lang)
    out = []
    programs = trace.get("programs") or {}
    for name, section in ((trace.get("why_not") or {}).get("programs") or {}).items():
        title = title_text((programs.get(name) or {}).get("title"), lang, name)
        places: list[tuple[str | None, list[dict[str, Any]]]] = []
        if section.get("near_miss") and not section.get("eligible"):
            places.append((None, section.get("failed") or []))
        places += [(str(m.get("item")), m.get("failed") or []) for m in section.get("members") or []
                   if m.get("near_miss")]
        for who, rules in places:
            seen: dict[str, dict[str, Any]] = {}
            for entry in rules:
                for c in entry.get("changes") or []:
                    if c.get("near_miss"):
                        seen.setdefault(repr((c.get("path"), c.get("kind"), c.get("to"))), c)
            if seen:
                where = f"{title}{w['lp']}{name}{w['rp']}" + (f"{w['comma']}{who}" if who else "")
                texts = [change_text(g, lang, brief=True) for g in _grouped(list(seen.values()))]
                out.append(f"{where}{w['sep']}{w['why_not_semi'].join(texts)}")
    return out


def near_miss_lines(trace: dict[str, Any], lang: str, md: bool = False) -> list[str]:
    """The near misses of a decision under their heading, for the top of its explanation ([] if none)."""
    lines = near_misses(trace, lang)
    if not lines:
        return []
    heading = _words(lang)["why_not_near_miss"]
    if md:
        return [f"**{heading}**", "", *(f"- {x}" for x in lines), ""]
    return [heading, *(f"  {x}" for x in lines), ""]


__all__ = ["change_text", "near_miss_lines", "near_misses", "step_lines"]
