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


# ------------------------------------------------------------------ the net view per household

#: A single person's dibao: a flat 1,282.00 to one person whose income is under the limit.
SINGLE = """\
program: single
title: {zh: 单人低保, en: Single-person dibao}
jurisdiction: "000000"
sources:
  S1: {title: 演示文件, document: 演示〔2024〕1号, confidence: C}
parameters:
  limit: {type: money, title: {zh: 单人收入上限, en: Income limit}, source: S1, values: {2020-01-01: 1300}}
  flat: {type: money, title: {zh: 单人保障金, en: Single-person amount}, source: S1, values: {2020-01-01: 1282}}
rules:
  alone:
    title: {zh: 单人户, en: Lives alone}
    when: count(household.members) == 1
    source: S1
  poor:
    title: {zh: 收入低于上限, en: Income below the limit}
    when: household.assessed_monthly_income < limit
    source: S1
eligible: alone and poor
amount:
  expr: flat
"""

#: Dibao tops the per-capita income up to the standard, for every household the single-person dibao does not take.
DIBAO_NET = (DEMO.replace("program: demo", "program: dibao")
             .replace("values: {2020-01-01: 1000}", "values: {2020-01-01: 1282}}\n"
                      "  limit: {type: money, title: {zh: 单人收入上限, en: Single-person income limit}, "
                      "source: S1, values: {2020-01-01: 1300}")
             .replace("eligible: low_income", "  not_single:\n    title: {zh: 非单人, en: Not single-person}\n"
                      "    when: count(household.members) > 1 or household.assessed_monthly_income >= limit\n"
                      "    source: S1\neligible: low_income and not_single"))


def net_sets(tmp_path: Path) -> tuple[Path, Path]:
    """Old and new: the new set lowers the single-person limit to 1,200 and raises the dibao standard to 1,300."""
    old = folder(tmp_path / "old", DIBAO_NET)
    (old / "single.yaml").write_text(SINGLE, encoding="utf-8")
    new = folder(tmp_path / "new", DIBAO_NET.replace("{2020-01-01: 1300}}", "{2020-01-01: 1200}}")
                 .replace("{2020-01-01: 1282}}", "{2020-01-01: 1300}}"))
    (new / "single.yaml").write_text(SINGLE.replace("{2020-01-01: 1300}", "{2020-01-01: 1200}"), encoding="utf-8")
    return old, new


def family(income: str, size: int, id_: str | None = None) -> str:
    """A JSONL line: a household of `size` members with this monthly income, decided on 2024-09-01."""
    members = [{"id": f"m{i}", "birth_date": "1980-01-01", "sex": "female"} for i in range(size)]
    line: dict[str, Any] = {"on": "2024-09-01", "household": {"assessed_monthly_income": income, "members": members}}
    if id_ is not None:
        line["id"] = id_
    return json.dumps(line)


#: Five families gain a little from the higher standard; one person moves from the single-person
#: dibao (1,282.00) to dibao (72.00), a loss of 1,210.00 that the programs' totals do not show.
NET_LINES = [family("3000.00", 3, "f-1"), family("1228.00", 1, "p-2"), family("2000.00", 4, "f-3"),
             family("2400.00", 2), family("100.00", 1, "p-5"), family("2580.00", 2, "f-6"),
             family("1000.00", 8, "f-7"), family("12000.00", 8, "f-8")]


def test_net_view_finds_the_family_moved_to_a_smaller_program(tmp_path: Path) -> None:
    """A person moved from single-person dibao to dibao is the largest loss, with both programs and the net."""
    old, new = net_sets(tmp_path)
    result = diff_policies(eligibility.load(old), eligibility.load(new), households=[x.encode() for x in NET_LINES])
    assert result.impact is not None
    net = result.impact.net
    assert (net.losers, net.gainers) == (1, 5)
    assert (net.lost, net.gained) == (Decimal("-1210.00"), Decimal("326.00"))
    report = result.to_json()["households"]["net"]
    assert [(e["line"], e["id"], e["net"]) for e in report["losses"]] == [(2, "p-2", "-1210.00")]
    assert report["losses"][0]["programs"] == [
        {"program": "dibao", "old": {"eligible": False, "amount": "0.00", "tier": None},
         "new": {"eligible": True, "amount": "72.00", "tier": None}, "change": "72.00"},
        {"program": "single", "old": {"eligible": True, "amount": "1282.00", "tier": None},
         "new": {"eligible": False, "amount": "0.00", "tier": None}, "change": "-1282.00"}]
    # the largest gain first; equal gains in line order
    assert [(e["line"], e["net"]) for e in report["gains"]] == [
        (7, "144.00"), (3, "72.00"), (1, "54.00"), (4, "36.00"), (6, "20.00")]
    assert "line 2 (p-2), 2024-09-01: -1,210.00 to this family (1,282.00 -> 72.00): " \
           "dibao 72.00 replacing single 1,282.00" in result.render()


def test_net_view_keeps_the_top_n_of_each_side(tmp_path: Path) -> None:
    """With top=2 the two largest gains are kept, in order, and the counts and sums still cover every household."""
    old, new = net_sets(tmp_path)
    result = diff_policies(eligibility.load(old), eligibility.load(new), households=[x.encode() for x in NET_LINES],
                           top=2)
    assert result.impact is not None
    report = result.to_json()["households"]["net"]
    assert [e["line"] for e in report["gains"]] == [7, 3]
    assert (report["gainers"], report["gained"], report["top"]) == (5, "326.00", 2)
    assert "  largest gains (the 2 largest of 5):" in result.render()
    none = diff_policies(eligibility.load(old), eligibility.load(new), households=[x.encode() for x in NET_LINES],
                         top=0).to_json()["households"]["net"]
    assert none["losses"] == none["gains"] == [] and none["losers"] == 1


def test_cli_diff_net_view_text_report(tmp_path: Path, golden: Any) -> None:
    """`diff --households` prints the per-program counts, then the households by net change (golden file)."""
    old, new = net_sets(tmp_path)
    households = jsonl(tmp_path, NET_LINES)
    res = run("diff", str(old), str(new), "--households", str(households), "--top", "3")
    assert res.exit_code == 1, res.output
    golden("diff/net-view.txt", res.stdout.replace(str(tmp_path), "TMP"))


def test_cli_diff_markdown_and_json_report_the_net_view(tmp_path: Path) -> None:
    """`--format markdown` has a table of the largest losses and gains; `--format json` has `households.net`."""
    old, new = net_sets(tmp_path)
    households = str(jsonl(tmp_path, NET_LINES))
    res = run("diff", str(old), str(new), "--households", households, "--format", "markdown")
    assert res.exit_code == 1, res.output
    md = res.stdout
    assert md.startswith("# Policy diff\n")
    assert "## Households by net monthly change" in md
    assert "1 household(s) lose 1,210.00 a month in all, 5 gain 326.00." in md
    assert ("| line 2 (p-2) | 2024-09-01 | 1,282.00 | 72.00 | **-1,210.00** | dibao 72.00 replacing single 1,282.00: "
            "dibao: not eligible -\\> eligible 72.00 (+72.00); single: eligible 1,282.00 -\\> not eligible "
            "(-1,282.00) |") in md
    assert "- rule `poor`" not in md and "- parameter `limit`: value from 2020-01-01: 1300 -\\> 1200" in md
    res = run("diff", str(old), str(new), "--households", households, "--format", "json", "--top", "1")
    net = json.loads(res.stdout)["households"]["net"]
    assert [e["line"] for e in net["losses"]] == [2] and [e["line"] for e in net["gains"]] == [7]
    assert run("diff", str(old), str(new), "--top", "-1").exit_code == 2
