"""Reading a request body within limits, and JSON that is strict about what it accepts.

Duplicate keys, NaN and Infinity, and nesting deeper than the limit are refused with the path
of the offending key; numbers with a fraction are read as `Decimal`, so money stays exact.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any

import attrs

from eligibility.base.i18n import N_
from eligibility.base.source import readable
from eligibility.serve.problems import Problem

MiB = 1024 * 1024


@attrs.frozen
class Limits:
    """What one request may ask of the service."""

    #: Largest request body, in bytes (413 beyond).
    max_body: int = MiB
    #: Seconds a request may spend waiting for a worker and deciding (503 beyond).
    time_limit: float = 10.0
    #: Seconds the client may take to send the body (408 beyond).
    body_timeout: float = 30.0
    #: Deepest nesting of arrays and objects in the body (a household needs 4).
    max_depth: int = 16
    #: Decisions made at the same time; more wait (within the time limit).
    threads: int = 8
    #: A body over the limit is read and dropped up to this many times the limit, so that the
    #: client can read the 413; beyond that the connection is closed.
    drain_factor: int = 8


async def read_body(stream: AsyncIterator[bytes], content_length: str | None, limits: Limits) -> bytes:
    """Read the body, refusing it (413) beyond `limits.max_body`.

    Raises:
        Problem: body-too-large, or invalid-json for a malformed Content-Length.
    """
    limit = limits.max_body
    too_large = f"the body is larger than the limit of {limit:,} bytes"
    drain = limit * limits.drain_factor
    if content_length is not None:
        if not content_length.isdigit():
            raise Problem("invalid-json", N_("the Content-Length header is not a number"), status=400)
        if int(content_length) > drain:
            raise Problem("body-too-large", too_large, headers={"Connection": "close"})
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            chunks = []
            if size > drain:
                raise Problem("body-too-large", too_large, headers={"Connection": "close"})
        else:
            chunks.append(chunk)
    if size > limit:
        raise Problem("body-too-large", too_large)
    return b"".join(chunks)


class _Duplicates(dict[str, Any]):
    """An object in which some key appeared more than once (the last value was kept)."""

    duplicates: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    dups: list[str] = []
    for key, value in pairs:
        if key in out and key not in dups:
            dups.append(key)
        out[key] = value
    if not dups:
        return out
    marked = _Duplicates(out)
    marked.duplicates = dups
    return marked


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def child_path(path: str, key: str | int) -> str:
    """The path of a key or index below `path`, as the engine writes field paths: `members[1].sex`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    shown = readable(key, 64)
    return f"{path}.{shown}" if path else shown


def parse_json(data: bytes, max_depth: int) -> Any:
    """Parse a JSON body strictly.

    Raises:
        Problem: invalid-json (400) for text that is not JSON, not UTF-8, NaN/Infinity or nested
            too deeply; invalid-input (422) naming the path of each duplicate key.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Problem("invalid-json", f"the body is not UTF-8 text (byte {e.start})") from None
    if not text.strip():
        raise Problem("invalid-json", N_("the body is empty; send a JSON object"))
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_float=Decimal, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise Problem("invalid-json", N_("line {line} column {column}: {message}"),
                      values={"line": e.lineno, "column": e.colno, "message": e.msg}) from None
    except RecursionError:
        raise Problem("invalid-json", f"the JSON is nested more than {max_depth} levels deep") from None
    except ValueError as e:  # NaN, Infinity, a number with thousands of digits
        raise Problem("invalid-json", readable(str(e), 120)) from None
    problems: list[dict[str, str]] = []
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, dict | list) and depth > max_depth:
            raise Problem("invalid-json", f"the JSON is nested more than {max_depth} levels deep "
                                          f"(at {path or 'the top'})")
        if isinstance(node, _Duplicates):
            problems += [{"path": child_path(path, k), "kind": "duplicate",
                          "message": "this key appears more than once in its object"} for k in node.duplicates]
        if isinstance(node, Mapping):
            stack.extend((v, child_path(path, k), depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, child_path(path, i), depth + 1) for i, v in enumerate(node))
    if problems:
        problems.sort(key=lambda p: p["path"])
        raise Problem("invalid-input", N_("a key appears more than once in an object: its value is ambiguous"),
                      errors=problems)
    return value
