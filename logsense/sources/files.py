"""Log files and stdin: JSON lines (nested or dotted keys) or plain text with a header regex.

Compressed `.gz` files are read transparently. In text files, a line that does not start a new
event (no header match: `\\tat ...`, `Caused by:`, Python tracebacks) belongs to the event above.

`fill` hands JSON lines to the native scanner in large blocks (`EventTable.scan_json`); the few
lines it leaves (bad UTF-8, unusual timestamps or levels) come back to `RecordReader`, which is
the reference for what a record means. Text lines in the formats of the library
(`sources/formats/`) go to the native scanner too (`EventTable.scan_text`), which reads them as
`TextParser` (the reference) does; a `--header-regex` of the user's goes through Python.

Whatever the input, reading holds at most a block and one line of it: a line longer than
`max_line` bytes (without its newline) is counted as malformed ("line too long") and skipped
unless it is blank (only whitespace), which is skipped at any length; runs of empty lines cost
next to nothing. A UTF-8 byte order mark at the start of a line is ignored. A `.gz` that ends
early (truncated, or still being written) keeps what was read, with a warning.
"""

from __future__ import annotations

import gzip
import io
import itertools
import re
import sys
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from logsense._native import JOIN_GAP, EventTable
from logsense.config import FieldMap, Settings
from logsense.errors import InputError, UsageError
from logsense.model import Event
from logsense.progress import counting, event_progress
from logsense.sources.formats.text import SAMPLE_LINES, Format, Parsed, TextParser
from logsense.sources.formats.times import Zone
from logsense.sources.records import (
    EARLIEST,
    IMPLAUSIBLE_TIME,
    LATEST,
    LEVEL_NAMES,
    LINE_TOO_LONG,
    MAX_LINE_BYTES,
    RecordReader,
    SourceStats,
    parse_timestamp,
    push_event,
)
from logsense.sources.sampled_read import sample_as_read, sampled_read

if TYPE_CHECKING:
    from logsense.sources.pushdown import Pushdown, Pushed

__all__ = ["FileSource", "header_regex_error"]

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_NEWLINES = re.compile(rb"\n+")
_BLOCK = 8 << 20  # bytes handed to the native scanner at once
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
        max_line: int = MAX_LINE_BYTES,
        log_format: str | None = None,
        timezone: str | None = None,
        now: float | None = None,
    ) -> None:
        if max_line < 16:
            raise UsageError(f"max_line_bytes must be at least 16, got {max_line}")
        self.path = path
        self.plain = plain
        self.name = "stdin" if path == "-" else path
        self.max_line = max_line
        self.stats = SourceStats(max_line=max_line)
        # With a pushdown, a read whose window is known up front samples the events that
        # cannot form an issue (`sampled_read.py`); `pushed` then says what it kept.
        self.pushdown: Pushdown | None = None
        self.pushed: Pushed | None = None
        self.fields = fields
        self._records = RecordReader(fields, self.stats)
        self._text_records = RecordReader(_TEXT_FIELDS, self.stats)
        self._headers = _compile_headers(header_regex)
        self.zone = Zone(timezone or "UTC")
        self.stats.zone_name = self.zone.name
        # The wall clock that times without a year are placed before (see `formats/times.py`).
        self.now = time.time() if now is None else now
        try:
            self.parser = TextParser(LEVEL_NAMES, self.zone, self.now, only=log_format)
        except KeyError as exc:
            raise UsageError(str(exc.args[0])) from None
        self._records.inner = self.parser
        self._stdin = stdin

    @classmethod
    def from_settings(cls, path: str, settings: Settings, plain: bool = False) -> FileSource:
        """The source of `path` read as the settings say (fields, header regex, format, zone)."""
        return cls(
            path, settings.fields, settings.header_regex, plain=plain,
            max_line=settings.max_line_bytes, log_format=settings.log_format,
            timezone=settings.timezone,
        )  # fmt: skip

    def sample(self, count: int = SAMPLE_LINES) -> list[str]:
        """The first `count` non-blank lines of the input, decoded (for `logsense formats`)."""
        with self._open() as stream:
            reader = _LineReader(stream, self)
            decoded = _decoded(reader.lines(), self.stats)
            return [line for _, line in itertools.islice(decoded, count)]

    def starts_event(self, line: str) -> bool:
        """Whether the text `line` (no line end) begins an event rather than continuing one:
        it matches the header regex, or any known format."""
        if self._headers is not None:
            return self._headers.match(line) is not None
        return self.parser.parse(line).kind != "none"

    def read(self) -> Iterator[Event]:
        """Every event of the input in file order; problems are counted in `self.stats`."""
        with self._open() as stream:
            reader = _LineReader(stream, self)
            lines = reader.lines()
            first = next(lines, None)
            if first is not None:
                yield from self._events(first, lines)
            self._note_early_end(reader, reader.number)

    def fill(self, table: EventTable, progress: bool = False) -> None:
        """Add every event of the input to `table`, JSON lines through the native scanner;
        with `pushdown` set and the table's window known up front, only those that can form an
        issue and a sample of the rest, counting the rest (`sampled_read.py`)."""
        sample_as_read(table, self.pushdown)
        self._fill(table, progress)
        self.pushed = sampled_read(table)

    def _fill(self, table: EventTable, progress: bool) -> None:
        with self._open() as stream:
            reader = _LineReader(stream, self)
            lines = reader.lines()
            first = next(lines, None)
            if first is None:
                self._note_early_end(reader, reader.number)
                return
            label = f"reading {self.name}"
            if not self.plain and not _is_json(first[1]) and self._headers is None:
                self._fill_text(table, reader, first, lines, label, progress)
                return
            if self.plain or not _is_json(first[1]):
                events = counting(self._events(first, lines), label, progress)
                for seq, event in enumerate(events):
                    push_event(table, seq, event)
                self._note_early_end(reader, reader.number)
                return
            self._set_text(table)
            cap = self.max_line
            with event_progress(label, progress) as shown:
                number, raw = first
                self._push_handed_back(table, table.scan_json(raw + b"\n", number, cap))
                for block in reader.rest():
                    self._push_handed_back(table, table.scan_json(block, max_line=cap))
                    shown(table.stats.read + self.stats.read)
                self._push_handed_back(table, table.end_json())
            self.stats.absorb(table.stats)
            self._note_early_end(reader, table.next_line - 1)

    def slicing(self) -> str | None:
        """How byte ranges of the input can be read apart (`fill_range`): "json" or "text" for
        a file the native scanners read, None when it must be read whole (stdin, gzip, plain
        lines, a `--header-regex`, an empty file)."""
        if self.path == "-" or self.plain or self._headers is not None:
            return None
        with self._open() as stream:
            if isinstance(stream, gzip.GzipFile):
                return None
            first = next(_LineReader(stream, self).lines(), None)
        if first is None:
            return None
        return "json" if _is_json(first[1]) else "text"

    def event_start(self, offset: int, kind: str) -> tuple[int, int]:
        """The first byte at or after `offset` where an event starts (for "text", a line that is
        a header; for "json", a record that does not continue the one before, see
        `_json_events`), or the file's size; and the newlines from `offset` up to it. A range
        between two such starts holds whole events, stack traces included."""
        if offset == 0:
            return 0, 0
        if kind == "text":
            self._detect(None)
        cap = self.max_line
        with Path(self.path).open("rb") as stream:
            stream.seek(offset - 1)
            at, newlines = offset, 0
            if stream.read(1) != b"\n":  # inside a line: its start is before `offset`
                at, newlines = _skip_line(stream, at)
            starts = self._starts_text_event if kind == "text" else self._starts_json_event
            while True:
                line = stream.readline(cap + 2)
                if not line:
                    break
                if not line.endswith(b"\n"):  # longer than the cap: never a header
                    at, ended = _skip_line(stream, at + len(line))
                    newlines += ended
                    continue
                if len(line) - 1 <= cap and starts(line):
                    break
                at += len(line)
                newlines += 1
        return at, newlines

    def fill_range(
        self, table: EventTable, start: int, end: int, first_line: int, kind: str
    ) -> None:
        """Add the events of bytes [`start`, `end`) of the file to `table`: a range between two
        `event_start`s, whose first line has number `first_line`, read as `kind` ("json" or
        "text", what `slicing` said of the whole file; text formats are detected on the file's
        first lines, as `fill` does)."""
        if kind == "text":
            self._detect(table)
        else:
            self._set_text(table)
        cap = self.max_line
        number: int | None = first_line
        with Path(self.path).open("rb") as stream:
            stream.seek(start)
            left = end - start
            while left > 0 and (block := stream.read(min(_BLOCK, left))):
                left -= len(block)
                if kind == "text":
                    table.scan_text(block, number, cap)
                else:
                    self._push_handed_back(table, table.scan_json(block, number, cap))
                number = None
        if kind == "text":
            table.end_text()
        else:
            self._push_handed_back(table, table.end_json())
        self.stats.absorb(table.stats)

    def _detect(self, table: EventTable | None) -> None:
        """Detect the text format on the file's first lines, in the Python parser and (if
        given) the table, as `fill` does."""
        with self._open() as stream:
            _, sample = _head(_LineReader(stream, self).lines())
        only = self._set_text(table) if table is not None else self.parser.only
        if only is None:
            self.parser.detect(sample)
            if table is not None:
                self.stats.detected = table.detect_text(sample)

    def _starts_json_event(self, line: bytes) -> bool:
        """Whether a JSON line (with its newline) is more than a continuation record: one with
        only a time and a message that is no log line may join the event before it."""
        try:
            record = orjson.loads(line.removeprefix(_BOM))
        except orjson.JSONDecodeError:
            return True
        if type(record) is not dict:
            return True
        reader = RecordReader(self.fields, SourceStats(), inner=self.parser)
        return reader.event(record, "") is None or not reader.bare

    def _starts_text_event(self, line: bytes) -> bool:
        """Whether a whole text line (with its newline) begins an event for the native scanner."""
        raw = line.removeprefix(_BOM)
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        return bool(text.strip()) and self.starts_event(text)

    def _fill_text(
        self,
        table: EventTable,
        reader: _LineReader,
        first: tuple[int, bytes],
        lines: Iterator[tuple[int, bytes]],
        label: str,
        progress: bool,
    ) -> None:
        """Text lines through the native scanner: detection on the first lines, then blocks."""
        only = self._set_text(table)
        head, sample = _head(itertools.chain([first], lines))
        detected = table.detect_text(sample) if only is None else None
        self.stats.detected = detected
        cap = self.max_line
        with event_progress(label, progress) as shown:
            for number, raw in head:
                table.scan_text(raw + b"\n", number, cap)
            for block in reader.rest():
                table.scan_text(block, max_line=cap)
                shown(table.stats.read + self.stats.read)
            table.end_text()
        self.stats.absorb(table.stats)
        self._note_early_end(reader, table.next_line - 1)

    def _set_text(self, table: EventTable) -> int | None:
        """Give `table` the text formats and their rules; the forced format's index, if any."""
        parser = self.parser
        lib = parser.lib
        only = None if parser.only is None else lib.formats.index(parser.only)
        table.set_text(
            [_spec(f) for f in lib.formats],
            [_spec(p) for p in lib.prefixes],
            _spec(lib.fallback),
            self.zone.initial,
            self.zone.transitions,
            self.now,
            only,
        )
        return only

    def _note_early_end(self, reader: _LineReader, lines: int) -> None:
        """Warn, once the input is read, when it ended before its gzip stream did."""
        if reader.ended_early is not None:
            self.stats.notes.append(
                f"{self.name} ended early ({reader.ended_early}): the file is truncated or still "
                f"being written; its first {lines:,} lines were read"
            )

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
    def _open(self) -> Iterator[io.BufferedIOBase]:
        if self.path == "-":
            yield from _maybe_gunzip(self._stdin or sys.stdin.buffer)
            return
        try:
            with Path(self.path).open("rb") as raw:
                yield from _maybe_gunzip(raw)
        except OSError as exc:
            raise InputError(f"cannot read {self.path}: {exc.strerror or exc}") from None

    def _json_events(self, lines: Iterable[tuple[int, bytes]]) -> Iterator[Event]:
        """The events of JSON lines; a record that only continues the log line before it (a
        container runtime ships a stack trace one line per record) joins that event's stack,
        as the native scanner does (`logsense/native/src/table/scan.rs`)."""
        records = self._records
        held: Event | None = None  # the last event whose message was a log line
        for number, raw in lines:
            event = self._json_event(number, raw)
            if event is None:
                if held is not None and raw.strip():
                    yield held
                    held = None
                continue
            if (
                held is not None
                and records.bare
                and abs(event.timestamp - held.timestamp) <= JOIN_GAP
            ):
                self._join(held, event)
                continue
            if held is not None:
                yield held
                held = None
            if records.log_line:
                held = event
            else:
                yield event
        if held is not None:
            yield held

    def _join(self, held: Event, more: Event) -> None:
        """Add `more`'s message to `held`'s stack, uncounting it as an event of its own."""
        stats = self.stats
        stats.read -= 1
        stats.missing_level -= 1
        stats.missing_service -= 1
        text = len(held.message.encode()) + (
            len(held.stack_trace.encode()) + 1 if held.stack_trace else 0
        )
        if text + len(more.message.encode()) + 1 > self.max_line:
            stats.continuation_dropped += 1
            return
        stats.joined += 1
        held.stack_trace = (
            f"{held.stack_trace}\n{more.message}" if held.stack_trace else more.message
        )

    def _json_event(self, number: int, raw: bytes) -> Event | None:
        """The Event of one JSON line, or None (blank, or counted as malformed)."""
        if raw.startswith(_BOM):
            raw = raw[3:]
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
        """Events of text lines: a header line starts one, the lines after it that are no
        header (a stack trace) belong to it."""
        if self._headers is not None:
            yield from self._regex_events(lines)
            return
        lines = iter(lines)
        head = list(itertools.islice(lines, SAMPLE_LINES))
        parser = self.parser
        parser.detect([line for _, line in head])
        stats = self.stats
        stats.detected = parser.name_of(parser.primary)
        pending: _Pending | None = None
        dropped = False  # whether the last header was rejected (its lines go with it)
        cap = self.max_line
        for number, line in itertools.chain(head, lines):
            parsed = parser.parse(line)
            if parsed.kind == "none":
                if pending is not None:
                    pending.add(line, cap, stats)
                elif not dropped:
                    stats.read += 1
                    stats.reject(f"{self.name}:{number}", "no header")
                continue
            stats.read += 1
            if pending is not None:
                yield pending.event(self)
                pending = None
            if parsed.kind == "bad":
                stats.reject(f"{self.name}:{number}", parsed.reason)
                dropped = True
                continue
            if not EARLIEST <= parsed.timestamp < LATEST:
                stats.reject(f"{self.name}:{number}", IMPLAUSIBLE_TIME)
                dropped = True
                continue
            dropped = False
            stats.note_parsed(parsed)
            pending = _Pending(parsed, number)
        if pending is not None:
            yield pending.event(self)

    def _regex_events(self, lines: Iterable[tuple[int, str]]) -> Iterator[Event]:
        """Events of text lines read with the user's `--header-regex`."""
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
        assert self._headers is not None
        match = self._headers.match(line)
        if not match:
            return None
        record = _with_ids(match.groupdict())
        stamp = record.get("timestamp")
        if isinstance(stamp, str) and parse_timestamp(stamp) is None:
            found = self.parser.time_of(stamp)
            if found is not None:
                record["timestamp"] = found
        return record

    def _text_event(
        self, record: dict[str, Any], number: int, continuation: list[str]
    ) -> Event | None:
        if continuation:
            record["stack_trace"] = "\n".join(continuation)
        return self._text_records.event(record, f"{self.name}:{number}")


class _Pending:
    """A text event whose continuation lines may still follow."""

    __slots__ = ("lines", "number", "parsed", "size")

    def __init__(self, parsed: Parsed, number: int) -> None:
        self.parsed = parsed
        self.number = number
        self.lines: list[str] = []
        self.size = 0

    def add(self, line: str, cap: int, stats: SourceStats) -> None:
        """Add a continuation line, unless the event's text would grow past `cap` bytes."""
        size = len(line.encode("utf-8", "surrogatepass")) + 1
        if self.size + size > cap:
            stats.continuation_dropped += 1
            return
        self.size += size
        self.lines.append(line)

    def event(self, source: FileSource) -> Event:
        parsed = self.parsed
        records = source._text_records
        if parsed.level is None and parsed.raw_level is not None:
            level = records.level(parsed.raw_level)  # counted as unknown
        else:
            level = records.level(parsed.level)
        stack = "\n".join(self.lines) if self.lines else None
        return Event(
            parsed.timestamp,
            parsed.message.rstrip(),
            level,
            records.service(parsed.service),
            parsed.request_id,
            parsed.user_id,
            stack if stack is not None and stack.strip() else None,
            parsed.host,
            None,
            f"{source.name}:{self.number}",
            process=parsed.process,
            thread=parsed.thread,
        )


def _head(lines: Iterable[tuple[int, bytes]]) -> tuple[list[tuple[int, bytes]], list[str]]:
    """The first lines of an input up to the `SAMPLE_LINES`th non-blank one, and those
    decoded: what the text format is detected on."""
    head: list[tuple[int, bytes]] = []
    sample: list[str] = []
    for number, raw in lines:
        head.append((number, raw))
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if text.strip():
            sample.append(text)
            if len(sample) >= SAMPLE_LINES:
                break
    return head, sample


def _skip_line(stream: IO[bytes], at: int) -> tuple[int, int]:
    """Read `stream` (at byte `at`) past the end of the current line: the next line's start,
    and 1 (0 when the input ended first)."""
    while piece := stream.readline(_BLOCK):
        at += len(piece)
        if piece.endswith(b"\n"):
            return at, 1
    return at, 0


def _spec(fmt: Format) -> tuple[str, str, list[tuple[str, int]], list[str], bool, bool]:
    """A format as `EventTable.set_text` takes it."""
    return (fmt.name, fmt.regex, list(fmt.groups), list(fmt.layouts), fmt.ids, fmt.general)


def _is_json(first_line: bytes) -> bool:
    return first_line.lstrip().startswith(b"{")


class _LineReader:
    """The lines of a byte stream, read in blocks of `_BLOCK` bytes with bounded memory.

    `lines()` yields (number, line) for each line that is not blank, without its newline and
    without a leading byte order mark; a line longer than the source's `max_line` is counted
    as malformed in its stats instead (never held whole). `rest()` then hands out the unread
    input as blocks. A compressed stream that ends early or turns corrupt ends the input, and
    `ended_early` says why.
    """

    def __init__(self, stream: io.BufferedIOBase, source: FileSource) -> None:
        self._stream = stream
        self._source = source
        self._buffer = b""
        self._pos = 0
        self._started = False
        self.number = 0  # lines consumed so far
        self.ended_early: str | None = None

    def _read(self) -> bytes:
        """The next block of the input (b"" at its end).

        Read in pieces (`read1`): a compressed stream that ends early raises, and what the
        pieces before it held must not be lost with the exception.
        """
        if self.ended_early is not None:
            return b""
        pieces: list[bytes] = []
        size = 0
        try:
            while size < _BLOCK:
                piece = self._stream.read1(_BLOCK - size)
                if not piece:
                    break
                pieces.append(piece)
                size += len(piece)
        except EOFError:
            self.ended_early = "its gzip stream stops before its end"
        except (gzip.BadGzipFile, zlib.error) as exc:
            self.ended_early = f"its gzip data is corrupt: {exc}"
        block = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        if not self._started and block:
            self._started = True
            if block.startswith(_UTF16_BOMS):
                raise InputError(
                    f"{self._source.name} is UTF-16 text; logsense reads UTF-8 "
                    "(convert it first, e.g. iconv -f UTF-16 -t UTF-8)"
                )
        return block

    def _fill(self) -> bool:
        """Append the next block to the unread part of the buffer; False at the end."""
        block = self._read()
        if not block:
            return False
        self._buffer = self._buffer[self._pos :] + block
        self._pos = 0
        return True

    def lines(self) -> Iterator[tuple[int, bytes]]:
        while True:
            buffer, pos = self._buffer, self._pos
            if pos < len(buffer) and buffer[pos] == 0x0A:  # a run of empty lines, in one step
                run = _NEWLINES.match(buffer, pos)
                assert run is not None
                self.number += run.end() - pos
                self._pos = run.end()
                continue
            end = buffer.find(b"\n", pos)
            if end < 0:
                if len(buffer) - pos > self._source.max_line:
                    self._skip_long_line()
                elif not self._fill():
                    if pos < len(buffer):
                        self._pos = len(buffer)
                        self.number += 1
                        line = self._judged(buffer[pos:])
                        if line is not None:
                            yield self.number, line
                    return
                continue
            self._pos = end + 1
            self.number += 1
            line = self._judged(buffer[pos:end])
            if line is not None:
                yield self.number, line

    def rest(self) -> Iterator[bytes]:
        """The input after the last line `lines()` gave, in blocks cut anywhere."""
        if self._pos < len(self._buffer):
            yield self._buffer[self._pos :]
        self._buffer, self._pos = b"", 0
        while block := self._read():
            yield block

    def _judged(self, line: bytes) -> bytes | None:
        """The line without a byte order mark; None when blank or too long (then counted)."""
        text = line[3:] if line.startswith(_BOM) else line
        if not text.strip():
            return None
        if len(line) > self._source.max_line:
            self._too_long()
            return None
        return text

    def _skip_long_line(self) -> None:
        """Pass over the line at the read position, longer than the cap, to its newline."""
        start = self._buffer[self._pos :]
        blank = not (start[3:] if start.startswith(_BOM) else start).strip()
        self._buffer, self._pos = b"", 0
        while block := self._read():
            end = block.find(b"\n")
            if end < 0:
                blank = blank and not block.strip()
                continue
            blank = blank and not block[:end].strip()
            self._buffer = block[end + 1 :]
            break
        self.number += 1
        if not blank:
            self._too_long()

    def _too_long(self) -> None:
        stats = self._source.stats
        stats.read += 1
        stats.reject(f"{self._source.name}:{self.number}", LINE_TOO_LONG)


def header_regex_error(header_regex: str) -> str | None:
    """What is wrong with a header regex (not a regex, or lacking named groups), or None."""
    try:
        compiled = re.compile(header_regex)
    except re.error as exc:
        return f"is not a valid regex: {exc}"
    missing = {"timestamp", "message"} - set(compiled.groupindex)
    if missing:
        return f"needs the named groups {sorted(missing)}"
    return None


def _compile_headers(header_regex: str | None) -> re.Pattern[str] | None:
    if header_regex is None:
        return None
    problem = header_regex_error(header_regex)
    if problem is not None:
        raise UsageError(f"the header regex {problem}")
    return re.compile(header_regex)


def _maybe_gunzip(stream: IO[bytes]) -> Iterator[io.BufferedIOBase]:
    """Yield `stream`, or a gunzipping view of it when it starts with the gzip magic bytes."""
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[type-var]
    if buffered.peek(2)[:2] == _GZIP_MAGIC:
        with gzip.GzipFile(fileobj=buffered, mode="rb") as unzipped:
            yield unzipped
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
