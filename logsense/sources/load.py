"""Bulk-load a log file into Elasticsearch, so it can be triaged from there (`logsense load`).

Lines are read and checked by `FileSource`, so malformed lines are counted exactly as a triage
of the file counts them. A JSON line is sent as it is in the file (only its time field is
rewritten to ISO 8601 UTC when Elasticsearch could not read it as given), so a triage from
Elasticsearch sees the same fields as a triage of the file. A text line is sent as the ECS
document of its event.

An index template named `logsense-<index>` maps the time field as a date, the ids, level,
service, host and version as keywords, the message as text with a `keyword` sub-field and the
stack trace as text; other strings become keywords.

Each document's `_id` is `<file name>-<path hash>-<line number>`: loading the same file again
replaces its documents instead of duplicating them, and documents with equal timestamps come
back from Elasticsearch in file order.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from elasticsearch import Elasticsearch, helpers

from logsense.config import FieldMap
from logsense.errors import InputError, UsageError
from logsense.model import Event
from logsense.progress import counting
from logsense.sources.elasticsearch import EsConnection, es_errors
from logsense.sources.files import FileSource
from logsense.sources.formats.text import TextParser
from logsense.sources.records import MAX_LINE_BYTES, RecordReader, SourceStats

__all__ = ["LoadResult", "event_document", "index_template", "load_file"]

_TEMPLATE_PRIORITY = 200  # above the stack's built-in `logs-*-*` template (100)
_MAX_REJECTIONS_SHOWN = 3
# What Elasticsearch's `strict_date_optional_time` surely reads the same way Python does.
_ES_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)$")


@dataclass
class LoadResult:
    """What a load did: documents indexed, replaced, rejected (with reasons), lines skipped."""

    index: str
    source: str
    loaded: int = 0
    replaced: int = 0
    rejected: int = 0
    rejections: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for stderr: counts, rate and what was skipped or rejected."""
        rate = self.loaded / self.seconds if self.seconds > 0 else 0.0
        parts = [
            f"loaded {self.loaded:,} documents from {self.source} into {self.index!r} "
            f"in {self.seconds:.1f} s ({rate:,.0f} docs/s)"
        ]
        if self.replaced:
            parts.append(f"{self.replaced:,} replaced documents of an earlier load of this file")
        if self.rejected:
            parts.append(f"{self.rejected:,} rejected")
        return "; ".join(parts)

    def rejection_message(self) -> str:
        """The error line for rejected documents: count, first reasons, how to retry."""
        return (
            f"Elasticsearch rejected {self.rejected:,} of {self.loaded + self.rejected:,} "
            f"documents ({'; '.join(self.rejections)}); fix them and load again "
            "(ids are stable, so nothing is duplicated)"
        )


def index_template(index: str, fields: FieldMap) -> dict[str, Any]:
    """The composable index template body for `index`, from the field mapping's first keys."""
    properties: dict[str, Any] = {}
    _map(properties, fields.timestamp[0],
         {"type": "date", "format": "strict_date_optional_time||epoch_millis"})  # fmt: skip
    _map(properties, fields.message[0], {
        "type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 2048}},
    })  # fmt: skip
    _map(properties, fields.stack_trace[0], {"type": "text"})
    for name in ("level", "service", "request_id", "user_id", "version", "host"):
        _map(properties, getattr(fields, name)[0], {"type": "keyword", "ignore_above": 1024})
    return {
        "index_patterns": [index],
        "priority": _TEMPLATE_PRIORITY,
        "template": {
            "mappings": {
                "date_detection": False,
                "dynamic_templates": [
                    {
                        "strings_as_keywords": {
                            "match_mapping_type": "string",
                            "mapping": {"type": "keyword", "ignore_above": 1024},
                        }
                    }
                ],
                "properties": properties,
            }
        },
        "_meta": {"created_by": "logsense load"},
    }


def event_document(event: Event, fields: FieldMap) -> dict[str, Any]:
    """The ECS-style document of an event (for text lines), keyed by the mapping's first keys."""
    doc: dict[str, Any] = {}
    values = {
        "timestamp": _iso_micro(event.timestamp),
        "message": event.message,
        "level": event.level,
        "service": event.service,
        "request_id": event.request_id,
        "user_id": event.user_id,
        "stack_trace": event.stack_trace,
        "version": event.version,
        "host": event.host,
    }
    for name, value in values.items():
        if value is not None:
            _put(doc, getattr(fields, name)[0], value)
    return doc


def load_file(
    connection: EsConnection,
    path: str,
    index: str,
    fields: FieldMap,
    *,
    header_regex: str | None = None,
    stdin: IO[bytes] | None = None,
    refresh: bool = True,
    threads: int = 2,
    chunk_size: int = 1000,
    progress: bool = False,
    client: Elasticsearch | None = None,
    max_line: int = MAX_LINE_BYTES,
    log_format: str | None = None,
    timezone: str | None = None,
) -> LoadResult:
    """Put the index template, bulk-load every valid event of `path`, refresh, and report.

    Rejected documents are counted with their first reasons in the result (never dropped
    silently). Raises InputError when the file has no usable event, SourceUnavailable when
    Elasticsearch does not answer.
    """
    if threads < 1 or chunk_size < 1:
        raise UsageError("--threads and --chunk-size must be at least 1")
    if path != "-" and not Path(path).is_file():  # before anything is put into the cluster
        raise InputError(f"cannot read {path}: no such file")
    es = client or connection.client()
    source = _RecordKeepingSource(
        path, fields, header_regex, stdin, max_line, log_format=log_format, timezone=timezone
    )
    result = LoadResult(index=index, source=source.name)
    started = time.monotonic()
    with es_errors(connection.display_url, index):
        es.indices.put_index_template(name=f"logsense-{index}", **index_template(index, fields))
        actions = _actions(source, index, fields, _id_prefix(path))
        bulk = helpers.parallel_bulk(
            es.options(max_retries=3, retry_on_status=(429, 502, 503, 504), retry_on_timeout=True),
            counting(actions, f"loading {source.name}", progress),
            thread_count=threads,
            chunk_size=chunk_size,
            raise_on_error=False,
        )
        for ok, item in bulk:
            _tally(result, ok, item, source.name)
        if refresh and result.loaded:
            es.indices.refresh(index=index)
    result.seconds = time.monotonic() - started
    result.warnings = source.stats.warnings()
    if not result.loaded and not result.rejected:
        raise InputError(_nothing_to_load(source))
    return result


class _KeepingReader(RecordReader):
    """A RecordReader that remembers the JSON record of the last event it made."""

    def __init__(
        self, fields: FieldMap, stats: SourceStats, inner: TextParser | None = None
    ) -> None:
        super().__init__(fields, stats, inner)
        self.last: dict[str, Any] | None = None

    def event(self, record: dict[str, Any], origin: str) -> Event | None:
        """The Event of `record` (see RecordReader.event); keeps `record` when there is one."""
        event = super().event(record, origin)
        self.last = record if event is not None else None
        return event


class _RecordKeepingSource(FileSource):
    """A FileSource that also hands out the original JSON object of each event it yields."""

    def __init__(
        self,
        path: str,
        fields: FieldMap,
        header_regex: str | None,
        stdin: IO[bytes] | None,
        max_line: int = MAX_LINE_BYTES,
        log_format: str | None = None,
        timezone: str | None = None,
    ) -> None:
        super().__init__(
            path, fields, header_regex, stdin, max_line=max_line, log_format=log_format,
            timezone=timezone,
        )  # fmt: skip
        self._keeper = _KeepingReader(fields, self.stats, inner=self.parser)
        self._records = self._keeper

    def documents(self, fields: FieldMap) -> Iterator[tuple[int, dict[str, Any]]]:
        """(line number, document) for every valid event, in file order."""
        for event in self.read():
            record, self._keeper.last = self._keeper.last, None
            if record is None:
                doc = event_document(event, fields)
            else:
                doc = _with_es_time(record, fields.timestamp[0], event.timestamp)
            yield int(event.origin.rsplit(":", 1)[1]), doc


def _actions(
    source: _RecordKeepingSource, index: str, fields: FieldMap, prefix: str
) -> Iterator[dict[str, Any]]:
    for line, doc in source.documents(fields):
        yield {"_index": index, "_id": f"{prefix}-{line:010d}", "_source": doc}


def _tally(result: LoadResult, ok: bool, item: dict[str, Any], name: str) -> None:
    info: dict[str, Any] = next(iter(item.values()), {})
    if ok:
        result.loaded += 1
        result.replaced += info.get("result") == "updated"
        return
    result.rejected += 1
    if len(result.rejections) < _MAX_REJECTIONS_SHOWN:
        line = str(info.get("_id", "?")).rsplit("-", 1)[-1].lstrip("0") or "0"
        error = info.get("error", {})
        reason = error.get("reason", "") if isinstance(error, dict) else str(error)
        kind = error.get("type", "error") if isinstance(error, dict) else "error"
        result.rejections.append(f"{name}:{line}: {kind}: {reason}"[:300])


def _nothing_to_load(source: FileSource) -> str:
    if source.stats.read == 0:
        return f"nothing to load: {source.name} is empty"
    reasons = ", ".join(source.stats.malformed_reasons)
    return (
        f"nothing to load: all {source.stats.malformed:,} records of {source.name} were "
        f"malformed ({reasons})"
    )


def _id_prefix(path: str) -> str:
    """`<file name>-<hash of its absolute path>`; a random one for stdin (no stable name)."""
    if path == "-":
        return f"stdin-{secrets.token_hex(4)}"
    resolved = str(Path(path).resolve())
    return f"{Path(path).name}-{hashlib.blake2b(resolved.encode(), digest_size=4).hexdigest()}"


def _with_es_time(record: dict[str, Any], key: str, timestamp: float) -> dict[str, Any]:
    """`record` with its time under `key` in a form Elasticsearch reads as Python does."""
    value = _get(record, key)
    if not (isinstance(value, str) and _ES_TIME.match(value)):
        _replace(record, key, _iso_micro(timestamp))
    return record


def _iso_micro(ts: float) -> str:
    """ISO 8601 UTC with microseconds (what a float of epoch seconds holds exactly)."""
    stamp = datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds")
    return stamp.replace("+00:00", "Z")


def _get(record: dict[str, Any], key: str) -> Any:
    if key in record:
        return record[key]
    node: Any = record
    for part in key.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _replace(record: dict[str, Any], key: str, value: Any) -> None:
    """Set `key` where it already is (flat or nested), else as a flat dotted key."""
    if key in record or "." not in key:
        record[key] = value
        return
    *parents, leaf = key.split(".")
    node: Any = record
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node[leaf] = value
    else:
        record[key] = value


def _put(doc: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted key as nested objects (`log.level` → {"log": {"level": ...}})."""
    *parents, leaf = key.split(".")
    node: Any = doc
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):  # a mapping where one key is a prefix of another
            doc[key] = value
            return
    node[leaf] = value


def _map(properties: dict[str, Any], key: str, mapping: dict[str, Any]) -> None:
    """Add `mapping` for a dotted key as nested `properties`."""
    *parents, leaf = key.split(".")
    node = properties
    for part in parents:
        node = node.setdefault(part, {"properties": {}}).get("properties")
        if node is None:  # a mapping where one key is a prefix of another: leave it dynamic
            return
    node.setdefault(leaf, mapping)
