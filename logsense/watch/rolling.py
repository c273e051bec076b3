"""The rolling window: the recent events a watcher triages at each tick, in bounded memory.

Events are kept by minute. At each tick the minutes older than the window and its baseline
(`--since` + `--baseline` back from now) are forgotten, and the rest are handed to the pipeline
as a `Source` (`WindowSource`), so every tick triages exactly the window a `logsense triage`
at that moment would. The native `EventTable` is made afresh for each tick from these events
(its interned request ids and origins would otherwise grow with every tick, forever).

Memory has two bounds: time (what falls out of the window is dropped) and `max_events`: past it
the oldest minutes are dropped first, and the report's warnings say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from logsense._native import EventTable
from logsense.model import Event, iso
from logsense.sources.records import SourceStats, push_event

if TYPE_CHECKING:
    from logsense.sources.pushdown import Pushed

__all__ = ["FUTURE_SLACK", "RollingWindow", "WindowSource"]

# Events stamped further than this past the wall clock are dropped (and counted): a line dated
# next year must not stay in memory for a year.
FUTURE_SLACK = 86400.0


@dataclass
class _Dropped:
    """Events the window did not keep, by reason (for warnings)."""

    too_old: int = 0
    future: int = 0
    over_cap: int = 0


class RollingWindow:
    """The events of the last `span` seconds, at most `max_events` of them."""

    def __init__(self, span: float, max_events: int) -> None:
        self.span = span
        self.max_events = max_events
        self._minutes: dict[int, list[tuple[int, Event]]] = {}
        self._count = 0
        self._seq = 0
        self.newest: float | None = None
        self.dropped = _Dropped()
        # Dropped for the cap since the last tick took its warnings.
        self._capped_since_warned = 0
        self._cap_floor: float | None = None

    def __len__(self) -> int:
        return self._count

    def add(self, events: Iterable[Event], now: float, floor: float) -> int:
        """Keep `events` from `floor` up to a day past `now`; return how many were kept."""
        kept = 0
        minutes = self._minutes
        limit = now + FUTURE_SLACK
        for event in events:
            ts = event.timestamp
            if ts < floor:
                self.dropped.too_old += 1
                continue
            if ts >= limit:
                self.dropped.future += 1
                continue
            self._seq += 1
            minute = int(ts // 60)
            bucket = minutes.get(minute)
            if bucket is None:
                bucket = minutes[minute] = []
            bucket.append((self._seq, event))
            kept += 1
            if self.newest is None or ts > self.newest:
                self.newest = ts
        self._count += kept
        if self._count > self.max_events:
            self._cap()
        return kept

    def evict(self, floor: float) -> int:
        """Forget the events before `floor`; return how many."""
        first = int(floor // 60)
        gone = 0
        for minute in [m for m in self._minutes if m <= first]:
            bucket = self._minutes[minute]
            if minute < first:
                gone += len(bucket)
                del self._minutes[minute]
                continue
            kept = [item for item in bucket if item[1].timestamp >= floor]
            gone += len(bucket) - len(kept)
            if kept:
                self._minutes[minute] = kept
            else:
                del self._minutes[minute]
        self._count -= gone
        return gone

    def _cap(self) -> None:
        """Drop the oldest minutes until at most `max_events` are kept."""
        for minute in sorted(self._minutes):
            if self._count <= self.max_events:
                break
            bucket = self._minutes.pop(minute)
            self._count -= len(bucket)
            self.dropped.over_cap += len(bucket)
            self._capped_since_warned += len(bucket)
            self._cap_floor = (minute + 1) * 60.0

    def take_warnings(self) -> list[str]:
        """What the window had to drop for its cap since the last call, in one line (or none)."""
        if not self._capped_since_warned:
            return []
        line = (
            f"the window holds at most {self.max_events:,} events (--max-window-events): "
            f"{self._capped_since_warned:,} of the oldest were dropped, so the data before "
            f"{iso(self._cap_floor or 0.0)} is incomplete"
        )
        self._capped_since_warned = 0
        return [line]

    def events(self) -> Iterator[tuple[int, Event]]:
        """(arrival order, event) of every kept event, minute by minute."""
        for minute in sorted(self._minutes):
            yield from self._minutes[minute]

    def source(self, name: str, notes: list[str]) -> WindowSource:
        """The window as a pipeline `Source` named `name`; `notes` go to the report's warnings."""
        stats = SourceStats(read=self._count)
        stats.notes.extend(notes)
        return WindowSource(name, stats, self)


@dataclass
class WindowSource:
    """A `Source` over the events a `RollingWindow` holds now."""

    name: str
    stats: SourceStats
    window: RollingWindow = field(repr=False)
    # A rolling window holds every event it took: nothing is left to count elsewhere.
    pushed: Pushed | None = None

    def read(self) -> Iterator[Event]:
        """Every event of the window, minute by minute."""
        for _, event in self.window.events():
            yield event

    def fill(self, table: EventTable, progress: bool = False) -> None:
        """Push every event of the window into `table` (arrival order breaks ties of time)."""
        for seq, event in self.window.events():
            push_event(table, seq, event)
