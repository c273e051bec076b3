"""Following an Elasticsearch index: at each tick, the documents that are new since the last.

The position is the time of the newest document read (epoch ms, the sort value of the time
field). A poll reads the documents from that position, less `late` seconds for documents that
reach the index after newer ones (shippers batch and retry), up to now: one point in time,
sorted by the time field and `_shard_doc` (the tiebreaker that orders documents of the same
millisecond), paged with `search_after`. Documents seen in that overlap are recognized by
`index/_id` and skipped, so none is read twice; a document that arrives more than `late`
seconds after newer ones is missed (and the first poll reads the whole window and baseline).

The connection, the error mapping (`es_errors`: one line naming the URL and index) and the
conversion of hits into events (`RecordReader`) are those of `sources/elasticsearch.py`. Each
request is retried a few times on 429, 502-504, timeouts and dropped connections; past that the
poll fails with `SourceUnavailable`, and the next tick simply tries again.
"""

from __future__ import annotations

import math
from contextlib import suppress
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TransportError
from elasticsearch import ApiError, Elasticsearch
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from logsense.config import FieldMap
from logsense.errors import SourceUnavailable
from logsense.model import Event
from logsense.sources.elasticsearch import EsConnection, es_errors
from logsense.sources.records import RecordReader, SourceStats
from logsense.watch.follow import Deliver, PollResult

__all__ = ["LATE_ARRIVALS", "EsFollower"]

# Seconds a document may reach the index after newer ones and still be read.
LATE_ARRIVALS = 60.0
_KEEP_ALIVE = "1m"
_TRANSIENT_STATUS = frozenset({429, 502, 503, 504})


class EsFollower:
    """An index (or pattern, or alias) read as it grows (see the module's docstring)."""

    def __init__(
        self,
        connection: EsConnection,
        index: str,
        fields: FieldMap,
        *,
        query: str | None = None,
        page_size: int = 5000,
        retries: int = 2,
        late: float = LATE_ARRIVALS,
        client: Elasticsearch | None = None,
    ) -> None:
        self.connection = connection
        self.index = index
        self.fields = fields
        self.query = query
        self.page_size = page_size
        self.retries = retries
        self.late = late
        self.name = f"{connection.display_url}/{index}" + (f" ({query})" if query else "")
        self._client = client
        self._records = RecordReader(fields, SourceStats())
        self._includes = list(
            dict.fromkeys(key for name in FieldMap.model_fields for key in getattr(fields, name))
        )
        self.position: int | None = None  # epoch ms of the newest document read
        self._seen: dict[str, int] = {}  # index/_id → epoch ms, for the overlap

    @property
    def client(self) -> Elasticsearch:
        """The client, made on first use."""
        if self._client is None:
            self._client = self.connection.client()
        return self._client

    @property
    def time_field(self) -> str:
        """The field positions and ranges are on: the first timestamp key of the field map."""
        return self.fields.timestamp[0]

    def poll(self, now: float, floor: float, deliver: Deliver) -> PollResult:
        """Deliver the documents from the last position (less `late`), or from `floor` at first,
        up to `now`; raise SourceUnavailable (or InputError, UsageError) when it cannot."""
        result = PollResult(SourceStats())
        self._records.stats = result.stats
        floor_ms = math.floor(floor * 1000)
        start = floor_ms if self.position is None else max(self.position - int(self.late * 1000),
                                                           floor_ms)  # fmt: skip
        end = math.ceil(now * 1000)
        if start >= end:
            return result
        url = self.connection.display_url
        with es_errors(url, self.index, lambda: f" while following {self.index!r}"):
            pit = self._retrying()(
                self.client.open_point_in_time, index=self.index, keep_alive=_KEEP_ALIVE
            )["id"]
            try:
                pit = self._pages(pit, start, end, result, deliver)
            finally:
                with suppress(ApiError, TransportError):
                    self.client.options(request_timeout=5).close_point_in_time(id=pit)
        if self.position is not None:
            oldest = self.position - int(self.late * 1000)
            self._seen = {key: ms for key, ms in self._seen.items() if ms >= oldest}
        return result

    def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            with suppress(Exception):
                self._client.close()
            self._client = None

    def _pages(self, pit: str, start: int, end: int, result: PollResult, deliver: Deliver) -> str:
        """Read [start, end) page by page; return the latest point-in-time id."""
        filters: list[dict[str, Any]] = [
            {"range": {self.time_field: {"gte": start, "lt": end, "format": "epoch_millis"}}}
        ]
        if self.query:
            filters.append({"query_string": {"query": self.query}})
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "pit": {"id": pit, "keep_alive": _KEEP_ALIVE},
                "size": self.page_size,
                "sort": [
                    {self.time_field: {"order": "asc", "numeric_type": "date"}},
                    {"_shard_doc": "asc"},
                ],
                "query": {"bool": {"filter": filters}},
                "source": {"includes": self._includes},
                "track_total_hits": False,
            }
            if after is not None:
                body["search_after"] = after
            page: dict[str, Any] = self._retrying()(self.client.search, **body).body
            shards = page.get("_shards", {})
            if shards.get("failed") or page.get("timed_out"):
                raise SourceUnavailable(
                    f"Elasticsearch at {self.connection.display_url}: {shards.get('failed', 0)} "
                    f"shard(s) failed or timed out while following {self.index!r}"
                )
            pit = page.get("pit_id", pit)
            hits: list[dict[str, Any]] = page.get("hits", {}).get("hits", [])
            events = self._convert(hits, result.stats)
            if events:
                result.delivered(events)
                deliver(events)
            if len(hits) < self.page_size:
                return pit
            after = hits[-1]["sort"]

    def _convert(self, hits: list[dict[str, Any]], stats: SourceStats) -> list[Event]:
        events: list[Event] = []
        for hit in hits:
            key = f"{hit['_index']}/{hit['_id']}"
            if key in self._seen:
                continue
            ms = int(hit["sort"][0])
            self._seen[key] = ms
            if self.position is None or ms > self.position:
                self.position = ms
            stats.read += 1
            source = hit.get("_source")
            if not isinstance(source, dict):
                stats.reject(key, "no _source")
                continue
            event = self._records.event(source, key)
            if event is not None:
                events.append(event)
        return events

    def _retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception(_transient),
            wait=wait_exponential(multiplier=0.5, max=4.0) + wait_random(0, 0.5),
            stop=stop_after_attempt(self.retries + 1),
            reraise=True,
        )


def _transient(exc: BaseException) -> bool:
    """Worth retrying: a dropped connection, a timeout, 429 or a 502-504."""
    if isinstance(exc, TransportConnectionError | ConnectionTimeout):
        return True
    return isinstance(exc, ApiError) and exc.meta.status in _TRANSIENT_STATUS
