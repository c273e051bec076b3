"""Summaries: the words for each issue and the report headline, written from computed facts.

This module holds the rules-based writer; the headline is always written here, from facts, never
by a model.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from logsense.model import Issue, Summary, Totals
from logsense.rank import SEVERITIES

__all__ = ["headline", "rules_summary", "short_template"]

_TITLE_CHARS = 90


def short_template(template: str, limit: int = _TITLE_CHARS) -> str:
    """The template cut to `limit` characters at a word boundary, with an ellipsis if cut."""
    if len(template) <= limit:
        return template
    return template[: limit - 1].rsplit(" ", 1)[0] + "…"


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M")


def _share_phrase(issue: Issue, totals: Totals) -> str:
    share = issue.share_of_requests or 0.0
    if issue.impact_basis == "events":
        return f"{share:.1%} of all events (no request ids to measure requests)"
    if not issue.requests_affected:
        return "no request affected"
    users = f", {issue.users_affected:,} users" if issue.users_affected else ""
    return f"{share:.1%} of requests ({issue.requests_affected:,} of {totals.requests:,}{users})"


def rules_summary(issue: Issue, totals: Totals) -> Summary:
    """Title and text for `issue` from its facts alone."""
    root = issue.root
    title = f"{root.service}: {short_template(root.template)}"
    peak_minute, peak = max(issue.timeline, key=lambda mc: mc[1], default=(0, 0))
    parts = [
        f"{root.service} logs “{short_template(root.template, 140)}” ({root.level}); "
        f"{_share_phrase(issue, totals)} since {_clock(issue.first_seen)} UTC, "
        f"{issue.events:,} events, peak {peak:,}/min at {_clock(peak_minute)}."
    ]
    symptoms = [p for p in issue.patterns if p is not root][:3]
    if symptoms:
        seen = "; ".join(f"{p.service} “{short_template(p.template, 80)}”" for p in symptoms)
        parts.append(f"Also seen as: {seen}.")
    if issue.status == "new":
        parts.append("New in this window.")
    elif issue.rate_change is not None:
        parts.append(f"Rate ×{issue.rate_change:.1f} vs the baseline.")
    return Summary(title=title, text=" ".join(parts), by="rules", model=None)


def headline(issues: list[Issue], totals: Totals) -> str:
    """The line atop every report: how many issues of what severity, how much they hurt."""
    if not issues:
        return f"No issues: {totals.events:,} events, nothing at warn or above and nothing new"
    by_severity = Counter(issue.severity for issue in issues)
    worst = next(s for s in SEVERITIES if by_severity[s])
    worst_issues = [i for i in issues if i.severity == worst]
    count = len(worst_issues)
    head = f"{count} {worst} issue{'s' if count > 1 else ''}{_reach(worst_issues, totals)}"
    top = issues[0]
    title = top.summary.title if top.summary else top.root.template
    head += f": {title} since {_clock(top.first_seen)} UTC"
    rest = [f"{by_severity[s]} {s}" for s in SEVERITIES if s != worst and by_severity[s]]
    return head + (f" · also {', '.join(rest)}" if rest else "")


def _reach(issues: list[Issue], totals: Totals) -> str:
    if issues[0].impact_basis == "events":
        share = sum(i.share_of_requests or 0.0 for i in issues)
        return f" in {share:.0%} of events (no request ids)"
    requests: set[str] = set()
    for issue in issues:
        for pattern in issue.patterns:
            requests.update(pattern.requests)
    if not requests or not totals.requests:
        return " affecting no request"
    return f" affecting {_percent(len(requests) / totals.requests)} of requests"


def _percent(share: float) -> str:
    """Whole percent, except below 1% where one decimal keeps small incidents visible."""
    return f"{share:.1%}" if share < 0.01 else f"{share:.0%}"
