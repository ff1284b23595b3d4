"""What changes between two loaded policy sets: rules, computed values, outputs, parameters,
citations and the facts vocabulary."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from eligibility.base.numbers import decimal_text
from eligibility.lang.model import Definition, FieldSpec, Parameter, Program, Source

if TYPE_CHECKING:
    from eligibility.engine.runtime import Engine


@attrs.frozen
class Change:
    """One difference between two policy sets."""

    program: str | None  # None: the facts vocabulary
    kind: str  # program | rule | computed | output | parameter | source | fact
    name: str
    change: str  # added | removed | changed
    detail: str
    old: Any = None
    new: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"program": self.program, "kind": self.kind, "name": self.name, "change": self.change,
                "detail": self.detail, "old": self.old, "new": self.new}

    def render(self) -> str:
        return f"{self.kind} {self.name}: {self.detail}"


def _text(value: object) -> Any:
    """A value of the model as JSON: decimals and dates as strings."""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_text(v) for v in value]
    return str(value)


def _q(value: object) -> str:
    return json.dumps(_text(value), ensure_ascii=False)


def _expr(d: Definition) -> list[dict[str, Any]]:
    return [{"from": _text(v.start), "until": _text(v.until), "expression": " ".join(v.expr.text.split()),
             "source": v.source} for v in d.versions]


def _definition_changes(program: str, kind: str, name: str, a: Definition | None,
                        b: Definition | None) -> list[Change]:
    d = a or b
    if d is None:
        return []
    if a is None or b is None:
        change = "added" if a is None else "removed"
        exprs = " | ".join(v["expression"] for v in _expr(d))
        return [Change(program, kind if d.kind != "output" else "output", name, change,
                       f"{change}: {exprs}", None if a is None else _expr(a), None if b is None else _expr(b))]
    out: list[Change] = []
    kind = b.kind if b.kind != "output" else "output"
    va, vb = _expr(a), _expr(b)
    if va != vb:
        if len(va) == len(vb) == 1 and va[0]["from"] == vb[0]["from"] and va[0]["until"] == vb[0]["until"]:
            if va[0]["expression"] != vb[0]["expression"]:
                out.append(Change(program, kind, name, "changed",
                                  f"expression {_q(va[0]['expression'])} -> {_q(vb[0]['expression'])}",
                                  va[0]["expression"], vb[0]["expression"]))
            if va[0]["source"] != vb[0]["source"]:
                out.append(Change(program, kind, name, "changed",
                                  f"source {_q(va[0]['source'])} -> {_q(vb[0]['source'])}",
                                  va[0]["source"], vb[0]["source"]))
        else:
            out.append(Change(program, kind, name, "changed", "versions " + _versions(va, vb), va, vb))
    for field in ("kind", "source", "article", "each"):
        x, y = getattr(a, field), getattr(b, field)
        if x != y:
            out.append(Change(program, kind, name, "changed", f"{field} {_q(x)} -> {_q(y)}", _text(x), _text(y)))
    ta = {"zh": a.title.zh, "en": a.title.en} if a.title else None
    tb = {"zh": b.title.zh, "en": b.title.en} if b.title else None
    if ta != tb:
        out.append(Change(program, kind, name, "changed", f"title {_q((ta or {}).get('zh'))} -> "
                          f"{_q((tb or {}).get('zh'))}", ta, tb))
    ra = f"{a.rounding.mode} {a.rounding.step}" if a.rounding else None
    rb = f"{b.rounding.mode} {b.rounding.step}" if b.rounding else None
    if ra != rb:
        out.append(Change(program, kind, name, "changed", f"rounding {_q(ra)} -> {_q(rb)}", ra, rb))
    return out


def _versions(va: list[dict[str, Any]], vb: list[dict[str, Any]]) -> str:
    def show(vs: list[dict[str, Any]]) -> str:
        return "; ".join(f"[{v['from'] or '…'}, {v['until'] or '…'}) {v['expression']}" for v in vs)
    return f"{show(va)} -> {show(vb)}"


def _parameter_changes(program: str, name: str, a: Parameter | None, b: Parameter | None) -> list[Change]:
    p = a or b
    if p is None:
        return []
    if a is None or b is None:
        change = "added" if a is None else "removed"
        values = {v.start.isoformat(): _text(v.value) for v in p.values}
        shown = ", ".join(f"{k}: {v}" for k, v in values.items())
        return [Change(program, "parameter", name, change, f"{change} ({shown})",
                       values if a is not None else None, values if b is not None else None)]
    out: list[Change] = []
    da = {v.start: v for v in a.values}
    db = {v.start: v for v in b.values}
    for day in sorted(set(da) | set(db)):
        x, y = da.get(day), db.get(day)
        when = day.isoformat()
        if x is None and y is not None:
            out.append(Change(program, "parameter", name, "added", f"value from {when} added: {_text(y.value)}",
                              None, {"from": when, "value": _text(y.value)}))
        elif y is None and x is not None:
            out.append(Change(program, "parameter", name, "removed", f"value from {when} removed: {_text(x.value)}",
                              {"from": when, "value": _text(x.value)}, None))
        elif x is not None and y is not None:
            if x.value != y.value or type(x.value) is not type(y.value):
                out.append(Change(program, "parameter", name, "changed",
                                  f"value from {when}: {_text(x.value)} -> {_text(y.value)}",
                                  {"from": when, "value": _text(x.value)}, {"from": when, "value": _text(y.value)}))
            if x.source != y.source:
                out.append(Change(program, "parameter", name, "changed",
                                  f"source of the value from {when}: {_q(x.source)} -> {_q(y.source)}",
                                  x.source, y.source))
    for field in ("type", "unit", "source"):
        x, y = getattr(a, field), getattr(b, field)
        if x != y:
            out.append(Change(program, "parameter", name, "changed", f"{field} {_q(x)} -> {_q(y)}", x, y))
    if a.title != b.title:
        out.append(Change(program, "parameter", name, "changed", f"title {_q(a.title.zh)} -> {_q(b.title.zh)}",
                          {"zh": a.title.zh, "en": a.title.en}, {"zh": b.title.zh, "en": b.title.en}))
    return out


def _cited(p: Program | None) -> set[str]:
    if p is None:
        return set()
    ids: set[str] = set()
    for d in [*p.definitions.values(), p.eligible, p.amount, p.tier]:
        if d is not None:
            ids.update(x for x in (d.source, *(v.source for v in d.versions)) if x)
    for param in p.parameters.values():
        ids.update(x for x in (param.source, *(v.source for v in param.values)) if x)
    return ids


def _source_json(s: Source) -> dict[str, Any]:
    out = s.to_json()
    out.pop("file", None)  # where it is registered is not what it says
    return out


def _json_changes(program: str | None, kind: str, name: str, old: dict[str, Any] | None,
                  new: dict[str, Any] | None, shown: str) -> list[Change]:
    """Added or removed (`shown` says what), else one change for each field whose JSON differs."""
    if old is None or new is None:
        change = "added" if old is None else "removed"
        return [Change(program, kind, name, change, change + shown, old, new)]
    return [Change(program, kind, name, "changed", f"{field} {_q(value)} -> {_q(new.get(field))}", value,
                   new.get(field)) for field, value in old.items() if value != new.get(field)]


def _source_changes(program: str, a: Program | None, b: Program | None) -> list[Change]:
    out: list[Change] = []
    sa = a.sources if a else {}
    sb = b.sources if b else {}
    for sid in sorted(_cited(a) | _cited(b)):
        x, y = sa.get(sid), sb.get(sid)
        s = x or y
        if s is not None:
            out.extend(_json_changes(program, "source", sid, _source_json(x) if x else None,
                                     _source_json(y) if y else None, f": {s.document or s.title}"))
    return out


def _program_changes(name: str, a: Program | None, b: Program | None) -> list[Change]:
    p = a or b
    if p is None:
        return []
    if a is None or b is None:
        change = "added" if a is None else "removed"
        return [Change(name, "program", name, change, f"{change}: {p.title.zh} / {p.title.en} ({p.file})")]
    out: list[Change] = []
    for field in ("jurisdiction", "file", "layers"):
        x, y = getattr(a, field), getattr(b, field)
        if x != y:
            out.append(Change(name, "program", name, "changed", f"{field} {_q(x)} -> {_q(y)}", _text(x), _text(y)))
    if a.title != b.title:
        out.append(Change(name, "program", name, "changed", f"title {_q(a.title.zh)} -> {_q(b.title.zh)}",
                          {"zh": a.title.zh, "en": a.title.en}, {"zh": b.title.zh, "en": b.title.en}))
    for d in sorted(set(a.definitions) | set(b.definitions)):
        da, db = a.definitions.get(d), b.definitions.get(d)
        out.extend(_definition_changes(name, (db or da or p.eligible).kind, d, da, db))
    for output in ("eligible", "amount", "tier"):
        out.extend(_definition_changes(name, "output", output, getattr(a, output), getattr(b, output)))
    for param in sorted(set(a.parameters) | set(b.parameters)):
        out.extend(_parameter_changes(name, param, a.parameters.get(param), b.parameters.get(param)))
    return out


def _field_json(f: FieldSpec) -> dict[str, Any]:
    return {"type": f.type, "unit": f.unit, "required": f.required, "default": _text(f.default),
            "min": _text(f.minimum), "max": _text(f.maximum), "values": [v for v, _ in f.values]}


def _fact_changes(a: tuple[FieldSpec, ...], b: tuple[FieldSpec, ...], prefix: str = "") -> list[Change]:
    out: list[Change] = []
    fa, fb = {f.name: f for f in a}, {f.name: f for f in b}
    for name in sorted(set(fa) | set(fb)):
        x, y = fa.get(name), fb.get(name)
        path = prefix + name
        f = x or y
        if f is None:
            continue
        out.extend(_json_changes(None, "fact", path, _field_json(x) if x else None,
                                 _field_json(y) if y else None, f" ({f.type})"))
        if x is not None and y is not None and (x.fields or y.fields):
            out.extend(_fact_changes(x.fields, y.fields, path + "."))
    return out


def policy_changes(old: Engine, new: Engine) -> list[Change]:
    """Return every change between two loaded policy sets: per program, then the facts vocabulary."""
    out: list[Change] = []
    pa, pb = old.model.programs, new.model.programs
    for name in sorted(set(pa) | set(pb)):
        a, b = pa.get(name), pb.get(name)
        out.extend(_program_changes(name, a, b))
        out.extend(_source_changes(name, a, b))
    out.extend(_fact_changes(old.model.facts.fields, new.model.facts.fields))
    return out


__all__ = ["Change", "policy_changes"]
