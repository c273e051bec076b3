"""Change against the baseline: is a pattern new, rising, steady, falling, or has it stopped?

A pattern's requests in the window are compared with its requests in the baseline *among the
requests of its context*: the normal (info or debug) pattern that comes before it in almost all
of its requests, the step of the same operation that leads to it. A pattern is so compared with
the traffic that could have produced it: an error that always follows a given call does not
"rise" because that call was made more often, and a service's line has not "stopped" because
fewer requests of its kind came in. Where no pattern qualifies (or the context has no baseline),
the comparison is among all requests; without request ids, among all events. There, a pattern
the baseline had is compared with the window's events *at the baseline's mix*: the baseline's
events scaled by how much the typical pattern of both periods changed (the median ratio, weighted
by baseline events; with fewer than `_MIN_SCALED` such patterns, by how much longer the window
is). A flood of new lines (an error and its stack trace, one event per line), or a loud line
that stops, must not make the steady lines look as if they fell or rose.

The test is exact and one-sided. Given how many context requests had the pattern in both periods
together, it asks how likely a split at least this uneven is when both periods share one rate
(hypergeometric). A change is significant below `alpha`. A pattern has *stopped* when it fell
significantly and now appears in at most `stopped_fraction` of the requests the baseline leads
one to expect; it is *new* when the baseline never had it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from logsense.analyze.request_sets import earlier_in_shared, incidence
from logsense.config import ChangeConfig
from logsense.model import Pattern, Sampling, Totals, level_rank
from logsense.requestmap import RequestMap, RequestSet

__all__ = ["Change", "Trend", "compare", "fdr_cutoff", "issue_change", "pattern_changes"]

Trend = Literal["new", "rising", "steady", "falling", "stopped"]
Basis = Literal["requests", "events"]
# A context must hold this share of the pattern's requests (window and baseline together).
_CONTEXT_CONTAINMENT = 0.9
# Contexts tried per pattern, smallest first (each costs one comparison of request orders).
_CONTEXT_TRIES = 4
# Patterns expected in fewer requests than this cannot be seen to stop.
_MIN_EXPECTED_STOP = 3.0
# Patterns in both periods needed to tell the typical change (fewer: all events are the basis).
_MIN_SCALED = 3


@dataclass(frozen=True, slots=True)
class Change:
    """A pattern's (or issue's) count now and in the baseline, out of its context's, and the
    verdict of the test."""

    basis: Basis
    now: int
    now_total: int
    before: int
    before_total: int
    p_value: float
    trend: Trend
    significant: bool
    # The pattern whose requests both counts are out of; None: all requests (or events).
    context: Pattern | None = None

    @property
    def share(self) -> float:
        """Share of the context's requests (or events) in the window."""
        return self.now / self.now_total if self.now_total else 0.0

    @property
    def baseline_share(self) -> float:
        """Share of the context's requests (or events) in the baseline."""
        return self.before / self.before_total if self.before_total else 0.0

    @property
    def ratio(self) -> float | None:
        """Window share over baseline share; None when the baseline never had it."""
        return self.share / self.baseline_share if self.before else None

    @property
    def expected(self) -> float:
        """How many the window would hold at the baseline's share."""
        return self.baseline_share * self.now_total

    @property
    def excess(self) -> float:
        """How many more the window holds than the baseline's share predicts (negative: fewer)."""
        return self.now - self.expected

    @property
    def worsened(self) -> bool:
        """True for a significant rise or a new pattern: something started or grew."""
        return self.significant and self.trend in ("new", "rising")


def compare(
    now: int,
    now_total: int,
    before: int,
    before_total: int,
    config: ChangeConfig,
    basis: Basis = "requests",
    context: Pattern | None = None,
) -> Change:
    """Test `now` of `now_total` against `before` of `before_total`: one rate in both periods?"""
    found = _verdicts([(now, now_total, before, before_total)], config, basis)[0]
    return replace(found, context=context)


def pattern_changes(
    patterns: list[Pattern], totals: Totals, config: ChangeConfig, span_ratio: float = 1.0
) -> tuple[dict[str, Change], ChangeConfig]:
    """The change of every pattern against the baseline, by pattern id, each among the
    requests of its context (none when the baseline holds no events), and the settings that
    later tests of the same report use. `span_ratio` is the window's length over the part of
    the baseline the input covers.

    Hundreds of patterns are tested at once, so significance controls the false discovery rate
    at `alpha` (Benjamini-Hochberg): the returned settings carry the p-value cutoff that the
    patterns' tests ended with, and issues and hops are held to the same cutoff.
    """
    if not totals.baseline_events:
        return {}, config
    with_requests = [p for p in patterns if p.requests or p.baseline_requests]
    contexts = (
        _contexts(with_requests, totals.sampling)
        if totals.requests and totals.baseline_requests
        else {}
    )
    counts: list[tuple[int, int, int, int]] = []
    bases: list[Basis] = []
    chosen: list[Pattern | None] = []
    scale = _typical_ratio(patterns) or span_ratio
    for pattern in patterns:
        context = _used_context(contexts.get(pattern.id))
        events = (pattern.count, pattern.baseline_count)
        against = totals.within([pattern])
        events_total = against.events
        if pattern.baseline_count:
            events_total = max(round(against.baseline_events * scale), pattern.count)
        now, before = pattern.requests, pattern.baseline_requests
        counts.append(_counts(now, before, events, events_total, context, against))
        bases.append("requests" if now or before else "events")
        chosen.append(context)
    tested = [p_value for c in counts if c[1] and c[3] for p_value in _p_values([c])]
    cutoff = config.model_copy(update={"alpha": fdr_cutoff(tested, config.alpha)})
    changes: dict[str, Change] = {}
    for basis in ("requests", "events"):
        picked = [i for i, b in enumerate(bases) if b == basis]
        found = _verdicts([counts[i] for i in picked], cutoff, basis)
        for i, change in zip(picked, found, strict=True):
            changes[patterns[i].id] = replace(change, context=chosen[i])
    return changes, cutoff


def _typical_ratio(patterns: list[Pattern]) -> float | None:
    """How the window's events compare with the baseline's for the typical pattern seen in
    both: the median of window/baseline counts, weighted by baseline counts; None when fewer
    than `_MIN_SCALED` patterns were seen in both."""
    both = [p for p in patterns if p.count and p.baseline_count]
    if len(both) < _MIN_SCALED:
        return None
    ratios = np.array([p.count / p.baseline_count for p in both])
    weights = np.array([p.baseline_count for p in both], dtype=np.float64)
    order = np.argsort(ratios)
    cumulative = np.cumsum(weights[order])
    return float(ratios[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def fdr_cutoff(p_values: list[float], rate: float) -> float:
    """The Benjamini-Hochberg cutoff: the largest p-value p(k) with p(k) <= k/m * rate, or the
    first step (rate/m) when none is; tests at or below it are discoveries."""
    m = len(p_values)
    if not m:
        return rate
    ordered = np.sort(np.asarray(p_values))
    steps = rate * np.arange(1, m + 1) / m
    passing = np.nonzero(ordered <= steps)[0]
    return float(ordered[passing[-1]]) if len(passing) else rate / m


def issue_change(
    core: list[Pattern], root_change: Change | None, totals: Totals, config: ChangeConfig
) -> Change | None:
    """The change of an issue's own problem: the requests of its `core` (the root and the
    patterns that say the same) now and in the baseline, among the requests of the root's
    context; None without a baseline. Symptoms that joined it are left out: a chronic outcome
    that a new failure now also leads to does not make the new failure look chronic."""
    if root_change is None:
        return None
    now = RequestSet.union(p.requests for p in core)
    before = RequestSet.union(p.baseline_requests for p in core)
    against = totals.within(core)
    if against.sampling is not None and against is not totals:
        now, before = now & against.sampling.members, before & against.sampling.members
    events = (sum(p.count for p in core), sum(p.baseline_count for p in core))
    counts = _counts(now, before, events, root_change.now_total, root_change.context, against)
    return compare(*counts, config, root_change.basis, _used_context(root_change.context))


def _counts(
    now: RequestSet,
    before: RequestSet,
    events: tuple[int, int],
    events_total: int,
    context: Pattern | None,
    totals: Totals,
) -> tuple[int, int, int, int]:
    """(now, now total, before, before total): the requests `now` and `before` among `context`'s
    requests if given (and its baseline has some), else among all requests; without requests,
    the (window, baseline) `events` among the window's `events_total` and all baseline events."""
    used = _used_context(context)
    if used is not None:
        return (
            now.shared(used.requests),
            len(used.requests),
            before.shared(used.baseline_requests),
            len(used.baseline_requests),
        )
    if now or before:
        return len(now), totals.requests or 0, len(before), totals.baseline_requests or 0
    return events[0], events_total, events[1], totals.baseline_events


def _used_context(context: Pattern | None) -> Pattern | None:
    """The context, if it can be used: one without a baseline cannot."""
    return context if context is not None and context.baseline_requests else None


def _contexts(patterns: list[Pattern], sampling: Sampling | None = None) -> dict[str, Pattern]:
    """Each pattern's context, by pattern id: the smallest normal pattern that holds almost all
    of its requests (window and baseline together) and comes first in most of them. With a
    `sampling`, patterns read in full are compared by their requests inside the universe, as
    the sampled ones can only be."""
    from scipy import sparse

    pool = [i for i, p in enumerate(patterns) if level_rank(p.level) < 2]
    if not pool:
        return {}
    sets = [_all_requests(p) for p in patterns]
    if sampling is not None:
        sets = [
            s if p.id in sampling.patterns else sampling.inside(s)
            for p, s in zip(patterns, sets, strict=True)
        ]
    sizes = np.array([len(s) for s in sets])
    matrix = incidence(sets)
    shared = sparse.csr_matrix(matrix @ matrix[pool].T)
    found: dict[str, Pattern] = {}
    for i, pattern in enumerate(patterns):
        row = shared.getrow(i)
        holders = [
            pool[j] for j, n in zip(row.indices.tolist(), row.data.tolist(), strict=True)
            if pool[j] != i and n >= _CONTEXT_CONTAINMENT * sizes[i]
        ]  # fmt: skip
        for j in sorted(holders, key=lambda j: (sizes[j], patterns[j].id))[:_CONTEXT_TRIES]:
            together, first = earlier_in_shared(sets[j], sets[i])
            if first > together - first:
                found[pattern.id] = patterns[j]
                break
    return found


def _all_requests(pattern: Pattern) -> RequestMap:
    """The pattern's requests of the window and the baseline (a request in both: its first)."""
    return RequestMap.earliest([pattern.requests, pattern.baseline_requests])


def _verdicts(
    counts: list[tuple[int, int, int, int]], config: ChangeConfig, basis: Basis = "requests"
) -> list[Change]:
    """`compare` for many (now, now total, before, before total) at once (SciPy's
    hypergeometric tails are vectorized)."""
    changes = []
    for (n, nt, b, bt), p_value in zip(counts, _p_values(counts), strict=True):
        expected = b / bt * nt if bt else 0.0
        significant = bool(bt and nt and p_value <= config.alpha)
        trend = _trend(n, b, expected, significant, config)
        changes.append(Change(basis, n, nt, b, bt, p_value, trend, significant))
    return changes


def _p_values(counts: list[tuple[int, int, int, int]]) -> list[float]:
    """One-sided p-value of each (now, now total, before, before total), in the direction of
    the change."""
    if not counts:
        return []
    from scipy import stats

    now, now_total, before, before_total = (
        np.array(c, dtype=np.int64) for c in zip(*counts, strict=True)
    )
    population = now_total + before_total
    drawn = now + before
    upper = stats.hypergeom.sf(now - 1, population, drawn, now_total)
    lower = stats.hypergeom.cdf(now, population, drawn, now_total)
    rose = now * np.maximum(before_total, 1) > before * now_total
    found = np.where(rose, upper, lower)
    return [1.0 if math.isnan(p) else min(max(float(p), 0.0), 1.0) for p in found]


def _trend(
    now: int, before: int, expected: float, significant: bool, config: ChangeConfig
) -> Trend:
    if not before:
        return "new" if now else "steady"
    if not significant:
        return "steady"
    if now > expected:
        return "rising"
    stopped = expected >= _MIN_EXPECTED_STOP and now <= config.stopped_fraction * expected
    return "stopped" if stopped else "falling"
