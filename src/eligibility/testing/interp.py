"""A reference interpreter of the checked model: the oracle for differential tests of codegen.

It walks the expression trees directly, with Decimal arithmetic under its own decimal context,
and gives the documented semantics independently of the generated code: lazy, memoised
definitions (per record for `each`), dated versions, short-circuit `and`/`or`/`any`/`all` and
comparison chains, declared rounding, `age()`. It is slow and simple on purpose; it is not used
to decide anything.
"""

from __future__ import annotations

import bisect
import datetime as dt
import decimal
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import attrs

from eligibility.lang import nodes as nd
from eligibility.lang.checker import CheckedSet, version_at

#: The same settings as the engine's context, spelled out here so the two stay independent.
CONTEXT = decimal.Context(
    prec=34, rounding=decimal.ROUND_HALF_EVEN, Emin=-999999, Emax=999999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow, decimal.FloatOperation],
)
CENT = Decimal("0.01")
_MODES = {"half_up": decimal.ROUND_HALF_UP, "up": decimal.ROUND_CEILING, "down": decimal.ROUND_FLOOR}
_ROUND_FUNCTIONS = {"round_half_up": "half_up", "round_up": "up", "round_down": "down"}


class InterpError(Exception):
    """The interpreter cannot evaluate: where the engine raises EvaluationError."""


@attrs.frozen
class Outcome:
    """A program's outcome, shaped like ProgramDecision (members: (id, eligible, amount, tier))."""

    eligible: bool | None  # None when the program cannot be decided: see `error`
    amount: Decimal | None
    tier: str | None
    members: tuple[tuple[str | None, bool, Decimal | None, str | None], ...] | None = None
    error: str | None = None


class Interpretation(nd.NodeVisitor):
    """The evaluation of a checked policy set for one validated household on one date."""

    def __init__(self, checked: CheckedSet, household: dict[str, Any], on: dt.date) -> None:
        self.cs = checked
        self.h = household
        self.on = on
        self.memo: dict[tuple[str, str, int | None], Any] = {}

    # --- public --------------------------------------------------------------------------------

    def decide(self, programs: tuple[str, ...] | None = None) -> dict[str, Outcome]:
        """Return the outcome of every program (or those named); one that cannot be decided has `error`."""
        names = tuple(sorted(self.cs.programs)) if programs is None else programs
        out = {}
        with decimal.localcontext(CONTEXT):
            for name in names:
                try:
                    out[name] = self.program(name)
                except InterpError as e:
                    out[name] = Outcome(None, None, None, error=str(e))
                except decimal.DecimalException as e:
                    out[name] = Outcome(None, None, None, error=f"invalid arithmetic ({type(e).__name__})")
        return out

    def value(self, program: str, name: str) -> Any:
        """Return a definition's value; {record id: value} for a per-record definition."""
        d = self.cs.defs[(program, name)].definition
        with decimal.localcontext(CONTEXT):
            try:
                if d.each is None:
                    return self.definition(program, name, None)
                out = {}
                for i, rec in enumerate(self.h[d.each[1]]):
                    out[rec.get("id", i)] = self.definition(program, name, rec)
                return out
            except decimal.DecimalException as e:
                raise InterpError(f"invalid arithmetic ({type(e).__name__})") from None

    # --- programs and definitions --------------------------------------------------------------

    def program(self, name: str) -> Outcome:
        prog = self.cs.programs[name]
        if prog.each is None:
            return Outcome(*self.outputs(name, None))
        members = [(rec.get("id"), *self.outputs(name, rec)) for rec in self.h[prog.each[1]]]
        total = (sum((a for _, _, a, _ in members if a is not None), Decimal("0.00"))
                 if prog.amount is not None else None)
        return Outcome(any(e for _, e, _, _ in members), total, None, tuple(members))

    def outputs(self, name: str, record: dict[str, Any] | None) -> tuple[Any, Decimal | None, Any]:
        """Return a program's eligible, amount (0.00 when not eligible) and tier, for the household or a record."""
        prog = self.cs.programs[name]
        eligible = self.definition(name, "eligible", record)
        amount = None
        if eligible is True and prog.amount is not None:
            amount = _money(self.definition(name, "amount", record))
        elif prog.amount is not None:
            amount = Decimal("0.00")
        tier = self.definition(name, "tier", record) if prog.tier is not None else None
        return eligible, amount, tier

    def definition(self, program: str, name: str, record: dict[str, Any] | None) -> Any:
        key = (program, name, id(record) if record is not None else None)
        if key in self.memo:
            return self.memo[key]
        cd = self.cs.defs[(program, name)]
        d = cd.definition
        vi = version_at(d.versions, self.on)
        if vi is None:
            if d.not_in_force == "passes":
                value: Any = True
            elif d.not_in_force == "fails":
                value = False
            else:
                raise InterpError(f"no version of '{name}' is in force on {self.on}")
        else:
            tree = cd.trees[vi]
            if tree is None:
                raise InterpError(f"'{name}' has no expression")
            scope = {d.each[0]: record} if d.each is not None and record is not None else {}
            value = self.eval(tree, program, scope)
            if d.rounding is not None:
                value = _round(value, d.rounding.step, d.rounding.mode)
            elif d.kind == "output" and name == "amount":
                value = _round(value, CENT, "half_up")
        self.memo[key] = value
        return value

    def parameter(self, program: str, name: str) -> Any:
        values = self.cs.programs[program].parameters[name].values
        i = bisect.bisect_right([v.start for v in values], self.on) - 1
        if i < 0:
            raise InterpError(f"parameter '{name}' of {program} has no value on {self.on}")
        return values[i].value

    def decided_amount(self, program: str, record: dict[str, Any] | None) -> Any:
        """Another program's amount as read by an expression: its amount when eligible, else 0.00."""
        if self.definition(program, "eligible", record) is not True:
            return Decimal("0.00")
        return self.definition(program, "amount", record)

    # --- expressions -----------------------------------------------------------------------------

    def eval(self, node: nd.Node, program: str, scope: dict[str, Any]) -> Any:
        return self.visit(node, program, scope)

    def visit_Num(self, node: nd.Num, program: str, scope: dict[str, Any]) -> Any:
        return int(node.value) if node.is_int else node.value

    def visit_Const(self, node: nd.Const, program: str, scope: dict[str, Any]) -> Any:
        return node.value

    def visit_TupleLit(self, node: nd.TupleLit, program: str, scope: dict[str, Any]) -> Any:
        return [self.eval(i, program, scope) for i in node.items]

    def visit_BinOp(self, node: nd.BinOp, program: str, scope: dict[str, Any]) -> Any:
        return _arith(node.op, self.eval(node.left, program, scope), self.eval(node.right, program, scope))

    def visit_Unary(self, node: nd.Unary, program: str, scope: dict[str, Any]) -> Any:
        v = self.eval(node.operand, program, scope)
        return (not v) if node.op == "not" else -v

    def visit_BoolOp(self, node: nd.BoolOp, program: str, scope: dict[str, Any]) -> Any:
        stop = node.op == "or"  # `or` stops at the first true operand, `and` at the first false one
        for operand in node.values:
            if bool(self.eval(operand, program, scope)) is stop:
                return stop
        return not stop

    def visit_Compare(self, node: nd.Compare, program: str, scope: dict[str, Any]) -> Any:
        left = self.eval(node.left, program, scope)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comp, program, scope)
            if not _compare(op, left, right):
                return False
            left = right
        return True

    def visit_IfExp(self, node: nd.IfExp, program: str, scope: dict[str, Any]) -> Any:
        if self.eval(node.test, program, scope):
            return self.eval(node.body, program, scope)
        return self.eval(node.orelse, program, scope)

    def visit_Gen(self, node: nd.Gen, program: str, scope: dict[str, Any]) -> Any:
        raise InterpError("a generator outside count, sum, any, all, min or max")

    def visit_Name(self, node: nd.Name, program: str, scope: dict[str, Any]) -> Any:
        kind = node.ref[0] if node.ref else "?"
        if kind == "var":
            return scope[node.id]
        if kind == "param":
            return self.parameter(program, node.id)
        if kind == "def":
            return self.definition(program, node.id, None)
        if kind == "decision_date":
            return self.on
        if kind == "household":
            return self.h
        raise InterpError(f"unexpected name {node.id}")

    def visit_Attr(self, node: nd.Attr, program: str, scope: dict[str, Any]) -> Any:
        ref = node.ref
        kind = ref[0] if ref else "?"
        if kind in ("fact", "list"):
            return self.h[ref[1]]
        if kind == "field":
            return scope[ref[1]][ref[2]]
        if kind == "program":
            if ref[2] == "amount":
                return self.decided_amount(ref[1], None)
            return self.definition(ref[1], ref[2], None)
        if kind == "recdef":
            record = scope[ref[1]]
            target = self.cs.programs[ref[4]]
            if ref[2] == "amount" and target.amount is not None and target.amount.each is not None:
                return self.decided_amount(ref[4], record)
            return self.definition(ref[4], ref[2], record)
        raise InterpError(f"unexpected attribute {node.attr}")

    def rows(self, gen: nd.Gen, program: str, scope: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Yield the scope of each combination of a generator's loops that passes its conditions."""

        def level(i: int, inner: dict[str, Any]) -> Iterator[dict[str, Any]]:
            if i == len(gen.loops):
                yield inner
                return
            loop = gen.loops[i]
            for item in self.eval(loop.iter, program, inner):
                here = {**inner, loop.var: item}
                if all(self.eval(c, program, here) for c in loop.conds):
                    yield from level(i + 1, here)

        return level(0, scope)

    def visit_Call(self, node: nd.Call, program: str, scope: dict[str, Any]) -> Any:
        f, args = node.func, node.args
        if len(args) == 1 and isinstance(args[0], nd.Gen):
            gen = args[0]
            rows = self.rows(gen, program, scope)
            if f == "count":
                if gen.elt.type == "bool":
                    return sum(1 for row in rows if self.eval(gen.elt, program, row))
                return sum(1 for _ in rows)
            if f == "any":
                return any(self.eval(gen.elt, program, row) for row in rows)
            if f == "all":
                return all(self.eval(gen.elt, program, row) for row in rows)
            values = [self.eval(gen.elt, program, row) for row in rows]
            if f == "sum":
                return sum(values, 0 if gen.elt.type == "integer" else Decimal(0))
            if not values:
                raise InterpError(f"{node.text} has no items")
            return min(values) if f == "min" else max(values)
        vals = [self.eval(a, program, scope) for a in args]
        if f == "count":
            return len(vals[0])
        if f == "min":
            return min(vals)
        if f == "max":
            return max(vals)
        if f == "abs":
            return abs(vals[0])
        if f == "age":
            return _age(vals[0], self.on)
        if f == "age_on":
            return _age(vals[0], vals[1])
        if f == "days_between":
            return (vals[1] - vals[0]).days
        if f == "date":
            return dt.date(*vals)
        if f in _ROUND_FUNCTIONS:
            return _round(vals[0], vals[1], _ROUND_FUNCTIONS[f])
        raise InterpError(f"unknown function {f}")


def _arith(op: str, a: Any, b: Any) -> Any:
    if op == "/":
        try:
            return Decimal(a) / Decimal(b)
        except decimal.DivisionByZero:
            raise InterpError("division by zero") from None
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    return a * b


def _compare(op: str, a: Any, b: Any) -> bool:
    return bool(nd.COMPARISONS[op](a, b))


def _round(x: Any, step: Any, mode: str) -> Decimal:
    """Round x to a multiple of step: half up, toward +infinity (up) or toward -infinity (down)."""
    unit = Decimal(step)
    return (Decimal(x) / unit).quantize(Decimal(1), rounding=_MODES[mode]) * unit


def _age(born: dt.date, on: dt.date) -> int:
    if born > on:
        raise InterpError(f"{born} is after {on}")
    years = on.year - born.year
    if (on.month, on.day) < (born.month, born.day):
        years -= 1
    return years


def _money(a: Any) -> Decimal:
    v = Decimal(a).quantize(CENT, rounding=decimal.ROUND_HALF_UP)
    if v < 0:
        raise InterpError(f"the amount is negative ({v})")
    return v if v != 0 else Decimal("0.00")


def interpret(checked: CheckedSet, household: dict[str, Any], on: dt.date) -> Interpretation:
    """Start the interpretation of a validated household on a date."""
    return Interpretation(checked, household, on)
