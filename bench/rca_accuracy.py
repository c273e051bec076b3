"""Root-cause accuracy on real incidents: Nezha's TrainTicket faults, from their logs alone.

    python -m bench.rca_accuracy [--faults N] [--window S] [--baseline S] [--keep DIR] [--verbose]

For each injected fault of `../shared/data/nezha-tt-2023-01-29` (`bench/nezha.py`), writes the
fault's logs as ECS JSON lines a shipper would (with the fault-free minutes placed just before
as the baseline), runs `logsense triage --from <injection> --until <injection+3m> --baseline 3m
--format json` through the library (`--window` and `--baseline` set other lengths, in seconds:
the data holds the three minutes from the injection's minute), with a fresh state directory,
and reads the root-cause
services of the issues in rank order. AS@k is the share of faults whose injected service is among
the first k distinct root-cause services named; the table gives it per fault type beside Nezha's
own multi-modal result for this day (metrics, traces and logs).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import nezha
from logsense.analyze.embed import Embedder, default_embedder
from logsense.config import load_settings
from logsense.model import iso
from logsense.pipeline import triage
from logsense.render.json import report_to_dict
from logsense.sources.files import FileSource
from logsense.sources.window import WindowSpec

# Nezha's own results on this day (its paper's artefact, all fault types together).
NEZHA_AS1, NEZHA_AS3 = 0.893, 1.00
WINDOW = 180.0


@dataclass(frozen=True)
class Outcome:
    """What triage named for one fault: root-cause services in rank order, and the top title."""

    fault: nezha.Fault
    services: list[str]
    top: str

    def hit(self, k: int) -> bool:
        """True when the injected service is among the first `k` services named."""
        return self.fault.service in self.services[:k]


def rank_services(report: dict[str, object]) -> list[str]:
    """Distinct root-cause services of a triage report's issues, in rank order."""
    seen: dict[str, None] = {}
    for issue in report["issues"]:  # type: ignore[attr-defined]
        seen.setdefault(issue["root_cause"]["service"], None)
    return list(seen)


def run_fault(
    fault: nezha.Fault,
    work: Path,
    embedder: Embedder,
    window: float = WINDOW,
    baseline: float = WINDOW,
) -> Outcome:
    """Triage one fault's `window` seconds after a `baseline` as a user would and return what
    it named."""
    path = work / f"fault-{int(fault.injected)}.jsonl"
    nezha.fault_input(fault, path)
    state = work / f"state-{int(fault.injected)}"
    settings = load_settings(None, state_dir=state, llm={"enabled": False})
    spec = WindowSpec.from_options(
        None, iso(fault.injected + window), iso(fault.injected), f"{baseline:.0f}s"
    )
    report = report_to_dict(
        triage(
            FileSource(str(path), settings.fields),
            spec,
            settings,
            embedder=embedder,
            progress=False,
        )
    )
    issues = report["issues"]
    top = str(issues[0]["title"]) if issues else "-"
    return Outcome(fault, rank_services(report), top)


def main() -> None:
    """Run every fault (or the first `--faults`) and print AS@1 / AS@3 per fault type."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=0, help="only the first N faults")
    parser.add_argument("--window", type=float, default=WINDOW, help="seconds of window")
    parser.add_argument("--baseline", type=float, default=WINDOW, help="seconds of baseline")
    parser.add_argument("--keep", type=Path, help="keep the converted inputs in this directory")
    parser.add_argument("--verbose", "-v", action="store_true", help="one line per fault")
    args = parser.parse_args()
    console = Console(width=200)
    if not nezha.available():
        console.print(f"skipped: the Nezha data is not at {nezha.DATA}")
        sys.exit(0)
    chosen = nezha.faults()[: args.faults or None]
    embedder = default_embedder()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        outcomes = []
        for fault in chosen:
            outcome = run_fault(fault, work, embedder, args.window, args.baseline)
            outcomes.append(outcome)
            if args.verbose:
                mark = "ok " if outcome.hit(1) else ("ok3" if outcome.hit(3) else "MISS")
                console.print(
                    f"{mark} {iso(fault.injected)} {fault.kind:<15} {fault.service:<30} "
                    f"named {', '.join(outcome.services[:3])} | {outcome.top[:90]}",
                    markup=False,
                    highlight=False,
                )
    console.print(accuracy_table(outcomes))


def accuracy_table(outcomes: list[Outcome]) -> Table:
    """AS@1 and AS@3 per fault type and over all, beside Nezha's own result for the day."""
    table = Table(title="root-cause service accuracy on Nezha TrainTicket (logs only)")
    for column in ("fault type", "faults", "AS@1", "AS@3", "Nezha AS@1", "Nezha AS@3"):
        table.add_column(column, justify="left" if column == "fault type" else "right")
    kinds = sorted({o.fault.kind for o in outcomes})
    for kind in [*kinds, "all"]:
        group = [o for o in outcomes if kind in ("all", o.fault.kind)]
        at1 = sum(o.hit(1) for o in group) / len(group)
        at3 = sum(o.hit(3) for o in group) / len(group)
        nezha_cells = (f"{NEZHA_AS1:.3f}", f"{NEZHA_AS3:.2f}") if kind == "all" else ("", "")
        table.add_row(kind, str(len(group)), f"{at1:.3f}", f"{at3:.3f}", *nezha_cells)
    return table


if __name__ == "__main__":
    main()
