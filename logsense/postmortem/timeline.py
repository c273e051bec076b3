"""The postmortem timeline: change events, early warnings, and each issue's first error, peak
and recovery.

Change events are the report's changes (`analyze/rollouts.py`: deploys, rollbacks, restarts,
config reloads and scaling found in the logs, a rolling deploy's burst as one). Early warnings
are the report's leading indicators (`analyze/indicators.py`) that precede one of the
postmortem's issues: when the number became visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from logsense.analyze.rollouts import Rollout
from logsense.model import Issue, LeadingIndicator, short_template
from logsense.postmortem.course import Course, Minute

__all__ = [
    "EntryKind",
    "TimelineEntry",
    "change_entry",
    "clock",
    "entry_order",
    "indicator_entry",
    "issue_entries",
    "plural",
    "span",
]

EntryKind = Literal["change", "early_warning", "first_error", "peak", "recovery"]


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One moment of the incident; `issue_id` is None for change events."""

    at: float
    kind: EntryKind
    text: str
    issue_id: str | None = None


_KIND_ORDER = {"change": 0, "early_warning": 1, "first_error": 2, "peak": 3, "recovery": 4}


def entry_order(entry: TimelineEntry) -> tuple[float, int]:
    """Sort key: by time, then change, early warning, first error, peak, recovery."""
    return entry.at, _KIND_ORDER[entry.kind]


def plural(n: int, word: str) -> str:
    """`1 event`, `2 events`."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def clock(ts: float, seconds: bool = True) -> str:
    """`HH:MM:SS` in UTC (`HH:MM` for a minute)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S" if seconds else "%H:%M")


def span(seconds: float) -> str:
    """A short duration: `18 s`, `9 min`."""
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.0f} min"


def change_entry(change: Rollout) -> TimelineEntry:
    """A change event, told by the line that tells it best."""
    return TimelineEntry(change.at, "change", f"{change.service}: {change.text}")


def indicator_entry(indicator: LeadingIndicator) -> TimelineEntry:
    """A leading indicator, at the minute it became visible, for the issue it precedes."""
    return TimelineEntry(
        indicator.visible_from, "early_warning", f"{indicator.service}: {indicator.text}",
        indicator.precedes,
    )  # fmt: skip


def issue_entries(issue: Issue, course: Course, quiet_minutes: int) -> list[TimelineEntry]:
    """The first error, peak and recovery of `issue` (those it has)."""
    name = f"#{issue.rank} {issue.root.service}"
    entries = [
        TimelineEntry(
            issue.first_seen,
            "first_error",
            f"{name}: first “{short_template(issue.root.template, 100)}” ({issue.root.level})",
            issue.id,
        )
    ]
    peak = course.peak
    if peak is not None:
        # The peak is a whole minute; within it the issue exists only from its first event.
        at = max(float(peak.at), issue.first_seen)
        entries.append(TimelineEntry(at, "peak", _peak_text(name, issue, peak), issue.id))
    if course.recovery is not None:
        rate = f"≤ {course.threshold} events/min" if course.threshold else "no events"
        text = f"{name}: back to its baseline rate ({rate} for {quiet_minutes} min)"
        entries.append(TimelineEntry(course.recovery, "recovery", text, issue.id))
    return entries


def _peak_text(name: str, issue: Issue, peak: Minute) -> str:
    if issue.impact_basis == "requests" and peak.affected:
        return (
            f"{name}: peak, {peak.share:.1%} of the minute's requests affected "
            f"({peak.affected:,} of {peak.requests:,}), {plural(peak.events, 'event')}"
        )
    return f"{name}: peak, {plural(peak.events, 'event')} in the minute"
