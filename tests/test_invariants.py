"""Invariants every program of the bundled policies keeps, for any household the vocabulary allows (G-I)."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import decimal
import functools
import json
import operator
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import eligibility
from eligibility import Decision, EligibilityError, Engine
from eligibility.testing.properties import hypothesis_settings
from eligibility.testing.strategies import decision_dates, households

SETTINGS = hypothesis_settings()
ROOT = Path(__file__).parent.parent
POLICIES = ROOT / "policies"
MONEY = re.compile(r"[0-9]+\.[0-9]{2}\Z")
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")


@functools.cache
def bundled() -> Engine:
    """The engine of the bundled policies, loaded once, when a test first needs it."""
    return eligibility.load(POLICIES)


@st.composite
def cases(draw: st.DrawFn) -> tuple[dt.date, dict[str, Any]]:
    """A decision date and a household for it, money steered toward every money parameter."""
    engine = bundled()
    on = draw(decision_dates(engine))
    near = [(name, p) for name, prog in engine.model.programs.items() for p, spec in prog.parameters.items()
            if spec.type == "money" and any(v.start <= on for v in spec.values)]
    return on, draw(households(engine, on=on, near=near or None))


def decide(household: dict[str, Any], on: dt.date) -> Decision | EligibilityError:
    """Decide, returning a typed error instead of raising it; anything else propagates."""
    try:
        return bundled().decide(household, on)
    except EligibilityError as e:
        return e


def outcomes(decision: Decision) -> dict[str, Any]:
    """Each program's eligible, amount and tier, and each member's by id."""
    return {name: (pd.eligible, pd.amount, pd.tier, pd.error is not None,
                   None if pd.members is None else sorted((str(r.id), r.eligible, r.amount, r.tier)
                                                          for r in pd.members))
            for name, pd in decision.programs.items()}


def dumped(decision: Decision) -> str:
    """The serialized decision and trace, as an application would store it."""
    return json.dumps(decision.to_json(), sort_keys=True, ensure_ascii=False)


# ------------------------------------------------------------------ three outcomes, no raw exception


@SETTINGS
@given(cases())
def test_a_valid_household_gives_a_decision_or_a_typed_error(case: tuple[dt.date, dict[str, Any]]) -> None:
    """A valid household yields a Decision whose programs are decided or hold an EvaluationError; never a crash."""
    on, household = case
    result = decide(household, on)
    assert isinstance(result, Decision), f"a valid household was refused: {result}"
    for name, pd in result.programs.items():
        assert (pd.error is None and isinstance(pd.eligible, bool)) or \
            (isinstance(pd.error, eligibility.EvaluationError) and pd.eligible is None), name
    result.to_json()
    result.explain(lang="en")
    try:
        bundled().decide(household, on, strict=True)
    except eligibility.EvaluationError as e:
        assert result.errors, f"strict=True raised {e}, but no program recorded an error"


@SETTINGS
@given(cases())
def test_amounts_are_never_negative_and_have_two_decimals(case: tuple[dt.date, dict[str, Any]]) -> None:
    """Every program's and member's amount is a non-negative Decimal with exactly two places, in JSON too."""
    on, household = case
    result = decide(household, on)
    if isinstance(result, EligibilityError):
        return
    record = result.to_json()
    for name, pd in result.programs.items():
        amounts = [pd.amount, *(r.amount for r in pd.members or ())]
        for a in amounts:
            if a is not None:
                assert a >= 0 and a.as_tuple().exponent == -2, (name, a)
        shown = [record["programs"][name]["amount"], *(m["amount"] for m in record["programs"][name]["members"] or [])]
        assert all(s is None or MONEY.match(s) for s in shown), shown


OPTIONAL_LIST = """\
facts: 1
household:
  vehicles:
    type: list
    required: false
    label: {zh: 车辆, en: Vehicles}
    fields:
      value: {type: money, label: {zh: 价值, en: Value}}
  members:
    type: list
    label: {zh: 成员, en: Members}
    fields:
      id: {type: text, label: {zh: 编号, en: Id}}
"""


def test_an_optional_list_without_a_default_is_empty(policy_dir: Callable[..., Path]) -> None:
    """A household leaving out an optional list (lists default to empty) is decided, not a raw TypeError."""
    demo = 'program: demo\njurisdiction: "000000"\neligible: count(household.vehicles) == 0\n'
    engine = eligibility.load(policy_dir({"demo.yaml": demo}, facts=OPTIONAL_LIST))
    assert engine.decide({"members": [{"id": "a"}]}, "2024-01-01").programs["demo"].eligible


# ------------------------------------------------------------------ purity and order independence


@SETTINGS
@given(cases())
def test_input_is_not_mutated(case: tuple[dt.date, dict[str, Any]]) -> None:
    """Deciding, tracing and explaining leave the caller's household exactly as it was."""
    on, household = case
    before = copy.deepcopy(household)
    result = decide(household, on)
    if isinstance(result, Decision):
        result.to_json()
        result.explain()
        for name in result.programs:
            for d in bundled().model.programs[name].definitions:
                with contextlib.suppress(EligibilityError):
                    result.value(name, d)
    assert household == before


@SETTINGS
@given(cases().flatmap(lambda c: st.tuples(st.just(c), st.permutations(range(len(c[1]["members"]))))))
def test_member_order_and_key_order_do_not_change_the_decision(example: Any) -> None:
    """Permuting the members, or reversing every mapping's keys, gives the same outcome for every program."""
    (on, household), order = example
    shuffled = {**household, "members": [household["members"][i] for i in order]}

    def reverse(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: reverse(v[k]) for k in reversed(list(v))}
        return [reverse(x) for x in v] if isinstance(v, list) else v

    results = [decide(h, on) for h in (household, shuffled, reverse(household))]
    if isinstance(results[0], EligibilityError):
        assert all(isinstance(r, EligibilityError) and str(r) == str(results[0]) for r in results)
        return
    first = outcomes(results[0])
    for r in results[1:]:
        assert isinstance(r, Decision)
        assert outcomes(r) == first


# ------------------------------------------------------------------ determinism


@settings(SETTINGS, max_examples=max(3, SETTINGS.max_examples // 5))  # 9 decisions an example
@given(cases())
def test_eight_threads_give_byte_identical_decisions(case: tuple[dt.date, dict[str, Any]]) -> None:
    """The same input decided in 8 threads at once, each with a hostile decimal context, serializes identically."""
    on, household = case
    expected = decide(household, on)
    if isinstance(expected, EligibilityError):
        return
    want = dumped(expected)
    start = threading.Barrier(8)
    got: list[str] = []

    def work() -> None:
        decimal.setcontext(decimal.Context(prec=3, rounding=decimal.ROUND_DOWN, traps=[decimal.Inexact]))
        start.wait()
        got.append(dumped(bundled().decide(copy.deepcopy(household), on)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [want] * 8


SCRIPT = """\
import json, sys
import eligibility
engine = eligibility.load(sys.argv[1])
out = []
for on, household in json.load(open(sys.argv[2], encoding="utf-8")):
    try:
        out.append(json.dumps(engine.decide(household, on).to_json(), sort_keys=True, ensure_ascii=False))
    except eligibility.EligibilityError as e:
        out.append(type(e).__name__ + ": " + str(e))
print(json.dumps(out))
"""


def test_other_processes_give_byte_identical_decisions(tmp_path: Path) -> None:
    """A handful of households decided in processes with other hash seeds (and python -O) serialize identically."""
    examples: list[tuple[str, dict[str, Any]]] = []

    @settings(SETTINGS, max_examples=5)
    @given(cases())
    def collect(case: tuple[dt.date, dict[str, Any]]) -> None:
        examples.append((case[0].isoformat(), case[1]))

    collect()
    data = tmp_path / "households.json"
    data.write_text(json.dumps(examples), encoding="utf-8")
    here = []
    for on, household in examples:
        result = decide(household, dt.date.fromisoformat(on))
        here.append(dumped(result) if isinstance(result, Decision) else f"{type(result).__name__}: {result}")
    src = str(Path(eligibility.__file__).parent.parent)
    for seed, flags in (("0", []), ("4242", ["-O"])):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": src}
        proc = subprocess.run([sys.executable, *flags, "-c", SCRIPT, str(POLICIES), str(data)], env=env,
                              capture_output=True, text=True, encoding="utf-8", timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == here, f"PYTHONHASHSEED={seed} {flags} decided differently"


# ------------------------------------------------------------------ trace replay


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
    "!=": operator.ne, "in": lambda a, b: a in b, "not in": lambda a, b: a not in b}


def _number(v: Any) -> Any:
    numeric = (isinstance(v, str) and NUMBER.match(v)) or (isinstance(v, int) and not isinstance(v, bool))
    return Decimal(v) if numeric else v


def replay(pair: dict[str, Any]) -> bool:
    """Re-evaluate one comparison from the values the trace recorded, decoded as their JSON says."""
    op, left, right = pair["op"], pair["left"]["value"], pair["right"]["value"]
    if "difference" in pair:  # both sides were numbers or money
        return _OPS[op](Decimal(str(left)), Decimal(str(right)))
    if op in ("in", "not in") and '"' not in pair["right"]["expression"]:  # a tuple of numbers
        return _OPS[op](_number(left), [_number(x) for x in right])
    return _OPS[op](left, right)


def comparisons(record: dict[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]], Any]]:
    """Every evaluated comparison of the trace: where, its pairs, its recorded result."""
    for name, program in record["programs"].items():
        for step in program["steps"]:
            for c in step["comparisons"]:
                if not c["evaluated"]:
                    continue
                where = f"{name}.{step['name']}: {c['expression']}"
                if "pairs" in c:
                    yield where, c["pairs"], c["result"]
                for item in c.get("items", []):
                    yield f"{where} [{item['path']}]", item["pairs"], item["result"]


@SETTINGS
@given(cases())
def test_every_traced_comparison_replays_to_its_recorded_result(case: tuple[dt.date, dict[str, Any]]) -> None:
    """Each traced pair replays from its recorded values to its result; the pairs give the comparison's result."""
    on, household = case
    result = decide(household, on)
    if isinstance(result, EligibilityError):
        return
    record = result.to_json()
    for where, pairs, outcome in comparisons(record):
        done = [p for p in pairs if p["evaluated"]]
        for p in done:
            assert replay(p) == p["result"], f"{where}: {p}"
        if len(done) == len(pairs):
            assert outcome == all(p["result"] for p in done), where
        else:  # a chain stops at its first false pair
            assert outcome is False and done and done[-1]["result"] is False, where
    for name, program in record["programs"].items():
        eligible = next(s for s in program["steps"] if s["name"] == "eligible" and s["kind"] == "output")
        if not isinstance(eligible["value"], list):  # a per-member program lists one value a member
            assert eligible["value"] == program["eligible"], name


def test_the_bundled_policies_have_programs() -> None:
    """The invariants above run over at least one program (they would pass vacuously on none)."""
    assert bundled().programs
