"""Expression nodes: what the parser produces and the checker, codegen and trace consume."""

from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs

from eligibility.base.source import Span

#: What each comparison operator of the language does, on Python values of the types the checker allows.
COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
    "in": lambda a, b: a in b, "not in": lambda a, b: a not in b,
}

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


#: Every expression node type: a pass (a NodeVisitor subclass) has one visit method for each.
NODE_TYPES: tuple[type[Node], ...] = (Num, Const, TupleLit, Name, Attr, BinOp, Unary, BoolOp, Compare, IfExp, Gen, Call)


class NodeVisitor:
    """One pass over expression nodes: `visit(node, ...)` calls `visit_<NodeClass>(node, ...)`.

    As in Jinja's visitor, each pass is a class with one method a node type. A concrete pass must
    define a method for every type in NODE_TYPES: a class that forgets one fails when it is
    defined, not when a policy first uses that node. A helper base class that is not a pass sets
    `partial = True`.
    """

    partial: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("partial", False):
            return
        cls.partial = False
        missing = [t.__name__ for t in NODE_TYPES if not callable(getattr(cls, f"visit_{t.__name__}", None))]
        if missing:
            raise TypeError(f"{cls.__name__} has no visit method for {', '.join(missing)}")

    def visit(self, node: Node, *args: Any) -> Any:
        """Dispatch to the visit method of the node's class."""
        return getattr(self, _METHOD[node.__class__])(node, *args)


_METHOD = {t: f"visit_{t.__name__}" for t in NODE_TYPES}


class _Children(NodeVisitor):
    """The direct sub-expressions of a node, in evaluation order."""

    partial = False

    def visit_Num(self, node: Num) -> list[Node]:
        return []

    visit_Const = visit_Name = visit_Num

    def visit_TupleLit(self, node: TupleLit) -> list[Node]:
        return list(node.items)

    def visit_Attr(self, node: Attr) -> list[Node]:
        return [node.obj]

    def visit_BinOp(self, node: BinOp) -> list[Node]:
        return [node.left, node.right]

    def visit_Unary(self, node: Unary) -> list[Node]:
        return [node.operand]

    def visit_BoolOp(self, node: BoolOp) -> list[Node]:
        return list(node.values)

    def visit_Compare(self, node: Compare) -> list[Node]:
        return [node.left, *node.comparators]

    def visit_IfExp(self, node: IfExp) -> list[Node]:
        return [node.test, node.body, node.orelse]

    def visit_Gen(self, node: Gen) -> list[Node]:
        out: list[Node] = []
        for loop in node.loops:
            out.append(loop.iter)
            out.extend(loop.conds)
        out.append(node.elt)
        return out

    def visit_Call(self, node: Call) -> list[Node]:
        return list(node.args)


_CHILDREN = _Children()


def children(node: Node) -> list[Node]:
    """Return the direct sub-expressions of a node, in evaluation order."""
    result: list[Node] = _CHILDREN.visit(node)
    return result


def walk(node: Node) -> list[Node]:
    """Return every node of a tree, parents before children (iteratively)."""
    out: list[Node] = []
    stack = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(reversed(_CHILDREN.visit(n)))
    return out
