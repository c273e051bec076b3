"""Sources turn stored logs into a stream of normalized `Event`s.

A source has a `name` (shown in the report), `read()` that yields Events, `fill(table)` that
adds them to a native `EventTable` (the triage path: a source may do that faster than one Event
at a time), `stats`, a `SourceStats` of what it skipped or had to guess, so no input is lost
silently, and `pushed`: what its last `fill` left to Elasticsearch to count (`pushdown.py`), if
anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from logsense._native import EventTable
from logsense.model import Event
from logsense.sources.records import SourceStats

if TYPE_CHECKING:
    from logsense.sources.pushdown import Pushed

__all__ = ["Source", "SourceStats"]


class Source(Protocol):
    """Where events come from: a file, stdin, Elasticsearch."""

    name: str
    stats: SourceStats
    pushed: Pushed | None

    def read(self) -> Iterator[Event]:
        """Every event of the source (a source may pre-filter to the requested time range)."""
        ...

    def fill(self, table: EventTable, progress: bool = False) -> None:
        """Add every event of `read()` to `table`; `progress` asks for a progress line."""
        ...
