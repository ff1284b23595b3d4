"""Two readers, two views: the applicant's plain explanation and the auditor's full one."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import eligibility
from conftest import readme_family
from eligibility import InputError

ROOT = Path(__file__).parent.parent
FAMILY = json.loads((ROOT / "examples" / "huadu-family.json").read_text(encoding="utf-8"))
ON = "2024-09-01"
#: A household of one whose income, assets and hukou are not known yet.
PARTIAL = {"assessed_monthly_income": "700.00",
           "members": [{"id": "m1", "relation": "applicant", "birth_date": "1950-01-01"}]}
#: ASCII words an applicant may read in Chinese: none. Member ids are the household's own data.
ALLOWED: set[str] = set()


@pytest.fixture(scope="module")
def bundled() -> eligibility.Engine:
    """The bundled policies."""
    return eligibility.load()


def visible(page: str) -> str:
    """The text a reader sees on an HTML page: no tags, no style, entities decoded."""
    body = re.sub(r"<style>.*?</style>|<script>.*?</script>|<title>.*?</title>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def ascii_words(text: str, household: Any) -> list[str]:
    """The ASCII words of an explanation (identifiers, codes, English), the household's member ids left out."""
    members = household.get("members") if isinstance(household, dict) else None
    for m in members or []:
        if isinstance(m, dict) and isinstance(m.get("id"), str):
            text = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(m['id'])}(?![A-Za-z0-9_])", "", text)
    return [w for w in re.findall(r"[A-Za-z_]{2,}", text) if w not in ALLOWED]


def test_applicant_view_of_every_bundled_case_has_no_code_or_english(bundled: eligibility.Engine) -> None:
    """The zh applicant view (text and page) of every bundled test case's household has no ASCII word."""
    checked = 0
    for case in bundled.model.tests:
        if case.expect_error:
            continue
        decision = bundled.decide(case.household, on=case.on)
        for fmt, text in (("text", decision.explain(view="applicant")),
                          ("html", visible(decision.explain(fmt="html", view="applicant")))):
            found = ascii_words(text, case.household)
            assert not found, f"{case.file}:{case.line} {case.name} ({fmt}): {sorted(set(found))}"
        checked += 1
    assert checked > 300


def test_the_check_finds_an_expression_or_a_code() -> None:
    """The ASCII check flags an expression, an enum code and an English word, not a member id or a number."""
    household = {"members": [{"id": "m1"}, {"id": "wang"}]}
    assert ascii_words("covered_members > 0", household) == ["covered_members"]
    assert ascii_words("车辆 disabled_scooter", household) == ["disabled_scooter"]
    assert ascii_words("家庭成员 wang：每月 1,446.00 元，家庭成员 m1", household) == []
    assert ascii_words("cannot be decided", household) == ["cannot", "be", "decided"]


def test_applicant_view_puts_the_outcome_and_the_total_first(bundled: eligibility.Engine) -> None:
    """The applicant's text starts with the monthly total of the benefits received, then what they are."""
    text = bundled.decide(FAMILY, on=ON).explain(view="applicant")
    lines = text.splitlines()
    assert lines[1] == "您家每月可领取合计 1,702.40 元"
    assert lines[3] == "可以领取的救助"
    assert "最低生活保障（广州市花都区）：每月 1,446.00 元" in lines[5]
    assert text.index("可以领取的救助") < text.index("暂时无法判断") < text.index("不符合条件的救助")


def test_helper_programs_are_not_shown_as_benefits(bundled: eligibility.Engine) -> None:
    """Household membership and the tiers (role: helper) are left out; the notice is a notice, not a benefit."""
    decision = bundled.decide(FAMILY, on="2025-03-01")
    text = decision.explain(view="applicant")
    assert decision.programs["membership"].eligible and decision.programs["tiering"].eligible
    assert "共同生活家庭成员认定" not in text and "分层分类" not in text
    assert "请注意：提示：所用低保标准未经来源确认" in text
    assert "✓ 提示" not in text
    assert "共同生活家庭成员认定" in decision.explain()  # the auditor still sees them


def test_undetermined_is_not_a_refusal_and_says_what_is_missing(bundled: eligibility.Engine) -> None:
    """A program waiting on unknown facts is under 'cannot be decided yet' with the facts by label, not refused."""
    text = bundled.decide(PARTIAL, on=ON).explain(view="applicant")
    waiting = text[text.index("暂时无法判断"):text.index("不符合条件的救助")]
    assert ("? 最低生活保障（广州市花都区）：还需要了解：家庭金融资产市值（全体成员合计）、"
            "广东省户籍（家庭成员 m1）") in waiting
    refused = text[text.index("不符合条件的救助"):]
    assert "最低生活保障（广州市花都区）" not in refused.replace("单人户最低生活保障", "")
    page = bundled.decide(PARTIAL, on=ON).explain(fmt="html", view="applicant")
    assert '<li class="card waiting">' in page and '<li class="card refused">' in page
    assert ".waiting{border:2px dashed" in page and ".refused{border-left-color:#b3261e}" in page


def test_refusal_reasons_come_in_the_order_that_decided(bundled: eligibility.Engine) -> None:
    """The rule that decided a refusal comes before the rules also not met, each with its numbers in words."""
    household = {**FAMILY, "assessed_monthly_income": "9000.00", "financial_assets": "900000.00"}
    decision = bundled.decide(household, on=ON)
    steps = {s["name"]: s for s in decision.to_json()["programs"]["dibao"]["steps"]}
    assert steps["income_test"]["needed"] and not steps["financial_asset_test"]["needed"]
    text = decision.explain(view="applicant")
    block = text[text.index("✗ 最低生活保障（广州市花都区）"):].split("\n  ✗")[0]
    reasons = [line.strip() for line in block.splitlines()[1:]]
    income = next(i for i, r in enumerate(reasons) if r.startswith(steps["income_test"]["title"]["zh"]))
    assets = next(i for i, r in enumerate(reasons) if r.startswith(steps["financial_asset_test"]["title"]["zh"]))
    assert income < assets
    assert "综合评估后家庭月人均收入 3,000.00 不低于 广州市最低生活保障标准（城乡统一） 1,282.00" in reasons[income]
    # own_benefit_review decides the category (tier), not eligibility: it is no reason for a refusal
    assert not any(r.startswith(steps["own_benefit_review"]["title"]["zh"]) for r in reasons)


def test_applicant_view_golden(bundled: eligibility.Engine, golden: Callable[[str, str], None]) -> None:
    """The applicant's text and page for the example family and a partial household, zh and en."""
    family = bundled.decide(FAMILY, on=ON)
    golden("views/family.applicant.zh.txt", family.explain(view="applicant"))
    golden("views/family.applicant.en.txt", family.explain(lang="en", view="applicant"))
    golden("views/family.applicant.zh.md", family.explain(fmt="markdown", view="applicant"))
    golden("views/family.applicant.zh.html", family.explain(fmt="html", view="applicant"))
    golden("views/partial.applicant.zh.txt", bundled.decide(PARTIAL, on=ON).explain(view="applicant"))


def test_auditor_view_is_the_default_and_golden(engine: eligibility.Engine,
                                                golden: Callable[[str, str], None]) -> None:
    """Without a view the explanation is the auditor's, with every rule, expression and hash (frozen fixture)."""
    family = engine.decide(readme_family(), on=ON)
    assert family.explain() == family.explain(view="auditor")
    page = family.explain(fmt="html", view="auditor")
    assert "income_per_capita" in page and "sha256:" in page
    golden("views/readme-family.auditor.zh.html", page)


def test_print_stylesheet_condenses_the_auditor_page(bundled: eligibility.Engine) -> None:
    """The auditor's page has a print stylesheet: A4, small type, two columns, the folds unfolded."""
    page = bundled.decide(FAMILY, on=ON).explain(fmt="html")
    css = page[page.index("@page"):page.index("</style>")]
    assert "size:A4" in css and "columns:2" in css and "content-visibility:visible" in css


def test_a_view_that_does_not_exist_is_an_input_error(bundled: eligibility.Engine) -> None:
    """explain(view='citizen') is refused with the values allowed."""
    with pytest.raises(InputError, match="auditor"):
        bundled.decide(FAMILY, on=ON).explain(view="citizen")


def test_cli_view_option(tmp_path: Path) -> None:
    """`eligibility explain --view applicant` prints the applicant's view; a bad --view is a usage error."""
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    base = [sys.executable, "-m", "eligibility", "explain", str(ROOT / "examples" / "huadu-family.json"),
            "--on", ON]
    done = subprocess.run([*base, "--view", "applicant"], capture_output=True, text=True, env=env, cwd=tmp_path,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == "您家每月可领取合计 1,702.40 元"
    bad = subprocess.run([*base, "--view", "citizen"], capture_output=True, text=True, env=env, cwd=tmp_path,
                         check=False)
    assert bad.returncode == 2 and "applicant" in bad.stderr


def test_role_must_be_a_known_word(policy_dir: Callable[..., Path]) -> None:
    """A program's `role:` other than benefit, helper or notice is an error naming the three."""
    folder = policy_dir({"p.yaml": 'program: p\njurisdiction: "000000"\nrole: helpr\neligible: "true"\n'})
    with pytest.raises(eligibility.PolicyError) as err:
        eligibility.load(folder)
    assert "role must be one of benefit, helper, notice, not 'helpr'" in str(err.value)
