"""Request sets as arrays answer exactly what the dicts they come from answer."""

import random

import numpy as np
import pytest

from logsense.analyze.request_sets import (
    code_requests,
    earlier_in_shared,
    first_in_shared,
    shared_counts,
)
from logsense.model import Requests


def random_maps(seed: int, count: int = 5) -> list[Requests]:
    """Request maps over a small id space, with some equal times broken by position."""
    rng = random.Random(seed)
    ids = [f"req-{n}" for n in range(60)]
    maps = []
    for _ in range(count):
        chosen = rng.sample(ids, rng.randint(0, len(ids)))
        maps.append({r: (float(rng.randint(0, 20)), rng.randint(0, 10_000)) for r in chosen})
    return maps


SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
def test_union_keeps_each_requests_earliest_event(seed: int) -> None:
    maps = random_maps(seed)
    sets = code_requests(maps)
    merged: Requests = {}
    for m in maps:
        for request, at in m.items():
            merged[request] = min(at, merged.get(request, at))
    union = sets[0].union(*sets[1:])
    # Coded together with the dict union, the set union has the same codes and orders.
    *_, expected = code_requests([*maps, merged])
    assert np.array_equal(union.codes, expected.codes)
    assert np.array_equal(union.orders, expected.orders)


@pytest.mark.parametrize("seed", SEEDS)
def test_shared_counts_are_set_intersections(seed: int) -> None:
    maps = random_maps(seed)
    counts = shared_counts(code_requests(maps))
    for a, first in enumerate(maps):
        for b, second in enumerate(maps):
            assert counts[a, b] == len(first.keys() & second.keys())


@pytest.mark.parametrize("seed", SEEDS)
def test_earlier_in_shared_compares_first_events(seed: int) -> None:
    maps = random_maps(seed)
    sets = code_requests(maps)
    for a, first in enumerate(maps):
        for b, second in enumerate(maps):
            both = first.keys() & second.keys()
            earlier = sum(1 for r in both if first[r] < second[r])
            assert earlier_in_shared(sets[a], sets[b]) == (len(both), earlier)


@pytest.mark.parametrize("seed", SEEDS)
def test_first_in_shared_names_the_earliest_map_of_each_shared_request(seed: int) -> None:
    maps = random_maps(seed)
    # Equal first events across maps: the lower index wins.
    maps.append(dict(maps[0]))
    sets = code_requests(maps)
    codes, owners = first_in_shared(sets)
    winners = []
    for request in set().union(*maps):
        having = [i for i, m in enumerate(maps) if request in m]
        if len(having) > 1:
            winners.append(min(having, key=lambda i: (maps[i][request], i)))
    assert len(set(codes.tolist())) == len(codes) == len(winners)
    assert sorted(owners.tolist()) == sorted(winners)
    for code, owner in zip(codes.tolist(), owners.tolist(), strict=True):
        assert code in sets[owner].codes


def test_empty_sets() -> None:
    sets = code_requests([{}, {}])
    assert shared_counts(sets).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert earlier_in_shared(*sets) == (0, 0)
    assert [len(a) for a in first_in_shared(sets)] == [0, 0]
