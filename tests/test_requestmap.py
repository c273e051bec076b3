"""Request sets and maps (`logsense/requestmap.py`) answer what the sets and dicts they stand
for answer."""

import numpy as np
import pytest

from logsense.requestmap import RequestIds, RequestMap, RequestSet
from tests.request_maps import Firsts, as_arrays, random_maps

SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
def test_earliest_keeps_each_requests_earliest_event(seed: int) -> None:
    maps = random_maps(seed)
    merged: Firsts = {}
    for m in maps:
        for request, at in m.items():
            merged[request] = min(at, merged.get(request, at))
    union = RequestMap.earliest(as_arrays(maps))
    assert union.to_dict() == merged


@pytest.mark.parametrize("seed", SEEDS)
def test_set_algebra_is_the_set_algebra_of_the_ids(seed: int) -> None:
    maps = random_maps(seed)
    arrays = as_arrays(maps)
    for first, a in zip(maps, arrays, strict=True):
        assert len(a) == len(first) and bool(a) == bool(first)
        for second, b in zip(maps, arrays, strict=True):
            assert set((a & b).texts()) == first.keys() & second.keys()
            assert set((a | b).texts()) == first.keys() | second.keys()
            assert set((a - b).texts()) == first.keys() - second.keys()
            assert a.shared(b) == len(first.keys() & second.keys())
            kept = a.only(b)
            assert kept.to_dict() == {r: at for r, at in first.items() if r in second}
    whole = RequestSet.union(arrays)
    assert set(whole.texts()) == set().union(*maps)
    assert all(int(id) in whole for m in arrays for id in m.ids)


@pytest.mark.parametrize("seed", SEEDS)
def test_first_texts_are_the_earliest_requests(seed: int) -> None:
    (firsts,) = random_maps(seed, count=1)
    found = RequestMap.from_dict(firsts).first_texts(7)
    # Equal (time, position) pairs do not occur in one map, so the order is unique.
    assert found == sorted(firsts, key=firsts.__getitem__)[:7]


def test_sets_of_two_tables_do_not_mix() -> None:
    first = RequestSet.of(["a"], RequestIds())
    second = RequestSet.of(["a"], RequestIds())
    with pytest.raises(ValueError, match="different tables"):
        first.shared(second)
    assert (first & RequestSet.empty()) == RequestSet.empty()


def test_native_buffers_read_as_maps() -> None:
    ids = np.array([1, 4, 9], dtype="<u4").tobytes()
    times = np.array([3.5, 1.0, 2.0], dtype="<f8").tobytes()
    positions = np.array([7, 8, 9], dtype="<i8").tobytes()
    names = RequestIds()
    names.ids([f"r{n}" for n in range(10)])
    found = RequestMap.from_buffers((ids, times, positions), names)
    assert found.to_dict() == {"r1": (3.5, 7), "r4": (1.0, 8), "r9": (2.0, 9)}
    assert found.first_texts(2) == ["r4", "r9"]
