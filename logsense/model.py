"""The data that flows through the pipeline: Event → Pattern → Issue → Report.

Plain dataclasses, no behaviour beyond small derived values. Times are UTC seconds since the
epoch (floats) inside the pipeline; renderers turn them into ISO 8601.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from logsense.requestmap import RequestMap, RequestSet
from logsense.summarize.redact import redact

if TYPE_CHECKING:
    from logsense.analyze.change import Change
    from logsense.analyze.rollouts import Rollout

__all__ = [
    "LEVELS",
    "SEVERITIES",
    "Event",
    "Evidence",
    "EvidenceKind",
    "Instance",
    "Issue",
    "IssueKind",
    "LeadingIndicator",
    "Overview",
    "Pattern",
    "Report",
    "Sample",
    "Severity",
    "Slot",
    "SlotMinute",
    "SlowHop",
    "Status",
    "Stopped",
    "Summary",
    "Timings",
    "Totals",
    "Window",
    "level_class",
    "level_rank",
    "requests_of",
    "short_template",
]

LEVELS = ("debug", "info", "warn", "error", "fatal")
_LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}

Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
# Seconds measured in the baseline and in the window (a pattern's own durations): counts,
# then a uniform sample of each period as (seconds, request id number or None; `requestmap`).
Timings = tuple[int, int, list[tuple[float, int | None]], list[tuple[float, int | None]]]
Status = Literal["new", "ongoing", "regressed", "resolved"]
# What an issue is made of: logged events (errors, warnings, new lines), a pattern whose normal
# rate stopped, or the gaps between a request's events growing.
IssueKind = Literal["events", "stopped", "slow"]
EvidenceKind = Literal[
    "first_in_requests", "named_by_callers", "stopped", "caller_waited", "slowed_hop",
    "only_pattern", "earliest",
]  # fmt: skip


def level_rank(level: str) -> int:
    """Order of a normalized level: debug 0 < info 1 < warn 2 < error 3 < fatal 4."""
    return _LEVEL_RANK[level]


def level_class(level: str) -> str:
    """The class a level belongs to for pattern keying: "info" (debug/info), "warn", "error"."""
    if level in ("error", "fatal"):
        return "error"
    return "warn" if level == "warn" else "info"


def iso(ts: float) -> str:
    """ISO 8601 UTC with millisecond precision and a `Z` suffix."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def short_template(template: str, limit: int = 90) -> str:
    """The template cut to `limit` characters at a word boundary, with an ellipsis if cut."""
    if len(template) <= limit:
        return template
    return template[: limit - 1].rsplit(" ", 1)[0] + "…"


@dataclass(frozen=True, slots=True)
class Instance:
    """One (service, version, host) among the events read: when first and last, how often
    (`EventTable.instances`: every event counts, not only those of the window)."""

    service: str
    version: str | None
    host: str | None
    first: float
    last: float
    events: int


@dataclass(slots=True)
class Event:
    """One log event, normalized. Multi-line events (stack traces) are one Event."""

    timestamp: float
    message: str
    level: str
    service: str
    request_id: str | None = None
    user_id: str | None = None
    stack_trace: str | None = None
    host: str | None = None
    version: str | None = None
    origin: str = ""
    duration: float | None = None  # seconds, from a duration field (ECS `event.duration`)
    # From text headers that carry them (syslog's pid, log4j's thread); not aggregated.
    process: str | None = None
    thread: str | None = None


@dataclass(slots=True)
class Sample:
    """A message kept as evidence, with the pointer back to where it came from.

    `message` is the redacted text (secrets, emails, card numbers removed; IPs kept), computed
    when first read: most patterns' samples are never shown, so most are never redacted.
    """

    raw: str
    origin: str
    timestamp: float
    request_id: str | None
    _redacted: str | None = None

    @property
    def message(self) -> str:
        """The redacted text; every output shows this, never `raw`."""
        if self._redacted is None:
            self._redacted = redact(self.raw, ips=False)
        return self._redacted


@dataclass(slots=True)
class Window:
    """A half-open time range [start, end) in UTC epoch seconds."""

    start: float
    end: float

    def __contains__(self, ts: float) -> bool:
        return self.start <= ts < self.end

    @property
    def minutes(self) -> float:
        """Length in minutes (never below one second, so rates stay finite)."""
        return max(self.end - self.start, 1.0) / 60.0


@dataclass(eq=False)
class Pattern:
    """One template of one service at one level class, with stats over the window.

    `requests` holds each request that has an event of this pattern with the (timestamp, input
    sequence number) of its first such event: it gives both the distinct-request count and the
    order of patterns inside a request, which root-cause detection needs.
    """

    id: str
    service: str
    level: str
    template: str
    fingerprint: str | None = None
    count: int = 0
    first_seen: float = float("inf")
    last_seen: float = float("-inf")
    per_minute: dict[int, int] = field(default_factory=dict)
    requests: RequestMap = field(default_factory=RequestMap.empty)
    users: set[str] = field(default_factory=set)
    samples: list[Sample] = field(default_factory=list)
    baseline_count: int = 0
    # The same for the baseline: each request's first event of this pattern there, and events
    # per minute there.
    baseline_requests: RequestMap = field(default_factory=RequestMap.empty)
    baseline_per_minute: dict[int, int] = field(default_factory=dict)
    # Durations its events carry (a duration field, or `took 120ms` in the message); None when
    # they carry none.
    durations: Timings | None = None
    # The numbers behind its template's `<*>` slots, by token index (`Slot`).
    slots: dict[int, Slot] = field(default_factory=dict)


# One minute of a slot's numbers: (count, sum, min, max, the largest fraction of the limit the
# line shows, or None when it shows none).
SlotMinute = tuple[int, float, float, float, float | None]


@dataclass(eq=False)
class Slot:
    """What stands behind one `<*>` of a pattern's template, baseline and window alike (the
    first messages of each shape and minute, see `logsense/native/src/table/slots.rs`; every
    message for words Drain generalized, see `mine.slots.text_slots`).

    `token` is the slot's index among the whitespace tokens of the masked messages the pattern
    was made from (before Drain merged runs of `<*>`). `unit` is what the
    numbers measure: `count`, `seconds`, `bytes`, `percent` (0..100) or `ratio` (the `a` of
    `a/b`; its fraction of `b` is the minute's limit fraction), or `text` for a slot that holds
    no number (its minutes count messages, their sum, min and max are 0). `top` holds the most
    frequent values as (value, count, overcount): the true count lies between
    `count - overcount` and `count` (a space-saving sketch).
    """

    token: int
    unit: str
    # What it measures, in a few words from around it (`waiting`, `heap`, `duration`).
    name: str
    minutes: dict[int, SlotMinute] = field(default_factory=dict)
    top: list[tuple[float | str, int, int]] = field(default_factory=list)


@dataclass(eq=False)
class LeadingIndicator:
    """A number in log lines that rose against its baseline, or neared the limit its line
    shows, before trouble: `visible_from` is the start of the first minute it showed.

    `kinds` says how it showed: `rise` (minutes in a row above anything the baseline saw, and
    well above its usual level) and/or `limit` (at least 90% of the limit, which the baseline
    never reached), or, without a baseline to test against, `shift` (the same rise against the
    window's own earlier minutes; `baseline` is then their usual level). `precedes` is the id
    of the issue that began after it, if any, and `lead_minutes` how long after.
    """

    id: str
    pattern: Pattern
    slot: Slot
    name: str
    kinds: list[str]
    visible_from: float
    baseline: float
    peak: float
    peak_fraction: float | None
    precedes: str | None = None
    lead_minutes: float | None = None
    text: str = ""

    @property
    def service(self) -> str:
        """The service whose lines carry the number."""
        return self.pattern.service

    @property
    def pattern_id(self) -> str:
        """The id of the pattern whose slot it is."""
        return self.pattern.id


@dataclass(slots=True)
class Summary:
    """The words that describe an issue, and who wrote them."""

    title: str
    text: str
    by: Literal["llm", "rules"] = "rules"
    model: str | None = None
    likely_cause: str | None = None
    next_checks: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Overview:
    """One paragraph about the whole report, and who wrote it."""

    text: str
    by: Literal["llm", "rules"] = "rules"
    model: str | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """One reason the root cause is where it is said to be, in a sentence with its numbers.

    `service` is the service it blames; `pattern_id` the pattern it was read from, if one;
    `numbers` the figures of the sentence, for tools.
    """

    kind: EvidenceKind
    service: str
    text: str
    pattern_id: str | None = None
    numbers: dict[str, float | int | str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SlowHop:
    """Inside requests, the step from an event of `source` to the next, of `target`, that slowed
    (or, when both are one pattern, the durations its events carry).

    Medians are seconds. Of the `sampled` window gaps, `slow` exceed the baseline's 95th
    percentile; `count` is how often the step was taken in the window.
    """

    source: Pattern
    target: Pattern
    baseline_median: float
    median: float
    count: int
    slow: int
    sampled: int
    p_value: float

    @property
    def written(self) -> bool:
        """True for durations a pattern's events carry themselves (`took 120ms`, a duration
        field), not the gap between two events."""
        return self.source is self.target

    @property
    def ratio(self) -> float:
        """How many times the baseline's median gap the window's is."""
        return self.median / self.baseline_median if self.baseline_median > 0 else math.inf


@dataclass(frozen=True, slots=True)
class Stopped:
    """A pattern whose normal rate stopped: its change against the baseline, in its context."""

    pattern: Pattern
    change: Change


@dataclass(eq=False)
class Issue:
    """Patterns that are one problem, with the impact computed over the window."""

    id: str
    patterns: list[Pattern]
    root: Pattern
    root_why: str
    events: int
    requests_affected: int | None
    share_of_requests: float | None
    users_affected: int | None
    first_seen: float
    last_seen: float
    severity: Severity = "low"
    status: Status = "new"
    rate_change: float | None = None
    # Events per minute in the baseline (None without one).
    baseline_rate: float | None = None
    impact_basis: Literal["requests", "events"] = "requests"
    timeline: list[tuple[int, int]] = field(default_factory=list)
    summary: Summary | None = None
    rank: int = 0
    # Ids of the requests the problem affected (`group.Group.requests`): `requests_affected`
    # counts them.
    requests: RequestSet = field(default_factory=RequestSet.empty)
    kind: IssueKind = "events"
    # Against the baseline (None without one): the issue's affected requests now and before.
    change: Change | None = None
    # Why the root cause is where it is, strongest first; the first names `root_service`.
    evidence: list[Evidence] = field(default_factory=list)
    # True when `requests_affected` is an estimate (a sample, or requests that are missing).
    impact_estimated: bool = False
    # Normal patterns that stopped, in the issue's service or requests (kind "stopped": its own).
    stopped: list[Stopped] = field(default_factory=list)
    # Steps between events that slowed (kind "slow").
    slowed: list[SlowHop] = field(default_factory=list)
    # In the default view; the rest (neither changed nor failing requests) is folded.
    shown: bool = True

    @property
    def root_service(self) -> str:
        """The service the root cause lies in: the root pattern's, unless the evidence points
        past it (a callee named by its callers, which may log nothing itself)."""
        return self.evidence[0].service if self.evidence else self.root.service

    @property
    def inferred_from(self) -> Evidence | None:
        """The evidence that put the root cause in a service other than the root pattern's."""
        first = self.evidence[0] if self.evidence else None
        return first if first is not None and first.service != self.root.service else None

    @property
    def services(self) -> list[str]:
        """Services with events of this issue, the root-cause service first."""
        others = sorted({p.service for p in self.patterns} - {self.root_service})
        return [self.root_service, *others]

    @property
    def breaks_requests(self) -> bool:
        """True when the issue touched requests: warn-or-worse events in them, work that
        stopped in them, or gaps in them that grew."""
        if self.kind != "events":
            return True
        return any(p.requests and level_rank(p.level) >= 2 for p in self.patterns)

    @property
    def movement(self) -> str:
        """How the issue moved against the baseline, in a word or two for tables: `stopped`,
        `slower ×36`, `new`, `regressed`, `rising ×2.3`, `chronic`, `falling`, or the status."""
        change = self.change
        if self.kind == "stopped":
            return "stopped"
        if self.kind == "slow":
            return f"slower ×{self.slowed[0].ratio:.0f}" if self.slowed else "slower"
        if self.status in ("new", "regressed") or change is None:
            return self.status
        if change.worsened and change.ratio is not None:
            return f"rising ×{change.ratio:.1f}"
        if self.chronic:
            return "falling" if change.trend in ("falling", "stopped") else "chronic"
        return self.status

    @property
    def chronic(self) -> bool:
        """True when the issue was in the baseline too and did not worsen: there before, at
        its usual rate (or less)."""
        change = self.change
        return (
            self.kind == "events"
            and change is not None
            and change.before > 0
            and not change.worsened
            and self.status == "ongoing"
        )

    @property
    def changed(self) -> bool:
        """True when the issue worsened significantly against the baseline: warnings or errors
        new or rising beyond chance, normal work that stopped, or requests that slowed (a new
        info line is not a problem by itself)."""
        if self.kind != "events":
            return True
        warns = any(level_rank(p.level) >= 2 for p in self.patterns)
        return warns and self.change is not None and self.change.worsened


def requests_of(issues: Iterable[Issue]) -> RequestSet:
    """The requests that any of `issues` affected."""
    return RequestSet.union(issue.requests for issue in issues)


@dataclass(slots=True)
class Sampling:
    """How a pushdown read sampled the events that cannot form an issue on their own
    (`sources/pushdown.py`): every event of a uniform `rate` of the requests (events without a
    request id: of their times) was read, the rest of those events was not.

    Inside that universe everything is whole, so a sampled pattern's counts and requests are
    compared with the universe's totals here, never with the whole window's.
    """

    rate: float
    # The sampled universe's totals: distinct requests (exact) and events, window and baseline.
    requests: int
    baseline_requests: int
    events: int
    baseline_events: int
    # Every request inside the universe that the read met (window and baseline).
    members: RequestSet
    # Ids of the patterns whose events were read only inside the universe.
    patterns: frozenset[str]
    # Events read in full (they can form an issue) and inside the sample, and all in the range.
    read_in_full: int = 0
    read_sampled: int = 0
    documents: int = 0

    def holds(self, patterns: Iterable[Pattern]) -> bool:
        """True when any of `patterns` was read only inside the universe."""
        return any(p.id in self.patterns for p in patterns)

    def inside(self, requests: RequestMap) -> RequestMap:
        """The entries of `requests` for requests inside the universe."""
        return requests.only(self.members)


@dataclass(slots=True)
class Totals:
    """Counts over the whole window, for the report header and share denominators."""

    events: int = 0
    requests: int | None = None
    users: int | None = None
    services: list[str] = field(default_factory=list)
    patterns: int = 0
    malformed: int = 0
    outside_window: int = 0
    first_seen: float | None = None
    last_seen: float | None = None
    # Distinct requests with an event in each minute, keyed like Pattern.per_minute (ts // 60).
    requests_per_minute: dict[int, int] = field(default_factory=dict)
    baseline_events: int = 0
    # Distinct requests with an event in the baseline (None without request ids).
    baseline_requests: int | None = None
    # The earliest event in the baseline, if it holds any.
    baseline_first: float | None = None
    # Set when the events that cannot form an issue were sampled (a pushdown read).
    sampling: Sampling | None = None
    # Totals that are estimates, and how precise (`requests`: "HyperLogLog++ ..."), by name.
    estimated: dict[str, str] = field(default_factory=dict)

    def within(self, patterns: Iterable[Pattern]) -> Totals:
        """The totals `patterns` are counted against: the sampled universe's when any of them
        was read only inside it, else these."""
        sampling = self.sampling
        if sampling is None or not sampling.holds(patterns):
            return self
        return Totals(
            events=sampling.events,
            requests=sampling.requests if self.requests is not None else None,
            baseline_events=sampling.baseline_events,
            baseline_requests=(
                sampling.baseline_requests if self.baseline_requests is not None else None
            ),
            sampling=sampling,
        )

    @property
    def requests_label(self) -> str:
        """The header's word on requests: `1,234 requests`, or `no request ids` without them
        (never `0 requests`, which would say that none came); `≈` marks an estimate."""
        if self.requests is None:
            return "no request ids"
        return f"{'≈' if 'requests' in self.estimated else ''}{self.requests:,} requests"


@dataclass
class Report:
    """Everything a renderer needs: the window, the totals, the ranked issues and warnings.

    `patterns` are all mined patterns, of the window and its baseline (the issues hold only
    theirs): change events and postmortem evidence come from them.
    """

    window: Window
    baseline: Window | None
    source: str
    totals: Totals
    issues: list[Issue]
    headline: str = ""
    warnings: list[str] = field(default_factory=list)
    overview: Overview | None = None
    patterns: list[Pattern] = field(default_factory=list)
    # Deploys, rollbacks, restarts, config reloads and scaling in the window: never issues.
    changes: list[Rollout] = field(default_factory=list)
    # Numbers in log lines that warned of trouble (`analyze.indicators`), earliest first.
    leading_indicators: list[LeadingIndicator] = field(default_factory=list)
