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
    path: Path, schema: str, version: int, tables: set[str], kind: str, way_out: str
) -> Iterator[sqlite3.Connection]:
    """A SQLite state file with `schema` at `version`, created when absent.

    A corrupt file, another schema version, or a file without `tables` raises UsageError naming
    the file, what it should be (`kind`) and the `way_out`.
    """
    try:
        with closing(sqlite3.connect(path)) as connection:
            _check_schema(connection, path, schema, version, tables, kind, way_out)
            yield connection
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{kind} {path} is unreadable ({exc}); {way_out}") from None


def _check_schema(
    connection: sqlite3.Connection,
    path: Path,
    schema: str,
    version: int,
    tables: set[str],
    kind: str,
    way_out: str,
) -> None:
    found = connection.execute("PRAGMA user_version").fetchone()[0]
    present = {
        r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    if found == 0 and not present:
        with connection:
            connection.executescript(schema)
            connection.execute(f"PRAGMA user_version = {version}")
        return
    if found != version or not tables <= present:
        raise UsageError(
            f"{path} is not {kind} of schema {version} "
            f"(found version {found}, tables {sorted(present)}); {way_out}"
        )
