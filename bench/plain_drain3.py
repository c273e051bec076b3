"""The baseline the throughput benchmarks compare against: a plain Drain3 loop.

For each JSON line: `orjson.loads`, then `TemplateMiner.add_log_message(message)` with Drain3's
default configuration. Nothing else: no window, no stats, no grouping.
"""

from __future__ import annotations

import sys

import orjson
from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig


def main(path: str) -> None:
    """Mine every line of the JSON-lines file `path` and print the line and cluster counts."""
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)
    lines = 0
    with open(path, "rb") as handle:  # noqa: PTH123 - the plainest possible loop is the point
        for line in handle:
            miner.add_log_message(orjson.loads(line)["message"])
            lines += 1
    print(lines, len(miner.drain.clusters))


if __name__ == "__main__":
    main(sys.argv[1])
