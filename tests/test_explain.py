"""Explanations in Chinese and English: golden texts, and what a caseworker must be able to read in them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import eligibility
from conftest import failing_family, readme_family
from eligibility.explain.text import render

ROOT = Path(__file__).parent.parent
ON = "2024-09-01"


FAMILIES = {"readme-family": readme_family, "failing-family": failing_family}


# ------------------------------------------------------------------ golden files


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_text_explanation_matches_golden(engine: eligibility.Engine, golden: Callable[[str, str], None],
                                         name: str, lang: str) -> None:
    """The plain-text explanation of each family in each language is exactly its golden file."""
    text = engine.decide(FAMILIES[name](), on=ON).explain(lang=lang)
    golden(f"decisions/{name}.{lang}.txt", text)


@pytest.mark.parametrize(("name", "lang"), [("readme-family", "en"), ("failing-family", "zh")])
def test_markdown_explanation_matches_golden(engine: eligibility.Engine, golden: Callable[[str, str], None],
                                             name: str, lang: str) -> None:
    """The Markdown explanation is exactly its golden file."""
    text = engine.decide(FAMILIES[name](), on=ON).explain(lang=lang, fmt="markdown")
    golden(f"decisions/{name}.{lang}.md", text)


# ------------------------------------------------------------------ what the explanation says


def test_eligible_explanation_states_verdict_and_amount(engine: eligibility.Engine) -> None:
    """The first line says eligible and the monthly amount 1,446.00 in both languages."""
    d = engine.decide(readme_family(), on=ON)
    assert d.explain(lang="zh").splitlines()[0].endswith("符合条件，每月金额 1,446.00 元")
    assert d.explain(lang="en").splitlines()[0].endswith("eligible, monthly amount 1,446.00 yuan")


def test_failing_explanation_names_the_rule_numbers_and_citation_zh(engine: eligibility.Engine) -> None:
    """In Chinese: not eligible, the failed income rule, 1,400.00 vs 1,282.00, the excess and the citation."""
    text = engine.decide(failing_family(), on=ON).explain(lang="zh")
    first = text.splitlines()[0]
    assert first.endswith("不符合条件")
    assert "每月金额" not in first
    block = _block(text, "[income_test]")
    assert "综合评估后家庭月人均收入低于当地低保标准" in block[0]
    assert "未通过" in block[0]
    assert "1,400.00" in block[1] and "1,282.00" in block[1] and "118.00" in block[1]
    assert "不低于" in block[1] and "高出 118.00" in block[1]
    assert any("粤民规字〔2019〕9号" in line and "G2" in line for line in block)
    assert any("2024-06-01" in line for line in block), "the standard's start date is shown"
    assert any(line.strip() == "guangdong/dibao.yaml:153:3" for line in block)


def test_failing_explanation_names_the_rule_numbers_and_citation_en(engine: eligibility.Engine) -> None:
    """In English: the failed rule's title, both numbers, the excess and the citation document."""
    text = engine.decide(failing_family(), on=ON).explain(lang="en")
    assert text.splitlines()[0].endswith(": not eligible")
    block = _block(text, "[income_test]")
    assert "Assessed per-capita income below the local dibao standard" in block[0]
    assert block[0].endswith("failed")
    assert "1,400.00" in block[1] and "1,282.00" in block[1] and "118.00 above" in block[1]
    assert any("粤民规字〔2019〕9号" in line for line in block)


def test_failing_rule_is_listed_first_as_decisive(engine: eligibility.Engine) -> None:
    """The failed rule is under 'Decisive rules', before the rules that passed or were not evaluated."""
    text = engine.decide(failing_family(), on=ON).explain(lang="en")
    decisive = text.index("Decisive rules")
    other = text.index("Other rules")
    assert decisive < text.index("[income_test]") < other < text.index("[hukou_test]")


def test_every_reason_for_a_refusal_is_given(engine: eligibility.Engine) -> None:
    """A refusal names the rule that decided it and also every other rule not met, marked as not needed."""
    text = engine.decide(failing_family(), on=ON).explain(lang="en")
    decisive = text.split("Decisive rules")[1].split("Also not met")[0]
    assert "[income_test]: failed" in decisive
    also = text.split("Also not met (not needed for the outcome)")[1].split("Other rules")[0]
    assert "[vehicle_test]: failed (not needed for the outcome)" in also
    zh = engine.decide(failing_family(), on=ON).explain(lang="zh")
    assert "[vehicle_test]：未通过（对结果不是必需的）" in zh


def test_vehicle_failure_names_the_car(engine: eligibility.Engine) -> None:
    """When only the car disqualifies, the explanation shows the vehicle rule and the car's record."""
    h = readme_family()
    h["vehicles"].append({"kind": "car"})
    text = engine.decide(h, on=ON).explain(lang="en")
    block = _block(text, "[vehicle_test]")
    assert block[0].endswith("failed")
    assert any("vehicles[1]" in line and "car" in line for line in block)
    assert any("粤民规字〔2019〕9号" in line for line in block)


def test_explanation_shows_warnings_and_defaults(engine: eligibility.Engine) -> None:
    """A stale-standard warning and the defaulted facts are shown at the end."""
    text = engine.decide(readme_family(), on="2025-07-01").explain(lang="en")
    assert "Warning: dibao.standard" in text
    defaults = next(line for line in text.splitlines() if line.startswith("Facts not given"))
    assert "business_registrations" in defaults and "exempt_inherited_houses" in defaults


def test_markdown_uses_headings_and_lists(engine: eligibility.Engine) -> None:
    """Markdown output has a heading per program, sub-headings per group, and a list item per rule."""
    md = engine.decide(failing_family(), on=ON).explain(lang="en", fmt="markdown")
    lines = md.splitlines()
    assert lines[0].startswith("## ")
    assert "### Decisive rules" in lines
    assert any(ln.startswith("- ✗ ") and "[income_test]" in ln for ln in lines)


def test_explanation_is_rendered_from_the_trace_alone(engine: eligibility.Engine) -> None:
    """explain() equals rendering the JSON trace, so a stored trace can be explained later."""
    d = engine.decide(failing_family(), on=ON)
    stored = json.loads(json.dumps(d.to_json()))
    for lang in ("zh", "en"):
        assert render(stored, lang=lang) == d.explain(lang=lang)
    assert render(stored, lang="en", fmt="markdown") == d.explain(lang="en", fmt="markdown")


@pytest.mark.parametrize(("lang", "fmt"), [("fr", "text"), ("zh", "pdf")])
def test_unknown_language_or_format_is_refused(engine: eligibility.Engine, lang: str, fmt: str) -> None:
    """Asking for a language or format that does not exist names the accepted ones."""
    d = engine.decide(readme_family(), on=ON)
    with pytest.raises(ValueError, match=r"zh|text"):
        d.explain(lang=lang, fmt=fmt)


def _block(text: str, marker: str) -> list[str]:
    """Return the lines of the step whose heading contains `marker`, heading first."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if marker in ln)
    out = [lines[start]]
    indent = len(lines[start]) - len(lines[start].lstrip())
    for ln in lines[start + 1:]:
        if not ln.strip() or len(ln) - len(ln.lstrip()) <= indent:
            break
        out.append(ln)
    return out


def test_a_policy_set_rewords_its_explanations(policy_dir: Callable[..., Path]) -> None:
    """A `labels:` file in the policy set changes the words, and the wording travels in the trace."""
    import shutil

    demo = Path(__file__).parent / "fixtures" / "dibao"
    root = policy_dir({"labels.yaml": "labels:\n  words:\n    eligible: {zh: 予以保障, en: granted}\n"}, facts=None)
    for item in demo.iterdir():
        target = root / item.name
        if item.is_dir():
            shutil.copytree(item, target)
        else:
            shutil.copy(item, target)
    engine = eligibility.load(root)
    trace = engine.decide(readme_family(), on=ON).to_json()
    assert trace["labels"] == {"words": {"eligible": {"zh": "予以保障", "en": "granted"}}}
    assert "granted, monthly amount 1,446.00 yuan" in render(trace, lang="en")
    assert "予以保障" in render(trace, lang="zh")
    plain = {k: v for k, v in trace.items() if k != "labels"}
    assert "eligible, monthly amount 1,446.00 yuan" in render(plain, lang="en")


def test_a_labels_file_with_mistakes_is_a_policy_error(policy_dir: Callable[..., Path]) -> None:
    """A labels entry without English, or an unknown key, is reported at its position by check and load."""
    import shutil

    root = policy_dir({"labels.yaml": "labels:\n  words:\n    yuan: {zh: 元}\n    elegible: {zh: 是, en: yes}\n"},
                      facts=None)
    for item in (Path(__file__).parent / "fixtures" / "dibao").iterdir():
        (shutil.copytree if item.is_dir() else shutil.copy)(item, root / item.name)
    with pytest.raises(eligibility.PolicyError) as info:
        eligibility.load(root)
    codes = sorted(d.code for d in info.value.diagnostics if d.severity == "error")
    assert codes == ["missing-key", "unknown-key"], info.value.render()
    assert "did you mean 'eligible'?" in info.value.render()
