"""The engine decides deterministically, under its own decimal context, and fails only with typed errors."""

from __future__ import annotations

import copy
import decimal
import json
import linecache
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import eligibility
from conftest import FIXTURE
from eligibility import EvaluationError, InputError, PolicyError

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "huadu-family.json"
FAMILY = json.loads(EXAMPLE.read_text(encoding="utf-8"))
ON = "2024-09-01"


def family(**changes: Any) -> dict[str, Any]:
    """Return a fresh copy of the README family with top-level fields replaced."""
    h = copy.deepcopy(FAMILY)
    h.update(changes)
    return h


def canonical(decision: eligibility.Decision) -> str:
    """Serialise a decision's trace the way a caller would store it."""
    return json.dumps(decision.to_json(), ensure_ascii=False, sort_keys=True)


#: A small program on the conftest facts: a per-capita income test, a rule dividing by a
#: parameter that is 0, and a minimum over the members with a disability.
DEMO = """\
program: demo
title: {zh: 演示, en: Demo}
jurisdiction: "000000"
sources:
  S1: {title: 演示文件, document: 演示〔2024〕1号, confidence: C}
parameters:
  standard:
    type: money
    title: {zh: 标准, en: Standard}
    source: S1
    values: {2020-01-01: 1000, 2021-01-01: 1100}
  divisor: {type: integer, title: {zh: 除数, en: Divisor}, source: S1, values: {2020-01-01: 0}}
computed:
  per_capita:
    title: {zh: 人均收入, en: Per-capita income}
    expr: household.assessed_monthly_income / count(household.members)
  lowest_grade:
    title: {zh: 最低残疾等级, en: Lowest disability grade}
    expr: min(m.disability_grade for m in household.members if m.disability_grade > 0)
rules:
  low_income:
    title: {zh: 收入低于标准, en: Income below the standard}
    when: per_capita < standard
    source: S1
  broken:
    title: {zh: 除以零, en: Divides by zero}
    when: household.assessed_monthly_income / divisor > 0
    source: S1
  graded:
    title: {zh: 有残疾等级, en: Has a disability grade}
    when: lowest_grade >= 1
    source: S1
eligible: {eligible}
amount:
  expr: {amount}
"""


def demo(policy_dir: Callable[..., Path], eligible: str = "low_income",
         amount: str = "(standard - per_capita) * count(household.members)") -> eligibility.Engine:
    """Load the demo program with the given `eligible` and `amount` expressions."""
    return eligibility.load(policy_dir({"demo.yaml": DEMO.replace("{eligible}", eligible)
                                        .replace("{amount}", amount)}))


def person(income: str = "400.00", **member: Any) -> dict[str, Any]:
    """A one-person household for the conftest facts vocabulary."""
    return {"assessed_monthly_income": income,
            "members": [{"id": "a", "birth_date": "1980-01-01", "sex": "male", **member}]}


# ------------------------------------------------------------------ the README example


def test_readme_example_gets_1446(engine: eligibility.Engine) -> None:
    """The README's 3-person Huadu family gets (1282 - 800) x 3 = 1446.00 on 2024-09-01."""
    d = engine.decide(family(), on=ON)
    dibao = d.programs["dibao"]
    assert dibao.eligible is True
    assert dibao.amount == Decimal("1446.00")
    assert str(dibao.amount) == "1446.00"
    assert d.to_json()["programs"]["dibao"]["amount"] == "1446.00"


def test_readme_one_person_snippet_is_not_eligible(engine: eligibility.Engine) -> None:
    """The README's embedding snippet (one person, 2400) prints `False 0.00`."""
    household = {"assessed_monthly_income": "2400.00", "financial_assets": "12000.00",
                 "members": [{"id": "m1", "birth_date": "1984-03-12", "sex": "female",
                              "relation": "applicant", "guangdong_hukou": True}]}
    dibao = engine.decide(household, on=ON).programs["dibao"]
    assert (dibao.eligible, str(dibao.amount)) == (False, "0.00")


def test_decision_date_may_be_a_date_object(engine: eligibility.Engine) -> None:
    """`on` accepts a datetime.date as well as "YYYY-MM-DD"."""
    import datetime as dt

    a = engine.decide(family(), on=dt.date(2024, 9, 1))
    assert canonical(a) == canonical(engine.decide(family(), on=ON))


@pytest.mark.parametrize("on", ["2024-9-1", "01/09/2024", "", 20240901, None, "2024-02-30"], ids=repr)
def test_bad_decision_date_is_an_input_error(engine: eligibility.Engine, on: object) -> None:
    """A decision date that is not a calendar date is an InputError at path `on`."""
    with pytest.raises(InputError) as info:
        engine.decide(family(), on=on)
    assert info.value.path == "on"


# ------------------------------------------------------------------ decimal context (G-M)


def _under(ctx: decimal.Context, fn: Callable[[], Any]) -> Any:
    old = decimal.getcontext()
    decimal.setcontext(ctx)
    try:
        return fn()
    finally:
        decimal.setcontext(old)


def _hostile() -> decimal.Context:
    return decimal.Context(prec=3, rounding=decimal.ROUND_DOWN, traps=[])


def test_hostile_caller_context_gives_the_same_readme_amount(engine: eligibility.Engine) -> None:
    """A caller's prec=3 / ROUND_DOWN / no-traps context does not change the README decision."""
    d = _under(_hostile(), lambda: engine.decide(family(), on=ON))
    assert d.programs["dibao"].eligible is True
    assert d.programs["dibao"].amount == Decimal("1446.00")


def test_hostile_caller_context_does_not_round_the_input(engine: eligibility.Engine) -> None:
    """An income of 1234.56 is not rounded by the caller's 3-digit context: the amount stays 2611.44."""
    h = family(assessed_monthly_income="1234.56")
    expected = engine.decide(h, on=ON).programs["dibao"].amount
    assert expected == Decimal("2611.44")
    d = _under(_hostile(), lambda: engine.decide(h, on=ON))
    assert d.programs["dibao"].amount == expected
    assert d.value("dibao", "income_per_capita") == Decimal("411.52")


def test_hostile_caller_context_gives_the_same_trace(engine: eligibility.Engine) -> None:
    """to_json() and explain() are byte-identical under a hostile caller context."""
    expected = canonical(engine.decide(family(), on=ON))
    got = _under(_hostile(), lambda: canonical(engine.decide(family(), on=ON)))
    assert got == expected


def test_caller_context_trapping_inexact_raises_nothing_raw(engine: eligibility.Engine) -> None:
    """A caller context with prec=1 trapping Inexact neither leaks a decimal exception nor changes the result."""
    ctx = decimal.Context(prec=1, rounding=decimal.ROUND_DOWN,
                          traps=[decimal.Inexact, decimal.Rounded, decimal.InvalidOperation])
    d = _under(ctx, lambda: engine.decide(family(), on=ON))
    assert d.programs["dibao"].amount == Decimal("1446.00")


def test_decide_leaves_the_caller_context_untouched(engine: eligibility.Engine) -> None:
    """The caller's decimal context is the same object with the same settings after a decision."""
    ctx = _hostile()

    def run() -> decimal.Context:
        engine.decide(family(), on=ON)
        return decimal.getcontext()

    after = _under(ctx, run)
    assert after is ctx
    assert (after.prec, after.rounding) == (3, decimal.ROUND_DOWN)


# ------------------------------------------------------------------ purity and determinism (G-I)


def test_input_household_is_not_mutated(engine: eligibility.Engine) -> None:
    """decide, to_json, explain and value leave the caller's dict exactly as it was."""
    h = family(vehicles=[{"kind": "car"}])
    before = copy.deepcopy(h)
    d = engine.decide(h, on=ON)
    d.to_json()
    d.explain(lang="en")
    d.value("dibao", "vehicle_test")
    assert h == before
    assert engine.decide(h, on=ON, trace=False).to_json() is not None
    assert h == before


def test_eight_threads_give_identical_decisions_and_traces(engine: eligibility.Engine) -> None:
    """8 threads deciding the same and different households agree exactly with a serial run."""
    households = [family(assessed_monthly_income=f"{1000 + 250 * i}.00") for i in range(8)]
    expected = [canonical(engine.decide(h, on=ON)) for h in households]
    start = threading.Barrier(8)

    def work(i: int) -> list[str]:
        start.wait()
        out = []
        for _ in range(20):
            out.append(canonical(engine.decide(households[0], on=ON)))
            out.append(canonical(engine.decide(households[i], on=ON)))
        return out

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    for i, got in enumerate(results):
        assert set(got[0::2]) == {expected[0]}
        assert set(got[1::2]) == {expected[i]}


_SCRIPT = """\
import json, sys
import eligibility
engine = eligibility.load(sys.argv[1])
household = json.load(open(sys.argv[2], encoding="utf-8"))
decision = engine.decide(household, on="2024-09-01")
sys.stdout.write(json.dumps(decision.to_json(), sort_keys=True))
"""


@pytest.mark.parametrize("household", ["readme", "failing"])
def test_decision_is_byte_identical_across_processes(tmp_path: Path, household: str) -> None:
    """Different PYTHONHASHSEED values and `python -O` produce byte-identical JSON."""
    h = family() if household == "readme" else family(assessed_monthly_income="4200.00",
                                                       vehicles=[{"kind": "car"}])
    hfile = tmp_path / "household.json"
    hfile.write_text(json.dumps(h), encoding="utf-8")
    runs = []
    for flags, seed in (([], "0"), ([], "4242"), (["-O"], "77")):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("PYTHONOPTIMIZE", None)
        proc = subprocess.run([sys.executable, *flags, "-c", _SCRIPT, str(FIXTURE), str(hfile)],
                              capture_output=True, env=env, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        runs.append(proc.stdout)
    assert runs[0] == runs[1] == runs[2]
    assert json.loads(runs[0])["programs"]["dibao"]["eligible"] is (household == "readme")


def test_untraced_decision_gives_the_same_outcome(engine: eligibility.Engine) -> None:
    """trace=False gives the same eligibility and amount as a traced decision."""
    for h in (family(), family(assessed_monthly_income="4200.00"), family(assessed_monthly_income="3845.99")):
        a = engine.decide(h, on=ON)
        b = engine.decide(h, on=ON, trace=False)
        assert a.programs == b.programs
        assert not b.traced


def test_untraced_decision_serialises_like_a_traced_one(engine: eligibility.Engine) -> None:
    """to_json() of a trace=False decision equals the traced decision's, including `defaulted`."""
    a = engine.decide(family(), on=ON)
    b = engine.decide(family(), on=ON, trace=False)
    assert canonical(b) == canonical(a)


def test_value_of_a_skipped_rule_evaluates_it_and_keeps_the_decision(engine: eligibility.Engine) -> None:
    """value() of a short-circuited rule evaluates it without changing the decision or its trace."""
    d = engine.decide(family(assessed_monthly_income="4200.00", vehicles=[{"kind": "car"}]), on=ON)
    before = d.to_json()
    assert d.value("dibao", "vehicle_test") is False
    assert d.to_json() == before
    steps = {s["name"]: s for s in before["programs"]["dibao"]["steps"]}
    assert steps["vehicle_test"]["needed"] is False and steps["vehicle_test"]["outcome"] == "failed"
    assert before["programs"]["dibao"]["eligible"] is False


# ------------------------------------------------------------------ policy hash


def test_policy_hash_is_recorded_and_stable(engine: eligibility.Engine) -> None:
    """Every decision records the policy hash; loading the same files again gives the same hash."""
    d = engine.decide(family(), on=ON)
    assert d.policy_hash.startswith("sha256:")
    assert d.policy_hash == engine.policy_hash == d.to_json()["policy"]["hash"]
    again = eligibility.load(FIXTURE)
    assert again.policy_hash == engine.policy_hash


def test_policy_hash_changes_when_a_policy_file_changes(policy_dir: Callable[..., Path]) -> None:
    """Changing one number in a policy file changes the hash recorded in decisions."""
    first = demo(policy_dir)
    same = demo(policy_dir)
    assert same.policy_hash == first.policy_hash
    root = policy_dir({"demo.yaml": DEMO.replace("{eligible}", "low_income")
                       .replace("{amount}", "(standard - per_capita) * count(household.members)")
                       .replace("2021-01-01: 1100", "2021-01-01: 1101")})
    changed = eligibility.load(root)
    assert changed.policy_hash != first.policy_hash
    a = first.decide(person(), on=ON)
    b = changed.decide(person(), on=ON)
    assert a.to_json()["policy"]["files"]["demo.yaml"] != b.to_json()["policy"]["files"]["demo.yaml"]
    assert a.to_json()["policy"]["files"]["facts.yaml"] == b.to_json()["policy"]["files"]["facts.yaml"]
    assert b.programs["demo"].amount == Decimal("701.00")


# ------------------------------------------------------------------ dates of parameters


def test_date_before_the_first_value_names_the_parameter(engine: eligibility.Engine) -> None:
    """On 2018-01-01 no dibao standard is known: EvaluationError naming `standard` and its first date."""
    with pytest.raises(EvaluationError) as info:
        engine.decide(family(), on="2018-01-01", programs=["dibao"], strict=True)
    err = info.value
    assert err.program == "dibao"
    assert "'standard'" in str(err)
    assert "2019-01-01" in str(err)


def test_date_before_first_value_in_a_small_policy(policy_dir: Callable[..., Path]) -> None:
    """A parameter with no value yet on the decision date is an EvaluationError, never a default."""
    with pytest.raises(EvaluationError) as info:
        demo(policy_dir).decide(person(), on="2019-12-31", strict=True)
    assert "'standard'" in str(info.value)
    assert "2020-01-01" in str(info.value)


def test_date_long_after_the_last_standard_warns(engine: eligibility.Engine) -> None:
    """More than a year after the last known standard, the decision carries a warning."""
    d = engine.decide(family(), on="2025-07-01")
    assert d.programs["dibao"].amount == Decimal("1446.00")
    assert any("dibao.standard" in w and "2024-06-01" in w for w in d.warnings)
    assert [w["message"]["en"] for w in d.to_json()["warnings"]] == list(d.warnings)
    assert d.warnings[0] in d.explain(lang="en")


def test_recent_standard_gives_no_warning(engine: eligibility.Engine) -> None:
    """Within a year of the last known standard there is no warning."""
    d = engine.decide(family(), on=ON)
    assert d.warnings == ()
    assert d.to_json()["warnings"] == []


# ------------------------------------------------------------------ evaluation errors


def test_division_by_zero_names_program_and_rule(policy_dir: Callable[..., Path]) -> None:
    """A rule dividing by a zero parameter raises EvaluationError naming demo.broken and its position."""
    engine = demo(policy_dir, eligible="broken")
    with pytest.raises(EvaluationError) as info:
        engine.decide(person(), on=ON, strict=True)
    err = info.value
    assert (err.program, err.rule) == ("demo", "broken")
    assert not isinstance(err, ZeroDivisionError | decimal.DecimalException)
    assert "division by zero" in str(err)
    assert "demo.yaml:" in str(err)
    assert "Traceback" not in str(err)
    assert err.__cause__ is None


def test_division_by_zero_in_a_generator_names_the_member(policy_dir: Callable[..., Path]) -> None:
    """Dividing by a member's zero grade names that member's field in the error."""
    program = DEMO.replace("{eligible}", "share_test").replace(
        "{amount}", "(standard - per_capita) * count(household.members)").replace(
        "rules:\n", "rules:\n  share_test:\n    title: {zh: 份额, en: Share}\n    source: S1\n"
        "    when: sum(household.assessed_monthly_income / m.disability_grade"
        " for m in household.members) < standard\n")
    engine = eligibility.load(policy_dir({"demo.yaml": program}))
    household = person(disability_grade=2)
    household["members"].append({"id": "b", "birth_date": "1990-01-01", "sex": "female"})
    with pytest.raises(EvaluationError) as info:
        engine.decide(household, on=ON, strict=True)
    assert info.value.rule == "share_test"
    assert info.value.path == "members[1].disability_grade"
    # The field comes from the compiler's line table: the same message after linecache is cleared.
    linecache.clearcache()
    with pytest.raises(EvaluationError) as again:
        engine.decide(household, on=ON, strict=True)
    assert str(again.value) == str(info.value)
    assert again.value.path == "members[1].disability_grade"


def test_zero_divided_by_zero_is_an_evaluation_error(policy_dir: Callable[..., Path]) -> None:
    """0 / 0 (decimal DivisionUndefined) is reported like any division by zero."""
    engine = demo(policy_dir, eligible="broken")
    with pytest.raises(EvaluationError) as info:
        engine.decide(person("0.00"), on=ON, strict=True)
    assert info.value.rule == "broken"
    assert not isinstance(info.value, ZeroDivisionError | decimal.DecimalException)


def test_division_by_zero_in_value_is_an_evaluation_error(policy_dir: Callable[..., Path]) -> None:
    """Decision.value() of a rule that divides by zero raises EvaluationError, not a raw exception."""
    d = demo(policy_dir).decide(person(), on=ON)
    with pytest.raises(EvaluationError) as info:
        d.value("demo", "broken")
    assert (info.value.program, info.value.rule) == ("demo", "broken")


def test_min_over_an_empty_generator_is_an_evaluation_error(policy_dir: Callable[..., Path]) -> None:
    """min() over no disabled members raises EvaluationError naming the computed value."""
    engine = demo(policy_dir, eligible="low_income and graded")
    err = engine.decide(person(), on=ON).programs["demo"].error
    assert err is not None
    assert (err.program, err.rule) == ("demo", "lowest_grade")
    assert "min(" in str(err)
    assert not isinstance(err, ValueError)
    ok = engine.decide(person(disability_grade=2), on=ON)
    assert ok.programs["demo"].eligible is True
    assert ok.value("demo", "lowest_grade") == 2


def test_and_short_circuits_the_second_rule(policy_dir: Callable[..., Path]) -> None:
    """`low_income and broken` with low_income false never evaluates broken, so no division by zero."""
    engine = demo(policy_dir, eligible="low_income and broken")
    d = engine.decide(person("5000.00"), on=ON)
    assert d.programs["demo"].eligible is False
    steps = {s["name"]: s for s in d.to_json()["programs"]["demo"]["steps"]}
    assert steps["low_income"]["outcome"] == "failed"
    assert steps["broken"]["needed"] is False
    assert steps["broken"]["outcome"] == "error" and "division by zero" in steps["broken"]["error"]
    assert steps["eligible"]["not_evaluated"] == ["broken"]
    with pytest.raises(EvaluationError):
        engine.decide(person("400.00"), on=ON, strict=True)


def test_or_short_circuits_the_second_rule(policy_dir: Callable[..., Path]) -> None:
    """`low_income or broken` with low_income true never evaluates broken."""
    d = demo(policy_dir, eligible="low_income or broken").decide(person(), on=ON)
    assert d.programs["demo"].eligible is True
    steps = {s["name"]: s for s in d.to_json()["programs"]["demo"]["steps"]}
    assert steps["broken"]["needed"] is False and steps["broken"]["outcome"] == "error"


# ------------------------------------------------------------------ programs= and amounts


def test_unknown_program_is_an_input_error(engine: eligibility.Engine) -> None:
    """Asking for a program the set does not have is an InputError at `programs`."""
    with pytest.raises(InputError) as info:
        engine.decide(family(), on=ON, programs=["dibao", "tekun"])
    assert (info.value.path, info.value.kind) == ("programs", "unknown")
    assert "tekun" in str(info.value)


def test_programs_by_name(engine: eligibility.Engine) -> None:
    """programs=["dibao"] (or the bare string) decides that program only."""
    assert list(engine.decide(family(), on=ON, programs=["dibao"]).programs) == ["dibao"]
    assert list(engine.decide(family(), on=ON, programs="dibao").programs) == ["dibao"]


@pytest.mark.parametrize("income", ["0.00", "1.00", "1000.00", "2000.00", "3845.99", "3846.00", "5000.00"])
def test_amount_is_a_decimal_with_two_places(engine: eligibility.Engine, income: str) -> None:
    """The amount is a Decimal with exactly two places, whether eligible or not."""
    amount = engine.decide(family(assessed_monthly_income=income), on=ON).programs["dibao"].amount
    assert isinstance(amount, Decimal)
    assert amount.as_tuple().exponent == -2
    assert not amount.is_signed()


@pytest.mark.parametrize(("income", "members", "amount"), [
    ("1000.00", 3, "766.67"), ("2000.00", 3, "433.33"), ("500.00", 3, "933.33"),
    ("0.03", 2, "1099.99"), ("0.01", 2, "1100.00"), ("0.07", 2, "1099.97"),
])
def test_amount_is_rounded_half_up_to_the_fen(policy_dir: Callable[..., Path], income: str, members: int,
                                              amount: str) -> None:
    """1100 - income / members is rounded half-up (1099.985 -> 1099.99, not half-even 1099.98)."""
    d = demo(policy_dir, amount="standard - per_capita").decide(
        {"assessed_monthly_income": income, "members": [
            {"id": f"m{i}", "birth_date": "1980-01-01", "sex": "male"} for i in range(members)]}, on=ON)
    got = d.programs["demo"].amount
    assert str(got) == amount
    assert d.to_json()["programs"]["demo"]["amount"] == amount


def test_amount_is_never_negative_zero(policy_dir: Callable[..., Path]) -> None:
    """An amount that computes to -0 is reported as 0.00, never -0.00."""
    d = demo(policy_dir, amount="-household.assessed_monthly_income").decide(person("0.00"), on=ON)
    amount = d.programs["demo"].amount
    assert str(amount) == "0.00"
    assert not amount.is_signed()
    assert d.to_json()["programs"]["demo"]["amount"] == "0.00"
    assert "-0.00" not in d.explain(lang="en")


def test_value_reads_a_computed_value_and_a_rule(engine: eligibility.Engine) -> None:
    """Decision.value gives income_per_capita 800.00 and rule outcomes, and KeyError for unknown names."""
    d = engine.decide(family(), on=ON)
    per_capita = d.value("dibao", "income_per_capita")
    assert isinstance(per_capita, Decimal)
    assert per_capita == Decimal("800.00")
    assert d.value("dibao", "income_test") is True
    assert d.value("dibao", "category_supplement") == Decimal("256.40")
    with pytest.raises(KeyError):
        d.value("dibao", "no_such_rule")
    with pytest.raises(KeyError):
        d.value("tekun", "eligible")


def test_value_of_an_untraced_decision(engine: eligibility.Engine) -> None:
    """Decision.value works on a trace=False decision too."""
    d = engine.decide(family(assessed_monthly_income="4200.00"), on=ON, trace=False)
    assert d.value("dibao", "income_per_capita") == Decimal("1400.00")
    assert d.value("dibao", "vehicle_test") is True


def test_work_bound_refuses_a_household_too_large_for_the_policy(policy_dir: Callable[..., Path]) -> None:
    """A per-member rule over every pair of members is refused for 1,000 members, with the limit named."""
    program = DEMO.replace("{eligible}", "any(m.pairs_test for m in household.members)").replace(
        "{amount}", "(standard - per_capita) * count(household.members)").replace(
        "rules:\n", "rules:\n  pairs_test:\n    title: {zh: 成对, en: Pairs}\n    source: S1\n"
        "    each: member in household.members\n"
        "    when: count(a for a in household.members for b in household.members if a.id == b.id) > 0\n")
    engine = eligibility.load(policy_dir({"demo.yaml": program}))
    household = person()
    household["members"] = [{"id": str(i), "birth_date": "1990-01-01", "sex": "female"} for i in range(1000)]
    with pytest.raises(InputError) as info:
        engine.decide(household, on=ON)
    assert info.value.kind == "limit" and "2,000,000" in str(info.value)
    household["members"] = household["members"][:100]
    assert engine.decide(household, on=ON).programs["demo"].eligible is True


# ------------------------------------------------------------------ outputs across programs and dates

OTHER = """\
program: other
title: {zh: 其他, en: Other}
jurisdiction: "000000"
sources:
  S2: {title: 其他文件, confidence: S}
parameters:
  late: {type: money, title: {zh: 后来的标准, en: Later standard}, source: S2, values: {2030-01-01: 5}}
computed:
  needs_late:
    title: {zh: 用到后来的标准, en: Uses the later standard}
    expr: late * 2
rules:
  demo_pays:
    title: {zh: 演示有金额, en: Demo pays something}
    source: S2
    when: demo.amount > 0
  demo_tier_high:
    title: {zh: 演示层级, en: Demo tier}
    source: S2
    when: demo.tier == "high"
  later_rule:
    title: {zh: 以后才生效, en: In force later}
    source: S2
    not_in_force: passes
    versions:
      - effective: {from: 2030-01-01}
        when: late > 0
eligible: demo_pays and later_rule
"""


def other_engine(policy_dir: Callable[..., Path]) -> eligibility.Engine:
    tier = 'tier: \'"high" if low_income else "low"\'\n'
    demo_text = DEMO.replace("{eligible}", "low_income").replace(
        "{amount}", "(standard - per_capita) * count(household.members)") + tier
    return eligibility.load(policy_dir({"demo.yaml": demo_text, "other.yaml": OTHER}))


def test_another_programs_amount_is_zero_when_it_is_not_eligible(policy_dir: Callable[..., Path]) -> None:
    """`demo.amount` read by another program is the decided amount: 0 when demo is refused, never negative."""
    engine = other_engine(policy_dir)
    d = engine.decide(person("5000.00"), on=ON)
    assert d.programs["demo"].eligible is False
    assert d.value("other", "demo_pays") is False
    assert d.value("demo", "amount") == Decimal("0.00")
    assert engine.decide(person("400.00"), on=ON).value("other", "demo_pays") is True


def test_reading_another_programs_tier_traces(policy_dir: Callable[..., Path]) -> None:
    """A rule on another program's tier is traced with the tier's label."""
    d = other_engine(policy_dir).decide(person("400.00"), on=ON)
    steps = {s["name"]: s for s in d.to_json()["programs"]["other"]["steps"]}
    assert steps["demo_tier_high"]["value"] is True


def test_a_parameter_used_only_by_a_later_rule_does_not_block_earlier_decisions(
        policy_dir: Callable[..., Path]) -> None:
    """A later rule stating `not_in_force: passes` passes now; its parameter's missing value is never asked for."""
    d = other_engine(policy_dir).decide(person("400.00"), on=ON)
    assert d.programs["other"].eligible is True
    steps = {s["name"]: s for s in d.to_json()["programs"]["other"]["steps"]}
    assert steps["later_rule"]["outcome"] == "not_in_force"


def test_a_value_needing_a_parameter_without_value_names_it(policy_dir: Callable[..., Path]) -> None:
    """Asking for a value whose parameter has no value on the date is an EvaluationError naming the parameter."""
    d = other_engine(policy_dir).decide(person("400.00"), on=ON)
    with pytest.raises(EvaluationError) as info:
        d.value("other", "needs_late")
    assert "parameter 'late'" in str(info.value) and "2030-01-01" in str(info.value)
    assert "internal error" not in str(info.value)


def test_a_program_not_in_force_cannot_be_decided(policy_dir: Callable[..., Path]) -> None:
    """A program whose `eligible` has no version in force on the date is undecided, never refused or granted."""
    text = DEMO.replace("eligible: {eligible}", "eligible:\n  versions:\n    - effective: {from: 2030-01-01}\n"
                        "      expr: low_income").replace("{amount}", "standard")
    d = eligibility.load(policy_dir({"demo.yaml": text})).decide(person(), on=ON)
    assert d.programs["demo"].eligible is None and d.programs["demo"].amount is None
    assert "no version of 'eligible' is in force on 2024-09-01" in str(d.programs["demo"].error)
    assert "cannot be decided" in d.explain(lang="en")


def test_a_program_stated_not_eligible_when_not_in_force_is_refused(policy_dir: Callable[..., Path]) -> None:
    """`not_in_force: fails` on `eligible` refuses on dates before the program, traced as not in force."""
    text = DEMO.replace("eligible: {eligible}", "eligible:\n  not_in_force: fails\n  versions:\n"
                        "    - effective: {from: 2030-01-01}\n      expr: low_income").replace("{amount}", "standard")
    d = eligibility.load(policy_dir({"demo.yaml": text})).decide(person(), on=ON)
    assert d.programs["demo"].eligible is False and d.programs["demo"].amount == Decimal("0.00")
    steps = {s["name"]: s for s in d.to_json()["programs"]["demo"]["steps"]}
    assert steps["eligible"]["outcome"] == "not_in_force"


GAP = """  gap_rule:
    title: {zh: 有空档的规则, en: A rule with a gap}
    source: S1
{absent}    versions:
      - effective: {until: 2022-12-31}
        when: household.assessed_monthly_income < 100
      - effective: {from: 2024-01-01}
        when: household.assessed_monthly_income < 200
"""


@pytest.mark.parametrize(("until", "start", "first", "last"), [
    ("2022-12-31", "2024-01-01", "2023-01-01", "2023-12-31"),
    ("2025-12-30", "2026-01-01", "2025-12-31", "2025-12-31"),
])
def test_a_gap_between_versions_is_an_error(policy_dir: Callable[..., Path], until: str, start: str,
                                            first: str, last: str) -> None:
    """A gap between two versions of a rule is a policy error naming the missing dates, even a one-day gap."""
    rule = GAP.replace("{absent}", "").replace("2022-12-31", until).replace("2024-01-01", start)
    text = DEMO.replace("{eligible}", "low_income and gap_rule").replace("{amount}", "standard").replace(
        "rules:\n", "rules:\n" + rule)
    with pytest.raises(PolicyError) as info:
        eligibility.load(policy_dir({"demo.yaml": text}))
    (diag,) = [d for d in info.value.diagnostics if d.code == "version-gap"]
    assert f"from {first} to {last}" in diag.message
    assert "demo.yaml:" in diag.message  # the earlier version's position


def test_a_gap_stated_on_purpose_decides_as_stated(policy_dir: Callable[..., Path]) -> None:
    """With `not_in_force: passes` the gap loads, and a date in it passes the rule, traced as not in force."""
    text = DEMO.replace("{eligible}", "low_income and gap_rule").replace("{amount}", "standard").replace(
        "rules:\n", "rules:\n" + GAP.replace("{absent}", "    not_in_force: passes\n"))
    d = eligibility.load(policy_dir({"demo.yaml": text})).decide(person("400.00"), on="2023-06-01")
    steps = {s["name"]: s for s in d.to_json()["programs"]["demo"]["steps"]}
    assert steps["gap_rule"]["outcome"] == "not_in_force"


def test_a_rule_before_its_first_version_cannot_be_decided(policy_dir: Callable[..., Path]) -> None:
    """A date before a rule's first version (nothing stated) makes the program undecided, never passed."""
    rule = GAP.replace("{absent}", "").replace("{until: 2022-12-31}", "{from: 2021-01-01, until: 2022-12-31}").replace(
        "{from: 2024-01-01}", "{from: 2023-01-01}")
    text = DEMO.replace("{eligible}", "gap_rule and low_income").replace("{amount}", "standard").replace(
        "rules:\n", "rules:\n" + rule)
    engine = eligibility.load(policy_dir({"demo.yaml": text}))
    d = engine.decide(person("400.00"), on="2020-06-01")
    assert d.programs["demo"].eligible is None
    assert "no version of 'gap_rule' is in force on 2020-06-01" in str(d.programs["demo"].error)
    assert engine.decide(person("50.00"), on="2021-06-01").programs["demo"].eligible is True


def test_a_program_that_cannot_be_decided_does_not_stop_the_others(policy_dir: Callable[..., Path]) -> None:
    """One program's evaluation error is recorded on it; the other programs are still decided."""
    engine = demo(policy_dir, eligible="low_income and broken")
    d = engine.decide(person("400.00"), on=ON)
    demo_decision = d.programs["demo"]
    assert demo_decision.eligible is None and demo_decision.amount is None
    assert demo_decision.error is not None and demo_decision.error.rule == "broken"
    assert d.errors == {"demo": demo_decision.error}
    assert "division by zero" in d.to_json()["programs"]["demo"]["error"]
    assert "cannot be decided" in d.explain(lang="en")


def test_rounding_a_parameter_without_a_value_names_it(policy_dir: Callable[..., Path]) -> None:
    """round_up of a parameter with no value yet is an error naming the parameter, not an internal error."""
    engine = demo(policy_dir, amount="round_up(standard, 1)")
    error = engine.decide(person(), on="2019-06-01").programs["demo"].error
    assert error is not None and "parameter 'standard'" in str(error) and "internal" not in str(error)


def test_a_bool_parameter_without_a_value_as_the_outcome_traces(policy_dir: Callable[..., Path]) -> None:
    """A program whose eligible is a bool parameter with no value is undecided, and its trace still renders."""
    text = DEMO.replace("{eligible}", "flag").replace("{amount}", "standard").replace(
        "parameters:\n", "parameters:\n  flag: {type: bool, title: {zh: 标志, en: Flag}, source: S1, "
        "values: {2030-01-01: true}}\n")
    d = eligibility.load(policy_dir({"demo.yaml": text})).decide(person(), on=ON)
    assert d.programs["demo"].eligible is None
    trace = d.to_json()
    assert "parameter 'flag'" in trace["programs"]["demo"]["error"]
    assert "cannot be decided" in d.explain(lang="en")


def test_value_of_a_per_member_amount_is_the_decided_amount() -> None:
    """value(p, "amount") of a per-member program gives 0.00 to members who are not eligible."""
    import json

    engine = eligibility.load()
    household = json.loads((Path(__file__).parent.parent / "examples" / "huadu-family.json").read_text())
    d = engine.decide(household, on=ON)
    decided = {r.id: r.amount for r in d.programs["category_supplement"].members or ()}
    assert d.value("category_supplement", "amount") == decided
    assert set(d.value("tekun", "amount").values()) == {Decimal("0.00")}


def test_value_of_the_amount_of_an_undecided_program_raises(policy_dir: Callable[..., Path]) -> None:
    """value(p, "amount") of a program that could not be decided raises its error, never returns None."""
    d = demo(policy_dir, eligible="low_income and broken").decide(person("400.00"), on=ON)
    with pytest.raises(EvaluationError):
        d.value("demo", "amount")
