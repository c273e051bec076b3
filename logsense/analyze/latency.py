"""Latency from the logs' own clocks: the steps inside requests that slowed, and whose they are.

Two clocks: the gaps between a request's events, and the durations messages write themselves
(`took 1234ms`, `in 3.2 s`: the native table reads the first number with a unit of time in the
messages of every shape whose first message has one). A pattern's written durations are tested
like a hop from the pattern to itself, and blame its service.

Inside a request, the time from one event to the next is a *hop*; the native table measures
every hop and keys it by the two events' shapes, with a bounded uniform sample of gaps for the
baseline and for the window (`Mined.hops`). Mapped to patterns, a hop slowed when

- the share of its window gaps above the baseline's 95th percentile grew beyond chance (the test
  of `change.compare`: about 5% of gaps exceed it while nothing changed), and
- its median gap grew at least `slow_ratio` times and by at least `min_slowdown` seconds.

The gap before an event is spent on the way to that event's service and in it (queued, starved
of CPU), the gap after it on the way back; so a hop blames both its services, or its one service
when both events are of the same one. The slowed service is the one the slowed hops blame most,
weighted by how many requests each slowed: a starved service slows the hops into it and within
it, a delayed network the hops out of it; its callers each see one hop of theirs slow. Each
slowed hop is put with the service of its two that is blamed more, and each such service becomes
one issue of kind `slow`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from logsense.analyze.change import Change, compare, fdr_cutoff
from logsense.analyze.group import Group
from logsense.config import ChangeConfig
from logsense.model import Evidence, Pattern, SlowHop, short_template

__all__ = ["slow_groups"]

# Gaps needed in each period's sample before a hop is compared, and slow gaps (above the
# baseline's 95th percentile) needed in the window before it counts as slowed.
_MIN_GAPS = 5
_MIN_SLOW = 5
_QUANTILE = 0.95

# Gaps (seconds) with the request they were measured in; written durations have none.
GapSample = list[tuple[float, str | None]]
HopRow = tuple[int, int, int, int, list[tuple[float, str]], list[tuple[float, str]]]


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
    hop: SlowHop
    change: Change
    requests: set[str]
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
    blame: dict[str, float] = {}
    for item in slowed:
        for service, weight in _blamed(item.hop).items():
            blame[service] = blame.get(service, 0.0) + weight * item.excess
    by_service: dict[str, list[_Slowed]] = {}
    for item in slowed:
        services = list(_blamed(item.hop))
        owner = max(services, key=lambda s: (blame[s], s == item.hop.target.service))
        by_service.setdefault(owner, []).append(item)
    return [_group(service, items) for service, items in by_service.items()]


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
            found.append(
                _Hop(pattern, pattern, baseline_count, count,
                     [(s, None) for s in baseline], [(s, None) for s in window])
            )  # fmt: skip
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
    requests = {request for gap, request in hop.window if gap > threshold and request is not None}
    found = SlowHop(
        hop.source, hop.target, before_median, median, hop.count, slow_now, len(now),
        change.p_value,
    )  # fmt: skip
    return _Slowed(found, change, requests, change.excess * hop.count / len(now))


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
    requests = set().union(*(item.requests for item in items))
    return Group(
        patterns, own[0], _why(strongest.hop), requests, kind="slow", evidence=evidence,
        slowed=hops, change=strongest.change,
        estimate=round(sum(item.excess for item in items)),
    )  # fmt: skip


def _why(hop: SlowHop) -> str:
    """Why the slowed service is the root cause, from computed numbers only (no log text)."""
    return (
        f"a step of its requests slowed from {_ms(hop.baseline_median)} to {_ms(hop.median)} "
        f"(median), {hop.slow} of {hop.sampled} sampled requests slower than 95% before"
    )


def _evidence(service: str, item: _Slowed) -> Evidence:
    hop = item.hop
    step = (
        f"the durations {hop.source.service} writes in “{short_template(hop.source.template, 60)}”"
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
