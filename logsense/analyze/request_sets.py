"""Request sets as arrays: which requests a pattern touched, and when it first touched each.

Grouping compares patterns request by request: how many requests two of them share, and whose
event came first in each. A pattern keeps its requests as a dict (request id → time and input
position of its first event); `code_requests` turns a list of such dicts, together, into sorted
integer arrays, so that those comparisons run in NumPy rather than in a Python loop per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain, count
from typing import Any

import numpy as np
import numpy.typing as npt

from logsense.model import Requests

__all__ = [
    "RequestSet",
    "code_requests",
    "earlier_in_shared",
    "first_in_shared",
    "incidence",
    "shared_counts",
]

Ints = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RequestSet:
    """Requests as sorted integer codes, each with the order of its first event.

    Sets made by one `code_requests` call are comparable: a request has the same code in each,
    and a lower order is an earlier (time, input position).
    """

    codes: Ints
    orders: Ints

    def __len__(self) -> int:
        return len(self.codes)

    def union(self, *others: RequestSet) -> RequestSet:
        """The requests of this set and `others`, each with its earliest order among them."""
        if not others:
            return self
        codes = np.concatenate([self.codes, *(s.codes for s in others)])
        orders = np.concatenate([self.orders, *(s.orders for s in others)])
        by = np.lexsort((orders, codes))
        codes, orders = codes[by], orders[by]
        first = _run_starts(codes)
        return RequestSet(codes[first], orders[first])


def code_requests(maps: list[Requests]) -> list[RequestSet]:
    """Each of `maps` as a RequestSet, all coded together (so they can be compared)."""
    index = dict(zip(dict.fromkeys(chain.from_iterable(maps)), count()))
    sizes = [len(m) for m in maps]
    total = sum(sizes)
    codes = np.fromiter(
        chain.from_iterable(map(index.__getitem__, m) for m in maps), np.int64, count=total
    )
    # Input positions are far below 2**53, so a float holds them exactly.
    firsts = np.fromiter(
        chain.from_iterable(chain.from_iterable(m.values() for m in maps)),
        np.float64,
        count=2 * total,
    ).reshape(total, 2)
    orders = _dense_ranks(firsts)
    bounds = np.cumsum(sizes)[:-1]
    return [
        _sorted(c, o)
        for c, o in zip(np.split(codes, bounds), np.split(orders, bounds), strict=True)
    ]


def shared_counts(sets: list[RequestSet]) -> Matrix:
    """How many requests each two of `sets` share (the diagonal holds each set's size)."""
    matrix = incidence(sets)
    return np.asarray((matrix @ matrix.T).toarray(), dtype=np.float64)


def incidence(sets: list[RequestSet]) -> Any:
    """A sparse set × request matrix (SciPy CSR) with a one where the set has the request."""
    from scipy import sparse

    cols = np.concatenate([s.codes for s in sets]) if sets else np.zeros(0, dtype=np.int64)
    rows = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    width = int(cols.max()) + 1 if len(cols) else 0
    return sparse.csr_matrix(
        (np.ones(len(cols), dtype=np.float64), (rows, cols)), shape=(len(sets), width)
    )


def earlier_in_shared(first: RequestSet, second: RequestSet) -> tuple[int, int]:
    """(how many requests the two sets share, in how many of them `first`'s event came first)."""
    _, in_first, in_second = np.intersect1d(
        first.codes, second.codes, assume_unique=True, return_indices=True
    )
    earlier = np.count_nonzero(first.orders[in_first] < second.orders[in_second])
    return len(in_first), int(earlier)


def first_in_shared(sets: list[RequestSet]) -> tuple[Ints, Ints]:
    """The requests that two or more of `sets` have: their codes, and for each the index of
    the set whose event came first (the lowest index among equals)."""
    codes = np.concatenate([s.codes for s in sets])
    orders = np.concatenate([s.orders for s in sets])
    owners = np.repeat(np.arange(len(sets), dtype=np.int64), [len(s) for s in sets])
    by = np.lexsort((orders, codes))  # stable: among equal orders, the lower index first
    codes, owners = codes[by], owners[by]
    starts = _run_starts(codes)
    ends = np.append(starts[1:], len(codes))
    shared = starts[ends - starts > 1]
    return codes[shared], owners[shared]


def _dense_ranks(rows: npt.NDArray[np.float64]) -> Ints:
    """The rank of each (time, position) row in time order; equal rows share a rank."""
    if not len(rows):
        return np.zeros(0, dtype=np.int64)
    by = np.lexsort((rows[:, 1], rows[:, 0]))
    ordered = rows[by]
    steps = np.any(ordered[1:] != ordered[:-1], axis=1)
    ranks = np.empty(len(rows), dtype=np.int64)
    ranks[by] = np.concatenate(([0], np.cumsum(steps)))
    return ranks


def _sorted(codes: Ints, orders: Ints) -> RequestSet:
    by = np.argsort(codes, kind="stable")
    return RequestSet(codes[by], orders[by])


def _run_starts(values: Ints) -> Ints:
    """Where each run of equal values starts in sorted `values`."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
