"""Triage of a large window: from the file, from the index, and on a Dask cluster of two workers.

    python bench/es_scale.py [--docs 2000000] [--rounds 1] [--since 1h] [--scenario deploy]
                             [--no-dask]

Generates the shipper-style file of `bench/es_read.py` (about `--docs` documents of a realistic
mix by default: about 95% info and debug, an incident after a deploy; cached under
`bench/out/`), loads it into an Elasticsearch 8.14.3 test node whose data stays in
`bench/out/es_scale_node/` (so the load is paid once: a later run with the same documents finds
them there), starts a `distributed.LocalCluster` of two worker processes (one thread each), and
runs, in the same conditions and in turn, `logsense triage --since 1h --until latest` of:

- the file, the index read in full (`--full-read`), and the index pushed down (the default: the
  events that can form an issue in full, a request sample of the rest, totals from aggregations),
  each in one process;
- the file with that same window given as times (`--from`/`--until`): known before the first
  line, so the file is sampled as it is read, as the pushdown samples the index
  (`logsense/sources/sampled_read.py`);
- the file and the index (pushed down) with `--workers` (the cluster's workers read; their
  peak RSS is reset before each run).

An untimed file triage first fills the embedding cache, which every run then shares.

The table shows the best wall time, the documents read (lines of the file; documents of the
index in the window and its baseline; for the pushdown, those it read in full and sampled), the
peak RSS of the triaging process, of the largest process of its tree (the embedding model runs
in a process of its own) and of the largest worker, the events in the window and the
top-5 issues' shares of requests. The run fails unless every row names the same top-5 issues
with shares within half a point of the file's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's logsense; esnode.py

from distributed import Client, LocalCluster  # noqa: E402
from elasticsearch import Elasticsearch  # noqa: E402
from esnode import start_node  # noqa: E402

from bench._measure import Run, measure  # noqa: E402
from bench.es_read import INDEX, generated_file  # noqa: E402
from bench.es_triage import answer, triage  # noqa: E402
from logsense.config import FieldMap  # noqa: E402
from logsense.sources.elasticsearch import EsConnection  # noqa: E402
from logsense.sources.load import load_file  # noqa: E402

OUT = ROOT / "bench" / "out"
# The file again, its window given as times (the same window as `--until latest` found).
KNOWN = "file, --from/--until"


def loaded(url: str, path: Path, console: Console) -> int:
    """The documents of `path` in the index, loaded unless a former run left them there."""
    client = Elasticsearch(url, request_timeout=120)
    lines = sum(1 for _ in path.open("rb"))
    if client.indices.exists(index=INDEX):
        count = int(client.count(index=INDEX)["count"])
        if count == lines:
            return count
        client.indices.delete(index=INDEX)
    start = time.perf_counter()
    result = load_file(
        EsConnection(url), str(path), INDEX, FieldMap(), threads=2, chunk_size=2000,
        progress=True,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    console.print(f"{result.summary()} ({result.loaded / seconds:,.0f} docs/s)")
    return int(result.loaded)


def documents_read(url: str, report: Path) -> int:
    """Documents of the index from the report's baseline start to its window end (those a
    pushdown read: in full and sampled)."""
    data = orjson.loads(report.read_bytes())
    sampling = data["totals"].get("sampling")
    if sampling:
        return int(sampling["read_in_full"] + sampling["read_sampled"])
    start = (data.get("baseline") or data["window"])["start"]
    end = data["window"]["end"]
    client = Elasticsearch(url, request_timeout=120)
    bounds = {"gte": _ms(start), "lte": _ms(end), "format": "epoch_millis"}
    return int(client.count(index=INDEX, query={"range": {"@timestamp": bounds}})["count"])


def _ms(stamp: str) -> int:
    return round(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def _peak_kib() -> int:
    """This process's peak RSS (a worker's, when run there). From `VmHWM`, not `getrusage`:
    a spawned worker's `ru_maxrss` starts at its parent's peak (it survives `execve`)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0])


def _reset_peak() -> None:
    """Start this process's peak RSS afresh from its current RSS (Linux 4.0+)."""
    Path("/proc/self/clear_refs").write_text("5")


def main() -> None:
    """Load once, run every contender `--rounds` times, in turn, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--since", default="1h")
    parser.add_argument(
        "--scenario", default="deploy",
        help="the generator's world (deploy: about 95%% info, an incident after a deploy)",
    )  # fmt: skip
    parser.add_argument(
        "--no-dask", action="store_true", help="leave out the rows with --workers (large runs)"
    )
    args = parser.parse_args()
    path = generated_file(args.docs, shipped=True, scenario=args.scenario)
    lines = sum(1 for _ in path.open("rb"))
    console = Console(stderr=True)
    data = OUT / "es_scale_node"
    node = start_node(log_path=OUT / "es_scale_node.log", settings={"path.data": str(data)})
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with node, cluster, Client(cluster) as client:
        documents = loaded(node.url, path, console)
        index = ["--index", INDEX, "--es-url", node.url]
        workers = ["--workers", cluster.scheduler_address]
        targets = {
            "file": ["--source", str(path)],
            KNOWN: ["--source", str(path)],
            "index (full read)": [*index, "--full-read"],
            "index (pushdown)": index,
            "file, Dask 2 workers": ["--source", str(path), *workers],
            "index (pushdown), Dask 2 workers": [*index, *workers],
        }
        if args.no_dask:
            targets = {name: target for name, target in targets.items() if "Dask" not in name}
        reports = {name: OUT / f"es_scale_{n}.json" for n, name in enumerate(targets)}
        best: dict[str, tuple[Run, float]] = {}
        measure(triage(ROOT, targets["file"], args.since, reports["file"]))  # warms the caches
        window = orjson.loads(reports["file"].read_bytes())["window"]
        known = ["--from", window["start"], "--until", window["end"]]
        for round_no in range(1, args.rounds + 1):
            for name, target in targets.items():
                dask = "--workers" in target
                if dask:
                    client.run(_reset_peak)  # the workers' peak RSS is then this run's
                times = known if name == KNOWN else None
                run = measure(triage(ROOT, target, args.since, reports[name], times))
                workers_mib = max(client.run(_peak_kib).values()) / 1024 if dask else 0.0
                console.print(f"round {round_no}: {name}: {run.seconds:.2f} s")
                if name not in best or run.seconds < best[name][0].seconds:
                    best[name] = (run, workers_mib)
        read = {
            name: lines if "--source" in target else documents_read(node.url, reports[name])
            for name, target in targets.items()
        }
    answers = {name: answer(reports[name]) for name in targets}
    title = f"triage of the last {args.since} of {documents:,} documents"
    table = Table(title=title)
    columns = ("input", "best s", "vs file", "docs read", "RSS MiB", "tree max MiB",
               "worker RSS MiB", "events", "top-5 shares")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column in ("input", "top-5 shares") else "right")
    base = best["file"][0].seconds
    for name, (run, workers_mib) in best.items():
        events, top = answers[name]
        table.add_row(
            name, f"{run.seconds:.2f}", f"{run.seconds / base:.2f}×", f"{read[name]:,}",
            f"{run.own_peak_mib:,.0f}", f"{run.peak_mib:,.0f}",
            f"{workers_mib:,.0f}" if workers_mib else "-",
            f"{events:,}", top,
        )  # fmt: skip
    Console(width=int(os.environ.get("COLUMNS", "220"))).print(table)
    if not all(same_answer(answers["file"], other) for other in answers.values()):
        raise SystemExit("the contenders gave different answers")


def same_answer(first: tuple[int, str], second: tuple[int, str]) -> bool:
    """True when both name the same top-5 issues with shares within half a point."""
    issues = [[part.rsplit(" ", 1) for part in top.split("; ")] for _, top in (first, second)]
    if len(issues[0]) != len(issues[1]):
        return False
    return all(
        a[0] == b[0] and abs(float(a[1].rstrip("%")) - float(b[1].rstrip("%"))) <= 0.5
        for a, b in zip(*issues, strict=True)
    )


if __name__ == "__main__":
    main()
