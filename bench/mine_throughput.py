"""Mining throughput: logsense's miner next to plain Drain3 on the same ~200k Loghub lines.

    python -m bench.mine_throughput [--lines 200000] [--rounds 3]

The lines are the `Content` column of every Loghub-2k system in `../shared/data`, repeated until
there are `--lines` of them (repetition is what production logs look like: the same shapes again
and again). Both miners run in this process, alternating, one core each:

- plain Drain3: `TemplateMiner().add_log_message(line)` with its default configuration;
- logsense: `Miner.add(Event(line))` for every line, then `Miner.patterns()` — masking, the
  masked-shape fast path, per-pattern stats;
- logsense's parallel mode, in a second table: one process against one worker per core on
  `--parallel-lines` events built before timing (a big input, as a source hands them over);
  worker processes mask and count shapes, then Drain sees the shapes in input order; the run
  fails unless its patterns, counts and samples equal the serial run's.

Each logsense run starts with cold masking caches, as a fresh process would.

The table shows the best of `--rounds` runs and the ratio to plain Drain3.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import TypeVar

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig
from rich.console import Console
from rich.table import Table

from bench.loghub import available, load
from logsense.masking import clear_caches
from logsense.mine import Miner, count_shapes
from logsense.model import Event

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
    """Mine with logsense's Miner on one core."""
    miner = Miner()
    for line in lines:
        miner.add(Event(0.0, line, "info", "-"))
    return _signature(miner)


def serial_events(events: list[Event]) -> Signature:
    """Mine already-built events on one core."""
    miner = Miner()
    for event in events:
        miner.add(event)
    return _signature(miner)


def parallel_events(events: list[Event]) -> Signature:
    """Mine already-built events with a worker process per core, then Drain in input order."""
    miner = Miner()
    for counts in count_shapes(events, 0.0, 5, os.cpu_count() or 2):
        miner.absorb(counts)
    return _signature(miner)


def _signature(miner: Miner) -> Signature:
    return sorted((p.template, p.count, tuple(s.raw for s in p.samples)) for p in miner.patterns())


def timed(mine: Callable[[T], object], work: T) -> tuple[float, object]:
    """Wall time of one run from cold caches, and what it returned."""
    clear_caches()
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
    """Race the miners on lines, then the serial and parallel modes on built events."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--parallel-lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lines = loghub_lines(args.lines)
    best, _ = race(
        {"plain Drain3": plain_drain3, "logsense miner": logsense_miner}, lines, args.rounds
    )
    console = Console()
    console.print(table(f"mining {len(lines):,} Loghub lines, one core", best, len(lines), "lines"))
    events = [Event(0.0, line, "info", "-") for line in loghub_lines(args.parallel_lines)]
    modes: dict[str, Callable[[list[Event]], object]] = {
        "logsense miner, 1 process": serial_events,
        f"logsense miner, {os.cpu_count()} processes": parallel_events,
    }
    best, results = race(modes, events, args.rounds)
    title = f"parallel mode on {len(events):,} events (built before timing)"
    console.print(table(title, best, len(events), "events"))
    serial, parallel = results.values()
    if serial != parallel:
        raise SystemExit("the parallel miner's patterns differ from the serial miner's")
    print("parallel and serial runs found identical patterns, counts and samples")


if __name__ == "__main__":
    main()
