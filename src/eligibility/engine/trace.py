"""The decision trace as JSON: the documented contract (docs/reference/trace.md)."""

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
from eligibility.engine.facts import stale_warnings
from eligibility.lang.model import Definition, Label, ParamValue, Program
from eligibility.lang.nodes import Attr, BoolOp, Compare, Const, Name, Node, NodeVisitor, Num, TupleLit, walk

if TYPE_CHECKING:
    from eligibility.engine.runtime import Decision, Engine

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


class _Builder(NodeVisitor):
    def __init__(self, engine: Engine, decision: Decision, facts: dict[str, Any],
                 defaulted: Sequence[str], memo: list[Any], recorded: dict[int, Any],
                 params: tuple[list[Any], list[ParamValue | None]]) -> None:
        self.engine = engine
        self.decision = decision
        self.facts = facts
        self.defaulted = set(defaulted)
        # What the decision evaluated, and a scratch copy where the rules it did not need
        # are evaluated too, so the trace can show every rule's outcome without changing
        # what the decision itself records.
        self.needed_memo = memo
        self.needed_rec = recorded
        self.memo = [dict(v) if isinstance(v, dict) else v for v in memo]
        self.rec = {k: (list(v) if isinstance(v, list) else v) for k, v in recorded.items()}
        self.errors: dict[int, str] = {}
        self.sources: dict[str, Any] = {}  # every source the trace cites, for its `sources` table
        self.pv, self.used = params
        gen = engine.compiled.generated
        self.gen = gen
        self.node_number = gen.node_ids
        self.vocab = engine.model.facts
        self.static = _static(engine)

    def complete(self, program: Program) -> None:
        """Evaluate, in the scratch copy, every household-level rule the decision skipped."""
        from eligibility.base.errors import EligibilityError, EvaluationError

        ns = self.engine.compiled.namespace
        for d in program.definitions.values():
            if d.kind != "rule" or d.each is not None:
                continue
            k = self.gen.def_index[(program.name, d.name)]
            if self.memo[k] is not U:
                continue
            try:
                ns[f"t{k}"](self.facts, self.pv, self.memo, self.decision.on, self.rec)
            except EligibilityError as e:  # a trace records messages in English, whatever the language
                self.errors[k] = e.english if isinstance(e, EvaluationError) else str(e)
            except Exception as exc:  # the decision did not need it; say why it cannot be shown
                self.errors[k] = self.engine._evaluation_error(exc, self.decision.on, self.facts).english

    def cite(self, program: Program, sid: str | None) -> str | None:
        if sid and sid in program.sources:
            self.sources[sid] = program.sources[sid]
        return sid

    def enum_label(self, node: Node, value: Any) -> dict[str, str] | None:
        if not isinstance(node, Attr) or not node.ref or not node.type.startswith("enum:") \
                or value.__class__ is Unknown:
            return None
        if node.ref[0] == "fact":
            spec = self.vocab.field(node.ref[1])
        else:
            lst = self.vocab.field(node.ref[3])
            spec = lst.field(node.ref[2]) if lst else None
        for v, label in spec.values if spec else ():
            if v == value:
                return _label(label)
        return None

    def value_of(self, node: Node, needed: bool = False) -> tuple[bool, Any]:
        nid = self.node_number.get(id(node))
        if isinstance(node, Num):
            return True, int(node.value) if node.is_int else node.value
        if isinstance(node, Const):
            return True, node.value
        if isinstance(node, TupleLit):
            return True, frozenset((int(i.value) if i.is_int else i.value) if isinstance(i, Num) else i.value
                                   for i in node.items)
        rec = self.needed_rec if needed else self.rec
        if nid is None or nid not in rec:
            return False, None
        return True, rec[nid]

    def label_of(self, node: Node, program: Program) -> dict[str, str] | None:
        """The label of what a node reads (a fact, parameter or value): looked up once an engine."""
        labels = self.static.labels
        key = id(node)
        if key in labels:
            found = labels[key]
        else:
            found = labels[key] = self._label_of(node, program)
        return dict(found) if found is not None else None

    def _label_of(self, node: Node, program: Program) -> dict[str, str] | None:
        if isinstance(node, Name) and node.ref:
            if node.ref[0] == "param":
                return _label(program.parameters[node.id].title)
            if node.ref[0] == "def":
                d = program.definitions.get(node.id)
                return _label(d.title) if d else None
        if isinstance(node, Attr) and node.ref:
            if node.ref[0] in ("fact", "list"):
                f = self.vocab.field(node.ref[1])
                return _label(f.label) if f else None
            if node.ref[0] == "field":
                lst = self.vocab.field(node.ref[3])
                f = lst.field(node.ref[2]) if lst else None
                return _label(f.label) if f else None
            if node.ref[0] == "recdef":
                target = self.engine.model.programs[node.ref[4]]
                d = target.definitions.get(node.ref[2])
                return _label(d.title) if d else None
            if node.ref[0] == "program":
                other = self.engine.model.programs[node.ref[1]]
                if node.ref[2] in other.definitions:
                    return _label(other.definitions[node.ref[2]].title)
                t = other.title
                word = {"eligible": ("符合条件", "eligible"), "amount": ("金额", "amount"),
                        "tier": ("层级", "tier")}[node.ref[2]]
                return {"zh": f"{t.zh}{word[0]}", "en": f"{t.en}: {word[1]}"}
        return None

    def record_path(self, info: Any, var: str, idx: tuple[int, ...]) -> str:
        """Return the path of the record a loop variable names: household.<list>[i]."""
        if var in info.loop_vars:
            k = len(info.loop_vars) - 1 - info.loop_vars[::-1].index(var)
            return f"household.{info.loop_lists[k]}[{idx[k]}]"
        return self.item_path(info.loop_lists, idx)

    def item_path(self, lists: tuple[str, ...], idx: tuple[int, ...]) -> str:
        """The records of the enclosing loops: household.members[0], household.obligors[1]."""
        return ", ".join(f"household.{lst}[{i}]" for lst, i in zip(lists, idx, strict=False))

    def item_label(self, lists: tuple[str, ...], idx: tuple[int, ...]) -> str:
        parts = []
        for lst, i in zip(lists, idx, strict=False):
            records = self.facts.get(lst)
            rid = records[i].get("id") if isinstance(records, list) and i < len(records) else None
            parts.append(f"{lst}[{i}]" + (f" ({rid})" if isinstance(rid, str) else ""))
        return ", ".join(parts)

    def inputs(self, tree: Node, program: Program) -> list[dict[str, Any]]:
        """Return the trace entries of what an expression read: parameters, facts, other values."""
        out: list[dict[str, Any]] = []
        seen: set[tuple[Any, ...]] = set()
        rec = self.rec
        for node, nid in self.static.numbered(tree, self.node_number):
            if nid not in rec:
                continue
            for entry in (self.visit_Name(node, program, nid) if node.__class__ is Name
                          else self.visit_Attr(node, program, nid)):  # type: ignore[arg-type]
                entry_key = entry.pop("_key", None) or (entry["kind"], entry.get("name") or entry.get("path"))
                if entry_key not in seen:
                    seen.add(entry_key)
                    out.append(entry)
        return out

    def _once(self, node: Node, nid: int) -> Any:
        """A household-level value recorded inside a loop is the same for every item: the first one."""
        once = self.rec[nid]
        if self.gen.nodes[nid].depth > 0 and isinstance(once, list):
            return once[0][1] if once else None
        return once

    # --- one method a node type: the inputs a recorded node stands for ---------------------------

    def visit_Num(self, node: Node, program: Program, nid: int) -> list[dict[str, Any]]:
        return []  # literals, operators and calls are not inputs: their operands are

    visit_Const = visit_TupleLit = visit_BinOp = visit_Unary = visit_BoolOp = visit_Num
    visit_Compare = visit_IfExp = visit_Gen = visit_Call = visit_Num

    def visit_Name(self, node: Name, program: Program, nid: int) -> list[dict[str, Any]]:
        kind = node.ref[0] if node.ref else None
        if kind == "param":
            j = self.gen.param_index[(program.name, node.id)]
            param = program.parameters[node.id]
            pv = self.used[j]
            return [{"kind": "parameter", "name": node.id, "title": _label(param.title),
                     "value": encode(self.pv[j], param.type), "unit": param.unit,
                     "from": pv.start.isoformat() if pv else None,
                     "source": self.cite(program, pv.source if pv and pv.source else param.source),
                     "note": pv.note if pv else None,
                     "at": str(pv.span) if pv else str(param.span)}]
        if kind == "def":
            d = program.definitions.get(node.id) or getattr(program, node.id)
            return [{"kind": d.kind, "name": node.id, "title": _label(d.title),
                     "value": encode(self._once(node, nid), node.type)}]
        if kind == "decision_date":
            return [{"kind": "decision_date", "name": "decision_date", "value": encode(self._once(node, nid))}]
        return []

    def visit_Attr(self, node: Attr, program: Program, nid: int) -> list[dict[str, Any]]:
        kind = node.ref[0] if node.ref else None
        info = self.gen.nodes[nid]
        if kind == "program":
            return [{"kind": "program", "name": f"{node.ref[1]}.{node.ref[2]}",
                     "title": self.label_of(node, program), "value": encode(self._once(node, nid), node.type)}]
        if kind in ("fact", "list"):
            once = self._once(node, nid)
            return [self.provenance({"kind": "fact", "path": f"household.{node.ref[1]}",
                                     "title": self.label_of(node, program), "value": encode(once, node.type),
                                     "value_label": self.enum_label(node, once),
                                     "defaulted": node.ref[1] in self.defaulted})]
        if kind == "recdef" and info.depth > 0:
            prog_name, def_name = node.ref[4], node.ref[2]
            target = self.engine.model.programs[prog_name]
            d = target.definitions.get(def_name) or getattr(target, def_name)
            return [{"_key": ("recdef", prog_name, def_name, idx),
                     "kind": d.kind if d.kind != "output" else "program",
                     "name": def_name if prog_name == program.name else f"{prog_name}.{def_name}",
                     "path": self.record_path(info, node.ref[1], idx), "title": self.label_of(node, program),
                     "value": encode(v, node.type)} for idx, v in self.rec[nid]]
        if kind == "field" and info.depth > 0:
            out = []
            for idx, v in self.rec[nid]:
                path = self.record_path(info, node.ref[1], idx) + "." + node.ref[2]
                out.append(self.provenance({"_key": ("fact", node.ref[2], idx), "kind": "fact", "path": path,
                                            "title": self.label_of(node, program), "value": encode(v, node.type),
                                            "value_label": self.enum_label(node, v),
                                            "defaulted": path[len("household."):] in self.defaulted}))
            return out
        return []

    def provenance(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Add to a fact input where the fact came from, when the household said (its `provenance`)."""
        meta = self.decision.provenance.get(entry["path"][len("household."):])
        if meta:
            entry["provenance"] = dict(meta)
        return entry

    def side(self, node: Node, program: Program, value: Any) -> dict[str, Any]:
        texts = self.static.texts
        text = texts.get(id(node))
        if text is None:
            text = texts[id(node)] = " ".join(node.text.split())
        return {"expression": text, "label": self.label_of(node, program),
                "value": encode(value, node.type), "value_label": self.enum_label(node, value)}

    def comparisons(self, tree: Node, program: Program) -> list[dict[str, Any]]:
        out = []
        for node, text, at in self.static.compares(tree):
            nid = self.node_number.get(id(node))
            entry: dict[str, Any] = {"expression": text, "at": at}
            if nid is None or nid not in self.rec:
                entry["evaluated"] = False
                out.append(entry)
                continue
            info = self.gen.nodes[nid]
            entry["evaluated"] = True
            items = [node.left, *node.comparators]
            if info.depth == 0:
                entry["pairs"] = self.pairs(node, items, program, None)
                entry["result"] = encode(self.rec[nid])
            else:
                per = []
                for idx, result in self.rec[nid]:
                    per.append({"item": self.item_label(info.loop_lists, idx),
                                "path": self.item_path(info.loop_lists, idx),
                                "pairs": self.pairs(node, items, program, idx), "result": encode(result)})
                entry["items"] = per
            out.append(entry)
        return out

    def pairs(self, node: Compare, items: list[Node], program: Program,
              idx: tuple[int, ...] | None) -> list[dict[str, Any]]:
        vals = []
        for it in items:
            known, v = self.value_of(it)
            if known and idx is not None and isinstance(v, list):
                v = next((x for i, x in v if i == idx), None)
                known = v is not None
            vals.append((known, v))
        pairs = []
        for i, op in enumerate(node.ops):
            (lk, lv), (rk, rv) = vals[i], vals[i + 1]
            if not (lk and rk):
                pairs.append({"op": op, "left": {"expression": items[i].text},
                              "right": {"expression": items[i + 1].text}, "evaluated": False})
                continue
            left, right = self.side(items[i], program, lv), self.side(items[i + 1], program, rv)
            # A string literal compared with an enum field reads as that value's label.
            for lit, other, side in ((items[i], items[i + 1], left), (items[i + 1], items[i], right)):
                if isinstance(lit, Const) and isinstance(lit.value, str):
                    side["value_label"] = self.enum_label(other, lit.value)
                    side["label"] = None
            pair: dict[str, Any] = {"op": op, "left": left, "right": right, "evaluated": True,
                                    "result": _compare(op, lv, rv)}
            if isinstance(lv, Decimal | int) and isinstance(rv, Decimal | int) and not isinstance(lv, bool) \
                    and not isinstance(rv, bool):
                t = "money" if "money" in (items[i].type, items[i + 1].type) else "decimal"
                pair["difference"] = encode(Decimal(lv) - Decimal(rv), t)
            pairs.append(pair)
        return pairs

    def skipped(self, tree: Node) -> list[str]:
        out = []
        for node in self.static.boolops(tree):
            if True:
                for v in node.values:
                    known, _ = self.value_of(v, needed=True)
                    if not known and self.value_of(node, needed=True)[0]:
                        out.append(" ".join(v.text.split()))
        return out

    def step(self, program: Program, d: Definition) -> dict[str, Any]:
        key = (program.name, d.name)
        k = self.gen.def_index[key]
        cd = self.engine.compiled.checked.defs[key]
        value = self.memo[k]
        if value.__class__ is MissingValue:  # a bare parameter with no value on the date
            self.errors.setdefault(k, self.engine._missing_message(value.index, self.decision.on))
            value = None
        evaluated = value is not U
        needed = self.needed_memo[k] is not U
        per_record = None
        if d.each is not None and evaluated:
            records = self.facts.get(d.each[1]) or []
            per_record = []
            for i, rec in enumerate(records):
                if id(rec) in value:
                    v = value[id(rec)]
                    if v.__class__ is MissingValue:
                        self.errors.setdefault(k, self.engine._missing_message(v.index, self.decision.on))
                        v = None
                    rid = rec.get("id")
                    per_record.append({"item": f"{d.each[1]}[{i}]" + (f" ({rid})" if isinstance(rid, str) else ""),
                                       "path": f"household.{d.each[1]}[{i}]", "value": encode(v, cd.type),
                                       "outcome": _outcome(d, v)})
        version_index: Any = self.rec.get(-(k + 1), 0) if evaluated else None
        vi: int | None = int(version_index) if version_index is not None else None
        dated = len(d.versions) > 1 or d.versions[0].start is not None or d.versions[0].until is not None
        in_force = not (dated and evaluated and vi is None)
        static_key = (k, vi if in_force else None)
        template = self.static.steps.get(static_key)
        if template is None:
            template = self.static.steps[static_key] = self.static_step(program, d, cd.type, vi, in_force, dated)
        source = template[1]
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
        step = dict(template[0])  # each trace owns its dicts: the static ones copied
        for name in ("title", "source", "version", "rounding"):
            if step[name] is not None:
                step[name] = dict(step[name])
        step["used_by"] = list(step["used_by"])
        step["evaluated"] = evaluated
        step["needed"] = needed
        step["outcome"] = outcome
        step["error"] = self.errors.get(k)
        step["value"] = (per_record if per_record is not None else encode(value, cd.type)) \
            if evaluated and in_force else None
        tree = cd.trees[vi] if (evaluated and in_force and vi is not None) else None
        if tree is not None:
            step["inputs"] = self.inputs(tree, program)
            step["comparisons"] = self.comparisons(tree, program)
            step["not_evaluated"] = self.skipped(tree)
        else:
            step["inputs"], step["comparisons"], step["not_evaluated"] = [], [], []
        return step

    def static_step(self, program: Program, d: Definition, type_: str, vi: int | None, in_force: bool,
                    dated: bool) -> tuple[dict[str, Any], Any]:
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
            "used_by": self.used_by(program.name).get(d.name, []),
            "error": None, "value": None,
            "each": f"{d.each[0]} in household.{d.each[1]}" if d.each else None,
            "rounding": ({"to": encode(d.rounding.step), "mode": d.rounding.mode} if d.rounding else None),
        }
        return step, source

    def used_by(self, program: str) -> dict[str, list[str]]:
        """For each definition of a program, the outputs whose expressions reach it."""
        cache: dict[str, dict[str, list[str]]] = self.engine.__dict__.setdefault("_used_by", {})
        if program in cache:
            return cache[program]
        defs = self.engine.compiled.checked.defs
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

    def program(self, name: str) -> dict[str, Any]:
        prog = self.engine.model.programs[name]
        self.complete(prog)
        pd = self.decision.programs[name]
        defs = [*prog.definitions.values(), prog.eligible] + [d for d in (prog.amount, prog.tier) if d]
        return {
            "title": _label(prog.title), "eligible": pd.eligible,
            "amount": encode(pd.amount, "money") if pd.amount is not None else None,
            "tier": pd.tier,
            "error": pd.error.english if pd.error is not None else None,
            "unknown": list(pd.unknown),
            "members": [{"index": r.index, "id": r.id, "eligible": r.eligible,
                         "amount": encode(r.amount, "money") if r.amount is not None else None, "tier": r.tier,
                         "unknown": list(r.unknown)}
                        for r in pd.members] if pd.members is not None else None,
            "jurisdiction": prog.jurisdiction, "file": prog.file, "layers": list(prog.layers),
            **({"role": prog.role} if prog.role != "benefit" else {}),
            "steps": [self.step(prog, d) for d in defs],
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
            + stale_warnings(self.vocab, self.decision.provenance),
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
        self.walks: dict[int, list[tuple[Node, int]]] = {}
        self.compare_nodes: dict[int, list[tuple[Compare, str, str]]] = {}
        self.boolop_nodes: dict[int, list[BoolOp]] = {}
        #: id(node) -> the label of what it reads, and its text on one line
        self.labels: dict[int, dict[str, str] | None] = {}
        self.texts: dict[int, str] = {}
        #: (definition index, version index or None) -> (the step's static keys, its source)
        self.steps: dict[tuple[int, int | None], tuple[dict[str, Any], Any]] = {}

    def numbered(self, tree: Node, numbers: dict[int, int]) -> list[tuple[Node, int]]:
        """The names and attributes of a tree that the traced code records (the inputs), parents first, numbered.

        Only names and attributes stand for inputs (facts, parameters, other values): the other nodes
        are operators, calls and literals, whose operands are the inputs.
        """
        hit = self.walks.get(id(tree))
        if hit is None:
            hit = self.walks[id(tree)] = [(n, numbers[id(n)]) for n in walk(tree)
                                          if id(n) in numbers and n.__class__ in (Name, Attr)]
        return hit

    def compares(self, tree: Node) -> list[tuple[Compare, str, str]]:
        """The comparisons of a tree, with their text on one line and their position."""
        hit = self.compare_nodes.get(id(tree))
        if hit is None:
            hit = self.compare_nodes[id(tree)] = [(n, " ".join(n.text.split()), str(n.span))
                                                  for n in walk(tree) if isinstance(n, Compare)]
        return hit

    def boolops(self, tree: Node) -> list[BoolOp]:
        """The `and`/`or` nodes of a tree."""
        hit = self.boolop_nodes.get(id(tree))
        if hit is None:
            hit = self.boolop_nodes[id(tree)] = [n for n in walk(tree) if isinstance(n, BoolOp)]
        return hit


def _static(engine: Engine) -> _Static:
    """The engine's static trace tables (its checked trees live as long as it does)."""
    found: _Static | None = engine.__dict__.get("_trace_static")
    if found is None:
        found = engine.__dict__["_trace_static"] = _Static()
    return found


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


def _compact_value(value: Any, type_: str) -> Any:
    return None if value.__class__ is MissingValue else encode(value, type_)


__all__ = ["COMPACT_SCHEMA", "SCHEMA", "build_trace", "compact_trace", "encode"]
