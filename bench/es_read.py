"""Reading logs from Elasticsearch: logsense's reader next to `elasticsearch.helpers.scan`.

    python bench/es_read.py [--docs 1000000] [--rounds 2] [--slices 2] [--page-size 5000]
                            [--bare]

Starts its own Elasticsearch 8.14.3 test node (`tests/esnode.py`; build it with
`.ci/es-node.sh`), loads about `--docs` generated ECS documents into it with `logsense load`'s
library function, then alternates, in the same process and run:

- `logsense fill → table`: `ElasticsearchSource.fill()` — what triage runs: each page's response
  bytes (trimmed by `filter_path`) go straight into the native `EventTable` scanner, no Python
  object per hit.
- `logsense read() + push → table`: what triage ran before, the baseline of the row above: every
  Event of `read()` pushed into the same kind of `EventTable`.
- `logsense read() → Events`: `ElasticsearchSource.read()` — point in time + `search_after`,
  sliced threads, large pages, `_source` limited to the usable mapped fields, orjson; it yields
  finished Events ordered by time (what the triage pipeline consumes).
- `helpers.scan → Events`: the client's scroll helper as usually called (default page of
  1000, full `_source`, the client's default JSON decoder), each hit turned into an Event by
  the same `RecordReader`: what the same job costs done the obvious way.
- `logsense pages → hits` and `helpers.scan → hits`: the same two reads without making Events.

By default each document carries what a log shipper adds (Filebeat/Elastic Agent on
Kubernetes: agent, ecs, host.os, kubernetes, container, cloud, event, data_stream, log.file…),
as in production indices; `--bare` loads the generated events as they are. Generated files are
cached under `bench/out/`. The table shows the best of `--rounds` runs and the speed next to the
scan of the same output (Events or raw hits).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from elasticsearch import Elasticsearch, helpers
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's logsense; esnode.py

from esnode import start_node  # noqa: E402

from logsense.config import FieldMap  # noqa: E402
from logsense.model import Window  # noqa: E402
from logsense.sources.elasticsearch import (  # noqa: E402
    ElasticsearchSource,
    EsConnection,
    ReadOptions,
)
from logsense.sources.load import load_file  # noqa: E402
from logsense.sources.records import (  # noqa: E402
    RecordReader,
    SourceStats,
    event_table,
    push_event,
)

INDEX = "bench-logs"
OUT = ROOT / "bench" / "out"
GENERATOR = ROOT / "fixtures" / "generate.py"
EVERYTHING = Window(0.0, 4_102_444_800.0)  # 1970 .. 2100
_EVENTS_PER_RPS_MINUTE = 300  # rough events per (request/s × minute) of the generator


def generated_file(docs: int, shipped: bool, scenario: str = "mixed") -> Path:
    """A generated JSON-lines file of about `docs` events of the generator's `scenario`
    (shipper fields added), made once."""
    OUT.mkdir(parents=True, exist_ok=True)
    kind = "" if scenario == "mixed" else f"_{scenario}"
    bare = OUT / f"es_read{kind}_{docs}.jsonl"
    if not bare.exists():
        minutes = 120
        rps = max(0.1, docs / (minutes * _EVENTS_PER_RPS_MINUTE))
        subprocess.run(
            [sys.executable, str(GENERATOR), "--scenario", scenario, "--seed", "7",
             "--minutes", str(minutes), "--rps", f"{rps:.3f}", "--out", str(bare)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    if not shipped:
        return bare
    path = OUT / f"es_read{kind}_{docs}_shipped.jsonl"
    if not path.exists():
        with bare.open("rb") as source, path.open("wb") as target:
            for number, line in enumerate(source):
                target.write(orjson.dumps(_shipped(orjson.loads(line), number)) + b"\n")
    return path


def _shipped(doc: dict[str, Any], number: int) -> dict[str, Any]:
    """`doc` with the metadata Filebeat/Elastic Agent on Kubernetes adds to every line."""
    pod = str(doc.get("host", {}).get("name", "pod-0"))
    service = str(doc.get("service", {}).get("name", "app"))
    uid = hashlib.blake2b(pod.encode(), digest_size=16).hexdigest()
    node = f"ip-10-0-{int(uid[:2], 16) % 16}-{int(uid[2:4], 16)}.eu-west-1.compute.internal"
    doc["host"] = {
        "name": pod, "hostname": pod, "architecture": "x86_64", "containerized": True,
        "ip": [f"10.0.{int(uid[4:6], 16)}.{int(uid[6:8], 16)}"],
        "mac": ["0A-1B-2C-3D-4E-5F"],
        "os": {"name": "Ubuntu", "version": "22.04.4 LTS (Jammy Jellyfish)", "family": "debian",
               "platform": "ubuntu", "kernel": "5.15.0-1063-aws", "type": "linux"},
    }  # fmt: skip
    log_path = f"/var/log/containers/{pod}_shop_{service}-{uid}.log"
    doc["log"] = {**doc.get("log", {}), "offset": number * 211, "file": {"path": log_path}}
    doc["agent"] = {"type": "filebeat", "version": "8.14.3", "name": node, "id": uid,
                    "ephemeral_id": uid[::-1]}  # fmt: skip
    doc["ecs"] = {"version": "8.11.0"}
    doc["input"] = {"type": "filestream"}
    doc["stream"] = "stdout"
    doc["event"] = {"dataset": f"{service}.log", "ingested": doc["@timestamp"]}
    doc["data_stream"] = {"type": "logs", "dataset": f"{service}.log", "namespace": "prod"}
    doc["kubernetes"] = {
        "namespace": "shop", "node": {"name": node},
        "pod": {"name": pod, "uid": uid, "ip": f"10.1.{int(uid[8:10], 16)}.{int(uid[10:12], 16)}"},
        "labels": {"app": service, "pod-template-hash": uid[:10], "team": "checkout"},
        "container": {"name": service}, "deployment": {"name": service},
    }  # fmt: skip
    doc["container"] = {"id": uid * 2, "runtime": "containerd",
                        "image": {"name": f"registry.example.com/shop/{service}:1.0"}}  # fmt: skip
    doc["cloud"] = {"provider": "aws", "region": "eu-west-1", "availability_zone": "eu-west-1b",
                    "instance": {"id": f"i-{uid[:17]}"},
                    "account": {"id": "123456789012"}}  # fmt: skip
    doc["orchestrator"] = {"type": "kubernetes", "cluster": {"name": "prod-eu-1"}}
    return doc


def _source(url: str, slices: int, page_size: int) -> ElasticsearchSource:
    options = ReadOptions(page_size=page_size, slices=slices)
    return ElasticsearchSource(EsConnection(url), INDEX, FieldMap(), EVERYTHING, options=options)


def logsense_events(url: str, slices: int, page_size: int) -> int:
    """Documents read by logsense's reader, every one made an Event."""
    source = _source(url, slices, page_size)
    events = sum(1 for _ in source.read())
    assert events == source.stats.read - source.stats.malformed
    return source.stats.read


def logsense_table(url: str, slices: int, page_size: int) -> int:
    """Documents read by logsense's native path into an EventTable (what triage does)."""
    source = _source(url, slices, page_size)
    table = event_table(FieldMap(), source.name, threads=2)
    source.fill(table)
    assert table.rows == source.stats.read - source.stats.malformed
    return source.stats.read


def logsense_pushed(url: str, slices: int, page_size: int) -> int:
    """Documents read by `read()`, each Event pushed into an EventTable (the former triage path)."""
    source = _source(url, slices, page_size)
    table = event_table(FieldMap(), source.name, threads=2)
    for seq, event in enumerate(source.read()):
        push_event(table, seq, event)
    assert table.rows == source.stats.read - source.stats.malformed
    return source.stats.read


def logsense_hits(url: str, slices: int, page_size: int) -> int:
    """Raw hits fetched by logsense's reader (no Events)."""
    return sum(len(page) for page in _source(url, slices, page_size).pages())


def scan_hits(url: str, to_events: bool) -> int:
    """Documents read by `helpers.scan` with its defaults (optionally made Events)."""
    client = Elasticsearch(url, request_timeout=120)
    query = {"query": {"range": {"@timestamp": {"gte": 0}}}}
    reader = RecordReader(FieldMap(), SourceStats())
    count = 0
    for hit in helpers.scan(client, query=query, index=INDEX):
        count += 1
        if to_events:
            reader.event(hit["_source"], f"{hit['_index']}/{hit['_id']}")
    client.close()
    return count


def timed(read: Callable[[], int]) -> tuple[int, float]:
    """(documents, seconds) of one read."""
    started = time.perf_counter()
    docs = read()
    return docs, time.perf_counter() - started


def main() -> None:
    """Start a node, load the documents, run every reader `--rounds` times, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--slices", type=int, default=2)
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--bare", action="store_true", help="no shipper metadata in documents")
    args = parser.parse_args()
    path = generated_file(args.docs, shipped=not args.bare)
    console = Console(stderr=True)
    with start_node(log_path=OUT / "es_read_node.log") as node:
        loaded = load_file(
            EsConnection(node.url), str(path), INDEX, FieldMap(), threads=2, chunk_size=2000,
            progress=True,
        )  # fmt: skip
        console.print(loaded.summary())
        url, slices, size = node.url, args.slices, args.page_size
        contenders: dict[str, Callable[[], int]] = {
            "logsense fill → table": lambda: logsense_table(url, slices, size),
            "logsense read() + push → table": lambda: logsense_pushed(url, slices, size),
            "logsense read() → Events": lambda: logsense_events(url, slices, size),
            "helpers.scan → Events": lambda: scan_hits(url, to_events=True),
            "logsense pages → hits": lambda: logsense_hits(url, slices, size),
            "helpers.scan → hits": lambda: scan_hits(url, to_events=False),
        }
        logsense_hits(url, slices, size)  # untimed: the node settles after the load (merges)
        best: dict[str, tuple[int, float]] = {}
        for round_no in range(1, args.rounds + 1):
            for name, read in contenders.items():
                docs, seconds = timed(read)
                console.print(f"round {round_no}: {name}: {docs:,} docs in {seconds:.2f} s")
                if name not in best or seconds < best[name][1]:
                    best[name] = (docs, seconds)
    kind = "bare generated" if args.bare else "shipper-style"
    title = (
        f"reading {loaded.loaded:,} {kind} documents back from Elasticsearch 8.14.3 "
        f"(local test node; logsense: {slices} slices, pages of {size})"
    )
    print_table(best, title)


def print_table(best: dict[str, tuple[int, float]], title: str) -> None:
    """The best run of each reader, with docs/s and the speed next to its baseline in the run:
    the former triage path for tables, `helpers.scan` of the same output for the others."""
    table = Table(title=title)
    for column in ("reader", "docs", "best s", "docs/s", "baseline", "speed vs baseline"):
        table.add_column(
            column, justify="right" if column in ("docs", "best s", "docs/s") else "left"
        )
    for reader, (docs, seconds) in best.items():
        output = reader.rsplit(" ", 1)[-1]
        baseline = (
            "logsense read() + push → table" if output == "table" else f"helpers.scan → {output}"
        )
        base_docs, base_seconds = best[baseline]
        ratio = (docs / seconds) / (base_docs / base_seconds)
        table.add_row(
            reader,
            f"{docs:,}",
            f"{seconds:.2f}",
            f"{docs / seconds:,.0f}",
            baseline,
            f"{ratio:.2f}×",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
