from datetime import UTC, datetime

import pytest

from logsense.config import FieldMap
from logsense.errors import UsageError
from logsense.model import Event
from logsense.requestmap import RequestMap
from logsense.sources.records import push_event
from logsense.sources.window import (
    Relative,
    WindowedEvents,
    WindowSpec,
    cut,
    new_table,
    parse_duration,
    parse_time,
)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def event(ts: float, request: str | None = None) -> Event:
    return Event(timestamp=ts, message="m", level="info", service="s", request_id=request)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("1h", 3600), ("2d", 172800), ("1h30m", 5400), ("90s", 90)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1x", "h", "1h 30", "-5m"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="not a duration"):
        parse_duration(text)


def test_times_normalize_any_offset_to_utc() -> None:
    assert parse_time("2026-11-20T15:00:00+01:00") == at("2026-11-20T14:00:00")
    assert parse_time("2026-11-20T14:00:00Z") == at("2026-11-20T14:00:00")
    assert parse_time("2026-11-20 14:00:00") == at("2026-11-20T14:00:00")
    assert parse_time("15m") == Relative(900)


def test_since_and_from_together_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        WindowSpec.from_options("1h", None, "2026-11-20T14:00:00Z")


def windowed(events: list[Event], spec: WindowSpec) -> WindowedEvents:
    """The events through an EventTable cut as the pipeline cuts a file."""
    table = new_table(spec, None, FieldMap(), "test")
    for seq, e in enumerate(events):
        push_event(table, seq, e)
    return cut(table, spec, None, samples=5)


def test_file_window_counts_back_from_the_newest_event() -> None:
    base = at("2026-11-20T10:00:00")
    events = [event(base + minute * 60) for minute in range(181)]  # 10:00 .. 13:00
    result = windowed(events, WindowSpec.from_options("1h", None, None))
    assert result.window.end > base + 180 * 60 >= result.window.start
    (shape,) = result.aggregate.shapes
    assert result.aggregate.events == shape.count == 60
    assert shape.baseline_count == 60  # the baseline hour before the window
    assert result.outside == 181 - 120
    assert result.earliest_seen == base


def test_absolute_until_with_since() -> None:
    base = at("2026-11-20T10:00:00")
    events = [event(base + minute * 60) for minute in range(181)]
    spec = WindowSpec.from_options("30m", "2026-11-20T12:00:00Z", None, baseline="0")
    result = windowed(events, spec)
    assert result.baseline is None
    (shape,) = result.aggregate.shapes
    assert (shape.count, shape.baseline_count) == (30, 0)
    assert (shape.first_seen, shape.last_seen) == (base + 90 * 60, base + 119 * 60)


def test_from_without_until_or_baseline_has_a_baseline_as_long_as_the_window() -> None:
    base = at("2026-11-20T10:00:00")
    events = [event(base + minute * 60) for minute in range(181)]  # 10:00 .. 13:00
    result = windowed(events, WindowSpec.from_options(None, None, "2026-11-20T12:00:00Z"))
    assert result.baseline is not None
    assert result.baseline.end == result.window.start == base + 120 * 60
    (shape,) = result.aggregate.shapes
    assert (shape.count, shape.baseline_count) == (61, 60)  # 12:00..13:00, 11:00..11:59


def test_out_of_order_events_are_sorted_and_kept() -> None:
    base = at("2026-11-20T10:00:00")
    events = [event(base + 120, "r2"), event(base + 60, "r1"), event(base + 180, "r3")]
    result = windowed(events, WindowSpec.from_options("1h", None, None))
    (shape,) = result.aggregate.shapes
    requests = RequestMap.from_buffers(shape.requests, result.aggregate.request_names)
    assert requests.to_dict() == {
        "r1": (base + 60, 0), "r2": (base + 120, 1), "r3": (base + 180, 2)
    }  # fmt: skip
