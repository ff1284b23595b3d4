"""Re-deriving a recorded step from the record alone: its value from its expression and the inputs
it recorded (with its rounding), its outcome from its value, and each comparison from its operands.
Whatever the record does not hold is left unchecked, never guessed (audit/evaluate.py)."""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from eligibility.audit.canonical import short_json
from eligibility.audit.evaluate import (
    Binding,
    Scope,
    Unknown,
    compare,
    each_binding,
    equal,
    evaluate,
    finish,
    item_env,
    loop_bindings,
    number,
    op_text,
    parse,
    same_value,
    segment,
    source_of,
)
from eligibility.base.i18n import translate as _


def step_problems(program: str, step: Mapping[str, Any], decided_for: str) -> list[str]:
    """Re-derive one step from what it recorded: its value, its outcome and its comparisons."""
    where = _("programs.{program} step {step}", program=program, step=step.get("name"))
    out = _outcome_problems(where, step)
    if step.get("evaluated") is not True or step.get("error") is not None or \
            step.get("outcome") in ("not_evaluated", "not_in_force", "error"):
        return out
    text = step.get("expression")
    if not isinstance(text, str):
        return out
    try:
        tree = parse(text)
    except Unknown:
        return [*out, _("{where}: its expression {text} is not an expression of the policy language", where=where,
                        text=short_json(text))]
    source = source_of(text)
    scope = Scope(step.get("inputs") or [], decided_for)
    bindings = loop_bindings(tree, step)
    out.extend(_value_problems(where, step, tree, scope))
    out.extend(_comparison_problems(where, step, tree, source, scope, bindings))
    return out


def _outcome_problems(where: str, step: Mapping[str, Any]) -> list[str]:
    """A step's outcome must be what its value says (passed for true, failed for false, ...)."""
    outcome, value, kind, name = step.get("outcome"), step.get("value"), step.get("kind"), step.get("name")

    def expected(v: object) -> str | None:
        if kind == "rule":
            return "passed" if v is True else "failed" if v is False else None
        if kind == "output" and name == "eligible":
            return "eligible" if v is True else "not_eligible" if v is False else None
        return "computed"

    if outcome in ("passed", "failed", "eligible", "not_eligible", "computed"):
        want = expected(value)
        if want is not None and want != outcome:
            return [_("{where}: its outcome is {outcome} but its value {value} means {want}", where=where,
                      outcome=outcome, value=short_json(value), want=want)]
    if outcome == "per_record" and isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                want = expected(item.get("value"))
                if want is not None and want != item.get("outcome"):
                    return [_("{where}: {path} is {outcome} but its value {value} means {want}", where=where,
                              path=item.get("path"), outcome=item.get("outcome"), value=short_json(item.get("value")),
                              want=want)]
    return []


def _value_problems(where: str, step: Mapping[str, Any], tree: ast.expr, scope: Scope) -> list[str]:
    value = step.get("value")
    if step.get("outcome") == "per_record":
        each = each_binding(step)
        if each is None or not isinstance(value, list):
            return []
        for item in value:
            if not isinstance(item, dict):
                continue
            env = item_env(item.get("path"), {each[0]: each[1]})
            if env is None:
                continue
            try:
                derived = finish(step, evaluate(tree, scope, env))
                if not same_value(item.get("value"), derived):
                    return [_("{where}: {path} is {value} but its expression gives {derived} from the recorded "
                              "inputs", where=where, path=item.get("path"), value=short_json(item.get("value")),
                              derived=short_json(_show(derived)))]
            except (Unknown, ArithmeticError):
                continue
        return []
    try:
        derived = finish(step, evaluate(tree, scope, {}))
        if not same_value(value, derived):
            return [_("{where}: its value is {value} but its expression gives {derived} from the recorded inputs",
                      where=where, value=short_json(value), derived=short_json(_show(derived)))]
    except (Unknown, ArithmeticError):
        pass
    return []


def _show(v: object) -> object:
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def _comparison_problems(where: str, step: Mapping[str, Any], tree: ast.expr, source: str, scope: Scope,
                         bindings: Mapping[str, str]) -> list[str]:
    """Each recorded comparison must be one of the expression's, with its operators, sides and results."""
    compares: dict[str, ast.Compare] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            compares.setdefault(segment(source, node), node)
    out: list[str] = []
    for entry in step.get("comparisons") or []:
        if not isinstance(entry, dict):
            continue
        text = " ".join(str(entry.get("expression")).split())
        found = compares.get(text)
        if found is None:
            out.append(_("{where}: its comparison {text} is not part of its expression", where=where,
                         text=short_json(entry.get("expression"))))
            continue
        if entry.get("evaluated") is not True:
            continue
        sides = [found.left, *found.comparators]
        if "items" in entry:
            for item in entry.get("items") or []:
                if isinstance(item, dict):
                    env = item_env(item.get("path"), bindings)
                    out.extend(_pairs_problems(f"{where} ({item.get('path')})", text, found, sides, source,
                                               item, scope, env))
        else:
            out.extend(_pairs_problems(where, text, found, sides, source, entry, scope, {}))
        if out:
            break
    return out


def _pairs_problems(where: str, text: str, node: ast.Compare, sides: list[ast.expr], source: str,
                    entry: Mapping[str, Any], scope: Scope, env: Mapping[str, Binding] | None) -> list[str]:
    pairs = entry.get("pairs")
    if not isinstance(pairs, list) or len(pairs) != len(node.ops):
        if not isinstance(pairs, list):
            return [_("{where}: the comparison {text} has {ops} operator(s) but records no pair(s)", where=where,
                      text=short_json(text), ops=len(node.ops))]
        return [_("{where}: the comparison {text} has {ops} operator(s) but records {pairs} pair(s)", where=where,
                  text=short_json(text), ops=len(node.ops), pairs=len(pairs))]
    results: list[bool | None] = []
    for k, pair in enumerate(pairs):
        if not isinstance(pair, dict):
            return [_("{where}: a pair of {text} is not an object", where=where, text=short_json(text))]
        op = op_text(node.ops[k])
        if pair.get("op") != op:
            return [_("{where}: {text} compares with {op}, not {recorded}", where=where, text=short_json(text), op=op,
                      recorded=short_json(pair.get("op")))]
        if pair.get("evaluated") is not True:
            results.append(None)
            continue
        left, right = pair.get("left"), pair.get("right")
        if not isinstance(left, dict) or not isinstance(right, dict):
            return [_("{where}: a pair of {text} has no sides", where=where, text=short_json(text))]
        for side, node_side in ((left, sides[k]), (right, sides[k + 1])):
            expr = segment(source, node_side)
            if " ".join(str(side.get("expression")).split()) != expr:
                return [_("{where}: a side of {text} reads {read}, not {expr}", where=where, text=short_json(text),
                          read=short_json(side.get("expression")), expr=short_json(expr))]
            if env is not None:
                try:
                    derived = evaluate(node_side, scope, env)
                    same = _same_list(side.get("value"), derived) if isinstance(derived, list) else \
                        same_value(side.get("value"), derived)
                    if not same:
                        return [_("{where}: {expr} is shown as {value} but the recorded inputs give {derived}",
                                  where=where, expr=expr, value=short_json(side.get("value")),
                                  derived=short_json(_show(derived)))]
                except (Unknown, ArithmeticError):
                    pass
        lv, rv = left.get("value"), right.get("value")
        try:
            result = compare(op, lv, rv)
        except (Unknown, ArithmeticError):
            results.append(pair.get("result") if isinstance(pair.get("result"), bool) else None)
            continue
        if pair.get("result") is not result:
            return [_("{where}: {left} {op} {right} is {result}, but the record says {recorded}", where=where,
                      left=short_json(lv), op=op, right=short_json(rv), result=str(result).lower(),
                      recorded=short_json(pair.get("result")))]
        results.append(result)
        if "difference" in pair:
            a, b = number(lv), number(rv)
            d = number(pair.get("difference"))
            if a is None or b is None or d is None or d != a - b:
                return [_("{where}: the difference of {left} {op} {right} is recorded as {recorded}", where=where,
                          left=short_json(lv), op=op, right=short_json(rv),
                          recorded=short_json(pair.get("difference")))]
    recorded = entry.get("result")
    if recorded is not None:
        derived_result: bool | None = None
        if any(r is False for r in results):
            derived_result = False
        elif all(r is True for r in results):
            derived_result = True
        if derived_result is not None and recorded is not derived_result:
            return [_("{where}: {text} is recorded as {recorded} but its pairs give {derived}", where=where,
                      text=short_json(text), recorded=short_json(recorded), derived=str(derived_result).lower())]
    return []


def _same_list(recorded: object, derived: list[Any]) -> bool:
    if not isinstance(recorded, list) or len(recorded) != len(derived):
        return False
    try:
        return all(any(equal(r, d) for r in recorded) for d in derived)
    except Unknown:
        return False


__all__ = ["step_problems"]
