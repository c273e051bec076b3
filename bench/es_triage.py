"""Triage from Elasticsearch next to triage of the same file, and next to an older checkout.

    python bench/es_triage.py [--docs 1000000] [--rounds 2] [--since 1h]
                              [--old-checkout /path/to/an/older/logsense]

Starts its own Elasticsearch 8.14.3 test node (`tests/esnode.py`; build it with
`.ci/es-node.sh`), loads the shipper-style generated file of `bench/es_read.py` (about `--docs`
documents, cached under `bench/out/`) with `logsense load`'s library function, then alternates,
in the same run, `logsense triage` of the file's last `--since` and of the index's (each command
in its own process, JSON output, no LLM), and with `--old-checkout` the index triage of that
checkout (the same command with that checkout first on `PYTHONPATH`): the old code against the
new in the same conditions. The table shows the best wall time, peak RSS, the events in the
window and the top-5 issues' shares of requests; the answers must be the same in every row.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's logsense; esnode.py

from esnode import start_node  # noqa: E402

from bench._measure import Run, measure  # noqa: E402
from bench.es_read import INDEX, generated_file, logsense_hits  # noqa: E402
from logsense.config import FieldMap  # noqa: E402
from logsense.sources.elasticsearch import EsConnection  # noqa: E402
from logsense.sources.load import load_file  # noqa: E402

OUT = ROOT / "bench" / "out"


def triage(
    checkout: Path, target: list[str], since: str, report: Path, window: list[str] | None = None
) -> list[str]:
    """`logsense triage` of `checkout` (first on PYTHONPATH) for `target`, as JSON to `report`,
    of the last `since` (or of the `window` options, if given)."""
    return [
        "env", f"PYTHONPATH={checkout}", sys.executable, "-P", "-m", "logsense", "triage",
        *target, *(window or ["--since", since, "--until", "latest"]), "--format", "json",
        "--no-llm",
        "--quiet", "--out", str(report), "--state-dir", str(OUT / "state"), "--reset-state",
    ]  # fmt: skip


def answer(report: Path) -> tuple[int, str]:
    """Events in the window and the top-5 issues as `title share%`."""
    data = orjson.loads(report.read_bytes())
    top = [
        f"{issue['title'][:40]} {100 * (issue.get('share_of_requests') or 0):.1f}%"
        for issue in data["issues"][:5]
    ]
    return data["totals"]["events"], "; ".join(top)


def main() -> None:
    """Load once, run every contender `--rounds` times, alternating, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--since", default="1h")
    parser.add_argument("--old-checkout", type=Path)
    args = parser.parse_args()
    path = generated_file(args.docs, shipped=True)
    console = Console(stderr=True)
    with start_node(log_path=OUT / "es_triage_node.log") as node:
        loaded = load_file(
            EsConnection(node.url), str(path), INDEX, FieldMap(), threads=2, chunk_size=2000,
            progress=True,
        )  # fmt: skip
        console.print(loaded.summary())
        index = ["--index", INDEX, "--es-url", node.url]
        # A full read, as the old checkout's (before the pushdown) is.
        full = [*index, "--full-read"]
        runs = {"file": (ROOT, ["--source", str(path)]), "index": (ROOT, full)}
        if args.old_checkout:
            runs["index, old checkout"] = (args.old_checkout.resolve(), index)
        reports = {name: OUT / f"es_triage_{n}.json" for n, name in enumerate(runs)}
        contenders = {
            name: triage(checkout, target, args.since, reports[name])
            for name, (checkout, target) in runs.items()
        }
        logsense_hits(node.url, 2, 5000)  # untimed: the node settles after the load (merges)
        best: dict[str, Run] = {}
        for round_no in range(1, args.rounds + 1):
            for name, command in contenders.items():
                run = measure(command)
                console.print(f"round {round_no}: {name}: {run.seconds:.2f} s")
                if name not in best or run.seconds < best[name].seconds:
                    best[name] = run
    table = Table(title=f"triage of the last {args.since} of {loaded.loaded:,} documents")
    for column in ("input", "best s", "vs file", "peak RSS MiB", "events", "top-5 shares"):
        table.add_column(column, justify="left" if column in ("input", "top-5 shares") else "right")
    base = best["file"].seconds
    for name, run in best.items():
        events, top = answer(reports[name])
        table.add_row(
            name, f"{run.seconds:.2f}", f"{run.seconds / base:.2f}×", f"{run.peak_mib:,.0f}",
            f"{events:,}", top,
        )  # fmt: skip
    Console(width=int(os.environ.get("COLUMNS", "200"))).print(table)


if __name__ == "__main__":
    main()
