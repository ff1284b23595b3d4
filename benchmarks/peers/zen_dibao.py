"""Huadu's dibao rules in GoRules Zen (zen-engine): a JDM decision graph and one expression.

Runs in the peers' virtual environment only. The rules are those of benchmarks/handwritten.py
(guangdong/dibao.yaml + guangzhou/dibao.yaml + huadu/dibao.yaml).

- Decision-graph mode: `graph()` is a JDM graph (input -> two decision tables for the dated
  Guangzhou and Guangdong parameters -> an expression node of tests -> an expression node of
  the decision -> output), evaluated with `ZenEngine().create_decision(...).evaluate(context)`.
  `python zen_dibao.py > dibao.json` writes it, to open in the GoRules editor.
- Expression mode: the same tests as one compiled Zen expression (`zen.compile_expression`)
  returning `{eligible, amount}`, the dated parameters chosen inside it from `on` (`expr`), or
  chosen once for the date and given in the context (`expr_given`, the faster).

Zen computes in decimal (rust_decimal: `0.1 + 0.2 == 0.3`, `round` half away from zero); the
household goes in as given (money as text, read with `number()`), the date as "YYYY-MM-DD"
text; results come back as Python floats and are compared in fen. Neither mode validates its
input the way the engine and the hand-written baseline do: give it valid households only.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import zen

# guangzhou/dibao.yaml `standard` (CNY/person/month), newest first
STANDARD = (("2024-06-01", 1282), ("2023-06-08", 1238), ("2022-01-01", 1196),
            ("2021-04-15", 1120), ("2020-03-10", 1080), ("2019-01-01", 1010))
# guangdong/dibao.yaml: asset limit in months (R-DB-20), residential units (R-DB-21), sole
# livelihood vehicles allowed (R-DB-22, R-DB-24 from 2026)
GUANGDONG = (("2026-01-01", 24, 1, 1), ("2019-09-01", 24, 1, 0))
GD_FIELDS = ("asset_limit_months", "residential_units_limit", "livelihood_vehicles_allowed")

_EXEMPT = '["disabled_scooter", "fuel_motorcycle", "e_bike"]'
_SIZE = "len(members)"
_IPC = f"number(assessed_monthly_income) / {_SIZE}"
_COUNTED = f"count(vehicles ?? [], #.kind not in {_EXEMPT} and not (#.sole_livelihood ?? false))"
_LIVELIHOOD = f"count(vehicles ?? [], #.kind not in {_EXEMPT} and (#.sole_livelihood ?? false))"
# Each test once, naming the parameters; `income_per_capita` and the vehicle counts are the
# graph's own expressions (`$.` refers to an earlier expression of the same node).
TESTS = (
    ("hukou_test", "some(members, #.guangdong_hukou)"),  # R-DB-01
    ("income_test", "$.income_per_capita < standard"),  # R-DB-30
    ("asset_test", f"number(financial_assets) / {_SIZE} <= standard * asset_limit_months"),
    ("housing_test", "(residential_units ?? 0) - (exempt_inherited_houses ?? 0) "
                     "<= residential_units_limit and (nonresidential_units ?? 0) == 0"),
    ("vehicle_test", "$.counted_vehicles == 0 and $.livelihood_vehicles <= "
                     "livelihood_vehicles_allowed"),
    ("business_test", "count(business_registrations ?? [], not ((#.exempt_on_review ?? false) "
                      'and ((#.kind == "couple_shop" and (#.employees ?? 0) == 0 and not '
                      '(#.high_end_goods ?? false)) or #.kind == "poor_household_cooperative")))'
                      " == 0"),  # R-DB-23
)
AMOUNT = "round((standard - {ipc}) * {size}, 2)"  # R-DB-50


def _node(node_id: str, kind: str, name: str, x: int, content: Any = None) -> dict[str, Any]:
    node: dict[str, Any] = {"id": node_id, "type": kind, "name": name,
                            "position": {"x": x, "y": 0}}
    if content is not None:
        node["content"] = content
    return node


def _expressions(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"expressions": [{"id": k, "key": k, "value": v} for k, v in pairs]}


def graph() -> dict[str, Any]:
    """The JDM decision graph."""
    on = [{"id": "on", "name": "decision date", "field": "date(on)"}]
    standard = {"hitPolicy": "first", "inputs": on,
                "outputs": [{"id": "standard", "name": "standard", "field": "standard"}],
                "rules": [{"_id": f"gz{since}", "on": f'>= date("{since}")', "standard": str(v)}
                          for since, v in STANDARD]}
    guangdong = {"hitPolicy": "first", "inputs": on,
                 "outputs": [{"id": f, "name": f, "field": f} for f in GD_FIELDS],
                 "rules": [{"_id": f"gd{since}", "on": f'>= date("{since}")',
                            **{f: str(v) for f, v in zip(GD_FIELDS, values, strict=True)}}
                           for since, *values in GUANGDONG]}
    tests = [("size", _SIZE), ("income_per_capita", "number(assessed_monthly_income) / $.size"),
             ("counted_vehicles", _COUNTED), ("livelihood_vehicles", _LIVELIHOOD), *TESTS,
             ("standard", "standard")]
    decision = [("eligible", " and ".join(k for k, _ in TESTS)),
                ("amount", "$.eligible ? " + AMOUNT.format(ipc="income_per_capita", size="size")
                 + " : 0")]
    edges = (("input", "standard"), ("input", "guangdong"), ("input", "tests"),
             ("standard", "tests"), ("guangdong", "tests"), ("tests", "decision"),
             ("decision", "output"))
    return {"nodes": [_node("input", "inputNode", "household", 0),
                      _node("standard", "decisionTableNode", "Guangzhou standard", 250, standard),
                      _node("guangdong", "decisionTableNode", "Guangdong parameters", 250,
                            guangdong),
                      _node("tests", "expressionNode", "tests", 500, _expressions(tests)),
                      _node("decision", "expressionNode", "decision", 750,
                            _expressions(decision)),
                      _node("output", "outputNode", "decision", 1000)],
            "edges": [{"id": f"{a}-{b}", "sourceId": a, "targetId": b, "type": "edge"}
                      for a, b in edges]}


def _dated(pairs: list[tuple[str, Any]]) -> str:
    """A Zen expression for the value in force on `on` (pairs newest first), null before all."""
    expr = "null"
    for since, value in reversed(pairs):
        expr = f'(date(on) >= date("{since}") ? {value} : {expr})'
    return expr


def parameters() -> dict[str, str]:
    """Each dated parameter as a Zen expression of `on`."""
    params = {"standard": _dated([(s, v) for s, v in STANDARD])}
    for i, field in enumerate(GD_FIELDS):
        params[field] = _dated([(s, values[i]) for s, *values in GUANGDONG])
    return params


def expression(given: bool = False) -> str:
    """The whole decision as one Zen expression: `map([eligible], {...})[0]` binds `#`.

    The dated parameters are chosen inside it from `on`, or with `given` read from the context
    (`ZenDibao.parameters(on)` evaluates them once for a date).
    """
    params = {k: k for k in parameters()} if given else parameters()
    inline = {"$.income_per_capita": _IPC, "$.counted_vehicles": _COUNTED,
              "$.livelihood_vehicles": _LIVELIHOOD, **params}
    checks = []
    for _, test in TESTS:
        for name, text in inline.items():
            test = test.replace(name, f"({text})")
        checks.append(f"({test})")
    amount = AMOUNT.format(ipc=_IPC, size=_SIZE).replace("standard", params["standard"])
    return f"map([{' and '.join(checks)}], {{eligible: #, amount: # ? {amount} : 0}})[0]"


class ZenDibao:
    """Both Zen modes, ready to evaluate one household at a time."""

    def __init__(self) -> None:
        self.engine = zen.ZenEngine()
        self.decision = self.engine.create_decision(json.dumps(graph()))
        self.expression_text = expression()
        self.expression = zen.compile_expression(self.expression_text)
        self.expression_given = zen.compile_expression(expression(given=True))

    def parameters(self, on: str) -> dict[str, Any]:
        """The dated parameters in force on `on`, for `expr_given`."""
        return {k: zen.evaluate_expression(v, {"on": on}) for k, v in parameters().items()}

    def graph(self, household: dict[str, Any], on: str) -> tuple[bool, float]:
        """Decision-graph mode: (eligible, amount as a float)."""
        result = self.decision.evaluate({**household, "on": on})["result"]
        return result["eligible"], result["amount"]

    def expr(self, household: dict[str, Any], on: str) -> tuple[bool, float]:
        """Expression mode: (eligible, amount as a float)."""
        result = self.expression.evaluate({**household, "on": on})
        return result["eligible"], result["amount"]

    def expr_given(self, household: dict[str, Any], params: dict[str, Any]) -> tuple[bool, float]:
        """Expression mode with the date's parameters given: (eligible, amount as a float)."""
        result = self.expression_given.evaluate({**household, **params})
        return result["eligible"], result["amount"]


if __name__ == "__main__":
    sys.stdout.write(json.dumps(graph(), indent=1) + "\n")
