from datetime import UTC, datetime

import pytest

from logsense.errors import UsageError
from logsense.model import Event
from logsense.window import Relative, WindowSpec, cut, parse_duration, parse_time


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def event(ts: float) -> Event:
    return Event(timestamp=ts, message="m", level="info", service="s")


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


def test_file_window_counts_back_from_the_newest_event() -> None:
    base = at("2026-11-20T10:00:00")
    events = [event(base + minute * 60) for minute in range(181)]  # 10:00 .. 13:00
    result = cut(iter(events), WindowSpec.from_options("1h", None, None), anchor=None)
    assert result.window.end > base + 180 * 60 >= result.window.start
    in_window = [e for e in result.events if e.timestamp >= result.window.start]
    assert len(in_window) == 60
    assert len(result.events) == 120  # window + the baseline hour before it
    assert result.outside == 181 - 120


def test_absolute_until_with_since() -> None:
    base = at("2026-11-20T10:00:00")
    events = [event(base + minute * 60) for minute in range(181)]
    spec = WindowSpec.from_options("30m", "2026-11-20T12:00:00Z", None, baseline="0")
    result = cut(iter(events), spec, anchor=None)
    assert result.baseline is None
    assert [e.timestamp for e in result.events] == [base + m * 60 for m in range(90, 120)]


def test_out_of_order_events_are_sorted_and_kept() -> None:
    base = at("2026-11-20T10:00:00")
    events = [event(base + 120), event(base + 60), event(base + 180)]
    result = cut(iter(events), WindowSpec.from_options("1h", None, None), anchor=None)
    assert [e.timestamp for e in result.events] == [base + 60, base + 120, base + 180]
