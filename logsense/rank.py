"""Ranking: impact (share of requests), novelty, change against the baseline, and severity.

The list answers "what went wrong in this window", so issues that **changed** come first: new or
rising beyond chance, work that stopped, requests that slowed (`Issue.changed`, the test of
`analyze/change.py`), failures before warnings. Then the rest: new ones too small to tell from
chance, and chronic ones (already in the baseline at their usual rate).

Inside each part, issues that break requests (warn-or-worse events, stopped work or slowed steps
inside requests) come first, so a loud error that touches no request never outranks one that
breaks checkouts. Among the changes, failures come before warnings, then the stronger change
(orders of magnitude of its p-value). The rest did not change beyond chance, so their p-values
order nothing: a step there (say at p = 0.1) would move an issue past others of larger impact on
a shift of a few requests, such as a pushdown's estimated totals make. Then severity; failures
before warnings of the same severity; share of requests; events. `share_of_requests` is the
impact and keeps its meaning throughout.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

from logsense.analyze.change import Change, issue_change
from logsense.analyze.group import Group
from logsense.config import ChangeConfig, SeverityConfig
from logsense.mine.masking import kept_statuses
from logsense.mine.registry import Known
from logsense.model import (
    SEVERITIES,
    Issue,
    Pattern,
    Sampling,
    Severity,
    Status,
    Totals,
    Window,
    level_rank,
)

__all__ = [
    "event_span",
    "fails_requests",
    "impact_of",
    "is_client_error",
    "rank",
    "series_minutes",
    "severity_of",
]

_SEVERITY_RANK = {name: rank for rank, name in enumerate(reversed(SEVERITIES))}
_ERROR = level_rank("error")
_MAX_EVIDENCE = 12
# Per-minute series list every minute of a span up to a day long; longer spans list only the
# minutes with events and the zero minutes around them (see `series_minutes`).
DENSE_MINUTES = 1440


def issue_id(group: Group) -> str:
    """Named after the root-cause pattern, so the same root gives the same id in every run."""
    return hashlib.blake2b(group.root.id.encode(), digest_size=5).hexdigest()


def impact_of(group: Group, totals: Totals, window: Window) -> Issue:
    """The Issue for `group`: events, requests and users affected, share, first/last seen."""
    patterns = group.patterns
    users: set[str] = set()
    for pattern in patterns:
        users |= pattern.users
    against = totals.within(patterns)
    sampling = against.sampling if against is not totals else None
    events = _events(patterns, sampling)
    if totals.requests:
        basis = "requests"
        requests = group.requests if sampling is None else group.requests & sampling.members
        affected: int | None = len(requests) if group.estimate is None else max(group.estimate, 0)
        share = min((affected or 0) / (against.requests or totals.requests), 1.0)
        if sampling is not None:
            affected = round(share * totals.requests)
    else:
        basis, affected = "events", None
        share = min(events / totals.events, 1.0) if totals.events else 0.0
    issue = Issue(
        id=issue_id(group),
        patterns=sorted(patterns, key=lambda p: (p is not group.root, -p.count)),
        root=group.root,
        root_why=group.why,
        events=events,
        requests_affected=affected,
        share_of_requests=share,
        users_affected=len(users) if totals.users and sampling is None else None,
        first_seen=_began(group, window),
        last_seen=max(max(p.last_seen for p in patterns), _began(group, window)),
        impact_basis=basis,  # type: ignore[arg-type]
        requests=group.requests,
        kind=group.kind,
        evidence=list(group.evidence),
        impact_estimated=group.estimate is not None or sampling is not None,
        stopped=list(group.stopped),
        slowed=list(group.slowed),
    )
    issue.timeline = _timeline(group, event_span(totals, window))
    return issue


def _events(patterns: list[Pattern], sampling: Sampling | None) -> int:
    """The patterns' events in the window; those read only inside a sample are scaled up by
    its rate (an estimate)."""
    if sampling is None:
        return sum(p.count for p in patterns)
    sampled = sum(p.count for p in patterns if p.id in sampling.patterns)
    full = sum(p.count for p in patterns if p.id not in sampling.patterns)
    return full + round(sampled / sampling.rate)


def _began(group: Group, window: Window) -> float:
    """When the issue began: its first event; for work that stopped, the last time it was seen
    (in the window or, failing that, the baseline), never before the window."""
    if group.kind != "stopped":
        return min(p.first_seen for p in group.patterns)
    seen = [window.start]
    for pattern in (s.pattern for s in group.stopped):
        if pattern.last_seen != float("-inf"):
            seen.append(pattern.last_seen)
        if pattern.baseline_requests:
            seen.append(float(pattern.baseline_requests.times.max()))
    return max(seen)


def event_span(totals: Totals, window: Window) -> Window:
    """The part of the window that has events: a 30-day window over 2 hours of logs charts 2h."""
    start = max(window.start, totals.first_seen if totals.first_seen is not None else window.start)
    end = min(window.end, totals.last_seen + 0.001 if totals.last_seen is not None else window.end)
    return Window(start, max(end, start + 0.001))


def series_minutes(span: Window, active: Iterable[int]) -> list[int]:
    """The minute numbers a per-minute series of `span` lists, in order.

    Every minute when the span is at most `DENSE_MINUTES` long. Beyond that, nothing may grow
    with empty time (one event a year after the rest must not make a year of minutes): the
    span's first and last minute, each `active` minute inside it, and the minute on each side
    of one, so a chart still falls to zero between bursts. A minute not listed has no events.
    """
    first, last = int(span.start // 60), int((span.end - 0.001) // 60)
    if last - first < DENSE_MINUTES:
        return list(range(first, last + 1))
    listed = {first, last}
    for minute in active:
        if first <= minute <= last:
            listed.update((minute - 1, minute, minute + 1))
    return sorted(m for m in listed if first <= m <= last)


def _timeline(group: Group, span: Window) -> list[tuple[int, int]]:
    """Events per minute over the span of the window's events, zeros included (for a span
    longer than a day, only around minutes with events: `series_minutes`)."""
    counts: dict[int, int] = {}
    for pattern in group.patterns:
        for minute, n in pattern.per_minute.items():
            counts[minute] = counts.get(minute, 0) + n
    return [(minute * 60, counts.get(minute, 0)) for minute in series_minutes(span, counts)]


def severity_of(issue: Issue, config: SeverityConfig) -> Severity:
    """Severity from the share of requests, capped by level and raised one step when new
    (client errors excepted: a handful of new 409s is how clients behave, not a problem)."""
    share = issue.share_of_requests or 0.0
    # Stopped work and slowed steps are failures of requests whatever their lines' level.
    worst = 3 if issue.kind != "events" else max(level_rank(p.level) for p in issue.patterns)
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
    fresh = issue.status == "new" and not is_client_error(issue)
    if touches_requests and fresh and base in ("low", "medium") and share > 0:
        base = "medium" if base == "low" else "high"
    if worst == 4 and base in ("low", "medium"):
        base = "high"
    cap: Severity = "critical" if worst >= 3 else ("high" if worst == 2 else "low")
    return base if _SEVERITY_RANK[base] <= _SEVERITY_RANK[cap] else cap


def is_client_error(issue: Issue) -> bool:
    """True when every pattern of the issue reports a client error: an HTTP 4xx status and no
    5xx (a refused request is an answer, not a failure of the service)."""
    statuses = [kept_statuses(p.template) for p in issue.patterns]
    return all(
        any(code.startswith("4") for code in codes) and not any(c.startswith("5") for c in codes)
        for codes in statuses
    )


def fails_requests(issue: Issue) -> bool:
    """True when requests failed in the issue: errors inside requests that are not client
    errors, or work that stopped, or steps that slowed."""
    if issue.kind != "events":
        return True
    failing = any(p.requests and level_rank(p.level) >= _ERROR for p in issue.patterns)
    return failing and not is_client_error(issue)


def rank(
    groups: list[Group],
    totals: Totals,
    window: Window,
    baseline: Window | None,
    novelty_known: bool,
    config: SeverityConfig,
    known: dict[str, Known] | None = None,
    changes: dict[str, Change] | None = None,
    change_config: ChangeConfig | None = None,
) -> list[Issue]:
    """Issues for `groups`, with status, change, rate change and severity, best first, ranks
    from 1.

    `known` holds the registry's earlier sightings of patterns, which tell regressions apart.
    `changes` are the patterns' changes against the baseline (by id), `change_config` the test's
    settings; without them no issue counts as changed.
    """
    changes = changes or {}
    issues = [impact_of(group, totals, window) for group in groups]
    for group, issue in zip(groups, issues, strict=True):
        issue.change = (
            group.change
            if group.kind != "events"
            else issue_change(
                group.core or [group.root], changes.get(group.root.id), totals,
                change_config or ChangeConfig(),
            )
        )  # fmt: skip
    for issue in issues:
        baseline_events = sum(p.baseline_count for p in issue.patterns)
        issue.status = _status(issue.patterns, window, baseline, novelty_known, known or {})
        if baseline is not None and novelty_known:
            issue.baseline_rate = round(baseline_events / baseline.minutes, 3)
        if baseline is not None and baseline_events:
            now = issue.events / window.minutes
            before = baseline_events / baseline.minutes
            issue.rate_change = round(now / before, 3)
        issue.severity = severity_of(issue, config)
    issues.sort(key=_order)
    for position, issue in enumerate(issues, start=1):
        issue.rank = position
        # The default view folds what neither changed nor makes requests fail.
        issue.shown = issue.changed or fails_requests(issue)
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


def _evidence_of_worsening(issue: Issue) -> int:
    """How strongly a changed issue worsened, in orders of magnitude of its test's p-value (0
    when it moved the other way, or is only info lines), so that changes of similar evidence
    are ordered by impact."""
    change = issue.change
    if change is None or (issue.kind == "events" and _worst_level(issue) < level_rank("warn")):
        return 0
    worse = change.excess < 0 if issue.kind == "stopped" else change.excess > 0
    if not worse:
        return 0
    if change.p_value <= 0:
        return _MAX_EVIDENCE
    return min(int(-math.log10(change.p_value)), _MAX_EVIDENCE)


def _worst_level(issue: Issue) -> int:
    return min(max(level_rank(p.level) for p in issue.patterns), _ERROR)


def _tier(issue: Issue) -> int:
    """0 changed, 1 the rest (see the module's docstring)."""
    return 0 if issue.changed else 1


def _order(issue: Issue) -> tuple[int, bool, int, int, int, int, float, int, str]:
    tier = _tier(issue)
    failure = _ERROR if issue.kind != "events" else _worst_level(issue)
    return (
        tier,
        # A loud error that touches no request never outranks one that breaks requests, even
        # when its rate changed more surely (thousands of events make a few percent certain).
        not issue.breaks_requests,
        # Among changes, failures (errors, stopped work, slowed steps) before warnings.
        -failure if tier == 0 else 0,
        -_evidence_of_worsening(issue) if tier == 0 else 0,
        -_SEVERITY_RANK[issue.severity],
        -failure,
        -(issue.share_of_requests or 0.0),
        -issue.events,
        issue.id,
    )
