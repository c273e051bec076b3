"""The parallel miner finds exactly what the serial miner finds: patterns, counts, samples."""

import pytest

from logsense.config import FieldMap
from logsense.mine import PARALLEL_MIN_EVENTS, mine
from logsense.model import Pattern, Window
from logsense.sampling import BottomK
from logsense.sources.files import FileSource
from tests.conftest import FIXTURES, Cli


def signature(patterns: list[Pattern]) -> list[tuple[object, ...]]:
    return sorted(
        (p.id, p.template, p.level, p.count, p.baseline_count, p.first_seen, p.last_seen,
         sorted(p.per_minute.items()), sorted(p.requests.items()), sorted(p.users),
         [s.raw for s in p.samples])
        for p in patterns
    )  # fmt: skip


@pytest.mark.parametrize("fixture", ["checkout_db_pool.jsonl.gz", "orders_deploy_npe.log.gz"])
def test_parallel_and_serial_mining_agree(fixture: str) -> None:
    events = list(FileSource(str(FIXTURES / fixture), FieldMap()).read())
    assert len(events) >= PARALLEL_MIN_EVENTS
    window = Window(events[0].timestamp + 1800, events[-1].timestamp + 1)
    serial = mine(events, window, processes=1)
    parallel = mine(events, window, processes=2)
    assert signature(serial.patterns) == signature(parallel.patterns)
    assert serial.totals == parallel.totals


def test_bottom_k_of_halves_is_bottom_k_of_the_whole() -> None:
    whole, first, second = BottomK[int](5), BottomK[int](5), BottomK[int](5)
    for position in range(1000):
        whole.offer(position, position)
        (first if position < 400 else second).offer(position, position)
    first.absorb(second)
    assert first.items == whole.items
    assert len(set(whole.items)) == 5


def test_triage_with_worker_processes_gives_the_serial_report(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = str(FIXTURES / "checkout_db_pool.jsonl.gz")
    serial = cli.json("triage", "-s", source, "--since", "1h")
    monkeypatch.setenv("LOGSENSE_PROCESSES", "2")
    parallel = cli.json("triage", "-s", source, "--since", "1h")
    assert parallel["issues"] == serial["issues"]
    assert parallel["totals"] == serial["totals"]
