"""Hostile input never hurts: one line cannot take over a report, exhaust memory or time.

Every test runs the real reader (and mostly the real CLI, with the real embedding model) on an
input an attacker or an accident could produce: a line dated far in the future or in another
unit, a line of hundreds of megabytes, a flood of empty lines, a byte order mark, a `.gz` cut
short, endless input.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from logsense.config import FieldMap
from logsense.rank import DENSE_MINUTES
from logsense.sources.files import FileSource
from logsense.sources.records import event_table
from tests.conftest import FIXTURES, REPO, Cli

FIXTURE = FIXTURES / "checkout_db_pool.jsonl.gz"
TEXT_FIXTURE = FIXTURES / "orders_deploy_npe.log.gz"
NEWEST = "2026-11-21T23:44:00.049Z"  # the fixture's window end: its newest event + 1 ms


def line(timestamp: Any, message: str = "x", level: str = "error") -> bytes:
    """A JSON line whose `@timestamp` is the raw JSON text `timestamp`."""
    raw = timestamp if isinstance(timestamp, bytes) else orjson.dumps(timestamp)
    return (
        b'{"@timestamp":' + raw + b',"log":{"level":"' + level.encode() + b'"},'
        b'"service":{"name":"payments"},"message":"' + message.encode() + b'"}'
    )


def fixture_with(tmp_path: Path, *extra: bytes, name: str = "hostile.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(gzip.decompress(FIXTURE.read_bytes()) + b"\n".join(extra) + b"\n")
    return path


def gz_stream(path: Path, *pieces: tuple[bytes, int]) -> None:
    """Write a .gz of each (bytes, repeat) piece in turn, without holding the whole."""
    with gzip.open(path, "wb", compresslevel=1) as handle:
        for data, repeat in pieces:
            chunk = data * max(1, (1 << 20) // len(data)) if repeat > 1 else data
            per_chunk = len(chunk) // len(data)
            for _ in range(repeat // per_chunk):
                handle.write(chunk)
            handle.write(data * (repeat % per_chunk))


_BASELINES: dict[tuple[str, ...], dict[str, Any]] = {}


def baseline(cli: Cli, *args: str) -> dict[str, Any]:
    """The report of the fixture alone (computed once per set of arguments)."""
    if args not in _BASELINES:
        _BASELINES[args] = cli.json("triage", "-s", str(FIXTURE), "--no-llm", *args)
    return _BASELINES[args]


def issue_keys(report: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(i["id"], i["severity"], i["events"]) for i in report["issues"]]


# One value decides nothing: far future, another unit, beyond year 9999, before 1970.
FUTURE_AND_IMPLAUSIBLE = {
    "a year ahead": b'"2027-11-21T23:59:59Z"',
    "a week ahead, with an offset": b'"2026-11-28T23:59:59+05:30"',
    "the end of time": b'"9999-12-31T23:59:59Z"',
    "epoch microseconds a year ahead": b"1826927999000000",
    "epoch nanoseconds a year ahead": b"1826927999000000000",
    "epoch seconds of year 2286": b"9999999999",
    "1e300": b"1e300",
    "go's zero time": b'"0001-01-01T00:00:00Z"',
    "epoch zero": b"0",
}


@pytest.mark.parametrize("value", FUTURE_AND_IMPLAUSIBLE.values(), ids=FUTURE_AND_IMPLAUSIBLE)
def test_one_far_or_implausible_time_decides_nothing(
    cli: Cli, tmp_path: Path, value: bytes
) -> None:
    expected = baseline(cli, "--since", "1h")
    hostile = fixture_with(tmp_path, line(value), line(value, "again"))
    report = cli.json("triage", "-s", str(hostile), "--since", "1h", "--no-llm")
    assert report["window"] == expected["window"]
    assert report["window"]["end"] == NEWEST
    assert issue_keys(report) == issue_keys(expected)
    assert report["headline"] == expected["headline"]
    skipped = report["totals"]["malformed"] + report["totals"]["outside_window"]
    assert skipped == expected["totals"]["outside_window"] + 2
    text = " ".join(report["warnings"])
    assert "implausible" in text


def test_a_year_wide_window_keeps_memory_and_output_bounded(cli: Cli, tmp_path: Path) -> None:
    """`--since 400d` reaches a burst of lines from a year before the rest: the window spans a
    year, but nothing per minute grows with the empty year between."""
    burst = [line(b'"2025-11-26T08:00:%02dZ"' % (i % 60), f"burst {i}") for i in range(2000)]
    hostile = fixture_with(tmp_path, *burst)
    started = time.monotonic()
    report = cli.json("triage", "-s", str(hostile), "--since", "400d", "--no-llm")
    assert time.monotonic() - started < 120
    assert report["window"]["end"] == NEWEST
    assert report["totals"]["events"] == expected_events() + 2000
    for issue in report["issues"]:
        assert 0 < len(issue["timeline"]) <= 3 * DENSE_MINUTES
    busiest = max(report["issues"], key=lambda i: i["events"])
    assert sum(count for _, count in busiest["timeline"]) == busiest["events"]


def expected_events() -> int:
    return sum(1 for raw in gzip.decompress(FIXTURE.read_bytes()).splitlines() if raw.strip())


@pytest.mark.skipif(
    time.time() < 1795304640 + 86400, reason="the fixture must lie in the past of this clock"
)
def test_a_minority_from_the_future_does_not_anchor(cli: Cli, tmp_path: Path) -> None:
    """More future lines than a detached tail holds by count (2.7%), but from the future of the
    wall clock while the rest is not: the clock decides."""
    expected = baseline(cli, "--since", "1h")
    ahead = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() + 30 * 86400)).encode()
    burst = [line(b'"' + ahead + b':%02dZ"' % (i % 60), f"burst {i}") for i in range(2000)]
    report = cli.json("triage", "-s", str(fixture_with(tmp_path, *burst)), "--no-llm")
    assert report["window"] == expected["window"]
    assert issue_keys(report) == issue_keys(expected)
    assert any("2,000 events at the end of the input" in w for w in report["warnings"])


def test_a_postmortem_over_a_far_line_stays_small(cli: Cli, tmp_path: Path) -> None:
    hostile = fixture_with(tmp_path, line(b'"2027-11-21T23:59:59Z"'))
    code, out, err = cli(
        "postmortem", "-s", str(hostile), "--from", "2026-11-21T23:00Z", "--no-llm", "-q",
        "-f", "json",
    )  # fmt: skip
    assert code == 0, err
    draft = orjson.loads(out)
    assert draft["window"]["end"] == NEWEST
    assert any("implausible end of the data" in w for w in draft["warnings"])
    for issue in draft["issues"]:
        assert len(issue["course"]["per_minute"]) <= 60


def test_a_postmortem_spanning_a_year_lists_minutes_with_events_only(
    cli: Cli, tmp_path: Path
) -> None:
    burst = [line(b'"2025-11-26T08:00:%02dZ"' % (i % 60), f"burst {i}") for i in range(2000)]
    hostile = fixture_with(tmp_path, *burst)
    code, out, err = cli(
        "postmortem", "-s", str(hostile), "--from", "2025-11-01T00:00Z", "--no-llm", "-q",
        "-f", "json",
    )  # fmt: skip
    assert code == 0, err
    draft = orjson.loads(out)
    assert draft["window"]["end"] == NEWEST
    for issue in draft["issues"]:
        minutes = issue["course"]["per_minute"]
        assert 0 < len(minutes) <= 400
        assert [m[0] for m in minutes] == sorted(m[0] for m in minutes)


# The peak is this process's own (VmHWM): getrusage would include what the forking parent had.
MEMORY_PROBE = """
import sys
from pathlib import Path
import orjson
from logsense.config import FieldMap
from logsense.sources.files import FileSource
from logsense.sources.records import event_table
source = FileSource(sys.argv[1], FieldMap())
table = event_table(FieldMap(), source.name, threads=2)
source.fill(table)
status = Path("/proc/self/status").read_text().splitlines()
peak = next(int(ln.split()[1]) for ln in status if ln.startswith("VmHWM")) // 1024
print(orjson.dumps([peak, table.rows, source.stats.malformed_reasons]).decode())
"""


def probe(path: Path) -> tuple[int, int, dict[str, int]]:
    """Read `path` in a fresh process: (peak RSS in MiB, events kept, malformed reasons)."""
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(path)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    peak, rows, reasons = orjson.loads(done.stdout)
    return peak, rows, reasons


GOOD = line(b'"2026-11-20T13:00:00Z"', "before")
LAST = line(b'"2026-11-20T13:00:01Z"', "after")


@pytest.mark.parametrize(
    "where", ["inside", "first", "last, no newline", "text"], ids=lambda w: w.replace(" ", "-")
)
def test_a_line_of_half_a_gigabyte_costs_no_memory(tmp_path: Path, where: str) -> None:
    path = tmp_path / "long.gz"
    huge = 512 << 20
    head = b'{"@timestamp":"2026-11-20T13:00:00Z","message":"'
    if where == "text":
        pieces = [(b"2026-11-20T13:00:00Z ERROR [api] before\n", 1), (b"x", huge),
                  (b"\n2026-11-20T13:00:01Z ERROR [api] after\n", 1)]  # fmt: skip
    elif where == "first":
        pieces = [(head, 1), (b"x", huge), (b'"}\n' + LAST + b"\n", 1)]
    elif where == "last, no newline":
        pieces = [(GOOD + b"\n" + LAST + b"\n" + head, 1), (b"x", huge)]
    else:
        pieces = [(GOOD + b"\n" + head, 1), (b"x", huge), (b'"}\n' + LAST + b"\n", 1)]
    gz_stream(path, *pieces)
    assert path.stat().st_size < 4 << 20
    peak, rows, reasons = probe(path)
    assert reasons == {"line too long": 1}
    assert rows == (1 if where == "first" else 2)
    assert peak < 256, f"peak RSS {peak} MiB reading a {huge >> 20} MiB line"


def test_a_flood_of_empty_lines_costs_almost_nothing(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "newlines.gz"
    gz_stream(path, (b"\n", 768 << 20), (GOOD + b"\n", 1), (b"\r\n", 64 << 20), (LAST, 1))
    started = time.monotonic()
    code, out, err = cli("triage", "-s", str(path), "--no-llm", "-q", "-f", "json")
    took = time.monotonic() - started
    assert code == 0, err
    report = orjson.loads(out)
    assert report["totals"]["events"] == 2 and report["totals"]["malformed"] == 0
    assert took < 40, f"{took:.1f} s for 832M empty lines"


def test_endless_input_stays_small_and_stops_at_ctrl_c(tmp_path: Path) -> None:
    """`/dev/zero` as input: one endless line, skipped in bounded memory until Ctrl-C."""
    run = subprocess.Popen(
        [sys.executable, "-m", "logsense", "triage", "-s", "/dev/zero", "--no-llm",
         "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)}, start_new_session=True,
    )  # fmt: skip
    try:
        time.sleep(6)
        assert run.poll() is None, run.stderr.read() if run.stderr else ""
        status = Path(f"/proc/{run.pid}/status").read_text().splitlines()
        rss_kib = next(int(ln.split()[1]) for ln in status if ln.startswith("VmRSS"))
        assert rss_kib < 400 << 10
        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C reaches the terminal's whole process group
        out, err = run.communicate(timeout=20)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 130
    assert err.decode() == "logsense: error: interrupted\n"
    assert out == b""


def test_a_byte_order_mark_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    expected = baseline(cli, "--since", "1h")
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + gzip.decompress(FIXTURE.read_bytes()))
    report = cli.json("triage", "-s", str(path), "--since", "1h", "--no-llm")
    assert issue_keys(report) == issue_keys(expected)
    assert report["totals"] == expected["totals"]
    text = tmp_path / "bom.log"
    text.write_bytes(b"\xef\xbb\xbf" + gzip.decompress(TEXT_FIXTURE.read_bytes()))
    plain = cli.json("triage", "-s", str(TEXT_FIXTURE), "--since", "1h", "--no-llm")
    with_bom = cli.json("triage", "-s", str(text), "--since", "1h", "--no-llm")
    assert issue_keys(with_bom) == issue_keys(plain)
    assert with_bom["totals"]["malformed"] == plain["totals"]["malformed"]


def test_utf16_is_named_not_misread(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "utf16.jsonl"
    path.write_bytes(GOOD.decode().encode("utf-16"))
    code, _, err = cli("triage", "-s", str(path), "-q", "--no-llm")
    assert code == 3
    assert err.startswith("logsense: error: ") and "UTF-16" in err and err.count("\n") == 1


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.97])
def test_a_truncated_gz_keeps_what_was_read(cli: Cli, tmp_path: Path, cut: float) -> None:
    data = FIXTURE.read_bytes()
    path = tmp_path / "growing.jsonl.gz"
    path.write_bytes(data[: int(len(data) * cut)])
    code, out, err = cli("triage", "-s", str(path), "--until", NEWEST, "--since", "2h",
                         "--no-llm", "-q", "-f", "json")  # fmt: skip
    assert code == 0, err
    report = orjson.loads(out)
    assert report["totals"]["events"] > 0 and report["issues"]
    (warning,) = [w for w in report["warnings"] if "ended early" in w]
    assert "truncated or still being written" in warning
    assert report["totals"]["malformed"] <= 1  # the line the cut went through


def test_a_corrupt_gz_keeps_what_was_read(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(b"\n".join([GOOD] * 20000 + [LAST]) + b"\n"))
    data[len(data) // 2 :] = zlib.compress(b"garbage") * (len(data) // 30)
    path = tmp_path / "corrupt.gz"
    path.write_bytes(bytes(data))
    source = FileSource(str(path), FieldMap())
    table = event_table(FieldMap(), source.name)
    source.fill(table)
    assert table.rows > 0
    assert any("ended early" in w for w in source.stats.warnings())
