"""Time windows: parse `--since/--until/--from`, and cut an event stream to window + baseline.

Relative times count back from an anchor: the current time for live sources, the newest event for
recorded files (so `--since 1h` on a file means its last hour). The baseline is the window before,
of the same length unless configured otherwise.

A file's anchor is its newest event *outside a detached tail*: a few events (at most 1% of them)
after a long silence, such as one line dated a year ahead, or a minority of events more than a
day after the wall clock, are implausible as the end of the data; they are counted outside the
window and named in a warning, never its anchor (the rule is `anchor_hours` in
`native/src/table/store.rs`). Durations are at most 100 years, and times given
as ISO 8601 must be plausible log times (2000-01-01 up to 2100-01-01), so a window always lies
where dates can be written.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from logsense._native import Aggregate, EventTable
from logsense.config import FieldMap
from logsense.errors import UsageError
from logsense.model import Instance, Window, iso
from logsense.sources.records import EARLIEST, LATEST, event_table, plausible

__all__ = [
    "Relative",
    "WindowSpec",
    "WindowedEvents",
    "cut",
    "new_table",
    "parse_duration",
    "parse_time",
    "reach",
]

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
# Longer durations reach past any date a log line can carry (see `records.plausible`).
MAX_DURATION = 100 * 365.25 * 86400


def parse_duration(text: str) -> float:
    """Seconds in a duration such as `30m`, `1h`, `2d`, `1h30m`, `90s` or `0` (at most 100
    years); else UsageError."""
    compact = text.strip().lower().replace(" ", "")
    if compact == "0":
        return 0.0
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise UsageError(f"not a duration: {text!r} (use e.g. 30m, 1h, 2d, 1h30m)")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not seconds <= MAX_DURATION:
        raise _TooLong(f"duration too long: {text!r} (at most 100 years, 36525d)")
    return seconds


class _TooLong(UsageError):
    """A duration, but longer than any log's span."""


@dataclass(frozen=True, slots=True)
class Relative:
    """A time given as an offset back from the anchor (`--until 10m`: ten minutes before it)."""

    seconds_back: float


def parse_time(text: str) -> float | Relative:
    """An ISO 8601 time (any UTC offset; naive means UTC) or a duration meaning that long ago."""
    value = text.strip()
    if value.lower() == "now":
        return Relative(0.0)
    try:
        return Relative(parse_duration(value))
    except _TooLong:
        raise
    except UsageError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        seconds = parsed.timestamp()
    except (ValueError, OverflowError):
        raise UsageError(
            f"not a time: {text!r} (use ISO 8601 like 2026-11-20T14:00:00Z, or a duration like 2h)"
        ) from None
    if not plausible(seconds):
        raise UsageError(
            f"time out of range: {text!r} (log times lie from {iso(EARLIEST)[:10]} "
            f"up to {iso(LATEST)[:10]})"
        )
    return seconds


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """What the user asked for; `resolve` makes concrete windows once the anchor is known."""

    since: float | None = None
    until: float | Relative | None = None
    start: float | Relative | None = None
    baseline: float | None = None

    @classmethod
    def from_options(
        cls,
        since: str | None,
        until: str | None,
        start: str | None,
        baseline: str | None = None,
    ) -> WindowSpec:
        """Parse option strings; `--since` is 1h when neither it nor `--from` is given, and
        never zero (the window would hold nothing)."""
        if since and start:
            raise UsageError("give --since or --from, not both")
        length = parse_duration(since) if since else None
        if length == 0:
            raise UsageError(f"--since {since} is an empty window: give a length such as 1h")
        return cls(
            since=length if since else (None if start else 3600.0),
            until=parse_time(until) if until else None,
            start=parse_time(start) if start else None,
            baseline=parse_duration(baseline) if baseline else None,
        )

    @property
    def is_absolute(self) -> bool:
        """True when the windows do not depend on the anchor."""
        return isinstance(self.until, float) and (
            self.start is None or isinstance(self.start, float)
        )

    def resolve(self, anchor: float) -> tuple[Window, Window | None]:
        """The window and its baseline (None when the baseline length is zero)."""
        end = _at(self.until, anchor) if self.until is not None else anchor
        begin = _at(self.start, anchor) if self.start is not None else end - (self.since or 3600.0)
        if begin >= end:
            raise UsageError("the window is empty: its start is not before its end")
        window = Window(begin, end)
        length = self.baseline if self.baseline is not None else end - begin
        baseline = Window(begin - length, begin) if length > 0 else None
        return window, baseline


def _at(value: float | Relative, anchor: float) -> float:
    return anchor - value.seconds_back if isinstance(value, Relative) else value


@dataclass
class WindowedEvents:
    """The window, its baseline, the aggregate of the events in them, what fell outside, and
    the service instances of everything read."""

    window: Window
    baseline: Window | None
    aggregate: Aggregate
    outside: int
    earliest_seen: float | None
    # What the window's reader must know: events that did not anchor it.
    warnings: list[str] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)


def new_table(
    spec: WindowSpec,
    anchor: float | None,
    fields: FieldMap,
    source: str,
    threads: int = 1,
    forget: bool = True,
) -> EventTable:
    """An empty EventTable that keeps only events that can fall in the window or its baseline.

    With an `anchor` (live sources: now), or absolute times, the windows are known up front
    (and the table may sample as it reads: `EventTable.sample_rest`).
    Without one, the newest event will be the anchor: the table forgets events too old to
    matter as it reads, so memory follows the window, not the file — unless `forget` is False
    (a part of the input read apart: only the whole input knows its newest event).
    """
    known = _known_windows(spec, anchor)
    if known is not None:
        window, baseline = known
        return event_table(
            fields, source, floor=_low(window, baseline), ceiling=window.end, threads=threads,
            window_start=window.start,
        )  # fmt: skip
    # A baseline as long as the window starts where the newest event says: no floor then.
    floor = None
    if isinstance(spec.start, float) and spec.baseline is not None:
        floor = spec.start - spec.baseline
    return event_table(
        fields, source, floor=floor, lookback=_lookback(spec) if forget else None,
        threads=threads, now=time.time(),
    )  # fmt: skip


def cut(table: EventTable, spec: WindowSpec, anchor: float | None, samples: int) -> WindowedEvents:
    """The windows, and the aggregate of the table's events in them (`samples` per shape)."""
    window, baseline, warnings = _windows(table, spec, anchor)
    aggregate = table.aggregate(_low(window, baseline), window.start, window.end, samples)
    return WindowedEvents(
        window, baseline, aggregate, aggregate.outside, table.earliest, warnings=warnings,
        instances=[Instance(*seen) for seen in table.instances()],
    )  # fmt: skip


def reach(table: EventTable, spec: WindowSpec, anchor: float | None) -> float:
    """The time from which `cut` takes the table's events (its baseline's start, or its
    window's), as the table's `anchor()` has it now."""
    window, baseline, _ = _windows(table, spec, anchor)
    return _low(window, baseline)


def _windows(
    table: EventTable, spec: WindowSpec, anchor: float | None
) -> tuple[Window, Window | None, list[str]]:
    """The window and baseline of `cut`, and what the window's reader must know."""
    known = _known_windows(spec, anchor)
    warnings: list[str] = []
    found = table.anchor() if known is None else None
    if known is not None:
        window, baseline = known
    elif found is None:
        window, baseline = spec.resolve(0.0)
    else:
        # The anchor is the newest event outside a detached tail; the window is half-open, so
        # nudge its end past it.
        newest, detached, detached_first, silence = found
        window, baseline = spec.resolve(newest + 0.001)
        if detached and detached_first is not None:
            warnings.append(_detached_warning(newest, detached, detached_first, silence))
    return window, baseline, warnings


def _detached_warning(newest: float, detached: int, first: float, silence: float) -> str:
    if detached == 1:
        events, they, them = "1 event", "it does", "it"
    else:
        events, they, them = f"{detached:,} events", "they do", "them"
    return (
        f"{events} at the end of the input came {_span(silence)} after the rest (from "
        f"{iso(first)}): an implausible end of the data, so {they} not anchor the window, which "
        f"ends at the last event before ({iso(newest)}); give --until to include {them}"
    )


def _span(seconds: float) -> str:
    """A long stretch of time in words: `7.5 hours`, `3 days`, `2.1 years`."""
    hours = seconds / 3600
    if hours < 48:
        return f"{hours:.1f} hours"
    if hours < 2 * 8766:
        return f"{hours / 24:.0f} days"
    return f"{hours / 8766:.1f} years"


def _known_windows(spec: WindowSpec, anchor: float | None) -> tuple[Window, Window | None] | None:
    """The windows when they do not depend on the input (an anchor, or absolute times)."""
    if anchor is not None or spec.is_absolute:
        return spec.resolve(anchor if anchor is not None else 0.0)
    return None


def _low(window: Window, baseline: Window | None) -> float:
    """Where the events that matter start: the baseline's start, or the window's."""
    return baseline.start if baseline else window.start


def _lookback(spec: WindowSpec) -> float | None:
    """How far back from the newest event an event can still matter, or None if unbounded."""
    if spec.start is not None and not isinstance(spec.start, Relative):
        return None
    until_back = spec.until.seconds_back if isinstance(spec.until, Relative) else 0.0
    if spec.start is not None:
        assert isinstance(spec.start, Relative)
        length = spec.start.seconds_back - until_back
    else:
        length = spec.since or 3600.0
    baseline = spec.baseline if spec.baseline is not None else length
    return until_back + length + baseline + 0.001
