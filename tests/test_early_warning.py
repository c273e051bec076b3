"""Early warning from the numbers inside log lines: slot numbers kept by mining, the
`leading_indicators` a triage reports, and `logsense watch` alerting on them before the errors.

End to end: generated worlds where a number climbs before a major failure (`early_warning`:
pool usage, latency, queue depth, heap), indexed into the real Elasticsearch node as they
happen, watched on a simulated clock, alerts posted to a loopback webhook receiver.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson
import pytest
from alert_receiver import Receiver, smtp_inbox
from elasticsearch import Elasticsearch, helpers
from esnode import EsNode
from worlds import Feed, events_and_truth, incident_world, seconds

from logsense.analyze.embed import Embedder
from logsense.analyze.indicators import format_value, leading_indicators, slot_summary
from logsense.config import load_settings
from logsense.mine import mine
from logsense.mine.slots import slot_label
from logsense.model import Event, Window
from logsense.sources.elasticsearch import EsConnection
from logsense.state import state_dir
from logsense.watch import (
    Dispatcher,
    EmailSink,
    ManualClock,
    Watcher,
    WatchOptions,
    WatchStore,
    WebhookSink,
)
from logsense.watch.esfollow import EsFollower
from tests.conftest import Cli, generator

BASE = 1_800_000_000.0  # 2027-01-15T08:00:00Z, a whole minute
MIN = 60.0


def world(lines: list[tuple[float, str]], level: str = "info") -> list[Event]:
    return [Event(at, text, level, "db") for at, text in lines]


def every(start: float, end: float, step: float, text: Any) -> list[tuple[float, str]]:
    """(time, text(i, time)) every `step` seconds in [start, end)."""
    count = math.ceil((end - start) / step)
    return [(start + i * step, text(i, start + i * step)) for i in range(count)]


def indicators_of(events: list[Event], window: Window, baseline: Window) -> list[Any]:
    mined = mine(sorted(events, key=lambda e: e.timestamp), window)
    return leading_indicators(mined.patterns, window, baseline, [])


# --- mining keeps the numbers of each slot per minute ------------------------------------------


def test_mining_keeps_each_slots_numbers_per_minute_with_units() -> None:
    lines = every(BASE, BASE + 120, 10, lambda i, t: (
        f"pool exhausted ({i % 33}/32 in use, {i} waiting) after {i * 10}ms, 5 KB"))  # fmt: skip
    mined = mine(world(lines), Window(BASE, BASE + 120))
    [pattern] = mined.patterns
    slots = {s.name: s for s in pattern.slots.values()}
    assert {name: s.unit for name, s in slots.items()} == {
        "in use": "ratio", "waiting": "count", "duration": "seconds", "size": "bytes",
    }  # fmt: skip
    waiting = slots["waiting"]
    first = int(BASE // 60)
    assert waiting.minutes[first] == (6, 15.0, 0.0, 5.0, None)  # 0..5
    assert waiting.minutes[first + 1] == (6, 51.0, 6.0, 11.0, None)  # 6..11
    ratio = slots["in use"]
    assert ratio.minutes[first + 1][4] == pytest.approx(11 / 32)
    assert slots["duration"].minutes[first][3] == pytest.approx(0.05)
    assert slot_summary(slots["size"], None)["top_values"] == [{"value": 5000.0, "count": 12}]


def test_slots_holding_words_keep_their_most_frequent_values() -> None:
    users = ["alice", "bob", "carol", "alice", "alice", "bob"]
    lines = every(BASE, BASE + 10 * MIN, 5, lambda i, t: (
        f"login failed for user {users[i % 6]} from 10.0.{i % 3}.7:5432 because the password "
        "expired a while ago"))  # fmt: skip
    [pattern] = mine(world(lines, "warn"), Window(BASE, BASE + 10 * MIN)).patterns
    slots = {s.name: s for s in pattern.slots.values()}
    assert {name: s.unit for name, s in slots.items()} == {"user": "text", "from": "text"}
    # Drain generalized the user's name: its shapes hold the values, counted exactly.
    assert slot_summary(slots["user"], None) == {
        "count": 120, "min": None, "mean": None, "max": None,
        "top_values": [{"value": "alice", "count": 60}, {"value": "bob", "count": 40},
                       {"value": "carol", "count": 20}],
    }  # fmt: skip
    # Masking hid the address: the native table kept its most frequent values.
    hosts = slot_summary(slots["from"], Window(BASE, BASE + 5 * MIN))
    assert hosts["count"] == 60  # the window's messages, as for numbers
    assert [v["value"] for v in hosts["top_values"]] == [f"10.0.{n}.7:5432" for n in range(3)]
    assert [v["count"] for v in hosts["top_values"]] == [40, 40, 40]  # window and baseline


def test_a_slot_is_named_from_the_words_around_it() -> None:
    assert slot_label("pool exhausted (<*> in use, <*> waiting)", 2, "ratio") == "in use"
    assert slot_label("pool exhausted (<*> in use, <*> waiting)", 5, "count") == "waiting"
    assert slot_label("heap <*> used after GC", 1, "percent") == "heap"
    assert slot_label("orders queue depth <*>", 3, "count") == "depth"
    assert slot_label("query took <*>", 2, "seconds") == "duration"
    assert slot_label("no connection within <*>: pool exhausted", 3, "seconds") == "duration"
    assert slot_label("flush done lag=<*>", 2, "count") == "lag"
    assert format_value(0.35, "seconds") == "350 ms"
    assert format_value(2_400_000, "bytes") == "2.4 MB"
    assert format_value(91, "percent") == "91%"


# --- what makes a leading indicator ------------------------------------------------------------


def test_a_count_that_rises_against_its_baseline_is_a_leading_indicator() -> None:
    baseline, window = Window(BASE, BASE + 30 * MIN), Window(BASE + 30 * MIN, BASE + 45 * MIN)
    climb = BASE + 36 * MIN

    def waiting(i: int, t: float) -> str:
        return f"pool stats: {3 + i % 5}/32 in use, {max(0, round((t - climb) / 10))} waiting"

    events = world(every(BASE, BASE + 45 * MIN, 10, waiting))
    [indicator] = indicators_of(events, window, baseline)
    assert indicator.kinds == ["rise"] and indicator.name == "waiting"
    assert indicator.visible_from == climb  # its first minute above anything the baseline saw
    assert indicator.baseline == 0 and indicator.peak > 40
    assert indicator.text.startswith("waiting rose from 0 to ")
    assert indicator.id == f"{indicator.pattern_id}/{indicator.slot.token}"


def test_a_number_nearing_the_limit_its_line_shows_is_a_leading_indicator() -> None:
    baseline, window = Window(BASE, BASE + 30 * MIN), Window(BASE + 30 * MIN, BASE + 45 * MIN)

    def heap(i: int, t: float) -> str:
        return f"heap {93 if t >= BASE + 40 * MIN else 70 + i % 15}% used after GC"

    [indicator] = indicators_of(world(every(BASE, BASE + 45 * MIN, 10, heap)), window, baseline)
    assert "limit" in indicator.kinds and indicator.peak_fraction == pytest.approx(0.93)
    assert indicator.visible_from == BASE + 40 * MIN
    assert "(93% of its limit)" in indicator.text


def test_noise_ids_and_chronic_limits_are_not_indicators() -> None:
    baseline, window = Window(BASE, BASE + 30 * MIN), Window(BASE + 30 * MIN, BASE + 45 * MIN)
    rng = random.Random(3)
    lines = every(BASE, BASE + 45 * MIN, 7, lambda i, t: f"served {rng.randint(3, 180)} waiters")
    # Order ids: few in the window (a failing checkout), so a minute's mean swings widely.
    lines += every(BASE, BASE + 45 * MIN, 5, lambda i, t: (
        f"order {rng.randint(100_000, 999_999) if t < window.start else 990_000 + i} placed"
    ))  # fmt: skip
    lines += every(BASE, BASE + 45 * MIN, 20, lambda i, t: f"disk {97 + i % 3}% full")
    assert indicators_of(world(lines), window, baseline) == []


def test_without_enough_baseline_nothing_is_called_a_rise() -> None:
    baseline, window = Window(BASE, BASE + 5 * MIN), Window(BASE + 5 * MIN, BASE + 20 * MIN)
    lines = every(BASE, BASE + 20 * MIN, 10,
                  lambda i, t: f"queue depth {i if t > BASE + 6 * MIN else 1}")  # fmt: skip
    assert indicators_of(world(lines), window, baseline) == []


def test_without_a_baseline_a_step_inside_the_window_is_a_shift() -> None:
    window = Window(BASE, BASE + 60 * MIN)
    step = BASE + 38 * MIN
    rng = random.Random(5)

    def took(i: int, t: float) -> str:
        return f"query took {rng.randint(180, 220) if t >= step else rng.randint(15, 25)}ms"

    mined = mine(world(every(BASE, BASE + 60 * MIN, 10, took)), window)
    [indicator] = leading_indicators(mined.patterns, window, None, [])
    assert indicator.kinds == ["shift"] and indicator.visible_from == step
    assert 15e-3 <= indicator.baseline <= 25e-3 and indicator.peak >= 0.18
    assert indicator.text.startswith("duration stepped up from 2")
    # Noise is no step, and a step with too few steady minutes before it cannot be told from one.
    for start in (BASE + 60 * MIN, BASE + 12 * MIN):

        def noisy(i: int, t: float, start: float = start) -> str:
            return f"query took {rng.randint(180, 220) if t >= start else rng.randint(5, 60)}ms"

        mined = mine(world(every(BASE, BASE + 60 * MIN, 10, noisy)), window)
        assert leading_indicators(mined.patterns, window, None, []) == [], start


# --- the generator's early-warning worlds ------------------------------------------------------


def test_each_precursor_becomes_visible_minutes_before_its_incident() -> None:
    gen = generator()
    for kind in sorted(gen.PRECURSOR_KINDS):
        scenario = gen.with_precursor(incident_world(5, 60, 0.5), kind, lead_minutes=12.0)
        scenario.incidents[0].start_minute, scenario.incidents[0].end_minute = 45.0, 55.0
        events, truth = events_and_truth(scenario, 5)
        [precursor] = truth.precursors
        assert precursor.kind == kind and precursor.service == scenario.incidents[0].root_service
        lead = seconds(precursor.incident_start) - seconds(precursor.visible)
        assert 11 * MIN <= lead <= 13 * MIN, (kind, lead)  # its first event is a little late
        assert seconds(precursor.climb_start) <= seconds(precursor.visible)
        mine = [e for e in events if e["message"].split()[0] == precursor.message.split()[0]]
        assert len(mine) >= 5 * 60 // 10  # a line every 10 s


def test_the_early_warning_scenario_writes_its_truth(tmp_path: Path) -> None:
    gen = generator()
    out = tmp_path / "ew.jsonl"
    gen.main(["--scenario", "early_warning", "--seed", "2", "--out", str(out)])
    truth = gen.load_truth(gen.truth_path_for(out))
    [precursor] = truth.precursors
    assert precursor.kind in gen.PRECURSOR_KINDS
    assert seconds(precursor.visible) < seconds(precursor.incident_start)
    assert orjson.loads(gen.truth_path_for(out).read_bytes())["precursors"][0]["kind"] == (
        precursor.kind
    )


def test_triage_reports_the_precursor_as_a_leading_indicator(cli: Cli, tmp_path: Path) -> None:
    gen = generator()
    scenario = gen.with_precursor(incident_world(9, 95, 0.6), "pool", lead_minutes=14.0)
    scenario.incidents[0].start_minute, scenario.incidents[0].end_minute = 80.0, 95.0
    log = tmp_path / "pool.jsonl"
    gen.write_scenario(scenario, 9, log, None)
    [precursor] = gen.load_truth(gen.truth_path_for(log)).precursors
    report = cli.json("triage", "--source", str(log), "--since", "30m")
    found = [i for i in report["leading_indicators"] if i["service"] == precursor.service]
    assert found, report["leading_indicators"]
    first = min(found, key=lambda i: i["visible_from"])
    assert abs(seconds(first["visible_from"]) - seconds(precursor.visible)) <= 2 * MIN
    root = next(i for i in report["issues"] if i["root_cause"]["service"] == precursor.service)
    assert first["precedes"] == root["id"] and first["lead_minutes"] >= 10
    assert f"{first['lead_minutes']} minutes before the first error" in first["text"]
    slots = [s for t in root["templates"] for s in t["slots"]]
    assert all({"count", "min", "mean", "max", "top_values"} <= set(s) for s in slots)
    # The terminal, Markdown and HTML reports show it; the postmortem's timeline has it before
    # the errors.
    code, out, err = cli("triage", "--source", str(log), "--since", "30m", "-q")
    assert code == 0, err
    assert "Early warning:" in out and first["text"].split(" from ")[0] in out
    code, page, err = cli("triage", "--source", str(log), "--since", "30m", "-q", "-f", "html")
    assert code == 0 and "<h2>Early warning</h2>" in page and f'href="#issue-{root["id"]}"' in page
    code, text, err = cli("triage", "--source", str(log), "--since", "30m", "-q", "-f", "md")
    assert code == 0 and f"`{precursor.service}`: {first['text']}" in text
    pm = cli.json("postmortem", "--source", str(log), "--from", "30m")
    kinds = [e["kind"] for e in pm["timeline"] if e["issue_id"] == root["id"]]
    assert kinds.index("early_warning") < kinds.index("first_error"), kinds


# --- watch: alerted before the errors, end to end ----------------------------------------------


@pytest.fixture(scope="module")
def es(es_node: EsNode) -> Iterator[Elasticsearch]:
    client = Elasticsearch(es_node.url, request_timeout=30)
    yield client
    client.close()


@pytest.mark.es
@pytest.mark.parametrize("kind", ["pool", "latency", "queue", "heap"])
def test_watch_alerts_on_the_climbing_number_minutes_before_the_first_error(
    kind: str, es: Elasticsearch, es_node: EsNode, tmp_path: Path, embedder: Embedder
) -> None:
    gen = generator()
    scenario = gen.with_precursor(incident_world(5, 50, 0.5), kind, lead_minutes=12.0)
    scenario.incidents[0].start_minute, scenario.incidents[0].end_minute = 42.0, 50.0
    events, truth = events_and_truth(scenario, 5)
    [precursor] = truth.precursors
    visible, first_error = seconds(precursor.visible), seconds(precursor.incident_start)
    feed, index, written = Feed(events), f"warn-{kind}", 0
    es.options(ignore_status=404).indices.delete(index=index)
    es.indices.create(index=index, settings={"number_of_shards": 1, "number_of_replicas": 0},
                      mappings={"properties": {"@timestamp": {"type": "date"}}})  # fmt: skip

    def index_until(moment: float) -> None:
        nonlocal written
        chunk = feed.until(moment)
        actions = [{"_index": index, "_id": f"e{written + n}", "_source": e}
                   for n, e in enumerate(chunk)]  # fmt: skip
        helpers.bulk(es, actions, refresh=True)
        written += len(chunk)

    # The watcher starts 6 minutes before the number climbs, a 15-minute window with as much
    # baseline before it, and ticks every minute as the world's events are indexed. It is
    # restarted (a new process would do the same: store, follower, sinks anew) on the tick after
    # its first early warning, and goes on to a few minutes after the first error.
    clock = ManualClock(visible - 6 * MIN)
    index_until(clock.now())
    settings = load_settings(None, state_dir=tmp_path / "state", llm={"enabled": False})
    receiver = Receiver(secret=b"k")
    mail = ExitStack()
    inbox, smtp = mail.enter_context(smtp_inbox())
    alerts: list[dict[str, Any]] = []
    restarted = False
    try:
        while clock.now() < first_error + 3 * MIN:
            follower = EsFollower(EsConnection(es_node.url), index, settings.fields, page_size=1000)
            with WatchStore.open(state_dir(tmp_path / "state"), "default") as store:
                email = EmailSink(smtp, ["oncall@example.org"], "logsense@example.org", None)
                dispatcher = Dispatcher(store, [WebhookSink(receiver.url, b"k"), email])
                watcher = Watcher(
                    follower, settings, WatchOptions(every=MIN), store, clock=clock,
                    sinks=["webhook", "email"], dispatcher=dispatcher, embedder=embedder,
                )  # fmt: skip
                dispatcher.start()
                while clock.now() < first_error + 3 * MIN:
                    outcome = watcher.tick()
                    assert outcome.error is None
                    alerts += outcome.alerts
                    clock.advance(MIN)
                    index_until(clock.now())
                    if not restarted and any(a["kind"] == "leading_indicator" for a in alerts):
                        restarted = True
                        break
                assert dispatcher.drain(20) == {}
                dispatcher.stop()
            follower.close()
    finally:
        receiver.close()
        mail.close()
    assert restarted
    warned = [a for a in alerts if a["kind"] == "leading_indicator"]
    assert warned, [a["text"] for a in alerts]
    first = warned[0]
    assert first["indicator"]["service"] == precursor.service
    assert seconds(first["at"]) >= visible  # nothing before the number left its normal range
    lead = first_error - seconds(first["at"])
    assert lead >= 5 * MIN, (kind, lead / MIN, first["text"])
    assert abs(seconds(first["indicator"]["visible_from"]) - visible) <= 2 * MIN
    posted = [r for r in receiver.accepted if r.json()["kind"] == "leading_indicator"]
    assert posted[0].json()["id"] == first["id"] and all(r.signed for r in posted)
    # One alert per indicator however many ticks still see it, before and after the restart.
    ids = [a["indicator"]["id"] for a in warned]
    assert len(ids) == len(set(ids))
    assert len(posted) == len(ids)
    mailed = [m for m in inbox.received if m["Subject"].startswith("[logsense] EARLY WARNING")]
    assert len(mailed) == len(ids) and first["id"] in mailed[0].get_payload(decode=True).decode()
