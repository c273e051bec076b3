"""The watcher's two clocks: the wall clock (log times, windows) and a monotonic one (intervals).

They are one object, passed in, so that tests can run six hours of ticks in seconds
(`ManualClock`) and make the wall clock jump, while production uses `SystemClock`.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """What the watcher asks of time."""

    def now(self) -> float:
        """The wall clock: UTC epoch seconds (what log times are compared with)."""
        ...

    def monotonic(self) -> float:
        """Seconds that only ever move forward (tick intervals, retries, health)."""
        ...

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait `seconds` or until `stop` is set; True when `stop` is set."""
        ...


class SystemClock:
    """The machine's clocks."""

    def now(self) -> float:
        """`time.time()`."""
        return time.time()

    def monotonic(self) -> float:
        """`time.monotonic()`."""
        return time.monotonic()

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """`stop.wait(seconds)`: a SIGTERM handler that sets `stop` ends the wait at once."""
        return stop.wait(max(seconds, 0.0))


class ManualClock:
    """A clock that moves only when told to: `wait` advances it at once, `advance` moves both
    clocks, `jump` only the wall clock (as an NTP correction or a wrong manual setting does)."""

    def __init__(self, start: float) -> None:
        self._wall = start
        self._mono = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """The simulated wall clock."""
        with self._lock:
            return self._wall

    def monotonic(self) -> float:
        """The simulated monotonic clock."""
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass on both clocks."""
        with self._lock:
            self._wall += seconds
            self._mono += seconds

    def jump(self, seconds: float) -> None:
        """Move the wall clock alone by `seconds` (negative: back)."""
        with self._lock:
            self._wall += seconds

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Advance by `seconds` without sleeping, unless `stop` is already set."""
        if stop.is_set():
            return True
        self.advance(max(seconds, 0.0))
        return stop.is_set()
