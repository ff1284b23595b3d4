"""Household records as files hold them: the `{"id", "on", "household"}` wrapper and lone surrogates.

Shared by `eligibility batch` (scale) and the household impact of `eligibility diff` and by the
canonical form of decision records (audit), so that they read a wrapped record the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: The keys of a wrapped record: `{"id": ..., "on": "YYYY-MM-DD", "household": {...}}`.
WRAPPER_KEYS = frozenset({"id", "on", "household"})
#: A lone surrogate (from a "\ud800" escape in JSON), which no UTF-8 text can hold.
SURROGATE = re.compile("[\ud800-\udfff]")


class WrapperError(ValueError):
    """A wrapped record whose `id` is neither text nor a whole number."""


def is_wrapped(value: object) -> bool:
    """Return whether a JSON object is a wrapped record rather than a bare household."""
    return isinstance(value, Mapping) and "household" in value and set(value) <= WRAPPER_KEYS


def unwrap(value: Mapping[str, object]) -> tuple[str | None, object, object]:
    """Return (id as text or None, the date as given or None, the household) of a record.

    A bare household is returned as it is, with no id and no date.

    Raises:
        WrapperError: the record's `id` is not text or a whole number.
    """
    if not is_wrapped(value):
        return None, None, value
    rid = value.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, str | int)):
        raise WrapperError("the record's \"id\" must be text or a whole number")
    return None if rid is None else str(rid), value.get("on"), value["household"]


__all__ = ["SURROGATE", "WRAPPER_KEYS", "WrapperError", "is_wrapped", "unwrap"]
