"""The patterns view: every template of an input with its counts, like Elastic's categorize_text.

Mines the whole input (no window, no grouping) and can say, line by line, which pattern each
input line belongs to, with the same stable ids as triage (through the registry).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logsense.mine import Miner, PatternKey
from logsense.model import Event, Pattern, iso
from logsense.registry import Registry

__all__ = ["PatternRun", "mine_patterns", "pattern_to_dict"]


@dataclass
class PatternRun:
    """All patterns of an input, most frequent first, and each event's (line, pattern key)."""

    patterns: list[Pattern]
    miner: Miner
    assignments: list[tuple[int, PatternKey]]

    def per_line(self) -> Iterator[dict[str, Any]]:
        """`{"line", "pattern_id", "template"}` for every event, in input order."""
        for line, key in self.assignments:
            pattern = self.miner.pattern_of(key)
            yield {"line": line, "pattern_id": pattern.id, "template": pattern.template}


def mine_patterns(events: Iterable[Event], state: Path, reset_state: bool = False) -> PatternRun:
    """Mine every event; ids come from the registry in `state`."""
    miner = Miner()
    assignments = [(_line(event.origin), miner.add(event)) for event in events]
    patterns = miner.patterns()
    with Registry.open(state, reset=reset_state) as registry:
        registry.assign(patterns)
    patterns.sort(key=lambda p: (-p.count, p.service, p.template))
    return PatternRun(patterns, miner, assignments)


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
