"""Template-mining accuracy on Loghub-2k: the metric code, and logsense's miner against a floor."""

import csv

import pytest
from conftest import SHARED_DATA, needs_shared_data

from bench.loghub import available, load
from bench.parse_accuracy import (
    Parsed,
    Scores,
    average,
    normalize,
    parse_drain3,
    parse_logsense,
    score,
)

# What the miner reaches with the Khan et al. GT (GA .979, FGA .910, PA .905, FTA .807 averaged
# over the 12 systems), minus 0.01.
FLOORS = {"ga": 0.969, "fga": 0.900, "pa": 0.895, "fta": 0.797}


def test_normalize_makes_variable_lists_one_variable() -> None:
    assert normalize("delete  <*> <*><*> now ") == "delete <*> now"
    assert normalize("a <*>:<*> b") == "a <*>:<*> b"


def test_metrics_on_a_small_example() -> None:
    truth = ["a <*>", "a <*>", "b <*>", "c"]
    parsed = Parsed(groups=[1, 1, 2, 2], templates=["a <*>", "a <*>", "<*>", "<*>"], seconds=0.0)
    scores = score(parsed, truth)
    assert scores.ga == 0.5  # group 1 is exactly `a <*>`; group 2 mixes `b <*>` and `c`
    assert scores.fga == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    assert scores.pa == 0.5
    assert scores.fta == scores.fga  # the one exact group also has the right template


def test_a_template_is_only_right_for_an_exact_group() -> None:
    truth = ["x <*>", "x <*>", "x <*>"]
    split = Parsed(groups=[1, 1, 2], templates=["x <*>"] * 3, seconds=0.0)
    scores = score(split, truth)
    assert (scores.ga, scores.fta, scores.pa) == (0.0, 0.0, 1.0)


@pytest.mark.loghub
@needs_shared_data()
def test_drain3_reproduces_the_recorded_baseline() -> None:
    """Checks the metric code: plain Drain3 scores what `drain3_baseline_results.csv` recorded."""
    baseline = SHARED_DATA / "loghub-2k" / "drain3_baseline_results.csv"
    with baseline.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if (r["gt"], r["config"]) == ("khan", "default")]
    assert rows
    for row in rows:
        dataset = load(row["dataset"], "khan", SHARED_DATA)
        scores = score(parse_drain3(dataset.contents), dataset.templates)
        measured = (scores.ga, scores.fga, scores.pa, scores.fta)
        recorded = tuple(float(row[k]) for k in ("GA", "FGA", "PA", "FTA"))
        assert measured == pytest.approx(recorded, abs=1e-6), row["dataset"]


@pytest.mark.loghub
@needs_shared_data()
def test_miner_accuracy_does_not_regress() -> None:
    systems = available("khan", SHARED_DATA)
    assert len(systems) >= 12
    results: list[Scores] = []
    for system in systems:
        dataset = load(system, "khan", SHARED_DATA)
        results.append(score(parse_logsense(dataset.contents), dataset.templates))
    reached = average(results)
    for metric, floor in FLOORS.items():
        assert getattr(reached, metric) >= floor, f"{metric} {getattr(reached, metric):.3f}"
