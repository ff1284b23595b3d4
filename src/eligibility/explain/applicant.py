"""The applicant's view of a decision: plain words only, the outcome and the monthly total first.

The auditor's view (text.py, html.py) shows every rule, expression, hash and citation. An applicant
needs less and plainer: what the household receives each month, what cannot be decided yet and what
is missing, and for each refusal the reasons in the order they decided it. No expression, input path,
program name or value code is shown: a value appears only with its label (facts.yaml, labels.yaml),
a comparison only when both sides have one. Programs marked `role: helper` (household membership, the
tiers) are not benefits and are left out; a `role: notice` program is shown as a notice when it applies.
"""

from __future__ import annotations

import re
from decimal import Decimal
from html import escape
from typing import Any

import attrs

from eligibility.base.labels import APPLICANT_WORDS, OPS, VALUE_WORDS, WORDS
from eligibility.explain.words import MARK, fact_titles, is_unknown, rule_groups, title_text, value_text, verdict_of

_MEMBER = re.compile(r"^(?:household\.)?members\[(\d+)\]")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@attrs.frozen
class Line:
    """One program in the applicant's view: its title, what it comes to, and the reasons or what is missing."""

    title: str
    state: str  # granted | waiting | refused | notice
    detail: str = ""
    reasons: tuple[str, ...] = ()


@attrs.frozen
class View:
    """The applicant's view of one decision, ready to print as text or HTML."""

    decided_for: str
    total: str | None
    granted: tuple[Line, ...]
    waiting: tuple[Line, ...]
    refused: tuple[Line, ...]
    notices: tuple[Line, ...]


def _members(trace: dict[str, Any]) -> dict[int, str]:
    """Each member's id by index, from the per-member programs of the trace."""
    out: dict[int, str] = {}
    for prog in (trace.get("programs") or {}).values():
        for m in prog.get("members") or []:
            if m.get("id"):
                out.setdefault(int(m["index"]), str(m["id"]))
    return out


def _who(index: int, ids: dict[int, str], lang: str) -> str:
    a = APPLICANT_WORDS[lang]
    return f"{a['member']} {ids.get(index, f'#{index + 1}')}"


def _fact(path: str, titles: dict[str, Any], ids: dict[int, str], lang: str) -> str:
    """A fact by its label, and the member it is about: "出生日期（家庭成员 m1）"."""
    w, a = WORDS[lang], APPLICANT_WORDS[lang]
    title = title_text(titles.get(path), lang, "")
    if not title:  # the same field of another member or record carries the label
        field = re.sub(r"\[\d+\]", "[]", path)
        title = next((title_text(t, lang, "") for p, t in titles.items() if re.sub(r"\[\d+\]", "[]", p) == field
                      and title_text(t, lang, "")), "") or str(a["other_fact"])
    m = _MEMBER.match(path)
    return f"{title}{w['lp']}{_who(int(m.group(1)), ids, lang)}{w['rp']}" if m else title


def _plain_side(side: dict[str, Any], lang: str) -> str | None:
    """A comparison's side in words ("家庭月人均收入 800.00"), or None when it has no label to show."""
    value = side.get("value")
    if is_unknown(value) or isinstance(value, (list, dict)):
        return None
    label = title_text(side.get("label"), lang, "")
    shown = title_text(side.get("value_label"), lang, "")
    if not shown:
        if isinstance(value, bool) or value is None:
            return None
        if not _NUMBER.match(str(value)):
            return None  # a text value or code without a label
        shown = value_text(value, lang)
    if label:
        return f"{label} {shown}"
    return shown if _NUMBER.match(str(side.get("expression", "")).strip("\"'")) else None


def _plain_pair(pair: dict[str, Any], lang: str) -> str | None:
    if not pair.get("evaluated") or pair.get("op") not in ("<", "<=", ">", ">=", "==", "!="):
        return None
    holds = pair.get("result")
    if not isinstance(holds, bool):
        return None
    left, right = _plain_side(pair["left"], lang), _plain_side(pair["right"], lang)
    if left is None or right is None:
        return None
    words = OPS[lang][pair["op"]]
    return f"{left} {words[0] if holds else words[1]} {right}"


def _comparisons(step: dict[str, Any], lang: str, item_path: str | None = None) -> list[str]:
    out: list[str] = []
    for comp in step.get("comparisons") or []:
        if not comp.get("evaluated"):
            continue
        if "pairs" in comp and item_path is None:
            pairs = comp["pairs"]
        else:
            pairs = [p for item in comp.get("items") or [] if item.get("path") == item_path for p in item["pairs"]]
        out.extend(t for t in (_plain_pair(p, lang) for p in pairs) if t)
    return out


def _reason(step: dict[str, Any], lang: str, item_path: str | None = None) -> str:
    w = WORDS[lang]
    title = title_text(step.get("title"), lang, "")
    shown = _comparisons(step, lang, item_path)
    return title + (f"{w['sep']}{w['comma'].join(shown)}" if shown else "")


def _refusal_reasons(prog: dict[str, Any], ids: dict[int, str], lang: str) -> tuple[str, ...]:
    """The reasons of a refusal, the rules that decided it first, then the others also not met."""
    w = WORDS[lang]
    groups = dict(rule_groups(prog, lang))
    ordered = [*groups.get(w["decisive"], []), *groups.get(w["also_failing"], [])]
    reasons = [_reason(s, lang) for s in ordered if s.get("outcome") in ("failed", "error")
               and "eligible" in s.get("used_by", ["eligible"]) and title_text(s.get("title"), lang, "")]
    per_member: dict[int, list[str]] = {}
    steps = [s for s in prog.get("steps") or [] if s.get("kind") == "rule" and s.get("outcome") == "per_record"]
    steps.sort(key=lambda s: (not s.get("needed", True), "eligible" not in s.get("used_by", ["eligible"])))
    for s in steps:
        if not title_text(s.get("title"), lang, ""):
            continue
        for item in s.get("value") or []:
            m = _MEMBER.match(str(item.get("path") or ""))
            if m and item.get("outcome") == "failed":
                per_member.setdefault(int(m.group(1)), []).append(_reason(s, lang, item.get("path")))
    for m in prog.get("members") or []:
        if m.get("eligible") is False and per_member.get(int(m["index"])):
            reasons.append(f"{_who(int(m['index']), ids, lang)}{w['sep']}"
                           + str(w["why_not_semi"]).join(per_member[int(m["index"])]))
    return tuple(dict.fromkeys(reasons))


def _missing(prog: dict[str, Any], titles: dict[str, Any], ids: dict[int, str], lang: str,
             key: str = "unknown") -> str:
    a, w = APPLICANT_WORDS[lang], WORDS[lang]
    paths = [str(p) for p in prog.get(key) or []]
    if not paths:
        return ""
    facts = list(dict.fromkeys(_fact(p, titles, ids, lang) for p in paths))
    return f"{a['needs']}{w['sep']}{w['list'].join(facts)}"


def _tier(name: str, value: object, lang: str) -> str:
    """A category in words, or "" when the policies give it no label."""
    return str(VALUE_WORDS[lang].get(f"{name}.{value}", "")) if value else ""


def _granted(name: str, prog: dict[str, Any], titles: dict[str, Any], ids: dict[int, str], lang: str) -> Line:
    a, w = APPLICANT_WORDS[lang], WORDS[lang]
    title = title_text(prog.get("title"), lang, "")
    amount = prog.get("amount")
    parts: list[str] = []
    if amount is not None and not is_unknown(amount) and Decimal(str(amount)) != 0:
        parts.append(f"{a['per_month']} {value_text(amount)} {w['yuan']}")
    elif prog.get("unknown"):
        parts.append(f"{w['amount_waits']}{w['sep']}{_missing(prog, titles, ids, lang)}")
    else:
        parts.append(str(a["no_cash"]))
    members = prog.get("members")
    if members is not None:
        several = sum(1 for m in members if m.get("eligible")) > 1
        who = []
        for m in members:
            if not m.get("eligible"):
                continue
            text = _who(int(m["index"]), ids, lang)
            extra = []
            if m.get("amount") not in (None, "0.00") and not is_unknown(m.get("amount")) and several:
                extra.append(f"{value_text(m['amount'])} {w['yuan']}")
            if _tier(name, m.get("tier"), lang):
                extra.append(_tier(name, m.get("tier"), lang))
            elif m.get("tier_unknown"):  # a category not known yet is said so, not left out
                extra.append(f"{w['tier_waits']}{w['sep']}{_missing(m, titles, ids, lang, 'tier_unknown')}")
            who.append(text + (f"{w['lp']}{w['comma'].join(extra)}{w['rp']}" if extra else ""))
        if who:
            parts.append(f"{a['for_whom']}{w['sep']}{w['list'].join(who)}")
    elif _tier(name, prog.get("tier"), lang):
        parts.append(_tier(name, prog.get("tier"), lang))
    elif prog.get("tier_unknown"):
        parts.append(f"{w['tier_waits']}{w['sep']}{_missing(prog, titles, ids, lang, 'tier_unknown')}")
    return Line(title, "granted", str(w["comma"]).join(parts))


def applicant_view(trace: dict[str, Any], lang: str) -> View:
    """Build the applicant's view of a decision's JSON trace."""
    a, w = APPLICANT_WORDS[lang], WORDS[lang]
    titles = fact_titles(trace)
    ids = _members(trace)
    granted, waiting, refused, notices = [], [], [], []
    total = Decimal(0)
    paid = False
    for name, prog in (trace.get("programs") or {}).items():
        role = prog.get("role", "benefit")
        title = title_text(prog.get("title"), lang, "")
        state = verdict_of(prog)
        if role == "helper":
            continue
        if role == "notice":
            if state == "eligible":
                notices.append(Line(title, "notice"))
            continue
        if state == "eligible":
            line = _granted(name, prog, titles, ids, lang)
            granted.append(line)
            amount = prog.get("amount")
            if amount is not None and not is_unknown(amount) and Decimal(str(amount)) != 0:
                total += Decimal(str(amount))
                paid = True
        elif state == "error":
            waiting.append(Line(title, "waiting", str(a["policy_gap"])))
        elif state == "undetermined":
            waiting.append(Line(title, "waiting", _missing(prog, titles, ids, lang)))
        else:
            refused.append(Line(title, "refused", reasons=_refusal_reasons(prog, ids, lang)))
    shown_total = f"{value_text(f'{total:.2f}')} {w['yuan']}" if paid else None
    return View(str(trace.get("decided_for")), shown_total, tuple(granted), tuple(waiting), tuple(refused),
                tuple(notices))


def render_applicant_text(trace: dict[str, Any], lang: str, md: bool = False) -> str:
    """The applicant's view as plain text (or Markdown)."""
    a, w = APPLICANT_WORDS[lang], WORDS[lang]
    view = applicant_view(trace, lang)
    h1, h2, item, sub = ("# ", "## ", "- ", "    - ") if md else ("", "", "  ", "      ")
    out = [f"{h1}{a['page']}{w['lp']}{w['date']} {view.decided_for}{w['rp']}"]
    out.append(f"{a['total']} {view.total}" if view.total else str(a["none_granted"]))
    for notice in view.notices:
        out.append(f"{a['notice']}{w['sep']}{notice.title}")
    if view.granted:
        out += ["", f"{h2}{a['granted']}"]
        out += [f"{item}{MARK['eligible']} {g.title}{w['sep']}{g.detail}" for g in view.granted]
    if view.waiting:
        out += ["", f"{h2}{a['waiting']}", str(a["waiting_intro"])]
        out += [f"{item}{MARK['undetermined']} {g.title}" + (f"{w['sep']}{g.detail}" if g.detail else "")
                for g in view.waiting]
    if view.refused:
        out += ["", f"{h2}{a['refused']}"]
        for r in view.refused:
            out.append(f"{item}{MARK['not_eligible']} {r.title}" + (f"{w['sep']}{a['because']}" if r.reasons else ""))
            out += [f"{sub}{reason}" for reason in r.reasons]
    out += ["", str(a["full_record"])]
    return "\n".join(out) + "\n"


CSS = """\
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;padding:12px;color:#1b1b1b;background:#fff;overflow-wrap:anywhere;
font:17px/1.6 system-ui,-apple-system,"Segoe UI","PingFang SC","Hiragino Sans GB","Noto Sans CJK SC",
"Source Han Sans SC","Microsoft YaHei",sans-serif}
main{max-width:40rem;margin:0 auto}
h1{font-size:1.35rem;margin:.2rem 0 .3rem}
h2{font-size:1.15rem;margin:1.4rem 0 .4rem}
p{margin:.3rem 0}
ul{margin:.2rem 0;padding-left:1.2rem}
.meta{color:#444;font-size:.92rem}
.total{font-size:1.3rem;font-weight:700;padding:.6rem .8rem;border-radius:6px;background:#e9f5ec;
border-left:6px solid #1e7b34;margin:.6rem 0}
.total.none{background:#f4f4f4;border-left-color:#777;font-weight:600;font-size:1.05rem}
.card{list-style:none;margin:.5rem 0;padding:.5rem .7rem;border-radius:6px;border:1px solid #ddd;border-left:6px solid}
.cards{padding:0}
.granted{border-left-color:#1e7b34;background:#f3faf5}
.refused{border-left-color:#b3261e}
.waiting{border:2px dashed #3657a8;border-left:6px solid #3657a8;background:#eef2fb}
.notice{border:1px solid #c9a227;background:#fff8e1;border-radius:6px;padding:.5rem .7rem;margin:.5rem 0}
.mark{font-weight:700;margin-right:.3em}
.granted .mark{color:#1e7b34}
.refused .mark{color:#b3261e}
.waiting .mark{color:#3657a8}
.title{font-weight:700}
.detail{display:block}
.reasons{margin:.2rem 0 0;color:#333}
footer{margin-top:1.5rem;color:#555;font-size:.9rem}
@media print{body{padding:0;font-size:11pt}.card{break-inside:avoid}}
"""


def _card(line: Line, lang: str, mark: str) -> list[str]:
    a = APPLICANT_WORDS[lang]
    out = [f'<li class="card {line.state}"><span class="mark">{escape(mark)}</span>'
           f'<span class="title">{escape(line.title)}</span>']
    if line.detail:
        out.append(f'<span class="detail">{escape(line.detail)}</span>')
    if line.reasons:
        out.append(f'<span class="detail">{escape(str(a["because"]))}{escape(str(WORDS[lang]["sep"]))}</span>'
                   '<ul class="reasons">' + "".join(f"<li>{escape(r)}</li>" for r in line.reasons) + "</ul>")
    out.append("</li>")
    return out


def render_applicant_html(trace: dict[str, Any], lang: str) -> str:
    """The applicant's view as one self-contained HTML page (inline CSS, no script, no network)."""
    a, w = APPLICANT_WORDS[lang], WORDS[lang]
    view = applicant_view(trace, lang)
    out = ["<!DOCTYPE html>", f'<html lang="{"zh-CN" if lang == "zh" else "en"}">', "<head>",
           '<meta charset="utf-8">', '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{escape(str(a['page']))} · {escape(view.decided_for)}</title>",
           f"<style>\n{CSS}</style>", "</head>", "<body>", "<main>",
           f"<h1>{escape(str(a['page']))}</h1>",
           f'<p class="meta">{escape(str(w["date"]))}{escape(str(w["sep"]))}{escape(view.decided_for)}</p>']
    if view.total:
        out.append(f'<p class="total">{escape(str(a["total"]))} {escape(view.total)}</p>')
    else:
        out.append(f'<p class="total none">{escape(str(a["none_granted"]))}</p>')
    out.extend(f'<p class="notice">{escape(str(a["notice"]))}{escape(str(w["sep"]))}{escape(n.title)}</p>'
               for n in view.notices)
    for key, lines, mark in (("granted", view.granted, MARK["eligible"]), ("waiting", view.waiting, "?"),
                             ("refused", view.refused, MARK["not_eligible"])):
        if not lines:
            continue
        out.append(f'<section id="{key}"><h2>{escape(str(a[key]))}</h2>')
        if key == "waiting":
            out.append(f"<p>{escape(str(a['waiting_intro']))}</p>")
        out.append('<ul class="cards">')
        for line in lines:
            out.extend(_card(line, lang, mark))
        out.append("</ul></section>")
    out += [f"<footer><p>{escape(str(a['full_record']))}</p></footer>", "</main>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


__all__ = ["View", "applicant_view", "render_applicant_html", "render_applicant_text"]
