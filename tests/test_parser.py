"""Expression parsing: forbidden constructs, limits, invisible and full-width characters, positions in YAML."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import eligibility
from conftest import DIBAO, only
from eligibility import Diagnostic, PolicyError

PolicyDir = Callable[..., Path]
Golden = Callable[[str, str], None]

#: The line of WHEN, the expression under test, in the shared DIBAO program (tests/fixtures/demo).
WHEN_LINE = 16
INCOME = "household.assessed_monthly_income"


def program(when: str) -> str:
    """The program with `when:` set to the given YAML text (a scalar, possibly block)."""
    return DIBAO.replace("WHEN", when)


def quoted(expr: str) -> str:
    """An expression as a double-quoted YAML scalar."""
    return json.dumps(expr, ensure_ascii=False)


def load_error(policy_dir: PolicyDir, text: str) -> PolicyError:
    """Load the program text, which must fail, and return the PolicyError."""
    root = policy_dir({"dibao.yaml": text})
    with pytest.raises(PolicyError) as info:
        eligibility.load(root)
    return info.value


def at(text: str, marker: str, line: int = WHEN_LINE) -> tuple[int, int]:
    """The 1-based (line, column) where `marker` starts on a line of the YAML text."""
    return line, text.splitlines()[line - 1].index(marker) + 1


def pos(d: Diagnostic) -> tuple[int, int]:
    assert d.span is not None and d.span.path == "dibao.yaml"
    return d.span.line, d.span.col


def accepted(policy_dir: PolicyDir, when: str) -> eligibility.Engine:
    """Load the program with the given `when:` and return the engine (it must be valid)."""
    return eligibility.load(policy_dir({"dibao.yaml": program(when)}))


# --- forbidden constructs, each rejected with its position --------------------------------------

FORBIDDEN = [
    # (id, expression, the text the diagnostic starts at, a word the message contains)
    ("power", f"{INCOME} < standard ** 2", "standard ** 2", "**"),
    ("floor-division", f"standard < {INCOME} // 2", f"{INCOME} // 2", "//"),
    ("remainder", f"standard < {INCOME} % 2", f"{INCOME} % 2", "%"),
    ("lambda", "standard > (lambda: 0)", "lambda", "lambda"),
    ("lambda-called", "(lambda: True)()", "lambda", "functions"),
    ("walrus", "(x := 1) > 0", "x := 1", ":="),
    ("f-string", "f'{standard}' == 'a'", "f'{standard}'", "f-strings"),
    ("subscript", "household.members[0].disability_grade > 0", "household.members[0]", "subscripts"),
    ("slice", "count(household.members[1:]) > 0", "household.members[1:]", "subscripts"),
    ("list-literal", "count(household.members) in [1, 2]", "[1, 2]", "list"),
    ("dict-literal", "standard == {}", "{}", "dict"),
    ("set-literal", "standard in {1, 2}", "{1, 2}", "set"),
    ("list-comprehension", "count([m for m in household.members]) > 0", "[m for m", "list comprehensions"),
    ("set-comprehension", "count({m for m in household.members}) > 0", "{m for m", "set comprehensions"),
    ("dict-comprehension", "count({m: 1 for m in household.members}) > 0", "{m: 1", "dict comprehensions"),
    ("starred", "max(*household.members) > 0", "*household", "starred"),
    ("dunder-attribute", "household.__class__ == 1", "household.__class__", "__class__"),
    ("underscore-attribute", "household._h == 1", "household._h", "_h"),
    ("import", "__import__('os').system('x')", "__import__", "functions"),
    ("subclasses", "().__class__.__bases__[0].__subclasses__()", "()", "functions"),
    ("method-call", "household.members.count(1) > 0", "household.members.count", "functions"),
    ("exponent-float", "standard < 1e9", "1e9", "exponent"),
    ("exponent-float-upper", "standard < 1.5E3", "1.5E3", "exponent"),
    ("is", "standard is standard", "standard is", "'is'"),
    ("bit-not", "~standard > 0", "~standard", "~"),
    ("matmul", "standard @ standard > 0", "standard @", "@"),
    ("none", "standard == None", "None", "None"),
    ("ellipsis", "standard == ...", "...", "ellipsis"),
    ("bytes", "standard == b'x'", "b'x'", "bytes"),
    ("complex", "standard > 1j", "1j", "complex"),
    ("yield", "(yield) > 0", "yield", "yield"),
    ("await", "await standard", "await", "await"),
    ("three-loops", "count(1 for a in household.members for b in household.members "
                    "for c in household.members) > 0", "(1 for a", "2"),
]


@pytest.mark.parametrize(("expr", "start", "word"), [f[1:] for f in FORBIDDEN], ids=[f[0] for f in FORBIDDEN])
def test_forbidden_construct_is_rejected_at_its_position(policy_dir: PolicyDir, expr: str, start: str,
                                                         word: str) -> None:
    """Everything outside the expression language is an error at the offending construct."""
    text = program(quoted(expr))
    d = only(load_error(policy_dir, text))
    assert d.code in ("forbidden", "limit-loops"), d.render()
    assert pos(d) == at(text, start)
    assert word in d.message


def test_keyword_argument_is_rejected_at_the_argument(policy_dir: PolicyDir) -> None:
    """`max(a, key=b)` is an error whose caret lies within `key=standard`."""
    text = program("max(standard, key=standard) > 0")
    d = only(load_error(policy_dir, text), "forbidden")
    assert d.span is not None
    line, start = at(text, "key=standard")
    assert d.span.line == line and start <= d.span.col and d.span.end_col <= start + len("key=standard")
    assert "keyword arguments" in d.message


@pytest.mark.parametrize("call", ["open('f')", "getattr(household, 'x')", "eval('1')", "print(1)"])
def test_builtin_function_is_an_unknown_function(policy_dir: PolicyDir, call: str) -> None:
    """Python builtins are not functions of the language: an error listing the functions there are."""
    text = program(quoted(call))
    d = only(load_error(policy_dir, text), "unknown-function")
    assert pos(d) == at(text, call)
    assert d.hint is not None and "count" in d.hint


# --- limits ------------------------------------------------------------------------------------


def test_number_literal_over_30_digits_is_rejected(policy_dir: PolicyDir) -> None:
    """A 31-digit literal is a limit error naming 31 digits and the limit 30."""
    text = program("standard < " + "1" * 31)
    d = only(load_error(policy_dir, text), "limit-literal")
    assert pos(d) == at(text, "1" * 31)
    assert "31" in d.message and "30" in d.message


def test_number_literal_of_10_pow_18_is_rejected(policy_dir: PolicyDir) -> None:
    """A literal of 10^18 or more is a limit error."""
    text = program("standard < 1" + "0" * 18)
    d = only(load_error(policy_dir, text), "limit-literal")
    assert pos(d) == at(text, "1" + "0" * 18)


def conjunction(length: int) -> str:
    """A valid expression of at least `length` characters."""
    part = f"{INCOME} < standard"
    out = part
    while len(out) < length:
        out += " and " + part
    return out


def test_expression_over_4000_characters_is_rejected(policy_dir: PolicyDir) -> None:
    """An expression longer than 4,000 characters is a limit error giving its length and the limit."""
    expr = conjunction(4001)
    d = only(load_error(policy_dir, program(expr)), "limit-length")
    assert pos(d) == (WHEN_LINE, 11)
    assert str(len(expr)) in d.message and "4000" in d.message


def test_expression_of_2000_characters_is_accepted(policy_dir: PolicyDir) -> None:
    """A 2,000-character expression compiles."""
    expr = conjunction(2000)
    assert 2000 <= len(expr) < 2100
    assert accepted(policy_dir, expr).programs == ("dibao",)


def test_brackets_nested_51_deep_are_rejected_at_the_51st(policy_dir: PolicyDir) -> None:
    """Brackets nested 51 deep are a limit error at the 51st opening bracket."""
    text = program("(" * 51 + "standard" + ")" * 51 + " > 0")
    d = only(load_error(policy_dir, text), "limit-depth")
    assert pos(d) == (WHEN_LINE, 11 + 50)
    assert "50" in d.message


@pytest.mark.parametrize("depth", [32, 50])
def test_brackets_nested_up_to_50_deep_are_accepted(policy_dir: PolicyDir, depth: int) -> None:
    """Brackets nested 32 (and 50) deep compile."""
    assert accepted(policy_dir, "(" * depth + "standard" + ")" * depth + " > 0").programs == ("dibao",)


DEEP = [
    ("brackets-10000", "(" * 10_000 + "standard" + ")" * 10_000 + " > 0", "limit-length"),
    ("unary-minus-3000", "-" * 3000 + "standard > 0", "limit-depth"),
    ("unary-plus-3000", "+" * 3000 + "standard > 0", "limit-depth"),
    ("not-900", "not " * 900 + "income_test", "limit-depth"),
    ("attributes-1300", "a." * 1300 + "b", "limit-depth"),
    ("calls-1300", "f(" * 1300 + ")" * 1300, "limit-depth"),
    ("if-else-100", "standard > 0" + " if income_test else standard > 0" * 100, "limit-depth"),
]


@pytest.mark.parametrize(("expr", "code"), [d[1:] for d in DEEP], ids=[d[0] for d in DEEP])
def test_very_deep_expression_is_a_clean_limit_error(policy_dir: PolicyDir, expr: str, code: str) -> None:
    """A 10,000-deep or 3,000-deep expression is a PolicyError, never a RecursionError."""
    d = only(load_error(policy_dir, program(expr)), code)
    assert d.span is not None and d.span.line == WHEN_LINE


def test_deep_unary_chain_names_the_limit(policy_dir: PolicyDir) -> None:
    """A 3,000-deep `- - - x` says which limit (50) it broke and how to fix it."""
    d = only(load_error(policy_dir, program("-" * 3000 + "standard > 0")), "limit-depth")
    assert "50" in d.message and d.hint is not None


def test_more_than_1000_syntax_nodes_are_rejected(policy_dir: PolicyDir) -> None:
    """An expression of more than 1,000 syntax nodes is a limit error."""
    d = only(load_error(policy_dir, program("1" + "<1" * 1100)), "limit-nodes")
    assert "1000" in d.message


def test_more_than_100_call_arguments_are_rejected(policy_dir: PolicyDir) -> None:
    """A call with 101 arguments is a limit error giving the count and the limit."""
    d = only(load_error(policy_dir, program("max(" + ", ".join(["standard"] * 101) + ") > 0")), "limit-args")
    assert "101" in d.message and "100" in d.message


# --- full-width, invisible and non-ASCII characters --------------------------------------------


@pytest.mark.parametrize(("expr", "char", "ascii_char"), [
    ("count（household.members) > 0", "（", "("),
    ("max(standard， 1) > 0", "，", ","),
    ("standard ＞ 0", "＞", ">"),
    ("count(household.members）> 0", "）", ")"),
], ids=["paren", "comma", "greater", "close-paren"])
def test_full_width_character_hint_names_the_ascii_one(policy_dir: PolicyDir, expr: str, char: str,
                                                       ascii_char: str) -> None:
    """A full-width `（` or `，` is an error at the character; the hint names the ASCII one to use."""
    text = program(expr)
    d = only(load_error(policy_dir, text), "fullwidth")
    assert pos(d) == at(text, char)
    assert f"U+{ord(char):04X}" in d.message
    assert d.hint == f"use ASCII '{ascii_char}'"


def test_curly_quotes_get_the_ascii_hint(policy_dir: PolicyDir) -> None:
    """A curly quote pasted from a word processor is an error with the ASCII quote as hint."""
    text = program("any(m.sex == “male” for m in household.members)")
    d = only(load_error(policy_dir, text), "fullwidth")
    assert pos(d) == at(text, "“")
    assert d.hint == "use ASCII '\"'"


def test_full_width_paren_rendered(policy_dir: PolicyDir, golden: Golden) -> None:
    """The rendered full-width error puts a double-width caret under the `（`."""
    err = load_error(policy_dir, program("count（household.members) > 0"))
    golden("diagnostics/fullwidth-paren.txt", err.render())


@pytest.mark.parametrize(("char", "expr"), [
    ("\u202e", f"{INCOME} < standard\u202e"),
    ("\u200b", f"{INCOME} <\u200b standard"),
    ("\u2066", f"\u2066{INCOME} < standard"),
    ("\ufeff", f"{INCOME} < \ufeffstandard"),
], ids=["RLO", "ZWSP", "LRI", "ZWNBSP"])
def test_invisible_character_is_shown_as_code_point(policy_dir: PolicyDir, char: str, expr: str) -> None:
    """Bidi controls and zero-width characters are errors shown as U+XXXX, never raw."""
    text = program(expr)
    err = load_error(policy_dir, text)
    d = only(err, "invisible-character")
    assert pos(d) == at(text, char)
    code = f"U+{ord(char):04X}"
    assert code in d.message
    assert char not in err.render() and code in err.render()


def test_bidi_override_rendered(policy_dir: PolicyDir, golden: Golden) -> None:
    """The rendered bidi error shows `U+202E` in the source line."""
    err = load_error(policy_dir, program(f"{INCOME} < standard\u202e"))
    golden("diagnostics/bidi-override.txt", err.render())


def test_caret_stays_under_the_token_after_an_invisible_character(policy_dir: PolicyDir) -> None:
    """A caret lines up with its token even when the line shows a U+XXXX before it."""
    text = program(f'"{INCOME} < standard and\tstadard > 0"')  # a real tab inside the quotes
    err = load_error(policy_dir, text)
    shown, carets = err.render().splitlines()[1:3]
    assert shown.index("stadard") == carets.index("^")


def test_chinese_identifier_is_rejected_readably(policy_dir: PolicyDir) -> None:
    """A Chinese name in an expression is an error showing the character and its code point."""
    text = program("家庭收入 < standard")
    d = only(load_error(policy_dir, text), "non-ascii")
    assert pos(d) == at(text, "家")
    assert "'家'" in d.message and "U+5BB6" in d.message
    assert d.hint is not None and "titles" in d.hint


def test_homoglyph_identifier_is_rejected(policy_dir: PolicyDir) -> None:
    """A Cyrillic `а` inside `standard` is an error at that letter, not an unknown name."""
    text = program(f"{INCOME} < st\u0430ndard")
    d = only(load_error(policy_dir, text), "non-ascii")
    assert pos(d) == at(text, "\u0430")
    assert "U+0430" in d.message


def test_full_width_letters_are_not_normalised_into_a_name(policy_dir: PolicyDir) -> None:
    """`ｅｖａｌ('1')`, which Python reads as `eval`, is rejected as non-ASCII."""
    text = program(quoted("ｅｖａｌ('1')"))
    d = only(load_error(policy_dir, text), "non-ascii")
    assert pos(d) == at(text, "ｅ")


# --- syntax errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(("expr", "marker", "word"), [
    (f"({INCOME} < standard", "(", "never closed"),
    (f"{INCOME} < standard)", ")", "unmatched"),
    (f"{INCOME} < < standard", "< standard", "invalid syntax"),
    (f"{INCOME} = standard", "= standard", "invalid syntax"),
    ("count(household.members > 0", "(", "never closed"),
], ids=["unclosed", "unmatched", "double-operator", "single-equals", "unclosed-call"])
def test_syntax_error_points_at_the_bad_character(policy_dir: PolicyDir, expr: str, marker: str,
                                                  word: str) -> None:
    """A syntax error is reported at the unclosed bracket or the unexpected token."""
    text = program(expr)
    d = only(load_error(policy_dir, text), "syntax")
    assert pos(d) == at(text, marker)
    assert word in d.message


def test_unclosed_bracket_rendered(policy_dir: PolicyDir, golden: Golden) -> None:
    """The rendered unclosed-bracket error has a caret under the `(` and says to close it."""
    err = load_error(policy_dir, program(f"count(household.members > 0 and {INCOME} < standard"))
    golden("diagnostics/syntax-unclosed.txt", err.render())


# --- positions map back to the YAML file whatever the scalar style ----------------------------


STYLES = [
    ("plain", f"{INCOME} < standard ** 2", WHEN_LINE),
    ("double-quoted", f'"{INCOME} < standard ** 2"', WHEN_LINE),
    ("single-quoted", f"'{INCOME} < standard ** 2'", WHEN_LINE),
    ("single-quoted-escape", "'household.members == ''x'' or standard ** 2 > 0'", WHEN_LINE),
    ("double-quoted-escapes", '"household.members == \\"x\\" or\\tstandard ** 2 > 0"', WHEN_LINE),
    ("unicode-escape", f'"{INCOME} \\u003c standard ** 2"', WHEN_LINE),
    ("plain-two-lines", f"{INCOME} < standard\n      and {INCOME} < standard ** 2", WHEN_LINE + 1),
    ("quoted-two-lines", f'"{INCOME} < standard\n      and {INCOME} < standard ** 2"', WHEN_LINE + 1),
    ("literal-block", f"|\n      ({INCOME} < standard\n        and {INCOME} < standard ** 2)", WHEN_LINE + 2),
    ("literal-block-one-line", f"|-\n      {INCOME} < standard ** 2", WHEN_LINE + 1),
    ("folded-block", f">-\n      {INCOME} < standard\n      and {INCOME} < standard ** 2", WHEN_LINE + 2),
    ("folded-block-brackets", f">-\n      ({INCOME} < standard\n         and {INCOME} < standard ** 2)",
     WHEN_LINE + 2),
]


@pytest.mark.parametrize(("when", "line"), [s[1:] for s in STYLES], ids=[s[0] for s in STYLES])
def test_column_points_into_the_yaml_file_for_every_scalar_style(policy_dir: PolicyDir, when: str,
                                                                 line: int) -> None:
    """The caret of an error inside an expression is under the token in the YAML file, whatever the quoting."""
    text = program(when)
    d = only(load_error(policy_dir, text), "forbidden")
    assert pos(d) == at(text, "standard ** 2", line)
    assert d.span is not None and d.span.end_col == d.span.col + len("standard ** 2")


@pytest.mark.parametrize("when", [
    f">-\n      {INCOME} < standard\n      and stadard < {INCOME}",
    f"|\n      ({INCOME} < standard\n        and stadard < {INCOME})",
    f'"{INCOME} < standard and \\\n      stadard < {INCOME}"',
], ids=["folded", "literal", "quoted-line-continuation"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_column_of_an_unknown_name_on_a_later_line(policy_dir: PolicyDir, when: str, newline: str) -> None:
    """An unknown name on the second or third line of a block or quoted scalar is found there, with LF or CRLF."""
    text = program(when)
    root = policy_dir({})
    (root / "dibao.yaml").write_bytes(text.replace("\n", newline).encode("utf-8"))
    with pytest.raises(PolicyError) as info:
        eligibility.load(root)
    d = only(info.value, "unknown-name")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "stadard" in s)
    assert pos(d) == at(text, "stadard", line)
    assert d.hint == "did you mean 'standard'?"


def test_multi_line_block_expressions_need_no_brackets(policy_dir: PolicyDir) -> None:
    """A `>-` block with a more-indented line and a `|` block broken after `and` both load and decide."""
    for when in (f">-\n      {INCOME} < standard\n        and {INCOME} < standard",
                 f"|\n      {INCOME} < standard and\n      standard > 0"):
        engine = accepted(policy_dir, when)
        assert engine.programs


def test_syntax_error_on_the_second_line_of_a_block_points_at_that_line(policy_dir: PolicyDir) -> None:
    """A syntax error on line 2 of a `|` block is reported on that line of the YAML file, at its token."""
    text = program(f"|\n      {INCOME} < standard and\n      standard > > 0")
    d = only(load_error(policy_dir, text), "syntax")
    assert d.span is not None and d.span.line == WHEN_LINE + 2
    assert pos(d)[1] > text.splitlines()[WHEN_LINE + 1].index("standard")


def test_unmatched_closing_bracket_is_a_syntax_error(policy_dir: PolicyDir) -> None:
    """A stray `)` is reported where it stands, also in a multi-line block."""
    text = program(f"|\n      {INCOME} < standard) or (standard > 0")
    d = only(load_error(policy_dir, text), "syntax")
    assert "unmatched" in d.message and pos(d) == at(text, ")", WHEN_LINE + 1)


def test_error_in_a_block_scalar_rendered(policy_dir: PolicyDir, golden: Golden) -> None:
    """The rendered error of a `|` block shows the block's own line with the caret under the token."""
    err = load_error(policy_dir, program(f"|\n      ({INCOME} < standard\n        and standard ** 2 > 0)"))
    golden("diagnostics/block-scalar-power.txt", err.render())


# --- brackets inside string literals; the forgot-a-comma error (issue 10, items 9 and 10) -----


def any_id(literal: str) -> str:
    """A `|` block comparing each member's id with a string literal written as Python source."""
    return f"|\n      any(m.id == {literal} for m in household.members)"


@pytest.mark.parametrize("literal", [
    '"a)"', "'a)'", '"(("', "']'", '"}{"', '"a\\")"', "'(\\''", '"""a)"""', "r'\\')'",
], ids=["double", "single", "two-open", "square", "curly", "escaped-double", "escaped-single",
        "triple", "raw-escaped"])
def test_brackets_inside_a_string_literal_are_text(policy_dir: PolicyDir, literal: str) -> None:
    """`m.id == "a)"` loads: a bracket inside a string literal, quoted or escaped in any way, is not a bracket."""
    assert accepted(policy_dir, any_id(literal)).programs == ("dibao",)


def test_brackets_inside_strings_of_a_nested_expression_are_text(policy_dir: PolicyDir) -> None:
    """Strings with brackets inside a generator inside a call inside a comparison load."""
    when = ('|\n      count(m for m in household.members if m.id == ")" or (m.id != "(("'
            ' and m.id != "]")) >= 0 and any(m.id == "a)(" for m in household.members)')
    assert accepted(policy_dir, when).programs == ("dibao",)


def test_a_real_unmatched_bracket_after_a_string_is_reported_where_it_stands(policy_dir: PolicyDir) -> None:
    """A stray `)` after `"a)"` is still an unmatched closing bracket, at the stray one, not inside the string."""
    text = program(any_id('"a)"') + ")")
    d = only(load_error(policy_dir, text), "syntax")
    assert "unmatched" in d.message
    assert pos(d) == (WHEN_LINE + 1, len(text.splitlines()[WHEN_LINE]))


def test_an_opening_bracket_inside_a_string_does_not_hide_a_missing_one(policy_dir: PolicyDir) -> None:
    """In `any("(" == m.id) for … members)` the last `)` is unmatched: the `(` in the string pairs with nothing."""
    text = program('|\n      any("(" == m.id) for m in household.members)')
    d = only(load_error(policy_dir, text), "syntax")
    assert "unmatched" in d.message
    assert pos(d) == (WHEN_LINE + 1, len(text.splitlines()[WHEN_LINE]))


def test_a_bracket_inside_a_comment_is_text(policy_dir: PolicyDir) -> None:
    """A `)` in a `# comment` line of a block expression is not counted as a bracket."""
    when = f"|\n      # the income test (see article 3))\n      {INCOME} < standard"
    assert accepted(policy_dir, when).programs == ("dibao",)


def test_brackets_of_an_f_string_still_count(policy_dir: PolicyDir) -> None:
    """An f-string is not skipped as text: `f"{x)}"` is rejected, never read as closing the wrapper."""
    text = program("|\n      " + 'f"{standard)}" == "x"')
    err = load_error(policy_dir, text)
    assert only(err).code in ("syntax", "forbidden")


def test_forgot_a_comma_is_placed_at_the_stray_token(policy_dir: PolicyDir) -> None:
    """Two values side by side across the lines of a block are reported at the second value, on its own line."""
    text = program(f"|\n      ({INCOME} < standard\n        standard > 0)")
    d = only(load_error(policy_dir, text), "syntax")
    assert "comma" in d.message
    assert pos(d) == at(text, "standard > 0", WHEN_LINE + 2)
    assert d.span is not None and d.span.end_col == d.span.col + len("standard")
    assert d.hint is not None and "side by side" in d.hint


def test_forgot_a_comma_without_brackets_is_placed_at_the_stray_token(policy_dir: PolicyDir) -> None:
    """The same mistake in a `|` block without brackets, the stray value a number, points at the number."""
    text = program(f"|\n      {INCOME} < standard and\n      standard > 0\n      100")
    d = only(load_error(policy_dir, text), "syntax")
    assert pos(d) == at(text, "100", WHEN_LINE + 3)


def test_forgot_a_comma_rendered(policy_dir: PolicyDir, golden: Golden) -> None:
    """The rendered forgot-a-comma error shows the line of the stray value with carets under it."""
    err = load_error(policy_dir, program(f"|\n      ({INCOME} < standard\n        standard > 0)"))
    golden("diagnostics/forgot-comma.txt", err.render())


def test_string_bracket_rendered(policy_dir: PolicyDir, golden: Golden) -> None:
    """The rendered unmatched-bracket error after a string holding brackets points at the real one."""
    err = load_error(policy_dir, program(any_id('"a)"') + ")"))
    golden("diagnostics/unmatched-after-string.txt", err.render())
