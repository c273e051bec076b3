"""Work that stopped (`logsense/analyze/vanished.py`): which of a stop and the errors logged in
the same requests is the cause."""

from __future__ import annotations

from pathlib import Path

import orjson

from logsense.analyze.change import Change, compare
from logsense.analyze.group import Group
from logsense.analyze.vanished import attach_stops
from logsense.config import ChangeConfig
from logsense.model import Pattern, Stopped
from logsense.requestmap import RequestMap
from tests.conftest import Cli

CONFIG = ChangeConfig()
WINDOW = [f"w{n}" for n in range(100)]
BASELINE = [f"b{n}" for n in range(100)]


def pattern(
    pid: str, service: str, level: str, now: list[str], before: list[str], at: float
) -> Pattern:
    """A pattern at offset `at` inside each of its requests (window `now`, baseline `before`)."""
    found = Pattern(id=pid, service=service, level=level, template=f"{pid} <*>")
    found.requests = RequestMap.from_dict(dict.fromkeys(now, (1000.0 + at, 0)))
    found.baseline_requests = RequestMap.from_dict(dict.fromkeys(before, (at, 0)))
    found.count, found.baseline_count = len(now), len(before)
    return found


def world(caller_logs_after: bool) -> tuple[Group, Stopped, list[Pattern], dict[str, Change]]:
    """tax begins a step (`begin`) and, in 60 of 100 window requests, never ends it (`done`);
    checkout logs an error after the step began in those 60. Its normal line comes after the
    step in the baseline (it waits for tax), or before it (it is tax's callee)."""
    begin = pattern("begin", "tax", "info", WINDOW, BASELINE, at=1.0)
    done = pattern("done", "tax", "info", WINDOW[60:], BASELINE, at=2.0)
    timeout = pattern("timeout", "checkout", "error", WINDOW[:60], [], at=5.0)
    normal = pattern(
        "normal", "checkout", "info", WINDOW, BASELINE, at=6.0 if caller_logs_after else 0.5
    )
    stop = Stopped(done, compare(40, 100, 100, 100, CONFIG, context=begin))
    errors = Group([timeout], timeout, "the only pattern of this issue", timeout.requests.keys())
    changes = {"timeout": compare(60, 100, 0, 100, CONFIG), "done": stop.change}
    return errors, stop, [begin, done, timeout, normal], changes


def test_errors_of_a_caller_that_waited_for_an_unfinished_step_join_the_stop() -> None:
    errors, stop, patterns, changes = world(caller_logs_after=True)
    groups = attach_stops([errors], [stop], changes, CONFIG, patterns)
    assert len(groups) == 1
    (found,) = groups
    assert (found.kind, found.root.id) == ("stopped", "done")
    assert [p.id for p in found.patterns] == ["done", "timeout"]
    assert set(found.requests.texts()) == set(WINDOW[:60])
    assert [e.kind for e in found.evidence] == ["stopped", "caller_waited"]
    assert {e.service for e in found.evidence} == {"tax"}


def test_a_stop_after_an_error_of_its_callee_joins_that_error() -> None:
    # checkout's normal line comes before tax's step: checkout is called by tax, its error is
    # where tax's work broke off (a database error before "order placed").
    errors, stop, patterns, changes = world(caller_logs_after=False)
    groups = attach_stops([errors], [stop], changes, CONFIG, patterns)
    assert groups == [errors]
    assert errors.kind == "events" and errors.stopped == [stop]


def test_without_request_ids_new_lines_do_not_stop_the_steady_ones(
    cli: Cli, tmp_path: Path
) -> None:
    """A shipper that sends each line of a stack trace as its own record: the error's burst
    more than doubles the window's events, and the order line goes on at its usual rate."""
    start = 1_800_000_000.0
    records = []
    for i in range(600):
        at = start + 6 * i
        records.append({"@timestamp": at, "service.name": "shop", "log.level": "info",
                        "message": f"order {1000 + i} placed"})  # fmt: skip
        records.append({"@timestamp": at + 2, "service.name": "shop", "log.level": "info",
                        "message": f"cart {i % 7} saved"})  # fmt: skip
        if i >= 400 and i % 2 == 0:
            for line in (
                "payment call failed",
                "java.net.SocketTimeoutException: timed out",
                "\tat java.net.SocketInputStream.read",
                "\tat shop.Payment.charge",
            ):
                records.append({"@timestamp": at + 1, "message": line})  # fmt: skip
    path = tmp_path / "shipped.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    report = cli.json("triage", "-s", str(path), "--since", "20m", "--no-llm")
    assert report["totals"]["requests"] is None
    assert not [i for i in report["issues"] if i["kind"] == "stopped"], report["headline"]
    moved = {i["title"] for i in report["issues"] if i["change"]["trend"] != "new"}
    assert not any("order" in t or "cart" in t for t in moved), moved
