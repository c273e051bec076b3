"""Ranking: impact (share of requests), novelty, rate change and severity of each issue.

Order: issues that break requests (warn-or-worse events inside requests) come before everything
else, so a loud error that touches no request never outranks one that breaks checkouts; then
severity; then failures before warnings of the same severity (requests that failed before requests
that were slow or retried); then share of requests, events.
"""

from __future__ import annotations

import hashlib

from logsense.analyze.group import Group
from logsense.config import SeverityConfig
from logsense.mine.registry import Known
from logsense.model import Issue, Pattern, Severity, Status, Totals, Window, level_rank

__all__ = ["SEVERITIES", "event_span", "impact_of", "rank", "severity_of"]

SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
_SEVERITY_RANK = {name: rank for rank, name in enumerate(reversed(SEVERITIES))}
_ERROR = level_rank("error")


def issue_id(group: Group) -> str:
    """Named after the root-cause pattern, so the same root gives the same id in every run."""
    return hashlib.blake2b(group.root.id.encode(), digest_size=5).hexdigest()


def impact_of(group: Group, totals: Totals, window: Window) -> Issue:
    """The Issue for `group`: events, requests and users affected, share, first/last seen."""
    patterns = group.patterns
    users: set[str] = set()
    for pattern in patterns:
        users |= pattern.users
    events = sum(p.count for p in patterns)
    if totals.requests:
        basis = "requests"
        affected: int | None = len(group.requests)
        share = len(group.requests) / totals.requests
    else:
        basis, affected = "events", None
        share = events / totals.events if totals.events else 0.0
    issue = Issue(
        id=issue_id(group),
        patterns=sorted(patterns, key=lambda p: (p is not group.root, -p.count)),
        root=group.root,
        root_why=group.why,
        events=events,
        requests_affected=affected,
        share_of_requests=share,
        users_affected=len(users) if totals.users else None,
        first_seen=min(p.first_seen for p in patterns),
        last_seen=max(p.last_seen for p in patterns),
        impact_basis=basis,  # type: ignore[arg-type]
        requests=group.requests,
    )
    issue.timeline = _timeline(group, event_span(totals, window))
    return issue


def event_span(totals: Totals, window: Window) -> Window:
    """The part of the window that has events: a 30-day window over 2 hours of logs charts 2h."""
    start = max(window.start, totals.first_seen if totals.first_seen is not None else window.start)
    end = min(window.end, totals.last_seen + 0.001 if totals.last_seen is not None else window.end)
    return Window(start, max(end, start + 0.001))


def _timeline(group: Group, span: Window) -> list[tuple[int, int]]:
    """Events per minute over the span of the window's events, zeros included."""
    counts: dict[int, int] = {}
    for pattern in group.patterns:
        for minute, n in pattern.per_minute.items():
            counts[minute] = counts.get(minute, 0) + n
    first, last = int(span.start // 60), int((span.end - 0.001) // 60)
    return [(minute * 60, counts.get(minute, 0)) for minute in range(first, last + 1)]


def severity_of(issue: Issue, config: SeverityConfig) -> Severity:
    """Severity from the share of requests, capped by level and raised one step when new."""
    share = issue.share_of_requests or 0.0
    worst = max(level_rank(p.level) for p in issue.patterns)
    touches_requests = issue.breaks_requests or issue.impact_basis == "events"
    if not touches_requests:
        base: Severity = "medium" if worst >= 3 else "low"
    elif share >= config.critical_share:
        base = "critical"
    elif share >= config.high_share:
        base = "high"
    elif share >= config.medium_share:
        base = "medium"
    else:
        base = "low"
    if touches_requests and issue.status == "new" and base in ("low", "medium") and share > 0:
        base = "medium" if base == "low" else "high"
    if worst == 4 and base in ("low", "medium"):
        base = "high"
    cap: Severity = "critical" if worst >= 3 else ("high" if worst == 2 else "low")
    return base if _SEVERITY_RANK[base] <= _SEVERITY_RANK[cap] else cap


def rank(
    groups: list[Group],
    totals: Totals,
    window: Window,
    baseline: Window | None,
    novelty_known: bool,
    config: SeverityConfig,
    known: dict[str, Known] | None = None,
) -> list[Issue]:
    """Issues for `groups`, with status, rate change and severity, best first, ranks from 1.

    `known` holds the registry's earlier sightings of patterns, which tell regressions apart.
    """
    issues = [impact_of(group, totals, window) for group in groups]
    for issue in issues:
        baseline_events = sum(p.baseline_count for p in issue.patterns)
        issue.status = _status(issue.patterns, window, baseline, novelty_known, known or {})
        if baseline is not None and baseline_events:
            now = issue.events / window.minutes
            before = baseline_events / baseline.minutes
            issue.rate_change = round(now / before, 3)
        issue.severity = severity_of(issue, config)
    issues.sort(key=_order)
    for position, issue in enumerate(issues, start=1):
        issue.rank = position
    return issues


def pattern_status(
    pattern: Pattern,
    window: Window,
    baseline: Window | None,
    novelty_known: bool,
    known: dict[str, Known],
) -> Status:
    """ongoing (in the baseline too), regressed (seen before the baseline, gone, back) or new.

    Without a covered baseline or an earlier sighting, novelty is unknown and "ongoing" is said.
    """
    if pattern.baseline_count:
        return "ongoing"
    before = known.get(pattern.id)
    if before is not None and before.first_seen < (baseline or window).start:
        return "regressed"
    return "new" if novelty_known else "ongoing"


def _status(
    patterns: list[Pattern],
    window: Window,
    baseline: Window | None,
    novelty_known: bool,
    known: dict[str, Known],
) -> Status:
    statuses = {pattern_status(p, window, baseline, novelty_known, known) for p in patterns}
    for status in ("ongoing", "regressed"):
        if status in statuses:
            return status
    return "new"


def _order(issue: Issue) -> tuple[bool, int, int, float, int, str]:
    return (
        not issue.breaks_requests,
        -_SEVERITY_RANK[issue.severity],
        -min(max(level_rank(p.level) for p in issue.patterns), _ERROR),
        -(issue.share_of_requests or 0.0),
        -issue.events,
        issue.id,
    )
