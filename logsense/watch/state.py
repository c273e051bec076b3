"""The watcher's memory: what it announced, and the alerts still to deliver (the outbox).

One SQLite file per watch name, `watch-NAME.sqlite3` in the state directory (schema version in
`PRAGMA user_version`, created in one transaction by `state.open_versioned`; never pickle):

    issues      key (as announced), current_id, open, severity and share (as last announced),
                root_pattern, patterns (JSON list), last_seen, last_alert_at, alerts (how many
                so far: the next alert's number), absent_ticks, doc (the issue as last seen),
                streak (reports in a row at the bar; candidates not announced yet have 0 alerts)
    indicators  id, open, last_alert_at, alerts, absent_ticks
    sources     name, failing_since, error, alerted, alerts, trouble (unreadable or silent)
    outbox      alert_id + sink (key), created_at, kind, payload (the alert JSON), attempts,
                last_error, delivered_at, failed_at
    ticks       count, last_at

**Why an alert is neither lost nor repeated when the process dies (even `kill -9`).** A tick
writes the state after it and its alerts, one outbox row per alert and sink, in *one*
transaction (`commit`), and sinks deliver only from the outbox afterwards:

- killed before that commit: nothing of the tick is stored and nothing was sent; the next run
  reads the window again and finds the same transitions, so the alerts are made then;
- killed after it: the state says the issue was announced (no second "new"), and the outbox
  still holds every alert not marked delivered, which the next run delivers;
- killed between a sink's success and the row being marked delivered (the time of one UPDATE):
  the next run delivers that alert again. This is the one window left; such a copy has the same
  `id` (and `X-Logsense-Alert-Id` header), so a receiver can drop it.

SQLite runs in WAL mode with `synchronous=FULL`: a commit that returned is on disk. One process
per watch name and state directory holds `watch-NAME.lock` (a POSIX record lock: the kernel
releases it however the process ends, and a forked child never holds it).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import orjson

from logsense.errors import UsageError
from logsense.model import Severity
from logsense.state import open_versioned
from logsense.watch.transitions import IndicatorState, SourceState, Tracked

__all__ = ["SCHEMA_VERSION", "Outbox", "OutboxRow", "Snapshot", "WatchStore", "check_name"]

SCHEMA_VERSION = 1
_TABLES = {"issues", "indicators", "sources", "outbox", "ticks"}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS issues (
    key TEXT PRIMARY KEY,
    current_id TEXT NOT NULL,
    open INTEGER NOT NULL,
    severity TEXT NOT NULL,
    share REAL NOT NULL,
    root_pattern TEXT NOT NULL,
    patterns TEXT NOT NULL,
    last_seen REAL NOT NULL,
    last_alert_at REAL,
    alerts INTEGER NOT NULL,
    absent_ticks INTEGER NOT NULL,
    doc TEXT NOT NULL,
    streak INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS indicators (
    id TEXT PRIMARY KEY,
    open INTEGER NOT NULL,
    last_alert_at REAL,
    alerts INTEGER NOT NULL,
    absent_ticks INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY,
    failing_since REAL,
    error TEXT,
    alerted INTEGER NOT NULL,
    alerts INTEGER NOT NULL,
    trouble TEXT
);
CREATE TABLE IF NOT EXISTS outbox (
    alert_id TEXT NOT NULL,
    sink TEXT NOT NULL,
    created_at REAL NOT NULL,
    kind TEXT NOT NULL,
    payload BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    delivered_at REAL,
    failed_at REAL,
    PRIMARY KEY (alert_id, sink)
);
CREATE TABLE IF NOT EXISTS ticks (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    count INTEGER NOT NULL,
    last_at REAL
);
"""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_BUSY_SECONDS = 30.0
# Delivered or failed outbox rows, and resolved issues past their cooldown, are kept this long.
_KEEP = 7 * 86400.0


def check_name(name: str) -> str:
    """A watch name fit for a file name; UsageError otherwise."""
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"--name {name!r}: use 1 to 64 letters, digits, dots, dashes or underscores"
        )
    return name


@dataclass
class Snapshot:
    """Everything the rules need from the last tick."""

    issues: dict[str, Tracked] = field(default_factory=dict)
    indicators: dict[str, IndicatorState] = field(default_factory=dict)
    source: SourceState = field(default_factory=SourceState)
    ticks: int = 0


@dataclass(frozen=True)
class OutboxRow:
    """One alert still to deliver to one sink."""

    alert_id: str
    sink: str
    created_at: float
    kind: str
    payload: bytes
    attempts: int


class WatchStore:
    """The state file of one watch name. Use `WatchStore.open(directory, name)`."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    @classmethod
    @contextmanager
    def open(cls, directory: Path, name: str) -> Iterator[WatchStore]:
        """Lock the name, then open (or create) its state file; UsageError naming the file
        when it is locked by another watcher, unreadable, damaged or of another schema."""
        check_name(name)
        path = directory / f"watch-{name}.sqlite3"
        with _locked(directory / f"watch-{name}.lock", name, directory), open_versioned(
            path, _SCHEMA, SCHEMA_VERSION, _TABLES, "logsense watch state",
            "move it away (the next start then alerts on every open issue again)",
        ) as connection:  # fmt: skip
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            yield cls(connection, path)

    # --- the tick's side ---------------------------------------------------------------------

    def load(self, source: str) -> Snapshot:
        """The state the last committed tick left (for source `source`)."""
        db = self._db
        snapshot = Snapshot()
        for row in db.execute(
            "SELECT key, current_id, open, severity, share, root_pattern, patterns, last_seen, "
            "last_alert_at, alerts, absent_ticks, doc, streak FROM issues"
        ):
            snapshot.issues[row[0]] = Tracked(
                key=row[0], current_id=row[1], open=bool(row[2]), severity=cast(Severity, row[3]),
                share=row[4], root_pattern=row[5], patterns=frozenset(orjson.loads(row[6])),
                last_seen=row[7], last_alert_at=row[8], alerts=row[9], absent_ticks=row[10],
                doc=orjson.loads(row[11]), streak=row[12],
            )  # fmt: skip
        for row in db.execute(
            "SELECT id, open, last_alert_at, alerts, absent_ticks FROM indicators"
        ):
            snapshot.indicators[row[0]] = IndicatorState(row[0], bool(row[1]), row[2], row[3],
                                                         row[4])  # fmt: skip
        found = db.execute(
            "SELECT failing_since, error, alerted, alerts, trouble FROM sources WHERE name = ?",
            (source,),
        ).fetchone()
        if found is not None:
            trouble = found[4] if found[4] in ("unreadable", "silent") else None
            snapshot.source = SourceState(found[0], found[1], bool(found[2]), found[3], trouble)
        ticks = db.execute("SELECT count FROM ticks WHERE id = 1").fetchone()
        snapshot.ticks = ticks[0] if ticks else 0
        return snapshot

    def commit(
        self,
        after: Snapshot,
        source: str,
        alerts: list[dict[str, Any]],
        sinks: list[str],
        now: float,
    ) -> None:
        """Store the state after a tick and put its alerts in the outbox, one row per sink:
        all of it, or (if the process dies first) none of it."""
        db = self._db
        keep_from = now - _KEEP
        with db:
            db.execute("DELETE FROM issues")
            db.executemany(
                "INSERT INTO issues VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (t.key, t.current_id, int(t.open), t.severity, t.share, t.root_pattern,
                     orjson.dumps(sorted(t.patterns)).decode(), t.last_seen, t.last_alert_at,
                     t.alerts, t.absent_ticks, orjson.dumps(t.doc).decode(), t.streak)
                    for t in after.issues.values()
                    if t.open or (t.last_alert_at or now) >= keep_from
                ],
            )  # fmt: skip
            db.execute("DELETE FROM indicators")
            db.executemany(
                "INSERT INTO indicators VALUES (?, ?, ?, ?, ?)",
                [
                    (i.id, int(i.open), i.last_alert_at, i.alerts, i.absent_ticks)
                    for i in after.indicators.values()
                    if i.open or (i.last_alert_at or now) >= keep_from
                ],
            )
            state = after.source
            db.execute(
                "INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?)",
                (
                    source,
                    state.failing_since,
                    state.error,
                    int(state.alerted),
                    state.alerts,
                    state.trouble,
                ),
            )
            db.execute("INSERT OR REPLACE INTO ticks VALUES (1, ?, ?)", (after.ticks, now))
            db.executemany(
                "INSERT OR IGNORE INTO outbox (alert_id, sink, created_at, kind, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (alert["id"], sink, now, alert["kind"], orjson.dumps(alert))
                    for alert in alerts
                    for sink in sinks
                ],
            )
            db.execute(
                "DELETE FROM outbox WHERE (delivered_at IS NOT NULL OR failed_at IS NOT NULL) "
                "AND created_at < ?",
                (keep_from,),
            )

    def outbox(self) -> Outbox:
        """A connection to the outbox for the calling thread (close it when done)."""
        return Outbox(self.path)


class Outbox:
    """The outbox as one thread sees it (SQLite connections are not shared between threads)."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, timeout=_BUSY_SECONDS)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def due_rows(self, sink: str, limit: int = 200) -> list[OutboxRow]:
        """The oldest alerts not yet delivered to (nor given up for) `sink`, oldest first."""
        rows = self._db.execute(
            "SELECT alert_id, sink, created_at, kind, payload, attempts FROM outbox "
            "WHERE sink = ? AND delivered_at IS NULL AND failed_at IS NULL "
            "ORDER BY rowid LIMIT ?",
            (sink, limit),
        ).fetchall()
        return [OutboxRow(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    def delivered(self, row: OutboxRow, at: float) -> None:
        """Mark `row` delivered."""
        with self._db:
            self._db.execute(
                "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1 "
                "WHERE alert_id = ? AND sink = ?",
                (at, row.alert_id, row.sink),
            )

    def attempt_failed(self, row: OutboxRow, error: str, *, give_up: bool, at: float) -> None:
        """Count a failed attempt; with `give_up`, the alert is not tried again."""
        with self._db:
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, failed_at = ? "
                "WHERE alert_id = ? AND sink = ?",
                (error, at if give_up else None, row.alert_id, row.sink),
            )

    def pending(self) -> dict[str, int]:
        """Alerts not yet delivered nor given up, by sink."""
        return dict(
            self._db.execute(
                "SELECT sink, count(*) FROM outbox WHERE delivered_at IS NULL "
                "AND failed_at IS NULL GROUP BY sink"
            ).fetchall()
        )


@contextmanager
def _locked(path: Path, name: str, directory: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `path` (one watcher per name and directory)."""
    try:
        handle: IO[str] = path.open("a+", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot create {path}: {exc.strerror or exc}") from None
    with handle:
        try:
            # A POSIX record lock belongs to this process alone: the embedding model's child,
            # forked later, does not inherit it (it would hold an flock() a moment past a kill).
            fcntl.lockf(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise UsageError(
                f"another logsense watch --name {name} is running with the state directory "
                f"{directory} (pid {holder}); give another --name or --state-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.lockf(handle.fileno(), fcntl.LOCK_UN)
