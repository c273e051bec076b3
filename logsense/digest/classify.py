"""New, worse, ongoing or resolved: this window's issues against what the last digest said.

The rules (an issue is *listed* when its severity is at or above the digest's bar, default
medium, or when the last digest listed it):

- **new**: at or above the bar, not listed last time, and not in this window's baseline either
  (triage status new, or regressed: seen before, gone, back).
- **worse**: listed last time and now a severity step higher, or its share of requests at least
  ×1.5 *and* 1 percentage point higher; or not listed last time although the baseline has it
  (it grew past the bar).
- **ongoing**: listed last time, still here, not worse (perhaps better: the note says so).
- **resolved**: listed last time, absent from this window.

With no previous digest, the triage statuses decide: new (or regressed) is new, ongoing is
ongoing; nothing is worse or resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from logsense.digest.state import SentDigest, SentIssue
from logsense.model import SEVERITIES, Issue, Severity

__all__ = [
    "CHANGES",
    "WORSE_SHARE_FACTOR",
    "WORSE_SHARE_POINTS",
    "Change",
    "Item",
    "classify",
    "first_seen_ever",
    "is_worse",
    "issue_title",
    "severity_at_least",
]

Change = Literal["new", "worse", "ongoing", "resolved"]
CHANGES: tuple[Change, ...] = ("new", "worse", "ongoing", "resolved")
WORSE_SHARE_FACTOR = 1.5
WORSE_SHARE_POINTS = 0.01
_RANK = {name: rank for rank, name in enumerate(reversed(SEVERITIES))}


@dataclass(slots=True)
class Item:
    """One line of a digest: an issue of this window (or a resolved one) and what changed."""

    change: Change
    id: str
    title: str
    service: str
    severity: Severity
    share: float | None
    events: int
    first_seen: float
    note: str
    issue: Issue | None = None
    before: SentIssue | None = None


def severity_at_least(severity: Severity, bar: Severity) -> bool:
    """True when `severity` is `bar` or worse."""
    return _RANK[severity] >= _RANK[bar]


def is_worse(severity: Severity, share: float | None, before: SentIssue) -> bool:
    """A severity step up, or the share ×1.5 and +1 percentage point."""
    if _RANK[severity] > _RANK[before.severity]:
        return True
    now, then = share or 0.0, before.share or 0.0
    return now >= then * WORSE_SHARE_FACTOR and now - then >= WORSE_SHARE_POINTS


def first_seen_ever(issue: Issue, previous: SentDigest | None) -> float:
    """When `issue` was first seen: in this window, or before by the digests of this name (the
    last one kept the earliest of them all)."""
    seen_then = previous.issues.get(issue.id) if previous else None
    return min(issue.first_seen, seen_then.first_seen) if seen_then else issue.first_seen


def issue_title(issue: Issue) -> str:
    """The issue's summary title, or its root service and template."""
    if issue.summary is not None:
        return issue.summary.title
    return f"{issue.root.service}: {issue.root.template}"


def classify(issues: list[Issue], previous: SentDigest | None, bar: Severity) -> list[Item]:
    """The digest's items: new, then worse, ongoing and resolved, each in triage rank order.

    Issues below `bar` that the last digest did not list are left out.
    """
    listed_before = {i.id: i for i in (previous.issues.values() if previous else ()) if i.reported}
    items = []
    for issue in issues:
        before = listed_before.get(issue.id)
        change = _change(issue, before, bar, previous is not None)
        if change is not None:
            items.append(_item(change, issue, before, bar, previous))
    present = {issue.id for issue in issues}
    gone = [before for key, before in listed_before.items() if key not in present]
    gone.sort(key=lambda before: (-_RANK[before.severity], -(before.share or 0.0), before.id))
    items += [_resolved(before) for before in gone]
    return sorted(items, key=lambda item: CHANGES.index(item.change))


def _change(issue: Issue, before: SentIssue | None, bar: Severity, compared: bool) -> Change | None:
    if before is not None:
        return "worse" if is_worse(issue.severity, issue.share_of_requests, before) else "ongoing"
    if not severity_at_least(issue.severity, bar):
        return None
    if issue.status != "ongoing":
        return "new"
    return "worse" if compared else "ongoing"


def _item(
    change: Change,
    issue: Issue,
    before: SentIssue | None,
    bar: Severity,
    previous: SentDigest | None,
) -> Item:
    seen_then = previous.issues.get(issue.id) if previous else None
    return Item(
        change=change,
        id=issue.id,
        title=issue_title(issue),
        service=issue.root.service,
        severity=issue.severity,
        share=issue.share_of_requests,
        events=issue.events,
        first_seen=first_seen_ever(issue, previous),
        note=_note(change, issue, before or seen_then, bar, previous is not None),
        issue=issue,
        before=before,
    )


def _resolved(before: SentIssue) -> Item:
    share = f", {_pct(before.share)}" if before.share else ""
    return Item(
        change="resolved",
        id=before.id,
        title=before.title,
        service=before.service,
        severity=before.severity,
        share=before.share,
        events=0,
        first_seen=before.first_seen,
        note=f"not seen in this window (was {before.severity}{share})",
        before=before,
    )


def _note(
    change: Change, issue: Issue, before: SentIssue | None, bar: Severity, compared: bool
) -> str:
    if change == "new":
        return "back after a gap: seen before the baseline" if issue.status == "regressed" else ""
    if before is None:
        return "in the baseline too; listed for the first time" if compared else ""
    if not before.reported:
        return f"was {before.severity} ({_pct(before.share)}) last time, below the digest's bar"
    moves = _moves(issue, before)
    if change == "ongoing" and not severity_at_least(issue.severity, bar):
        return "; ".join([*moves, "now below the digest's bar: not listed next time"])
    return "; ".join(moves)


def _moves(issue: Issue, before: SentIssue) -> list[str]:
    moves = []
    if issue.severity != before.severity:
        moves.append(f"severity {before.severity} → {issue.severity}")
    now, then = issue.share_of_requests or 0.0, before.share or 0.0
    if abs(now - then) >= 0.001:
        moves.append(f"share {_pct(then)} → {_pct(now)}")
    return moves


def _pct(share: float | None) -> str:
    return f"{share or 0.0:.1%}"
