"""Parsing accuracy on Loghub-2k: logsense's miner next to plain Drain3, per system and on average.

    python -m bench.parse_accuracy [--gt khan|v2corr|orig] [--system NAME ...] [--errors N]

Both parsers read each system's `Content` column, one line at a time: logsense through its
EventTable and miner (one Event per line, one service, level info), Drain3 through
`TemplateMiner.add_log_message` with its default settings (depth 4, sim_th 0.4, max_children
100) plus the IP/HEX/NUM masks that `drain3_baseline_results.csv` calls `default`; its named
masks count as `<*>`. Each line's predicted group is its final cluster, and its predicted
template that cluster's final template.

Metrics (each line has a GT template; a GT group is the set of lines with one GT template string):

- GA, grouping accuracy (Zhu et al., ICSE-SEIP'19): the share of lines whose predicted group is
  exactly their GT group, as a set of lines.
- FGA, F1 of grouping accuracy (Jiang et al., ISSTA'24, "Loghub-2.0"): a predicted group is correct
  when it is exactly a GT group; precision = correct / predicted groups, recall = correct / GT
  groups, FGA = their harmonic mean.
- PA, parsing accuracy: the share of lines whose predicted template equals their GT template,
  both normalized first (`normalize`: runs of whitespace become one space, and adjacent variables
  -- `<*><*>`, `<*> <*>` -- become one `<*>`, so a variable-length list is one variable).
- FTA, F1 of template accuracy (Loghub-2.0, after Khan et al., ICSE'22): a predicted group is
  correct when it is exactly a GT group and its normalized template equals that group's; F1 over
  predicted and GT groups as for FGA.

GA and FGA compare raw GT strings; PA and FTA compare normalized ones. With these definitions the
Drain3 column reproduces the `GA`, `FGA`, `PA` and `FTA` columns of
`../shared/data/loghub-2k/drain3_baseline_results.csv` (config `default`).
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig
from rich.console import Console
from rich.table import Table

from bench.loghub import DATA, GROUND_TRUTHS, Dataset, GroundTruth, available, load
from logsense.config import FieldMap
from logsense.mine import mine_every_event
from logsense.model import Event
from logsense.sources.records import event_table, push_event

__all__ = [
    "PARSERS",
    "Parsed",
    "Scores",
    "average",
    "evaluate",
    "main",
    "normalize",
    "parse_drain3",
    "parse_logsense",
    "score",
]

_ADJACENT_VARIABLES = re.compile(r"<\*>(?:\s?<\*>)+")
_NAMED_MASK = re.compile(r"<[A-Z]+>")
_DRAIN3_MASKS = (
    MaskingInstruction(r"\b(\d{1,3}\.){3}\d{1,3}(:\d+)?\b", "IP"),
    MaskingInstruction(r"\b0[xX][0-9a-fA-F]+\b", "HEX"),
    MaskingInstruction(r"(?<![\w.])[-+]?\d+(\.\d+)?(?![\w.])", "NUM"),
)


@dataclass(frozen=True)
class Parsed:
    """A parser's answer for each line: its group (any hashable id) and its template."""

    groups: list[Hashable]
    templates: list[str]
    seconds: float


@dataclass(frozen=True)
class Scores:
    """Accuracy of one parser on one system (see the module docstring)."""

    ga: float
    fga: float
    pa: float
    fta: float
    predicted: int
    truth: int
    seconds: float = 0.0


def normalize(template: str) -> str:
    """`template` with whitespace runs as one space and adjacent `<*>`s as one."""
    return _ADJACENT_VARIABLES.sub("<*>", " ".join(template.split()))


def parse_logsense(lines: Sequence[str]) -> Parsed:
    """Lines through logsense's EventTable and miner, as one service at one level."""
    start = time.perf_counter()
    table = event_table(FieldMap(), "loghub")
    for i, line in enumerate(lines):
        push_event(table, i, Event(float(i), line, "info", "loghub"))
    _, per_event = mine_every_event(table)
    patterns = [pattern for _, pattern in per_event]
    seconds = time.perf_counter() - start
    return Parsed([p.id for p in patterns], [p.template for p in patterns], seconds)


def parse_drain3(lines: Sequence[str]) -> Parsed:
    """Lines through plain Drain3 (default settings with the baseline's IP/HEX/NUM masks)."""
    start = time.perf_counter()
    config = TemplateMinerConfig()
    config.masking_instructions = list(_DRAIN3_MASKS)
    miner = TemplateMiner(config=config)
    ids = [miner.add_log_message(line)["cluster_id"] for line in lines]
    final = {cluster.cluster_id: cluster.get_template() for cluster in miner.drain.clusters}
    seconds = time.perf_counter() - start
    return Parsed(list(ids), [_NAMED_MASK.sub("<*>", final[i]) for i in ids], seconds)


PARSERS: dict[str, Callable[[Sequence[str]], Parsed]] = {
    "logsense": parse_logsense,
    "Drain3": parse_drain3,
}


def score(parsed: Parsed, truth: Sequence[str]) -> Scores:
    """GA, FGA, PA and FTA of `parsed` against the GT templates `truth`, line by line."""
    predicted_sizes = Counter(parsed.groups)
    truth_sizes = Counter(truth)
    exact = _exact_groups(parsed.groups, truth, predicted_sizes)
    ga = sum(truth_sizes[t] for t in exact.values()) / len(truth)
    fga = _f1(len(exact), len(predicted_sizes), len(truth_sizes))
    norm_truth = [normalize(t) for t in truth]
    norm_pred = [normalize(t) for t in parsed.templates]
    pa = sum(p == t for p, t in zip(norm_pred, norm_truth, strict=True)) / len(truth)
    template_of = dict(zip(parsed.groups, norm_pred, strict=True))
    norm_truth_of = dict(zip(truth, norm_truth, strict=True))
    correct = sum(template_of[group] == norm_truth_of[t] for group, t in exact.items())
    fta = _f1(correct, len(predicted_sizes), len(set(norm_truth)))
    return Scores(ga, fga, pa, fta, len(predicted_sizes), len(truth_sizes), parsed.seconds)


def _exact_groups(
    groups: Sequence[Hashable], truth: Sequence[str], predicted_sizes: Counter[Hashable]
) -> dict[Hashable, str]:
    """Predicted groups that are exactly one GT group, mapped to that group's GT template."""
    members: dict[str, set[Hashable]] = defaultdict(set)
    sizes: Counter[str] = Counter()
    for group, template in zip(groups, truth, strict=True):
        members[template].add(group)
        sizes[template] += 1
    exact: dict[Hashable, str] = {}
    for template, predicted in members.items():
        if len(predicted) == 1:
            (group,) = predicted
            if predicted_sizes[group] == sizes[template]:
                exact[group] = template
    return exact


def _f1(correct: int, predicted: int, truth: int) -> float:
    precision, recall = correct / predicted, correct / truth
    return 2 * precision * recall / (precision + recall) if correct else 0.0


def evaluate(dataset: Dataset) -> dict[str, Scores]:
    """Every parser's scores on `dataset`."""
    return {
        name: score(parse(dataset.contents), dataset.templates) for name, parse in PARSERS.items()
    }


def average(results: Sequence[Scores]) -> Scores:
    """The mean of each metric (and the total of the counts and times) over systems."""
    n = len(results)
    return Scores(
        sum(r.ga for r in results) / n,
        sum(r.fga for r in results) / n,
        sum(r.pa for r in results) / n,
        sum(r.fta for r in results) / n,
        sum(r.predicted for r in results),
        sum(r.truth for r in results),
        sum(r.seconds for r in results),
    )


def _table(results: dict[str, dict[str, Scores]], gt: str) -> Table:
    table = Table(title=f"Loghub-2k parsing accuracy (GT: {gt})")
    table.add_column("system")
    table.add_column("GT\ngroups", justify="right")
    for parser in PARSERS:
        for metric in ("GA", "FGA", "PA", "FTA", "groups"):
            table.add_column(f"{parser}\n{metric}", justify="right")
    rows = dict(results)
    rows["average"] = {p: average([r[p] for r in results.values()]) for p in PARSERS}
    for system, by_parser in rows.items():
        cells = [system, str(by_parser["logsense"].truth)]
        for parser in PARSERS:
            s = by_parser[parser]
            cells += [
                f"{s.ga:.3f}",
                f"{s.fga:.3f}",
                f"{s.pa:.3f}",
                f"{s.fta:.3f}",
                str(s.predicted),
            ]
        table.add_row(*cells, end_section=system == next(reversed(results)))
    return table


def _print_errors(console: Console, dataset: Dataset, limit: int) -> None:
    """The `limit` most frequent (predicted, GT) template pairs where logsense is wrong."""
    parsed = parse_logsense(dataset.contents)
    wrong = Counter(
        (p, t)
        for p, t in zip(parsed.templates, dataset.templates, strict=True)
        if normalize(p) != normalize(t)
    )
    console.rule(f"{dataset.name}: lines with a wrong template")
    for (predicted, truth), n in wrong.most_common(limit):
        console.print(f"{n:5d}  got  {predicted}\n       want {truth}", markup=False)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the accuracy table (and, with `--errors`, logsense's most frequent mistakes)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--gt", choices=GROUND_TRUTHS, default="khan", help="ground truth")
    parser.add_argument("--system", action="append", help="only these systems (repeatable)")
    parser.add_argument("--errors", type=int, default=0, help="show N wrong templates per system")
    parser.add_argument("--data", type=str, default=str(DATA), help="the shared data directory")
    args = parser.parse_args(argv)
    gt: GroundTruth = args.gt
    root = Path(args.data)
    console = Console()
    console.width = max(console.width, 120)
    results: dict[str, dict[str, Scores]] = {}
    for system in args.system or available(gt, root):
        dataset = load(system, gt, root)
        results[system] = evaluate(dataset)
        if args.errors:
            _print_errors(console, dataset, args.errors)
    console.print(_table(results, gt))
    seconds = {p: sum(r[p].seconds for r in results.values()) for p in PARSERS}
    console.print("seconds: " + ", ".join(f"{p} {t:.2f}" for p, t in seconds.items()))


if __name__ == "__main__":
    main()
