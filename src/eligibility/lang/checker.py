"""Names, types, dependencies and dates of a merged policy set; every problem is collected."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

import attrs

from eligibility.base.errors import Diagnostic
from eligibility.base.source import Span, readable
from eligibility.lang.infer import CheckedDef as CheckedDef  # re-exported: a CheckedSet is made of them
from eligibility.lang.infer import ExprTypes, show
from eligibility.lang.layers import OUTPUTS
from eligibility.lang.model import Definition, Facts, Program, Version
from eligibility.lang.parser import parse_expr


@attrs.define
class CheckedSet:
    """The checked policy set: programs and their definitions with types and trees."""

    facts: Facts
    programs: dict[str, Program]
    defs: dict[tuple[str, str], CheckedDef]
    order: list[tuple[str, str]]  # every definition, dependencies first


class Checker(ExprTypes):
    """Type-check every definition of every program, collecting diagnostics."""

    def __init__(self, facts: Facts, programs: dict[str, Program], diags: list[Diagnostic]) -> None:
        super().__init__(facts, programs, diags)
        self.state: dict[tuple[str, str], str] = {}
        self.stack: list[tuple[str, str]] = []
        self.order: list[tuple[str, str]] = []

    def run(self) -> CheckedSet:
        for prog in self.programs.values():
            self.check_sources(prog)
            for name in prog.parameters:
                self.check_parameter(prog, name)
            for d in self.all_defs(prog):
                self.defs[(prog.name, d.name)] = CheckedDef(prog.name, d, [
                    parse_expr(v.expr, self.diags) for v in d.versions])
                self.check_versions(d)
        for key in list(self.defs):
            self.def_type(key, self.defs[key].definition.span)
        return CheckedSet(self.facts, self.programs, self.defs, self.order)

    @staticmethod
    def all_defs(prog: Program) -> Iterator[Definition]:
        yield from prog.definitions.values()
        yield prog.eligible
        if prog.amount is not None:
            yield prog.amount
        if prog.tier is not None:
            yield prog.tier

    # --- sources, parameters, versions -----------------------------------------------------

    def check_sources(self, prog: Program) -> None:
        def cite(src: str | None, span: Span, what: str) -> None:
            if src is None:
                return
            if src not in prog.sources:
                guess = self.guess(src, list(prog.sources))
                self.error(span, "unknown-source", f"{what} cites unknown source '{readable(src, 40)}'",
                           f"did you mean '{guess}'?" if guess else "declare it under `sources:`")
        for p in prog.parameters.values():
            cite(p.source, p.source_span or p.span, f"parameter '{p.name}'")
            for v in p.values:
                cite(v.source, v.source_span or v.span, f"the {v.start} value of '{p.name}'")
            if p.source is None and any(v.source is None for v in p.values):
                self.diags.append(Diagnostic(p.span, "uncited", f"parameter '{p.name}' has a value without a source",
                                             "add `source:` to the parameter or the value", severity="warning"))
        for d in self.all_defs(prog):
            cite(d.source, d.source_span or d.span, f"'{d.name}'")
            for ver in d.versions:
                cite(ver.source, ver.source_span or ver.span, f"a version of '{d.name}'")
            if d.kind == "rule" and d.source is None and all(v.source is None for v in d.versions):
                self.diags.append(Diagnostic(d.span, "uncited", f"rule '{d.name}' cites no source",
                                             "add `source:` with the id of the document it encodes",
                                             severity="warning"))

    def check_parameter(self, prog: Program, name: str) -> None:
        p = prog.parameters[name]
        seen: dict[dt.date, Span] = {}
        for v in p.values:
            if v.start in seen:
                self.error(v.span, "duplicate-date", f"'{name}' has two values from {v.start}")
            seen[v.start] = v.span

    def check_versions(self, d: Definition) -> None:
        vs = sorted(d.versions, key=lambda v: v.start or dt.date.min)
        for a, b in itertools.pairwise(vs):
            a_end = a.until or dt.date.max
            if b.start is None or b.start <= a_end:
                self.error(b.span, "overlapping-versions",
                           f"versions of '{d.name}' overlap (one runs to {a.until or 'no end date'}, "
                           f"the next starts {b.start or 'with no start date'})",
                           "give the earlier version `until:` the day before the later one's `from:`")
            elif a.until is not None and b.start > a.until + dt.timedelta(days=1) and d.not_in_force == "undecided":
                self.error(b.span, "version-gap",
                           f"no version of '{d.name}' is in force from {a.until + dt.timedelta(days=1)} to "
                           f"{b.start - dt.timedelta(days=1)} (between the version at {a.span.path}:{a.span.line} "
                           "and this one): decisions on those dates could not be made",
                           "close the gap, or say what holds then on purpose: `not_in_force: passes` or `fails`")

    # --- definitions ----------------------------------------------------------------------

    def def_type(self, key: tuple[str, str], span: Span) -> str:
        cd = self.defs.get(key)
        if cd is None:
            return "?"
        st = self.state.get(key)
        if st == "done":
            return cd.type
        if st == "visiting":
            i = self.stack.index(key)
            cycle = [*self.stack[i:], key]
            cross = len({p for p, _ in cycle}) > 1
            path = " -> ".join(f"{p}.{n}" if cross else n for p, n in cycle)
            self.error(cd.definition.span, "cycle", f"dependency cycle: {path}",
                       "a value cannot depend on itself; break the cycle")
            cd.type = "?"
            return "?"
        self.state[key] = "visiting"
        self.stack.append(key)
        types = []
        scope = self.each_scope(cd.definition, self.programs[key[0]])
        for tree in cd.trees:
            if tree is not None:
                t0 = self.infer(tree, key, dict(scope))
                types.append("text" if t0 == "str" else t0)
        self.stack.pop()
        self.state[key] = "done"
        t = types[0] if types else "?"
        for other, tree in zip(types[1:], cd.trees[1:], strict=False):
            u = self.unify(t, other)
            if u is None and tree is not None and "?" not in (t, other):
                self.error(tree.span, "type", f"this version of '{key[1]}' is {show(other)}, the others are {show(t)}")
            t = u or t
        d = cd.definition
        outputs = OUTPUTS
        want = {"rule": "bool"}.get(d.kind) or outputs.get(d.name if d.kind == "output" else "")
        if want and t not in (want, "?"):
            tree = next((x for x in cd.trees if x is not None), None)
            what = f"rule '{d.name}'" if d.kind == "rule" else f"`{d.name}`"
            hint = "a rule is a condition: compare values with < <= == ..." if want == "bool" else (
                "the amount is money: multiply money by numbers")
            self.error(tree.span if tree else d.span, "type", f"{what} must be {want}, but is {show(t)}", hint)
            t = want  # reported once here; its users see the type it should have
        if d.rounding is not None and t not in ("money", "decimal", "?"):
            self.error(d.span, "type", f"'{d.name}' is {show(t)}; only money and decimals can be rounded")
        cd.type = t
        self.order.append(key)
        return t

    def each_scope(self, d: Definition, prog: Program) -> dict[str, str]:
        """Return the scope of a per-record definition: its record variable."""
        if d.each is None:
            return {}
        var, lst = d.each
        spec = self.facts.field(lst)
        if spec is None or spec.type != "list":
            choices = [f.name for f in self.facts.fields if f.type == "list"]
            guess = self.guess(lst, choices)
            self.error(d.span, "each", f"`each` names '{lst}', which is not a list of records in the facts",
                       f"did you mean '{guess}'?" if guess else "lists: " + ", ".join(choices))
            return {var: "?"}
        if var in self.names(prog):
            self.error(d.span, "shadowing", f"the record name '{var}' hides another name", "use e.g. member")
        clash = [n for n in (f.name for f in spec.fields) if n in prog.definitions
                 and prog.definitions[n].each is not None and prog.definitions[n].each[1] == lst]  # type: ignore[index]
        for n in clash:
            self.error(prog.definitions[n].span, "duplicate-name",
                       f"'{n}' is both a field of {lst} records and a per-record value")
        return {var: f"record:{lst}"}


def version_at(versions: tuple[Version, ...], on: dt.date) -> int | None:
    """Return the index of the version in force on a date, or None."""
    for i, v in enumerate(versions):
        if (v.start is None or v.start <= on) and (v.until is None or on <= v.until):
            return i
    return None
