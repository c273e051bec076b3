"""Mining throughput: logsense's miner next to plain Drain3 on the same ~200k Loghub lines.

    python -m bench.mine_throughput [--lines 200000] [--rounds 3]

The lines are the `Content` column of every Loghub-2k system in `../shared/data`, repeated until
there are `--lines` of them (repetition is what production logs look like: the same shapes again
and again). Both miners run in this process, alternating, one core each:

- plain Drain3: `TemplateMiner().add_log_message(line)` with its default configuration;
- logsense: one `Event` per line pushed into an `EventTable` (native masking and per-shape
  stats), then the miner on the shapes (Drain, template merging) and each line's pattern.

JSON lines read by the native scanner (no Event objects at all) are measured end to end by
`bench.triage_throughput`.

The table shows the best of `--rounds` runs and the ratio to plain Drain3.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import TypeVar

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig
from rich.console import Console
from rich.table import Table

from bench.loghub import available, load
from logsense.config import FieldMap
from logsense.mine import mine_every_event
from logsense.model import Event
from logsense.sources.records import event_table, push_event

Signature = list[tuple[str, int, tuple[str, ...]]]
T = TypeVar("T")
Results = tuple[dict[str, float], dict[str, object]]


def loghub_lines(count: int) -> list[str]:
    """`count` lines cycling through every available Loghub-2k system's contents."""
    contents = [line for system in available() for line in load(system).contents]
    if not contents:
        raise SystemExit("no Loghub data in ../shared/data; see bench/loghub.py")
    return [contents[i % len(contents)] for i in range(count)]


def plain_drain3(lines: list[str]) -> int:
    """Mine with Drain3's defaults; returns the number of clusters."""
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)
    for line in lines:
        miner.add_log_message(line)
    return len(miner.drain.clusters)


def logsense_miner(lines: list[str]) -> Signature:
    """Mine with logsense: events into an EventTable, the miner on its shapes."""
    table = event_table(FieldMap(), "loghub")
    for i, line in enumerate(lines):
        push_event(table, i, Event(0.0, line, "info", "-"))
    mined, _ = mine_every_event(table)
    return sorted((p.template, p.count, tuple(s.raw for s in p.samples)) for p in mined.patterns)


def timed(mine: Callable[[T], object], work: T) -> tuple[float, object]:
    """Wall time of one run, and what it returned."""
    start = time.perf_counter()
    result = mine(work)
    return time.perf_counter() - start, result


def race(contenders: dict[str, Callable[[T], object]], work: T, rounds: int) -> Results:
    """Best wall time of each contender over `rounds` alternating runs, and its last result."""
    best = {name: float("inf") for name in contenders}
    results: dict[str, object] = {}
    for _ in range(rounds):
        for name, mine in contenders.items():
            seconds, results[name] = timed(mine, work)
            best[name] = min(best[name], seconds)
    return best, results


def table(title: str, best: dict[str, float], items: int, unit: str) -> Table:
    """Best times, throughput and the ratio to the first contender."""
    result = Table(title=title)
    base = next(iter(best.values()))
    for column in ("miner", "best s", f"{unit}/s", "speed vs first row"):
        result.add_column(column, justify="left" if column == "miner" else "right")
    for name, seconds in best.items():
        result.add_row(name, f"{seconds:.2f}", f"{items / seconds:,.0f}", f"{base / seconds:.2f}×")
    return result


def main() -> None:
    """Race the miners on the same lines and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lines = loghub_lines(args.lines)
    best, _ = race(
        {"plain Drain3": plain_drain3, "logsense miner": logsense_miner}, lines, args.rounds
    )
    Console().print(
        table(f"mining {len(lines):,} Loghub lines, one core", best, len(lines), "lines")
    )


if __name__ == "__main__":
    main()
