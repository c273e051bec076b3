"""The root-cause hypothesis with its evidence, and the action-item prompts.

The hypothesis is the LLM's `likely_cause` when the summaries were written by a model (those
passed the number guard in `summarize/guard.py`), else a sentence built from the facts: the
root-cause pattern, why it is the root, and the change logged just before it began
(`facts.change_events`).
The evidence query is a Lucene query string (Kibana, Elasticsearch `q=`, `logsense --query`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from logsense.analyze.rollouts import Rollout
from logsense.config import FieldMap
from logsense.mine.masking import WILDCARD
from logsense.model import Issue, Pattern, Sample, short_template
from logsense.postmortem.course import Course
from logsense.postmortem.timeline import clock, span
from logsense.summarize.facts import ChangeEvent, change_events

__all__ = ["Hypothesis", "action_items", "hypothesis", "lucene_query"]

_MAX_TRACE_IDS = 5
_MAX_SAMPLES = 3


@dataclass(frozen=True)
class Hypothesis:
    """What most likely caused the primary issue, who said so, and how to see the evidence."""

    issue_id: str
    first_seen: float
    text: str
    by: Literal["llm", "rules"]
    model: str | None
    root: Pattern
    why: str
    change: ChangeEvent | None
    samples: list[Sample] = field(default_factory=list)
    trace_ids: list[str] = field(default_factory=list)
    query: str = ""
    trace_query: str | None = None


def _phrase(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lucene_query(pattern: Pattern, fields: FieldMap) -> str:
    """A query for the pattern's events: its service and the longest literal part of its text."""
    literal = max((part.strip() for part in pattern.template.split(WILDCARD)), key=len)
    query = f"{fields.service[0]}:{_phrase(pattern.service)}"
    return f"{query} AND {fields.message[0]}:{_phrase(literal)}" if literal else query


def _trace_ids(issue: Issue, samples: list[Sample]) -> list[str]:
    """The samples' request ids, then the issue's earliest affected requests."""
    found = [s.request_id for s in samples if s.request_id]
    found += issue.root.requests.first_texts(_MAX_TRACE_IDS)
    return list(dict.fromkeys(found))[:_MAX_TRACE_IDS]


def _rules_text(issue: Issue, change: ChangeEvent | None) -> str:
    root = issue.root
    cause = (
        f"{root.service} logging “{short_template(root.template, 120)}” ({root.level}) is the "
        f"likely root cause: {issue.root_why}."
    )
    if change is None:
        return cause + " No deploy, restart, config or scaling event was logged just before it."
    lead = issue.first_seen - change.at
    when = f"{span(lead)} after" if lead >= 0 else f"{span(-lead)} before"
    return (
        f"It began at {clock(issue.first_seen)} UTC, {when} {change.service} "
        f"{'logged' if change.logged else 'changed:'} “{short_template(change.example, 100)}” "
        f"at {clock(change.at)} UTC: that change most likely triggered it. {cause}"
    )


def _words(
    issue: Issue, change: ChangeEvent | None
) -> tuple[str, Literal["llm", "rules"], str | None]:
    """The model's checked likely cause when there is one, else the rules' sentence."""
    summary = issue.summary
    if summary is not None and summary.by == "llm" and summary.likely_cause:
        return summary.likely_cause, "llm", summary.model
    return _rules_text(issue, change), "rules", None


def hypothesis(
    issue: Issue, patterns: list[Pattern], fields: FieldMap, changes: Sequence[Rollout] = ()
) -> Hypothesis:
    """The hypothesis for `issue`; `patterns` are all mined patterns and `changes` the report's
    (change events)."""
    found = change_events(patterns, issue, changes)
    change = found[0] if found else None
    samples = [s for p in issue.patterns[:2] for s in p.samples[:2]][:_MAX_SAMPLES]
    traces = _trace_ids(issue, samples)
    trace_query = (
        f"{fields.request_id[0]}:(" + " OR ".join(_phrase(t) for t in traces) + ")"
        if traces
        else None
    )
    text, by, model = _words(issue, change)
    return Hypothesis(
        issue_id=issue.id,
        first_seen=issue.first_seen,
        text=text,
        by=by,
        model=model,
        root=issue.root,
        why=issue.root_why,
        change=change,
        samples=samples,
        trace_ids=traces,
        query=lucene_query(issue.root, fields),
        trace_query=trace_query,
    )


def action_items(
    primary: Issue, course: Course, found: Hypothesis, contributing: list[Issue]
) -> list[str]:
    """Questions for the team to turn into action items; each names the facts behind it."""
    root = primary.root
    items = []
    if found.change is not None:
        items.append(
            f"Prevention: why did the {found.change.service} change at "
            f"{clock(found.change.at)} UTC reach production? Which test, canary or staged "
            f"rollout would have caught “{short_template(root.template, 80)}”?"
        )
    else:
        items.append(
            f"Prevention: what made {root.service} start logging "
            f"“{short_template(root.template, 80)}” at {clock(primary.first_seen)} UTC?"
        )
    items.append(
        f"Detection: the first error was at {clock(primary.first_seen)} UTC; when did an alert "
        f"fire? Alert on the share of requests failing in {root.service}."
    )
    if course.recovery is not None and course.start is not None:
        minutes = round((course.recovery - course.start) / 60)
        items.append(
            f"Mitigation: back to baseline at {clock(course.recovery)} UTC, {minutes} min after "
            "it began. What would have made that faster (automatic rollback, a feature flag)?"
        )
    else:
        items.append(
            "Mitigation: the issue had not recovered by the end of the window: confirm it is over."
        )
    others = [s for s in primary.services if s != root.service]
    if others:
        items.append(
            f"Blast radius: {', '.join(others)} failed along with {root.service}; could "
            f"{'it' if len(others) == 1 else 'they'} degrade gracefully instead?"
        )
    items += [
        f"Contributing: did #{c.rank} {c.root.service} “{short_template(c.root.template, 60)}” "
        "make it worse, or share a cause?"
        for c in contributing
    ]
    if primary.summary is not None and primary.summary.by == "llm":
        items += [f"Check: {check}" for check in primary.summary.next_checks]
    return items
