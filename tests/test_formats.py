"""The format library: every example of `library.toml` reads as it says, times by the rules."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from logsense.config import FieldMap
from logsense.sources.files import FileSource
from logsense.sources.formats.text import Parsed, TextParser, library
from logsense.sources.formats.times import Zone, read_time, resolve
from logsense.sources.records import LEVEL_NAMES, event_table
from tests.conftest import Cli

NOW = 1796558400.0  # 2026-12-06T12:00:00Z
EXAMPLES = [
    (fmt.name, example)
    for fmt in library().formats
    for example in fmt.examples
]  # fmt: skip


def parser(**kw: Any) -> TextParser:
    return TextParser(LEVEL_NAMES, Zone(), NOW, **kw)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(("name", "example"), EXAMPLES, ids=[f"{n}-{i}" for i, (n, _) in
                                                              enumerate(EXAMPLES)])  # fmt: skip
def test_every_example_reads_as_it_says(name: str, example: dict[str, Any]) -> None:
    found = parser().parse(example["line"])
    assert (found.kind, found.format.rpartition(" + ")[2]) == ("event", name)
    if " + " not in found.format:  # a forced format reads lines without a prefix
        forced = parser(only=name).parse(example["line"])
        assert forced == found
    for key, want in example.items():
        if key == "line":
            continue
        if key == "timestamp":
            got: Any = iso(found.timestamp).replace(".000000", "")
            want = want.replace(".000Z", "Z") if got.count(".") == 0 else want
            assert datetime.fromisoformat(got) == datetime.fromisoformat(want)
        elif key == "year":
            assert found.year_assumed is not want
        else:
            assert getattr(found, key) == want, key


def test_the_library_has_the_shapes_people_have() -> None:
    names = {fmt.name for fmt in library().formats}
    for wanted in ("syslog", "syslog-rfc5424", "apache-access", "apache-error", "nginx-error",
                   "log4j", "spring-boot", "python-logging", "glog", "zap-console", "logfmt",
                   "windows-cbs", "logcat", "postgresql", "mysql", "redis"):  # fmt: skip
        assert wanted in names
    assert {p.name for p in library().prefixes} >= {"cri", "collector", "source"}


@pytest.mark.parametrize(
    ("layout", "text", "parts"),
    [
        ("%b %d %H:%M:%S.%f", "Jul  1 09:00:55", (None, 7, 1, 9, 0, 55, 0, None)),
        ("%Y-%m-%dT%H:%M:%S.%f %z", "2015-07-29 17:41:44,747", (2015, 7, 29, 17, 41, 44, 747000,
                                                                None)),
        ("%Y-%m-%dT%H:%M:%S.%f %z", "2024-01-01 12:00:00.123 UTC", (2024, 1, 1, 12, 0, 0, 123000,
                                                                    0)),
        ("%Y-%m-%dT%H:%M:%S.%f %z", "2024-01-01T12:00:00.1234567+05:30", (2024, 1, 1, 12, 0, 0,
                                                                          123456, 19800)),
        ("%Y-%m-%dT%H:%M:%S.%f %z", "2024-01-01 12:00:00 CET", (2024, 1, 1, 12, 0, 0, 0, None)),
        ("%Y%m%d-%H:%M:%S:%L", "20171223-22:32:0:95", (2017, 12, 23, 22, 32, 0, 95000, None)),
        ("%d/%b/%Y:%H:%M:%S %z", "10/Oct/2000:13:55:36 -0700", (2000, 10, 10, 13, 55, 36, 0,
                                                                -25200)),
        ("%a %b %d %H:%M:%S.%f %Y", "Sun Dec 04 04:47:44 2005", (2005, 12, 4, 4, 47, 44, 0, None)),
        ("%y%m%d %H%M%S", "081109 203615", (2008, 11, 9, 20, 36, 15, 0, None)),
    ],
)  # fmt: skip
def test_layouts(layout: str, text: str, parts: tuple[Any, ...]) -> None:
    moment = read_time(layout, text)
    assert moment is not None
    assert (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second,
            moment.micros, moment.offset) == parts  # fmt: skip


@pytest.mark.parametrize(
    "text", ["2026-02-30 00:00:00", "2026-13-01 00:00:00", "2026-01-01 24:00:00", "yesterday"]
)
def test_impossible_times_do_not_read(text: str) -> None:
    assert read_time("%Y-%m-%dT%H:%M:%S.%f %z", text) is None


def test_a_missing_year_is_the_latest_not_more_than_a_day_ahead() -> None:
    reference = datetime(2026, 12, 6, 12, tzinfo=UTC).timestamp()

    def year_of(text: str) -> int:
        moment = read_time("%b %d %H:%M:%S", text)
        assert moment is not None
        ts, assumed, zone_assumed = resolve(moment, Zone(), reference)
        assert assumed and zone_assumed
        return datetime.fromtimestamp(ts, UTC).year

    assert year_of("Dec  7 11:00:00") == 2026  # within a day ahead
    assert year_of("Dec  8 11:00:00") == 2025
    assert year_of("Jan  1 00:00:00") == 2026
    assert year_of("Feb 29 10:00:00") == 2024  # the latest leap year before


def test_a_zone_is_read_as_zoneinfo_reads_it_with_fold_0() -> None:
    zone = Zone("Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")
    for text in ("2024-03-31 02:30:00", "2024-10-27 02:30:00", "2024-07-01 12:00:00",
                 "2024-01-01 00:00:00"):  # fmt: skip
        moment = read_time("%Y-%m-%dT%H:%M:%S", text)
        assert moment is not None
        ts, _, assumed = resolve(moment, zone, NOW)
        assert assumed
        want = datetime.fromisoformat(text).replace(tzinfo=berlin).timestamp()
        assert ts == want, text
    assert resolve(read_time("%Y-%m-%dT%H:%M:%S", "2024-01-01 00:00:00"), Zone("+02:00"),  # type: ignore[arg-type]
                   NOW)[0] == datetime(2023, 12, 31, 22, tzinfo=UTC).timestamp()  # fmt: skip


def test_a_mixed_input_reads_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "mixed.log"
    path.write_text(
        "Jun 14 15:16:01 combo sshd[1]: accepted\n"
        "2024-05-05 10:11:12.345 [main] ERROR com.shop.Api - boom\n"
        "\tat com.shop.Api.run(Api.java:1)\n"
        "Jun 14 15:16:02 combo sshd[1]: closed\n"
        "some line of no known shape at 2024-05-05T10:11:13Z WARN odd\n"
        "no time at all\n"
    )
    source = FileSource(str(path), FieldMap(), now=NOW)
    events = list(source.read())
    assert [e.service for e in events] == ["sshd", "com.shop.Api", "sshd", "unknown"]
    assert events[1].stack_trace == "\tat com.shop.Api.run(Api.java:1)"
    assert events[3].message == "some line of no known shape at WARN odd"
    assert events[3].level == "warn"
    assert events[3].stack_trace == "no time at all"  # a continuation of the event above
    warnings = " | ".join(source.stats.warnings())
    assert "syslog (2)" in warnings and "fallback (1)" in warnings
    assert "detected first: syslog" in warnings


def test_loggers_json_reads_with_no_field_given(tmp_path: Path) -> None:
    """pino, bunyan, zap, zerolog, logstash-logback-encoder, python-json-logger and MongoDB records:
    their own keys for the component, request id and stack are among the defaults."""
    path = tmp_path / "apps.jsonl"
    path.write_text(
        '{"level":50,"time":1733479201123,"pid":1,"hostname":"web1","name":"api","reqId":"r-1",'
        '"msg":"db timeout","err":{"type":"Error","stack":"Error: t\\n    at q (/a.js:1:1)"}}\n'
        '{"name":"myapp","hostname":"h","pid":2,"level":40,"msg":"au revoir",'
        '"time":"2013-01-04T18:46:23.853Z","v":0}\n'
        '{"level":"error","ts":1733479202.5,"logger":"payments","caller":"c.go:9",'
        '"msg":"charge failed","stacktrace":"main.charge\\n\\t/app/c.go:9"}\n'
        '{"level":"warn","time":1733479203,"message":"slow","trace_id":"t-4"}\n'
        '{"@timestamp":"2024-12-06T10:00:04Z","level":"WARN","logger_name":"c.s.Api",'
        '"message":"slow","traceId":"t-5"}\n'
        '{"asctime":"2024-12-06 10:00:05,000","levelname":"ERROR","name":"app.db",'
        '"message":"lost","exc_info":"Traceback (most recent call last):\\n  x"}\n'
        '{"t":{"$date":"2024-12-06T10:00:06.123+00:00"},"s":"E","c":"STORAGE","id":22435,'
        '"ctx":"initandlisten","msg":"WiredTiger error"}\n'
        '{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1733479207123456","PRIORITY":"3",'
        '"_HOSTNAME":"db1","SYSLOG_IDENTIFIER":"postgres","_SYSTEMD_UNIT":"postgresql.service",'
        '"MESSAGE":"could not connect"}\n'
        '{"__REALTIME_TIMESTAMP":"1733479208000000","PRIORITY":"6","_SYSTEMD_UNIT":"cron.service",'
        '"MESSAGE":"job done"}\n'
    )
    source = FileSource(str(path), FieldMap(), now=NOW)
    read = [(e.level, e.service, e.request_id, e.stack_trace is not None) for e in source.read()]
    assert read == [
        ("error", "api", "r-1", True),
        ("warn", "myapp", None, False),
        ("error", "payments", None, True),
        ("warn", "unknown", "t-4", False),
        ("warn", "c.s.Api", "t-5", False),
        ("error", "app.db", None, True),
        ("error", "STORAGE", None, False),
        ("error", "postgres", None, False),  # journald's `journalctl -o json`
        ("info", "cron.service", None, False),
    ]
    assert source.stats.malformed == 0
    journald = list(FileSource(str(path), FieldMap(), now=NOW).read())[-2]
    assert (journald.timestamp, journald.host) == (1733479207.123456, "db1")
    table = event_table(FieldMap(), "apps")
    FileSource(str(path), FieldMap(), now=NOW).fill(table)
    assert table.stats.read == 9 and not table.stats.malformed_reasons  # natively too
    shapes = table.aggregate(-math.inf, -math.inf, math.inf, 5).shapes
    assert [(s.service, s.level) for s in shapes][-2:] == [
        ("postgres", "error"), ("cron.service", "info")
    ]  # fmt: skip


def test_nothing_known_is_malformed_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "odd.log"
    path.write_text("hello\nworld\n")
    source = FileSource(str(path), FieldMap(), now=NOW)
    assert list(source.read()) == []
    assert dict(source.stats.malformed_reasons) == {"no header": 2}


def test_a_forced_format_reads_only_that_format() -> None:
    found = parser(only="syslog").parse("2024-01-01T12:00:00Z deploy finished")
    assert found == Parsed("none")
    with pytest.raises(KeyError, match="unknown log format 'nope'"):
        parser(only="nope")


def test_the_formats_command_lists_the_library_and_reads_a_file(cli: Cli, tmp_path: Path) -> None:
    code, out, _ = cli("formats", "--json")
    assert code == 0
    listed = orjson.loads(out)
    assert [f["name"] for f in listed["formats"]] == [f.name for f in library().formats]
    path = tmp_path / "auth.log"
    path.write_text("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster\n" * 3)
    code, out, _ = cli("formats", str(path), "--json", "--timezone", "+01:00")
    assert code == 0
    document = orjson.loads(out)
    assert document["detected"] == "syslog"
    first = document["lines"][0]
    assert (first["service"], first["process"], first["host"]) == ("sshd", "24200", "LabSZ")
    assert first["timestamp"].endswith("05:55:46+00:00")
    code, out, _ = cli("formats", str(path))
    assert code == 0 and "syslog" in out
    regex = r"^(?P<timestamp>\S+ +\S+ \S+) (?P<service>\S+) (?P<message>.*)$"
    code, out, _ = cli("formats", str(path), "--json", "--header-regex", regex)
    assert code == 0
    document = orjson.loads(out)
    assert document["detected"] == "--header-regex"
    first = document["lines"][0]  # read by the regex, which overrides the detected syslog
    assert (first["service"], first["message"]) == ("LabSZ", "sshd[24200]: Invalid user webmaster")


def test_triage_reads_text_with_a_forced_format_and_says_what_it_assumed(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "app.log"
    lines = [f"Dec  1 10:{m:02d}:00 web1 api[7]: request {m} failed" for m in range(30)]
    path.write_text("\n".join(lines) + "\n")
    report = cli.json("triage", "-s", str(path), "--since", "1h", "--no-llm",
                      "--log-format", "syslog", "--timezone", "Europe/Berlin")  # fmt: skip
    assert report["totals"]["events"] == 30
    warnings = " | ".join(report["warnings"])
    assert "text read as syslog (30)" in warnings
    assert "30 events had no year" in warnings
    assert "read as Europe/Berlin" in warnings
    code, _, err = cli("triage", "-s", str(path), "--log-format", "nope", "--no-llm")
    assert code == 2 and "unknown log format 'nope'" in err
    code, _, err = cli("triage", "-s", str(path), "--timezone", "Mars/Olympus", "--no-llm")
    assert code == 2 and "--timezone 'Mars/Olympus'" in err


def test_an_input_of_no_known_shape_says_what_was_tried(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "odd.log"
    path.write_bytes(b"\x00\x01binary\xff\xfe stuff\n" * 5)
    code, _, err = cli("triage", "-s", str(path), "--since", "1h", "--no-llm", "--quiet")
    assert code == 3
    assert "5 records were malformed (no header)" in err
    assert "tried: syslog-rfc5424, syslog," in err and "--header-regex" in err


def test_a_far_future_text_line_does_not_anchor_the_window(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    lines = [f"2026-11-20 10:{m:02d}:00,000 ERROR [main] com.shop.Api: failed {m}" for m in
             range(50)]  # fmt: skip
    lines.insert(20, "2091-01-01 00:00:00,000 INFO [main] com.shop.Api: a clock gone wrong")
    lines.insert(30, "binary \x00\x01 junk with no header")
    path.write_text("\n".join(lines) + "\n")
    report = cli.json("triage", "-s", str(path), "--since", "1h", "--no-llm")
    assert report["totals"]["events"] == 50
    warnings = " | ".join(report["warnings"])
    assert "1 event at the end of the input came" in warnings
    assert "text read as log4j-level-thread (51)" in warnings


def test_triage_of_a_docker_log_joins_each_stack_trace_to_its_line(
    cli: Cli, tmp_path: Path
) -> None:
    """Docker's json-file driver writes every line as a record: a Java error arrives as its
    log line, then one record per line of its stack trace."""
    start = datetime(2026, 12, 6, 9, 0, tzinfo=UTC).timestamp()
    records = []
    for i in range(600):
        at = start + 6 * i
        clock = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        lines = [f"{clock}.123  INFO 1 --- [exec-{i % 9}] c.e.shop.Orders : order {i} placed"]
        if i >= 400 and i % 3 == 0:
            lines += [f"{clock}.456 ERROR 1 --- [exec-1] c.e.shop.Payments : payment failed",
                      "java.net.SocketTimeoutException: Read timed out",
                      "\tat c.e.shop.Payments.charge(Payments.java:42)"]  # fmt: skip
        stamp = datetime.fromtimestamp(at, UTC).isoformat()
        records += [orjson.dumps({"log": f"{line}\n", "stream": "stdout", "time": stamp})
                    for line in lines]  # fmt: skip
    path = tmp_path / "container-json.log"
    path.write_bytes(b"\n".join(records) + b"\n")
    report = cli.json("triage", "-s", str(path), "--since", "20m", "--no-llm")
    assert "unknown" not in report["totals"]["services"]
    assert any("132 records continued the log line" in w for w in report["warnings"]), report[
        "warnings"
    ]
    [issue] = [i for i in report["issues"] if i["root_cause"]["service"] == "c.e.shop.Payments"]
    assert issue["events"] == 66 and issue["samples"][0].endswith("(Payments.java:42)")
    assert issue["templates"][0]["fingerprint"]  # its stack keys it
