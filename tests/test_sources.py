import gzip
import io
from pathlib import Path

import orjson
import pytest

from logsense.config import FieldMap
from logsense.errors import InputError
from logsense.sources.files import FileSource

LINES = [
    {"@timestamp": "2026-11-20T13:00:00.000Z", "log": {"level": "ERROR"},
     "service": {"name": "api"}, "trace": {"id": "t1"}, "user": {"id": "u1"}, "message": "boom"},
    {"@timestamp": "2026-11-20T14:00:01+01:00", "log.level": "warning", "service.name": "api",
     "message": "dotted"},
    {"timestamp": 1795179602000, "level": 50, "service": "db", "request_id": "r9", "msg": "pino"},
]  # fmt: skip


def read(tmp_path: Path, content: bytes, name: str = "x.jsonl", **kw: object) -> FileSource:
    path = tmp_path / name
    path.write_bytes(content)
    source = FileSource(str(path), FieldMap(), **kw)  # type: ignore[arg-type]
    source.events = list(source.read())  # type: ignore[attr-defined]
    return source


def test_nested_dotted_and_fallback_keys(tmp_path: Path) -> None:
    source = read(tmp_path, b"\n".join(orjson.dumps(x) for x in LINES))
    first, dotted, pino = source.events  # type: ignore[attr-defined]
    assert (first.level, first.service, first.request_id, first.user_id) == (
        "error",
        "api",
        "t1",
        "u1",
    )
    assert dotted.level == "warn" and dotted.timestamp == first.timestamp + 1
    assert (pino.level, pino.service, pino.request_id, pino.message) == (
        "error",
        "db",
        "r9",
        "pino",
    )
    assert pino.timestamp == 1795179602.0
    assert first.origin.endswith("x.jsonl:1")


def test_gzip_is_detected_by_content(tmp_path: Path) -> None:
    data = gzip.compress(orjson.dumps(LINES[0]) + b"\n")
    source = read(tmp_path, data, name="renamed.jsonl")
    assert [e.message for e in source.events] == ["boom"]  # type: ignore[attr-defined]


def test_malformed_lines_are_counted_with_reasons(tmp_path: Path) -> None:
    content = b"\n".join(
        [
            orjson.dumps(LINES[0]),
            b"{not json",
            b"[1, 2]",
            orjson.dumps({"message": "no time"}),
            orjson.dumps({"@timestamp": "2026-11-20T13:00:00Z"}),
            orjson.dumps({"@timestamp": "2026-11-20T13:00:00Z", "message": "odd", "level": "LOUD"}),
            b"",
        ]
    )
    source = read(tmp_path, content)
    assert len(source.events) == 2  # type: ignore[attr-defined]
    stats = source.stats
    assert stats.malformed == 4
    assert dict(stats.malformed_reasons) == {
        "invalid JSON": 1, "not a JSON object": 1, "no timestamp": 1, "no message": 1,
    }  # fmt: skip
    warnings = " | ".join(stats.warnings())
    assert "4 malformed records" in warnings and "x.jsonl:2" in warnings
    assert "unknown level ('LOUD')" in warnings
    assert "no service field" in warnings


def test_non_utf8_bytes_are_replaced_and_counted(tmp_path: Path) -> None:
    line = orjson.dumps(LINES[0]).replace(b"boom", b"bo\xffom")
    source = read(tmp_path, line + b"\n")
    assert source.events[0].message == "bo\ufffdom"  # type: ignore[attr-defined]
    assert source.stats.undecodable == 1


TEXT = b"""2026-11-20T13:00:00.000Z INFO [orders] trace=abc123 user=u-1 Order placed
2026-11-20T13:00:01.000Z ERROR [orders] trace=abc124 Unhandled exception
java.lang.NullPointerException: boom
\tat com.example.Foo.bar(Foo.java:1)
Caused by: java.lang.IllegalStateException: x
\t... 3 more
2026-11-20 13:00:02,500 [payments] WARNING slow query 1200ms
2026-11-20T13:00:03Z ERROR worker - Traceback follows
Traceback (most recent call last):
  File "/srv/app/w.py", line 3, in run
ValueError: bad
"""


def test_text_headers_and_multiline_events(tmp_path: Path) -> None:
    events = read(tmp_path, TEXT, name="app.log").events  # type: ignore[attr-defined]
    assert [e.level for e in events] == ["info", "error", "warn", "error"]
    assert [e.service for e in events] == ["orders", "orders", "payments", "worker"]
    assert events[0].request_id == "abc123" and events[0].user_id == "u-1"
    assert events[0].message == "Order placed"
    assert events[1].stack_trace is not None and "Caused by" in events[1].stack_trace
    assert events[3].stack_trace is not None and events[3].stack_trace.endswith("ValueError: bad")


def test_custom_header_regex(tmp_path: Path) -> None:
    regex = r"^(?P<timestamp>\S+) \| (?P<service>\w+) \| (?P<level>\w+) \| (?P<message>.*)$"
    source = read(
        tmp_path, b"2026-11-20T13:00:00Z | api | error | failed\n", name="a.log", header_regex=regex
    )
    (event,) = source.events  # type: ignore[attr-defined]
    assert (event.service, event.level, event.message) == ("api", "error", "failed")


def test_stdin(tmp_path: Path) -> None:
    source = FileSource("-", FieldMap(), stdin=io.BytesIO(orjson.dumps(LINES[0])))
    assert [e.message for e in source.read()] == ["boom"]


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"cannot read .*nope\.jsonl: No such file"):
        list(FileSource(str(tmp_path / "nope.jsonl"), FieldMap()).read())


def test_field_keys_are_data_never_code(tmp_path: Path) -> None:
    from logsense.sources.records import compile_extractor

    hostile = "x') or __import__('os').system('touch " + str(tmp_path / "pwned") + "') or ('"
    fields = FieldMap(message=[hostile, "message"])
    extract = compile_extractor(fields, frozenset({hostile, "message"}))
    values = extract({hostile: "", "message": "hello"})
    assert values[1] == "hello"
    assert not (tmp_path / "pwned").exists()
