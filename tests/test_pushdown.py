"""Pushdown against the real node: the events that can form an issue are read in full, the rest
by a request sample, totals from aggregations; the answers stay those of a full read."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from esnode import EsNode

from logsense.config import FieldMap
from logsense.model import Pattern, Sampling, Totals
from logsense.requestmap import RequestSet
from logsense.sources.elasticsearch import ElasticsearchSource, EsConnection
from logsense.sources.pushdown import (
    Pushdown,
    Sample,
    choose_last_ending,
    ending_inside,
    hops_inside,
)
from logsense.sources.records import event_table
from logsense.sources.window import WindowSpec
from tests.conftest import FIXTURES, Cli

CHECKOUT = FIXTURES / "checkout_db_pool.jsonl.gz"
pytestmark = pytest.mark.skipif(not CHECKOUT.exists(), reason="no checkout fixture")


@pytest.fixture(scope="module")
def es_url(es_node: EsNode) -> str:
    return es_node.url


@pytest.fixture(scope="module")
def checkout(cli: Cli, es_url: str) -> str:
    """The checkout incident loaded into its own index (once per module)."""
    code, _, err = cli("load", str(CHECKOUT), "-i", "pushdown-checkout", "--es-url", es_url, "-q")
    assert code == 0, err
    return "pushdown-checkout"


def _triage(cli: Cli, url: str, index: str, state: Path, *more: str) -> dict[str, Any]:
    return cli.json(
        "triage", "--index", index, "--es-url", url, "--since", "1h", "--until", "latest",
        "--no-llm", "--state-dir", str(state), *more,
    )  # fmt: skip


def test_a_sampled_read_gives_the_full_reads_answers(
    cli: Cli, es_url: str, checkout: str, tmp_path: Path
) -> None:
    full = _triage(cli, es_url, checkout, tmp_path / "full", "--full-read")
    pushed = _triage(cli, es_url, checkout, tmp_path / "pushed", "--sample-events", "5000")
    sampling = pushed["totals"]["sampling"]
    assert full["totals"]["sampling"] is None
    assert sampling is not None and 0.03 < sampling["rate"] < 0.3
    assert sampling["read_in_full"] + sampling["read_sampled"] < 0.6 * sampling["documents"]
    assert any(w.startswith("pushdown: read in full the ") for w in pushed["warnings"])
    # Documents and distinct requests are counted by Elasticsearch, exactly at this size.
    for key in ("events", "requests", "users", "services"):
        assert pushed["totals"][key] == full["totals"][key], key
    top_full, top_pushed = full["issues"][0], pushed["issues"][0]
    assert top_pushed["root_cause"] == top_full["root_cause"]
    # Its patterns were read in full: its share and requests are exact.
    assert top_pushed["share_of_requests"] == top_full["share_of_requests"]
    assert top_pushed["requests_affected"] == top_full["requests_affected"]
    assert len(_errors(full) & _errors(pushed)) >= len(_errors(full)) - 1


def _errors(report: dict[str, Any]) -> set[str]:
    """The root patterns of the issues above low severity."""
    return {i["root_cause"]["pattern_id"] for i in report["issues"] if i["severity"] != "low"}


def test_a_small_range_is_read_in_full(
    cli: Cli, es_url: str, checkout: str, tmp_path: Path
) -> None:
    pushed = _triage(cli, es_url, checkout, tmp_path / "a")
    full = _triage(cli, es_url, checkout, tmp_path / "b", "--full-read")
    assert pushed["totals"]["sampling"] is None
    assert {**pushed, "source": None} == {**full, "source": None}


def test_the_sample_is_the_requests_whose_ids_end_as_chosen(es_url: str, checkout: str) -> None:
    client = Elasticsearch(es_url, request_timeout=30)
    ids = [
        b["key"]
        for b in client.search(
            index=checkout, size=0,
            aggs={"ids": {"terms": {"field": "trace.id", "size": 20_000}}},
        )["aggregations"]["ids"]["buckets"]
    ]  # fmt: skip
    sample = Sample(("trace.id",), choose_last_ending(ids[:500], 0.1), 0.1)
    members = sample.members(ids)
    assert 0.04 < members.mean() < 0.2
    assert _selected(client, checkout, sample) == {
        i for i, m in zip(ids, members, strict=True) if m
    }


def _selected(client: Elasticsearch, index: str, sample: Sample) -> set[str]:
    """The request ids of the documents the node selects by the sample's filter."""
    found = client.search(
        index=index, size=0, query={"bool": {"filter": [sample.by_id()]}},
        aggs={"ids": {"terms": {"field": "trace.id", "size": 20_000}}},
    )["aggregations"]["ids"]["buckets"]  # fmt: skip
    return {b["key"] for b in found}


def test_the_node_selects_the_ids_this_process_counts_inside_whatever_they_hold(
    es_url: str,
) -> None:
    client = Elasticsearch(es_url, request_timeout=30)
    index = "pushdown-odd-ids"
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    rng = random.Random(7)
    ids = ["".join(rng.choices(alphabet, k=21)) for _ in range(3_000)]  # nanoid-like
    ids += ["a", "", "x-\\", "x-]", "y^[", "d\\d", "z\n", "\x01a", "a b", "é€", "ab\U0001f600"]
    ids += [f"req-{n:06d}" for n in range(200)] + ["q.d", "w*", "1-", "-]"]
    client.indices.create(
        index=index, mappings={"properties": {"trace.id": {"type": "keyword"}}}
    )  # fmt: skip
    client.bulk(
        index=index, refresh=True,
        operations=[line for i in ids for line in ({"index": {}}, {"trace.id": i})],
    )  # fmt: skip
    for rate in (0.01, 0.3, 0.6, 0.97):
        sample = Sample(("trace.id",), choose_last_ending(ids[:1000], rate), rate)
        inside = {i for i, m in zip(ids, sample.members(ids), strict=True) if m}
        assert abs(len(inside) / len(ids) - rate) < 0.08, rate
        assert _selected(client, index, sample) == inside, rate
        regex = sample.by_id()["bool"]["should"][0]["bool"]["filter"][0]["regexp"]
        assert len(regex["trace.id"]["value"]) < 40  # far below index.max_regex_length


def test_the_last_ending_reaches_the_rate() -> None:
    ids = [f"{n:032x}" for n in range(0, 10_000 * 7919, 7919)]
    last = choose_last_ending(ids, 0.25)
    share = sum(ending_inside(i, last) for i in ids) / len(ids)
    assert 0.24 <= share <= 0.27
    assert sum(ending_inside(i, choose_last_ending(ids, 1e-9)) for i in ids) >= 1
    assert not ending_inside("a", "zz") and not ending_inside("z\x01", "zz")
    assert ending_inside("x\x01", "yz") and ending_inside("a ", "a ")


def test_a_level_it_cannot_aggregate_makes_it_read_in_full(
    cli: Cli, es_url: str, tmp_path: Path
) -> None:
    client = Elasticsearch(es_url, request_timeout=30)
    index = "pushdown-text-level"
    client.indices.create(
        index=index,
        mappings={"properties": {
            "@timestamp": {"type": "date"}, "message": {"type": "text"},
            "level": {"type": "text"}, "trace.id": {"type": "keyword"},
        }},
    )  # fmt: skip
    docs = [
        {"@timestamp": f"2026-11-21T10:{n // 60:02d}:{n % 60:02d}Z", "level": "info",
         "message": f"served item {n}", "trace.id": f"r{n:04d}"}
        for n in range(40)
    ]  # fmt: skip
    for n, doc in enumerate(docs):
        client.index(index=index, id=str(n), document=doc)
    client.indices.refresh(index=index)
    report = _triage(cli, es_url, index, tmp_path, "--sample-events", "10")
    assert report["totals"]["sampling"] is None and report["totals"]["events"] == 40
    assert any(
        w.startswith("read in full, not pushed down: the level field 'level' cannot be aggregated")
        for w in report["warnings"]
    ), report["warnings"]


def test_hops_keep_only_the_gaps_of_requests_inside_the_sample() -> None:
    members = RequestSet.of(["r1", "r3"])
    ids = {name: int(RequestSet.of([name]).ids[0]) for name in ("r1", "r2", "r3")}
    hops = [(0, 1, 3, 2, [(0.1, ids["r1"]), (0.2, ids["r2"]), (0.3, None)], [(0.4, ids["r3"])])]
    assert hops_inside(hops, members) == [(0, 1, 3, 2, [(0.1, ids["r1"])], [(0.4, ids["r3"])])]
    assert hops_inside(hops, RequestSet.empty()) == [(0, 1, 3, 2, [], [])]


def test_sampled_patterns_are_counted_against_the_sample() -> None:
    sampled, full = Pattern("a", "svc", "info", "served <*>"), Pattern("b", "svc", "error", "x")
    sampling = Sampling(
        rate=0.1, requests=90, baseline_requests=80, events=400, baseline_events=350,
        members=RequestSet.of(["r1"]), patterns=frozenset({"a"}),
    )  # fmt: skip
    totals = Totals(
        events=4000, requests=1000, baseline_events=3600, baseline_requests=900,
        sampling=sampling, estimated={"requests": "HyperLogLog++"},
    )  # fmt: skip
    assert totals.within([full]) is totals
    inside = totals.within([full, sampled])
    assert (inside.requests, inside.baseline_requests) == (90, 80)
    assert (inside.events, inside.baseline_events) == (400, 350)
    assert totals.requests_label == "≈1,000 requests"
    assert Totals(requests=1000).requests_label == "1,000 requests"


def test_an_aggregation_the_cluster_rejects_makes_it_read_in_full(
    cli: Cli, es_url: str, checkout: str, tmp_path: Path
) -> None:
    client = Elasticsearch(es_url, request_timeout=30)
    client.cluster.put_settings(transient={"search.max_buckets": 10})
    try:
        report = _triage(cli, es_url, checkout, tmp_path, "--sample-events", "5000")
        rejected_read = _read(es_url, checkout, Pushdown(budget=5000))
    finally:
        client.cluster.put_settings(transient={"search.max_buckets": None})
    assert rejected_read == _read(es_url, checkout, None)
    assert report["totals"]["sampling"] is None and report["issues"]
    rejected = [
        w
        for w in report["warnings"]
        if w.startswith("read in full, not pushed down: Elasticsearch rejected an aggregation")
        and "too_many_buckets_exception" in w
    ]
    assert rejected, report["warnings"]
    # Rejected before any event was read: nothing in the report, nothing counted twice.
    full = _triage(cli, es_url, checkout, tmp_path / "full", "--full-read")
    kept = [w for w in report["warnings"] if w not in rejected]
    assert {**report, "warnings": kept} == full


def _read(url: str, index: str, pushdown: Pushdown | None) -> tuple[int, int, bool]:
    """(rows, documents counted read, pushed down) of a fill of the last hour of `index`."""
    source, _ = ElasticsearchSource.for_window(
        EsConnection(url), index, FieldMap(), WindowSpec.from_options("1h", None, None),
        until_latest=True,
    )  # fmt: skip
    source.pushdown = pushdown
    table = event_table(FieldMap(), source.name)
    source.fill(table)
    return table.rows, source.stats.read, source.pushed is not None


def test_events_without_a_request_id_are_sampled_at_the_same_rate(es_url: str) -> None:
    client = Elasticsearch(es_url, request_timeout=30)
    index = "pushdown-idless"
    client.indices.create(
        index=index,
        mappings={"properties": {
            "@timestamp": {"type": "date"}, "message": {"type": "text"},
            "log.level": {"type": "keyword"}, "trace.id": {"type": "keyword"},
            "service.name": {"type": "keyword"},
        }},
    )  # fmt: skip
    lines = []
    for n in range(4_000):
        doc: dict[str, Any] = {
            "@timestamp": f"2026-11-21T10:{n // 100:02d}:{n % 100 * 0.6:06.3f}Z",
            "log.level": "info", "service.name": "api",
        }  # fmt: skip
        if n % 4:
            doc |= {"message": f"served order {n}", "trace.id": f"{n * 7919:016x}"}
        else:
            doc["message"] = f"heartbeat {n} ok"
        lines += [{"index": {"_id": str(n)}}, doc]
    client.bulk(index=index, operations=lines, refresh=True)
    source, _ = ElasticsearchSource.for_window(
        EsConnection(es_url), index, FieldMap(), WindowSpec.from_options("20m", None, None),
        until_latest=True,
    )  # fmt: skip
    source.pushdown = Pushdown(budget=400)
    table = event_table(FieldMap(), source.name)
    source.fill(table)
    pushed = source.pushed
    assert pushed is not None and pushed.sample.idless
    assert 300 <= pushed.sampled <= 500
    shapes = table.aggregate(0.0, 0.0, 4e9, 1).shapes
    beats = sum(s.count for s in shapes if s.masked.startswith("heartbeat"))
    assert 50 <= beats <= 160  # about a tenth of the 1,000


@pytest.mark.parametrize("status_type", ["long", "keyword"])
def test_server_errors_logged_at_info_are_read_in_full(es_url: str, status_type: str) -> None:
    client = Elasticsearch(es_url, request_timeout=30)
    index = f"pushdown-status-{status_type}"
    client.indices.create(
        index=index,
        mappings={"properties": {
            "@timestamp": {"type": "date"}, "message": {"type": "text"},
            "log.level": {"type": "keyword"}, "trace.id": {"type": "keyword"},
            "http.response.status_code": {"type": status_type},
        }},
    )  # fmt: skip
    lines = []
    for n in range(4_000):
        doc = {
            "@timestamp": f"2026-11-21T10:{n // 100:02d}:{n % 100 * 0.6:06.3f}Z",
            "log.level": "info", "message": f"served order {n}", "trace.id": f"{n * 7919:016x}",
            "http.response.status_code": 503 if n % 20 == 0 else 200,
        }  # fmt: skip
        lines += [{"index": {"_id": str(n)}}, doc]
    client.bulk(index=index, operations=lines, refresh=True)
    source, _ = ElasticsearchSource.for_window(
        EsConnection(es_url), index, FieldMap(), WindowSpec.from_options("20m", None, None),
        until_latest=True,
    )  # fmt: skip
    source.pushdown = Pushdown(budget=400)
    table = event_table(FieldMap(), source.name)
    source.fill(table)
    assert source.pushed is not None and source.pushed.in_full == 200
    shapes = table.aggregate(0.0, 0.0, 4e9, 1).shapes
    served = {s.level_class: s.count for s in shapes if s.masked.startswith("served order")}
    assert served["error"] == 200  # every 503, though logged at info
    assert 200 <= served["info"] <= 600  # a sample of the 3,800 others
