"""Decisions with unknown facts are sound: a known outcome is the outcome of every completion tried.

Kleene's logic is sound but not complete: `ProgramDecision.reads_unknown` can name facts that no
completion makes matter; `ProgramDecision.unknown` keeps those that can (tests/test_relevance.py,
benchmarks/bench_relevance.py).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import eligibility
from eligibility.compile.unknown import Unknown
from eligibility.engine.questions import _answers, _spec
from eligibility.strategies import households
from eligibility.testing.properties import hypothesis_settings

ON = dt.date(2024, 9, 1)
ROOT = Path(__file__).parent.parent
#: Soundness runs over this many generated households, each with this many sets of unknown facts:
#: 10,000 partial decisions in all, each compared with two completions.
SOUNDNESS_HOUSEHOLDS = 1_000
UNKNOWN_SETS = 10


@pytest.fixture(scope="module")
def bundled() -> eligibility.Engine:
    return eligibility.load()


def _scalar_paths(engine: eligibility.Engine, household: dict[str, Any]) -> list[str]:
    """The facts of a household that could be unknown: every scalar, not the records' structure."""
    out = []
    for spec in engine.model.facts.fields:
        if spec.type != "list":
            out.append(spec.name)
            continue
        keep = engine.validator.structural.get(spec.name, frozenset())
        for i, _ in enumerate(household.get(spec.name) or []):
            out += [f"{spec.name}[{i}].{f.name}" for f in spec.fields if f.name not in keep]
    return out


def _set(household: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = dict(household)
    if "[" not in path:
        out[path] = value
        return out
    name, _, rest = path.partition("[")
    index, _, field = rest.partition("].")
    records = [dict(r) for r in out[name]]
    records[int(index)][field] = value
    out[name] = records
    return out


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _alternative(engine: eligibility.Engine, decision: eligibility.Decision, path: str, index: int) -> Any:
    """One of the answers the question ranking tries for a fact (index taken modulo their number)."""
    spec = _spec(engine.model.facts, path)
    answers = _answers(spec, decision) if spec is not None else []
    return _json(answers[index % len(answers)]) if answers else None


def _agrees(partial: eligibility.ProgramDecision, full: eligibility.ProgramDecision) -> bool:
    """A known partial outcome equals the complete one (and so does a known amount of an eligible household)."""
    if partial.error is not None or full.error is not None or partial.eligible is None:
        return True
    if partial.eligible is not full.eligible:
        return False
    return partial.amount is None or partial.eligible is not True or partial.amount == full.amount


@settings(hypothesis_settings(), max_examples=SOUNDNESS_HOUSEHOLDS)
@given(data=st.data())
def test_a_known_outcome_is_the_outcome_of_every_completion_tried(bundled: eligibility.Engine,
                                                                  data: st.DataObject) -> None:
    """Whenever a program is decided with facts unknown, the original household and another completion agree."""
    household = data.draw(households(bundled, on=ON, max_members=4))
    full = bundled.decide(household, on=ON, trace=False, complete=True)
    paths = _scalar_paths(bundled, household)
    for _ in range(UNKNOWN_SETS):  # several sets of unknown facts for each household drawn
        hidden = data.draw(st.sets(st.sampled_from(paths), max_size=min(len(paths), 8)))
        partial_household = household
        for path in hidden:
            partial_household = _set(partial_household, path, {"unknown": True})
        partial = bundled.decide(partial_household, on=ON, trace=False)
        assert set(partial.unknown_facts) == set(hidden)
        other = household
        pick = data.draw(st.integers(0, 7))
        for path in hidden:
            value = _alternative(bundled, partial, path, pick)
            if value is not None:
                other = _set(other, path, value)
        other_full = bundled.decide(other, on=ON, trace=False, complete=True)
        for name, p in partial.programs.items():
            assert _agrees(p, full.programs[name]), (name, hidden)
            assert _agrees(p, other_full.programs[name]), (name, hidden, other)
            assert set(p.reads_unknown) <= set(hidden)
            if p.eligible is None and p.error is None:
                assert p.reads_unknown, name  # undetermined always says what it waits on


def _witness(engine: eligibility.Engine, partial: eligibility.Decision, household: dict[str, Any],
             hidden: set[str], program: str, path: str) -> bool:
    """Search completions (the other unknowns at the household's values or at each answer) for a witness."""
    others = sorted(hidden - {path})
    if len(others) <= 2:  # every combination of the answers tried for the other unknown facts
        bases = [household]
        for path_other in others:
            bases = [_set(b, path_other, _alternative(engine, partial, path_other, k))
                     for b in bases for k in range(8)]
    else:
        bases = [household] + [_fill(engine, partial, household, set(others), k) for k in range(8)]
    for base in bases:
        outcomes = set()
        for k in range(8):
            value = _alternative(engine, partial, path, k)
            if value is None:
                continue
            d = engine.decide(_set(base, path, value), on=ON, programs=[program], trace=False, complete=True)
            pd = d.programs[program]
            try:  # eligibility itself, even where the amount then cannot be computed
                eligible = repr(d.value(program, "eligible"))
            except eligibility.EvaluationError:
                eligible = "error"
            outcomes.add((eligible, pd.amount if pd.eligible else None))
            if len(outcomes) > 1:
                return True
    return False


def _fill(engine: eligibility.Engine, partial: eligibility.Decision, household: dict[str, Any], paths: set[str],
          k: int) -> dict[str, Any]:
    out = household
    for i, path in enumerate(sorted(paths)):
        value = _alternative(engine, partial, path, k + i)
        if value is not None:
            out = _set(out, path, value)
    return out


def test_value_of_a_partial_decision_is_unknown_where_it_waits(bundled: eligibility.Engine) -> None:
    """value() of a rule that reads an unknown fact is an Unknown naming it, never an internal error."""
    from eligibility.compile.unknown import Unknown

    household = {"assessed_monthly_income": "800.00",
                 "members": [{"id": "m1", "relation": "applicant", "birth_date": "1980-01-01",
                              "guangdong_hukou": True, "hukou_local": True}]}
    d = bundled.decide(household, on=ON)
    assert d.programs["dibao"].undetermined and d.programs["dibao"].unknown == ("financial_assets",)
    value = d.value("dibao", "financial_asset_test")
    assert isinstance(value, Unknown) and value.paths == {"financial_assets"}
    assert d.value("dibao", "income_test") is True


def test_every_fact_the_screening_asks_has_help_in_both_languages(bundled: eligibility.Engine) -> None:
    """From a composition (a record in each list), each fact the screened programs wait on has zh/en help."""
    from eligibility.serve.screen import SCREEN_PROGRAMS

    household = {"members": [{"id": "m1", "relation": "applicant"}, {"id": "m2", "relation": "spouse"}],
                 "obligors": [{"id": "o1", "supports": "m1"}],
                 "vehicles": [{"kind": {"unknown": True}}],
                 "business_registrations": [{"kind": {"unknown": True}}]}
    d = bundled.decide(household, on=ON, programs=SCREEN_PROGRAMS, assume_defaults=False)
    asked = {p for name in SCREEN_PROGRAMS for p in d.programs[name].reads_unknown}
    assert len(asked) > 30  # the screening has much to ask of a bare composition
    lacking = sorted(p for p in asked if (spec := _spec(bundled.model.facts, p)) is None or spec.help is None
                     or not spec.help.zh.strip() or not spec.help.en.strip())
    assert lacking == [], f"facts a screening asks without a help text in facts.yaml: {lacking}"
    first = d.next_questions()[0]
    spec = _spec(bundled.model.facts, first["path"])
    assert spec is not None and spec.help is not None
    assert first["help"] == {"zh": spec.help.zh, "en": spec.help.en}


def _no_sentinel(value: Any) -> bool:
    from eligibility.compile.unknown import Unknown

    return not isinstance(value, Unknown)


@settings(hypothesis_settings(), max_examples=100)
@given(data=st.data())
def test_no_unknown_sentinel_leaves_a_decision(bundled: eligibility.Engine, data: st.DataObject) -> None:
    """With facts unknown, every program's tier and amount are a value or null, and the traces serialise."""
    household = data.draw(households(bundled, on=ON, max_members=3))
    paths = _scalar_paths(bundled, household)
    for path in data.draw(st.sets(st.sampled_from(paths), max_size=min(len(paths), 8))):
        household = _set(household, path, {"unknown": True})
    decision = bundled.decide(household, on=ON, assume_defaults=data.draw(st.booleans()))
    for name, p in decision.programs.items():
        assert all(map(_no_sentinel, (p.eligible, p.amount, p.tier))), (name, p)
        if p.eligible is None and p.error is None:  # an outcome not known is undetermined, its amount null
            assert p.undetermined and p.amount is None, (name, p)
        for r in p.members or ():
            assert all(map(_no_sentinel, (r.eligible, r.amount, r.tier))), (name, r)
    json.dumps(decision.to_json())  # no default: an Unknown left anywhere raises TypeError
    json.dumps(decision.to_compact())


def test_a_refused_member_whose_tier_waits_on_unknown_facts_has_a_null_tier(bundled: eligibility.Engine) -> None:
    """A member refused while the tier reads unknown facts gets tier null that says it waits; the trace serialises."""
    household = {"members": [{"id": "m1", "relation": "applicant", "absence_status": "religious_clergy",
                              "years_apart": 67108864, "personal_monthly_income": "1434.24"}]}
    decision = bundled.decide(household, on=ON, programs=["tiering"], assume_defaults=False)
    program = decision.programs["tiering"]
    (member,) = program.members or ()
    assert member.eligible is False and member.tier is None
    assert member.tier_unknown and set(member.tier_unknown) <= set(decision.unknown_facts)
    assert program.tier_unknown == member.tier_unknown and not program.undetermined  # refused: the outcome is known
    out = json.loads(json.dumps(decision.to_json()))["programs"]["tiering"]
    assert out["eligible"] is False and out["undetermined"] == ["tier"]
    assert out["members"][0]["undetermined"] == ["tier"]
    assert out["members"][0]["tier_unknown"] == list(member.tier_unknown)
    assert "the tier cannot be decided yet" in decision.explain("en")


def _family() -> dict[str, Any]:
    household: dict[str, Any] = json.loads((ROOT / "examples" / "huadu-family.json").read_text(encoding="utf-8"))
    return household


def test_an_eligible_household_whose_tier_waits_is_eligible_with_its_tier_not_decided(
        bundled: eligibility.Engine) -> None:
    """Dibao granted with its amount while the tier waits on one fact: the tier is not "none", it waits on that fact."""
    household = _set(_family(), "members[0].refused_jobs_in_a_row", {"unknown": True})
    decision = bundled.decide(household, on=ON, programs=["dibao"])
    full = bundled.decide(_family(), on=ON, programs=["dibao"]).programs["dibao"]
    dibao = decision.programs["dibao"]
    assert dibao.eligible is True and dibao.amount == full.amount and dibao.amount is not None
    assert dibao.tier is None and dibao.tier_unknown == ("members[0].refused_jobs_in_a_row",)
    assert not dibao.undetermined and dibao.unknown == ()  # the outcome and the amount are decided
    tiers = set()
    for k in range(8):  # the answers the question ranking tries: they give different tiers
        value = _alternative(bundled, decision, "members[0].refused_jobs_in_a_row", k)
        tiers.add(bundled.decide(_set(household, "members[0].refused_jobs_in_a_row", value), on=ON,
                                 programs=["dibao"], complete=False).programs["dibao"].tier)
    assert len(tiers) > 1 and None not in tiers
    out = decision.to_json()["programs"]["dibao"]
    assert out["eligible"] is True and out["tier"] is None
    assert out["undetermined"] == ["tier"] and out["tier_unknown"] == ["members[0].refused_jobs_in_a_row"]
    assert full.tier_unknown == () and bundled.decide(_family(), on=ON).to_json()["programs"]["dibao"][
        "undetermined"] == []
    spec = _spec(bundled.model.facts, "members[0].refused_jobs_in_a_row")
    assert spec is not None
    label = spec.label
    en, zh = decision.explain("en"), decision.explain("zh")
    assert f"the tier cannot be decided yet: it waits on {label.en} [members[0].refused_jobs_in_a_row]" in en
    assert "层级暂时无法确定" in zh and label.zh in zh
    assert "the tier cannot be decided yet" in decision.explain("en", fmt="html")
    assert "层级暂时无法确定" in decision.explain("zh", view="applicant")
    assert isinstance(decision.value("dibao", "tier"), Unknown)


def test_an_amount_that_waits_is_unknown_in_value_never_none_or_zero(bundled: eligibility.Engine) -> None:
    """Decision.value of an amount whose outcome waits is an Unknown naming the facts, decided or not."""
    household = _set(_family(), "financial_assets", {"unknown": True})
    decision = bundled.decide(household, on=ON, programs=["dibao"])
    assert decision.programs["dibao"].eligible is None and decision.programs["dibao"].amount is None
    amount = decision.value("dibao", "amount")
    assert isinstance(amount, Unknown) and amount.paths == {"financial_assets"}
    out = decision.to_json()["programs"]["dibao"]
    assert out["undetermined"] == ["eligible", "amount"] and out["tier_unknown"] == []
    other = bundled.decide(household, on=ON, programs=["tiering"])  # dibao not decided: value() evaluates it
    amount = other.value("dibao", "amount")
    assert isinstance(amount, Unknown) and "financial_assets" in amount.paths
    member = _set(_family(), "members[2].full_time_student", {"unknown": True})
    supplement = bundled.decide(member, on=ON, programs=["category_supplement"])
    amounts = supplement.value("category_supplement", "amount")
    assert isinstance(amounts["m3"], Unknown) and amounts["m1"] == supplement.programs[
        "category_supplement"].members[0].amount  # type: ignore[index]


def _known_parts_agree(partial: eligibility.ProgramDecision, full: eligibility.ProgramDecision) -> list[str]:
    """The parts of a partial decision reported as known that a complete decision contradicts ([] when none)."""
    if partial.error is not None or full.error is not None:
        return []
    wrong = []
    if partial.eligible is not None and partial.eligible is not full.eligible:
        wrong.append("eligible")
    if partial.amount is not None and partial.amount != full.amount:
        wrong.append("amount")
    if not partial.tier_unknown and partial.tier != full.tier:
        wrong.append("tier")
    for r, f in zip(partial.members or (), full.members or (), strict=True):
        if r.eligible is not None and r.eligible is not f.eligible:
            wrong.append(f"members[{r.index}].eligible")
        if r.amount is not None and r.amount != f.amount:
            wrong.append(f"members[{r.index}].amount")
        if not r.tier_unknown and r.tier != f.tier:
            wrong.append(f"members[{r.index}].tier")
    return wrong


def _check_completions(engine: eligibility.Engine, household: dict[str, Any], hidden: set[str],
                       pick: int) -> eligibility.Decision:
    partial_household = household
    for path in hidden:
        partial_household = _set(partial_household, path, {"unknown": True})
    partial = engine.decide(partial_household, on=ON, trace=False)
    other = household
    for path in hidden:
        value = _alternative(engine, partial, path, pick)
        if value is not None:
            other = _set(other, path, value)
    for completion in (household, other):
        full = engine.decide(completion, on=ON, trace=False)
        for name, p in partial.programs.items():
            assert _known_parts_agree(p, full.programs[name]) == [], (name, sorted(hidden), completion)
    for name, p in partial.programs.items():
        assert set(p.tier_unknown) <= set(hidden), name
        assert p.tier is None or not p.tier_unknown, name  # a tier that waits is never shown
        for r in p.members or ():
            assert set(r.tier_unknown) <= set(hidden) and (r.tier is None or not r.tier_unknown), (name, r)
    return partial


@settings(hypothesis_settings(), max_examples=150)
@given(data=st.data())
def test_every_part_reported_known_is_the_same_in_every_completion(bundled: eligibility.Engine,
                                                                    data: st.DataObject) -> None:
    """Whatever part of an outcome is reported (eligible, amount, tier, each member's), completing the unknown
    facts never changes it; a part that could change is reported as waiting (generated households)."""
    household = data.draw(households(bundled, on=ON, max_members=3))
    paths = _scalar_paths(bundled, household)
    for _ in range(4):
        hidden = data.draw(st.sets(st.sampled_from(paths), max_size=min(len(paths), 8)))
        _check_completions(bundled, household, hidden, data.draw(st.integers(0, 7)))


@settings(hypothesis_settings(), max_examples=150)
@given(data=st.data())
def test_every_part_reported_known_of_the_example_family_is_the_same_in_every_completion(
        bundled: eligibility.Engine, data: st.DataObject) -> None:
    """The same on the example family (granted dibao and tiers, so tiers and amounts are there to wait)."""
    household = _family()
    paths = _scalar_paths(bundled, household)
    hidden = data.draw(st.sets(st.sampled_from(paths), min_size=1, max_size=6))
    _check_completions(bundled, household, hidden, data.draw(st.integers(0, 7)))
