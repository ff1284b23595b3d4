"""YAML policy test cases: the runner's reports, expect_error, and the pytest plugin."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

import eligibility
from conftest import DEMO, errors, only, run_pytest, where
from eligibility import PolicyError
from eligibility.compile.pipeline import check_policy
from eligibility.testing.cases import CaseResult, check_households, run_folder, run_tests

ROOT = Path(__file__).parent.parent

PROGRAM = DEMO.replace("{2020-01-01: 1000}", "{2024-01-01: 1000}")

HOUSEHOLD = """\
    household:
      assessed_monthly_income: "{income}"
      members:
        - {{id: a, birth_date: 1980-01-01, sex: male}}
"""


def case(name: str, expect: str, income: str = "400.00", on: str = "2024-09-01") -> str:
    """One YAML test case for a one-person household."""
    return f"  - name: {name}\n    on: {on}\n" + HOUSEHOLD.format(income=income) + expect


TESTS = "tests:\n" + "".join([
    case("gap to the standard", "    expect:\n      demo: {eligible: true, amount: \"600.00\"}\n"),
    case("wrong amount on purpose",
         "    expect:\n      demo: {eligible: true, amount: \"700.00\"}\n      demo.per_capita: \"400.00\"\n"),
    case("negative income is refused", "    expect_error: {kind: input, path: assessed_monthly_income}\n",
         income="-1"),
])


def folder(policy_dir: Callable[..., Path], tests: str = TESTS, program: str = PROGRAM) -> Path:
    """Write the demo policy and a tests file.

    The program file starts with a comment naming the tests, so that each tests file gets its
    own policy hash (see test_reload_with_new_tests_sees_them for why this is needed).
    """
    tag = hashlib.sha256(tests.encode()).hexdigest()[:16]
    return policy_dir({"demo.yaml": f"# tests {tag}\n" + program, "tests/demo.yaml": tests})


def results(policy_dir: Callable[..., Path], tests: str = TESTS) -> dict[str, CaseResult]:
    """Load a demo policy with the given tests file and run every case."""
    return {r.case.name: r for r in run_tests(eligibility.load(folder(policy_dir, tests)))}


# ------------------------------------------------------------------ run_tests


def test_passing_cases_pass(policy_dir: Callable[..., Path]) -> None:
    """A case whose expectations hold passes with an empty message."""
    r = results(policy_dir)["gap to the standard"]
    assert r.passed
    assert r.message == ""


def test_failing_case_reports_name_position_expected_and_got(policy_dir: Callable[..., Path]) -> None:
    """A wrong expected amount is reported with the case's file:line and `expected 700.00, got 600.00`."""
    r = results(policy_dir)["wrong amount on purpose"]
    assert not r.passed
    assert r.where == "tests/demo.yaml:10"
    assert "demo.amount: expected 700.00, got 600.00" in r.message
    assert "per_capita" not in r.message.splitlines()[0], "a value that matched is not reported"


def test_failing_case_includes_the_trace_of_the_program(policy_dir: Callable[..., Path]) -> None:
    """The failure message explains the program that differed: its rule, numbers and citation."""
    msg = results(policy_dir)["wrong amount on purpose"].message
    assert "trace of demo:" in msg
    trace = msg.split("trace of demo:", 1)[1]
    assert "eligible, monthly amount 600.00 yuan" in trace
    assert "[low_income]: passed" in trace
    assert "400.00 is below Standard 1,000.00" in trace
    assert "演示〔2024〕1号" in trace
    assert "demo.yaml:14:3" in trace


def test_rule_expectation_mismatch_is_reported(policy_dir: Callable[..., Path]) -> None:
    """A wrong expectation on a rule or computed value names it with expected and got."""
    tests = "tests:\n" + case("wrong per capita", "    expect:\n      demo.per_capita: \"300.00\"\n"
                                                   "      demo.low_income: false\n")
    r = results(policy_dir, tests)["wrong per capita"]
    assert not r.passed
    assert "demo.per_capita: expected 300.00, got 400.00" in r.message
    assert "demo.low_income: expected false, got true" in r.message


def test_expectation_on_an_unknown_name_is_reported(policy_dir: Callable[..., Path]) -> None:
    """Expecting a rule the program does not have is an error when the tests are read, with a suggestion."""
    tests = "tests:\n" + case("typo", "    expect:\n      demo.low_incme: true\n")
    with pytest.raises(PolicyError) as exc:
        results(policy_dir, tests)
    d = only(exc.value, "unknown-name")
    assert where(d) == ("tests/demo.yaml", 9, 7)
    assert "program 'demo' has no rule or value 'low_incme'" in d.message
    assert d.hint == "did you mean 'demo.low_income'?"


def test_expectation_on_an_unknown_program_suggests_one(policy_dir: Callable[..., Path]) -> None:
    """A mistyped program in an `expect:` key is an error at its line and column, with did-you-mean."""
    tests = "tests:\n" + case("typo", "    expect:\n      dmeo: {eligible: true}\n      dmeo.per_capita: 1\n")
    with pytest.raises(PolicyError) as exc:
        results(policy_dir, tests)
    found = errors(exc.value)
    assert [(where(d), d.code) for d in found] == [(("tests/demo.yaml", 9, 7), "unknown-program"),
                                                   (("tests/demo.yaml", 10, 7), "unknown-program")]
    assert "unknown program 'dmeo'" in found[0].message and found[0].hint == "did you mean 'demo'?"


def test_expectation_names_are_checked_by_check(policy_dir: Callable[..., Path]) -> None:
    """`check_policy` (the `check` command) reports a mistyped rule in a test case, not only `test`."""
    root = folder(policy_dir, "tests:\n" + case("typo", "    expect:\n      demo.low_incme: true\n"))
    (d,) = [d for d in check_policy(root) if d.severity == "error"]
    assert (d.code, where(d)) == ("unknown-name", ("tests/demo.yaml", 9, 7))


@pytest.mark.parametrize(("expect", "col", "message"), [
    ('      demo: {eligible: true, amount: "1590.000"}\n', 38, "expected amount 1590.000 has more than two decimals"),
    ("      demo.amount: 600.001\n", 20, "expected amount 600.001 has more than two decimals"),
    ('      demo: {eligible: true, amount: "600,00"}\n', 38, "'600,00' is not an amount"),
], ids=["three-decimals", "three-decimals-plain", "comma"])
def test_expected_amounts_have_at_most_two_decimals(policy_dir: Callable[..., Path], expect: str, col: int,
                                                    message: str) -> None:
    """An expected amount with three decimals, or not a number, is an error at its file:line:col."""
    with pytest.raises(PolicyError) as exc:
        results(policy_dir, "tests:\n" + case("fen", "    expect:\n" + expect))
    d = only(exc.value, "amount-format")
    assert where(d) == ("tests/demo.yaml", 9, col)
    assert message in d.message


def test_exact_money_equality(policy_dir: Callable[..., Path]) -> None:
    """Amounts are compared exactly: 600.01 does not match 600.00."""
    tests = "tests:\n" + case("one fen off", "    expect:\n      demo: {eligible: true, amount: \"600.01\"}\n")
    assert not results(policy_dir, tests)["one fen off"].passed


def test_expect_error_passes_when_the_input_error_matches(policy_dir: Callable[..., Path]) -> None:
    """`expect_error: {kind: input, path: ...}` passes when that field is refused."""
    r = results(policy_dir)["negative income is refused"]
    assert r.passed, r.message


def test_expect_error_fails_on_another_path(policy_dir: Callable[..., Path]) -> None:
    """An expected error at another path fails and shows the error that happened."""
    tests = "tests:\n" + case("wrong path", "    expect_error: {kind: input, path: \"members[0].birth_date\"}\n",
                              income="-1")
    r = results(policy_dir, tests)["wrong path"]
    assert not r.passed
    assert "expected an error at members[0].birth_date" in r.message
    assert "assessed_monthly_income" in r.message


def test_expect_error_fails_when_a_decision_is_made(policy_dir: Callable[..., Path]) -> None:
    """An expected error that does not happen fails and shows the decision that was made."""
    tests = "tests:\n" + case("no error", "    expect_error: {kind: input}\n")
    r = results(policy_dir, tests)["no error"]
    assert not r.passed
    assert "but a decision was made" in r.message
    assert "demo: eligible=true amount=600.00" in r.message


def test_expect_error_fails_on_another_kind(policy_dir: Callable[..., Path]) -> None:
    """An input error where an evaluation error was expected fails and names both kinds."""
    tests = "tests:\n" + case("kind", "    expect_error: {kind: evaluation}\n", income="abc")
    r = results(policy_dir, tests)["kind"]
    assert not r.passed
    assert "expected a evaluation error, got a input error" in r.message or \
        "expected an evaluation error, got an input error" in r.message


def test_expect_evaluation_error_passes(policy_dir: Callable[..., Path]) -> None:
    """A decision date before the first standard matches `expect_error: {kind: evaluation, message: ...}`."""
    tests = "tests:\n" + case("too early", "    expect_error: {kind: evaluation, message: standard}\n",
                              on="2023-12-31")
    r = results(policy_dir, tests)["too early"]
    assert r.passed, r.message


def test_expect_error_message_must_match(policy_dir: Callable[..., Path]) -> None:
    """`expect_error.message` must occur in the error, or the case fails."""
    tests = "tests:\n" + case("message", "    expect_error: {kind: input, message: \"is required\"}\n",
                              income="-1")
    r = results(policy_dir, tests)["message"]
    assert not r.passed
    assert "expected the error to say 'is required'" in r.message


def test_unexpected_input_error_fails_the_case(policy_dir: Callable[..., Path]) -> None:
    """A household the engine refuses fails a case that expected a decision, showing the problem."""
    tests = "tests:\n" + case("bad", "    expect:\n      demo: {eligible: true}\n", income="1,000")
    r = results(policy_dir, tests)["bad"]
    assert not r.passed
    assert r.message.startswith("unexpected input error")
    assert "assessed_monthly_income" in r.message


def test_messages_use_the_right_article(policy_dir: Callable[..., Path]) -> None:
    """The runner writes 'an input error' and 'an evaluation error'."""
    tests = "tests:\n" + case("no error", "    expect_error: {kind: input}\n")
    assert "expected an input error" in results(policy_dir, tests)["no error"].message


def test_run_tests_filters_by_name(policy_dir: Callable[..., Path]) -> None:
    """run_tests(name_filter=...) runs only the cases whose name contains the text."""
    root = folder(policy_dir)
    names = [r.case.name for r in run_tests(eligibility.load(root), "amount")]
    assert names == ["wrong amount on purpose"]


def test_run_folder_raises_a_failure_listing_each_failed_case(policy_dir: Callable[..., Path]) -> None:
    """run_folder raises PolicyTestFailure (an AssertionError) with each failure's position and name."""
    root = folder(policy_dir)
    with pytest.raises(eligibility.PolicyTestFailure) as info:
        run_folder(root)
    assert isinstance(info.value, AssertionError)
    assert "tests/demo.yaml:10: wrong amount on purpose" in str(info.value)
    assert "gap to the standard" not in str(info.value)


def test_run_folder_returns_results_when_all_pass(policy_dir: Callable[..., Path]) -> None:
    """run_folder returns every result when all cases pass."""
    expect = "    expect:\n      demo: {eligible: true, amount: \"600.00\"}\n"
    root = folder(policy_dir, "tests:\n" + case("ok", expect))
    assert [r.passed for r in run_folder(root)] == [True]


def test_reload_with_new_tests_sees_them(policy_dir: Callable[..., Path], tmp_path: Path) -> None:
    """Loading a folder whose tests file changed (same program) runs the new cases, not the old ones."""
    first = policy_dir({"demo.yaml": PROGRAM, "tests/demo.yaml": "tests:\n" + case(
        "first version", "    expect:\n      demo: {eligible: true}\n")})
    assert [c.name for c in eligibility.load(first).model.tests] == ["first version"]
    (first / "tests" / "demo.yaml").write_text("tests:\n" + case(
        "second version", "    expect:\n      demo: {eligible: true}\n"), encoding="utf-8")
    assert [c.name for c in eligibility.load(first).model.tests] == ["second version"]


def test_bundled_cases_all_pass(engine: eligibility.Engine) -> None:
    """Every YAML case shipped with the bundled policies passes."""
    failed = [f"{r.where}: {r.case.name}\n{r.message}" for r in run_tests(engine) if not r.passed]
    assert not failed, "\n\n".join(failed)


# ------------------------------------------------------------------ the pytest plugin


def test_pytest_plugin_collects_yaml_cases(policy_dir: Callable[..., Path], tmp_path: Path) -> None:
    """Plain pytest on a policy folder collects each YAML case by name and reports the failing one."""
    root = folder(policy_dir)
    proc = run_pytest(root, tmp_path, "-v")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "tests/demo.yaml::gap to the standard PASSED" in out
    assert "tests/demo.yaml::negative income is refused PASSED" in out
    assert "tests/demo.yaml::wrong amount on purpose FAILED" in out
    assert "demo.amount: expected 700.00, got 600.00" in out
    assert "trace of demo:" in out
    assert "1 failed, 2 passed" in out


def test_pytest_plugin_collects_a_tests_file_saved_with_a_bom(policy_dir: Callable[..., Path], tmp_path: Path) -> None:
    """A tests file saved with a UTF-8 byte order mark (as Windows Notepad does) is collected like any other."""
    root = folder(policy_dir)
    tests = root / "tests" / "demo.yaml"
    tests.write_bytes(b"\xef\xbb\xbf" + tests.read_bytes())
    proc = run_pytest(root, tmp_path, "-v")
    assert "tests/demo.yaml::gap to the standard PASSED" in proc.stdout, proc.stdout + proc.stderr
    assert "1 failed, 2 passed" in proc.stdout


def test_pytest_plugin_reports_a_broken_policy(policy_dir: Callable[..., Path], tmp_path: Path) -> None:
    """A YAML test file whose policy does not check is a collection error showing file:line:col."""
    broken = PROGRAM.replace("per_capita < standard", "per_capita < standrd")
    root = folder(policy_dir, program=broken)
    proc = run_pytest(root, tmp_path)
    assert proc.returncode != 0
    assert "demo.yaml:16:" in proc.stdout
    assert "unknown name 'standrd'" in proc.stdout


# ------------------------------------------------------------------ the households of the cases


def test_check_households_reports_unknown_fields_and_bad_values_at_the_case(policy_dir: Callable[..., Path]) -> None:
    """A case's household with an unknown field and a bad value gives one error each, at the case's position."""
    bad = case("bad household", "    expect:\n      demo: {eligible: true}\n", income="4OO.00").replace(
        "sex: male}", "sex: male, hukou: local}")
    good = case("input error expected", "    expect_error: {kind: input}\n", income="x")
    model = eligibility.load(folder(policy_dir, "tests:\n" + bad + good)).model
    found = check_households(model.facts, model.tests)
    assert [(where(d), d.code, d.severity) for d in found] == [(("tests/demo.yaml", 2, 5), "invalid-household",
                                                                "error")] * 2
    text = " | ".join(d.message for d in found)
    assert "test case 'bad household': household: assessed_monthly_income:" in text
    assert "members[0].hukou" in text
