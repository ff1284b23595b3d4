"""Warnings the policy staff know and accept: acknowledged with a reason, so `check --strict` passes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from conftest import DEMO
from eligibility.cli import build
from eligibility.compile.pipeline import check_policy

#: The demo with a parameter that has no value yet (a `no-value` warning).
WITH_GAP = DEMO.replace("parameters:\n", "parameters:\n  later: {type: money, title: {zh: 以后, en: Later}, "
                                         "source: S1, values: {}}\n", 1)
ACK = """acknowledged:
  - {code: no-value, file: demo.yaml, name: later, reason: {zh: 尚未公布, en: not published yet}}
"""


def _check(folder: Path, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(build(), ["check", str(folder), *args], catch_exceptions=False)
    return res.exit_code, res.output


def test_an_acknowledged_warning_passes_strict_and_says_why(policy_dir: Callable[..., Path]) -> None:
    """The warning is listed as acknowledged with its reason; --strict passes; without the file it fails."""
    bare = policy_dir({"demo.yaml": WITH_GAP})
    code, out = _check(bare, "--strict")
    assert code == 1 and "1 warning(s)" in out
    folder = policy_dir({"demo.yaml": WITH_GAP, "acknowledged.yaml": ACK})
    code, out = _check(folder, "--strict")
    assert code == 0, out
    assert "acknowledged[no-value]" in out and "acknowledged: not published yet" in out
    assert "0 error(s), 0 warning(s), 1 acknowledged" in out


def test_an_acknowledgement_that_matches_nothing_is_a_warning(policy_dir: Callable[..., Path]) -> None:
    """When the value is added, the stale acknowledgement stands out (and fails --strict)."""
    folder = policy_dir({"demo.yaml": DEMO, "acknowledged.yaml": ACK})
    diags = check_policy(folder)
    (unused,) = [d for d in diags if d.code == "acknowledged-unused"]
    assert unused.severity == "warning" and unused.span is not None and unused.span.path == "acknowledged.yaml"
    assert _check(folder, "--strict")[0] == 1


def test_only_the_named_warning_is_acknowledged(policy_dir: Callable[..., Path]) -> None:
    """An acknowledgement with a name accepts that parameter's warning, not another one of the same file."""
    two = WITH_GAP.replace("parameters:\n", "parameters:\n  other: {type: money, title: {zh: 其他, en: Other}, "
                                            "source: S1, values: {}}\n", 1)
    folder = policy_dir({"demo.yaml": two, "acknowledged.yaml": ACK})
    by = {json.dumps(d.message): d.severity for d in check_policy(folder) if d.code == "no-value"}
    assert sorted(by.values()) == ["acknowledged", "warning"]


def test_errors_cannot_be_acknowledged(policy_dir: Callable[..., Path]) -> None:
    """Acknowledging an error code is itself an error: a gap between versions is never accepted quietly."""
    ack = ACK.replace("code: no-value", "code: version-gap")
    folder = policy_dir({"demo.yaml": DEMO, "acknowledged.yaml": ack})
    assert any(d.code == "acknowledged-code" and d.severity == "error" for d in check_policy(folder))
