"""Read a `where_to_apply:` file: which office may accept an application, by rules with citations.

Each rule names the programs it is about, a condition (`when:`, an expression like a rule's, per
record with `each:`) and the office it gives (`office:`, a text expression: a 6-digit division
code). The rules are checked and compiled as the rules and computed values of one program,
`where_to_apply`, that the set's own programs never see (see `where_program`), so they get the
same names, types, unknown facts and trace as any rule.
"""

from __future__ import annotations

import re

import attrs

from eligibility.base.errors import Diagnostic
from eligibility.base.source import Span, did_you_mean, readable
from eligibility.lang.checker import CheckedSet, Checker
from eligibility.lang.infer import show
from eligibility.lang.layers import _read_definition as read_definition
from eligibility.lang.loader import YMap, YNode, YScalar, YSeq
from eligibility.lang.model import Definition, Expr, Facts, Label, Program, Source, Version
from eligibility.lang.reader import Reader

#: The name of the program the rules are compiled into.
PROGRAM = "where_to_apply"
#: Kinds of office a rule may give.
OFFICE_KINDS = ("street_office", "rescue_station", "employment_service")
#: The suffix of the computed value holding a rule's office code.
OFFICE_SUFFIX = "_office"
CODE_RE = re.compile(r"[0-9]{6}")

_FILE_KEYS = ("where_to_apply", "jurisdiction", "title", "description", "names", "computed", "rules")
_RULE_KEYS = ("title", "programs", "each", "when", "office", "kind", "source", "article", "effective",
              "note", "description")


@attrs.frozen
class OfficeRule:
    """One rule of where to apply: for `programs`, when `rule` holds, the office `office` may accept."""

    name: str
    title: Label  # the reason, in both languages
    programs: tuple[str, ...]
    kind: str  # one of OFFICE_KINDS
    rule: Definition  # the condition, a rule (per record when `each:`)
    office: Definition  # the office's division code, a computed text value (same `each:`)
    span: Span
    programs_span: Span


@attrs.frozen
class WhereRules:
    """A `where_to_apply:` file as read."""

    jurisdiction: str  # the deciding district: `hukou_local` means a hukou registered here
    title: Label
    rules: tuple[OfficeRule, ...]
    #: Values the rules share (`computed:`), as in a program file.
    computed: tuple[Definition, ...]
    names: dict[str, Label]  # division code (6 digits; or 2 digits for a province) -> name
    file: str
    span: Span
    #: `True`, positioned at the file's first key: the where program's `eligible`.
    always: Expr


def read_where(r: Reader, root: YMap) -> WhereRules | None:
    """Read a `where_to_apply: 1` file, reporting every problem at its position."""
    r.mapping(root, "a where_to_apply file", _FILE_KEYS, ("where_to_apply", "jurisdiction", "title", "rules"))
    version = root.get("where_to_apply")
    if version is not None and r.text(version, "where_to_apply") != "1":
        r.error(version, "format-version", "where_to_apply: the format version must be 1")
    jn = root.get("jurisdiction")
    jur = r.text(jn, "jurisdiction") or ""
    if jn is not None and not CODE_RE.fullmatch(jur):
        r.error(jn, "jurisdiction", f"jurisdiction must be a 6-digit GB/T 2260 code, not {readable(jur, 20)!r}",
                'quote it: jurisdiction: "440114"')
    title = r.label(root.get("title"), "title") or Label(PROGRAM, PROGRAM)
    names: dict[str, Label] = {}
    nn = root.get("names")
    if nn is not None and (nm := r.mapping(nn, "names", None)) is not None:
        for key, spec in nm.items:
            if not re.fullmatch(r"[0-9]{2}|[0-9]{6}", key.value):
                r.error(key, "division-code", f"a name is given for a 6-digit division code or a 2-digit "
                        f"province code, not {readable(key.value, 20)!r}", 'quote it: "440114": {zh: ..., en: ...}')
                continue
            label = r.label(spec, f"the name of {key.value}")
            if label is not None:
                names[key.value] = label
    seen: dict[str, Span] = {}
    computed: list[Definition] = []
    cn = root.get("computed")
    if cn is not None and (cm := r.mapping(cn, "computed", None)) is not None:
        for key, spec in cm.items:
            name = r.name(key, "computed value")
            if name is None or (d := read_definition(r, name, "computed", key, spec)) is None:
                continue
            if name in seen:
                r.error(key, "duplicate-name", f"'{name}' is already defined on line {seen[name].line}")
                continue
            seen[name] = key.span
            computed.append(d)
    rules: list[OfficeRule] = []
    rn = root.get("rules")
    if rn is not None and (rm := r.mapping(rn, "rules", None)) is not None:
        for key, spec in rm.items:
            rule = _read_rule(r, key, spec)
            if rule is None:
                continue
            if rule.name in seen or rule.office.name in seen:
                first = seen.get(rule.name) or seen[rule.office.name]
                r.error(key, "duplicate-name", f"'{rule.name}' is already defined on line {first.line}")
                continue
            seen[rule.name] = key.span
            rules.append(rule)
    always = Expr("True", root.items[0][0], r.source)
    return WhereRules(jur, title, tuple(rules), tuple(computed), names, r.file, root.span, always)


def _read_rule(r: Reader, key: YScalar, spec: YNode) -> OfficeRule | None:
    name = r.name(key, "rule")
    m = r.mapping(spec, f"rule '{key.value}'", _RULE_KEYS, ("title", "programs", "when", "office", "kind"))
    if name is None or m is None:
        return None
    if name.endswith(OFFICE_SUFFIX):
        r.error(key, "invalid-name", f"a rule name may not end in '{OFFICE_SUFFIX}' (the rule's office is "
                f"named '{name}' + '{OFFICE_SUFFIX}')")
        return None
    title = r.label(m.get("title"), "title")
    programs = _programs(r, m.get("programs"))
    kind = r.text(m.get("kind"), "kind")
    if kind is not None and kind not in OFFICE_KINDS:
        guess = did_you_mean(kind, OFFICE_KINDS)
        r.error(m.get("kind") or m, "office-kind", f"unknown kind of office {readable(kind, 40)!r}",
                f"did you mean '{guess}'?" if guess else "kinds: " + ", ".join(OFFICE_KINDS))
        kind = None
    when = r.expr(m.get("when"), f"'{name}' when")
    office = r.expr(m.get("office"), f"'{name}' office")
    each = r.each(m.get("each"))
    start = until = None
    en = m.get("effective")
    if en is not None and (em := r.mapping(en, "effective", ("from", "until"))) is not None:
        start = r.date(em.get("from"), "effective.from")
        until = r.date(em.get("until"), "effective.until")
    source = r.text(m.get("source"), "source")
    article = r.text(m.get("article"), "article")
    sn = m.get("source")
    sspan = sn.span if sn is not None else None
    if title is None or programs is None or kind is None or when is None or office is None:
        return None
    # A rule not in force on the decision date gives no office: it fails, it is not undecided.
    rule = Definition(name, "rule", title, source, article, (Version(start, until, when, None, m.span),), None,
                      r.file, key.span, each, sspan, "fails" if en is not None else "undecided")
    # The office is cited through its rule (its source is checked, and shown, once).
    office_def = Definition(name + OFFICE_SUFFIX, "computed", title, None, None,
                            (Version(None, None, office, None, m.span),), None, r.file, key.span, each)
    pn = m.get("programs")
    return OfficeRule(name, title, programs, kind, rule, office_def, key.span, pn.span if pn else key.span)


def _programs(r: Reader, node: YNode | None) -> tuple[str, ...] | None:
    if node is None:
        return None
    if not isinstance(node, YSeq) or not node.items:
        r.error(node, "expected-list", "programs must be a list of program names, such as [dibao, tekun]")
        return None
    out = []
    for item in node.items:
        if isinstance(item, YScalar) and (n := r.name(item, "program")) is not None:
            out.append(n)
        elif not isinstance(item, YScalar):
            r.error(item, "expected-text", "a program name")
    return tuple(out) if out else None


def where_program(where: WhereRules, sources: dict[str, Source]) -> Program:
    """The rules as one program: a rule and an `<name>_office` computed value for each; `eligible` is true."""
    defs: dict[str, Definition] = {d.name: d for d in where.computed}
    for rule in where.rules:
        defs[rule.name] = rule.rule
        defs[rule.office.name] = rule.office
    true = Definition("eligible", "output", None, None, None, (Version(None, None, where.always, None, where.span),),
                      None, where.file, where.span)
    return Program(PROGRAM, where.title, where.jurisdiction, where.file, (where.file,), dict(sources), {}, defs,
                   true, None, where.span)


def check_where_programs(where: WhereRules, known: frozenset[str], diags: list[Diagnostic]) -> None:
    """Report each program a rule names that no layer of the set defines."""
    for rule in where.rules:
        for program in rule.programs:
            if program not in known:
                guess = did_you_mean(program, sorted(known))
                hint = f"did you mean '{guess}'?" if guess else "programs: " + ", ".join(sorted(known))
                diags.append(Diagnostic(rule.programs_span, "unknown-program",
                                        f"rule '{rule.name}' names unknown program {readable(program, 40)!r}", hint))


def check_where(program: Program, facts: Facts, diags: list[Diagnostic]) -> CheckedSet:
    """Check the where program like any other, and that every office is a text value."""
    checked = Checker(facts, {PROGRAM: program}, diags).run()
    for name, d in program.definitions.items():
        cd = checked.defs.get((PROGRAM, name))
        if name.endswith(OFFICE_SUFFIX) and cd is not None and cd.type not in ("text", "str", "?"):
            expr = d.versions[0].expr
            diags.append(Diagnostic(expr.span, "type", f"the office of '{name[:-len(OFFICE_SUFFIX)]}' must be a "
                                    f"division code (text), not {show(cd.type)}",
                                    "for example member.hukou_district or household.residence_district"))
    return checked
