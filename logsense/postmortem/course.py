"""An issue's course through the window, minute by minute: above baseline, peak, recovery.

The definitions every postmortem number follows:

- **requests per minute**: distinct requests with any event in the minute (`Totals`);
  **affected** in a minute: requests whose first event of the issue falls in it, so the
  minutes add up to the issue's `requests_affected` and a minute's share never exceeds 1.
- **baseline rate**: the issue's events per minute in the baseline window (0 without one); the
  **threshold** is that rate rounded up to whole events, since minutes hold whole events.
- **start**: the first minute with more events than the threshold; for an issue new in the
  window that is its first event, which is used exactly.
- **peak**: the minute with the highest share of requests affected (without request ids: the
  most events); the earliest on ties.
- **recovery**: the first minute after the peak from which the issue's events stay at or below
  the threshold for `quiet_minutes` consecutive minutes (default 3); None when the window ends
  before that many quiet minutes.
- **duration**: recovery (or, without one, the end of the data) minus start.

The minutes listed are those of `rank.series_minutes`: every minute of the window's events when
they span at most a day; beyond that only minutes with events of the issue and their
neighbours (a minute not listed has no event of it, and counts as quiet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from logsense.config import QUIET_MINUTES
from logsense.model import Issue, Pattern, Report, requests_of
from logsense.rank import event_span, series_minutes
from logsense.requestmap import RequestMap, RequestSet

__all__ = ["QUIET_MINUTES", "Course", "Minute", "course_of"]


@dataclass(frozen=True, slots=True)
class Minute:
    """One minute of an issue: its events, the requests it newly affected, all requests.

    Without request ids, `affected` and `requests` count events instead (a labelled proxy).
    """

    at: int
    events: int
    affected: int
    requests: int

    @property
    def share(self) -> float:
        """Affected ÷ all requests of the minute (0 when the minute has none)."""
        return self.affected / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Course:
    """The minutes of one issue (or of several together) and the moments derived from them."""

    minutes: list[Minute]
    baseline_rate: float
    threshold: int
    start: float | None
    peak: Minute | None
    recovery: float | None
    data_end: float

    @property
    def recovered(self) -> bool:
        """True when the rate came back to baseline inside the window."""
        return self.recovery is not None

    @property
    def duration(self) -> float:
        """Seconds from start to recovery (or to the end of the data); 0 if never above."""
        if self.start is None:
            return 0.0
        return max((self.recovery or self.data_end) - self.start, 0.0)

    @property
    def minutes_above(self) -> int:
        """Minutes with more events than the threshold."""
        return sum(1 for m in self.minutes if m.events > self.threshold)


def course_of(issues: list[Issue], report: Report, quiet_minutes: int = QUIET_MINUTES) -> Course:
    """The course of one issue, or of several together (an incident), in `report`."""
    chosen = [p for issue in issues for p in issue.patterns]
    by_requests = report.totals.requests is not None
    minutes = _minutes(chosen, requests_of(issues), report, by_requests)
    baseline = report.baseline
    baseline_events = sum(p.baseline_count for p in chosen)
    rate = baseline_events / baseline.minutes if baseline is not None else 0.0
    threshold = math.ceil(rate - 1e-9)
    first_seen = min((p.first_seen for p in chosen if p.count), default=None)
    start = _start(minutes, threshold, first_seen)
    touches_requests = by_requests and any(issue.requests for issue in issues)
    peak = _peak(minutes, touches_requests) if start is not None else None
    recovery = _recovery(minutes, peak, threshold, quiet_minutes) if peak is not None else None
    data_end = min(report.window.end, report.totals.last_seen or report.window.end)
    return Course(minutes, rate, threshold, start, peak, recovery, data_end)


def _span(report: Report, active: dict[int, int]) -> list[int]:
    """The minute numbers from the first to the last event of the window that issue timelines
    list, `active` being the issue's minutes with events."""
    return series_minutes(event_span(report.totals, report.window), active)


def _minutes(
    patterns: list[Pattern], requests: RequestSet, report: Report, by_requests: bool
) -> list[Minute]:
    events: dict[int, int] = {}
    for pattern in patterns:
        for minute, n in pattern.per_minute.items():
            events[minute] = events.get(minute, 0) + n
    if by_requests:
        affected = _first_minutes(patterns, requests)
        totals = report.totals.requests_per_minute
    else:
        affected, totals = events, _all_events(report)
    return [
        Minute(m * 60, events.get(m, 0), affected.get(m, 0), totals.get(m, 0))
        for m in _span(report, events)
    ]


def _first_minutes(patterns: list[Pattern], requests: RequestSet) -> dict[int, int]:
    """The `requests` per minute of their first event among `patterns`."""
    first = RequestMap.earliest([p.requests.only(requests) for p in patterns])
    minutes, counts = np.unique(np.floor_divide(first.times, 60), return_counts=True)
    return dict(zip(minutes.astype(np.int64).tolist(), counts.tolist(), strict=True))


def _all_events(report: Report) -> dict[int, int]:
    counts: dict[int, int] = {}
    for pattern in report.patterns:
        for minute, n in pattern.per_minute.items():
            counts[minute] = counts.get(minute, 0) + n
    return counts


def _start(minutes: list[Minute], threshold: int, first_seen: float | None) -> float | None:
    above = next((m for m in minutes if m.events > threshold), None)
    if above is None:
        return None
    if first_seen is not None and int(first_seen // 60) * 60 == above.at:
        return first_seen
    return float(above.at)


def _peak(minutes: list[Minute], by_share: bool) -> Minute | None:
    if not minutes:
        return None
    if by_share:
        return max(minutes, key=lambda m: (m.share, m.affected, -m.at))
    return max(minutes, key=lambda m: (m.events, -m.at))


def _recovery(
    minutes: list[Minute], peak: Minute, threshold: int, quiet_minutes: int
) -> float | None:
    quiet = 0
    previous = peak.at
    for minute in minutes:
        if minute.at <= peak.at:
            continue
        # Minutes left out of a long span have no events: they are quiet.
        unlisted = (minute.at - previous) // 60 - 1
        if unlisted > 0:
            if quiet + unlisted >= quiet_minutes:
                return float(previous + 60 - quiet * 60)
            quiet += unlisted
        previous = minute.at
        quiet = quiet + 1 if minute.events <= threshold else 0
        if quiet == quiet_minutes:
            return float(minute.at - (quiet_minutes - 1) * 60)
    return None
