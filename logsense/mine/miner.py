"""Mining: message shapes → patterns with their stats.

Per line, the native core (`EventTable`) masks each message (`masking.mask`) and keys the event
by its *shape*: service, level class, masked message and stack fingerprint. It aggregates each
shape's stats over the window, so this module sees shapes, not lines. Each (service, level class,
kept HTTP statuses) has its own Drain tree, so the same text at INFO and at ERROR, or in two
services, or with a 500 and a 409, never shares a pattern. Shapes meet Drain in the order they
first occurred; each tree's templates are rendered and merged once at the end
(`templates.TemplateTree`). Shapes with a stack trace keep their fingerprint in the pattern key,
so two different crashes behind one log line stay apart.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from logsense._native import Aggregate, EventTable, ShapeStats
from logsense.config import FieldMap
from logsense.mine.masking import kept_statuses
from logsense.mine.sampling import BottomK
from logsense.mine.slots import add_slot, slot_label, text_slots
from logsense.mine.templates import TemplateTree
from logsense.model import (
    Event,
    Pattern,
    Sample,
    Slot,
    Timings,
    Totals,
    Window,
    level_rank,
)
from logsense.requestmap import RequestMap, RequestNames
from logsense.sources.records import event_table, push_event

if TYPE_CHECKING:
    from logsense._native import HopRow

__all__ = ["Mined", "Miner", "mine", "mine_aggregate", "mine_every_event", "pattern_id"]

# Which Drain tree a message goes to: (service, level class, *kept HTTP status codes).
TreeKey = tuple[str, ...]
# (tree, Drain cluster id in it, stack fingerprint): where a shape's stats go.
PatternKey = tuple[TreeKey, int, str | None]


@dataclass
class _Entry:
    """A pattern's stats while shapes fold in; its shapes' requests are merged once, at the
    end (merging them one by one would copy the pattern's arrays once per shape), and the
    shapes themselves (for the words their slots hold, `text_slots`)."""

    pattern: Pattern
    samples: BottomK[Sample]
    requests: list[RequestMap] = field(default_factory=list)
    baseline_requests: list[RequestMap] = field(default_factory=list)
    shapes: list[ShapeStats] = field(default_factory=list)


def pattern_id(service: str, level_cls: str, template: str, stack: str | None) -> str:
    """A short id that depends only on what the pattern is, so it is the same in every run."""
    key = "\x1f".join((service, level_cls, template, stack or ""))
    return hashlib.blake2b(key.encode(), digest_size=6).hexdigest()


@dataclass
class Mined:
    """The patterns of a window, the window's totals, and the pattern of each input shape."""

    patterns: list[Pattern]
    totals: Totals
    shape_patterns: list[Pattern]
    # Inside requests, the gaps between consecutive events, by their shapes (`Aggregate.hops`).
    hops: list[HopRow] = field(default_factory=list)


class Miner:
    """Folds shapes into patterns. Call `add` per shape in order of first occurrence, then
    `patterns()` once. Request ids are numbers in `names` (the table's)."""

    def __init__(
        self,
        names: RequestNames,
        samples_per_pattern: int = 5,
        sim_th: float = 0.9,
        depth: int = 4,
    ) -> None:
        self._names = names
        self._samples_per_pattern = samples_per_pattern
        self._sim_th = sim_th
        self._depth = depth
        self._trees: dict[TreeKey, TemplateTree] = {}
        self._clusters: dict[tuple[str, str, str], tuple[TreeKey, int]] = {}
        self._stats: dict[PatternKey, _Entry] = {}
        self._final: dict[PatternKey, Pattern] = {}

    def add(self, shape: ShapeStats) -> PatternKey:
        """Fold `shape` into its pattern's stats; the key gives the final Pattern later
        (`pattern_of`)."""
        tree, cluster_id = self._cluster(shape.service, shape.level_class, shape.masked)
        key = (tree, cluster_id, shape.fingerprint)
        entry = self._stats.get(key)
        if entry is None:
            pattern = Pattern(id="", service=shape.service, level=shape.level, template="")
            pattern.fingerprint = shape.fingerprint
            entry = self._stats[key] = _Entry(pattern, BottomK(self._samples_per_pattern))
        _fold(entry, shape, self._names)
        return key

    def _cluster(self, service: str, lcls: str, masked: str) -> tuple[TreeKey, int]:
        """The Drain tree and cluster of a masked message (each is asked of Drain once)."""
        found = self._clusters.get((service, lcls, masked))
        if found is None:
            tree = (service, lcls, *kept_statuses(masked))
            template_tree = self._trees.get(tree)
            if template_tree is None:
                template_tree = TemplateTree(self._depth, self._sim_th, max_children=100)
                self._trees[tree] = template_tree
            found = self._clusters[(service, lcls, masked)] = (tree, template_tree.add(masked))
        return found

    def patterns(self) -> list[Pattern]:
        """Final patterns: templates read from Drain now that they are fully generalized."""
        merged: dict[str, Pattern] = {}
        for key, entry in self._stats.items():
            tree, cluster_id, stack = key
            template = self._trees[tree].template(cluster_id)
            pid = pattern_id(tree[0], tree[1], template, stack)
            stats = entry.pattern
            stats.id, stats.template = pid, template
            stats.samples = entry.samples.items
            stats.requests = RequestMap.earliest(entry.requests)
            stats.baseline_requests = RequestMap.earliest(entry.baseline_requests)
            for slot in text_slots(template, entry.shapes):
                into = stats.slots.setdefault(slot.token, Slot(slot.token, "text", slot.name))
                add_slot(into, "text", slot.minutes.items(), slot.top)
            if pid in merged:
                _merge_into(merged[pid], stats)
            else:
                merged[pid] = stats
            self._final[key] = merged[pid]
        return list(merged.values())

    def pattern_of(self, key: PatternKey) -> Pattern:
        """The final Pattern of a shape, by the key `add` returned; call after `patterns()`."""
        return self._final[key]


class _Stats(Protocol):
    """What a shape's stats and a pattern's have in common."""

    count: int
    baseline_count: int
    first_seen: float
    last_seen: float
    level: str
    per_minute: dict[int, int]
    baseline_per_minute: dict[int, int]
    durations: Timings | None
    users: set[str]


def _fold(entry: _Entry, shape: ShapeStats, names: RequestNames) -> None:
    """Add one shape's stats and samples to a pattern's."""
    pattern = entry.pattern
    entry.shapes.append(shape)
    _add_stats(pattern, shape)
    entry.requests.append(RequestMap.from_buffers(shape.requests, names))
    entry.baseline_requests.append(RequestMap.from_buffers(shape.baseline_requests, names))
    for position, text, origin, ts, request in shape.samples:
        entry.samples.offer(position, Sample(text, origin, ts, request))
    for token, unit, minutes, top in shape.slots:
        into = pattern.slots.get(token) or pattern.slots.setdefault(
            token, Slot(token, unit, slot_label(shape.masked, token, unit))
        )
        add_slot(into, unit, ((m[0], m[1:]) for m in minutes), top)


def _merge_into(target: Pattern, other: Pattern) -> None:
    """Merge a pattern into another that got the same template at the end."""
    _add_stats(target, other)
    target.requests = RequestMap.earliest([target.requests, other.requests])
    target.baseline_requests = RequestMap.earliest(
        [target.baseline_requests, other.baseline_requests]
    )
    target.samples = (target.samples + other.samples)[: max(len(target.samples), 1)]
    for slot in other.slots.values():
        into = target.slots.setdefault(slot.token, Slot(slot.token, slot.unit, slot.name))
        add_slot(into, slot.unit, slot.minutes.items(), slot.top)


def _add_stats(target: Pattern, other: _Stats) -> None:
    target.count += other.count
    target.baseline_count += other.baseline_count
    target.first_seen = min(target.first_seen, other.first_seen)
    target.last_seen = max(target.last_seen, other.last_seen)
    if level_rank(other.level) > level_rank(target.level):
        target.level = other.level
    for counts, more in (
        (target.per_minute, other.per_minute),
        (target.baseline_per_minute, other.baseline_per_minute),
    ):
        for minute, n in more.items():
            counts[minute] = counts.get(minute, 0) + n
    target.durations = _add_durations(target.durations, other.durations)
    target.users |= other.users


def _add_durations(
    into: Timings | None,
    more: Timings | None,
) -> Timings | None:
    """Durations of two shapes together: counts added, samples joined."""
    if into is None or more is None:
        return into or more
    return into[0] + more[0], into[1] + more[1], into[2] + more[2], into[3] + more[3]


def mine_aggregate(aggregate: Aggregate, samples_per_pattern: int = 5) -> Mined:
    """Patterns and totals of an EventTable's aggregate (baseline-only shapes count toward
    `baseline_count`)."""
    miner = Miner(aggregate.request_names, samples_per_pattern=samples_per_pattern)
    keys = [miner.add(shape) for shape in aggregate.shapes]
    patterns = [p for p in miner.patterns() if p.count or p.baseline_count]
    totals = Totals(
        events=aggregate.events,
        requests=aggregate.requests or None,
        users=aggregate.users or None,
        services=aggregate.services,
        patterns=sum(1 for p in patterns if p.count),
        requests_per_minute=aggregate.requests_per_minute,
        baseline_events=aggregate.baseline_events,
        baseline_requests=aggregate.baseline_requests if aggregate.requests else None,
        baseline_first=aggregate.baseline_first,
    )
    window_patterns = [p for p in patterns if p.count]
    if window_patterns:
        totals.first_seen = min(p.first_seen for p in window_patterns)
        totals.last_seen = max(p.last_seen for p in window_patterns)
    return Mined(patterns, totals, [miner.pattern_of(key) for key in keys], aggregate.hops)


def mine(
    events: Iterable[Event], window: Window, samples_per_pattern: int = 5, threads: int = 1
) -> Mined:
    """Patterns of events already in memory: those from `window.start` on count in the window,
    earlier ones toward `baseline_count` (for tests, notebooks and benchmarks)."""
    table = event_table(FieldMap(), "events", threads=threads)
    for seq, event in enumerate(events):
        push_event(table, seq, event)
    aggregate = table.aggregate(-math.inf, window.start, math.inf, samples_per_pattern)
    return mine_aggregate(aggregate, samples_per_pattern)


def mine_every_event(
    table: EventTable, samples_per_pattern: int = 5
) -> tuple[Mined, list[tuple[str, Pattern]]]:
    """Patterns of every event in `table`, whatever its time, and each event's (origin,
    pattern) in input order."""
    mined = mine_aggregate(
        table.aggregate(-math.inf, -math.inf, math.inf, samples_per_pattern), samples_per_pattern
    )
    shapes = mined.shape_patterns
    return mined, [(origin, shapes[shape]) for origin, shape in table.row_shapes()]
