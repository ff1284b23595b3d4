"""Typing of YAML nodes by our schema: facts vocabulary, program layers and test cases."""

from __future__ import annotations

import builtins
import datetime as dt
import keyword
import re
from collections.abc import Callable
from decimal import Decimal

import attrs

from eligibility.base.errors import Diagnostic
from eligibility.base.source import SourceText, Span, did_you_mean, readable
from eligibility.lang.loader import YMap, YNode, YScalar, YSeq
from eligibility.lang.model import (
    NOT_IN_FORCE,
    Constraint,
    Definition,
    Expr,
    Facts,
    FieldSpec,
    Label,
    Parameter,
    ParamValue,
    Property,
    Rounding,
    Source,
    TestCase,
    Version,
)

NAME_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
EACH_RE = re.compile(r"([a-z][a-z0-9_]*)\s+in\s+household\.([a-z][a-z0-9_]*)\Z")
INT_RE = re.compile(r"-?\d+\Z")
DEC_RE = re.compile(r"-?\d+(\.\d+)?\Z")
FIELD_TYPES = ("bool", "integer", "decimal", "money", "date", "enum", "text", "list")
PARAM_TYPES = ("money", "decimal", "integer", "bool")
CONFIDENCE = ("C", "C-mirror", "S", "U")
ROUND_MODES = ("half_up", "up", "down")
MAX_NAME = 64
MAX_DEFINITIONS = 2000
#: Names the expression language reserves for its functions and built-in names.
RESERVED = frozenset({"count", "sum", "any", "all", "min", "max", "abs", "age", "age_on",
                      "days_between", "date", "round_half_up", "round_up", "round_down",
                      "household", "decision_date", "eligible", "amount", "tier"})
#: The outputs a program may declare, with their types.
OUTPUTS = {"eligible": "bool", "amount": "money", "tier": "text"}


@attrs.define
class Layer:
    """One program file before merging."""

    program: str
    title: Label | None
    jurisdiction: str
    extends: str | None
    extends_span: Span | None
    sources: dict[str, Source]
    parameters: dict[str, Parameter]
    definitions: dict[str, Definition]
    eligible: Definition | None
    amount: Definition | None
    file: str
    span: Span
    each: tuple[str, str] | None = None
    tier: Definition | None = None
    #: Names whose definitions could not be read; uses of them are not reported again.
    failed: set[str] = attrs.Factory(set)


class Reader:
    """Helpers that turn nodes into typed values, recording diagnostics."""

    def __init__(self, source: SourceText, diags: list[Diagnostic]) -> None:
        self.source = source
        self.file = source.path
        self.diags = diags

    def error(self, node: YNode | Span, code: str, msg: str, hint: str | None = None) -> None:
        span = node if isinstance(node, Span) else node.span
        self.diags.append(Diagnostic(span, code, msg, hint))

    def warn(self, node: YNode | Span, code: str, msg: str, hint: str | None = None) -> None:
        span = node if isinstance(node, Span) else node.span
        self.diags.append(Diagnostic(span, code, msg, hint, severity="warning"))

    def mapping(self, node: YNode, what: str, allowed: tuple[str, ...] | None,
                required: tuple[str, ...] = ()) -> YMap | None:
        if not isinstance(node, YMap):
            self.error(node, "expected-mapping", f"{what} must be a mapping of keys to values")
            return None
        for key, _ in node.items:
            if allowed is not None and key.value not in allowed:
                guess = did_you_mean(key.value, allowed)
                hint = f"did you mean '{guess}'?" if guess else "allowed keys: " + ", ".join(allowed)
                self.error(key, "unknown-key", f"unknown key '{readable(key.value, 64)}' in {what}", hint)
        for name in required:
            if node.get(name) is None:
                self.error(node.span, "missing-key", f"{what} needs '{name}'")
        return node

    def text(self, node: YNode | None, what: str) -> str | None:
        if node is None:
            return None
        if not isinstance(node, YScalar) or node.is_null:
            self.error(node, "expected-text", f"{what} must be text")
            return None
        return node.value

    def label(self, node: YNode | None, what: str) -> Label | None:
        if node is None:
            return None
        m = self.mapping(node, what, ("zh", "en"), ("zh", "en"))
        if m is None:
            return None
        zh = self.text(m.get("zh"), f"{what}.zh")
        en = self.text(m.get("en"), f"{what}.en")
        if zh is None or en is None:
            return None
        return Label(zh, en)

    def date(self, node: YNode | None, what: str) -> dt.date | None:
        if node is None:
            return None
        if not isinstance(node, YScalar) or not DATE_RE.match(node.value):
            self.error(node, "invalid-date", f"{what} must be a date YYYY-MM-DD",
                       "write dates like 2024-07-01")
            return None
        try:
            return dt.date.fromisoformat(node.value)
        except ValueError:
            self.error(node, "invalid-date", f"{readable(node.value, 20)} is not a calendar date")
            return None

    def boolean(self, node: YNode | None, what: str) -> bool | None:
        if node is None:
            return None
        if isinstance(node, YScalar) and node.style is None and node.value in ("true", "false"):
            return node.value == "true"
        hint = "write true or false" + (
            " (YAML 1.1 words like yes/no/on/off are not booleans here)"
            if isinstance(node, YScalar) and node.value.lower() in ("yes", "no", "on", "off", "y", "n")
            else "")
        self.error(node, "expected-bool", f"{what} must be true or false", hint)
        return None

    def number(self, node: YNode | None, what: str, kind: str) -> Decimal | int | bool | None:
        """Type a scalar as money, decimal, integer or bool, from its source text."""
        if node is None:
            return None
        if kind == "bool":
            return self.boolean(node, what)
        if not isinstance(node, YScalar) or node.is_null:
            self.error(node, "expected-number", f"{what} must be a number")
            return None
        text = node.value.strip()
        if kind == "integer":
            if not INT_RE.match(text):
                self.error(node, "expected-integer", f"{what} must be a whole number, not {readable(text, 40)!r}")
                return None
            return int(text)
        if not DEC_RE.match(text):
            hint = None
            if any(c in text for c in ",¥元 "):
                hint = "write plain digits: no thousands separators, currency signs or units"
            elif text.lower() in ("nan", ".nan", "inf", ".inf", "-.inf", "infinity"):
                hint = "parameters must be finite numbers"
            self.error(node, "expected-number", f"{what} must be a number, not {readable(text, 40)!r}", hint)
            return None
        digits = text.lstrip("-").replace(".", "").lstrip("0")
        if len(digits) > 30:
            self.error(node, "limit-literal", f"{what} has {len(digits)} significant digits; the limit is 30")
            return None
        value = Decimal(text)
        if kind == "money":
            if value < 0:
                self.error(node, "negative-money", f"{what} must not be negative")
                return None
            exp = value.as_tuple().exponent
            if isinstance(exp, int) and exp < -2:
                self.error(node, "money-precision", f"{what} has more than 2 decimal places")
                return None
        if abs(value) >= Decimal(10) ** 18:
            self.error(node, "limit-literal", f"{what} is too large (limit 10^18)")
            return None
        return value

    def name(self, key: YScalar, what: str) -> str | None:
        n = key.value
        problem = None
        if len(n) > MAX_NAME:
            problem = f"is {len(n)} characters long; the limit is {MAX_NAME}"
        elif not NAME_RE.match(n):
            problem = "must be lower-case ASCII letters, digits and underscores, starting with a letter"
        elif keyword.iskeyword(n):
            problem = "is reserved: a Python keyword"
        elif what != "field" and n in RESERVED:
            problem = "is reserved: a function or name of the expression language"
        elif what != "field" and hasattr(builtins, n):
            problem = "is reserved: a Python built-in name"
        if problem:
            self.error(key, "invalid-name", f"{what} name '{readable(n, 70)}' {problem}",
                       "use a name like income_test")
            return None
        return n

    def each(self, node: YNode | None) -> tuple[str, str] | None:
        """Read `each: member in household.members`."""
        if node is None:
            return None
        text = self.text(node, "each") or ""
        m = EACH_RE.match(text.strip())
        if m is None or keyword.iskeyword(m.group(1)) or m.group(1) in RESERVED or hasattr(builtins, m.group(1)):
            self.error(node, "each", f"`each` must read like 'member in household.members', not {readable(text, 60)!r}",
                       "name the record, then the list of records it comes from")
            return None
        return m.group(1), m.group(2)

    def expr(self, node: YNode | None, what: str) -> Expr | None:
        if node is None:
            return None
        if not isinstance(node, YScalar) or node.is_null or node.value.strip() == "":
            self.error(node, "missing-expression", f"{what} must be an expression (text)")
            return None
        if node.style is None and node.value in ("true", "false"):
            return Expr(node.value.capitalize(), node, self.source)
        return Expr(node.value, node, self.source)


def _span(node: YNode | None) -> Span | None:
    return node.span if node is not None else None


def to_plain(node: YNode) -> object:
    """Convert a node to JSON-like data: plain scalars become bool, None, int or Decimal."""
    if isinstance(node, YMap):
        return {k.value: to_plain(v) for k, v in node.items}
    if isinstance(node, YSeq):
        return [to_plain(v) for v in node.items]
    if node.style is not None:
        return node.value
    v = node.value
    if node.is_null:
        return None
    if v in ("true", "false"):
        return v == "true"
    if INT_RE.match(v):
        return int(v)
    if DEC_RE.match(v):
        return Decimal(v)
    return v


# --- facts ---------------------------------------------------------------------------------

_FIELD_KEYS = ("type", "label", "unit", "required", "default", "min", "max", "values", "fields",
               "min_items", "max_items", "constraints", "description")
_CONSTRAINT_KINDS = ("unique", "count_where", "max_items")
_CONSTRAINT_KEYS = (*_CONSTRAINT_KINDS, "exactly", "min", "max", "reason", "source", "note")
#: Field types a constraint may compare (lists of records have one level; money compares as a number).
_COMPARABLE = ("text", "enum", "integer", "bool", "date", "money", "decimal")


def read_facts(r: Reader, root: YMap) -> Facts | None:
    r.mapping(root, "the facts file", ("facts", "household", "description"), ("facts", "household"))
    hh = root.get("household")
    if hh is None:
        return None
    fields = _read_fields(r, hh, "household", top=True)
    members = next((f for f in fields if f.name == "members"), None)
    if members is None or members.type != "list":
        r.error(hh, "facts-members", "the household needs a `members` field of type list")
    return Facts(tuple(fields), r.file, root.span)


def _read_fields(r: Reader, node: YNode, where: str, top: bool) -> list[FieldSpec]:
    out: list[FieldSpec] = []
    if not isinstance(node, YMap):
        r.error(node, "expected-mapping", f"{where} must map field names to their definitions")
        return out
    for key, spec in node.items:
        name = r.name(key, "field")
        m = r.mapping(spec, f"field '{key.value}'", _FIELD_KEYS, ("type", "label"))
        if name is None or m is None:
            continue
        ftype = r.text(m.get("type"), "type")
        if ftype not in FIELD_TYPES:
            if ftype is not None:
                guess = did_you_mean(ftype, FIELD_TYPES)
                r.error(m.get("type") or m, "unknown-type", f"unknown field type '{readable(ftype, 40)}'",
                        f"did you mean '{guess}'?" if guess else "types: " + ", ".join(FIELD_TYPES))
            continue
        label = r.label(m.get("label"), "label") or Label(name, name)
        required_node = m.get("required")
        required = True if required_node is None else bool(r.boolean(required_node, "required"))
        values: tuple[tuple[str, Label], ...] = ()
        if ftype == "enum":
            vn = m.get("values")
            if not isinstance(vn, YMap) or not vn.items:
                r.error(vn or m, "enum-values",
                        f"enum field '{name}' needs `values:` mapping each value to a zh/en label")
            else:
                values = tuple((k.value, r.label(v, f"value '{k.value}'") or Label(k.value, k.value))
                               for k, v in vn.items)
        sub: tuple[FieldSpec, ...] = ()
        if ftype == "list":
            if not top:
                r.error(key, "nested-list", "lists of records may not be nested")
            fn = m.get("fields")
            if fn is None:
                r.error(m, "missing-key", f"list field '{name}' needs `fields:`")
            else:
                sub = tuple(_read_fields(r, fn, f"{where}.{name}", top=False))
        lo = r.number(m.get("min"), "min", "decimal") if m.get("min") else None
        hi = r.number(m.get("max"), "max", "decimal") if m.get("max") else None
        default: object = None
        dn = m.get("default")
        if dn is not None:
            if required:
                r.error(dn, "default-required", f"required field '{name}' cannot have a default",
                        "set `required: false` or remove the default")
            default = _typed_default(r, dn, ftype, values)
        elif not required and ftype == "list":
            default = []  # an optional list that is not given is empty
        elif not required:
            r.error(key, "optional-needs-default",
                    f"optional field '{name}' must declare `default:`",
                    "the default is what a missing value means, recorded in the trace")
        mi = r.number(m.get("min_items"), "min_items", "integer") if m.get("min_items") else None
        ma = r.number(m.get("max_items"), "max_items", "integer") if m.get("max_items") else None
        if ftype == "list":
            _check_id(r, sub)
        constraints: tuple[Constraint, ...] = ()
        cn = m.get("constraints")
        if cn is not None:
            if ftype != "list":
                r.error(cn, "constraint", f"only a list field can have `constraints:` ('{name}' is {ftype})")
            else:
                constraints = _read_constraints(r, cn, name, sub, int(ma or 1000))
        out.append(FieldSpec(name, ftype, label, r.text(m.get("unit"), "unit"), required, default,
                             lo if isinstance(lo, Decimal) else None,
                             hi if isinstance(hi, Decimal) else None,
                             values, sub, int(mi or 0), int(ma or 1000), key.span, constraints))
    return out


def _check_id(r: Reader, fields: tuple[FieldSpec, ...]) -> None:
    """A record's `id` names its results (`value()` keys them by it): required, non-empty text."""
    fid = next((f for f in fields if f.name == "id"), None)
    if fid is not None and (fid.type != "text" or not fid.required):
        r.error(fid.span, "facts-id", "the `id` field of a list of records must be required text "
                f"(not {'optional ' if not fid.required else ''}{fid.type})",
                "results per record are keyed by id: `id: {type: text, label: ...}`")


def _read_constraints(r: Reader, node: YNode, name: str, fields: tuple[FieldSpec, ...],
                      max_items: int) -> tuple[Constraint, ...]:
    """Read `constraints:` of a list field: `unique: FIELD`, `count_where: {FIELD: VALUE}` with
    `exactly:` (or `min:`/`max:`), or `max_items: N`; each with a `reason: {zh, en}`."""
    if not isinstance(node, YSeq) or not node.items:
        r.error(node, "constraint", "constraints must be a list of rules",
                "- unique: id\n  reason: {zh: ..., en: ...}")
        return ()
    by_name = {f.name: f for f in fields}
    out: list[Constraint] = []
    for item in node.items:
        cm = r.mapping(item, f"a constraint of '{name}'", _CONSTRAINT_KEYS, ("reason",))
        if cm is None:
            continue
        kinds = [k for k in _CONSTRAINT_KINDS if cm.get(k) is not None]
        if len(kinds) != 1:
            r.error(item, "constraint", "a constraint has exactly one of " + ", ".join(_CONSTRAINT_KINDS)
                    + (f" (this one has {' and '.join(kinds)})" if kinds else ""))
            continue
        kind = kinds[0]
        reason = r.label(cm.get("reason"), "reason")
        bounds = {k: _count(r, cm.get(k), k) for k in ("exactly", "min", "max")}
        extra = [k for k in ("exactly", "min", "max") if cm.get(k) is not None]
        if kind != "count_where" and extra:
            r.error(cm.get(extra[0]) or item, "constraint", f"`{extra[0]}:` belongs to a count_where constraint")
            continue
        field: str | None = None
        value: object = None
        lo = hi = None
        kn = cm.get(kind)
        assert kn is not None
        if kind == "max_items":
            hi = _count(r, kn, "max_items")
            if hi is not None and hi > max_items:
                r.error(kn, "constraint", f"max_items {hi} is above the list's own limit ({max_items}); "
                        "it would never apply")
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
                r.error(kn, "constraint", "count_where names one field and its value",
                        "count_where: {relation: applicant}")
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
                    r.error(cm.get("exactly") or item, "constraint", "use `exactly:` or `min:`/`max:`, not both")
                    continue
                lo = hi = bounds["exactly"]
            else:
                lo, hi = bounds["min"], bounds["max"]
                if lo is None and hi is None:
                    r.error(item, "constraint", "a count_where constraint needs `exactly:`, `min:` or `max:`")
                    continue
                if lo is not None and hi is not None and lo > hi:
                    r.error(item, "constraint", f"min {lo} is above max {hi}")
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
        r.error(node, "constraint", f"{what} must be a whole number, 0 or more")
        return None
    return n


def _unknown_field(r: Reader, node: YNode, field: str, by_name: dict[str, FieldSpec], name: str) -> None:
    if field in by_name:
        r.error(node, "constraint", f"'{readable(field, 40)}' is a {by_name[field].type} field: it cannot be compared")
        return
    guess = did_you_mean(field, list(by_name))
    r.error(node, "constraint", f"'{readable(field, 40)}' is not a field of '{name}'",
            f"did you mean '{guess}'?" if guess else "fields: " + ", ".join(by_name))


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
        r.error(node, "enum-default", f"{what} '{readable(str(text), 40)}' is not one of the enum's values")
    return text


# --- program layers ---------------------------------------------------------------------------

_PROGRAM_KEYS = ("program", "title", "jurisdiction", "extends", "each", "sources", "parameters", "computed",
                 "rules", "eligible", "amount", "tier", "description")
_SOURCE_KEYS = ("title", "document", "articles", "article", "date", "url", "confidence", "note")
_PARAM_KEYS = ("type", "unit", "title", "source", "values", "note", "description")
_VALUE_KEYS = ("value", "source", "note")
_DEF_KEYS = ("title", "each", "expr", "when", "source", "article", "effective", "versions", "round",
             "not_in_force", "note", "description", "confidence")
_VERSION_KEYS = ("effective", "expr", "when", "source", "note")


def read_layer(r: Reader, root: YMap) -> Layer | None:
    r.mapping(root, "a program file", _PROGRAM_KEYS, ("program", "jurisdiction"))
    pnode = root.get("program")
    prog = r.name(pnode, "program") if isinstance(pnode, YScalar) else None
    if prog is None:
        if pnode is not None and not isinstance(pnode, YScalar):
            r.error(pnode, "expected-text", "program must be a name")
        return None
    jur = r.text(root.get("jurisdiction"), "jurisdiction") or ""
    jn = root.get("jurisdiction")
    if jn is not None and not re.fullmatch(r"\d{6}", jur):
        r.error(jn, "jurisdiction", f"jurisdiction must be a 6-digit GB/T 2260 code, not {readable(jur, 20)!r}",
                'quote it: jurisdiction: "440114"; national is "000000"')
    ext = root.get("extends")
    layer = Layer(prog, r.label(root.get("title"), "title"), jur, r.text(ext, "extends"),
                  ext.span if ext else None, {}, {}, {}, None, None, r.file, root.span, r.each(root.get("each")))
    sn = root.get("sources")
    if sn is not None and (m := r.mapping(sn, "sources", None)) is not None:
        for key, spec in m.items:
            src = _read_source(r, key, spec)
            if src:
                layer.sources[src.id] = src
    names: dict[str, Span] = {}

    def claim(key: YScalar, what: str) -> str | None:
        n = r.name(key, what)
        if n is None:
            layer.failed.add(key.value)
            return None
        if n in names:
            r.diags.append(Diagnostic(key.span, "duplicate-name",
                                      f"'{n}' is already defined on line {names[n].line}",
                                      "parameters, computed values and rules share one namespace",
                                      related=((names[n], "first defined here"),)))
            return None
        names[n] = key.span
        return n

    pn = root.get("parameters")
    if pn is not None and (m := r.mapping(pn, "parameters", None)) is not None:
        if len(m.items) > MAX_DEFINITIONS:
            r.error(m, "limit-parameters", f"{len(m.items)} parameters; the limit is {MAX_DEFINITIONS}")
        for key, spec in m.items[:MAX_DEFINITIONS]:
            n = claim(key, "parameter")
            if n is not None and (p := _read_parameter(r, n, key, spec)) is not None:
                layer.parameters[n] = p
            elif n is not None:
                layer.failed.add(n)
    for section, kind in (("computed", "computed"), ("rules", "rule")):
        dn = root.get(section)
        if dn is None or (m := r.mapping(dn, section, None)) is None:
            continue
        if len(m.items) > MAX_DEFINITIONS:
            r.error(m, "limit-rules", f"{len(m.items)} {section}; the limit is {MAX_DEFINITIONS}")
        for key, spec in m.items[:MAX_DEFINITIONS]:
            n = claim(key, "rule" if kind == "rule" else "computed value")
            if n is not None and (d := _read_definition(r, n, kind, key, spec)) is not None:
                layer.definitions[n] = d
            elif n is not None:
                layer.failed.add(n)
    for out in OUTPUTS:
        on = root.get(out)
        if on is not None:
            keys = list(root.keys())
            key = root.items[keys.index(out)][0]
            setattr(layer, out, _read_definition(r, out, "output", key, on))
    return layer


def read_registry(r: Reader, root: YMap) -> list[Source]:
    """Read a `sources:` file: the registry of citations every program may cite."""
    r.mapping(root, "a sources file", ("sources", "description"), ("sources",))
    sn = root.get("sources")
    out: list[Source] = []
    if sn is not None and (m := r.mapping(sn, "sources", None)) is not None:
        for key, spec in m.items:
            src = _read_source(r, key, spec)
            if src is not None:
                out.append(src)
    return out


def _read_source(r: Reader, key: YScalar, spec: YNode) -> Source | None:
    m = r.mapping(spec, f"source '{key.value}'", _SOURCE_KEYS, ("title", "confidence"))
    if m is None:
        return None
    conf = r.text(m.get("confidence"), "confidence")
    if conf is not None and conf not in CONFIDENCE:
        r.error(m.get("confidence") or m, "confidence", f"confidence must be one of {', '.join(CONFIDENCE)}")
    arts = m.get("articles") or m.get("article")
    return Source(key.value, r.text(m.get("title"), "title") or key.value, r.text(m.get("document"), "document"),
                  r.text(arts, "articles"), r.text(m.get("date"), "date"), r.text(m.get("url"), "url"),
                  conf or "U", r.file, key.span)


def _read_parameter(r: Reader, name: str, key: YScalar, spec: YNode) -> Parameter | None:
    m = r.mapping(spec, f"parameter '{name}'", _PARAM_KEYS, ("type", "title", "values"))
    if m is None:
        return None
    ptype = r.text(m.get("type"), "type") or "decimal"
    if ptype not in PARAM_TYPES:
        guess = did_you_mean(ptype, PARAM_TYPES)
        r.error(m.get("type") or m, "unknown-type", f"unknown parameter type '{readable(ptype, 40)}'",
                f"did you mean '{guess}'?" if guess else "types: " + ", ".join(PARAM_TYPES))
        return None
    values: list[ParamValue] = []
    vn = m.get("values")
    if isinstance(vn, YMap):
        for dkey, vnode in vn.items:
            start = r.date(dkey, "a parameter value's date")
            src = note = None
            valnode: YNode | None = vnode
            if isinstance(vnode, YMap):
                vm = r.mapping(vnode, "a dated value", _VALUE_KEYS, ("value",))
                valnode = vm.get("value") if vm else None
                src = r.text(vnode.get("source"), "source")
                note = r.text(vnode.get("note"), "note")
            value = r.number(valnode, f"value of '{name}'", ptype) if valnode is not None else None
            if start is not None and value is not None:
                sn = vnode.get("source") if isinstance(vnode, YMap) else None
                values.append(ParamValue(start, value, src, note, dkey.span, sn.span if sn else None))
        if not vn.items:
            r.warn(vn, "no-value", f"parameter '{name}' has no value yet; decisions that need it will fail",
                   "add a dated value when the source publishes one")
    elif vn is not None:
        r.error(vn, "expected-mapping", "values must map dates to values", "values: {2024-07-01: 1282}")
    values.sort(key=lambda v: v.start)
    return Parameter(name, ptype, r.text(m.get("unit"), "unit"),
                     r.label(m.get("title"), "title") or Label(name, name),
                     r.text(m.get("source"), "source"), tuple(values), r.file, key.span,
                     _span(m.get("source")))


def _read_effective(r: Reader, node: YNode | None) -> tuple[dt.date | None, dt.date | None]:
    if node is None:
        return None, None
    m = r.mapping(node, "effective", ("from", "until"))
    if m is None:
        return None, None
    start, until = r.date(m.get("from"), "effective.from"), r.date(m.get("until"), "effective.until")
    if start and until and until < start:
        r.error(node, "effective-order", f"effective.until {until} is before effective.from {start}")
    return start, until


def _read_definition(r: Reader, name: str, kind: str, key: YScalar, spec: YNode) -> Definition | None:
    word = {"rule": "when", "computed": "expr", "output": "expr"}[kind]
    if isinstance(spec, YScalar):
        e = r.expr(spec, f"'{name}'")
        if e is None:
            return None
        return Definition(name, kind, None, None, None, (Version(None, None, e, None, spec.span),),
                          None, r.file, key.span)
    m = r.mapping(spec, f"'{name}'", _DEF_KEYS)
    if m is None:
        return None
    other = "expr" if word == "when" else "when"
    if m.get(other) is not None:
        r.error(m.get(other) or m, "wrong-key", f"use '{word}:' for {'a rule' if kind == 'rule' else 'a value'}")
    versions: list[Version] = []
    vn = m.get("versions")
    if vn is not None:
        if m.get(word) is not None:
            r.error(vn, "versions-and-expr", f"'{name}' has both `{word}:` and `versions:`")
        if not isinstance(vn, YSeq) or not vn.items:
            r.error(vn, "expected-list", "versions must be a list of {effective, " + word + "}")
        else:
            for item in vn.items:
                vm = r.mapping(item, "a version", _VERSION_KEYS, ("effective", word))
                if vm is None:
                    continue
                start, until = _read_effective(r, vm.get("effective"))
                e = r.expr(vm.get(word), f"'{name}' version")
                if e is not None:
                    versions.append(Version(start, until, e, r.text(vm.get("source"), "source"), item.span,
                                            _span(vm.get("source"))))
    else:
        en = m.get(word)
        if en is None:
            r.error(m, "missing-expression", f"'{name}' needs `{word}:`")
            return None
        start, until = _read_effective(r, m.get("effective"))
        e = r.expr(en, f"'{name}'")
        if e is None:
            return None
        versions.append(Version(start, until, e, None, m.span))
    rounding = None
    rn = m.get("round")
    if rn is not None and (rm := r.mapping(rn, "round", ("to", "mode"), ("to",))) is not None:
        step = r.number(rm.get("to"), "round.to", "decimal")
        mode = r.text(rm.get("mode"), "round.mode") or "half_up"
        if mode not in ROUND_MODES:
            r.error(rm.get("mode") or rm, "round-mode", f"round.mode must be one of {', '.join(ROUND_MODES)}")
        elif isinstance(step, Decimal) and step > 0:
            rounding = Rounding(step, mode)
        else:
            r.error(rm.get("to") or rm, "round-step", "round.to must be a positive step such as 0.01 or 1")
    absent = "undecided"
    an = m.get("not_in_force")
    if an is not None:
        absent = r.text(an, "not_in_force") or "undecided"
        if absent not in NOT_IN_FORCE:
            r.error(an, "not-in-force", f"not_in_force must be one of {', '.join(NOT_IN_FORCE)}")
            absent = "undecided"
        elif absent != "undecided" and not (kind == "rule" or (kind == "output" and name == "eligible")):
            r.error(an, "not-in-force", f"only a rule or `eligible` can pass or fail when not in force; "
                    f"'{name}' has no value then", "remove `not_in_force:` (the program is then undecided)")
            absent = "undecided"
    return Definition(name, kind, r.label(m.get("title"), "title"), r.text(m.get("source"), "source"),
                      r.text(m.get("article"), "article"), tuple(versions), rounding, r.file, key.span,
                      r.each(m.get("each")) if kind != "output" else None, _span(m.get("source")), absent)


# --- test cases --------------------------------------------------------------------------------

_CASE_KEYS = ("name", "on", "household", "complete", "expect", "expect_error", "description", "note")


def read_tests(r: Reader, root: YMap) -> list[TestCase]:
    r.mapping(root, "a test file", ("tests", "description"), ("tests",))
    tn = root.get("tests")
    out: list[TestCase] = []
    if not isinstance(tn, YSeq):
        if tn is not None:
            r.error(tn, "expected-list", "tests must be a list of cases")
        return out
    for item in tn.items:
        m = r.mapping(item, "a test case", _CASE_KEYS, ("name", "on", "household"))
        if m is None:
            continue
        name = r.text(m.get("name"), "name") or "<unnamed>"
        on = r.date(m.get("on"), "on")
        hn = m.get("household")
        expect: dict[str, object] = {}
        spans: dict[str, Span] = {}
        en = m.get("expect")
        if en is not None and (em := r.mapping(en, "expect", tuple(k.value for k, _ in en.items)
                                               if isinstance(en, YMap) else ())) is not None:
            for k, v in em.items:
                expect[k.value] = to_plain(v)
                spans[k.value] = k.span
        err = None
        xn = m.get("expect_error")
        if xn is not None and (xm := r.mapping(xn, "expect_error", ("kind", "path", "message"), ("kind",))):
            err = {k.value: str(to_plain(v)) for k, v in xm.items}
        if en is None and xn is None:
            r.error(item, "missing-key", "a test case needs `expect:` or `expect_error:`")
        if on is None or hn is None:
            continue
        complete = m.get("complete") is not None and r.boolean(m.get("complete"), "complete") is True
        out.append(TestCase(name, on, to_plain(hn), expect, err, r.file, item.span, spans, complete))
    return out



# --- properties ----------------------------------------------------------------------------------

PROPERTY_KINDS = ("monotonic", "bounds", "exclusive", "invariant")
TRANSFORMS = ("shuffle_members", "reorder_keys")
DIRECTIONS = ("up", "down")
#: What a monotonic property may expect of each output when the varied field moves.
MONOTONIC_EXPECT = {"eligible": ("never_gains", "never_loses"), "amount": ("never_rises", "never_falls")}
VARY_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?\Z")
_PROPERTY_COMMON = ("name", "kind", "on", "members", "description", "note")
_PROPERTY_KEYS = {"monotonic": ("program", "vary", "direction", "expect"), "bounds": ("program", "amount"),
                  "exclusive": ("programs",), "invariant": ("transform", "program", "programs")}
_PROPERTY_REQUIRED = {"monotonic": ("program", "vary", "expect"), "bounds": ("program", "amount"),
                      "exclusive": ("programs",), "invariant": ("transform",)}


def read_properties(r: Reader, root: YMap) -> list[Property]:
    """Read a `properties:` file: properties checked with generated households."""
    r.mapping(root, "a properties file", ("properties", "description"), ("properties",))
    pn = root.get("properties")
    out: list[Property] = []
    if not isinstance(pn, YSeq):
        if pn is not None:
            r.error(pn, "expected-list", "properties must be a list of properties")
        return out
    for item in pn.items:
        prop = _read_property(r, item)
        if prop is not None:
            out.append(prop)
    return out


def _choice(r: Reader, node: YNode | None, what: str, choices: tuple[str, ...]) -> str | None:
    text = r.text(node, what)
    if text is None or node is None:
        return None
    if text not in choices:
        guess = did_you_mean(text, choices)
        r.error(node, "property-value", f"{what} must be one of {', '.join(choices)}, not {readable(text, 40)!r}",
                f"did you mean '{guess}'?" if guess else None)
        return None
    return text


def _read_property(r: Reader, item: YNode) -> Property | None:
    if not isinstance(item, YMap):
        r.error(item, "expected-mapping", "a property must be a mapping with `name:` and `kind:`")
        return None
    kind_node = item.get("kind")
    kind = _choice(r, kind_node, "kind", PROPERTY_KINDS) if kind_node is not None else None
    if kind is None:
        r.mapping(item, "a property", None, ("name", "kind"))
        return None
    article = "an" if kind[0] in "aeiou" else "a"
    m = r.mapping(item, f"{article} {kind} property", (*_PROPERTY_COMMON, *_PROPERTY_KEYS[kind]),
                  ("name", "kind", *_PROPERTY_REQUIRED[kind]))
    if m is None:  # pragma: no cover - checked above
        return None
    ok = all(m.get(k) is not None for k in ("name", *_PROPERTY_REQUIRED[kind]))
    spans = {k.value: v.span for k, v in m.items}
    name = r.text(m.get("name"), "name") or "<unnamed>"
    programs: list[str] = []
    for key in ("program", "programs"):
        pn = m.get(key)
        if pn is None:
            continue
        nodes = pn.items if isinstance(pn, YSeq) else [pn]
        if key == "programs" and not isinstance(pn, YSeq):
            r.error(pn, "expected-list", "programs must be a list of program names")
            ok = False
        for n in nodes:
            text = r.text(n, "a program name")
            if text is None:
                ok = False
            else:
                programs.append(text)
    if kind == "exclusive" and m.get("programs") is not None and len(programs) < 2:
        r.error(m.get("programs") or m, "property-value", "an exclusive property lists two or more programs")
        ok = False
    vary = r.text(m.get("vary"), "vary")
    if vary is not None and not VARY_RE.match(vary):
        r.error(m.get("vary") or m, "property-value",
                f"vary must name a household field or a field of a list such as members.income, "
                f"not {readable(vary, 60)!r}")
        ok = False
    direction = _choice(r, m.get("direction"), "direction", DIRECTIONS) if m.get("direction") is not None else "up"
    expect: dict[str, str] = {}
    en = m.get("expect")
    if en is not None and (em := r.mapping(en, "expect", tuple(MONOTONIC_EXPECT))) is not None:
        for k, v in em.items:
            if k.value in MONOTONIC_EXPECT:
                word = _choice(r, v, f"expect.{k.value}", MONOTONIC_EXPECT[k.value])
                if word is not None:
                    expect[k.value] = word
        if not em.items:
            r.error(en, "property-value", "expect needs `eligible:` or `amount:`")
    bounds: dict[str, Expr | None] = {"min": None, "max": None}
    an = m.get("amount")
    if an is not None and (am := r.mapping(an, "amount", ("min", "max"))) is not None:
        for k, v in am.items:
            if k.value in bounds:
                bounds[k.value] = r.expr(v, f"amount.{k.value}")
        if not am.items:
            r.error(an, "property-value", "amount needs `min:` or `max:`")
    transform = _choice(r, m.get("transform"), "transform", TRANSFORMS)
    members = _read_members(r, m.get("members"))
    on = r.date(m.get("on"), "on")
    if not ok or (kind == "monotonic" and (not expect or direction is None)) \
            or (kind == "bounds" and bounds["min"] is None and bounds["max"] is None) \
            or (kind == "invariant" and transform is None):
        return None
    return Property(name, kind, tuple(programs), r.file, item.span, spans, vary, direction or "up", expect,
                    bounds["min"], bounds["max"], transform, on, members)


def _read_members(r: Reader, node: YNode | None) -> tuple[int, int] | None:
    if node is None:
        return None
    nodes = node.items if isinstance(node, YSeq) else [node]
    sizes = [r.number(n, "members", "integer") for n in nodes]
    if len(sizes) not in (1, 2) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                           for s in sizes):
        r.error(node, "property-value", "members must be a number or [min, max]", "members: [1, 6]")
        return None
    lo, hi = int(sizes[0] or 0), int(sizes[-1] or 0)
    if lo > hi:
        r.error(node, "property-value", f"members: the minimum {lo} is above the maximum {hi}")
        return None
    return lo, hi

Checker = Callable[[Reader, YMap], object]
