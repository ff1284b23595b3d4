"""Mutation check: small changes to a checked policy set that its YAML test cases should notice.

A mutant changes one thing: a comparison operator, a number literal or a parameter value used in
a comparison, an `and`/`or`, or drops a `not`. It is compiled into an engine of its own (only the
changed definition's functions are regenerated) and the cases that reach the change are run
against it; the first case that fails kills it. A surviving mutant names a boundary or a branch
no case pins down.

The `where_to_apply:` rules are mutated the same way (their conditions and office values), each
mutant run against the cases that expect offices (`where_to_apply.<program>`).
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import attrs

from eligibility.base.i18n import N_
from eligibility.base.i18n import translate as _
from eligibility.base.numbers import CENT, ENGINE_CONTEXT
from eligibility.base.source import Span
from eligibility.engine.runtime import Engine
from eligibility.lang.cases import WHERE_PREFIX
from eligibility.lang.checker import CheckedSet, version_at
from eligibility.lang.model import TestCase
from eligibility.lang.nodes import BinOp, BoolOp, Call, Compare, IfExp, Name, Node, Num, TupleLit, Unary, children, walk
from eligibility.lang.where import PROGRAM as WHERE_PROGRAM
from eligibility.testing.cases import run_case
from eligibility.testing.variants import (
    Observation,
    Variants,
    observe,
    steps,
    where_engine,
    where_rules,
    where_with_trees,
)

#: How each comparison operator is mutated.
SWAP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==", "in": "not in", "not in": "in"}
MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_CMP_TOKEN = re.compile(r"not\s+in\b|\bin\b|<=|>=|==|!=|<|>")
_BOOL_TOKEN = re.compile(r"\b(?:and|or)\b")


# --- mutants --------------------------------------------------------------------------------------


@attrs.frozen
class Mutant:
    """One small change to a policy set, with where it is and what it changes."""

    kind: str  # operator | literal | parameter | connective | negation
    program: str
    name: str  # the definition (or parameter) changed
    at: Span
    original: str  # the changed text as written
    mutated: str  # what it becomes
    context: str  # the comparison or expression it sits in
    key: tuple[str, str]
    version: int  # the version of the definition, or the index of the parameter's dated value
    node: int  # the changed node's index in walk() order of the version's tree (-1 for a parameter)
    change: Any  # the new operator (with its index) or the new value
    hint_data: tuple[Any, ...] = ()  # what the hint for this kind of mutant needs (texts, positions)

    @property
    def label(self) -> str:
        return f"{self.program}.{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {"at": str(self.at), "kind": self.kind, "program": self.program, "name": self.name,
                "original": self.original, "mutated": self.mutated, "context": self.context}


def _flat(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show_number(value: Decimal | int) -> str:
    return str(value) if isinstance(value, int) else format(value, "f")


class _Finder:
    """Enumerate the mutants of a checked policy set, in file order."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.checked: CheckedSet = engine.compiled.checked
        self.sources = engine.compiled.model.sources

    def token(self, after: Span, before: Span, pattern: re.Pattern[str]) -> Span | None:
        """Find an operator token between two spans of one file; return its span."""
        src = self.sources.get(after.path)
        if src is None or before.path != after.path:
            return None
        start = src.line_starts[after.end_line - 1] + after.end_col - 1
        end = src.line_starts[before.line - 1] + before.col - 1
        m = pattern.search(src.text, start, max(start, end))
        if m is None:
            return None
        return src.span(m.start(), m.end())

    def run(self) -> list[Mutant]:
        out: list[Mutant] = []
        params: dict[tuple[str, str], list[Compare]] = {}
        for key, cd in self.checked.defs.items():
            for vi, tree in enumerate(cd.trees):
                if tree is not None:
                    out.extend(self.tree_mutants(key, vi, tree, params))
        for (program, name), compares in params.items():
            out.extend(self.parameter_mutants(program, name, compares))
        out.sort(key=lambda m: (m.at.path, m.at.line, m.at.col, m.program, m.name, m.kind, str(m.change)))
        return out

    def tree_mutants(self, key: tuple[str, str], vi: int, tree: Node,
                     params: dict[tuple[str, str], list[Compare]]) -> Iterator[Mutant]:
        nodes = walk(tree)
        index = {id(n): i for i, n in enumerate(nodes)}
        parent: dict[int, Node] = {}
        for n in nodes:
            for c in children(n):
                parent[id(c)] = n
        program, name = key
        literals: dict[int, tuple[Num, Compare]] = {}
        for n in nodes:
            if isinstance(n, Compare):
                items = [n.left, *n.comparators]
                for i, op in enumerate(n.ops):
                    tok = self.token(items[i].span, items[i + 1].span, _CMP_TOKEN) or n.span
                    yield Mutant("operator", program, name, tok, op, SWAP[op], _flat(n.text), key, vi, index[id(n)],
                                 (i, SWAP[op]), (_flat(items[i].text, 60), _flat(items[i + 1].text, 60), str(n.span)))
                for item in items:
                    for sub in _operand_nodes(item):
                        if isinstance(sub, Num):
                            literals[id(sub)] = (sub, n)  # the innermost comparison wins: it comes later
                        elif isinstance(sub, Name) and sub.ref[:1] == ("param",):
                            params.setdefault((program, sub.id), []).append(n)
            elif isinstance(n, BoolOp):
                other = "or" if n.op == "and" else "and"
                for i in range(1, len(n.values)):  # each connective of `a and b and c` on its own
                    a, b = n.values[i - 1], n.values[i]
                    tok = self.token(a.span, b.span, _BOOL_TOKEN) or n.span
                    yield Mutant("connective", program, name, tok, n.op, other, _flat(n.text), key, vi,
                                 index[id(n)], (i, other), (_flat(a.text, 60), _flat(b.text, 60)))
            elif isinstance(n, Unary) and n.op == "not":
                yield Mutant("negation", program, name, n.span, _flat(n.text, 60), _flat(n.operand.text, 60),
                             _flat(n.text), key, vi, index[id(n)], None, ())
        for num, cmp in literals.values():
            for value in _nudged(num, parent):
                yield Mutant("literal", program, name, num.span, num.text, _show_number(value), _flat(cmp.text),
                             key, vi, index[id(num)], value, _boundary(num, cmp, value, parent))

    def parameter_mutants(self, program: str, name: str, compares: list[Compare]) -> Iterator[Mutant]:
        param = self.checked.programs[program].parameters[name]
        if param.type not in ("money", "integer", "decimal"):
            return
        where = tuple(dict.fromkeys(_flat(c.text, 80) for c in compares))
        ats = tuple(dict.fromkeys(str(c.span) for c in compares))
        for i, pv in enumerate(param.values):
            value = pv.value
            if not isinstance(value, Decimal | int) or isinstance(value, bool):
                continue
            if param.type == "money":
                step: Decimal | int = CENT
            elif param.type == "integer":
                step = 1
            else:
                step = abs(Decimal(value)) * CENT or CENT
            for new in (value - step, value + step):
                if param.type == "money" and new < 0:
                    continue
                yield Mutant("parameter", program, name, pv.span, _show_number(value), _show_number(new),
                             f"{name} from {pv.start}", (program, name), i, -1, new, (where, ats))


def _operand_nodes(node: Node) -> Iterator[Node]:
    """Yield the nodes of an operand whose value can be nudged: not date() parts, rounding steps, tuples."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, TupleLit) or (isinstance(n, Call) and n.func == "date"):
            continue
        yield n
        kids = children(n)
        if isinstance(n, Call) and n.func.startswith("round_"):
            kids = kids[:1]
        stack.extend(reversed(kids))


def _nudged(num: Num, parent: dict[int, Node]) -> list[Decimal | int]:
    """Return the two nudged values of a literal: ±0.01 next to money, ±1 for a count, else ±1%."""
    if _money_context(num, parent):
        step: Decimal | int = CENT
        value: Decimal | int = num.value
    elif num.is_int:
        step, value = 1, int(num.value)
    else:
        value = num.value
        step = abs(value) * CENT or CENT
    return [value - step, value + step]


def _money_context(num: Node, parent: dict[int, Node]) -> bool:
    node = num
    up = parent.get(id(node))
    while isinstance(up, Unary) and up.op == "-":
        node, up = up, parent.get(id(up))
    if isinstance(up, Compare):
        items = [up.left, *up.comparators]
        i = next(j for j, x in enumerate(items) if x is node)
        return any(items[j].type == "money" for j in (i - 1, i + 1) if 0 <= j < len(items))
    additive = isinstance(up, BinOp) and up.op in ("+", "-")
    alternative = isinstance(up, IfExp) or (isinstance(up, Call) and up.func in ("min", "max"))
    return up is not None and (additive or alternative) and up.type == "money"


def _boundary(num: Num, cmp: Compare, new: Decimal | int, parent: dict[int, Node]) -> tuple[Any, ...]:
    """Return (other side's text, the value where original and mutant differ, comparison position,
    pair index, which side of the pair the other operand is) when the literal is a whole operand."""
    node: Node = num
    sign = 1
    while isinstance(parent.get(id(node)), Unary) and parent[id(node)] is not cmp:
        up = parent[id(node)]
        if not (isinstance(up, Unary) and up.op == "-"):
            break
        node, sign = up, -sign
    items = [cmp.left, *cmp.comparators]
    if not any(x is node for x in items):
        return ()
    i = next(j for j, x in enumerate(items) if x is node)
    old = num.value * sign
    mutated = Decimal(new) * sign
    if i + 1 < len(items):  # `N op other`: read it as `other mirror(op) N`
        op, other = MIRROR.get(cmp.ops[i], cmp.ops[i]), items[i + 1]
    else:
        op, other = cmp.ops[i - 1], items[i - 1]
    lo, hi = min(old, mutated), max(old, mutated)
    at = {"<": lo, ">=": lo, "<=": hi, ">": hi}.get(op, old)
    pair, side = (i, "right") if i + 1 < len(items) else (i - 1, "left")
    shown = _show_number(int(at) if num.is_int and at == int(at) else at)
    return (_flat(other.text, 60), shown, str(cmp.span), pair, side)


def find_mutants(engine: Engine) -> list[Mutant]:
    """Return every mutant of an engine's policy set, in file order."""
    with decimal.localcontext(ENGINE_CONTEXT):  # nudged values are computed as the engine computes
        return _Finder(engine).run()


def find_where_mutants(engine: Engine) -> list[Mutant]:
    """Return every mutant of the policy set's where_to_apply rules (none without such rules), in file order."""
    where = where_rules(engine)
    if where is None:
        return []
    with decimal.localcontext(ENGINE_CONTEXT):
        finder = _Finder(engine)
        finder.checked = where.checked
        out: list[Mutant] = []
        for key, cd in where.checked.defs.items():
            if key[0] != WHERE_PROGRAM:
                continue
            for vi, tree in enumerate(cd.trees):
                if tree is not None:
                    out.extend(finder.tree_mutants(key, vi, tree, {}))
    out.sort(key=lambda m: (m.at.path, m.at.line, m.at.col, m.program, m.name, m.kind, str(m.change)))
    return out


def apply(variants: Variants, mutant: Mutant) -> Engine:
    """Return the engine of a mutant."""
    if mutant.kind == "parameter":
        return variants.with_parameter(mutant.program, mutant.name, mutant.version, mutant.change)
    cd = variants.compiled.checked.defs[mutant.key]
    return variants.with_trees(mutant.key, _mutated_trees(list(cd.trees), mutant))


def _mutated_trees(trees: list[Node | None], mutant: Mutant) -> list[Node | None]:
    """The versions' trees of a definition with the mutant's change made (on a copy)."""
    root = copy.deepcopy(trees[mutant.version])
    if root is None:
        raise ValueError("a version without a tree has no mutants")
    target = walk(root)[mutant.node]
    if mutant.kind == "operator" and isinstance(target, Compare):
        i, op = mutant.change
        target.ops[i] = op
    elif mutant.kind == "connective" and isinstance(target, BoolOp):
        root = _replace(root, target, _reconnect(target, mutant.change[0]))
    elif mutant.kind == "literal" and isinstance(target, Num):
        value = mutant.change
        target.value = Decimal(value)
        target.is_int = isinstance(value, int)
    elif mutant.kind == "negation" and isinstance(target, Unary):
        root = _replace(root, target, target.operand)
    else:
        raise ValueError(f"cannot apply a {mutant.kind} mutant to {type(target).__name__}")
    trees[mutant.version] = root
    return trees


def _reconnect(node: BoolOp, i: int) -> Node:
    """Return `node` with its i-th connective swapped, grouped as Python would read the new text."""
    def group(op: str, values: list[Node]) -> Node:
        if len(values) == 1:
            return values[0]
        return BoolOp(node.span, f" {op} ".join(v.text for v in values), type="bool", op=op, values=values)

    values = list(node.values)
    if node.op == "and":  # `a and b or c and d`: the new `or` binds loosest
        return group("or", [group("and", values[:i]), group("and", values[i:])])
    return group("or", [*values[: i - 1], group("and", values[i - 1 : i + 1]), *values[i + 1 :]])


def _replace(root: Node, old: Node, new: Node) -> Node:
    """Put `new` where `old` is in the tree; return the (possibly new) root."""
    if root is old:
        return new
    for n in walk(root):
        holders: list[Any] = [n]
        if hasattr(n, "loops"):
            holders.extend(n.loops)
        for holder in holders:
            for field in attrs.fields(type(holder)):
                value = getattr(holder, field.name)
                if value is old:
                    setattr(holder, field.name, new)
                    return root
                if isinstance(value, list):
                    for j, item in enumerate(value):
                        if item is old:
                            value[j] = new
                            return root
    return root


# --- running --------------------------------------------------------------------------------------


@attrs.frozen
class MutantResult:
    """What the test cases did to one mutant."""

    mutant: Mutant
    status: str  # killed | survived | unreached
    killed_by: str | None = None
    hint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {**self.mutant.to_json(), "status": self.status, "killed_by": self.killed_by, "hint": self.hint}


@attrs.frozen
class MutationReport:
    """The outcome of the mutation check."""

    results: tuple[MutantResult, ...]
    cases: int
    left_out: tuple[str, ...]  # cases that fail on the unchanged policies, so were not used

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def score(self) -> float:
        """Killed mutants as a percentage of all mutants (100 when there are none)."""
        return 100.0 * self.count("killed") / len(self.results) if self.results else 100.0

    def to_json(self) -> dict[str, Any]:
        return {
            "mutants": len(self.results), "killed": self.count("killed"), "survived": self.count("survived"),
            "unreached": self.count("unreached"), "score": round(self.score, 1), "cases": self.cases,
            "left_out": list(self.left_out),
            "survivors": [r.to_json() for r in self.results if r.status != "killed"],
            "results": [r.to_json() for r in self.results],
        }

    def render(self) -> str:
        n = len(self.results)
        lines = [_("mutation check: {n} mutants, {killed} killed, {survived} survived, {unreached} not reached by "
                   "any case (score {score:.1f}%)", n=n, killed=self.count("killed"), survived=self.count("survived"),
                   unreached=self.count("unreached"), score=self.score)]
        if self.left_out:
            lines.append(_("left out (they fail on the unchanged policies): {cases}", cases=", ".join(self.left_out)))
        for status, title in (("survived", N_("surviving mutants:")), ("unreached", N_("mutants no case reaches:"))):
            group = [r for r in self.results if r.status == status]
            if not group:
                continue
            lines.append("")
            lines.append(_(title))
            for r in group:
                m = r.mutant
                lines.append(_("{at}: {label}: `{original}` -> `{mutated}` in `{context}`", at=m.at, label=m.label,
                               original=m.original, mutated=m.mutated, context=m.context))
                if r.hint:
                    lines.append("  " + _("hint: {hint}", hint=r.hint))
        return "\n".join(lines) + "\n"


@attrs.frozen
class _Seen:
    """One evaluated comparison pair of one case on the unchanged policies."""

    case: str
    on: dt.date
    left: Decimal | None
    right: Decimal | None
    needed: bool

    def side(self, name: str) -> Decimal | None:
        return self.left if name == "left" else self.right

    @property
    def difference(self) -> Decimal | None:
        return self.left - self.right if self.left is not None and self.right is not None else None


def _number(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        return Decimal(value)
    except ArithmeticError:
        return None


class _Hints:
    """Words for a surviving mutant, from what the cases did on the unchanged policies."""

    def __init__(self, observations: list[Observation]) -> None:
        self.pairs: dict[tuple[str, int], list[_Seen]] = {}
        for ob in observations:
            if ob.trace is None:
                continue
            for _step_name, step in steps(ob.trace):
                for cmp in step["comparisons"]:
                    groups = [cmp["pairs"]] if "pairs" in cmp else [i["pairs"] for i in cmp.get("items", ())]
                    for pairs in groups:
                        for j, pair in enumerate(pairs):
                            if not pair.get("evaluated"):
                                continue
                            seen = _Seen(ob.case.name, ob.case.on, _number(pair["left"].get("value")),
                                         _number(pair["right"].get("value")), bool(step["needed"]))
                            self.pairs.setdefault((cmp["at"], j), []).append(seen)

    def nearest(self, keys: Iterable[tuple[str, int]], distance: Callable[[_Seen], Decimal | None],
                period: tuple[dt.date, dt.date] | None = None) -> tuple[_Seen, Decimal] | None:
        """Return the observation (the decision needed, if any did) nearest a boundary, and its distance."""
        found = [(p, d) for key in keys for p in self.pairs.get(key, ())
                 if (period is None or period[0] <= p.on <= period[1]) and (d := distance(p)) is not None]
        needed = [x for x in found if x[0].needed]
        return min(needed or found, key=lambda x: abs(x[1]), default=None)

    @staticmethod
    def masked(seen: _Seen, what: str, m: Mutant) -> str:
        return _("case '{case}' has {what}, but none of its expectations depends on it; expect the outcome that "
                 "`{label}` must have there", case=seen.case, what=what, label=m.label)

    def boundary(self, m: Mutant, near: tuple[_Seen, Decimal] | None, equal: str,
                 shown: Callable[[tuple[_Seen, Decimal]], str], advice: Callable[[str], str]) -> str:
        """The hint for a mutant that differs only at a boundary: the case that sits there but expects
        nothing of it, else the advice, told which case came closest."""
        if near is not None and near[1] == 0:
            return self.masked(near[0], equal, m)
        return advice(_("closest: case '{case}' with {values}", case=near[0].case, values=shown(near)) if near
                      else _("no case evaluated this comparison"))

    def hint(self, m: Mutant, variants: Variants) -> str:
        if m.kind == "operator":
            left, right, at = m.hint_data
            key = [(at, m.change[0])]
            if m.original in ("<", "<=", ">", ">="):
                return self.boundary(
                    m, self.nearest(key, lambda p: p.difference), _("{left} equal to {right}", left=left, right=right),
                    lambda near: f"{left} − {right} = {_show_number(near[1])}",
                    lambda closest: _("no case has {left} exactly equal to {right}, the only place where `{original}` "
                                      "and `{mutated}` differ ({closest}); add a case with them equal", left=left,
                                      right=right, original=m.original, mutated=m.mutated, closest=closest))
            return _("turning `{original}` into `{mutated}` changes no expected outcome: add cases where `{context}` "
                     "is true and where it is false, with the outcome each one must have", original=m.original,
                     mutated=m.mutated, context=m.context)
        if m.kind == "literal":
            if not m.hint_data:
                return _("no case sits at the boundary that {original} sets in `{context}`; add cases just at and "
                         "just across it", original=m.original, context=m.context)
            other, value, at, pair, side = m.hint_data
            target = Decimal(value)
            return self.boundary(
                m, self.nearest([(at, pair)], lambda p: (v - target) if (v := p.side(side)) is not None else None),
                f"{other} = {value}", lambda near: f"{other} = {_show_number(near[0].side(side) or 0)}",
                lambda closest: _("no case has {other} = {value}, where `{original}` and `{mutated}` give different "
                                  "results ({closest}); add a case with {other} = {value}", other=other, value=value,
                                  original=m.original, mutated=m.mutated, closest=closest))
        if m.kind == "parameter":
            where, ats = m.hint_data
            param = variants.compiled.model.programs[m.program].parameters[m.name]
            start = param.values[m.version].start
            end = (param.values[m.version + 1].start - dt.timedelta(days=1)
                   if m.version + 1 < len(param.values) else dt.date.max)
            keys = [(at, j) for at in ats for j in range(4)]
            near = self.nearest(keys, lambda p: p.difference, (start, end))
            period = (_("from {start} to {end}", start=start, end=end) if end != dt.date.max
                      else _("from {start}", start=start))
            closest = (_("closest: case '{case}', {distance} from the boundary", case=near[0].case,
                         distance=_show_number(near[1])) if near else _("no case in that period evaluated it"))
            return _("no case dated {period} (while {name} = {value}) sits exactly at the boundary of `{where}` "
                     "({closest}); add a case in that period exactly at {name}", period=period, name=m.name,
                     value=m.original, where="`, `".join(where), closest=closest)
        if m.kind == "connective":
            a, b = m.hint_data
            return _("no case has exactly one of `{a}` and `{b}` true where it matters; add a case where one holds "
                     "and the other does not, and one the other way round", a=a, b=b)
        return _("`{mutated}` never decides a case both ways: add a case where it is true and one where it is false, "
                 "with different expected outcomes", mutated=m.mutated)


def _deps_closure(checked: CheckedSet, key: tuple[str, str]) -> set[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    stack = [key]
    while stack:
        k = stack.pop()
        if k in seen or k not in checked.defs:
            continue
        seen.add(k)
        stack.extend(checked.defs[k].deps)
    return seen


def reached(checked: CheckedSet, observations: list[Observation]) -> dict[tuple[str, str], set[int]]:
    """Map each definition to the observations (by index) whose case evaluates it."""
    out: dict[tuple[str, str], set[int]] = {}
    for i, ob in enumerate(observations):
        if ob.trace is None:
            continue
        for program, step in steps(ob.trace):
            if step["evaluated"]:
                out.setdefault((program, step["name"]), set()).add(i)
        for key in ob.case.expect:
            program, _, name = key.partition(".")
            if name and "[" not in program:
                for k in _deps_closure(checked, (program, name)):
                    out.setdefault(k, set()).add(i)
    return out


def run_mutants(engine: Engine, cases: Sequence[TestCase] | None = None,
                progress: Callable[[int, int, int], None] | None = None) -> MutationReport:
    """Run the mutation check of an engine's policy set over its test cases (or those given).

    Args:
        engine: the unchanged policy set.
        cases: the test cases to run; the policy set's own by default.
        progress: called as progress(done, total, killed) after each mutant.

    Returns:
        A MutationReport listing every mutant with its status, and a hint for each survivor.
    """
    with decimal.localcontext(ENGINE_CONTEXT):  # whatever the caller's decimal context
        return _run_mutants(engine, cases, progress)


def _run_mutants(engine: Engine, cases: Sequence[TestCase] | None,
                 progress: Callable[[int, int, int], None] | None) -> MutationReport:
    cases = list(engine.model.tests if cases is None else cases)
    observations = observe(engine, cases)
    usable = [i for i, ob in enumerate(observations) if ob.passed]
    # An evaluation-error case has no trace to tell what it reaches: it is run against every mutant.
    errors = [i for i in usable if (observations[i].case.expect_error or {}).get("kind") == "evaluation"]
    reach = reached(engine.compiled.checked, observations)
    variants = Variants(engine)
    hints = _Hints(observations)
    mutants = find_mutants(engine)
    where_mutants = find_where_mutants(engine)
    results: list[MutantResult] = []
    kills: dict[int, int] = {}
    killed = 0
    for n, m in enumerate(mutants, 1):
        candidates = _candidates(m, variants, observations, usable, errors, reach)
        if not candidates:
            results.append(MutantResult(m, "unreached", hint=_unreached(m, variants)))
        else:
            ordered = sorted(candidates, key=lambda i: -kills.get(i, 0))  # likely killers first
            by = _run_one(variants, m, [observations[i].case for i in ordered])
            if by is None:
                results.append(MutantResult(m, "survived", hint=hints.hint(m, variants)))
            else:
                killed += 1
                idx = next(i for i in candidates if observations[i].case is by)
                kills[idx] = kills.get(idx, 0) + 1
                results.append(MutantResult(m, "killed", killed_by=by.name))
        if progress is not None:
            progress(n, len(mutants) + len(where_mutants), killed)
    where_cases = [observations[i].case for i in usable
                   if any(k.startswith(WHERE_PREFIX) for k in observations[i].case.expect)]
    for n, m in enumerate(where_mutants, len(mutants) + 1):
        result = _run_where_one(engine, m, where_cases)
        killed += result.status == "killed"
        results.append(result)
        if progress is not None:
            progress(n, len(mutants) + len(where_mutants), killed)
    left_out = tuple(ob.case.name for ob in observations if not ob.passed)
    return MutationReport(tuple(results), len(usable), left_out)


def _candidates(m: Mutant, variants: Variants, observations: list[Observation], usable: list[int],
                errors: list[int], reach: dict[tuple[str, str], set[int]]) -> list[int]:
    if m.kind == "parameter":
        param = variants.compiled.model.programs[m.program].parameters[m.name]
        start = param.values[m.version].start
        nxt = param.values[m.version + 1].start if m.version + 1 < len(param.values) else None
        return [i for i in usable if (observations[i].case.expect_error or {}).get("kind") != "input"
                and start <= observations[i].case.on and (nxt is None or observations[i].case.on < nxt)]
    versions = variants.compiled.checked.defs[m.key].definition.versions
    hit = [i for i in sorted(reach.get(m.key, ())) if version_at(versions, observations[i].case.on) == m.version]
    return hit + [i for i in errors if i not in hit]


def _unreached(m: Mutant, variants: Variants) -> str:
    if m.kind == "parameter":
        param = variants.compiled.model.programs[m.program].parameters[m.name]
        return _("no case is dated while {name} = {value} (from {start})", name=m.name, value=m.original,
                 start=param.values[m.version].start)
    v = variants.compiled.checked.defs[m.key].definition.versions[m.version]
    period = ""
    if v.start or v.until:
        period = _(" on a date from {start} to {end}", start=v.start or _("the start"), end=v.until or _("no end"))
    return _("no case evaluates {label}{period}; add one whose outcome depends on it", label=m.label, period=period)


def _run_where_one(engine: Engine, m: Mutant, cases: list[TestCase]) -> MutantResult:
    """Run a mutant of the where rules against the cases that expect offices."""
    if not cases:
        return MutantResult(m, "unreached", hint="no case expects offices (`where_to_apply.<program>:`); add one")
    where = where_rules(engine)
    assert where is not None  # the mutant was found in them
    try:
        mutated = where_with_trees(where, m.key, _mutated_trees(list(where.checked.defs[m.key].trees), m))
    except Exception:  # a mutant that cannot even be built is noticed by any case
        return MutantResult(m, "killed", killed_by=cases[0].name)
    with where_engine(engine, mutated) as variant:
        for case in cases:
            try:
                passed = run_case(variant, case, quick=True).passed
            except Exception:  # an internal error is a failure of the case too
                passed = False
            if not passed:
                return MutantResult(m, "killed", killed_by=case.name)
    return MutantResult(m, "survived", hint=f"no case expecting offices notices `{m.original}` -> `{m.mutated}`: "
                        "add one whose offices change with it")


def _run_one(variants: Variants, m: Mutant, cases: list[TestCase]) -> TestCase | None:
    """Return the first case the mutant makes fail, or None if it survives them all."""
    try:
        engine = apply(variants, m)
    except Exception:  # a mutant that cannot even be built is noticed by any case
        return cases[0]
    for case in cases:
        try:
            if not run_case(engine, case, quick=True).passed:
                return case
        except Exception:  # an internal error is a failure of the case too
            return case
    return None
