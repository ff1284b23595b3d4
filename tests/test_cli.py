"""The `eligibility` command: check, test, decide, explain and compile, with their exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import DEMO_FLAT, FACTS
from eligibility.cli import build

ROOT = Path(__file__).parent.parent
BUNDLED = ROOT / "policies"
POLICIES = Path(__file__).parent / "fixtures" / "dibao"
EXAMPLE = ROOT / "examples" / "huadu-family.json"
ON = "2024-09-01"

#: The demo program with a misspelt parameter name (`standrd`, line 11, column 47).
DEMO = DEMO_FLAT.replace("< standard", "< standrd")


def run(*args: str, stdin: str | None = None) -> Result:
    """Invoke the command line in-process (decide and explain use the frozen dibao policies)."""
    argv = list(args)
    if argv and argv[0] in ("decide", "explain") and "--policies" not in argv and "-p" not in argv:
        argv += ["--policies", str(POLICIES)]
    return CliRunner().invoke(build(), argv, input=stdin, catch_exceptions=False)


def bad_household() -> str:
    """The README family with two errors: text income and a member without a birth date."""
    h = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    h["assessed_monthly_income"] = "2,400"
    del h["members"][1]["birth_date"]
    return json.dumps(h)


# ------------------------------------------------------------------ check


def test_check_bundled_policies_exits_0() -> None:
    """`eligibility check policies` finds no problem in the bundled policies."""
    res = run("check", str(BUNDLED))
    assert res.exit_code == 0, res.output
    assert "0 error(s)" in res.stdout


@pytest.mark.parametrize(("text", "where"), [
    (DEMO, "demo.yaml:11:47"),
    (DEMO.replace("title: {zh: 收入低于标准", "title: {zh: 收入低于标准,"), "demo.yaml:10:"),
], ids=["unknown-name", "yaml-syntax"])
def test_check_broken_folder_exits_1_with_position(policy_dir: Callable[..., Path], text: str,
                                                   where: str) -> None:
    """A policy with a problem makes `check` exit 1 and print file:line:col with the source line."""
    root = policy_dir({"demo.yaml": text})
    res = run("check", str(root))
    assert res.exit_code == 1, res.output
    assert where in res.stdout
    assert "1 error(s)" in res.stdout


def test_check_unknown_name_shows_the_hint(policy_dir: Callable[..., Path]) -> None:
    """The unknown-name diagnostic shows the line, carets under the name and the did-you-mean hint."""
    res = run("check", str(policy_dir({"demo.yaml": DEMO})))
    assert "unknown name 'standrd'" in res.stdout
    assert "when: household.assessed_monthly_income < standrd" in res.stdout
    assert "^^^^^^^" in res.stdout
    assert "did you mean 'standard'?" in res.stdout


def test_check_json_format_lists_positions(policy_dir: Callable[..., Path]) -> None:
    """`check --format json` gives the diagnostics as JSON with file, line and col."""
    res = run("check", str(policy_dir({"demo.yaml": DEMO})), "--format", "json")
    assert res.exit_code == 1
    (diag,) = json.loads(res.stdout)
    assert (diag["file"], diag["line"], diag["col"], diag["code"]) == ("demo.yaml", 11, 47, "unknown-name")


def test_check_mistyped_jurisdiction_is_one_error_listing_the_known(policy_dir: Callable[..., Path]) -> None:
    """`check -j 999999` says "unknown jurisdiction 999999, known: …" once; a district of a known city loads."""
    city = DEMO_FLAT.replace("program: demo", "program: city").replace('"000000"', '"440100"')
    root = policy_dir({"demo.yaml": DEMO_FLAT, "city.yaml": city})
    res = run("check", str(root), "-j", "999999")
    assert res.exit_code == 1, res.output
    assert "error[unknown-jurisdiction]: unknown jurisdiction 999999, known: 000000, 440100" in res.stdout
    assert "1 error(s)" in res.stdout
    res = run("check", str(root), "-j", "440199", "--format", "json")
    assert res.exit_code == 0 and json.loads(res.stdout) == []
    hint = json.loads(run("check", str(root), "-j", "440200", "--format", "json").stdout)[0]["hint"]
    assert hint.startswith("did you mean 440100?")


def test_check_validates_the_households_of_test_cases(policy_dir: Callable[..., Path]) -> None:
    """`check` reports an unknown field and a bad value in a test case's household at the case, as errors."""
    tests = """\
        tests:
          - name: typo in the household
            on: 2024-09-01
            household:
              assessed_monthly_income: "1,200"
              members:
                - {id: a, birth_date: 1980-01-01, sex: male, hukuo: local}
            expect:
              demo: {eligible: true}
        """
    res = run("check", str(policy_dir({"demo.yaml": DEMO_FLAT, "tests/demo.yaml": tests})))
    assert res.exit_code == 1, res.output
    out = res.stdout
    assert out.count("tests/demo.yaml:2:5: error[invalid-household]: test case 'typo in the household'") == 2
    assert "household: assessed_monthly_income:" in out and "household: members[0].hukuo:" in out
    assert "2 error(s)" in out


# ------------------------------------------------------------------ test


def test_test_bundled_policies_exits_0_and_counts() -> None:
    """`eligibility test policies` runs every YAML case and prints `N passed, 0 failed`."""
    res = run("test", str(POLICIES), "-q")
    assert res.exit_code == 0, res.output
    last = res.stdout.strip().splitlines()[-1]
    passed, failed = last.split(", ")
    assert failed == "0 failed"
    assert int(passed.removesuffix(" passed")) >= 50
    assert "PASS" not in res.stdout, "-q prints failures and the summary only"


def test_test_lists_each_passing_case_without_quiet() -> None:
    """Without -q every case is printed with its file:line."""
    res = run("test", str(POLICIES), "-k", "README example")
    assert res.exit_code == 0
    assert res.stdout.startswith("PASS tests/dibao.yaml:")
    assert res.stdout.strip().endswith("1 passed, 0 failed")


def test_test_of_a_broken_folder_exits_1(policy_dir: Callable[..., Path]) -> None:
    """`test` of a policy that does not check exits 1 and shows the problem."""
    res = run("test", str(policy_dir({"demo.yaml": DEMO})))
    assert res.exit_code == 1
    assert "demo.yaml:11:47" in res.stderr


#: Run the command line with the given top-level modules unimportable (argv[1], JSON); print the
#: top-level modules the command imported.
STAFF_RUN = """\
import importlib.abc, json, sys
BLOCKED = set(json.loads(sys.argv[1]))
before = set(sys.modules)
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"not in the staff install: {name}")
sys.meta_path.insert(0, Blocker())
from eligibility.cli import main
code = main(sys.argv[2:])
print(json.dumps(sorted({m.partition(".")[0] for m in set(sys.modules) - before})))
sys.exit(code)
"""


def _staff_distributions() -> set[str]:
    """The distributions `pip install 'eligibility[staff]'` installs: the core, the staff extra, and what they need."""
    import tomllib
    from importlib import metadata

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    todo = [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["staff"]]]
    found: set[str] = set()
    while todo:
        req = todo.pop()
        name = req.name.lower().replace("_", "-")
        if name in found or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        found.add(name)
        todo.extend(Requirement(r) for r in metadata.requires(req.name) or ())
    return found


def test_test_runs_with_the_staff_install_only(tmp_path: Path) -> None:
    """`eligibility test` (cases and properties) runs with every package outside the staff extra unimportable."""
    from importlib import metadata

    staff = _staff_distributions() | {"eligibility"}
    owners = metadata.packages_distributions()
    blocked = sorted(m for m, dists in owners.items()
                     if not any(d.lower().replace("_", "-") in staff for d in dists))
    assert {"pytest", "mypy", "ruff", "jsonschema"} & set(blocked), "the developer tools are blocked"
    proc = subprocess.run([sys.executable, "-c", STAFF_RUN, json.dumps(blocked), "test", str(BUNDLED), "-q"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-2].endswith(" passed, 0 failed") and "properties:" in proc.stdout
    imported = set(json.loads(lines[-1])) - set(sys.stdlib_module_names)
    assert {"click", "hypothesis", "yaml", "attrs"} <= imported
    assert not imported & set(blocked)


# ------------------------------------------------------------------ doc


def test_doc_writes_beside_the_policy_folder_and_check_names_it(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`doc P` writes to docs/policies beside P; `doc P --check` of a stale book suggests `doc P --out ...`."""
    project = tmp_path / "copy"
    (project / "policies").mkdir(parents=True)
    (project / "policies" / "demo.yaml").write_text(DEMO_FLAT, encoding="utf-8")
    (project / "policies" / "facts.yaml").write_text(FACTS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    res = run("doc", "copy/policies")
    assert res.exit_code == 0, res.output
    assert (project / "docs" / "policies" / "demo.md").is_file()
    assert not (tmp_path / "docs").exists(), "nothing is written relative to the current folder"
    assert run("doc", "copy/policies", "--check").exit_code == 0
    (project / "docs" / "policies" / "demo.md").write_text("edited\n", encoding="utf-8")
    res = run("doc", "copy/policies", "--check")
    assert res.exit_code == 1
    assert "out of date: copy/docs/policies/demo.md" in res.stdout
    assert "run `eligibility doc copy/policies --out copy/docs/policies` and commit the result" in res.stderr


def test_doc_check_without_a_folder_says_it_checked_the_bundled_policies(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`doc --check` without POLICIES checks the bundled set and says how to check one's own folder."""
    monkeypatch.chdir(tmp_path)
    res = run("doc", "--check")
    assert res.exit_code == 1
    assert "out of date: docs/policies/index.md" in res.stdout
    assert "run `eligibility doc --out docs/policies`" in res.stderr
    assert "this checked the bundled policies" in res.stderr and "eligibility doc POLICIES --check" in res.stderr


# ------------------------------------------------------------------ decide and explain


def test_decide_from_a_file_prints_the_json_trace() -> None:
    """`decide household.json --on DATE` prints the decision and trace as JSON."""
    res = run("decide", str(EXAMPLE), "--on", ON)
    assert res.exit_code == 0, res.output
    trace = json.loads(res.stdout)
    assert trace["programs"]["dibao"]["amount"] == "1446.00"
    assert trace["decided_for"] == ON


def test_decide_from_stdin_gives_the_same_json() -> None:
    """`decide - --on DATE` reads the household from standard input."""
    from_file = run("decide", str(EXAMPLE), "--on", ON)
    from_stdin = run("decide", "-", "--on", ON, stdin=EXAMPLE.read_text(encoding="utf-8"))
    assert from_stdin.exit_code == 0
    assert from_stdin.stdout == from_file.stdout
    assert run("decide", "--on", ON, stdin=EXAMPLE.read_text(encoding="utf-8")).stdout == from_file.stdout


@pytest.mark.parametrize(("lang", "heading"), [("zh", "符合条件，每月金额 1,446.00 元"),
                                               ("en", "eligible, monthly amount 1,446.00 yuan")])
def test_decide_text_format_explains(lang: str, heading: str) -> None:
    """`decide --format text --lang xx` prints the explanation in that language."""
    res = run("decide", "-", "--on", ON, "--format", "text", "--lang", lang,
              stdin=EXAMPLE.read_text(encoding="utf-8"))
    assert res.exit_code == 0
    assert heading in res.stdout.splitlines()[0]


def test_explain_command_prints_text_and_markdown() -> None:
    """`explain` prints the explanation; --markdown prints Markdown headings."""
    text = run("explain", str(EXAMPLE), "--on", ON, "--lang", "en")
    assert text.exit_code == 0
    assert "[income_test]: passed" in text.stdout
    md = run("explain", str(EXAMPLE), "--on", ON, "--lang", "en", "--markdown")
    assert md.stdout.startswith("## ")


def test_decide_bad_household_json_exits_1_with_paths() -> None:
    """An invalid household exits 1 and lists every problem with its field path, as JSON."""
    res = run("decide", "-", "--on", ON, "--complete", stdin=bad_household())
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    assert out["error"] == "input"
    assert {(p["path"], p["kind"]) for p in out["problems"]} == {
        ("assessed_monthly_income", "format"), ("members[1].birth_date", "missing")}
    # Without --complete the absent birth date is unknown, not an error; the bad income still is.
    res = run("decide", "-", "--on", ON, stdin=bad_household())
    assert res.exit_code == 1
    assert {(p["path"], p["kind"]) for p in json.loads(res.stdout)["problems"]} == {
        ("assessed_monthly_income", "format")}


def test_decide_bad_household_text_exits_1_with_paths() -> None:
    """With --format text the problems go to standard error, each with its path."""
    res = run("decide", "-", "--on", ON, "--format", "text", "--complete", stdin=bad_household())
    assert res.exit_code == 1
    assert res.stdout == ""
    assert "assessed_monthly_income: format:" in res.stderr
    assert "members[1].birth_date: missing:" in res.stderr


def test_decide_before_the_first_standard_prints_why_and_strict_exits_1() -> None:
    """A date with no standard in force: the decision names the parameter (exit 0); --strict exits 1."""
    res = run("decide", str(EXAMPLE), "--on", "2018-01-01", "--program", "dibao")
    assert res.exit_code == 0
    out = json.loads(res.stdout)
    assert out["programs"]["dibao"]["eligible"] is None
    assert "'standard'" in out["programs"]["dibao"]["error"]
    strict = run("decide", str(EXAMPLE), "--on", "2018-01-01", "--strict")
    assert strict.exit_code == 1
    assert json.loads(strict.stdout)["error"] == "evaluation"


def test_decide_unreadable_file_exits_2(tmp_path: Path) -> None:
    """A household file that cannot be read is a usage error (exit 2) naming the file."""
    missing = tmp_path / "nope.json"
    res = run("decide", str(missing), "--on", ON)
    assert res.exit_code == 2
    assert "cannot read" in res.stderr and "nope.json" in res.stderr
    res = run("decide", str(tmp_path), "--on", ON)
    assert res.exit_code == 2


def test_decide_non_utf8_file_exits_2(tmp_path: Path) -> None:
    """A household file that is not UTF-8 is a usage error."""
    f = tmp_path / "gbk.json"
    f.write_bytes('{"note": "低保"}'.encode("gbk"))
    res = run("decide", str(f), "--on", ON)
    assert res.exit_code == 2
    assert "UTF-8" in res.stderr


@pytest.mark.parametrize("text", ["{bad json", "", "[" * 100_000, '{"a": 1} trailing'],
                         ids=["syntax", "empty", "deep", "trailing"])
def test_decide_bad_json_exits_2(text: str) -> None:
    """Input that is not JSON is a usage error with its position, never a traceback."""
    res = run("decide", "-", "--on", ON, stdin=text)
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    assert "JSON" in res.stderr


def test_decide_requires_a_date() -> None:
    """Leaving out --on is a usage error."""
    res = run("decide", str(EXAMPLE))
    assert res.exit_code == 2
    assert "--on" in res.stderr


# ------------------------------------------------------------------ compile and help


def test_compile_emit_python_prints_the_generated_source() -> None:
    """`compile --emit-python` prints the generated module with its program functions."""
    res = run("compile", str(POLICIES), "--emit-python")
    assert res.exit_code == 0
    assert res.stdout.startswith("# generated by eligibility.compile.codegen")
    assert "def p_0(" in res.stdout
    assert "def tp_0(" in res.stdout
    compile(res.stdout, "<emitted>", "exec", dont_inherit=True)


def test_compile_prints_the_policy_hash() -> None:
    """`compile` without flags prints the policy hash and the programs."""
    import eligibility

    res = run("compile", str(POLICIES))
    assert res.exit_code == 0
    assert res.stdout.strip() == f"{eligibility.load(POLICIES).policy_hash}  programs: dibao"


@pytest.mark.parametrize("command", [[], ["check"], ["test"], ["decide"], ["explain"], ["compile"]],
                         ids=["main", "check", "test", "decide", "explain", "compile"])
def test_help_of_each_command_exits_0(command: list[str]) -> None:
    """`--help` works for the group and every command."""
    res = run(*command, "--help")
    assert res.exit_code == 0
    assert res.stdout.startswith("Usage:")


def test_installed_script_runs(tmp_path: Path) -> None:
    """The installed `eligibility` script decides from standard input and exits 0."""
    script = Path(sys.executable).parent / "eligibility"
    if not script.exists():
        pytest.skip("the eligibility script is not installed next to this Python")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([str(script), "decide", "-", "--on", ON, "--format", "text", "--lang", "en"],
                          input=EXAMPLE.read_bytes(), capture_output=True, env=env, cwd=tmp_path,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert b"monthly amount 1,446.00 yuan" in proc.stdout
    bad = subprocess.run([str(script), "decide", "-", "--on", ON], input=b"{", capture_output=True,
                         env=env, cwd=tmp_path, timeout=120, check=False)
    assert bad.returncode == 2
    assert b"Usage: eligibility decide" in bad.stderr
