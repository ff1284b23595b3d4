"""The untraced hot path: lean generated functions, the generated validator, the result objects.

An untraced decision runs the lean functions (small per-record rules read in line, see
`codegen.lean_functions`) and builds its result objects without attrs' `__init__`; none of it may
change a decision, an error's attribution, the compact trace or what the coverage tool flips.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eligibility
from eligibility.base.errors import EvaluationError
from eligibility.compile.pipeline import LEAN_REFERENCE
from eligibility.engine.runtime import Engine, ProgramDecision, RecordDecision
from eligibility.testing.variants import Variants

ROOT = Path(__file__).parent.parent
FAMILY = json.loads((ROOT / "examples" / "huadu-family.json").read_text(encoding="utf-8"))
ON = dt.date(2024, 9, 1)


@pytest.fixture(scope="module")
def bundled() -> Engine:
    return eligibility.load()


@pytest.fixture(scope="module")
def reference(bundled: Engine) -> Engine:
    """The bundled set with the lean functions turned off: every untraced decision runs the d-functions."""
    ns = {k: v for k, v in bundled.compiled.namespace.items() if k != LEAN_REFERENCE}
    return Engine(attrs.evolve(bundled.compiled, namespace=ns))


def family(**member_changes: Any) -> dict[str, Any]:
    h = copy.deepcopy(FAMILY)
    for m in h["members"]:
        m.setdefault("hukou_local", True)
        m.update(member_changes)
    return h


def outcome(pd: ProgramDecision) -> tuple[Any, ...]:
    """Everything a user reads of a program's outcome, the error's attribution included."""
    err = pd.error
    where = None if err is None else (str(err), err.program, err.rule, err.path, err.span)
    return pd.program, pd.eligible, pd.amount, pd.tier, pd.members, pd.reads_unknown, where


def memo(decision: eligibility.Decision) -> list[Any]:
    """The values a decision evaluated, a per-record value's keyed by (list, index) instead of id()."""
    facts = decision.facts
    where = {id(r): (name, i) for name, items in facts.items() if isinstance(items, list)
             for i, r in enumerate(items)}
    return [{where[k]: x for k, x in v.items()} if isinstance(v, dict) else v for v in decision.memo_values()]


def test_the_bundled_set_reads_small_per_record_rules_in_line(bundled: Engine, reference: Engine) -> None:
    """The lean functions are in use, and they leave out a function for the rules they read in line."""
    gen = bundled.compiled.generated
    assert gen.inlined, "no per-record rule is read in line"
    ns = bundled.compiled.namespace
    assert all(f"l{k}" not in ns and f"d{k}" in ns for k in gen.inlined)
    assert bundled._lean is not bundled._untraced
    assert reference._lean is reference._untraced


@pytest.mark.parametrize("members", [1, 3, 6])
def test_lean_and_reference_decide_alike_with_the_same_compact_trace(bundled: Engine, reference: Engine,
                                                                     members: int) -> None:
    """Every program, its members, the values a compact trace and `value()` read: the same either way."""
    h = family()
    h["members"] = [dict(h["members"][i % len(h["members"])], id=f"m{i}") for i in range(members)]
    if members > 1:
        h["members"][1]["relation"] = "spouse"
    for m in h["members"][2:]:
        m["relation"] = "child"
    lean = bundled.decide(h, on=ON, trace=False)
    ref = reference.decide(h, on=ON, trace=False)
    assert [outcome(p) for p in lean.programs.values()] == [outcome(p) for p in ref.programs.values()]
    assert lean.to_compact() == ref.to_compact()
    assert memo(lean) == memo(ref)
    k = next(iter(bundled.compiled.generated.inlined))
    program, name = bundled._index_to_def[k]
    assert lean.value(program, name) == ref.value(program, name)


def test_an_error_in_a_rule_read_in_line_names_the_same_rule_record_and_field(bundled: Engine,
                                                                             reference: Engine) -> None:
    """A birth date after the decision date fails inside lean code: the error is the reference functions' own."""
    h = family()
    h["members"][1]["birth_date"] = "2030-01-01"
    lean = bundled.decide(h, on=ON, trace=False)
    ref = reference.decide(h, on=ON, trace=False)
    failed = {n: p.error for n, p in lean.programs.items() if p.error is not None}
    assert failed, "the household was meant to make some rule fail"
    assert any(e.path == "members[1].birth_date" for e in failed.values())
    assert [outcome(p) for p in lean.programs.values()] == [outcome(p) for p in ref.programs.values()]
    name = next(n for n, e in failed.items() if e.path == "members[1].birth_date")
    with pytest.raises(EvaluationError) as raised:
        bundled.decide(h, on=ON, programs=[name], trace=False, strict=True)
    assert (raised.value.rule, raised.value.path) == (failed[name].rule, failed[name].path)


def test_a_flipped_rule_read_in_line_is_still_flipped() -> None:
    """The coverage tool replaces d-functions: an engine over such a namespace never runs the lean functions."""
    engine = eligibility.load()
    gen = engine.compiled.generated
    k = min(gen.inlined)
    variants = Variants(engine)
    ns = variants.namespace()
    original = ns[f"d{k}"]
    ns[f"d{k}"] = lambda h, pv, c, on, x: not original(h, pv, c, on, x)
    flipped = variants.engine(namespace=ns)
    assert flipped._lean is flipped._untraced
    program, name = engine._index_to_def[k]
    h = family()
    plain = engine.decide(h, on=ON, trace=False).value(program, name)
    other = flipped.decide(h, on=ON, trace=False).value(program, name)
    assert plain.keys() == other.keys()
    assert all(other[i] is (not plain[i]) for i in plain)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(income=st.integers(0, 600_000), ages=st.lists(st.integers(0, 95), min_size=1, max_size=5),
       student=st.booleans(), disabled=st.booleans())
def test_lean_and_reference_agree_on_generated_households(bundled: Engine, reference: Engine, income: int,
                                                           ages: list[int], student: bool, disabled: bool) -> None:
    h = family()
    h["assessed_monthly_income"] = f"{income // 100}.{income % 100:02d}"
    base = h["members"][0]
    h["members"] = []
    for i, age in enumerate(ages):
        m = dict(base, id=f"m{i}", relation="applicant" if i == 0 else "child",
                 birth_date=dt.date(2024 - age, 3, 1).isoformat(), full_time_student=student and age < 25)
        if disabled and i == len(ages) - 1:
            m.update(disability_type="physical", disability_grade=2)
        h["members"].append(m)
    lean = bundled.decide(h, on=ON, trace=False)
    ref = reference.decide(h, on=ON, trace=False)
    assert [outcome(p) for p in lean.programs.values()] == [outcome(p) for p in ref.programs.values()]
    assert lean.to_compact() == ref.to_compact()


@pytest.mark.parametrize("amount", ["2400.50", 2400, Decimal("2400.50"), 2400.5, Decimal("2400")])
def test_money_in_every_exact_form_is_read_by_the_generated_validator(bundled: Engine, amount: object,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Text, int, Decimal and an exactly representable float all take the fast path, and decide as the text."""
    def field_by_field(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the household fell to the field-by-field validator")

    given_ = family()
    given_["assessed_monthly_income"] = amount
    as_text = family()
    as_text["assessed_monthly_income"] = str(Decimal(repr(amount) if isinstance(amount, float) else amount) + 0)
    expected = bundled.decide(as_text, on=ON, trace=False)
    monkeypatch.setattr(bundled.validator, "read", field_by_field)
    got = bundled.decide(given_, on=ON, trace=False)
    assert [outcome(p) for p in got.programs.values()] == [outcome(p) for p in expected.programs.values()]
    assert got.facts["assessed_monthly_income"] == Decimal(as_text["assessed_monthly_income"])


def test_every_invalid_field_is_still_reported_with_its_path(bundled: Engine) -> None:
    """The fast path reads every field given: bad fields dibao never reads are reported too, each at its path."""
    h = family()
    h["members"][0]["disability_grade"] = 9
    h["members"][1]["sex"] = "robot"
    h["financial_assets"] = 1e-05
    with pytest.raises(eligibility.InputError) as raised:
        bundled.decide(h, on=ON, programs=["dibao"], trace=False)
    paths = {p.path for p in raised.value.problems}
    assert {"members[0].disability_grade", "members[1].sex", "financial_assets"} <= paths


def test_result_objects_built_on_the_hot_path_equal_those_built_by_their_class() -> None:
    """The hot path's builders set every field, the defaults included."""
    from eligibility.engine.runtime import _new_decided, _new_record

    title = {"zh": "低保", "en": "Dibao"}
    assert _new_decided("dibao", True, Decimal("1.00"), title, "a") == ProgramDecision(
        "dibao", True, Decimal("1.00"), title, tier="a")
    built = _new_decided("dibao", False, None, title, None)
    assert (built.members, built.error, built.reads_unknown, built.undetermined) == (None, None, (), False)
    assert _new_record(2, "m3", True, Decimal("5.00"), None) == RecordDecision(2, "m3", True, Decimal("5.00"))
    assert repr(_new_record(0, None, False, None, None)) == repr(RecordDecision(0, None, False, None))


def test_optional_fields_checked_in_line_are_still_checked_and_a_null_takes_the_default(bundled: Engine) -> None:
    """The members' optional bool, enum and integer fields are checked in the validator's loop: each bad one named."""
    h = family()
    h["members"][0]["full_time_student"] = "yes"
    h["members"][1]["self_care"] = "sometimes"
    h["members"][2]["years_apart"] = -1
    with pytest.raises(eligibility.InputError) as raised:
        bundled.decide(h, on=ON, trace=False)
    paths = {p.path for p in raised.value.problems}
    assert {"members[0].full_time_student", "members[1].self_care", "members[2].years_apart"} <= paths
    absent, null = family(), family()
    for m, n in zip(absent["members"], null["members"], strict=True):
        m.pop("full_time_student", None)
        n["full_time_student"] = None
    a, n = bundled.decide(absent, on=ON, trace=False), bundled.decide(null, on=ON, trace=False)
    assert [outcome(p) for p in a.programs.values()] == [outcome(p) for p in n.programs.values()]
    assert list(a.defaulted) == list(n.defaulted)
    assert "members[0].full_time_student" in list(n.defaulted)


def test_a_date_read_again_is_the_same_date_and_a_bad_one_is_still_reported(bundled: Engine,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Dates are read through a cache of their text: a date seen before decides as a fresh one; no bad date is kept."""
    from eligibility.engine import facts

    h = family()
    first = bundled.decide(h, on=ON, trace=False)
    again = bundled.decide(family(), on=ON, trace=False)
    monkeypatch.setattr(facts, "_DATES", {})
    monkeypatch.setattr(facts, "_DATES_MAX", 0)  # nothing cached: every date parsed
    fresh = bundled.decide(family(), on=ON, trace=False)
    assert again.facts["members"][0]["birth_date"] == dt.date.fromisoformat(FAMILY["members"][0]["birth_date"])
    assert [outcome(p) for p in first.programs.values()] == [outcome(p) for p in again.programs.values()] \
        == [outcome(p) for p in fresh.programs.values()]
    for bad in ("2023-02-29", "2023-13-01", "2023-1-01", "２０２３-01-01"):
        h = family()
        h["members"][1]["birth_date"] = bad
        for _ in range(2):  # the second time too: a bad date's text is never cached
            with pytest.raises(eligibility.InputError) as raised:
                bundled.decide(h, on=ON, trace=False)
            assert "members[1].birth_date" in {p.path for p in raised.value.problems}
    assert not any(bad in facts._DATES for bad in ("2023-02-29", "2023-13-01"))


def test_per_record_programs_and_refusals_equal_those_built_by_their_class(bundled: Engine,
                                                                          reference: Engine) -> None:
    """Records built in line, the total summed while building, and the shared refusal: as attrs would build them."""
    decision = bundled.decide(family(), on=ON, trace=False)
    for name, p in decision.programs.items():
        rebuilt = ProgramDecision(p.program, p.eligible, p.amount, p.title,
                                  None if p.members is None else tuple(
                                      RecordDecision(r.index, r.id, r.eligible, r.amount, r.tier, r.unknown)
                                      for r in p.members), p.tier, p.error, unknown=p.reads_unknown)
        assert p == rebuilt, name
        if p.members is not None and p.amount is not None:
            assert p.amount == sum((r.amount for r in p.members if r.amount is not None), Decimal("0.00"))
    refused = [n for n, p in decision.programs.items() if p.eligible is False and p.members is None]
    assert refused, "the family was meant to be refused some program"
    again = bundled.decide(family(), on=ON, trace=False)
    assert all(again.programs[n] == decision.programs[n] for n in refused)
