"""Messages in Chinese and English: the catalogs, the choice of language, and a policy officer's session in zh."""

from __future__ import annotations

import gettext
import json
import re
import shutil
import string
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

import eligibility
from conftest import DIBAO, FIXTURE, ROOT, run_pytest
from eligibility.base.errors import InputError, InputProblem, PolicyError
from eligibility.base.i18n import LOCALE_DIR, current_language, language_from_locale, use_language
from eligibility.cli import build
from test_checker import FIVE_MISTAKES, load_error

PO = LOCALE_DIR / "zh" / "LC_MESSAGES" / "eligibility.po"
MO = PO.with_suffix(".mo")
Golden = Callable[[str, str], None]


def read_po(path: Path, locale: str | None = None) -> Any:
    """A .po or .pot file read with Babel (the catalog checks need it: pip install -e '.[i18n]')."""
    pofile = pytest.importorskip("babel.messages.pofile")
    with open(path, "rb") as f:
        return pofile.read_po(f, locale=locale)


def zh_catalog() -> Any:
    return read_po(PO, "zh")


def template() -> Any:
    """Every message of the code and of the CLI's help, extracted by the maintainers' tool (tools/catalogs.py)."""
    pytest.importorskip("babel")
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import catalogs
    finally:
        sys.path.remove(str(ROOT / "tools"))
    return catalogs.template()


def strings(string: str | tuple[str, ...]) -> tuple[str, ...]:
    """The translations of an entry: one, or one per plural form."""
    return string if isinstance(string, tuple) else (string,)


def msgid_text(msgid: str | tuple[str, ...]) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


# ------------------------------------------------------------------ catalogs


def test_every_message_of_the_code_has_a_chinese_translation() -> None:
    """Each message the code wraps in _()/ngettext()/N_() and each help text of the CLI is translated in zh."""
    po = {m.id: m for m in zh_catalog() if m.id}
    wanted = [m.id for m in template() if m.id]
    assert len(wanted) > 400
    missing = [msgid_text(i) for i in wanted if i not in po or not all(strings(po[i].string)) or po[i].fuzzy]
    assert not missing, f"{len(missing)} message(s) without a zh translation (python3 dev.py messages): {missing[:5]}"


def test_template_and_catalog_hold_no_stale_message() -> None:
    """The shipped .pot and .po hold exactly the messages of the code (run `python3 dev.py messages` after a change)."""
    wanted = {m.id for m in template() if m.id}
    pot = {m.id for m in read_po(LOCALE_DIR / "eligibility.pot") if m.id}
    po = {m.id for m in zh_catalog() if m.id}
    assert pot == wanted
    assert po == wanted


def test_shipped_mo_is_compiled_from_the_po() -> None:
    """The .mo file read at run time holds exactly the translations of the .po file."""
    with open(MO, "rb") as f:
        compiled = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
    expected: dict[object, str] = {}
    for m in zh_catalog():
        if not m.id or m.fuzzy or not m.string:
            continue
        if isinstance(m.id, tuple):
            expected[(m.id[0], 0)] = m.string[0]
        else:
            expected[m.id] = m.string
    compiled = {k: v for k, v in compiled.items() if k != ""}
    assert compiled == expected


def test_the_compiled_catalogs_are_package_data() -> None:
    """pyproject.toml's package data matches every shipped .mo, so an installed wheel speaks Chinese."""
    import tomllib

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]["eligibility"]
    package = ROOT / "src" / "eligibility"
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    assert MO in shipped
    assert set(LOCALE_DIR.glob("*/LC_MESSAGES/*.mo")) <= shipped


def fields(text: str) -> list[str]:
    """The distinct named fields of a format string (with conversion and spec), sorted."""
    try:
        return sorted({f"{name}!{conv}:{spec}" for _lit, name, spec, conv in string.Formatter().parse(text)
                       if name is not None})
    except ValueError:
        return ["<not a format string>"]


def test_translations_keep_every_placeholder() -> None:
    """Each zh translation has the same {placeholders} as its English message, so filling it in cannot fail."""
    wrong = []
    for m in zh_catalog():
        if not m.id or not m.string:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        want = fields(ids[-1])
        wrong += [(ids[0], s) for s in strings if fields(s) != want]
    assert not wrong


def test_translations_are_chinese() -> None:
    """Every zh translation contains Chinese, unless its message has no English words or is a YAML example."""
    han = re.compile(r"[\u4e00-\u9fff]")

    def no_words(msgid: str) -> bool:  # placeholders, option names and punctuation only
        return not re.search(r"[A-Za-z]{2,}", re.sub(r"\{[^{}]*\}|--[a-z-]+", "", msgid))

    def yaml_example(msgid: str, string: str) -> bool:  # copied as it is: `members: [1, 6]`
        return string == msgid and re.fullmatch(r"[-\w{}.:,\[\] \n]+", msgid) is not None and ":" in msgid

    not_chinese = [(msgid_text(m.id), strings(m.string)[0]) for m in zh_catalog()
                   if m.id and m.string and not han.search(strings(m.string)[0])]
    assert [m for m, t in not_chinese if not (no_words(m) or yaml_example(m, t))] == []
    assert len(not_chinese) < 20


# ------------------------------------------------------------------ the language


@pytest.mark.parametrize(("environ", "lang"), [
    ({}, "en"),
    ({"LANG": "zh_CN.UTF-8"}, "zh"),
    ({"LANG": "zh_TW.UTF-8"}, "zh"),
    ({"LANG": "en_US.UTF-8"}, "en"),
    ({"LANG": "C.UTF-8"}, "en"),
    ({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, "en"),
    ({"LC_ALL": "", "LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),
    ({"LC_ALL": "zh_SG.UTF-8", "LC_MESSAGES": "en_GB"}, "zh"),
])
def test_language_follows_the_locale(environ: dict[str, str], lang: str) -> None:
    """The first of LC_ALL, LC_MESSAGES and LANG that is set decides: zh for zh_*, else en."""
    assert language_from_locale(environ) == lang


def test_messages_are_english_outside_a_chosen_language() -> None:
    """A library caller who chooses nothing gets English; inside use_language("zh"), Chinese; then English again."""
    problem = [InputProblem("members[0].birth_date", "missing", "must be given")]
    assert str(InputError(problem)).startswith("invalid household (1 problem):")
    with use_language("zh"):
        assert current_language() == "zh"
        assert str(InputError(problem)).startswith("家庭数据无效（1 个问题）：\n  members[0].birth_date: 缺失:")
    assert current_language() == "en"


def test_an_unknown_language_is_refused() -> None:
    """use_language accepts zh and en only, and says so."""
    with pytest.raises(ValueError, match="zh, en"), use_language("fr"):
        pass


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(build(), list(args), env=env, catch_exceptions=False)


def policies_with_a_typo(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    shutil.copytree(FIXTURE, root)
    path = root / "guangdong" / "dibao.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("income_per_capita < standard",
                                                             "income_per_capita < standrd"), encoding="utf-8")
    return root


@pytest.mark.parametrize(("args", "env"), [
    (("--lang", "zh", "check"), None),
    (("check", "--lang", "zh"), None),
    (("check", "--lang=zh"), None),
    (("check",), {"LANG": "zh_CN.UTF-8"}),
    (("check",), {"LC_ALL": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}),
])
def test_check_speaks_chinese_by_option_or_locale(tmp_path: Path, args: tuple[str, ...],
                                                  env: dict[str, str] | None) -> None:
    """`--lang zh` (before or after the command) or a zh_* locale gives the check's messages in Chinese."""
    root = policies_with_a_typo(tmp_path)
    res = run(*args, str(root), "-j", "440114", env=env)
    assert res.exit_code == 1
    assert "错误[unknown-name]: 未知名称 'standrd'" in res.output
    assert "提示：您是不是要写 'standard'？" in res.output
    assert "policies：1 个错误，0 个警告" in res.output


def test_lang_en_overrides_a_chinese_locale(tmp_path: Path) -> None:
    """`--lang en` wins over a zh_* locale."""
    res = run("check", str(policies_with_a_typo(tmp_path)), "-j", "440114", "--lang", "en",
              env={"LANG": "zh_CN.UTF-8"})
    assert "error[unknown-name]: unknown name 'standrd'" in res.output
    assert "policies: 1 error(s), 0 warning(s)" in res.output


def test_the_language_is_reset_after_a_command(tmp_path: Path) -> None:
    """After a command in Chinese, messages built by the library are English again."""
    run("--lang", "zh", "check", str(policies_with_a_typo(tmp_path)), "-j", "440114")
    assert current_language() == "en"
    with pytest.raises(PolicyError) as info:
        eligibility.load(policies_with_a_typo(tmp_path / "again"), jurisdiction="440114")
    assert "unknown name 'standrd'" in info.value.render()


def test_every_command_accepts_lang() -> None:
    """Each command of the CLI takes --lang zh|en, and its help is then in Chinese."""
    cli = build()
    for name in cli.commands:
        res = run(name, "--lang", "zh", "-h")
        assert res.exit_code == 0, (name, res.output)
        assert "显示本帮助并退出。" in res.output and "Show this message" not in res.output, name
        assert res.output.startswith("用法："), name


def test_help_in_chinese_translates_the_command_and_its_options() -> None:
    """`check -h` in a zh locale: the command's description, its options' help and click's own words are Chinese."""
    res = run("check", "-h", env={"LANG": "zh_CN.UTF-8"})
    assert "检查政策文件夹（默认：内置政策），列出每一个问题。" in res.output
    assert "把警告当作错误。" in res.output
    assert "[默认：text]" in res.output
    assert "Check a policy folder" not in res.output


def test_help_in_english_is_unchanged() -> None:
    """Without a zh locale, help stays in the English of the code."""
    res = run("check", "-h")
    assert "Check a policy folder (default: the bundled policies) and list every problem." in res.output
    assert "Show this message and exit." in res.output


def test_invalid_household_in_chinese(tmp_path: Path) -> None:
    """An invalid household is reported in Chinese, each problem with its field path."""
    household = tmp_path / "h.json"
    household.write_text(json.dumps({"assessed_monthly_income": "2,400", "members": [
        {"id": "m1", "relation": "applicant", "birth_date": "1984-13-01"}]}), encoding="utf-8")
    res = run("explain", str(household), "--on", "2024-09-01", "-p", str(FIXTURE), "--lang", "zh")
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [
        "家庭数据无效（2 个问题）：",
        "  assessed_monthly_income: 格式不符: '2,400' 不是 \"1234.50\" 这样的金额；请只写数字，如 \"1234.50\"",
        "  members[0].birth_date: 格式不符: '1984-13-01' 不是日历上的日期",
    ]


# ------------------------------------------------------------------ golden files in zh


def test_several_mistakes_rendered_in_chinese(policy_dir: Callable[..., Path], golden: Golden) -> None:
    """The five-mistake policy of the English golden file, rendered in Chinese (same positions, excerpts, codes)."""
    with use_language("zh"):
        err = load_error(policy_dir, {"dibao.yaml": FIVE_MISTAKES})
        golden("diagnostics/several-mistakes.zh.txt", err.render())


@pytest.mark.parametrize(("name", "when"), [
    ("fullwidth-paren", "count（household.members) > 0"),
    ("syntax-unclosed", "count(household.members > 0 and household.assessed_monthly_income < standard"),
])
def test_expression_mistakes_rendered_in_chinese(policy_dir: Callable[..., Path], golden: Golden, name: str,
                                                 when: str) -> None:
    """The parser's messages (a full-width bracket from a Chinese input method, an unclosed one) in Chinese."""
    with use_language("zh"):
        err = load_error(policy_dir, {"dibao.yaml": DIBAO.replace("WHEN", when)})
        golden(f"diagnostics/{name}.zh.txt", err.render())


def test_check_with_cases_and_warnings_in_chinese(tmp_path: Path, golden: Golden) -> None:
    """`check` in zh: an error in a rule, a rule without a source (a warning), a test case with a bad household."""
    root = policies_with_a_typo(tmp_path)
    rules = root / "guangdong" / "dibao.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace(
        "household.members)\n    source: G1\n", "household.members)\n", 1), encoding="utf-8")
    cases = root / "tests" / "dibao.yaml"
    text = cases.read_text(encoding="utf-8")
    cases.write_text(text.replace('assessed_monthly_income: "2400.00"', 'assessed_monthly_income: "2,400"', 1),
                     encoding="utf-8")
    res = run("check", str(root), "-j", "440114", "--lang", "zh")
    assert res.exit_code == 1
    golden("diagnostics/check-session.zh.txt", res.output)


# ------------------------------------------------------------------ a policy officer's session


#: Words the zh output may hold besides what the user wrote: names of formats and standards.
TECHNICAL = {"YAML", "JSON", "GB", "sha"}


def user_words(root: Path, *documents: Path) -> set[str]:
    """The words the user wrote in the policy folder and household files: keys, names, expressions, paths.

    The English labels (`en:`) and comments are left out: they must not show in a Chinese session.
    """
    found: set[str] = set()

    def walk(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            for k, v in node.items():
                yield str(k)
                if k != "en":
                    yield from walk(v)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v)
        else:
            yield str(node)

    for path in [*root.rglob("*.yaml"), *documents]:
        text = path.read_text(encoding="utf-8")
        try:
            data = yaml.safe_load(text) if path.suffix == ".yaml" else json.loads(text)
        except yaml.YAMLError:  # the file with the mistake: its lines, without comments
            data = [line.split(" #")[0] for line in text.splitlines() if not line.lstrip().startswith("#")]
        for text in walk(data):
            found |= set(re.findall(r"[A-Za-z]{2,}", text))
        found |= set(re.findall(r"[A-Za-z]{2,}", str(path.relative_to(path.parent.parent))))
    return found


def english_words(output: str, allowed: set[str]) -> set[str]:
    """The English words of an output that are not the user's: diagnostic codes and hashes removed first."""
    output = re.sub(r"\[[a-z0-9]+(-[a-z0-9]+)*\]", "", output)  # error[unknown-name]: the documented codes
    output = re.sub(r"sha256:[0-9a-f…]+", "", output)
    return set(re.findall(r"[A-Za-z]{2,}", output)) - allowed - TECHNICAL


def test_policy_officer_session_in_chinese(tmp_path: Path) -> None:
    """check (with errors), test (a failing case), fix, explain: all in Chinese, no English but the user's words."""
    zh = {"LANG": "zh_CN.UTF-8"}
    root = tmp_path / "policies"
    shutil.copytree(FIXTURE, root)
    rules, cases = root / "guangdong" / "dibao.yaml", root / "tests" / "dibao.yaml"
    good_rules, good_cases = rules.read_text(encoding="utf-8"), cases.read_text(encoding="utf-8")
    household = tmp_path / "family.json"
    household.write_text((ROOT / "examples" / "huadu-family.json").read_text(encoding="utf-8"), encoding="utf-8")

    # 1. A misspelt parameter in a rule and a test case indented one space too far.
    rules.write_text(good_rules.replace("income_per_capita < standard", "income_per_capita < standrd"),
                     encoding="utf-8")
    cases.write_text(good_cases.replace("\n    on: 2024-09-01\n", "\n     on: 2024-09-01\n", 1), encoding="utf-8")
    res = run("check", str(root), "-j", "440114", env=zh)
    assert res.exit_code == 1
    assert "guangdong/dibao.yaml:157:31: 错误[unknown-name]: 未知名称 'standrd'" in res.output
    assert "tests/dibao.yaml:16:6: 错误[yaml-indentation]: 'on' 缩进了 5 个空格" in res.output
    assert res.output.rstrip().endswith("policies：2 个错误，0 个警告")
    assert not english_words(res.output, user_words(root, household)), res.output

    # 2. Fixed; one expected amount is mistyped: the case fails, with the decision's trace in Chinese.
    rules.write_text(good_rules, encoding="utf-8")
    cases.write_text(good_cases.replace('amount: "1446.00"', 'amount: "1464.00"', 1), encoding="utf-8")
    assert run("check", str(root), "-j", "440114", env=zh).exit_code == 0
    res = run("test", str(root), "-j", "440114", "-q", env=zh)
    assert res.exit_code == 1
    assert "失败 tests/dibao.yaml:13：README example" in res.output
    assert "  dibao.amount：预期 1464.00，实际 1446.00" in res.output
    assert "  dibao 的决策轨迹：\n  最低生活保障（广州市花都区）（dibao）：符合条件，每月金额 1,446.00 元" in res.output
    assert res.output.rstrip().endswith("个通过，1 个失败")
    assert not english_words(res.output, user_words(root, household)), res.output

    # 3. The case fixed: every case passes; the family's decision explained.
    cases.write_text(good_cases, encoding="utf-8")
    res = run("test", str(root), "-j", "440114", env=zh)
    assert res.exit_code == 0
    assert re.search(r"\n\d+ 个通过，0 个失败\n\Z", res.output)
    assert not english_words(res.output, user_words(root, household)), res.output
    res = run("explain", str(household), "--on", "2024-09-01", "-p", str(root), "-j", "440114", env=zh)
    assert res.exit_code == 0
    assert "最低生活保障（广州市花都区）（dibao）：符合条件，每月金额 1,446.00 元" in res.output
    assert not english_words(res.output, user_words(root, household)), res.output


def test_plain_pytest_follows_the_locale_too(tmp_path: Path) -> None:
    """YAML cases run by plain pytest report a failure in Chinese in a zh_* locale, as `eligibility test` does."""
    root = tmp_path / "policies"
    shutil.copytree(FIXTURE, root)
    cases = root / "tests" / "dibao.yaml"
    cases.write_text(cases.read_text(encoding="utf-8").replace('amount: "1446.00"', 'amount: "1464.00"', 1),
                     encoding="utf-8")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    src = str(Path(eligibility.__file__).parent.parent)  # this checkout's code, whatever the working folder
    zh = run_pytest(root, run_dir, "-q", "-k", "README", LANG="zh_CN.UTF-8", PYTHONPATH=src)
    assert zh.returncode == 1
    assert "dibao.amount：预期 1464.00，实际 1446.00" in zh.stdout
    en = run_pytest(root, run_dir, "-q", "-k", "README", PYTHONPATH=src)
    assert "dibao.amount: expected 1464.00, got 1446.00" in en.stdout
