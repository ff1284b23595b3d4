"""Sandbox escapes never compile, and policy text never reaches the generated Python except as literals."""

from __future__ import annotations

import ast
import io
import json
import tokenize
from collections.abc import Callable
from pathlib import Path

import pytest

import eligibility
from conftest import DIBAO, FACTS
from eligibility import PolicyError

PolicyDir = Callable[..., Path]

#: The line of WHEN, the expression under test, in the shared DIBAO program (tests/fixtures/demo).
WHEN_LINE = 16

#: Known escapes from Python expression sandboxes (simpleeval's deliberately missed features, Jinja's
#: sandbox CVEs, asteval reports), written as rule conditions.
PAYLOADS = [
    "__import__('os').system('touch PWNED')",
    "().__class__.__bases__[0].__subclasses__()",
    "().__class__.__mro__[1].__subclasses__()",
    "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0]('id')",
    "sum(x for x in ().__class__.__bases__)",
    "(1).__class__.__base__",
    "decision_date.__class__.__subclasses__()",
    "household.__class__.__init__.__globals__",
    "household.__dict__",
    "household._h",
    "household.members.__len__() > 0",
    "any(m.__class__ for m in household.members)",
    "income_test.__class__",
    "open('/etc/passwd').read()",
    "eval('1 + 1')",
    "exec('import os')",
    "compile('1', 'x', 'eval')",
    "getattr(household, '__class__')",
    "globals()",
    "locals()",
    "vars(household)",
    "type(household)",
    "help()",
    "breakpoint()",
    "input()",
    "__builtins__",
    "__builtins__['eval']('1')",
    "__loader__",
    "(lambda: __import__('os'))()",
    "min(household.members, key=lambda m: m.__class__)",
    "(x := __import__('os'))",
    "'{0.__class__}'.format(household)",
    "f'{household.__class__}'",
    "''.join(['a', 'b'])",
    "9 ** 9 ** 9 > 0",
    "count(household.members) * 10 ** 100 > 0",
    "'a' * 100000000",
    "max.__self__",
    "sum.__self__.__import__('os')",
    "decision_date.replace(year=1) > decision_date",
    "count(household.members) > 0 if True else __import__('os')",
    "(yield)",
    "await standard",
    # names of the generated module and its runtime helpers
    "pv",
    "h['assessed_monthly_income'] > standard",
    "d0(h, pv, c, on)",
    "K0 > 0",
    "D('1e999999') > 0",
    "NotInForce",
    "r(T, 0, standard)",
    # Python reads full-width letters as ASCII (NFKC): ｅｖａｌ is eval
    "ｅｖａｌ('1')",
    "__ｉmport__('os')",
    # a bidi override hiding a call
    "household.assessed_monthly_income < standard \u202e and __import__('os')",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sandbox_escape_is_a_policy_error_at_compile_time(policy_dir: PolicyDir, payload: str,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    """A known sandbox-escape payload is a PolicyError at the rule's line; nothing of it runs."""
    monkeypatch.chdir(tmp_path)
    root = policy_dir({"dibao.yaml": DIBAO.replace("WHEN", json.dumps(payload, ensure_ascii=False))})
    with pytest.raises(PolicyError) as info:
        eligibility.load(root)
    found = [d for d in info.value.diagnostics if d.severity == "error"]
    assert found, info.value.render()
    assert all(d.span is not None and (d.span.path, d.span.line) == ("dibao.yaml", WHEN_LINE)
               for d in found), info.value.render()
    assert not (tmp_path / "PWNED").exists()


def test_there_are_at_least_15_payloads() -> None:
    """The regression list keeps at least 15 escapes."""
    assert len(PAYLOADS) >= 15


# --- generated source holds no policy text -----------------------------------------------------

#: Facts with an enum whose value is hostile text (enum values are data, written with repr()).
TRICKY_FACTS = FACTS.replace("      sex:\n", """\
      relation:
        type: enum
        label: {zh: 关系, en: Relation}
        values:
          spouse: {zh: 配偶, en: spouse}
          "x'); exec('y": {zh: 怪, en: odd}
      sex:
""")

#: Titles, citations and notes full of quotes, newlines, code and Chinese; rules named like the
#: generated module's own identifiers (h, d0, on, pv).
TRICKY = r"""program: dibao
title: {zh: "低保标准\"\"\"；os.system('x')", en: "Dibao\n\"; import os\n#"}
jurisdiction: "000000"
sources:
  S1: {title: "\"; import os", document: "''' __import__('os') '''", confidence: C, note: "a\nb"}
parameters:
  on:
    type: money
    title: {zh: "保障标准\u202e", en: "title with\na newline and '''"}
    unit: "CNY'); exec('1"
    source: S1
    values: {2020-01-01: {value: 1000, note: "\"; raise SystemExit"}}
  pv: {type: integer, title: {zh: 人数上限, en: "pv\\\"; del pv"}, source: S1, values: {2020-01-01: 10}}
rules:
  h:
    title: {zh: 配偶关系, en: "\"; import os"}
    source: S1
    when: "any(m.relation == \"x'); exec('y\" for m in household.members)"
  d0:
    title: {zh: 家庭月收入低于标准, en: "Income\r\n'; __import__('os').system('x') #"}
    source: S1
    article: "第二条\"; import os"
    when: household.assessed_monthly_income < on and count(household.members) <= pv
eligible: d0 and not h
description: "\"\"\"; import os"
"""

TITLES = [
    "低保标准\"\"\"；os.system('x')", "Dibao\n\"; import os\n#", "\"; import os", "''' __import__('os') '''",
    "保障标准\u202e", "title with\na newline and '''", "CNY'); exec('1", "\"; raise SystemExit",
    "配偶关系", "Income\r\n'; __import__('os').system('x') #", "第二条\"; import os", "人数上限", "家庭月收入低于标准",
]
HOSTILE = ["import os", "__import__", "system(", "exec(", "raise SystemExit", "del pv", "\"\"\"", "'''",
           "低保", "标准", "配偶", "\u202e"]


def code_without_string_literals(source: str) -> str:
    """The generated source with every string literal token blanked out."""
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in (tokenize.STRING, tokenize.COMMENT):
            out.append(tok.string)
    return " ".join(out)


@pytest.fixture
def tricky_engine(policy_dir: PolicyDir) -> eligibility.Engine:
    """The engine of the program with hostile titles, citations and an enum value."""
    return eligibility.load(policy_dir({"dibao.yaml": TRICKY}, facts=TRICKY_FACTS))


def test_tricky_policy_decides_correctly(tricky_engine: eligibility.Engine) -> None:
    """Rules named h and d0 and parameters named on and pv work like any other names."""
    member = {"id": "a", "birth_date": "1980-01-01", "sex": "male", "relation": "spouse"}
    odd = dict(member, relation="x'); exec('y")
    decide = tricky_engine.decide
    assert decide({"assessed_monthly_income": 500, "members": [member]}, on="2024-01-01").programs[
        "dibao"].eligible is True
    assert decide({"assessed_monthly_income": 500, "members": [odd]}, on="2024-01-01").programs[
        "dibao"].eligible is False
    assert decide({"assessed_monthly_income": 5000, "members": [member]}, on="2024-01-01").programs[
        "dibao"].eligible is False


def test_titles_never_appear_in_generated_source(tricky_engine: eligibility.Engine) -> None:
    """No title, citation, unit, note or article text is in the generated Python, not even as a literal."""
    source = tricky_engine.compiled.generated.source
    for title in TITLES:
        assert title not in source
    for line in (t for title in TITLES for t in title.splitlines() if len(t) > 3):
        assert line not in source


def test_policy_text_appears_only_inside_repr_literals(tricky_engine: eligibility.Engine) -> None:
    """Hostile text reaches the generated code only as the repr() of the enum value it compares with."""
    source = tricky_engine.compiled.generated.source
    code = code_without_string_literals(source)
    for text in HOSTILE:
        assert text not in code
    assert repr("x'); exec('y") in source


def test_generated_source_has_no_imports_or_dunder_access(tricky_engine: eligibility.Engine) -> None:
    """The generated module imports nothing, reads no `_` attributes and names only its own runtime."""
    compiled = tricky_engine.compiled
    tree = ast.parse(compiled.generated.source)
    local: set[str] = set()
    loaded: set[str] = set()
    for node in ast.walk(tree):
        assert not isinstance(node, ast.Import | ast.ImportFrom | ast.Global | ast.Nonlocal)
        if isinstance(node, ast.Attribute):
            assert not node.attr.startswith("_")
        if isinstance(node, ast.arg):
            local.add(node.arg)
        if isinstance(node, ast.Name):
            (local if isinstance(node.ctx, ast.Store) else loaded).add(node.id)
    assert not [n for n in loaded if n.startswith("__")]
    assert loaded <= local | set(compiled.namespace), sorted(loaded - local - set(compiled.namespace))


def test_generated_module_runs_without_builtins(tricky_engine: eligibility.Engine) -> None:
    """The generated functions see an empty `__builtins__`."""
    assert tricky_engine.compiled.namespace["__builtins__"] == {}
