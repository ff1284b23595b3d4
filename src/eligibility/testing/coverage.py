"""Rule coverage: which rules the YAML test cases make decisive, when passing and when failing.

The `where_to_apply:` rules are measured the same way over the cases that expect offices
(`where_to_apply.<program>`), and reported apart: `--fail-under` is about the programs' rules.

A rule is *decisive* in a case when the decision needed it and giving it the opposite value
makes the case fail: some expectation no longer holds. The case then pins the rule's value
down. It is *pass-decisive* when the value so replaced was `true`, *fail-decisive* when it was
`false`. A per-record rule is replaced for one record at a time. A rule is covered when the
suite has at least one pass-decisive and one fail-decisive case (docs/how-to/coverage-and-mutation.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from eligibility.base.i18n import translate as _
from eligibility.engine.runtime import Engine
from eligibility.lang.cases import WHERE_PREFIX
from eligibility.lang.model import Definition, TestCase
from eligibility.lang.where import PROGRAM as WHERE_PROGRAM
from eligibility.testing.cases import run_case
from eligibility.testing.variants import (
    Observation,
    Variants,
    observe,
    steps,
    where_engine,
    where_namespace,
    where_rules,
)


@attrs.frozen
class RuleCoverage:
    """What the test cases did with one rule."""

    program: str
    name: str
    at: str
    per_record: bool
    sources: tuple[str, ...]
    article: str | None
    #: Cases whose decision needed the rule (in force), and in how many it passed or failed.
    cases: tuple[str, ...]
    passed: int
    failed: int
    #: Cases in which the rule was decisive with the value true, and with the value false.
    pass_decisive: tuple[str, ...]
    fail_decisive: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.program}.{self.name}" + ("[each]" if self.per_record else "")

    @property
    def both_ways(self) -> bool:
        return bool(self.pass_decisive and self.fail_decisive)

    def to_json(self) -> dict[str, Any]:
        return {"program": self.program, "name": self.name, "at": self.at, "per_record": self.per_record,
                "sources": list(self.sources), "article": self.article, "cases": len(self.cases),
                "passed": self.passed, "failed": self.failed,
                "pass_decisive": list(self.pass_decisive), "fail_decisive": list(self.fail_decisive),
                "decisive_both_ways": self.both_ways}


@attrs.frozen
class SourceCoverage:
    """The rules citing one source article, and how many of them are decisive both ways."""

    source: str
    article: str | None
    rules: tuple[str, ...]
    both_ways: int

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "article": self.article, "rules": list(self.rules),
                "decisive_both_ways": self.both_ways}


@attrs.frozen
class CoverageReport:
    """Rule coverage of a policy set by its test cases."""

    rules: tuple[RuleCoverage, ...]
    sources: tuple[SourceCoverage, ...]
    cases: int
    left_out: tuple[str, ...]  # cases that fail on the policies as they are, so were not used
    #: The `where_to_apply:` rules (program `where_to_apply`), measured over the cases expecting offices.
    where: tuple[RuleCoverage, ...] = ()

    @property
    def where_both_ways(self) -> int:
        return sum(1 for r in self.where if r.both_ways)

    @property
    def both_ways(self) -> int:
        return sum(1 for r in self.rules if r.both_ways)

    @property
    def percent(self) -> float:
        """Rules decisive both ways as a percentage of all rules (100 when there are none)."""
        return 100.0 * self.both_ways / len(self.rules) if self.rules else 100.0

    @property
    def unexercised(self) -> tuple[RuleCoverage, ...]:
        return tuple(r for r in self.rules if not r.cases)

    def to_json(self) -> dict[str, Any]:
        return {"rules": [r.to_json() for r in self.rules], "sources": [s.to_json() for s in self.sources],
                "cases": self.cases, "left_out": list(self.left_out), "total": len(self.rules),
                "decisive_both_ways": self.both_ways, "percent": round(self.percent, 1),
                "unexercised": [r.label for r in self.unexercised],
                "where_to_apply": {"rules": [r.to_json() for r in self.where], "total": len(self.where),
                                   "decisive_both_ways": self.where_both_ways}}

    def render(self) -> str:
        rule, cols = _("rule"), [_("pass-decisive"), _("fail-decisive"), _("cases")]
        cw = [max(13, _width(c)) for c in cols[:2]] + [max(5, _width(cols[2]))]
        width = max([_width(rule), *(len(r.label) for r in self.rules)])
        lines = [_("rule coverage over {n} case(s)", n=self.cases)]
        if self.left_out:
            lines.append(_("left out (they fail on the policies as they are): {cases}",
                           cases=", ".join(self.left_out)))
        lines.append("")
        heads = [" " * (w - _width(c)) + c for c, w in zip(cols, cw, strict=True)]
        lines.append("  ".join([_pad(rule, width), *heads]))
        for r in self.rules:
            mark = "" if r.both_ways else ("  " + (_("<- never needed") if not r.cases else _("<- not both ways")))
            lines.append(f"{r.label:<{width}}  {len(r.pass_decisive):>{cw[0]}}  {len(r.fail_decisive):>{cw[1]}}  "
                         f"{len(r.cases):>{cw[2]}}{mark}")
        if self.unexercised:
            lines.append("")
            lines.append(_("no case exercises: {rules}", rules=", ".join(r.label for r in self.unexercised)))
        if self.sources:
            source, rules, both = _("source"), _("rules"), _("decisive both ways")
            sw = max(_width(source), *(_width(_cited(s)) for s in self.sources))
            rw, bw = max(5, _width(rules)), max(18, _width(both))
            lines.append("")
            lines.append(f"{_pad(source, sw)}  {' ' * (rw - _width(rules))}{rules}  {' ' * (bw - _width(both))}{both}")
            for s in self.sources:
                lines.append(f"{_pad(_cited(s), sw)}  {len(s.rules):>{rw}}  {s.both_ways:>{bw}}")
        if self.where:
            where = _("where-to-apply rule")
            ww = max([_width(where), *(len(r.label) for r in self.where)])
            lines.append("")
            lines.append("  ".join([_pad(where, ww), *heads]))
            for r in self.where:
                mark = "" if r.both_ways else ("  " + (_("<- never needed") if not r.cases else _("<- not both ways")))
                lines.append(f"{r.label:<{ww}}  {len(r.pass_decisive):>{cw[0]}}  {len(r.fail_decisive):>{cw[1]}}  "
                             f"{len(r.cases):>{cw[2]}}{mark}")
            lines.append(_("where-to-apply rules decisive both ways: {both}/{total} (not counted below)",
                           both=self.where_both_ways, total=len(self.where)))
        lines.append("")
        lines.append(_("rules decisive both ways: {both}/{total} ({percent:.1f}%)", both=self.both_ways,
                       total=len(self.rules), percent=self.percent))
        return "\n".join(lines) + "\n"


def _cited(s: SourceCoverage) -> str:
    return s.source + (f" {s.article}" if s.article else "")


def _width(text: str) -> int:
    """Columns the text takes in a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


class _Flip:
    """The rule (and record) whose value is replaced by its opposite in the flipping engine."""

    def __init__(self) -> None:
        self.target: tuple[int, int | None] | None = None


def _flipping(variants: Variants, flip: _Flip, rules: dict[int, Definition]) -> Engine:
    """Return an engine in which the rule named by flip.target evaluates to the opposite value."""
    ns = variants.namespace()
    for k, d in rules.items():
        ns[f"d{k}"] = _flipped(ns[f"d{k}"], k, d, flip)
    return variants.engine(namespace=ns)


def _flipped(original: Callable[..., Any], k: int, d: Definition, flip: _Flip) -> Callable[..., Any]:
    if d.each is None:
        def household_rule(h: Any, pv: Any, c: list[Any], on: Any) -> Any:
            v = original(h, pv, c, on)
            if flip.target == (k, None):
                v = c[k] = not v
            return v
        return household_rule
    lst = d.each[1]

    def record_rule(h: Any, pv: Any, c: list[Any], on: Any, x: Any) -> Any:
        v = original(h, pv, c, on, x)
        if flip.target is not None and flip.target[0] == k:
            j = flip.target[1]
            if j is not None and j < len(h[lst]) and h[lst][j] is x:
                v = not v
        return v
    return record_rule


def measure(engine: Engine, cases: Sequence[TestCase] | None = None) -> CoverageReport:
    """Measure the rule coverage of an engine's policy set by its test cases (or those given).

    Args:
        engine: the policy set.
        cases: the test cases to run; the policy set's own by default.

    Returns:
        A CoverageReport with every rule of every program, in program and trace order.
    """
    cases = list(engine.model.tests if cases is None else cases)
    observations = observe(engine, cases)
    gen = engine.compiled.generated
    defs: dict[tuple[str, str], Definition] = {}
    for pname in sorted(engine.model.programs):
        prog = engine.model.programs[pname]
        for d in prog.definitions.values():
            if d.kind == "rule":
                defs[(pname, d.name)] = d
    # (rule, record index or None) -> [(observation, value)], from the traces
    instances: dict[tuple[tuple[str, str], int | None], list[tuple[Observation, bool]]] = {}
    needed: dict[tuple[str, str], list[str]] = {key: [] for key in defs}
    for ob in observations:
        if ob.trace is None:
            continue
        for program, step in steps(ob.trace):
            key = (program, step["name"])
            if key not in defs or not step["needed"]:
                continue
            if step["outcome"] in ("passed", "failed"):
                needed[key].append(ob.case.name)
                instances.setdefault((key, None), []).append((ob, step["outcome"] == "passed"))
            elif step["outcome"] == "per_record":
                needed[key].append(ob.case.name)
                for item in step["value"] or ():
                    index = re.search(r"\[(\d+)\]$", item["path"])
                    if index is not None and item["outcome"] in ("passed", "failed"):
                        instances.setdefault((key, int(index.group(1))), []).append((ob, item["outcome"] == "passed"))
    flip = _Flip()
    variants = Variants(engine)
    flipping = _flipping(variants, flip, {gen.def_index[key]: d for key, d in defs.items()})
    decisive: dict[tuple[str, str], tuple[set[str], set[str]]] = {key: (set(), set()) for key in defs}
    tallies: dict[tuple[str, str], list[int]] = {key: [0, 0] for key in defs}
    for (key, j), seen in instances.items():
        for ob, value in seen:
            tallies[key][0 if value else 1] += 1
            flip.target = (gen.def_index[key], j)
            try:
                noticed = not run_case(flipping, ob.case, quick=True).passed
            finally:
                flip.target = None
            if noticed:
                decisive[key][0 if value else 1].add(ob.case.name)
    order = [ob.case.name for ob in observations]
    rules = []
    for key, d in defs.items():
        cited = [d.source] + [v.source for v in d.versions]
        sources = tuple(dict.fromkeys(s for s in cited if s))
        pas, fail = decisive[key]
        rules.append(RuleCoverage(key[0], d.name, str(d.span), d.each is not None, sources, d.article,
                                  tuple(dict.fromkeys(needed[key])), tallies[key][0], tallies[key][1],
                                  tuple(n for n in order if n in pas), tuple(n for n in order if n in fail)))
    return CoverageReport(tuple(rules), _by_source(rules), sum(1 for ob in observations if ob.passed),
                          tuple(ob.case.name for ob in observations if not ob.passed),
                          _where_coverage(engine, observations))


def _where_coverage(engine: Engine, observations: list[Observation]) -> tuple[RuleCoverage, ...]:
    """Each where_to_apply rule over the passing cases that expect offices: replaced by its opposite value,
    for one record at a time, in an engine whose where rules differ in that alone."""
    where = where_rules(engine)
    rules = engine.model.where_rules
    if where is None or rules is None:
        return ()
    cases = [ob.case for ob in observations
             if ob.passed and ob.case.expect_error is None and any(k.startswith(WHERE_PREFIX) for k in ob.case.expect)]
    index = where.generated.def_index
    by_k = {index[(WHERE_PROGRAM, r.name)]: r for r in rules.rules}
    state = _WhereFlip()
    ns = where_namespace(where)
    for k, rule in by_k.items():  # the where rules run traced (three-valued): their t-functions
        ns[f"t{k}"] = _where_flipped(ns[f"t{k}"], k, rule.rule.each is not None, state)
    flipping = attrs.evolve(where, namespace=ns)
    seen: dict[tuple[int, int | None], list[tuple[TestCase, bool]]] = {}
    needed: dict[int, list[str]] = {k: [] for k in by_k}
    decisive: dict[int, tuple[set[str], set[str]]] = {k: (set(), set()) for k in by_k}
    tallies: dict[int, list[int]] = {k: [0, 0] for k in by_k}
    with where_engine(engine, flipping) as variant:
        for case in cases:
            state.seen = set()
            run_case(variant, case, quick=True)
            for k, j, value in sorted(state.seen, key=lambda t: (t[0], -1 if t[1] is None else t[1], t[2])):
                seen.setdefault((k, j), []).append((case, value))
                if case.name not in needed[k]:
                    needed[k].append(case.name)
            state.seen = None
        for (k, j), instances in seen.items():
            for case, value in instances:
                tallies[k][0 if value else 1] += 1
                state.target = (k, j)
                try:
                    noticed = not run_case(variant, case, quick=True).passed
                finally:
                    state.target = None
                if noticed:
                    decisive[k][0 if value else 1].add(case.name)
    order = [c.name for c in cases]
    out = []
    for k, rule in by_k.items():
        d = rule.rule
        pas, fail = decisive[k]
        out.append(RuleCoverage(WHERE_PROGRAM, rule.name, str(rule.span), d.each is not None,
                                tuple(dict.fromkeys(s for s in [d.source] + [v.source for v in d.versions] if s)),
                                d.article, tuple(needed[k]), tallies[k][0], tallies[k][1],
                                tuple(n for n in order if n in pas), tuple(n for n in order if n in fail)))
    return tuple(out)


class _WhereFlip:
    """Which where rule (and record) to replace by its opposite value; or, with `seen`, record the values."""

    def __init__(self) -> None:
        self.target: tuple[int, int | None] | None = None
        self.seen: set[tuple[int, int | None, bool]] | None = None


def _where_flipped(original: Callable[..., Any], k: int, per_record: bool, state: _WhereFlip) -> Callable[..., Any]:
    if not per_record:
        def household_rule(h: Any, pv: Any, c: list[Any], on: Any, t: Any) -> Any:
            v = original(h, pv, c, on, t)
            if v is True or v is False:  # an unknown value stays unknown
                if state.target == (k, None):
                    v = c[k] = not v
                elif state.seen is not None:
                    state.seen.add((k, None, v))
            return v
        return household_rule

    def record_rule(h: Any, pv: Any, c: list[Any], on: Any, t: Any, x: Any, i: int) -> Any:
        v = original(h, pv, c, on, t, x, i)
        if v is True or v is False:
            if state.target == (k, i):
                v = not v
            elif state.seen is not None:
                state.seen.add((k, i, v))
        return v
    return record_rule


def _by_source(rules: list[RuleCoverage]) -> tuple[SourceCoverage, ...]:
    groups: dict[tuple[str, str | None], list[RuleCoverage]] = {}
    for r in rules:
        for s in r.sources:
            groups.setdefault((s, r.article), []).append(r)
    return tuple(SourceCoverage(s, a, tuple(r.label for r in rs), sum(1 for r in rs if r.both_ways))
                 for (s, a), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")))
