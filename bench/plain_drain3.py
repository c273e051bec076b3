"""The baseline the throughput benchmarks compare against: a plain Drain3 loop.

For each JSON line: `orjson.loads`, then `TemplateMiner.add_log_message(message)` with Drain3's
default configuration. Nothing else: no window, no stats, no grouping. With `--text`, each raw
text line goes to Drain3 as it is (Drain3 takes raw strings; no header is parsed).
"""

from __future__ import annotations

import sys

import orjson
from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig


def main(path: str, text: bool = False) -> None:
    """Mine every line of `path` (JSON lines, or raw text lines) and print the counts."""
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)
    lines = 0
    if text:
        with open(path, encoding="utf-8") as handle:  # noqa: PTH123 - the plainest loop
            for line in handle:
                miner.add_log_message(line.rstrip("\n"))
                lines += 1
    else:
        with open(path, "rb") as handle:  # noqa: PTH123 - the plainest possible loop
            for line in handle:
                miner.add_log_message(orjson.loads(line)["message"])
                lines += 1
    print(lines, len(miner.drain.clusters))


if __name__ == "__main__":
    main(sys.argv[-1], text="--text" in sys.argv[1:-1])
