"""The engine's own decimal context and the canonical text of a Decimal."""

from __future__ import annotations

import decimal
from decimal import Decimal

#: Every decision, every load and every Decimal operation of the library runs under this context,
#: whatever the caller's context is.
ENGINE_CONTEXT = decimal.Context(
    prec=34, rounding=decimal.ROUND_HALF_EVEN, Emin=-999999, Emax=999999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow, decimal.FloatOperation],
)
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def decimal_text(d: Decimal) -> str:
    """Return a Decimal as plain text, never in exponent notation and never as a negative zero."""
    text = format(d, "f")
    return "0" + text[2:] if text.startswith("-0") and d.is_zero() else text
