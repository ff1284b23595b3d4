"""Evaluating a recorded expression over the values its step recorded, for verify_record.

The recorded expression text is read with Python's `ast` and walked by a small evaluator of the
policy language that knows only what the record holds: it never runs code, and whatever it cannot
re-derive (a value the trace did not record, an unknown construct) it leaves unchecked instead of
guessing. Every Decimal operation runs under the engine's context (the caller sets it).
"""

from __future__ import annotations

import ast
import datetime as dt
import decimal
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from eligibility.lang.nodes import COMPARISONS

#: Longer recorded expressions are not re-derived (the parser refuses them in a policy).
MAX_EXPRESSION = 4000
#: Evaluation steps for one value, so that an edited record cannot make verify slow.
MAX_WORK = 100_000
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_ITEM = re.compile(r"household\.([A-Za-z_][A-Za-z0-9_]*)\[([0-9]+)\]\Z")
_EACH = re.compile(r"([A-Za-z_][A-Za-z0-9_]*) in household\.([A-Za-z_][A-Za-z0-9_]*)\Z")
_CENT = Decimal("0.01")
_MODES = {"half_up": decimal.ROUND_HALF_UP, "up": decimal.ROUND_CEILING, "down": decimal.ROUND_FLOOR}
_ROUND_FUNCTIONS = {"round_half_up": "half_up", "round_up": "up", "round_down": "down"}


class Unknown(Exception):
    """The record does not hold what re-deriving this value needs: it is left unchecked."""


class Text(str):
    """A string literal of the expression (an enum value or a text), never read as a number."""


class _Household:
    """The name `household`: only its fields can be read."""


_HOUSEHOLD = _Household()


def number(v: object) -> Decimal | int | None:
    """A recorded value as a number (a decimal string, an integer), or None when it is not one."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int | Decimal):
        return v
    if isinstance(v, str) and not isinstance(v, Text) and _NUMBER.match(v):
        return Decimal(v)
    return None


def _is_count(v: object) -> bool:
    return isinstance(v, dict) and set(v) == {"count"} and isinstance(v["count"], int)


def equal(a: object, b: object) -> bool:
    """Whether two recorded values are equal as the engine compares them (numbers by value)."""
    if isinstance(a, bool) or isinstance(b, bool):
        if isinstance(a, bool) and isinstance(b, bool):
            return a is b
        raise Unknown
    if isinstance(a, Text) or isinstance(b, Text):
        if isinstance(a, str) and isinstance(b, str):
            return str(a) == str(b)
        raise Unknown
    na, nb = number(a), number(b)
    if na is not None and nb is not None:
        return na == nb
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    raise Unknown


def compare(op: str, a: object, b: object) -> bool:
    """Re-evaluate one comparison of recorded values; Unknown when their types do not say how."""
    if op in ("==", "!="):
        return equal(a, b) is (op == "==")
    if op in ("in", "not in"):
        if not isinstance(b, list):
            raise Unknown
        found = any(equal(a, x) for x in b)
        return found is (op == "in")
    na, nb = number(a), number(b)
    if na is not None and nb is not None:
        x: Any = na
        y: Any = nb
    elif isinstance(a, str) and isinstance(b, str) and _DATE.match(a) and _DATE.match(b):
        x, y = a, b
    else:
        raise Unknown
    if op in ("<", "<=", ">", ">="):
        return bool(COMPARISONS[op](x, y))
    raise Unknown


def _date(v: object) -> dt.date:
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str) and _DATE.match(v):
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            raise Unknown from None
    raise Unknown


def _age(born: dt.date, on: dt.date) -> int:
    if born > on:
        raise Unknown
    years = on.year - born.year
    return years - 1 if (on.month, on.day) < (born.month, born.day) else years


def round_to(x: object, step: object, mode: str) -> Decimal:
    """Round a number to a multiple of step: half up, toward +infinity (up) or toward -infinity (down)."""
    n, unit = number(x), number(step)
    if n is None or unit is None or unit == 0 or mode not in _MODES:
        raise Unknown
    return (Decimal(n) / Decimal(unit)).quantize(Decimal(1), rounding=_MODES[mode]) * Decimal(unit)


def parse(text: str) -> ast.expr:
    """Parse a recorded expression as the policy parser does (a multi-line one inside brackets).

    Raises:
        Unknown: the text is too long or not an expression.
    """
    if len(text) > MAX_EXPRESSION:
        raise Unknown
    source = "(\n" + text + "\n)" if "\n" in text.strip() else text
    try:
        return ast.parse(source, mode="eval").body
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        raise Unknown from None


def segment(source: str, node: ast.AST) -> str:
    """The normalised text of a sub-expression, as the trace writes it."""
    return " ".join((ast.get_source_segment(source, node) or "").split())


def source_of(text: str) -> str:
    """The text `parse` reads (the segments of its nodes are cut from it)."""
    return "(\n" + text + "\n)" if "\n" in text.strip() else text


class Scope:
    """What one step recorded: its inputs by name and path, the date, the loop records in scope."""

    def __init__(self, inputs: list[Any], decided_for: str) -> None:
        self.by_name: dict[str, Any] = {}  # household-level definitions, parameters, program outputs
        self.by_path: dict[tuple[str, str], Any] = {}  # (name, path of the record) of per-record values
        self.facts: dict[str, Any] = {}
        self.on = decided_for
        self.work = 0
        for item in inputs:
            if not isinstance(item, dict):
                continue
            kind, value = item.get("kind"), item.get("value")
            if kind == "fact" and isinstance(item.get("path"), str):
                self.facts.setdefault(item["path"], value)
            elif isinstance(item.get("name"), str) and isinstance(item.get("path"), str):
                self.by_path.setdefault((item["name"], item["path"]), value)
            elif isinstance(item.get("name"), str):
                self.by_name.setdefault(item["name"], value)

    def tick(self) -> None:
        self.work += 1
        if self.work > MAX_WORK:
            raise Unknown


#: A loop or `each` variable bound to one record: (list field, index).
Binding = tuple[str, int]


def _known(value: object) -> object:
    if value is None:
        raise Unknown
    return value


def evaluate(node: ast.expr, scope: Scope, env: Mapping[str, Binding]) -> Any:
    """Evaluate a recorded expression over the recorded inputs; raise Unknown where the record is silent."""
    scope.tick()
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool):
            return v
        if isinstance(v, str):
            return Text(v)
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            return Decimal(repr(v))
        raise Unknown
    if isinstance(node, ast.Tuple):
        return [evaluate(e, scope, env) for e in node.elts]
    if isinstance(node, ast.Name):
        return _name(node.id, scope, env)
    if isinstance(node, ast.Attribute):
        return _attribute(node, scope, env)
    if isinstance(node, ast.UnaryOp):
        v = evaluate(node.operand, scope, env)
        if isinstance(node.op, ast.Not):
            if not isinstance(v, bool):
                raise Unknown
            return not v
        n = number(v)
        if isinstance(node.op, ast.USub) and n is not None:
            return -n
        raise Unknown
    if isinstance(node, ast.BinOp):
        return _arith(node.op, evaluate(node.left, scope, env), evaluate(node.right, scope, env))
    if isinstance(node, ast.BoolOp):
        stop = isinstance(node.op, ast.Or)
        for operand in node.values:
            v = evaluate(operand, scope, env)
            if not isinstance(v, bool):
                raise Unknown
            if v is stop:
                return stop
        return not stop
    if isinstance(node, ast.Compare):
        left = evaluate(node.left, scope, env)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = evaluate(comp, scope, env)
            if not compare(_OPS.get(type(op), "?"), left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        test = evaluate(node.test, scope, env)
        if not isinstance(test, bool):
            raise Unknown
        return evaluate(node.body if test else node.orelse, scope, env)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        return _call(node.func.id, node.args, scope, env)
    raise Unknown


_OPS: dict[type, str] = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
                         ast.In: "in", ast.NotIn: "not in"}


def op_text(op: ast.cmpop) -> str:
    """The text of a comparison operator, as the trace writes it."""
    return _OPS.get(type(op), "?")


def _name(name: str, scope: Scope, env: Mapping[str, Binding]) -> Any:
    if name in env:
        return env[name]
    if name == "household":
        return _HOUSEHOLD
    if name == "decision_date":
        return _date(scope.on)
    if name in scope.by_name:
        return _known(scope.by_name[name])
    raise Unknown


def _chain(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _attribute(node: ast.Attribute, scope: Scope, env: Mapping[str, Binding]) -> Any:
    parts = _chain(node)
    if parts is None or len(parts) > 3:
        raise Unknown
    head, rest = parts[0], parts[1:]
    if head in env:
        lst, i = env[head]
        where = f"household.{lst}[{i}]"
        if len(rest) == 1 and f"{where}.{rest[0]}" in scope.facts:
            return _known(scope.facts[f"{where}.{rest[0]}"])
        key = (".".join(rest), where)
        if key in scope.by_path:
            return _known(scope.by_path[key])
        raise Unknown
    if head == "household" and len(rest) == 1:
        path = f"household.{rest[0]}"
        if path in scope.facts:
            return _known(scope.facts[path])
        raise Unknown
    if len(rest) == 1 and ".".join(parts) in scope.by_name:
        return _known(scope.by_name[".".join(parts)])
    raise Unknown


def _arith(op: ast.operator, a: object, b: object) -> Any:
    x, y = number(a), number(b)
    if x is None or y is None:
        raise Unknown
    if isinstance(op, ast.Add):
        return x + y
    if isinstance(op, ast.Sub):
        return x - y
    if isinstance(op, ast.Mult):
        return x * y
    if isinstance(op, ast.Div):
        if y == 0:
            raise Unknown
        return Decimal(x) / Decimal(y)
    raise Unknown


def _rows(gen: ast.GeneratorExp, scope: Scope, env: Mapping[str, Binding]) -> Iterator[dict[str, Binding]]:
    """Yield the scope of each combination of a generator's loops that passes its conditions."""

    def level(k: int, inner: dict[str, Binding]) -> Iterator[dict[str, Binding]]:
        if k == len(gen.generators):
            yield inner
            return
        loop = gen.generators[k]
        if not isinstance(loop.target, ast.Name) or loop.is_async:
            raise Unknown
        parts = _chain(loop.iter)
        if parts is None or len(parts) != 2 or parts[0] != "household":
            raise Unknown
        listed = scope.facts.get(f"household.{parts[1]}")
        if not _is_count(listed):
            raise Unknown
        assert isinstance(listed, dict)
        for i in range(listed["count"]):
            here = {**inner, loop.target.id: (parts[1], i)}
            ok = True
            for cond in loop.ifs:
                v = evaluate(cond, scope, here)
                if not isinstance(v, bool):
                    raise Unknown
                if not v:
                    ok = False
                    break
            if ok:
                yield from level(k + 1, here)

    return level(0, dict(env))


def _call(func: str, args: list[ast.expr], scope: Scope, env: Mapping[str, Binding]) -> Any:
    if len(args) == 1 and isinstance(args[0], ast.GeneratorExp):
        gen = args[0]
        rows = _rows(gen, scope, env)
        if func in ("count", "any", "all"):
            count = 0
            for row in rows:
                v = evaluate(gen.elt, scope, row)
                if func == "count":
                    count += 1 if not isinstance(v, bool) or v else 0
                elif not isinstance(v, bool):
                    raise Unknown
                elif func == "any" and v:
                    return True
                elif func == "all" and not v:
                    return False
            return count if func == "count" else func == "all"
        values = [evaluate(gen.elt, scope, row) for row in rows]
        numbers = [number(v) for v in values]
        if any(n is None for n in numbers):
            raise Unknown
        if func == "sum":
            return sum((n for n in numbers if n is not None), Decimal(0))
        if func in ("min", "max") and numbers:
            return min(n for n in numbers if n is not None) if func == "min" else \
                max(n for n in numbers if n is not None)
        raise Unknown
    vals = [evaluate(a, scope, env) for a in args]
    if func == "count" and len(vals) == 1 and _is_count(vals[0]):
        return vals[0]["count"]
    if func in ("min", "max", "abs") and vals:
        nums = [number(v) for v in vals]
        if any(n is None for n in nums):
            raise Unknown
        ns = [n for n in nums if n is not None]
        if func == "abs":
            return abs(ns[0])
        return min(ns) if func == "min" else max(ns)
    if func == "age" and len(vals) == 1:
        return _age(_date(vals[0]), _date(scope.on))
    if func == "age_on" and len(vals) == 2:
        return _age(_date(vals[0]), _date(vals[1]))
    if func == "days_between" and len(vals) == 2:
        return (_date(vals[1]) - _date(vals[0])).days
    if func in _ROUND_FUNCTIONS and len(vals) == 2:
        return round_to(vals[0], vals[1], _ROUND_FUNCTIONS[func])
    raise Unknown


def same_value(recorded: object, derived: object) -> bool:
    """Whether a recorded value is the derived one (numbers by value, true/false and text exactly)."""
    if isinstance(derived, bool) or isinstance(recorded, bool):
        return recorded is derived
    if isinstance(derived, dt.date):
        return recorded == derived.isoformat()
    if isinstance(derived, Text):
        return recorded == str(derived)
    if isinstance(derived, str):
        return equal(recorded, derived) if isinstance(recorded, str | int) else False
    n = number(recorded)
    if isinstance(derived, int | Decimal):
        return n is not None and n == derived
    raise Unknown


def finish(step: Mapping[str, Any], value: Any) -> Any:
    """Apply the step's declared rounding, and the cent of an amount."""
    rounding = step.get("rounding")
    if isinstance(rounding, dict):
        return round_to(value, rounding.get("to"), str(rounding.get("mode")))
    if step.get("kind") == "output" and step.get("name") == "amount":
        return round_to(value, _CENT, "half_up")
    return value


def each_binding(step: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (variable, list) of a per-record step's `each`, e.g. ("member", "members")."""
    m = _EACH.match(str(step.get("each") or ""))
    return (m.group(1), m.group(2)) if m else None


def item_env(path: object, bindings: Mapping[str, str]) -> dict[str, Binding] | None:
    """Bind the loop variables of a per-item entry (its `path`: household.<list>[i], ...) by list."""
    if not isinstance(path, str):
        return None
    env: dict[str, Binding] = {}
    for part in path.split(", "):
        m = _ITEM.match(part)
        if m is None:
            return None
        names = [v for v, lst in bindings.items() if lst == m.group(1)]
        if len(names) != 1:
            return None
        env[names[0]] = (m.group(1), int(m.group(2)))
    return env


def loop_bindings(tree: ast.expr, step: Mapping[str, Any]) -> dict[str, str]:
    """Each loop variable of an expression (and its `each` variable) with the list it runs over."""
    out: dict[str, str] = {}
    each = each_binding(step)
    if each:
        out[each[0]] = each[1]
    for node in ast.walk(tree):
        if isinstance(node, ast.comprehension) and isinstance(node.target, ast.Name):
            parts = _chain(node.iter)
            if parts and len(parts) == 2 and parts[0] == "household":
                if node.target.id in out and out[node.target.id] != parts[1]:
                    out[node.target.id] = ""  # ambiguous: the same name over two lists
                else:
                    out[node.target.id] = parts[1]
    return out


__all__ = ["MAX_EXPRESSION", "MAX_WORK", "Binding", "Scope", "Text", "Unknown", "compare", "each_binding", "equal",
           "evaluate", "finish", "item_env", "loop_bindings", "number", "op_text", "parse", "round_to", "same_value",
           "segment", "source_of"]
