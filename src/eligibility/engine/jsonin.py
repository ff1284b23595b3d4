"""The one reader of household JSON text: numbers as Decimal, a leading BOM accepted, duplicate keys refused.

Every entry point that reads household JSON text (the command line, batch files and
`decide_many` lines, CSV cells holding a list, `diff --households`) calls `loads_household`, so
the same text is read the same way everywhere. Python's `json` keeps the last of two values of a
key (`{"assets": "500.00", "assets": "5.00"}` would read as 5.00); here a key given twice
anywhere is an InputError naming its path, and nothing is decided.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from eligibility.base.errors import InputError, InputProblem
from eligibility.base.source import readable

BOM = "\ufeff"


class _Pairs:
    """The object hook: builds each JSON object and remembers those with a key given twice."""

    __slots__ = ("twice",)

    def __init__(self) -> None:
        self.twice: list[tuple[dict[str, Any], list[str]]] = []

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            out = {}
            keys: dict[str, None] = {}
            for k, v in pairs:
                if k in out:
                    keys[k] = None
                else:
                    out[k] = v  # the first value stays; the object is refused anyway
            self.twice.append((out, list(keys)))
        return out


def loads_household(text: str | bytes, root: str = "") -> Any:
    """Parse household JSON text (numbers as Decimal); a key given twice is an InputError.

    Args:
        text: the JSON text (bytes are decoded as JSON text is: UTF-8, or UTF-16/32 by their
            first bytes); one UTF-8 byte order mark at the start is skipped.
        root: the path of the parsed value in the problems reported, e.g. "members" for a CSV
            cell holding the members list ("" for a whole household).

    Raises:
        InputError: a key is given twice in one object (kind `duplicate`, one problem each, with
            its path such as `members[1].income`).
        json.JSONDecodeError: the text is not JSON (a ValueError, as from `json.loads`).
        UnicodeDecodeError, RecursionError, ValueError: bytes that are not text, nesting too
            deep, an integer too long to convert (as from `json.loads`).
    """
    if isinstance(text, bytes | bytearray):
        # An object's text whose second byte is not NUL is UTF-8 (what json.detect_encoding says, faster).
        utf8 = text[:1] == b"{" and len(text) > 1 and text[1] != 0
        text = bytes(text).decode("utf-8" if utf8 else json.detect_encoding(text), "surrogatepass")
    if text.startswith(BOM):
        text = text[1:]
        if text.startswith(BOM):  # what json.loads says of it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    try:  # most texts give each key once: one decoder made once (json.loads makes one a call)
        return _DECODER.decode(text)
    except _Twice:
        pass
    hook = _Pairs()
    data = json.loads(text, parse_float=Decimal, object_pairs_hook=hook)
    if hook.twice:
        raise InputError(_problems(data, hook.twice, root))
    return data


class _Twice(Exception):
    """A key given twice: the text is read again, recording where."""


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Twice
    return out


#: The decoder of household text that gives each key once (a key given twice raises _Twice).
_DECODER = json.JSONDecoder(parse_float=Decimal, object_pairs_hook=_once)


def _problems(data: Any, twice: list[tuple[dict[str, Any], list[str]]], root: str) -> list[InputProblem]:
    """Name each key given twice by its path, in document order (walking the parsed value)."""
    marked = {id(obj): keys for obj, keys in twice}
    out: list[InputProblem] = []
    stack: list[tuple[Any, str]] = [(data, root)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key in marked.pop(id(value), ()):
                out.append(_problem(path, key))
            stack.extend((v, _join(path, k)) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]") for i, v in reversed(list(enumerate(value))))
    # Objects left in `marked` sit inside a value given twice: that key is named already.
    return out or [_problem(root, k) for _, keys in twice for k in keys]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _problem(path: str, key: str) -> InputProblem:
    shown = json.dumps(readable(key, 64), ensure_ascii=False)
    return InputProblem(_join(path, key), "duplicate",
                        f"the key {shown} is given twice in one object; each fact must be given once")
