"""A postmortem draft from a triage report: impact, timeline, hypothesis, actions, appendix.

The incident is the report's top issue (the *primary*) and the issues that *contributed*: ones
that break requests, are of medium severity or worse, are new, regressed or at least twice their
baseline rate, and began between ten minutes before the primary and its recovery. Impact counts
the union of their requests; the minute-by-minute definitions are in `course.py`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import orjson

from logsense import __version__
from logsense.analyze.embed import Embedder
from logsense.config import Settings
from logsense.errors import UsageError
from logsense.mine.registry import registry_path
from logsense.model import Issue, Pattern, Report, Window, requests_of, short_template
from logsense.pipeline import triage
from logsense.postmortem.course import QUIET_MINUTES, Course, course_of
from logsense.postmortem.evidence import Hypothesis, action_items, hypothesis
from logsense.postmortem.timeline import (
    TimelineEntry,
    change_entry,
    clock,
    entry_order,
    indicator_entry,
    issue_entries,
)
from logsense.sources import Source
from logsense.sources.window import WindowSpec
from logsense.state import state_dir
from logsense.summarize.llm import Completer

__all__ = [
    "Appendix",
    "Impact",
    "Postmortem",
    "config_hash",
    "draft",
    "draft_postmortem",
    "file_sha256",
]

_CONTRIBUTING_LEAD = 600.0
_MAX_CONTRIBUTING = 3
_WORSE = 2.0


@dataclass(frozen=True)
class Impact:
    """What the incident cost: requests, users, services, and its course (peak, duration)."""

    basis: Literal["requests", "events"]
    requests_affected: int | None
    requests: int | None
    share: float
    users_affected: int | None
    events: int
    services: list[str]
    issue_ids: list[str]
    course: Course


@dataclass(frozen=True)
class Appendix:
    """What it takes to reproduce the draft."""

    version: str
    window: Window
    baseline: Window | None
    source: str
    query: str | None
    config_hash: str
    registry_hash: str | None
    quiet_minutes: int


@dataclass
class Postmortem:
    """The draft: the report it came from and every section, ready for a renderer."""

    report: Report
    title: str
    summary: str
    primary: Issue | None
    contributing: list[Issue]
    courses: dict[str, Course]
    impact: Impact | None
    timeline: list[TimelineEntry]
    hypothesis: Hypothesis | None
    actions: list[str]
    appendix: Appendix
    warnings: list[str] = field(default_factory=list)

    @property
    def issues(self) -> list[Issue]:
        """The incident's issues, the primary first."""
        return [] if self.primary is None else [self.primary, *self.contributing]


def file_sha256(path: Path) -> str | None:
    """The sha256 of a file's bytes, or None when it does not exist."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def config_hash(settings: Settings) -> str:
    """sha256 of the settings as sorted JSON; where state lives does not change results."""
    data = settings.model_dump(mode="json", exclude={"state_dir"})
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _check_quiet(quiet_minutes: int) -> None:
    if quiet_minutes < 1:
        raise UsageError(f"--recovery-minutes must be at least 1, got {quiet_minutes}")


def _contributing(report: Report, primary: Issue, course: Course) -> list[Issue]:
    start = primary.first_seen - _CONTRIBUTING_LEAD
    end = course.recovery or report.window.end
    return [
        issue
        for issue in report.issues
        if issue is not primary
        and issue.breaks_requests
        and issue.severity != "low"
        and (issue.status in ("new", "regressed") or (issue.rate_change or 0.0) >= _WORSE)
        and start <= issue.first_seen <= end
    ][:_MAX_CONTRIBUTING]


def _impact(issues: list[Issue], report: Report, quiet_minutes: int) -> Impact:
    patterns: list[Pattern] = [p for issue in issues for p in issue.patterns]
    requests = requests_of(issues)
    users: set[str] = set()
    for pattern in patterns:
        users |= pattern.users
    totals = report.totals
    events = sum(p.count for p in patterns)
    services = list(dict.fromkeys(s for issue in issues for s in issue.services))
    # As rank.impact_of: without request ids the share is of events, a labelled proxy.
    if totals.requests:
        affected: int | None = len(requests)
        share = len(requests) / totals.requests
    else:
        affected, share = None, events / totals.events if totals.events else 0.0
    return Impact(
        basis="requests" if affected is not None else "events",
        requests_affected=affected,
        requests=totals.requests,
        share=share,
        users_affected=len(users) if totals.users else None,
        events=events,
        services=services,
        issue_ids=[issue.id for issue in issues],
        course=course_of(issues, report, quiet_minutes),
    )


def _summary(primary: Issue, impact: Impact) -> str:
    course = impact.course
    start = course.start if course.start is not None else primary.first_seen
    if course.recovery is not None:
        when = f"From {clock(start)} to {clock(course.recovery)} UTC"
    else:
        when = f"From {clock(start)} UTC until the end of the window (not recovered)"
    minutes = round(course.duration / 60)
    what = f"{primary.root.service} “{short_template(primary.root.template, 100)}”"
    seen = f"seen in {', '.join(impact.services)}"
    if impact.basis == "requests":
        hurt = (
            f"{impact.share:.1%} of requests ({impact.requests_affected:,} of {impact.requests:,})"
        )
        users = f" and {impact.users_affected:,} users" if impact.users_affected else ""
        text = f"{when}, {minutes} min, {hurt}{users} were affected by {what}, {seen}."
    else:
        text = (
            f"{when}, {minutes} min: {impact.events:,} events of {what} ({impact.share:.1%} of "
            f"all events; the logs have no request ids to count requests), {seen}."
        )
    peak = course.peak
    if peak is not None and impact.basis == "requests" and peak.affected:
        worst = clock(peak.at, seconds=False)
        text += f" The worst minute was {worst} UTC: {peak.share:.1%} of its requests."
    return text


def _warnings(primary: Issue, course: Course) -> list[str]:
    """What the window hides: a start before --from, a recovery after --to."""
    warnings = []
    if primary.status != "new":
        warnings.append(
            f"the top issue is {primary.status}: it was seen before the window, so it may have "
            "begun before --from; widen the window to see its start"
        )
    if not course.recovered:
        warnings.append(
            "the incident had not recovered by the end of the window (or too few quiet minutes "
            "followed it); widen --to to see its recovery"
        )
    return warnings


def _title(primary: Issue | None) -> str:
    if primary is None:
        return "No issue found"
    if primary.summary is not None:
        return primary.summary.title
    return f"{primary.root.service}: {short_template(primary.root.template)}"


def draft(
    report: Report,
    settings: Settings,
    *,
    quiet_minutes: int = QUIET_MINUTES,
    query: str | None = None,
    registry_hash: str | None = None,
) -> Postmortem:
    """The postmortem of the incident in `report` (its top issue and what contributed).

    `quiet_minutes` defines recovery (see `course.py`); `query` and `registry_hash` only go to
    the reproducibility appendix.
    """
    _check_quiet(quiet_minutes)
    appendix = Appendix(
        __version__, report.window, report.baseline, report.source, query,
        config_hash(settings), registry_hash, quiet_minutes,
    )  # fmt: skip
    changes = [change_entry(change) for change in report.changes]
    primary = report.issues[0] if report.issues else None
    if primary is None:
        return Postmortem(
            report, _title(None), "No issue in this window.", None, [], {}, None, changes,
            None, [], appendix, list(report.warnings),
        )  # fmt: skip
    course = course_of([primary], report, quiet_minutes)
    contributing = _contributing(report, primary, course)
    issues = [primary, *contributing]
    courses = {primary.id: course}
    courses |= {i.id: course_of([i], report, quiet_minutes) for i in contributing}
    ids = {i.id for i in issues}
    warned = [indicator_entry(i) for i in report.leading_indicators if i.precedes in ids]
    timeline = (
        changes
        + warned
        + [entry for i in issues for entry in issue_entries(i, courses[i.id], quiet_minutes)]
    )
    timeline.sort(key=entry_order)
    impact = _impact(issues, report, quiet_minutes)
    found = hypothesis(primary, report.patterns, settings.fields, report.changes)
    return Postmortem(
        report, _title(primary), _summary(primary, impact), primary, contributing, courses,
        impact, timeline, found, action_items(primary, course, found, contributing), appendix,
        [*report.warnings, *_warnings(primary, impact.course)],
    )  # fmt: skip


def draft_postmortem(
    source: Source,
    spec: WindowSpec,
    settings: Settings,
    *,
    anchor: float | None = None,
    embedder: Embedder | None = None,
    progress: bool = True,
    reset_state: bool = False,
    completer: Completer | None = None,
    quiet_minutes: int = QUIET_MINUTES,
    query: str | None = None,
) -> Postmortem:
    """Triage `source` over the window of `spec` and draft its postmortem.

    The arguments are `pipeline.triage`'s, plus `quiet_minutes` (recovery) and the source's
    `query` (for the appendix). The registry hash is taken before the triage updates it: it is
    the registry that named the patterns.
    """
    _check_quiet(quiet_minutes)
    state = state_dir(settings.state_dir)
    registry = None if reset_state else file_sha256(registry_path(state))
    report = triage(
        source, spec, settings, anchor=anchor, embedder=embedder, progress=progress,
        reset_state=reset_state, completer=completer,
    )  # fmt: skip
    return draft(report, settings, quiet_minutes=quiet_minutes, query=query, registry_hash=registry)
