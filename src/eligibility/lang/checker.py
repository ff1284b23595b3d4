"""Names, types, dependencies and dates of a merged policy set; every problem is collected."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

import attrs

from eligibility.base.errors import Diagnostic
from eligibility.base.i18n import translate as _
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
                self.error(span, "unknown-source", _("{what} cites unknown source '{src}'",
                                                     what=what, src=readable(src, 40)),
                           (_("did you mean '{guess}'?", guess=guess) if guess else _("declare it under `sources:`")))
        for p in prog.parameters.values():
            cite(p.source, p.source_span or p.span, f"parameter '{p.name}'")
            for v in p.values:
                cite(v.source, v.source_span or v.span, f"the {v.start} value of '{p.name}'")
            if p.source is None and any(v.source is None for v in p.values):
                self.diags.append(Diagnostic(p.span, "uncited", _("parameter '{name}' has a value without a source",
                                                                  name=p.name),
                                             _("add `source:` to the parameter or the value"), severity="warning"))
        for d in self.all_defs(prog):
            cite(d.source, d.source_span or d.span, f"'{d.name}'")
            for ver in d.versions:
                cite(ver.source, ver.source_span or ver.span, f"a version of '{d.name}'")
            if d.kind == "rule" and d.source is None and all(v.source is None for v in d.versions):
                self.diags.append(Diagnostic(d.span, "uncited", _("rule '{name}' cites no source", name=d.name),
                                             _("add `source:` with the id of the document it encodes"),
                                             severity="warning"))

    def check_parameter(self, prog: Program, name: str) -> None:
        p = prog.parameters[name]
        seen: dict[dt.date, Span] = {}
        for v in p.values:
            if v.start in seen:
                self.error(v.span, "duplicate-date", _("'{name}' has two values from {start}",
                                                       name=name, start=v.start))
            seen[v.start] = v.span

    def check_versions(self, d: Definition) -> None:
        vs = sorted(d.versions, key=lambda v: v.start or dt.date.min)
        for a, b in itertools.pairwise(vs):
            a_end = a.until or dt.date.max
            if b.start is None or b.start <= a_end:
                self.error(b.span, "overlapping-versions",
                           _("versions of '{name}' overlap (one runs to {v}, the next starts {v2})",
                             name=d.name, v=a.until or 'no end date', v2=b.start or 'with no start date'),
                           _("give the earlier version `until:` the day before the later one's `from:`"))
            elif a.until is not None and b.start > a.until + dt.timedelta(days=1) and d.not_in_force == "undecided":
                self.error(b.span, "version-gap",
                           _("no version of '{name}' is in force from {start} to {end} (between the version at "
                             "{path}:{line} and this one): decisions on those dates could not be made",
                             name=d.name, start=a.until + dt.timedelta(days=1), end=b.start - dt.timedelta(days=1),
                             path=a.span.path, line=a.span.line),
                           _("close the gap, or say what holds then on purpose: `not_in_force: passes` or `fails`"))

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
            self.error(cd.definition.span, "cycle", _("dependency cycle: {path}", path=path),
                       _("a value cannot depend on itself; break the cycle"))
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
                self.error(tree.span, "type", _("this version of '{key}' is {other}, the others are {t}",
                                                key=key[1], other=show(other), t=show(t)))
            t = u or t
        d = cd.definition
        outputs = OUTPUTS
        want = {"rule": "bool"}.get(d.kind) or outputs.get(d.name if d.kind == "output" else "")
        if want and t not in (want, "?"):
            tree = next((x for x in cd.trees if x is not None), None)
            what = _("rule '{name}'", name=d.name) if d.kind == "rule" else f"`{d.name}`"
            hint = (_("a rule is a condition: compare values with < <= == ...") if want == "bool"
                    else _("the amount is money: multiply money by numbers"))
            self.error(tree.span if tree else d.span, "type", _("{what} must be {want}, but is {t}",
                                                                what=what, want=show(want), t=show(t)), hint)
            t = want  # reported once here; its users see the type it should have
        if d.rounding is not None and t not in ("money", "decimal", "?"):
            self.error(d.span, "type", _("'{name}' is {t}; only money and decimals can be rounded",
                                         name=d.name, t=show(t)))
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
            self.error(d.span, "each", _("`each` names '{lst}', which is not a list of records in the facts",
                                         lst=lst),
                       (_("did you mean '{guess}'?", guess=guess) if guess else (_("lists: ") + ", ".join(choices))))
            return {var: "?"}
        if var in self.names(prog):
            self.error(d.span, "shadowing", _("the record name '{var}' hides another name", var=var),
                       _("use e.g. member"))
        clash = [n for n in (f.name for f in spec.fields) if n in prog.definitions
                 and prog.definitions[n].each is not None and prog.definitions[n].each[1] == lst]  # type: ignore[index]
        for n in clash:
            self.error(prog.definitions[n].span, "duplicate-name",
                       _("'{n}' is both a field of {lst} records and a per-record value", n=n, lst=lst))
        return {var: f"record:{lst}"}


def version_at(versions: tuple[Version, ...], on: dt.date) -> int | None:
    """Return the index of the version in force on a date, or None."""
    for i, v in enumerate(versions):
        if (v.start is None or v.start <= on) and (v.until is None or on <= v.until):
            return i
    return None
