"""The HTML explanation: one self-contained page, outcome first, policy text escaped, in Chinese and English."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import eligibility
from conftest import FIXTURE
from eligibility.cli import build
from eligibility.explain.html import render_html
from eligibility.explain.text import render

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "huadu-family.json"
FAMILY = json.loads(EXAMPLE.read_text(encoding="utf-8"))
ON = "2024-09-01"
VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}

HOSTILE = """\
program: demo
title: {zh: "演示<script>alert('zh')</script>", en: "Demo <script>alert(\\"en\\")</script> & co"}
jurisdiction: "000000"
sources:
  S1: {title: "</details><img src=x onerror=alert(1)>", document: "文件〔2024〕1号", confidence: C,
       url: "javascript:alert(document.cookie)"}
  S2: {title: 正常文件, document: "文件〔2024〕2号", confidence: S, url: "https://example.org/a?b=1&c=<2>"}
parameters:
  standard: {type: money, title: {zh: "标准<b>粗</b>", en: "Standard\\" onmouseover=\\"x"}, source: S2,
             values: {2020-01-01: 1000}}
rules:
  low_income:
    title: {zh: "收入<低于>标准", en: "Income <below> the standard"}
    when: household.assessed_monthly_income < standard
    source: S1
eligible: low_income
amount:
  expr: standard - household.assessed_monthly_income
"""


def failing_family() -> dict[str, Any]:
    """The README family with income 4200.00 (1400 per capita) and a car: not eligible."""
    h = copy.deepcopy(FAMILY)
    h["assessed_monthly_income"] = "4200.00"
    h["vehicles"].append({"kind": "car", "sole_livelihood": False})
    return h


def run(*args: str) -> Result:
    """Invoke the command line in-process."""
    return CliRunner().invoke(build(), list(args), catch_exceptions=False)


class _Tags(HTMLParser):
    """Check that every element is closed in order; collect the text and the attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs.extend((tag, k, v) for k, v in attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Tags:
    """Parse a page and fail on unbalanced tags."""
    p = _Tags()
    p.feed(page)
    p.close()
    assert p.errors == [] and p.stack == [], (p.errors, p.stack)
    return p


# ------------------------------------------------------------------ structure


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_page_is_one_self_contained_file(engine: eligibility.Engine, lang: str) -> None:
    """The page is one HTML file with inline CSS, a phone viewport, and nothing loaded from the network."""
    page = engine.decide(copy.deepcopy(FAMILY), on=ON).explain(lang=lang, fmt="html")
    assert page.startswith("<!DOCTYPE html>\n")
    assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<style>" in page and "overflow-wrap:anywhere" in page and "max-width:100%" in page
    tags = parse(page)
    loaded = [(t, k, v) for t, k, v in tags.attrs if k in ("src", "srcset", "data") or (t == "link")]
    assert loaded == []
    assert "@import" not in page and "url(" not in page
    links = [v for t, k, v in tags.attrs if t == "a" and k == "href"]
    assert all(v and (v.startswith("#") or v.startswith(("http://", "https://"))) for v in links)


def test_outcome_comes_first_then_decisive_rules_then_folds(engine: eligibility.Engine) -> None:
    """The outcome is before the decisive rule, which is before the first fold; the rest is folded."""
    page = engine.decide(failing_family(), on=ON).explain(lang="zh", fmt="html")
    outcome = page.index("✗ 不符合条件")
    decisive = page.index("决定结果的条件")
    rule = page.index("[income_test]")
    first_fold = page.index("<details")
    assert outcome < decisive < rule < first_fold
    assert page.index("[vehicle_test]") > first_fold, "a rule not needed for the outcome is folded"
    assert "1,400.00" in page[rule:first_fold] and "1,282.00" in page[rule:first_fold]
    assert "高出 118.00" in page[rule:first_fold]
    assert "粤民规字〔2019〕9号" in page[rule:first_fold]
    assert "guangdong/dibao.yaml:153:3" in page[rule:first_fold]


@pytest.mark.parametrize(("lang", "words"), [
    ("zh", ["社会救助决定说明", "符合条件，每月金额 1,446.00 元", "决定结果的条件", "金额计算", "依据："]),
    ("en", ["Social assistance decision: explanation", "eligible, monthly amount 1,446.00 yuan",
            "Decisive rules", "How the amount is computed", "Source: "]),
])
def test_page_speaks_the_language_asked(engine: eligibility.Engine, lang: str, words: list[str]) -> None:
    """The page is in Chinese or English, with the amount and its computation shown outside the folds."""
    page = engine.decide(copy.deepcopy(FAMILY), on=ON).explain(lang=lang, fmt="html")
    text = "".join(parse(page).text)
    for word in words:
        assert word in text
    amount = page.index("<code>(standard - income_per_capita) * count(household.members)</code>")
    assert amount < page.index("<details")


def test_page_is_rendered_from_the_stored_json_only(engine: eligibility.Engine) -> None:
    """A trace read back from JSON (a stored record) renders the same page as the live decision."""
    decision = engine.decide(failing_family(), on=ON)
    stored = json.loads(json.dumps(decision.to_json()))
    assert render(stored, lang="en", fmt="html") == decision.explain(lang="en", fmt="html")
    record = eligibility.make_record(decision, failing_family())
    assert render_html(record["decision"], "zh") == decision.explain(lang="zh", fmt="html")


def test_per_member_program_lists_each_member(policy_dir: Callable[..., Path]) -> None:
    """A program decided per member shows each member's outcome and amount."""
    text = HOSTILE.replace('jurisdiction: "000000"', 'jurisdiction: "000000"\neach: member in household.members') \
        .replace("    when: household.assessed_monthly_income < standard",
                 "    each: member in household.members\n    when: household.assessed_monthly_income < standard") \
        .replace("eligible: low_income", "eligible: member.low_income") \
        .replace("expr: standard - household.assessed_monthly_income", "expr: standard")
    engine = eligibility.load(policy_dir({"demo.yaml": text}))
    household = {"assessed_monthly_income": "100", "members": [
        {"id": "m1", "birth_date": "1950-01-01", "sex": "male"}, {"id": "m2", "birth_date": "1990-01-01",
                                                                   "sex": "female"}]}
    page = engine.decide(household, on="2024-01-01").explain(lang="en", fmt="html")
    parse(page)
    assert "[0] m1: eligible, 1,000.00 yuan" in page
    assert "members[1] (m2): passed" in page


def test_unknown_format_is_still_refused(engine: eligibility.Engine) -> None:
    """An unknown fmt or lang raises ValueError naming the allowed values."""
    decision = engine.decide(copy.deepcopy(FAMILY), on=ON)
    with pytest.raises(ValueError, match="'html'"):
        decision.explain(fmt="pdf")
    with pytest.raises(ValueError, match="'zh' or 'en'"):
        decision.explain(lang="fr", fmt="html")


# ------------------------------------------------------------------ escaping


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_policy_text_is_escaped(policy_dir: Callable[..., Path], lang: str) -> None:
    """Markup in titles, citations and URLs from a policy file is shown as text, never run or linked."""
    engine = eligibility.load(policy_dir({"demo.yaml": HOSTILE}))
    page = engine.decide({"assessed_monthly_income": "100", "members": [
        {"id": "<i>x</i>", "birth_date": "1980-01-01", "sex": "male"}]}, on="2024-01-01").explain(lang=lang, fmt="html")
    tags = parse(page)
    assert [t for t, _, _ in tags.attrs if t in ("script", "img", "b", "i")] == []
    assert not re.search(r"<(script|img|b|i)[\s>]", page.replace("<script>addEventListener", ""))
    assert page.count("<script>") == 1, "only the page's own print helper"
    assert "&lt;script&gt;" in page
    assert "&lt;/details&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'href="javascript' not in page
    assert "javascript:alert(document.cookie)" in page, "shown as text"
    assert 'href="https://example.org/a?b=1&amp;c=&lt;2&gt;"' in page
    assert ' onmouseover="x' not in page
    text = "".join(tags.text)
    title = "演示<script>alert('zh')</script>" if lang == "zh" else 'Demo <script>alert("en")</script> & co'
    assert title in text


# ------------------------------------------------------------------ the command line


def test_cli_explain_html(tmp_path: Path) -> None:
    """`eligibility explain --html` prints the page; `decide --format html` prints the same."""
    res = run("explain", str(EXAMPLE), "--on", ON, "--policies", str(FIXTURE), "--html")
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("<!DOCTYPE html>")
    assert "符合条件，每月金额 1,446.00 元" in "".join(parse(res.stdout).text)
    same = run("decide", str(EXAMPLE), "--on", ON, "--policies", str(FIXTURE), "--format", "html")
    assert same.stdout == res.stdout
    en = run("explain", str(EXAMPLE), "--on", ON, "--policies", str(FIXTURE), "--html", "--lang", "en")
    assert '<html lang="en">' in en.stdout


def test_cli_explain_html_and_markdown_together_exits_2() -> None:
    """Asking for both --html and --markdown is a usage error."""
    res = run("explain", str(EXAMPLE), "--on", ON, "--html", "--markdown")
    assert res.exit_code == 2
    assert "--markdown and --html" in res.stderr
