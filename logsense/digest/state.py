"""What the last digest said, per digest name: its window and the issues it saw.

Kept in `digests.sqlite3` in the state directory, with a schema version (`PRAGMA user_version`);
never pickle. Only the last digest of each name is kept: recording one replaces the previous
one in a single transaction, and a digest that failed to go out is never recorded, so the next
run compares with the last digest that people actually received.

    digests        name (key), window_start, window_end, sent_at (UTC epoch seconds), source
    digest_issues  name, id (key together), title, service, severity, share, events,
                   status (triage status then), reported (1 when at or above the digest's
                   severity bar), first_seen (earliest over every digest of that name)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from logsense.model import Severity
from logsense.state import open_versioned

__all__ = ["SCHEMA_VERSION", "DigestStore", "SentDigest", "SentIssue"]

SCHEMA_VERSION = 1
_FILE = "digests.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS digests (
    name TEXT PRIMARY KEY,
    window_start REAL NOT NULL,
    window_end REAL NOT NULL,
    sent_at REAL NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS digest_issues (
    name TEXT NOT NULL,
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    service TEXT NOT NULL,
    severity TEXT NOT NULL,
    share REAL,
    events INTEGER NOT NULL,
    status TEXT NOT NULL,
    reported INTEGER NOT NULL,
    first_seen REAL NOT NULL,
    PRIMARY KEY (name, id)
);
"""


@dataclass(frozen=True, slots=True)
class SentIssue:
    """One issue as a digest saw it."""

    id: str
    title: str
    service: str
    severity: Severity
    share: float | None
    events: int
    status: str
    reported: bool
    first_seen: float


@dataclass(frozen=True, slots=True)
class SentDigest:
    """A digest that went out: its window, when, from which source, and its issues by id."""

    name: str
    window_start: float
    window_end: float
    sent_at: float
    source: str
    issues: dict[str, SentIssue] = field(default_factory=dict)


class DigestStore:
    """The digest state file. Use `DigestStore.open(state_dir)` as a context manager."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    @classmethod
    @contextmanager
    def open(cls, directory: Path) -> Iterator[DigestStore]:
        """Open (or create) the store in `directory`; UsageError naming the file if unreadable."""
        path = directory / _FILE
        with open_versioned(
            path, _SCHEMA, SCHEMA_VERSION, {"digests", "digest_issues"},
            "logsense digest state", "move it away",
        ) as connection:  # fmt: skip
            yield cls(connection, path)

    def last(self, name: str) -> SentDigest | None:
        """The last digest recorded under `name`, or None if there was none."""
        row = self._db.execute(
            "SELECT window_start, window_end, sent_at, source FROM digests WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            return None
        rows = self._db.execute(
            "SELECT id, title, service, severity, share, events, status, reported, first_seen "
            "FROM digest_issues WHERE name = ?",
            (name,),
        ).fetchall()
        issues = {
            r[0]: SentIssue(r[0], r[1], r[2], cast(Severity, r[3]), r[4], r[5], r[6], bool(r[7]),
                            r[8])
            for r in rows
        }  # fmt: skip
        start, end, sent_at, source = row
        return SentDigest(name, start, end, sent_at, source, issues)

    def record(self, digest: SentDigest) -> None:
        """Make `digest` the last one of its name (replacing the previous one atomically)."""
        with self._db:
            self._db.execute("DELETE FROM digest_issues WHERE name = ?", (digest.name,))
            self._db.execute(
                "INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?)",
                (digest.name, digest.window_start, digest.window_end, digest.sent_at,
                 digest.source),
            )  # fmt: skip
            self._db.executemany(
                "INSERT INTO digest_issues VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (digest.name, i.id, i.title, i.service, i.severity, i.share, i.events,
                     i.status, int(i.reported), i.first_seen)
                    for i in digest.issues.values()
                ],
            )  # fmt: skip
