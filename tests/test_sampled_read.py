"""A file whose window is known up front (`--from` and an `--until` time) is sampled as it is
read: every event that can form an issue kept, a bounded sample of requests for the rest,
totals counted over everything; the answers stay those of a full read."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from logsense._native import Aggregate, EventTable, SampleStats
from logsense.analyze.rollouts import CHANGE_WORD_STARTS
from logsense.config import FieldMap
from logsense.mine import mine_aggregate
from logsense.sources.files import FileSource
from logsense.sources.pushdown import Pushdown
from logsense.sources.sampled_read import HashSample, sampled_read
from logsense.sources.window import WindowSpec, cut, new_table
from tests.conftest import FIXTURES, Cli

CHECKOUT = FIXTURES / "checkout_db_pool.jsonl.gz"
ORDERS = FIXTURES / "orders_deploy_npe.log.gz"
# The checkout incident's last half hour, and the half hour before as its baseline.
CHECKOUT_WINDOW = ("--from", "2026-11-21T23:14:00Z", "--until", "2026-11-21T23:44:01Z")
pytestmark = pytest.mark.skipif(not CHECKOUT.exists(), reason="no checkout fixture")


def _triage(cli: Cli, path: Path, state: Path, *more: str) -> dict[str, Any]:
    return cli.json(
        "triage", "--source", str(path), "--no-llm", "--state-dir", str(state), *more
    )  # fmt: skip


def _errors(report: dict[str, Any]) -> set[str]:
    """The root patterns of the issues above low severity."""
    return {i["root_cause"]["pattern_id"] for i in report["issues"] if i["severity"] != "low"}


def test_a_known_window_is_sampled_with_the_full_reads_answers(cli: Cli, tmp_path: Path) -> None:
    full = _triage(cli, CHECKOUT, tmp_path / "full", *CHECKOUT_WINDOW, "--full-read")
    sampled = _triage(cli, CHECKOUT, tmp_path / "s", *CHECKOUT_WINDOW, "--sample-events", "3000")
    sampling = sampled["totals"]["sampling"]
    assert full["totals"]["sampling"] is None
    assert sampling is not None and 0.01 < sampling["rate"] < 0.5
    assert sampling["read_in_full"] + sampling["read_sampled"] < 0.8 * sampling["documents"]
    assert any(w.startswith("sampled as read (the window") for w in sampled["warnings"])
    # Totals are counted over every event as it passes: exact.
    for key in ("events", "requests", "users", "services", "outside_window"):
        assert sampled["totals"][key] == full["totals"][key], key
    top_full, top_sampled = full["issues"][0], sampled["issues"][0]
    assert top_sampled["root_cause"] == top_full["root_cause"]
    # Its patterns were kept in full: its share and requests are exact.
    assert top_sampled["share_of_requests"] == top_full["share_of_requests"]
    assert top_sampled["requests_affected"] == top_full["requests_affected"]
    assert len(_errors(full) & _errors(sampled)) >= len(_errors(full)) - 1


def test_a_window_that_ends_at_the_newest_event_is_read_whole(cli: Cli, tmp_path: Path) -> None:
    """Without an `--until` time the window is known only at the end: nothing is sampled."""
    report = _triage(cli, CHECKOUT, tmp_path, "--since", "30m", "--sample-events", "100")
    assert report["totals"]["sampling"] is None
    assert not any(w.startswith("sampled as read") for w in report["warnings"])


def _read(
    path: Path, spec: WindowSpec, budget: int | None, threads: int = 2
) -> tuple[EventTable, Aggregate, SampleStats | None, FileSource]:
    source = FileSource(str(path), FieldMap())
    source.pushdown = None if budget is None else Pushdown(budget)
    table = new_table(spec, None, FieldMap(), source.name, threads)
    source.fill(table)
    aggregate = cut(table, spec, None, 5).aggregate
    return table, aggregate, table.sampled(), source


@pytest.mark.parametrize("path", [CHECKOUT, ORDERS], ids=["json", "text"])
def test_the_table_keeps_the_budget_and_counts_every_event(path: Path) -> None:
    spec = (
        WindowSpec.from_options(None, CHECKOUT_WINDOW[3], CHECKOUT_WINDOW[1])
        if path == CHECKOUT
        else WindowSpec.from_options("30m", "2026-01-25T09:37:00Z", None)
    )
    budget = 1500
    _, full, none, _ = _read(path, spec, None)
    table, sampled, stats, source = _read(path, spec, budget)
    assert none is None and stats is not None and stats.level > 0
    assert stats.sampled <= 2 * budget
    assert table.rows == stats.in_full + stats.sampled
    # Every event of a shape that can form an issue is kept.
    left = set(stats.sampled_shapes)
    key = lambda s: (s.service, s.level_class, s.masked, s.fingerprint)  # noqa: E731
    in_full = sum(s.count + s.baseline_count for s in full.shapes if key(s) not in left)
    assert stats.in_full == in_full > 0
    assert all(s.level_class == "info" and not s.fingerprint for s in full.shapes if key(s) in left)
    # Totals over every event, kept or not.
    assert stats.events == (full.baseline_events, full.events)
    assert stats.requests == (full.baseline_requests, full.requests)
    assert stats.requests_per_minute == full.requests_per_minute
    assert stats.users == full.users
    assert stats.services == full.services
    assert stats.baseline_first == full.baseline_first
    assert sampled.outside == full.outside
    # The requests kept of sampled shapes are the sample's members, and no more events than the
    # sample's universe were kept of them.
    members = HashSample(stats.level).members
    names = sampled.request_names
    mined = mine_aggregate(sampled, 5)
    for shape, pattern in zip(sampled.shapes, mined.shape_patterns, strict=True):
        if key(shape) in left:
            ids = [names[i] for i in pattern.requests.ids.tolist()]
            assert members(ids).all()
    kept_sampled = sum(s.count for s in sampled.shapes if key(s) in left)
    assert kept_sampled <= stats.universe[1] < stats.events[1]
    pushed = sampled_read(table)
    assert pushed is not None and pushed.documents == sum(stats.events)
    assert source.pushed is not None and source.pushed.sample == HashSample(stats.level)


def test_past_the_exact_limit_distinct_counts_are_estimated_closely() -> None:
    """Distinct counts take bounded memory: past the limit, a sketch (and the report says so)."""
    spec = WindowSpec.from_options(None, CHECKOUT_WINDOW[3], CHECKOUT_WINDOW[1])
    _, full, _, _ = _read(CHECKOUT, spec, None)
    source = FileSource(str(CHECKOUT), FieldMap())
    table = new_table(spec, None, FieldMap(), source.name, 2)
    assert table.sample_rest(1500, CHANGE_WORD_STARTS, exact_limit=500)
    source.fill(table)
    pushed = source.pushed
    assert pushed is not None and full.requests > 2000
    totals = pushed.totals
    assert set(totals.estimated) == {"requests", "baseline_requests", "users"}
    assert "past 500 distinct values" in totals.estimated["requests"]
    assert totals.requests == pytest.approx(full.requests, rel=0.03)
    assert totals.baseline_requests == pytest.approx(full.baseline_requests, rel=0.03)
    assert totals.users == pytest.approx(full.users, rel=0.03)
    # Fewer than 500 requests a minute: those stay exact.
    assert totals.requests_per_minute == full.requests_per_minute
    assert totals.events == full.events


def test_a_sample_of_requests_holds_its_rate() -> None:
    names = [f"req-{i:07d}" for i in range(100_000)]
    for level in (1, 3, 6):
        share = HashSample(level).members(names).mean()
        assert share == pytest.approx(2.0**-level, rel=0.1)
    assert HashSample(0).members(names).all()


def _docker_records(events: int) -> bytes:
    """A container's json-file log: info lines, every tenth followed by a stack trace shipped
    one record per line (they continue the line before)."""
    records = []
    for i in range(events):
        at = 1714903200.0 + i / 10

        def record(line: str, seconds: float) -> bytes:
            stamp = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
            return orjson.dumps({"log": line + "\n", "stream": "stderr", "time": stamp})

        header = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
        records.append(record(f"{header} INFO [main] com.shop.Api: served page {i}", at))
        if i % 10 == 0:
            trace = ["java.lang.IllegalStateException: stale", "\tat com.shop.Api.run(Api.java:1)"]
            records += [record(line, at + 0.001) for line in trace]
    return b"\n".join(records) + b"\n"


@pytest.mark.parametrize("block", [1 << 20, 4099])
def test_an_event_left_out_takes_its_continuation_records_along(
    tmp_path: Path, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records that continue an event left out are no events of their own."""
    from logsense.sources import files

    path = tmp_path / "docker.jsonl"
    path.write_bytes(_docker_records(20_000))
    spec = WindowSpec.from_options(None, "2024-05-05T11:00:00Z", "2024-05-05T10:30:00Z")
    monkeypatch.setattr(files, "_BLOCK", block)
    _, full, _, full_source = _read(path, spec, None)
    _, sampled, stats, source = _read(path, spec, 300)
    assert stats is not None and stats.level > 0
    assert stats.events == (full.baseline_events, full.events)
    assert source.stats.joined == full_source.stats.joined == 2 * 2000
    # Their stack made those info events a shape of their own, kept in full.
    traced = lambda a: sum(s.count + s.baseline_count for s in a.shapes if s.fingerprint)  # noqa: E731
    assert traced(sampled) == traced(full) == 2000


def _signature(aggregate: Aggregate) -> list[tuple[object, ...]]:
    return sorted(
        (s.service, s.level_class, s.masked, s.fingerprint, s.count, s.baseline_count)
        for s in aggregate.shapes
    )


def test_the_sample_depends_on_the_events_not_on_how_they_were_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The level is the lowest that holds at most the budget of the events read, whatever
    blocks and threads they came in: the same file gives the same sample."""
    from logsense.sources import files

    spec = WindowSpec.from_options(None, CHECKOUT_WINDOW[3], CHECKOUT_WINDOW[1])
    found = set()
    for block, threads in [(8 << 20, 2), (65_521, 1), (7_919, 2)]:
        monkeypatch.setattr(files, "_BLOCK", block)
        _, aggregate, stats, _ = _read(CHECKOUT, spec, 700, threads)
        assert stats is not None
        found.add((stats.level, stats.in_full, stats.sampled, tuple(_signature(aggregate))))
    assert len(found) == 1
