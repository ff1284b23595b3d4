"""Render a decision's JSON trace as readable text or Markdown, in Chinese or English.

Only the trace JSON is read, so a stored decision record explains itself months later.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any


class _Labels(Mapping[str, dict[str, Any]]):
    """Labels by language; the policy set's overrides apply within `labels_scope`."""

    def __init__(self, section: str) -> None:
        self.section = section

    def __getitem__(self, lang: str) -> dict[str, Any]:
        overrides = _OVERRIDES.get()
        table = _DEFAULTS[self.section] if overrides is None else overrides[self.section]
        return table[lang]

    def __iter__(self) -> Iterator[str]:
        return iter(("zh", "en"))

    def __len__(self) -> int:
        return 2


def _by_language(section: dict[str, Any], ops: bool = False) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {"zh": {}, "en": {}}
    for key, value in section.items():
        for lang in ("zh", "en"):
            out[lang][key] = (str(value["holds"][lang]), str(value["fails"][lang])) if ops else str(value[lang])
    return out


def _load_defaults() -> dict[str, dict[str, dict[str, Any]]]:
    from .loader import parse_yaml
    from .schema import to_plain
    from .source import SourceText

    path = Path(__file__).with_name("labels.yaml")
    diags: list[Any] = []
    root = parse_yaml(SourceText("labels.yaml", path.read_text(encoding="utf-8")), diags)
    data: Any = to_plain(root) if root is not None else {}
    labels = data["labels"]
    return {"words": _by_language(labels["words"]), "ops": _by_language(labels["ops"], ops=True),
            "page": _by_language(labels["page"])}


_DEFAULTS = _load_defaults()
_OVERRIDES: ContextVar[dict[str, dict[str, dict[str, Any]]] | None] = ContextVar("labels", default=None)
#: Words and sentence parts, from labels.yaml (a policy set's `labels:` file may override them).
WORDS = _Labels("words")
#: How a comparison reads when it holds, and when it does not.
OPS = _Labels("ops")
PAGE_WORDS = _Labels("page")


@contextmanager
def labels_scope(trace: dict[str, Any]) -> Iterator[None]:
    """Apply the labels a trace carries (its policy set's overrides) while rendering it."""
    given = trace.get("labels")
    if not given:
        yield
        return
    merged = {name: {lang: dict(table[lang]) for lang in ("zh", "en")} for name, table in _DEFAULTS.items()}
    for section in ("words", "ops", "page"):
        if section in given:
            extra = _by_language(given[section], ops=section == "ops")
            for lang in ("zh", "en"):
                merged[section][lang].update(extra[lang])
    token = _OVERRIDES.set(merged)
    try:
        yield
    finally:
        _OVERRIDES.reset(token)


MARK = {"passed": "✓", "failed": "✗", "not_evaluated": "·", "not_in_force": "–", "computed": "=",
        "eligible": "✓", "not_eligible": "✗", "error": "!", "per_record": "·"}


def _num(value: Any, lang: str = "en") -> str:
    """Show a trace value: thousands grouped, booleans and lists in words."""
    if isinstance(value, bool):
        return str(WORDS[lang]["true" if value else "false"])
    if value is None:
        return "—"
    if isinstance(value, dict) and "count" in value:
        return str(value["count"])
    if isinstance(value, list):
        return str(WORDS[lang]["list"]).join(_num(v, lang) for v in value)
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


def _title(obj: dict[str, Any] | None, lang: str, fallback: str) -> str:
    if obj and obj.get(lang):
        return str(obj[lang])
    return fallback


def _side(side: dict[str, Any], lang: str) -> str:
    value = side.get("value")
    shown = _title(side.get("value_label"), lang, "") or _num(value, lang)
    label = side.get("label")
    name = _title(label, lang, side["expression"]) if label else side["expression"]
    if isinstance(value, list):
        return f"({shown})"
    if name in (shown, str(value)) or name.strip("\"'") == str(value):
        return shown
    return f"{name} {shown}"


def _pair(pair: dict[str, Any], lang: str) -> str:
    w = WORDS[lang]
    if not pair.get("evaluated"):
        return f"{pair['left']['expression']} {pair['op']} {pair['right']['expression']}{w['sep']}{w['not_evaluated']}"
    holds = pair.get("result")
    words = OPS[lang].get(pair["op"], (pair["op"], "not " + pair["op"]))
    verb = words[0] if holds is not False else words[1]
    text = f"{_side(pair['left'], lang)} {verb} {_side(pair['right'], lang)}"
    diff = pair.get("difference")
    if diff is not None and Decimal(diff) != 0 and pair["op"] in ("<", "<=", ">", ">="):
        amount = _num(diff.lstrip("-"))
        above = Decimal(diff) > 0
        if lang == "zh":
            text += f"（{'高出' if above else '低'} {amount}）"
        else:
            text += f" ({amount} {'above' if above else 'below'})"
    return text


def _citation(step: dict[str, Any], lang: str) -> str | None:
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


def _param_line(p: dict[str, Any], trace: dict[str, Any], lang: str) -> str:
    w = WORDS[lang]
    title = _title(p.get("title"), lang, p["name"])
    notes = []
    if p.get("from"):
        notes.append(f"{p['from']} {w['since']}".strip() if lang == "zh" else f"{w['from']} {p['from']}")
    src = (trace.get("sources") or {}).get(p.get("source") or "")
    if src:
        notes.append(f"{p['source']}{w['comma']}{w['confidence']} {src['confidence']}")
    elif p.get("source"):
        notes.append(str(p["source"]))
    return f"{title} = {_num(p['value'])}" + (f"{w['lp']}{w['comma'].join(notes)}{w['rp']}" if notes else "")


def _step_lines(step: dict[str, Any], trace: dict[str, Any], lang: str) -> list[str]:
    w = WORDS[lang]
    title = _title(step.get("title"), lang, step["name"])
    outcome = step["outcome"]
    head = f"{MARK.get(outcome, ' ')} {title} [{step['name']}]"
    if outcome in ("passed", "failed", "not_in_force", "error"):
        head += f"{w['sep']}{w[outcome]}"
    elif outcome == "not_evaluated":
        head += f"{w['sep']}{w['skipped']}"
    elif outcome == "computed":
        head += f" = {_num(step.get('value'), lang)}"
    if step.get("kind") == "rule" and step.get("needed") is False and outcome in ("passed", "failed"):
        head += w["not_needed"]
    lines = [head]
    if outcome == "error" and step.get("error"):
        lines.append(f"    {step['error']}")
    if outcome == "per_record":
        for item in step.get("value") or []:
            o = item["outcome"]
            shown = w[o] if o in ("passed", "failed", "eligible", "not_eligible") else _num(item["value"], lang)
            lines.append(f"    {MARK.get(o, '=')} {item['item']}{w['sep']}{shown}")
    for comp in step.get("comparisons", []):
        if not comp.get("evaluated"):
            continue
        if "pairs" in comp:
            lines.extend("    " + _pair(pair, lang) for pair in comp["pairs"])
        else:
            for item in comp.get("items", []):
                pairs = w["comma"].join(_pair(p, lang) for p in item["pairs"])
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
            t = _title(f.get("title"), lang, f["path"])
            shown = _title(f.get("value_label"), lang, "") or _num(f["value"], lang)
            lines.append(f"    {t} [{f['path']}] = {shown}")
    lines.extend("    " + _param_line(p, trace, lang) for p in step.get("inputs", []) if p["kind"] == "parameter")
    cite = _citation(step, lang)
    if cite:
        lines.append(f"    {cite}")
    lines.append(f"    {step['at']}")
    return lines


def _amount_lines(prog: dict[str, Any], trace: dict[str, Any], lang: str) -> list[str]:
    step = next((s for s in prog["steps"] if s["name"] == "amount" and s["kind"] == "output"), None)
    if step is None or not step.get("evaluated") or step["outcome"] == "per_record":
        return []
    w = WORDS[lang]
    lines = [f"= {w['amount']} [amount] = {_num(step.get('value'))} {w['yuan']}",
             f"    = {' '.join(step['expression'].split())}"]
    for i in step.get("inputs", []):
        if i["kind"] == "parameter":
            lines.append("    " + _param_line(i, trace, lang))
        elif i["kind"] in ("computed", "rule", "program"):
            lines.append(f"    {_title(i.get('title'), lang, i['name'])} [{i['name']}] = {_num(i['value'], lang)}")
        elif i["kind"] == "fact" and not isinstance(i.get("value"), dict):
            lines.append(f"    {_title(i.get('title'), lang, i['path'])} = {_num(i['value'], lang)}")
    if step.get("rounding"):
        r = step["rounding"]
        word = {"half_up": "rounded", "up": "rounded_up", "down": "rounded_down"}[r["mode"]]
        lines.append(f"    {w[word]} {r['to']}")
    lines.append(f"    {step['at']}")
    return lines


def _groups(prog: dict[str, Any], lang: str) -> list[tuple[str, list[dict[str, Any]]]]:
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


def _summary_line(name: str, prog: dict[str, Any], lang: str) -> str:
    w = WORDS[lang]
    title = _title(prog.get("title"), lang, name)
    if prog.get("error"):
        return f"! {title} [{name}]{w['sep']}{w['undecided']}"
    mark = MARK["eligible" if prog["eligible"] else "not_eligible"]
    text = f"{mark} {title} [{name}]{w['sep']}{w['eligible'] if prog['eligible'] else w['not_eligible']}"
    if prog["eligible"] and prog.get("amount") not in (None, "0.00"):
        text += f"{w['comma']}{_num(prog['amount'])} {w['yuan']}"
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
        from .html import render_html

        return render_html(trace, lang)
    if fmt not in ("text", "markdown"):
        raise ValueError(f"fmt must be 'text', 'markdown' or 'html', not {fmt!r}")
    w = WORDS[lang]
    md = fmt == "markdown"
    out: list[str] = []
    if trace.get("why_not"):  # near misses first (explain(why_not=True))
        from .whynot import near_miss_lines

        out.extend(near_miss_lines(trace, lang, md))
    if len(trace["programs"]) > 1:
        out.append(("## " if md else "") + f"{w['overview']}{w['lp']}{w['date']} {trace['decided_for']}{w['rp']}")
        for name, prog in trace["programs"].items():
            out.append(("- " if md else "  ") + _summary_line(name, prog, lang))
        out.append("")
    for name, prog in trace["programs"].items():
        title = _title(prog.get("title"), lang, name)
        verdict = w["eligible"] if prog["eligible"] else w["not_eligible"]
        eligible_step = next((s for s in prog["steps"] if s["name"] == "eligible" and s["kind"] == "output"), None)
        if eligible_step is not None and eligible_step["outcome"] == "not_in_force":
            verdict = f"{w['not_eligible']}{w['lp']}{w['not_in_force']}{w['rp']}"
        if prog.get("error"):
            verdict = f"{w['undecided']}{w['sep']}{prog['error']}"
        head = f"{title}{w['lp']}{name}{w['rp']}{w['sep']}{verdict}"
        if prog.get("amount") is not None and prog["eligible"]:
            head += f"{w['comma']}{w['amount']} {_num(prog['amount'])} {w['yuan']}"
        if prog.get("tier"):
            head += f"{w['comma']}{w['tier']} {prog['tier']}"
        out.append(("## " if md else "") + head)
        for member in prog.get("members") or []:
            verdict_m = w["eligible"] if member["eligible"] else w["not_eligible"]
            extra = ""
            if member["eligible"] and member.get("amount") is not None:
                extra += f"{w['comma']}{_num(member['amount'])} {w['yuan']}"
            if member.get("tier"):
                extra += f"{w['comma']}{w['tier']} {member['tier']}"
            who = f"[{member['index']}]" + (f" {member['id']}" if member.get("id") else "")
            mark = MARK["eligible" if member["eligible"] else "not_eligible"]
            out.append(("- " if md else "  ") + f"{mark} {who}{w['sep']}{verdict_m}{extra}")
        out.append(f"{w['date']}{w['sep']}{trace['decided_for']}{w['comma']}{prog['file']}"
                   f"{w['lp']}{prog['jurisdiction']}{w['rp']}" + ("  " if md else ""))
        out.append(f"{w['policy']}{w['sep']}{trace['policy']['hash'][:19]}…{w['comma']}{w['layers']}{w['sep']}"
                   + " → ".join(prog["layers"]))
        blocks = _groups(prog, lang)
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
                    from .whynot import step_lines

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
