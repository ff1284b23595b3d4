"""A property's counterexample, and the YAML test case that reproduces it."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

import attrs

from eligibility.lang.model import Property


@attrs.frozen
class Failure:
    """A counterexample: what went wrong, and the test case that shows it."""

    explanation: str
    on: dt.date
    household: dict[str, Any]
    expect: dict[str, Any]
    comments: tuple[str, ...] = ()



_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
#: Characters YAML does not allow raw, or folds inside a double-quoted scalar.
_ESCAPE = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029\ufeff]")


def quote(text: str) -> str:
    """Return a double-quoted YAML scalar (JSON escapes are YAML escapes)."""
    body = json.dumps(text, ensure_ascii=False)
    return _ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", body)


def _key(k: object) -> str:
    text = str(k)
    return text if _PLAIN_KEY.match(text) and text not in ("true", "false", "null", "yes", "no", "on", "off") \
        else quote(text)


def flow(v: Any) -> str:
    """Write a value as a YAML flow node: booleans, null and numbers plain, texts and decimals quoted."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Decimal):
        return quote(plain_number(v, "decimal"))
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)}: {flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(flow(x) for x in v) + "]"
    return quote(str(v))


def _block(key: str, mapping: dict[str, Any], indent: int) -> list[str]:
    """Render `key:` and a mapping below it, one entry a line; lists of records one record a line."""
    if not mapping:
        return [f"{' ' * (indent - 2)}{key}: {{}}"]
    pad = " " * indent
    lines = [f"{' ' * (indent - 2)}{key}:"]
    for k, v in mapping.items():
        if isinstance(v, list) and v:
            lines.append(f"{pad}{_key(k)}:")
            lines.extend(f"{pad}  - {flow(x)}" for x in v)
        else:
            lines.append(f"{pad}{_key(k)}: {flow(v)}")
    return lines


def reproducing_case(prop: Property, failure: Failure) -> str:
    """Render the counterexample as a `tests:` file with one case."""
    lines = ["tests:", f"  - name: {quote(prop.name + ' (counterexample)')}",
             f"    # from the {prop.kind} property at {prop.file}:{prop.span.line}"]
    lines.extend(f"    # {c}" for c in failure.comments)
    lines.append(f"    on: {failure.on.isoformat()}")
    lines.extend(_block("household", failure.household, 6))
    lines.extend(_block("expect", failure.expect, 6))
    return "\n".join(lines) + "\n"


def plain_number(d: Decimal, kind: str) -> str:
    if kind == "money":
        return format(d.quantize(Decimal("0.01")), "f")
    text = format(d, "f")
    return "0" if Decimal(text) == 0 else text
