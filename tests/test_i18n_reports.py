"""The audit, test-quality and evaluation messages in Chinese: verify, replay, diff, coverage, mutation, decide.

Each report is rendered in zh and compared with its golden file (tests/golden/i18n/*.zh.txt;
ELIGIBILITY_UPDATE_GOLDEN=1 rewrites them); the same reports stay English outside `use_language`.
Hashes are masked: they change with the library's version.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import eligibility
from conftest import FIXTURE, ROOT
from eligibility.audit.canonical import make_record, record_hash
from eligibility.audit.diff import diff_policies
from eligibility.audit.replay import replay
from eligibility.audit.verify import verify_record
from eligibility.base.errors import EvaluationError
from eligibility.base.i18n import use_language
from eligibility.cli import build
from eligibility.testing.coverage import measure
from eligibility.testing.mutate import run_mutants

Golden = Callable[[str, str], None]
FAMILY = json.loads((ROOT / "examples" / "huadu-family.json").read_text(encoding="utf-8"))
ON = dt.date(2024, 9, 1)
HAN = re.compile(r"[\u4e00-\u9fff]")


def masked(text: str) -> str:
    """Hashes and versions masked: they change with every release of the library."""
    text = re.sub(r"sha256:[0-9a-f]+", "sha256:…", text)
    return re.sub(r"(?<![0-9a-f])[0-9a-f]{12}(?![0-9a-f])", "…", text)


def run(*args: str) -> Result:
    return CliRunner().invoke(build(), list(args), catch_exceptions=False)


def raised_standard(tmp_path: Path, value: str = "1300") -> Path:
    """A copy of the fixture policies whose 2024 Guangzhou standard is `value` instead of 1282."""
    root = tmp_path / "raised"
    shutil.copytree(FIXTURE, root)
    path = root / "guangzhou" / "dibao.yaml"
    text = path.read_text(encoding="utf-8")
    assert "        value: 1282\n" in text
    path.write_text(text.replace("        value: 1282\n", f"        value: {value}\n", 1), encoding="utf-8")
    return root


@pytest.fixture
def record(engine: eligibility.Engine) -> dict[str, Any]:
    household = copy.deepcopy(FAMILY)
    return make_record(engine.decide(household, on=ON), household)


def test_verify_failure_in_chinese(record: dict[str, Any], tmp_path: Path, golden: Golden) -> None:
    """`verify --lang zh` of a record whose input was edited: each problem said in Chinese, paths and values kept."""
    record["input"]["assessed_monthly_income"] = "1200.00"
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    res = run("verify", str(path), "--lang", "zh")
    assert res.exit_code == 1
    assert "input.assessed_monthly_income 为 \"1200.00\"" in res.output
    golden("i18n/verify-tampered.zh.txt", masked(res.output))
    english = verify_record(record)
    assert any(p.startswith("record_hash does not match the content") for p in english)


def test_replay_mismatch_in_chinese(record: dict[str, Any], tmp_path: Path, golden: Golden) -> None:
    """A replay under a changed standard: what differs and why, in Chinese; English outside use_language."""
    engine = eligibility.load(raised_standard(tmp_path))
    result = replay(record, engine)
    assert not result.identical and not result.same_outcome
    with use_language("zh"):
        text = result.render()
    assert text.startswith("不同：结果不同（记录 sha256:")
    golden("i18n/replay-different.zh.txt", masked(text))
    assert result.render().startswith("different: another outcome (record sha256:")


def test_diff_summary_in_chinese(engine: eligibility.Engine, tmp_path: Path, golden: Golden) -> None:
    """`diff` with households: the changes per program, the counts, the cost and the households that change most."""
    new = eligibility.load(raised_standard(tmp_path))
    lines = []
    for income in ("2400.00", "3800.00", "3900.00"):
        household = copy.deepcopy(FAMILY)
        household["assessed_monthly_income"] = income
        lines.append(json.dumps(household).encode())
    with use_language("zh"):
        text = diff_policies(engine, new, old_name="旧政策", new_name="新政策", households=lines, on=ON).render()
    assert "每月总支出变化：+" in text
    golden("i18n/diff-households.zh.txt", masked(text))
    english = diff_policies(engine, new, households=lines, on=ON).render()
    assert "total monthly cost change: +" in english and "每月" not in english


def test_coverage_report_in_chinese(engine: eligibility.Engine, golden: Golden) -> None:
    """The rule coverage table in Chinese, its columns aligned for characters two columns wide."""
    report = measure(engine, list(engine.model.tests))
    with use_language("zh"):
        text = report.render()
    golden("i18n/coverage.zh.txt", text)
    assert report.render().splitlines()[0] == f"rule coverage over {len(engine.model.tests)} case(s)"


def test_mutation_report_in_chinese(engine: eligibility.Engine, golden: Golden) -> None:
    """The mutation check with three cases: the counts, the surviving mutants and each hint, in Chinese."""
    with use_language("zh"):
        text = run_mutants(engine, list(engine.model.tests)[:3]).render()
    assert text.startswith("变异检查：共 ")
    assert "  提示：" in text
    golden("i18n/mutation.zh.txt", text)


def test_evaluation_error_shown_by_decide_in_chinese(golden: Golden) -> None:
    """`decide --strict --lang zh` before the first standard: the parameter with no value, said in Chinese."""
    args = ("decide", str(ROOT / "examples" / "huadu-family.json"), "--on", "2018-01-01", "--strict",
            "--format", "text", "-p", str(FIXTURE), "-j", "440114")
    res = run(*args, "--lang", "zh")
    assert res.exit_code == 1
    golden("i18n/decide-no-value.zh.txt", res.stderr)
    en = run(*args, "--lang", "en")
    assert "parameter 'standard' of dibao has no value on 2018-01-01" in en.stderr


def test_evaluation_errors_are_english_for_the_library_and_in_traces(engine: eligibility.Engine) -> None:
    """decide() outside use_language says it in English; inside use_language("zh") str() is Chinese but the
    trace (and so a decision record) keeps the English, so a record is the same in every language."""
    day = dt.date(2018, 1, 1)
    with pytest.raises(EvaluationError) as info:
        engine.decide(copy.deepcopy(FAMILY), on=day, programs=["dibao"], strict=True)
    assert "has no value on 2018-01-01" in str(info.value)
    with use_language("zh"):
        decision = engine.decide(copy.deepcopy(FAMILY), on=day, programs=["dibao"])
        error = decision.programs["dibao"].error
        assert error is not None and "在 2018-01-01 没有取值" in str(error)
        traced = decision.to_json()["programs"]["dibao"]["error"]
    assert traced == error.english == str(info.value)
    english = engine.decide(copy.deepcopy(FAMILY), on=day, programs=["dibao"]).to_json()
    assert english["programs"]["dibao"] == decision.to_json()["programs"]["dibao"]


def test_a_record_made_in_chinese_replays_identical_in_english(engine: eligibility.Engine) -> None:
    """A decision with an evaluation error, recorded inside use_language("zh"), replays byte for byte in English."""
    household = copy.deepcopy(FAMILY)
    with use_language("zh"):
        decision = engine.decide(household, on=dt.date(2018, 1, 1))
        assert decision.errors and HAN.search(str(next(iter(decision.errors.values()))))
        made = make_record(decision, household)
    assert made["decision"]["programs"]["dibao"]["error"].startswith(
        "dibao.income_test at guangdong/dibao.yaml:153:3: parameter 'standard' of dibao has no value on 2018-01-01")
    result = replay(made, engine)
    assert result.identical, result.render()


def test_verify_of_a_rehashed_edit_in_chinese(record: dict[str, Any], golden: Golden) -> None:
    """An amount edited and the hash recomputed: the re-derived steps and outcomes disagree, said in Chinese."""
    record["decision"]["programs"]["dibao"]["amount"] = "1600.00"
    record["record_hash"] = record_hash(record)
    with use_language("zh"):
        problems = verify_record(record)
    assert problems and all(HAN.search(p) for p in problems)
    golden("i18n/verify-rehashed.zh.txt", masked("\n".join(problems) + "\n"))
    assert any("but its trace computed" in p for p in verify_record(record))
