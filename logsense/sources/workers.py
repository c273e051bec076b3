"""Reading on a Dask distributed cluster: `--workers tcp://scheduler:8786`.

The process that triages (the driver) plans the read; the cluster's workers do it, and the
per-line work, one slice of the input per task:

- a file on storage every worker sees at the same path: byte ranges that begin where an event
  begins (`FileSource.event_start`: any line of JSON lines, a header line of text, so a stack
  trace stays with its event), their lines numbered as in the whole file. A file that cannot be
  cut (gzip, `--header-regex`) is read whole by one worker;
- Elasticsearch: the slices of a point in time the driver opens (and closes); the workers get
  the connection settings (credentials included), the point in time and their slice. A pushdown
  (`sources/pushdown.py`) is planned and counted by the driver; each of its parts (the events
  read in full, the sample) is read in slices of the same point in time.

A task scans its slice into its own `EventTable`, as a single process scans it, and hands back
the table's rows with the strings they refer to (`EventTable.partial`) and its `SourceStats`.
The driver merges them (`EventTable.merge`, `SourceStats.merge`), then windows, mines and ranks
as usual: the report is the one a single process makes, since rows are ordered by (time, line or
document) wherever they were read. A file's window may end at its newest event: its slices stay
on the workers until the driver, from their events per hour (`EventTable.hours`), knows where
the window and its baseline start, and only the rows from there on travel.

Rows travel rather than per-shape aggregates: the hops inside a request (from one of its events
to the next) cross slices, and the positions that pick samples and order first appearances are
positions in the whole window, so aggregates of slices could not be merged exactly. A row is 48
bytes and its text.

Faults: an unreachable scheduler, a cluster without workers, a worker with another logsense
version: one line, before anything is read. A worker that dies mid-slice: the scheduler gives
the slice to another worker (up to its `allowed-failures`, 3 by default), so the report stays
whole; past that the read fails (`SourceUnavailable`), never a partial report.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import logsense
from logsense._native import EventTable
from logsense.config import FieldMap, Settings
from logsense.errors import InputError, LogsenseError, SourceUnavailable, UsageError
from logsense.model import Event
from logsense.progress import event_progress
from logsense.sources.elasticsearch import ElasticsearchSource
from logsense.sources.files import FileSource
from logsense.sources.records import SourceStats
from logsense.sources.sampled_read import sample_as_read, sampled_read
from logsense.sources.window import WindowSpec, new_table, reach

if TYPE_CHECKING:
    from distributed import Client, Future

    from logsense.sources.pushdown import Pushdown, Pushed

__all__ = ["ClusterSource"]

T = TypeVar("T")

# A file is cut in slices of at least this size, at least two per worker thread, each at most
# `_MAX_SLICE` (a task's table holds its slice's rows until the driver merges them).
_MIN_SLICE = 1 << 20
_MAX_SLICE = 128 << 20
_CONNECT_TIMEOUT = 10.0
_WORKERS_TIMEOUT = 30.0


@dataclass(frozen=True)
class _Part:
    """What a task hands back: its table's rows (`EventTable.partial`), its reader's counts."""

    rows: bytes
    stats: SourceStats


class _Scanned:
    """A slice scanned on a worker, kept there until the driver knows which of its rows it
    needs. Dask may move it (or spill it to disk): then it travels as all its rows, which
    merge back into a table exactly like it."""

    def __init__(self, tables: _Tables, table: EventTable, stats: SourceStats) -> None:
        self.tables = tables
        self.table = table
        self.stats = stats

    def __reduce__(self) -> tuple[Any, ...]:
        return (_scanned, (self.tables, self.table.partial(), self.stats))


def _scanned(tables: _Tables, rows: bytes, stats: SourceStats) -> _Scanned:
    """A `_Scanned` that travelled (see `_Scanned.__reduce__`)."""
    table = tables.new()
    table.merge(rows)
    return _Scanned(tables, table, stats)


@dataclass(frozen=True)
class _Tables:
    """How a task makes its table: as the driver's, but one that forgets nothing; one that
    samples as it reads under `pushdown` when the window is known (a file's, `sampled_read`)."""

    spec: WindowSpec
    anchor: float | None
    fields: FieldMap
    name: str
    pushdown: Pushdown | None = None

    def new(self) -> EventTable:
        table = new_table(self.spec, self.anchor, self.fields, self.name, forget=False)
        sample_as_read(table, self.pushdown)
        return table


@dataclass(frozen=True)
class _File:
    """How a task opens the file: its absolute path (workers do not share the driver's working
    directory), the name the user gave it, the reading settings of the driver's source and its
    clock (which places year-less times); nothing else of the settings travels."""

    path: str
    name: str
    fields: FieldMap
    header_regex: str | None
    max_line: int
    log_format: str | None
    timezone: str | None
    now: float

    def source(self) -> FileSource:
        source = FileSource(
            self.path, self.fields, self.header_regex, max_line=self.max_line,
            log_format=self.log_format, timezone=self.timezone, now=self.now,
        )  # fmt: skip
        source.name = self.name  # what its messages call the file: the name the user gave
        return source


class ClusterSource:
    """A file or Elasticsearch source whose `fill` runs on the Dask cluster at `address`.

    `spec` and `anchor` are the triage's (the tasks' tables keep what the driver's keeps);
    `read`, one Event at a time, stays in this process.
    """

    def __init__(
        self,
        inner: FileSource | ElasticsearchSource,
        address: str,
        spec: WindowSpec,
        anchor: float | None,
        settings: Settings,
    ) -> None:
        if isinstance(inner, FileSource) and inner.path == "-":
            raise UsageError("--workers reads a file the workers can open, not stdin")
        if isinstance(inner, ElasticsearchSource) and inner.options.max_events is not None:
            raise UsageError("--max-events cannot be used with --workers")
        self.inner = inner
        self.address = address
        self.name = inner.name
        self.stats: SourceStats = inner.stats
        # What the last `fill` pushed down (or sampled, of a file), when it did.
        self.pushed: Pushed | None = None
        self._settings = settings
        sampling = inner.pushdown if isinstance(inner, FileSource) else None
        self._tables = _Tables(spec, anchor, settings.fields, inner.name, sampling)

    def read(self) -> Iterator[Event]:
        """Every event of the input, read in this process (see `fill` for the cluster)."""
        return self.inner.read()

    def fill(self, table: EventTable, progress: bool = False) -> None:
        """Add the events of the input to `table`, read by the cluster's workers (of an index
        pushed down, as a single process would push it down); a one-line error (and nothing
        added to the report) when the cluster cannot read all of it."""
        inner = self.inner
        with _client(self.address) as client, _cluster_errors(self.address, self.name):
            threads = _check_workers(client, self.address)
            label = f"reading {self.name} on {len(client.nthreads())} Dask workers"
            shown_progress = progress or (isinstance(inner, ElasticsearchSource) and inner.progress)
            with event_progress(label, shown_progress) as shown:
                if isinstance(inner, FileSource):
                    sample_as_read(table, self._tables.pushdown)
                    self._merge(table, self._file_parts(client, inner, threads, table), shown)
                    self.pushed = sampled_read(table)
                else:
                    self._fill_index(client, inner, threads, table, shown)

    def _merge(
        self, table: EventTable, parts: Iterator[_Part], shown: Callable[[int], None]
    ) -> None:
        """Merge each part into `table` and its counts into the input's, as they come."""
        for part in parts:
            table.merge(part.rows)
            self.stats.merge(part.stats)
            shown(self.stats.read)

    def _file_parts(
        self, client: Client, source: FileSource, threads: int, table: EventTable
    ) -> Iterator[_Part]:
        """The parts of the file, in file order: byte ranges cut at event starts, or the whole
        file in one task when it cannot be cut. Once they are scanned, `table` gets their events
        per hour, which place the window, and only the rows from the baseline's start on."""
        settings = self._settings
        file = _File(
            str(Path(source.path).resolve()), source.name, settings.fields,
            settings.header_regex, settings.max_line_bytes, settings.log_format,
            settings.timezone, source.now,
        )  # fmt: skip
        kind = file.source().slicing()  # a reader of its own: its counts are not the input's
        tables = self._tables
        if kind is None:
            scanned = [client.submit(_whole_file, file, tables, pure=False)]
        else:
            scanned = self._file_slices(client, file, kind, threads)
        try:
            hours = [client.submit(_hours, one, pure=False) for one in scanned]
            for counts in _results(client, hours):
                table.add_hours(counts)
            low = reach(table, tables.spec, tables.anchor)
            parts = [client.submit(_rows, one, low, pure=False) for one in scanned]
            yield from _results(client, parts)
        finally:
            client.cancel(scanned)

    def _file_slices(
        self, client: Client, file: _File, kind: str, threads: int
    ) -> list[Future[_Scanned]]:
        """The file scanned in byte ranges cut at event starts, their lines numbered as in the
        whole file (a first round counts them)."""
        size = Path(file.path).stat().st_size
        count = min(math.ceil(size / _MIN_SLICE), max(2 * threads, math.ceil(size / _MAX_SLICE)))
        count = max(count, 1)
        offsets = [size * n // count for n in range(count)] + [size]
        bounds = [
            client.submit(_slice_bounds, file, kind, offsets[n], offsets[n + 1], pure=False)
            for n in range(count)
        ]
        starts: list[tuple[int, int]] = []  # (first byte, number of its line)
        lines_before = 0
        for start, skipped, newlines in _results(client, bounds):
            starts.append((start, 1 + lines_before + skipped))
            lines_before += newlines
        ends = [start for start, _ in starts[1:]] + [size]
        return [
            client.submit(_file_range, file, self._tables, start, end, line, kind, pure=False)
            for (start, line), end in zip(starts, ends, strict=True)
            if start < end or start == 0
        ]

    def _fill_index(
        self,
        client: Client,
        source: ElasticsearchSource,
        threads: int,
        table: EventTable,
        shown: Callable[[int], None],
    ) -> None:
        """Fill `table` from the range, pushed down when the source asks for it and its plan
        agrees, else whole; either way in slices of one point in time held open meanwhile,
        one task per slice and part."""
        with source.sliced() as pit:
            count = 1 if pit is None else max(source.options.slices, threads)

            def read_parts(target: EventTable, reading: ElasticsearchSource) -> None:
                copy = reading.detached(count)
                parts = [
                    client.submit(_index_slice, copy, self._tables, pit, n, pure=False)
                    for n in range(count)
                ]
                self._merge(target, _results(client, parts), shown)

            def read_matching(
                target: EventTable,
                narrowing: dict[str, Any],
                total: int,
                label: str,
                *,
                scoring: tuple[dict[str, Any], float] | None = None,
                before: bool = False,
            ) -> None:
                read_parts(target, source.narrowed(narrowing, scoring))
                if before:
                    source.fill_before(target)

            self.pushed = source.push_down(table, read_matching)
            if self.pushed is None:
                read_parts(table, source)
                source.fill_before(table)


# --- tasks (run on the workers) ------------------------------------------------------------


def _version() -> str:
    """The logsense version a worker runs."""
    return logsense.__version__


def _slice_bounds(file: _File, kind: str, offset: int, end: int) -> tuple[int, int, int]:
    """Where the slice cut at byte `offset` begins (see `FileSource.event_start`), the newlines
    from `offset` to there, and the newlines from `offset` to `end`."""
    with _readable(file.path):
        start, skipped = file.source().event_start(offset, kind)
        return start, skipped, _newlines(file.path, offset, end)


def _file_range(
    file: _File, tables: _Tables, start: int, end: int, first_line: int, kind: str
) -> _Scanned:
    """Scan bytes [`start`, `end`) of the file into a table of the task's own."""
    with _readable(file.path):
        source, table = file.source(), tables.new()
        source.fill_range(table, start, end, first_line, kind)
        return _Scanned(tables, table, source.stats)


def _whole_file(file: _File, tables: _Tables) -> _Scanned:
    """Scan the whole file into a table of the task's own, as `FileSource.fill` does."""
    with _readable(file.path):
        source, table = file.source(), tables.new()
        source.fill(table)
        return _Scanned(tables, table, source.stats)


def _hours(scanned: _Scanned) -> list[tuple[int, int, float, float]]:
    """The events per clock hour of a scanned slice."""
    return scanned.table.hours()


def _rows(scanned: _Scanned, low: float) -> _Part:
    """The rows of a scanned slice from time `low` on (its hours went ahead, see `_hours`)."""
    return _Part(scanned.table.partial(low, hours=False), scanned.stats)


def _index_slice(
    source: ElasticsearchSource, tables: _Tables, pit: str | None, slice_id: int
) -> _Part:
    """Scan one slice of the point in time into a table of the task's own."""
    table = tables.new()
    source.fill_slice(table, pit, slice_id)
    return _Part(table.partial(), source.stats)


def _newlines(path: str, start: int, end: int) -> int:
    """The newline bytes in bytes [`start`, `end`) of the file."""
    count = 0
    with Path(path).open("rb") as stream:
        stream.seek(start)
        left = end - start
        while left > 0 and (block := stream.read(min(8 << 20, left))):
            left -= len(block)
            count += block.count(b"\n")
    return count


@contextmanager
def _readable(path: str) -> Iterator[None]:
    """A worker that cannot read the file says so in one line."""
    try:
        yield
    except OSError as exc:
        raise InputError(
            f"a Dask worker cannot read {path}: {exc.strerror or exc} (every worker needs the "
            "file at the same path)"
        ) from None


# --- the driver's side -----------------------------------------------------------------------


@contextmanager
def _client(address: str) -> Iterator[Client]:
    """A client of the scheduler at `address`; SourceUnavailable when none answers there."""
    from distributed import Client
    from distributed.comm.addressing import get_address_host_port, parse_address

    try:
        scheme, _ = parse_address(address)
        host, port = get_address_host_port(address) if scheme in ("tcp", "tls") else ("", 0)
    except ValueError as exc:
        raise UsageError(f"--workers {address!r}: {exc} (use tcp://HOST:8786)") from None
    if host:
        try:  # a refused or unresolvable address fails at once, not after the client's timeout
            socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT).close()
        except OSError as exc:
            raise SourceUnavailable(
                f"no Dask scheduler answered at {address}: {exc.strerror or exc}"
            ) from None
    try:
        client = Client(address, timeout=_CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SourceUnavailable(f"no Dask scheduler answered at {address}: {exc}") from None
    with client:
        yield client


def _check_workers(client: Client, address: str) -> int:
    """The worker threads of the cluster, once every worker runs this logsense version."""
    try:
        client.wait_for_workers(1, timeout=_WORKERS_TIMEOUT)
    except TimeoutError:
        raise SourceUnavailable(
            f"the Dask scheduler at {address} has no workers (waited {_WORKERS_TIMEOUT:.0f} s)"
        ) from None
    versions = client.run(_version, on_error="return")
    for worker, version in sorted(versions.items()):
        if isinstance(version, BaseException):
            raise UsageError(f"the Dask worker {worker} cannot run logsense: {version}")
        if version != logsense.__version__:
            raise UsageError(
                f"the Dask worker {worker} runs logsense {version}, this is "
                f"{logsense.__version__}: install the same version on every worker"
            )
    return sum(client.nthreads().values())


def _results(client: Client, futures: list[Future[T]]) -> Iterator[T]:
    """The futures' results in order; the rest are cancelled if one fails."""
    try:
        for future in futures:
            yield future.result()
            future.release()
    finally:
        client.cancel(futures)


@contextmanager
def _cluster_errors(address: str, name: str) -> Iterator[None]:
    """Turn the cluster's failures into logsense's one-line errors (no report is made)."""
    from distributed import KilledWorker

    try:
        yield
    except LogsenseError:
        raise
    except KilledWorker:
        raise SourceUnavailable(
            f"the Dask workers at {address} died again and again while reading a slice of "
            f"{name} (the scheduler's allowed-failures): no report was made"
        ) from None
    except CancelledError:
        raise SourceUnavailable(
            f"the Dask scheduler at {address} dropped the read of {name}: no report was made"
        ) from None
    except (OSError, TimeoutError) as exc:
        raise SourceUnavailable(
            f"lost the Dask scheduler at {address} while reading {name} ({exc}): no report was made"
        ) from None
