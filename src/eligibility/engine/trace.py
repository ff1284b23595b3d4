"""The decision trace as JSON: the documented contract (docs/reference/trace.md).

Each step is built by a function generated once an engine for its definition's version
(`_step_function`), with what does not change from one decision to the next as literals.
"""

from __future__ import annotations

import datetime as dt
import decimal
import operator
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eligibility.base.numbers import CENT, ENGINE_CONTEXT
from eligibility.compile.helpers import MissingValue, U
from eligibility.compile.unknown import Unknown
from eligibility.engine.facts import Defaulted, stale_warnings
from eligibility.lang.model import Definition, Label, ParamValue, Program
from eligibility.lang.nodes import Attr, BoolOp, Compare, Const, Name, Node, NodeVisitor, Num, TupleLit, walk

if TYPE_CHECKING:
    from eligibility.engine.runtime import Decision, Engine, RecordDecision

SCHEMA = "eligibility.decision/1"
#: The compact trace: the values a decision computed, without what the policy and household say.
COMPACT_SCHEMA = "eligibility.compact/1"


def encode(value: Any, type_: str = "?") -> Any:
    """Encode a value for JSON: Decimal as a canonical string, dates as ISO strings.

    Money is always a decimal string with at least two decimals, even when the policy computed
    it from whole numbers (a literal `0` is `"0.00"`), never a JSON number.
    """
    cls = value.__class__
    if cls is str or cls is bool or value is None or (cls is int and type_ != "money"):
        return value  # the common cases first: as they are
    if cls is list:  # a list of records: its length
        return {"count": len(value)}
    if cls is Decimal:
        text = str(value)  # quicker than format(value, "f"), and the same text unless in exponent form
        if "E" in text:
            text = format(value, "f")
        if type_ == "money":
            if len(text) > 30:  # near the context's 34 digits: as quantize says
                return _encode(value, type_)
            dot = text.find(".")
            if dot < 0 or len(text) - dot == 2:  # fewer than two decimals: quantized to the cent, on the text
                if not text[-1].isdigit():  # not a number
                    return _encode(value, type_)
                text += ".00" if dot < 0 else "0"
        return "0" + text[2:] if text.startswith("-0") and Decimal(text) == 0 else text
    return _encode(value, type_)


def _money(value: Any) -> Any:
    """`encode(value, "money")`, quicker for the common amount: a Decimal with two decimals, not negative."""
    if value.__class__ is Decimal:
        text = str(value)  # ends in "." and two digits: plain notation, the same as format(value, "f")
        n = len(text)
        if 3 < n <= 30 and text[n - 3] == "." and text[0] != "-":
            return text
        if 0 < n <= 27 and text.isdigit():  # a whole amount (a standard of 1282): padded as quantize would
            return text + ".00"
    return encode(value, "money")


def _encode(value: Any, type_: str) -> Any:
    """`encode` of what is not a plain Decimal, string, bool, int or None."""
    cls = value.__class__
    if type_ == "money" and cls is int:
        value = Decimal(value)
    if value.__class__ is Unknown:  # a value that waits on facts not known: which ones
        return {"unknown": sorted(value.paths)}
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, Decimal):
        if type_ == "money":
            exp = value.as_tuple().exponent
            if isinstance(exp, int) and exp >= -2:
                value = value.quantize(CENT, context=ENGINE_CONTEXT)
        text = format(value, "f")
        return "0" + text[2:] if text.startswith("-0") and Decimal(text) == 0 else text
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return {"count": len(value)}
    if value.__class__.__name__ == "MissingValue":
        return None
    if isinstance(value, frozenset):
        return sorted((encode(v) for v in value), key=str)
    return repr(value)


def _label(label: Label | None) -> dict[str, str] | None:
    return {"zh": label.zh, "en": label.en} if label else None


def _source(value: Any, consts: list[Any]) -> str:
    """Python source that builds a fresh copy of a JSON-like value (strings and numbers repr()-ed)."""
    cls = value.__class__
    if value is None or cls is bool or cls is int or cls is str:
        return repr(value)
    if cls is dict and all(k.__class__ is str for k in value):
        return "{" + ", ".join(f"{k!r}: {_source(v, consts)}" for k, v in value.items()) + "}"
    if cls is list:
        return "[" + ", ".join(_source(v, consts) for v in value) + "]"
    consts.append(value)  # anything else is shared, as a copied dict would share it
    return f"K[{len(consts) - 1}]"


def _template(fields: dict[str, Any], args: Sequence[str] = ()) -> Callable[..., dict[str, Any]]:
    """A function that builds one kind of trace entry: a fresh dict with these keys in this order.

    The static values are literals in its code (built once an engine, each call builds new dicts:
    every trace owns its dicts); the values of the keys named in `args` are its arguments, in
    that order. The trace's code generator: policy text enters the code only as repr()-ed literals.
    """
    consts: list[Any] = []
    names = {key: f"a{i}" for i, key in enumerate(args)}
    body = ", ".join(f"{key!r}: {names[key] if key in names else _source(v, consts)}" for key, v in fields.items())
    code = compile(f"lambda {', '.join(names.values())}: {{{body}}}", "<eligibility trace template>", "eval")
    made: Callable[..., dict[str, Any]] = eval(code, {"__builtins__": {}, "K": consts})
    return made


#: What the generated step function needs of one input entry made of a recorded value: the entry's
#: fields, the node's loop depth, the type its value is encoded as (None: as it is), the labels
#: of an enum's values, and the path of a household fact (None: not a fact)
_Spec = tuple[dict[str, Any], int, str | None, Callable[[Any], dict[str, str] | None] | None, str | None] | None
#: A step of a program: (its definition, index, type, whether dated, and, for a definition with one
#: version and no record list, its outcomes when true and when false: ("", "") computed)
_StepPlan = tuple[Definition, int, str, bool, tuple[str, str] | None]
#: A comparison's operand that is a string literal compared with an enum: (the label of that value,)
_Override = tuple[dict[str, str] | None] | None
_STEP_ARGS = ("evaluated", "needed", "outcome", "error", "value", "inputs", "comparisons", "not_evaluated")


def _literal(node: Node) -> Any:
    """The value of a literal node, as the generated code holds it."""
    if isinstance(node, Num):
        return int(node.value) if node.is_int else node.value
    if isinstance(node, Const):
        return node.value
    return frozenset((int(i.value) if i.is_int else i.value) if isinstance(i, Num) else i.value
                     for i in node.items)  # type: ignore[attr-defined]


def _item_path(lists: tuple[str, ...], idx: tuple[int, ...]) -> str:
    """The records of the enclosing loops: household.members[0], household.obligors[1]."""
    return ", ".join(f"household.{lst}[{i}]" for lst, i in zip(lists, idx, strict=False))


class _Side:
    """One operand of a comparison, as the trace shows it."""

    __slots__ = ("enum", "label", "literal", "nid", "raw", "type", "value")

    def __init__(self, node: Node, nid: int | None, label: dict[str, str] | None,
                 enum: Callable[[Any], dict[str, str] | None] | None) -> None:
        self.literal = isinstance(node, Num | Const | TupleLit)
        self.value = _literal(node) if self.literal else None
        self.nid = nid
        self.raw = node.text
        self.type = node.type
        self.enum = enum
        self.label = label


class _ComparePlan:
    __slots__ = ("at", "depth", "lists", "nid", "pairs", "sides", "text")

    def __init__(self, text: str, at: str, nid: int | None, depth: int, lists: tuple[str, ...],
                 sides: list[_Side], pairs: list[tuple[str, int, str, _Override, _Override]]) -> None:
        self.text, self.at, self.nid, self.depth, self.lists = text, at, nid, depth, lists
        self.sides, self.pairs = sides, pairs


class _TreePlan:
    """What the trace shows of one expression tree, worked out once an engine."""

    __slots__ = ("boolops", "compares", "inputs")

    def __init__(self) -> None:
        #: (node number, the entry's key when it is one entry, its builder or its spec), parents first
        self.inputs: list[tuple[int, Any, Callable[..., Any] | None, _Spec]] = []
        self.compares: list[_ComparePlan] = []
        #: (number of an and/or node, ((number or None, text) of each operand that is not a literal))
        self.boolops: list[tuple[int | None, tuple[tuple[int | None, str], ...]]] = []


class _Builder(NodeVisitor):
    """One trace being built: what the decision recorded, read by the engine's generated step functions.

    As a pass over expression nodes (one visit method a node type), it works out once an engine what
    the trace shows of an expression (`plan`): the inputs its names and attributes stand for, its
    comparisons and the operands of its `and`/`or`.
    """

    @staticmethod
    def plan(engine: Engine, program: Program, tree: Node) -> _TreePlan:
        """What the trace shows of an expression, for its generated step function."""
        found = _TreePlan()
        numbers = engine.compiled.generated.node_ids
        visitor = _Builder.__new__(_Builder)  # a pass over the tree only: no decision needed
        for node in walk(tree):
            visitor.visit(node, found, engine, program, numbers.get(id(node)))
        return found

    def visit_Num(self, node: Node, plan: _TreePlan, engine: Engine, program: Program, nid: int | None) -> None:
        """Literals, operators and calls are not inputs: their operands are."""

    visit_Const = visit_TupleLit = visit_BinOp = visit_Unary = visit_IfExp = visit_Gen = visit_Call = visit_Num

    def visit_Name(self, node: Node, plan: _TreePlan, engine: Engine, program: Program, nid: int | None) -> None:
        made = _input(engine, program, node, nid) if nid is not None else None
        if made is not None:
            plan.inputs.append((nid, *made))  # type: ignore[arg-type]

    visit_Attr = visit_Name

    def visit_Compare(self, node: Compare, plan: _TreePlan, engine: Engine, program: Program,
                      nid: int | None) -> None:
        plan.compares.append(_compare_plan(engine, program, node, nid))

    def visit_BoolOp(self, node: BoolOp, plan: _TreePlan, engine: Engine, program: Program,
                     nid: int | None) -> None:
        numbers = engine.compiled.generated.node_ids
        plan.boolops.append((nid, tuple((numbers.get(id(v)), " ".join(v.text.split())) for v in node.values
                                        if not isinstance(v, Num | Const | TupleLit))))

    def __init__(self, engine: Engine, decision: Decision, facts: dict[str, Any],
                 defaulted: Sequence[str], memo: list[Any], recorded: dict[int, Any],
                 params: tuple[list[Any], list[ParamValue | None]]) -> None:
        self.engine = engine
        self.decision = decision
        self.facts = facts
        # the engine's lazy list of paths formats them all in one call of a slice
        self.defaulted = set(defaulted[:] if isinstance(defaulted, Defaulted | list | tuple) else defaulted)
        self.provenance = decision.provenance
        # What the decision evaluated; `complete` makes a scratch copy where the rules it did
        # not need are evaluated too (only when there are some), so the trace can show every
        # rule's outcome without changing what the decision itself records.
        self.needed_memo = memo
        self.needed_rec = recorded
        self.memo = memo
        self.rec = recorded
        self.scratch = False
        self.errors: dict[int, str] = {}
        self.sources: dict[str, Any] = {}  # every source the trace cites, for its `sources` table
        self.pv, self.used = params
        self.static = _static(engine)
        #: node number -> {record index: its first recorded value}, for the comparisons made per record
        self.indexed: dict[int, dict[tuple[int, ...], Any]] = {}
        #: list name -> (id, item label, path) of each of its records
        self.listed: dict[str, list[tuple[int, str, str]]] = {}

    def complete(self, program: Program, rules: tuple[int, ...]) -> None:
        """Evaluate, in the scratch copy, every household-level rule the decision skipped."""
        from eligibility.base.errors import EligibilityError, EvaluationError

        ns = self.engine.compiled.namespace
        for k in rules:
            if self.memo[k] is not U:
                continue
            if not self.scratch:
                self.scratch = True
                self.memo = [dict(v) if isinstance(v, dict) else v for v in self.memo]
                self.rec = {n: (list(v) if isinstance(v, list) else v) for n, v in self.rec.items()}
            try:
                ns[f"t{k}"](self.facts, self.pv, self.memo, self.decision.on, self.rec)
            except EligibilityError as e:  # a trace records messages in English, whatever the language
                self.errors[k] = e.english if isinstance(e, EvaluationError) else str(e)
            except Exception as exc:  # the decision did not need it; say why it cannot be shown
                self.errors[k] = self.engine._evaluation_error(exc, self.decision.on, self.facts).english

    def once(self, nid: int, depth: int) -> Any:
        """A household-level value recorded inside a loop is the same for every item: the first one."""
        once = self.rec[nid]
        if depth > 0 and isinstance(once, list):
            return once[0][1] if once else None
        return once

    def records(self, lst: str) -> list[tuple[int, str, str]]:
        """(id, item label, path) of each record of a list: what a value decided per record is shown with."""
        found = self.listed.get(lst)
        if found is None:
            found = self.listed[lst] = []
            for i, rec in enumerate(self.facts.get(lst) or []):
                rid = rec.get("id")
                found.append((id(rec), f"{lst}[{i}]" + (f" ({rid})" if isinstance(rid, str) else ""),
                              f"household.{lst}[{i}]"))
        return found

    def item_label(self, lists: tuple[str, ...], idx: tuple[int, ...]) -> str:
        parts = []
        for lst, i in zip(lists, idx, strict=False):
            records = self.facts.get(lst)
            rid = records[i].get("id") if isinstance(records, list) and i < len(records) else None
            parts.append(f"{lst}[{i}]" + (f" ({rid})" if isinstance(rid, str) else ""))
        return ", ".join(parts)

    def value_at(self, nid: int, values: list[tuple[tuple[int, ...], Any]], idx: tuple[int, ...]) -> Any:
        """The first value a node recorded for a record (a dict a node: no search of the list a comparison)."""
        found = self.indexed.get(nid)
        if found is None:
            found = self.indexed[nid] = {}
            for i, x in values:
                if i not in found:
                    found[i] = x
        return found.get(idx)

    def step(self, program: Program, d: Definition, k: int, type_: str, dated: bool,
             plain: tuple[str, str] | None) -> dict[str, Any]:
        value = self.memo[k]
        if plain is not None and value is not U and value.__class__ is not MissingValue and k not in self.errors:
            # the common step: one version, no record list, evaluated without error
            template = self.static.steps.get((k, 0))
            if template is None:
                template = self.static.steps[(k, 0)] = _static_step(self.engine, self.static, program, d, type_,
                                                                    0, True, dated)
            make, source, fn = template
            if source is not None:
                self.sources[source.id] = source
            if value.__class__ is Unknown:
                outcome = "unknown"
            elif plain[0]:
                outcome = plain[0] if value else plain[1]
            else:
                outcome = "computed"
            cls = value.__class__
            shown = value if cls is bool or cls is str else _money(value) if type_ == "money" \
                else encode(value, type_)
            if fn is not None:
                return fn(self, self.rec, self.needed_rec, True, self.needed_memo[k] is not U, outcome, None, shown)
            return make(True, self.needed_memo[k] is not U, outcome, None, shown, [], [], [])
        if value.__class__ is MissingValue:  # a bare parameter with no value on the date
            self.errors.setdefault(k, self.engine._missing_message(value.index, self.decision.on))
            value = None
        evaluated = value is not U
        needed = self.needed_memo[k] is not U
        per_record = None
        if d.each is not None and evaluated:
            per_record = []
            for key, item, path in self.records(d.each[1]):
                if key in value:
                    v = value[key]
                    if v.__class__ is MissingValue:
                        self.errors.setdefault(k, self.engine._missing_message(v.index, self.decision.on))
                        v = None
                    per_record.append({"item": item, "path": path, "value": encode(v, type_),
                                       "outcome": _outcome(d, v)})
        vi: int | None
        if not evaluated:
            vi = None
        elif dated:  # the version the traced code took, or None: none in force
            version_index: Any = self.rec.get(-(k + 1), 0)
            vi = int(version_index) if version_index is not None else None
        else:
            vi = 0
        in_force = not (dated and evaluated and vi is None)
        static_key = (k, vi if in_force else None)
        template = self.static.steps.get(static_key)
        if template is None:
            template = self.static.steps[static_key] = _static_step(self.engine, self.static, program, d, type_,
                                                                    vi, in_force, dated)
        make, source, fn = template
        if source is not None:
            self.sources[source.id] = source
        if k in self.errors:
            outcome = "error"
        elif not evaluated:
            outcome = "not_evaluated"
        elif not in_force:
            outcome = "not_in_force"
        elif per_record is not None:
            outcome = "per_record"
        else:
            outcome = _outcome(d, value)
        shown = None
        if evaluated and in_force:
            shown = per_record if per_record is not None else _money(value) if type_ == "money" \
                else encode(value, type_)
        if fn is not None and evaluated and in_force:  # the step's generated function: inputs, comparisons
            return fn(self, self.rec, self.needed_rec, evaluated, needed, outcome, self.errors.get(k), shown)
        return make(evaluated, needed, outcome, self.errors.get(k), shown, [], [], [])

    def program(self, name: str) -> dict[str, Any]:
        prog = self.engine.model.programs[name]
        steps, rules = _program_plan(self.engine, self.static, prog)
        self.complete(prog, rules)
        self.indexed.clear()
        pd = self.decision.programs[name]
        has_amount = prog.amount is not None
        return {
            "title": _label(prog.title), "eligible": pd.eligible,
            "amount": encode(pd.amount, "money") if pd.amount is not None else None,
            "tier": pd.tier,
            "error": pd.error.english if pd.error is not None else None,
            "unknown": list(pd.unknown),
            "undetermined": _undetermined(pd.eligible, pd.amount, pd.tier_unknown, has_amount, pd.error is None),
            "tier_unknown": list(pd.tier_unknown),
            "members": [{"index": r.index, "id": r.id, "eligible": r.eligible,
                         "amount": encode(r.amount, "money") if r.amount is not None else None, "tier": r.tier,
                         "unknown": list(r.unknown), **_member_waits(r, has_amount)}
                        for r in pd.members] if pd.members is not None else None,
            "jurisdiction": prog.jurisdiction, "file": prog.file, "layers": list(prog.layers),
            **({"role": prog.role} if prog.role != "benefit" else {}),
            "steps": [self.step(prog, d, k, type_, dated, plain) for d, k, type_, dated, plain in steps],
        }

    def build(self) -> dict[str, Any]:
        m = self.engine.model
        programs = {name: self.program(name) for name in self.decision.programs}
        return {
            "schema": SCHEMA,
            "library_version": self.decision.library_version,
            "decided_for": self.decision.on.isoformat(),
            "policy": {"hash": m.hash, "jurisdiction": m.jurisdiction, "files": dict(m.file_hashes)},
            "warnings": self.engine.warning_records(tuple(self.decision.programs), self.decision.on)
            + stale_warnings(m.facts, self.decision.provenance),
            "defaulted": sorted(self.defaulted),
            "unknown": list(self.decision.unknown_facts),
            "provenance": {path: dict(meta) for path, meta in sorted(self.decision.provenance.items())},
            "programs": programs,
            "sources": {sid: self.sources[sid].to_json() for sid in sorted(self.sources)},
            **({"labels": m.labels} if m.labels else {}),
        }


class _Static:
    """What the trace reads of the checked model, the same for every decision of an engine: built once."""

    def __init__(self) -> None:
        #: program name -> (each step's plan, the household-level rules)
        self.programs: dict[str, tuple[list[_StepPlan], tuple[int, ...]]] = {}
        #: (definition index, version index or None) -> (the step's template, its source, and the function
        #: that builds the step with what its expression read, when the version has an expression)
        self.steps: dict[tuple[int, int | None], tuple[Callable[..., dict[str, Any]], Any,
                                                       Callable[..., dict[str, Any]] | None]] = {}


def _static(engine: Engine) -> _Static:
    """The engine's static trace tables (its checked trees live as long as it does)."""
    found: _Static | None = engine.__dict__.get("_trace_static")
    if found is None:
        found = engine.__dict__["_trace_static"] = _Static()
    return found


def _program_plan(engine: Engine, static: _Static, prog: Program) -> tuple[list[_StepPlan], tuple[int, ...]]:
    """A program's steps in the trace's order, and the household-level rules a trace completes."""
    found = static.programs.get(prog.name)
    if found is None:
        gen = engine.compiled.generated
        defs = engine.compiled.checked.defs
        steps = []
        for d in [*prog.definitions.values(), prog.eligible] + [d for d in (prog.amount, prog.tier) if d]:
            key = (prog.name, d.name)
            dated = len(d.versions) > 1 or d.versions[0].start is not None or d.versions[0].until is not None
            # one version and no record list: its outcome when true and when false ("" when computed)
            outcomes = ("passed", "failed") if d.kind == "rule" else ("eligible", "not_eligible") \
                if d.name == "eligible" and d.kind == "output" else ("", "")
            steps.append((d, gen.def_index[key], defs[key].type, dated,
                          outcomes if not dated and d.each is None else None))
        rules = tuple(gen.def_index[(prog.name, d.name)] for d in prog.definitions.values()
                      if d.kind == "rule" and d.each is None)
        found = static.programs[prog.name] = (steps, rules)
    return found


def _no_template(*args: Any) -> dict[str, Any]:
    raise AssertionError("a step with a generated function is built by it")


def _static_step(engine: Engine, static: _Static, program: Program, d: Definition, type_: str, vi: int | None,
                 in_force: bool, dated: bool) -> tuple[Callable[..., dict[str, Any]], Any,
                                                       Callable[..., dict[str, Any]] | None]:
    """The part of a step that depends only on the definition and its version: built once an engine."""
    src = None
    if in_force and vi is not None and d.versions[vi].source:
        src = d.versions[vi].source
    src = src or d.source
    source = program.sources.get(src) if src else None
    version = d.versions[vi] if (vi is not None and in_force) else d.versions[0]
    step: dict[str, Any] = {
        "name": d.name, "kind": d.kind, "title": _label(d.title), "type": type_,
        "at": str(d.span), "layer": d.file,
        "source": source.to_json() if source else None, "article": d.article,
        "expression": version.expr.text.strip(),
        "version": ({"from": version.start.isoformat() if version.start else None,
                     "until": version.until.isoformat() if version.until else None} if dated else None),
        "evaluated": None, "needed": None, "outcome": None,
        "used_by": _used_by(engine, program.name).get(d.name, []),
        "error": None, "value": None,
        "each": f"{d.each[0]} in household.{d.each[1]}" if d.each else None,
        "rounding": ({"to": encode(d.rounding.step), "mode": d.rounding.mode} if d.rounding else None),
        "inputs": None, "comparisons": None, "not_evaluated": None,
    }
    if in_force and vi is not None:
        tree = engine.compiled.checked.defs[(program.name, d.name)].trees[vi]
        if tree is not None:  # always evaluated and in force: the generated function makes the whole step
            return _no_template, source, _step_function(step, _Builder.plan(engine, program, tree))
    return _template(step, _STEP_ARGS), source, None


def _encoded(name: str, type_: str) -> str:
    """Source encoding a variable's value as `encode(value, type_)` does: in line when it is as it is."""
    cls = {"bool": "bool", "?": "bool", "integer": "int", "string": "str"}.get(type_)
    if cls is None and type_.startswith("enum:"):
        cls = "str"
    call = f"enc({name})" if type_ == "?" else f"money({name})" if type_ == "money" else f"enc({name}, {type_!r})"
    return f"({name} if {name}.__class__ is {cls} else {call})" if cls else call


def _compare_source(op: str, left_literal: bool, right_literal: bool) -> list[str]:
    """Source setting `res` to `_compare(op, lv, rv)`, the comparison made in line when neither side is unknown."""
    python = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "!=": "!=", "in": "in", "not in": "not in"}
    if op not in python:
        return [f"res = cmp({op!r}, lv, rv)"]
    unknown = [f"{side}.__class__ is Unknown" for side, literal in (("lv", left_literal), ("rv", right_literal))
               if not literal]
    lines = []
    indent = ""
    if unknown:
        lines += [f"if {' or '.join(unknown)}:", f"    res = cmp({op!r}, lv, rv)", "else:"]
        indent = "    "
    return [*lines, f"{indent}try:", f"{indent}    res = bool(lv {python[op]} rv)",
            f"{indent}except (TypeError, ArithmeticError):", f"{indent}    res = None"]


def _step_function(fields: dict[str, Any], plan: _TreePlan) -> Callable[..., dict[str, Any]]:
    """Generate the function that builds one step of a definition's version: the trace's code generator.

    The step's static part, and the static part of each input and comparison, are literals in the
    function's code; what a decision recorded is read in line (`rec[12]`), with no walk of the
    expression and no search (a comparison made per record finds its operands by record index).
    Parameters and the inputs a decision records per record are built by the plan's functions.
    Policy text enters the code only as repr()-ed literals.
    """
    consts: list[Any] = []

    def const(value: Any) -> str:
        consts.append(value)
        return f"K[{len(consts) - 1}]"

    def lit(value: Any) -> str:  # a fresh copy of a JSON-like value at every call
        return _source(value, consts)

    def entry(values: dict[str, Any], dynamic: dict[str, str]) -> str:
        return "{" + ", ".join(f"{k!r}: {dynamic[k] if k in dynamic else lit(v)}" for k, v in values.items()) + "}"

    out = ["def step(b, rec, nrec, a0, a1, a2, a3, a4):", "    inputs = []"]
    if any(key is None for _, key, _, _ in plan.inputs):
        out.append("    seen = set()")
    if any(spec is not None and spec[4] is not None for _, _, _, spec in plan.inputs):
        out.append("    dfl = b.defaulted; prov = b.provenance")
    earlier: dict[Any, list[int]] = {}
    for nid, key, build, spec in plan.inputs:
        if key is None:  # entries per record: their builder dedups by record
            out.append(f"    if {nid} in rec: {const(build)}(b, {nid}, seen, inputs)")
            continue
        before = earlier.setdefault(key, [])
        cond = " and ".join([f"{nid} in rec", *(f"{n} not in rec" for n in before)])
        before.append(nid)
        if spec is None:
            out.append(f"    if {cond}: inputs.append({const(build)}(b, {nid}))")
            continue
        values, depth, type_, enum, rel = spec
        out.append(f"    if {cond}:")
        out.append(f"        x = rec[{nid}]" if depth == 0 else f"        x = b.once({nid}, {depth})")
        dynamic = {"value": _encoded("x", type_ or "?")}
        if rel is None:
            out.append(f"        inputs.append({entry(values, dynamic)})")
            continue
        dynamic["value_label"] = f"{const(enum)}(x)" if enum is not None else "None"
        dynamic["defaulted"] = f"{rel!r} in dfl"
        out.append(f"        e = {entry(values, dynamic)}")
        out.append(f"        if prov and (m := prov.get({rel!r})): e['provenance'] = dict(m)")
        out.append("        inputs.append(e)")
    out.append("    comparisons = []")
    for cp in plan.compares:
        unevaluated = entry({"expression": cp.text, "at": cp.at, "evaluated": False}, {})
        if cp.nid is None:
            out.append(f"    comparisons.append({unevaluated})")
            continue
        per_record = cp.depth > 0
        out.append(f"    if {cp.nid} in rec:")
        indent = "        "
        if per_record:  # one entry a record the comparison was made for, its operands looked up by the record
            out.append("        items = []")
            out.append(f"        for idx, r in rec[{cp.nid}]:")
            indent = "            "
            for i, s in enumerate(cp.sides):
                if not s.literal and s.nid is not None:
                    out += [f"{indent}k{i} = {s.nid} in rec", f"{indent}if k{i}:", f"{indent}    v{i} = rec[{s.nid}]",
                            f"{indent}    if isinstance(v{i}, list):",
                            f"{indent}        v{i} = b.value_at({s.nid}, v{i}, idx)",
                            f"{indent}        k{i} = v{i} is not None"]
        out.append(f"{indent}pairs = []")
        for op, i, diff, lov, rov in cp.pairs:
            sides = (cp.sides[i], cp.sides[i + 1])
            skipped = entry({"op": op, "left": {"expression": sides[0].raw}, "right": {"expression": sides[1].raw},
                             "evaluated": False}, {})
            if any(not s.literal and s.nid is None for s in sides):
                # an operand never recorded: the pair is never evaluated
                out.append(f"{indent}pairs.append({skipped})")
                continue
            known = [(f"k{n}" if per_record else f"{s.nid} in rec") for n, s in ((i, sides[0]), (i + 1, sides[1]))
                     if not s.literal]
            inner = indent
            if known:
                out.append(f"{indent}if {' and '.join(known)}:")
                inner = indent + "    "
            shown = []
            for n, s, name, override in ((i, sides[0], "lv", lov), (i + 1, sides[1], "rv", rov)):
                literal = repr(s.value) if s.value.__class__ in (int, bool, str) else const(s.value)
                out.append(f"{inner}{name} = {literal if s.literal else f'v{n}' if per_record else f'rec[{s.nid}]'}")
                if override is not None:
                    label = lit(override[0])
                elif s.enum is not None:
                    label = f"{const(s.enum)}({name})"
                else:
                    label = "None"
                text = " ".join(s.raw.split())
                value = lit(encode(s.value, s.type)) if s.literal else _encoded(name, s.type)
                shown.append(entry({"expression": text, "label": s.label, "value": None, "value_label": None},
                                   {"value": value, "value_label": label}))
            out.extend(inner + line for line in _compare_source(op, sides[0].literal, sides[1].literal))
            out.append(f"{inner}e = {{'op': {op!r}, 'left': {shown[0]}, 'right': {shown[1]}, 'evaluated': True, "
                       "'result': res}")
            out.append(f"{inner}if isinstance(lv, NUM) and isinstance(rv, NUM) "
                       "and not isinstance(lv, bool) and not isinstance(rv, bool):")
            out.append(f"{inner}    e['difference'] = enc(Decimal(lv) - Decimal(rv), {diff!r})")
            out.append(f"{inner}pairs.append(e)")
            if known:
                out.append(f"{indent}else:")
                out.append(f"{indent}    pairs.append({skipped})")
        if per_record:
            item = entry({"item": None, "path": None, "pairs": None, "result": None},
                         {"item": f"b.item_label({const(cp.lists)}, idx)", "path": f"path({const(cp.lists)}, idx)",
                          "pairs": "pairs", "result": _encoded("r", "?")})
            out.append(f"{indent}items.append({item})")
            evaluated = entry({"expression": cp.text, "at": cp.at, "evaluated": True, "items": None},
                              {"items": "items"})
            out.append(f"        comparisons.append({evaluated})")
            out.append("    else:")
            out.append(f"        comparisons.append({unevaluated})")
            continue
        evaluated = entry({"expression": cp.text, "at": cp.at, "evaluated": True, "pairs": None, "result": None},
                          {"pairs": "pairs", "result": _encoded("r", "?")})
        out.append(f"        r = rec[{cp.nid}]")
        out.append(f"        comparisons.append({evaluated})")
        out.append("    else:")
        out.append(f"        comparisons.append({unevaluated})")
    out.append("    skipped = []")
    for bnid, operands in plan.boolops:
        if bnid is None or not operands:
            continue
        out.append(f"    if {bnid} in nrec:")
        for vnid, text in operands:
            out.append(f"        {'' if vnid is None else f'if {vnid} not in nrec: '}skipped.append({text!r})")
    dynamic = {key: f"a{i}" for i, key in enumerate(_STEP_ARGS[:5])}
    dynamic.update(inputs="inputs", comparisons="comparisons", not_evaluated="skipped")
    out.append(f"    return {entry(fields, dynamic)}")
    namespace: dict[str, Any] = {"K": consts, "enc": encode, "money": _money, "cmp": _compare, "Decimal": Decimal,
                                 "Unknown": Unknown, "NUM": (Decimal, int), "path": _item_path}
    exec(compile("\n".join(out) + "\n", "<eligibility trace step>", "exec"), namespace)
    made: Callable[..., dict[str, Any]] = namespace["step"]
    return made


def _used_by(engine: Engine, program: str) -> dict[str, list[str]]:
    """For each definition of a program, the outputs whose expressions reach it."""
    cache: dict[str, dict[str, list[str]]] = engine.__dict__.setdefault("_used_by", {})
    if program in cache:
        return cache[program]
    defs = engine.compiled.checked.defs
    found: dict[str, list[str]] = {}
    for out in ("eligible", "amount", "tier"):
        stack = [(program, out)]
        seen: set[tuple[str, str]] = set()
        while stack:
            key = stack.pop()
            if key in seen or key not in defs:
                continue
            seen.add(key)
            if key[0] == program:
                found.setdefault(key[1], []).append(out)
            stack.extend(defs[key].deps)
    cache[program] = found
    return found


def _compare_plan(engine: Engine, program: Program, node: Compare, nid: int | None) -> _ComparePlan:
    numbers = engine.compiled.generated.node_ids
    info = engine.compiled.generated.nodes[nid] if nid is not None else None
    items = [node.left, *node.comparators]
    sides = [_Side(it, numbers.get(id(it)), _label_of(engine, it, program), _enum(engine, it)) for it in items]
    pairs: list[tuple[str, int, str, _Override, _Override]] = []
    for i, op in enumerate(node.ops):
        overrides: list[_Override] = []
        for lit, other in ((items[i], items[i + 1]), (items[i + 1], items[i])):
            # A string literal compared with an enum field reads as that value's label.
            label = _enum(engine, other) if isinstance(lit, Const) and isinstance(lit.value, str) else None
            overrides.append((label(lit.value) if label is not None else None,)
                             if isinstance(lit, Const) and isinstance(lit.value, str) else None)
        pairs.append((op, i, "money" if "money" in (items[i].type, items[i + 1].type) else "decimal",
                      overrides[0], overrides[1]))
    return _ComparePlan(" ".join(node.text.split()), str(node.span), nid, info.depth if info else 0,
                        info.loop_lists if info else (), sides, pairs)


def _input(engine: Engine, program: Program, node: Node,
           nid: int) -> tuple[Any, Callable[..., Any] | None, _Spec] | None:
    """The trace entries a recorded name or attribute stands for: their key (None: per record), and either
    a function building them or, for one entry made of a recorded value, its spec (what the generated
    step function writes in line).

    Literals, operators and calls are not inputs: their operands are.
    """
    gen = engine.compiled.generated
    info = gen.nodes[nid]
    depth = info.depth
    type_ = node.type
    ref = node.ref if isinstance(node, Name | Attr) else ()
    kind = ref[0] if ref else None
    if isinstance(node, Name):
        if kind == "param":
            j = gen.param_index[(program.name, node.id)]
            param = program.parameters[node.id]
            ptype, psource, pspan = param.type, param.source, str(param.span)
            make = _template({"kind": "parameter", "name": node.id, "title": _label(param.title), "value": None,
                              "unit": param.unit, "from": None, "source": None, "note": None, "at": None},
                             ("value", "from", "source", "note", "at"))

            #: id(the dated value used) -> (it, kept alive so that its id stays its own, and what the entry says
            #: of it, and the value read with its encoding: the same value object gives the same text)
            said: dict[int, tuple[ParamValue | None, str | None, str | None, str | None, str, bool, Any, Any]] = {}

            def parameter(b: _Builder, nid: int) -> dict[str, Any]:
                pv = b.used[j]
                value = b.pv[j]
                hit = said.get(id(pv))
                if hit is None or hit[0] is not pv or hit[6] is not value:
                    sid = pv.source if pv and pv.source else psource
                    hit = said[id(pv)] = (pv, pv.start.isoformat() if pv else None, sid, pv.note if pv else None,
                                          str(pv.span) if pv else pspan, bool(sid and sid in program.sources),
                                          value, encode(value, ptype))
                if hit[5]:  # the source it cites, for the trace's `sources` table
                    b.sources[hit[2]] = program.sources[hit[2]]  # type: ignore[index]
                shown = hit[7]
                if shown.__class__ is list or shown.__class__ is dict:  # each trace owns its lists and dicts
                    shown = encode(value, ptype)
                return make(shown, hit[1], hit[2], hit[3], hit[4])
            return ("parameter", node.id), parameter, None
        if kind == "def":
            d = program.definitions.get(node.id) or getattr(program, node.id)
            fields = {"kind": d.kind, "name": node.id, "title": _label(d.title), "value": None}
            return (d.kind, node.id), None, (fields, depth, type_, None, None)
        if kind == "decision_date":
            fields = {"kind": "decision_date", "name": "decision_date", "value": None}
            return ("decision_date", "decision_date"), None, (fields, depth, None, None, None)
        return None
    label = _label_of(engine, node, program)
    if kind == "program":
        name = f"{ref[1]}.{ref[2]}"
        fields = {"kind": "program", "name": name, "title": label, "value": None}
        return ("program", name), None, (fields, depth, type_, None, None)
    enum = _enum(engine, node)
    if kind in ("fact", "list"):
        rel = ref[1]
        fields = {"kind": "fact", "path": f"household.{rel}", "title": label, "value": None,
                  "value_label": None, "defaulted": None}
        return ("fact", f"household.{rel}"), None, (fields, depth, type_, enum, rel)
    if depth == 0 or kind not in ("recdef", "field"):
        return None
    var = ref[1]
    if var in info.loop_vars:
        at = len(info.loop_vars) - 1 - info.loop_vars[::-1].index(var)
        lst = info.loop_lists[at]

        def path_of(idx: tuple[int, ...]) -> str:
            return f"household.{lst}[{idx[at]}]"
    else:
        lists = info.loop_lists

        def path_of(idx: tuple[int, ...]) -> str:
            return _item_path(lists, idx)
    if kind == "recdef":
        prog_name, def_name = ref[4], ref[2]
        target = engine.model.programs[prog_name]
        d = target.definitions.get(def_name) or getattr(target, def_name)
        make = _template({"kind": d.kind if d.kind != "output" else "program",
                          "name": def_name if prog_name == program.name else f"{prog_name}.{def_name}",
                          "path": None, "title": label, "value": None}, ("path", "value"))

        def per_record(b: _Builder, nid: int, seen: set[Any], out: list[dict[str, Any]]) -> None:
            for idx, v in b.rec[nid]:
                key = ("recdef", prog_name, def_name, idx)
                if key not in seen:
                    seen.add(key)
                    out.append(make(path_of(idx), encode(v, type_)))
        return None, per_record, None
    name = ref[2]
    make = _template({"kind": "fact", "path": None, "title": label, "value": None, "value_label": None,
                      "defaulted": None}, ("path", "value", "value_label", "defaulted"))

    def field(b: _Builder, nid: int, seen: set[Any], out: list[dict[str, Any]]) -> None:
        for idx, v in b.rec[nid]:
            key = ("fact", name, idx)
            if key in seen:
                continue
            seen.add(key)
            path = path_of(idx) + "." + name
            rel = path[len("household."):]
            entry = make(path, encode(v, type_), enum(v) if enum is not None else None, rel in b.defaulted)
            meta = b.provenance.get(rel)
            if meta:
                entry["provenance"] = dict(meta)
            out.append(entry)
    return None, field, None


def _enum(engine: Engine, node: Node) -> Callable[[Any], dict[str, str] | None] | None:
    """For a node reading an enum fact or field: the label of a value (None: the node reads no enum)."""
    if not isinstance(node, Attr) or not node.ref or not node.type.startswith("enum:"):
        return None
    vocab = engine.model.facts
    if node.ref[0] == "fact":
        spec = vocab.field(node.ref[1])
    else:
        lst = vocab.field(node.ref[3])
        spec = lst.field(node.ref[2]) if lst else None
    values = tuple(spec.values) if spec else ()
    table: dict[str, Label | None] = {}
    for v, label in values:
        if v.__class__ is str and v not in table:
            table[v] = label

    def enum_label(value: Any) -> dict[str, str] | None:
        if value.__class__ is str:
            return _label(table.get(value))
        if value.__class__ is Unknown:
            return None
        for v, label in values:
            if v == value:
                return _label(label)
        return None
    return enum_label


def _label_of(engine: Engine, node: Node, program: Program) -> dict[str, str] | None:
    """The label of what a node reads (a fact, parameter or value)."""
    vocab = engine.model.facts
    if isinstance(node, Name) and node.ref:
        if node.ref[0] == "param":
            return _label(program.parameters[node.id].title)
        if node.ref[0] == "def":
            d = program.definitions.get(node.id)
            return _label(d.title) if d else None
    if isinstance(node, Attr) and node.ref:
        if node.ref[0] in ("fact", "list"):
            f = vocab.field(node.ref[1])
            return _label(f.label) if f else None
        if node.ref[0] == "field":
            lst = vocab.field(node.ref[3])
            f = lst.field(node.ref[2]) if lst else None
            return _label(f.label) if f else None
        if node.ref[0] == "recdef":
            target = engine.model.programs[node.ref[4]]
            d = target.definitions.get(node.ref[2])
            return _label(d.title) if d else None
        if node.ref[0] == "program":
            other = engine.model.programs[node.ref[1]]
            if node.ref[2] in other.definitions:
                return _label(other.definitions[node.ref[2]].title)
            t = other.title
            word = {"eligible": ("符合条件", "eligible"), "amount": ("金额", "amount"),
                    "tier": ("层级", "tier")}[node.ref[2]]
            return {"zh": f"{t.zh}{word[0]}", "en": f"{t.en}: {word[1]}"}
    return None


def _outcome(d: Definition, value: Any) -> str:
    """A rule's or an output's outcome from its value: unknown when it waits on unknown facts."""
    if value.__class__ is Unknown:
        return "unknown"
    if d.kind == "rule":
        return "passed" if value else "failed"
    if d.name == "eligible" and d.kind == "output":
        return "eligible" if value else "not_eligible"
    return "computed"


_OPS: dict[str, Callable[[Any, Any], Any]] = {
        "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
        "!=": operator.ne, "in": lambda a, b: a in b, "not in": lambda a, b: a not in b}


def _compare(op: str, left: Any, right: Any) -> Any:
    """Re-evaluate one recorded comparison (the replay the trace promises); unknown stays unknown."""
    if left.__class__ is Unknown or right.__class__ is Unknown:
        return encode(left.merge(right) if left.__class__ is Unknown else right)
    try:
        return bool(_OPS[op](left, right))
    except (TypeError, ArithmeticError):
        return None


def build_trace(engine: Engine, decision: Decision, facts: dict[str, Any], defaulted: Sequence[str],
                memo: list[Any] | None, recorded: dict[int, Any] | None,
                params: tuple[list[Any], list[ParamValue | None]]) -> dict[str, Any]:
    """Build the JSON trace of a decision (re-deciding with the trace on if it was made without)."""
    from eligibility.base.numbers import ENGINE_CONTEXT

    with decimal.localcontext(ENGINE_CONTEXT):
        if recorded is None or memo is None:
            again = engine._run(facts, defaulted, decision.on, tuple(decision.programs), True, False,
                                decision.unknown_facts, decision.provenance)
            return again.to_json()
        return _Builder(engine, decision, facts, defaulted, memo, recorded, params).build()


def compact_trace(engine: Engine, decision: Decision, facts: dict[str, Any], memo: list[Any]) -> dict[str, Any]:
    """The values a decision computed, a few KB: with the household and the policy, the full trace follows.

    For each program decided, each rule and value the decision evaluated (the steps the full trace
    marks `"needed": true`), in the trace's order, as the trace encodes it; a value decided per
    record as `[[record index, value], ...]`. Everything descriptive (texts, labels, citations,
    comparisons, inputs) is the policy's and the household's: `audit.replay.full_trace` decides
    again and checks that the values are these.
    """
    gen = engine.compiled.generated
    defs = engine.compiled.checked.defs
    programs: dict[str, Any] = {}
    with decimal.localcontext(ENGINE_CONTEXT):
        for name in decision.programs:
            prog = engine.model.programs[name]
            values: dict[str, Any] = {}
            for d in (*prog.definitions.values(), prog.eligible, *(x for x in (prog.amount, prog.tier) if x)):
                key = (name, d.name)
                v = memo[gen.def_index[key]]
                if v is U:
                    continue
                type_ = defs[key].type
                if d.each is not None:
                    records = facts.get(d.each[1]) or []
                    values[d.name] = [[i, _compact_value(v[id(r)], type_)] for i, r in enumerate(records)
                                      if id(r) in v]
                else:
                    values[d.name] = _compact_value(v, type_)
            programs[name] = values
    return {"schema": COMPACT_SCHEMA, "library_version": decision.library_version, "policy": engine.model.hash,
            "decided_for": decision.on.isoformat(), "programs": programs}


def _undetermined(eligible: bool | None, amount: Any, tier_unknown: tuple[str, ...], has_amount: bool,
                  decided: bool) -> list[str]:
    """The parts of an outcome that wait on unknown facts: `eligible`, `amount`, `tier` ([] when all are known).

    A program that could not be decided (`decided` False: it has an `error`) has none: nothing waits.
    """
    if not decided:
        return []
    out = ["eligible"] if eligible is None else []
    if has_amount and amount is None and eligible is not False:
        out.append("amount")
    if tier_unknown:
        out.append("tier")
    return out


def _member_waits(r: RecordDecision, has_amount: bool) -> dict[str, Any]:
    """A member's `undetermined` and `tier_unknown`, only when something waits (else its entry is as it was)."""
    parts = _undetermined(r.eligible, r.amount, r.tier_unknown, has_amount, True)
    return {"undetermined": parts, "tier_unknown": list(r.tier_unknown)} if parts else {}


def _compact_value(value: Any, type_: str) -> Any:
    return None if value.__class__ is MissingValue else encode(value, type_)


__all__ = ["COMPACT_SCHEMA", "SCHEMA", "build_trace", "compact_trace", "encode"]
