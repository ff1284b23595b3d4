"""Strict YAML loading: what a policy officer sees for tags, aliases, duplicates, encodings and limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import conftest
import eligibility
from conftest import FACTS, errors, only, where
from eligibility import PolicyError
from eligibility.testing.properties import hypothesis_settings

PolicyDir = Callable[..., Path]
Golden = Callable[[str, str], None]

#: A small valid program; tests change one thing in it.
DIBAO = conftest.DIBAO.replace("WHEN", "household.assessed_monthly_income < standard")

FACTS_LINE = "disability_grade: {type: integer, min: 0, max: 4, required: false"


def load_error(policy_dir: PolicyDir, files: dict[str, str], **kw: str) -> PolicyError:
    """Load a policy folder that must fail and return its PolicyError."""
    root = policy_dir(files, **kw)
    with pytest.raises(PolicyError) as info:
        eligibility.load(root)
    return info.value


def load_bytes_error(policy_dir: PolicyDir, name: str, data: bytes) -> PolicyError:
    """Write one file as raw bytes next to the facts vocabulary and return the PolicyError."""
    root = policy_dir({})
    (root / name).write_bytes(data)
    with pytest.raises(PolicyError) as info:
        eligibility.load(root)
    return info.value


def column(text: str, line: int, marker: str) -> int:
    """The 1-based column of `marker` on a 1-based line of `text`."""
    return text.splitlines()[line - 1].index(marker) + 1


# --- tags, anchors, aliases, merge keys, directives --------------------------------------------


def test_int_tag_is_rejected_at_the_tag(policy_dir: PolicyDir) -> None:
    """`!!int 1000` is an error at the tag: the schema, not YAML, types values."""
    text = DIBAO.replace("{2020-01-01: 1000}", "{2020-01-01: !!int 1000}")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "yaml-tag")
    assert where(d) == ("dibao.yaml", 11, column(text, 11, "!!int"))
    assert "!!int" in d.message  # shown as written, not as PyYAML's resolved tag


def test_python_object_tag_is_rejected(policy_dir: PolicyDir, golden: Golden) -> None:
    """`!!python/object:os.system` is an error, never a constructed object."""
    text = DIBAO.replace("title: {zh: 低保", "title: !!python/object:os.system {zh: 低保")
    err = load_error(policy_dir, {"dibao.yaml": text})
    d = only(err, "yaml-tag")
    assert where(d) == ("dibao.yaml", 2, 8)
    assert "python/object:os.system" in d.message
    golden("diagnostics/yaml-python-tag.txt", err.render())


def test_local_tag_is_rejected(policy_dir: PolicyDir) -> None:
    """A custom `!tag` is an error like the standard ones."""
    text = DIBAO.replace("title: {zh: 低保", "title: !custom {zh: 低保")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "yaml-tag")
    assert where(d) == ("dibao.yaml", 2, 8)


def test_anchor_and_alias_are_each_reported(policy_dir: PolicyDir, golden: Golden) -> None:
    """`&s` and `*s` are two errors, each at its own position."""
    text = DIBAO.replace("  S1: {title: 办法, confidence: C}\n",
                         "  S1: &s {title: 办法, confidence: C}\n  S2: *s\n")
    err = load_error(policy_dir, {"dibao.yaml": text})
    found = {d.code: d for d in errors(err)}
    assert set(found) == {"yaml-anchor", "yaml-alias"}, err.render()
    assert where(found["yaml-anchor"]) == ("dibao.yaml", 5, column(text, 5, "&s"))
    assert where(found["yaml-alias"]) == ("dibao.yaml", 6, column(text, 6, "*s"))
    golden("diagnostics/yaml-anchor-alias.txt", err.render())


def test_merge_key_is_rejected_at_the_key(policy_dir: PolicyDir) -> None:
    """`<<:` is an error at the merge key; nothing is merged."""
    text = DIBAO.replace("  S1: {title: 办法, confidence: C}\n",
                         "  S1: {title: 办法, confidence: C}\n  S2:\n    <<: {title: x, confidence: C}\n")
    err = load_error(policy_dir, {"dibao.yaml": text})
    merge = [d for d in errors(err) if d.code == "yaml-merge-key"]
    assert len(merge) == 1, err.render()
    assert where(merge[0]) == ("dibao.yaml", 7, 5)


@pytest.mark.parametrize("directive", ["%YAML 1.1", "%TAG ! tag:example.com,2000:"])
def test_directive_is_rejected_at_line_one(policy_dir: PolicyDir, directive: str) -> None:
    """`%YAML` and `%TAG` directives are errors pointing at the directive."""
    d = only(load_error(policy_dir, {"dibao.yaml": f"{directive}\n---\n{DIBAO}"}), "yaml-directive")
    assert where(d) == ("dibao.yaml", 1, 1)
    assert "directive" in d.message


def test_second_document_is_rejected_at_its_marker(policy_dir: PolicyDir) -> None:
    """A second `---` document is an error at the separator line."""
    text = DIBAO + "---\nprogram: tekun\n"
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "yaml-multi-document")
    assert where(d) == ("dibao.yaml", 18, 1)
    assert d.hint is not None and "separate files" in d.hint


def test_one_explicit_document_is_accepted(policy_dir: PolicyDir) -> None:
    """A single document with a leading `---` and a closing `...` loads."""
    engine = eligibility.load(policy_dir({"dibao.yaml": "---\n" + DIBAO + "...\n"}))
    assert engine.programs == ("dibao",)


# --- duplicate keys ----------------------------------------------------------------------------


def test_duplicate_key_names_both_lines(policy_dir: PolicyDir, golden: Golden) -> None:
    """A key given twice is an error at the second, naming the line of the first."""
    text = DIBAO + "eligible: income_test\n"
    err = load_error(policy_dir, {"dibao.yaml": text})
    d = only(err, "duplicate-key")
    assert where(d) == ("dibao.yaml", 18, 1)
    assert "'eligible'" in d.message and "line 17" in d.message
    assert [(s.line, s.col) for s, _ in d.related] == [(17, 1)]
    golden("diagnostics/duplicate-key.txt", err.render())


def test_duplicate_key_inside_a_flow_mapping(policy_dir: PolicyDir) -> None:
    """`{zh: a, en: b, zh: c}` is an error at the second `zh`."""
    text = DIBAO.replace("title: {zh: 低保, en: Dibao}", "title: {zh: 低保, en: Dibao, zh: 二}")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "duplicate-key")
    assert where(d) == ("dibao.yaml", 2, column(text, 2, "zh: 二"))
    assert [(s.line, s.col) for s, _ in d.related] == [(2, 9)]


def test_quoted_and_plain_spellings_of_a_key_are_duplicates(policy_dir: PolicyDir) -> None:
    """`"eligible":` and `eligible:` are the same key."""
    text = DIBAO + '"eligible": income_test\n'
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "duplicate-key")
    assert where(d) == ("dibao.yaml", 18, 1)


# --- tabs, syntax, encodings -------------------------------------------------------------------


def test_tab_indentation_is_an_error_at_the_tab(policy_dir: PolicyDir) -> None:
    """A tab used for indentation is a YAML error at the tab, shown as U+0009."""
    text = DIBAO.replace("    type: money", "\ttype: money")
    err = load_error(policy_dir, {"dibao.yaml": text})
    d = only(err, "yaml-syntax")
    assert where(d) == ("dibao.yaml", 8, 1)
    assert "U+0009type: money" in err.render()


def test_tab_indentation_hint_says_use_spaces(policy_dir: PolicyDir) -> None:
    """The tab error tells the officer to indent with spaces."""
    text = DIBAO.replace("    type: money", "\ttype: money")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "yaml-syntax")
    assert d.hint is not None and "spaces" in d.hint


def test_unclosed_flow_mapping_is_a_syntax_error_with_position(policy_dir: PolicyDir) -> None:
    """A `{` never closed is a YAML syntax error at the bracket (line 2), not at the line PyYAML notices it."""
    text = DIBAO.replace("title: {zh: 低保, en: Dibao}", "title: {zh: 低保, en: Dibao")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "yaml-syntax")
    assert d.span is not None and (d.span.line, d.span.col) == (2, 8)


def test_complex_key_is_rejected(policy_dir: PolicyDir) -> None:
    """A `? [a, b]` key is an error: keys are plain text."""
    d = only(load_error(policy_dir, {"dibao.yaml": DIBAO + "? [a, b]\n: 1\n"}), "yaml-complex-key")
    assert where(d)[:2] == ("dibao.yaml", 18)


def test_invalid_utf8_is_reported_at_the_bad_byte(policy_dir: PolicyDir) -> None:
    """A Latin-1 byte in the file is an encoding error at its line and column."""
    data = DIBAO.encode("utf-8").replace(b"en: Dibao", b"en: Dib\xe9o")
    d = only(load_bytes_error(policy_dir, "dibao.yaml", data), "encoding")
    assert where(d) == ("dibao.yaml", 2, column(DIBAO, 2, "Dibao") + 3)
    assert "0xe9" in d.message and d.hint == "save the file as UTF-8"


def test_utf16_file_is_an_encoding_error(policy_dir: PolicyDir) -> None:
    """A file saved as UTF-16 is an encoding error, not YAML garbage."""
    d = only(load_bytes_error(policy_dir, "dibao.yaml", DIBAO.encode("utf-16")), "encoding")
    assert where(d) == ("dibao.yaml", 1, 1)


def test_bom_is_tolerated(policy_dir: PolicyDir) -> None:
    """A UTF-8 byte order mark at the start is ignored."""
    root = policy_dir({})
    (root / "dibao.yaml").write_bytes(b"\xef\xbb\xbf" + DIBAO.encode("utf-8"))
    assert eligibility.load(root).programs == ("dibao",)


def test_bom_does_not_shift_columns(policy_dir: PolicyDir) -> None:
    """After a BOM, errors on line 1 and later still have their true columns."""
    text = DIBAO.replace("eligible: income_test", "eligible: income_tst")
    err = load_bytes_error(policy_dir, "dibao.yaml", b"\xef\xbb\xbf" + text.encode("utf-8"))
    d = only(err, "unknown-name")
    assert where(d) == ("dibao.yaml", 17, 11)


# --- empty files and limits --------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n\n"], ids=["empty", "blank", "comment"])
def test_empty_file_is_an_error(policy_dir: PolicyDir, text: str) -> None:
    """A file with no document is an error that says what a policy file starts with."""
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "empty-file")
    assert where(d) == ("dibao.yaml", 1, 1)
    assert d.hint is not None and "program:" in d.hint


@pytest.mark.parametrize("text", ["~\n", "- a\n- b\n", "hello\n"], ids=["null", "list", "text"])
def test_file_that_is_not_a_mapping_is_an_error(policy_dir: PolicyDir, text: str) -> None:
    """A document that is a scalar or a list is an error, not a crash."""
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "file-kind")
    assert where(d)[:2] == ("dibao.yaml", 1)


def test_file_over_1_mib_is_rejected_before_parsing(policy_dir: PolicyDir) -> None:
    """A policy file over 1 MiB is an error that gives its size and the limit."""
    text = DIBAO + "description: |\n" + ("  " + "x" * 99 + "\n") * 11_000
    err = load_error(policy_dir, {"dibao.yaml": text})
    d = only(err, "limit-file-size")
    assert where(d) == ("dibao.yaml", 1, 1)
    size = len(text.encode("utf-8"))
    assert str(size) in d.message and "1048576" in d.message


def nested_description(levels: int) -> str:
    """A `description:` holding `levels` nested mappings under the root mapping."""
    out = "description:\n"
    for i in range(2, levels + 1):
        out += "  " * (i - 1) + f"k{i}:\n"
    return out + "  " * levels + "leaf: x\n"


def test_yaml_nested_within_the_limit_is_accepted(policy_dir: PolicyDir) -> None:
    """A file nested 31 mappings deep (32 levels with its leaves) loads."""
    engine = eligibility.load(policy_dir({"dibao.yaml": DIBAO + nested_description(30)}))
    assert engine.programs == ("dibao",)


def test_yaml_nested_over_32_levels_is_rejected(policy_dir: PolicyDir) -> None:
    """Nesting deeper than 32 levels is a limit error at the first line that is too deep."""
    text = DIBAO + nested_description(40)
    err = load_error(policy_dir, {"dibao.yaml": text})
    found = errors(err)
    assert found and all(d.code == "limit-depth" for d in found), err.render()
    first = found[0]
    assert where(first)[:2] == ("dibao.yaml", 50)  # 32 nested collections are allowed, the 33rd is not
    assert "32" in first.message


def test_yaml_nested_too_deep_is_reported_once(policy_dir: PolicyDir) -> None:
    """One too-deep branch gives one limit diagnostic, not one per node."""
    err = load_error(policy_dir, {"dibao.yaml": DIBAO + nested_description(40)})
    assert len(errors(err)) == 1, err.render()


def test_deep_flow_nesting_is_rejected_without_recursion_error(policy_dir: PolicyDir) -> None:
    """`[[[[...]]]]` 200 deep is a limit error at the first bracket too deep, never a RecursionError."""
    text = DIBAO + "description: " + "[" * 200 + "]" * 200 + "\n"
    err = load_error(policy_dir, {"dibao.yaml": text})
    d = only(err, "limit-depth")
    assert where(d) == ("dibao.yaml", 18, len("description: ") + 33)  # the 33rd bracket


class _TooMuchWork(Exception):
    pass


def test_deep_flow_nesting_is_rejected_before_the_yaml_parser_does_the_work(
        policy_dir: PolicyDir, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file nested 10,000 deep is rejected after a bounded amount of YAML parsing (G-R)."""
    real_parse = yaml.parse

    def bounded_parse(stream: str, Loader: type = yaml.SafeLoader) -> object:
        for i, event in enumerate(real_parse(stream, Loader=Loader)):
            if i > 500:
                raise _TooMuchWork
            yield event

    monkeypatch.setattr(yaml, "parse", bounded_parse)
    text = DIBAO + "description: " + "[" * 10_000 + "]" * 10_000 + "\n"
    err = load_error(policy_dir, {"dibao.yaml": text})
    assert [d.code for d in errors(err)] == ["limit-depth"]


# --- YAML 1.1 scalars are typed by the schema --------------------------------------------------


@pytest.mark.parametrize("word", ["no", "on", "yes", "off", "No"])
def test_yaml11_boolean_word_for_required_is_an_error_with_a_hint(policy_dir: PolicyDir, word: str) -> None:
    """`required: no` is not false: it is an error whose hint says to write true or false."""
    facts = FACTS.replace(FACTS_LINE, FACTS_LINE.replace("required: false", f"required: {word}"))
    err = load_error(policy_dir, {"dibao.yaml": DIBAO}, facts=facts)
    d = only(err, "expected-bool")
    assert where(d) == ("facts.yaml", 16, column(facts, 16, f"required: {word}") + len("required: "))
    assert d.hint is not None and "true or false" in d.hint and "yes/no/on/off" in d.hint


def test_required_no_rendered(policy_dir: PolicyDir, golden: Golden) -> None:
    """The rendered `required: no` error shows the line, a caret under `no` and the hint."""
    facts = FACTS.replace(FACTS_LINE, FACTS_LINE.replace("required: false", "required: no"))
    err = load_error(policy_dir, {"dibao.yaml": DIBAO}, facts=facts)
    golden("diagnostics/yaml11-required-no.txt", err.render())


def test_yes_for_a_bool_parameter_is_an_error(policy_dir: PolicyDir) -> None:
    """A bool parameter value `yes` is an error, not true."""
    text = (DIBAO.replace("type: money", "type: bool").replace("{2020-01-01: 1000}", "{2020-01-01: yes}")
            .replace("household.assessed_monthly_income < standard", "standard"))
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "expected-bool")
    assert where(d) == ("dibao.yaml", 11, column(text, 11, "yes"))


def test_decimal_1_10_keeps_its_digits(policy_dir: PolicyDir) -> None:
    """`1.10` is the decimal 1.10 from its source text, not the float 1.1."""
    text = (DIBAO.replace("type: money", "type: decimal").replace("{2020-01-01: 1000}", "{2020-01-01: 1.10}")
            .replace("household.assessed_monthly_income < standard", "standard > 1"))
    engine = eligibility.load(policy_dir({"dibao.yaml": text}))
    value = engine.model.programs["dibao"].parameters["standard"].values[0].value
    assert isinstance(value, Decimal) and str(value) == "1.10"


@pytest.mark.parametrize("text", ["0x10", "0o17", "1_000", "12:30", "1e3", ".inf", ".nan"])
def test_yaml11_numbers_are_not_numbers_here(policy_dir: PolicyDir, text: str) -> None:
    """Hex, octal, underscores, sexagesimal, exponents and .inf/.nan are errors, not YAML 1.1 numbers."""
    src = DIBAO.replace("{2020-01-01: 1000}", f"{{2020-01-01: {text}}}")
    d = only(load_error(policy_dir, {"dibao.yaml": src}), "expected-number")
    assert where(d) == ("dibao.yaml", 11, column(src, 11, text))


def test_yaml11_words_in_text_fields_stay_text(policy_dir: PolicyDir) -> None:
    """`en: no` is the text "no" and an unquoted `jurisdiction: 000000` is the code "000000"."""
    text = DIBAO.replace("title: {zh: 低保, en: Dibao}", "title: {zh: 否, en: no}").replace(
        'jurisdiction: "000000"', "jurisdiction: 000000")
    engine = eligibility.load(policy_dir({"dibao.yaml": text}))
    program = engine.model.programs["dibao"]
    assert program.title.en == "no"
    assert program.jurisdiction == "000000"


CASE = """\
tests:
  - name: below the standard
    on: 2024-09-01
    household:
      assessed_monthly_income: 500
      members: [{id: a, birth_date: 1980-01-01, sex: male}]
    expect: {dibao: {eligible: true}}
"""


def test_on_key_and_dates_in_test_files_are_read_by_the_schema(policy_dir: PolicyDir) -> None:
    """`on: 2024-09-01` in a test case is the key "on" with a date, not YAML 1.1's True and a timestamp."""
    # A program text of its own, so that no engine compiled by another test is reused.
    text = DIBAO + "description: the on key\n"
    engine = eligibility.load(policy_dir({"dibao.yaml": text, "tests/dibao.yaml": CASE}))
    (case,) = engine.model.tests
    assert case.on == dt.date(2024, 9, 1)
    assert case.household["members"][0]["birth_date"] == "1980-01-01"  # type: ignore[index]


def test_test_cases_come_from_the_folder_loaded(tmp_path: Path) -> None:
    """Two folders with the same programs but different test files each get their own test cases."""
    text = DIBAO + "description: two folders\n"
    for name, files in (("a", {"dibao.yaml": text}), ("b", {"dibao.yaml": text, "tests/dibao.yaml": CASE})):
        root = tmp_path / name
        (root / "tests").mkdir(parents=True)
        (root / "facts.yaml").write_text(FACTS, encoding="utf-8")
        for rel, body in files.items():
            (root / rel).write_text(body, encoding="utf-8")
    assert eligibility.load(tmp_path / "a").model.tests == ()
    assert [c.name for c in eligibility.load(tmp_path / "b").model.tests] == ["below the standard"]


# --- hostile files: bounded work, capped diagnostics, positions of bad characters (issue 10) -----


def capped(err: PolicyError, code: str, hidden: int) -> None:
    """Exactly 100 errors with `code` in dibao.yaml, then one saying how many more there are."""
    found = errors(err)
    assert [d.code for d in found] == [code] * 100 + ["too-many-problems"], err.render()[:2000]
    assert found[-1].message == f"and {hidden} more problems in this file"
    assert err.error_count == 100 + hidden
    assert err.render().endswith(f"{100 + hidden} errors found")


def test_thousands_of_tags_on_one_line_are_capped_at_100(policy_dir: PolicyDir) -> None:
    """8,000 tags on one line give the first 100 tag errors and one "and 7900 more problems" error."""
    text = DIBAO + "description: [" + "!t x, " * 8000 + "x]\n"
    capped(load_error(policy_dir, {"dibao.yaml": text}), "yaml-tag", 7900)


def test_forty_thousand_duplicate_keys_are_capped_at_100(policy_dir: PolicyDir) -> None:
    """40,000 copies of one key give 100 duplicate-key errors and a count of the rest."""
    text = DIBAO + "description:\n" + "  k: x\n" * 40_001
    capped(load_error(policy_dir, {"dibao.yaml": text}), "duplicate-key", 39_900)


def test_the_value_limit_error_is_shown_after_the_cap(policy_dir: PolicyDir) -> None:
    """50,000 duplicate keys pass the value limit too: its error is listed after the count, never hidden."""
    text = DIBAO + "description:\n" + "  k: x\n" * 50_000
    found = errors(load_error(policy_dir, {"dibao.yaml": text}))
    assert [d.code for d in found[100:]] == ["too-many-problems", "limit-nodes"]


def test_twenty_thousand_unknown_keys_are_capped_at_100(policy_dir: PolicyDir) -> None:
    """20,000 unknown top-level keys give 100 unknown-key errors and a count of the rest."""
    text = DIBAO + "".join(f"k{i}: x\n" for i in range(20_000))
    capped(load_error(policy_dir, {"dibao.yaml": text}), "unknown-key", 19_900)


def test_the_cap_is_per_file(policy_dir: PolicyDir) -> None:
    """Two files with 150 tag errors each show 100 of each file, each file with its own count."""
    text = DIBAO + "description: [" + "!t x, " * 150 + "x]\n"
    err = load_error(policy_dir, {"dibao.yaml": text, "tekun.yaml": text.replace("dibao", "tekun")})
    for name in ("dibao.yaml", "tekun.yaml"):
        mine = [d for d in errors(err) if d.span is not None and d.span.path == name]
        assert len(mine) == 101 and mine[-1].message == "and 50 more problems in this file"


def test_a_file_of_more_than_100000_values_is_rejected_where_the_limit_is_passed(policy_dir: PolicyDir) -> None:
    """A 1 MiB file of `[x, x, …]` is one limit error at the value past the limit, not 300,000 values read."""
    items = 340_000
    text = DIBAO + "description: [" + "x, " * items + "x]\n"
    err = load_error(policy_dir, {"dibao.yaml": text})
    d = only(err, "limit-nodes")
    assert "100000" in d.message
    kinds = (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)
    before = sum(isinstance(e, kinds) for e in yaml.parse(DIBAO)) + 2  # and `description`, `[`
    assert where(d) == ("dibao.yaml", 18, len("description: [") + 1 + 3 * (100_000 - before))


def test_policy_error_renders_no_excerpt_until_its_message_is_read(
        policy_dir: PolicyDir, monkeypatch: pytest.MonkeyPatch) -> None:
    """Raising a PolicyError builds no message; str(err) builds it once and err.render() gives the same text."""
    import eligibility.base.errors as errors_module

    calls: list[int] = []
    real = errors_module.excerpt

    def counting(*args: object) -> list[str]:
        calls.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(errors_module, "excerpt", counting)
    err = load_error(policy_dir, {"dibao.yaml": DIBAO + "eligible: income_test\n"})
    assert calls == []
    text = str(err)
    assert calls and "duplicate key 'eligible'" in text
    n = len(calls)
    assert err.render() == text and len(calls) == n


def test_policy_error_survives_pickling(policy_dir: PolicyDir) -> None:
    """A PolicyError sent from a worker process (pickled) keeps its diagnostics, count and message."""
    import pickle

    err = load_error(policy_dir, {"dibao.yaml": DIBAO + "description: [" + "!t x, " * 150 + "x]\n"})
    back = pickle.loads(pickle.dumps(err))
    assert isinstance(back, PolicyError)
    assert back.diagnostics == err.diagnostics and back.error_count == 150
    assert str(back) == str(err)


def test_excerpt_of_a_long_line_is_cut_around_the_caret(policy_dir: PolicyDir, golden: Golden) -> None:
    """An anchor at column 5,000 of a long line is shown in a window with `…` and the caret under it."""
    text = DIBAO + "description: [" + "x" * 4986 + ", &a y, " + "z" * 5000 + "]\n"
    err = load_error(policy_dir, {"dibao.yaml": text})
    d = only(err, "yaml-anchor")
    assert where(d) == ("dibao.yaml", 18, 5003)
    shown, carets = d.render(err.sources).splitlines()[1:3]
    assert shown.startswith("   18 | …x") and shown.endswith("z…")
    assert shown[carets.index("^"):].startswith("&a")
    golden("diagnostics/long-line-anchor.txt", err.render())


def test_syntax_error_in_a_large_file_keeps_its_position(policy_dir: PolicyDir) -> None:
    """A YAML syntax error at the end of a 200 KB file is reported at its line and column (libyaml's message)."""
    text = DIBAO + "description:\n" + "".join(f"  k{i}: x\n" for i in range(20_000)) + "  ]\n"
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "yaml-syntax")
    assert where(d) == ("dibao.yaml", text.count("\n"), 3)
    assert d.hint is not None and "indentation" in d.hint


@pytest.mark.parametrize(("text", "line", "marker"), [
    (DIBAO.replace("program: dibao", "program: dib\x07ao"), 1, "\x07"),
    (DIBAO.replace("en: Dibao", 'en: "Dib\x07ao"'), 2, "\x07"),
    (DIBAO.replace("title: 办法", "title: '办\x1b法'"), 5, "\x1b"),
    (DIBAO.replace("eligible: income_test", "eligible: income_test\x00"), 17, "\x00"),
    (DIBAO.replace("en: Income", "en: In\x7fcome"), 14, "\x7f"),
    (DIBAO.replace("zh: 收入", "zh: 收\ufffe入"), 14, "\ufffe"),
    (DIBAO.replace("\n", "\r\n").replace("en: Income", "en: In\x07come"), 14, "\x07"),
], ids=["bel-line-1-plain", "bel-double-quoted", "esc-single-quoted-after-chinese", "nul-end-of-line",
        "del", "noncharacter-fffe", "crlf-later-line"])
def test_control_character_is_reported_at_its_line_and_column(policy_dir: PolicyDir, text: str, line: int,
                                                              marker: str) -> None:
    """A raw control character (or U+FFFE) is an error at its own line and column, in any kind of scalar."""
    root = policy_dir({})
    (root / "dibao.yaml").write_bytes(text.encode("utf-8"))
    with pytest.raises(PolicyError) as info:
        eligibility.load(root)
    d = only(info.value, "yaml-character")
    lines = text.replace("\r\n", "\n").splitlines()
    assert where(d) == ("dibao.yaml", line, lines[line - 1].index(marker) + 1)
    assert f"U+{ord(marker):04X}" in d.message


def test_control_characters_are_counted(policy_dir: PolicyDir) -> None:
    """Several control characters give one error at the first, saying how many more there are."""
    text = DIBAO.replace("en: Dibao", "en: D\x07i\x07b\x07ao")
    d = only(load_error(policy_dir, {"dibao.yaml": text}), "yaml-character")
    assert where(d) == ("dibao.yaml", 2, column(text, 2, "\x07")) and "(2 more in this file)" in d.message


def test_control_character_rendered(policy_dir: PolicyDir, golden: Golden) -> None:
    """The rendered control-character error shows the character as U+0007 with the caret under it."""
    err = load_error(policy_dir, {"dibao.yaml": DIBAO.replace("en: Income", 'en: "In\x07come"')})
    golden("diagnostics/control-character.txt", err.render())


@pytest.mark.parametrize(("bad", "line"), [(b"\xed\xa0\x80", 14), (b"\xff", 1), (b"\xc3", 14)],
                         ids=["encoded-surrogate", "ff-line-1", "truncated-sequence"])
def test_invalid_utf8_is_reported_at_its_line_and_character_column(policy_dir: PolicyDir, bad: bytes,
                                                                   line: int) -> None:
    """A UTF-8-encoded lone surrogate or a stray byte is an encoding error at its line and column in characters."""
    text = DIBAO.replace("\n", "\r\n")  # CRLF: columns count characters, not bytes, after Chinese text
    target = "zh: 收入" if line == 14 else "program"
    data = text.encode("utf-8").replace(target.encode("utf-8"), target.encode("utf-8") + bad, 1)
    d = only(load_bytes_error(policy_dir, "dibao.yaml", data), "encoding")
    assert where(d) == ("dibao.yaml", line, text.splitlines()[line - 1].index(target) + len(target) + 1)


# --- fuzz: whatever the text, the outcome is a loaded engine or a PolicyError ---------------------

#: Pieces of YAML-ish text: real keys, brackets, quotes, tags, anchors, odd characters, breaks.
_PIECES = st.sampled_from([
    "program: ", "title: ", "rules:", "when: ", "eligible: ", "parameters:", "values: ", "description: ",
    "zh: ", "en: ", "source: S1", "type: money", "- ", ": ", ", ", "[", "]", "{", "}", "'", '"', "\\",
    "|", ">-", "!t ", "!!int ", "&a ", "*a", "<<: ", "? ", "# c", "---", "...", "%YAML 1.1", "\t",
    "\n", "\n  ", "\n    ", "\r\n", "\x07", "\x00", "\ufeff", "\u2028", "\u202e", "\ufffe", "低保", "（",
    "x", "1000", "2020-01-01", "no", "~", "income_test", "household.assessed_monthly_income", "standard",
])
_EXPR_PIECES = st.sampled_from([
    "household.assessed_monthly_income", "standard", "income_test", "m", "household.members", "m.id",
    "count(", "sum(", "any(", "min(", "age(", "(", ")", "[", "]", "{", "}", " for m in ", " if ",
    " else ", " and ", " or ", " not ", " < ", " == ", " + ", " * ", " / ", " ** ", ", ", "=", ".",
    '"a)"', "'(\\''", '"', "'", "#", "\\", "\n", "\n  ", "1", "0.5", "1e3", "0x1", "_x",
    "lambda: 1", "f'{1}'", "\u200b", "（", "\x07", "None", "True", " is ",
])


def _load_outcome(files: dict[str, str]) -> None:
    """Load a folder of the given files: it must load or raise PolicyError, whose message must render."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "facts.yaml").write_text(FACTS, encoding="utf-8")
        for name, text in files.items():
            (root / name).write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            eligibility.load(root)
        except PolicyError as err:
            assert err.diagnostics and str(err).endswith("found")


@settings(hypothesis_settings(), derandomize=True)
@given(st.lists(_PIECES, max_size=60).map("".join))
def test_fuzz_yaml_ish_text_gives_a_typed_outcome(text: str) -> None:
    """Any YAML-ish program file, alone or after a valid program, loads or raises PolicyError, nothing else."""
    _load_outcome({"dibao.yaml": text})
    _load_outcome({"dibao.yaml": DIBAO + text})


@settings(hypothesis_settings(), derandomize=True)
@given(st.lists(_EXPR_PIECES, min_size=1, max_size=30).map("".join),
       st.sampled_from(["plain", "double", "single", "literal"]))
def test_fuzz_expressions_give_a_typed_outcome(expr: str, style: str) -> None:
    """Any generated expression, in any scalar style, loads or raises PolicyError, nothing else."""
    if style == "double":
        when = '"' + expr.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    elif style == "single":
        when = "'" + expr.replace("'", "''").replace("\n", " ") + "'"
    elif style == "literal":
        when = "|\n      " + expr.replace("\n", "\n      ")
    else:
        when = expr.replace("\n", " ")
    _load_outcome({"dibao.yaml": DIBAO.replace("household.assessed_monthly_income < standard", when)})
