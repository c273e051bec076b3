"""A file read whose window is known before the first line (`--from` and an `--until` time):
what a pushdown leaves to Elasticsearch, done while scanning, so memory follows the events
that can form an issue, not the window.

The table (`EventTable.sample_rest`, `native/src/table/sampler.rs`) keeps every event of a
shape that can form an issue (warn or worse, HTTP 5xx, a stack trace, a message with a word
that tells a change). Of the other events it keeps every event of a uniform sample of
requests: those whose id hashes to a *level* (leading zero bits) at or above the sample's,
the lowest level whose events so far number at most `Pushdown.budget` (it rises, halving the
rate, as events arrive; the same events give the same sample). A request is
kept or left out whole, across services. Totals (events, distinct requests per period and per
minute, users, services) are counted over every event as it passes: exactly (distinct ids by
64-bit hashes) up to 2^21 distinct values a count, and past that by a HyperLogLog sketch, so
even the counts take bounded memory (`totals.estimated` then names them). The pipeline then
compares sampled patterns with the sample's universe, as it does for a pushdown
(`Pushed.apply`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from logsense._native import EventTable, sample_levels
from logsense.analyze.rollouts import CHANGE_WORD_STARTS
from logsense.model import Totals
from logsense.sources.pushdown import Pushed

if TYPE_CHECKING:
    from collections.abc import Sequence

    from logsense.sources.pushdown import Pushdown

__all__ = ["HashSample", "sample_as_read", "sampled_read"]

_SKETCHED = (
    "HyperLogLog (2^14 registers, about 0.8% relative error) past {:,} distinct values, exact below"
)


@dataclass(frozen=True)
class HashSample:
    """The requests whose id hashes to sample level `level` or more (`sample_levels`): a
    uniform 2**-level of all requests."""

    level: int

    @property
    def rate(self) -> float:
        """The share of requests the sample holds, as aimed at."""
        return 2.0**-self.level

    def members(self, names: Sequence[str]) -> npt.NDArray[np.bool_]:
        """For each request id text, whether the sample holds it."""
        levels = np.frombuffer(sample_levels(list(names)), dtype=np.uint8)
        return np.asarray(levels >= self.level, dtype=np.bool_)


def sample_as_read(table: EventTable, pushdown: Pushdown | None) -> bool:
    """Ask `table` to sample as it reads, under `pushdown`'s budget; whether it will (only with
    a pushdown, a window known up front and nothing read yet)."""
    return pushdown is not None and table.sample_rest(pushdown.budget, CHANGE_WORD_STARTS)


def sampled_read(table: EventTable) -> Pushed | None:
    """What a table that sampled as it read kept and counted, as a pushdown's `Pushed`; None
    when it left nothing out (then every count is exact, as in a full read)."""
    found = table.sampled()
    if found is None:
        return None
    totals = Totals(
        events=found.events[1],
        baseline_events=found.events[0],
        requests=found.requests[1],
        baseline_requests=found.requests[0],
        users=found.users,
        services=sorted(found.services),
        requests_per_minute=dict(found.requests_per_minute),
        baseline_first=found.baseline_first,
    )
    totals.estimated = {name: _SKETCHED.format(found.exact_limit) for name in found.estimated}
    return Pushed(
        HashSample(found.level), found.in_full, found.sampled, sum(found.events), totals,
        found.universe, set(found.sampled_shapes), [], [],
        how="sampled as read (the window was known up front): kept",
        in_full_kinds="warn or worse, HTTP 5xx, stack traces, lines that tell changes",
    )  # fmt: skip
