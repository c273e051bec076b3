"""Loading a log file into Elasticsearch: `logsense load` next to the bulk helpers' parallel path.

    python bench/es_load.py [--docs 200000] [--rounds 3] [--threads 2] [--bare]

Starts its own Elasticsearch 8.14.3 test node (`tests/esnode.py`; build it with
`.ci/es-node.sh`) and alternates, in the same run, two loads of the same generated JSON lines
(shipper-style documents as `bench/es_read.py` makes them, unless `--bare`), each into an index
of its own, deleted before each round:

- `logsense load`: `load_file`, what the command runs (each line checked by the reader that
  triage uses, malformed lines counted, stable ids, the index template, a refresh).
- `helpers.parallel_bulk`: the client's parallel bulk helper as usually called on the same lines
  (`orjson.loads` per line, the same thread count and chunk size, a refresh): the job done the
  obvious way, with no checking at all.

The table shows the best of `--rounds` rounds and logsense's speed against the helper's.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from elasticsearch import Elasticsearch, helpers
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's logsense; esnode.py

from esnode import start_node  # noqa: E402

from bench.es_read import generated_file  # noqa: E402
from logsense.config import FieldMap  # noqa: E402
from logsense.sources.elasticsearch import EsConnection  # noqa: E402
from logsense.sources.load import load_file  # noqa: E402

CHUNK = 1000


def logsense_load(url: str, path: Path, threads: int) -> int:
    """`logsense load` of `path` into the index `ls-load`; the documents it loaded."""
    result = load_file(EsConnection(url), str(path), "ls-load", FieldMap(), threads=threads)
    return result.loaded


def bulk_load(es: Elasticsearch, path: Path, threads: int) -> int:
    """`helpers.parallel_bulk` of `path`'s lines into the index `bulk-load`; the documents."""

    def actions() -> Iterator[dict[str, Any]]:
        with path.open("rb") as lines:
            for number, line in enumerate(lines):
                yield {"_index": "bulk-load", "_id": str(number), "_source": orjson.loads(line)}

    loaded = sum(
        ok
        for ok, _ in helpers.parallel_bulk(
            es, actions(), thread_count=threads, chunk_size=CHUNK, raise_on_error=False
        )
    )
    es.indices.refresh(index="bulk-load")
    return loaded


def main() -> None:
    """Start a node, alternate the two loads `--rounds` times, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bare", action="store_true", help="no shipper metadata in documents")
    args = parser.parse_args()
    path = generated_file(args.docs, shipped=not args.bare)
    console = Console(stderr=True)
    best: dict[str, tuple[int, float]] = {}
    with start_node() as node:
        es = Elasticsearch(node.url, request_timeout=120)
        loads = {
            "logsense load": lambda: logsense_load(node.url, path, args.threads),
            "helpers.parallel_bulk": lambda: bulk_load(es, path, args.threads),
        }
        for round_number in range(args.rounds):
            for name, load in loads.items():
                es.options(ignore_status=404).indices.delete(index=["ls-load", "bulk-load"])
                started = time.perf_counter()
                docs = load()
                seconds = time.perf_counter() - started
                console.print(f"round {round_number + 1}: {name} {docs:,} docs in {seconds:.2f} s")
                if name not in best or seconds < best[name][1]:
                    best[name] = (docs, seconds)
        es.close()
    table = Table(title=f"loading {path.name} into Elasticsearch, best of {args.rounds}")
    for column in ("loader", "documents", "best s", "docs/s", "vs parallel_bulk"):
        table.add_column(column, justify="left" if column == "loader" else "right")
    baseline = best["helpers.parallel_bulk"][1]
    for name, (docs, seconds) in best.items():
        table.add_row(
            name, f"{docs:,}", f"{seconds:.2f}", f"{docs / seconds:,.0f}",
            f"{baseline / seconds:.2f}×",
        )  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
