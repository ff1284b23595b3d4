"""Render a decision's JSON trace as one printable HTML page, in Chinese or English.

The page is a single file: inline CSS, no network, no script needed to read it (one small script
only unfolds the folds before printing). It reads the trace JSON only, so a stored record renders
the same page years later. The outcome comes first, then the rules that decided it with their
numbers, thresholds and citations; everything else is folded in `<details>`. It fits a 360-pixel
phone screen: long expressions and hashes wrap instead of scrolling sideways.
"""

from __future__ import annotations

from html import escape
from typing import Any

from eligibility.base.labels import PAGE_WORDS, WORDS, labels_scope
from eligibility.explain.whynot import near_misses, step_lines
from eligibility.explain.words import (
    MARK,
    amount_waits,
    citation,
    fact_name,
    fact_titles,
    facts_read_through,
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

CSS = """\
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;padding:12px;color:#1b1b1b;background:#fff;overflow-wrap:anywhere;
font:16px/1.55 system-ui,-apple-system,"Segoe UI","PingFang SC","Hiragino Sans GB","Noto Sans CJK SC",
"Source Han Sans SC","Microsoft YaHei",sans-serif}
main{max-width:48rem;margin:0 auto}
main *{max-width:100%}
h1{font-size:1.35rem;margin:.2rem 0 .6rem}
h2{font-size:1.2rem;margin:1.6rem 0 .4rem;padding-top:.6rem;border-top:2px solid #d0d0d0}
h3{font-size:1.05rem;margin:1rem 0 .3rem}
h4{font-size:1rem;margin:0 0 .25rem}
p{margin:.3rem 0}
ul{margin:.2rem 0;padding-left:1.2rem}
li{margin:.15rem 0}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:.88em;
white-space:pre-wrap;overflow-wrap:anywhere;background:#f3f3f3;border-radius:3px;padding:0 .2em}
a{color:#0b57d0}
.meta{color:#444;font-size:.92rem}
.summary{list-style:none;padding:0}
.summary li{margin:.3rem 0}
.verdict{font-weight:700;font-size:1.1rem;padding:.5rem .7rem;border-left:6px solid;border-radius:4px;margin:.4rem 0}
.ok{border-color:#1e7b34;background:#e9f5ec}
.no{border-color:#b3261e;background:#fcebea}
.wait{border-color:#3657a8;background:#eef2fb}
.amount{display:inline-block;white-space:nowrap}
.step{border:1px solid #ddd;border-left:4px solid #999;border-radius:4px;padding:.45rem .6rem;margin:.5rem 0}
.step.passed,.step.eligible{border-left-color:#1e7b34}
.step.failed,.step.not_eligible,.step.error{border-left-color:#b3261e}
.step.unknown{border-left-color:#3657a8;border-left-style:dashed}
.mark{font-weight:700;margin-right:.2em}
.passed .mark,.eligible .mark{color:#1e7b34}
.failed .mark,.not_eligible .mark,.error .mark{color:#b3261e}
.unknown .mark,.wait .mark{color:#3657a8}
.prov{color:#333;font-size:.92rem}
.name{color:#555;font-weight:400}
.cmp{font-weight:600}
.cite{color:#333;font-size:.94rem}
.at{color:#666;font-size:.85rem}
.warn{border:1px solid #c9a227;background:#fff8e1;border-radius:4px;padding:.4rem .6rem;margin:.5rem 0}
details{border:1px solid #ddd;border-radius:6px;padding:.3rem .6rem;margin:.6rem 0}
summary{cursor:pointer;font-weight:600}
dl{margin:.2rem 0}
dt{font-weight:600;margin-top:.4rem}
dd{margin:0 0 0 1rem}
footer{margin-top:1.5rem;color:#555;font-size:.85rem}
@page{size:A4;margin:10mm 9mm}
@media print{
body{padding:0;font:8pt/1.3 system-ui,"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",sans-serif}
main{max-width:none;columns:2;column-gap:6mm;column-rule:1px solid #ddd}
header,main>h2:first-of-type{column-span:all}
h1{font-size:12pt;margin:0 0 2pt}
h2{font-size:10pt;margin:6pt 0 2pt;padding-top:3pt;border-top-width:1px;break-after:avoid}
h3{font-size:9pt;margin:4pt 0 1pt;break-after:avoid}
h4{font-size:8pt;margin:0}
p,li{margin:0}
ul{padding-left:9pt}
code{font-size:7.5pt;background:none;padding:0}
.verdict{font-size:9pt;padding:1pt 4pt;margin:2pt 0;border-left-width:3pt}
.summary{column-span:all;columns:2;column-gap:6mm}
.summary li{margin:0 0 1pt;break-inside:avoid}
section[id^="program-"]>*:not(h2):not(.verdict):not(.meta):not(.warn){font-size:7.5pt}
.step{break-inside:avoid;border:0;border-left:2pt solid #999;border-radius:0;padding:0 0 0 4pt;margin:2pt 0}
.cite,.at,.prov,.meta{font-size:7pt}
details{border:0;padding:0;margin:2pt 0}
details::details-content{content-visibility:visible;display:block}
summary{list-style:none;font-size:8.5pt}
summary::-webkit-details-marker{display:none}
dt{margin-top:2pt;break-after:avoid}
footer{margin-top:4pt;font-size:7pt}
}
"""

#: Unfold every fold before printing, so that the paper copy holds the whole explanation.
PRINT_SCRIPT = ("addEventListener('beforeprint',function(){"
                "document.querySelectorAll('details').forEach(function(d){d.open=true})})")


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _link(url: object) -> str:
    """Return a link only for http(s) addresses; anything else (javascript:, data:) is shown as text."""
    text = str(url)
    if text.lower().startswith(("https://", "http://")):
        return f'<a href="{_e(text)}" rel="noreferrer">{_e(text)}</a>'
    return _e(text)


def _css(prog: dict[str, Any]) -> str:
    """The style of a program's outcome: ok (eligible), wait (not decided yet), no (not eligible or error)."""
    state = verdict_of(prog)
    return {"eligible": "ok", "undetermined": "wait"}.get(state, "no")


def _verdict(prog: dict[str, Any], lang: str, trace: dict[str, Any]) -> str:
    w = WORDS[lang]
    if prog.get("error"):
        return f"{MARK['error']} {_e(w.get('undecided', w['error']))}"
    if verdict_of(prog) == "undetermined":
        return f'<span class="mark">{MARK["undetermined"]}</span> {_e(waiting_verdict(prog, trace, lang))}'
    ok = bool(prog.get("eligible"))
    text = f"{MARK['eligible' if ok else 'not_eligible']} {_e(w['eligible'] if ok else w['not_eligible'])}"
    if prog.get("amount") is not None and ok:
        shown = f"{w['amount']} {value_text(prog['amount'])} {w['yuan']}"
        text += f'{_e(w["comma"])}<span class="amount">{_e(shown)}</span>'
    if prog.get("tier"):
        text += f"{_e(w['comma'])}{_e(w['tier'])} {_e(prog['tier'])}"
    waits = amount_waits(prog, trace, lang)
    if waits:
        text += f"{_e(w['comma'])}{_e(waits)}"
    waits = tier_waits(prog, trace, lang) if not prog.get("members") else ""  # else under each member
    if waits:
        text += f"{_e(w['comma'])}{_e(waits)}"
    return text


def _step(step: dict[str, Any], trace: dict[str, Any], lang: str, prog: dict[str, Any] | None = None) -> list[str]:
    """One rule or computed value: the heading, each number compared, the citation and the position."""
    w = WORDS[lang]
    outcome = str(step.get("outcome"))
    title = title_text(step.get("title"), lang, str(step.get("name")))
    badge = ""
    if outcome in ("passed", "failed", "not_in_force", "error"):
        badge = w[outcome]
    elif outcome == "not_evaluated":
        badge = w["skipped"]
    elif outcome == "computed":
        badge = "= " + value_text(step.get("value"), lang)
    elif outcome == "unknown":
        badge = unknown_text(step.get("value"), trace, lang)
    if step.get("kind") == "rule" and step.get("needed") is False and outcome in ("passed", "failed"):
        badge += w["not_needed"]
    out = [f'<article class="step {_e(outcome)}">',
           f'<h4><span class="mark">{_e(MARK.get(outcome, ""))}</span>{_e(title)} '
           f'<span class="name">[{_e(step.get("name"))}]</span>{_e(w["sep"] if badge else "")}{_e(badge)}</h4>',
           "<ul>"]
    if outcome == "error" and step.get("error"):
        out.append(f"<li>{_e(step['error'])}</li>")
    if outcome == "per_record":
        for item in step.get("value") or []:
            o = item.get("outcome")
            decided = o in ("passed", "failed", "eligible", "not_eligible")
            shown = w[o] if decided else value_text(item.get("value"), lang)
            out.append(f"<li>{_e(MARK.get(str(o), '='))} {_e(item.get('item'))}{_e(w['sep'])}{_e(shown)}</li>")
    for comp in step.get("comparisons") or []:
        if not comp.get("evaluated"):
            continue
        if "pairs" in comp:
            out.extend(f'<li class="cmp">{_e(pair_text(pair, lang))}</li>' for pair in comp["pairs"])
        else:
            for item in comp.get("items") or []:
                pairs = w["comma"].join(pair_text(p, lang) for p in item.get("pairs") or [])
                out.append(f'<li class="cmp">{_e(item.get("item"))}{_e(w["sep"])}{_e(pairs)}</li>')
    if step.get("expression"):
        out.append(f"<li><code>{_e(' '.join(str(step.get('expression') or '').split()))}</code></li>")
        rounding = step.get("rounding")
        if isinstance(rounding, dict):
            word = {"half_up": "rounded", "up": "rounded_up", "down": "rounded_down"}.get(str(rounding.get("mode")))
            if word:
                out.append(f"<li>{_e(w[word])} {_e(rounding.get('to'))}</li>")
    for skipped in step.get("not_evaluated") or []:
        out.append(f"<li>{_e(w['skipped'])}{_e(w['sep'])}<code>{_e(skipped)}</code></li>")
    for f in step.get("inputs") or []:
        kind = f.get("kind")
        if shown_fact(f):
            out.append(_fact(f, lang))
        elif kind in ("computed", "rule", "program", "output") and step.get("kind") == "output":
            t = title_text(f.get("title"), lang, str(f.get("name")))
            out.append(f"<li>{_e(t)} <span class=\"name\">[{_e(f.get('name'))}]</span> = "
                       f"{_e(value_text(f.get('value'), lang))}</li>")
    if prog is not None and step.get("kind") == "rule":
        out.extend(_fact(f, lang, w["read_via"]) for f in facts_read_through(step, prog))
    out.extend(f"<li>{_e(param_line(p, trace, lang))}</li>"
               for p in step.get("inputs") or [] if p.get("kind") == "parameter")
    out.append("</ul>")
    cite = citation(step, lang)
    if cite:
        out.append(f'<p class="cite">{_e(cite)}</p>')
    out.append(f'<p class="at"><code>{_e(step.get("at"))}</code></p>')
    out.append("</article>")
    return out


def _fact(f: dict[str, Any], lang: str, lead: str = "") -> str:
    """A fact input as a list item: label [path] = value, and where it came from on its own line."""
    w = WORDS[lang]
    t = title_text(f.get("title"), lang, str(f.get("path")))
    shown = title_text(f.get("value_label"), lang, "") or value_text(f.get("value"), lang)
    head = f"{_e(lead)}{_e(w['sep'])}" if lead else ""
    text = f"<li>{head}{_e(t)} <span class=\"name\">[{_e(f.get('path'))}]</span> = {_e(shown)}"
    prov = provenance_text(f.get("provenance"), lang)
    if prov:
        text += f'<br><span class="prov">{_e(prov)}</span>'
    return text + "</li>"


def _why_not(lines: list[str], name: str, step: dict[str, Any], trace: dict[str, Any], lang: str) -> list[str]:
    """Add what would change a failed rule (when the trace has a why_not section) at the end of its block."""
    if not trace.get("why_not"):
        return lines

    extra = [f'<p class="why">{_e(x.strip())}</p>' for x in step_lines(trace, name, step, lang)]
    return lines[:-1] + extra + lines[-1:]


def _fold(summary: str, body: list[str], open_: bool = False) -> list[str]:
    return [f"<details{' open' if open_ else ''}><summary>{summary}</summary>", *body, "</details>"]


def _program(name: str, prog: dict[str, Any], trace: dict[str, Any], lang: str) -> list[str]:
    w, pw = WORDS[lang], PAGE_WORDS[lang]
    ok = bool(prog.get("eligible"))
    title = title_text(prog.get("title"), lang, name)
    out = [f'<section id="program-{_e(name)}">',
           f'<h2>{_e(title)} <span class="name">({_e(name)})</span></h2>',
           f'<p class="verdict {_css(prog)}">{_verdict(prog, lang, trace)}</p>']
    if prog.get("error"):
        out.append(f'<p class="warn">{_e(prog["error"])}</p>')
    members = prog.get("members") or []
    if members:
        out.append(f"<p><strong>{_e(pw['members'])}</strong></p><ul>")
        for m in members:
            if m.get("eligible") is None:
                who = f"[{m.get('index')}]" + (f" {m['id']}" if m.get("id") else "")
                out.append(f'<li class="wait">{_e(MARK["undetermined"])} {_e(who)}{_e(w["sep"])}'
                           f'{_e(waiting_verdict(m, trace, lang))}</li>')
                continue
            verdict = w["eligible"] if m.get("eligible") else w["not_eligible"]
            extra = ""
            if m.get("eligible") and m.get("amount") is not None:
                extra += f"{w['comma']}{value_text(m['amount'])} {w['yuan']}"
            if m.get("tier"):
                extra += f"{w['comma']}{w['tier']} {m['tier']}"
            who = f"[{m.get('index')}]" + (f" {m['id']}" if m.get("id") else "")
            for waits in (amount_waits(m, trace, lang), tier_waits(m, trace, lang)):
                if waits:
                    extra += f"{w['comma']}{waits}"
            mark = MARK["eligible" if m.get("eligible") else "not_eligible"]
            out.append(f"<li>{_e(mark)} {_e(who)}{_e(w['sep'])}{_e(verdict)}{_e(extra)}</li>")
        out.append("</ul>")
    out.append(f'<p class="meta">{_e(w["date"])}{_e(w["sep"])}{_e(trace.get("decided_for"))}{_e(w["comma"])}'
               f'<code>{_e(prog.get("file"))}</code>{_e(w["lp"])}{_e(prog.get("jurisdiction"))}{_e(w["rp"])}</p>')
    groups = rule_groups(prog, lang)
    decisive_heading, decisive = groups[0]
    if decisive:
        out.append(f"<h3>{_e(decisive_heading)}</h3>")
        for s in decisive:
            out.extend(_why_not(_step(s, trace, lang, prog), name, s, trace, lang))
    if ok:
        amount = next((s for s in prog.get("steps") or [] if s.get("name") == "amount" and s.get("kind") == "output"
                       and s.get("evaluated") and s.get("outcome") != "per_record"), None)
        if amount is not None:
            out.append(f"<h3>{_e(w['amount_rule'])}</h3>")
            out.extend(_step(amount, trace, lang))
    for heading, group in groups[1:]:
        if group:
            body = [line for s in group for line in _why_not(_step(s, trace, lang, prog), name, s, trace, lang)]
            out.extend(_fold(f"{_e(heading)}{_e(w['lp'])}{len(group)}{_e(w['rp'])}", body))
    outputs = [s for s in prog.get("steps") or [] if s.get("kind") == "output" and s.get("name") != "amount"]
    layers = " → ".join(str(x) for x in prog.get("layers") or [])
    body = [f"<p>{_e(w['layers'])}{_e(w['sep'])}<code>{_e(layers)}</code></p>",
            *(line for s in outputs for line in _step(s, trace, lang))]
    out.extend(_fold(_e(pw["outputs"]), body))
    out.append("</section>")
    return out


def _assumed(trace: dict[str, Any], lang: str) -> list[str]:
    """What was assumed (defaults, folded), what remains to verify (unknown facts) and what is out of date."""
    w = WORDS[lang]
    defaulted = trace.get("defaulted") or []
    unknown = [str(p) for p in trace.get("unknown") or []]
    stale = {str(p): m for p, m in (trace.get("provenance") or {}).items() if isinstance(m, dict) and m.get("stale")}
    fold = _fold(f"{_e(w['defaulted'] if not (unknown or stale) else w['assumed'])}{_e(w['lp'])}"
                 f"{len(defaulted)}{_e(w['rp'])}",
                 ["<ul>", *(f"<li><code>{_e(p)}</code></li>" for p in defaulted), "</ul>"]) if defaulted else []
    if not unknown and not stale:
        return fold
    titles = fact_titles(trace)
    waiting: dict[str, list[str]] = {}
    for name, prog in (trace.get("programs") or {}).items():
        for p in prog.get("unknown") or []:
            waiting.setdefault(str(p), []).append(name)
    out = ['<section id="assumed">', f"<h2>{_e(w['assumed_heading'])}</h2>"]
    if unknown:
        out.append(f'<div class="verdict wait"><p>{_e(w["to_verify"])}</p><ul>')
        for p in unknown:
            who = w["list"].join(waiting[p]) if p in waiting else w["not_needed_now"]
            prov = provenance_text((trace.get("provenance") or {}).get(p), lang)
            out.append(f"<li>{_e(fact_name(p, titles, lang))}{_e(w['lp'])}{_e(who)}{_e(w['rp'])}"
                       + (f'<br><span class="prov">{_e(prov)}</span>' if prov else "") + "</li>")
        out.append("</ul></div>")
    if stale:
        out.append(f'<div class="warn"><p>{_e(w["stale_facts"])}</p><ul>')
        out.extend(f"<li>{_e(fact_name(p, titles, lang))}{_e(w['prov_dash'])}{_e(provenance_text(m, lang))}</li>"
                   for p, m in sorted(stale.items()))
        out.append("</ul></div>")
    return [*out, *fold, "</section>"]


def render_html(trace: dict[str, Any], lang: str = "zh") -> str:
    """Return the explanation of a decision's JSON trace as one self-contained HTML page."""
    with labels_scope(trace):
        return _render_html(trace, lang)


def _render_html(trace: dict[str, Any], lang: str) -> str:
    if lang not in WORDS:
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    w, pw = WORDS[lang], PAGE_WORDS[lang]
    programs: dict[str, Any] = trace.get("programs") or {}
    policy = trace.get("policy") or {}
    out = ["<!DOCTYPE html>", f'<html lang="{"zh-CN" if lang == "zh" else "en"}">', "<head>",
           '<meta charset="utf-8">', '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_e(pw['page'])} · {_e(trace.get('decided_for'))}</title>",
           f"<style>\n{CSS}</style>", "</head>", "<body>", "<main>", "<header>", f"<h1>{_e(pw['page'])}</h1>",
           f'<p class="meta">{_e(w["date"])}{_e(w["sep"])}<strong>{_e(trace.get("decided_for"))}</strong>'
           f'{_e(w["comma"])}{_e(w["policy"])}{_e(w["sep"])}<code>{_e(str(policy.get("hash"))[:19])}…</code></p>',
           "</header>", f"<h2>{_e(pw['outcome'])}</h2>", '<ul class="summary">']
    for name, prog in programs.items():
        out.append(f'<li class="verdict {_css(prog)}"><a href="#program-{_e(name)}">'
                   f'{_e(title_text(prog.get("title"), lang, name))}</a>{_e(w["sep"])}'
                   f'{_verdict(prog, lang, trace)}</li>')
    out.append("</ul>")
    if trace.get("why_not"):  # near misses next to the outcome (explain(why_not=True))

        near = near_misses(trace, lang)
        if near:
            out.extend([f'<div class="warn"><strong>{_e(w["why_not_near_miss"])}</strong><ul>',
                        *(f"<li>{_e(x)}</li>" for x in near), "</ul></div>"])
    for warning in trace.get("warnings") or []:
        message = warning.get("message", {}).get(lang) if isinstance(warning, dict) else str(warning)
        out.append(f'<p class="warn">{_e(w["warning"])}{_e(w["sep"])}{_e(message)}</p>')
    for name, prog in programs.items():
        out.extend(_program(name, prog, trace, lang))
    out.extend(_assumed(trace, lang))
    sources: dict[str, Any] = trace.get("sources") or {}
    if sources:
        body = ["<dl>"]
        for sid, src in sources.items():
            body.append(f"<dt>{_e(sid)}{_e(w['sep'])}{_e(src.get('title'))}</dt>")
            for key in ("document", "articles", "date"):
                if src.get(key):
                    body.append(f"<dd>{_e(pw[key])}{_e(w['sep'])}{_e(src[key])}</dd>")
            if src.get("url"):
                body.append(f"<dd>{_e(pw['url'])}{_e(w['sep'])}{_link(src['url'])}</dd>")
            body.append(f"<dd>{_e(w['confidence'])} {_e(src.get('confidence'))}{_e(w['comma'])}"
                        f"<code>{_e(src.get('file'))}</code></dd>")
        body.append("</dl>")
        out.extend(_fold(f"{_e(pw['sources'])}{_e(w['lp'])}{len(sources)}{_e(w['rp'])}", body))
    files: dict[str, Any] = policy.get("files") or {}
    body = ["<ul>", *(f"<li><code>{_e(f)}</code><br><code>{_e(h)}</code></li>" for f, h in files.items()), "</ul>"]
    out.extend(_fold(f"{_e(pw['files'])}{_e(w['lp'])}{len(files)}{_e(w['rp'])}", body))
    out.extend(["<footer>",
                f"<p>{_e(pw['hash'])}{_e(w['sep'])}<code>{_e(policy.get('hash'))}</code></p>",
                f"<p>{_e(pw['jurisdiction'])}{_e(w['sep'])}{_e(policy.get('jurisdiction') or '—')}{_e(w['comma'])}"
                f"{_e(pw['library'])}{_e(w['sep'])}{_e(trace.get('library_version'))}{_e(w['comma'])}"
                f"{_e(pw['schema'])}{_e(w['sep'])}<code>{_e(trace.get('schema'))}</code></p>",
                f"<p>{_e(pw['decided_by'])}</p>",
                "</footer>", "</main>", f"<script>{PRINT_SCRIPT}</script>", "</body>", "</html>"])
    return "\n".join(out) + "\n"


__all__ = ["render_html"]
