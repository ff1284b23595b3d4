"""The discovery report as one HTML page with charts: inline SVG and CSS, no script, no network.

Counts and monthly amounts by town (street) and by program, the counts by reason, and the first
rows of the findings by priority, each linking to its household file and naming its trace.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING, Any

from eligibility.discover.words import money, reason_label, words

if TYPE_CHECKING:
    from eligibility.discover.report import Totals

#: Rows of the findings table shown in the page (the CSV has them all).
TABLE_ROWS = 200
_BAR = 360  # the longest bar, in pixels
_COLOURS = ("#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b7791f", "#c53030")


def bar_chart(title: str, items: Sequence[tuple[str, Decimal | int]], *, money: bool = False,
              colour: str = _COLOURS[0]) -> str:
    """Return a horizontal bar chart as an inline SVG element (labels escaped, no script)."""
    if not items:
        return f'<figure><figcaption>{escape(title)}</figcaption><p class="none">—</p></figure>'
    top = max((Decimal(v) for _, v in items), default=Decimal(0)) or Decimal(1)
    row, label_w = 22, 150
    height = row * len(items) + 8
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{label_w + _BAR + 130}" '
             f'height="{height}" aria-label="{escape(title)}">']
    for i, (label, value) in enumerate(items):
        y = 4 + i * row
        width = int(Decimal(value) / top * _BAR)
        shown = f"{Decimal(value):,.2f}" if money else f"{int(value):,}"
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(label[:24])}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{max(width, 1)}" height="{row - 6}" fill="{colour}">'
                     f'<title>{escape(label)}: {shown}</title></rect>'
                     f'<text x="{label_w + max(width, 1) + 6}" y="{y + 15}">{shown}</text>')
    parts.append("</svg>")
    return f'<figure><figcaption>{escape(title)}</figcaption>{"".join(parts)}</figure>'


def _top(counter: Mapping[Any, Any], n: int = 30) -> list[tuple[Any, Any]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))[:n]


def render_html(t: Totals, rows: Sequence[Mapping[str, Any]], *, on: dt.date, programs: Sequence[str],
                source: str) -> str:
    """Return the report page: summary figures, charts by street and program, and the first findings."""
    zh, en = words("zh"), words("en")

    def both(key: str) -> str:
        return f"{escape(zh[key])} · {escape(en[key])}"

    towns = _top(t.by_town)
    charts = [
        bar_chart(f"{zh['by_town']} · {en['by_town']} ({zh['count']} / {en['count']})", towns),
        bar_chart(f"{zh['by_town']} · {en['by_town']} ({zh['amount']} / {en['amount']})",
                  [(k, t.amount_by_town[k]) for k, _ in towns], money=True, colour=_COLOURS[1]),
        bar_chart(f"{zh['by_program']} · {en['by_program']} ({zh['count']} / {en['count']})", _top(t.by_program),
                  colour=_COLOURS[2]),
        bar_chart(f"{zh['by_program']} · {en['by_program']} ({zh['amount']} / {en['amount']})",
                  [(k, t.amount_by_program[k]) for k, _ in _top(t.by_program)], money=True, colour=_COLOURS[3]),
        bar_chart(f"{zh['by_reason']} · {en['by_reason']}",
                  [(f"{reason_label(r, 'zh')}", n) for r, n in _top(t.by_reason)], colour=_COLOURS[4]),
    ]
    table = ["<table><thead><tr><th>#</th><th>", both("priority"), "</th><th>", both("reason"),
             "</th><th>", both("town"), "</th><th>", both("program"), "</th><th>", both("amount"),
             "</th><th>ID</th><th>trace</th></tr></thead><tbody>"]
    for i, r in enumerate(rows[:TABLE_ROWS], 1):
        area = r.get("area") or {}
        reason = r["reason"]
        table.append(
            f"<tr><td>{i}</td><td>{int(r['priority'])}</td><td>{escape(reason['zh'])}<br><small>"
            f"{escape(reason['en'])}</small></td><td>{escape(area.get('town', ''))}</td>"
            f"<td>{escape(' → '.join(r['programs']))}</td><td class=n>{escape(r.get('monthly_amount') or '')}</td>"
            f'<td><a href="{escape(r["household_file"])}">{escape(r["household"])}</a></td>'
            f"<td><code>{escape(r['trace'])}</code></td></tr>")
    table.append("</tbody></table>")
    total_amount = sum(t.amount_by_reason.values(), Decimal(0))
    return f"""<!DOCTYPE html>
<html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(zh['title'])} · {escape(en['title'])}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; margin: 2em; color: #1a202c; }}
h1 {{ font-size: 1.4em; }} figure {{ margin: 1em 0; }} figcaption {{ font-weight: bold; margin-bottom: .3em; }}
svg text {{ font-size: 12px; fill: #1a202c; }} .charts {{ display: flex; flex-wrap: wrap; gap: 1em 3em; }}
table {{ border-collapse: collapse; font-size: 13px; }} td, th {{ border: 1px solid #cbd5e0; padding: 3px 6px; }}
td.n {{ text-align: right; }} dl {{ display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }}
dt {{ font-weight: bold; }} p.note {{ max-width: 60em; }}
</style></head><body>
<h1>{escape(zh['title'])} · {escape(en['title'])}</h1>
<dl>
<dt>{both('date')}</dt><dd>{on.isoformat()}</dd>
<dt>{both('source')}</dt><dd>{escape(source)}</dd>
<dt>{both('programs')}</dt><dd>{escape(', '.join(programs))}</dd>
<dt>{both('households')}</dt><dd>{t.households:,}</dd>
<dt>{both('flagged')}</dt><dd>{len(t.flagged):,}</dd>
<dt>{both('findings')}</dt><dd>{sum(t.by_reason.values()):,}</dd>
<dt>{both('amount')}</dt><dd>{money(total_amount)}</dd>
<dt>{both('bad')}</dt><dd>{len(t.bad_lines):,}</dd>
</dl>
<p class="note">{escape(zh['unknown_note'])}<br>{escape(en['unknown_note'])}</p>
<p class="note">{escape(zh['priority_rule'])}<br>{escape(en['priority_rule'])}</p>
<p class="note">{escape(zh['amount_note'])}<br>{escape(en['amount_note'])}</p>
<div class="charts">{''.join(charts)}</div>
<h2>{both('findings')} (1–{min(len(rows), TABLE_ROWS):,} / {len(rows):,}: findings.csv)</h2>
{''.join(table)}
</body></html>
"""


__all__ = ["TABLE_ROWS", "bar_chart", "render_html"]
