"""Elasticsearch as a source: point in time + `search_after` on `_shard_doc`, sliced, in parallel.

How a read goes (`ElasticsearchSource.read`):

1. `_field_caps` checks that the index exists and has the fields logsense needs (a date field
   for time, a message field), naming what is missing, and decides what `_source` carries.
2. `_count` gives the total for the progress bar's ETA (and a clear error when it is zero).
3. One point in time (PIT) is opened; `slices` threads each page through their slice of it with
   `search_after` on `_shard_doc`: large pages, `_source` limited to the mapped keys, a range
   filter on the time field (baseline start → window end), no total hit count. (`filter_path`
   is not used for pages: measured on 8.14, filtering the response cost the node more CPU
   than the few metadata bytes it saved.)
   Without PIT support (older Elasticsearch, OpenSearch) it pages with `search_after` on the time
   field + `_doc`, in one thread, and says so in the report's warnings.
4. Each page request is retried with exponential backoff on 429, 502-504, timeouts and dropped
   connections; past the retries the read fails with `SourceUnavailable` — never a partial
   report presented as complete.

Hits become Events with `RecordReader` (as for files) with origin `"{index}/{_id}"`. Events are
yielded ordered by (time, origin), so equal timestamps come out in the same order on every run
(and, for documents loaded by `logsense load`, in file order).
"""

from __future__ import annotations

import copy
import gc
import math
import queue
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager, suppress
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import orjson
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, HttpHeaders, TransportError
from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    Elasticsearch,
    NotFoundError,
    UnsupportedProductError,
)
from elasticsearch.exceptions import HTTP_EXCEPTIONS
from elasticsearch.serializer import OrjsonSerializer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from logsense._native import EventTable, HitsPage
from logsense.config import FieldMap
from logsense.errors import InputError, LogsenseError, SourceUnavailable, UsageError
from logsense.model import Event, Window, iso
from logsense.sources.records import (
    EARLIEST,
    LATEST,
    RecordReader,
    SourceStats,
    parse_timestamp,
    push_event,
)
from logsense.sources.window import WindowSpec

if TYPE_CHECKING:
    from logsense.sources.pushdown import MatchingRead, Pushdown, Pushed

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_SLICES",
    "ElasticsearchSource",
    "EsConnection",
    "EsStats",
    "ReadOptions",
    "api_reason",
    "es_errors",
    "read_range",
]

DEFAULT_PAGE_SIZE = 5000
DEFAULT_SLICES = 2
_KEEP_ALIVE = "2m"
_TRANSIENT_STATUS = frozenset({429, 502, 503, 504})
_DATE_TYPES = frozenset({"date", "date_nanos"})
_OBJECTS = frozenset({"object", "nested"})
_NEWEST_PROBE = 100  # documents sharing the newest millisecond that are parsed for µs precision
_ERRNO_TEXT = re.compile(r"\[Errno -?\d+\] ([^)'\"]+)")
# The innermost exception's own words in a repr chain: `RemoteDisconnected('Remote end closed')`.
_INNER_TEXT = re.compile(r"(\w+)\('([^']+)'\)\)*$")
# What a page of hits needs to carry back (`filter_path`): the rest is never read.
_PAGE_FILTER = (
    "pit_id,timed_out,_shards.failed,_shards.failures,"
    "hits.hits._index,hits.hits._id,hits.hits._source,hits.hits.sort"
)
_JSON = "application/vnd.elasticsearch+json; compatible-with=8"


@dataclass(frozen=True)
class EsConnection:
    """Where Elasticsearch is and how to log in: API key, or user + password; TLS options."""

    url: str
    api_key: str | None = field(default=None, repr=False)
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_cert: Path | None = None
    insecure: bool = False
    request_timeout: float = 60.0

    @property
    def display_url(self) -> str:
        """The URL without any `user:password@` part, for messages and reports."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")

    def client(self) -> Elasticsearch:
        """A client for this connection (orjson decoding; retries are done by the callers)."""
        self._validate()
        auth: dict[str, Any] = {}
        if self.api_key:
            auth["api_key"] = self.api_key
        elif self.user:
            auth["basic_auth"] = (self.user, self.password or "")
        if self.ca_cert is not None:
            auth["ca_certs"] = str(self.ca_cert)
        if self.insecure:
            auth["verify_certs"] = False
            auth["ssl_show_warn"] = False
        try:
            return Elasticsearch(
                self.url,
                serializer=OrjsonSerializer(),
                request_timeout=self.request_timeout,
                max_retries=0,
                retry_on_timeout=False,
                connections_per_node=16,
                **auth,
            )
        except ValueError as exc:
            raise UsageError(f"--es-url {self.display_url}: {exc}") from None

    def _validate(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"--es-url must be an http(s) URL, got {self.url!r}")
        if self.api_key and self.user:
            raise UsageError("give --es-api-key or --es-user, not both")
        if self.user and not self.password:
            raise UsageError("--es-user needs the password in the LOGSENSE_ES_PASSWORD variable")
        if self.ca_cert is not None and not self.ca_cert.is_file():
            raise UsageError(f"--es-ca-cert: no such file: {self.ca_cert}")


@dataclass(frozen=True)
class ReadOptions:
    """How to read: page size, parallel slices, a cap on documents, retries per request."""

    page_size: int = DEFAULT_PAGE_SIZE
    slices: int = DEFAULT_SLICES
    max_events: int | None = None
    retries: int = 5
    backoff: float = 0.5  # seconds before the first retry; doubles up to 10 s

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= 10_000:
            raise UsageError(f"--page-size must be 1..10000, got {self.page_size}")
        if not 1 <= self.slices <= 64:
            raise UsageError(f"--slices must be 1..64, got {self.slices}")
        if self.max_events is not None and self.max_events < 1:
            raise UsageError(f"--max-events must be at least 1, got {self.max_events}")
        if self.retries < 0:
            raise UsageError(f"--es-retries must be 0 or more, got {self.retries}")


@dataclass
class EsStats(SourceStats):
    """SourceStats plus the notes an Elasticsearch read adds to the report's warnings."""

    notes: list[str] = field(default_factory=list)

    def warnings(self) -> list[str]:
        """The record problems, then the read's own notes (caps reached, fallbacks)."""
        return [*self.notes, *super().warnings()]


def read_range(spec: WindowSpec, anchor: float) -> Window:
    """What to read for `spec` at `anchor`: from the baseline's start to the window's end."""
    window, baseline = spec.resolve(anchor)
    return Window(baseline.start if baseline else window.start, window.end)


@contextmanager
def es_errors(url: str, index: str, doing: Callable[[], str] = lambda: "") -> Iterator[None]:
    """Turn client exceptions into logsense's one-line errors; `doing()` adds context."""
    try:
        yield
    except LogsenseError:
        raise
    except AuthenticationException:
        raise UsageError(
            f"Elasticsearch at {url} refused the credentials (401): check --es-api-key / "
            "LOGSENSE_ES_API_KEY, or --es-user and LOGSENSE_ES_PASSWORD"
        ) from None
    except AuthorizationException as exc:
        raise UsageError(
            f"Elasticsearch at {url} does not allow this user to read {index!r} (403): "
            f"{api_reason(exc)}"
        ) from None
    except UnsupportedProductError:
        raise SourceUnavailable(
            f"the server at {url} is not an Elasticsearch 8 this client can use"
        ) from None
    except NotFoundError as exc:
        if exc.message == "index_not_found_exception":
            raise InputError(f"no index {index!r} in Elasticsearch at {url}") from None
        raise InputError(f"Elasticsearch at {url}: not found: {api_reason(exc)}") from None
    except ApiError as exc:
        if exc.meta.status in _TRANSIENT_STATUS or exc.meta.status >= 500:
            raise SourceUnavailable(
                f"Elasticsearch at {url} failed{doing()}: {exc.meta.status} {api_reason(exc)}"
            ) from None
        raise UsageError(
            f"Elasticsearch at {url} rejected the request for {index!r}: {api_reason(exc)}"
        ) from None
    except TransportError as exc:
        raise SourceUnavailable(
            f"Elasticsearch at {url} did not answer{doing()}: {_transport_reason(exc)}"
        ) from None


class ElasticsearchSource:
    """Events from an index (or pattern) in a time range, optionally narrowed by a query string.

    `time_range` is what to read (see `read_range`); the pipeline then cuts window and baseline
    from it exactly as for a file. Use `for_window` to build one from a `WindowSpec`.
    """

    def __init__(
        self,
        connection: EsConnection,
        index: str,
        fields: FieldMap,
        time_range: Window,
        *,
        query: str | None = None,
        options: ReadOptions | None = None,
        progress: bool = False,
        client: Elasticsearch | None = None,
    ) -> None:
        self.connection = connection
        self.index = index
        self.fields = fields
        self.time_range = time_range
        self.query = query
        self.options = options or ReadOptions()
        self.progress = progress
        self._stats = EsStats()
        self.stats: SourceStats = self._stats
        self.name = f"{connection.display_url}/{index}" + (f" ({query})" if query else "")
        self._client = client
        self._records = RecordReader(fields, self.stats)
        self._includes: list[str] | None = _candidate_keys(fields)
        self._types: dict[str, set[str]] = {}
        # Only documents that also match this query are read (a pushdown's part), and of those
        # only the ones this scoring query gives at least that score (a pushdown's sample).
        self.narrowing: dict[str, Any] | None = None
        self.scoring: tuple[dict[str, Any], float] | None = None
        # The window the range ends with: a pushdown counts it apart from the baseline.
        self.window: Window | None = None
        # Push the work down (`sources/pushdown.py`) with these settings; None reads in full.
        self.pushdown: Pushdown | None = None
        # What the last `fill` pushed down, when it did.
        self.pushed: Pushed | None = None

    @classmethod
    def for_window(
        cls,
        connection: EsConnection,
        index: str,
        fields: FieldMap,
        spec: WindowSpec,
        *,
        until_latest: bool = False,
        now: float | None = None,
        query: str | None = None,
        options: ReadOptions | None = None,
        progress: bool = False,
    ) -> tuple[ElasticsearchSource, float]:
        """The source that reads exactly what `spec` needs, and the anchor to triage it with.

        The anchor is `now` (default: the current time), or with `until_latest` the newest
        matching document's time + 1 ms — what a file of the same events is anchored at.
        """
        source = cls(
            connection, index, fields, Window(0.0, 0.0), query=query, options=options,
            progress=progress,
        )  # fmt: skip
        anchor = time.time() if now is None else now
        if until_latest:
            anchor = source.newest() + 0.001
        source.time_range = read_range(spec, anchor)
        source.window = spec.resolve(anchor)[0]
        return source, anchor

    @property
    def client(self) -> Elasticsearch:
        """The client, made on first use."""
        if self._client is None:
            self._client = self.connection.client()
        return self._client

    @property
    def time_field(self) -> str:
        """The field time ranges are pushed down on: the first timestamp key of the FieldMap."""
        return self.fields.timestamp[0]

    def newest(self) -> float:
        """The time of the newest document matching the query whose time is plausible (from
        2000 to 2100, as for files: a document dated 9999 must not anchor `--until latest`);
        InputError when there is none."""
        plausible_ms = {"gte": math.ceil(EARLIEST * 1000), "lt": math.floor(LATEST * 1000)}
        with self._errors():
            self._check_fields()
            resp = self.client.search(
                index=self.index,
                size=_NEWEST_PROBE,
                query=self._query(plausible_ms),
                sort=[{self.time_field: {"order": "desc"}}],
                source={"includes": list(self.fields.timestamp)},
                track_total_hits=False,
                filter_path=["hits.hits._source", "hits.hits.sort"],
            ).body
        hits = resp.get("hits", {}).get("hits", [])
        if not hits:
            raise InputError(f"no documents with a plausible time in {self.name}")
        top = hits[0]["sort"][0]
        times = [self._time_of(h.get("_source", {})) for h in hits if h["sort"][0] == top]
        parsed = [t for t in times if t is not None]
        return max(parsed) if parsed else float(top) / 1000.0

    def read(self) -> Iterator[Event]:
        """Every event in `time_range` (and the query), ordered by (time, origin).

        The newest event from before the range is included, when there is one: like the
        earlier lines of a file, it tells the pipeline how far back the data goes (so whether
        the baseline is fully covered); the pipeline counts it as outside the window.
        """
        events: list[Event] = []
        with self._errors(lambda: self._reading_context(len(events))), _gc_paused():
            self._check_fields()
            total = self._count()
            self._read_range(events, total)
            self._convert(self._last_before(), events)
        events.sort(key=_order)
        yield from events

    def fill(self, table: EventTable, progress: bool = False) -> None:
        """Add every event of the range to `table`, as `read()` would yield them, natively.

        Each page goes from the HTTP response's bytes to `EventTable.scan_hits` (the JSON
        scanner files use, on the table's threads); only the hits it leaves (unusual times,
        levels or ids) become Python dicts, read by `RecordReader`. The slices scan their pages
        in turn while the others wait for Elasticsearch. The bar is the one `progress` at
        construction asked for (it knows the total).
        """
        self.pushed = self.push_down(table, self.fill_matching)
        if self.pushed is not None:
            return
        scanner = _HitScanner(self, table)
        with self._errors(lambda: self._reading_context(scanner.done)):
            self._check_fields()
            self._scan_range(scanner, self._count(), f"reading {self.name}")
            scanner.scan(self._raw_last_before())
        self.stats.absorb(table.stats)

    def push_down(self, table: EventTable, read: MatchingRead) -> Pushed | None:
        """Fill `table` by a pushdown read (`sources/pushdown.py`) whose parts `read` fills, or
        None (and nothing read) when the range is to be read in full: no pushdown asked, or
        its plan says so."""
        if self.pushdown is None or self.window is None:
            return None
        from logsense.sources.pushdown import push_down

        with self._errors():
            self._check_fields()
            return push_down(self, self.pushdown, table, read)

    def narrowed(
        self, narrowing: dict[str, Any], scoring: tuple[dict[str, Any], float] | None = None
    ) -> ElasticsearchSource:
        """A copy that reads only the documents of the range that also match the query
        `narrowing` (and score at least `scoring`'s minimum by its query); its stats are this
        source's."""
        narrowed = copy.copy(self)
        narrowed.narrowing, narrowed.scoring = narrowing, scoring
        return narrowed

    def fill_matching(
        self,
        table: EventTable,
        narrowing: dict[str, Any],
        total: int,
        label: str,
        *,
        scoring: tuple[dict[str, Any], float] | None = None,
        before: bool = False,
    ) -> None:
        """Add the events of the range that also match the query `narrowing` (and score at
        least `scoring`'s minimum by its query; `total` of them, for the progress bar) to an
        empty `table`, as `fill` does; the event before the range too (whatever it matches)
        when `before`."""
        narrowed = self.narrowed(narrowing, scoring)
        scanner = _HitScanner(narrowed, table)
        with self._errors(lambda: self._reading_context(scanner.done)):
            narrowed._scan_range(scanner, total, label)
            if before:
                scanner.scan(self._raw_last_before())
        self.stats.absorb(table.stats)

    def _scan_range(self, scanner: _HitScanner, total: int, label: str) -> None:
        """Scan every page of the range (up to `--max-events`), with a progress bar."""
        limit = self.options.max_events
        bar = _progress_bar(self.progress, label, total)
        with bar as advance, closing(self._native_pages(scanner)) as pages:
            for hits in pages:
                advance(hits)
                if limit is not None and scanner.done >= limit:
                    self._note_cap(limit, total)
                    break

    def count(
        self,
        narrowing: dict[str, Any] | None = None,
        scoring: tuple[dict[str, Any], float] | None = None,
        span: dict[str, int] | None = None,
    ) -> int:
        """Documents in the range (or `span`, epoch ms bounds) and the query that match
        `narrowing` too (None: all) and score at least `scoring`'s minimum by its query."""
        counted = copy.copy(self)
        counted.scoring = scoring
        query = counted._query(span or self._in_range, narrowing)
        extra = {"min_score": scoring[1]} if scoring is not None else {}
        found = self._retrying()(self.client.count, index=self.index, query=query, **extra)
        return int(found["count"])

    def aggregate(
        self, aggs: dict[str, Any], narrowing: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The `aggregations` of one search of the range and query (and `narrowing`), without
        hits; retried on transient failures; shard failures are errors, not gaps."""
        page: dict[str, Any] = self._retrying()(
            self.client.search,
            index=self.index,
            size=0,
            query=self._query(self._in_range, narrowing),
            aggs=aggs,
            track_total_hits=False,
        ).body
        shards = page.get("_shards", {})
        if shards.get("failed") or page.get("timed_out"):
            raise _shards_failed(self, page)
        aggregations: dict[str, Any] = page.get("aggregations", {})
        return aggregations

    def values(self, field: str, size: int) -> list[str]:
        """The values of the keyword `field` in up to `size` documents of the range that have
        it (whichever the index finds first)."""
        page = self._retrying()(
            self.client.search,
            index=self.index,
            size=size,
            query=self._query(self._in_range, {"exists": {"field": field}}),
            source=False,
            docvalue_fields=[field],
            track_total_hits=False,
            filter_path=["hits.hits.fields"],
        ).body
        hits = page.get("hits", {}).get("hits", [])
        return [str(v) for hit in hits for v in hit.get("fields", {}).get(field, [])[:1]]

    @property
    def mapping(self) -> dict[str, set[str]]:
        """The types of each field of the index (metadata fields left out), as the last field
        check found them."""
        return self._types

    def detached(self, slices: int) -> ElasticsearchSource:
        """A copy that reads `slices` slices of this range elsewhere (a cluster worker, see
        `fill_slice`): the same connection (credentials included), range, query, narrowing and
        `_source` plan; no client (it connects where it runs) and stats of its own."""
        options = replace(self.options, slices=slices)
        copy = ElasticsearchSource(
            self.connection, self.index, self.fields, self.time_range, query=self.query,
            options=options,
        )  # fmt: skip
        copy._includes = self._includes
        copy.narrowing, copy.scoring = self.narrowing, self.scoring
        return copy

    @contextmanager
    def sliced(self) -> Iterator[str | None]:
        """Check the index and the range (as `fill` does) and hold a point in time open for
        readers elsewhere (`fill_slice`): its id, or None when the server has none (one reader
        then pages through the whole range)."""
        with self._errors():
            self._check_fields()
            self._count()
            pit = self._open_pit()
        if pit is None:
            yield None
            return
        try:
            yield pit.latest
        finally:
            self._close_pit(pit)

    def fill_slice(self, table: EventTable, pit_id: str | None, slice_id: int) -> None:
        """Add the events of one slice of the point in time `pit_id` (of `sliced`; None: the
        whole range without one) to `table`, natively as `fill` does."""
        scanner = _HitScanner(self, table)
        with self._errors(lambda: self._reading_context(scanner.done)):
            pit = None if pit_id is None else _Pit(pit_id)
            for _ in self._native_slice(scanner, pit, slice_id):
                pass
        self.stats.absorb(table.stats)

    def fill_before(self, table: EventTable) -> None:
        """Add the newest event before the range (see `read`) to `table`."""
        with self._errors():
            _HitScanner(self, table).scan(self._raw_last_before())
        self.stats.absorb(table.stats)

    def scan_page(self, table: EventTable, data: bytes) -> HitsPage:
        """Scan one raw search response into `table` (see `fill`); the hits it leaves are read
        here. SourceUnavailable when its shards failed or timed out."""
        return _HitScanner(self, table).scan(data)

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """The raw hits of the range, page by page as the slices deliver them (no Events)."""
        with self._errors():
            self._check_fields()
            with closing(self._pages()) as pages:
                yield from pages

    def _read_range(self, events: list[Event], total: int) -> None:
        """Append the events of every page to `events`, up to `--max-events`."""
        limit = self.options.max_events
        bar = _progress_bar(self.progress, f"reading {self.name}", total)
        with bar as advance, closing(self._pages()) as pages:
            for hits in pages:
                if limit is not None and self.stats.read + len(hits) > limit:
                    hits = hits[: limit - self.stats.read]
                self._convert(hits, events)
                advance(len(hits))
                if limit is not None and self.stats.read >= limit:
                    self._note_cap(limit, total)
                    return

    def _raw_last_before(self) -> bytes:
        """The newest hit before the range (at most one), as the raw response."""
        body = {
            "size": 1,
            "query": self._query({"lt": math.floor(self.time_range.start * 1000)}),
            "sort": [{self.time_field: {"order": "desc"}}],
            "_source": self._source_filter(),
            "track_total_hits": False,
        }
        return self._retrying()(self._raw_search, body, self.index)

    def _last_before(self) -> list[dict[str, Any]]:
        """The newest hit before the range (at most one)."""
        page = self._retrying()(
            self.client.search,
            index=self.index,
            size=1,
            query=self._query({"lt": math.floor(self.time_range.start * 1000)}),
            sort=[{self.time_field: {"order": "desc"}}],
            source=self._source_filter(),
            track_total_hits=False,
            filter_path=["hits.hits._index", "hits.hits._id", "hits.hits._source"],
        ).body
        hits: list[dict[str, Any]] = page.get("hits", {}).get("hits", [])
        return hits

    # --- checks ----------------------------------------------------------------------------

    def _check_fields(self) -> None:
        """Fail clearly when the index is missing or lacks time/message fields; plan `_source`.

        `_source` then carries every candidate key of the FieldMap except those mapped only as
        objects (`host` when `host.name` exists): their values are never usable, and fetching
        a whole `host` or `log` object of a shipper's metadata is most of a document's bytes.
        When the mapping holds nothing else, `_source` is fetched whole: filtering would cost
        the node CPU and save no bytes.
        """
        caps = self.client.field_caps(index=self.index, fields=["*"]).body
        if not caps.get("indices"):
            raise InputError(f"no index matches {self.index!r} in Elasticsearch at {self._url}")
        types = {
            name: set(by_type)
            for name, by_type in caps.get("fields", {}).items()
            if not any(t.get("metadata_field") for t in by_type.values())
        }
        self._check_time_field(types.get(self.time_field, set()))
        if not any(types.get(k, set()) - _OBJECTS for k in self.fields.message):
            raise InputError(
                f"{self.index!r} has no message field (tried: {', '.join(self.fields.message)}; "
                "set --field message=KEY)"
            )
        self._types = types
        candidates = _candidate_keys(self.fields)
        usable = [k for k in candidates if not types.get(k) or types[k] - _OBJECTS]
        self._includes = usable if _filtering_pays(types, usable) else None

    def _check_time_field(self, types: set[str]) -> None:
        if not types:
            raise InputError(
                f"{self.index!r} has no field {self.time_field!r} (the time field; set "
                f"--field timestamp=KEY){self._date_fields_hint()}"
            )
        if not types <= _DATE_TYPES:
            raise InputError(
                f"{self.time_field!r} is mapped as {'/'.join(sorted(types))} in {self.index!r}, "
                "not as a date, so time ranges cannot be pushed down; map it as a date"
            )

    def _date_fields_hint(self) -> str:
        caps = self.client.field_caps(index=self.index, fields=["*"], types=["date"]).body
        names = sorted(k for k in caps.get("fields", {}) if not k.startswith("_"))
        return f"; its date fields: {', '.join(names[:5])}" if names else "; it has no date field"

    def _count(self) -> int:
        """Documents in the range; InputError (saying where the data is) when there are none."""
        resp = self.client.count(index=self.index, query=self._query(self._in_range))
        count = int(resp["count"])
        if count == 0:
            raise InputError(self._nothing_in_range())
        return count

    def _nothing_in_range(self) -> str:
        start, end = iso(self.time_range.start), iso(self.time_range.end)
        where = f"no documents in {self.name} between {start} and {end}"
        resp = self.client.search(
            index=self.index,
            size=0,
            query=self._query(None),
            aggs={"newest": {"max": {"field": self.time_field}}},
        ).body
        newest = resp.get("aggregations", {}).get("newest", {}).get("value")
        if newest is None:
            return f"{where} (it has no documents{' matching the query' if self.query else ''})"
        return (
            f"{where}; its newest document is from {iso(float(newest) / 1000.0)} "
            "(for recorded data use --until latest)"
        )

    # --- paging ----------------------------------------------------------------------------

    def _pages(self) -> Generator[list[dict[str, Any]]]:
        """Pages of hits from every slice, in whatever order they arrive."""
        pit = self._open_pit()
        if pit is None:
            yield from self._pages_without_pit()
            return
        try:
            slices = range(self.options.slices)
            yield from _parallel([partial(self._slice_pages, pit, i) for i in slices])
        finally:
            self._close_pit(pit)

    def _native_pages(self, scanner: _HitScanner) -> Generator[int]:
        """Scan every page of the range into the scanner's table; yield hits per page."""
        pit = self._open_pit()
        if pit is None:
            yield from self._native_slice(scanner, None, 0)
            return
        try:
            slices = range(self.options.slices)
            producers = [partial(self._native_slice, scanner, pit, i) for i in slices]
            yield from _parallel(producers)
        finally:
            self._close_pit(pit)

    def _native_slice(self, scanner: _HitScanner, pit: _Pit | None, slice_id: int) -> Iterator[int]:
        """Page through one slice of the point in time (or, without one, through the range on
        the time field), scanning each page; yield the hits of each."""
        body: dict[str, Any] = {
            "size": self.options.page_size,
            "query": self._query(self._in_range),
            "_source": self._source_filter(),
            "track_total_hits": False,
        }
        if self.scoring is not None:
            body["min_score"] = self.scoring[1]
        if pit is None:
            body["sort"] = [{self.time_field: "asc"}, {"_doc": "asc"}]
        else:
            body["sort"] = [{"_shard_doc": "asc"}]
            if self.options.slices > 1:
                body["slice"] = {"id": slice_id, "max": self.options.slices}
        while True:
            if pit is not None:
                body["pit"] = {"id": pit.latest, "keep_alive": _KEEP_ALIVE}
            data = self._retrying()(self._raw_search, body, None if pit else self.index)
            page = scanner.scan(data)
            if pit is not None and page.pit_id:
                pit.latest = page.pit_id
            if page.hits:
                yield page.hits
            if page.hits < self.options.page_size or page.last_sort is None or scanner.full:
                return
            body["search_after"] = orjson.loads(page.last_sort)

    def _raw_search(self, body: dict[str, Any], index: str | None) -> bytes:
        """One search, its response as bytes (trimmed by `filter_path`), never decoded here.

        It goes to a node of the client's pool directly, so the client does not decode it; an
        error status raises the client's own exception for it (as `client.search` would).
        """
        client = self.client
        headers = HttpHeaders(client._headers)  # the credentials the client was made with
        headers.update({"accept": _JSON, "content-type": _JSON})
        path = f"/{index}/_search" if index else "/_search"
        node = client.transport.node_pool.get()
        response = node.perform_request(
            "POST",
            f"{path}?filter_path={_PAGE_FILTER}",
            body=orjson.dumps(body),
            headers=headers,
            request_timeout=self.connection.request_timeout,
        )
        status = response.meta.status
        if status >= 400:
            raise _api_error(status, response.meta, response.body)
        return bytes(response.body)

    def _open_pit(self) -> _Pit | None:
        try:
            opened = self._retrying()(
                self.client.open_point_in_time, index=self.index, keep_alive=_KEEP_ALIVE
            )
        except ApiError as exc:
            if exc.meta.status not in (400, 404, 405, 501):
                raise
            self._stats.notes.append(
                f"Elasticsearch at {self._url} has no point in time ({exc.meta.status}: "
                f"{api_reason(exc)}); read without it, in one thread, paging on {self.time_field} "
                "+ _doc: documents changed during the read may be missed or seen twice"
            )
            return None
        return _Pit(opened["id"])

    def _close_pit(self, pit: _Pit) -> None:
        with suppress(ApiError, TransportError):  # else it expires after the keep-alive
            self.client.options(request_timeout=5).close_point_in_time(id=pit.latest)

    def _slice_pages(self, pit: _Pit, slice_id: int) -> Iterator[list[dict[str, Any]]]:
        body: dict[str, Any] = {"sort": [{"_shard_doc": "asc"}]}
        if self.options.slices > 1:
            body["slice"] = {"id": slice_id, "max": self.options.slices}
        while True:
            body["pit"] = {"id": pit.latest, "keep_alive": _KEEP_ALIVE}
            page = self._search(body)
            pit.latest = page.get("pit_id", pit.latest)
            hits: list[dict[str, Any]] = page.get("hits", {}).get("hits", [])
            if hits:
                yield hits
            if len(hits) < self.options.page_size:
                return
            body["search_after"] = hits[-1]["sort"]

    def _pages_without_pit(self) -> Iterator[list[dict[str, Any]]]:
        body: dict[str, Any] = {
            "index": self.index,
            "sort": [{self.time_field: "asc"}, {"_doc": "asc"}],
        }
        while True:
            hits: list[dict[str, Any]] = self._search(body).get("hits", {}).get("hits", [])
            if hits:
                yield hits
            if len(hits) < self.options.page_size:
                return
            body["search_after"] = hits[-1]["sort"]

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        """One page, retried on transient failures; shard failures are errors, not gaps."""
        page: dict[str, Any] = self._retrying()(
            self.client.search,
            size=self.options.page_size,
            query=self._query(self._in_range),
            source=self._source_filter(),
            track_total_hits=False,
            **body,
        ).body
        shards = page.get("_shards", {})
        if shards.get("failed") or page.get("timed_out"):
            reasons = [_shard_reason(f) for f in shards.get("failures", [])[:2]]
            raise SourceUnavailable(
                f"Elasticsearch at {self._url}: {shards.get('failed', 0)} shard(s) failed or "
                f"timed out while reading {self.index!r}: {'; '.join(reasons) or 'timed out'}"
            )
        return page

    def _retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception(_transient),
            wait=wait_exponential(multiplier=self.options.backoff, max=10.0)
            + wait_random(0, self.options.backoff),
            stop=stop_after_attempt(self.options.retries + 1),
            reraise=True,
        )

    # --- helpers ---------------------------------------------------------------------------

    def _query(
        self, bounds: dict[str, int] | None, narrowing: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A range filter on the time field (epoch ms `bounds`), the query string if any, and
        the narrowing (the source's own, or `narrowing`) if any."""
        filters: list[dict[str, Any]] = []
        if bounds is not None:
            filters.append({"range": {self.time_field: {**bounds, "format": "epoch_millis"}}})
        if self.query:
            filters.append({"query_string": {"query": self.query}})
        narrowing = narrowing or self.narrowing
        if narrowing is not None:
            filters.append(narrowing)
        if self.scoring is not None:
            return {"bool": {"filter": filters, "must": [self.scoring[0]]}}
        return {"bool": {"filter": filters}} if filters else {"match_all": {}}

    @property
    def _in_range(self) -> dict[str, int]:
        """`time_range` widened to whole milliseconds (dates are indexed at ms precision)."""
        return {
            "gte": math.floor(self.time_range.start * 1000),
            "lte": math.ceil(self.time_range.end * 1000),
        }

    def _source_filter(self) -> dict[str, list[str]] | bool:
        """What `_source` carries: the usable candidate keys, or all (see `_check_fields`)."""
        return True if self._includes is None else {"includes": self._includes}

    def _convert(self, hits: list[dict[str, Any]], events: list[Event]) -> None:
        stats, event_of = self.stats, self._records.event
        for hit in hits:
            stats.read += 1
            origin = f"{hit['_index']}/{hit['_id']}"
            source = hit.get("_source")
            if not isinstance(source, dict):
                stats.reject(origin, "no _source")
                continue
            event = event_of(source, origin)
            if event is not None:
                events.append(event)

    def _time_of(self, record: dict[str, Any]) -> float | None:
        for key in self.fields.timestamp:
            value: Any = record.get(key)
            if value is None and "." in key:
                value = record
                for part in key.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                return parse_timestamp(value)
        return None

    def _note_cap(self, limit: int, total: int) -> None:
        self._stats.notes.append(
            f"STOPPED AT --max-events {limit:,} of {total:,} matching documents: this report "
            f"covers an arbitrary {limit / max(total, 1):.0%} of the window, not all of it; "
            "narrow --since/--query or raise --max-events"
        )

    def _reading_context(self, done: int) -> str:
        if not done:
            return ""
        return f" while reading {self.index!r} (after {done:,} documents; no report was made)"

    @property
    def _url(self) -> str:
        return self.connection.display_url

    def _errors(self, doing: Callable[[], str] = lambda: "") -> AbstractContextManager[None]:
        return es_errors(self._url, self.index, doing)


class _HitScanner:
    """Scans raw pages into one table for every slice, in turn; reads the hits it leaves."""

    def __init__(self, source: ElasticsearchSource, table: EventTable) -> None:
        self._source = source
        self._table = table
        self._lock = threading.Lock()
        self._limit = source.options.max_events
        self.done = 0

    @property
    def full(self) -> bool:
        """True once `--max-events` documents were read."""
        return self._limit is not None and self.done >= self._limit

    def scan(self, data: bytes) -> HitsPage:
        """Scan one response (up to the cap); SourceUnavailable if its shards failed."""
        source = self._source
        with self._lock:
            left = None if self._limit is None else max(self._limit - self.done, 0)
            try:
                page = self._table.scan_hits(data, limit=left)
            except ValueError as exc:
                raise SourceUnavailable(f"Elasticsearch at {source._url}: {exc}") from None
            if page.shards_failed or page.timed_out:
                raise _shards_failed(source, orjson.loads(data))
            stats, event_of = source.stats, source._records.event
            for seq, origin, raw in page.handed_back:
                if raw is None:
                    stats.read += 1
                    stats.reject(origin, "no _source")
                    continue
                record = orjson.loads(raw)
                stats.read += 1
                event = event_of(record, origin) if isinstance(record, dict) else None
                if event is not None:
                    push_event(self._table, seq, event)
            self.done += min(page.hits, left) if left is not None else page.hits
        return page


def _api_error(status: int, meta: Any, body: bytes) -> ApiError:
    """The client's exception for an error response (its class by status, message by type)."""
    try:
        decoded: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        decoded = body.decode("utf-8", "replace")
    message: Any = str(decoded)
    if isinstance(decoded, dict):
        error = decoded.get("error", message)
        message = error.get("type", message) if isinstance(error, dict) else error
    return HTTP_EXCEPTIONS.get(status, ApiError)(message=str(message), meta=meta, body=decoded)


def _shards_failed(source: ElasticsearchSource, page: dict[str, Any]) -> SourceUnavailable:
    shards = page.get("_shards", {})
    reasons = [_shard_reason(f) for f in shards.get("failures", [])[:2]]
    return SourceUnavailable(
        f"Elasticsearch at {source._url}: {shards.get('failed', 0)} shard(s) failed or "
        f"timed out while reading {source.index!r}: {'; '.join(reasons) or 'timed out'}"
    )


@dataclass
class _Pit:
    """A point in time; `latest` is the id Elasticsearch returned last (it may change)."""

    latest: str


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a read builds millions of objects.

    Hits and Events hold no reference cycles (reference counting frees them), but every few
    thousand allocations the collector would walk all the Events kept so far: measured, that
    doubled the time of a 200k-document read.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _filtering_pays(types: dict[str, set[str]], includes: list[str]) -> bool:
    """True when the mapping has leaf fields outside `includes` (and their sub-fields)."""
    prefixes = tuple(f"{key}." for key in includes)
    kept = set(includes)
    return any(
        kinds - _OBJECTS and name not in kept and not name.startswith(prefixes)
        for name, kinds in types.items()
    )


def _candidate_keys(fields: FieldMap) -> list[str]:
    """Every candidate key of every field of the mapping, in order, once."""
    keys = [key for name in FieldMap.model_fields for key in getattr(fields, name)]
    return list(dict.fromkeys(keys))


def _order(event: Event) -> tuple[float, str]:
    return event.timestamp, event.origin


def _transient(exc: BaseException) -> bool:
    """Worth retrying: a dropped connection, a timeout, 429 or a 502-504 from a proxy/node."""
    if isinstance(exc, TransportConnectionError | ConnectionTimeout):
        return True
    return isinstance(exc, ApiError) and exc.meta.status in _TRANSIENT_STATUS


def api_reason(exc: ApiError) -> str:
    """What an error response says went wrong: its root cause's (else its first cause's)
    type and reason, in one line."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict):
        cause = (error.get("root_cause") or [error.get("caused_by") or error])[0]
        return f"{cause.get('type', exc.message)}: {cause.get('reason', '')}".rstrip(": ")
    return str(error or exc.message)


def _shard_reason(failure: dict[str, Any]) -> str:
    reason = failure.get("reason", {})
    return f"{reason.get('type', '?')}: {reason.get('reason', '')}" if reason else str(failure)


def _transport_reason(exc: TransportError) -> str:
    """The human part of a connection error ("Connection refused"), not the repr chain."""
    text = str(exc.message or exc)
    found = _ERRNO_TEXT.search(text)
    if found:
        return found.group(1).strip()
    inner = _INNER_TEXT.search(text)
    if inner:
        return inner.group(2).strip()
    if isinstance(exc, ConnectionTimeout):
        return "timed out"
    return text.splitlines()[0][:200] if text else type(exc).__name__


# --- threads -------------------------------------------------------------------------------

_DONE = object()
T = TypeVar("T")


def _parallel(producers: Sequence[Callable[[], Iterator[T]]]) -> Iterator[T]:
    """Run each producer in its own thread; yield their items as they come.

    The first exception in any thread is re-raised here; when the consumer stops early (or
    fails) the threads are told to stop and are waited for.
    """
    items: queue.Queue[object] = queue.Queue(maxsize=2 * len(producers))
    stop = threading.Event()
    threads = [
        threading.Thread(target=_produce, args=(p, items, stop), daemon=True, name=f"es-slice-{n}")
        for n, p in enumerate(producers)
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            item = items.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item  # type: ignore[misc]
    finally:
        stop.set()
        for thread in threads:
            while thread.is_alive():
                _drain(items)
                thread.join(timeout=0.05)


def _produce(
    producer: Callable[[], Iterator[object]],
    items: queue.Queue[object],
    stop: threading.Event,
) -> None:
    try:
        for page in producer():
            if stop.is_set() or not _put(items, page, stop):
                return
    except BaseException as exc:
        _put(items, exc, stop)
    finally:
        _put(items, _DONE, stop)


def _put(items: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            items.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _drain(items: queue.Queue[object]) -> None:
    try:
        while True:
            items.get_nowait()
    except queue.Empty:
        pass


# --- progress ------------------------------------------------------------------------------


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f} docs/s" if task.speed else "", style="cyan")


class _Bar:
    """A transient stderr progress bar with docs, docs/s and ETA; `advance(n)` moves it."""

    def __init__(self, label: str, total: int) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} docs"),
            _RateColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._progress.add_task(label, total=total)

    def __enter__(self) -> Callable[[int], None]:
        self._progress.start()
        return self.advance

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def advance(self, count: int) -> None:
        """Move the bar by `count` documents."""
        self._progress.advance(self._task, count)


class _NoBar:
    def __enter__(self) -> Callable[[int], None]:
        return lambda count: None

    def __exit__(self, *exc_info: object) -> None:
        return None


def _progress_bar(enabled: bool, label: str, total: int) -> _Bar | _NoBar:
    """A progress bar on stderr when enabled and stderr is a terminal, else a silent one."""
    if enabled and Console(stderr=True).is_terminal:
        return _Bar(label, total)
    return _NoBar()
