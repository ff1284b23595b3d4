"""An append-only, hash-chained log of decision records (JSON Lines), optionally signed with Ed25519.

Each line is one entry, written in its RFC 8785 form (one line, UTF-8):

    {"entry_hash": "sha256:…", "previous": "sha256:…", "record": {…}, "schema": "eligibility.log/1"}

`entry_hash` is the sha256 of the RFC 8785 form of the entry without `entry_hash` and `signature`;
`previous` is the `entry_hash` of the line before (`GENESIS` for the first line). With a signing key,
`signature` holds an Ed25519 signature of the ASCII text of `entry_hash`, the key's id (the sha256
of its 32 raw public bytes) and the algorithm. What each of these guarantees is in
docs/how-to/audit.md ("Keep records in a log"). Signatures need the `sign` extra (`cryptography`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from eligibility.audit.canonical import HASH_RE, jcs_bytes, loads_record, short_json
from eligibility.audit.verify import verify_record
from eligibility.base.errors import InputError, InputProblem

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

LOG_SCHEMA = "eligibility.log/1"
#: The `previous` of the first entry.
GENESIS = "sha256:" + "0" * 64
ALGORITHM = "Ed25519"
ENTRY_KEYS = frozenset({"schema", "previous", "record", "entry_hash"})
SIGNATURE_KEYS = frozenset({"algorithm", "key", "value"})
#: The problems listed at most (a log rewritten from line 2 on has one on every line).
MAX_PROBLEMS = 100
SIGN_EXTRA = "Ed25519 signatures need the cryptography package: pip install 'eligibility[sign]'"


# ------------------------------------------------------------------ entries


def entry_hash(entry: Mapping[str, Any]) -> str:
    """Return the `entry_hash` an entry's other keys give: sha256 of their RFC 8785 form, without the signature.

    Raises:
        ValueError: the entry holds a value with no RFC 8785 form.
    """
    rest = {k: v for k, v in entry.items() if k not in ("entry_hash", "signature")}
    return "sha256:" + hashlib.sha256(jcs_bytes(rest)).hexdigest()


def make_entry(record: Mapping[str, Any], previous: str, sign_key: Ed25519PrivateKey | None = None) -> dict[str, Any]:
    """Return the log entry of a record following the entry whose hash is `previous`, signed if a key is given."""
    entry: dict[str, Any] = {"schema": LOG_SCHEMA, "previous": previous, "record": dict(record)}
    entry["entry_hash"] = entry_hash(entry)
    if sign_key is not None:
        entry["signature"] = {"algorithm": ALGORITHM, "key": key_id(sign_key.public_key()),
                              "value": base64.b64encode(sign_key.sign(entry["entry_hash"].encode("ascii"))).decode()}
    return entry


def dumps_entry(entry: Mapping[str, Any]) -> bytes:
    """Return an entry's line: its RFC 8785 form and a newline (RFC 8785 never writes a raw newline)."""
    return jcs_bytes(dict(entry)) + b"\n"


def append(path: Path | str, record: Mapping[str, Any], sign_key: Ed25519PrivateKey | None = None) -> dict[str, Any]:
    """Append a record to the log at `path` (created if absent); return the entry written.

    The record must be intact (`verify_record`). The last entry of the log must be whole and
    intact: its `entry_hash` becomes the new entry's `previous`. The file is locked while it is read
    and written (on POSIX), and the line is flushed to disk before returning.

    Raises:
        InputError: the record is not intact, or the log's last line is incomplete or not intact
            (kind `log`); nothing is written then.
        OSError: the file cannot be read or written.
    """
    problems = verify_record(dict(record))
    if problems:
        raise InputError([InputProblem("record", "tampered", p) for p in problems[:5]])
    path = Path(path)
    with open(path, "a+b") as f, _locked(f):
        previous = _last_hash(f, path)
        entry = make_entry(record, previous, sign_key)
        f.seek(0, os.SEEK_END)
        f.write(dumps_entry(entry))
        f.flush()
        os.fsync(f.fileno())
    return entry


@contextlib.contextmanager
def _locked(f: Any) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fcntl.flock(f.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _last_hash(f: Any, path: Path) -> str:
    """The entry_hash of the log's last line (GENESIS for an empty log), read backwards from the end."""
    size = f.seek(0, os.SEEK_END)
    if size == 0:
        return GENESIS

    def refuse(why: str) -> InputError:
        return InputError([InputProblem(str(path), "log", f"{why}; run `eligibility verify {path}` "
                                                          "before appending")])

    f.seek(size - 1)
    if f.read(1) != b"\n":
        raise refuse("its last line is incomplete (no final newline: a write was interrupted)")
    start, tail = size - 1, b""  # the final newline excluded
    while start > 0 and b"\n" not in tail:
        step = min(1 << 16, start)
        start -= step
        f.seek(start)
        tail = f.read(step) + tail
    f.seek(0, os.SEEK_END)
    line = tail.rsplit(b"\n", 1)[-1]
    try:
        entry = loads_record(line.decode("utf-8"))
        stored = entry["entry_hash"]
        intact = isinstance(stored, str) and entry_hash(entry) == stored
    except (InputError, UnicodeDecodeError, TypeError, KeyError, ValueError):
        raise refuse("its last line is not a log entry") from None
    if not intact or entry.get("schema") != LOG_SCHEMA:
        raise refuse("its last entry is not intact")
    return str(stored)


# ------------------------------------------------------------------ keys


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise ImportError(SIGN_EXTRA) from None
    return serialization


def load_signing_key(path: Path | str) -> Ed25519PrivateKey:
    """Read an Ed25519 private key from a PEM file (unencrypted, e.g. `openssl genpkey -algorithm ed25519`).

    Raises:
        ImportError: `cryptography` is not installed (the message names the `sign` extra).
        InputError: the file is not an unencrypted Ed25519 private key in PEM (kind `key`).
        OSError: the file cannot be read.
    """
    serialization = _crypto()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = Path(path).read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise InputError([InputProblem(str(path), "key", f"is not an unencrypted private key in PEM ({e})")]) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError([InputProblem(str(path), "key", "is not an Ed25519 private key")])
    return key


def load_verify_key(path: Path | str) -> Ed25519PublicKey:
    """Read an Ed25519 public key from a PEM file (e.g. `openssl pkey -in KEY.pem -pubout`).

    Raises:
        ImportError: `cryptography` is not installed (the message names the `sign` extra).
        InputError: the file is not an Ed25519 public key in PEM (kind `key`).
        OSError: the file cannot be read.
    """
    serialization = _crypto()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = Path(path).read_bytes()
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as e:
        raise InputError([InputProblem(str(path), "key", f"is not a public key in PEM ({e})")]) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError([InputProblem(str(path), "key", "is not an Ed25519 public key")])
    return key


def key_id(key: Ed25519PublicKey) -> str:
    """Return a public key's id: `sha256:` and the hex sha256 of its 32 raw bytes."""
    serialization = _crypto()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


# ------------------------------------------------------------------ verifying


@attrs.frozen
class LogProblem:
    """What is wrong at one line of a log (line None: the log as a whole)."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else self.message


@attrs.frozen
class LogReport:
    """The outcome of verifying a log: its entries, its head, and its problems, first line first."""

    entries: int
    #: The entry_hash of the last line (None for an empty log): anchor it elsewhere to detect truncation.
    head: str | None
    problems: tuple[LogProblem, ...] = ()
    #: How many entries carry a signature, and whether they were checked with a key.
    signed: int = 0
    signatures_checked: bool = False
    #: The line whose entry_hash is the anchored head, when one was given and found.
    anchored_line: int | None = None

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def first_bad_line(self) -> int | None:
        """The first line with a problem (None when intact, or when only the log as a whole is wrong)."""
        lines = [p.line for p in self.problems if p.line is not None]
        return min(lines) if lines else None

    def to_json(self) -> dict[str, Any]:
        return {"intact": self.intact, "entries": self.entries, "head": self.head,
                "first_bad_line": self.first_bad_line, "signed": self.signed,
                "signatures_checked": self.signatures_checked, "anchored_line": self.anchored_line,
                "problems": [{"line": p.line, "message": p.message} for p in self.problems]}


def verify_log(path: Path | str, *, head: str | None = None, verify_key: Ed25519PublicKey | None = None,
               records: bool = True) -> LogReport:
    """Verify a record log: each entry intact, each `previous` the line before's hash, each record intact.

    Args:
        path: the log (JSON Lines, as `append` writes it).
        head: an `entry_hash` kept elsewhere (the head when it was last checked, or published): it
            must be one of the log's entries, else the log was truncated before it or rewritten.
        verify_key: the Ed25519 public key whose signature every entry must carry.
        records: also verify each record by itself (`verify_record`, without the policies).

    Returns:
        A LogReport: the number of entries, the head, and the problems by line (the first bad line
        first). Without `head`, removing the last entries or rewriting the whole log is not
        detectable; without `verify_key`, a rewrite with recomputed hashes is not either.

    Raises:
        OSError: the file cannot be read.
    """
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    complete = lines[-1] == b""
    if complete:
        lines.pop()
    want_key = key_id(verify_key) if verify_key is not None else None
    problems: list[LogProblem] = []
    seen: dict[str, int] = {}
    previous: str | None = GENESIS
    signed = 0
    for number, raw in enumerate(lines, 1):
        if len(problems) >= MAX_PROBLEMS:
            problems.append(LogProblem(None, f"more problems not listed (stopped at line {number})"))
            break
        if number == len(lines) and not complete:
            problems.append(LogProblem(number, "incomplete: no final newline (a write was interrupted, or the "
                                               "line was cut)"))
        found, stored, has_signature = _check_line(raw, number, previous, seen, verify_key, want_key, records)
        problems.extend(found)
        signed += has_signature
        if stored is not None:
            seen.setdefault(stored, number)
        previous = stored
    last = previous if lines else None
    anchored: int | None = None
    if head is not None:
        if not HASH_RE.match(head):
            problems.append(LogProblem(None, f"the anchored head {short_json(head)} is not sha256: and 64 hex digits"))
        elif head in seen:
            anchored = seen[head]
        else:
            problems.append(LogProblem(None, f"the anchored head {head[:19]}… is the hash of no entry: the log was "
                                             "truncated before it, or rewritten"))
    problems.sort(key=lambda p: (p.line is None, p.line or 0))
    return LogReport(len(lines), last, tuple(problems), signed, verify_key is not None, anchored)


def _check_line(raw: bytes, number: int, previous: str | None, seen: Mapping[str, int],
                verify_key: Ed25519PublicKey | None, want_key: str | None,
                records: bool) -> tuple[list[LogProblem], str | None, bool]:
    """The problems of one line, its stored entry_hash (None if unreadable) and whether it is signed."""
    out: list[LogProblem] = []

    def bad(message: str) -> None:
        out.append(LogProblem(number, message))

    if not raw.strip():
        bad("an empty line (a log has one entry a line)")
        return out, previous, False
    try:
        entry = loads_record(raw.decode("utf-8"))
    except UnicodeDecodeError:
        bad("not UTF-8 text")
        return out, None, False
    except InputError as e:
        bad(f"not a log entry: {e.problems[0].message.replace('a record is', 'an entry is')}")
        return out, None, False
    if not isinstance(entry, dict):
        bad("not a log entry (a JSON object)")
        return out, None, False
    missing = sorted(ENTRY_KEYS - entry.keys())
    extra = sorted(entry.keys() - ENTRY_KEYS - {"signature"})
    if missing:
        bad("missing " + ", ".join(missing))
    if extra:
        bad("unknown key(s) " + ", ".join(extra) + f" (not part of {LOG_SCHEMA})")
    if entry.get("schema") != LOG_SCHEMA:
        bad(f"schema is {short_json(entry.get('schema'))}, expected {LOG_SCHEMA!r}")
    stored = entry.get("entry_hash")
    if not isinstance(stored, str) or not HASH_RE.match(stored):
        bad("entry_hash is not sha256: and 64 hex digits")
        stored = None
    else:
        try:
            actual: str | None = entry_hash(entry)
        except (ValueError, TypeError, RecursionError):
            actual = None
        if actual != stored:
            bad(f"entry_hash does not match the entry (recorded {stored[:19]}…, computed {(actual or '?')[:19]}…): "
                "the entry was changed after it was written")
    chained = entry.get("previous")
    if previous is not None and chained != previous:
        bad(_chain_message(chained, number, seen))
    record = entry.get("record")
    if records and "record" in entry:
        bad_record = verify_record(record)
        out.extend(LogProblem(number, f"record: {p}") for p in bad_record[:10])
    signature = entry.get("signature")
    if signature is not None and (not isinstance(signature, dict) or set(signature) != SIGNATURE_KEYS):
        bad("signature is not an object with algorithm, key and value")
    elif verify_key is not None:
        out.extend(LogProblem(number, m) for m in _signature_problems(signature, stored, verify_key, want_key))
    return out, stored, signature is not None


def _chain_message(chained: object, number: int, seen: Mapping[str, int]) -> str:
    if number == 1:
        return (f"previous is {short_json(chained)[:20]}…, not the genesis value {GENESIS[:19]}…: the entries before "
                "it were removed, or this is not the start of a log")
    if chained == GENESIS:
        return ("previous is the genesis value: this is the first entry of a log, here at line "
                f"{number}: the entries were reordered or another log was inserted")
    if isinstance(chained, str) and chained in seen:
        return (f"previous is the entry_hash of line {seen[chained]}, not of line {number - 1}: an entry after "
                f"line {seen[chained]} was removed, or the entries were reordered or inserted")
    return (f"previous is the entry_hash of no earlier line (not of line {number - 1}): an entry was removed "
            f"before this one, this one or line {number - 1} was inserted or moved, or line {number - 1} was "
            "changed and its hash recomputed")


def _signature_problems(signature: object, stored: str | None, key: Ed25519PublicKey,
                        want_key: str | None) -> list[str]:
    from cryptography.exceptions import InvalidSignature

    if signature is None:
        return ["not signed (a signature by the verify key is required)"]
    if not isinstance(signature, dict):
        return ["signature is not an object"]
    if signature.get("algorithm") != ALGORITHM:
        return [f"signature algorithm is {short_json(signature.get('algorithm'))}, expected {ALGORITHM!r}"]
    if signature.get("key") != want_key:
        return [f"signed with another key ({short_json(signature.get('key'))[:21]}…, the verify key is "
                f"{(want_key or '?')[:19]}…)"]
    if stored is None:
        return ["the signature cannot be checked without a valid entry_hash"]
    try:
        value = base64.b64decode(str(signature.get("value")), validate=True)
        key.verify(value, stored.encode("ascii"))
    except (ValueError, InvalidSignature):
        return ["the signature does not verify: the entry_hash was changed, or it was not signed with this key"]
    return []


__all__ = ["ALGORITHM", "GENESIS", "LOG_SCHEMA", "LogProblem", "LogReport", "append", "dumps_entry", "entry_hash",
           "key_id", "load_signing_key", "load_verify_key", "make_entry", "verify_log"]
