"""Request sets and maps as arrays answer exactly what the dicts they stand for answer."""

import pytest

from logsense.analyze.request_sets import earlier_in_shared, first_in_shared, shared_counts
from logsense.requestmap import RequestMap, RequestSet
from tests.request_maps import as_arrays, random_maps

SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
def test_shared_counts_are_set_intersections(seed: int) -> None:
    maps = random_maps(seed)
    counts = shared_counts(as_arrays(maps))
    for a, first in enumerate(maps):
        for b, second in enumerate(maps):
            assert counts[a, b] == len(first.keys() & second.keys())


@pytest.mark.parametrize("seed", SEEDS)
def test_earlier_in_shared_compares_first_events(seed: int) -> None:
    maps = random_maps(seed)
    arrays = as_arrays(maps)
    for a, first in enumerate(maps):
        for b, second in enumerate(maps):
            both = first.keys() & second.keys()
            earlier = sum(1 for r in both if first[r] < second[r])
            assert earlier_in_shared(arrays[a], arrays[b]) == (len(both), earlier)


@pytest.mark.parametrize("seed", SEEDS)
def test_first_in_shared_names_the_earliest_map_of_each_shared_request(seed: int) -> None:
    maps = random_maps(seed)
    # Equal first events across maps: the lower index wins.
    maps.append(dict(maps[0]))
    arrays = as_arrays(maps)
    ids, owners = first_in_shared(arrays)
    winners = []
    for request in set().union(*maps):
        having = [i for i, m in enumerate(maps) if request in m]
        if len(having) > 1:
            winners.append(min(having, key=lambda i: (maps[i][request], i)))
    assert len(set(ids.tolist())) == len(ids) == len(winners)
    assert sorted(owners.tolist()) == sorted(winners)
    for id, owner in zip(ids.tolist(), owners.tolist(), strict=True):
        assert id in arrays[owner]


def test_empty_sets() -> None:
    sets = as_arrays([{}, {}])
    assert shared_counts(sets).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert earlier_in_shared(*sets) == (0, 0)
    assert [len(a) for a in first_in_shared(sets)] == [0, 0]
    assert not RequestMap.earliest(sets) and not RequestSet.union(sets)
