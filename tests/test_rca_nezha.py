"""Root causes on real incidents: Nezha's TrainTicket faults, from their logs alone.

The whole day runs here, through the same code as `python -m bench.rca_accuracy`; the floors
are what logsense reaches on it (the README quotes the table), so a change that loses faults
fails. The data exists only beside the project's own checkout.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import needs_shared_data

from bench import nezha
from bench.rca_accuracy import Outcome, run_fault
from logsense.analyze.embed import Embedder

pytestmark = [
    pytest.mark.loghub,
    needs_shared_data(),
    pytest.mark.skipif(not nezha.available(), reason=f"{nezha.DATA} is absent"),
]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> list[Outcome]:
    work: Path = tmp_path_factory.mktemp("nezha")
    return [run_fault(fault, work, embedder) for fault in nezha.faults()]


def accuracy(outcomes: list[Outcome], k: int, kind: str | None = None) -> float:
    chosen = [o for o in outcomes if kind in (None, o.fault.kind)]
    return sum(o.hit(k) for o in chosen) / len(chosen)


def test_the_injected_service_leads_on_most_faults(outcomes: list[Outcome]) -> None:
    assert accuracy(outcomes, 1) >= 0.78
    assert accuracy(outcomes, 3) >= 0.82


def test_faults_that_throw_are_found_by_the_work_that_stopped(outcomes: list[Outcome]) -> None:
    # Exception faults mostly log nothing in the broken service: its normal lines stop.
    assert accuracy(outcomes, 1, "exception") >= 0.69


def test_a_starved_service_is_found_by_its_slowed_steps(outcomes: list[Outcome]) -> None:
    assert accuracy(outcomes, 1, "cpu_contention") >= 0.75
