"""Which requests something touched, as sorted NumPy arrays of request ids.

A large window holds hundreds of thousands of requests, and each pattern keeps every request it
was seen in: as Python strings and tuples that cost some 200 bytes per (request, pattern); as
arrays, 20. The native table numbers each distinct request id once (`RequestNames` gives the
text back for the few places that show it), and every set and map of one run shares those
numbers, so comparing two patterns request by request is a merge of sorted arrays.

- `RequestSet`: distinct request ids, sorted; set algebra and sizes.
- `RequestMap`: a `RequestSet` with, for each request, the (time, input position) of its first
  event (of a pattern, or of several): what says whose event came first inside a request.

Sets and maps compare only with those of the same names (one table, or `HAND_MADE`), except
that an empty one goes with any. They are never changed in place (operations return new ones,
or one of their operands), so patterns and issues can share them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "HAND_MADE",
    "Ids",
    "RequestIds",
    "RequestMap",
    "RequestNames",
    "RequestSet",
    "earlier",
    "run_starts",
]

Ids = npt.NDArray[np.uint32]
Times = npt.NDArray[np.float64]
Positions = npt.NDArray[np.int64]


class RequestNames(Protocol):
    """The request id text of each number (an `EventTable`'s, or `RequestIds`)."""

    def __getitem__(self, id: int, /) -> str: ...


class RequestIds:
    """Request ids numbered in Python, in order of first use: for requests that no
    `EventTable` read (patterns made by hand in tests and notebooks)."""

    def __init__(self) -> None:
        self._texts: list[str] = []
        self._ids: dict[str, int] = {}

    def __getitem__(self, id: int, /) -> str:
        return self._texts[id]

    def __len__(self) -> int:
        return len(self._texts)

    def ids(self, texts: Iterable[str]) -> list[int]:
        """The number of each of `texts`, numbering the new ones."""
        found = []
        for text in texts:
            id = self._ids.get(text)
            if id is None:
                id = self._ids[text] = len(self._texts)
                self._texts.append(text)
            found.append(id)
        return found


# The names of sets and maps made from texts, and of the empty ones patterns start with.
HAND_MADE = RequestIds()
_NO_IDS: Ids = np.zeros(0, dtype=np.uint32)
_NO_TIMES: Times = np.zeros(0, dtype=np.float64)
_NO_POSITIONS: Positions = np.zeros(0, dtype=np.int64)


class RequestSet:
    """Distinct requests: their ids sorted, and the names the ids refer to."""

    __slots__ = ("ids", "names")

    def __init__(self, ids: Ids, names: RequestNames) -> None:
        self.ids = ids
        self.names = names

    @classmethod
    def empty(cls) -> RequestSet:
        """No request."""
        return RequestSet(_NO_IDS, HAND_MADE)

    @classmethod
    def of(cls, texts: Iterable[str], names: RequestIds = HAND_MADE) -> RequestSet:
        """The requests with these id texts, numbered in `names`."""
        ids = np.unique(np.array(names.ids(texts), dtype=np.uint32))
        return RequestSet(ids, names)

    @classmethod
    def union(cls, sets: Iterable[RequestSet]) -> RequestSet:
        """The requests of any of `sets`."""
        sets = [s for s in sets if len(s.ids)]
        if len(sets) <= 1:
            return sets[0].keys() if sets else RequestSet.empty()
        names = _common_names(sets)
        return RequestSet(np.unique(np.concatenate([s.ids for s in sets])), names)

    def keys(self) -> RequestSet:
        """Just the requests (of a map: without their first times)."""
        return self if type(self) is RequestSet else RequestSet(self.ids, self.names)

    def __len__(self) -> int:
        return len(self.ids)

    def __bool__(self) -> bool:
        return bool(len(self.ids))

    def __contains__(self, id: object) -> bool:
        if not isinstance(id, int | np.integer):
            return False
        at = int(np.searchsorted(self.ids, id))
        return at < len(self.ids) and int(self.ids[at]) == id

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RequestSet):
            return NotImplemented
        return np.array_equal(self.ids, other.ids) and (
            not len(self.ids) or self.names is other.names
        )

    __hash__ = None  # type: ignore[assignment]

    def __and__(self, other: RequestSet) -> RequestSet:
        names = _common_names([self, other])
        return RequestSet(np.intersect1d(self.ids, other.ids, assume_unique=True), names)

    def __or__(self, other: RequestSet) -> RequestSet:
        return RequestSet.union([self, other])

    def __sub__(self, other: RequestSet) -> RequestSet:
        names = _common_names([self, other])
        return RequestSet(np.setdiff1d(self.ids, other.ids, assume_unique=True), names)

    def shared(self, other: RequestSet) -> int:
        """How many requests this set and `other` have in common."""
        _common_names([self, other])
        return len(np.intersect1d(self.ids, other.ids, assume_unique=True))

    def texts(self) -> list[str]:
        """The request id texts, in id order."""
        return [self.names[id] for id in self.ids.tolist()]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} requests)"


class RequestMap(RequestSet):
    """Distinct requests, each with the (time, input position) of its first event; a lower
    pair is an earlier event."""

    __slots__ = ("positions", "times")

    def __init__(self, ids: Ids, times: Times, positions: Positions, names: RequestNames) -> None:
        super().__init__(ids, names)
        self.times = times
        self.positions = positions

    @classmethod
    def empty(cls) -> RequestMap:
        """No request."""
        return RequestMap(_NO_IDS, _NO_TIMES, _NO_POSITIONS, HAND_MADE)

    @classmethod
    def from_dict(
        cls, firsts: Mapping[str, tuple[float, int]], names: RequestIds = HAND_MADE
    ) -> RequestMap:
        """The map of {request id text: (time, position)}, numbered in `names`."""
        ids = np.array(names.ids(firsts), dtype=np.uint32)
        times = np.array([t for t, _ in firsts.values()], dtype=np.float64)
        positions = np.array([p for _, p in firsts.values()], dtype=np.int64)
        by = np.argsort(ids, kind="stable")
        return RequestMap(ids[by], times[by], positions[by], names)

    @classmethod
    def from_buffers(cls, buffers: tuple[bytes, bytes, bytes], names: RequestNames) -> RequestMap:
        """The map of the native table's buffers (ids, times, positions; sorted by id)."""
        ids, times, positions = buffers
        return RequestMap(
            np.frombuffer(ids, dtype="<u4"),
            np.frombuffer(times, dtype="<f8"),
            np.frombuffer(positions, dtype="<i8"),
            names,
        )

    @classmethod
    def earliest(cls, maps: Sequence[RequestMap]) -> RequestMap:
        """The requests of all `maps`, each with its earliest (time, position) among them."""
        maps = [m for m in maps if len(m.ids)]
        if len(maps) <= 1:
            return maps[0] if maps else RequestMap.empty()
        names = _common_names(maps)
        ids = np.concatenate([m.ids for m in maps])
        times = np.concatenate([m.times for m in maps])
        positions = np.concatenate([m.positions for m in maps])
        by = np.lexsort((positions, times, ids))
        ids, times, positions = ids[by], times[by], positions[by]
        first = run_starts(ids)
        return RequestMap(ids[first], times[first], positions[first], names)

    def to_dict(self) -> dict[str, tuple[float, int]]:
        """The map as {request id text: (time, position)}, in id order (`from_dict`'s inverse)."""
        firsts = zip(self.times.tolist(), self.positions.tolist(), strict=True)
        return dict(zip(self.texts(), firsts, strict=True))

    def only(self, requests: RequestSet) -> RequestMap:
        """This map's entries for the requests that are in `requests`."""
        names = _common_names([self, requests])
        keep = np.isin(self.ids, requests.ids, assume_unique=True)
        return RequestMap(self.ids[keep], self.times[keep], self.positions[keep], names)

    def first_texts(self, limit: int) -> list[str]:
        """The id texts of the `limit` requests whose first event came earliest."""
        by = np.lexsort((self.ids, self.positions, self.times))[:limit]
        return [self.names[id] for id in self.ids[by].tolist()]


def earlier(
    first: RequestMap, i: npt.NDArray[np.intp], second: RequestMap, j: npt.NDArray[np.intp]
) -> npt.NDArray[np.bool_]:
    """Whether each entry `i` of `first` came before entry `j` of `second`."""
    t1, t2 = first.times[i], second.times[j]
    tied = (t1 == t2) & (first.positions[i] < second.positions[j])
    before: npt.NDArray[np.bool_] = (t1 < t2) | tied
    return before


def run_starts(values: npt.NDArray[np.generic]) -> npt.NDArray[np.intp]:
    """Where each run of equal values starts in sorted `values`."""
    if not len(values):
        return np.zeros(0, dtype=np.intp)
    return np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))


def _common_names(sets: Sequence[RequestSet]) -> RequestNames:
    """The names that all non-empty `sets` share (HAND_MADE when all are empty)."""
    found: RequestNames | None = None
    for s in sets:
        if not len(s.ids):
            continue
        if found is None:
            found = s.names
        elif s.names is not found:
            raise ValueError("request sets of different tables cannot be compared")
    return found if found is not None else HAND_MADE
