"""The native JSON scanner reads exactly what the Python reader reads, with any thread count.

`FileSource.read` (orjson + `RecordReader`) is the reference for what a record means; `fill`
hands JSON lines to `EventTable.scan_json`. Both must give the same aggregate, shape by shape.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from logsense._native import Aggregate, EventTable, RequestNames
from logsense.config import FieldMap
from logsense.mine.sampling import BottomK
from logsense.model import Timings
from logsense.requestmap import RequestMap
from logsense.sources import files
from logsense.sources.files import FileSource
from logsense.sources.records import MAX_LINE_BYTES, SourceStats, event_table, push_event
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
    # A byte order mark at the start of a line (files joined), and epoch times in other units.
    b'\xef\xbb\xbf{"@timestamp": "2026-11-20T13:00:17Z", "level": "info", "message": "bom"}',
    b"\xef\xbb\xbf",
    b'{"@timestamp": 1795179618123456, "level": "info", "message": "epoch microseconds"}',
    b'{"@timestamp": 1795179619123456789, "level": "info", "message": "epoch nanoseconds"}',
    b'{"@timestamp": 1.7951796205e15, "level": "info", "message": "float microseconds"}',
    # Durations from a field (ECS `event.duration`, in nanoseconds); only numbers count.
    b'{"@timestamp": "2026-11-20T13:00:20Z", "message": "timed", "event": {"duration": 1500000}}',
    b'{"@timestamp": "2026-11-20T13:00:21Z", "message": "timed", "event.duration": 2.5e6}',
    b'{"@timestamp": "2026-11-20T13:00:22Z", "message": "timed", "event": {"duration": "3ms"}}',
    b'{"@timestamp": "2026-11-20T13:00:23Z", "message": "timed", "event": {"duration": -5}}',
    b'{"@timestamp": "2026-11-20T13:00:24Z", "message": "timed", "event": {"duration": true}}',
    b'{"@timestamp": "2026-11-20T13:00:25Z", "message": "timed", "event": {"duration": '
    b"99999999999999999999}}",
    # HTTP statuses: a 5xx makes an event an error at least (the first status with a value).
    b'{"@timestamp": "2026-11-20T13:00:26Z", "level": "info", "message": "served",'
    b' "http": {"response": {"status_code": 503}}}',
    b'{"@timestamp": "2026-11-20T13:00:27Z", "message": "served", "status": "502"}',
    b'{"@timestamp": "2026-11-20T13:00:28Z", "level": "verbose2", "message": "served",'
    b' "statusCode": 500}',
    b'{"@timestamp": "2026-11-20T13:00:29Z", "level": "info", "message": "served", "status": 404}',
    b'{"@timestamp": "2026-11-20T13:00:30Z", "level": "info", "message": "served",'
    b' "status": "\\u0035\\u0030\\u0030"}',
    b'{"@timestamp": "2026-11-20T13:00:31Z", "level": "info", "message": "served",'
    b' "http.response.status_code": 200, "status": 500}',
    b'{"@timestamp": "2026-11-20T13:00:32Z", "message": "served", "status": 500.0}',
    b'{"@timestamp": "2026-11-20T13:00:33Z", "message": "served", "res": {"statusCode": true}}',
    # Loggers' own JSON: pino (name, reqId, err.stack), zap (logger, stacktrace), logback's encoder.
    b'{"level": 50, "time": 1795179621123, "pid": 7, "hostname": "web1", "name": "api",'
    b' "reqId": "r-2", "msg": "db timeout", "err": {"type": "Error", "stack": "Error: t\\n'
    b'    at q (/app/db.js:1:1)"}}',
    b'{"level": "error", "ts": 1795179622.5, "logger": "payments", "caller": "pay/c.go:9",'
    b' "msg": "charge failed", "stacktrace": "main.charge\\n\\t/app/pay/c.go:9"}',
    b'{"@timestamp": "2026-11-20T13:00:23Z", "level": "WARN", "logger_name": "c.s.Api",'
    b' "message": "slow", "traceId": "t-3"}',
    b'{"t": {"$date": "2026-11-20T13:00:24.123+00:00"}, "s": "E", "c": "STORAGE", "id": 22435,'
    b' "ctx": "initandlisten", "msg": "WiredTiger error"}',
    # Implausible times: counted as malformed by both readers, never events.
    b'{"@timestamp": 1e300, "level": "error", "message": "far beyond"}',
    b'{"@timestamp": 1e400, "level": "error", "message": "infinity (orjson: invalid JSON)"}',
    b'{"@timestamp": 0, "level": "error", "message": "epoch zero"}',
    b'{"@timestamp": -1795179600, "level": "error", "message": "negative"}',
    b'{"@timestamp": "0001-01-01T00:00:00Z", "level": "error", "message": "go zero time"}',
    b'{"@timestamp": "9999-12-31T23:59:59Z", "level": "error", "message": "end of time"}',
    b'{"@timestamp": "2100-01-01T00:00:00Z", "level": "error", "message": "too late"}',
    b'{"@timestamp": "1999-12-31T23:59:59.999Z", "level": "error", "message": "too early"}',
    b'{"@timestamp": "2099-12-31T23:59:59.999Z", "level": "info", "message": "last plausible"}',
    b'{"@timestamp": "2026-11-20T12:00:00-02:00", "level": "error", "message": "last line, '
    b'no newline"}',
]
IMPLAUSIBLE = 7  # the lines above with an implausible time

# Lines around a small cap (`max_line=80`): too long, blank at any length, just within.
LONG = [
    b'{"@timestamp": "2026-11-20T13:00:00Z", "level": "info", "message": "ok"}',
    b'{"@timestamp": "2026-11-20T13:00:01Z", "level": "error", "message": "' + b"x" * 200 + b'"}',
    b" " * 300,
    b"\xef\xbb\xbf" + b" \t" * 100,
    b'{"@timestamp": "2026-11-20T13:00:02Z", "message": "just within the cap."}',
    b"not json at all, and far longer than the cap of eighty bytes: " + b"y" * 100,
    b'{"@timestamp": "2026-11-20T13:00:03Z", "message": "' + "é".encode() * 100 + b'"}',
    b'{"@timestamp": "2026-11-20T13:00:04Z", "level": "warn", "message": "the last"}',
]


def timings_texts(timings: Timings | None, names: RequestNames) -> object:
    """`timings` with request id texts: tables number their requests each their own way."""
    if timings is None:
        return None
    before, now = ([(s, None if r is None else names[r]) for s, r in t] for t in timings[2:])
    return timings[0], timings[1], before, now


def signature(aggregate: Aggregate) -> tuple[object, ...]:
    """Everything an aggregate says, as plain comparable data."""
    names = aggregate.request_names
    shapes = [
        (s.service, s.level_class, s.masked, s.fingerprint, s.first_position, s.level, s.count,
         s.baseline_count, s.first_seen, s.last_seen, sorted(s.per_minute.items()),
         sorted(RequestMap.from_buffers(s.requests, names).to_dict().items()), sorted(s.users),
         s.samples, timings_texts(s.durations, names))
        for s in aggregate.shapes
    ]  # fmt: skip
    per_minute = sorted(aggregate.requests_per_minute.items())
    return (shapes, aggregate.events, aggregate.services, aggregate.requests, per_minute,
            aggregate.users, aggregate.outside)  # fmt: skip


def stats_of(stats: SourceStats) -> tuple[object, ...]:
    return (stats.read, stats.malformed, dict(stats.malformed_reasons), stats.missing_level,
            stats.missing_service, dict(stats.unknown_levels), stats.undecodable)  # fmt: skip


def through_python(
    path: Path, threads: int, max_line: int = MAX_LINE_BYTES
) -> tuple[EventTable, SourceStats]:
    source = FileSource(str(path), FieldMap(), max_line=max_line)
    table = event_table(FieldMap(), source.name, threads=threads)
    for event in source.read():
        push_event(table, int(event.origin.rpartition(":")[2]), event)
    return table, source.stats


def through_scanner(
    path: Path, threads: int, max_line: int = MAX_LINE_BYTES
) -> tuple[EventTable, SourceStats]:
    source = FileSource(str(path), FieldMap(), max_line=max_line)
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
    assert stats.malformed == 6 + IMPLAUSIBLE and stats.undecodable == 1
    assert stats.malformed_reasons["implausible timestamp"] == IMPLAUSIBLE
    assert stats.malformed_examples == expected_stats.malformed_examples
    assert table.earliest == expected.earliest and table.newest == expected.newest
    assert table.anchor() == expected.anchor()
    timed = next(s for s in aggregate(table, start).shapes if s.masked == "timed")
    assert timed.durations is not None
    short, long, huge = sorted(seconds for seconds, _ in timed.durations[3])
    assert (short, long) == pytest.approx((0.0015, 0.0025), rel=1e-3) and huge > 1e7
    served = sorted(
        (s.level_class, s.count) for s in aggregate(table, start).shapes if s.masked == "served"
    )
    assert served == [("error", 4), ("info", 4)]
    messages = {s.masked for s in aggregate(table, start).shapes}
    assert {"bom", "epoch microseconds", "epoch nanoseconds", "last plausible"} <= messages
    assert not messages & {"far beyond", "epoch zero", "end of time", "too late", "too early"}


@pytest.mark.parametrize("block", [1, 13, 4096])
def test_long_lines_are_counted_the_same_by_both_readers(
    tmp_path: Path, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "long.jsonl"
    path.write_bytes(b"\n".join(LONG))
    monkeypatch.setattr(files, "_BLOCK", block)
    expected, expected_stats = through_python(path, 1, max_line=80)
    table, stats = through_scanner(path, 2, max_line=80)
    assert signature(aggregate(table, 0.0)) == signature(aggregate(expected, 0.0))
    assert stats_of(stats) == stats_of(expected_stats)
    assert stats.malformed_examples == expected_stats.malformed_examples
    assert dict(stats.malformed_reasons) == {"line too long": 3}
    assert [s.masked for s in aggregate(table, 0.0).shapes] == [
        "ok", "just within the cap.", "the last",
    ]  # fmt: skip


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
        assert table.instances() == expected.instances()  # versions and hosts of services
    assert any(version for _, version, *_ in expected.instances())


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


def docker_records(errors: int) -> list[bytes]:
    """Docker's json-file log of a Java service: each line a record, a stack trace one record
    per line, and now and then a line that only looks like one (3 s after its log line)."""
    records = []
    for i in range(errors):
        at = 1714903200.0 + 10 * i

        def record(line: str, seconds: float) -> bytes:
            stamp = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
            return orjson.dumps({"log": line + "\n", "stream": "stderr", "time": stamp})

        header = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S,000")
        lines = [f"{header} ERROR [main] com.shop.Pay: charge {i} failed",
                 "java.net.SocketTimeoutException: Read timed out",
                 f"\tat com.shop.Pay.charge(Pay.java:{40 + i % 3})", "\tat com.shop.Api.run",
                 *["x" * 40] * (i % 4)]  # fmt: skip
        records += [record(line, at + n / 1000) for n, line in enumerate(lines)]
        if i % 5 == 0:
            records.append(record("late line", at + 3))
    return records


@pytest.mark.parametrize(("threads", "block"), [(1, 1 << 20), (2, 1 << 20), (2, 977), (2, 7)])
def test_a_stack_trace_shipped_line_by_line_joins_its_event_in_both_readers(
    tmp_path: Path, threads: int, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both readers join the same records, wherever blocks and the threads' pieces cut."""
    path = tmp_path / "docker.jsonl"
    path.write_bytes(b"\n".join(docker_records(3000)) + b"\n")
    expected, expected_stats = text_through_python(path, 1)
    monkeypatch.setattr(files, "_BLOCK", block)
    table, stats = text_through_scanner(path, threads)
    assert signature(aggregate(table, -math.inf)) == signature(aggregate(expected, -math.inf))
    assert text_stats(stats) == text_stats(expected_stats)
    assert table.instances() == expected.instances()  # joined records are no events of theirs
    assert stats.joined == expected_stats.joined == 3000 * 3 + sum(i % 4 for i in range(3000))
    events = list(FileSource(str(path), FieldMap()).read())
    errors = [e for e in events if e.level == "error"]
    assert len(errors) == 3000
    assert all(e.stack_trace and e.stack_trace.startswith("java.net.") for e in errors)
    assert [e.message for e in events if e.level != "error"] == ["late line"] * 600


# Text lines: formats, prefixes, the fallback, continuation lines, and what goes wrong.
TRICKY_TEXT = [
    b"Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; uid=0",
    b"Jun 14 15:16:02 combo kernel:  BIOS-e820: 0000000000000000 (usable)",
    b"2024-05-05 10:11:12.345 [main] ERROR com.shop.Api - boom",
    b"java.lang.IllegalStateException: x",
    b"\tat com.shop.Api.run(Api.java:1)",
    b"Caused by: java.io.IOException: y",
    b"",
    b"   ",
    b"\xef\xbb\xbfJun 14 15:16:03 combo sshd[1]: after a byte order mark",
    b"Jun 14 15:16:04 combo sshd[1]: caf\xc3\xa9 \xff bad bytes",
    b"<11>Jan  5 14:02:11 db1 postgres[811]: FATAL:  starting up",
    b"- 1131566461 2005.11.09 dn228 Nov  9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: closed",
    b"2021-01-01T00:00:00.123456789Z stdout F 03-17 16:13:38.811  1702  2395 W Tag: inner",
    b"2021-01-01T00:00:01.5Z stderr F no format inside",
    b"nova.log 2017-05-16 00:00:00.008 25746 INFO nova.api [req-3810a0b-2096 u1 p1 - - -] GET",
    b"[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
    b'127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 503 2326 "-" "x"',
    b"2026-02-30 10:00:00,000 INFO [x] impossible date, a header without a usable time",
    b"\tat its continuation goes with it",
    b"1999-12-31 23:59:59,000 INFO [x] implausible time",
    b"2026-11-20T13:00:00.000Z INFO [orders] trace=abc123 user=u-1 Order placed",
    b"2026-11-20T13:00:01Z Warn [orders] an odd but known level word",
    b"2026-11-20T13:00:02Z War [orders] a level word grok allows and no table knows",
    b"some words then 2026-11-20T13:00:03Z [ERROR] found by the fallback",
    b"some words then 2026-11-20T13:00:04Z odd: not a level",
    b"\xe3\x80\x80",
    b"20171223-22:32:0:95|Step_LSC|30002312| onStandStepChanged 3579",
    b'time="2024-01-01T12:00:00Z" level=error msg="failed \\"x\\"" image=nginx',
    b"E0102 15:04:05.123456    1234 reflector.go:138] failed to list",
    b"[2024-04-04 10:00:01,456] ERROR in app: Exception on /api/orders [GET]",
    b"2024-04-04 10:00:02,123:WARNING:myapp.db:slow",
    b"ERRO[2024-04-04T10:00:03+02:00] failed to pull image      image=nginx",
    b"[06-Dec-2024 10:00:00 Europe/Berlin] PHP Parse error:  syntax error in /a.php on line 3",
    b"[2024-12-06T10:00:01.123+0000] {taskinstance.py:1400} ERROR - Task failed",
    b"2024-12-06 10:00:02.123+0000 [id=13]\tWARNING\tj.s.h.Ctx#doStart: failed",
    b"2024-12-06 10:00:03.1234|ERROR|MyApp.Db|Connection failed",
    b"[Fri Dec  6 10:00:04 2024] Out of memory: Killed process 1234 (java)",
    b"1733479205.456     12 10.0.0.1 TCP_DENIED/403 3900 GET http://bad.example/ - HIER_NONE/-",
    b"the last line, no newline",
]


def text_through_python(path: Path, threads: int, **kw: object) -> tuple[EventTable, SourceStats]:
    source = FileSource(str(path), FieldMap(), now=1796558400.0, **kw)  # type: ignore[arg-type]
    table = event_table(FieldMap(), source.name, threads=threads)
    for event in source.read():
        push_event(table, int(event.origin.rpartition(":")[2]), event)
    return table, source.stats


def text_through_scanner(path: Path, threads: int, **kw: object) -> tuple[EventTable, SourceStats]:
    source = FileSource(str(path), FieldMap(), now=1796558400.0, **kw)  # type: ignore[arg-type]
    table = event_table(FieldMap(), source.name, threads=threads)
    source.fill(table)
    return table, source.stats


def text_stats(stats: SourceStats) -> tuple[object, ...]:
    return (*stats_of(stats), stats.malformed_examples, dict(stats.formats), stats.year_assumed,
            stats.zone_assumed, stats.detected, stats.continuation_dropped)  # fmt: skip


def assert_same_text(path: Path, **kw: object) -> SourceStats:
    expected, expected_stats = text_through_python(path, 1, **kw)
    table, stats = text_through_scanner(path, 2, **kw)
    assert signature(aggregate(table, -math.inf)) == signature(aggregate(expected, -math.inf))
    assert text_stats(stats) == text_stats(expected_stats)
    assert table.anchor() == expected.anchor()
    assert table.instances() == expected.instances()
    return stats


@pytest.mark.parametrize("block", [1, 7, 977, 1 << 20])
def test_tricky_text_lines_read_the_same_natively(
    tmp_path: Path, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tricky.log"
    path.write_bytes(b"\n".join(TRICKY_TEXT))
    monkeypatch.setattr(files, "_BLOCK", block)
    stats = assert_same_text(path)
    assert stats.detected is not None
    assert dict(stats.malformed_reasons) == {"no timestamp": 1, "implausible timestamp": 1}
    assert stats.unknown_levels == {"War": 1}
    assert stats.undecodable == 1
    assert {"collector + syslog", "cri + logcat", "cri", "source + oslo", "fallback", "flask",
            "python-logging", "logrus-text", "php", "airflow", "jenkins", "nlog",
            "bracketed-ctime", "squid"} <= set(stats.formats)  # fmt: skip


def test_text_with_a_forced_format_a_zone_and_a_small_cap(tmp_path: Path) -> None:
    path = tmp_path / "tricky.log"
    path.write_bytes(b"\r\n".join(TRICKY_TEXT) + b"\n" + b"\tat x\n" * 50)
    assert_same_text(path, log_format="syslog", timezone="America/New_York", max_line=300)
    stats = assert_same_text(path, timezone="+05:30", max_line=300)
    assert stats.continuation_dropped > 0


def test_nothing_known_is_no_header_in_both_readers(tmp_path: Path) -> None:
    path = tmp_path / "odd.log"
    path.write_bytes(b"hello\nworld\n" + b"x" * 100 + b"\n")
    stats = assert_same_text(path, max_line=64)
    assert dict(stats.malformed_reasons) == {"no header": 2, "line too long": 1}


LOGHUB_SYSTEMS = ["Android", "Apache", "BGL", "HDFS", "HPC", "HealthApp", "Linux", "OpenStack",
                  "Proxifier", "Spark", "Windows", "Zookeeper"]  # fmt: skip


@pytest.mark.loghub
@pytest.mark.parametrize("system", LOGHUB_SYSTEMS)
def test_loghub_text_reads_the_same_natively(system: str) -> None:
    from bench.loghub import DATA

    path = DATA / "loghub-2k" / system / f"{system}_2k.log"
    if not path.is_file():
        pytest.skip(f"Loghub data not found under {DATA}")
    assert_same_text(path)


def test_the_text_fixture_reads_the_same_natively() -> None:
    stats = assert_same_text(FIXTURES / "orders_deploy_npe.log.gz")
    assert stats.detected == "level-bracket-service"


# JSON records that wrap a text line (container runtimes), mixed with plain ECS records.
WRAPPED = [
    b'{"log":"2024-05-05 10:11:12,345 ERROR [main] com.shop.Api: trace=t1 boom\\n",'
    b'"stream":"stderr","time":"2024-05-05T10:11:12.345678901Z"}',
    b'{"log":"\\tat com.shop.Api.run(Api.java:1)\\n","stream":"stderr",'
    b'"time":"2024-05-05T10:11:12.345679Z"}',
    b'{"log":"Jun 14 15:16:01 combo sshd[19939]: authentication failure\\n","stream":"stdout",'
    b'"time":"2024-05-05T10:11:13Z"}',
    b'{"log":"\\tat com.shop.Api.run(Api.java:1)\\n","stream":"stderr",'
    b'"time":"2024-05-05T10:11:16Z"}',
    b'{"log":"2024-05-05 10:11:15,000 War [main] com.shop.Api: odd level\\n",'
    b'"time":"2024-05-05T10:11:15Z"}',
    b'{"log":"10.0.0.5 - - [03/Feb/2025:08:00:01 +0000] \\"GET /x HTTP/1.1\\" 503 19 \\"-\\"'
    b' \\"c\\"",'
    b'"time":"2024-05-05T10:11:16Z","kubernetes":{"pod":"web-1"}}',
    b'{"@timestamp":"2024-05-05T10:11:17Z","log.level":"info","service.name":"api",'
    b'"message":"2024-05-05 10:11:17,000 ERROR [main] x.Y: a level in the record wins"}',
    b'{"log":"a plain message at 2024-05-05T10:11:18Z, no header","time":"2024-05-05T10:11:18Z"}',
    b'{"log":"2024-05-05 10:11:19,000 INFO [main] com.shop.Api: kafka  ","service":"svc",'
    b'"time":"2024-05-05T10:11:19Z"}',
]


@pytest.mark.parametrize("threads", [1, 2])
def test_json_records_wrapping_text_lines_read_the_same_natively(
    tmp_path: Path, threads: int
) -> None:
    path = tmp_path / "containers.jsonl"
    path.write_bytes(b"\n".join(WRAPPED))
    expected, expected_stats = text_through_python(path, 1)
    table, stats = text_through_scanner(path, threads)
    assert signature(aggregate(table, -math.inf)) == signature(aggregate(expected, -math.inf))
    assert text_stats(stats) == text_stats(expected_stats)
    assert stats.formats["json + log4j-level-thread"] == 3
    assert stats.unknown_levels == {"War": 1}
    events = list(FileSource(str(path), FieldMap()).read())
    assert (events[0].level, events[0].service, events[0].request_id, events[0].message) == (
        "error", "com.shop.Api", "t1", "boom"
    )  # fmt: skip
    assert events[0].stack_trace == "\tat com.shop.Api.run(Api.java:1)"  # its next record
    assert (events[1].service, events[1].message) == ("sshd", "authentication failure")
    assert events[2].message == "\tat com.shop.Api.run(Api.java:1)"  # 3 s later: its own
    assert stats.joined == 1
    assert events[4].level == "error"  # the access log's 503
    assert (events[5].level, events[5].service) == ("info", "api")
    assert events[6].message == "a plain message at 2024-05-05T10:11:18Z, no header"
    assert events[7].service == "svc"
