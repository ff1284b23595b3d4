"""The YAML event-sequence tests of the bundled monitoring rules (policies/tests/monitoring/)."""

from __future__ import annotations

from pathlib import Path

import pytest

import eligibility
from eligibility.engine.runtime import bundled_policies
from eligibility.monitor.cases import read_cases, run_case
from eligibility.monitor.rules import load_rules

ROOT = bundled_policies()
CASES = read_cases(ROOT)


@pytest.fixture(scope="module")
def setup() -> tuple[eligibility.Engine, object]:
    engine = eligibility.load(ROOT)
    return engine, load_rules(ROOT, engine)


def test_there_are_sequence_cases() -> None:
    """The bundled policies come with event-sequence tests of their monitoring rules."""
    assert len(CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=[c.name[:60] for c in CASES])
def test_sequence(case, setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Each event log raises exactly the alerts and reports its case expects, restarts included."""
    engine, rules = setup
    result = run_case(case, engine, rules, tmp_path)
    assert result.passed, f"{case.span}: {case.name}\n{result.message}"
