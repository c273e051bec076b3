"""Mining: events → patterns with their stats, in one pass.

Each (service, level class) has its own Drain3 tree, so the same text at INFO and at ERROR, or in
two services, never shares a pattern. Messages are masked first (`masking.mask`); a masked shape
seen before skips Drain's tree search (the fast path). Drain compares the masked messages' words,
and each tree's templates are rendered and merged once at the end (`templates.TemplateTree`).
Events with a stack trace are split further by the trace's fingerprint, so two different crashes
behind one log line stay apart.
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from logsense.masking import kept_statuses, mask
from logsense.model import (
    LEVELS,
    Event,
    Pattern,
    Sample,
    Totals,
    Window,
    level_class,
    level_rank,
)
from logsense.sampling import BottomK
from logsense.stacktrace import fingerprint
from logsense.templates import TemplateTree

__all__ = [
    "PARALLEL_MIN_EVENTS",
    "Mined",
    "Miner",
    "PatternKey",
    "ShapeCounts",
    "count_shapes",
    "mine",
    "pattern_id",
    "shape_of",
]

_SHAPE_CACHE_LIMIT = 200_000
# Below this many events, starting worker processes costs more than it saves.
PARALLEL_MIN_EVENTS = 50_000

_RANK = {name: level_rank(name) for name in LEVELS}
_CLASS = {name: level_class(name) for name in LEVELS}
# Which Drain tree a message goes to: (service, level class, *kept HTTP status codes).
TreeKey = tuple[str, ...]
# (tree, Drain cluster id in it, stack fingerprint): where an event's stats go.
PatternKey = tuple[TreeKey, int, str | None]


def pattern_id(service: str, level_cls: str, template: str, stack: str | None) -> str:
    """A short id that depends only on what the pattern is, so it is the same in every run."""
    key = "\x1f".join((service, level_cls, template, stack or ""))
    return hashlib.blake2b(key.encode(), digest_size=6).hexdigest()


@dataclass
class Mined:
    """The patterns of a window and the window's totals."""

    patterns: list[Pattern]
    totals: Totals


# (service, level class, masked message, stack fingerprint): one shape of message.
ShapeKey = tuple[str, str, str, str | None]
_Entry = tuple[Pattern, BottomK[Event]]


def shape_of(event: Event) -> ShapeKey:
    """What mining keys an event by before Drain: its service, level class, masked message and
    stack fingerprint."""
    lcls = _CLASS[event.level]
    stack = None
    if event.stack_trace is not None:
        stack = fingerprint(event.message + "\n" + event.stack_trace)
    return event.service, lcls, mask(event.message, routine=lcls == "info"), stack


class Miner:
    """Streams events into per-pattern stats. Call `add` per event, then `patterns()` once.

    `first_position` is the input position of the first event this miner sees (positions order
    events inside a request and choose samples, so chunks mined apart agree with a serial run).
    """

    def __init__(
        self,
        samples_per_pattern: int = 5,
        sim_th: float = 0.9,
        depth: int = 4,
        first_position: int = 0,
    ) -> None:
        self._samples_per_pattern = samples_per_pattern
        self._sim_th = sim_th
        self._depth = depth
        self._trees: dict[TreeKey, TemplateTree] = {}
        self._shapes: dict[tuple[str, str, str], tuple[TreeKey, int]] = {}
        self._stats: dict[PatternKey, _Entry] = {}
        self._final: dict[PatternKey, Pattern] = {}
        self._position = first_position

    def add(self, event: Event, in_window: bool = True) -> PatternKey:
        """Assign `event` to its pattern; count it in the window stats or just the baseline's.

        Returns a key that `pattern_of` turns into the event's final Pattern after `patterns()`.
        """
        service, lcls, masked, stack = shape_of(event)
        tree, cluster_id = self._cluster(service, lcls, masked)
        key = (tree, cluster_id, stack)
        entry = self._stats.get(key)
        if entry is None:
            entry = self._stats[key] = _new_entry(event, stack, self._samples_per_pattern)
        _tally(entry, event, in_window, self._position)
        self._position += 1
        return key

    def absorb(self, shapes: ShapeCounts) -> None:
        """Fold in the shape counts of the events that follow those already added.

        Shapes meet Drain in the order they first occurred, exactly as `add` would have fed them.
        """
        for (service, lcls, masked, stack), (pattern, samples) in shapes.entries.items():
            tree, cluster_id = self._cluster(service, lcls, masked)
            key = (tree, cluster_id, stack)
            entry = self._stats.get(key)
            if entry is None:
                self._stats[key] = (pattern, samples)
            else:
                _merge_into(entry[0], pattern)
                entry[1].absorb(samples)
        self._position = shapes.end

    def _cluster(self, service: str, lcls: str, shape: str) -> tuple[TreeKey, int]:
        """The Drain tree and cluster of a masked message; a shape seen before skips the tree."""
        shape_key = (service, lcls, shape)
        found = self._shapes.get(shape_key)
        if found is None:
            tree = (service, lcls, *_status_codes(shape_key[2]))
            template_tree = self._trees.get(tree)
            if template_tree is None:
                template_tree = TemplateTree(self._depth, self._sim_th, max_children=100)
                self._trees[tree] = template_tree
            found = (tree, template_tree.add(shape_key[2]))
            if len(self._shapes) >= _SHAPE_CACHE_LIMIT:
                self._shapes.clear()
            self._shapes[shape_key] = found
        return found

    def patterns(self) -> list[Pattern]:
        """Final patterns: templates read from Drain now that they are fully generalized."""
        merged: dict[str, Pattern] = {}
        for key, (stats, samples) in self._stats.items():
            tree, cluster_id, stack = key
            template = self._trees[tree].template(cluster_id)
            pid = pattern_id(tree[0], tree[1], template, stack)
            stats.id, stats.template = pid, template
            stats.samples = [_sample(event) for event in samples.items]
            if pid in merged:
                _merge_into(merged[pid], stats)
            else:
                merged[pid] = stats
            self._final[key] = merged[pid]
        return list(merged.values())

    def pattern_of(self, key: PatternKey) -> Pattern:
        """The final Pattern of an event, by the key `add` returned; call after `patterns()`."""
        return self._final[key]


class ShapeCounts:
    """Stats per message shape for one chunk of the input, without Drain: the parallel part."""

    def __init__(self, samples_per_pattern: int, first_position: int) -> None:
        self.entries: dict[ShapeKey, _Entry] = {}
        self.end = first_position
        self._samples_per_pattern = samples_per_pattern

    def add(self, event: Event, in_window: bool) -> None:
        """Count `event` under its shape."""
        key = shape_of(event)
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = _new_entry(event, key[3], self._samples_per_pattern)
        _tally(entry, event, in_window, self.end)
        self.end += 1


def _new_entry(event: Event, stack: str | None, samples: int) -> _Entry:
    pattern = Pattern(id="", service=event.service, level=event.level, template="")
    pattern.fingerprint = stack
    return pattern, BottomK(samples)


def _tally(entry: _Entry, event: Event, in_window: bool, position: int) -> None:
    """Count one event into a pattern's stats (or only its baseline count)."""
    pattern = entry[0]
    if not in_window:
        pattern.baseline_count += 1
        return
    ts = event.timestamp
    pattern.count += 1
    if ts < pattern.first_seen:
        pattern.first_seen = ts
    if ts > pattern.last_seen:
        pattern.last_seen = ts
    if _RANK[event.level] > _RANK[pattern.level]:
        pattern.level = event.level
    minute = int(ts // 60)
    pattern.per_minute[minute] = pattern.per_minute.get(minute, 0) + 1
    request = event.request_id
    if request is not None and request not in pattern.requests:
        pattern.requests[request] = (ts, position)
    if event.user_id is not None:
        pattern.users.add(event.user_id)
    entry[1].offer(position, event)


def _status_codes(masked: str) -> tuple[str, ...]:
    """The HTTP status codes masking kept (`HTTP 503`, `status=503`).

    They choose the Drain tree, so a 500 and a 409 can never be generalized into one `<*>`.
    """
    return kept_statuses(masked)


def _sample(event: Event) -> Sample:
    """Evidence kept with its pointer (redacted when read: `Sample.message`)."""
    text = event.message if event.stack_trace is None else f"{event.message}\n{event.stack_trace}"
    return Sample(text, event.origin, event.timestamp, event.request_id)


def _merge_into(target: Pattern, other: Pattern) -> None:
    target.count += other.count
    target.baseline_count += other.baseline_count
    target.first_seen = min(target.first_seen, other.first_seen)
    target.last_seen = max(target.last_seen, other.last_seen)
    if level_rank(other.level) > level_rank(target.level):
        target.level = other.level
    for minute, n in other.per_minute.items():
        target.per_minute[minute] = target.per_minute.get(minute, 0) + n
    for request, first in other.requests.items():
        if request not in target.requests or first < target.requests[request]:
            target.requests[request] = first
    target.users |= other.users
    target.samples = (target.samples + other.samples)[: max(len(target.samples), 1)]


def count_shapes(
    events: Sequence[Event], window_start: float, samples_per_pattern: int, processes: int
) -> list[ShapeCounts]:
    """Shape counts of `events` in `processes` contiguous chunks, counted by worker processes."""
    global _WORK  # forked workers read the events from here, without pickling them
    _WORK = (events, window_start, samples_per_pattern)
    size = -(-len(events) // processes)
    chunks = [(start, min(start + size, len(events))) for start in range(0, len(events), size)]
    # Frozen objects are never scanned by a child's garbage collector, which would otherwise
    # touch, and so copy, every page of the inherited events.
    gc.freeze()
    try:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            return pool.map(_count_chunk, chunks)
    finally:
        gc.unfreeze()
        _WORK = None


_WORK: tuple[Sequence[Event], float, int] | None = None


def _count_chunk(chunk: tuple[int, int]) -> ShapeCounts:
    assert _WORK is not None
    events, window_start, samples = _WORK
    counts = ShapeCounts(samples, chunk[0])
    for event in events[chunk[0] : chunk[1]]:
        counts.add(event, event.timestamp >= window_start)
    return counts


def mine(
    events: Iterable[Event], window: Window, samples_per_pattern: int = 5, processes: int = 1
) -> Mined:
    """Patterns of the window's events (baseline events only count toward `baseline_count`).

    `events` come in time order, as `window.cut` gives them: per-minute request counts rely on it.
    With `processes` > 1, big inputs are masked and counted by that many worker processes; the
    patterns are identical to a serial run's.
    """
    events = events if isinstance(events, list) else list(events)
    miner = Miner(samples_per_pattern=samples_per_pattern)
    if processes > 1 and len(events) >= PARALLEL_MIN_EVENTS and sys.platform == "linux":
        for counts in count_shapes(events, window.start, samples_per_pattern, processes):
            miner.absorb(counts)
    else:
        for event in events:
            miner.add(event, event.timestamp >= window.start)
    totals = Totals()
    requests: dict[str, int] = {}  # request id → the last minute it was counted in
    users: set[str] = set()
    services: set[str] = set()
    for event in events:
        if event.timestamp < window.start:
            continue
        totals.events += 1
        services.add(event.service)
        if event.request_id is not None:
            _count_request(totals.requests_per_minute, requests, event.request_id, event.timestamp)
        if event.user_id is not None:
            users.add(event.user_id)
    patterns = [p for p in miner.patterns() if p.count or p.baseline_count]
    totals.requests = len(requests) if requests else None
    totals.users = len(users) if users else None
    totals.services = sorted(services)
    totals.patterns = sum(1 for p in patterns if p.count)
    window_patterns = [p for p in patterns if p.count]
    if window_patterns:
        totals.first_seen = min(p.first_seen for p in window_patterns)
        totals.last_seen = max(p.last_seen for p in window_patterns)
    return Mined(patterns, totals)


def _count_request(
    per_minute: dict[int, int], last_minute: dict[str, int], request: str, ts: float
) -> None:
    """Count `request` once in the minute of `ts` (events arrive in time order)."""
    minute = int(ts // 60)
    if last_minute.get(request) != minute:
        last_minute[request] = minute
        per_minute[minute] = per_minute.get(minute, 0) + 1
