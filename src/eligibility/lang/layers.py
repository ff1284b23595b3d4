"""Read program files (one layer of a program each) and the sources registry."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import attrs

from eligibility.base.errors import Diagnostic
from eligibility.base.i18n import translate as _
from eligibility.base.source import Span, did_you_mean, readable
from eligibility.lang.loader import YMap, YNode, YScalar, YSeq
from eligibility.lang.model import NOT_IN_FORCE, Definition, Label, Parameter, ParamValue, Rounding, Source, Version
from eligibility.lang.reader import Reader

PARAM_TYPES = ("money", "decimal", "integer", "bool")
CONFIDENCE = ("C", "C-mirror", "S", "U")
ROUND_MODES = ("half_up", "up", "down")
MAX_DEFINITIONS = 2000
#: The outputs a program may declare, with their types.
OUTPUTS = {"eligible": "bool", "amount": "money", "tier": "text"}
#: What a program is to an applicant: a benefit (the default), a helper other programs read (household
#: membership, the tiers), or a notice (a warning shown when it is "eligible"); see policy-format.md.
ROLES = ("benefit", "helper", "notice")


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
    role: str | None = None


def _span(node: YNode | None) -> Span | None:
    return node.span if node is not None else None


_PROGRAM_KEYS = ("program", "title", "jurisdiction", "extends", "each", "sources", "parameters", "computed",
                 "rules", "eligible", "amount", "tier", "role", "description")
_SOURCE_KEYS = ("title", "document", "articles", "article", "date", "url", "confidence", "note")
_PARAM_KEYS = ("type", "unit", "title", "source", "values", "note", "description")
_VALUE_KEYS = ("value", "source", "note")
_DEF_KEYS = ("title", "each", "expr", "when", "source", "article", "effective", "versions", "round",
             "not_in_force", "note", "description", "confidence")
_VERSION_KEYS = ("effective", "expr", "when", "source", "note")


def read_layer(r: Reader, root: YMap) -> Layer | None:
    r.mapping(root, _("a program file"), _PROGRAM_KEYS, ("program", "jurisdiction"))
    pnode = root.get("program")
    prog = r.name(pnode, "program") if isinstance(pnode, YScalar) else None
    if prog is None:
        if pnode is not None and not isinstance(pnode, YScalar):
            r.error(pnode, "expected-text", _("program must be a name"))
        return None
    jur = r.text(root.get("jurisdiction"), "jurisdiction") or ""
    jn = root.get("jurisdiction")
    if jn is not None and not re.fullmatch(r"\d{6}", jur):
        r.error(jn, "jurisdiction", _("jurisdiction must be a 6-digit GB/T 2260 code, not {jur!r}",
                                      jur=readable(jur, 20)),
                _('quote it: jurisdiction: "440114"; national is "000000"'))
    ext = root.get("extends")
    layer = Layer(prog, r.label(root.get("title"), "title"), jur, r.text(ext, "extends"),
                  ext.span if ext else None, {}, {}, {}, None, None, r.file, root.span, r.each(root.get("each")))
    rn = root.get("role")
    role = r.text(rn, "role")
    if rn is not None and role is not None and role not in ROLES:
        r.error(rn, "role", f"role must be one of {', '.join(ROLES)}, not {readable(role, 20)!r}",
                "helper: read by other programs, not a benefit (membership, tiers); notice: a warning")
    elif role is not None:
        layer.role = role
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
                                      _("'{n}' is already defined on line {line}", n=n, line=names[n].line),
                                      _("parameters, computed values and rules share one namespace"),
                                      related=((names[n], "first defined here"),)))
            return None
        names[n] = key.span
        return n

    pn = root.get("parameters")
    if pn is not None and (m := r.mapping(pn, "parameters", None)) is not None:
        if len(m.items) > MAX_DEFINITIONS:
            r.error(m, "limit-parameters", _("{n} parameters; the limit is {MAX_DEFINITIONS}",
                                             n=len(m.items), MAX_DEFINITIONS=MAX_DEFINITIONS))
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
            r.error(m, "limit-rules", _("{n} {section}; the limit is {MAX_DEFINITIONS}",
                                        n=len(m.items), section=section, MAX_DEFINITIONS=MAX_DEFINITIONS))
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
    r.mapping(root, _("a sources file"), ("sources", "description"), ("sources",))
    sn = root.get("sources")
    out: list[Source] = []
    if sn is not None and (m := r.mapping(sn, "sources", None)) is not None:
        for key, spec in m.items:
            src = _read_source(r, key, spec)
            if src is not None:
                out.append(src)
    return out


def _read_source(r: Reader, key: YScalar, spec: YNode) -> Source | None:
    m = r.mapping(spec, _("source '{value}'", value=key.value), _SOURCE_KEYS, ("title", "confidence"))
    if m is None:
        return None
    conf = r.text(m.get("confidence"), "confidence")
    if conf is not None and conf not in CONFIDENCE:
        r.error(m.get("confidence") or m, "confidence", _("confidence must be one of {CONFIDENCE}",
                                                          CONFIDENCE=', '.join(CONFIDENCE)))
    arts = m.get("articles") or m.get("article")
    return Source(key.value, r.text(m.get("title"), "title") or key.value, r.text(m.get("document"), "document"),
                  r.text(arts, "articles"), r.text(m.get("date"), "date"), r.text(m.get("url"), "url"),
                  conf or "U", r.file, key.span)


def _read_parameter(r: Reader, name: str, key: YScalar, spec: YNode) -> Parameter | None:
    m = r.mapping(spec, _("parameter '{name}'", name=name), _PARAM_KEYS, ("type", "title", "values"))
    if m is None:
        return None
    ptype = r.text(m.get("type"), "type") or "decimal"
    if ptype not in PARAM_TYPES:
        guess = did_you_mean(ptype, PARAM_TYPES)
        r.error(m.get("type") or m, "unknown-type", _("unknown parameter type '{ptype}'",
                                                      ptype=readable(ptype, 40)),
                (_("did you mean '{guess}'?", guess=guess) if guess else (_("types: ") + ", ".join(PARAM_TYPES))))
        return None
    values: list[ParamValue] = []
    vn = m.get("values")
    if isinstance(vn, YMap):
        for dkey, vnode in vn.items:
            start = r.date(dkey, _("a parameter value's date"))
            src = note = None
            valnode: YNode | None = vnode
            if isinstance(vnode, YMap):
                vm = r.mapping(vnode, _("a dated value"), _VALUE_KEYS, ("value",))
                valnode = vm.get("value") if vm else None
                src = r.text(vnode.get("source"), "source")
                note = r.text(vnode.get("note"), "note")
            value = r.number(valnode, _("value of '{name}'", name=name), ptype) if valnode is not None else None
            if start is not None and value is not None:
                sn = vnode.get("source") if isinstance(vnode, YMap) else None
                values.append(ParamValue(start, value, src, note, dkey.span, sn.span if sn else None))
        if not vn.items:
            r.warn(vn, "no-value", _("parameter '{name}' has no value yet; decisions that need it will fail",
                                     name=name),
                   _("add a dated value when the source publishes one"))
    elif vn is not None:
        r.error(vn, "expected-mapping", _("values must map dates to values"), _("values: {2024-07-01: 1282}"))
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
        r.error(node, "effective-order", _("effective.until {until} is before effective.from {start}",
                                           until=until, start=start))
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
        r.error(m.get(other) or m, "wrong-key", _("use '{word}:' for {v}",
                                                  word=word, v='a rule' if kind == 'rule' else 'a value'))
    versions: list[Version] = []
    vn = m.get("versions")
    if vn is not None:
        if m.get(word) is not None:
            r.error(vn, "versions-and-expr", _("'{name}' has both `{word}:` and `versions:`",
                                               name=name, word=word))
        if not isinstance(vn, YSeq) or not vn.items:
            r.error(vn, "expected-list", _("versions must be a list of {{effective, {word}}}", word=word))
        else:
            for item in vn.items:
                vm = r.mapping(item, _("a version"), _VERSION_KEYS, ("effective", word))
                if vm is None:
                    continue
                start, until = _read_effective(r, vm.get("effective"))
                e = r.expr(vm.get(word), _("'{name}' version", name=name))
                if e is not None:
                    versions.append(Version(start, until, e, r.text(vm.get("source"), "source"), item.span,
                                            _span(vm.get("source"))))
    else:
        en = m.get(word)
        if en is None:
            r.error(m, "missing-expression", _("'{name}' needs `{word}:`", name=name, word=word))
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
            r.error(rm.get("mode") or rm, "round-mode", _("round.mode must be one of {ROUND_MODES}",
                                                          ROUND_MODES=', '.join(ROUND_MODES)))
        elif isinstance(step, Decimal) and step > 0:
            rounding = Rounding(step, mode)
        else:
            r.error(rm.get("to") or rm, "round-step", _("round.to must be a positive step such as 0.01 or 1"))
    absent = "undecided"
    an = m.get("not_in_force")
    if an is not None:
        absent = r.text(an, "not_in_force") or "undecided"
        if absent not in NOT_IN_FORCE:
            r.error(an, "not-in-force", _("not_in_force must be one of {NOT_IN_FORCE}",
                                          NOT_IN_FORCE=', '.join(NOT_IN_FORCE)))
            absent = "undecided"
        elif absent != "undecided" and not (kind == "rule" or (kind == "output" and name == "eligible")):
            r.error(an, "not-in-force",
                    _("only a rule or `eligible` can pass or fail when not in force; '{name}' has no value then",
                      name=name),
                    _("remove `not_in_force:` (the program is then undecided)"))
            absent = "undecided"
    return Definition(name, kind, r.label(m.get("title"), "title"), r.text(m.get("source"), "source"),
                      r.text(m.get("article"), "article"), tuple(versions), rounding, r.file, key.span,
                      r.each(m.get("each")) if kind != "output" else None, _span(m.get("source")), absent)

