"""Unknown facts and Kleene's three-valued logic, as the traced generated code evaluates them.

A fact that is not known is an `Unknown` carrying the path of each fact it stands for. Arithmetic
and comparisons on an Unknown give an Unknown carrying the union of the paths; `and`, `or`, `not`,
`if`, `in`, the aggregates and another program's amount are evaluated by the helpers below,
which settle a value whenever the known operands force it (False and anything is False; True or
anything is True; `min` of nothing unknown is known) and are Unknown otherwise. Truth-testing an
Unknown raises: the code generator never lets Python decide with one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any


class UnknownTruth(Exception):
    """An Unknown reached a place where Python needs True or False: a code generator bug."""


class Unknown:
    """A value that depends on facts that are not known; `paths` names them."""

    __slots__ = ("paths",)

    def __init__(self, paths: frozenset[str]) -> None:
        self.paths = paths

    def __repr__(self) -> str:
        return f"Unknown({', '.join(sorted(self.paths))})"

    def __bool__(self) -> bool:
        raise UnknownTruth("an unknown value was used as a condition")

    def __hash__(self) -> int:
        return hash(self.paths)

    def merge(self, other: Any) -> Unknown:
        """This Unknown and, if it is one, another: the union of their paths."""
        if other.__class__ is Unknown and not other.paths <= self.paths:
            return Unknown(self.paths | other.paths)
        return self

    def _op(self, other: Any = None) -> Unknown:
        return self.merge(other)

    __lt__ = __le__ = __gt__ = __ge__ = __eq__ = __ne__ = _op  # type: ignore[assignment]
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _op
    __truediv__ = __rtruediv__ = __neg__ = __abs__ = _op

    def quantize(self, *args: Any) -> Unknown:
        return self


def unknown(path: str) -> Unknown:
    """The Unknown standing for one fact."""
    return Unknown(frozenset((path,)))


def _merge(acc: Unknown | None, v: Any) -> Unknown | None:
    if v.__class__ is not Unknown:
        return acc
    return v if acc is None else acc.merge(v)


def k_and(first: Any, *rest: Callable[[], Any]) -> Any:
    """Kleene `and`, left to right, stopping at the first False."""
    if first is False:
        return False
    acc = _merge(None, first)
    for thunk in rest:
        v = thunk()
        if v is False:
            return False
        acc = _merge(acc, v)
    return True if acc is None else acc


def k_or(first: Any, *rest: Callable[[], Any]) -> Any:
    """Kleene `or`, left to right, stopping at the first True."""
    if first is True:
        return True
    acc = _merge(None, first)
    for thunk in rest:
        v = thunk()
        if v is True:
            return True
        acc = _merge(acc, v)
    return False if acc is None else acc


def k_not(v: Any) -> Any:
    """Kleene `not`."""
    return v if v.__class__ is Unknown else not v


def k_if(test: Any, body: Callable[[], Any], orelse: Callable[[], Any]) -> Any:
    """`a if c else b`: when c is unknown, the value both branches share, if they do."""
    if test is True:
        return body()
    if test is False:
        return orelse()
    a, b = body(), orelse()
    if a.__class__ is not Unknown and b.__class__ is not Unknown and a == b:
        return a
    return test.merge(a).merge(b)


def k_in(v: Any, values: frozenset[Any], negate: bool) -> Any:
    """`v in (...)` or `v not in (...)` for a possibly unknown v."""
    if v.__class__ is Unknown:
        return v
    return (v in values) is not negate


def k_compare(left: Any, *pairs: tuple[str, Callable[[], Any]]) -> Any:
    """A chain `a < b <= c`: each comparison in turn, stopping at the first False."""
    acc: Unknown | None = None
    for op, thunk in pairs:
        right = thunk()
        result = _COMPARE[op](left, right)
        if result is False:
            return False
        acc = _merge(acc, result)
        left = right
    return True if acc is None else acc


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def k_amount(eligible: Any, amount: Callable[[], Any], zero: Decimal) -> Any:
    """Another program's decided amount: its amount when eligible, zero when not, unknown when unknown."""
    if eligible is True:
        return amount()
    if eligible.__class__ is Unknown:
        return eligible
    return zero


def k_count(items: Iterable[tuple[Any, Any]]) -> Any:
    """count(...) over (member?, item-is-counted) pairs."""
    n = 0
    acc: Unknown | None = None
    for m, v in items:
        if m is True and v is True:
            n += 1
        elif m is not False and v is not False:
            acc = _merge(_merge(acc, m), v)
    return n if acc is None else acc


def k_sum(items: Iterable[tuple[Any, Any]], zero: Any) -> Any:
    """sum(...) over (member?, value) pairs."""
    total = zero
    acc: Unknown | None = None
    for m, v in items:
        if m is True:
            if v.__class__ is Unknown:
                acc = _merge(acc, v)
            else:
                total = total + v
        elif m is not False:
            acc = _merge(acc, m)
    return total if acc is None else acc


def k_any(items: Iterable[tuple[Any, Any]]) -> Any:
    """any(...) over (member?, value) pairs."""
    acc: Unknown | None = None
    for m, v in items:
        if m is True and v is True:
            return True
        if m is not False and v is not False:
            acc = _merge(_merge(acc, m), v)
    return False if acc is None else acc


def k_all(items: Iterable[tuple[Any, Any]]) -> Any:
    """all(...) over (member?, value) pairs."""
    acc: Unknown | None = None
    for m, v in items:
        if m is True and v is False:
            return False
        if m is not False and v is not True:
            acc = _merge(_merge(acc, m), v)
    return True if acc is None else acc


def k_extreme(items: Iterable[tuple[Any, Any]], pick: Callable[[list[Any]], Any],
              empty: Callable[[], Any]) -> Any:
    """min(...) or max(...) over (member?, value) pairs."""
    vals = []
    acc: Unknown | None = None
    for m, v in items:
        if m is True and v.__class__ is not Unknown:
            vals.append(v)
        elif m is not False:
            acc = _merge(_merge(acc, m), v)
    if acc is not None:
        return acc
    if not vals:
        return empty()
    return pick(vals)


def k_call(fn: Callable[..., Any], *args: Any) -> Any:
    """A function (min, max, age, days) applied to arguments any of which may be unknown."""
    acc: Unknown | None = None
    for a in args:
        acc = _merge(acc, a)
    return fn(*args) if acc is None else acc


KLEENE: dict[str, object] = {
    "UNK": Unknown, "KAND": k_and, "KOR": k_or, "KNOT": k_not, "KIF": k_if, "KIN": k_in, "KCMP": k_compare,
    "KAMT": k_amount, "KCOUNT": k_count, "KSUM": k_sum, "KANY": k_any, "KALL": k_all, "KEXT": k_extreme,
    "KCALL": k_call,
}
