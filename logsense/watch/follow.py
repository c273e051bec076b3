"""Following a growing log file: at each tick, what was appended since the last one.

`FileFollower` keeps the open file, the byte offset read so far and the number of the next
line. Each `poll` reads from the offset to the end of the file in blocks of 8 MiB, hands the
complete lines to `FileSource` (the same reader as `logsense triage`, so a line means the same
to both) and delivers their events batch by batch; memory holds one block and one line.

- **A line still being written** (no newline yet) is kept and completed by the next poll; one
  longer than `max_line_bytes` is counted as malformed (`line too long`) and skipped unread.
- **Text events** end where the next one starts: the lines of the newest event (its header and
  any continuation lines, such as a stack trace still being written) are held until a new header
  comes, or until a poll finds nothing new (the writer paused: the event is complete).
- **Rotation** (another file now has the path, `logrotate`'s `create`): the rest of the old file
  is read first, then the new one from its start. A path with no file (removed, not yet
  recreated) is a read failure (`SourceUnavailable`) until a file appears again.
- **Truncation** (`copytruncate`): the file is shorter than the offset, or the last bytes read
  before the offset are no longer there (it was emptied and written past the old offset before
  this poll): reading starts again at its start, with a note.
- A gzip file cannot be followed (it is written whole): a read failure that says so.

Line numbers count from the start of the current file, so an event's origin is `path:line`
as in `logsense triage`.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

import orjson

from logsense.config import FieldMap
from logsense.errors import SourceUnavailable, UsageError
from logsense.model import Event
from logsense.sources.files import FileSource
from logsense.sources.records import LINE_TOO_LONG, SourceStats

__all__ = ["Deliver", "FileFollower", "Follower", "PollResult", "merge_stats"]

_BLOCK = 8 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_TAIL = 64  # bytes before the offset that must still be there (else the file was rewritten)
_BOM = b"\xef\xbb\xbf"
_MAX_EXAMPLES = 3
_WHERE = re.compile(r"^(.*):(\d+) \((.*)\)$", re.S)

Deliver = Callable[[list[Event]], None]


@dataclass
class PollResult:
    """What one poll read: bytes, events delivered, their newest time, and the problems met
    (`stats`: malformed lines, and notes such as a rotation)."""

    stats: SourceStats = field(default_factory=SourceStats)
    bytes: int = 0
    events: int = 0
    newest: float | None = None

    def delivered(self, events: list[Event]) -> None:
        """Count a batch handed on."""
        self.events += len(events)
        for event in events:
            if self.newest is None or event.timestamp > self.newest:
                self.newest = event.timestamp


class Follower(Protocol):
    """A source read a little at a time: each poll delivers what is new since the last."""

    name: str

    def poll(self, now: float, floor: float, deliver: Deliver) -> PollResult:
        """Deliver (in batches) the events that are new since the last poll and not older than
        `floor`; `now` is the wall clock. Raises SourceUnavailable (or another LogsenseError)
        when the source cannot be read; events delivered before that are kept."""
        ...

    def close(self) -> None:
        """Let go of files and connections."""
        ...


class FileFollower:
    """A file read as it grows (see the module's docstring)."""

    def __init__(
        self,
        path: str,
        fields: FieldMap,
        header_regex: str | None = None,
        max_line: int = 1 << 20,
    ) -> None:
        self.path = Path(path)
        self.name = path
        self._fields = fields
        self._header_regex = header_regex
        self._starts_event = FileSource(path, fields, header_regex).starts_event
        self._max_line = max_line
        self._file: BinaryIO | None = None
        self._identity: tuple[int, int] | None = None
        self._offset = 0
        self._line = 1  # the number of the line the next complete line has
        self._partial = b""
        self._skipping = False  # inside a line longer than max_line, until its newline
        self._kind: Literal["json", "text"] | None = None
        self._held = b""  # text: the newest event's lines, until the next event starts
        self._held_line = 0
        self._tail = b""  # the last bytes read, just before the offset

    def check(self) -> None:
        """UsageError when the path can never be followed: a directory, or a gzip file."""
        if self.path.is_dir():
            raise UsageError(f"--source {self.name} is a directory; give the log file")
        try:
            with self.path.open("rb") as handle:
                head = handle.read(2)
        except OSError:
            return  # missing or unreadable now: a read failure the watcher reports and retries
        if head == _GZIP_MAGIC:
            raise UsageError(
                f"--source {self.name} is gzip-compressed: --follow reads a plain file as it "
                "grows (triage a .gz with logsense triage)"
            )

    def poll(self, now: float, floor: float, deliver: Deliver) -> PollResult:
        """Deliver what was appended since the last poll (see the module's docstring)."""
        result = PollResult(SourceStats(max_line=self._max_line))
        if self._file is not None:
            self._check_replaced(result, deliver)
        if self._file is None:
            self._open()
        if not self._read_to_end(result, deliver) and self._held:
            self._flush_held(result, deliver)  # nothing new: the newest text event is complete
        return result

    def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None

    # --- the file itself -------------------------------------------------------------------

    def _open(self) -> None:
        try:
            handle = self.path.open("rb", buffering=0)
        except OSError as exc:
            raise SourceUnavailable(f"cannot read {self.name}: {exc.strerror or exc}") from None
        try:
            status = os.fstat(handle.fileno())
            head = handle.read(2)
            handle.seek(0)
        except OSError as exc:
            handle.close()
            raise SourceUnavailable(f"cannot read {self.name}: {exc.strerror or exc}") from None
        if head == _GZIP_MAGIC:
            handle.close()
            raise SourceUnavailable(
                f"{self.name} is gzip-compressed now: --follow reads a plain file as it grows"
            )
        self._file = handle
        self._identity = (status.st_dev, status.st_ino)
        self._restart()

    def _restart(self) -> None:
        """Read from the start of the (new or truncated) file."""
        self._offset = 0
        self._line = 1
        self._partial = b""
        self._skipping = False
        self._kind = None
        self._held = b""
        self._tail = b""

    def _check_replaced(self, result: PollResult, deliver: Deliver) -> None:
        """Notice a rotation (another file at the path), a removal or a truncation."""
        assert self._file is not None
        try:
            status: os.stat_result | None = self.path.stat()
        except FileNotFoundError:
            status = None
        except OSError as exc:
            raise SourceUnavailable(f"cannot read {self.name}: {exc.strerror or exc}") from None
        if status is None or (status.st_dev, status.st_ino) != self._identity:
            self._read_to_end(result, deliver)  # what was written before it moved
            self._end_of_file(result, deliver)
            self.close()
            if status is None:
                raise SourceUnavailable(
                    f"cannot read {self.name}: the file was removed or renamed and no new file "
                    "has its name yet"
                )
            result.stats.notes.append(
                f"{self.name} was rotated: the rest of the old file was read, and the new file "
                "is read from its start"
            )
            return
        size = os.fstat(self._file.fileno()).st_size
        if size < self._offset or not self._tail_intact():
            self._flush_held(result, deliver)
            result.stats.notes.append(
                f"{self.name} was truncated (it had {self._offset:,} bytes, now {size:,}): it "
                "is read again from its start"
            )
            self._restart()

    def _tail_intact(self) -> bool:
        """Whether the bytes before the offset are still those read (an appended file never
        changes them; one emptied and written again does)."""
        assert self._file is not None
        if not self._tail:
            return True
        try:
            found = os.pread(self._file.fileno(), len(self._tail), self._offset - len(self._tail))
        except OSError:
            return False
        return found == self._tail

    def _read_to_end(self, result: PollResult, deliver: Deliver) -> bool:
        """Read from the offset to the end; True when complete lines came."""
        assert self._file is not None
        self._file.seek(self._offset)
        got = False
        while True:
            try:
                block = self._file.read(_BLOCK)
            except OSError as exc:
                raise SourceUnavailable(f"cannot read {self.name}: {exc.strerror or exc}") from None
            if not block:
                return got
            self._offset += len(block)
            result.bytes += len(block)
            self._tail = (self._tail + block)[-_TAIL:]
            got = self._consume(block, result, deliver) or got

    def _end_of_file(self, result: PollResult, deliver: Deliver) -> None:
        """The file is finished (rotated away): its last line needs no newline."""
        if self._partial and not self._skipping:
            self._take(self._partial + b"\n", result, deliver)
        self._partial = b""
        self._flush_held(result, deliver)

    # --- lines -----------------------------------------------------------------------------

    def _consume(self, block: bytes, result: PollResult, deliver: Deliver) -> bool:
        """Take the complete lines of `self._partial + block`; keep the rest."""
        data = block
        if self._skipping:
            newline = data.find(b"\n")
            if newline < 0:
                return False
            data = data[newline + 1 :]
            self._skipping = False
            self._line += 1
        if self._partial:
            data = self._partial + data
        end = data.rfind(b"\n")
        if end < 0:
            self._partial = data
            self._check_partial(result)
            return False
        self._partial = data[end + 1 :]
        self._take(data[: end + 1], result, deliver)
        self._check_partial(result)
        return True

    def _check_partial(self, result: PollResult) -> None:
        """A line longer than the cap is never held whole: count it and skip to its end."""
        if len(self._partial) <= self._max_line:
            return
        text = self._partial[3:] if self._partial.startswith(_BOM) else self._partial
        if text.strip():
            result.stats.read += 1
            result.stats.reject(f"{self.name}:{self._line}", LINE_TOO_LONG)
        self._partial = b""
        self._skipping = True

    def _take(self, lines: bytes, result: PollResult, deliver: Deliver) -> None:
        """Complete lines, starting at line `self._line`: parse them (text: hold the newest
        event's lines back)."""
        first = self._line
        self._line += lines.count(b"\n")
        if self._kind is None:
            self._kind = _kind_of(lines)
        if self._kind == "json":
            self._parse_json(lines, first, result, deliver)
            return
        chunk = self._held + lines
        start = self._held_line if self._held else first
        cut = self._last_event_start(chunk)
        if cut is None or cut == 0:
            self._held, self._held_line = chunk, start
        else:
            self._parse(chunk[:cut], start, result, deliver)
            self._held, self._held_line = chunk[cut:], start + chunk[:cut].count(b"\n")
        if len(self._held) > 4 * self._max_line:  # an endless event: take what it has
            self._flush_held(result, deliver)

    def _flush_held(self, result: PollResult, deliver: Deliver) -> None:
        if self._held:
            held, self._held = self._held, b""
            self._parse(held, self._held_line, result, deliver)

    def _last_event_start(self, chunk: bytes) -> int | None:
        """The offset of the last line in `chunk` that starts a text event (matches a header)."""
        end = len(chunk) - 1  # chunk ends with a newline
        while end > 0:
            start = chunk.rfind(b"\n", 0, end) + 1
            line = chunk[start:end]
            if line.startswith(_BOM):
                line = line[3:]
            text = line.decode("utf-8", "replace").rstrip("\r")
            if self._starts_event(text):
                return start
            end = start - 1
        return None

    def _parse_json(self, lines: bytes, first: int, result: PollResult, deliver: Deliver) -> None:
        """JSON lines; lines at the start that are not JSON objects are counted here, so that
        the reader does not take the block for text."""
        position = 0
        number = first
        while position < len(lines):
            end = lines.index(b"\n", position)
            line = lines[position:end]
            stripped = (line[3:] if line.startswith(_BOM) else line).strip()
            if stripped.startswith(b"{"):
                break
            if stripped:
                result.stats.read += 1
                result.stats.reject(f"{self.name}:{number}", _not_json(stripped))
            position, number = end + 1, number + 1
        if position < len(lines):
            self._parse(lines[position:], number, result, deliver)

    def _parse(self, lines: bytes, first: int, result: PollResult, deliver: Deliver) -> None:
        """Read `lines` (line `first` onwards) with FileSource and deliver their events."""
        reader = FileSource(
            "-", self._fields, self._header_regex, stdin=io.BytesIO(lines),
            max_line=self._max_line,
        )  # fmt: skip
        reader.name = self.name
        shift = first - 1
        events = list(reader.read())
        for event in events:
            where, _, number = event.origin.rpartition(":")
            if number.isdigit():
                event.origin = f"{where}:{int(number) + shift}"
        merge_stats(result.stats, reader.stats, shift)
        if events:
            result.delivered(events)
            deliver(events)


def _kind_of(lines: bytes) -> Literal["json", "text"]:
    """JSON lines when the first non-blank line starts with `{` (as `logsense triage` decides)."""
    for line in lines.split(b"\n"):
        stripped = (line[3:] if line.startswith(_BOM) else line).strip()
        if stripped:
            return "json" if stripped.startswith(b"{") else "text"
    return "json"


def _not_json(line: bytes) -> str:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return "invalid JSON"
    return "not a JSON object"


def merge_stats(into: SourceStats, part: SourceStats, shift: int = 0) -> None:
    """Add `part` to `into`; line numbers in `part`'s examples are moved by `shift`."""
    into.read += part.read
    into.malformed += part.malformed
    into.malformed_reasons.update(part.malformed_reasons)
    for example in part.malformed_examples:
        if len(into.malformed_examples) >= _MAX_EXAMPLES:
            break
        found = _WHERE.match(example)
        if found and shift:
            example = f"{found[1]}:{int(found[2]) + shift} ({found[3]})"
        into.malformed_examples.append(example)
    into.missing_service += part.missing_service
    into.missing_level += part.missing_level
    into.unknown_levels.update(part.unknown_levels)
    into.undecodable += part.undecodable
    into.notes.extend(part.notes)
