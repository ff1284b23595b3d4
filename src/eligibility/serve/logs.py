"""The service's log: one JSON object a line, with what happened to a request but never what it said.

A request's line has its id, method, path, status, time taken and, for a decision, each program's
outcome (eligible, not_eligible, undecided). Household facts, request bodies, query strings,
amounts, error messages and exception texts are never logged: they can hold personal data.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import IO, Any

LOGGER = "eligibility.serve"
#: The attribute of a LogRecord holding the fields of a JSON line.
FIELDS = "eligibility_fields"


class JsonLines(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")
        out: dict[str, Any] = {"time": when.replace("+00:00", "Z"), "level": record.levelname.lower(),
                               "logger": record.name, "message": record.getMessage()}
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            # The exception's type only: its text may quote a value from the request.
            out["exception"] = record.exc_info[0].__name__
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(level: str = "info", stream: IO[str] | None = None) -> None:
    """Send the service's and uvicorn's logs to `stream` (standard error) as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines())
    for name in (LOGGER, "uvicorn", "uvicorn.error"):
        log = logging.getLogger(name)
        log.handlers[:] = [handler]
        log.setLevel(level.upper())
        log.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # our request lines replace it


def log(level: int, message: str, **fields: Any) -> None:
    """Log a message with fields for its JSON line."""
    logging.getLogger(LOGGER).log(level, message, extra={FIELDS: fields})
