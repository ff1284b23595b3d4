"""Indentation and key mistakes in YAML: our own message at the line to fix, in English and Chinese."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import DIBAO, FIXTURE, only
from eligibility.base.i18n import use_language
from eligibility.cli import build
from test_checker import load_error

Golden = Callable[[str, str], None]
#: The demo dibao program (tests/fixtures/demo/dibao.yaml) with a valid condition.
GOOD = DIBAO.replace("WHEN", "household.assessed_monthly_income < standard")

#: name: (the mistake: old text, new text), the code, the line and column we report, the line PyYAML names.
MISTAKES = {
    "key-indented-too-far": (("    source: S1\n    when", "     source: S1\n    when"), "yaml-indentation", 15, 6, 15),
    "key-indented-too-little": (("    when:", "   when:"), "yaml-indentation", 16, 4, 16),
    "missing-colon-before-a-block": (("  income_test:\n", "  income_test\n"), "yaml-key", 13, 3, 14),
    "missing-colon-in-a-key": (("    source: S1\n    values", "    source S1\n    values"), "yaml-key", 10, 5, 11),
    "missing-space-after-colon": (("    source: S1\n    values", "    source:S1\n    values"), "yaml-key", 10, 5, 11),
    "value-with-colon-and-space": (("title: {zh: 收入, en: Income}", "title: 收入: Income"), "yaml-colon-in-value",
                                   14, 12, 14),
    "list-item-among-keys": (("eligible: income_test", "- income_test\neligible: income_test"),
                             "yaml-indentation", 17, 1, 17),
    "unclosed-quote": (("title: {zh: 收入, en: Income}", "title: '收入"), "yaml-syntax", 14, 12, 18),
    "unclosed-bracket": (("title: {zh: 低保, en: Dibao}", "title: {zh: 低保, en: Dibao"), "yaml-syntax", 2, 8, 3),
}


def pyyaml_line(text: str) -> int:
    """The line PyYAML's own error names (1-based)."""
    with pytest.raises(yaml.MarkedYAMLError) as info:
        list(yaml.parse(text, Loader=yaml.SafeLoader))
    mark = info.value.problem_mark
    assert mark is not None
    return mark.line + 1


@pytest.mark.parametrize("name", MISTAKES)
def test_yaml_mistake_is_reported_at_the_line_to_fix(policy_dir: Callable[..., Path], golden: Golden,
                                                     name: str) -> None:
    """Each mistake gets one diagnostic at the line to change, with the excerpt and a hint, in en and zh."""
    (old, new), code, line, col, theirs = MISTAKES[name]
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    assert pyyaml_line(text) == theirs  # where PyYAML would have pointed (often the line after)
    err = load_error(policy_dir, {"dibao.yaml": text})
    d = only(err)
    assert d.span is not None and (d.code, d.span.line, d.span.col) == (code, line, col), err.render()
    assert d.hint
    golden(f"diagnostics/yaml-{name}.txt", err.render())
    with use_language("zh"):
        golden(f"diagnostics/yaml-{name}.zh.txt", load_error(policy_dir, {"dibao.yaml": text}).render())


def test_the_english_message_no_longer_quotes_pyyaml(policy_dir: Callable[..., Path]) -> None:
    """The messages policy staff found cryptic ("mapping values are not allowed here", ...) are replaced."""
    for (old, new), *_rest in MISTAKES.values():
        rendered = load_error(policy_dir, {"dibao.yaml": GOOD.replace(old, new, 1)}).render()
        for words in ("mapping values are not allowed", "expected <block end>", "could not find expected ':'"):
            assert words not in rendered


@pytest.mark.parametrize("command", ["check", "test"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_mistake_in_a_test_cases_file_is_reported_by_check_and_test(tmp_path: Path, command: str,
                                                                      lang: str) -> None:
    """A `-` without its space in a test cases file: `check` and `test` both name the line, in either language."""
    root = tmp_path / "policies"
    shutil.copytree(FIXTURE, root)
    cases = root / "tests" / "dibao.yaml"
    text = cases.read_text(encoding="utf-8")
    assert "\n  - name: README example" in text
    cases.write_text(text.replace("\n  - name: README example", "\n  -name: README example", 1), encoding="utf-8")
    res = CliRunner().invoke(build(), [command, str(root), "-j", "440114", "--lang", lang])
    assert res.exit_code == 1
    message = {"en": "tests/dibao.yaml:13:3: error[yaml-key]: a list item needs a space after '-'",
               "zh": "tests/dibao.yaml:13:3: 错误[yaml-key]: 列表项的 '-' 后面需要一个空格"}[lang]
    assert message in res.output
    assert "   13 |   -name: README example" in res.output
