"""Comparing patterns request by request: how many requests two of them share, and whose event
came first in each.

Patterns keep their requests as `RequestMap`s (sorted request id numbers, each with the time and
input position of its first event; `logsense.requestmap`), so these comparisons run in NumPy
rather than in a Python loop per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from logsense.requestmap import RequestMap, RequestSet, earlier, run_starts

__all__ = [
    "earlier_in_shared",
    "first_in_shared",
    "incidence",
    "shared_counts",
]

Ints = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.float64]


def shared_counts(sets: Sequence[RequestSet]) -> Matrix:
    """How many requests each two of `sets` share (the diagonal holds each set's size)."""
    matrix = incidence(sets)
    return np.asarray((matrix @ matrix.T).toarray(), dtype=np.float64)


def incidence(sets: Sequence[RequestSet]) -> Any:
    """A sparse set × request matrix (SciPy CSR) with a one where the set has the request;
    its columns are the used request ids, renumbered densely."""
    from scipy import sparse

    ids = np.concatenate([s.ids for s in sets]) if sets else np.zeros(0, dtype=np.uint32)
    used, cols = np.unique(ids, return_inverse=True)
    rows = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    return sparse.csr_matrix(
        (np.ones(len(cols), dtype=np.float64), (rows, cols)), shape=(len(sets), len(used))
    )


def earlier_in_shared(first: RequestMap, second: RequestMap) -> tuple[int, int]:
    """(how many requests the two maps share, in how many of them `first`'s event came first)."""
    _, in_first, in_second = np.intersect1d(
        first.ids, second.ids, assume_unique=True, return_indices=True
    )
    return len(in_first), int(np.count_nonzero(earlier(first, in_first, second, in_second)))


def first_in_shared(maps: list[RequestMap]) -> tuple[npt.NDArray[np.uint32], Ints]:
    """The requests that two or more of `maps` have: their ids, and for each the index of
    the map whose event came first (the lowest index among equals)."""
    ids = np.concatenate([m.ids for m in maps])
    times = np.concatenate([m.times for m in maps])
    positions = np.concatenate([m.positions for m in maps])
    owners = np.repeat(np.arange(len(maps), dtype=np.int64), [len(m) for m in maps])
    by = np.lexsort((positions, times, ids))  # stable: among equal firsts, the lower index first
    ids, owners = ids[by], owners[by]
    starts = run_starts(ids)
    ends = np.append(starts[1:], len(ids))
    shared = starts[ends - starts > 1]
    return ids[shared], owners[shared]
