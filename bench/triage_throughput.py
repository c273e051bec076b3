"""End-to-end triage throughput on a ~1M-line generated file, next to a plain Drain3 loop.

    python -m bench.triage_throughput [--lines 1000000] [--rounds 2]
                                      [--old-checkout /path/to/an/older/logsense]

Generates (once, cached under bench/out/) a JSON-lines file with `fixtures/generate.py`, and the
same events rendered as log4j text (`bench/text_render.py`), then alternates, in the same run,
the plain Drain3 loop (`bench/plain_drain3.py`: json decode + `add_log_message`; on text, each
raw line) and `logsense triage` over the whole file (window covering every event, JSON output),
for the JSON file and the text file, and `logsense triage` of the JSON file's last hour against
the hour before as baseline (what a triage usually does: every pattern's change, stopped work and
the gaps inside requests are tested too). Each command runs in its own process; the table shows
the best wall time, lines/s, peak RSS and the ratio to the plain loop on the same file.
logsense's time includes starting Python, importing torch and loading the embedding model when
grouping needs it; peak RSS is that of the command's largest process (the model runs in a child),
main RSS that of the process that reads, holds and triages the events.
With `--old-checkout`, the two JSON triage commands of that checkout (first on `PYTHONPATH`) run
in the same rounds, and each row of this checkout's shows its time and peak RSS against them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench._measure import Run, measure
from bench.text_render import render_text

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


def text_file(json_file: Path) -> Path:
    """The JSON-lines file rendered as log4j text, made once and reused."""
    path = json_file.with_suffix(".log")
    if not path.exists():
        render_text(json_file, path)
    return path


def count_lines(path: Path) -> int:
    """Lines in `path`."""
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def triage(path: Path, since: str, checkout: Path = ROOT) -> list[str]:
    """The `logsense triage` command line of `checkout` for the last `since` of `path`, as
    JSON (each checkout with a state directory of its own)."""
    state = OUT / ("state" if checkout == ROOT else "state-old-checkout")
    return [
        "env", f"PYTHONPATH={checkout}", sys.executable, "-P", "-m", "logsense", "triage",
        "--source", str(path), "--since", since, "--format", "json", "--quiet",
        "--state-dir", str(state), "--reset-state",
    ]  # fmt: skip


def main() -> None:
    """Run every contender `--rounds` times, alternating, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--old-checkout", type=Path)
    args = parser.parse_args()
    path = generated_file(args.lines)
    text = text_file(path)
    lines = count_lines(path)
    text_lines = count_lines(text)

    plain = [sys.executable, str(ROOT / "bench" / "plain_drain3.py")]
    contenders = {
        "plain Drain3 loop (JSON)": [*plain, str(path)],
        "logsense triage (JSON)": triage(path, "30d"),
        "logsense triage (JSON), last hour vs baseline": triage(path, "1h"),
        "plain Drain3 loop (text)": [*plain, "--text", str(text)],
        "logsense triage (log4j text)": triage(text, "30d"),
    }
    old = {}
    if args.old_checkout:
        checkout = args.old_checkout.resolve()
        old = {
            "logsense triage (JSON)": triage(path, "30d", checkout),
            "logsense triage (JSON), last hour vs baseline": triage(path, "1h", checkout),
        }
        contenders |= {f"{name}, old checkout": command for name, command in old.items()}
    runs: dict[str, list[Run]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, command in contenders.items():
            runs[name].append(measure(command))
    best = {name: min(r, key=lambda run: run.seconds) for name, r in runs.items()}
    table = Table(
        title=f"triage throughput on {path.name} ({lines:,} lines) and {text.name} "
        f"({text_lines:,} lines)"
    )
    columns = ["contender", "best s", "lines/s", "peak RSS MiB", "main RSS MiB", "speed vs plain"]
    if old:
        columns += ["speed vs old", "RSS vs old", "main RSS vs old"]
    for column in columns:
        table.add_column(column, justify="left" if column == "contender" else "right")
    for name, run in best.items():
        is_text = "text" in name
        base = best["plain Drain3 loop (text)" if is_text else "plain Drain3 loop (JSON)"].seconds
        count = text_lines if is_text else lines
        row = [
            name,
            f"{run.seconds:.2f}",
            f"{count / run.seconds:,.0f}",
            f"{run.peak_mib:,.0f}",
            f"{run.own_peak_mib:,.0f}",
            f"{base / run.seconds:.2f}×",
        ]
        if old:
            before = best.get(f"{name}, old checkout") if name in old else None
            row += (
                [
                    f"{before.seconds / run.seconds:.2f}×",
                    f"{run.peak_mib / before.peak_mib:.2f}×",
                    f"{run.own_peak_mib / before.own_peak_mib:.2f}×",
                ]
                if before is not None
                else ["", "", ""]
            )
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()
