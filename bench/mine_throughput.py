"""Mining throughput: logsense's miner next to plain Drain3 on the same ~200k Loghub lines.

    python -m bench.mine_throughput [--lines 200000] [--rounds 3]

The lines are the `Content` column of every Loghub-2k system in `../shared/data`, repeated until
there are `--lines` of them (repetition is what production logs look like: the same shapes again
and again). Both miners run in this process, alternating, one core each:

- plain Drain3: `TemplateMiner().add_log_message(line)` with its default configuration;
- logsense: `Miner.add(Event(line))` for every line, then `Miner.patterns()` — masking, the
  masked-shape fast path, per-pattern stats;
- logsense's parallel mode: worker processes mask and count shapes, then Drain sees the shapes
  in input order; the run fails unless its patterns, counts and samples equal the serial run's.

Each logsense run starts with cold masking caches, as a fresh process would.

The table shows the best of `--rounds` runs and the ratio to plain Drain3.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig
from rich.console import Console
from rich.table import Table

from bench.loghub import available, load
from logsense.masking import clear_caches
from logsense.mine import Miner, count_shapes
from logsense.model import Event

Signature = list[tuple[str, int, tuple[str, ...]]]


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


def logsense_parallel(lines: list[str]) -> Signature:
    """Mine with worker processes counting shapes on every core, then Drain in order."""
    miner = Miner()
    events = [Event(0.0, line, "info", "-") for line in lines]
    for counts in count_shapes(events, 0.0, 5, os.cpu_count() or 2):
        miner.absorb(counts)
    return _signature(miner)


def _signature(miner: Miner) -> Signature:
    return sorted((p.template, p.count, tuple(s.raw for s in p.samples)) for p in miner.patterns())


def timed(mine: Callable[[list[str]], object], lines: list[str]) -> tuple[float, object]:
    """Wall time of one run from cold caches, and what it returned."""
    clear_caches()
    start = time.perf_counter()
    result = mine(lines)
    return time.perf_counter() - start, result


def main() -> None:
    """Alternate both miners `--rounds` times and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lines = loghub_lines(args.lines)
    contenders: dict[str, Callable[[list[str]], object]] = {
        "plain Drain3": plain_drain3,
        "logsense miner": logsense_miner,
        f"logsense miner, {os.cpu_count()} processes": logsense_parallel,
    }
    best = {name: float("inf") for name in contenders}
    results: dict[str, object] = {}
    for _ in range(args.rounds):
        for name, mine in contenders.items():
            seconds, results[name] = timed(mine, lines)
            best[name] = min(best[name], seconds)
    serial, parallel = (results[name] for name in list(contenders)[1:])
    if serial != parallel:
        raise SystemExit("the parallel miner's patterns differ from the serial miner's")
    base = best["plain Drain3"]
    table = Table(title=f"mining throughput, {len(lines):,} Loghub lines, one core")
    for column in ("miner", "best s", "lines/s", "speed vs plain Drain3"):
        table.add_column(column, justify="left" if column == "miner" else "right")
    for name, seconds in best.items():
        table.add_row(
            name, f"{seconds:.2f}", f"{len(lines) / seconds:,.0f}", f"{base / seconds:.2f}×"
        )
    Console().print(table)
    print("parallel and serial runs found identical patterns, counts and samples")


if __name__ == "__main__":
    main()
