"""Read test files: YAML cases, each a household, a date and the outputs it expects."""

from __future__ import annotations

from eligibility.base.source import Span
from eligibility.lang.loader import YMap
from eligibility.lang.model import TestCase
from eligibility.lang.reader import Reader, to_plain

_CASE_KEYS = ("name", "on", "household", "complete", "expect", "expect_error", "description", "note")


def read_tests(r: Reader, root: YMap) -> list[TestCase]:
    out: list[TestCase] = []
    for item in r.entries(root, "tests", "a test file", "cases"):
        m = r.mapping(item, "a test case", _CASE_KEYS, ("name", "on", "household"))
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
        err = None
        xn = m.get("expect_error")
        if xn is not None and (xm := r.mapping(xn, "expect_error", ("kind", "path", "message"), ("kind",))):
            err = {k.value: str(to_plain(v)) for k, v in xm.items}
        if en is None and xn is None:
            r.error(item, "missing-key", "a test case needs `expect:` or `expect_error:`")
        if on is None or hn is None:
            continue
        complete = m.get("complete") is not None and r.boolean(m.get("complete"), "complete") is True
        out.append(TestCase(name, on, to_plain(hn), expect, err, r.file, item.span, spans, complete))
    return out
