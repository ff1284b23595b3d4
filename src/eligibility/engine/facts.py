"""Validation and normalisation of household facts against the facts vocabulary."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from eligibility.base.errors import InputError, InputProblem
from eligibility.base.i18n import current_language, ngettext
from eligibility.base.i18n import translate as _
from eligibility.base.source import did_you_mean, readable
from eligibility.compile.unknown import unknown
from eligibility.lang.model import Constraint, Facts, FieldSpec, Label

MONEY_RE = re.compile(r"[0-9]{1,15}(\.[0-9]{1,2})?\Z")
NUMBER_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")
DECIMAL_RE = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,12})?\Z")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
MONEY_LIMIT = Decimal(10) ** 15
MAX_TEXT = 256

Problems = list[InputProblem]
Converter = Callable[[object, str, Problems], object]


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(readable(value, 60))
    if isinstance(value, Decimal | dt.date) and not isinstance(value, dt.datetime):
        return str(value)
    if isinstance(value, dict | list):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    return readable(repr(value), 60)


def _money(spec: FieldSpec) -> Converter:
    def conv(v: object, path: str, probs: Problems) -> object:
        d: Decimal | None = None
        if isinstance(v, bool):
            probs.append(InputProblem(path, "type", _("must be an amount of money, not true/false")))
            return None
        if isinstance(v, int):
            d = Decimal(v)
        elif isinstance(v, Decimal):
            if not v.is_finite():
                probs.append(InputProblem(path, "range", _("must be a finite amount, not {v}", v=v)))
                return None
            d = v
        elif isinstance(v, float):
            if not math.isfinite(v):
                probs.append(InputProblem(path, "range", _("must be a finite amount, not {v!r}", v=v)))
                return None
            d = Decimal(repr(v))
        elif isinstance(v, str):
            if not MONEY_RE.match(v):
                if v.startswith("-"):
                    probs.append(InputProblem(path, "range", _("must not be negative ({v})", v=v)))
                    return None
                if NUMBER_RE.match(v):
                    d = Decimal(v)  # a well-formed number with a problem the checks below name
                else:
                    hint = ""
                    if any(c in v for c in ",¥元$ ") or v.lower().strip("+-") in ("nan", "inf", "infinity", "snan"):
                        hint = _("; write plain digits such as \"1234.50\"")
                    probs.append(InputProblem(path, "format",
                                              _('{v} is not an amount such as "1234.50"{hint}',
                                                v=_show(v), hint=hint)))
                    return None
            else:
                d = Decimal(v)
        else:
            probs.append(InputProblem(path, "type", _("must be an amount of money, not {v}", v=_show(v))))
            return None
        if d < 0:
            probs.append(InputProblem(path, "range", _("must not be negative ({d})", d=d)))
            return None
        if d >= MONEY_LIMIT:
            probs.append(InputProblem(path, "limit", _("must be below 10^15 yuan")))
            return None
        exp = d.as_tuple().exponent
        if isinstance(exp, int) and exp < -2 and d != d.quantize(Decimal("0.01")):
            probs.append(InputProblem(path, "precision", _("{d} has more than 2 decimal places (fen)", d=d)))
            return None
        return _range(spec, d + 0, path, probs)
    return conv


def _decimal(spec: FieldSpec) -> Converter:
    def conv(v: object, path: str, probs: Problems) -> object:
        if isinstance(v, bool) or not isinstance(v, int | Decimal | float | str):
            probs.append(InputProblem(path, "type", _("must be a number, not {v}", v=_show(v))))
            return None
        try:
            if isinstance(v, str):
                if not DECIMAL_RE.match(v):
                    raise InvalidOperation
                d = Decimal(v)
            elif isinstance(v, float):
                if not math.isfinite(v):
                    raise InvalidOperation
                d = Decimal(repr(v))
            else:
                d = Decimal(v)
            if not d.is_finite():
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            probs.append(InputProblem(path, "format", _("{v} is not a finite number", v=_show(v))))
            return None
        return _range(spec, d, path, probs)
    return conv


def _range(spec: FieldSpec, d: Decimal | int, path: str, probs: Problems) -> object:
    if spec.minimum is not None and d < spec.minimum:
        probs.append(InputProblem(path, "range", _("must be at least {minimum} (got {d})",
                                                   minimum=spec.minimum, d=d)))
        return None
    if spec.maximum is not None and d > spec.maximum:
        probs.append(InputProblem(path, "range", _("must be at most {maximum} (got {d})",
                                                   maximum=spec.maximum, d=d)))
        return None
    return d


def _integer(spec: FieldSpec) -> Converter:
    def conv(v: object, path: str, probs: Problems) -> object:
        if isinstance(v, bool) or not isinstance(v, int):
            probs.append(InputProblem(path, "type", _("must be a whole number, not {v}", v=_show(v))))
            return None
        if abs(v) > 10 ** 15:
            probs.append(InputProblem(path, "limit", _("is too large")))
            return None
        return _range(spec, v, path, probs)
    return conv


def _bool(spec: FieldSpec) -> Converter:
    def conv(v: object, path: str, probs: Problems) -> object:
        if not isinstance(v, bool):
            probs.append(InputProblem(path, "type", _("must be true or false, not {v}", v=_show(v))))
            return None
        return v
    return conv


def _date(spec: FieldSpec) -> Converter:
    def conv(v: object, path: str, probs: Problems) -> object:
        if isinstance(v, dt.datetime):
            probs.append(InputProblem(path, "type", _("must be a date, not a date and time")))
            return None
        if isinstance(v, dt.date):
            return v
        if isinstance(v, str) and DATE_RE.match(v):
            try:
                return dt.date.fromisoformat(v)
            except ValueError:
                probs.append(InputProblem(path, "format", _("{v} is not a calendar date", v=_show(v))))
                return None
        probs.append(InputProblem(path, "format", _('must be a date "YYYY-MM-DD", not {v}', v=_show(v))))
        return None
    return conv


def _enum(spec: FieldSpec) -> Converter:
    values = [v for v, _ in spec.values]
    allowed = frozenset(values)

    def conv(v: object, path: str, probs: Problems) -> object:
        if isinstance(v, str) and v in allowed:
            return v
        if isinstance(v, str):
            guess = did_you_mean(v, values)
            msg = (_("{v} is not a known value; did you mean '{guess}'?", v=_show(v), guess=guess) if guess
                   else _("{v} is not a known value; one of {values}", v=_show(v), values=", ".join(values)))
            probs.append(InputProblem(path, "format", msg))
        else:
            probs.append(InputProblem(path, "type", _("must be one of {values}, not {v}",
                                                      values=', '.join(values), v=_show(v))))
        return None
    return conv


def _text(spec: FieldSpec) -> Converter:
    def conv(v: object, path: str, probs: Problems) -> object:
        if not isinstance(v, str):
            probs.append(InputProblem(path, "type", _("must be text, not {v}", v=_show(v))))
            return None
        if len(v) > MAX_TEXT:
            probs.append(InputProblem(path, "limit", _("is {n} characters long; the limit is {MAX_TEXT}",
                                                       n=len(v), MAX_TEXT=MAX_TEXT)))
            return None
        if v == "" and spec.name == "id":
            probs.append(InputProblem(path, "format", _("must not be empty")))
            return None
        return v
    return conv


_CONVERTERS = {"money": _money, "decimal": _decimal, "integer": _integer, "bool": _bool,
               "date": _date, "enum": _enum, "text": _text}


class Validator:
    """Validate a household dict into the normalised form the generated code reads."""

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.top = self._table(facts.fields)
        self.lists = {f.name: (f, self._table(f.fields)) for f in facts.fields if f.type == "list"}
        #: For each list, the fields that must be known whatever else is: ids and what constraints read.
        self.structural = {f.name: frozenset({"id"} | {c.field for c in constraints(f) if c.field})
                           for f in facts.fields if f.type == "list"}
        self.fast, self.fast_source = compile_fast(facts)
        #: Where each field stands in the vocabulary: the defaulted paths are listed in this order.
        self.order: dict[tuple[str | None, str], int] = {(None, f.name): n for n, f in enumerate(facts.fields)}
        self.order.update({(f.name, g.name): n for f in facts.fields if f.type == "list"
                           for n, g in enumerate(f.fields)})

    @staticmethod
    def _table(fields: tuple[FieldSpec, ...]) -> list[tuple[str, FieldSpec, Converter | None]]:
        return [(f.name, f, None if f.type == "list" else _CONVERTERS[f.type](f)) for f in fields]

    def validate(self, household: object) -> tuple[dict[str, object], Sequence[str]]:
        """Return the normalised household and the paths that took their declared default.

        A generated straight-line validator handles the common case; anything it does not
        decide (an error, a float, a bounded decimal) goes to the full validator, which
        reports every problem with its path.
        """
        miss: list[Any] = []
        try:
            return self.fast(household, miss), Defaulted(miss, self.order)
        except (_Miss, ValueError, TypeError):
            pass
        return self.validate_full(household)

    def validate_partial(self, household: object, assume_defaults: bool = True, *,
                         on: dt.date | None = None, complete: bool = False) -> ReadFacts:
        """Like `validate`, but a fact without a default may be absent (unknown), and facts may carry provenance.

        With `assume_defaults=False` an absent fact is unknown even where the vocabulary declares a
        default (a screening asks rather than assumes); list fields keep their default (no records).
        With the decision date `on`, a fact's `as_of` may not be after it, and a fact older than its
        vocabulary's `fresh_for` is stale (unknown, or kept with a warning). With `complete`, every
        fact without a default must be given, as in `validate`.
        """
        quick = self.quick(household, assume_defaults)
        if quick is not None:
            return ReadFacts(quick[0], quick[1], (), {})
        return self.read(household, complete=complete, assume_defaults=assume_defaults, on=on)

    def quick(self, household: object, assume_defaults: bool = True) -> tuple[dict[str, object], Defaulted] | None:
        """The generated validator's reading of a household: (values, defaulted), or None when it does not decide.

        None (an error, an unknown fact, provenance, a bounded decimal ...): `validate_partial`
        reads it field by field and reports every problem with its path. With
        `assume_defaults=False` a household that leaves a field to its default is not decided here.
        """
        miss: list[Any] = []
        try:
            values = self.fast(household, miss)
        except (_Miss, ValueError, TypeError):
            return None
        if assume_defaults or not miss:
            return values, Defaulted(miss, self.order)
        return None

    def validate_full(self, household: object) -> tuple[dict[str, object], tuple[str, ...]]:
        """Validate field by field, collecting every problem; every fact must be known."""
        facts = self.read(household, complete=True)
        return facts.values, tuple(facts.defaulted)

    def read(self, household: object, *, complete: bool, assume_defaults: bool = True,
             on: dt.date | None = None) -> ReadFacts:
        """Validate field by field, collecting every problem, with unknown facts and provenance.

        A fact is unknown when it is given as `{"unknown": true}`, or, unless `complete`, when it is
        absent and has no declared default. Any fact may be given as `{"value": ..., "source": ...,
        "as_of": "YYYY-MM-DD", "reference": ...}` to say where it came from. The records' structure
        (lists, ids, the fields a constraint reads) must always be known. With the decision date
        `on`, an `as_of` after it is a problem, and a fact whose vocabulary declares `fresh_for`
        and whose `as_of` is older than that on `on` is stale: unknown, or kept and marked
        (`"stale"` and `"fresh_until"` in its provenance; see `stale_warnings`).
        """
        probs: Problems = []
        state = _ReadState(complete, assume_defaults, on)
        if not isinstance(household, Mapping):
            raise InputError([InputProblem("household", "type",
                                           _("the household must be a JSON object, not {household}",
                                             household=_show(household)))])
        out = self._record(household, self.top, "", probs, state.defaulted, state)
        if probs:
            raise InputError(probs)
        return ReadFacts(out, tuple(state.defaulted), tuple(state.unknown), state.provenance)

    def _record(self, data: Mapping[object, object], table: list[tuple[str, FieldSpec, Converter | None]],
                prefix: str, probs: Problems, defaulted: list[str],
                state: _ReadState | None = None) -> dict[str, object]:
        if state is None:
            state = _ReadState(True)
        out: dict[str, object] = {}
        known = {name for name, _, _ in table}
        for key in data:
            if key not in known:
                # The path holds the key as given (InputProblem shows it readable in messages); a
                # key too long to be a field name is reported on its record instead, never cut.
                if isinstance(key, str) and len(key) > MAX_TEXT:
                    probs.append(InputProblem(prefix[:-1] or "household", "unknown",
                                              _("has a key of {n:,} characters ({key!r}), which is not a field of "
                                                "the facts vocabulary", n=len(key), key=readable(key, 40))))
                    continue
                raw = key if isinstance(key, str) else repr(key)
                guess = did_you_mean(key, sorted(known)) if isinstance(key, str) else None
                if not isinstance(key, str):
                    msg = _("the key {key} is not text: it is not a field of the facts vocabulary", key=_show(key))
                elif guess:
                    msg = _("is not a field of the facts vocabulary; did you mean '{guess}'?", guess=guess)
                else:
                    msg = _("is not a field of the facts vocabulary")
                probs.append(InputProblem(prefix + raw, "unknown", msg))
        structural = self.structural.get(prefix.split("[")[0] if prefix else "", frozenset())
        for name, spec, conv in table:
            path = prefix + name
            v = data.get(name)
            if conv is not None and isinstance(v, Mapping):
                before = len(probs)
                v = _provenance(v, path, probs, state)
                if state.on is not None and path in state.provenance:
                    v = _fresh(v, spec, path, probs, state)
                if len(probs) > before:
                    continue
                if v is _UNKNOWN:
                    if name in structural:
                        probs.append(InputProblem(path, "missing",
                                                  _("must be known: the household's records depend on it ({label})",
                                                    label=spec.label.get(current_language()))))
                    else:
                        out[name] = unknown(path)
                        state.unknown.append(path)
                    continue
            if v is None:
                if spec.required and (state.complete or name in structural or conv is None):
                    probs.append(InputProblem(path, "missing",
                                              _("is required ({label})", label=spec.label.get(current_language()))))
                    continue
                if spec.required or (not state.assume_defaults and conv is not None and name not in structural):
                    # not given and no default (or defaults not assumed): unknown, never a guess
                    out[name] = unknown(path)
                    state.unknown.append(path)
                    continue
                out[name] = list(spec.default) if isinstance(spec.default, list) else spec.default
                defaulted.append(path)
                continue
            if conv is None:
                out[name] = self._list(v, spec, path, probs, defaulted, state)
            else:
                out[name] = conv(v, path, probs)
        return out

    def _list(self, v: object, spec: FieldSpec, path: str, probs: Problems,
              defaulted: list[str], state: _ReadState | None = None) -> list[dict[str, object]]:
        if not isinstance(v, list | tuple):
            probs.append(InputProblem(path, "type", _("must be a list, not {v}", v=_show(v))))
            return []
        if len(v) < spec.min_items:
            probs.append(InputProblem(path, "limit" if v else "missing",
                                      _("needs at least {min_items} item{v}",
                                        min_items=spec.min_items, v='s' if spec.min_items > 1 else '')))
        if len(v) > spec.max_items:
            probs.append(InputProblem(path, "limit", _("has {n} items; the limit is {max_items}",
                                                       n=len(v), max_items=spec.max_items)))
            return []
        _spec, table = self.lists[spec.name]
        out = []
        for i, item in enumerate(v):
            ipath = f"{path}[{i}]"
            if not isinstance(item, Mapping):
                probs.append(InputProblem(ipath, "type", _("must be an object, not {item}", item=_show(item))))
                continue
            out.append(self._record(item, table, ipath + ".", probs, defaulted, state))
        if len(out) == len(v):
            for c in constraints(spec):
                _constraint(c, out, path, probs)
        return out


_UNKNOWN = object()
#: The keys of a fact given with where it came from.
PROVENANCE_KEYS = ("value", "unknown", "source", "as_of", "valid_until", "reference", "note")


@attrs.frozen
class ReadFacts:
    """A household as read: the values the generated code reads, and what was assumed or not known."""

    values: dict[str, object]
    defaulted: Sequence[str]
    #: The paths of the facts that are not known (`members[0].personal_monthly_income`).
    unknown: tuple[str, ...]
    #: For each fact given with its provenance: {"source", "as_of", "reference", "note"} as given.
    provenance: dict[str, dict[str, str]]


class _ReadState:
    def __init__(self, complete: bool, assume_defaults: bool = True, on: dt.date | None = None) -> None:
        self.complete = complete
        self.assume_defaults = assume_defaults
        self.on = on
        self.defaulted: list[str] = []
        self.unknown: list[str] = []
        self.provenance: dict[str, dict[str, str]] = {}


def _provenance(v: Mapping[object, object], path: str, probs: Problems, state: _ReadState) -> object:
    """Read `{"value": ..., "source": ..., "as_of": ...}` or `{"unknown": true, ...}`: the value, or _UNKNOWN."""
    bad = [k for k in v if k not in PROVENANCE_KEYS]
    if bad:
        probs.append(InputProblem(path, "type", _("a fact given as an object may only have the keys {keys}, "
                                                  "not {bad}", keys=", ".join(PROVENANCE_KEYS), bad=_show(bad[0]))))
        return None
    meta: dict[str, str] = {}
    for key in ("source", "reference", "note"):
        if key in v:
            if not isinstance(v[key], str) or not v[key] or len(v[key]) > MAX_TEXT:  # type: ignore[arg-type]
                probs.append(InputProblem(f"{path}.{key}", "type", _("must be text of 1 to {MAX_TEXT} characters",
                                                                     MAX_TEXT=MAX_TEXT)))
            else:
                meta[key] = str(v[key])
    for key in ("as_of", "valid_until"):
        if key not in v:
            continue
        day = v[key]
        if not isinstance(day, str) or not DATE_RE.match(day):
            probs.append(InputProblem(f"{path}.{key}", "format", _("must be a date \"YYYY-MM-DD\"")))
        else:
            try:
                dt.date.fromisoformat(day)
                meta[key] = day
            except ValueError:
                probs.append(InputProblem(f"{path}.{key}", "format", _("is not a real date: {day}", day=day)))
    if "as_of" in meta and "valid_until" in meta and meta["valid_until"] < meta["as_of"]:
        probs.append(InputProblem(f"{path}.valid_until", "range",
                                  _("{valid_until} is before the date it was verified ({as_of})",
                                    valid_until=meta["valid_until"], as_of=meta["as_of"])))
    if meta:
        state.provenance[path] = meta
    if v.get("unknown") is True:
        if "value" in v:
            probs.append(InputProblem(path, "type", _("is given both as unknown and with a value")))
            return None
        return _UNKNOWN
    if "unknown" in v and v["unknown"] is not False:
        probs.append(InputProblem(f"{path}.unknown", "type", _("must be true or false")))
        return None
    if "value" not in v:
        probs.append(InputProblem(path, "missing", _("a fact given as an object needs \"value\" "
                                  "(or \"unknown\": true)")))
        return None
    return v["value"]


def _fresh(v: object, spec: FieldSpec, path: str, probs: Problems, state: _ReadState) -> object:
    """Check a fact's `as_of` and `valid_until` against the decision date (see `_expired`, `_stale`)."""
    v = _expired(v, spec, path, state)
    return _stale(v, spec, path, probs, state)


def _expired(v: object, spec: FieldSpec, path: str, state: _ReadState) -> object:
    """A fact valid until a date before the decision date has expired: unknown or a warning, as its vocabulary says.

    Without a `valid_until:` in the vocabulary, an expired fact is used with a warning.
    """
    meta = state.provenance[path]
    if "valid_until" not in meta or state.on is None or v is _UNKNOWN:
        return v
    if dt.date.fromisoformat(meta["valid_until"]) >= state.on:
        return v
    kind = spec.valid_until.expired if spec.valid_until is not None else "warning"
    meta["expired"] = kind
    meta["stale"] = kind  # an expired fact is listed with the stale ones in explanations
    return _UNKNOWN if kind == "unknown" else v


def _stale(v: object, spec: FieldSpec, path: str, probs: Problems, state: _ReadState) -> object:
    """Check a fact's `as_of` against the decision date: not after it, and as fresh as its vocabulary asks."""
    meta = state.provenance[path]
    if "as_of" not in meta or state.on is None:
        return v
    as_of = dt.date.fromisoformat(meta["as_of"])
    if as_of > state.on:
        probs.append(InputProblem(f"{path}.as_of", "range",
                                  _("{as_of} is after the decision date {on}: a fact cannot be verified later",
                                    as_of=as_of, on=state.on)))
        return v
    fresh = spec.fresh_for
    if fresh is None or v is _UNKNOWN or (state.on - as_of).days <= fresh.days:
        return v
    meta["stale"] = fresh.stale
    meta["fresh_until"] = (as_of + dt.timedelta(days=fresh.days)).isoformat()
    return _UNKNOWN if fresh.stale == "unknown" else v


def field_at(facts: Facts, path: str) -> FieldSpec | None:
    """The vocabulary field of an input path: `financial_assets`, `members[0].personal_monthly_income`."""
    head, _sep, rest = path.partition(".")
    spec = facts.field(head.split("[")[0])
    if rest and spec is not None:
        return spec.field(rest)
    return spec


def stale_warnings(facts: Facts, provenance: Mapping[str, Mapping[str, str]]) -> list[dict[str, Any]]:
    """The `stale-fact` and `expired-fact` warnings of a decision.

    One for each fact older than its `fresh_for` allows, and one for each fact whose `valid_until`
    is before the decision date.
    """
    out = []
    for path, meta in sorted(provenance.items()):
        if "stale" not in meta:
            continue
        spec = field_at(facts, path)
        if spec is None:
            continue
        if "expired" in meta:
            out.append(_expired_warning(path, meta, spec))
        if spec.fresh_for is None or "fresh_until" not in meta:
            continue
        fresh = spec.fresh_for
        until, as_of, days = meta["fresh_until"], meta["as_of"], fresh.days
        if meta["stale"] == "unknown":
            en_then, zh_then = "it is treated as not known", "按未知处理"
        else:
            en_then, zh_then = "it was used as given; verify it again", "仍按所给值使用，请重新核实"
        out.append({
            "code": "stale-fact", "path": path, "as_of": as_of, "fresh_for_days": days, "fresh_until": until,
            "treated_as": meta["stale"],
            "message": {
                "en": f"{path} ({spec.label.en}): verified {as_of}, more than {days} days before the decision "
                      f"date (accepted until {until}; {fresh.reason.en}); {en_then}",
                "zh": f"{path}（{spec.label.zh}）：核实于 {as_of}，距决定日期已超过 {days} 天"
                      f"（有效至 {until}；{fresh.reason.zh}），{zh_then}",
            }})
    return out


def _expired_warning(path: str, meta: Mapping[str, str], spec: FieldSpec) -> dict[str, Any]:
    until = meta["valid_until"]
    reason_en = f"; {spec.valid_until.reason.en}" if spec.valid_until else ""
    reason_zh = f"；{spec.valid_until.reason.zh}" if spec.valid_until else ""
    if meta["expired"] == "unknown":
        en_then, zh_then = "it is treated as not known", "按未知处理"
    else:
        en_then, zh_then = "it was used as given; verify it again", "仍按所给值使用，请重新核实"
    return {
        "code": "expired-fact", "path": path, "valid_until": until, "treated_as": meta["expired"],
        "message": {
            "en": f"{path} ({spec.label.en}): valid until {until}, before the decision date{reason_en}; {en_then}",
            "zh": f"{path}（{spec.label.zh}）：有效期至 {until}，决定日期时已过期{reason_zh}，{zh_then}",
        }}


#: The implicit rule of a list whose records have an `id`: results per record are keyed by it.
_ID_REASON = Label("成员编号用于区分每条记录的结果", "each record's results are keyed by its id")


def constraints(spec: FieldSpec) -> tuple[Constraint, ...]:
    """The constraints the validator checks on a list field: those declared, and unique ids."""
    declared = spec.constraints
    if spec.field("id") is not None and not any(c.kind == "unique" and c.field == "id" for c in declared):
        return (Constraint("unique", "id", None, None, None, _ID_REASON, spec.span), *declared)
    return declared


def _constraint(c: Constraint, records: list[dict[str, object]], path: str, probs: Problems) -> None:
    """Check one constraint of a list whose records were all read; append a problem per violation."""
    why = _(" ({reason})", reason=c.reason.get(current_language()))
    if c.kind == "max_items":
        if c.maximum is not None and len(records) > c.maximum:
            probs.append(InputProblem(path, "limit", _("has {n} items; at most {maximum}{why}",
                                                       n=len(records), maximum=c.maximum, why=why)))
        return
    name = str(c.field)
    if c.kind == "unique":
        first: dict[object, int] = {}
        for i, rec in enumerate(records):
            value = rec.get(name)
            if value is None:
                continue  # not valid: reported already
            if value in first:
                probs.append(InputProblem(f"{path}[{i}].{name}", "duplicate",
                                          _("{value} is also the {name} of {path}[{first}]{why}",
                                            value=_show(value), name=name, path=path, first=first[value], why=why)))
            else:
                first[value] = i
        return
    hits = [i for i, rec in enumerate(records)
            if rec.get(name) is not None and rec.get(name) == c.value and type(rec.get(name)) is type(c.value)]
    lo = c.minimum if c.minimum is not None else 0
    hi = c.maximum
    wanted = _("exactly {n}", n=lo) if lo == hi else (_("at least {n}", n=lo) if hi is None else _(
        "at most {n}", n=hi) if lo == 0 else _("between {lo} and {hi}", lo=lo, hi=hi))
    where = f"{name} {_show(c.value)}"
    if len(hits) < lo:
        got = (_("no record has {where}", where=where) if not hits else
               ngettext("only {n} record has {where}", "only {n} records have {where}", len(hits), where=where))
        probs.append(InputProblem(path, "constraint", _("{got}; {wanted} must have it{why}",
                                                        got=got, wanted=wanted, why=why)))
    elif hi is not None and len(hits) > hi:
        others = ", ".join(f"{path}[{i}]" for i in hits[:min(hi, 5)])
        for i in hits[hi:][:50]:
            text = (ngettext("{others} also has {where}; {wanted} may have it",
                             "{others} also have {where}; {wanted} may have it", hi,
                             others=others, where=where, wanted=wanted) if hi
                    else _("no record may have {where}", where=where))
            probs.append(InputProblem(f"{path}[{i}].{name}", "constraint", text + why))


class Defaulted(Sequence[str]):
    """The paths of facts that took their declared default, formatted only when read."""

    __slots__ = ("_order", "_paths", "_raw")

    def __init__(self, raw: list[Any], order: Mapping[tuple[str | None, str], int] | None = None) -> None:
        # (list, index, name) a field, or (list, index, the names given, the optional names) a record
        self._raw = raw
        self._order = order
        self._paths: tuple[str, ...] | None = None

    def _all(self) -> tuple[str, ...]:
        if self._paths is None:
            named: list[tuple[str | None, int, str]] = []
            for entry in self._raw:
                if len(entry) == 3:
                    named.append(entry)
                else:
                    lst, i, given, optional = entry
                    named.extend((lst, i, name) for name in optional if name not in given)
            if self._order is not None:  # the vocabulary's order, a list's records at the list's place
                order = self._order
                named.sort(key=lambda e: (order.get((None, e[2] if e[0] is None else e[0]), 0),
                                          e[1], -1 if e[0] is None else order.get((e[0], e[2]), 0)))
            self._paths = tuple(name if lst is None else f"{lst}[{i}].{name}" for lst, i, name in named)
        return self._paths

    def __getitem__(self, i: Any) -> Any:
        return self._all()[i]

    def __len__(self) -> int:
        return len(self._all())


class _Miss(Exception):
    """The fast validator met something it does not decide: the full validator takes over."""


def _fast_record(fn: str, fields: tuple[FieldSpec, ...], lst: str | None, const: Callable[[object], str],
                 out: list[str]) -> None:
    """Append the source of a validator for one record type.

    The required fields are checked in line; of the optional ones, only those a record gives are
    looked at (most records give few of the vocabulary's fields): the defaults of the others come
    from one dict copied, and the paths that took them are named only when read (see `Defaulted`).
    """
    known = const(frozenset(f.name for f in fields))
    required = [f for f in fields if f.required]
    required_names = const(frozenset(f.name for f in required))
    optional = tuple(f.name for f in fields if not f.required)
    lists = {f.name: f.default for f in fields if not f.required and isinstance(f.default, list)}
    defaults = const({f.name: (None if f.required or isinstance(f.default, list) else f.default) for f in fields})
    inline = len(optional) <= _INLINE_OPTIONAL
    checks: list[str] = []
    for n, f in enumerate(fields):
        if not f.required and not inline:
            check = f"{fn}_{n}"
            checks.append(f"{f.name!r}: {check}")
            out.append(f"def {check}(v, miss):")
            _fast_check(f, const, out, "    ", None)
    table = const(None)  # the table of the check functions, assigned in the generated source
    # The optional bool, enum and integer fields (most of what records give) are checked in line, not called.
    bools = const(frozenset(f.name for f in fields if not f.required and f.type == "bool"))
    enums = const({f.name: frozenset(x for x, _ in f.values) for f in fields if not f.required and f.type == "enum"})
    ints = const({f.name: (int(f.minimum) if f.minimum is not None else -(10 ** 15),
                           int(f.maximum) if f.maximum is not None else 10 ** 15)
                  for f in fields if not f.required and f.type == "integer"})
    given = [f"if k in {bools}:",
             "    if v.__class__ is not bool: raise M",
             "    o[k] = v",
             f"elif k in {enums}:",
             f"    if v.__class__ is not str or v not in {enums}[k]: raise M",
             "    o[k] = v",
             f"elif k in {ints}:",
             f"    if v.__class__ is not int or not {ints}[k][0] <= v <= {ints}[k][1]: raise M",
             "    o[k] = v",
             f"else: o[k] = {table}[k](v, miss)"]
    args = "d, miss" if lst is None else "d, miss, i"
    where = f"{lst!r}, i" if lst is not None else "None, 0"
    out += [f"{table} = {{{', '.join(checks)}}}",
            f"def {fn}({args}):",
            f"    if d.__class__ is not dict or not {known}.issuperset(d): raise M",
            f"    o = {defaults}.copy()"]
    for f in required:
        out.append(f"    v = d.get({f.name!r})")
        out.append("    if v is None: raise M")
        _fast_check(f, const, out, "    ", f"o[{f.name!r}]")
    if inline:  # few optional fields: each looked up in line, as the required ones
        for f in fields:
            if f.required:
                continue
            out.append(f"    v = d.get({f.name!r})")
            fresh = f" o[{f.name!r}] = list({const(tuple(f.default))});" if f.name in lists else ""  # type: ignore[arg-type]
            out.append(f"    if v is None:{fresh} miss.append(({where}, {f.name!r}))")
            out.append("    else:")
            _fast_check(f, const, out, "        ", f"o[{f.name!r}]")
    elif optional:
        fill = [f"if {name!r} not in d: o[{name!r}] = list({const(tuple(default))})"
                for name, default in lists.items()]
        out += [f"    if len(d) > {len(required)}:",
                "        for k, v in d.items():",
                f"            if k in {required_names}: continue",
                # A field given as null takes its default, as an absent one: named one by one.
                "            if v is None: break",
                *(f"            {line}" for line in given),
                "        else:",
                f"            if len(d) < {len(fields)}: miss.append(({where}, tuple(d), {const(optional)}))",
                *(f"            {line}" for line in fill),
                "            return o",
                "        for k, v in d.items():",
                f"            if v is None or k in {required_names}: continue",
                *(f"            {line}" for line in given),
                f"        miss.extend(({where}, name) for name in {const(optional)} if d.get(name) is None)",
                *(f"        if d.get({name!r}) is None: o[{name!r}] = list({const(tuple(default))})"
                  for name, default in lists.items()),
                "        return o",
                f"    miss.append(({where}, (), {const(optional)}))",
                *(f"    {line}" for line in fill)]
    out.append("    return o")


#: A record type with at most this many optional fields has each looked up in line; one with more
#: (the members of the bundled vocabulary have 29) looks only at the fields a record gives.
_INLINE_OPTIONAL = 8


def _fast_check(f: FieldSpec, const: Callable[[object], str], out: list[str], ind: str, target: str | None) -> None:
    """Append one field's check of `v`: return the value read (or assign it to `target`), or raise M."""
    ret = "return " if target is None else f"{target} = "
    t = f.type
    lo = f.minimum
    hi = f.maximum
    if t == "bool":
        out.append(f"{ind}if v.__class__ is not bool: raise M")
        out.append(f"{ind}{ret}v")
    elif t == "enum":
        allowed = const(frozenset(x for x, _ in f.values))
        out.append(f"{ind}if v.__class__ is not str or v not in {allowed}: raise M")
        out.append(f"{ind}{ret}v")
    elif t == "text":
        empty = " or not v" if f.name == "id" else ""
        out.append(f"{ind}if v.__class__ is not str or len(v) > {MAX_TEXT}{empty}: raise M")
        out.append(f"{ind}{ret}v")
    elif t == "integer":
        low = int(lo) if lo is not None else -(10 ** 15)
        high = int(hi) if hi is not None else 10 ** 15
        out.append(f"{ind}if v.__class__ is not int or not {low} <= v <= {high}: raise M")
        out.append(f"{ind}{ret}v")
    elif t == "date":
        # A date's text seen before is read from the cache of dates (bounded; see `_parse_date`).
        out.append(f"{ind}if v.__class__ is str: {ret}DC(v) or PD(v)")
        out.append(f"{ind}elif v.__class__ is DATE: {ret}v")
        out.append(f"{ind}else: raise M")
    elif t == "money" and lo is None and hi is None:
        out.append(f"{ind}if v.__class__ is str and MRE(v): {ret}DEC(v)")
        out.append(f"{ind}elif v.__class__ is int and 0 <= v < {10 ** 15}: {ret}DEC(v)")
        # A float whose repr is a plain amount is exact as that amount (as the full validator reads it).
        out.append(f"{ind}elif v.__class__ is float and MRE(FR(v)): {ret}DEC(FR(v))")
        # A Decimal of at most two places, finite, not negative and below the limit: itself, normalised
        # as the full validator does (`d + 0`: no negative zero).
        out.append(f"{ind}elif v.__class__ is DEC and v.is_finite() and 0 <= v < {10 ** 15} "
                   f"and v.as_tuple().exponent >= -2: {ret}v + 0")
        out.append(f"{ind}else: raise M")
    elif t == "list":
        sub = f"rec_{f.name}"
        out.append(f"{ind}if v.__class__ is not list or not {f.min_items} <= len(v) <= {f.max_items}: raise M")
        out.append(f"{ind}r = [{sub}(x, miss, i) for i, x in enumerate(v)]")
        for c in constraints(f):
            if c.kind == "max_items":
                out.append(f"{ind}if len(r) > {c.maximum}: raise M")
            elif c.kind == "unique":
                out.append(f"{ind}if len({{x[{c.field!r}] for x in r}}) != len(r): raise M")
            else:
                cls = const(type(c.value))
                count = f"sum(1 for x in r if x[{c.field!r}] == {const(c.value)} " \
                        f"and x[{c.field!r}].__class__ is {cls})"
                upper = f" <= {c.maximum}" if c.maximum is not None else ""
                out.append(f"{ind}if not {c.minimum or 0} <= {count}{upper}: raise M")
        out.append(f"{ind}{ret}r")
    else:  # decimal, bounded money: rare; the full validator handles them
        out.append(f"{ind}raise M")


#: Dates read by the generated validators, by their text (`YYYY-MM-DD`, checked): a batch's birth
#: dates repeat, and a dict look-up costs a tenth of the pattern and the parse. At most _DATES_MAX.
_DATES: dict[str, dt.date] = {}
_DATES_MAX = 1 << 14


def _parse_date(v: str) -> dt.date:
    """A date's text read as the full validator reads it (a bad one raises for it to report), then cached."""
    if not DATE_RE.match(v):
        raise _Miss
    d = dt.date.fromisoformat(v)  # ValueError (2024-02-30): the full validator names it
    if len(_DATES) < _DATES_MAX:
        _DATES[v] = d
    return d


def compile_fast(facts: Facts) -> tuple[Callable[[object, list[Any]], dict[str, object]], str]:
    """Generate a straight-line validator for the common case; any doubt raises _Miss."""
    consts: dict[str, object] = {}

    def const(value: object) -> str:
        name = f"C{len(consts)}"
        consts[name] = value
        return name

    src: list[str] = []
    _fast_record("validate_fast", facts.fields, None, const, src)
    for f in facts.fields:
        if f.type == "list":
            _fast_record(f"rec_{f.name}", f.fields, f.name, const, src)
    ns: dict[str, Any] = {"__builtins__": {}, "dict": dict, "str": str, "int": int, "bool": bool, "M": _Miss,
                          "DRE": DATE_RE.match, "MRE": MONEY_RE.match,
                          "DEC": Decimal, "FR": repr, "float": float, "FIS": dt.date.fromisoformat,
                          "DATE": dt.date, "len": len, "DC": _DATES.get, "PD": _parse_date,
                          "list": list, "tuple": tuple, "enumerate": enumerate, "sum": sum, **consts}
    text = "\n".join(src) + "\n"
    exec(compile(text, "<eligibility facts validator>", "exec", dont_inherit=True), ns)  # generated from the vocabulary
    return ns["validate_fast"], text
