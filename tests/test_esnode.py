"""The embedded Elasticsearch 8.14.3 test node works for what logsense needs from Elasticsearch.

Index with a mapping, bulk, point in time + ``search_after`` on ``_shard_doc`` with a range query,
terms/date_histogram/cardinality aggregations and composable index templates.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch, helpers
from esnode import EsNode, start_node, unavailable_reason

_REASON = unavailable_reason()
pytestmark = [
    pytest.mark.es,
    pytest.mark.skipif(_REASON is not None, reason=f"Elasticsearch test node: {_REASON}"),
]

INDEX = "logsense-esnode-test"
N_DOCS = 300
START = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
SERVICES = ("api", "db", "worker")
N_HOSTS = 7
MAPPING: dict[str, Any] = {
    "properties": {
        "@timestamp": {"type": "date"},
        "service": {"properties": {"name": {"type": "keyword"}}},
        "log": {"properties": {"level": {"type": "keyword"}}},
        "host": {"properties": {"name": {"type": "keyword"}}},
        "trace": {"properties": {"id": {"type": "keyword"}}},
        "message": {
            "type": "text",
            "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}},
        },
    }
}


def _doc(i: int) -> dict[str, Any]:
    """Doc i: one every 10 s from START, services round-robin, every 5th an ERROR."""
    level = "ERROR" if i % 5 == 0 else "INFO"
    return {
        "@timestamp": (START + timedelta(seconds=10 * i)).isoformat().replace("+00:00", "Z"),
        "service": {"name": SERVICES[i % len(SERVICES)]},
        "log": {"level": level},
        "host": {"name": f"host-{i % N_HOSTS}"},
        "trace": {"id": f"trace-{i:04d}"},
        "message": f"request {i} failed: upstream timeout after 30s"
        if level == "ERROR"
        else f"request {i} served in {i % 50} ms",
    }


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EsNode]:
    """One node for this module; its log is kept under pytest's tmp dir."""
    log = tmp_path_factory.mktemp("esnode") / "node.log"
    with start_node(log_path=log) as running:
        yield running


@pytest.fixture(scope="module")
def es(node: EsNode) -> Iterator[Elasticsearch]:
    """A client with the test index created and filled with N_DOCS documents."""
    client = Elasticsearch(node.url, request_timeout=30)
    client.indices.create(
        index=INDEX,
        settings={"number_of_shards": 2, "number_of_replicas": 0},
        mappings=MAPPING,
    )
    ok, errors = helpers.bulk(
        client,
        ({"_index": INDEX, "_id": str(i), "_source": _doc(i)} for i in range(N_DOCS)),
        refresh="wait_for",
    )
    assert ok == N_DOCS
    assert not errors
    yield client
    client.close()


def test_health_and_missing_root_endpoint(node: EsNode, es: Elasticsearch) -> None:
    health = es.cluster.health(wait_for_status="green", timeout="10s")
    assert health["number_of_nodes"] == 1
    assert health["status"] == "green"
    # GET / (rest-root module) is not on Maven Central: ping() is False on this node.
    assert es.ping() is False
    assert es.count(index=INDEX)["count"] == N_DOCS


def test_pit_search_after_shard_doc_with_range(es: Elasticsearch) -> None:
    lo, hi = START + timedelta(minutes=10), START + timedelta(minutes=40)
    expected = {str(i) for i in range(N_DOCS) if lo <= START + timedelta(seconds=10 * i) < hi}
    assert len(expected) == 180

    pit = es.open_point_in_time(index=INDEX, keep_alive="1m")
    pit_id: str = pit["id"]
    seen: list[str] = []
    pages = 0
    search_after: list[Any] | None = None
    try:
        while True:
            kwargs: dict[str, Any] = {}
            if search_after is not None:
                kwargs["search_after"] = search_after
            resp = es.search(
                pit={"id": pit_id, "keep_alive": "1m"},
                size=50,
                sort=[{"_shard_doc": "asc"}],
                query={
                    "range": {
                        "@timestamp": {"gte": lo.isoformat(), "lt": hi.isoformat()},
                    }
                },
                source_includes=["@timestamp"],
                track_total_hits=False,
                **kwargs,
            )
            pit_id = resp.get("pit_id", pit_id)
            hits = resp["hits"]["hits"]
            if not hits:
                break
            pages += 1
            seen.extend(h["_id"] for h in hits)
            search_after = hits[-1]["sort"]
    finally:
        closed = es.close_point_in_time(id=pit_id)
    assert closed["succeeded"] is True
    assert pages == 4  # 50 + 50 + 50 + 30
    assert len(seen) == len(set(seen)) == 180
    assert set(seen) == expected


def test_aggregations(es: Elasticsearch) -> None:
    resp = es.search(
        index=INDEX,
        size=0,
        query={"term": {"log.level": "ERROR"}},
        aggs={
            "services": {"terms": {"field": "service.name", "size": 10}},
            "per_10m": {
                "date_histogram": {"field": "@timestamp", "fixed_interval": "10m"},
                "aggs": {"hosts": {"cardinality": {"field": "host.name"}}},
            },
            "hosts": {"cardinality": {"field": "host.name"}},
            "messages": {"terms": {"field": "message.keyword", "size": 3}},
        },
    )
    aggs = resp["aggregations"]
    assert resp["hits"]["total"]["value"] == N_DOCS // 5
    assert {b["key"]: b["doc_count"] for b in aggs["services"]["buckets"]} == {
        "api": 20,
        "db": 20,
        "worker": 20,
    }
    buckets = aggs["per_10m"]["buckets"]
    assert [b["doc_count"] for b in buckets] == [12] * 5
    assert buckets[0]["key_as_string"].startswith("2026-11-20T12:00:00")
    assert all(b["hosts"]["value"] == N_HOSTS for b in buckets)
    assert aggs["hosts"]["value"] == N_HOSTS
    assert len(aggs["messages"]["buckets"]) == 3

    # full text on the standard analyzer (server core; analysis-common is absent)
    text = es.search(index=INDEX, size=0, query={"match": {"message": "upstream timeout"}})
    assert text["hits"]["total"]["value"] == N_DOCS // 5


def test_composable_index_template(es: Elasticsearch) -> None:
    name = "logsense-esnode-test-template"
    es.indices.put_index_template(
        name=name,
        index_patterns=["logsense-tpl-*"],
        priority=500,
        template={
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": MAPPING,
        },
    )
    try:
        got = es.indices.get_index_template(name=name)
        assert got["index_templates"][0]["name"] == name
        es.index(index="logsense-tpl-2026.11.20", document=_doc(1), refresh="wait_for")
        mapping = es.indices.get_mapping(index="logsense-tpl-2026.11.20")
        props = mapping["logsense-tpl-2026.11.20"]["mappings"]["properties"]
        assert props["@timestamp"]["type"] == "date"
        assert props["service"]["properties"]["name"]["type"] == "keyword"
        assert props["message"]["fields"]["keyword"]["type"] == "keyword"
    finally:
        es.indices.delete(index="logsense-tpl-2026.11.20", ignore_unavailable=True)
        es.indices.delete_index_template(name=name)
