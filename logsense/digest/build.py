"""A digest: a triage report compared with the last digest of the same name."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from logsense.config import FieldMap
from logsense.digest.classify import (
    Change,
    Item,
    classify,
    first_seen_ever,
    issue_title,
    severity_at_least,
)
from logsense.digest.state import DigestStore, SentDigest, SentIssue
from logsense.model import Report, Severity

__all__ = ["Digest", "DigestOptions", "build", "prepare", "remember"]


@dataclass(frozen=True, slots=True)
class DigestOptions:
    """What a digest shows and how it links to logs.

    `name` keys the digest state ("since the last digest" is per name); `bar` is the lowest
    severity listed; `max_issues` caps the detailed entries (new first); `fields` and
    `kibana_url` shape the Elasticsearch queries and links.
    """

    name: str = "default"
    bar: Severity = "medium"
    max_issues: int = 10
    fields: FieldMap = field(default_factory=FieldMap)
    kibana_url: str | None = None


@dataclass
class Digest:
    """The items of one digest, the report they come from, and the digest compared with."""

    report: Report
    items: list[Item]
    previous: SentDigest | None
    options: DigestOptions
    created: float

    @property
    def counts(self) -> Counter[Change]:
        """Items per change."""
        return Counter(item.change for item in self.items)

    @property
    def has_news(self) -> bool:
        """True when something is new or worse (what `--only-if-new` asks for)."""
        counts = self.counts
        return bool(counts["new"] or counts["worse"])

    @property
    def unlisted(self) -> int:
        """Issues of the report below the bar and not followed from the last digest."""
        return len(self.report.issues) - sum(1 for i in self.items if i.issue is not None)

    def to_record(self) -> SentDigest:
        """What the state keeps of this digest once it went out: every issue of the report.

        An issue counts as reported when it is listed and at or above the bar, so one that
        sank below the bar is shown once more (as better) and then no longer followed.
        """
        listed = {item.id for item in self.items if item.issue is not None}
        issues = {}
        for issue in self.report.issues:
            issues[issue.id] = SentIssue(
                id=issue.id,
                title=issue_title(issue),
                service=issue.root.service,
                severity=issue.severity,
                share=issue.share_of_requests,
                events=issue.events,
                status=issue.status,
                reported=issue.id in listed and severity_at_least(issue.severity, self.options.bar),
                first_seen=first_seen_ever(issue, self.previous),
            )
        window = self.report.window
        return SentDigest(
            self.options.name, window.start, window.end, self.created, self.report.source, issues
        )


def build(
    report: Report, previous: SentDigest | None, options: DigestOptions, now: float
) -> Digest:
    """Classify the report's issues against `previous` (None: the first digest of its name)."""
    return Digest(report, classify(report.issues, previous, options.bar), previous, options, now)


def prepare(report: Report, state: Path, options: DigestOptions, now: float) -> Digest:
    """The digest of `report` against the last one recorded under `options.name` in `state`."""
    with DigestStore.open(state) as store:
        previous = store.last(options.name)
    return build(report, previous, options, now)


def remember(state: Path, digest: Digest) -> None:
    """Record `digest` as the last of its name: call only once it went out."""
    with DigestStore.open(state) as store:
        store.record(digest.to_record())
