"""The HTML explanation in a real browser: headless Chromium shows the outcome, the decisive rule and its
citation, and the page does not scroll sideways on a 360-pixel-wide phone.

How the width is checked: headless Chromium does not make a window narrower than 500 pixels
(`--window-size=360,2000` still gives `innerWidth` 500), so the page is placed, unchanged, in a
360-pixel-wide `<iframe srcdoc>` of a small harness page. The iframe is a real 360-pixel viewport
for the page's layout and CSS, and, being same-origin, lets the harness's script measure it after
the load event: the page's `scrollWidth` against its `clientWidth`, every element's box against
the right edge, and any element scrolling sideways inside itself. The script writes its findings
(and the page's visible text, `innerText`, which leaves out the closed `<details>`) into the
harness's DOM, which `--dump-dom` prints. Scrollbars are hidden as on a phone (`--hide-scrollbars`).
A screenshot of the same harness is taken too, for a person to look at when the test fails.
"""

from __future__ import annotations

import copy
import html
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import eligibility
from conftest import chromium

ROOT = Path(__file__).parent.parent
FAMILY = json.loads((ROOT / "examples" / "huadu-family.json").read_text(encoding="utf-8"))
ON = "2024-09-01"
WIDTH = 360




HARNESS = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><style>body{{margin:0}}iframe{{width:{width}px;height:2000px;border:0;
display:block}}</style></head><body><iframe id="page" srcdoc="{page}"></iframe><pre id="result"></pre>
<script>
addEventListener("load", function () {{
  var frame = document.getElementById("page"), doc = frame.contentDocument, root = doc.documentElement;
  var overflowing = [], scrolling = [];
  doc.querySelectorAll("body *").forEach(function (el) {{
    var box = el.getBoundingClientRect(), style = getComputedStyle(el);
    if (box.width > 0 && (box.right > root.clientWidth + 0.5 || box.left < -0.5)) {{
      overflowing.push(el.tagName + "." + el.className + ": " + Math.round(box.right));
    }}
    if ((style.overflowX === "auto" || style.overflowX === "scroll") && el.scrollWidth > el.clientWidth) {{
      scrolling.push(el.tagName + "." + el.className);
    }}
  }});
  document.getElementById("result").textContent = JSON.stringify({{
    scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, innerWidth: frame.contentWindow.innerWidth,
    overflowing: overflowing, scrolling: scrolling, text: doc.body.innerText}});
}});
</script></body></html>
"""


def browse(page: str, tmp_path: Path, name: str) -> dict[str, Any]:
    """Load a page in a 360-pixel viewport of headless Chromium; return the measurements and visible text."""
    exe = chromium()
    harness = tmp_path / f"{name}.harness.html"
    harness.write_text(HARNESS.format(width=WIDTH, page=html.escape(page, quote=True)), encoding="utf-8")
    (tmp_path / f"{name}.html").write_text(page, encoding="utf-8")
    flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={WIDTH},2000"]
    url = harness.resolve().as_uri()
    shot = tmp_path / f"{name}.png"
    subprocess.run([*flags, f"--screenshot={shot}", url], capture_output=True, timeout=120, check=False)
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "no screenshot was taken"
    done = subprocess.run([*flags, "--dump-dom", url], capture_output=True, timeout=120, check=False)
    dom = done.stdout.decode("utf-8", "replace")
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert found and found.group(1), f"the harness script did not run; chromium said: {done.stderr[-2000:]!r}"
    result: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return result


def assert_fits(result: dict[str, Any]) -> None:
    """The page fits the 360-pixel viewport: nothing sticks out or scrolls sideways."""
    assert result["innerWidth"] == WIDTH
    assert result["scrollWidth"] <= result["clientWidth"] == WIDTH, result["scrollWidth"]
    assert result["overflowing"] == []
    assert result["scrolling"] == []


def test_readme_family_page_in_a_phone_browser(engine: eligibility.Engine, tmp_path: Path) -> None:
    """The README family's page shows the eligible outcome, the income rule and its citation, within 360 px."""
    page = engine.decide(copy.deepcopy(FAMILY), on=ON).explain(lang="zh", fmt="html")
    result = browse(page, tmp_path, "readme-family")
    assert_fits(result)
    text = result["text"]
    assert "符合条件，每月金额 1,446.00 元" in text
    assert "综合评估后家庭月人均收入低于当地低保标准 [income_test]：通过" in text
    assert "低于 广州市最低生活保障标准（城乡统一） 1,282.00（低 482.00）" in text
    assert "粤民规字〔2019〕9号" in text


def test_refused_family_page_in_a_phone_browser(engine: eligibility.Engine, tmp_path: Path) -> None:
    """A refused family's page shows the refusal, the failed rule with the gap and citation; other rules fold."""
    household = copy.deepcopy(FAMILY)
    household["assessed_monthly_income"] = "4200.00"
    household["vehicles"].append({"kind": "car", "sole_livelihood": False})
    page = engine.decide(household, on=ON).explain(lang="zh", fmt="html")
    result = browse(page, tmp_path, "refused-family")
    assert_fits(result)
    text = result["text"]
    assert "✗ 不符合条件" in text
    assert "[income_test]：未通过" in text
    assert "1,400.00 不低于 广州市最低生活保障标准（城乡统一） 1,282.00（高出 118.00）" in text
    assert "粤民规字〔2019〕9号" in text
    assert "同样未满足的条件" in text, "the fold's summary is visible"
    assert "[vehicle_test]" not in text, "the rules not needed for the outcome stay folded"


def test_long_unbroken_policy_text_wraps(policy_dir: Callable[..., Path], tmp_path: Path) -> None:
    """Titles, citations, URLs and expressions without spaces wrap on a phone instead of scrolling sideways."""
    long_title = "很长的标题" * 40
    long_url = "https://example.org/" + "a" * 300
    text = f"""\
program: demo
title: {{zh: {long_title}, en: {"Long" * 100}}}
jurisdiction: "000000"
sources:
  S1: {{title: {"文件" * 80}, document: {"文号" * 80}, confidence: C, url: "{long_url}"}}
parameters:
  a_rather_long_parameter_name_to_make_the_expression_wide: {{type: money, title: {{zh: 标准, en: Standard}},
    source: S1, values: {{2020-01-01: 1000}}}}
rules:
  low_income:
    title: {{zh: {long_title}, en: {"Below" * 80}}}
    when: {"household.assessed_monthly_income+household.financial_assets+household.financial_assets"}<{
        "a_rather_long_parameter_name_to_make_the_expression_wide"}
    source: S1
eligible: low_income
"""
    engine = eligibility.load(policy_dir({"demo.yaml": text}))
    household = {"assessed_monthly_income": "100", "members": [{"id": "x" * 200, "birth_date": "1980-01-01",
                                                               "sex": "male"}]}
    for lang in ("zh", "en"):
        page = engine.decide(household, on="2024-01-01").explain(lang=lang, fmt="html")
        result = browse(page, tmp_path, f"long-{lang}")
        assert_fits(result)
        assert ("符合条件" if lang == "zh" else "eligible") in result["text"]
