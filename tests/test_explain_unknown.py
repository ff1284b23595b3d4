"""Explanations of partial decisions: undetermined programs, unknown rules and values, provenance of facts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import eligibility
from conftest import readme_family
from eligibility.explain.text import render
from eligibility.explain.words import pair_text, value_text
from eligibility.strategies import households
from eligibility.testing.properties import hypothesis_settings

ROOT = Path(__file__).parent.parent
SCHEMA = json.loads((ROOT / "docs" / "reference" / "trace.schema.json").read_text(encoding="utf-8"))
ON = "2024-09-01"
FORMATS = ("text", "markdown", "html")


@pytest.fixture(scope="module")
def bundled() -> eligibility.Engine:
    """The bundled policies: every program, so that undetermined programs sit next to decided ones."""
    return eligibility.load()


def partial_family() -> dict[str, Any]:
    """The README family with the bank balance unknown, the income from a registry and one fact absent."""
    h = readme_family()
    h["financial_assets"] = {"unknown": True, "note": "bank check requested"}
    h["assessed_monthly_income"] = {"value": "2400.00", "source": "人社 wage record", "as_of": "2024-08-31",
                                    "reference": "HR-2024-0831"}
    h["members"][0]["guangdong_hukou"] = {"value": True, "source": "公安 hukou register", "as_of": "2024-08-20"}
    del h["residential_units"]
    return h


# ------------------------------------------------------------------ golden files


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_partial_text_explanation_matches_golden(engine: eligibility.Engine, golden: Callable[[str, str], None],
                                                 lang: str) -> None:
    """The text explanation of a decision waiting on the bank balance is exactly its golden file."""
    golden(f"decisions/partial-family.{lang}.txt", engine.decide(partial_family(), on=ON).explain(lang=lang))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_partial_html_explanation_matches_golden(engine: eligibility.Engine, golden: Callable[[str, str], None],
                                                 lang: str) -> None:
    """The HTML page of a decision waiting on the bank balance is exactly its golden file."""
    html = engine.decide(partial_family(), on=ON).explain(lang=lang, fmt="html")
    golden(f"decisions/partial-family.{lang}.html", html)


# ------------------------------------------------------------------ what the reader sees


def test_an_undetermined_program_says_what_it_waits_on(engine: eligibility.Engine) -> None:
    """Not "not eligible" and not an error: it cannot be decided yet, waiting on the named fact."""
    d = engine.decide(partial_family(), on=ON)
    assert d.programs["dibao"].undetermined
    en, zh = d.explain(lang="en"), d.explain(lang="zh")
    assert ("(dibao): ? cannot be decided yet: it waits on Financial assets at market value "
            "(total of all members) [financial_assets]") in en
    assert "not eligible" not in en.splitlines()[0] and "cannot be decided:" not in en
    assert "暂时无法决定：尚待核实：家庭金融资产市值（全体成员合计） [financial_assets]" in zh


def test_an_unknown_rule_shows_its_comparison_with_the_unknown_side(engine: eligibility.Engine) -> None:
    """The rule reads "? ... not known yet" and its comparison shows which side is not known."""
    text = engine.decide(partial_family(), on=ON).explain(lang="en")
    assert "Rules waiting on facts not known\n  ? Per-capita financial assets not above" in text
    assert "Per-capita financial assets (not known) ≤ standard * asset_limit_months 30,768.00" in text
    assert "{'unknown'" not in text


def test_the_closing_section_lists_defaults_and_facts_to_verify(engine: eligibility.Engine) -> None:
    """At the end: what was assumed (defaults) and what remains to verify, with the programs waiting on it."""
    text = engine.decide(partial_family(), on=ON).explain(lang="en", fmt="markdown")
    tail = text[text.index("## What was assumed (defaults) and what remains to verify"):]
    assert "- Assumed (not given, taken at their declared default): business_registrations" in tail
    assert ("- To verify (not known):\n    - Financial assets at market value (total of all members) "
            "[financial_assets] (dibao)") in tail


def test_a_path_no_step_read_is_shown_as_its_path(bundled: eligibility.Engine) -> None:
    """An unknown fact that no rule read has no label in the trace: the path itself is shown."""
    h = {"members": [{"id": "m1", "relation": "applicant", "birth_date": "1980-01-01"}]}
    text = bundled.decide(h, on=ON, programs=["dibao"]).explain(lang="en")
    assert "    members[0].sex (no outcome waits on it)" in text


def test_the_overview_marks_undetermined_programs_apart(bundled: eligibility.Engine) -> None:
    """In the overview an undetermined program has its own mark, not the refusal's ✗."""
    h = {"members": [{"id": "m1", "relation": "applicant", "birth_date": "1980-01-01", "sex": "male"}]}
    d = bundled.decide(h, on=ON, programs=["dibao", "tekun"])
    lines = d.explain(lang="en").splitlines()
    assert lines[1].startswith("  ? Minimum subsistence allowance") and "cannot be decided yet" in lines[1]
    html = d.explain(lang="en", fmt="html")
    assert '<li class="verdict wait"><a href="#program-dibao">' in html


def test_provenance_is_shown_for_a_fact_a_rule_read_through_values(bundled: eligibility.Engine) -> None:
    """The income reaches income_test through computed values: its source is shown under the rule."""
    h = {"members": [{"id": "m1", "relation": "applicant", "birth_date": "1980-01-01"}],
         "assessed_monthly_income": {"value": "800.00", "source": "人社 wage record", "as_of": "2024-08-31"}}
    zh = bundled.decide(h, on=ON, programs=["dibao"]).explain(lang="zh")
    assert "经计算读取的事实：综合评估后家庭月收入（家庭合计） [household.assessed_monthly_income] = 800.00 — " \
           "来源：人社 wage record，核实于 2024-08-31" in zh


def test_fact_inputs_carry_their_provenance(engine: eligibility.Engine) -> None:
    """A fact input of the trace has the provenance of its path (member paths too); others have none."""
    trace = engine.decide(partial_family(), on=ON).to_json()
    inputs = [i for s in trace["programs"]["dibao"]["steps"] for i in s["inputs"] if i["kind"] == "fact"]
    by_path = {i["path"]: i for i in inputs}
    assert by_path["household.assessed_monthly_income"]["provenance"] == {
        "source": "人社 wage record", "as_of": "2024-08-31", "reference": "HR-2024-0831"}
    assert by_path["household.members[0].guangdong_hukou"]["provenance"]["source"] == "公安 hukou register"
    assert "provenance" not in by_path["household.nonresidential_units"]
    jsonschema.validate(trace, SCHEMA)


def test_a_decision_made_without_a_trace_keeps_its_provenance(engine: eligibility.Engine) -> None:
    """`trace=False` decides again when the trace is asked for: with the same provenance."""
    h = readme_family()
    h["assessed_monthly_income"] = {"value": "2400.00", "source": "人社 wage record"}
    trace = engine.decide(h, on=ON, trace=False).to_json()
    assert trace["provenance"] == {"assessed_monthly_income": {"source": "人社 wage record"}}
    step = next(s for s in trace["programs"]["dibao"]["steps"] if s["name"] == "income_per_capita")
    assert step["inputs"][0]["provenance"] == {"source": "人社 wage record"}


def test_unknown_values_and_comparisons_read_as_not_known() -> None:
    """The words of an unknown value; a comparison with an unknown side keeps its operator."""
    assert value_text({"unknown": ["financial_assets"]}, "zh") == "未知"
    pair = {"op": "<", "evaluated": True, "result": {"unknown": ["x"]},
            "left": {"expression": "income", "label": {"zh": "月收入", "en": "Monthly income"},
                     "value": {"unknown": ["x"]}},
            "right": {"expression": "standard", "label": None, "value": "1282.00"}}
    assert pair_text(pair, "en") == "Monthly income (not known) < standard 1,282.00"
    assert pair_text(pair, "zh") == "月收入（未知） < standard 1,282.00"


# ------------------------------------------------------------------ no crash on any partial decision


def _scalar_paths(engine: eligibility.Engine, household: dict[str, Any]) -> list[tuple[str, int | None, str]]:
    """The scalar facts of a household that may be unknown: (list or None, record index, field)."""
    structural = engine.validator.structural
    out: list[tuple[str, int | None, str]] = []
    for spec in engine.model.facts.fields:
        if spec.type != "list":
            out.append(("", None, spec.name))
            continue
        for i, _ in enumerate(household.get(spec.name) or []):
            out.extend((spec.name, i, f.name) for f in spec.fields if f.name not in structural[spec.name])
    return out


def test_every_partial_decision_renders_in_every_format(bundled: eligibility.Engine) -> None:
    """Generated households with random scalar facts unknown: all programs render in zh/en text, Markdown, HTML."""
    programs = bundled.programs

    @settings(hypothesis_settings(), derandomize=True, deadline=None)
    @given(households(bundled, on=ON), st.data())
    def each(household: dict[str, Any], data: st.DataObject) -> None:
        paths = _scalar_paths(bundled, household)
        chosen = data.draw(st.lists(st.sampled_from(paths), unique=True, max_size=8) if paths else st.just([]))
        for lst, i, name in chosen:
            record = household if i is None else household[lst][i]
            record[name] = {"unknown": True}
        decision = bundled.decide(household, on=ON)
        trace = decision.to_json()
        jsonschema.validate(trace, SCHEMA)
        for lang in ("zh", "en"):
            for fmt in FORMATS:
                text = render(trace, lang=lang, fmt=fmt)
                assert "{'unknown'" not in text and "{'count'" not in text
                for name in programs:
                    prog = decision.programs[name]
                    if prog.undetermined:  # undecided, or eligible with the amount waiting
                        words = {("en", True): "the amount cannot be computed yet", ("zh", True): "金额暂时无法计算",
                                 ("en", False): "cannot be decided yet", ("zh", False): "暂时无法决定"}
                        assert words[(lang, prog.eligible is True)] in text

    each()


def test_rendering_a_stored_trace_ignores_the_callers_decimal_context() -> None:
    """explain.render on a trace (as verify --explain does) reads the same under a 3-digit caller context."""
    import decimal

    from eligibility.explain.text import render

    engine = eligibility.load()
    trace = engine.decide(FAMILY_FOR_CONTEXT, on="2024-09-01", programs=["dibao"]).to_json()
    expected = render(trace, lang="en")
    with decimal.localcontext() as ctx:
        ctx.prec = 3
        ctx.traps[decimal.Inexact] = True
        assert render(trace, lang="en") == expected


FAMILY_FOR_CONTEXT = {"assessed_monthly_income": "2400.00", "financial_assets": "12000.00",
                      "members": [{"id": "m1", "birth_date": "1984-03-12", "sex": "female", "relation": "applicant",
                                   "guangdong_hukou": True, "hukou_local": True}]}
