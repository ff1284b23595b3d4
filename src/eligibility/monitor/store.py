"""The monitor's state and alert log: one SQLite file (WAL), committed one batch at a time.

Each commit writes, in one transaction, the subjects changed since the last one, the new alerts,
traces and reports, and the input offset with the offset of the oldest event still held for
reordering (a resumed run reads the log again from there); a run killed at any point resumes from
the last commit and neither loses nor repeats an alert.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from eligibility.engine.runtime import Engine

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subjects (id TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, alert TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS traces (hash TEXT PRIMARY KEY, trace TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reports (seq INTEGER PRIMARY KEY, line INTEGER NOT NULL, report TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkins (person TEXT NOT NULL, time INTEGER NOT NULL, station TEXT NOT NULL,
                                     id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS checkins_time ON checkins (time);
"""


_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def dumps(obj: Any) -> str:
    """The canonical JSON text of the monitor (sorted keys, no spaces, UTF-8 as is)."""
    return _CANONICAL.encode(obj)


class StateMismatch(ValueError):
    """The state file was made by other rules, another policy set or another input."""


class Store:
    """The SQLite file of one monitor run (and of its resumptions)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    def check_identity(self, identity: dict[str, str]) -> None:
        """Record what this state belongs to, or raise StateMismatch if it belongs to something else."""
        have = self.meta()
        wrong = [f"{k}: the state has {have[k]}, this run {v}" for k, v in identity.items()
                 if k in have and have[k] != v]
        if wrong:
            raise StateMismatch("the state file was made by another run: " + "; ".join(wrong))
        if not have:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT INTO meta VALUES (?, ?)",
                                [("schema", SCHEMA_VERSION), *identity.items()])
            self.db.execute("COMMIT")

    def subjects(self) -> Iterator[tuple[str, Any]]:
        for sid, text in self.db.execute("SELECT id, state FROM subjects"):
            yield sid, json.loads(text)

    def subject_texts(self) -> Iterator[tuple[str, str]]:
        """Each subject's id and state as its JSON text."""
        yield from self.db.execute("SELECT id, state FROM subjects")

    def checkins(self) -> Iterator[tuple[str, int, str, str]]:
        """The check-ins kept (person, time, station, event id), in the order they were applied."""
        yield from self.db.execute("SELECT person, time, station, id FROM checkins ORDER BY rowid")

    def reported_lines(self, since: int) -> set[int]:
        """The lines, from `since` on, that have a report (bad or late events were not held)."""
        return {int(n) for (n,) in self.db.execute("SELECT line FROM reports WHERE line >= ?", (since,))}

    def alerts(self) -> Iterator[dict[str, Any]]:
        for (text,) in self.db.execute("SELECT alert FROM alerts ORDER BY seq"):
            yield json.loads(text)

    def alert_lines(self) -> Iterator[str]:
        for (text,) in self.db.execute("SELECT alert FROM alerts ORDER BY seq"):
            yield text

    def reports(self) -> Iterator[str]:
        for (text,) in self.db.execute("SELECT report FROM reports ORDER BY seq"):
            yield text

    def decision(self, ref: str) -> dict[str, Any] | None:
        """The stored decision an alert refers to (`trace: sha256:...`): facts, date, programs, policy hash."""
        row = self.db.execute("SELECT trace FROM traces WHERE hash = ?", (ref,)).fetchone()
        return None if row is None else json.loads(row[0])

    def trace(self, ref: str, engine: Engine) -> dict[str, Any] | None:
        """The full decision trace an alert refers to, rebuilt by deciding its stored inputs again.

        Raises:
            StateMismatch: the engine's policy set is not the one the alert was raised with.
        """
        stored = self.decision(ref)
        if stored is None:
            return None
        if stored["policy_hash"] != engine.policy_hash:
            raise StateMismatch(f"the alert was raised with policies {stored['policy_hash']}, "
                                f"not {engine.policy_hash}: load those policies to rebuild its trace")
        decision = engine.decide(stored["facts"], stored["on"], programs=stored["programs"])
        trace: dict[str, Any] = decision.to_json()
        return trace

    def add_traces(self, traces: Iterable[tuple[str, str]]) -> None:
        """Store decisions now, in their own transaction (content-addressed: storing one twice is harmless)."""
        self.db.execute("BEGIN")
        self.db.executemany("INSERT OR IGNORE INTO traces VALUES (?, ?)", traces)
        self.db.execute("COMMIT")

    def counts(self) -> tuple[int, int]:
        """The number of alerts and of reports stored."""
        a = self.db.execute("SELECT count(*) FROM alerts").fetchone()[0]
        r = self.db.execute("SELECT count(*) FROM reports").fetchone()[0]
        return int(a), int(r)

    def commit(self, *, subjects: Iterable[tuple[str, str]], alerts: Iterable[tuple[int, str, str]],
               traces: Iterable[tuple[str, str]], reports: Iterable[tuple[int, int, str]],
               meta: dict[str, str], checkins: Iterable[tuple[str, int, str, str]] = (),
               forget_checkins_before: int | None = None) -> None:
        """Write one batch in one transaction."""
        db = self.db
        db.execute("BEGIN")
        try:
            db.executemany("INSERT OR REPLACE INTO subjects VALUES (?, ?)", subjects)
            db.executemany("INSERT INTO alerts VALUES (?, ?, ?)", alerts)
            db.executemany("INSERT OR IGNORE INTO traces VALUES (?, ?)", traces)
            db.executemany("INSERT INTO reports VALUES (?, ?, ?)", reports)
            db.executemany("INSERT INTO checkins VALUES (?, ?, ?, ?)", checkins)
            if forget_checkins_before is not None:
                db.execute("DELETE FROM checkins WHERE time < ?", (forget_checkins_before,))
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


__all__ = ["StateMismatch", "Store", "dumps"]
