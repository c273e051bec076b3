"""Mergeable sampling: keep the k items of a stream whose positions hash lowest ("bottom-k").

An item's priority is a fixed pseudo-random function of its position in the input, so the kept
items do not depend on how the input was split: the bottom k of two halves, merged, are the
bottom k of the whole. That is what lets the parallel miner keep exactly the samples a serial run
keeps. Per item the cost is one multiplication and one comparison.
"""

from __future__ import annotations

import heapq
from typing import Generic, TypeVar

__all__ = ["BottomK", "priority"]

T = TypeVar("T")
_GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing: spreads consecutive positions over 64 bits
_MASK = (1 << 64) - 1


def priority(position: int) -> int:
    """A well-spread 64-bit priority for the item at `position` of the input."""
    return (position * _GOLDEN) & _MASK


class BottomK(Generic[T]):
    """The `size` offered items with the lowest priorities, each position equally likely."""

    __slots__ = ("_heap", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._heap: list[tuple[int, int, T]] = []  # (-priority, position, item): a max-heap

    def offer(self, position: int, item: T) -> None:
        """Consider the item at `position` of the input."""
        rank = (position * _GOLDEN) & _MASK  # priority(position), inlined: this runs per event
        heap = self._heap
        if len(heap) < self.size:
            heapq.heappush(heap, (-rank, position, item))
        elif rank < -heap[0][0]:
            heapq.heapreplace(heap, (-rank, position, item))

    def absorb(self, other: BottomK[T]) -> None:
        """Fold in another sample of a disjoint part of the same input."""
        for _, position, item in other._heap:
            self.offer(position, item)

    @property
    def items(self) -> list[T]:
        """The kept items in input order."""
        return [item for _, _, item in sorted(self._heap, key=lambda entry: entry[1])]
