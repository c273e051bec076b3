"""Where logsense keeps state between runs: the pattern registry, digest state, the LLM cache.

One directory: `--state-dir`, else `LOGSENSE_STATE_DIR`, else the user's state directory
(`~/.local/state/logsense` on Linux).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import platformdirs

from logsense.errors import UsageError

__all__ = ["open_versioned", "state_dir"]


def state_dir(override: Path | None = None) -> Path:
    """The state directory, created if missing; UsageError if it cannot be."""
    chosen = override or Path(
        os.environ.get("LOGSENSE_STATE_DIR") or platformdirs.user_state_dir("logsense")
    )
    try:
        chosen.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the state directory {chosen}: {exc.strerror}") from None
    return chosen


@contextmanager
def open_versioned(
    path: Path,
    schema: str,
    version: int,
    tables: set[str],
    kind: str,
    way_out: str,
    *,
    adopt_unversioned: bool = False,
) -> Iterator[sqlite3.Connection]:
    """A SQLite state file with `schema` at `version`, created when absent.

    With `adopt_unversioned`, a file of exactly `tables` and no version (written before it had
    one, in the same layout) is given `version`.

    Creating it is one transaction under SQLite's write lock (`BEGIN IMMEDIATE`): of several
    first runs at once, one creates the schema and its version together, the others wait and
    find both. A corrupt file, another schema version, or a file without `tables` raises
    UsageError naming the file, what it should be (`kind`) and the `way_out`; a file or
    directory this user cannot write raises UsageError saying so (its history is intact: the
    fix is a permission, never the way out).
    """
    try:
        connection = sqlite3.connect(path, timeout=_BUSY_SECONDS)
    except sqlite3.DatabaseError as exc:
        raise _state_error(path, exc, kind, way_out) from None
    with closing(connection):
        try:
            adopt = tables if adopt_unversioned else None
            _check_schema(connection, path, schema, version, tables, kind, way_out, adopt)
            yield connection
        except sqlite3.DatabaseError as exc:
            raise _state_error(path, exc, kind, way_out) from None


# How long a run waits for another one that holds a state file's write lock.
_BUSY_SECONDS = 30.0
_NOT_WRITABLE = ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")
_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")


def _state_error(path: Path, exc: sqlite3.DatabaseError, kind: str, way_out: str) -> UsageError:
    """The one-line error for a state file SQLite could not use, by what went wrong."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(_NOT_WRITABLE) or not _writable(path):
        return UsageError(
            f"{kind} {path} cannot be written by this user ({exc}): make the file and its "
            "directory writable (e.g. chmod u+w), or give another --state-dir; the file is "
            "not damaged, keep it"
        )
    if name.startswith(_BUSY):
        return UsageError(
            f"{kind} {path} stayed locked by another process for {_BUSY_SECONDS:.0f} s ({exc}); "
            "try again when the other logsense run has finished"
        )
    return UsageError(f"{kind} {path} is unreadable ({exc}); {way_out}")


def _writable(path: Path) -> bool:
    """Whether this user may write `path` (if it exists) and create files beside it."""
    directory = path.parent
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return False
    return os.access(directory, os.W_OK | os.X_OK)


def _check_schema(
    connection: sqlite3.Connection,
    path: Path,
    schema: str,
    version: int,
    tables: set[str],
    kind: str,
    way_out: str,
    adopt: set[str] | None = None,
) -> None:
    found, present = _schema_of(connection)
    if found != version or not tables <= present:
        # Not as expected, or read while another run was creating it (each statement above
        # reads its own snapshot): look again under the write lock, creating it when empty.
        found, present = _create(connection, schema, version, adopt)
    if found != version or not tables <= present:
        raise UsageError(
            f"{path} is not {kind} of schema {version} "
            f"(found version {found}, tables {sorted(present)}); {way_out}"
        )


def _schema_of(connection: sqlite3.Connection) -> tuple[int, set[str]]:
    found: int = connection.execute("PRAGMA user_version").fetchone()[0]
    present = {
        r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    return found, present


def _create(
    connection: sqlite3.Connection, schema: str, version: int, adopt: set[str] | None = None
) -> tuple[int, set[str]]:
    """Create the schema (or adopt tables `adopt` written without a version) and set its
    version in one write transaction, unless another process did so first (checked again under
    the lock); return the version and tables then found."""
    isolation = connection.isolation_level
    connection.isolation_level = None  # transactions by hand: BEGIN IMMEDIATE ... COMMIT
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            found, present = _schema_of(connection)
            if found == 0 and (not present or present == adopt):
                for statement in _statements(schema):
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {int(version)}")
                found, present = _schema_of(connection)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    finally:
        connection.isolation_level = isolation
    return found, present


def _statements(script: str) -> list[str]:
    """The SQL statements of `script`, one by one (`executescript` would commit between)."""
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
