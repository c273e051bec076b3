"""Elasticsearch end to end, against the real 8.14.3 test node: load, read, parity, and faults.

Loopback HTTP servers stand in only where the node cannot show a fault itself: a 401, a 429, a
server without point in time. They forward everything else to the real node.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from elasticsearch import Elasticsearch
from esnode import EsNode, start_node

from logsense._native import EventTable
from logsense.config import FieldMap
from logsense.errors import SourceUnavailable
from logsense.model import Window
from logsense.requestmap import RequestMap
from logsense.sources.elasticsearch import ElasticsearchSource, EsConnection, ReadOptions
from logsense.sources.files import FileSource
from logsense.sources.load import load_file
from logsense.sources.records import event_table, parse_timestamp, push_event
from tests.conftest import FIXTURES, Cli, generator

pytestmark = pytest.mark.es

SMALL = "small"  # the module's shared index, loaded once from `small_file`
Answer = Callable[[str, str, bytes], tuple[int, bytes] | None]


# --- loopback HTTP: a recording proxy in front of the node, or a stub -------------------------


@dataclass
class Seen:
    """One request the proxy got."""

    method: str
    path: str
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


@dataclass
class Proxy:
    """Records requests; `answer` may reply itself, else the request goes to `upstream`."""

    upstream: str | None
    answer: Answer | None = None
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.proxy = self  # type: ignore[attr-defined]
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reply(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple:
        self.seen.append(Seen(method, path, body, {k.lower(): v for k, v in headers.items()}))
        canned = self.answer(method, path, body) if self.answer else None
        if canned is not None or self.upstream is None:
            status, data = canned or (500, b"{}")
            return status, {"Content-Type": "application/json"}, data
        target = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        keep = {k: v for k, v in headers.items() if k.lower() in ("content-type", "accept")}
        conn.request(method, path, body=body or None, headers=keep)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        wanted = ("content-type", "x-elastic-product")
        return resp.status, {k: v for k, v in resp.getheaders() if k.lower() in wanted}, data


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        proxy: Proxy = self.server.proxy  # type: ignore[attr-defined]
        status, headers, data = proxy.reply(self.command, self.path, body, dict(self.headers))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[Callable[..., Proxy]]:
    made: list[Proxy] = []

    def make(upstream: str | None, answer: Answer | None = None) -> Proxy:
        made.append(Proxy(upstream, answer))
        return made[-1]

    yield make
    for each in made:
        each.close()


def _error(status: int, kind: str, reason: str) -> tuple[int, bytes]:
    body = {
        "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
        "status": status,
    }
    return status, orjson.dumps(body)


# --- data ----------------------------------------------------------------------------------


def _odd_records(end_ms: int) -> list[dict[str, Any]]:
    """Records a file may hold that Elasticsearch must get right: epoch ms, offsets, pino."""
    return [
        {"time": end_ms - 90_000, "level": 50, "app": "legacy", "request_id": "r-1",
         "msg": "legacy batch failed: code 7", "labels": {"team": "billing"}},
        {"@timestamp": _spaced(end_ms - 80_000), "timestamp": 1, "log.level": "warn",
         "service.name": "legacy", "message": "space-separated time is redone"},
        {"timestamp": (end_ms - 70_000) / 1000.0, "severity": "error", "app": "legacy",
         "msg": "legacy batch failed: code 9"},
    ]  # fmt: skip


def _spaced(ms: int) -> str:
    """`2026-08-15 16:46:00.479+00:00`: Python reads it, Elasticsearch's date format does not."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(sep=" ", timespec="milliseconds")


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~6k generated ECS events (nested keys, +01:00) plus odd records, as JSON lines."""
    gen = generator()
    scenario = gen.with_overrides(
        gen.random_scenario(seed=11, kind="major"), minutes=20, rps=0.8, utc_offset_minutes=60
    )
    events, _ = gen.generate(scenario, seed=11)
    end_ms = round(_newest(events) * 1000)
    path = tmp_path_factory.mktemp("es-data") / "small.jsonl"
    lines = [orjson.dumps(e) for e in [*events, *_odd_records(end_ms)]]
    path.write_bytes(b"\n".join([*lines, b"{not json"]) + b"\n")
    return path


def _newest(events: list[dict[str, Any]]) -> float:
    return max(t for e in events if (t := parse_timestamp(e["@timestamp"])) is not None)


@pytest.fixture(scope="module")
def es_url(es_node: EsNode) -> str:
    return es_node.url


@pytest.fixture(scope="module")
def es(es_url: str) -> Iterator[Elasticsearch]:
    client = Elasticsearch(es_url, request_timeout=30)
    yield client
    client.close()


@pytest.fixture(scope="module")
def small(es_url: str, small_file: Path) -> str:
    """`small_file` loaded into the `small` index (once per module)."""
    result = load_file(EsConnection(es_url), str(small_file), SMALL, FieldMap())
    assert result.rejected == 0, result.rejections
    return SMALL


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what must differ between a file and an index of its valid lines."""
    totals = {k: v for k, v in report["totals"].items() if k not in ("malformed", "outside_window")}
    # How a file's text was read (its format, the times it completed) is the file's alone.
    file_only = ("outside the window", "malformed", "text read as", "had no time zone",
                 "had no year")  # fmt: skip
    warnings = [w for w in report["warnings"] if not any(part in w for part in file_only)]
    return {**report, "source": None, "totals": totals, "warnings": warnings}


def one_error_line(stderr: str, *needles: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("logsense: error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def es_args(url: str, index: str, *more: str) -> list[str]:
    return ["triage", "--index", index, "--es-url", url, *more]


# --- load ----------------------------------------------------------------------------------


def test_load_maps_fields_and_counts(
    cli: Cli, es_url: str, small_file: Path, tmp_path: Path
) -> None:
    code, _, err = cli("load", str(small_file), "--index", "load-check", "--es-url", es_url, "-q")
    assert code == 0, err
    assert "loaded " in err and "into 'load-check'" in err
    assert "1 malformed records skipped (1 invalid JSON)" in err
    es = Elasticsearch(es_url)
    valid = sum(1 for _ in FileSource(str(small_file), FieldMap()).read())
    assert es.count(index="load-check")["count"] == valid
    props = es.indices.get_mapping(index="load-check")["load-check"]["mappings"]["properties"]
    assert props["@timestamp"]["type"] == "date"
    assert props["message"]["type"] == "text"
    assert props["message"]["fields"]["keyword"] == {"type": "keyword", "ignore_above": 2048}
    assert props["service"]["properties"]["name"]["type"] == "keyword"
    assert props["trace"]["properties"]["id"]["type"] == "keyword"
    assert props["error"]["properties"]["stack_trace"]["type"] == "text"
    assert props["msg"]["type"] == "keyword"  # other strings: dynamic keywords
    # Loading again replaces (stable ids) instead of duplicating.
    code, _, err = cli("load", str(small_file), "-i", "load-check", "--es-url", es_url, "-q")
    assert code == 0 and f"{valid:,} replaced" in err
    assert es.count(index="load-check")["count"] == valid


def test_load_reports_rejected_documents(cli: Cli, es_url: str, tmp_path: Path) -> None:
    good = {"@timestamp": "2026-11-20T13:00:00Z", "service": {"name": "a"}, "message": "ok"}
    bad = {"@timestamp": "2026-11-20T13:00:01Z", "service": {"name": {"x": 1}}, "message": "no"}
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in (good, bad, good)))
    code, _, err = cli("load", str(path), "-i", "rejects", "--es-url", es_url, "-q")
    assert code == 3
    assert "loaded 2 documents" in err and "1 rejected" in err
    one_error_line(err, "rejected 1 of 3 documents", "mixed.jsonl:2", "parsing_exception")


def test_load_text_file_gives_the_same_report(cli: Cli, es_url: str, tmp_path: Path) -> None:
    gen = generator()
    scenario = gen.with_overrides(gen.random_scenario(seed=5, kind="deploy"), minutes=15, rps=1)
    events, _ = gen.generate(scenario, seed=5)
    path = tmp_path / "deploy.log.gz"
    gen.write_events(events, path)
    code, _, err = cli("load", str(path), "-i", "text-load", "--es-url", es_url, "-q")
    assert code == 0, err
    from_file = cli.json(
        "triage", "-s", str(path), "--since", "5m", "--state-dir", str(tmp_path / "s1")
    )
    from_es = cli.json(
        *es_args(
            es_url,
            "text-load",
            "--since",
            "5m",
            "--until",
            "latest",
            "--state-dir",
            str(tmp_path / "s2"),
        )
    )
    assert comparable(from_es) == comparable(from_file)


# --- reading -------------------------------------------------------------------------------


def test_parity_small_file(
    cli: Cli, es_url: str, small: str, small_file: Path, tmp_path: Path
) -> None:
    from_file = cli.json(
        "triage", "-s", str(small_file), "--since", "5m", "--state-dir", str(tmp_path / "s1")
    )
    from_es = cli.json(
        *es_args(
            es_url,
            small,
            "--since",
            "5m",
            "--until",
            "latest",
            "--page-size",
            "700",
            "--slices",
            "3",
            "--state-dir",
            str(tmp_path / "s2"),
        )
    )
    assert from_es["totals"]["events"] == from_file["totals"]["events"] > 1000
    assert comparable(from_es) == comparable(from_file)
    assert from_es["source"] == f"{es_url}/{small}"


def test_parity_with_absolute_until(
    cli: Cli, es_url: str, small: str, small_file: Path, tmp_path: Path
) -> None:
    newest = _newest([orjson.loads(x) for x in small_file.read_bytes().splitlines()[:-4]])
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(newest - 240))
    args = ("--since", "4m", "--until", until)
    from_file = cli.json(
        "triage", "-s", str(small_file), *args, "--state-dir", str(tmp_path / "s1")
    )
    from_es = cli.json(*es_args(es_url, small, *args, "--state-dir", str(tmp_path / "s2")))
    assert comparable(from_es) == comparable(from_file)


def test_a_document_dated_9999_does_not_anchor_until_latest(
    cli: Cli, es: Elasticsearch, es_url: str, small_file: Path
) -> None:
    result = load_file(EsConnection(es_url), str(small_file), "anchor-check", FieldMap())
    assert result.rejected == 0
    es.index(
        index="anchor-check", refresh="wait_for",
        document={"@timestamp": "9999-12-31T23:59:59Z", "message": "x", "log": {"level": "error"}},
    )  # fmt: skip
    from_file = cli.json("triage", "-s", str(small_file), "--since", "5m", "--no-llm")
    from_es = cli.json(
        *es_args(es_url, "anchor-check", "--since", "5m", "--until", "latest", "--no-llm")
    )
    assert from_es["window"] == from_file["window"]


@pytest.mark.skipif(not (FIXTURES / "checkout_db_pool.jsonl.gz").exists(), reason="no fixture")
def test_parity_recorded_fixture(cli: Cli, es_url: str, tmp_path: Path) -> None:
    fixture = str(FIXTURES / "checkout_db_pool.jsonl.gz")
    code, _, err = cli("load", fixture, "-i", "checkout", "--es-url", es_url, "-q")
    assert code == 0, err
    from_file = cli.json(
        "triage", "-s", fixture, "--since", "1h", "--state-dir", str(tmp_path / "s1")
    )
    from_es = cli.json(
        *es_args(
            es_url,
            "checkout",
            "--since",
            "1h",
            "--until",
            "latest",
            "--state-dir",
            str(tmp_path / "s2"),
        )
    )
    assert from_file["issues"] and from_file["totals"]["requests"] > 1000
    assert comparable(from_es) == comparable(from_file)


def test_reader_pushes_range_fields_and_slices_down(
    es_url: str, small: str, small_file: Path, proxy: Callable[..., Proxy]
) -> None:
    front = proxy(es_url)
    everything = list(FileSource(str(small_file), FieldMap()).read())
    newest = max(e.timestamp for e in everything)
    window = Window(newest - 600, newest + 0.001)
    source = ElasticsearchSource(
        EsConnection(front.url),
        small,
        FieldMap(),
        window,
        options=ReadOptions(page_size=250, slices=3),
    )
    events = list(source.read())

    expected = sorted((e.timestamp, e.message) for e in everything if e.timestamp in window)
    got = [(e.timestamp, e.message) for e in events if e.timestamp in window]
    assert sorted(got) == expected  # none lost, none twice
    assert [t for t, _ in got] == sorted(t for t, _ in got)
    assert len({e.origin for e in events}) == len(events)
    assert len(events) == len(expected) + 1  # plus the newest event before the range
    pages = [s for s in front.seen if s.path.split("?")[0] == "/_search" and s.json().get("pit")]
    assert len(pages) >= len(expected) // 250
    body = pages[0].json()
    assert body["sort"] == [{"_shard_doc": "asc"}]
    assert body["slice"]["max"] == 3 and body["size"] == 250
    includes = body["_source"]["includes"]
    assert "trace.id" in includes and "msg" in includes  # a candidate key, mapped as keyword
    assert "host" not in includes and "log" not in includes  # objects here: never usable
    bounds = body["query"]["bool"]["filter"][0]["range"]["@timestamp"]
    assert bounds["gte"] == int((window.start * 1000) // 1) and bounds["lte"] >= window.end * 1000
    assert any(s.method == "DELETE" and s.path.startswith("/_pit") for s in front.seen)


def _table_view(table: EventTable) -> dict[str, Any]:
    """What mining reads from a table, without the order of equal-time events."""
    found = table.aggregate(0.0, 0.0, 4e9, 1000)
    names = found.request_names
    shapes = sorted(
        (s.service, s.level_class, s.masked, s.fingerprint, s.count,
         sorted(RequestMap.from_buffers(s.requests, names).texts()),
         sorted((text, origin, ts) for _, text, origin, ts, _ in s.samples))
        for s in found.shapes
    )  # fmt: skip
    return {"shapes": shapes, "events": found.events, "requests": found.requests}


def test_native_pages_fill_the_table_as_python_reads_them(
    es: Elasticsearch, es_url: str, proxy: Callable[..., Proxy]
) -> None:
    docs: list[tuple[str | None, dict[str, Any]]] = []
    for n in range(40):
        at = f"2026-11-20T13:00:{n // 4:02d}Z"  # four documents share each second
        doc: dict[str, Any] = {"@timestamp": at, "message": f"GET /item/{n} took {n} ms",
                               "service": {"name": f"svc{n % 3}"}, "log": {"level": "info"},
                               "trace": {"id": f"req-{n % 7}"}}  # fmt: skip
        if n % 5 == 0:
            doc["log"]["level"] = "error"
            doc["error"] = {
                "stack_trace": f"java.lang.IllegalStateException: x\n\tat A.b(A.java:{n})"
            }
        if n % 9 == 0:
            doc["log"]["level"] = "NOTICE-ish"  # unknown: Python decides and counts it
        if n % 11 == 5:
            doc["trace"]["id"] = n + 0.5  # a float id: Python decides
        if n == 7:
            doc["message"] = "multi\nline"
        docs.append((None if n % 4 == 3 else f"mix-{n:06d}", doc))  # some ids are ES's own
    mapping = {"properties": {"trace": {"properties": {"id": {"type": "keyword"}}}}}
    es.indices.create(index="native-mix", mappings=mapping)
    for doc_id, doc in docs:
        es.index(index="native-mix", id=doc_id, document=doc)
    es.indices.refresh(index="native-mix")
    front = proxy(es_url)

    def source() -> ElasticsearchSource:
        window = Window(parse_timestamp("2026-11-20T13:00:02Z"), 4e9)
        options = ReadOptions(page_size=3, slices=2)
        return ElasticsearchSource(EsConnection(front.url), "native-mix", FieldMap(), window,
                                   options=options)  # fmt: skip

    native, natively = event_table(FieldMap(), "native-mix", threads=2), source()
    natively.fill(native)
    python, in_python = event_table(FieldMap(), "native-mix"), source()
    for seq, event in enumerate(in_python.read()):
        push_event(python, seq, event)
    assert native.rows == python.rows == 40 - 8 + 1  # the newest event before the range too
    assert _table_view(native) == _table_view(python)
    assert natively.stats == in_python.stats
    assert natively.stats.unknown_levels == {"NOTICE-ish": 4}
    pages = [s for s in front.seen if s.path.startswith("/_search?filter_path=")]
    assert pages and all("hits.hits._source" in s.path for s in pages)


def test_whole_source_when_the_mapping_has_nothing_else(
    es: Elasticsearch, es_url: str, proxy: Callable[..., Proxy]
) -> None:
    es.index(index="lean", document={"@timestamp": "2026-11-20T13:00:00Z", "message": "m"},
             refresh=True)  # fmt: skip
    front = proxy(es_url)
    source = ElasticsearchSource(EsConnection(front.url), "lean", FieldMap(), Window(0, 4e9))
    assert [e.message for e in source.read()] == ["m"]
    pages = [s for s in front.seen if s.path.split("?")[0] == "/_search" and s.json().get("pit")]
    assert pages[0].json()["_source"] is True  # filtering would cut nothing


def test_query_narrows_the_read(cli: Cli, es_url: str, small: str) -> None:
    report = cli.json(
        *es_args(
            es_url,
            small,
            "--until",
            "latest",
            "--since",
            "10m",
            "--query",
            "service.name:legacy OR app:legacy",
        )
    )
    assert report["totals"]["services"] == ["legacy"]
    assert report["totals"]["events"] == 3


def test_max_events_is_a_loud_warning(cli: Cli, es_url: str, small: str) -> None:
    report = cli.json(
        *es_args(es_url, small, "--until", "latest", "--max-events", "500", "--page-size", "300")
    )
    assert report["warnings"][0].startswith("STOPPED AT --max-events 500 of ")
    assert report["totals"]["events"] + report["totals"]["outside_window"] <= 501


def test_retries_429_with_backoff(es_url: str, small: str, proxy: Callable[..., Proxy]) -> None:
    refusals = iter(range(2))

    def busy(method: str, path: str, body: bytes) -> tuple[int, bytes] | None:
        if path.startswith("/_search") and next(refusals, None) is not None:
            return _error(429, "es_rejected_execution_exception", "rejected execution")
        return None

    front = proxy(es_url, busy)
    window = Window(0, 4e9)
    options = ReadOptions(page_size=5000, slices=1, retries=2, backoff=0.05)
    source = ElasticsearchSource(
        EsConnection(front.url), small, FieldMap(), window, options=options
    )
    assert len(list(source.read())) == source.stats.read > 5000
    front.answer = lambda m, p, b: (
        _error(429, "es_rejected_execution_exception", "busy")
        if (p.startswith("/_search"))
        else None
    )
    again = ElasticsearchSource(EsConnection(front.url), small, FieldMap(), window, options=options)
    with pytest.raises(SourceUnavailable, match="429 es_rejected_execution_exception"):
        list(again.read())


def test_without_point_in_time_it_falls_back(
    cli: Cli, es_url: str, small: str, proxy: Callable[..., Proxy], tmp_path: Path
) -> None:
    def no_pit(method: str, path: str, body: bytes) -> tuple[int, bytes] | None:
        if "/_pit" in path.split("?")[0]:
            return 404, orjson.dumps({"error": f"no handler found for uri [{path}]", "status": 404})
        return None

    front = proxy(es_url, no_pit)
    args = ("--since", "5m", "--until", "latest", "--page-size", "400")
    direct = cli.json(*es_args(es_url, small, *args, "--state-dir", str(tmp_path / "s1")))
    fallback = cli.json(*es_args(front.url, small, *args, "--state-dir", str(tmp_path / "s2")))
    assert "has no point in time (404" in fallback["warnings"][0]
    assert fallback["issues"] == direct["issues"]
    assert fallback["totals"] == direct["totals"]


# --- faults --------------------------------------------------------------------------------


def test_unreachable(cli: Cli) -> None:
    code, out, err = cli(*es_args("http://127.0.0.1:9", "logs-*", "-q", "--es-retries", "0"))
    assert code == 4 and out == ""
    one_error_line(err, "Elasticsearch at http://127.0.0.1:9 did not answer", "refused")


def test_wrong_credentials(
    cli: Cli, proxy: Callable[..., Proxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = proxy(None, lambda m, p, b: _error(401, "security_exception", "unable to authenticate"))
    code, _, err = cli(*es_args(stub.url, "logs-*", "-q", "--es-api-key", "a2V5OnNlY3JldA=="))
    assert code == 2
    one_error_line(err, f"Elasticsearch at {stub.url} refused the credentials (401)")
    assert stub.seen[0].headers["authorization"] == "ApiKey a2V5OnNlY3JldA=="

    code, _, err = cli(*es_args(stub.url, "logs-*", "-q", "--es-user", "bob"))
    assert code == 2
    one_error_line(err, "--es-user needs the password in the LOGSENSE_ES_PASSWORD variable")
    monkeypatch.setenv("LOGSENSE_ES_PASSWORD", "hunter2")
    code, _, err = cli(*es_args(stub.url, "logs-*", "-q", "--es-user", "bob"))
    assert code == 2 and "refused the credentials" in err
    assert stub.seen[-1].headers["authorization"] == "Basic Ym9iOmh1bnRlcjI="


def test_missing_index(cli: Cli, es_url: str) -> None:
    code, _, err = cli(*es_args(es_url, "nope", "-q"))
    assert code == 3
    one_error_line(err, f"no index 'nope' in Elasticsearch at {es_url}")
    code, _, err = cli(*es_args(es_url, "nope-*", "-q"))
    assert code == 3
    one_error_line(err, "no index matches 'nope-*'")


def test_no_documents_in_the_window(cli: Cli, es_url: str, small: str) -> None:
    code, out, err = cli(*es_args(es_url, small, "-q", "--until", "2020-01-01T00:00:00Z"))
    assert code == 3 and out == ""
    one_error_line(
        err,
        f"no documents in {es_url}/{small} between 2019-12-31T22:00:00.000Z and "
        "2020-01-01T00:00:00.000Z",
        "its newest document is from 2026-",
        "--until latest",
    )


def test_mapping_without_the_configured_fields(cli: Cli, es: Elasticsearch, es_url: str) -> None:
    es.index(index="no-time", document={"ts": "2026-11-20T13:00:00Z", "message": "x"}, refresh=True)
    code, _, err = cli(*es_args(es_url, "no-time", "-q"))
    assert code == 3
    one_error_line(
        err, "'no-time' has no field '@timestamp'", "--field timestamp=KEY", "its date fields: ts"
    )
    es.indices.create(
        index="text-time", mappings={"properties": {"@timestamp": {"type": "keyword"}}}
    )
    code, _, err = cli(*es_args(es_url, "text-time", "-q"))
    one_error_line(err, "'@timestamp' is mapped as keyword in 'text-time', not as a date")
    es.index(
        index="no-message",
        document={"@timestamp": "2026-11-20T13:00:00Z", "text": "x"},
        refresh=True,
    )
    code, _, err = cli(*es_args(es_url, "no-message", "-q"))
    one_error_line(err, "'no-message' has no message field (tried: message, msg, log")


def test_usage_errors(cli: Cli, es_url: str, tmp_path: Path) -> None:
    code, _, err = cli("triage", "-q")
    assert code == 2
    one_error_line(err, "give --source FILE (or - for stdin), or --index")
    code, _, err = cli(*es_args(es_url, "x", "-s", "f.jsonl", "-q"))
    one_error_line(err, "give --source or --index, not both")
    code, _, err = cli(*es_args(es_url, "x", "-q", "--es-ca-cert", str(tmp_path / "ca.pem")))
    assert code == 2
    one_error_line(err, "--es-ca-cert: no such file")
    code, _, err = cli(*es_args("ftp://x", "x", "-q"))
    one_error_line(err, "--es-url must be an http(s) URL")
    code, _, err = cli(*es_args(es_url, "x", "-q", "--page-size", "20000"))
    one_error_line(err, "--page-size must be 1..10000")


def test_insecure_warns(cli: Cli, es_url: str, small: str) -> None:
    code, _, err = cli(
        *es_args(es_url, small, "--until", "latest", "-q", "--es-insecure", "-f", "json")
    )
    assert code == 0, err
    assert "logsense: warning: --es-insecure: TLS certificates are not verified" in err


def test_node_dying_mid_read(
    cli: Cli, small_file: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    node = start_node(log_path=tmp_path / "doomed.log")
    with node:
        load_file(EsConnection(node.url), str(small_file), "doomed", FieldMap())
        killer = threading.Thread(target=_kill_after_searches, args=(node, 5), daemon=True)
        killer.start()
        code, out, err = cli(
            *es_args(
                node.url,
                "doomed",
                "--until",
                "latest",
                "--since",
                "1h",
                "--page-size",
                "5",
                "--slices",
                "1",
                "--es-retries",
                "1",
                "--full-read",
                "-q",
                "-f",
                "json",
            )
        )
        killer.join(timeout=10)
    assert not node.is_running()
    assert code == 4 and out == ""
    one_error_line(
        err,
        f"Elasticsearch at {node.url} did not answer while reading 'doomed' (after ",
        "no report was made",
    )


def _kill_after_searches(node: EsNode, pages: int) -> None:
    """SIGKILL the node once it has served `pages` search requests."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        url = f"{node.url}/_nodes/stats/indices/search?filter_path=**.query_total"
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                stats = orjson.loads(resp.read())
        except urllib.error.URLError:
            return
        total = sum(n["indices"]["search"]["query_total"] for n in stats["nodes"].values())
        if total >= pages:
            node.process.kill()
            return
        time.sleep(0.02)


def test_load_from_stdin(cli: Cli, es: Elasticsearch, es_url: str) -> None:
    lines = b"\n".join(
        orjson.dumps({"@timestamp": f"2026-11-20T13:00:0{i}Z", "message": f"m{i}"}) for i in (1, 2)
    )
    code, _, err = cli("load", "-", "-i", "from-stdin", "--es-url", es_url, "-q", input=lines)
    assert code == 0, err
    assert "loaded 2 documents from stdin" in err
    assert es.count(index="from-stdin")["count"] == 2
