"""Times written in text logs, read by layout; the rules for a missing year and a missing zone.

A format names the layouts its timestamp may take (`time = [...]` in `library.toml`), tried in
order; the first that reads the whole timestamp wins. The layout language is small, and
`logsense/native/src/text/times.rs` reads it identically:

- `%Y`, `%y`: a 4-digit year; a 2-digit year (2000 + it).
- `%m`, `%b`: month 1-12 (one or two digits); an English month name or its abbreviation.
- `%d`, `%H`, `%M`, `%S`: day, hour, minute, second (one or two digits each).
- `%f`: a fraction of a second (any number of digits, microseconds kept); optional together
  with the character before it in the layout, which stands for any of `.` `,` `:`.
- `%L`: milliseconds as a number of one to three digits (`:8` is 8 ms); optional as `%f`.
- `%p`: AM or PM (a 12-hour clock); `%a`: an English weekday name (not checked).
- `%z`: an optional zone: `Z`, `UTC`, `GMT`, `±HH:MM`, `±HHMM`, `±HH`; a space before it in
  the layout stands for optional spaces; other capitals (`CET`, `PDT`) read as no zone.
- `%s`: seconds since the epoch, optionally with a fraction (a zoned time).
- `T`: `T` or one space; a space: one or more spaces; anything else: itself.

**Missing zone.** A time written without a zone is read in the zone `--timezone` names (an IANA
name such as `Europe/Berlin`, or an offset such as `+02:00`), else in UTC; each such event is
counted and a warning says so. Local times that a daylight-saving change skips or repeats are
read as Python's `zoneinfo` reads them with `fold=0`: the offset before the change.

**Missing year.** A time without a year (syslog's `Jun 14 15:16:01`, logcat's `03-17 16:13:38`)
takes the year that puts it latest but not more than one day after its reference: the full time
the same line carries elsewhere (a collector's or container runtime's prefix), else the wall
clock when the run started. So `Dec 31 23:59:59` read on January 1st is last year's. Each such
event is counted and a warning says so.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from logsense.errors import UsageError

__all__ = ["YEAR_SLACK", "Moment", "Zone", "read_time", "resolve"]

# A time without a year may lie this far after its reference (clocks and zones disagree).
YEAR_SLACK = 86400.0
_MONTHS = {
    name: number
    for number, names in enumerate(
        (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
         ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
         ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
         ("dec", "december")),
        start=1,
    )
    for name in names
}  # fmt: skip
_DAYS = {
    "mon", "monday", "tue", "tuesday", "wed", "wednesday", "thu", "thursday", "fri", "friday",
    "sat", "saturday", "sun", "sunday",
}  # fmt: skip
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(slots=True)
class Moment:
    """The parts of a time as written: what a layout found."""

    year: int | None
    month: int
    day: int
    hour: int
    minute: int
    second: int
    micros: int
    offset: int | None  # seconds east of UTC; None: no zone written
    epoch: float | None = None  # a zoned epoch time (`%s`)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in(year: int, month: int) -> int:
    return 29 if month == 2 and _is_leap(year) else _DAYS_IN_MONTH[month - 1]


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (as `isotime.rs` computes them)."""
    y = year - 1 if month <= 2 else year
    era = y // 400
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _digits(text: str, pos: int, low: int, high: int) -> tuple[int, int] | None:
    """The number of `low` to `high` ASCII digits at `pos`, and the position after them."""
    end = pos
    while end < len(text) and end - pos < high and "0" <= text[end] <= "9":
        end += 1
    if end - pos < low:
        return None
    return int(text[pos:end]), end


def _word(text: str, pos: int) -> tuple[str, int]:
    end = pos
    while end < len(text) and text[end].isascii() and text[end].isalpha():
        end += 1
    return text[pos:end].lower(), end


def _zone(text: str, pos: int) -> tuple[int | None, int]:
    """A zone at `pos`: (offset or None, position after it); no zone leaves `pos` as it is."""
    if text.startswith("Z", pos):
        return 0, pos + 1
    for name in ("UTC", "GMT"):
        if text.startswith(name, pos):
            return 0, pos + 3
    if pos < len(text) and text[pos] in "+-":
        sign = 1 if text[pos] == "+" else -1
        hours = _digits(text, pos + 1, 2, 2)
        if hours is None or hours[0] > 23:
            return None, pos
        end = hours[1]
        minutes = 0
        after = end + 1 if text.startswith(":", end) else end
        found = _digits(text, after, 2, 2)
        if found is not None:
            if found[0] > 59:
                return None, pos
            minutes, end = found
        return sign * (hours[0] * 3600 + minutes * 60), end
    word, end = _word(text, pos)
    if 3 <= len(word) <= 5 and text[pos:end].isupper():
        return None, end  # a zone abbreviation: ambiguous (CST), read as no zone
    return None, pos


def read_time(layout: str, text: str) -> Moment | None:
    """The moment `text` (stripped) writes in `layout`, or None if it does not fit it whole."""
    year: int | None = None
    month = day = 1
    hour = minute = second = micros = 0
    offset: int | None = None
    pm: bool | None = None
    has_date = False
    pos, i = 0, 0
    n = len(layout)
    while i < n:
        c = layout[i]
        if c == "%" and i + 1 < n:
            d = layout[i + 1]
            i += 2
            if d in "YymdHMS":
                width = {"Y": (4, 4), "y": (2, 2)}.get(d, (1, 2))
                found = _digits(text, pos, *width)
                if found is None:
                    return None
                value, pos = found
                if d == "Y":
                    year = value
                elif d == "y":
                    year = 2000 + value
                elif d == "m":
                    month, has_date = value, True
                elif d == "d":
                    day = value
                elif d == "H":
                    hour = value
                elif d == "M":
                    minute = value
                else:
                    second = value
            elif d == "b":
                word, end = _word(text, pos)
                if word not in _MONTHS:
                    return None
                month, pos, has_date = _MONTHS[word], end, True
            elif d == "a":
                word, end = _word(text, pos)
                if word not in _DAYS:
                    return None
                pos = end
            elif d == "p":
                word, end = _word(text, pos)
                if word not in ("am", "pm"):
                    return None
                pm, pos = word == "pm", end
            elif d == "f":
                found = _digits(text, pos, 1, 64)
                if found is None:
                    return None
                digits = text[pos : found[1]][:6]
                micros, pos = int(digits.ljust(6, "0")), found[1]
            elif d == "L":
                found = _digits(text, pos, 1, 3)
                if found is None:
                    return None
                micros, pos = found[0] * 1000, found[1]
            elif d == "z":
                offset, pos = _zone(text, pos)
            elif d == "s":
                found = _digits(text, pos, 9, 12)
                if found is None:
                    return None
                seconds, pos = found
                fraction = 0
                if text.startswith(".", pos):
                    after = _digits(text, pos + 1, 1, 64)
                    if after is None:
                        return None
                    fraction = int(text[pos + 1 : after[1]][:6].ljust(6, "0"))
                    pos = after[1]
                return (
                    Moment(None, 1, 1, 0, 0, 0, 0, 0, epoch=seconds + fraction / 1e6)
                    if pos == len(text)
                    else None
                )
            else:
                return None
            continue
        if i + 2 < n and layout[i + 1] == "%" and layout[i + 2] in "fL":
            i += 1  # the fraction's separator: any of . , : (both optional)
            if pos < len(text) and text[pos] in ".,:" and _digits(text, pos + 1, 1, 1):
                pos += 1
            else:
                i += 2
            continue
        if c == " " and i + 2 < n and layout[i + 1] == "%" and layout[i + 2] == "z":
            i += 3  # an optional zone, after optional spaces
            start = pos
            while pos < len(text) and text[pos] == " ":
                pos += 1
            offset, end = _zone(text, pos)
            pos = start if end == pos else end
            continue
        if c == " ":
            if not text.startswith(" ", pos):
                return None
            while pos < len(text) and text[pos] == " ":
                pos += 1
        elif c == "T":
            if pos >= len(text) or text[pos] not in "Tt ":
                return None
            pos += 1
        else:
            if not text.startswith(c, pos):
                return None
            pos += 1
        i += 1
    if pos != len(text):
        return None
    if pm is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if pm else 0)
    if not has_date:
        return None
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 59):
        return None
    if year is not None and (year < 1 or day > _days_in(year, month)):
        return None
    return Moment(year, month, day, hour, minute, second, micros, offset)


class Zone:
    """Where times written without a zone are: UTC, a fixed offset, or an IANA zone's rules.

    An IANA zone is kept as its transitions from 1999 to 2101 (UTC instant, offset before,
    offset after), found with `zoneinfo`; `logsense._native` gets the same table.
    """

    def __init__(self, name: str = "UTC") -> None:
        self.name = name
        self.transitions: list[tuple[int, int, int]] = []
        fixed = _fixed_offset(name)
        if fixed is not None:
            self.initial = fixed
            return
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(
                f"--timezone {name!r}: not an IANA zone (e.g. Europe/Berlin) nor an offset "
                "(e.g. +02:00)"
            ) from None
        self.initial, self.transitions = _transitions(zone)
        # Wall-clock instants from which each transition's offset applies (fold=0).
        self._walls = [t + max(a, b) for t, a, b in self.transitions]

    @property
    def is_utc(self) -> bool:
        return self.initial == 0 and not self.transitions

    def to_utc(self, local: int) -> int:
        """UTC seconds of `local` wall-clock seconds in this zone."""
        if not self.transitions:
            return local - self.initial
        index = bisect.bisect_right(self._walls, local)
        offset = self.initial if index == 0 else self.transitions[index - 1][2]
        return local - offset


def _fixed_offset(name: str) -> int | None:
    if name.upper() in ("UTC", "Z", "GMT"):
        return 0
    match = re.fullmatch(r"([+-])(\d\d):?(\d\d)?", name.strip())
    if match is None:
        return None
    hours, minutes = int(match[2]), int(match[3] or 0)
    if hours > 23 or minutes > 59:
        raise UsageError(f"--timezone {name!r}: an offset is ±HH:MM with HH up to 23")
    return (1 if match[1] == "+" else -1) * (hours * 3600 + minutes * 60)


def _transitions(zone: ZoneInfo) -> tuple[int, list[tuple[int, int, int]]]:
    """The offset before 1999 and the (instant, before, after) changes up to 2101."""

    def offset(ts: int) -> int:
        delta = datetime.fromtimestamp(ts, zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    start = int(datetime(1999, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(2101, 1, 1, tzinfo=UTC).timestamp())
    initial = offset(start)
    changes: list[tuple[int, int, int]] = []
    step = 86400
    t, current = start, initial
    while t < end:
        following = offset(t + step)
        if following != current:
            low, high = t, t + step  # offset(low) == current, offset(high) == following
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == current:
                    low = middle
                else:
                    high = middle
            changes.append((high, current, following))
            current = following
        t += step
    return initial, changes


def resolve(moment: Moment, zone: Zone, reference: float) -> tuple[float, bool, bool]:
    """(UTC seconds, whether the year was assumed, whether the zone was assumed) of a moment.

    The year, when missing, is the latest that puts the moment at most `YEAR_SLACK` after
    `reference`; the zone, when missing, is `zone`.
    """
    if moment.epoch is not None:
        return moment.epoch, False, False
    clock = moment.hour * 3600 + moment.minute * 60 + moment.second

    def seconds(year: int) -> int | None:
        if moment.day > _days_in(year, moment.month):
            return None
        local = days_from_civil(year, moment.month, moment.day) * 86400 + clock
        return local - moment.offset if moment.offset is not None else zone.to_utc(local)

    year_assumed = moment.year is None
    if moment.year is not None:
        utc = seconds(moment.year)
        assert utc is not None  # read_time checked the day
    else:
        limit = reference + YEAR_SLACK
        year = _utc_year(limit) + 1
        utc = None
        for candidate in range(year, year - 9, -1):
            found = seconds(candidate)
            if found is not None and found <= limit:
                utc = found
                break
        if utc is None:
            return float("nan"), True, moment.offset is None
    return utc + moment.micros / 1e6, year_assumed, moment.offset is None


def _utc_year(ts: float) -> int:
    if not -62135596800.0 < ts < 253402300799.0:
        return 1970
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=int(ts // 1))).year
