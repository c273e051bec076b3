"""From one decoded record (a JSON object or a parsed text line) to a normalized Event.

Shared by every source: field lookup by candidate keys (flat dotted or nested), timestamp and
level normalization, and the bookkeeping of what was malformed or guessed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from logsense._native import EventTable, ScanStats, duration_field_unit
from logsense.config import FieldMap
from logsense.model import Event, level_rank

if TYPE_CHECKING:
    from logsense.sources.formats.text import Parsed, TextParser

__all__ = [
    "EARLIEST",
    "IMPLAUSIBLE_TIME",
    "LATEST",
    "LEVEL_NAMES",
    "LINE_TOO_LONG",
    "MAX_LINE_BYTES",
    "RecordReader",
    "SourceStats",
    "event_table",
    "normalize_level",
    "parse_timestamp",
    "plausible",
    "push_event",
]

_LEVEL_NAMES = {
    "trace": "debug", "debug": "debug", "dbg": "debug", "verbose": "debug", "fine": "debug",
    "info": "info", "information": "info", "informational": "info", "notice": "info",
    "inf": "info",
    "warn": "warn", "warning": "warn", "wrn": "warn",
    "error": "error", "err": "error", "eror": "error", "severe": "error",
    "fatal": "fatal", "critical": "fatal", "crit": "fatal", "panic": "fatal", "emerg": "fatal",
    "emergency": "fatal", "alert": "fatal", "ftl": "fatal",
    # text formats: logcat and glog letters, zerolog, BGL, PostgreSQL, MySQL, JUL, Redis marks
    "v": "debug", "d": "debug", "i": "info", "w": "warn", "e": "error", "f": "fatal",
    "a": "fatal", "trc": "debug", "failure": "fatal", "note": "info", "log": "info",
    "statement": "info", "detail": "info", "hint": "info", "context": "info", "system": "info",
    "debug1": "debug", "debug2": "debug", "debug3": "debug", "debug4": "debug",
    "debug5": "debug", "finer": "debug", "finest": "debug", "config": "info",
    ".": "debug", "-": "info", "*": "info", "#": "warn", "vrb": "debug", "pnc": "fatal",
    # logrus's four-letter text levels
    "trac": "debug", "debu": "debug", "erro": "error", "fata": "fatal", "pani": "fatal",
    # MongoDB's debug letters; PHP's error kinds
    "d1": "debug", "d2": "debug", "d3": "debug", "d4": "debug", "d5": "debug",
    "fatal error": "fatal", "parse error": "error", "catchable fatal error": "error",
    "recoverable fatal error": "error", "deprecated": "info", "strict standards": "info",
    # journald's PRIORITY: a syslog severity as a string (its numbers are never pino's)
    "0": "fatal", "1": "fatal", "2": "fatal", "3": "error", "4": "warn", "5": "info",
    "6": "info", "7": "debug",
}  # fmt: skip
_LEVEL_NAMES |= {name.upper(): level for name, level in list(_LEVEL_NAMES.items())}
# Every level name and the normalized level it stands for (exact first, then lowercased).
LEVEL_NAMES = _LEVEL_NAMES
# A string of at least this many digits is an epoch time (shorter ones may be ISO dates).
_EPOCH_DIGITS = 10
# pino/bunyan numeric levels
_NUMERIC_LEVELS = ((60, "fatal"), (50, "error"), (40, "warn"), (30, "info"), (0, "debug"))
_MAX_EXAMPLES = 3
# The least level of an event that answered with a server error (5xx).
_ERROR = level_rank("error")
# The times a log line can plausibly carry, [EARLIEST, LATEST): 2000-01-01 to 2100-01-01 UTC.
# Anything else (epoch 0, uptime seconds, Go's zero time 0001-01-01, 9999-12-31, a number read in
# the wrong unit) is a malformed record, never an event (`EventTable` holds the same bounds).
EARLIEST = 946684800.0
LATEST = 4102444800.0
IMPLAUSIBLE_TIME = "implausible timestamp"
# Lines longer than this many bytes (without their newline) are malformed, unless blank: no real
# log line comes near it, and reading one must not cost memory in proportion to its length.
MAX_LINE_BYTES = 1 << 20
LINE_TOO_LONG = "line too long"


def normalize_level(raw: object) -> str | None:
    """debug/info/warn/error/fatal for a level name or pino-style number; None if unknown."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return next((name for floor, name in _NUMERIC_LEVELS if raw >= floor), None)
    if isinstance(raw, str):
        return _LEVEL_NAMES.get(raw.strip().lower())
    return None


def parse_timestamp(raw: object) -> float | None:
    """UTC epoch seconds from ISO 8601 (any offset; naive means UTC) or epoch s/ms/µs/ns (a
    number, or a string of at least 10 digits); else None. The result may be implausible (see
    `plausible`)."""
    if isinstance(raw, str):
        text = raw.strip()
        if len(text) >= _EPOCH_DIGITS and text.isascii() and text.isdigit():
            return parse_timestamp(int(text))  # journald's `__REALTIME_TIMESTAMP` (µs)
        try:
            parsed = datetime.fromisoformat(text.replace(",", "."))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        # The unit by magnitude: above 1e11 seconds (year 5138) a number is milliseconds, above
        # 1e14 microseconds, above 1e17 nanoseconds (each reads from 1973 to past 2100).
        if raw > 1e17:
            return raw / 1e9
        if raw > 1e14:
            return raw / 1e6
        return raw / 1000.0 if raw > 1e11 else float(raw)
    return None


def plausible(timestamp: float) -> bool:
    """Whether a time can be a log line's: from 2000-01-01 up to (not including) 2100-01-01."""
    return EARLIEST <= timestamp < LATEST


@dataclass
class SourceStats:
    """What a source could not use or had to guess, for `totals.malformed` and `warnings`."""

    read: int = 0
    malformed: int = 0
    malformed_reasons: Counter[str] = field(default_factory=Counter)
    malformed_examples: list[str] = field(default_factory=list)
    missing_service: int = 0
    missing_level: int = 0
    unknown_levels: Counter[str] = field(default_factory=Counter)
    undecodable: int = 0
    # The line-length cap the reader applied (for the warning about long lines).
    max_line: int = MAX_LINE_BYTES
    # Other things the reader must say, one line each (an input that ended early).
    notes: list[str] = field(default_factory=list)
    # Text inputs: the format detected first, events per format, times read by the rules.
    detected: str | None = None
    formats: Counter[str] = field(default_factory=Counter)
    year_assumed: int = 0
    zone_assumed: int = 0
    zone_name: str = "UTC"
    # Continuation lines not kept: the event's text had reached max_line bytes.
    continuation_dropped: int = 0
    # JSON records that continued the event before them and joined its stack trace.
    joined: int = 0

    def note_parsed(self, parsed: Parsed) -> None:
        """Count a text event by its format and the rules its time needed."""
        self.formats[parsed.format] += 1
        self.year_assumed += parsed.year_assumed
        self.zone_assumed += parsed.zone_assumed

    def reject(self, where: str, reason: str) -> None:
        """Count one record that could not become an Event."""
        self.malformed += 1
        self.malformed_reasons[reason] += 1
        example = f"{where} ({reason})"
        if len(self.malformed_examples) < _MAX_EXAMPLES:
            self.malformed_examples.append(example)
            self.malformed_examples.sort(key=_line_of)
        elif _line_of(example) < _line_of(self.malformed_examples[-1]):
            # Lines may be judged out of order (detection reads ahead): keep the first lines.
            self.malformed_examples[-1] = example
            self.malformed_examples.sort(key=_line_of)

    def absorb(self, scanned: ScanStats) -> None:
        """Add what the native JSON scanner counted (`EventTable.stats`)."""
        self.malformed += sum(scanned.malformed_reasons.values())
        self._add(scanned)

    def merge(self, part: SourceStats) -> None:
        """Add what another reader of a part of the same input counted (a cluster worker's
        slice): counts add up, the examples stay the first by line, notes follow."""
        self.malformed += part.malformed
        self._add(part)
        self.notes += part.notes
        self.detected = self.detected or part.detected

    def _add(self, other: ScanStats | SourceStats) -> None:
        """Add the counts that native and Python stats both keep."""
        self.read += other.read
        self.malformed_reasons.update(other.malformed_reasons)
        examples = [*self.malformed_examples, *other.malformed_examples]
        self.malformed_examples = sorted(examples, key=_line_of)[:_MAX_EXAMPLES]
        self.missing_level += other.missing_level
        self.missing_service += other.missing_service
        self.unknown_levels.update(other.unknown_levels)
        self.undecodable += other.undecodable
        self.formats.update(other.formats)
        self.year_assumed += other.year_assumed
        self.zone_assumed += other.zone_assumed
        self.continuation_dropped += other.continuation_dropped
        self.joined += other.joined

    def warnings(self) -> list[str]:
        """One human line per kind of problem, with counts and where to look."""
        lines: list[str] = list(self.notes)
        lines += self._format_warnings()
        if self.malformed:
            reasons = ", ".join(f"{n} {r}" for r, n in self.malformed_reasons.most_common())
            examples = "; ".join(self.malformed_examples)
            lines.append(f"{self.malformed} malformed records skipped ({reasons}); e.g. {examples}")
        if self.malformed_reasons[IMPLAUSIBLE_TIME]:
            lines.append(
                f"{self.malformed_reasons[IMPLAUSIBLE_TIME]} records had an implausible timestamp "
                "(before 2000-01-01 or from 2100-01-01 on) and were skipped"
            )
        if self.malformed_reasons[LINE_TOO_LONG]:
            lines.append(
                f"{self.malformed_reasons[LINE_TOO_LONG]} lines longer than {self.max_line:,} "
                "bytes were skipped (the max_line_bytes setting)"
            )
        if self.undecodable:
            lines.append(f"{self.undecodable} lines were not valid UTF-8; bad bytes became U+FFFD")
        if self.missing_level:
            lines.append(f"{self.missing_level} events had no level field; treated as info")
        if self.unknown_levels:
            names = ", ".join(repr(n) for n, _ in self.unknown_levels.most_common(3))
            total = sum(self.unknown_levels.values())
            lines.append(f"{total} events had an unknown level ({names}); treated as info")
        if self.missing_service:
            lines.append(f"{self.missing_service} events had no service field; shown as 'unknown'")
        return lines

    def _format_warnings(self) -> list[str]:
        """Which formats text lines were read in, and the times the rules completed."""
        lines: list[str] = []
        if self.formats:
            read = ", ".join(f"{name} ({n:,})" for name, n in self.formats.most_common(6))
            more = len(self.formats) - 6
            lines.append(
                f"text read as {read}{f' and {more} more formats' if more > 0 else ''}"
                + (f"; detected first: {self.detected}" if self.detected else "")
            )
        if self.formats["fallback"]:
            lines.append(
                f"{self.formats['fallback']:,} lines of no known format were read by a time found "
                "in them (the rest of the line is the message); --header-regex reads them exactly"
            )
        if self.year_assumed:
            lines.append(
                f"{self.year_assumed:,} events had no year in their time: each got the latest "
                "year that puts it at most a day after its reference (a prefix's full time, "
                "else the time of this run)"
            )
        if self.zone_assumed:
            zone = self.zone_name
            lines.append(
                f"{self.zone_assumed:,} events had no time zone in their time: read as {zone}"
                + (" (--timezone sets another)" if zone == "UTC" else " (--timezone)")
            )
        if self.joined:
            lines.append(
                f"{self.joined:,} records continued the log line before them (a stack trace "
                "shipped one line per record) and were joined to its event"
            )
        if self.continuation_dropped:
            lines.append(
                f"{self.continuation_dropped:,} continuation lines were not kept: their event's "
                f"text had reached {self.max_line:,} bytes (the max_line_bytes setting)"
            )
        return lines


def _line_of(example: str) -> int:
    """The line number in a malformed example, `path:LINE (reason)` (0 if it has none)."""
    number = example.rsplit(" (", 1)[0].rpartition(":")[2]
    return int(number) if number.isdigit() else 0


_FIELD_NAMES = tuple(FieldMap.model_fields)


def event_table(
    fields: FieldMap,
    source: str,
    *,
    floor: float | None = None,
    ceiling: float | None = None,
    lookback: float | None = None,
    threads: int = 1,
    now: float | None = None,
    window_start: float | None = None,
) -> EventTable:
    """An empty native EventTable that reads records with `fields` and these level names.

    It keeps events with `floor <= timestamp < ceiling`, and may forget those older than its
    anchor minus `lookback` (see `window.new_table` and `EventTable.anchor`); `now`, the wall
    clock, lets the anchor tell events from the future; `window_start`, when the window is
    known up front, lets it sample as it reads (`EventTable.sample_rest`).
    """
    return EventTable(
        [getattr(fields, name) for name in _FIELD_NAMES],
        _LEVEL_NAMES,
        source,
        floor=floor,
        ceiling=ceiling,
        lookback=lookback,
        threads=threads,
        now=now,
        window_start=window_start,
    )


def push_event(table: EventTable, seq: int, event: Event) -> None:
    """Add an Event made in Python to `table`; `seq` orders events of equal timestamps."""
    table.push(
        seq,
        event.timestamp,
        event.message,
        event.level,
        event.service,
        event.request_id,
        event.user_id,
        event.stack_trace,
        event.origin,
        event.duration,
        event.version,
        event.host,
    )


Extractor = Callable[[dict[str, Any]], tuple[Any, ...]]


def compile_extractor(fields: FieldMap, top_keys: frozenset[str]) -> Extractor:
    """A function returning every field of a record with these top-level keys, in FieldMap order.

    Records of one input share a few key layouts. For each, only the candidate keys that can
    match it are kept, and they are compiled into one function of plain dict lookups: reading a
    field costs a `.get`, not a search over every candidate. Keys enter the code only as
    `repr()` literals. The duration comes out in seconds (None unless a non-negative number),
    in the unit its key names.
    """
    lines = ["def extract(record):", "    unit = 0.0"]
    for name in _FIELD_NAMES:
        lines.append(f"    {name} = None")
        for key in getattr(fields, name):
            lookup = _lookup_code(key, top_keys)
            if lookup is not None:
                lines.append(f"    if {name} is None or {name} == '':")
                lines.append(f"        {name} = {lookup}")
                if name == "duration":
                    lines.append(f"        unit = {duration_field_unit(key)!r}")
    lines.append("    duration = _seconds(duration, unit)")
    lines.append(f"    return ({', '.join(_FIELD_NAMES)},)")
    namespace: dict[str, Any] = {"_dig": _dig, "_seconds": _seconds}
    exec(compile("\n".join(lines), "<logsense field extractor>", "exec"), namespace)
    extractor: Extractor = namespace["extract"]
    return extractor


def _lookup_code(key: str, top_keys: frozenset[str]) -> str | None:
    if key in top_keys:
        return f"record.get({key!r})"
    head = key.split(".", 1)[0]
    if "." in key and head in top_keys:
        return f"_dig(record, {tuple(key.split('.'))!r})"
    return None


def _seconds(value: object, unit: float) -> float | None:
    """`value` in seconds when it is a non-negative finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value) * unit
    except OverflowError:  # an int beyond any float, from a source other than orjson
        return None
    return seconds if 0.0 <= seconds < math.inf else None


def _server_error(status: object) -> bool:
    """Whether an HTTP status value is a server error, 5xx: an integer from 500 to 599, or
    three ASCII digits that begin with 5."""
    if isinstance(status, str):
        return len(status) == 3 and status[0] == "5" and status.isascii() and status.isdigit()
    return isinstance(status, int) and not isinstance(status, bool) and 500 <= status < 600


def _dig(record: dict[str, Any], parts: tuple[str, ...]) -> Any:
    node: Any = record
    for part in parts:
        if node.__class__ is not dict:
            return None
        node = node.get(part)
    return node


class RecordReader:
    """Builds Events from dict records using a FieldMap, counting problems in `stats`."""

    def __init__(
        self, fields: FieldMap, stats: SourceStats, inner: TextParser | None = None
    ) -> None:
        self.stats = stats
        # Reads a message that is a whole log line, for records without a level (a container
        # runtime's {"log": "<a text line>", "time": …}).
        self.inner = inner
        self._fields = fields
        self._extractors: dict[frozenset[str], Extractor] = {}
        self._strings: dict[str, str] = {}
        # Of the last event made: its message was a whole log line (`inner` read it); its
        # record had nothing but a time and a message that is no log line (a container
        # runtime's record of one line of a stack trace: `JsonJoiner`).
        self.log_line = False
        self.bare = False

    def _extractor(self, record: dict[str, Any]) -> Extractor:
        layout = frozenset(record)
        extractor = self._extractors.get(layout)
        if extractor is None:
            extractor = self._extractors[layout] = compile_extractor(self._fields, layout)
        return extractor

    def event(self, record: dict[str, Any], origin: str) -> Event | None:
        """The Event for `record`, or None (counted as malformed) when it has no time or message."""
        raw_time, message, level, service, request, user, stack, version, host, duration, status = (
            self._extractor(record)(record)
        )
        timestamp = parse_timestamp(raw_time)
        if timestamp is None:
            self.stats.reject(origin, "no timestamp")
            return None
        if not EARLIEST <= timestamp < LATEST:
            self.stats.reject(origin, IMPLAUSIBLE_TIME)
            return None
        if message.__class__ is not str:
            self.stats.reject(origin, "no message")
            return None
        if "\n" in message:
            message, _, rest = message.partition("\n")
            stack = stack if isinstance(stack, str) else rest
        parsed = None
        server_error = _server_error(status)
        if server_error and level is None:
            level = "error"
        has_service = isinstance(service, str) and bool(service.strip())
        bare = level is None and not has_service
        if level is None and self.inner is not None and message.strip():
            parsed = self.inner.parse_inner(message.rstrip())
            if parsed is not None:
                self.stats.formats[f"json + {parsed.format}"] += 1
                message = parsed.message
                level = parsed.raw_level if parsed.raw_level is not None else parsed.level
                if not (isinstance(service, str) and service.strip()):
                    service = parsed.service
                if request is None or request == "":
                    request = parsed.request_id
                if user is None or user == "":
                    user = parsed.user_id
                if host is None or host == "":
                    host = parsed.host
        stack = stack if stack.__class__ is str and stack.strip() else None
        self.log_line = parsed is not None
        self.bare = bare and parsed is None and stack is None
        normalized = self.level(level)
        if server_error and level_rank(normalized) < _ERROR:
            normalized = "error"
        return Event(
            timestamp,
            message.rstrip(),
            normalized,
            self.service(service),
            request if request.__class__ is str else _text(request),
            self._shared_text(user),
            stack,
            self._shared_text(host),
            self._shared_text(version),
            origin,
            duration,
        )

    def level(self, raw: object) -> str:
        """Normalized level, counting missing and unknown ones (both become info)."""
        if raw is None:
            self.stats.missing_level += 1
            return "info"
        level = _LEVEL_NAMES.get(raw) if isinstance(raw, str) else None
        if level is None:
            level = normalize_level(raw)
        if level is None:
            self.stats.unknown_levels[str(raw)[:20]] += 1
            return "info"
        return level

    def _shared(self, value: str) -> str:
        """One string object per distinct value: a million events name a few services."""
        return self._strings.setdefault(value, value)

    def _shared_text(self, value: object) -> str | None:
        text = value if value.__class__ is str else _text(value)
        return None if text is None else self._shared(text)

    def service(self, raw: object) -> str:
        """The service name, or 'unknown' (counted) when the record has none."""
        if isinstance(raw, str) and raw.strip():
            return self._shared(raw.strip())
        self.stats.missing_service += 1
        return "unknown"


def _text(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return value if isinstance(value, str) else str(value)
