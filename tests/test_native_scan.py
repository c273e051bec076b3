"""The native JSON scanner reads exactly what the Python reader reads, with any thread count.

`FileSource.read` (orjson + `RecordReader`) is the reference for what a record means; `fill`
hands JSON lines to `EventTable.scan_json`. Both must give the same aggregate, shape by shape.
"""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest

from logsense._native import Aggregate, EventTable
from logsense.config import FieldMap
from logsense.mine.sampling import BottomK
from logsense.sources import files
from logsense.sources.files import FileSource
from logsense.sources.records import SourceStats, event_table, push_event
from tests.conftest import FIXTURES, Cli

TRICKY = [
    b"",
    b"   ",
    b'{"@timestamp": "2026-11-20T13:00:00.000Z", "log": {"level": "ERROR"}, '
    b'"service": {"name": "api"}, "trace": {"id": "t1"}, "user": {"id": 7}, "message": "boom 500"}',
    b'{"@timestamp": "2026-11-20T14:00:01+01:00", "log.level": "warning", "service.name": "api",'
    b' "message": "dotted  key  "}',
    b'{"@timestamp": "2026-11-20T13:00:02,5+0530", "level": "info", "message": "comma fraction"}',
    b'{"@timestamp": "2026-11-20 13:00:03.1234567", "level": "INFO", "message": "seven digits"}',
    b'{"timestamp": 1795179602000, "level": 50, "service": "db", "request_id": "r9", "msg": "x",'
    b' "message": "pino"}',
    b'{"timestamp": 1795179603.25, "level": 30, "service": "db", "message": "epoch seconds"}',
    b'{"@timestamp": "2026-11-20T13:00:04Z", "level": "verbose2", "message": "unknown level"}',
    b'{"@timestamp": "2026-11-20T13:00:05Z", "level": true, "message": "bool level"}',
    b'{"@timestamp": "2026-11-20T13:00:05Z", "level": -1, "message": "negative level"}',
    b'{"@timestamp": "2026-11-20T13:00:06Z", "level": " Warn ", "message": "padded level"}',
    b'{"@timestamp": "2026-11-20T13:00:07Z", "message": "no level, no service"}',
    b'{"@timestamp": "2026-11-20T13:00:08Z", "level": "error", "service": {"name": ""},'
    b' "trace": {"id": 12.5}, "message": "float request id"}',
    b'{"@timestamp": "2026-11-20T13:00:09Z", "level": "error", "trace": {"id": false},'
    b' "message": "bool request id"}',
    b'{"@timestamp": "2026-11-20T13:00:10Z", "level": "error", "service": "pay",'
    b' "message": "NullPointerException in handler\\n\\tat com.shop.Pay.run(Pay.java:42)\\n'
    b'\\tat java.lang.Thread.run(Thread.java:1)"}',
    b'{"@timestamp": "2026-11-20T13:00:11Z", "level": "error", "service": "pay", "message": '
    b'"wrapped", "error": {"stack_trace": "java.lang.IllegalStateException: x\\n\\tat '
    b'com.shop.Pay.go(Pay.java:7)"}}',
    b'{"@timestamp": "2026-11-20T13:00:12Z", "level": "info", "message": "caf\xc3\xa9 \xff bad"}',
    b'{"@timestamp": "", "message": "empty timestamp"}',
    b'{"@timestamp": "yesterday", "message": "unparseable timestamp"}',
    b'{"@timestamp": "2026-11-20T13:00:13Z", "message": 42}',
    b'{"@timestamp": "2026-11-20T13:00:14Z", "message": "dup", "message": "last key wins"}',
    b"[1, 2, 3]",
    b'{"broken": ',
    b'{"@timestamp": "2026-11-20T13:00:15Z", "level": "info",'
    b' "message": "\\u00e9t\\u00e9 \\t tab"}',
    b'{"@timestamp": "2026-11-20T13:00:16Z", "level": "debug", "message": "GET /api/v1/x 404"}',
    b'{"@timestamp": "2026-11-20T12:00:00-02:00", "level": "error", "message": "last line, '
    b'no newline"}',
]


def signature(aggregate: Aggregate) -> tuple[object, ...]:
    """Everything an aggregate says, as plain comparable data."""
    shapes = [
        (s.service, s.level_class, s.masked, s.fingerprint, s.first_position, s.level, s.count,
         s.baseline_count, s.first_seen, s.last_seen, sorted(s.per_minute.items()),
         sorted(s.requests.items()), sorted(s.users), s.samples)
        for s in aggregate.shapes
    ]  # fmt: skip
    per_minute = sorted(aggregate.requests_per_minute.items())
    return (shapes, aggregate.events, aggregate.services, aggregate.requests, per_minute,
            aggregate.users, aggregate.outside)  # fmt: skip


def stats_of(stats: SourceStats) -> tuple[object, ...]:
    return (stats.read, stats.malformed, dict(stats.malformed_reasons), stats.missing_level,
            stats.missing_service, dict(stats.unknown_levels), stats.undecodable)  # fmt: skip


def through_python(path: Path, threads: int) -> tuple[EventTable, SourceStats]:
    source = FileSource(str(path), FieldMap())
    table = event_table(FieldMap(), source.name, threads=threads)
    for event in source.read():
        push_event(table, int(event.origin.rpartition(":")[2]), event)
    return table, source.stats


def through_scanner(path: Path, threads: int) -> tuple[EventTable, SourceStats]:
    source = FileSource(str(path), FieldMap())
    table = event_table(FieldMap(), source.name, threads=threads)
    source.fill(table)
    return table, source.stats


def aggregate(table: EventTable, window_start: float) -> Aggregate:
    return table.aggregate(-math.inf, window_start, math.inf, 5)


@pytest.mark.parametrize("threads", [1, 2])
def test_tricky_lines_read_the_same_natively(tmp_path: Path, threads: int) -> None:
    path = tmp_path / "tricky.jsonl"
    path.write_bytes(b"\n".join(TRICKY))
    expected, expected_stats = through_python(path, 1)
    table, stats = through_scanner(path, threads)
    start = 1795179600.0  # 2026-11-20T13:00:00Z: the earlier events are the baseline
    assert signature(aggregate(table, start)) == signature(aggregate(expected, start))
    assert stats_of(stats) == stats_of(expected_stats)
    assert stats.malformed == 5 and stats.undecodable == 1
    assert stats.malformed_examples == expected_stats.malformed_examples
    assert table.earliest == expected.earliest and table.newest == expected.newest


@pytest.mark.parametrize(
    "fixture",
    ["checkout_db_pool.jsonl.gz", "orders_deploy_npe.jsonl.gz", "search_timeouts_minor.jsonl.gz"],
)
def test_fixtures_read_the_same_natively_with_any_thread_count(fixture: str) -> None:
    path = FIXTURES / fixture
    expected, expected_stats = through_python(path, 1)
    start = expected.newest - 1800  # type: ignore[operator]
    want = signature(aggregate(expected, start))
    for threads in (1, 2):
        table, stats = through_scanner(path, threads)
        assert signature(aggregate(table, start)) == want
        assert stats_of(stats) == stats_of(expected_stats)


def test_a_bounded_table_forgets_only_what_cannot_matter(tmp_path: Path) -> None:
    lines = [
        orjson.dumps({"@timestamp": 1795179600 + i, "level": "info", "message": f"tick {i % 7}"})
        for i in range(200_000)
    ]
    path = tmp_path / "long.jsonl"
    path.write_bytes(b"\n".join(lines))
    source = FileSource(str(path), FieldMap())
    bounded = event_table(FieldMap(), source.name, lookback=600.0)
    source.fill(bounded)
    full, _ = through_scanner(path, 1)
    newest = 1795179600 + 199_999
    window = (newest - 300, newest - 300, newest + 1)
    got = bounded.aggregate(*window, 5)
    assert signature(got) == signature(full.aggregate(*window, 5))
    assert got.outside == 200_000 - 301
    assert bounded.rows < 100_000 < full.rows  # the rest was forgotten while reading


def test_triage_with_two_threads_gives_the_one_thread_report(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = str(FIXTURES / "checkout_db_pool.jsonl.gz")
    serial = cli.json("triage", "-s", source, "--since", "1h")
    monkeypatch.setenv("LOGSENSE_THREADS", "2")
    parallel = cli.json("triage", "-s", source, "--since", "1h")
    assert parallel["issues"] == serial["issues"]
    assert parallel["totals"] == serial["totals"]


def test_bottom_k_of_halves_is_bottom_k_of_the_whole() -> None:
    whole, first, second = BottomK[int](5), BottomK[int](5), BottomK[int](5)
    for position in range(1000):
        whole.offer(position, position)
        (first if position < 400 else second).offer(position, position)
    first.absorb(second)
    assert first.items == whole.items
    assert len(set(whole.items)) == 5


@pytest.mark.parametrize("block", [1, 7, 977])
def test_blocks_cut_inside_lines_read_the_same(
    tmp_path: Path, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tricky.jsonl"
    path.write_bytes(b"\r\n".join(TRICKY))
    expected, expected_stats = through_python(path, 1)
    monkeypatch.setattr(files, "_BLOCK", block)
    table, stats = through_scanner(path, 2)
    start = 1795179600.0
    assert signature(aggregate(table, start)) == signature(aggregate(expected, start))
    assert stats_of(stats) == stats_of(expected_stats)
