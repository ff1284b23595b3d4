"""The helpers generated code calls, and the exceptions it raises for the engine to explain.

Generated code imports nothing: `namespace()` in the pipeline puts these names in its globals.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from eligibility.compile.unknown import KLEENE, Unknown


class Unset:
    """The marker of a definition not evaluated yet in a decision."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<not evaluated>"

    #: As an empty memo of a per-record value: generated code looks a record up before the memo exists
    #: (`U.get(key, default)` is `default`). An empty dict's own `get`, never filled: no Python call.
    get: Any = {}.get


U = Unset()


class NotInForce(Exception):
    """No version of a definition is in force on the decision date."""

    def __init__(self, index: int) -> None:
        self.index = index


class MissingParameter(Exception):
    """A parameter with no value on the decision date was used."""

    def __init__(self, index: int) -> None:
        self.index = index


def _refuse(self: MissingValue, *args: object) -> Any:
    raise MissingParameter(self.index)


class MissingValue:
    """Stands for a parameter with no value on the decision date; any use of it raises."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    __lt__ = __le__ = __gt__ = __ge__ = __eq__ = __ne__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __neg__ = __abs__ = __bool__ = __hash__ = _refuse


class EmptyAggregate(Exception):
    """min() or max() over an empty list."""

    def __init__(self, text: str) -> None:
        self.text = text


class DateOrder(Exception):
    """age() of a date after the date it is measured on."""

    def __init__(self, born: dt.date, on: dt.date) -> None:
        self.born, self.on = born, on


def _record(t: dict[int, Any], k: int, v: Any) -> Any:
    t[k] = v
    return v


def _record_item(t: dict[int, Any], k: int, idx: tuple[int, ...], v: Any) -> Any:
    lst = t.get(k)
    if lst is None:
        t[k] = lst = []
    lst.append((idx, v))
    return v


def _per_record(c: list[Any], k: int, f: Any, h: Any, pv: Any, on: Any, x: Any) -> Any:
    memo = c[k]
    if memo is U:
        memo = c[k] = {}
    v = memo.get(id(x), U)
    if v is U:
        v = memo[id(x)] = f(h, pv, c, on, x)
    return v


def _new_memo(c: list[Any], k: int) -> dict[int, Any]:
    """The memo of a per-record value, created at its first evaluation in a decision."""
    memo: dict[int, Any] = {}
    c[k] = memo
    return memo


def _per_record_traced(c: list[Any], k: int, f: Any, h: Any, pv: Any, on: Any, t: Any, x: Any, i: int) -> Any:
    memo = c[k]
    if memo is U:
        memo = c[k] = {}
    v = memo.get(id(x), U)
    if v is U:
        v = memo[id(x)] = f(h, pv, c, on, t, x, i)
    return v


def _age(born: dt.date, on: dt.date) -> int:
    if born > on:
        raise DateOrder(born, on)
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _days(a: dt.date, b: dt.date) -> int:
    return (b - a).days


def _min_of(items: Any, text: str) -> Any:
    vals = list(items)
    if not vals:
        raise EmptyAggregate(text)
    return min(vals)


def _max_of(items: Any, text: str) -> Any:
    vals = list(items)
    if not vals:
        raise EmptyAggregate(text)
    return max(vals)


def _dec(x: Any) -> Any:
    """A number as a Decimal; a parameter with no value raises here as anywhere else."""
    if x.__class__ is Decimal:
        return x
    if x.__class__ is MissingValue:
        raise MissingParameter(x.index)
    if x.__class__ is Unknown:
        return x  # an unknown stays unknown through arithmetic
    return Decimal(x)


def _quant(mode: str) -> Any:
    def q(x: Any, step: Any) -> Any:
        if step.__class__ is not Decimal:
            step = Decimal(step)
        x = _dec(x)
        if x.__class__ is Unknown:
            return x
        if step.as_tuple().digits == (1,):  # 0.01, 1, 10: quantize directly
            exp = step.as_tuple().exponent
            if isinstance(exp, int) and exp <= 0:
                return x.quantize(step, rounding=mode)
        return (x / step).quantize(Decimal(1), rounding=mode) * step
    return q


HELPERS: dict[str, object] = {**KLEENE,
    "U": U, "D": _dec, "DEC": Decimal, "r": _record, "ri": _record_item, "age": _age, "days": _days,
    "min_of": _min_of, "max_of": _max_of, "pm": _per_record, "tpm": _per_record_traced, "NEWD": _new_memo,
    "rhu": _quant(ROUND_HALF_UP), "rup": _quant(ROUND_CEILING),
    "rdn": _quant(ROUND_FLOOR), "RHU": ROUND_HALF_UP, "RUP": ROUND_CEILING, "RDN": ROUND_FLOOR,
    "NotInForce": NotInForce, "sum": sum, "any": any, "all": all,
    "len": len, "min": min, "max": max, "abs": abs, "enumerate": enumerate, "id": id,
}
