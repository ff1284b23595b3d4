"""Freshness of facts: `fresh_for` in the vocabulary, `as_of` in the household, stale as unknown or a warning."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import eligibility
from conftest import DEMO, FACTS, only, where
from eligibility import InputError, PolicyError

#: The conftest vocabulary with freshness on the income (stale: unknown) and the assets (stale: warning).
FRESH = FACTS.replace(
    "  assessed_monthly_income: {type: money, unit: CNY/month, label: {zh: 月收入, en: Monthly income}}\n",
    "  assessed_monthly_income:\n"
    "    type: money\n"
    "    unit: CNY/month\n"
    "    label: {zh: 月收入, en: Monthly income}\n"
    "    fresh_for:\n"
    "      days: 183\n"
    "      stale: unknown\n"
    "      reason: {zh: 收入核对结果半年内有效, en: an income check is valid for six months}\n",
).replace(
    "  financial_assets: {type: money, label: {zh: 金融资产, en: Financial assets}, required: false, default: 0}\n",
    "  financial_assets:\n"
    "    type: money\n"
    "    label: {zh: 金融资产, en: Financial assets}\n"
    "    required: false\n"
    "    default: 0\n"
    "    fresh_for: {days: 30, stale: warning, reason: {zh: 存款余额须近期核对, en: balances are checked monthly}}\n",
)
#: The demo program, also reading the assets (so that the stale assets are read by a rule).
PROGRAM = DEMO.replace("    when: per_capita < standard\n",
                       "    when: per_capita < standard and household.financial_assets < 100000\n")
ON = "2024-09-01"


@pytest.fixture
def fresh(policy_dir: Callable[..., Path]) -> eligibility.Engine:
    """The demo program on a vocabulary that declares how old the income and the assets may be."""
    return eligibility.load(policy_dir({"demo.yaml": PROGRAM}, facts=FRESH))


def household(income_as_of: str | None = None, assets_as_of: str | None = None) -> dict[str, Any]:
    """One member; the income and the assets given with their verification dates."""
    h: dict[str, Any] = {"members": [{"id": "m1", "birth_date": "1980-01-01", "sex": "female"}]}
    h["assessed_monthly_income"] = {"value": "800.00", "source": "人社 wage record"}
    if income_as_of:
        h["assessed_monthly_income"]["as_of"] = income_as_of
    h["financial_assets"] = {"value": "5000.00", "source": "bank"}
    if assets_as_of:
        h["financial_assets"]["as_of"] = assets_as_of
    return h


def test_a_fact_verified_on_its_last_fresh_day_is_used(fresh: eligibility.Engine) -> None:
    """An income verified exactly 183 days before the decision date is still fresh: decided, no warning."""
    d = fresh.decide(household("2024-03-02"), ON)  # 2024-09-01 - 183 days
    assert d.programs["demo"].eligible is True
    assert d.unknown_facts == ()
    assert "stale" not in d.provenance["assessed_monthly_income"]


def test_a_fact_one_day_too_old_is_unknown_when_declared_so(fresh: eligibility.Engine) -> None:
    """Verified 184 days before, the income is stale and declared `stale: unknown`: the program waits on it."""
    d = fresh.decide(household("2024-03-01"), ON)
    assert d.programs["demo"].eligible is None
    assert d.programs["demo"].unknown == ("assessed_monthly_income",)
    assert d.unknown_facts == ("assessed_monthly_income",)
    meta = d.provenance["assessed_monthly_income"]
    assert meta["stale"] == "unknown" and meta["fresh_until"] == "2024-08-31"
    trace = d.to_json()
    [warning] = [w for w in trace["warnings"] if w["code"] == "stale-fact"]
    assert warning["path"] == "assessed_monthly_income" and warning["treated_as"] == "unknown"
    assert "treated as not known" in warning["message"]["en"] and "按未知处理" in warning["message"]["zh"]
    assert any("assessed_monthly_income" in w for w in d.warnings)


def test_a_stale_fact_declared_warning_is_used_with_a_warning(fresh: eligibility.Engine) -> None:
    """Assets verified 31 days before (fresh for 30) are used as given, and the decision warns about them."""
    d = fresh.decide(household("2024-08-31", "2024-08-01"), ON)
    assert d.programs["demo"].eligible is True
    assert d.unknown_facts == ()
    [message] = [w for w in d.warnings if "financial_assets" in w]
    assert "balances are checked monthly" in message and "2024-08-31" in message
    trace = d.to_json()
    [warning] = [w for w in trace["warnings"] if w["code"] == "stale-fact"]
    assert warning == {**warning, "path": "financial_assets", "as_of": "2024-08-01", "fresh_for_days": 30,
                       "fresh_until": "2024-08-31", "treated_as": "warning"}
    assert trace["provenance"]["financial_assets"]["stale"] == "warning"


def test_a_fact_verified_30_days_before_is_fresh_for_30_days(fresh: eligibility.Engine) -> None:
    """The boundary of a warning: 30 days old is fresh, no warning."""
    d = fresh.decide(household("2024-08-31", "2024-08-02"), ON)
    assert not any("financial_assets" in w for w in d.warnings)


def test_an_as_of_after_the_decision_date_is_an_input_error(fresh: eligibility.Engine) -> None:
    """A fact cannot be verified after the day it is decided on: an input error at its as_of."""
    with pytest.raises(InputError) as err:
        fresh.decide(household("2024-09-02"), ON)
    [problem] = err.value.problems
    assert problem.path == "assessed_monthly_income.as_of"
    assert "after the decision date 2024-09-01" in str(err.value)


def test_an_as_of_after_the_decision_date_is_refused_for_any_fact(engine: eligibility.Engine) -> None:
    """Also for a fact whose vocabulary declares no freshness, and in complete mode."""
    h = {"assessed_monthly_income": {"value": "800.00", "as_of": "2025-01-01"},
         "members": [{"id": "m1", "birth_date": "1980-01-01", "sex": "female"}]}
    for complete in (False, True):
        with pytest.raises(InputError) as err:
            engine.decide(h, ON, complete=complete)
        assert err.value.problems[0].path == "assessed_monthly_income.as_of"


def test_a_fact_without_as_of_is_never_stale(fresh: eligibility.Engine) -> None:
    """Freshness is judged on `as_of` only: a fact given without it is used as it is."""
    d = fresh.decide(household(), ON)
    assert d.programs["demo"].eligible is True
    assert not [w for w in d.to_json()["warnings"] if w["code"] == "stale-fact"]


def test_complete_mode_keeps_provenance_and_freshness(fresh: eligibility.Engine) -> None:
    """`complete=True` reads provenance too: a stale fact declared unknown leaves the program undetermined."""
    d = fresh.decide(household("2024-01-01"), ON, complete=True)
    assert d.programs["demo"].eligible is None
    assert d.provenance["assessed_monthly_income"]["stale"] == "unknown"


def test_the_explanation_shows_stale_facts_and_where_facts_came_from(fresh: eligibility.Engine) -> None:
    """The text says where each fact came from and lists the stale facts in the closing section."""
    d = fresh.decide(household("2024-08-31", "2024-08-01"), ON)
    en, zh = d.explain(lang="en"), d.explain(lang="zh")
    assert "= 5,000.00 — source: bank, verified 2024-08-01, out of date (accepted until 2024-08-31)" in en
    assert "Facts out of date" in en and "Financial assets [financial_assets]" in en
    assert "来源：人社 wage record，核实于 2024-08-31" in zh
    html = d.explain(lang="en", fmt="html")
    assert '<span class="prov">source: bank, verified 2024-08-01' in html


BAD = {
    "days": ("      days: 0\n      stale: unknown\n      reason: {zh: 原因, en: why}\n",
             "days must be a whole number from 1 to 3660", 7),
    "stale": ("      days: 30\n      stale: unknwn\n      reason: {zh: 原因, en: why}\n",
              "stale must be one of unknown, warning", 8),
    "key": ("      days: 30\n      stale: unknown\n      reason: {zh: 原因, en: why}\n      months: 1\n",
            "unknown key 'months' in fresh_for", 10),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_fresh_for_is_reported_at_load_time(policy_dir: Callable[..., Path], case: str) -> None:
    """A wrong `fresh_for:` is a load error at its file, line and column."""
    body, message, line = BAD[case]
    facts = FACTS.replace(
        "  assessed_monthly_income: {type: money, unit: CNY/month, label: {zh: 月收入, en: Monthly income}}\n",
        "  assessed_monthly_income:\n    type: money\n    label: {zh: 月收入, en: Monthly income}\n"
        "    fresh_for:\n" + body)
    with pytest.raises(PolicyError) as err:
        eligibility.load(policy_dir({"demo.yaml": DEMO}, facts=facts))
    d = only(err.value)
    assert message in d.message, err.value.render()
    assert where(d)[:2] == ("facts.yaml", line) and where(d)[2] > 1


def test_fresh_for_needs_its_reason(policy_dir: Callable[..., Path]) -> None:
    """`reason:` is required: the explanation says why a fact went out of date."""
    facts = FACTS.replace(
        "  assessed_monthly_income: {type: money, unit: CNY/month, label: {zh: 月收入, en: Monthly income}}\n",
        "  assessed_monthly_income:\n    type: money\n    label: {zh: 月收入, en: Monthly income}\n"
        "    fresh_for: {days: 30, stale: warning}\n")
    with pytest.raises(PolicyError) as err:
        eligibility.load(policy_dir({"demo.yaml": DEMO}, facts=facts))
    assert "needs 'reason'" in only(err.value).message


def test_a_list_field_cannot_declare_fresh_for(policy_dir: Callable[..., Path]) -> None:
    """Freshness belongs to the fields of the records, not to the list."""
    facts = FACTS.replace("    min_items: 1\n", "    min_items: 1\n    fresh_for: {days: 30, stale: warning, "
                          "reason: {zh: 原因, en: why}}\n")
    with pytest.raises(PolicyError) as err:
        eligibility.load(policy_dir({"demo.yaml": DEMO}, facts=facts))
    assert only(err.value, "fresh-for").message.startswith("a list field cannot have")


# ---------------------------------------------------------------- valid_until: certificates

#: The demo program on a vocabulary whose income is "valid until" a date given with it (as a certificate).
CERTIFIED = FACTS.replace(
    "  assessed_monthly_income: {type: money, unit: CNY/month, label: {zh: 月收入, en: Monthly income}}\n",
    "  assessed_monthly_income:\n"
    "    type: money\n"
    "    label: {zh: 月收入, en: Monthly income}\n"
    "    valid_until:\n"
    "      expired: unknown\n"
    "      reason: {zh: 收入证明须在有效期内, en: the income certificate must be valid on the decision date}\n")


@pytest.fixture
def certified(policy_dir: Callable[..., Path]) -> eligibility.Engine:
    """The demo program whose income comes with a validity date; the assets (no declaration) read by a rule."""
    return eligibility.load(policy_dir({"demo.yaml": PROGRAM}, facts=CERTIFIED))


def _with_validity(income_until: str, assets_until: str | None = None) -> dict[str, Any]:
    h = household()
    h["assessed_monthly_income"]["valid_until"] = income_until
    if assets_until:
        h["financial_assets"]["valid_until"] = assets_until
    return h


def test_a_certificate_valid_on_the_decision_date_is_used(certified: eligibility.Engine) -> None:
    """Valid until the decision date itself: decided, no warning, the trace keeps the validity date."""
    d = certified.decide(_with_validity("2024-09-01"), ON)
    assert d.programs["demo"].eligible is True and d.unknown_facts == ()
    assert d.to_json()["provenance"]["assessed_monthly_income"] == {"source": "人社 wage record",
                                                                    "valid_until": "2024-09-01"}
    assert not [w for w in d.to_json()["warnings"] if w["code"] == "expired-fact"]


def test_an_expired_certificate_is_unknown_when_declared_so(certified: eligibility.Engine) -> None:
    """Valid until the day before: the income is not known, the program waits on it, a warning says why."""
    d = certified.decide(_with_validity("2024-08-31"), ON)
    assert d.programs["demo"].eligible is None and d.programs["demo"].unknown == ("assessed_monthly_income",)
    trace = d.to_json()
    assert trace["provenance"]["assessed_monthly_income"]["expired"] == "unknown"
    [w] = [w for w in trace["warnings"] if w["code"] == "expired-fact"]
    assert w["path"] == "assessed_monthly_income" and w["valid_until"] == "2024-08-31"
    assert w["treated_as"] == "unknown" and "treated as not known" in w["message"]["en"]
    assert "the income certificate must be valid" in w["message"]["en"] and "按未知处理" in w["message"]["zh"]
    text = d.explain(lang="en")
    assert "valid until 2024-08-31" in text and "out of date" in text


def test_an_expired_fact_the_vocabulary_does_not_declare_is_used_with_a_warning(
        certified: eligibility.Engine) -> None:
    """The assets say they were valid until a past date, with no declaration: used as given, and a warning."""
    d = certified.decide(_with_validity("2024-12-31", assets_until="2024-01-31"), ON)
    assert d.programs["demo"].eligible is True
    [w] = [w for w in d.to_json()["warnings"] if w["code"] == "expired-fact"]
    assert w["path"] == "financial_assets" and w["treated_as"] == "warning"
    assert "verify it again" in w["message"]["en"]


def test_a_validity_before_the_verification_date_is_an_input_error(certified: eligibility.Engine) -> None:
    """valid_until before as_of is a contradiction named at its path."""
    h = _with_validity("2024-01-01")
    h["assessed_monthly_income"]["as_of"] = "2024-02-01"
    with pytest.raises(InputError) as err:
        certified.decide(h, ON)
    assert err.value.problems[0].path == "assessed_monthly_income.valid_until"


def test_bad_valid_until_in_the_vocabulary_is_reported_at_load_time(policy_dir: Callable[..., Path]) -> None:
    """`expired:` must be unknown or warning, with a hint, at its line."""
    facts = CERTIFIED.replace("      expired: unknown\n", "      expired: unknwn\n")
    with pytest.raises(PolicyError) as err:
        eligibility.load(policy_dir({"demo.yaml": PROGRAM}, facts=facts))
    d = only(err.value, "valid-until")
    assert "expired must be one of unknown, warning" in d.message and where(d)[:2] == ("facts.yaml", 7)
    assert d.hint == "did you mean 'unknown'?"


def test_the_bundled_disability_certificate_expires(engine_bundled: eligibility.Engine) -> None:
    """A member's disability grade given with a past validity date is not known on the decision date."""
    h = {"assessed_monthly_income": "800.00", "financial_assets": "0.00",
         "members": [{"id": "m1", "relation": "applicant", "birth_date": "1980-01-01", "sex": "male",
                      "guangdong_hukou": True,
                      "disability_grade": {"value": 1, "source": "残联", "valid_until": "2024-06-30"}}]}
    d = engine_bundled.decide(h, ON)
    assert "members[0].disability_grade" in d.unknown_facts


@pytest.fixture(scope="module")
def engine_bundled() -> eligibility.Engine:
    return eligibility.load()
