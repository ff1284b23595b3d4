"""The static types of expressions: each node's type inferred, every type error collected.

`ExprTypes` is the half of the checker that walks expression trees (one `visit_<Node>` method a
node type); the checker (`checker.py`) is the other half, which checks programs, sources,
parameters and versions and types each definition, dependencies first, through `def_type`.
"""

from __future__ import annotations

import builtins
import datetime as dt

import attrs

from eligibility.base.errors import MAX_DIAGNOSTICS_PER_FILE, Diagnostic
from eligibility.base.i18n import N_
from eligibility.base.i18n import translate as _
from eligibility.base.source import Span, did_you_mean, readable
from eligibility.lang import nodes as nd
from eligibility.lang.layers import OUTPUTS
from eligibility.lang.model import Definition, Facts, FieldSpec, Program
from eligibility.lang.parser import FUNCTIONS

NUMERIC = ("integer", "decimal")
ORDERED = ("integer", "decimal", "money", "date")
FACT_TYPES = {"bool": "bool", "integer": "integer", "decimal": "decimal", "money": "money",
              "date": "date", "text": "text"}


@attrs.define
class CheckedDef:
    """A definition with its parsed versions, its type and what it depends on."""

    program: str
    definition: Definition
    trees: list[nd.Node | None]
    type: str = "?"
    deps: set[tuple[str, str]] = attrs.Factory(set)  # (program, definition name)
    params: set[str] = attrs.Factory(set)



#: How the plain types read in a message.
TYPE_WORDS = {"money": N_("money"), "decimal": N_("decimal"), "integer": N_("integer"), "bool": N_("bool"),
              "date": N_("date"), "text": N_("text"), "number": N_("number")}


def show(t: str) -> str:
    """Name a static type the way a policy officer would, in the current language."""
    if t == "str":
        return _("text (a quoted string)")
    if t == "tuple":
        return _("a tuple of literals")
    if t.startswith("enum:"):
        return _("enum {name}", name=t[5:].removeprefix("household."))
    if t.startswith("record:"):
        return _("a record of {name}", name=t[7:])
    if t.startswith("list:"):
        return _("the list {name}", name=t[5:])
    if t.startswith("program:"):
        return _("program {name}", name=t[8:])
    if t == "household":
        return _("the household")
    return _(TYPE_WORDS[t]) if t in TYPE_WORDS else t


def is_literal(node: nd.Node) -> bool:
    negative = isinstance(node, nd.Unary) and node.op == "-" and isinstance(node.operand, nd.Num)
    return isinstance(node, nd.Num) or negative


class ExprTypes(nd.NodeVisitor):
    """Infer the type of every expression node, recording what each definition uses."""

    def __init__(self, facts: Facts, programs: dict[str, Program], diags: list[Diagnostic]) -> None:
        self.facts = facts
        self.programs = programs
        self.diags = diags
        self.defs: dict[tuple[str, str], CheckedDef] = {}

    def def_type(self, key: tuple[str, str], span: Span) -> str:
        """Return the type of the definition `key`, named by an expression at `span`."""
        raise NotImplementedError  # the checker types definitions, dependencies first

    def guess(self, name: str, choices: list[str]) -> str | None:
        """A did-you-mean suggestion, while the diagnostics are few enough to be shown."""
        if len(self.diags) > MAX_DIAGNOSTICS_PER_FILE:  # only the first ones of a file are shown
            return None
        return did_you_mean(name, choices)

    def error(self, span: Span, code: str, msg: str, hint: str | None = None) -> None:
        self.diags.append(Diagnostic(span, code, msg, hint))

    @staticmethod
    def unify(a: str, b: str) -> str | None:
        if a == b:
            return a
        if {a, b} <= {"str", "text"}:
            return "text"
        if a in NUMERIC and b in NUMERIC:
            return "decimal"
        return None

    # --- expressions ------------------------------------------------------------------------

    def infer(self, node: nd.Node, key: tuple[str, str], scope: dict[str, str]) -> str:
        t = self._infer(node, key, scope)
        node.type = t
        return t

    def names(self, prog: Program) -> list[str]:
        return [*prog.parameters, *prog.definitions, "household", "decision_date", *self.programs,
                *sorted(FUNCTIONS)]

    def _infer(self, node: nd.Node, key: tuple[str, str], scope: dict[str, str]) -> str:
        result: str = self.visit(node, key, scope)
        return result

    def visit_Num(self, node: nd.Num, key: tuple[str, str], scope: dict[str, str]) -> str:
        return "integer" if node.is_int else "decimal"

    def visit_Const(self, node: nd.Const, key: tuple[str, str], scope: dict[str, str]) -> str:
        return "bool" if isinstance(node.value, bool) else "str"

    def visit_TupleLit(self, node: nd.TupleLit, key: tuple[str, str], scope: dict[str, str]) -> str:
        return "tuple"

    def visit_Name(self, node: nd.Name, key: tuple[str, str], scope: dict[str, str]) -> str:
        prog = self.programs[key[0]]
        cd = self.defs[key]
        n = node.id
        if n in scope:
            node.ref = ("var", n)
            return scope[n]
        if n in prog.parameters:
            node.ref = ("param", n)
            cd.params.add(n)
            return prog.parameters[n].type
        if n in prog.definitions and prog.definitions[n].each is not None:
            var, lst = prog.definitions[n].each  # type: ignore[misc]
            self.error(node.span, "per-record", _("'{n}' has a value for each of {lst}; read it from a record",
                                                  n=n, lst=lst),
                       _("e.g. {var}.{n}, or any({var}.{n} for {var} in household.{lst})",
                         var=var, n=n, lst=lst))
            return "?"
        if n in prog.definitions or (n in OUTPUTS and n != key[1] and getattr(prog, n) is not None):
            if prog.each is not None and n in OUTPUTS:
                self.error(node.span, "per-record", _("'{n}' of this program is decided per record", n=n))
                return "?"
            node.ref = ("def", n)
            cd.deps.add((prog.name, n))
            return self.def_type((prog.name, n), node.span)
        if n == "household":
            node.ref = ("household",)
            return "household"
        if n == "decision_date":
            node.ref = ("decision_date",)
            return "date"
        if n in self.programs:
            node.ref = ("program", n)
            return f"program:{n}"
        if n in prog.failed:
            return "?"  # its definition had an error, reported where it is
        if n in FUNCTIONS:
            self.error(node.span, "not-callable", _("'{n}' is a function; call it: {n}(...)", n=n))
            return "?"
        guess = self.guess(n, self.names(prog) + list(scope))
        if hasattr(builtins, n) or n.startswith("__"):
            msg = _("'{n}' is not part of the expression language", n=readable(n, 64))
        else:
            msg = _("unknown name '{n}'", n=readable(n, 64))
        self.error(node.span, "unknown-name", msg, (_("did you mean '{guess}'?", guess=guess) if guess else None))
        return "?"

    def visit_Unary(self, node: nd.Unary, key: tuple[str, str], scope: dict[str, str]) -> str:
        t = self.infer(node.operand, key, scope)
        if node.op == "not":
            self.expect_bool(node.operand, t, "`not`")
            return "bool"
        if t not in (*NUMERIC, "money", "?"):
            self.error(node.span, "type", _("cannot negate {t}", t=show(t)))
            return "?"
        return t

    def visit_BoolOp(self, node: nd.BoolOp, key: tuple[str, str], scope: dict[str, str]) -> str:
        for v in node.values:
            self.expect_bool(v, self.infer(v, key, scope), f"`{node.op}`")
        return "bool"

    def visit_IfExp(self, node: nd.IfExp, key: tuple[str, str], scope: dict[str, str]) -> str:
        self.expect_bool(node.test, self.infer(node.test, key, scope), "the condition of `if`")
        a, b = self.infer(node.body, key, scope), self.infer(node.orelse, key, scope)
        if "?" in (a, b):
            return "?"
        u = self.unify(a, b)
        if u is None and a == "money" and is_literal(node.orelse):
            u = "money"
        if u is None and b == "money" and is_literal(node.body):
            u = "money"
        if u is None:
            self.error(node.span, "type", _("the two branches differ: {a} and {b}", a=show(a), b=show(b)),
                       _("both branches of `a if c else b` must have one type"))
            return "?"
        return u

    def visit_Gen(self, node: nd.Gen, key: tuple[str, str], scope: dict[str, str]) -> str:
        self.error(node.span, "bare-generator",
                   _("a generator must be the argument of count, sum, any, all, min or max"))
        return "?"

    def expect_bool(self, node: nd.Node, t: str, where: str) -> None:
        if t not in ("bool", "?"):
            self.error(node.span, "type", _("{where} needs a condition (bool), but this is {t}",
                                            where=where, t=show(t)),
                       _("compare it with something, e.g. x > 0"))

    def field_type(self, f: FieldSpec, owner: str) -> str:
        if f.type == "enum":
            return f"enum:{owner}.{f.name}"
        if f.type == "list":
            return f"list:{f.name}"
        return FACT_TYPES[f.type]

    def enum_values(self, t: str) -> list[str]:
        owner, _sep, name = t[5:].rpartition(".")
        spec = self.facts.field(name) if owner == "household" else (
            self.facts.field(owner[len("household."):]) or self.facts.field(owner))
        if owner != "household" and spec is not None:
            spec = spec.field(name)
        return [v for v, _ in spec.values] if spec else []

    def visit_Attr(self, node: nd.Attr, key: tuple[str, str], scope: dict[str, str]) -> str:
        base = self.infer(node.obj, key, scope)
        a = node.attr
        if base == "household":
            f = self.facts.field(a)
            if f is None:
                guess = self.guess(a, [x.name for x in self.facts.fields])
                self.error(node.span, "unknown-field", _("the household has no field '{a}'", a=readable(a, 64)),
                           (_("did you mean '{guess}'?", guess=guess) if guess
                            else _("fields are declared in facts.yaml")))
                return "?"
            node.ref = ("list", a) if f.type == "list" else ("fact", a)
            return self.field_type(f, "household")
        if base.startswith("record:"):
            lst = base[7:]
            spec = self.facts.field(lst)
            f = spec.field(a) if spec else None
            var = node.obj.id if isinstance(node.obj, nd.Name) else "?"
            prog = self.programs[key[0]]
            target = prog.definitions.get(a)
            if f is None and target is not None and target.each is not None and target.each[1] == lst:
                node.ref = ("recdef", var, a, lst, key[0])
                self.defs[key].deps.add((key[0], a))
                return self.def_type((key[0], a), node.span)
            other_prog = self.programs.get(a)
            if f is None and other_prog is not None and other_prog.each is not None and other_prog.each[1] == lst:
                if a == key[0]:
                    self.error(node.span, "self-reference", _("write the value's name, not '{a}', inside {a}",
                                                              a=a))
                    return "?"
                node.ref = ("recprog", var, a, lst)
                return f"recprog:{a}:{lst}"
            if f is None or spec is None:
                choices = [x.name for x in spec.fields] if spec else []
                guess = self.guess(a, choices)
                self.error(node.span, "unknown-field", _("{lst} records have no field '{a}'",
                                                         lst=lst, a=readable(a, 64)),
                           (_("did you mean '{guess}'?", guess=guess) if guess else None))
                return "?"
            var = node.obj.id if isinstance(node.obj, nd.Name) else "?"
            node.ref = ("field", var, a, lst)
            return self.field_type(f, f"household.{lst}")
        if base.startswith("recprog:"):
            _kind, other, lst = base.split(":")
            p = self.programs[other]
            var = node.obj.ref[1] if isinstance(node.obj, nd.Attr) and node.obj.ref else "?"
            d = p.definitions.get(a) if a not in OUTPUTS else getattr(p, a)
            if d is None or d.each is None or d.each[1] != lst:
                self.error(node.span, "unknown-name", _("program '{other}' has no per-record '{a}'",
                                                        other=other, a=readable(a, 64)),
                           _("use eligible, amount, or a value declared with the same `each`"))
                return "?"
            node.ref = ("recdef", var, a, lst, other)
            self.defs[key].deps.add((other, a))
            return self.def_type((other, a), node.span)
        if base.startswith("program:"):
            other = base[8:]
            p = self.programs[other]
            if p.each is not None and a in OUTPUTS:
                var, lst = p.each
                self.error(node.span, "per-record", _("program '{other}' is decided for each of {lst}",
                                                      other=other, lst=lst),
                           _("e.g. any(m.{other}.eligible for m in household.{lst})", other=other, lst=lst))
                return "?"
            if other == key[0]:
                self.error(node.span, "self-reference", _("write '{a}', not '{other}.{a}', inside {other}",
                                                          a=a, other=other))
                return "?"
            if a in p.definitions or (a in OUTPUTS and getattr(p, a) is not None):
                node.ref = ("program", other, a)
                self.defs[key].deps.add((other, a))
                return self.def_type((other, a), node.span)
            guess = self.guess(a, [*OUTPUTS, *p.definitions])
            self.error(node.span, "unknown-name", _("program '{other}' has no '{a}'",
                                                    other=other, a=readable(a, 64)),
                       (_("did you mean '{guess}'?", guess=guess) if guess else None))
            return "?"
        if base != "?":
            self.error(node.span, "attribute", _("{base} values have no attributes", base=show(base)),
                       _("attributes are read from household, records and programs only"))
        return "?"

    def visit_BinOp(self, node: nd.BinOp, key: tuple[str, str], scope: dict[str, str]) -> str:
        a, b = self.infer(node.left, key, scope), self.infer(node.right, key, scope)
        if "?" in (a, b):
            return "?"
        op = node.op
        la, lb = is_literal(node.left), is_literal(node.right)
        if a in NUMERIC and b in NUMERIC:
            return "integer" if a == b == "integer" and op != "/" else "decimal"
        if op in "+-":
            if a == b == "money" or (a == "money" and lb and b in NUMERIC) or (b == "money" and la and a in NUMERIC):
                return "money"
        elif op == "*":
            if (a == "money" and b in NUMERIC) or (b == "money" and a in NUMERIC):
                return "money"
        elif op == "/":
            if a == "money" and b in NUMERIC:
                return "money"
            if a == b == "money":
                return "decimal"
        hint = None
        if a == b == "money" and op == "*":
            hint = _("money times money has no meaning; one side should be a number")
        elif "money" in (a, b) and op in "+-":
            hint = _("add money to money; a number can be added to money only as a literal")
        elif "bool" in (a, b):
            hint = _("booleans are not numbers; use `x if cond else y`")
        elif "date" in (a, b):
            hint = _("use days_between(a, b) or age(d) for date arithmetic")
        self.error(node.span, "type", _("cannot apply '{op}' to {a} and {b}", op=op, a=show(a), b=show(b)), hint)
        return "?"

    def visit_Compare(self, node: nd.Compare, key: tuple[str, str], scope: dict[str, str]) -> str:
        items = [node.left, *node.comparators]
        types = [self.infer(n, key, scope) for n in items]
        for i, op in enumerate(node.ops):
            a, b = types[i], types[i + 1]
            if "?" in (a, b):
                continue
            lhs, r = items[i], items[i + 1]
            ok = False
            if op in ("in", "not in"):
                strings = isinstance(r, nd.TupleLit) and all(isinstance(i, nd.Const) for i in r.items)
                ok = b == "tuple" and (((a == "text" or a.startswith("enum:")) and strings)
                                       or (a in NUMERIC and not strings))
                if ok and a.startswith("enum:") and isinstance(r, nd.TupleLit):
                    for c in r.items:
                        self.check_enum(c, a)
            elif (
                (a in NUMERIC and b in NUMERIC)
                or (a == b and a in ("money", "date"))
                or (a == "money" and b in NUMERIC and is_literal(r))
                or (b == "money" and a in NUMERIC and is_literal(lhs))
            ):
                ok = True
            elif op in ("==", "!="):
                if a == b and a in ("bool", "text"):
                    ok = True
                elif a.startswith("enum:") and b == "str":
                    ok = self.check_enum(r, a)
                elif b.startswith("enum:") and a == "str":
                    ok = self.check_enum(lhs, b)
                elif ("text" in (a, b) and "str" in (a, b)) or (a == b and a.startswith("enum:")):
                    ok = True
            if not ok:
                hint = None
                if "bool" in (a, b):
                    hint = _("booleans compare only with == and != to booleans")
                elif "money" in (a, b):
                    hint = _("compare money with money (a number only as a literal such as 0)")
                elif "str" in (a, b):
                    hint = _("strings name enum values; compare them with an enum field")
                self.error(lhs.span if a == "str" else r.span, "type", _("cannot compare {a} {op} {b}",
                                                                         a=show(a), op=op, b=show(b)), hint)
        return "bool"

    def check_enum(self, lit: nd.Node, t: str) -> bool:
        if not isinstance(lit, nd.Const):
            return False
        values = self.enum_values(t)
        if lit.value not in values:
            guess = self.guess(str(lit.value), values)
            self.error(lit.span, "enum-value", _("'{value}' is not a value of {t}",
                                                 value=readable(str(lit.value), 64), t=t[5:]),
                       (_("did you mean '{guess}'?", guess=guess) if guess else (_("values: ") + ", ".join(values))))
        return True

    def visit_Call(self, node: nd.Call, key: tuple[str, str], scope: dict[str, str]) -> str:
        f, args = node.func, node.args
        if f not in FUNCTIONS:
            prog = self.programs[key[0]]
            guess = self.guess(f, sorted(FUNCTIONS))
            if f in prog.definitions or f in prog.parameters:
                msg = _("'{f}' is a value, not a function", f=f)
            else:
                msg = _("unknown function '{f}'", f=readable(f, 64))
            self.error(node.span, "unknown-function", msg,
                       (_("did you mean '{guess}'?", guess=guess) if guess
                        else _("functions: {names}", names=", ".join(sorted(FUNCTIONS)))))
            for a in args:
                if not isinstance(a, nd.Gen):
                    self.infer(a, key, scope)
            return "?"

        def arity(n: int) -> bool:
            if len(args) != n:
                self.error(node.span, "arity", _("{f}() takes {n} argument{v}, got {n2}",
                                                 f=f, n=n, v='s' if n > 1 else '', n2=len(args)))
                return False
            return True

        gen = args[0] if len(args) == 1 and isinstance(args[0], nd.Gen) else None
        if f in ("count", "sum", "any", "all") or (f in ("min", "max") and gen is not None):
            if not arity(1):
                return "?"
            if gen is None:
                t = self.infer(args[0], key, scope)
                if f == "count" and (t.startswith("list:") or t == "?"):
                    return "integer"
                example = f"{f}({'m.x' if f != 'count' else 'm'} for m in household.members)"
                self.error(args[0].span, "type", _("{f}() takes a generator such as {example}",
                                                   f=f, example=example))
                return "?"
            elt = self.generator(gen, key, scope)
            if elt == "?":
                return "?" if f not in ("count", "any", "all") else ("integer" if f == "count" else "bool")
            if f == "count":
                return "integer"
            if f in ("any", "all"):
                self.expect_bool(gen.elt, elt, f"{f}()")
                return "bool"
            if f == "sum" and elt not in (*NUMERIC, "money"):
                self.error(gen.elt.span, "type", _("sum() adds numbers or money, not {elt}", elt=show(elt)))
                return "?"
            if f in ("min", "max") and elt not in ORDERED:
                self.error(gen.elt.span, "type", _("{f}() needs numbers, money or dates, not {elt}",
                                                   f=f, elt=show(elt)))
                return "?"
            return elt
        types = [self.infer(a, key, scope) for a in args]
        if "?" in types:
            return "?"
        if f in ("min", "max"):
            if len(args) < 2:
                self.error(node.span, "arity", _("{f}() takes two or more values, or one generator", f=f))
                return "?"
            t = types[0]
            for a, u in zip(args[1:], types[1:], strict=False):
                v = self.unify(t, u)
                if v is None and "money" in (t, u) and (is_literal(a) or all(is_literal(x) for x in args[:1])):
                    v = "money"
                if v is None or v not in ORDERED:
                    self.error(a.span, "type", _("{f}() of {t} and {u}", f=f, t=show(t), u=show(u)))
                    return "?"
                t = v
            return t
        if f == "abs":
            if arity(1) and types[0] in (*NUMERIC, "money"):
                return types[0]
            self.error(node.span, "type", _("abs() takes a number or money"))
            return "?"
        if f == "age":
            if arity(1) and types[0] == "date":
                return "integer"
            self.error(node.span, "type", _("age() takes a date, e.g. age(m.birth_date)"))
            return "?"
        if f in ("age_on", "days_between"):
            if arity(2) and types == ["date", "date"]:
                return "integer"
            self.error(node.span, "type", _("{f}() takes two dates", f=f))
            return "?"
        if f == "date":
            if not arity(3) or not all(isinstance(a, nd.Num) and a.is_int for a in args):
                self.error(node.span, "date-literal", _("date() takes three whole-number literals: date(2026, 1, 1)"))
                return "?"
            try:
                dt.date(*(int(a.value) for a in args if isinstance(a, nd.Num)))
            except ValueError:
                self.error(node.span, "invalid-date", _("{text} is not a calendar date", text=node.text))
                return "?"
            return "date"
        if f.startswith("round_"):
            if not arity(2):
                return "?"
            step = args[1]
            if not isinstance(step, nd.Num) or step.value <= 0:
                self.error(step.span, "round-step", _("{f}() needs a positive literal step such as 0.01 or 1",
                                                      f=f))
                return "?"
            if types[0] not in (*NUMERIC, "money"):
                self.error(args[0].span, "type", _("{f}() rounds numbers or money, not {types}",
                                                   f=f, types=show(types[0])))
                return "?"
            return "decimal" if types[0] == "integer" else types[0]
        return "?"

    def generator(self, gen: nd.Gen, key: tuple[str, str], scope: dict[str, str]) -> str:
        inner = dict(scope)
        prog = self.programs[key[0]]
        taken = set(self.names(prog)) | set(scope)
        for loop in gen.loops:
            t = self.infer(loop.iter, key, inner)
            if loop.var in taken:
                self.error(loop.var_span, "shadowing", _("loop variable '{var}' hides another name",
                                                         var=loop.var),
                           _("pick another name, e.g. m for members"))
            if not t.startswith("list:") and t != "?":
                self.error(loop.iter.span, "type", _("a generator iterates over a list of records, not {t}",
                                                     t=show(t)),
                           _("e.g. for m in household.members"))
            inner[loop.var] = "record:" + t[5:] if t.startswith("list:") else "?"
            taken.add(loop.var)
            for c in loop.conds:
                self.expect_bool(c, self.infer(c, key, inner), "a generator's `if`")
        return self.infer(gen.elt, key, inner)

