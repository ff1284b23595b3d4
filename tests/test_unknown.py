"""Kleene's three-valued logic for unknown facts: the helpers traced generated code calls."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest

from eligibility.compile.unknown import (
    Unknown,
    UnknownTruth,
    k_all,
    k_amount,
    k_and,
    k_any,
    k_call,
    k_compare,
    k_count,
    k_extreme,
    k_if,
    k_in,
    k_not,
    k_or,
    k_sum,
    unknown,
)

A, B = unknown("household.a"), unknown("household.b")
VALUES: list[Any] = [True, False, A]


def _completions(v: Any) -> list[bool]:
    return [True, False] if isinstance(v, Unknown) else [v]


@pytest.mark.parametrize(("x", "y"), list(itertools.product(VALUES, [True, False, B])))
def test_and_or_agree_with_every_completion(x: Any, y: Any) -> None:
    """A known result of `and`/`or` is the result for every completion; unknown means completions differ."""
    for fn, op in ((k_and, lambda p, q: p and q), (k_or, lambda p, q: p or q)):
        got = fn(x, lambda y=y: y)
        outcomes = {op(p, q) for p in _completions(x) for q in _completions(y)}
        if isinstance(got, Unknown):
            assert len(outcomes) == 2
            assert got.paths <= {"household.a", "household.b"} and got.paths
        else:
            assert outcomes == {got}


def test_false_and_anything_is_false_without_evaluating_it() -> None:
    """`and` stops at the first False, as Python does: later operands are not evaluated."""
    def boom() -> bool:
        raise AssertionError("evaluated")

    assert k_and(False, boom) is False
    assert k_or(True, boom) is True
    assert k_and(A, lambda: False) is False  # a failed rule settles it, even after an unknown one
    assert k_or(A, lambda: True) is True


def test_unknowns_carry_the_paths_they_depend_on() -> None:
    """Arithmetic and comparisons on unknowns give unknowns naming every fact involved."""
    total = A + Decimal("1.50") + B
    assert isinstance(total, Unknown) and total.paths == {"household.a", "household.b"}
    assert isinstance(Decimal(3) < A, Unknown)
    assert isinstance(A == "x", Unknown)
    assert isinstance(A == "x", Unknown)
    assert k_not(A) is A and k_not(True) is False
    with pytest.raises(UnknownTruth):
        bool(A)


def test_if_in_and_chains() -> None:
    """`if` with an unknown test is known when both branches agree; `in` and chains short-circuit."""
    assert k_if(A, lambda: 5, lambda: 5) == 5
    assert isinstance(k_if(A, lambda: 5, lambda: 6), Unknown)
    assert k_if(True, lambda: 5, lambda: B) == 5
    assert isinstance(k_in(A, frozenset({"x"}), False), Unknown)
    assert k_in("x", frozenset({"x"}), True) is False
    assert k_compare(1, ("<", lambda: 0), ("<", lambda: A)) is False
    assert isinstance(k_compare(1, ("<", lambda: 2), ("<", lambda: A)), Unknown)
    assert k_compare(1, ("<", lambda: 2), ("<=", lambda: 2)) is True


def test_aggregates_settle_when_the_unknowns_cannot_matter() -> None:
    """count/sum/any/all/min/max over (member?, value) pairs are known exactly when no completion differs."""
    assert k_count([(True, True), (False, A), (True, False)]) == 1
    assert isinstance(k_count([(True, True), (A, True)]), Unknown)
    assert k_sum([(True, Decimal(2)), (False, A)], Decimal(0)) == Decimal(2)
    assert isinstance(k_sum([(True, Decimal(2)), (True, A)], Decimal(0)), Unknown)
    assert k_any([(A, True), (True, True)]) is True
    assert isinstance(k_any([(A, True), (True, False)]), Unknown)
    assert k_all([(A, False), (True, False)]) is False
    assert k_all([(False, A), (True, True)]) is True
    assert k_extreme([(True, 3), (True, 1), (False, A)], min, lambda: None) == 1
    assert isinstance(k_extreme([(True, 3), (A, 1)], min, lambda: None), Unknown)
    assert isinstance(k_call(max, 1, A), Unknown) and k_call(max, 1, 2) == 2
    assert k_amount(False, lambda: A, Decimal("0.00")) == Decimal("0.00")
    assert k_amount(A, lambda: Decimal(5), Decimal("0.00")) is A
