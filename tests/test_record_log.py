"""The hash-chained record log: append and verify, each kind of tampering, Ed25519 signatures, a check in Node.js."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import eligibility
from conftest import DEMO, FIXTURE
from eligibility.audit.canonical import jcs_bytes, make_record, record_hash
from eligibility.audit.log import (
    GENESIS,
    LOG_SCHEMA,
    append,
    dumps_entry,
    entry_hash,
    key_id,
    load_signing_key,
    load_verify_key,
    make_entry,
    verify_log,
)
from eligibility.cli import build

ROOT = Path(__file__).parent.parent
NODE_SCRIPT = Path(__file__).parent / "verify_log.mjs"
EXAMPLE = ROOT / "examples" / "huadu-family.json"


def run(*args: str) -> Result:
    """Invoke the command line in-process."""
    return CliRunner().invoke(build(), list(args), catch_exceptions=False)


@pytest.fixture
def records(policy_dir: Callable[..., Path]) -> list[dict[str, Any]]:
    """Four records of the demo program, one a person with an income of 100.00 to 400.00."""
    engine = eligibility.load(policy_dir({"demo.yaml": DEMO}))
    out = []
    for income in ("100.00", "200.00", "300.00", "400.00"):
        household = {"assessed_monthly_income": income,
                     "members": [{"id": "a", "birth_date": "1980-01-01", "sex": "male"}]}
        out.append(make_record(engine.decide(household, on="2024-01-01"), household))
    return out


@pytest.fixture
def log(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    """A log of the four records."""
    path = tmp_path / "log.jsonl"
    for record in records:
        append(path, record)
    return path


def lines(path: Path) -> list[bytes]:
    """The lines of a log, without their newlines."""
    return path.read_bytes().split(b"\n")[:-1]


def write(path: Path, rows: list[bytes]) -> None:
    """Write lines back to a log, each with its newline."""
    path.write_bytes(b"".join(r + b"\n" for r in rows))


def entry(row: bytes) -> dict[str, Any]:
    """Parse one line of a log."""
    parsed: dict[str, Any] = json.loads(row)
    return parsed


def keys(tmp_path: Path, name: str = "key") -> tuple[Ed25519PrivateKey, Path, Path]:
    """A new Ed25519 key, written as PEM files NAME.pem and NAME.pub.pem."""
    key = Ed25519PrivateKey.generate()
    private = tmp_path / f"{name}.pem"
    public = tmp_path / f"{name}.pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return key, private, public


# ------------------------------------------------------------------ round trips


def test_append_and_verify_round_trip(log: Path, records: list[dict[str, Any]]) -> None:
    """Each record is one RFC 8785 line chained to the one before; the log verifies and names its head."""
    rows = lines(log)
    assert len(rows) == 4
    previous = GENESIS
    for row, record in zip(rows, records, strict=True):
        e = entry(row)
        assert row + b"\n" == dumps_entry(e) == jcs_bytes(e) + b"\n"
        assert e["schema"] == LOG_SCHEMA and e["previous"] == previous and e["record"] == record
        assert e["entry_hash"] == entry_hash(e)
        previous = e["entry_hash"]
    report = verify_log(log)
    assert report.intact and report.entries == 4 and report.head == previous
    assert report.first_bad_line is None and report.signed == 0
    assert report.to_json()["intact"] is True


def test_append_returns_the_entry_it_wrote(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    """append returns the entry whose line it wrote; make_entry gives the same entry."""
    path = tmp_path / "new.jsonl"
    first = append(path, records[0])
    assert first == make_entry(records[0], GENESIS) == entry(lines(path)[0])


def test_empty_log_is_intact(tmp_path: Path) -> None:
    """An empty file is a log of no entries, with no head."""
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    report = verify_log(path)
    assert report.intact and report.entries == 0 and report.head is None


def test_append_refuses_a_tampered_record(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    """A record that is not intact is not appended; nothing is written."""
    edited = json.loads(json.dumps(records[0]))
    edited["input"]["assessed_monthly_income"] = "1.00"
    path = tmp_path / "log.jsonl"
    with pytest.raises(eligibility.InputError, match="record_hash does not match"):
        append(path, edited)
    assert not path.exists()


@pytest.mark.parametrize(("damage", "message"), [
    (lambda row: row[:-10], "incomplete"),
    (lambda row: row.replace(b"\"library_version\":\"", b"\"library_version\":\"9"), "not intact"),
    (lambda row: b"not json", "not a log entry"),
], ids=["cut", "edited", "garbage"])
def test_append_refuses_a_log_whose_last_entry_is_damaged(log: Path, records: list[dict[str, Any]],
                                                          damage: Callable[[bytes], bytes], message: str) -> None:
    """append does not chain onto a cut, edited or unreadable last line."""
    rows = lines(log)
    log.write_bytes(b"\n".join([*rows[:-1], damage(rows[-1])]) + (b"" if message == "incomplete" else b"\n"))
    before = log.read_bytes()
    with pytest.raises(eligibility.InputError, match=message):
        append(log, records[1])
    assert log.read_bytes() == before


# ------------------------------------------------------------------ tampering


def _change_value(rows: list[bytes]) -> list[bytes]:
    """Change an amount in line 2 without recomputing anything."""
    rows[1] = rows[1].replace(b'"200.00"', b'"250.00"')
    return rows


def _recompute_one(rows: list[bytes]) -> list[bytes]:
    """Change line 2's record and recompute its record_hash and its entry_hash, as a careful forger would."""
    e = entry(rows[1])
    e["record"]["library_version"] = e["record"]["decision"]["library_version"] = "9.9.9"
    e["record"]["record_hash"] = record_hash(e["record"])
    e["entry_hash"] = entry_hash(e)
    rows[1] = jcs_bytes(e)
    return rows


def _delete(rows: list[bytes]) -> list[bytes]:
    """Delete line 2."""
    del rows[1]
    return rows


def _swap(rows: list[bytes]) -> list[bytes]:
    """Swap lines 2 and 3."""
    rows[1], rows[2] = rows[2], rows[1]
    return rows


def _insert(rows: list[bytes]) -> list[bytes]:
    """Insert a copy of line 1 as line 3."""
    rows.insert(2, rows[0])
    return rows


def _delete_first(rows: list[bytes]) -> list[bytes]:
    """Delete line 1."""
    return rows[1:]


def _cut_last(rows: list[bytes]) -> list[bytes]:
    """Cut the last line in the middle (an interrupted write)."""
    rows[-1] = rows[-1][: len(rows[-1]) // 2]
    return rows


@pytest.mark.parametrize(("tamper", "first_bad", "expected"), [
    (_change_value, 2, "entry_hash does not match the entry"),
    (_recompute_one, 3, "previous is the entry_hash of no earlier line (not of line 2)"),
    (_delete, 2, "previous is the entry_hash of no earlier line (not of line 1)"),
    (_swap, 2, "previous is the entry_hash of no earlier line"),
    (_insert, 3, "previous is the genesis value"),
    (_delete_first, 1, "not the genesis value"),
    (_cut_last, 4, "not a log entry"),
], ids=["change-value", "recompute-one-entry", "delete", "swap", "insert", "delete-first", "cut-last-line"])
def test_tampering_names_the_first_bad_line(log: Path, tamper: Callable[[list[bytes]], list[bytes]],
                                            first_bad: int, expected: str) -> None:
    """Each way of changing the log is found, at the first line it shows, with what is wrong there."""
    write(log, tamper(lines(log)))
    report = verify_log(log)
    assert not report.intact
    assert report.first_bad_line == first_bad, report.problems
    assert any(expected in p.message for p in report.problems if p.line == first_bad), report.problems


def test_changed_value_is_also_a_record_problem(log: Path) -> None:
    """A value changed in an entry's record is reported by the record's own check too."""
    write(log, _change_value(lines(log)))
    messages = [str(p) for p in verify_log(log).problems]
    assert any(m.startswith("line 2: record: record_hash does not match") for m in messages), messages


def test_swap_names_both_lines(log: Path) -> None:
    """Swapping lines 2 and 3 is reported at line 2 and at line 3 (which names line 1 as its predecessor)."""
    write(log, _swap(lines(log)))
    messages = [str(p) for p in verify_log(log).problems]
    assert any(m.startswith("line 3: previous is the entry_hash of line 1, not of line 2") for m in messages)


def test_truncation_is_found_only_against_an_anchored_head(log: Path) -> None:
    """Removing the last entry leaves a valid log; the head kept elsewhere shows that it was truncated."""
    head = verify_log(log).head
    assert head is not None
    write(log, lines(log)[:-1])
    assert verify_log(log).intact
    report = verify_log(log, head=head)
    assert not report.intact and report.first_bad_line is None
    assert "is the hash of no entry: the log was truncated before it, or rewritten" in str(report.problems[0])


def test_an_anchored_head_may_be_followed_by_new_entries(log: Path, records: list[dict[str, Any]]) -> None:
    """An anchored head that is an earlier entry is fine: entries were appended since."""
    head = verify_log(log).head
    append(log, records[0])
    report = verify_log(log, head=head)
    assert report.intact and report.anchored_line == 4 and report.entries == 5


def _rewrite(rows: list[bytes], key: Ed25519PrivateKey | None = None) -> list[bytes]:
    """Rewrite the whole log from line 2 on with line 2 changed, every hash recomputed (and re-signed with key)."""
    out = [rows[0]]
    previous = entry(rows[0])["entry_hash"]
    for i, row in enumerate(rows[1:]):
        record = entry(row)["record"]
        if i == 0:
            record["library_version"] = record["decision"]["library_version"] = "9.9.9"
            record["record_hash"] = record_hash(record)
        e = make_entry(record, previous, key)
        out.append(jcs_bytes(e))
        previous = e["entry_hash"]
    return out


def test_a_consistent_rewrite_is_found_by_the_head_or_the_signatures(tmp_path: Path,
                                                                     records: list[dict[str, Any]]) -> None:
    """A rewrite with every hash recomputed passes the chain; an anchored head or the signing key finds it."""
    key, private, public = keys(tmp_path)
    path = tmp_path / "signed.jsonl"
    for record in records:
        append(path, record, load_signing_key(private))
    verify_key = load_verify_key(public)
    head = verify_log(path, verify_key=verify_key).head
    assert verify_log(path, verify_key=verify_key).intact
    write(path, _rewrite(lines(path)))
    assert verify_log(path).intact, "the chain alone cannot show a consistent rewrite"
    assert not verify_log(path, head=head).intact
    report = verify_log(path, verify_key=verify_key)
    assert report.first_bad_line == 2 and "not signed" in report.problems[0].message
    other, _, _ = keys(tmp_path, "forger")
    write(path, _rewrite(lines(path), other))
    report = verify_log(path, verify_key=verify_key)
    assert report.first_bad_line == 2 and "signed with another key" in report.problems[0].message
    assert "the verify key is " + key_id(key.public_key())[:19] in report.problems[0].message


# ------------------------------------------------------------------ signatures


def test_signed_entries_verify_with_the_public_key(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    """Each entry carries an Ed25519 signature of its entry_hash, by the key named by its id."""
    key, private, public = keys(tmp_path)
    path = tmp_path / "signed.jsonl"
    for record in records[:2]:
        append(path, record, load_signing_key(private))
    e = entry(lines(path)[0])
    assert e["signature"]["algorithm"] == "Ed25519" and e["signature"]["key"] == key_id(key.public_key())
    report = verify_log(path, verify_key=load_verify_key(public))
    assert report.intact and report.signed == 2 and report.signatures_checked
    assert verify_log(path).intact and not verify_log(path).signatures_checked


def test_a_changed_signature_or_entry_hash_is_found(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    """A signature that is not of the entry's hash does not verify."""
    _, private, public = keys(tmp_path)
    path = tmp_path / "signed.jsonl"
    for record in records[:2]:
        append(path, record, load_signing_key(private))
    rows = lines(path)
    first, second = entry(rows[0]), entry(rows[1])
    second["signature"]["value"] = first["signature"]["value"]
    write(path, [rows[0], jcs_bytes(second)])
    report = verify_log(path, verify_key=load_verify_key(public))
    assert [str(p) for p in report.problems] == [
        "line 2: the signature does not verify: the entry_hash was changed, or it was not signed with this key"]


def test_missing_cryptography_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without cryptography, loading a key says which extra to install, in Python and on the command line."""
    _, private, public = keys(tmp_path)
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives", None)
    with pytest.raises(ImportError, match=r"pip install 'eligibility\[sign\]'"):
        load_signing_key(private)
    with pytest.raises(ImportError, match=r"eligibility\[sign\]"):
        load_verify_key(public)
    result = run("decide", str(EXAMPLE), "--on", "2024-09-01", "--policies", str(FIXTURE),
                 "--record-log", str(tmp_path / "log.jsonl"), "--sign-key", str(private))
    assert result.exit_code == 2 and "eligibility[sign]" in result.output


def test_a_key_that_is_not_ed25519_is_refused(tmp_path: Path) -> None:
    """A file that is not an Ed25519 key in PEM is an InputError of kind key."""
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key\n", encoding="utf-8")
    with pytest.raises(eligibility.InputError) as e:
        load_signing_key(bad)
    assert e.value.kind == "key"
    with pytest.raises(eligibility.InputError):
        load_verify_key(bad)


# ------------------------------------------------------------------ the command line


def test_decide_appends_and_verify_checks_the_log(tmp_path: Path) -> None:
    """decide --record-log appends one entry a call; verify LOG.jsonl says intact, then names the first bad line."""
    path = tmp_path / "log.jsonl"
    for on in ("2024-09-01", "2024-10-01", "2024-11-01"):
        result = run("decide", str(EXAMPLE), "--on", on, "--policies", str(FIXTURE), "--record-log", str(path))
        assert result.exit_code == 0, result.output
    head = verify_log(path).head
    rows = lines(path)
    result = run("verify", str(path))
    assert result.exit_code == 0
    assert result.output.startswith(f"intact: log of 3 entries, head {head}\n")
    assert "signatures not checked" in result.output and "no anchored head" in result.output
    write(path, _delete(lines(path)))
    result = run("verify", str(path))
    assert result.exit_code == 1
    assert result.output.startswith("tampered: the log is not intact; first bad line: 2\n  line 2: previous")
    write(path, rows[:-1])
    assert run("verify", str(path)).exit_code == 0
    result = run("verify", str(path), "--head", str(head))
    assert result.exit_code == 1 and "is the hash of no entry: the log was truncated" in result.output


def test_decide_signs_and_verify_checks_the_signatures(tmp_path: Path) -> None:
    """--sign-key signs each entry; verify --verify-key checks every signature, and --head the anchor."""
    _, private, public = keys(tmp_path)
    path = tmp_path / "log.jsonl"
    for on in ("2024-09-01", "2024-10-01"):
        result = run("decide", str(EXAMPLE), "--on", on, "--policies", str(FIXTURE), "--record-log", str(path),
                     "--sign-key", str(private))
        assert result.exit_code == 0, result.output
    first = entry(lines(path)[0])["entry_hash"]
    result = run("verify", str(path), "--verify-key", str(public), "--head", first)
    assert result.exit_code == 0, result.output
    assert "every entry is signed by the verify key (2 signatures checked)" in result.output
    assert "the anchored head is line 1; 1 entries were appended after it" in result.output
    _, _, other = keys(tmp_path, "other")
    result = run("verify", str(path), "--verify-key", str(other))
    assert result.exit_code == 1 and "signed with another key" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["decide", str(EXAMPLE), "--on", "2024-09-01", "--sign-key", "k.pem"], "give --record-log"),
    (["verify", "RECORD", "--head", "sha256:" + "0" * 64], "are for a record log"),
    (["verify", "LOG", "--explain", "text"], "are for a single record"),
], ids=["sign-without-log", "head-for-a-record", "explain-a-log"])
def test_log_options_are_usage_errors_where_they_do_not_apply(tmp_path: Path, log: Path, records: list[dict[str, Any]],
                                                              args: list[str], message: str) -> None:
    """--sign-key needs --record-log; --head and --verify-key are for a log; --explain for a record."""
    record = tmp_path / "record.json"
    record.write_text(eligibility.dumps_record(records[0]), encoding="utf-8")
    args = [str(record) if a == "RECORD" else str(log) if a == "LOG" else a for a in args]
    result = run(*args)
    assert result.exit_code == 2 and message in result.output


# ------------------------------------------------------------------ another language


def node() -> str:
    """Return the node executable; skip (fail on CI, which installs it) when there is none."""
    found = shutil.which("node") or shutil.which("nodejs")
    if found is None:
        message = "node is not installed (apt-get install nodejs); .ci/run installs it on CI"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_node_recomputes_every_hash_of_a_log(tmp_path: Path) -> None:
    """A Node.js script with its own RFC 8785 recomputes each record_hash, each entry_hash and the head."""
    exe = node()
    path = tmp_path / "log.jsonl"
    for on in ("2024-09-01", "2024-10-01"):
        assert run("decide", str(EXAMPLE), "--on", on, "--policies", str(FIXTURE), "--record-log",
                   str(path)).exit_code == 0
    done = subprocess.run([exe, str(NODE_SCRIPT), str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    ours = verify_log(path)
    assert json.loads(done.stdout) == {"entries": 2, "head": ours.head,
                                       "records": [entry(r)["record"]["record_hash"] for r in lines(path)]}
    write(path, _delete_first(lines(path)))
    done = subprocess.run([exe, str(NODE_SCRIPT), str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout.startswith("line 1: previous")


def test_node_canonical_form_is_ours_for_awkward_text(tmp_path: Path) -> None:
    """Keys beyond the BMP, control characters, quotes and line separators serialise alike in Node and Python."""
    exe = node()
    value = {"\U0001F600": "emoji", "\uff61": "halfwidth", "\u20ac": ["\u2028\u2029", "\x00\x1f\x7f"],
             "\r": 'quote " and \\ backslash', "1": [True, False, None, 0, -9007199254740991],
             "\u00f6": {"b": "中文", "a": "/"}}
    path = tmp_path / "value.json"
    path.write_text(json.dumps(value), encoding="utf-8")
    done = subprocess.run([exe, str(NODE_SCRIPT), "--canon", str(path)], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == jcs_bytes(value)
