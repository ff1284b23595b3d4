"""Read YAML nodes into typed values: the shared helpers of the policy files' readers.

A `Reader` turns nodes into text, labels, dates, numbers, names and expressions, recording a
diagnostic for each value it cannot read; `to_plain` turns a node into JSON-like data.
"""

from __future__ import annotations

import builtins
import datetime as dt
import keyword
import re
from decimal import Decimal

from eligibility.base.errors import Diagnostic
from eligibility.base.i18n import N_
from eligibility.base.i18n import translate as _
from eligibility.base.source import SourceText, Span, did_you_mean, readable
from eligibility.lang.loader import YMap, YNode, YScalar, YSeq
from eligibility.lang.model import Expr, Label

NAME_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
EACH_RE = re.compile(r"([a-z][a-z0-9_]*)\s+in\s+household\.([a-z][a-z0-9_]*)\Z")
INT_RE = re.compile(r"-?\d+\Z")
DEC_RE = re.compile(r"-?\d+(\.\d+)?\Z")
MAX_NAME = 64
#: Names the expression language reserves for its functions and built-in names.
RESERVED = frozenset({"count", "sum", "any", "all", "min", "max", "abs", "age", "age_on",
                      "days_between", "date", "round_half_up", "round_up", "round_down",
                      "household", "decision_date", "eligible", "amount", "tier"})


#: What a name can be the name of, as messages say it.
NAME_OWNERS = {"field": N_("field"), "program": N_("program"), "parameter": N_("parameter"), "rule": N_("rule"),
               "computed value": N_("computed value")}


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
            self.error(node, "expected-mapping", _("{what} must be a mapping of keys to values", what=what))
            return None
        for key, _value in node.items:
            if allowed is not None and key.value not in allowed:
                guess = did_you_mean(key.value, allowed)
                hint = (_("did you mean '{guess}'?", guess=guess) if guess
                        else _("allowed keys: {keys}", keys=", ".join(allowed)))
                self.error(key, "unknown-key", _("unknown key '{value}' in {what}",
                                                 value=readable(key.value, 64), what=what), hint)
        for name in required:
            if node.get(name) is None:
                self.error(node.span, "missing-key", _("{what} needs '{name}'", what=what, name=name))
        return node

    def entries(self, root: YMap, key: str, what: str, items: str) -> tuple[YNode, ...]:
        """Read a file that is one list under `key` (and perhaps a description): its items."""
        self.mapping(root, what, (key, "description"), (key,))
        node = root.get(key)
        if not isinstance(node, YSeq):
            if node is not None:
                self.error(node, "expected-list", _("{key} must be a list of {items}", key=key, items=items))
            return ()
        return node.items

    def text(self, node: YNode | None, what: str) -> str | None:
        if node is None:
            return None
        if not isinstance(node, YScalar) or node.is_null:
            self.error(node, "expected-text", _("{what} must be text", what=what))
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
            self.error(node, "invalid-date", _("{what} must be a date YYYY-MM-DD", what=what),
                       _("write dates like 2024-07-01"))
            return None
        try:
            return dt.date.fromisoformat(node.value)
        except ValueError:
            self.error(node, "invalid-date", _("{value} is not a calendar date",
                                               value=readable(node.value, 20)))
            return None

    def boolean(self, node: YNode | None, what: str) -> bool | None:
        if node is None:
            return None
        if isinstance(node, YScalar) and node.style is None and node.value in ("true", "false"):
            return node.value == "true"
        yaml11 = isinstance(node, YScalar) and node.value.lower() in ("yes", "no", "on", "off", "y", "n")
        hint = (_("write true or false (YAML 1.1 words like yes/no/on/off are not booleans here)") if yaml11
                else _("write true or false"))
        self.error(node, "expected-bool", _("{what} must be true or false", what=what), hint)
        return None

    def number(self, node: YNode | None, what: str, kind: str) -> Decimal | int | bool | None:
        """Type a scalar as money, decimal, integer or bool, from its source text."""
        if node is None:
            return None
        if kind == "bool":
            return self.boolean(node, what)
        if not isinstance(node, YScalar) or node.is_null:
            self.error(node, "expected-number", _("{what} must be a number", what=what))
            return None
        text = node.value.strip()
        if kind == "integer":
            if not INT_RE.match(text):
                self.error(node, "expected-integer", _("{what} must be a whole number, not {text!r}",
                                                       what=what, text=readable(text, 40)))
                return None
            return int(text)
        if not DEC_RE.match(text):
            hint = None
            if any(c in text for c in ",¥元 "):
                hint = _("write plain digits: no thousands separators, currency signs or units")
            elif text.lower() in ("nan", ".nan", "inf", ".inf", "-.inf", "infinity"):
                hint = _("parameters must be finite numbers")
            self.error(node, "expected-number", _("{what} must be a number, not {text!r}",
                                                  what=what, text=readable(text, 40)), hint)
            return None
        digits = text.lstrip("-").replace(".", "").lstrip("0")
        if len(digits) > 30:
            self.error(node, "limit-literal", _("{what} has {n} significant digits; the limit is 30",
                                                what=what, n=len(digits)))
            return None
        value = Decimal(text)
        if kind == "money":
            if value < 0:
                self.error(node, "negative-money", _("{what} must not be negative", what=what))
                return None
            exp = value.as_tuple().exponent
            if isinstance(exp, int) and exp < -2:
                self.error(node, "money-precision", _("{what} has more than 2 decimal places", what=what))
                return None
        if abs(value) >= Decimal(10) ** 18:
            self.error(node, "limit-literal", _("{what} is too large (limit 10^18)", what=what))
            return None
        return value

    def name(self, key: YScalar, what: str) -> str | None:
        n = key.value
        problem = None
        if len(n) > MAX_NAME:
            problem = _("is {n} characters long; the limit is {MAX_NAME}", n=len(n), MAX_NAME=MAX_NAME)
        elif not NAME_RE.match(n):
            problem = _("must be lower-case ASCII letters, digits and underscores, starting with a letter")
        elif keyword.iskeyword(n):
            problem = _("is reserved: a Python keyword")
        elif what != "field" and n in RESERVED:
            problem = _("is reserved: a function or name of the expression language")
        elif what != "field" and hasattr(builtins, n):
            problem = _("is reserved: a Python built-in name")
        if problem:
            self.error(key, "invalid-name", _("{what} name '{n}' {problem}",
                                              what=_(NAME_OWNERS.get(what, what)), n=readable(n, 70), problem=problem),
                       _("use a name like income_test"))
            return None
        return n

    def each(self, node: YNode | None) -> tuple[str, str] | None:
        """Read `each: member in household.members`."""
        if node is None:
            return None
        text = self.text(node, "each") or ""
        m = EACH_RE.match(text.strip())
        if m is None or keyword.iskeyword(m.group(1)) or m.group(1) in RESERVED or hasattr(builtins, m.group(1)):
            self.error(node, "each", _("`each` must read like 'member in household.members', not {text!r}",
                                       text=readable(text, 60)),
                       _("name the record, then the list of records it comes from"))
            return None
        return m.group(1), m.group(2)

    def expr(self, node: YNode | None, what: str) -> Expr | None:
        if node is None:
            return None
        if not isinstance(node, YScalar) or node.is_null or node.value.strip() == "":
            self.error(node, "missing-expression", _("{what} must be an expression (text)", what=what))
            return None
        if node.style is None and node.value in ("true", "false"):
            return Expr(node.value.capitalize(), node, self.source)
        return Expr(node.value, node, self.source)


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

