"""Reservoir sampling (Li's Algorithm L): k uniformly chosen items of a stream of unknown length.

Between replacements it skips ahead by a random count, so the per-item cost is one comparison,
not one random draw. Seeded, so a fixed input always keeps the same samples.
"""

from __future__ import annotations

import math
import random
from typing import Generic, TypeVar

__all__ = ["Reservoir"]

T = TypeVar("T")


class Reservoir(Generic[T]):
    """Keeps `size` items of everything `offer`ed, each equally likely to be among them."""

    __slots__ = ("_next", "_rng", "_seen", "_weight", "items", "size")

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size = size
        self.items: list[T] = []
        self._rng = rng
        self._seen = 0
        self._weight = 1.0
        self._next = size

    def offer(self, item: T) -> None:
        """Consider one more item of the stream."""
        seen = self._seen
        self._seen = seen + 1
        if seen < self.size:
            self.items.append(item)
            if seen + 1 == self.size:
                self._skip()
        elif seen == self._next:
            self.items[self._rng.randrange(self.size)] = item
            self._skip()

    def _skip(self) -> None:
        self._weight *= math.exp(math.log(self._draw()) / self.size)
        gap = 0
        if self._weight < 1:
            gap = math.floor(math.log(self._draw()) / math.log1p(-self._weight))
        self._next += gap + 1 if self._seen > self.size else gap

    def _draw(self) -> float:
        return self._rng.random() or 1e-300
