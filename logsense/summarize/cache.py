"""The summary cache: answers that passed the guard, so a repeated triage asks the model nothing.

One JSON file in the state directory, `llm-cache.json`: `{"schema": "logsense.llm-cache/v1",
"entries": {key: {"at": epoch seconds, "model": str, "answer": {...}}}}`.
A key hashes what the answer depends on: the kind of text, the issue fingerprint (issue id and
root-cause template), the facts digest, the model and the prompt version. A file with another
schema, or one that does not parse, is ignored and rewritten; never pickle. The oldest entries
go beyond `MAX_ENTRIES`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

__all__ = ["FILE", "MAX_ENTRIES", "SCHEMA", "SummaryCache", "cache_key"]

SCHEMA = "logsense.llm-cache/v1"
FILE = "llm-cache.json"
MAX_ENTRIES = 2000

log = logging.getLogger(__name__)


def cache_key(*parts: str) -> str:
    """A stable key for `parts` (kind, fingerprint, facts digest, model, prompt version)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


class SummaryCache:
    """Read once, written back only when something was added."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE
        self._entries = self._load()
        self._dirty = False

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as exc:
            log.warning("ignoring unreadable summary cache %s: %s", self.path, exc)
            return {}
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}

    def get(self, key: str) -> tuple[dict[str, Any], str] | None:
        """The cached answer and its model for `key`, or None."""
        entry = self._entries.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("answer"), dict):
            return None
        return entry["answer"], str(entry.get("model") or "")

    def put(self, key: str, answer: dict[str, Any], model: str) -> None:
        """Remember `answer` (already checked by the guard) under `key`."""
        self._entries[key] = {"at": time.time(), "model": model, "answer": answer}
        self._dirty = True

    def save(self) -> None:
        """Write the file atomically if anything changed; a failure only logs a warning."""
        if not self._dirty:
            return
        newest = sorted(self._entries.items(), key=lambda kv: kv[1].get("at", 0.0))[-MAX_ENTRIES:]
        blob = orjson.dumps({"schema": SCHEMA, "entries": dict(newest)})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".llm-cache.", dir=self.path.parent)
            with os.fdopen(fd, "wb") as handle:
                handle.write(blob)
            Path(tmp).replace(self.path)
        except OSError as exc:
            log.warning("cannot write the summary cache %s: %s", self.path, exc)
        self._dirty = False
