"""logsense's native core (Rust, built from `logsense/native/`): the work done once per line.

Python keeps everything done once per message shape, pattern or issue; this module takes what is
done once per input line, where Python's cost per object would dominate a large input.
"""

from collections.abc import Mapping, Sequence

# Seconds between a JSON record and the event it continues, at most (a stack trace shipped one
# line per record joins the log line before it).
JOIN_GAP: float

def mask(message: str, routine: bool = False) -> str:
    """`message` with variable parts replaced by `<*>` (see `logsense.mine.masking`)."""

def fingerprint(text: str) -> str | None:
    """The stack fingerprint of a whole event's text (see `logsense.mine.stacktrace`)."""

def duration_field_unit(key: str) -> float:
    """Seconds per unit of a duration field named `key`: its last word's unit, else ns (ECS)."""

def grok_patterns() -> list[tuple[str, str]]:
    """The grok pattern library (name, expression) of the `grok` crate: logstash-patterns-core."""

# (name, regex, [(field, group number)], time layouts, ids, general) of one text format
FormatSpec = tuple[str, str, Sequence[tuple[str, int]], Sequence[str], bool, bool]
# (position, text, origin, timestamp, request id) of one kept sample
SampleRow = tuple[int, str, str, float, str | None]
# Requests as little-endian buffers sorted by request id: (ids as uint32, time of each one's
# first event as float64, its input position as int64). Ids index `Aggregate.request_names`.
RequestBuffers = tuple[bytes, bytes, bytes]

class ShapeStats:
    """Window stats of one message shape: (service, level class, masked message, fingerprint)."""

    service: str
    level_class: str
    masked: str
    fingerprint: str | None
    first_position: int
    level: str
    count: int
    baseline_count: int
    first_seen: float
    last_seen: float
    per_minute: dict[int, int]
    # Each request's first event of the shape, in the window and in the baseline.
    requests: RequestBuffers
    baseline_requests: RequestBuffers
    baseline_per_minute: dict[int, int]
    users: set[str]
    samples: list[SampleRow]
    # Durations its messages write (`took 120ms`), in seconds, if its first message writes one.
    durations: Timings | None
    # The numbers behind its `<*>` slots, when its first message has one in some slot.
    slots: list[SlotRow]

# A measured slot of a shape: (index among the masked message's tokens, unit — "count",
# "seconds", "bytes", "percent", "ratio", or "text" for a slot holding no number —, its minutes,
# its most frequent values). A minute is (minute, count, sum, min, max, largest fraction of the
# limit or None) of the minute's first messages, baseline and window alike (0 sum, min and max
# for text); a top value is (value, count, overcount), space-saving over both, the value a str
# for text.
SlotRow = tuple[
    int,
    str,
    list[tuple[int, int, float, float, float, float | None]],
    list[tuple[float | str, int, int]],
]

# Seconds measured in the baseline and in the window: (baseline count, window count, baseline
# sample, window sample), each sample up to 128 (seconds, request id or None) drawn uniformly;
# request ids as in `RequestBuffers`.
Timings = tuple[int, int, list[tuple[float, int | None]], list[tuple[float, int | None]]]

# (from shape, to shape, baseline gaps, window gaps, baseline sample, window sample): inside a
# request, the seconds from an event of one shape to the next event, of the other; shapes are
# indices into `Aggregate.shapes`; each sample holds up to 128 (seconds, request id) pairs, drawn
# uniformly (request ids as in `RequestBuffers`).
HopRow = tuple[int, int, int, int, list[tuple[float, int | None]], list[tuple[float, int | None]]]

class RequestNames:
    """The request ids of an `EventTable` by the ids its aggregates hand out (they never
    change while the table reads on)."""

    def __getitem__(self, id: int) -> str: ...
    def __len__(self) -> int: ...

class Aggregate:
    """Everything mining needs from the rows of the final window and its baseline."""

    shapes: list[ShapeStats]
    events: int
    services: list[str]
    requests: int
    requests_per_minute: dict[int, int]
    users: int
    outside: int
    baseline_events: int
    baseline_requests: int
    baseline_first: float | None
    hops: list[HopRow]
    request_names: RequestNames

class ScanStats:
    """What the JSON scanner could not use or had to guess (merged into `SourceStats`)."""

    read: int
    malformed_reasons: dict[str, int]
    malformed_examples: list[str]
    missing_level: int
    missing_service: int
    unknown_levels: dict[str, int]
    undecodable: int
    formats: dict[str, int]
    year_assumed: int
    zone_assumed: int
    continuation_dropped: int
    # JSON records that continued the event before them (a stack trace shipped line by line).
    joined: int

class HitsPage:
    """What `EventTable.scan_hits` read in one search response besides the events it kept."""

    hits: int
    # The last hit's `sort` values as JSON (for `search_after`), if it has any.
    last_sort: bytes | None
    pit_id: str | None
    shards_failed: int
    timed_out: bool
    # (seq, origin `{_index}/{_id}`, raw `_source` or None without one) of the hits left to Python.
    handed_back: list[tuple[int, str, bytes | None]]

class SampleStats:
    """What a table that sampled as it read counted over every event (`EventTable.sampled`);
    pairs are (baseline, window)."""

    # Requests inside the sample are those of this level or more (`sample_levels`).
    level: int
    events: tuple[int, int]
    # Distinct request ids (exact up to 64-bit hash collisions, below the exact limit).
    requests: tuple[int, int]
    # Events of the sample's requests (and sampled events without a request id), kept or not.
    universe: tuple[int, int]
    requests_per_minute: dict[int, int]
    users: int
    # Services with an event in the window, sorted.
    services: list[str]
    baseline_first: float | None
    # (service, level class, masked, fingerprint) of the shapes whose events were sampled.
    sampled_shapes: list[tuple[str, str, str, str | None]]
    # Events kept of shapes read in full, and of sampled shapes.
    in_full: int
    sampled: int
    # The totals past the exact limit, estimated: "requests", "baseline_requests",
    # "requests_per_minute", "users".
    estimated: list[str]
    # Distinct counts are exact up to this many values each.
    exact_limit: int

def sample_levels(names: Sequence[str]) -> bytes:
    """The sample level of each request id, one byte each (see `EventTable.sample_rest`)."""

class EventTable:
    """The events of one input in compact rows, cut to a time range and aggregated by shape."""

    def __init__(
        self,
        fields: Sequence[Sequence[str]],
        levels: Mapping[str, str],
        source: str,
        *,
        floor: float | None = None,
        ceiling: float | None = None,
        lookback: float | None = None,
        threads: int = 1,
        now: float | None = None,
        window_start: float | None = None,
    ) -> None:
        """A table that keeps events with `floor <= timestamp < ceiling`, may forget those
        older than its anchor minus `lookback`, and compares times with the wall clock `now`
        (if given) to tell events from the future; `window_start` (a window known up front)
        splits baseline from window for `sample_rest`."""
    def sample_rest(
        self, budget: int, change_words: Sequence[str], exact_limit: int = 1 << 21
    ) -> bool:
        """From now on, keep in full the events of shapes that can form an issue (warn or
        worse, a stack trace fingerprint, a masked message with a word beginning like one of
        `change_words`), and of the others those of a uniform sample of requests (by a hash of
        their id, `sample_levels`; of their seq without one) of about `budget` events; count
        totals over every event of the window and baseline, distinct values exactly up to
        `exact_limit` each and by a HyperLogLog sketch (2^14 registers) past it. False, and
        nothing changes, unless the table has a `window_start`, no lookback, and has read
        nothing yet."""
    def sampled(self) -> SampleStats | None:
        """What `sample_rest` counted, once the read is done; None unless it left events
        out."""
    def scan_json(
        self, data: bytes, first_line: int | None = None, max_line: int = 1 << 20
    ) -> list[tuple[int, bytes]]:
        """Read the JSON lines in `data`, the input that follows the last call's; return the
        (line number, raw line) pairs left to Python.

        `data` may end inside a line: its start is kept (copied) until the next call completes
        it, or `end_json` reads it. Lines are numbered from `first_line` if given (not while a
        cut line is pending: ValueError), else from `next_line`. A line longer than `max_line`
        bytes (without its newline) that is not blank is counted as malformed ("line too long")
        and never held: at most `max_line` bytes of a cut line are kept. Records whose time is
        implausible (before 2000-01-01 or from 2100-01-01 on) are malformed too."""
    def scan_hits(self, data: bytes, max_line: int = 1 << 20, limit: int | None = None) -> HitsPage:
        """Read the hits of one Elasticsearch search response, as the HTTP response carried it
        (ValueError if it is not one): each `_source` is scanned like a JSON line of a file,
        with origin `{_index}/{_id}` and, as input order, the number the `_id` ends with (that
        is the line number for documents of `logsense load`; else a hash of the id). A page
        whose shards failed or timed out is not read; with `limit`, only its first hits are."""
    def end_json(self) -> list[tuple[int, bytes]]:
        """At the end of the input, read the line `scan_json` kept without its end (if any);
        return the lines left to Python, as `scan_json` does."""
    def set_text(
        self,
        formats: Sequence[FormatSpec],
        prefixes: Sequence[FormatSpec],
        fallback: FormatSpec,
        zone_initial: int,
        zone_transitions: Sequence[tuple[int, int, int]],
        reference: float,
        only: int | None = None,
    ) -> None:
        """Read text lines in these formats (`logsense/sources/formats/`): each (name, regex,
        [(field, group)], time layouts, ids, general); zone-less times in the zone given by
        its offset before 1999 and its (instant, offset before, offset after) transitions;
        year-less times before `reference`; `only` forces one format."""
    def detect_text(self, lines: Sequence[str]) -> str | None:
        """Pick the primary format from an input's first lines (`text.detect`); its name."""
    def scan_text(
        self, data: bytes, first_line: int | None = None, max_line: int = 1 << 20
    ) -> None:
        """Read the text lines in `data` as `FileSource` reads them (a header starts an event,
        other lines continue it); blocks, numbering and long lines as in `scan_json`."""
    def end_text(self) -> None:
        """At the end of a text input: read the line kept without its end, close the last
        event."""
    def push(
        self,
        seq: int,
        timestamp: float,
        message: str,
        level: str,
        service: str,
        request_id: str | None,
        user_id: str | None,
        stack_trace: str | None,
        origin: str,
        duration: float | None = None,
        version: str | None = None,
        host: str | None = None,
    ) -> None:
        """Add one event normalized in Python (`duration` in seconds; an empty `version` or
        `host` is none)."""
    def instances(self) -> list[tuple[str, str | None, str | None, float, float, int]]:
        """Every (service, version, host, first time, last time, events) among the events kept
        (counted as they arrive: rows dropped later still count), by service, then first time."""
    @property
    def stats(self) -> ScanStats: ...
    @property
    def rows(self) -> int: ...
    @property
    def next_line(self) -> int:
        """The number of the line after the last complete line scanned (1 before any): that of
        the line kept without its end, if any."""
    @property
    def earliest(self) -> float | None: ...
    @property
    def newest(self) -> float | None: ...
    def anchor(self) -> tuple[float, int, float | None, float] | None:
        """Where a window without an end ends: (the newest kept event outside a detached tail,
        the events in that tail, the tail's oldest time, the seconds of silence before it);
        None when no event was kept. A detached tail follows more than 6 empty clock hours and
        is either at most 1% of the events (one at least), after a silence also more than 4
        times the longest inside the bulk, or a minority more than a day after `now`."""
    def aggregate(
        self, low: float, window_start: float, window_end: float, samples: int
    ) -> Aggregate: ...
    def row_shapes(self) -> list[tuple[str, int]]: ...
    def partial(self, low: float | None = None, hours: bool = True) -> bytes:
        """The rows of this table from time `low` on (all without one) and what they refer to
        (strings, shapes, origins, texts), with the earliest time it saw, the rows it dropped
        or left out and (unless `hours` is False: the receiving table got them by `add_hours`)
        its `hours()`, as bytes for `merge`."""
    def hours(self) -> list[tuple[int, int, float, float]]:
        """The kept events per clock hour: (hour, events, oldest time, newest time)."""
    def add_hours(self, hours: Sequence[tuple[int, int, float, float]]) -> None:
        """Count events kept elsewhere (another table's `hours()`) toward `anchor()`."""
    def merge(self, data: bytes) -> None:
        """Add the rows of another table's `partial()`, as if this table had read them (its
        aggregate is then that of one table that read both); ValueError, and nothing added,
        when `data` is not a whole partial of this logsense version."""
