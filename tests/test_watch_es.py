"""`logsense watch --index` against the real Elasticsearch 8.14.3 test node: incremental reads
with search_after (each document once, ties and late arrivals included), an index that
disappears, a node that cannot be reached, and a generated incident indexed as it happens.

The node is reached through a TCP relay where a test needs it to go away and come back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from elasticsearch import Elasticsearch, helpers
from esnode import EsNode
from tcp_relay import Relay
from worlds import Feed, events_and_truth, incident_world, seconds

from logsense.analyze.embed import Embedder
from logsense.config import FieldMap, load_settings
from logsense.model import Event, Issue, Pattern
from logsense.sources.elasticsearch import EsConnection
from logsense.state import state_dir
from logsense.watch import ManualClock, Rules, Watcher, WatchOptions, WatchStore
from logsense.watch.esfollow import EsFollower

pytestmark = pytest.mark.es

BASE = 1_800_000_000.0  # 2027-01-15T08:00:00Z
MIN = 60.0


@pytest.fixture(scope="module")
def es(es_node: EsNode) -> Iterator[Elasticsearch]:
    client = Elasticsearch(es_node.url, request_timeout=30)
    yield client
    client.close()


def create(es: Elasticsearch, index: str, shards: int = 2) -> None:
    es.options(ignore_status=404).indices.delete(index=index)
    es.indices.create(
        index=index,
        settings={"number_of_shards": shards, "number_of_replicas": 0},
        mappings={"properties": {"@timestamp": {"type": "date"}}},
    )


def doc(at: float, n: int) -> dict[str, Any]:
    stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
    return {
        "@timestamp": stamp.replace("+00:00", "Z"), "message": f"request {n} done",
        "log": {"level": "info"}, "service": {"name": "svc"}, "trace": {"id": f"t{n}"},
    }  # fmt: skip


def put(es: Elasticsearch, index: str, docs: dict[str, dict[str, Any]]) -> None:
    actions = [{"_index": index, "_id": key, "_source": body} for key, body in docs.items()]
    helpers.bulk(es, actions, refresh=True)


def read(follower: EsFollower, now: float, floor: float = BASE - 3600) -> list[Event]:
    events: list[Event] = []
    follower.poll(now, floor, events.extend)
    return events


def test_each_document_is_read_once_ties_and_late_arrivals_included(
    es: Elasticsearch, es_node: EsNode
) -> None:
    index = "watch-once"
    create(es, index)
    # Ten documents in one millisecond (more than three pages of three), then five more.
    first = {f"tie{n}": doc(BASE, n) for n in range(10)}
    first |= {f"later{n}": doc(BASE + 1 + n, 100 + n) for n in range(5)}
    put(es, index, first)
    follower = EsFollower(EsConnection(es_node.url), index, FieldMap(), page_size=3, late=60)
    got = read(follower, BASE + 10)
    assert sorted(e.origin for e in got) == sorted(f"{index}/{key}" for key in first)
    # New documents, two that reach the index late (30 s behind the newest read), and one
    # that comes two minutes late: beyond what is waited for.
    second = {f"new{n}": doc(BASE + 20 + n, 200 + n) for n in range(4)}
    second |= {"late1": doc(BASE - 25, 300), "late2": doc(BASE - 20, 301)}
    put(es, index, {**second, "too-late": doc(BASE - 120, 302)})
    got = read(follower, BASE + 30)
    assert sorted(e.origin for e in got) == sorted(f"{index}/{key}" for key in second)
    assert read(follower, BASE + 40) == []
    # Documents stamped after "now" are read when now has passed them, once.
    put(es, index, {"future": doc(BASE + 100, 400)})
    assert read(follower, BASE + 50) == []
    assert [e.origin for e in read(follower, BASE + 101)] == [f"{index}/future"]
    follower.close()


def fixed_report(at: float) -> Any:
    pattern = Pattern(id="p1", service="checkout", level="error", template="boom <*>")
    issue = Issue("i1", [pattern], pattern, "", 10, 5, 0.3, None, at - 60, at,
                  severity="critical", status="ongoing")  # fmt: skip
    return SimpleNamespace(issues=[issue], warnings=[])


@pytest.fixture
def watcher_for(tmp_path: Path) -> Iterator[Any]:
    """A function making a watcher over an EsFollower on a ManualClock (a fixed report)."""
    opened: list[Any] = []

    def make(follower: EsFollower, clock: ManualClock) -> Watcher:
        settings = load_settings(None, state_dir=tmp_path / "state")
        store_cm = WatchStore.open(state_dir(tmp_path / "state"), "default")
        opened.append(store_cm)
        options = WatchOptions(every=60, rules=Rules(unreachable_after=2 * MIN, confirm_ticks=1))
        return Watcher(
            follower, settings, options, store_cm.__enter__(), clock=clock, sinks=["stdout"],
            analyze=lambda s, spec, now: fixed_report(now),
        )  # fmt: skip

    yield make
    for store_cm in opened:
        store_cm.__exit__(None, None, None)


def kinds(watcher: Watcher, clock: ManualClock, ticks: int) -> list[str]:
    found: list[str] = []
    for _ in range(ticks):
        clock.advance(MIN)
        found += [a["kind"] for a in watcher.tick().alerts]
    return found


def test_an_index_that_disappears_is_alerted_once_and_its_return_once(
    es: Elasticsearch, es_node: EsNode, watcher_for: Any
) -> None:
    index = "watch-gone"
    create(es, index)
    clock = ManualClock(BASE)
    put(es, index, {"a": doc(BASE - 30, 1)})
    watcher = watcher_for(EsFollower(EsConnection(es_node.url), index, FieldMap()), clock)
    assert [a["kind"] for a in watcher.tick().alerts] == ["new"]
    es.indices.delete(index=index)
    assert kinds(watcher, clock, 6) == ["source_unavailable"]
    error = watcher.state.source.error or ""
    assert f"no index '{index}'" in error
    create(es, index)
    put(es, index, {"b": doc(clock.now() + 30, 2)})
    assert kinds(watcher, clock, 2) == ["source_recovered"]


def test_a_node_that_cannot_be_reached_is_alerted_once_and_recovers(
    es: Elasticsearch, es_node: EsNode, watcher_for: Any
) -> None:
    index = "watch-cut"
    create(es, index)
    relay = Relay(("127.0.0.1", es_node.port))
    try:
        clock = ManualClock(BASE)
        put(es, index, {"a": doc(BASE - 30, 1)})
        connection = EsConnection(relay.url, request_timeout=5)
        follower = EsFollower(connection, index, FieldMap(), retries=0)
        watcher = watcher_for(follower, clock)
        watcher.tick()
        relay.cut()
        assert kinds(watcher, clock, 5) == ["source_unavailable"]
        assert "did not answer" in (watcher.state.source.error or "")
        relay.restore()
        put(es, index, {"b": doc(clock.now() + 30, 2)})
        assert kinds(watcher, clock, 2) == ["source_recovered"]
    finally:
        relay.close()


def test_an_incident_indexed_as_it_happens_is_alerted(
    es: Elasticsearch, es_node: EsNode, tmp_path: Path, embedder: Embedder
) -> None:
    scenario = incident_world(5, 34, 0.8)
    scenario.incidents[0].start_minute, scenario.incidents[0].end_minute = 26.0, 34.0
    events, world = events_and_truth(scenario, 5)
    feed, began = Feed(events), seconds(world.incidents[0].start)
    index = "watch-world"
    create(es, index, shards=1)
    written = 0

    def index_until(moment: float) -> None:
        nonlocal written
        chunk = feed.until(moment)
        put(es, index, {f"e{written + n}": e for n, e in enumerate(chunk)})
        written += len(chunk)

    # The quiet 25 minutes are there when the watcher starts; then it ticks every 2 minutes
    # while the incident's events are indexed.
    clock = ManualClock(began - MIN)
    index_until(clock.now())
    settings = load_settings(None, state_dir=tmp_path / "state", llm={"enabled": False})
    follower = EsFollower(EsConnection(es_node.url), index, settings.fields, page_size=500)
    alerts: list[dict[str, Any]] = []
    with WatchStore.open(state_dir(tmp_path / "state"), "default") as store:
        watcher = Watcher(follower, settings, WatchOptions(every=2 * MIN), store, clock=clock,
                          sinks=["stdout"], embedder=embedder)  # fmt: skip
        while True:
            outcome = watcher.tick()
            assert outcome.error is None
            alerts += outcome.alerts
            if clock.now() > began + 6 * MIN:
                break
            clock.advance(2 * MIN)
            index_until(clock.now())
    follower.close()
    assert watcher.metrics.events_read._value.get() == written == feed.next
    assert alerts, "no alert"
    first = alerts[0]
    assert seconds(first["at"]) > began  # nothing before the incident
    assert first["kind"] == "new" and first["issue"]["root_cause"]["service"] == "checkout"
    assert seconds(first["at"]) - began <= 6 * MIN  # three ticks: at the bar in two in a row
    assert first["watch"]["source"] == f"{es_node.url}/{index}"
