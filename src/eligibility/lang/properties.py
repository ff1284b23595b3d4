"""Read properties files: properties of a policy set checked with generated households."""

from __future__ import annotations

import re

from eligibility.base.i18n import translate as _
from eligibility.base.source import did_you_mean, readable
from eligibility.lang.loader import YMap, YNode, YSeq
from eligibility.lang.model import Expr, Property
from eligibility.lang.reader import Reader

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
    props = (_read_property(r, item) for item in r.entries(root, "properties", _("a properties file"), "properties"))
    return [p for p in props if p is not None]


def _choice(r: Reader, node: YNode | None, what: str, choices: tuple[str, ...]) -> str | None:
    text = r.text(node, what)
    if text is None or node is None:
        return None
    if text not in choices:
        guess = did_you_mean(text, choices)
        r.error(node, "property-value", _("{what} must be one of {choices}, not {text!r}",
                                          what=what, choices=', '.join(choices), text=readable(text, 40)),
                (_("did you mean '{guess}'?", guess=guess) if guess else None))
        return None
    return text


def _read_property(r: Reader, item: YNode) -> Property | None:
    if not isinstance(item, YMap):
        r.error(item, "expected-mapping", _("a property must be a mapping with `name:` and `kind:`"))
        return None
    kind_node = item.get("kind")
    kind = _choice(r, kind_node, "kind", PROPERTY_KINDS) if kind_node is not None else None
    if kind is None:
        r.mapping(item, _("a property"), None, ("name", "kind"))
        return None
    what = _("an {kind} property", kind=kind) if kind[0] in "aeiou" else _("a {kind} property", kind=kind)
    m = r.mapping(item, what, (*_PROPERTY_COMMON, *_PROPERTY_KEYS[kind]),
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
            r.error(pn, "expected-list", _("programs must be a list of program names"))
            ok = False
        for n in nodes:
            text = r.text(n, _("a program name"))
            if text is None:
                ok = False
            else:
                programs.append(text)
    if kind == "exclusive" and m.get("programs") is not None and len(programs) < 2:
        r.error(m.get("programs") or m, "property-value", _("an exclusive property lists two or more programs"))
        ok = False
    vary = r.text(m.get("vary"), "vary")
    if vary is not None and not VARY_RE.match(vary):
        r.error(m.get("vary") or m, "property-value",
                _("vary must name a household field or a field of a list such as members.income, not {vary!r}",
                  vary=readable(vary, 60)))
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
            r.error(en, "property-value", _("expect needs `eligible:` or `amount:`"))
    bounds: dict[str, Expr | None] = {"min": None, "max": None}
    an = m.get("amount")
    if an is not None and (am := r.mapping(an, "amount", ("min", "max"))) is not None:
        for k, v in am.items:
            if k.value in bounds:
                bounds[k.value] = r.expr(v, f"amount.{k.value}")
        if not am.items:
            r.error(an, "property-value", _("amount needs `min:` or `max:`"))
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
        r.error(node, "property-value", _("members must be a number or [min, max]"), _("members: [1, 6]"))
        return None
    lo, hi = int(sizes[0] or 0), int(sizes[-1] or 0)
    if lo > hi:
        r.error(node, "property-value", _("members: the minimum {lo} is above the maximum {hi}", lo=lo, hi=hi))
        return None
    return lo, hi
