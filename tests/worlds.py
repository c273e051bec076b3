"""Generated worlds fed to a watcher as time goes by (the watch tests share them).

`Feed` holds a world's events and appends to a file (or hands out) those older than a given
time, so that a test can write "what happened until now" before each tick of a watcher whose
clock it moves itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from conftest import generator


def seconds(stamp: str) -> float:
    """Epoch seconds of an ISO time with a Z or an offset."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def quiet_world(seed: int, minutes: float, rps: float) -> Any:
    """A `mixed` world without any incident (chronic ones included) and without the deploy that
    brings one: traffic, loud errors touching no request, warnings, sporadic swallowed errors,
    client errors, background jobs, a harmless deploy."""
    gen = generator()
    scenario = gen.random_scenario(seed, "mixed")
    scenario.incidents = []
    scenario.deploys = [d for d in scenario.deploys if d.incident is None]
    return gen.with_overrides(scenario, minutes=minutes, rps=rps)


def incident_world(seed: int, minutes: float, rps: float, start: datetime | None = None) -> Any:
    """A `major` world (one deep service fails for most requests), optionally starting at
    `start` (for a watcher on the real clock)."""
    gen = generator()
    scenario = gen.with_overrides(gen.random_scenario(seed, "major"), minutes=minutes, rps=rps)
    if start is not None:
        scenario.start = start
    return scenario


def events_of(scenario: Any, seed: int) -> list[dict[str, Any]]:
    return list(generator().iter_events(scenario, seed))


def events_and_truth(scenario: Any, seed: int) -> tuple[list[dict[str, Any]], Any]:
    """The events and the ground truth (first and last incident event, recovery, ...)."""
    stream = generator().iter_events(scenario, seed)
    events = list(stream)
    return events, stream.truth


class Feed:
    """A world's events, handed out in time order."""

    def __init__(self, events: Iterable[dict[str, Any]]) -> None:
        self.events = list(events)
        self.times = [seconds(e["@timestamp"]) for e in self.events]
        self.next = 0

    @property
    def start(self) -> float:
        return self.times[0]

    @property
    def end(self) -> float:
        return self.times[-1]

    def until(self, moment: float) -> list[dict[str, Any]]:
        """The events before `moment` not handed out yet."""
        first = self.next
        while self.next < len(self.times) and self.times[self.next] < moment:
            self.next += 1
        return self.events[first : self.next]

    def append_until(self, path: Path, moment: float) -> int:
        """Append the events before `moment` to `path` as JSON lines; return how many."""
        chunk = self.until(moment)
        with path.open("ab") as handle:
            handle.write(b"".join(orjson.dumps(e) + b"\n" for e in chunk))
        return len(chunk)


def minutes_ago(minutes: float) -> datetime:
    """A whole-second UTC time `minutes` before now."""
    from datetime import UTC

    return (datetime.now(UTC) - timedelta(minutes=minutes)).replace(microsecond=0)
