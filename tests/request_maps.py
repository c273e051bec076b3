"""Random request maps, as dicts and as the arrays that stand for them."""

import random

from logsense.requestmap import RequestIds, RequestMap

Firsts = dict[str, tuple[float, int]]


def random_maps(seed: int, count: int = 5) -> list[Firsts]:
    """Request maps over a small id space, with some equal times broken by position."""
    rng = random.Random(seed)
    ids = [f"req-{n}" for n in range(60)]
    maps = []
    for _ in range(count):
        chosen = rng.sample(ids, rng.randint(0, len(ids)))
        maps.append({r: (float(rng.randint(0, 20)), rng.randint(0, 10_000)) for r in chosen})
    return maps


def as_arrays(maps: list[Firsts]) -> list[RequestMap]:
    """The maps numbered together, as one table would number them."""
    names = RequestIds()
    return [RequestMap.from_dict(m, names) for m in maps]
