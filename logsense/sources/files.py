"""Log files and stdin: JSON lines (nested or dotted keys) or plain text with a header regex.

Compressed `.gz` files are read transparently. In text files, a line that does not start a new
event (no header match: `\\tat ...`, `Caused by:`, Python tracebacks) belongs to the event above.

`fill` hands JSON lines to the native scanner in large blocks (`EventTable.scan_json`); the few
lines it leaves (bad UTF-8, unusual timestamps or levels) come back to `RecordReader`, which is
the reference for what a record means. Text lines go through Python.
"""

from __future__ import annotations

import gzip
import io
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

import orjson

from logsense._native import EventTable
from logsense.config import FieldMap
from logsense.errors import InputError, UsageError
from logsense.model import Event
from logsense.progress import counting, event_progress
from logsense.sources.records import RecordReader, SourceStats, push_event

__all__ = ["DEFAULT_HEADERS", "FileSource"]

_GZIP_MAGIC = b"\x1f\x8b"
_BLOCK = 8 << 20  # bytes handed to the native scanner at once
_TS = r"(?P<timestamp>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
_LEVEL = (
    r"(?P<level>(?i:trace|debug|info|notice|warn|warning|error|err|fatal|critical|crit|severe))"
)
_SERVICE = r"(?P<service>[\w.\-/]+)"
DEFAULT_HEADERS = (
    rf"^{_TS}\s+{_LEVEL}\s+\[{_SERVICE}\]\s?(?P<message>.*)$",
    rf"^{_TS}\s+\[{_SERVICE}\]\s+{_LEVEL}\s?(?P<message>.*)$",
    rf"^{_TS}\s+\[{_LEVEL}\]\s+{_SERVICE}:?\s(?P<message>.*)$",
    rf"^{_TS}\s+{_LEVEL}\s+{_SERVICE}\s+-\s(?P<message>.*)$",
    rf"^{_TS}\s+\[?{_LEVEL}\]?\s?(?P<message>.*)$",
)
_TEXT_FIELDS = FieldMap(
    timestamp=["timestamp"],
    message=["message"],
    level=["level"],
    service=["service"],
    request_id=["request_id"],
    user_id=["user_id"],
    stack_trace=["stack_trace"],
    version=["version"],
    host=["host"],
)
_ID_PREFIX = re.compile(
    r"(?:(?P<rkey>trace|trace_id|traceId|request_id|requestId|req_id|rid)"
    r"|(?P<ukey>user|user_id|userId|uid))=(?P<value>[^\s,;]+)[,;]?\s*"
)


class FileSource:
    """Events from a file path, a `.gz` file, or stdin (`-`); JSON lines or text, auto-detected.

    With `plain`, every line is a bare message (for parsing benchmarks and unknown formats)."""

    def __init__(
        self,
        path: str,
        fields: FieldMap,
        header_regex: str | None = None,
        stdin: IO[bytes] | None = None,
        plain: bool = False,
    ) -> None:
        self.path = path
        self.plain = plain
        self.name = "stdin" if path == "-" else path
        self.stats = SourceStats()
        self._records = RecordReader(fields, self.stats)
        self._text_records = RecordReader(_TEXT_FIELDS, self.stats)
        self._headers = _compile_headers(header_regex)
        self._stdin = stdin

    def read(self) -> Iterator[Event]:
        """Every event of the input in file order; problems are counted in `self.stats`."""
        with self._open() as stream:
            lines = enumerate(stream, start=1)
            first = next(((n, raw) for n, raw in lines if raw.strip()), None)
            if first is not None:
                yield from self._events(first, lines)

    def fill(self, table: EventTable, progress: bool = False) -> None:
        """Add every event of the input to `table`, JSON lines through the native scanner."""
        with self._open() as stream:
            lines = enumerate(stream, start=1)
            first = next(((n, raw) for n, raw in lines if raw.strip()), None)
            if first is None:
                return
            label = f"reading {self.name}"
            if self.plain or not _is_json(first[1]):
                events = counting(self._events(first, lines), label, progress)
                for seq, event in enumerate(events):
                    push_event(table, seq, event)
                return
            with event_progress(label, progress) as shown:
                self._push_handed_back(table, table.scan_json(first[1], first[0]))
                for block in _blocks(stream):
                    self._push_handed_back(table, table.scan_json(block))
                    shown(table.stats.read + self.stats.read)
                self._push_handed_back(table, table.end_json())
            self.stats.absorb(table.stats)

    def _push_handed_back(self, table: EventTable, lines: list[tuple[int, bytes]]) -> None:
        """Read in Python the lines the native scanner left, and add their events to `table`."""
        for line_number, raw in lines:
            event = self._json_event(line_number, raw)
            if event is not None:
                push_event(table, line_number, event)

    def _events(
        self, first: tuple[int, bytes], lines: Iterator[tuple[int, bytes]]
    ) -> Iterator[Event]:
        rest = _chain_first(first, lines)
        if self.plain:
            return self._plain_events(_decoded(rest, self.stats))
        if _is_json(first[1]):
            return self._json_events(rest)
        return self._text_events(_decoded(rest, self.stats))

    @contextmanager
    def _open(self) -> Iterator[IO[bytes]]:
        if self.path == "-":
            yield from _maybe_gunzip(self._stdin or sys.stdin.buffer)
            return
        try:
            with Path(self.path).open("rb") as raw:
                yield from _maybe_gunzip(raw)
        except OSError as exc:
            raise InputError(f"cannot read {self.path}: {exc.strerror or exc}") from None

    def _json_events(self, lines: Iterable[tuple[int, bytes]]) -> Iterator[Event]:
        for number, raw in lines:
            event = self._json_event(number, raw)
            if event is not None:
                yield event

    def _json_event(self, number: int, raw: bytes) -> Event | None:
        """The Event of one JSON line, or None (blank, or counted as malformed)."""
        try:
            record: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            if not raw.strip():
                return None
            record = self._salvage(raw, f"{self.name}:{number}")
            if record is None:
                return None
        self.stats.read += 1
        if type(record) is not dict:
            self.stats.reject(f"{self.name}:{number}", "not a JSON object")
            return None
        return self._records.event(record, f"{self.name}:{number}")

    def _salvage(self, raw: bytes, origin: str) -> Any:
        """The record of a line orjson refused if its only fault is bad UTF-8, else None."""
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            try:
                record = orjson.loads(raw.decode("utf-8", errors="replace"))
            except orjson.JSONDecodeError:
                pass
            else:
                self.stats.undecodable += 1
                return record
        self.stats.read += 1
        self.stats.reject(origin, "invalid JSON")
        return None

    def _plain_events(self, lines: Iterable[tuple[int, str]]) -> Iterator[Event]:
        """Every non-blank line a bare message: no time, no level, no service."""
        for number, line in lines:
            self.stats.read += 1
            yield Event(0.0, line.strip(), "info", "-", origin=f"{self.name}:{number}")

    def _text_events(self, lines: Iterable[tuple[int, str]]) -> Iterator[Event]:
        pending: tuple[dict[str, Any], int, list[str]] | None = None
        for number, line in lines:
            record = self._match_header(line)
            if record is None:
                if pending is None:
                    self.stats.read += 1
                    self.stats.reject(f"{self.name}:{number}", "no header")
                else:
                    pending[2].append(line)
                continue
            self.stats.read += 1
            if pending is not None:
                event = self._text_event(*pending)
                if event is not None:
                    yield event
            pending = (record, number, [])
        if pending is not None:
            event = self._text_event(*pending)
            if event is not None:
                yield event

    def _match_header(self, line: str) -> dict[str, Any] | None:
        for index, header in enumerate(self._headers):
            match = header.match(line)
            if match:
                if index:  # try the format that matched first next time
                    self._headers.insert(0, self._headers.pop(index))
                return _with_ids(match.groupdict())
        return None

    def _text_event(
        self, record: dict[str, Any], number: int, continuation: list[str]
    ) -> Event | None:
        if continuation:
            record["stack_trace"] = "\n".join(continuation)
        return self._text_records.event(record, f"{self.name}:{number}")


def _is_json(first_line: bytes) -> bool:
    return first_line.lstrip().startswith(b"{")


def _blocks(stream: IO[bytes]) -> Iterator[bytes]:
    """The rest of `stream` in large blocks, cut anywhere (`scan_json` joins cut lines)."""
    while block := stream.read(_BLOCK):
        yield block


def _compile_headers(header_regex: str | None) -> list[re.Pattern[str]]:
    if header_regex is None:
        return [re.compile(h) for h in DEFAULT_HEADERS]
    try:
        compiled = re.compile(header_regex)
    except re.error as exc:
        raise UsageError(f"--header-regex is not a valid regex: {exc}") from None
    missing = {"timestamp", "message"} - set(compiled.groupindex)
    if missing:
        raise UsageError(f"--header-regex needs the named groups {sorted(missing)}")
    return [compiled]


def _maybe_gunzip(stream: IO[bytes]) -> Iterator[IO[bytes]]:
    """Yield `stream`, or a gunzipping view of it when it starts with the gzip magic bytes."""
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[type-var]
    if buffered.peek(2)[:2] == _GZIP_MAGIC:
        with gzip.open(buffered, "rb") as unzipped:
            yield cast(IO[bytes], unzipped)
    else:
        yield buffered


def _with_ids(groups: dict[str, Any]) -> dict[str, Any]:
    """Move leading `trace=… user=…` pairs out of the message into request/user ids."""
    message: str = groups.get("message") or ""
    while True:
        match = _ID_PREFIX.match(message)
        if not match:
            break
        key = "request_id" if match["rkey"] else "user_id"
        if not groups.get(key):
            groups[key] = match["value"]
        message = message[match.end() :]
    groups["message"] = message
    return groups


def _decoded(lines: Iterable[tuple[int, bytes]], stats: SourceStats) -> Iterator[tuple[int, str]]:
    """Non-blank lines as text; invalid UTF-8 is replaced and counted."""
    for number, raw in lines:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            stats.undecodable += 1
            line = raw.decode("utf-8", errors="replace")
        line = line.rstrip("\r\n")
        if line.strip():
            yield number, line


def _chain_first(
    first: tuple[int, bytes], rest: Iterator[tuple[int, bytes]]
) -> Iterator[tuple[int, bytes]]:
    yield first
    yield from rest
