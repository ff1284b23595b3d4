"""Read the facts file: the household vocabulary (fields, their types, defaults and constraints)."""

from __future__ import annotations

from decimal import Decimal

from eligibility.base.i18n import translate as _
from eligibility.base.source import did_you_mean, readable
from eligibility.lang.loader import YMap, YNode, YSeq
from eligibility.lang.model import Constraint, Expiry, Facts, FieldSpec, Freshness, Label
from eligibility.lang.reader import Reader

FIELD_TYPES = ("bool", "integer", "decimal", "money", "date", "enum", "text", "list")
_FIELD_KEYS = ("type", "label", "unit", "required", "default", "min", "max", "values", "fields",
               "min_items", "max_items", "constraints", "description", "fresh_for", "valid_until",
               "help")
_FRESH_KEYS = ("days", "stale", "reason")
_EXPIRY_KEYS = ("expired", "reason")
#: What a stale fact is: not known, or kept with a warning.
STALE_KINDS = ("unknown", "warning")
#: The longest `fresh_for` accepted, in days (ten years).
MAX_FRESH_DAYS = 3660
_CONSTRAINT_KINDS = ("unique", "count_where", "max_items")
_CONSTRAINT_KEYS = (*_CONSTRAINT_KINDS, "exactly", "min", "max", "reason", "source", "note")
#: Field types a constraint may compare (lists of records have one level; money compares as a number).
_COMPARABLE = ("text", "enum", "integer", "bool", "date", "money", "decimal")


def read_facts(r: Reader, root: YMap) -> Facts | None:
    r.mapping(root, _("the facts file"), ("facts", "household", "description"), ("facts", "household"))
    hh = root.get("household")
    if hh is None:
        return None
    fields = _read_fields(r, hh, "household", top=True)
    members = next((f for f in fields if f.name == "members"), None)
    if members is None or members.type != "list":
        r.error(hh, "facts-members", _("the household needs a `members` field of type list"))
    return Facts(tuple(fields), r.file, root.span)


def _read_fields(r: Reader, node: YNode, where: str, top: bool) -> list[FieldSpec]:
    out: list[FieldSpec] = []
    if not isinstance(node, YMap):
        r.error(node, "expected-mapping", _("{where} must map field names to their definitions", where=where))
        return out
    for key, spec in node.items:
        name = r.name(key, "field")
        m = r.mapping(spec, _("field '{value}'", value=key.value), _FIELD_KEYS, ("type", "label"))
        if name is None or m is None:
            continue
        ftype = r.text(m.get("type"), "type")
        if ftype not in FIELD_TYPES:
            if ftype is not None:
                guess = did_you_mean(ftype, FIELD_TYPES)
                r.error(m.get("type") or m, "unknown-type", _("unknown field type '{ftype}'",
                                                              ftype=readable(ftype, 40)),
                        (_("did you mean '{guess}'?", guess=guess) if guess
                         else _("types: {names}", names=", ".join(FIELD_TYPES))))
            continue
        label = r.label(m.get("label"), "label") or Label(name, name)
        required_node = m.get("required")
        required = True if required_node is None else bool(r.boolean(required_node, "required"))
        values: tuple[tuple[str, Label], ...] = ()
        if ftype == "enum":
            vn = m.get("values")
            if not isinstance(vn, YMap) or not vn.items:
                r.error(vn or m, "enum-values",
                        _("enum field '{name}' needs `values:` mapping each value to a zh/en label", name=name))
            else:
                values = tuple((k.value, r.label(v, _("value '{value}'", value=k.value)) or Label(k.value, k.value))
                               for k, v in vn.items)
        sub: tuple[FieldSpec, ...] = ()
        if ftype == "list":
            if not top:
                r.error(key, "nested-list", _("lists of records may not be nested"))
            fn = m.get("fields")
            if fn is None:
                r.error(m, "missing-key", _("list field '{name}' needs `fields:`", name=name))
            else:
                sub = tuple(_read_fields(r, fn, f"{where}.{name}", top=False))
        lo = r.number(m.get("min"), "min", "decimal") if m.get("min") else None
        hi = r.number(m.get("max"), "max", "decimal") if m.get("max") else None
        default: object = None
        dn = m.get("default")
        if dn is not None:
            if required:
                r.error(dn, "default-required", _("required field '{name}' cannot have a default", name=name),
                        _("set `required: false` or remove the default"))
            default = _typed_default(r, dn, ftype, values)
        elif not required and ftype == "list":
            default = []  # an optional list that is not given is empty
        elif not required:
            r.error(key, "optional-needs-default",
                    _("optional field '{name}' must declare `default:`", name=name),
                    _("the default is what a missing value means, recorded in the trace"))
        mi = r.number(m.get("min_items"), "min_items", "integer") if m.get("min_items") else None
        ma = r.number(m.get("max_items"), "max_items", "integer") if m.get("max_items") else None
        if ftype == "list":
            _check_id(r, sub)
        constraints: tuple[Constraint, ...] = ()
        cn = m.get("constraints")
        if cn is not None:
            if ftype != "list":
                r.error(cn, "constraint", _("only a list field can have `constraints:` ('{name}' is {ftype})",
                                            name=name, ftype=ftype))
            else:
                constraints = _read_constraints(r, cn, name, sub, int(ma or 1000))
        fresh: Freshness | None = None
        fn_ = m.get("fresh_for")
        if fn_ is not None:
            if ftype == "list":
                r.error(fn_, "fresh-for",
                        _("a list field cannot have `fresh_for:` ('{name}'); declare it on the fields of its records",
                          name=name))
            else:
                fresh = _read_fresh(r, fn_, name)
        expiry: Expiry | None = None
        vu = m.get("valid_until")
        if vu is not None:
            if ftype == "list":
                r.error(vu, "valid-until", f"a list field cannot have `valid_until:` ('{name}'); "
                        "declare it on the fields of its records")
            else:
                expiry = _read_expiry(r, vu, name)
        out.append(FieldSpec(name, ftype, label, r.text(m.get("unit"), "unit"), required, default,
                             lo if isinstance(lo, Decimal) else None,
                             hi if isinstance(hi, Decimal) else None,
                             values, sub, int(mi or 0), int(ma or 1000), key.span, constraints, fresh, expiry,
                             r.label(m.get("help"), "help")))
    return out


def _read_expiry(r: Reader, node: YNode, name: str) -> Expiry | None:
    """Read `valid_until: {expired: unknown | warning, reason: {zh, en}}` of a field."""
    m = r.mapping(node, f"valid_until of '{name}'", _EXPIRY_KEYS, _EXPIRY_KEYS)
    if m is None:
        return None
    kind_node = m.get("expired")
    kind = r.text(kind_node, "expired") if kind_node is not None else None
    if kind_node is not None and kind is not None and kind not in STALE_KINDS:
        guess = did_you_mean(kind, STALE_KINDS)
        r.error(kind_node, "valid-until", f"expired must be one of {', '.join(STALE_KINDS)}, "
                f"not '{readable(kind, 40)}'", f"did you mean '{guess}'?" if guess else None)
        return None
    reason = r.label(m.get("reason"), "reason")
    if kind is None or reason is None:
        return None
    return Expiry(kind, reason, node.span)


def _read_fresh(r: Reader, node: YNode, name: str) -> Freshness | None:
    """Read `fresh_for: {days: N, stale: unknown | warning, reason: {zh, en}}` of a field."""
    m = r.mapping(node, _("fresh_for of '{name}'", name=name), _FRESH_KEYS, _FRESH_KEYS)
    if m is None:
        return None
    days_node, stale_node = m.get("days"), m.get("stale")
    days = r.number(days_node, "days", "integer") if days_node is not None else None
    ok = True
    if days_node is not None and days is not None and (
            isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_FRESH_DAYS):
        r.error(days_node, "fresh-for", _("days must be a whole number from 1 to {MAX_FRESH_DAYS}",
                                          MAX_FRESH_DAYS=MAX_FRESH_DAYS))
        ok = False
    stale = r.text(stale_node, "stale") if stale_node is not None else None
    if stale_node is not None and stale is not None and stale not in STALE_KINDS:
        guess = did_you_mean(stale, STALE_KINDS)
        r.error(stale_node, "fresh-for", _("stale must be one of {kinds}, not '{stale}'",
                                           kinds=", ".join(STALE_KINDS), stale=readable(stale, 40)),
                (_("did you mean '{guess}'?", guess=guess) if guess else None))
        ok = False
    reason = r.label(m.get("reason"), "reason")
    if not ok or not isinstance(days, int) or isinstance(days, bool) or stale is None or reason is None:
        return None
    return Freshness(days, stale, reason, node.span)


def _check_id(r: Reader, fields: tuple[FieldSpec, ...]) -> None:
    """A record's `id` names its results (`value()` keys them by it): required, non-empty text."""
    fid = next((f for f in fields if f.name == "id"), None)
    if fid is not None and (fid.type != "text" or not fid.required):
        r.error(fid.span, "facts-id", _("the `id` field of a list of records must be required text (not {v}{type})",
                                        v='optional ' if not fid.required else '', type=fid.type),
                _("results per record are keyed by id: `id: {type: text, label: ...}`"))


def _read_constraints(r: Reader, node: YNode, name: str, fields: tuple[FieldSpec, ...],
                      max_items: int) -> tuple[Constraint, ...]:
    """Read `constraints:` of a list field: `unique: FIELD`, `count_where: {FIELD: VALUE}` with
    `exactly:` (or `min:`/`max:`), or `max_items: N`; each with a `reason: {zh, en}`."""
    if not isinstance(node, YSeq) or not node.items:
        r.error(node, "constraint", _("constraints must be a list of rules"),
                _("- unique: id\n  reason: {zh: ..., en: ...}"))
        return ()
    by_name = {f.name: f for f in fields}
    out: list[Constraint] = []
    for item in node.items:
        cm = r.mapping(item, _("a constraint of '{name}'", name=name), _CONSTRAINT_KEYS, ("reason",))
        if cm is None:
            continue
        kinds = [k for k in _CONSTRAINT_KINDS if cm.get(k) is not None]
        if len(kinds) != 1:
            r.error(item, "constraint",
                    _("a constraint has exactly one of {keys} (this one has {kinds})",
                      keys=", ".join(_CONSTRAINT_KINDS), kinds=" and ".join(kinds)) if kinds
                    else _("a constraint has exactly one of {keys}", keys=", ".join(_CONSTRAINT_KINDS)))
            continue
        kind = kinds[0]
        reason = r.label(cm.get("reason"), "reason")
        bounds = {k: _count(r, cm.get(k), k) for k in ("exactly", "min", "max")}
        extra = [k for k in ("exactly", "min", "max") if cm.get(k) is not None]
        if kind != "count_where" and extra:
            r.error(cm.get(extra[0]) or item, "constraint", _("`{extra}:` belongs to a count_where constraint",
                                                              extra=extra[0]))
            continue
        field: str | None = None
        value: object = None
        lo = hi = None
        kn = cm.get(kind)
        assert kn is not None
        if kind == "max_items":
            hi = _count(r, kn, "max_items")
            if hi is not None and hi > max_items:
                r.error(kn, "constraint",
                        _("max_items {hi} is above the list's own limit ({max_items}); it would never apply",
                          hi=hi, max_items=max_items))
                continue
        elif kind == "unique":
            field = r.text(kn, "unique")
            spec = by_name.get(field or "")
            if field is not None and (spec is None or spec.type not in _COMPARABLE):
                _unknown_field(r, kn, field, by_name, name)
                continue
        else:
            wm = r.mapping(kn, "count_where", None)
            if wm is None:
                continue
            if len(wm.items) != 1:
                r.error(kn, "constraint", _("count_where names one field and its value"),
                        _("count_where: {relation: applicant}"))
                continue
            fkey, vnode = wm.items[0]
            field = fkey.value
            spec = by_name.get(field)
            if spec is None or spec.type not in _COMPARABLE:
                _unknown_field(r, fkey, field, by_name, name)
                continue
            value = _typed_default(r, vnode, spec.type, spec.values, "the count_where value")
            if value is None or (spec.type == "enum" and value not in {v for v, _ in spec.values}):
                continue
            if bounds["exactly"] is not None:
                if cm.get("min") is not None or cm.get("max") is not None:
                    r.error(cm.get("exactly") or item, "constraint", _("use `exactly:` or `min:`/`max:`, not both"))
                    continue
                lo = hi = bounds["exactly"]
            else:
                lo, hi = bounds["min"], bounds["max"]
                if lo is None and hi is None:
                    r.error(item, "constraint", _("a count_where constraint needs `exactly:`, `min:` or `max:`"))
                    continue
                if lo is not None and hi is not None and lo > hi:
                    r.error(item, "constraint", _("min {lo} is above max {hi}", lo=lo, hi=hi))
                    continue
        if reason is None or (kind in ("max_items",) and hi is None) or (kind == "unique" and field is None):
            continue
        out.append(Constraint(kind, field, value, lo, hi, reason, item.span))
    return tuple(out)


def _count(r: Reader, node: YNode | None, what: str) -> int | None:
    if node is None:
        return None
    n = r.number(node, what, "integer")
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        r.error(node, "constraint", _("{what} must be a whole number, 0 or more", what=what))
        return None
    return n


def _unknown_field(r: Reader, node: YNode, field: str, by_name: dict[str, FieldSpec], name: str) -> None:
    if field in by_name:
        r.error(node, "constraint", _("'{field}' is a {type} field: it cannot be compared",
                                      field=readable(field, 40), type=by_name[field].type))
        return
    guess = did_you_mean(field, list(by_name))
    r.error(node, "constraint", _("'{field}' is not a field of '{name}'", field=readable(field, 40), name=name),
            (_("did you mean '{guess}'?", guess=guess) if guess else (_("fields: ") + ", ".join(by_name))))


def _typed_default(r: Reader, node: YNode, ftype: str, values: tuple[tuple[str, Label], ...],
                   what: str = "default") -> object:
    if ftype in ("money", "decimal", "integer", "bool"):
        return r.number(node, what, ftype)
    if ftype == "date":
        return r.date(node, what)
    if ftype == "list":
        return []
    text = r.text(node, what)
    if ftype == "enum" and text not in {v for v, _ in values}:
        r.error(node, "enum-default", _("{what} '{text}' is not one of the enum's values",
                                        what=what, text=readable(str(text), 40)))
    return text

