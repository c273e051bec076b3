"""What changed since the last tick, as transitions worth one alert each.

Pure functions: the state before (`Tracked` issues, `IndicatorState`s, a `SourceState`) and what
this tick saw give the transitions and the state after. Nothing here reads a clock or a file.

The rules (`Rules` holds the numbers):

Severities are the report's, except that a new issue too small to tell from chance is judged
without the step it is raised for being new (`judged_severity`).

- **new**: an issue at `min_severity` (default high) or worse in `confirm_ticks` (2) reports in
  a row, that the watcher has not announced (or announced and saw resolved, at least `cooldown`
  ago), whose last event is less than `resolve_after` old (an issue already over is not news).
  Each report holds its false discoveries to 5%, but a watcher reads a new report every tick:
  a blip of one report is not an incident. Until then the issue is a *candidate*.
- **escalated**: an announced issue a severity step above what was last announced (alerted at
  once), or whose share of requests is at least ×2 what was announced *and* 1 percentage point
  more (at most one alert per issue per `cooldown`: the comparison is with what was last
  *announced*, so a share escalation held back by the cooldown is sent when it ends, if it
  still holds). What was announced only ever grows, so an issue that wavers between two
  severities is alerted once.
- **resolved**: an announced issue whose last event is `resolve_after` old (issues of kind
  `events`), or that is absent from `absent_ticks` (2) reports in a row (absent: no issue of
  the report is it, or holds its root pattern). Never judged on a tick
  that read nothing (source down, empty window, a clock jump).
- **leading_indicator**: an entry of the report's `leading_indicators` whose `id` was not
  alerted yet (or not for `cooldown`, after it went away for `absent_ticks` reports).
- **source_unavailable**: the source could not be read for `unreachable_after`; once.
  **source_silent**: it can be read, but its newest event is `silent_after` old (or nothing
  came since the watcher started that long ago): the application, or its logging, stopped;
  once, instead of one stopped-work issue per service. Issues are not judged meanwhile.
  **source_recovered**: it is read again, or events come again, after either alert; once.

An issue keeps the key it was announced under: this tick's issue is the same one when it has
that id, or else when the root pattern of one is among the patterns of the other (grouping may
pick another root as the issue grows, which renames it), or, for work that stopped, when both
are the stopped work of one service. An announced issue whose root pattern is held by another
issue (work that stopped, joined to the failure that explains it) is still there: it is
resolved only once no issue holds it (for `absent_ticks` reports), that is when the work has
resumed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from logsense.config import SeverityConfig
from logsense.model import SEVERITIES, Issue, Severity, iso
from logsense.rank import severity_of

__all__ = [
    "IndicatorState",
    "Kind",
    "Rules",
    "Seen",
    "SourceState",
    "Tracked",
    "Transition",
    "indicator_doc",
    "indicator_transitions",
    "is_escalation",
    "issue_transitions",
    "judged_severity",
    "seen_from",
    "severity_at_least",
    "source_transition",
]

Kind = Literal[
    "new",
    "escalated",
    "resolved",
    "leading_indicator",
    "source_unavailable",
    "source_silent",
    "source_recovered",
]
Trouble = Literal["unreadable", "silent"]
_RANK = {name: rank for rank, name in enumerate(reversed(SEVERITIES))}
_MAX_PATTERNS = 64
_MAX_SAMPLES = 3


@dataclass(frozen=True)
class Rules:
    """The numbers of the rules (see the module's docstring)."""

    min_severity: Severity = "high"
    cooldown: float = 1800.0
    resolve_after: float = 600.0
    absent_ticks: int = 2
    confirm_ticks: int = 2
    unreachable_after: float = 120.0
    silent_after: float = 300.0
    escalate_factor: float = 2.0
    escalate_points: float = 0.01


@dataclass(frozen=True)
class Seen:
    """One issue of this tick's report, as the rules need it; `doc` is what an alert shows."""

    id: str
    severity: Severity
    share: float
    kind: str
    root_pattern: str
    patterns: frozenset[str]
    last_seen: float
    doc: dict[str, Any]
    issue: Issue | None = None
    # Patterns it holds besides its own: the work that stopped and joined it.
    stops: frozenset[str] = frozenset()

    @property
    def service(self) -> str:
        """The root-cause service."""
        return str((self.doc.get("root_cause") or {}).get("service", ""))


@dataclass(frozen=True)
class Tracked:
    """An issue the watcher announced: open until resolved, then kept for the cooldown; or a
    candidate (never announced: `alerts` 0), seen at the bar in `streak` reports in a row.

    `severity` and `share` are what the last alert said; `doc` the issue as last seen.
    """

    key: str
    current_id: str
    open: bool
    severity: Severity
    share: float
    root_pattern: str
    patterns: frozenset[str]
    last_seen: float
    last_alert_at: float | None
    alerts: int
    absent_ticks: int
    doc: dict[str, Any]
    streak: int = 0

    @property
    def candidate(self) -> bool:
        """Seen at the bar, never announced yet."""
        return not self.open and self.alerts == 0


@dataclass(frozen=True)
class IndicatorState:
    """A leading indicator already alerted: open while reports carry it."""

    id: str
    open: bool
    last_alert_at: float | None
    alerts: int
    absent_ticks: int


@dataclass(frozen=True)
class SourceState:
    """Whether the source is in trouble (unreadable, or silent), since when (wall clock), why,
    and whether that was alerted."""

    failing_since: float | None = None
    error: str | None = None
    alerted: bool = False
    alerts: int = 0
    trouble: Trouble | None = None


@dataclass(frozen=True)
class Transition:
    """One alert to send: its kind, the key it is about (issue key, indicator id, source name),
    that key's alert number, and what it needs to say."""

    kind: Kind
    key: str
    seq: int
    issue: Seen | None = None
    before: Tracked | None = None
    indicator: dict[str, Any] | None = None
    source_error: str | None = None
    since: float | None = None
    trouble: Trouble | None = None


def severity_at_least(severity: Severity, bar: Severity) -> bool:
    """True when `severity` is `bar` or worse."""
    return _RANK[severity] >= _RANK[bar]


def is_escalation(severity: Severity, share: float, before: Tracked, rules: Rules) -> bool:
    """A severity step above what was announced, or the share ×2 and +1 percentage point."""
    if _RANK[severity] > _RANK[before.severity]:
        return True
    return (
        share >= before.share * rules.escalate_factor
        and share - before.share >= rules.escalate_points
    )


def judged_severity(issue: Issue, config: SeverityConfig) -> Severity:
    """The severity the rules judge an issue at: the report's, except that a new issue too
    small to tell from chance (its change not significant) is not raised a step for being new.

    A watcher sees each rare line of ordinary noise appear for the first time, one after the
    other: that novelty alone is no reason to wake anyone.
    """
    if issue.status != "new" or issue.changed:
        return issue.severity
    return severity_of(replace(issue, status="ongoing"), config)


def seen_from(issue: Issue, config: SeverityConfig | None = None) -> Seen:
    """The rules' view of a report's issue (at its `judged_severity` under `config`, or the
    report's severity without one), with the part of it an alert shows."""
    summary = issue.summary
    severity = issue.severity if config is None else judged_severity(issue, config)
    doc = {
        "id": issue.id,
        "title": summary.title if summary else issue.root.template,
        "severity": severity,
        "status": issue.status,
        "kind": issue.kind,
        "movement": issue.movement,
        "share_of_requests": round(issue.share_of_requests or 0.0, 6),
        "impact_basis": issue.impact_basis,
        "requests_affected": issue.requests_affected,
        "users_affected": issue.users_affected,
        "events": issue.events,
        "services": issue.services,
        "root_cause": {
            "pattern_id": issue.root.id,
            "template": issue.root.template,
            "service": issue.root_service,
        },
        "first_seen": iso(issue.first_seen),
        "last_seen": iso(issue.last_seen),
        "samples": [s.message for p in issue.patterns[:2] for s in p.samples[:2]][:_MAX_SAMPLES],
        "summary": summary.text if summary else "",
    }
    return Seen(
        id=issue.id,
        severity=severity,
        share=issue.share_of_requests or 0.0,
        kind=issue.kind,
        root_pattern=issue.root.id,
        patterns=frozenset(p.id for p in issue.patterns),
        last_seen=issue.last_seen,
        doc=doc,
        issue=issue,
        stops=frozenset(stop.pattern.id for stop in issue.stopped),
    )


def issue_transitions(
    tracked: Mapping[str, Tracked],
    seen: Sequence[Seen],
    now: float,
    rules: Rules,
    *,
    resolutions: bool = True,
) -> tuple[list[Transition], dict[str, Tracked]]:
    """The issue alerts of this tick and the tracked issues after it (see the module's rules).

    `resolutions` False (a tick that cannot tell what stopped) judges nothing resolved.
    """
    # Candidates last only while seen at the bar in every report.
    after = {key: item for key, item in tracked.items() if not item.candidate}
    matches = _match(tracked, seen)
    out: list[Transition] = []
    for issue in seen:
        key = matches.get(issue.id)
        before = tracked.get(key) if key is not None else None
        if before is not None and before.open:
            out += _follow_open(after, before, issue, now, rules, resolutions)
        elif not severity_at_least(issue.severity, rules.min_severity):
            if before is not None and not before.candidate and before.streak:
                after[before.key] = replace(before, streak=0)
        else:
            fresh = issue.kind != "events" or now - issue.last_seen < rules.resolve_after
            if not fresh or (before is not None and not _cooled(before, now, rules)):
                continue
            key = before.key if before is not None else issue.id
            streak = (before.streak if before is not None else 0) + 1
            if streak < rules.confirm_ticks:
                candidate = _tracked(key, issue, now, 0, before)
                after[key] = replace(candidate, open=False, last_alert_at=None, streak=streak)
                if before is not None:  # a resolved issue back: its history stays
                    after[key] = replace(after[key], alerts=before.alerts,
                                         last_alert_at=before.last_alert_at)  # fmt: skip
                continue
            seq = before.alerts + 1 if before is not None else 1
            out.append(Transition("new", key, seq, issue=issue, before=_announced(before)))
            after[key] = _tracked(key, issue, now, seq, before)
    holders = _holders(seen)
    for key, before in tracked.items():
        if not before.open or key in matches.values():
            if before.streak and not before.candidate and key not in matches.values():
                after[key] = replace(before, streak=0)  # a resolved issue's streak is broken
            continue
        host = holders.get(before.root_pattern)
        if host is not None:  # absorbed into another issue: still there, not resolved
            after[key] = replace(before, last_seen=max(before.last_seen, host.last_seen),
                                 absent_ticks=0)  # fmt: skip
            continue
        absent = before.absent_ticks + (1 if resolutions else 0)
        if resolutions and absent >= rules.absent_ticks:
            seq = before.alerts + 1
            out.append(Transition("resolved", key, seq, before=before))
            after[key] = replace(before, open=False, last_alert_at=now, alerts=seq,
                                 absent_ticks=absent)  # fmt: skip
        else:
            after[key] = replace(before, absent_ticks=absent)
    return out, after


def _follow_open(
    after: dict[str, Tracked],
    before: Tracked,
    issue: Seen,
    now: float,
    rules: Rules,
    resolutions: bool,
) -> list[Transition]:
    """An announced issue seen again: escalated, resolved by quiet, or simply still there."""
    current = replace(
        before,
        current_id=issue.id,
        patterns=_merged(before.patterns, issue.patterns),
        last_seen=issue.last_seen,
        absent_ticks=0,
        doc=issue.doc,
    )
    quiet = issue.kind == "events" and now - issue.last_seen >= rules.resolve_after
    if resolutions and quiet:
        seq = before.alerts + 1
        after[before.key] = replace(current, open=False, last_alert_at=now, alerts=seq)
        return [Transition("resolved", before.key, seq, issue=issue, before=before)]
    step_up = _RANK[issue.severity] > _RANK[before.severity]
    if (
        not quiet
        and severity_at_least(issue.severity, rules.min_severity)
        and is_escalation(issue.severity, issue.share, before, rules)
        and (step_up or _cooled(before, now, rules))
    ):
        seq = before.alerts + 1
        after[before.key] = replace(
            current,
            severity=issue.severity,
            share=max(issue.share, before.share),
            last_alert_at=now,
            alerts=seq,
        )
        return [Transition("escalated", before.key, seq, issue=issue, before=before)]
    after[before.key] = current
    return []


def _holders(seen: Sequence[Seen]) -> dict[str, Seen]:
    """Pattern id → the issue of this tick it belongs to (the first, in report order)."""
    holders: dict[str, Seen] = {}
    for issue in seen:
        for pattern in issue.patterns | issue.stops:
            holders.setdefault(pattern, issue)
    return holders


def _announced(before: Tracked | None) -> Tracked | None:
    """What was announced about an issue before (None for a candidate: nothing was)."""
    return None if before is None or before.candidate else before


def _tracked(key: str, issue: Seen, now: float, seq: int, before: Tracked | None) -> Tracked:
    patterns = _merged(before.patterns, issue.patterns) if before else issue.patterns
    return Tracked(
        key=key,
        current_id=issue.id,
        open=True,
        severity=issue.severity,
        share=issue.share,
        root_pattern=issue.root_pattern,
        patterns=frozenset(sorted(patterns)[:_MAX_PATTERNS]),
        last_seen=issue.last_seen,
        last_alert_at=now,
        alerts=seq,
        absent_ticks=0,
        doc=issue.doc,
    )


def _merged(old: frozenset[str], new: frozenset[str]) -> frozenset[str]:
    merged = old | new
    return merged if len(merged) <= _MAX_PATTERNS else frozenset(sorted(new)[:_MAX_PATTERNS])


def _cooled(before: Tracked | IndicatorState, now: float, rules: Rules) -> bool:
    """True when the last alert about it is at least `cooldown` ago (or, after the wall clock
    went back, seemingly in the future: the cooldown cannot be judged, so it is over)."""
    last = before.last_alert_at
    return last is None or now - last >= rules.cooldown or last > now + 60


def _match(tracked: Mapping[str, Tracked], seen: Sequence[Seen]) -> dict[str, str]:
    """This tick's issue id → the key of the tracked issue it is, if any (one each)."""
    by_id: dict[str, str] = {}
    for item in tracked.values():
        by_id.setdefault(item.current_id, item.key)
        by_id.setdefault(item.key, item.key)
    matches: dict[str, str] = {}
    taken: set[str] = set()
    for issue in seen:
        key = by_id.get(issue.id)
        if key is not None and key not in taken:
            matches[issue.id] = key
            taken.add(key)
    for issue in seen:
        if issue.id in matches:
            continue
        candidates = [
            (item.open, len(item.patterns & issue.patterns), item.key)
            for item in tracked.values()
            if item.key not in taken
            and (item.root_pattern in issue.patterns or issue.root_pattern in item.patterns)
        ]
        if not candidates and issue.kind == "stopped":  # one service's stopped work
            candidates = [
                (item.open, 0, item.key)
                for item in tracked.values()
                if item.key not in taken
                and item.doc.get("kind") == "stopped"
                and (item.doc.get("root_cause") or {}).get("service") == issue.service
            ]
        if candidates:
            key = max(candidates)[2]
            matches[issue.id] = key
            taken.add(key)
    return matches


# --- leading indicators ----------------------------------------------------------------------


def indicator_doc(entry: object) -> dict[str, Any] | None:
    """An entry of `report.leading_indicators` (a mapping or an object) as an alert shows it;
    None without an `id`."""
    value = _field(entry, "id")
    if value is None or str(value) == "":
        return None
    doc: dict[str, Any] = {"id": str(value)}
    for name in ("service", "pattern_id", "text", "precedes"):
        found = _field(entry, name)
        doc[name] = None if found is None else str(found)
    doc["visible_from"] = _time_text(_field(entry, "visible_from"))
    return doc


def _field(entry: object, name: str) -> Any:
    if isinstance(entry, Mapping):
        return entry.get(name)
    return getattr(entry, name, None)


def _time_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return iso(float(value))
    return str(value)


def indicator_transitions(
    tracked: Mapping[str, IndicatorState],
    entries: Sequence[object],
    now: float,
    rules: Rules,
    *,
    absence: bool = True,
) -> tuple[list[Transition], dict[str, IndicatorState]]:
    """One alert per leading indicator id (see the module's rules); entries without an id are
    skipped."""
    after = dict(tracked)
    out: list[Transition] = []
    present: set[str] = set()
    for entry in entries:
        doc = indicator_doc(entry)
        if doc is None or doc["id"] in present:
            continue
        key = doc["id"]
        present.add(key)
        before = tracked.get(key)
        if before is not None and before.open:
            after[key] = replace(before, absent_ticks=0)
            continue
        if before is not None and not _cooled(before, now, rules):
            continue
        seq = before.alerts + 1 if before is not None else 1
        out.append(Transition("leading_indicator", key, seq, indicator=doc))
        after[key] = IndicatorState(key, True, now, seq, 0)
    for key, before in tracked.items():
        if before.open and key not in present and absence:
            absent = before.absent_ticks + 1
            after[key] = replace(before, open=absent < rules.absent_ticks, absent_ticks=absent)
    return out, after


# --- the source ------------------------------------------------------------------------------


def source_transition(
    state: SourceState,
    name: str,
    error: str | None,
    failing_for: float,
    now: float,
    rules: Rules,
    *,
    silent: str | None = None,
    silent_since: float | None = None,
) -> tuple[list[Transition], SourceState]:
    """After a read that failed with `error` (None: it worked), `failing_for` seconds into the
    failure, or that worked but found the source `silent` (why, and since when): the source
    alert, if one is due, and the state after. One alert per episode of trouble, whichever
    kind; one recovery after it."""
    if error is not None:
        since = state.failing_since if state.failing_since is not None else now
        trouble: Trouble = state.trouble or "unreadable"
        if not state.alerted and failing_for >= rules.unreachable_after:
            seq = state.alerts + 1
            down = Transition("source_unavailable", name, seq, source_error=error, since=since,
                              trouble="unreadable")  # fmt: skip
            return [down], SourceState(since, error, True, seq, "unreadable")
        return [], SourceState(since, error, state.alerted, state.alerts, trouble)
    if silent is not None:
        if state.alerted:
            return [], state
        seq = state.alerts + 1
        quiet = Transition("source_silent", name, seq, source_error=silent, since=silent_since,
                           trouble="silent")  # fmt: skip
        return [quiet], SourceState(silent_since, silent, True, seq, "silent")
    if state.alerted:
        seq = state.alerts + 1
        recovered = Transition(
            "source_recovered", name, seq, source_error=state.error, since=state.failing_since,
            trouble=state.trouble,
        )  # fmt: skip
        return [recovered], SourceState(alerts=seq)
    return [], SourceState(alerts=state.alerts)
