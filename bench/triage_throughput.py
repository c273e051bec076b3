"""End-to-end triage throughput on a ~1M-line generated file, next to a plain Drain3 loop.

    python -m bench.triage_throughput [--lines 1000000] [--rounds 2]

Generates (once, cached under bench/out/) a JSON-lines file with `fixtures/generate.py`, then
alternates, in the same run, the plain Drain3 loop (`bench/plain_drain3.py`: json decode +
`add_log_message`) and `logsense triage` over the whole file (window covering every event, JSON
output), and `logsense triage` of its last hour against the hour before as baseline (what a
triage usually does: every pattern's change, stopped work and the gaps inside requests are
tested too). Each command runs in its own process; the table shows the best wall time, lines/s,
peak RSS and the ratio to the plain loop. logsense's time includes starting Python, importing
torch and loading the embedding model when grouping needs it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench._measure import Run, measure

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
GENERATOR = ROOT / "fixtures" / "generate.py"
_EVENTS_PER_REQUEST_MINUTE = 370  # about how many lines one request/s makes per minute


def generated_file(lines: int) -> Path:
    """A generated JSON-lines file of about `lines` lines, made once and reused."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"triage_{lines}.jsonl"
    if not path.exists():
        minutes = 120
        rps = max(1, round(lines / (minutes * _EVENTS_PER_REQUEST_MINUTE)))
        subprocess.run(
            [sys.executable, str(GENERATOR), "--scenario", "mixed", "--seed", "7",
             "--minutes", str(minutes), "--rps", str(rps), "--out", str(path)],
            check=True,
        )  # fmt: skip
    return path


def count_lines(path: Path) -> int:
    """Lines in `path`."""
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def triage(path: Path, since: str) -> list[str]:
    """The `logsense triage` command line for the last `since` of `path`, as JSON."""
    return [
        sys.executable, "-m", "logsense", "triage", "--source", str(path), "--since", since,
        "--format", "json", "--quiet", "--state-dir", str(OUT / "state"), "--reset-state",
    ]  # fmt: skip


def main() -> None:
    """Run both contenders `--rounds` times, alternating, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    path = generated_file(args.lines)
    lines = count_lines(path)
    contenders = {
        "plain Drain3 loop": [sys.executable, str(ROOT / "bench" / "plain_drain3.py"), str(path)],
        "logsense triage": triage(path, "30d"),
        "logsense triage, last hour vs baseline": triage(path, "1h"),
    }
    runs: dict[str, list[Run]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, command in contenders.items():
            runs[name].append(measure(command))
    best = {name: min(r, key=lambda run: run.seconds) for name, r in runs.items()}
    base = best["plain Drain3 loop"].seconds
    table = Table(title=f"triage throughput on {path.name} ({lines:,} lines)")
    for column in ("contender", "best s", "lines/s", "peak RSS MiB", "speed vs plain"):
        table.add_column(column, justify="left" if column == "contender" else "right")
    for name, run in best.items():
        table.add_row(
            name,
            f"{run.seconds:.2f}",
            f"{lines / run.seconds:,.0f}",
            f"{run.peak_mib:,.0f}",
            f"{base / run.seconds:.2f}×",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
