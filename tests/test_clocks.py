"""The logs' own clocks, end to end: the gaps between a request's events and the
durations events carry, in their messages or fields (`logsense/analyze/latency.py`)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from esnode import EsNode  # tests/ is on sys.path

from tests.conftest import Cli

START = 1_700_000_000.0


def write(path: Path, events: list[dict]) -> Path:
    events.sort(key=lambda e: e["@timestamp"])
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def event(at: float, service: str, message: str, request: str) -> dict:
    return {"@timestamp": at, "log": {"level": "info"}, "service": {"name": service},
            "message": message, "trace": {"id": request}}  # fmt: skip


def requests(slow_after: float, *, step: float, slow_step: float) -> list[dict]:
    """An hour of requests through a gateway and orders; orders' own work takes `step` seconds,
    `slow_step` once past `slow_after`."""
    rng, events = random.Random(7), []
    for i in range(1800):
        at, request = START + i * 2.0, f"r{i}"
        work = slow_step if at >= slow_after else step
        work *= rng.uniform(0.8, 1.2)
        events += [
            event(at, "gateway", "GET /api/orders/<id> received", request),
            event(at + 0.002, "orders", "loading order from the database", request),
            event(at + 0.002 + work, "orders", "order loaded", request),
            event(at + 0.004 + work, "gateway", "GET /api/orders/<id> answered", request),
        ]
    return events


def test_a_service_whose_own_work_slowed_is_the_root_cause(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path / "slow.jsonl", requests(START + 1800, step=0.010, slow_step=0.300))
    report = cli.json("triage", "-s", str(path), "--since", "30m", "--no-llm")
    top = report["issues"][0]
    assert top["kind"] == "slow" and top["root_cause"]["service"] == "orders"
    hop = top["slowed_hops"][0]
    assert hop["measure"] == "gap" and hop["from"]["service"] == hop["to"]["service"] == "orders"
    assert 200 < hop["median_ms"] < 400 and hop["baseline_median_ms"] < 20


def test_nothing_slowed_nothing_reported(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path / "steady.jsonl", requests(START * 2, step=0.010, slow_step=0.010))
    report = cli.json("triage", "-s", str(path), "--since", "30m", "--no-llm")
    assert not [i for i in report["issues"] if i["kind"] == "slow"]


def charges(timed: Callable[[int, float], dict]) -> list[dict]:
    """An hour of checkouts whose charge by payments takes 15-25 ms, then 300-500 ms; `timed`
    makes the charge event of order `i` that took `took` ms."""
    rng, events = random.Random(11), []
    for i in range(1800):
        at, request = START + i * 2.0, f"r{i}"
        took = rng.uniform(15, 25) if at < START + 1800 else rng.uniform(300, 500)
        charge = event(at + 0.001, "payments", "charge done", request) | timed(i, took)
        events += [event(at, "checkout", "checkout started", request), charge]
    return events


@pytest.mark.parametrize(
    ("where", "timed", "flags"),
    [
        ("message", lambda i, took: {"message": f"charge for order {i} took {took:.0f}ms"}, []),
        ("ECS field", lambda i, took: {"event": {"duration": round(took * 1e6)}}, []),
        ("named field", lambda i, took: {"took_ms": took}, ["--field", "duration=took_ms"]),
    ],
)
def test_durations_events_carry_are_read(
    cli: Cli, tmp_path: Path, where: str, timed: Callable[[int, float], dict], flags: list[str]
) -> None:
    path = write(tmp_path / "took.jsonl", charges(timed))
    report = cli.json("triage", "-s", str(path), "--since", "30m", "--no-llm", *flags)
    top = report["issues"][0]
    assert top["kind"] == "slow" and top["root_cause"]["service"] == "payments", where
    hop = top["slowed_hops"][0]
    assert hop["measure"] == "written" and 300 <= hop["median_ms"] <= 500, where


def test_durations_of_an_index_are_read(cli: Cli, es_node: EsNode, tmp_path: Path) -> None:
    path = write(
        tmp_path / "took.jsonl", charges(lambda i, took: {"event": {"duration": round(took * 1e6)}})
    )
    code, _, err = cli("load", str(path), "-i", "timed", "--es-url", es_node.url, "-q")
    assert code == 0, err
    report = cli.json("triage", "--index", "timed", "--es-url", es_node.url, "--since", "30m",
                      "--until", "latest", "--no-llm")  # fmt: skip
    top = report["issues"][0]
    assert top["kind"] == "slow" and top["root_cause"]["service"] == "payments"
    assert top["slowed_hops"][0]["measure"] == "written"
