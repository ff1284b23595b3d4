"""Policy diff: what changed between two policy sets, and what it does to a file of households."""

from __future__ import annotations

import decimal
import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import eligibility
from conftest import DEMO, FACTS
from eligibility.audit.changes import policy_changes
from eligibility.audit.diff import diff_policies
from eligibility.audit.git import policy_folder
from eligibility.cli import build
from eligibility.engine.runtime import parse_date

OLD = DEMO.replace("{2020-01-01: 1000}", "{2020-01-01: 1000, 2024-01-01: 1100}")

#: The new set: the 2024 standard raised to 1200 and a 2025 value added, `<` made `<=`,
#: the document number corrected, and the amount capped at 500.
NEW = (OLD.replace("2024-01-01: 1100}", "2024-01-01: 1200, 2025-01-01: 1300}")
       .replace("when: per_capita < standard", "when: per_capita <= standard")
       .replace("演示〔2024〕1号", "演示〔2024〕2号")
       .replace("expr: (standard - per_capita) * count(household.members)",
                "expr: min(500, (standard - per_capita) * count(household.members))"))


def folder(root: Path, text: str, facts: str = FACTS) -> Path:
    """Write a policy folder with the conftest facts vocabulary and one program."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "facts.yaml").write_text(facts, encoding="utf-8")
    (root / "demo.yaml").write_text(text, encoding="utf-8")
    return root


def person(income: str, id_: str = "a") -> dict[str, Any]:
    """A one-person household for the conftest facts vocabulary."""
    return {"assessed_monthly_income": income,
            "members": [{"id": id_, "birth_date": "1980-01-01", "sex": "male"}]}


def run(*args: str) -> Result:
    """Invoke the command line in-process."""
    return CliRunner().invoke(build(), list(args), catch_exceptions=False)


@pytest.fixture
def sets(tmp_path: Path) -> tuple[Path, Path]:
    """The old and the new demo policy folders."""
    return folder(tmp_path / "old" / "policies", OLD), folder(tmp_path / "new" / "policies", NEW)


# ------------------------------------------------------------------ policy changes


def test_diff_lists_rule_parameter_citation_and_output_changes(sets: tuple[Path, Path]) -> None:
    """The diff names the changed rule, each dated parameter value, the citation and the amount expression."""
    old, new = (eligibility.load(p) for p in sets)
    changes = {(c.program, c.kind, c.name, c.change, c.detail) for c in policy_changes(old, new)}
    assert changes == {
        ("demo", "rule", "low_income", "changed",
         'expression "per_capita < standard" -> "per_capita <= standard"'),
        ("demo", "parameter", "standard", "changed", "value from 2024-01-01: 1100 -> 1200"),
        ("demo", "parameter", "standard", "added", "value from 2025-01-01 added: 1300"),
        ("demo", "source", "S1", "changed", 'document "演示〔2024〕1号" -> "演示〔2024〕2号"'),
        ("demo", "output", "amount", "changed",
         'expression "(standard - per_capita) * count(household.members)" -> '
         '"min(500, (standard - per_capita) * count(household.members))"'),
    }


def test_identical_sets_have_no_change(sets: tuple[Path, Path]) -> None:
    """The same folder compared with itself has no change, and `diff` exits 0."""
    engine = eligibility.load(sets[0])
    assert policy_changes(engine, engine) == []
    res = run("diff", str(sets[0]), str(sets[0]))
    assert res.exit_code == 0, res.output
    assert "no change" in res.stdout


def test_added_and_removed_rules_parameters_and_facts(tmp_path: Path) -> None:
    """A rule, a parameter and a facts field that exist on one side only are listed as added or removed."""
    old = folder(tmp_path / "a", OLD)
    text = OLD.replace("rules:\n", "rules:\n  not_rich:\n    title: {zh: 不富, en: Not rich}\n"
                       "    when: household.financial_assets < limit\n    source: S1\n") \
              .replace("parameters:\n", "parameters:\n  limit: {type: money, title: {zh: 上限, en: Limit}, "
                       "source: S1, values: {2020-01-01: 5000}}\n") \
              .replace("eligible: low_income", "eligible: low_income and not_rich")
    facts = FACTS.replace("      id: {type: text", "      phone: {type: text, required: false, default: \"\", "
                          "label: {zh: 电话, en: Phone}}\n      id: {type: text")
    new = folder(tmp_path / "b", text, facts)
    changes = {(c.program, c.kind, c.name, c.change) for c in
               policy_changes(eligibility.load(old), eligibility.load(new))}
    assert ("demo", "rule", "not_rich", "added") in changes
    assert ("demo", "parameter", "limit", "added") in changes
    assert ("demo", "output", "eligible", "changed") in changes
    assert (None, "fact", "members.phone", "added") in changes
    back = {(c.program, c.kind, c.name, c.change) for c in
            policy_changes(eligibility.load(new), eligibility.load(old))}
    assert ("demo", "rule", "not_rich", "removed") in back
    assert ("demo", "parameter", "limit", "removed") in back


# ------------------------------------------------------------------ households


def jsonl(tmp_path: Path, lines: list[str]) -> Path:
    """Write a JSONL file of the given lines."""
    path = tmp_path / "households.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_households_count_changes_cost_and_examples(sets: tuple[Path, Path], tmp_path: Path) -> None:
    """Each household is decided under both sets: gains, amount changes and the cost change are counted."""
    old, new = (eligibility.load(p) for p in sets)
    lines = [json.dumps(person(i)) for i in ("1000.00", "1100.00", "1150.00", "500.00", "900.00", "800.00",
                                             "2000.00")]
    result = diff_policies(old, new, households=[x.encode() for x in lines],
                           on=parse_date("2024-06-01"))
    assert result.impact is not None
    demo = result.impact.programs["demo"]
    # 1000: 100 -> 200; 1100: gained (0 -> 100); 1150: gained (50); 500: 600 -> 500 (capped);
    # 900: 200 -> 300; 800: 300 -> 400; 2000: not eligible under both.
    assert demo.counts == {"gained": 2, "lost": 0, "amount_up": 3, "amount_down": 1, "tier_changed": 0}
    assert (demo.cost_old, demo.cost_new) == (Decimal("1200.00"),
                                              Decimal("1550.00"))
    assert result.impact.cost_change == Decimal("350.00")
    assert len(demo.examples["amount_up"]) == 3
    assert [e["line"] for e in demo.examples["gained"]] == [2, 3]
    assert demo.examples["amount_down"][0]["old"] == {"eligible": True, "amount": "600.00", "tier": None}
    report = json.loads(json.dumps(result.to_json()))
    assert report["households"]["cost_change"] == "350.00"
    assert report["households"]["programs"]["demo"]["gained"] == 2


def test_monthly_cost_ignores_the_callers_decimal_context(sets: tuple[Path, Path]) -> None:
    """With the caller's context at 3 digits and Inexact trapped, the cost is still 3403.68 and no raw error escapes."""
    old, new = (eligibility.load(p) for p in sets)
    lines = [json.dumps(person(i)).encode() for i in ("100.00", "100.00", "100.00", "696.32")]
    day = parse_date("2024-06-01")
    expected = diff_policies(old, new, households=lines, on=day)
    with decimal.localcontext() as ctx:
        ctx.prec = 3
        ctx.traps[decimal.Inexact] = True
        ctx.traps[decimal.Rounded] = True
        got = diff_policies(old, new, households=lines, on=day)
        report, text = got.to_json(), got.render()
    assert report == expected.to_json() and text == expected.render()
    assert report["households"]["programs"]["demo"]["cost_old"] == "3403.68"
    assert "(3,403.68 -> " in text


def test_examples_are_at_most_three_per_kind(sets: tuple[Path, Path]) -> None:
    """However many households change, at most three examples are kept for each kind of change."""
    old, new = (eligibility.load(p) for p in sets)
    lines = [json.dumps(person("1000.00", f"p{i}")).encode() for i in range(10)]
    result = diff_policies(old, new, households=lines, on=parse_date("2024-06-01"))
    assert result.impact is not None
    demo = result.impact.programs["demo"]
    assert demo.counts["amount_up"] == 10
    assert [e["line"] for e in demo.examples["amount_up"]] == [1, 2, 3]


def test_household_errors_are_reported_by_line(sets: tuple[Path, Path], tmp_path: Path) -> None:
    """Bad JSON, an invalid household, a missing date and a date out of range are each reported with their line."""
    lines = [
        json.dumps({"on": "2024-06-01", "id": "case-1", "household": person("1000.00")}),
        "{not json",
        json.dumps({"on": "2024-06-01", "household": {"members": []}}),
        json.dumps(person("1000.00")),
        "",
        json.dumps({"on": "2019-01-01", "household": person("1000.00")}),
        json.dumps({"on": "June 1st", "household": person("1000.00")}),
    ]
    res = run("diff", str(sets[0]), str(sets[1]), "--households", str(jsonl(tmp_path, lines)), "--format", "json")
    assert res.exit_code == 1, res.output
    report = json.loads(res.stdout)["households"]
    # line 6 is decided, but its one program cannot be: that program's error is kept, by side
    assert report["households"] == 6 and report["decided"] == 2
    assert report["programs"]["demo"]["decided"] == 1
    errors = {(e["line"], e["side"]) for e in report["errors"]}
    # line 6: both sets fail, with different messages (each cites its own document), so both are kept
    assert errors == {(2, "input"), (3, "both"), (4, "input"), (6, "old"), (6, "new"), (7, "input")}
    by_line = {e["line"]: e["message"] for e in report["errors"] if e["side"] != "old"}
    assert "not valid JSON" in by_line[2]
    assert "members" in by_line[3]  # an empty member list; an absent income alone would be unknown
    assert "no decision date" in by_line[4]
    assert "standard" in by_line[6]
    assert {e.get("program") for e in report["errors"] if e["line"] == 6} == {"demo"}
    assert report["programs"]["demo"]["examples"]["amount_up"][0]["id"] == "case-1"


def test_a_line_only_one_set_can_decide_is_an_error_of_that_side(tmp_path: Path) -> None:
    """A household the new set cannot decide (its standard starts later) is an error on the `new` side."""
    old = folder(tmp_path / "a", OLD)
    new = folder(tmp_path / "b", OLD.replace("values: {2020-01-01: 1000, 2024-01-01: 1100}",
                                             "values: {2022-01-01: 1000, 2024-01-01: 1100}"))
    lines = [json.dumps({"on": "2021-01-01", "household": person("100.00")}).encode()]
    result = diff_policies(eligibility.load(old), eligibility.load(new), households=lines)
    assert result.impact is not None
    assert [(e["line"], e["side"]) for e in result.impact.errors] == [(1, "new")]


# ------------------------------------------------------------------ the command line


def test_cli_diff_text_report(sets: tuple[Path, Path], tmp_path: Path) -> None:
    """`eligibility diff OLD NEW --households F --on D` prints the changes, the counts and the cost; exit 1."""
    lines = [json.dumps(person(i)) for i in ("1000.00", "1100.00", "500.00")]
    res = run("diff", str(sets[0]), str(sets[1]), "--households", str(jsonl(tmp_path, lines)), "--on", "2024-06-01")
    assert res.exit_code == 1, res.output
    out = res.stdout
    assert "rule low_income: expression" in out
    assert "parameter standard: value from 2024-01-01: 1100 -> 1200" in out
    assert "demo: 1 gained, 0 lost, 1 amount up, 1 amount down, 0 tier changed; monthly cost +100.00" in out
    assert "    gained: line 2, 2024-06-01: not eligible -> eligible 100.00" in out
    assert "total monthly cost change: +100.00" in out


def test_cli_diff_usage_errors_exit_2(sets: tuple[Path, Path], tmp_path: Path) -> None:
    """A missing folder, a bad --on, an unreadable households file or a bad git spec exits 2."""
    assert run("diff", str(tmp_path / "nope"), str(sets[1])).exit_code == 2
    assert run("diff", str(sets[0]), str(sets[1]), "--on", "yesterday").exit_code == 2
    assert run("diff", str(sets[0]), str(sets[1]), "--households", str(tmp_path / "none.jsonl")).exit_code == 2
    res = run("diff", "git:-x:policies", str(sets[1]))
    assert res.exit_code == 2 and "git:REV:PATH" in res.stderr


def test_cli_diff_of_a_broken_policy_exits_1(sets: tuple[Path, Path], tmp_path: Path) -> None:
    """A policy set that does not load makes `diff` exit 1 with its diagnostics."""
    broken = folder(tmp_path / "broken", OLD.replace("per_capita < standard", "per_capita < standrd"))
    res = run("diff", str(sets[0]), str(broken))
    assert res.exit_code == 1
    assert "standrd" in res.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_revision_is_compared_with_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`diff git:HEAD:policies policies` compares the committed policies with the edited ones."""
    repo = tmp_path / "repo"
    folder(repo / "policies", OLD)
    (repo / "policies" / "link.yaml").symlink_to("/etc/passwd")

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=repo,
                       check=True, capture_output=True)

    git("init", "-q")
    git("add", "policies/facts.yaml", "policies/demo.yaml")
    git("commit", "-q", "-m", "old")
    (repo / "policies" / "link.yaml").unlink()
    (repo / "policies" / "demo.yaml").write_text(NEW, encoding="utf-8")
    (repo / "sub").mkdir()
    monkeypatch.chdir(repo / "sub")  # git:REV:PATH is relative to the repository root, from any folder
    with policy_folder("git:HEAD:policies") as root:
        assert sorted(p.name for p in root.iterdir()) == ["demo.yaml", "facts.yaml"]
        assert (root / "demo.yaml").read_text(encoding="utf-8") == OLD
    assert not root.exists(), "the temporary export is removed"
    res = run("diff", "git:HEAD:policies", "../policies")
    assert res.exit_code == 1, res.output
    assert "old: git:HEAD:policies" in res.stdout
    assert "rule low_income: expression" in res.stdout
    res = run("diff", "git:HEAD:policies", "git:HEAD:policies")
    assert res.exit_code == 0 and "no change" in res.stdout
    res = run("diff", "git:nosuchrev:policies", "../policies")
    assert res.exit_code == 2 and "git ls-tree failed" in res.stderr


def test_programs_without_change_share_one_line(tmp_path: Path) -> None:
    """In the text report, programs where no household changed are named on one `no change:` line."""
    other = OLD.replace("program: demo", "program: other")
    old = folder(tmp_path / "a", OLD)
    (old / "other.yaml").write_text(other, encoding="utf-8")
    new = folder(tmp_path / "b", NEW)
    (new / "other.yaml").write_text(other, encoding="utf-8")
    lines = [json.dumps(person("1000.00")).encode()]
    text = diff_policies(eligibility.load(old), eligibility.load(new), households=lines,
                         on=parse_date("2024-06-01")).render()
    assert "  demo: 0 gained, 0 lost, 1 amount up" in text
    assert "  no change: other\n" in text
    assert "  other:" not in text
