"""Vanished work: normal patterns whose rate stopped, as evidence and as issues of their own.

A service that fails may log nothing about it: its normal lines simply stop, while its callers
carry on (and may report errors that name it). A pattern below warning level (info, debug)
whose change against the baseline is `stopped` (`change.py`: significant, among the requests of
its context, down to at most `stopped_fraction` of what the baseline predicts) is such evidence,
when it was regular work: seen in at least half of the baseline's minutes (a restart's few lines
are not a rhythm that can stop; a warning or error that stops, such as a `503` access line after
an incident, is a problem going away, not one starting).

The requests the stop affected are those that reached its context but not it: the operation
went as far as the step before and no further. When the baseline says the context nearly always
led to the pattern (`_DETERMINED`), that set is the impact; otherwise only its size beyond the
baseline's expectation is known, and the impact is an estimate.

A stop joins the issue of logged events that explains it: a fresh failure (errors, new or
rising: what was there at its usual rate did not cause what is new, and a request that only
warned still did its work), outside whose requests the pattern has not stopped (it is above
`stopped_fraction` of its baseline share). The lines that stopped and
the errors logged instead are then one problem, whichever service logs them (a checkout that
fails on a database error no longer logs "order placed"). The other stops form one issue of
kind `stopped` per service.

Which of the two is the cause depends on who waited for whom. Usually the errors are: the
database error comes before the point where "order placed" would have been. But a service that
began a step and never finished it (its context is its own line, logged; the stopped line is
not), that logs no warning or error of its own in those requests, makes its caller wait; the
caller's error (a timeout that names nobody) then comes after the step began, and in the
baseline the caller's service logs after the stopped line (it waits for that work). Then the
stop is the cause: the errors join the stop's issue, as what it led to.
"""

from __future__ import annotations

import numpy as np

from logsense.analyze.change import Change
from logsense.analyze.group import Group, age
from logsense.analyze.request_sets import earlier_in_shared
from logsense.config import ChangeConfig
from logsense.model import Evidence, Pattern, Stopped, level_rank, short_template
from logsense.requestmap import RequestMap, RequestSet, earlier

__all__ = ["attach_stops", "stopped_patterns"]

# A context that led to the pattern in at least this share of baseline requests determines it.
_DETERMINED = 0.8
_ERROR = level_rank("error")
_WARN = level_rank("warn")


def stopped_patterns(patterns: list[Pattern], changes: dict[str, Change]) -> list[Stopped]:
    """The patterns below warning level that stopped and were regular work (seen in at least
    half of the baseline's minutes that have events), the most significant first.

    In logs with request ids, a line that has none (a health check, a scheduler's tick) is
    background, not work: it is compared as a share of all events, which falls whenever a loud
    line starts, and it serves no request whose loss could be counted.
    """
    minutes = set().union(*(p.baseline_per_minute.keys() for p in patterns))
    with_requests = any(p.requests or p.baseline_requests for p in patterns)
    found = [
        Stopped(p, change)
        for p in patterns
        if level_rank(p.level) < _WARN
        and (change := changes.get(p.id)) is not None
        and change.trend == "stopped"
        and not (with_requests and change.basis == "events")
        and len(p.baseline_per_minute) * 2 >= len(minutes)
    ]
    return sorted(found, key=lambda s: (s.change.p_value, s.pattern.id))


def attach_stops(
    groups: list[Group],
    stops: list[Stopped],
    changes: dict[str, Change],
    config: ChangeConfig,
    patterns: list[Pattern] | None = None,
) -> list[Group]:
    """Put each stop with the events group it explains, or that group with the stop when the
    stop caused it (`patterns`: all of the window's, to see who waits for whom in the
    baseline); return `groups` without the groups that joined a stop, and a `stopped` group
    per service for the stops that are not part of an events group."""
    alone: dict[str, list[Stopped]] = {}
    caused: dict[str, list[Group]] = {}
    fresh = [
        g
        for g in groups
        if g.kind == "events"
        and level_rank(g.root.level) >= _ERROR
        and g.requests
        and age(g.core or [g.root], changes) == "fresh"
    ]
    for stop in stops:
        host = _explaining_group(fresh, stop, config.stopped_fraction)
        service = stop.pattern.service
        if host is not None and _waited_for(stop, host, patterns or []):
            fresh.remove(host)
            caused.setdefault(service, []).append(host)
            host = None
        if host is None:
            alone.setdefault(service, []).append(stop)
        else:
            host.stopped.append(stop)
    joined = {id(g) for hosts in caused.values() for g in hosts}
    kept = [g for g in groups if id(g) not in joined]
    return kept + [
        _group(service, found, caused.get(service, [])) for service, found in alone.items()
    ]


def _waited_for(stop: Stopped, host: Group, patterns: list[Pattern]) -> bool:
    """True when the stop caused `host`'s errors: its service began the step (its context is
    its own line) and logs no warning or error in `host`, `host`'s root comes after that
    beginning in most requests, and in the baseline the root's service logs after the stopped
    line in most requests they share (it waits for that work)."""
    pattern, context, root = stop.pattern, stop.change.context, host.root
    service = pattern.service
    if context is None or context.service != service or root.service == service:
        return False
    if any(p.service == service and level_rank(p.level) >= _WARN for p in host.patterns):
        return False
    together, first = earlier_in_shared(context.requests, root.requests)
    if not together or first * 2 <= together:
        return False
    waiting = [
        p
        for p in patterns
        if p.service == root.service and level_rank(p.level) < _WARN and p.baseline_requests
    ]
    if not waiting:
        return False
    stopped = pattern.baseline_requests
    shared, after = _followed(stopped, [p.baseline_requests for p in waiting])
    return shared * 2 >= len(stopped) and after * 2 > shared


def _followed(first: RequestMap, others: list[RequestMap]) -> tuple[int, int]:
    """(how many of `first`'s requests have an event of `others`, in how many of them one
    comes after `first`'s)."""
    shared = np.zeros(len(first), dtype=bool)
    after = np.zeros(len(first), dtype=bool)
    for other in others:
        _, mine, theirs = np.intersect1d(
            first.ids, other.ids, assume_unique=True, return_indices=True
        )
        shared[mine] = True
        after[mine[earlier(first, mine, other, theirs)]] = True
    return int(np.count_nonzero(shared)), int(np.count_nonzero(after))


def affected_requests(stop: Stopped) -> RequestSet:
    """The window requests that reached the stop's context but not the pattern (empty when the
    context did not nearly always lead to it, or there is no context)."""
    context = stop.change.context
    if context is None or stop.change.baseline_share < _DETERMINED:
        return RequestSet.empty()
    return context.requests - stop.pattern.requests


def _explaining_group(groups: list[Group], stop: Stopped, fraction: float) -> Group | None:
    """Of `groups`, the one outside whose requests the stopped pattern has not stopped; the
    one that restores it most."""
    change, pattern = stop.change, stop.pattern
    context = change.context.requests if change.context is not None else None
    best: tuple[float, Group] | None = None
    for group in groups:
        failed = group.requests & context if context is not None else group.requests
        left = change.now_total - len(failed)
        still = change.now - pattern.requests.shared(failed)
        restored = still / left if left > 0 else 1.0
        if restored > fraction * change.baseline_share and (best is None or restored > best[0]):
            best = (restored, group)
    return None if best is None else best[1]


def _group(service: str, stops: list[Stopped], caused: list[Group]) -> Group:
    """A `stopped` group: the service's stopped patterns, the most significant as its root,
    and the errors they `caused` (their groups' patterns and requests)."""
    root = stops[0]
    requests = RequestSet.union(affected_requests(s) for s in stops)
    evidence = [_evidence(stop) for stop in stops]
    estimate = None if requests else round(-sum(s.change.excess for s in stops))
    patterns = [s.pattern for s in stops]
    stopped = list(stops)
    for host in caused:
        evidence.append(_waited_evidence(root, host))
        patterns += [p for p in host.patterns if p not in patterns]
        stopped += host.stopped
        requests |= host.requests
    if estimate is not None and caused:
        estimate = max(estimate, len(requests))
    return Group(
        patterns, root.pattern, _why(root), requests, kind="stopped",
        evidence=evidence, stopped=stopped, change=root.change, estimate=estimate,
    )  # fmt: skip


def _why(stop: Stopped) -> str:
    """Why the stopped pattern's service is the root cause, from computed numbers only (no log
    text: the LLM guard takes this sentence's numbers as facts)."""
    change = stop.change
    among = "its context's requests" if change.context is not None else "all requests"
    return (
        f"its regular line stopped: in {change.before} of {change.before_total} of "
        f"{among} in the baseline, {change.now} of {change.now_total} now"
    )


def _waited_evidence(stop: Stopped, host: Group) -> Evidence:
    root, pattern = host.root, stop.pattern
    text = (
        f"{root.service}'s “{short_template(root.template, 60)}” comes after "
        f"{pattern.service} began the step that stopped, in {len(host.requests)} requests: "
        f"{root.service} waited for {pattern.service}"
    )
    return Evidence("caller_waited", pattern.service, text, root.id)


def _evidence(stop: Stopped) -> Evidence:
    change, pattern = stop.change, stop.pattern
    among = (
        f"of the requests that logged {change.context.service} "
        f"“{short_template(change.context.template, 60)}”"
        if change.context is not None
        else "of all requests"
    )
    text = (
        f"{pattern.service} stopped logging “{short_template(pattern.template, 80)}”: "
        f"{change.baseline_share:.0%} "
        f"{among} had it in the baseline ({change.before} of {change.before_total}), "
        f"{change.share:.0%} now ({change.now} of {change.now_total})"
    )
    numbers: dict[str, float | int | str] = {
        "before": change.before,
        "before_total": change.before_total,
        "now": change.now,
        "now_total": change.now_total,
        "p_value": change.p_value,
    }
    return Evidence("stopped", pattern.service, text, pattern.id, numbers)
