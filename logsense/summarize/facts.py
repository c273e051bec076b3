"""Facts: what logsense computed about an issue, or a whole report, as a model will read it.

A `Facts` is two views of the same numbers: `table`, the JSON-able table sent to the model (text
redacted, numbers formatted the way they may be written: `71.0%`, `13:16 UTC`, `44 min`), and
`evidence`, what the guard lets the model's text say. Both are built here, side by side, so
every number logsense computed that the model is shown is one the guard accepts. Log text
(templates, samples, the lines of change events) is shown to the model but is never evidence:
anyone can write a log line, so a number in one proves nothing (see `guard.py`).

Change events are info patterns new in the window whose template reads like a deploy, restart,
rollback, config reload or scaling, first seen from 10 minutes before the issue's first event
to 1 minute after it (clocks of different services drift). Templates that name the change
(deploy, version, rollback, config, scaling …) come before mere process starts and stops; then
the closest first. One per service, at most three.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from logsense.analyze.rollouts import Rollout, is_change, names_change
from logsense.model import Issue, Pattern, Report, Totals, Window
from logsense.summarize.guard import Evidence
from logsense.summarize.redact import redact

__all__ = [
    "ChangeEvent",
    "Facts",
    "change_events",
    "issue_facts",
    "report_facts",
]

_CHANGE_BEFORE = 600.0
_CHANGE_AFTER = 60.0
_MAX_CHANGES = 3
_MAX_TEMPLATES = 6
_MAX_SAMPLES = 3
_SAMPLE_CHARS = 300
_TEMPLATE_CHARS = 240
_MAX_OVERVIEW_ISSUES = 8
_INTEGER = re.compile(r"(?<![\d.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?![\d%]|[.,]\d)")


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """A change (deploy, restart, …) shortly before an issue: an info pattern that reads like
    one, or one the events' versions and hosts show (`logged` False; `template` is then the
    computed words, and `versions` the versions it names, facts)."""

    service: str
    template: str
    example: str
    at: float
    minutes_before: int
    logged: bool = True
    versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Facts:
    """The facts table a model reads and the evidence its answer is checked against."""

    table: dict[str, Any]
    evidence: Evidence

    def digest(self) -> str:
        """A short hash of the table: equal facts, equal digest (the cache key's core)."""
        blob = orjson.dumps(self.table, option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(blob).hexdigest()[:24]


def change_events(
    patterns: Iterable[Pattern], issue: Issue, changes: Sequence[Rollout] = ()
) -> list[ChangeEvent]:
    """Deploy/restart/config-like info patterns new in the window, and the report's `changes`
    that the events' versions and hosts show (with the words of the line that told them, if
    one did), just before `issue` began; one per service."""
    own = {p.id for p in issue.patterns}
    shown = [c for c in changes if c.source != "lines" and _just_before(c.at, issue)]
    told = {p.id for c in shown for p in c.patterns}
    found = [
        ChangeEvent(
            p.service,
            p.template,
            p.samples[0].message if p.samples else p.template,
            p.first_seen,
            round((issue.first_seen - p.first_seen) / 60),
        )
        for p in patterns
        if p.id not in own | told and _just_before(p.first_seen, issue) and is_change(p)
    ]
    for c in shown:
        if not own & {p.id for p in c.patterns}:
            minutes = round((issue.first_seen - c.at) / 60)
            found.append(ChangeEvent(c.service, c.text, c.text, c.at, minutes, False, c.versions))
    found.sort(key=lambda c: (not names_change(c.template), abs(issue.first_seen - c.at)))
    one_per_service = {c.service: c for c in reversed(found)}
    return sorted(one_per_service.values(), key=found.index)[:_MAX_CHANGES]


def _just_before(at: float, issue: Issue) -> bool:
    return issue.first_seen - _CHANGE_BEFORE <= at <= issue.first_seen + _CHANGE_AFTER


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M UTC")


def _minutes(seconds: float) -> int:
    return round(seconds / 60)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Builder:
    """Adds each fact to the table and to the evidence at once."""

    def __init__(self, ips: bool) -> None:
        self.ips = ips
        self.evidence = Evidence()

    def log_text(self, text: str, limit: int) -> str:
        """A sample or a change event's line: shown, redacted, never evidence."""
        return _cut(redact(text, ips=self.ips), limit)

    def template(self, template: str) -> str:
        """A template: shown, redacted; the model may quote it whole and name its statuses."""
        clean = self.log_text(template, _TEMPLATE_CHARS)
        self.evidence.add_template(clean)
        return clean

    def computed_text(self, text: str) -> str:
        """A sentence logsense wrote from computed numbers (why a root cause was chosen)."""
        for share in re.findall(r"(\d+(?:\.\d+)?)%", text):
            self.evidence.shares.add(float(share) / 100)
        self.evidence.counts |= {int(n.replace(",", "")) for n in _INTEGER.findall(text)}
        return self.log_text(text, _TEMPLATE_CHARS)

    def count(self, value: int | None) -> int | None:
        if value is not None:
            self.evidence.counts.add(value)
        return value

    def share(self, part: int | None, whole: int | None) -> str | None:
        if part is None or not whole:
            return None
        shown = f"{part / whole:.1%}"
        # The model may round what it was shown (18.5% → 19%), not only the exact share.
        self.evidence.shares |= {part / whole, float(shown[:-1]) / 100}
        return shown

    def time(self, ts: float) -> str:
        self.evidence.add_time(ts)
        return _clock(ts)

    def duration(self, seconds: float) -> str:
        self.evidence.durations.add(seconds / 60)
        return f"{_minutes(seconds)} min"


def _window_table(b: _Builder, window: Window) -> dict[str, Any]:
    return {
        "start": b.time(window.start),
        "end": b.time(window.end),
        "date": datetime.fromtimestamp(window.start, UTC).strftime("%Y-%m-%d"),
        "length": b.duration(window.end - window.start),
    }


def issue_facts(
    issue: Issue, report: Report, patterns: Iterable[Pattern], *, redact_ips: bool = True
) -> Facts:
    """The facts of `issue` within `report`; `patterns` are all mined patterns (for changes)."""
    b = _Builder(redact_ips)
    totals = report.totals
    table: dict[str, Any] = {
        "rank": b.count(issue.rank),
        "severity": issue.severity,
        "status": issue.status,
        "window": _window_table(b, report.window),
        "root_cause": {
            "service": issue.root.service,
            "level": issue.root.level,
            "template": b.template(issue.root.template),
            "why": b.computed_text(issue.root_why),
        },
        "services": issue.services,
        "service_count": b.count(len(issue.services)),
        **_impact(b, issue, totals),
        **_timing(b, issue, report.window),
        "templates": [_template(b, p) for p in issue.patterns[:_MAX_TEMPLATES]],
        "template_count": b.count(len(issue.patterns)),
        "changes_before_start": [
            _change(b, c) for c in change_events(patterns, issue, report.changes)
        ],
        "samples": _samples(b, issue),
        "known_services": totals.services,
    }
    b.evidence.services |= {s.lower() for s in (*totals.services, *issue.services)}
    return Facts(table, b.evidence)


def _impact(b: _Builder, issue: Issue, totals: Totals) -> dict[str, Any]:
    impact: dict[str, Any] = {
        "events": b.count(issue.events),
        "events_in_window": b.count(totals.events),
        "share_of_events": b.share(issue.events, totals.events),
    }
    if issue.impact_basis == "requests":
        impact |= {
            "requests_affected": b.count(issue.requests_affected),
            "requests_in_window": b.count(totals.requests),
            "share_of_requests": b.share(issue.requests_affected, totals.requests),
        }
    else:
        impact["note"] = "no request ids in these logs: request counts are unknown"
    if issue.users_affected is not None:
        impact |= {
            "users_affected": b.count(issue.users_affected),
            "users_in_window": b.count(totals.users),
            "share_of_users": b.share(issue.users_affected, totals.users),
        }
    return impact


def _timing(b: _Builder, issue: Issue, window: Window) -> dict[str, Any]:
    peak_minute, peak = max(issue.timeline, key=lambda mc: mc[1], default=(issue.first_seen, 0))
    return {
        "first_seen": b.time(issue.first_seen),
        "last_seen": b.time(issue.last_seen),
        "duration": b.duration(issue.last_seen - issue.first_seen),
        "since_first_seen": b.duration(window.end - issue.first_seen),
        "peak": {"minute": b.time(peak_minute), "events": b.count(peak)},
        "rate_vs_baseline": _ratio(b, issue.rate_change),
    }


def _ratio(b: _Builder, rate: float | None) -> str | None:
    if rate is None:
        return None
    shown = f"{rate:.1f}"
    b.evidence.ratios |= {rate, float(shown)}
    return f"×{shown}"


def _samples(b: _Builder, issue: Issue) -> list[str]:
    """Up to three distinct raw messages, the root cause's first, redacted."""
    distinct = dict.fromkeys(s.message for p in issue.patterns[:3] for s in p.samples[:3])
    return [b.log_text(message, _SAMPLE_CHARS) for message in list(distinct)[:_MAX_SAMPLES]]


def _template(b: _Builder, pattern: Pattern) -> dict[str, Any]:
    return {
        "service": pattern.service,
        "level": pattern.level,
        "events": b.count(pattern.count),
        "template": b.template(pattern.template),
    }


def _change(b: _Builder, change: ChangeEvent) -> dict[str, Any]:
    b.evidence.durations.add(float(change.minutes_before))
    b.evidence.versions.update(change.versions)
    return {
        "service": change.service,
        "at": b.time(change.at),
        "minutes_before_start": change.minutes_before,
        "template": b.template(change.template),
        "example": b.log_text(change.example, _SAMPLE_CHARS),
    }


def report_facts(report: Report, issues: list[Facts]) -> Facts:
    """Facts of the whole report: window, totals and the issues' own facts (for the overview)."""
    b = _Builder(ips=True)
    totals = report.totals
    severities = [i.severity for i in report.issues]
    table: dict[str, Any] = {
        "window": _window_table(b, report.window),
        "events": b.count(totals.events),
        "requests": b.count(totals.requests),
        "users": b.count(totals.users),
        "services": totals.services,
        "service_count": b.count(len(totals.services)),
        "issue_count": b.count(len(report.issues)),
        "issues_by_severity": {s: b.count(severities.count(s)) for s in dict.fromkeys(severities)},
        "issues": [_brief(f.table) for f in issues[:_MAX_OVERVIEW_ISSUES]],
    }
    for facts in issues[:_MAX_OVERVIEW_ISSUES]:
        b.evidence.merge(facts.evidence)
    b.evidence.services |= {s.lower() for s in totals.services}
    return Facts(table, b.evidence)


_BRIEF_KEYS = (
    "rank", "severity", "status", "root_cause", "services", "events", "requests_affected",
    "share_of_requests", "users_affected", "share_of_users", "first_seen", "last_seen", "peak",
    "rate_vs_baseline", "changes_before_start",
)  # fmt: skip


def _brief(table: dict[str, Any]) -> dict[str, Any]:
    return {key: table[key] for key in _BRIEF_KEYS if table.get(key) is not None}
