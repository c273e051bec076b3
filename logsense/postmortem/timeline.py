"""The postmortem timeline: change events, and each issue's first error, peak and recovery.

Change events are the patterns `facts.is_change` accepts (info, new in the window, reading like a
deploy, restart, config reload or scaling). A rolling deploy logs many of them (deploying,
starting, listening, shutting down, on every pod), so the changes of one service within five
minutes are one entry: the first that names the change (deploy, version …), else the first. A
rollback always gets its own entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from logsense.model import Issue, Pattern, short_template
from logsense.postmortem.course import Course, Minute
from logsense.summarize.facts import is_change, names_change

__all__ = [
    "EntryKind",
    "TimelineEntry",
    "change_entry",
    "change_patterns",
    "clock",
    "entry_order",
    "issue_entries",
    "plural",
    "span",
]

EntryKind = Literal["change", "first_error", "peak", "recovery"]
_BURST = 300.0
_ROLLBACK = re.compile(r"\broll(?:ed|ing)?[ -]?back|\brevert", re.I)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One moment of the incident; `issue_id` is None for change events."""

    at: float
    kind: EntryKind
    text: str
    issue_id: str | None = None


_KIND_ORDER = {"change": 0, "first_error": 1, "peak": 2, "recovery": 3}


def entry_order(entry: TimelineEntry) -> tuple[float, int]:
    """Sort key: by time, then change, first error, peak, recovery."""
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


def change_patterns(patterns: Iterable[Pattern]) -> list[Pattern]:
    """The change events worth a timeline entry, one per burst of a service, oldest first."""
    bursts: dict[str, list[list[Pattern]]] = {}
    for pattern in sorted((p for p in patterns if is_change(p)), key=lambda p: p.first_seen):
        runs = bursts.setdefault(pattern.service, [])
        if (
            runs
            and pattern.first_seen - runs[-1][0].first_seen <= _BURST
            and not _ROLLBACK.search(pattern.template)
        ):
            runs[-1].append(pattern)
        else:
            runs.append([pattern])
    chosen = [_telling(run) for runs in bursts.values() for run in runs]
    return sorted(chosen, key=lambda p: (p.first_seen, p.service))


def _telling(run: list[Pattern]) -> Pattern:
    """The pattern that tells a burst best: the first naming the change, else the first."""
    return next((p for p in run if names_change(p.template)), run[0])


def change_entry(pattern: Pattern) -> TimelineEntry:
    """A change event, told by its first sample (redacted) or its template."""
    text = pattern.samples[0].message.splitlines()[0] if pattern.samples else pattern.template
    return TimelineEntry(pattern.first_seen, "change", f"{pattern.service}: {text}")


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
