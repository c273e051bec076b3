import sqlite3
from pathlib import Path

import pytest

from logsense.errors import UsageError
from logsense.mine.registry import Registry
from logsense.model import Pattern, Window
from logsense.rank import pattern_status


def pattern(template: str, pid: str, first: float = 100.0, service: str = "api") -> Pattern:
    p = Pattern(id=pid, service=service, level="error", template=template)
    p.count, p.first_seen, p.last_seen = 1, first, first + 10
    return p


def test_ids_survive_template_drift_across_runs(tmp_path: Path) -> None:
    with Registry.open(tmp_path) as registry:
        assert registry.assign([pattern("db pool main exhausted after <*>", "a1")]) == {}
    drifted = pattern("db pool <*> exhausted after <*>", "b2", first=500.0)
    other_service = pattern("db pool <*> exhausted after <*>", "c3", service="web")
    with Registry.open(tmp_path) as registry:
        known = registry.assign([drifted, other_service])
    assert drifted.id == "a1"
    assert known["a1"].first_seen == 100.0
    assert other_service.id == "c3"


def test_two_patterns_never_take_the_same_registered_id(tmp_path: Path) -> None:
    with Registry.open(tmp_path) as registry:
        registry.assign([pattern("timeout calling <*>", "a1")])
    first, second = pattern("timeout calling payment", "x"), pattern("timeout calling orders", "y")
    with Registry.open(tmp_path) as registry:
        registry.assign([first, second])
    assert sorted([first.id, second.id]) == ["a1", "y"]


def test_reopening_gives_the_same_ids_for_the_same_input(tmp_path: Path) -> None:
    runs = []
    for _ in range(3):
        patterns = [pattern("a <*> b", "p1"), pattern("c d", "p2")]
        with Registry.open(tmp_path) as registry:
            registry.assign(patterns)
        runs.append([p.id for p in patterns])
    assert runs[0] == runs[1] == runs[2] == ["p1", "p2"]


def test_regressed_means_seen_before_gone_in_the_baseline_and_back(tmp_path: Path) -> None:
    with Registry.open(tmp_path) as registry:
        registry.assign([pattern("disk full on <*>", "d1", first=0.0)])
    back = pattern("disk full on <*>", "zz", first=10_000.0)
    with Registry.open(tmp_path) as registry:
        known = registry.assign([back])
    window, baseline = Window(9_000, 12_000), Window(6_000, 9_000)
    assert pattern_status(back, window, baseline, True, known) == "regressed"
    assert pattern_status(back, window, baseline, True, {}) == "new"
    back.baseline_count = 3
    assert pattern_status(back, window, baseline, True, known) == "ongoing"


def test_a_corrupt_file_names_the_way_out(tmp_path: Path) -> None:
    (tmp_path / "registry.sqlite3").write_bytes(b"not a database at all" * 100)
    with pytest.raises(UsageError, match="--reset-state"), Registry.open(tmp_path):
        pass
    with Registry.open(tmp_path, reset=True) as registry:
        assert registry.assign([pattern("x", "p")]) == {}


def test_a_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "registry.sqlite3") as db:
        db.execute("CREATE TABLE other (x)")
    with pytest.raises(UsageError, match="not a logsense registry"), Registry.open(tmp_path):
        pass
