"""Expression nodes: what the parser produces and the checker, codegen and trace consume."""

from __future__ import annotations

from decimal import Decimal

import attrs

from eligibility.base.source import Span


@attrs.define(eq=False)
class Node:
    """Base of expression nodes; `text` is the node's own source text."""

    span: Span
    text: str
    #: The static type the checker assigns ("bool", "integer", "decimal", "money", "date", ...).
    type: str = attrs.field(default="?", kw_only=True)


@attrs.define(eq=False)
class Num(Node):
    value: Decimal = attrs.field(kw_only=True)
    is_int: bool = attrs.field(kw_only=True)


@attrs.define(eq=False)
class Const(Node):
    """True, False or a string literal (strings name enum values)."""

    value: bool | str = attrs.field(kw_only=True)


@attrs.define(eq=False)
class TupleLit(Node):
    items: list[Const | Num] = attrs.field(kw_only=True)


@attrs.define(eq=False)
class Name(Node):
    id: str = attrs.field(kw_only=True)
    #: What the name resolved to: ("param", name) ("def", name) ("var", name) ("household",)
    #: ("program", name) ("decision_date",)
    ref: tuple[str, ...] = attrs.field(default=(), kw_only=True)


@attrs.define(eq=False)
class Attr(Node):
    obj: Node = attrs.field(kw_only=True)
    attr: str = attrs.field(kw_only=True)
    #: ("fact", field) for household.field, ("field", var, field) for x.field,
    #: ("list", field) for household.<list>, ("program", prog, name) for dibao.eligible
    ref: tuple[str, ...] = attrs.field(default=(), kw_only=True)


@attrs.define(eq=False)
class BinOp(Node):
    op: str = attrs.field(kw_only=True)
    left: Node = attrs.field(kw_only=True)
    right: Node = attrs.field(kw_only=True)


@attrs.define(eq=False)
class Unary(Node):
    op: str = attrs.field(kw_only=True)  # "not" or "-"
    operand: Node = attrs.field(kw_only=True)


@attrs.define(eq=False)
class BoolOp(Node):
    op: str = attrs.field(kw_only=True)  # "and" or "or"
    values: list[Node] = attrs.field(kw_only=True)


@attrs.define(eq=False)
class Compare(Node):
    left: Node = attrs.field(kw_only=True)
    ops: list[str] = attrs.field(kw_only=True)
    comparators: list[Node] = attrs.field(kw_only=True)


@attrs.define(eq=False)
class IfExp(Node):
    test: Node = attrs.field(kw_only=True)
    body: Node = attrs.field(kw_only=True)
    orelse: Node = attrs.field(kw_only=True)


@attrs.define(eq=False)
class Loop:
    var: str
    var_span: Span
    iter: Node
    conds: list[Node]


@attrs.define(eq=False)
class Gen(Node):
    elt: Node = attrs.field(kw_only=True)
    loops: list[Loop] = attrs.field(kw_only=True)


@attrs.define(eq=False)
class Call(Node):
    func: str = attrs.field(kw_only=True)
    args: list[Node] = attrs.field(kw_only=True)


def children(node: Node) -> list[Node]:
    """Return the direct sub-expressions of a node, in evaluation order."""
    if isinstance(node, BinOp):
        return [node.left, node.right]
    if isinstance(node, Unary):
        return [node.operand]
    if isinstance(node, BoolOp):
        return list(node.values)
    if isinstance(node, Compare):
        return [node.left, *node.comparators]
    if isinstance(node, IfExp):
        return [node.test, node.body, node.orelse]
    if isinstance(node, Call):
        return list(node.args)
    if isinstance(node, Attr):
        return [node.obj]
    if isinstance(node, TupleLit):
        return list(node.items)
    if isinstance(node, Gen):
        out: list[Node] = []
        for loop in node.loops:
            out.append(loop.iter)
            out.extend(loop.conds)
        out.append(node.elt)
        return out
    return []


def walk(node: Node) -> list[Node]:
    """Return every node of a tree, parents before children (iteratively)."""
    out: list[Node] = []
    stack = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(reversed(children(n)))
    return out
