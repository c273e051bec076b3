"""The baseline as a triage uses it: it counts only where it holds events, and what was in it at
its usual rate is chronic, never the cause of what is new."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from tests.conftest import FIXTURES, Cli


def events_of(name: str) -> list[dict]:
    with gzip.open(FIXTURES / name) as handle:
        return [orjson.loads(line) for line in handle]


def write(path: Path, events: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def test_an_empty_baseline_is_said_and_nothing_is_called_new(cli: Cli, tmp_path: Path) -> None:
    # Older data lies before the baseline; the baseline itself holds nothing.
    events = events_of("checkout_db_pool.jsonl.gz")
    stamps = sorted(e["@timestamp"] for e in events)
    start, end = "2026-11-21T23:20:00Z", stamps[-1]
    kept = [e for e in events if not "2026-11-21T22:56" <= e["@timestamp"] < "2026-11-21T23:20"]
    path = write(tmp_path / "gap.jsonl", kept)
    report = cli.json("triage", "-s", str(path), "--from", start, "--until", end, "--no-llm")
    assert any("too little data in the baseline" in w for w in report["warnings"])
    assert all(issue["status"] != "new" for issue in report["issues"])
    assert all(issue["change"] is None for issue in report["issues"])


def event(at: float, level: str, service: str, message: str, request: str) -> dict:
    return {"@timestamp": at, "log": {"level": level}, "service": {"name": service},
            "message": message, "trace": {"id": request}}  # fmt: skip


def test_a_chronic_warning_neither_outranks_nor_swallows_a_new_error(
    cli: Cli, tmp_path: Path
) -> None:
    # A warning first in a third of the checkouts, at one rate throughout; from the window's start
    # a new error follows it in some of them. Co-occurrence alone would make the warning the
    # error's cause and count all its requests.
    events = []
    for i in range(600):
        at, request = 1_700_000_000 + i * 6, f"r{i}"
        if i % 3 == 0:
            events.append(event(at, "warn", "cart", "cart cache is cold", request))
        events.append(event(at + 0.1, "info", "checkout", "checkout started", request))
        if i >= 300 and i % 9 == 0:
            events.append(event(at + 0.2, "error", "payments", "payment declined", request))
    path = write(tmp_path / "chronic.jsonl", events)
    report = cli.json("triage", "-s", str(path), "--since", "30m", "--no-llm")
    top, *rest = report["issues"]
    assert top["root_cause"]["service"] == "payments"
    assert top["requests_affected"] == 33 and top["change"]["significant"]
    chronic = next(i for i in rest if i["root_cause"]["service"] == "cart")
    assert chronic["chronic"] and chronic["movement"] == "chronic"
