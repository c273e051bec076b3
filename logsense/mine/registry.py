"""The pattern registry: stable pattern ids across runs, and when each pattern was seen.

Mining is recomputed from scratch on every run, so a fixed input always gives the same patterns;
the registry only *names* them. A template that matches a registered one (same service, level
class, stack fingerprint and length, every token equal or a `<*>` on either side) takes the
registered id, so ids survive the small template drift that different windows cause. It also
remembers first/last seen, which tells *new* from *regressed* (seen before, gone, back).

Stored as SQLite with a schema version (`PRAGMA user_version`); never pickle.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from logsense.errors import UsageError
from logsense.mine.masking import WILDCARD
from logsense.model import Pattern, level_class
from logsense.state import open_versioned

__all__ = ["SCHEMA_VERSION", "Known", "Registry", "registry_path"]

SCHEMA_VERSION = 1
_FILE = "registry.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS patterns (
    id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    level_class TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    template TEXT NOT NULL,
    length INTEGER NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS patterns_shape ON patterns (service, level_class, fingerprint, length);
"""


def registry_path(directory: Path) -> Path:
    """The registry file inside the state directory `directory`."""
    return directory / _FILE


@dataclass(frozen=True, slots=True)
class Known:
    """What the registry knew of a pattern before this run."""

    id: str
    first_seen: float
    last_seen: float


def _compatible(a: list[str], b: list[str]) -> bool:
    return any(x == y != WILDCARD for x, y in zip(a, b, strict=True)) and all(
        x == y or WILDCARD in (x, y) for x, y in zip(a, b, strict=True)
    )


class Registry:
    """An open registry file. Use `Registry.open(state_dir)` as a context manager."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    @classmethod
    @contextmanager
    def open(cls, directory: Path, reset: bool = False) -> Iterator[Registry]:
        """Open (or create) the registry in `directory`; `reset` starts it afresh.

        A corrupt or foreign file raises UsageError naming the file and `--reset-state`.
        """
        path = registry_path(directory)
        if reset:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise UsageError(
                    f"--reset-state cannot remove {path}: {exc.strerror}; make its directory "
                    "writable, or give another --state-dir"
                ) from None
        with open_versioned(
            path, _SCHEMA, SCHEMA_VERSION, {"patterns"}, "a logsense registry",
            "move it away or run with --reset-state",
        ) as connection:  # fmt: skip
            yield cls(connection, path)

    def assign(self, patterns: list[Pattern]) -> dict[str, Known]:
        """Give each pattern its registered id (in place) and return what was known before.

        Returns a map from the (possibly renamed) pattern id to its earlier sightings, for
        patterns the registry had seen; the registry is then updated with this run's sightings.
        """
        known: dict[str, Known] = {}
        taken: set[str] = set()
        for pattern in sorted(patterns, key=lambda p: (-p.count, p.id)):
            match = self._find(pattern, taken)
            if match is not None:
                pattern.id = match.id
                known[match.id] = match
            taken.add(pattern.id)
        with self._db:
            for pattern in patterns:
                self._record(pattern)
        return known

    def _find(self, pattern: Pattern, taken: set[str]) -> Known | None:
        row = self._db.execute(
            "SELECT id, first_seen, last_seen FROM patterns WHERE id = ?", (pattern.id,)
        ).fetchone()
        if row is not None:
            return Known(*row)
        tokens = pattern.template.split()
        rows = self._db.execute(
            "SELECT id, template, first_seen, last_seen FROM patterns "
            "WHERE service = ? AND level_class = ? AND fingerprint = ? AND length = ? "
            "ORDER BY first_seen, id",
            (pattern.service, level_class(pattern.level), pattern.fingerprint or "", len(tokens)),
        ).fetchall()
        for pid, template, first, last in rows:
            if pid not in taken and _compatible(tokens, template.split()):
                return Known(pid, first, last)
        return None

    def _record(self, pattern: Pattern) -> None:
        seen = [t for t in (pattern.first_seen, pattern.last_seen) if abs(t) != float("inf")]
        if not seen:
            return
        self._db.execute(
            "INSERT INTO patterns VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "template = excluded.template, "
            "first_seen = min(first_seen, excluded.first_seen), "
            "last_seen = max(last_seen, excluded.last_seen)",
            (
                pattern.id,
                pattern.service,
                level_class(pattern.level),
                pattern.fingerprint or "",
                pattern.template,
                len(pattern.template.split()),
                min(seen),
                max(seen),
            ),
        )
