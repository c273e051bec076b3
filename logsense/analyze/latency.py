"""Latency from the logs' own clocks: the steps inside requests that slowed, and whose they are.

Two clocks: the gaps between a request's events, and the durations events carry themselves: in
a duration field (ECS `event.duration`, or a key naming its unit, `took_ms`: see `FieldMap`), or
written in the message (`took 1234ms`, `in 3.2 s`: the native table reads the first number with
a unit of time in the messages of every shape whose first message has one). A pattern's own
durations are tested like a hop from the pattern to itself, and blame its service.

Inside a request, the time from one event to the next is a *hop*; the native table measures
every hop and keys it by the two events' shapes, with a bounded uniform sample of gaps for the
baseline and for the window (`Mined.hops`). Mapped to patterns, a hop slowed when

- the share of its window gaps above the baseline's 95th percentile grew beyond chance (the test
  of `change.compare`: about 5% of gaps exceed it while nothing changed), and
- its median gap grew at least `slow_ratio` times and by at least `min_slowdown` seconds.

The gap before an event is spent on the way to that event's service and in it (queued, starved
of CPU), the gap after it on the way back; so a hop can be explained by its target's service
being slow (a starved service slows every hop into it and within it) or by its source's being
late to send (a delayed network slows every hop out of it). Each service is scored in both
directions: the slowed traversals it explains there, times the share of all its hops in that
direction that they are. A gateway whose answers from one service arrive late explains them as
well as that service does, but most of its other incoming hops stayed fast; the late service's
outgoing hops all slowed. Each slowed hop is put with the service of its two that scores higher
(its target on a tie), and each such service becomes one issue of kind `slow`.

A service that logs nothing before it calls others hides in the hops into and between its
callees: its late calls, its wait for CPU, make a callee look slow both ways. A service's
slowed hops therefore join those of a service that logs after them in almost all of their
slowed requests (it waited: its caller, or a caller further up) when that one's own hops
slowed too and it explains at least half as much.

How many requests slowed is estimated per hop from its window sample: above the baseline's
median half of the unchanged gaps lie, and nearly every slowed one, also when it stayed below
the tail the test looks at; so 2 × (share above the median) − 1 of its traversals slowed. An
issue counts each request once: a service's two lines, or a line and the hop out of it, slowed
the same requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from logsense.analyze.change import Change, compare, fdr_cutoff
from logsense.analyze.group import Group, age
from logsense.config import ChangeConfig
from logsense.model import Evidence, Pattern, SlowHop, level_rank, short_template
from logsense.requestmap import RequestSet, run_starts

__all__ = ["attach_slowdowns", "slow_groups"]

# Gaps needed in each period's sample before a hop is compared, and slow gaps (above the
# baseline's 95th percentile) needed in the window before it counts as slowed.
_MIN_GAPS = 5
_MIN_SLOW = 5
_QUANTILE = 0.95
_ERROR = level_rank("error")
# A callee's slowed hops join its caller's when the caller logs after it in this share of the
# callee's slowed requests.
_INSIDE = 0.9

# Seconds measured with the request they were measured in (its id number; None: a line
# without one).
GapSample = list[tuple[float, int | None]]
Ids = npt.NDArray[np.uint32]
Times = npt.NDArray[np.float64]
HopRow = tuple[int, int, int, int, GapSample, GapSample]


@dataclass
class _Hop:
    """One hop between two patterns, its samples merged over their shapes."""

    source: Pattern
    target: Pattern
    baseline_count: int = 0
    count: int = 0
    baseline: GapSample = field(default_factory=list)
    window: GapSample = field(default_factory=list)


@dataclass(frozen=True)
class _Slowed:
    """A slowed hop: its test, the sampled requests whose gap passed the baseline's tail, and
    how many of its traversals slowed (estimated from the sample)."""

    hop: SlowHop
    change: Change
    requests: RequestSet
    excess: float


def slow_groups(
    hops: Sequence[HopRow], shape_patterns: Sequence[Pattern], config: ChangeConfig
) -> list[Group]:
    """One group of kind `slow` per service that the significantly slowed hops blame.

    The hops are many tests of one report: they are held to a false discovery rate of
    `config.alpha` among themselves (Benjamini-Hochberg)."""
    candidates = [*_merged(hops, shape_patterns), *_written(shape_patterns)]
    tested = [found for hop in candidates if (found := _slowed(hop, config))]
    cutoff = fdr_cutoff([item.change.p_value for item in tested], config.alpha)
    slowed = [item for item in tested if item.change.p_value <= cutoff]
    if not slowed:
        return []
    scores = _scores(candidates, slowed)
    by_service: dict[str, list[_Slowed]] = {}
    for item in slowed:
        services = list(_blamed(item.hop))
        owner = max(services, key=lambda s: (scores[s], s == item.hop.target.service))
        by_service.setdefault(owner, []).append(item)
    return [_group(service, items) for service, items in _inside(by_service, scores, candidates)]


def attach_slowdowns(
    groups: list[Group], slow: list[Group], changes: dict[str, Change]
) -> list[Group]:
    """Put each slow group with the problem that explains it, and return the others: a stop,
    or a fresh failure (errors, new or rising), in whose requests most of its slowed (sampled)
    requests are. A request that waits for work that never ends, or for an answer that fails,
    is slow too: that slowness is part of the problem, measured wherever its lines are (an
    edge's access log writes the whole request's time)."""
    hosts = [
        g
        for g in groups
        if g.requests
        and (
            g.kind == "stopped"
            or (
                g.kind == "events"
                and level_rank(g.root.level) >= _ERROR
                and age(g.core or [g.root], changes) == "fresh"
            )
        )
    ]
    alone = []
    for group in slow:
        host = max(hosts, key=lambda h: h.requests.shared(group.requests), default=None)
        if (
            host is None
            or 2 * host.requests.shared(group.requests) < len(group.requests)
            or (not group.requests)
        ):
            alone.append(group)
            continue
        host.slowed.extend(group.slowed)
        host.evidence.extend(group.evidence)
    return alone


def _inside(
    by_service: dict[str, list[_Slowed]], scores: dict[str, float], merged: list[_Hop]
) -> list[tuple[str, list[_Slowed]]]:
    """The services' slowed hops, those of a callee put with its caller's (see the module's
    docstring): the caller logs after the callee began in almost all of the callee's slowed
    (sampled) requests, has slowed hops of its own and scores at least half as high; of several,
    the one in the fewest requests (the nearest)."""
    patterns = {p.id: p for hop in merged for p in (hop.source, hop.target)}
    first, last = _first_and_last(patterns.values())
    no_requests = (np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.float64))
    order = sorted(by_service, key=lambda s: (-scores[s], s))
    hosts = {service: service for service in order}
    for service in order:
        seen = RequestSet.union(item.requests for item in by_service[service])
        callers = [
            other
            for other in order
            if other != service
            and hosts[other] == other
            and scores[other] * 2 >= scores[service]
            and _waits(seen, first.get(service, no_requests), last.get(other, no_requests))
        ]
        if callers:
            hosts[service] = min(callers, key=lambda other: len(last.get(other, no_requests)[0]))
    for service in order:  # a caller that joined its own caller takes its callees along
        while hosts[hosts[service]] != hosts[service]:
            hosts[service] = hosts[hosts[service]]
    kept: dict[str, list[_Slowed]] = {}
    for service in order:
        kept.setdefault(hosts[service], []).extend(by_service[service])
    return list(kept.items())


def _first_and_last(
    patterns: Iterable[Pattern],
) -> tuple[dict[str, tuple[Ids, Times]], dict[str, tuple[Ids, Times]]]:
    """Per service, its requests (sorted ids) with the time of its first event in each of them
    (of its patterns' first events: the earliest), and with the latest of those times."""
    by_service: dict[str, list[Pattern]] = {}
    for pattern in patterns:
        by_service.setdefault(pattern.service, []).append(pattern)
    first: dict[str, tuple[Ids, Times]] = {}
    last: dict[str, tuple[Ids, Times]] = {}
    for service, found in by_service.items():
        ids = np.concatenate([p.requests.ids for p in found])
        times = np.concatenate([p.requests.times for p in found])
        by = np.argsort(ids, kind="stable")
        ids, times = ids[by], times[by]
        starts = run_starts(ids)
        if not len(starts):
            first[service] = last[service] = (ids, times)
            continue
        first[service] = (ids[starts], np.minimum.reduceat(times, starts))
        last[service] = (ids[starts], np.maximum.reduceat(times, starts))
    return first, last


def _waits(requests: RequestSet, callee: tuple[Ids, Times], caller: tuple[Ids, Times]) -> bool:
    """True when in almost all of `requests` the caller logs after the callee began."""
    if not requests:
        return False
    both, in_callee, in_caller = np.intersect1d(
        callee[0], caller[0], assume_unique=True, return_indices=True
    )
    waited = both[caller[1][in_caller] > callee[1][in_callee]]
    after = np.count_nonzero(np.isin(requests.ids, waited, assume_unique=True))
    return bool(after >= _INSIDE * len(requests))


def _scores(merged: list[_Hop], slowed: list[_Slowed]) -> dict[str, float]:
    """How well each service explains the slowed hops: in the better of its two directions
    (hops into and within it, hops out of it), the excess of the slowed ones there times the
    share of that direction's traversals (of all hops compared) that the excess is."""
    excess = {(item.hop.source.id, item.hop.target.id): item.excess for item in slowed}
    # (service, True): hops into and within it; (service, False): hops out of it.
    traversals: dict[tuple[str, bool], float] = {}
    explained: dict[tuple[str, bool], float] = {}
    for hop in merged:
        if len(hop.baseline) < _MIN_GAPS or len(hop.window) < _MIN_GAPS:
            continue
        found = excess.get((hop.source.id, hop.target.id), 0.0)
        ends = [(hop.target.service, True)]
        if hop.source.service != hop.target.service:
            ends.append((hop.source.service, False))
        for end in ends:
            traversals[end] = traversals.get(end, 0.0) + hop.count
            explained[end] = explained.get(end, 0.0) + found
    scores: dict[str, float] = {}
    for end, total in traversals.items():
        service = end[0]
        score = explained[end] ** 2 / total if total else 0.0
        scores[service] = max(scores.get(service, 0.0), score)
    return scores


def _merged(hops: Sequence[HopRow], shape_patterns: Sequence[Pattern]) -> list[_Hop]:
    """The hops between patterns: those between their shapes, added up."""
    merged: dict[tuple[str, str], _Hop] = {}
    for source, target, baseline_count, count, baseline, window in hops:
        a, b = shape_patterns[source], shape_patterns[target]
        hop = merged.setdefault((a.id, b.id), _Hop(a, b))
        hop.baseline_count += baseline_count
        hop.count += count
        hop.baseline.extend(baseline)
        hop.window.extend(window)
    return list(merged.values())


def _written(shape_patterns: Sequence[Pattern]) -> list[_Hop]:
    """The durations patterns write, each as a hop from the pattern to itself."""
    found = []
    for pattern in dict.fromkeys(shape_patterns):
        if pattern.durations is not None:
            baseline_count, count, baseline, window = pattern.durations
            found.append(_Hop(pattern, pattern, baseline_count, count, baseline, window))
    return found


def _slowed(hop: _Hop, config: ChangeConfig) -> _Slowed | None:
    """The hop as a candidate, if its gaps grew by enough; its test says if significantly."""
    if len(hop.baseline) < _MIN_GAPS or len(hop.window) < _MIN_GAPS:
        return None
    before = np.array([gap for gap, _ in hop.baseline])
    now = np.array([gap for gap, _ in hop.window])
    before_median, median = float(np.median(before)), float(np.median(now))
    if median < config.slow_ratio * before_median or median - before_median < config.min_slowdown:
        return None
    threshold = float(np.quantile(before, _QUANTILE))
    slow_now = int(np.count_nonzero(now > threshold))
    change = compare(
        slow_now, len(now), int(np.count_nonzero(before > threshold)), len(before), config
    )
    if change.excess <= 0 or slow_now < _MIN_SLOW:
        return None
    slow_ids = [request for gap, request in hop.window if gap > threshold and request is not None]
    # A gap inside a request ends at an event of it: the target pattern holds that request, so
    # its names are the ones these ids number.
    requests = RequestSet(np.unique(np.array(slow_ids, dtype=np.uint32)), hop.target.requests.names)
    found = SlowHop(
        hop.source, hop.target, before_median, median, hop.count, slow_now, len(now),
        change.p_value,
    )  # fmt: skip
    above = float(np.count_nonzero(now > before_median)) / len(now)
    return _Slowed(found, change, requests, max(2 * above - 1, 0.0) * hop.count)


def _blamed(hop: SlowHop) -> dict[str, float]:
    """The services a slowed hop blames, with their shares of it."""
    if hop.source.service == hop.target.service:
        return {hop.target.service: 1.0}
    return {hop.source.service: 0.5, hop.target.service: 0.5}


def _group(service: str, items: list[_Slowed]) -> Group:
    """The `slow` group of `service`: its slowed hops, strongest first."""
    items.sort(key=lambda item: (-item.excess, item.change.p_value))
    hops = [item.hop for item in items]
    own = [p for hop in hops for p in (hop.target, hop.source) if p.service == service]
    patterns = list(dict.fromkeys([*own, *(p for hop in hops for p in (hop.source, hop.target))]))
    strongest = items[0]
    evidence = [_evidence(service, item) for item in items]
    requests = RequestSet.union(item.requests for item in items)
    return Group(
        patterns, own[0], _why(strongest.hop), requests, kind="slow", evidence=evidence,
        slowed=hops, change=strongest.change, estimate=round(_distinct(service, items)),
    )  # fmt: skip


def _why(hop: SlowHop) -> str:
    """Why the slowed service is the root cause, from computed numbers only (no log text)."""
    return (
        f"a step of its requests slowed from {_ms(hop.baseline_median)} to {_ms(hop.median)} "
        f"(median), {hop.slow} of {hop.sampled} sampled requests slower than 95% before"
    )


def _distinct(service: str, items: list[_Slowed]) -> float:
    """How many requests the slowed hops slowed, each counted once. Hops into one pattern (or
    out of one) add up: they are its traversals, which are its requests (times how often it
    comes in one). Between patterns, the requests two have in common are counted once, at the
    larger of their slowed shares: a service's two lines, or a line and the hop out of it, slowed
    the same requests."""
    sides: dict[tuple[str, bool], tuple[Pattern, float]] = {}
    for item in items:
        hop = item.hop
        into = hop.target.service == service or hop.source.service != service
        pattern = hop.target if into else hop.source
        per_request = len(pattern.requests) / max(pattern.count, len(pattern.requests), 1)
        _, excess = sides.get((pattern.id, into), (pattern, 0.0))
        sides[(pattern.id, into)] = (pattern, excess + item.excess * per_request)
    own = RequestSet.union(p.requests for p, _ in sides.values() if p.service == service)
    every = RequestSet.union(p.requests for p, _ in sides.values())
    counted = np.zeros(len(every), dtype=np.float64)
    total = 0.0
    for pattern, excess in sorted(sides.values(), key=lambda side: (-side[1], side[0].id)):
        # Another service's hops joined because their slowed requests pass through this one.
        requests = (
            pattern.requests.keys()
            if pattern.service == service
            else (pattern.requests & own or pattern.requests.keys())
        )
        if not requests:
            continue
        # A slowdown slows the same requests on every hop it touches (those after its onset):
        # of each request, only the part of this pattern's slowed share not already counted.
        share = min(excess / len(requests), 1.0)
        at = np.searchsorted(every.ids, requests.ids)
        before = counted[at]
        total += float(np.sum(np.maximum(share - before, 0.0)))
        counted[at] = np.maximum(before, share)
    return total


def _evidence(service: str, item: _Slowed) -> Evidence:
    hop = item.hop
    step = (
        f"the durations {hop.source.service} records in “{short_template(hop.source.template, 60)}”"
        if hop.written
        else f"the step from {hop.source.service} “{short_template(hop.source.template, 60)}” "
        f"to {hop.target.service} “{short_template(hop.target.template, 60)}”"
    )
    text = (
        f"{step} grew from {_ms(hop.baseline_median)} to {_ms(hop.median)} (median, "
        f"×{hop.ratio:.1f}); {hop.slow} of {hop.sampled} sampled took longer than 95% did before"
    )
    numbers: dict[str, float | int | str] = {
        "baseline_median_ms": round(hop.baseline_median * 1000, 3),
        "median_ms": round(hop.median * 1000, 3),
        "ratio": round(hop.ratio, 2),
        "slow": hop.slow,
        "sampled": hop.sampled,
        "p_value": hop.p_value,
    }
    return Evidence("slowed_hop", service, text, hop.target.id, numbers)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"
