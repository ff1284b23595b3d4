"""Decisions with unknown facts are sound: a known outcome is the outcome of every completion tried.

Kleene's logic is sound but not complete: `ProgramDecision.reads_unknown` can name facts that no
completion makes matter; `ProgramDecision.unknown` keeps those that can (tests/test_relevance.py,
benchmarks/bench_relevance.py).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import eligibility
from eligibility.engine.questions import _answers, _spec
from eligibility.strategies import households
from eligibility.testing.properties import hypothesis_settings

ON = dt.date(2024, 9, 1)
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
    """A member refused a tier while the tier reads unknown facts gets tier null, and the trace serialises."""
    household = {"members": [{"id": "m1", "relation": "applicant", "absence_status": "religious_clergy",
                              "years_apart": 67108864, "personal_monthly_income": "1434.24"}]}
    decision = bundled.decide(household, on=ON, programs=["tiering"], assume_defaults=False)
    (member,) = decision.programs["tiering"].members or ()
    assert member.eligible is False and member.tier is None
    assert json.loads(json.dumps(decision.to_json()))["programs"]["tiering"]["eligible"] is False
