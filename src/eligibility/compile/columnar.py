"""Checked model -> Python source over numpy columns: the columnar backend's code generator.

The row generator (codegen.py) stays the reference; this one emits, for each definition, a function
that computes it for a whole batch of households at once (`eligibility.engine.columnar` runs it and
re-decides with the row engine every household it marks). Values in generated code:

- numbers are exact rationals `(n, d, x)`: `n` an int64 array (or a Python int constant), `d` the
  denominator, a Python int known when generating (money 100, integers 1, a literal 0.15 100) or,
  after a division, an int64 array (> 0); `x` None, or a bool array of the rows whose value the row
  engine's 34-digit Decimal arithmetic may not hold exactly (a quotient that does not terminate);
- bools are bool arrays, dates int `yyyymmdd` (ordered as dates; whole years are differences // 10000,
  exactly as the row engine's age() including 29 February), enums and text int codes (interned);
- a value lives on an axis: `c` (a constant), `h` (households) or a list field (`members`): one
  entry a record of every household, with `C.seg[list]` the household of each and `C.off[list]`
  the int64 offsets (n + 1).

A household is marked (C.bad, then decided by the row engine) when any operation on it may fail or
differ: a division by zero, an empty min/max, a date after the date it is measured on, a parameter
with no value on the date, a definition not in force, a negative amount, a product or sum that could
leave int64, and a comparison or rounding of an inexact value within EPS of its boundary. Marks are
conservative (an operand the row engine would not evaluate can mark), never the other way round.

What is not supported makes the definition, and every program that needs it, go to the row engine:
see `Unsupported` and `ColumnarModule.unsupported`.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import attrs
import numpy as np

from eligibility.lang import nodes as nd
from eligibility.lang.checker import CheckedDef, CheckedSet

#: Bound on |value| for int64 work: sums and products of magnitudes above it mark the household.
LIMIT = float(2 ** 62)
#: How close an inexact value may come to a comparison's other side or a rounding boundary (in the
#: value's own unit) before the household goes to the row engine. Every intermediate is an int64
#: rational (|value| < 2^63, checked), and the row engine rounds each Decimal operation to 34
#: significant digits (relative error <= 5e-34); over the few hundred operations of a decision the
#: absolute difference between its Decimal and our exact rational stays below
#: 300 * 5e-34 * 2^63 * (largest divisor denominator, <= 1e6 here) < 1e-8: EPS leaves a margin.
EPS = 1e-6


class Unsupported(Exception):
    """A construct the columnar generator does not translate: the definition goes to the row engine."""

    def __init__(self, what: str, node: nd.Node | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.node = node


@attrs.frozen
class ColumnarModule:
    """The generated source and what the runtime needs to feed it."""

    source: str
    def_index: dict[tuple[str, str], int]
    #: Program -> (eligible def index, amount def index or None, tier def index or None, list of `each:` or None)
    programs: dict[str, tuple[int, int | None, int | None, str | None]]
    #: Program -> the reason it is decided by the row engine (naming the construct and file:line).
    unsupported: dict[str, str]
    #: Household fields read: field -> type; list fields read: list -> {field: type}.
    facts: dict[str, str]
    lists: dict[str, dict[str, str]]
    #: Denominator of each decimal fact (money 100); a value needing more places marks the household.
    scales: dict[tuple[str | None, str], int]
    #: Parameters read: index -> (program, name, type, denominator).
    params: dict[int, tuple[str, str, str, int]]
    strings: tuple[str, ...]  # string constants, interned first
    #: Pairs of lists whose records a generator takes together (each member with each obligor).
    pairs: tuple[tuple[str, str], ...] = ()
    #: Each definition's own reads: fields (list None for a household field) and definitions it refers to.
    reads: dict[int, frozenset[tuple[str | None, str]]] = attrs.Factory(dict)
    refers: dict[int, frozenset[int]] = attrs.Factory(dict)

    def fields_read(self, programs: Any) -> frozenset[tuple[str | None, str]]:
        """The fields the code of these programs reads ((None, field) or (list, field)), through every reference."""
        todo = [i for p in programs if p in self.programs for i in self.programs[p][:3] if i is not None]
        seen: set[int] = set()
        out: set[tuple[str | None, str]] = set()
        while todo:
            i = todo.pop()
            if i in seen:
                continue
            seen.add(i)
            out |= self.reads.get(i, frozenset())
            todo.extend(self.refers.get(i, ()))
        return frozenset(out)


def _den_of(value: Decimal) -> int:
    exp = value.as_tuple().exponent
    return 10 ** max(0, -exp) if isinstance(exp, int) else 1


def _ratio(value: Decimal | int) -> tuple[int, int]:
    if isinstance(value, int):
        return value, 1
    d = _den_of(value)
    return int(value * d), d


class _Gen(nd.NodeVisitor):
    partial = False

    def __init__(self, cs: CheckedSet, param_index: dict[tuple[str, str], int]) -> None:
        self.cs = cs
        self.def_index = {k: i for i, k in enumerate(sorted(cs.defs))}
        self.param_index = param_index
        self.facts: dict[str, str] = {}
        self.lists: dict[str, dict[str, str]] = {}
        self.scales: dict[tuple[str | None, str], int] = {}
        self.params: dict[int, tuple[str, str, str, int]] = {}
        self.strings: dict[str, int] = {}
        self.def_axis: dict[int, str] = {}
        self.def_den: dict[int, int | None] = {}  # static denominator of a numeric definition (None: per row)
        self.failed: dict[tuple[str, str], str] = {}
        self.pair: str | None = None  # the axis of the pairs of records of the generator being generated
        self.pairs: set[tuple[str, str]] = set()
        self.current = -1  # the definition being generated
        self.reads: dict[int, set[tuple[str | None, str]]] = {}
        self.refers: dict[int, set[int]] = {}

    # --- helpers of generation ---------------------------------------------------------------

    def string(self, s: str) -> str:
        if s not in self.strings:
            self.strings[s] = len(self.strings)
        return str(self.strings[s])

    def where(self, node: nd.Node | None, cd: CheckedDef) -> str:
        d = cd.definition
        if node is not None:
            return f"{node.span.path}:{node.span.line}"
        return f"{d.file}:{d.span.line}"

    def run(self) -> ColumnarModule:
        out = ["# generated by eligibility.compile.columnar: do not edit"]
        bodies: dict[int, list[str]] = {}
        for key in self.cs.order:  # dependencies first: a reference knows its target's axis and denominator
            i = self.def_index[key]
            cd = self.cs.defs[key]
            if any(dep in self.failed for dep in cd.deps):
                dep = next(dep for dep in cd.deps if dep in self.failed)
                self.failed[key] = self.failed[dep]
                continue
            try:
                self.current = i
                bodies[i] = self.function(i, cd)
            except Unsupported as e:
                self.failed[key] = f"{e.what} ({self.where(e.node, cd)}, {key[0]}.{key[1]})"
        for i in sorted(bodies):
            out.extend(bodies[i])
        programs: dict[str, tuple[int, int | None, int | None, str | None]] = {}
        unsupported: dict[str, str] = {}
        for pname, prog in sorted(self.cs.programs.items()):
            outs = [(pname, "eligible")]
            if prog.amount is not None:
                outs.append((pname, "amount"))
            if prog.tier is not None:
                outs.append((pname, "tier"))
            bad = [self.failed[k] for k in outs if k in self.failed]
            if bad:
                unsupported[pname] = bad[0]
                continue
            programs[pname] = (self.def_index[(pname, "eligible")],
                               self.def_index[(pname, "amount")] if prog.amount is not None else None,
                               self.def_index[(pname, "tier")] if prog.tier is not None else None,
                               prog.each[1] if prog.each is not None else None)
        strings = tuple(sorted(self.strings, key=self.strings.__getitem__))
        return ColumnarModule("\n".join(out) + "\n", self.def_index, programs, unsupported, self.facts,
                              self.lists, self.scales, self.params, strings, tuple(sorted(self.pairs)),
                              {i: frozenset(r) for i, r in self.reads.items()},
                              {i: frozenset(r) for i, r in self.refers.items()})

    def function(self, i: int, cd: CheckedDef) -> list[str]:
        d = cd.definition
        loops: tuple[tuple[str, str], ...] = ()
        if d.each is not None:
            loops = ((d.each[0], d.each[1]),)
        axis = d.each[1] if d.each is not None else "c"
        out = [f"def d{i}(C):", "    on = C.on", "    M = None"]
        versions = d.versions
        dated = len(versions) > 1 or versions[0].start is not None or versions[0].until is not None
        branches: list[tuple[str, str, str]] = []
        for v, tree in zip(versions, cd.trees, strict=True):
            if tree is None:
                raise Unsupported("a version with no expression", None)
            src, ax = self.expr(tree, cd, loops, "M")
            conds = []
            if v.start is not None:
                conds.append(f"{_ymd(v.start)} <= on")
            if v.until is not None:
                conds.append(f"on <= {_ymd(v.until)}")
            branches.append((" and ".join(conds) or "True", src, ax))
            axis = self.deeper(axis, ax, tree)
        ind = "    "
        for vi, (cond, src, ax) in enumerate(branches):
            src = self.lift(src, ax, axis)
            if dated:
                out.append(f"    {'if' if vi == 0 else 'elif'} {cond}:")
                ind = "        "
            out.append(f"{ind}v = {src}")
        if dated:
            out.append("    else:")
            if d.not_in_force == "passes":
                out.append("        v = True")
            elif d.not_in_force == "fails":
                out.append("        v = False")
            else:
                out.append("        v = NOTINFORCE(C)")
        kind = cd.type
        if kind in ("money", "decimal", "integer"):
            den = self.num_den_of(cd, loops)
            self.def_den[i] = den
        if d.rounding is not None:
            sn, sd = _ratio(d.rounding.step)
            out.append(f"    v = ROUND(C, v, {sn}, {sd}, {d.rounding.mode!r}, None, {axis!r})")
            self.def_den[i] = sd
        elif d.name == "amount" and d.kind == "output":
            out.append(f"    v = ROUND(C, v, 1, 100, 'half_up', None, {axis!r})")
            self.def_den[i] = 100
        if axis == "c" and d.each is None:
            axis = "h"
        out.append(f"    return FULL(C, v, {axis!r})")
        self.def_axis[i] = axis
        return out

    def num_den_of(self, cd: CheckedDef, loops: tuple[tuple[str, str], ...]) -> int | None:
        dens = [self.den(t, cd, loops) for t in cd.trees if t is not None]
        return _lcm(dens)

    # --- static denominators ------------------------------------------------------------------

    def den(self, node: nd.Node, cd: CheckedDef, loops: tuple[tuple[str, str], ...]) -> int | None:
        """The static denominator of a numeric node (None: it varies by row)."""
        if isinstance(node, nd.Num):
            return 1 if node.is_int else _den_of(node.value)
        if isinstance(node, nd.Name):
            if node.ref[0] == "param":
                return self.param_den(cd.program, node.id)
            if node.ref[0] == "def":
                return self.def_den.get(self.def_index[(cd.program, node.id)], None)
            return 1
        if isinstance(node, nd.Attr):
            kind = node.ref[0]
            if kind == "fact":
                return self.fact_den(None, node.ref[1], node)
            if kind == "field":
                lst = next(lst for var, lst in reversed(loops) if var == node.ref[1])
                return self.fact_den(lst, node.ref[2], node)
            if kind == "program":
                return self.def_den.get(self.def_index[(node.ref[1], node.ref[2])], None)
            if kind == "recdef":
                return self.def_den.get(self.def_index[(node.ref[4], node.ref[2])], None)
            return 1
        if isinstance(node, nd.BinOp):
            a, b = self.den(node.left, cd, loops), self.den(node.right, cd, loops)
            if node.op == "/" or a is None or b is None:
                return None
            return a * b if node.op == "*" else int(np.lcm(a, b))
        if isinstance(node, nd.Unary):
            return self.den(node.operand, cd, loops)
        if isinstance(node, nd.IfExp):
            a, b = self.den(node.body, cd, loops), self.den(node.orelse, cd, loops)
            return None if a is None or b is None else int(np.lcm(a, b))
        if isinstance(node, nd.Call):
            if node.func.startswith("round_"):
                step = node.args[1].value if len(node.args) > 1 and isinstance(node.args[1], nd.Num) else Decimal(1)
                return _ratio(step)[1]
            if node.func in ("count", "age", "age_on", "days_between"):
                return 1
            if len(node.args) == 1 and isinstance(node.args[0], nd.Gen):
                gen = node.args[0]
                inner = loops + tuple((lp.var, _list_of(lp.iter)) for lp in gen.loops)
                return self.den(gen.elt, cd, inner)
            return _lcm([self.den(a, cd, loops) for a in node.args])
        return 1

    def param_den(self, program: str, name: str) -> int:
        p = self.cs.programs[program].parameters[name]
        den = 1
        for v in p.values:
            if isinstance(v.value, Decimal):
                den = max(den, _den_of(v.value))
        return den

    def fact_den(self, lst: str | None, name: str, node: nd.Node) -> int:
        ftype = self.fact_type(lst, name, node)
        den = 100 if ftype == "money" else 10 ** 6 if ftype == "decimal" else 1
        if ftype in ("money", "decimal"):
            self.scales[(lst, name)] = den
        return den

    def fact_type(self, lst: str | None, name: str, node: nd.Node) -> str:
        facts = self.cs.facts
        spec = facts.field(lst) if lst is not None else None
        f = spec.field(name) if spec is not None else facts.field(name) if lst is None else None
        if f is None:
            raise Unsupported(f"the field {name}", node)
        if f.type == "list":
            raise Unsupported(f"a list field used as a value ({name})", node)
        self.reads.setdefault(self.current, set()).add((lst, name))
        if lst is None:
            self.facts[name] = f.type
        else:
            self.lists.setdefault(lst, {})[name] = f.type
        return f.type

    # --- expressions ----------------------------------------------------------------------------

    def expr(self, node: nd.Node, cd: CheckedDef, loops: tuple[tuple[str, str], ...], mask: str) -> tuple[str, str]:
        """Return (source, axis) of a node evaluated under the mask variable `mask`."""
        result: tuple[str, str] = self.visit(node, cd, loops, mask)
        return result

    def lift(self, src: str, frm: str, to: str) -> str:
        if frm == to or frm == "c":
            return src
        return f"LIFT(C, {src}, {frm!r}, {to!r})"

    def visit_Num(self, node: nd.Num, cd: CheckedDef, loops: Any, mask: str) -> tuple[str, str]:
        n, d = _ratio(int(node.value) if node.is_int else node.value)
        return f"({n}, {d}, None)", "c"

    def visit_Const(self, node: nd.Const, cd: CheckedDef, loops: Any, mask: str) -> tuple[str, str]:
        if isinstance(node.value, bool):
            return repr(node.value), "c"
        return self.string(node.value), "c"

    def visit_TupleLit(self, node: nd.TupleLit, cd: CheckedDef, loops: Any, mask: str) -> tuple[str, str]:
        items = []
        for it in node.items:
            if isinstance(it, nd.Const) and isinstance(it.value, str):
                items.append(self.string(it.value))
            elif isinstance(it, nd.Num) and it.is_int:
                items.append(str(int(it.value)))
            else:
                raise Unsupported("a tuple of other than names and whole numbers", node)
        return f"np.array([{', '.join(items)}], dtype=np.int64)", "c"

    def visit_Name(self, node: nd.Name, cd: CheckedDef, loops: Any, mask: str) -> tuple[str, str]:
        kind = node.ref[0]
        if kind == "var":
            lst = next(lst for var, lst in reversed(loops) if var == node.id)
            return "None", lst  # a record itself: only counted
        if kind == "param":
            i = self.param_index[(cd.program, node.id)]
            p = self.cs.programs[cd.program].parameters[node.id]
            if p.type not in ("money", "decimal", "integer", "bool", "date", "enum", "text"):
                raise Unsupported(f"a parameter of type {p.type}", node)
            self.params[i] = (cd.program, node.id, p.type, self.param_den(cd.program, node.id))
            return f"PARAM(C, {i}, M, {self.mask_axis(loops)!r})", "c"
        if kind == "def":
            return self.ref_def(cd.program, node.id, node, self.mask_axis(loops))
        if kind == "decision_date":
            return "on", "c"
        raise Unsupported(f"the name {node.id}", node)

    def ref_def(self, program: str, name: str, node: nd.Node, maxis: str) -> tuple[str, str]:
        k = self.def_index[(program, name)]
        if (program, name) in self.failed:
            raise Unsupported(self.failed[(program, name)], node)
        self.refers.setdefault(self.current, set()).add(k)
        return f"R(C, {k}, d{k}, M, {maxis!r})", self.def_axis[k]

    def visit_Attr(self, node: nd.Attr, cd: CheckedDef, loops: Any, mask: str) -> tuple[str, str]:
        kind = node.ref[0]
        if kind == "fact":
            ftype = self.fact_type(None, node.ref[1], node)
            if ftype in ("money", "decimal"):
                self.fact_den(None, node.ref[1], node)
            return f"C.H[{node.ref[1]!r}]", "h"
        if kind == "field":
            lst = next(lst for var, lst in reversed(loops) if var == node.ref[1])
            ftype = self.fact_type(lst, node.ref[2], node)
            if ftype in ("money", "decimal"):
                self.fact_den(lst, node.ref[2], node)
            return f"C.F[{lst!r}][{node.ref[2]!r}]", lst
        maxis = self.mask_axis(loops)
        if kind == "program":
            src, ax = self.ref_def(node.ref[1], node.ref[2], node, maxis)
            if node.ref[2] == "amount":  # the decided amount: read only where eligible
                e, eax = self.ref_def(node.ref[1], "eligible", node, maxis)
                ax = self.deeper(ax, eax, node)
                amount_ax = self.def_axis[self.def_index[(node.ref[1], "amount")]]
                return (f"DECIDED(C, M, {maxis!r}, {ax!r}, {self.lift(e, eax, ax)}, "
                        f"lambda M: {self.lift(src, amount_ax, ax)})"), ax
            return src, ax
        if kind == "recdef":
            lst = next(lst for var, lst in reversed(loops) if var == node.ref[1])
            src, ax = self.ref_def(node.ref[4], node.ref[2], node, maxis)
            if ax != lst:
                raise Unsupported("a per-record value read from a record of another list", node)
            target = self.cs.programs[node.ref[4]]
            if node.ref[2] == "amount" and target.amount is not None and target.amount.each is not None:
                e, _ = self.ref_def(node.ref[4], "eligible", node, maxis)
                return f"DECIDED(C, M, {maxis!r}, {ax!r}, {e}, lambda M: {src})", ax
            return src, ax
        raise Unsupported(f"the attribute {node.text}", node)

    def visit_BinOp(self, node: nd.BinOp, cd: CheckedDef, loops: Any, mask: str) -> tuple[str, str]:
        a, ax = self.expr(node.left, cd, loops, mask)
        b, bx = self.expr(node.right, cd, loops, mask)
        axis = self.deeper(ax, bx, node)
        mk = self.mask_for(loops, axis)
        fn = {"+": "ADD", "-": "SUB", "*": "MUL", "/": "DIV"}.get(node.op)
        if fn is None:
            raise Unsupported(f"the operator {node.op}", node)
        return f"{fn}(C, {self.lift(a, ax, axis)}, {self.lift(b, bx, axis)}, {mk}, {axis!r})", axis

    def mask_axis(self, loops: tuple[tuple[str, str], ...]) -> str:
        if self.pair is not None:
            return self.pair
        return loops[-1][1] if loops else "h"

    def mask_for(self, loops: tuple[tuple[str, str], ...], axis: str) -> str:
        """The mask of an operation on `axis`: the current one when on its axis; else none (conservative)."""
        return "M" if axis == self.mask_axis(loops) else "None"

    def deeper(self, a: str, b: str, node: nd.Node | None) -> str:
        if a == b:
            return a
        ra, rb = _rank(a), _rank(b)
        if ra < 2 or rb < 2:
            return a if ra >= rb else b
        if self.pair is not None and {a, b} <= {self.pair, *self.pair.split(">")}:
            return self.pair
        raise Unsupported("records of two lists in one expression", node)

    def visit_Unary(self, node: nd.Unary, cd: CheckedDef, loops: Any, mask: str) -> tuple[str, str]:
        a, ax = self.expr(node.operand, cd, loops, mask)
        if node.op == "not":
            return f"NOT({a})", ax
        return f"NEG({a})", ax

    def visit_BoolOp(self, node: nd.BoolOp, cd: CheckedDef, loops: Any, mask: str) -> tuple[str, str]:
        parts = [self.expr(v, cd, loops, mask) for v in node.values]
        return self.logic(node.op == "and", parts, loops, node)

    def logic(self, is_and: bool, parts: list[tuple[str, str]], loops: Any, node: nd.Node) -> tuple[str, str]:
        """Short-circuit `and`/`or`: each operand under the mask of the rows that evaluate it."""
        axis = "c"
        for _, ax in parts:
            axis = self.deeper(axis, ax, node)
        thunks = ", ".join(f"(lambda M: {src}, {ax!r})" for src, ax in parts)
        return f"LOGIC(C, M, {self.mask_axis(loops)!r}, {axis!r}, {is_and}, ({thunks},))", axis

    def visit_Compare(self, node: nd.Compare, cd: CheckedDef, loops: Any, mask: str) -> tuple[str, str]:
        operands = [node.left, *node.comparators]
        parts = [self.expr(x, cd, loops, mask) for x in operands]
        axis = "c"
        for _, ax in parts:
            axis = self.deeper(axis, ax, node)
        mk = self.mask_for(loops, axis)
        out = []
        for i, op in enumerate(node.ops):
            (a, ax), (b, bx) = parts[i], parts[i + 1]
            t = operands[i].type
            numeric = t in ("money", "decimal", "integer", "number")
            la, lb = self.lift(a, ax, axis), self.lift(b, bx, axis)
            if op in ("in", "not in"):
                if not isinstance(operands[i + 1], nd.TupleLit) or (numeric and t != "integer"):
                    raise Unsupported("`in` other than of a tuple of names or whole numbers", node)
                if t == "integer":
                    la = f"INT({la})"
                out.append(f"{'NOT(' if op == 'not in' else '('}np.isin({la}, {lb}))")
            elif numeric:
                out.append(f"CMP(C, {op!r}, {la}, {lb}, {mk}, {axis!r})")
            else:
                out.append(f"({la} {op} {lb})")
        if len(out) == 1:
            return out[0], axis
        return self.logic(True, [(x, axis) for x in out], loops, node)

    def visit_IfExp(self, node: nd.IfExp, cd: CheckedDef, loops: Any, mask: str) -> tuple[str, str]:
        test, tx = self.expr(node.test, cd, loops, mask)
        body, bx = self.expr(node.body, cd, loops, mask)
        orelse, ox = self.expr(node.orelse, cd, loops, mask)
        axis = self.deeper(self.deeper(tx, bx, node), ox, node)
        return (f"IFX(C, M, {self.mask_axis(loops)!r}, {axis!r}, {test}, {tx!r}, lambda M: {body}, {bx!r}, "
                f"lambda M: {orelse}, {ox!r})"), axis

    def visit_Gen(self, node: nd.Gen, cd: CheckedDef, loops: Any, mask: str) -> tuple[str, str]:
        raise Unsupported("a generator outside count, sum, any, all, min or max", node)

    def visit_Call(self, node: nd.Call, cd: CheckedDef, loops: Any, mask: str) -> tuple[str, str]:
        f, args = node.func, node.args
        if len(args) == 1 and isinstance(args[0], nd.Gen):
            return self.generator(f, args[0], node, cd, loops)
        if f == "count":
            arg = args[0]
            if isinstance(arg, nd.Attr) and arg.ref and arg.ref[0] == "list":
                self.lists.setdefault(arg.ref[1], {})
                return f"(C.N[{arg.ref[1]!r}], 1, None)", "h"
            raise Unsupported("count() of other than a list of the household", node)
        parts = [self.expr(x, cd, loops, mask) for x in args]
        axis = "c"
        for _, ax in parts:
            axis = self.deeper(axis, ax, node)
        a = [self.lift(s, ax, axis) for s, ax in parts]
        mk = self.mask_for(loops, axis)
        if f in ("min", "max"):
            if args[0].type not in ("money", "decimal", "integer", "number"):
                raise Unsupported(f"{f}() of non-numbers", node)
            return f"{f.upper()}2(C, [{', '.join(a)}], {mk}, {axis!r})", axis
        if f == "abs":
            return f"ABS({a[0]})", axis
        if f == "age":
            return f"AGE(C, {a[0]}, on, {mk}, {axis!r})", axis
        if f == "age_on":
            return f"AGE(C, {a[0]}, {a[1]}, {mk}, {axis!r})", axis
        if f == "days_between":
            return f"DAYS({a[0]}, {a[1]})", axis
        if f == "date":
            vals = [int(x.value) for x in args if isinstance(x, nd.Num)]
            return str(_ymd(dt.date(*vals))), "c"
        if f.startswith("round_"):
            mode = {"round_half_up": "half_up", "round_up": "up", "round_down": "down"}[f]
            step = args[1].value if len(args) > 1 and isinstance(args[1], nd.Num) else Decimal(1)
            sn, sd = _ratio(step)
            return f"ROUND(C, {a[0]}, {sn}, {sd}, {mode!r}, {mk}, {axis!r})", axis
        raise Unsupported(f"the function {f}()", node)

    def generator(self, f: str, gen: nd.Gen, node: nd.Call, cd: CheckedDef,
                  loops: tuple[tuple[str, str], ...]) -> tuple[str, str]:
        if len(gen.loops) != 1:
            raise Unsupported("a generator with more than one `for`", node)
        loop = gen.loops[0]
        it = loop.iter
        if not (isinstance(it, nd.Attr) and it.ref and it.ref[0] == "list"):
            raise Unsupported("a generator over other than a list of the household", node)
        if len(loops) > 1:
            raise Unsupported("a generator nested two levels deep", node)
        lst = it.ref[1]
        self.lists.setdefault(lst, {})
        target = "h"
        axis = lst
        if loops:  # records of a list for each record of another: the pairs of one household
            outer = loops[-1][1]
            if outer == lst:
                raise Unsupported("a generator over the list its record comes from", node)
            target, axis = outer, f"{outer}>{lst}"
            self.pairs.add((outer, lst))
        inner = (*loops, (loop.var, lst))
        outer_mask = self.lift("M", self.mask_axis(loops), axis)
        saved, self.pair = self.pair, axis if loops else None
        try:
            conds = [self.expr(c, cd, inner, "M") for c in loop.conds]
            cond = "None"
            if conds:
                cond, cx = self.logic(True, conds, inner, node)
                cond = self.lift(cond, cx, axis) if cx != "c" else f"FULL(C, {cond}, {axis!r})"
            elt, ex = self.expr(gen.elt, cd, inner, "M")
            elt = self.lift(elt, ex, axis) if ex != "c" else f"FULL(C, {elt}, {axis!r})"
        finally:
            self.pair = saved
        kind = gen.elt.type
        if f in ("sum", "min", "max") and kind in ("money", "decimal", "integer", "number") \
                and self.den(gen.elt, cd, inner) is None:
            raise Unsupported(f"{f}() of quotients (a denominator that varies by record)", node)
        if f not in ("count", "sum", "any", "all", "min", "max"):
            raise Unsupported(f"the function {f}() of a generator", node)
        if f == "count" and kind != "bool":
            elt = "None"
        # The condition under the enclosing mask, the element under the condition too.
        return f"GEN(C, {f!r}, {axis!r}, {outer_mask}, lambda M: {cond}, lambda M: {elt})", target


def _list_of(it: nd.Node) -> str:
    if isinstance(it, nd.Attr) and it.ref and it.ref[0] == "list":
        return it.ref[1]
    return "?"


def _rank(axis: str) -> int:
    return {"c": 0, "h": 1}.get(axis, 3 if ">" in axis else 2)


def _ymd(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def generate_columnar(cs: CheckedSet, param_index: dict[tuple[str, str], int]) -> ColumnarModule:
    """Generate the columnar module of a checked policy set (the row generator's parameter numbering)."""
    return _Gen(cs, param_index).run()


# --- the helpers generated code calls ----------------------------------------------------------------


class Columns:
    """A batch of households as columns, the decision date, the parameters in force, the marks."""

    def __init__(self, n: int, on: int, params: dict[int, Any]) -> None:
        self.n = n
        self.on = on
        self.P = params  # index -> value (a stand-in of its type when it has no value on the date)
        self.missing: frozenset[int] = frozenset()
        self.H: dict[str, Any] = {}
        self.F: dict[str, dict[str, Any]] = {}
        self.N: dict[str, Any] = {}  # list -> records per household (int64, n)
        self.off: dict[str, Any] = {}  # axis -> offsets of its records in each record of the parent (n + 1 for a list)
        self.seg: dict[str, Any] = {}  # axis -> the household of each record
        self.up: dict[tuple[str, str], Any] = {}  # (axis, deeper axis) -> index into the first of each record
        self.parent: dict[str, str] = {}  # axis -> the axis its records belong to ("h" for a list)
        self.bad = np.zeros(n, dtype=bool)
        self.sink = self.bad  # where marks go now: the marks of the definition being evaluated
        self.memo: dict[int, Any] = {}

    def size(self, axis: str) -> int:
        return self.n if axis in ("h", "c") else len(self.seg[axis])


def _mark(C: Columns, rows: Any, mask: Any, axis: str) -> None:
    """Mark households whose `rows` (on `axis`, where `mask` holds) may fail or differ.

    Marks go to `C.sink`: the marks of the definition being evaluated, which count for a household
    only where that definition is read (see `_memo`).
    """
    if rows is None or rows is False or mask is False:
        return
    if mask is True:
        mask = None
    if not isinstance(rows, np.ndarray) or rows.ndim == 0:
        if not bool(rows):
            return
        if mask is None:
            C.sink[:] = True
            return
        rows = mask
    elif mask is not None:
        rows = rows & mask
    if not rows.any():
        return
    if axis in ("h", "c"):
        C.sink |= np.broadcast_to(rows, (C.n,))
    else:
        C.sink[C.seg[axis][np.broadcast_to(rows, C.seg[axis].shape)]] = True


def _households(C: Columns, M: Any, axis: str) -> Any:
    """The households with a row in the mask (all for None)."""
    if M is None or M is True:
        return None
    if axis in ("h", "c"):
        return M
    out = np.zeros(C.n, dtype=bool)
    out[C.seg[axis][M]] = True
    return out


def _lift(C: Columns, v: Any, frm: str, to: str) -> Any:
    seg = C.up[(frm, to)]
    if isinstance(v, tuple):
        n, d, x = v
        return (n[seg] if isinstance(n, np.ndarray) else n, d[seg] if isinstance(d, np.ndarray) else d,
                x[seg] if x is not None else None)
    if isinstance(v, np.ndarray) and v.ndim == 1:
        return v[seg]
    return v


def _full(C: Columns, v: Any, axis: str) -> Any:
    size = C.size(axis)
    if isinstance(v, tuple):
        n, d, x = v
        if isinstance(n, np.ndarray) and n.shape == (size,):
            return v
        return (np.broadcast_to(np.asarray(n, dtype=np.int64), (size,)), d, x)
    if isinstance(v, bool | np.bool_):
        return np.full(size, bool(v))
    if isinstance(v, int | np.integer):
        return np.full(size, int(v), dtype=np.int64)
    return v


def _memo(C: Columns, k: int, fn: Any, M: Any = None, axis: str = "h") -> Any:
    """A definition's value (evaluated once, for every household); its marks count where it is read (M)."""
    hit = C.memo.get(k)
    if hit is None:
        outer = C.sink
        C.sink = np.zeros(C.n, dtype=bool)
        try:
            v = fn(C)
            hit = C.memo[k] = (v, C.sink if C.sink.any() else None)
        finally:
            C.sink = outer
    v, err = hit
    if err is not None and M is not False:
        where = _households(C, M, axis)
        C.sink |= err if where is None else (err & where)
    return v


def _or(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a | b


def _big(a: Any) -> Any:
    return np.abs(np.asarray(a, dtype=np.float64))


def _maxabs(a: Any) -> int:
    """The largest magnitude of an int64 array (or a Python int): one pass decides most checks."""
    if not isinstance(a, np.ndarray):
        return abs(int(a))
    if a.size == 0:
        return 0
    return max(int(a.max()), -int(a.min()))


def _check(C: Columns, est: Any, mask: Any, axis: str) -> None:
    """Mark where a float estimate of an int64 result's magnitude is near int64's range."""
    if isinstance(est, np.ndarray):
        _mark(C, est > LIMIT, mask, axis)
    elif est > LIMIT:
        _mark(C, True, mask, axis)


def _check_mul(C: Columns, a: Any, b: Any, mask: Any, axis: str) -> None:
    """Mark rows where a * b could leave int64 (checked row by row only when the extremes could)."""
    if _maxabs(a) * _maxabs(b) < LIMIT:
        return
    _check(C, _big(a) * _big(b), mask, axis)


def _check_add(C: Columns, a: Any, b: Any, mask: Any, axis: str) -> None:
    if _maxabs(a) + _maxabs(b) < LIMIT:
        return
    _check(C, _big(a) + _big(b), mask, axis)


def _scale(C: Columns, v: tuple[Any, Any, Any], k: int, mask: Any, axis: str) -> Any:
    n = v[0]
    if k == 1:
        return n
    _check_mul(C, n, k, mask, axis)
    return n * k


def _common(C: Columns, a: Any, b: Any, mask: Any, axis: str) -> tuple[Any, Any, Any]:
    """Two numbers over one denominator: (na, nb, d)."""
    da, db = a[1], b[1]
    if not isinstance(da, np.ndarray) and not isinstance(db, np.ndarray):
        if da == db:
            return a[0], b[0], da
        d = int(np.lcm(da, db))
        return _scale(C, a, d // da, mask, axis), _scale(C, b, d // db, mask, axis), d
    _check_mul(C, a[0], db, mask, axis)
    _check_mul(C, b[0], da, mask, axis)
    _check_mul(C, da, db, mask, axis)
    return a[0] * db, b[0] * da, da * db


def _add(C: Columns, a: Any, b: Any, mask: Any, axis: str) -> Any:
    na, nb, d = _common(C, a, b, mask, axis)
    _check_add(C, na, nb, mask, axis)
    return (na + nb, d, _or(a[2], b[2]))


def _sub(C: Columns, a: Any, b: Any, mask: Any, axis: str) -> Any:
    na, nb, d = _common(C, a, b, mask, axis)
    _check_add(C, na, nb, mask, axis)
    return (na - nb, d, _or(a[2], b[2]))


def _mul(C: Columns, a: Any, b: Any, mask: Any, axis: str) -> Any:
    _check_mul(C, a[0], b[0], mask, axis)
    da, db = a[1], b[1]
    if isinstance(da, np.ndarray) or isinstance(db, np.ndarray):
        _check_mul(C, da, db, mask, axis)
    return (a[0] * b[0], da * db, _or(a[2], b[2]))


def _strip_int(d: int) -> tuple[int, int]:
    """(d without its factors 2 and 5, the larger of the two exponents) of a positive int."""
    k2 = k5 = 0
    while d % 2 == 0:
        d //= 2
        k2 += 1
    while d % 5 == 0:
        d //= 5
        k5 += 1
    return d, max(k2, k5)


def _strip(d: Any) -> tuple[Any, Any]:
    """(d without its factors 2 and 5, whether either exponent is above 15) of positive int64s."""
    low = d & -d  # the lowest set bit: all the factors 2 at once
    rest = d // low
    big = low > 2 ** 15
    fives = np.flatnonzero(rest % 5 == 0)
    k = 0
    while fives.size:
        rest[fives] //= 5
        k += 1
        if k > 15:
            big[fives] = True
        fives = fives[rest[fives] % 5 == 0]
    return rest, big


def _div(C: Columns, a: Any, b: Any, mask: Any, axis: str) -> Any:
    """a / b as a rational, with the rows whose quotient the row engine may not hold exactly.

    The row engine's quotient is exact when it terminates within 34 digits: n / d terminates when d
    without its factors 2 and 5 divides n, and its digits fit when neither exponent is above 15
    (int64 numerators have at most 19 digits).
    """
    if not any(isinstance(v, np.ndarray) for v in (b[0], b[1], a[1])):  # by a constant: a fixed denominator
        bn, bd, ad = int(b[0]), int(b[1]), int(a[1])
        n: Any
        if bn == 0:
            _mark(C, True, mask, axis)
            return (np.zeros(C.size(axis), dtype=np.int64) if isinstance(a[0], np.ndarray) else 0, 1, None)
        sign = -1 if bn < 0 else 1
        _check_mul(C, a[0], bd, mask, axis)
        n = a[0] * (bd * sign)
        d = ad * abs(bn)
        rest, big = _strip_int(d)
        x = a[2]
        if rest != 1 or big > 15:
            inexact = (n % rest != 0) if big <= 15 else np.ones(np.shape(n), dtype=bool)
            x = _or(x, inexact if isinstance(inexact, np.ndarray) else (np.full(C.size(axis), bool(inexact))))
        return (n, d, x)
    zero = b[0] == 0
    _mark(C, zero, mask, axis)
    _check_mul(C, a[0], b[1], mask, axis)
    _check_mul(C, a[1], b[0], mask, axis)
    size = C.size(axis)
    n = np.broadcast_to(np.asarray(a[0] * b[1], dtype=np.int64), (size,)).copy()
    dd: Any = np.broadcast_to(np.asarray(a[1] * b[0], dtype=np.int64), (size,)).copy()
    dd[dd == 0] = 1  # marked above
    neg: Any = dd < 0
    if neg.any():
        n[neg] = -n[neg]
        dd[neg] = -dd[neg]
    rest, big = _strip(dd)
    inexact = big | (n % rest != 0)
    return (n, dd, _or(_or(a[2], b[2]), inexact if inexact.any() else None))


def _neg(a: Any) -> Any:
    return (-a[0], a[1], a[2])


def _abs(a: Any) -> Any:
    return (np.abs(a[0]), a[1], a[2])


def _not(a: Any) -> Any:
    return ~a if isinstance(a, np.ndarray) else not a


def _and(*vals: Any) -> Any:
    out = vals[0]
    for v in vals[1:]:
        out = out & v
    return out


def _or_all(*vals: Any) -> Any:
    out = vals[0]
    for v in vals[1:]:
        out = out | v
    return out


_CMP = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal,
        "!=": np.not_equal}


def _cmp(C: Columns, op: str, a: Any, b: Any, mask: Any, axis: str) -> Any:
    na, nb, d = _common(C, a, b, mask, axis)
    inexact = _or(a[2], b[2])
    if inexact is not None:
        gap = _gap(na, nb, d)
        _mark(C, inexact & (gap < EPS), mask, axis)
    return _CMP[op](na, nb)


def _gap(na: Any, nb: Any, d: Any) -> Any:
    """|na - nb| / d in floating point: only to find the rows near a boundary, never to decide one."""
    f = np.float64
    return np.abs(np.asarray(na, dtype=f) - np.asarray(nb, dtype=f)) / np.asarray(d, dtype=f)


def _if(test: Any, body: Any, orelse: Any, axis: str, C: Columns) -> Any:
    if not isinstance(test, np.ndarray):
        return body if test else orelse
    if isinstance(body, tuple):
        x = _or(body[2], orelse[2])
        if isinstance(body[1], np.ndarray) or isinstance(orelse[1], np.ndarray):
            # a denominator that varies by row already: select numerator and denominator, nothing to scale
            return (np.where(test, body[0], orelse[0]), np.where(test, body[1], orelse[1]), x)
        na, nb, d = _common(C, body, orelse, None, axis)
        return (np.where(test, na, nb), d, x)
    return np.where(test, body, orelse)


def _extremum2(C: Columns, vals: list[Any], mask: Any, axis: str, pick: Any) -> Any:
    out = vals[0]
    for v in vals[1:]:
        na, nb, d = _common(C, out, v, mask, axis)
        x = _or(out[2], v[2])
        if x is not None:
            gap = _gap(na, nb, d)
            _mark(C, x & (gap < EPS), mask, axis)
        out = (pick(na, nb), d, x)
    return out


def _round(C: Columns, v: Any, sn: int, sd: int, mode: str, mask: Any, axis: str) -> Any:
    """Round to a step sn/sd as the row engine does (half_up away from zero at ties, up = ceiling, down = floor).

    With a step that is not a power of ten the row engine first divides by it (34 digits): an exact
    quotient q = a / b that is not on a boundary (a tie, or a whole number) is at least 1 / (2b)
    from it, and the Decimal quotient is within 5e-34 * |a| / b of q: with |a| < 2^63 it cannot
    cross. So only an inexact operand (x) near a boundary can round otherwise: those rows are marked.
    """
    n, d, x = v
    # q = v / step = (n * sd) / (d * sn)
    _check_mul(C, n, sd, mask, axis)
    _check_mul(C, d, sn, mask, axis)
    a = n * sd
    b = d * sn
    if mode == "half_up":
        _check_add(C, a * 2, b, mask, axis)
        _check_mul(C, b, 2, mask, axis)
        q = np.sign(a) * ((np.abs(a) * 2 + b) // (2 * b))
    elif mode == "up":
        q = -((-a) // b)
    else:
        q = a // b
    if x is not None:  # an inexact value near a boundary goes to the row engine
        rem = (np.abs(a) * 2) % (2 * b) - b if mode == "half_up" else a % b
        dist = np.abs(np.asarray(rem, dtype=np.float64)) / np.asarray(b, dtype=np.float64)
        if mode != "half_up":
            dist = np.minimum(dist, 1 - dist)
        _mark(C, x & (dist * abs(sn / sd) < EPS), mask, axis)
    _check_mul(C, q, sn, mask, axis)
    return (np.asarray(q, dtype=np.int64) * sn, sd, None)


def _only_2_5(k: int) -> bool:
    k = abs(k)
    for p in (2, 5):
        while k and k % p == 0:
            k //= p
    return k == 1


def _int(v: Any) -> Any:
    """An integer's value (its denominator is 1)."""
    return v[0] // v[1]


def _param(C: Columns, i: int, mask: Any, axis: str) -> Any:
    if i in C.missing:  # no value on the decision date: the row engine raises where it is used
        _mark(C, np.ones(C.size(axis), dtype=bool), mask, axis)
    return C.P[i]  # a stand-in of its type when missing


def _mask_and(M: Any, t: Any) -> Any:
    if M is None:
        return t
    return M & t


def _as_mask(C: Columns, v: Any, frm: str, axis: str) -> Any:
    """A bool value as a mask on the mask axis (a constant stays a constant)."""
    if not isinstance(v, np.ndarray):
        return bool(v)
    return _lift(C, v, frm, axis) if frm != axis else v


def _ifx(C: Columns, M: Any, maxis: str, axis: str, test: Any, tx: str, body: Any, bx: str,
         orelse: Any, ox: str) -> Any:
    """`body if test else orelse`: each branch evaluated under the rows that take it."""
    t = _as_mask(C, test, tx, maxis)
    if t is True:
        return _up(C, body(M), bx, axis)
    if t is False:
        return _up(C, orelse(M), ox, axis)
    b = _up(C, body(_mask_and(M, t)), bx, axis)
    o = _up(C, orelse(_mask_and(M, ~t)), ox, axis)
    return _if(_up(C, test, tx, axis), b, o, axis, C)


def _up(C: Columns, v: Any, frm: str, to: str) -> Any:
    if frm == to or frm == "c":
        return v
    return _lift(C, v, frm, to)


def _logic(C: Columns, M: Any, maxis: str, axis: str, is_and: bool, parts: Any) -> Any:
    """Short-circuit and/or over (thunk, axis) pairs: a later operand only where the earlier ones let it run."""
    f0, ax0 = parts[0]
    acc, acc_ax = f0(M), ax0
    for f, ax in parts[1:]:
        t = _as_mask(C, acc, acc_ax, maxis)
        if t is (not is_and):  # decided for every row: the rest is not evaluated
            return acc if acc_ax == axis else _full(C, acc, axis) if axis != "c" else acc
        v = f(_mask_and(M, t if is_and else ~t) if t is not is_and else M)
        deep = acc_ax if _rank(acc_ax) >= _rank(ax) else ax
        a, b = _up(C, acc, acc_ax, deep), _up(C, v, ax, deep)
        acc = (a & b) if is_and else (a | b)
        acc_ax = deep
    return acc


def _gen(C: Columns, f: str, axis: str, M: Any, condf: Any, eltf: Any) -> Any:
    cond = condf(M)
    elt = eltf(_mask_and(M, cond) if cond is not None else M)
    if f == "count":
        return _count(C, axis, cond, elt)
    return {"sum": _sum, "any": _any, "all": _all}[f](C, axis, cond, elt) if f in ("sum", "any", "all") \
        else _ext(C, f, axis, cond, elt)


def _notinforce(C: Columns) -> Any:
    C.sink[:] = True
    return False


def _decided(C: Columns, M: Any, maxis: str, axis: str, e: Any, amount: Any) -> Any:
    """Another program's decided amount: its amount where eligible (read only there), else 0."""
    t = _as_mask(C, e, axis, maxis)
    if t is False:
        return (0, 1, None)
    n, d, x = amount(M if t is True else _mask_and(M, t))
    return (np.where(e, n, 0), d, x)


def _segments(C: Columns, lst: str, vals: Any) -> Any:
    """Per-household sums of int64 values on a list axis (empty lists sum to 0).

    A cumulative sum may wrap around int64, but the difference of two of its entries is still the
    segment's exact sum whenever that sum fits (checked by the caller).
    """
    cs = np.zeros(len(vals) + 1, dtype=np.int64)
    if len(vals):
        with np.errstate(over="ignore"):
            np.cumsum(vals, out=cs[1:])
    off = C.off[lst]
    with np.errstate(over="ignore"):
        out: Any = cs[off[1:]] - cs[off[:-1]]
    return out


def _count(C: Columns, lst: str, cond: Any, elt: Any) -> Any:
    keep = cond
    if elt is not None:
        keep = elt if keep is None else keep & elt
    if keep is None:
        return (C.N[lst], 1, None)
    return (_segments(C, lst, np.broadcast_to(keep, C.seg[lst].shape).astype(np.int64)), 1, None)


def _sum(C: Columns, lst: str, cond: Any, elt: Any) -> Any:
    n, d, x = _full(C, elt, lst)
    if cond is not None:
        n = np.where(cond, n, 0)
    _check(C, _segments_float(C, lst, _big(n)), None, C.parent[lst])
    xs = None
    if x is not None:
        xs = _segments(C, lst, (x if cond is None else x & cond).astype(np.int64)) > 0
    return (_segments(C, lst, n), d, xs)


def _segments_float(C: Columns, lst: str, vals: Any) -> Any:
    cs = np.zeros(len(vals) + 1, dtype=np.float64)
    np.cumsum(vals, out=cs[1:])
    off = C.off[lst]
    return cs[off[1:]] - cs[off[:-1]] + 0.0


def _any(C: Columns, lst: str, cond: Any, elt: Any) -> Any:
    hit = np.broadcast_to(elt, C.seg[lst].shape)
    if cond is not None:
        hit = hit & cond
    return _segments(C, lst, hit.astype(np.int64)) > 0


def _all(C: Columns, lst: str, cond: Any, elt: Any) -> Any:
    miss = ~np.broadcast_to(elt, C.seg[lst].shape)
    if cond is not None:
        miss = miss & cond
    return _segments(C, lst, miss.astype(np.int64)) == 0


def _ext(C: Columns, f: str, lst: str, cond: Any, elt: Any) -> Any:
    n, d, x = _full(C, elt, lst)
    keep = np.ones(len(n), dtype=bool) if cond is None else np.broadcast_to(cond, n.shape)
    k = _segments(C, lst, keep.astype(np.int64))
    _mark(C, k == 0, None, C.parent[lst])  # min/max of nothing: the row engine's error
    fill = np.iinfo(np.int64).max if f == "min" else np.iinfo(np.int64).min
    vals = np.where(keep, n, fill)
    out = np.full(len(C.off[lst]) - 1, fill, dtype=np.int64)
    ufunc = np.minimum if f == "min" else np.maximum
    ufunc.at(out, C.up[(C.parent[lst], lst)], vals)
    out[k == 0] = 0
    xs = None
    if x is not None:
        xs = _segments(C, lst, (x & keep).astype(np.int64)) > 0
    return (out, d, xs)


_DAYS_BEFORE = np.array([0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334], dtype=np.int64)


def _ordinal(ymd: Any) -> Any:
    """Day numbers of yyyymmdd dates (proleptic Gregorian, as date.toordinal())."""
    y = np.asarray(ymd) // 10000
    m = np.asarray(ymd) // 100 % 100
    d = np.asarray(ymd) % 100
    y1 = y - 1
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    return y1 * 365 + y1 // 4 - y1 // 100 + y1 // 400 + _DAYS_BEFORE[m] + ((m > 2) & leap) + d


def _days(a: Any, b: Any) -> Any:
    return (_ordinal(b) - _ordinal(a), 1, None)


def _age(C: Columns, born: Any, on: Any, mask: Any, axis: str) -> Any:
    _mark(C, np.asarray(born > on), mask, axis)
    return ((np.asarray(on) - np.asarray(born)) // 10000, 1, None)


HELPERS: dict[str, object] = {
    "np": np, "R": _memo, "FULL": _full, "LIFT": _lift, "ADD": _add, "SUB": _sub, "MUL": _mul, "DIV": _div,
    "NEG": _neg, "ABS": _abs, "NOT": _not, "AND": _and, "OR": _or_all, "CMP": _cmp, "IF": _if,
    "MIN2": lambda C, vals, mask, axis: _extremum2(C, vals, mask, axis, np.minimum),
    "MAX2": lambda C, vals, mask, axis: _extremum2(C, vals, mask, axis, np.maximum),
    "ROUND": _round, "INT": _int, "PARAM": _param, "IFX": _ifx, "LOGIC": _logic, "GEN": _gen,
    "NOTINFORCE": _notinforce, "DECIDED": _decided,
    "COUNT": _count, "SUM": _sum, "ANY": _any, "ALL": _all, "EXT": _ext, "DAYS": _days, "AGE": _age,
}


def _lcm(dens: list[int | None]) -> int | None:
    """The least common multiple of denominators; None when one is not static."""
    known = [d for d in dens if d is not None]
    return math.lcm(*known) if len(known) == len(dens) else None
