"""The patterns view: every template of an input with its counts, like Elastic's categorize_text.

Mines the whole input (no window, no grouping) and can say, line by line, which pattern each
input line belongs to, with the same stable ids as triage (through the registry).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from logsense.config import Settings
from logsense.mine.miner import mine_every_event
from logsense.mine.registry import Registry
from logsense.model import Pattern, iso
from logsense.sources import Source
from logsense.sources.records import event_table
from logsense.state import state_dir

__all__ = ["PatternRun", "mine_patterns", "pattern_to_dict"]


@dataclass
class PatternRun:
    """All patterns of an input, most frequent first, and each event's (origin, pattern)."""

    patterns: list[Pattern]
    assignments: list[tuple[str, Pattern]]

    def per_line(self) -> Iterator[dict[str, Any]]:
        """`{"line", "pattern_id", "template"}` for every event, in input order."""
        for origin, pattern in self.assignments:
            yield {"line": _line(origin), "pattern_id": pattern.id, "template": pattern.template}


def mine_patterns(source: Source, settings: Settings, reset_state: bool = False) -> PatternRun:
    """Mine every event of `source`, whatever its time; ids come from the registry in the
    state directory."""
    threads = settings.threads or os.cpu_count() or 1
    table = event_table(settings.fields, source.name, threads=threads)
    source.fill(table)
    mined, per_event = mine_every_event(table)
    patterns = mined.patterns
    with Registry.open(state_dir(settings.state_dir), reset=reset_state) as registry:
        registry.assign(patterns)
    patterns.sort(key=lambda p: (-p.count, p.service, p.template))
    return PatternRun(patterns, per_event)


def _line(origin: str) -> int:
    number = origin.rpartition(":")[2]
    return int(number) if number.isdigit() else 0


def pattern_to_dict(pattern: Pattern) -> dict[str, Any]:
    """One pattern as plain data (times are null for inputs without timestamps)."""
    timed = pattern.first_seen > 0
    return {
        "id": pattern.id,
        "service": pattern.service,
        "level": pattern.level,
        "count": pattern.count,
        "first_seen": iso(pattern.first_seen) if timed else None,
        "last_seen": iso(pattern.last_seen) if timed else None,
        "template": pattern.template,
        "fingerprint": pattern.fingerprint,
    }
