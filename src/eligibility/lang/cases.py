"""Read test files: YAML cases, each a household, a date and the outputs it expects; check the names
they expect against the programs of the set."""

from __future__ import annotations

import re
from collections.abc import Iterable

from eligibility.base.errors import Diagnostic
from eligibility.base.i18n import translate as _
from eligibility.base.source import Span, did_you_mean, readable
from eligibility.lang.loader import YMap, YNode, YScalar, YSeq
from eligibility.lang.model import Program, TestCase
from eligibility.lang.reader import Reader, to_plain

#: An amount as a test expects it: yuan with at most two decimals (fen), as the engine decides it.
_AMOUNT = re.compile(r"^-?[0-9]+(\.[0-9]{1,2})?$")
_OUTPUTS = ("eligible", "amount", "tier")

_CASE_KEYS = ("name", "on", "household", "complete", "where_to_apply", "expect", "expect_error", "description",
              "note")
#: `expect:` keys `where_to_apply.<program>` check where to apply for a program (`Engine.where_to_apply`).
WHERE_PREFIX = "where_to_apply."


def read_tests(r: Reader, root: YMap) -> list[TestCase]:
    out: list[TestCase] = []
    for item in r.entries(root, "tests", _("a test file"), _("test cases")):
        m = r.mapping(item, _("a test case"), _CASE_KEYS, ("name", "on", "household"))
        if m is None:
            continue
        name = r.text(m.get("name"), "name") or "<unnamed>"
        on = r.date(m.get("on"), "on")
        hn = m.get("household")
        expect: dict[str, object] = {}
        spans: dict[str, Span] = {}
        en = m.get("expect")
        if en is not None and (em := r.mapping(en, "expect", tuple(k.value for k, _ in en.items)
                                               if isinstance(en, YMap) else ())) is not None:
            for k, v in em.items:
                expect[k.value] = to_plain(v)
                spans[k.value] = k.span
                _check_amounts(r, k, v)
        err = None
        xn = m.get("expect_error")
        if xn is not None and (xm := r.mapping(xn, "expect_error", ("kind", "path", "message"), ("kind",))):
            err = {k.value: str(to_plain(v)) for k, v in xm.items}
        if en is None and xn is None:
            r.error(item, "missing-key", _("a test case needs `expect:` or `expect_error:`"))
        if on is None or hn is None:
            continue
        complete = m.get("complete") is not None and r.boolean(m.get("complete"), "complete") is True
        where_only = m.get("where_to_apply") is not None and r.boolean(m.get("where_to_apply"),
                                                                       "where_to_apply") is True
        for k, v in en.items if isinstance(en, YMap) else ():
            if k.value.startswith(WHERE_PREFIX):
                _check_where(r, k, v)
            elif where_only:
                r.error(k, "where-case", f"a `where_to_apply: true` case expects only where_to_apply.<program> "
                        f"keys, not {readable(k.value, 60)!r}", "move it to a case of its own")
        out.append(TestCase(name, on, to_plain(hn), expect, err, r.file, item.span, spans, complete, where_only))
    return out


_WHERE_KEYS = ("offices", "status", "unknown")
_WHERE_STATUS = ("determined", "undetermined", "no_office")


def _check_where(r: Reader, key: YScalar, value: YNode) -> None:
    """`where_to_apply.P: [offices]` or `{offices: [...], status: ..., unknown: [...]}`."""
    if isinstance(value, YMap):
        r.mapping(value, f"'{readable(key.value, 60)}'", _WHERE_KEYS)
        sn = value.get("status")
        if sn is not None and r.text(sn, "status") not in _WHERE_STATUS:
            r.error(sn, "where-status", f"status must be one of {', '.join(_WHERE_STATUS)}")
    elif not isinstance(value, YSeq):
        r.error(value, "expected-list", f"'{readable(key.value, 60)}' expects a list of offices such as "
                "[\"440114\", \"rescue_station:440114\"], or {offices, status, unknown}")


def _check_amounts(r: Reader, key: YScalar, value: YNode) -> None:
    """An expected amount (`P.amount: X`, or `amount:` in `P: {...}`) is yuan with at most two decimals."""
    nodes: list[YNode] = []
    if key.value.endswith(".amount"):
        nodes.append(value)
    elif isinstance(value, YMap) and "." not in key.value:
        nodes.extend(v for k, v in value.items if k.value == "amount")
    for node in nodes:
        if not isinstance(node, YScalar) or node.is_null:
            continue
        text = node.value.strip()
        if _AMOUNT.match(text):
            continue
        if re.match(r"^-?[0-9]+\.[0-9]{3,}$", text):
            r.error(node, "amount-format",
                    _("expected amount {text} has more than two decimals; amounts are yuan to the fen",
                      text=readable(text, 40)),
                    _('write "{text}" if that is what you mean', text=text[:text.index('.') + 3]))
        else:
            r.error(node, "amount-format", _('expected amount {text!r} is not an amount such as "1234.50"',
                                             text=readable(text, 40)),
                    _("write plain digits with at most two decimals, in quotes"))


def check_expectations(cases: Iterable[TestCase], programs: dict[str, Program], all_programs: Iterable[str],
                       diags: list[Diagnostic]) -> None:
    """Report each `expect:` key naming a program, rule or value the set does not have, with a suggestion.

    `programs` are the programs selected for the jurisdiction; a key naming a program of the set
    that is not selected (`all_programs`) is left to the run, which reports it for that case.
    """
    known = sorted(set(all_programs) | set(programs))
    for case in cases:
        for key, span in case.expect_spans.items():
            if key.startswith(WHERE_PREFIX):
                key = key[len(WHERE_PREFIX):]
                if key not in known:
                    guess = did_you_mean(key, known)
                    diags.append(Diagnostic(span, "unknown-program",
                                            _("expect: unknown program '{program}' in where_to_apply",
                                              program=readable(key, 64)),
                                            _("did you mean '{guess}'?", guess=guess) if guess
                                            else _("programs: {names}", names=", ".join(known))))
                continue
            program, _sep, name = key.partition(".")
            if program.endswith("]") and "[" in program:
                program = program[:program.index("[")]
            if program not in known:
                guess = did_you_mean(program, known)
                diags.append(Diagnostic(span, "unknown-program",
                                        _("expect: unknown program '{program}' in '{key}'",
                                          program=readable(program, 64), key=readable(key, 80)),
                                        (_("did you mean '{guess}'?", guess=guess) if guess
                                         else _("programs: {names}", names=", ".join(known)))))
                continue
            p = programs.get(program)
            if p is None or not name or "[" in key:
                continue
            names = [*p.definitions, "eligible", *(["amount"] if p.amount is not None else []),
                     *(["tier"] if p.tier is not None else [])]
            if name not in names:
                guess = did_you_mean(name, names)
                diags.append(Diagnostic(span, "unknown-name",
                                        _("expect: program '{program}' has no rule or value '{name}'",
                                          program=program, name=readable(name, 64)),
                                        (_("did you mean '{program}.{guess}'?", program=program, guess=guess)
                                         if guess else
                                         _("expect rules, computed values and the outputs eligible, amount, tier"))))
