"""Fuzzing the readers with Hypothesis: whatever the lines, nothing unexpected is raised, and each
line is either read or counted as malformed with a reason.

JSON lines go through the real `FileSource` both ways, the Python reference (`read`) and the
native scanner (`fill`), which must agree; text lines through the header reader; times through
`parse_timestamp` and the window's option parsers. Time-bounded: few examples, a deadline.
"""

from __future__ import annotations

import math
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logsense.config import FieldMap
from logsense.errors import UsageError
from logsense.sources import files
from logsense.sources.files import FileSource
from logsense.sources.records import (
    EARLIEST,
    LATEST,
    event_table,
    parse_timestamp,
    plausible,
    push_event,
)
from logsense.sources.window import MAX_DURATION, Relative, parse_duration, parse_time
from tests.test_native_scan import signature, stats_of

MAX_LINE = 160  # small, so long lines are drawn often
FUZZ = settings(
    max_examples=60,
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)
_ISO = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
    lambda moment: moment.isoformat()
) | st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat())
# Raw JSON text of a time: every kind a log (or an attacker) writes.
_TIMES = st.one_of(
    _ISO.map(orjson.dumps),
    st.integers(min_value=-(10**19), max_value=10**19).map(lambda n: str(n).encode()),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: repr(x).encode()),
    st.sampled_from(
        [
            b"1e300",
            b"1e400",
            b"-0.0",
            b"0",
            b"1795179618123456",
            b"1795179619123456789",
            b'"9999-12-31T23:59:59Z"',
            b'"0001-01-01T00:00:00Z"',
            b'"2099-12-31T23:59:59.999999Z"',
            b'"2026-11-20T13:00:00Z"',
            b'"2026-11-20 13:00:00,5+0530"',
            b'"yesterday"',
            b"null",
            b"true",
            b"[]",
            b"{}",
        ]
    ),
    _VALUES.map(orjson.dumps),
)
_LEVELS = st.sampled_from(["error", "WARN", " info ", "verbose2", "50", "fatal"]) | st.text(
    max_size=6
)
_MESSAGES = st.text(max_size=60) | st.text(min_size=MAX_LINE, max_size=MAX_LINE + 40)


@st.composite
def json_lines(draw: st.DrawFn) -> bytes:
    """One line of a JSON-lines file: mostly records, some garbage, blanks, long lines."""
    kind = draw(st.sampled_from(["record", "record", "record", "bytes", "blank", "value"]))
    if kind == "bytes":
        return draw(st.binary(max_size=MAX_LINE + 40)).replace(b"\n", b" ")
    if kind == "blank":
        return draw(st.sampled_from([b"", b"  ", b"\t\r", b"\xef\xbb\xbf", b" " * (MAX_LINE * 2)]))
    if kind == "value":
        return orjson.dumps(draw(_VALUES))
    fields = [b'"@timestamp":' + draw(_TIMES), b'"message":' + orjson.dumps(draw(_MESSAGES))]
    if draw(st.booleans()):
        fields.append(b'"log":{"level":' + orjson.dumps(draw(_LEVELS)) + b"}")
    if draw(st.booleans()):
        fields.append(b'"service":' + orjson.dumps(draw(st.text(max_size=8))))
    if draw(st.booleans()):
        fields.append(b'"trace":{"id":' + orjson.dumps(draw(_SCALARS)) + b"}")
    order = draw(st.permutations(fields))
    bom = b"\xef\xbb\xbf" if draw(st.integers(0, 9)) == 0 else b""
    return bom + b"{" + b",".join(order) + b"}"


def blank(raw: bytes) -> bool:
    return not raw.removeprefix(b"\xef\xbb\xbf").strip()


def written(content: bytes, suffix: str) -> Path:
    handle = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)  # noqa: SIM115
    with handle:
        handle.write(content)
    return Path(handle.name)


@FUZZ
@given(
    st.lists(json_lines(), max_size=25),
    st.sampled_from([b"\n", b"\r\n"]),
    st.sampled_from([7, 64, 8 << 20]),
)
def test_json_lines_are_read_or_counted_the_same_both_ways(
    lines: list[bytes], newline: bytes, block: int
) -> None:
    first = b'{"@timestamp": "2026-11-20T13:00:00Z", "level": "info", "message": "start"}'
    path = written(newline.join([first, *lines]), ".jsonl")
    try:
        reference = FileSource(str(path), FieldMap(), max_line=MAX_LINE)
        expected = event_table(FieldMap(), reference.name)
        for event in reference.read():
            push_event(expected, int(event.origin.rpartition(":")[2]), event)
        original, files._BLOCK = files._BLOCK, block
        try:
            native = FileSource(str(path), FieldMap(), max_line=MAX_LINE)
            table = event_table(FieldMap(), native.name, threads=2)
            native.fill(table)
        finally:
            files._BLOCK = original
    finally:
        path.unlink()
    everything = table.aggregate(-math.inf, -math.inf, math.inf, 3)
    assert signature(everything) == signature(expected.aggregate(-math.inf, -math.inf, math.inf, 3))
    assert stats_of(native.stats) == stats_of(reference.stats)
    assert native.stats.malformed_examples == reference.stats.malformed_examples
    stats = native.stats
    assert stats.read == 1 + sum(not blank(line.rstrip(b"\r")) for line in lines)
    assert everything.events + stats.malformed == stats.read
    assert all(reason for reason in stats.malformed_reasons)
    for shape in everything.shapes:
        assert EARLIEST <= shape.first_seen <= shape.last_seen < LATEST


_TEXT_LINES = st.one_of(
    st.tuples(
        _ISO
        | st.sampled_from(["2026-11-20T13:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31 23:59:59"]),
        st.sampled_from(["ERROR", "info", "WARN", "fatal"]),
        st.text(alphabet="abcxyz-_.", min_size=1, max_size=8),
        _MESSAGES,
    ).map(lambda t: f"{t[0]} {t[1]} [{t[2]}] {t[3]}".encode(errors="surrogatepass")),
    st.sampled_from([b"\tat com.shop.Pay.run(Pay.java:42)", b"Caused by: x", b"", b"   "]),
    st.binary(max_size=MAX_LINE + 40).map(lambda b: b.replace(b"\n", b" ")),
    st.text(max_size=MAX_LINE + 40).map(lambda t: t.encode(errors="surrogatepass")),
)


@FUZZ
@given(st.lists(_TEXT_LINES, max_size=25))
def test_text_lines_are_read_or_counted(lines: list[bytes]) -> None:
    first = b"2026-11-20T13:00:00Z INFO [api] start"
    path = written(b"\n".join([first, *(line.replace(b"\n", b" ") for line in lines)]), ".log")
    try:
        source = FileSource(str(path), FieldMap(), max_line=MAX_LINE)
        table = event_table(FieldMap(), source.name)
        source.fill(table)
        again = FileSource(str(path), FieldMap(), max_line=MAX_LINE)
        events = list(again.read())
    finally:
        path.unlink()
    stats = source.stats
    assert table.rows == len(events) >= 1
    assert table.rows + stats.malformed == stats.read
    assert stats_of(stats) == stats_of(again.stats)
    for event in events:
        assert plausible(event.timestamp)


@FUZZ
@given(
    st.one_of(
        _VALUES,
        _ISO,
        st.floats(),
        st.integers(),
        st.text(max_size=40),
        st.sampled_from([math.inf, -math.inf, math.nan, 10**400, -(10**400), 1e300]),
    )
)
def test_any_value_parses_to_a_time_or_nothing(raw: object) -> None:
    try:
        timestamp = parse_timestamp(raw)
    except OverflowError:
        # Only an int beyond a double (10**400): no JSON reader hands one over.
        assert isinstance(raw, int) and abs(raw) > 1e308
        return
    assert timestamp is None or isinstance(timestamp, float)
    if timestamp is not None and plausible(timestamp):
        assert EARLIEST <= timestamp < LATEST


@FUZZ
@given(
    st.text(max_size=40)
    | _ISO
    | st.from_regex(r"\d{1,12}(\.\d{1,3})?(ms|s|m|h|d|w)", fullmatch=True)
)
def test_window_options_parse_or_say_why(text: str) -> None:
    try:
        duration = parse_duration(text)
    except UsageError as exc:
        assert str(exc)
    else:
        assert 0 <= duration <= MAX_DURATION
    try:
        moment = parse_time(text)
    except UsageError as exc:
        assert str(exc)
    else:
        assert isinstance(moment, Relative) or plausible(moment)
