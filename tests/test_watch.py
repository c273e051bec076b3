"""`logsense watch` end to end on files: generated worlds on a simulated clock, the follower's
faults, the sinks against real loopback receivers, metrics and /healthz.

The clock is a `ManualClock`: a test writes what the world logged until "now", ticks, and moves
the clock on, so hours of logs take seconds. The triage is the real pipeline with the real
embedding model (the session's), except where a test only needs the watcher's own behaviour.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiosmtpd.controller import Controller
from alert_receiver import Receiver
from worlds import (
    Feed,
    events_and_truth,
    events_of,
    incident_world,
    minutes_ago,
    quiet_world,
    seconds,
)

from logsense.analyze.embed import Embedder
from logsense.config import FieldMap, SmtpConfig, load_settings
from logsense.errors import SourceUnavailable
from logsense.model import Event, Issue, Pattern
from logsense.state import state_dir
from logsense.watch import (
    Dispatcher,
    EmailSink,
    FileFollower,
    Health,
    ManualClock,
    MetricsServer,
    Rules,
    SlackSink,
    StdoutSink,
    Watcher,
    WatchMetrics,
    WatchOptions,
    WatchStore,
    WebhookSink,
)
from logsense.watch.follow import PollResult
from tests.conftest import REPO, Cli

MIN = 60.0
# For tests of the watcher's mechanics on a fixed report: a new issue is news on its first tick.
AT_ONCE = Rules(confirm_ticks=1)


# --- a watcher over a file, on a simulated clock ---------------------------------------------


@dataclass
class Run:
    """A watcher following `log` in a fresh state directory, its clock at `start`."""

    tmp: Path
    start: float
    every: float = 60.0
    embedder: Embedder | None = None
    analyze: Any = None
    rules: Rules = field(default_factory=Rules)
    said: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.log = self.tmp / "app.jsonl"
        self.log.touch()
        self.clock = ManualClock(self.start)
        self.settings = load_settings(None, state_dir=self.tmp / "state", llm={"enabled": False})
        self._store = WatchStore.open(state_dir(self.tmp / "state"), "default")
        self.store = self._store.__enter__()
        self.follower = FileFollower(str(self.log), self.settings.fields)
        options = WatchOptions(every=self.every, since=15 * MIN, rules=self.rules)
        self.watcher = Watcher(
            self.follower, self.settings, options, self.store, clock=self.clock,
            sinks=["stdout"], embedder=self.embedder, analyze=self.analyze,
            say=self.said.append,
        )  # fmt: skip
        self.alerts: list[dict[str, Any]] = []

    def tick(self) -> list[dict[str, Any]]:
        outcome = self.watcher.tick()
        self.alerts += outcome.alerts
        return outcome.alerts

    def close(self) -> None:
        self.follower.close()
        self._store.__exit__(None, None, None)


def play(run: Run, feed: Feed, until: float) -> None:
    """Move the clock tick by tick to `until`, writing what the world logged before each."""
    while run.clock.now() < until:
        run.clock.advance(run.every)
        feed.append_until(run.log, run.clock.now())
        run.tick()


def test_an_incident_is_alerted_within_minutes_escalated_and_resolved_once(
    tmp_path: Path, embedder: Embedder
) -> None:
    # 25 quiet minutes first: a 15-minute window and enough of its baseline to tell what is new.
    scenario = incident_world(5, 52, 1.0)
    planned = scenario.incidents[0]  # checkout's workers killed for lack of memory
    planned.start_minute, planned.end_minute = 25.0, 36.0  # traffic goes on 16 minutes after
    events, world = events_and_truth(scenario, 5)
    feed = Feed(events)
    truth = world.incidents[0]
    began, ended = seconds(truth.start), seconds(truth.end)  # its first and last event
    run = Run(tmp_path, feed.start, every=2 * MIN, embedder=embedder)
    try:
        play(run, feed, ended + 14 * MIN)
    finally:
        run.close()
    alerts = run.alerts
    assert {a["kind"] for a in alerts} <= {"new", "escalated", "resolved"}
    about_root = [a for a in alerts if a["issue"]["root_cause"]["service"] == truth.root_service]
    first = about_root[0]
    assert first["kind"] == "new" and first["issue"]["severity"] in ("high", "critical")
    # Alerted at most three ticks (2 minutes apart) after its first event: as soon as it
    # reaches 0.5% of requests, new, which makes it high, and holds there for a second tick.
    assert seconds(first["at"]) - began <= 6 * MIN
    kinds = [a["kind"] for a in alerts if a["issue"]["id"] == first["issue"]["id"]]
    assert kinds == ["new", "escalated", "resolved"]
    resolved = next(a for a in alerts if a["kind"] == "resolved" and a is not first)
    assert 0 <= seconds(resolved["at"]) - ended <= 12 * MIN
    # One alert per transition: ids are unique and each issue's alert numbers never repeat.
    assert len({a["id"] for a in alerts}) == len(alerts)
    assert len(alerts) <= 8


def test_six_quiet_hours_with_ordinary_noise_make_no_alert(
    tmp_path: Path, embedder: Embedder
) -> None:
    # Loud errors touching no request, warnings, swallowed errors, client errors, background
    # jobs and a harmless deploy; a tick every 15 minutes, each over the 15 minutes before.
    scenario = quiet_world(7, 6 * 60, 0.4)
    feed = Feed(events_of(scenario, 7))
    run = Run(tmp_path, feed.start, every=15 * MIN, embedder=embedder)
    try:
        play(run, feed, feed.start + 6 * 3600)  # the world's traffic ends at 6 hours
    finally:
        run.close()
    assert run.watcher.ticks == 24
    assert run.alerts == [], [a["text"] for a in run.alerts]


# --- the file follower: what it reads, once ---------------------------------------------------


def line(n: int, *, level: str = "info", at: float = 1_800_000_000.0) -> bytes:
    record = {"@timestamp": at + n, "message": f"request {n} done", "log.level": level,
              "service.name": "svc", "trace.id": f"t{n}"}  # fmt: skip
    return orjson.dumps(record) + b"\n"


def poll(follower: FileFollower) -> tuple[list[Event], PollResult]:
    events: list[Event] = []
    result = follower.poll(0.0, 0.0, events.extend)
    return events, result


def numbers(events: list[Event]) -> list[int]:
    return [int(e.message.split()[1]) for e in events]


def test_each_line_is_read_once_across_partial_lines_rotation_and_truncation(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.jsonl"
    path.write_bytes(line(1) + line(2) + line(3)[:20])  # the third is being written
    follower = FileFollower(str(path), FieldMap())
    events, _ = poll(follower)
    assert numbers(events) == [1, 2]
    with path.open("ab") as handle:
        handle.write(line(3)[20:] + line(4))
    events, _ = poll(follower)
    assert numbers(events) == [3, 4] and events[0].origin == f"{path}:3"
    # Rotation: the old file is renamed after a last line, a new one takes the name.
    with path.open("ab") as handle:
        handle.write(line(5))
    path.rename(tmp_path / "app.jsonl.1")
    path.write_bytes(line(6))
    events, result = poll(follower)
    assert numbers(events) == [5, 6] and events[1].origin == f"{path}:1"
    assert any("rotated" in note for note in result.stats.notes)
    # Truncation (copytruncate): read again from the start.
    path.write_bytes(line(7))
    events, result = poll(follower)
    assert numbers(events) == [7]
    assert any("truncated" in note for note in result.stats.notes)
    assert poll(follower)[0] == []


def test_a_removed_file_fails_each_read_until_a_new_one_appears(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    path.write_bytes(line(1))
    follower = FileFollower(str(path), FieldMap())
    poll(follower)
    with path.open("ab") as handle:
        handle.write(line(2))
    path.unlink()
    events: list[Event] = []
    with pytest.raises(SourceUnavailable, match="removed or renamed"):
        follower.poll(0.0, 0.0, events.extend)
    assert numbers(events) == [2]  # what was written before it went is not lost
    with pytest.raises(SourceUnavailable, match="No such file"):
        poll(follower)
    path.write_bytes(line(3))
    assert numbers(poll(follower)[0]) == [3]


def test_malformed_and_overlong_lines_are_counted_where_they_are(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    path.write_bytes(line(1))
    follower = FileFollower(str(path), FieldMap(), max_line=1024)
    poll(follower)
    with path.open("ab") as handle:
        handle.write(b"not json at all\n" + line(3) + b'{"message": "no time"}\n')
        handle.write(b"{" + b"x" * 5000)  # a runaway line, never held whole
    events, result = poll(follower)
    with path.open("ab") as handle:
        handle.write(b"y" * 5000 + b"\n" + line(7))
    later, more = poll(follower)
    assert numbers(events) == [3] and numbers(later) == [7]
    # Counted once each, with their line numbers; the runaway line as soon as it passed the cap.
    assert result.stats.malformed_reasons == {
        "invalid JSON": 1, "no timestamp": 1, "line too long": 1
    }  # fmt: skip
    assert result.stats.malformed_examples == [
        f"{path}:2 (invalid JSON)", f"{path}:4 (no timestamp)", f"{path}:5 (line too long)"
    ]  # fmt: skip
    assert more.stats.malformed == 0
    assert later[0].origin == f"{path}:6"


def test_a_text_event_waits_for_its_stack_trace(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(
        b"2026-11-20T13:16:02.123Z INFO [svc] started\n"
        b"2026-11-20T13:16:03.000Z ERROR [svc] boom\n"
        b"java.lang.IllegalStateException: boom\n"
    )
    follower = FileFollower(str(path), FieldMap())
    events, _ = poll(follower)
    assert [e.message for e in events] == ["started"]  # "boom" may still get lines
    with path.open("ab") as handle:
        handle.write(b"\tat com.acme.Svc.run(Svc.java:42)\n")
    assert poll(follower)[0] == []
    events, _ = poll(follower)  # nothing new: the writer paused, the event is whole
    assert [e.message for e in events] == ["boom"]
    assert events[0].stack_trace is not None and "Svc.java:42" in events[0].stack_trace


# --- the watcher over a file that goes away ---------------------------------------------------


def fixed_report(clock: ManualClock) -> Any:
    pattern = Pattern(id="p1", service="checkout", level="error", template="boom <*>")
    issue = Issue("i1", [pattern], pattern, "", 10, 5, 0.3, None, clock.now() - 60, clock.now(),
                  severity="critical", status="ongoing")  # fmt: skip
    return SimpleNamespace(issues=[issue], warnings=[])


def test_a_deleted_file_is_alerted_once_and_its_return_once(tmp_path: Path) -> None:
    clock_box: list[ManualClock] = []
    run = Run(tmp_path, 1_800_000_000.0, rules=replace(AT_ONCE, unreachable_after=2 * MIN),
              analyze=lambda source, spec, now: fixed_report(clock_box[0]))  # fmt: skip
    clock_box.append(run.clock)
    try:
        run.log.write_bytes(line(1, at=run.clock.now() - 30))
        run.tick()
        run.log.unlink()
        for _ in range(10):
            run.clock.advance(MIN)
            run.tick()
        run.log.write_bytes(line(2, at=run.clock.now()))
        run.clock.advance(MIN)
        run.tick()
    finally:
        run.close()
    assert [a["kind"] for a in run.alerts] == ["new", "source_unavailable", "source_recovered"]
    down = run.alerts[1]
    assert "No such file" in down["source"]["error"] or "removed" in down["source"]["error"]
    assert sum("cannot read the source" in said for said in run.said) == 10
    assert run.watcher.state.issues["i1"].open  # nothing resolved while it could not be read


# --- sinks, against real receivers ------------------------------------------------------------


def an_alert(kind: str = "new") -> dict[str, Any]:
    return {
        "schema": "logsense.alert/v1", "id": f"a-{kind}", "kind": kind,
        "at": "2027-01-15T08:00:00.000Z", "text": "NEW critical issue: pay: <b>boom</b>",
        "watch": {"name": "default", "source": "app.jsonl", "window": None, "host": "h"},
        "issue": {"id": "i1", "title": "boom `x` <!here>", "severity": "critical",
                  "share_of_requests": 0.3, "root_cause": {"service": "pay", "template": "b"},
                  "first_seen": "2027-01-15T07:58:00.000Z", "samples": ["boom \x1b[2J"]},
        "previous": None, "indicator": None, "source": None,
    }  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[WatchStore]:
    with WatchStore.open(state_dir(tmp_path / "state"), "default") as opened:
        yield opened


def deliver(store: WatchStore, sinks: list[Any], alerts: list[dict[str, Any]], **kw: Any) -> Any:
    """Put `alerts` in the outbox (as a tick does) and run a dispatcher until it is empty."""
    from logsense.watch.state import Snapshot

    store.commit(Snapshot(), "app.jsonl", alerts, [s.name for s in sinks], time.time())
    metrics = WatchMetrics()
    dispatcher = Dispatcher(store, sinks, metrics=metrics, **kw)
    dispatcher.start()
    dispatcher.wake()
    left = dispatcher.drain(15)
    dispatcher.stop()
    return left, metrics


def test_the_webhook_gets_the_alert_json_signed(store: WatchStore) -> None:
    receiver = Receiver(secret=b"s3cret")
    try:
        left, metrics = deliver(store, [WebhookSink(receiver.url + "/hook", b"s3cret")],
                                [an_alert()])  # fmt: skip
    finally:
        receiver.close()
    assert left == {}
    [got] = receiver.accepted
    assert got.signed is True and got.path == "/hook"
    assert got.headers["x-logsense-alert-id"] == "a-new"
    assert got.headers["x-logsense-event"] == "new"
    assert got.json() == orjson.loads(orjson.dumps(an_alert()))
    assert metrics.sent.labels("webhook", "new")._value.get() == 1


def test_a_wrong_secret_is_refused_and_not_retried(store: WatchStore) -> None:
    receiver = Receiver(secret=b"right")
    said: list[str] = []
    try:
        left, metrics = deliver(store, [WebhookSink(receiver.url, b"wrong")], [an_alert()],
                                report=said.append)  # fmt: skip
    finally:
        receiver.close()
    assert left == {} and receiver.accepted == [] and len(receiver.attempts) == 1
    assert metrics.failed.labels("webhook")._value.get() == 1
    assert any("gave up" in s and "HTTP 401" in s for s in said)


def test_slack_gets_text_and_log_text_stays_literal(store: WatchStore) -> None:
    receiver = Receiver()
    try:
        deliver(store, [SlackSink(receiver.url + "/services/T0/B0/XXXX")], [an_alert()])
    finally:
        receiver.close()
    text = receiver.accepted[0].json()["text"]
    assert text.startswith("*NEW critical issue* in `pay`")
    assert "<!here>" not in text and "&lt;!here&gt;" in text


@dataclass
class Inbox:
    received: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd
        self.received.append(message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_email_goes_through_the_smtp_settings(store: WatchStore) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = SmtpConfig(host="127.0.0.1", port=port, security="none", timeout=5)
        sink = EmailSink(smtp, ["oncall@example.org"], "logsense@example.org", None)
        left, _ = deliver(store, [sink], [an_alert(), an_alert("resolved")])
    finally:
        controller.stop()
    assert left == {}
    subjects = [m["Subject"] for m in inbox.received]
    assert subjects == ["[logsense] NEW critical issue: pay: <b>boom</b>"] * 2
    body = inbox.received[0].get_payload(decode=True).decode()
    assert '"schema":"logsense.alert/v1"' in body and "\x1b" not in body


def test_a_hanging_sink_stalls_neither_the_ticks_nor_the_other_sinks(tmp_path: Path) -> None:
    hanging = Receiver(hang=True)
    out = io.StringIO()
    clock_box: list[ManualClock] = []
    run = Run(
        tmp_path, 1_800_000_000.0, rules=AT_ONCE,
        analyze=lambda source, spec, now: another_issue_each_minute(clock_box[0]),
    )  # fmt: skip
    clock_box.append(run.clock)
    metrics = run.watcher.metrics
    sinks = [StdoutSink(out), WebhookSink(hanging.url, b"k", timeout=0.25)]
    dispatcher = Dispatcher(run.store, sinks, retries=1, metrics=metrics)
    run.watcher.dispatcher, run.watcher.sinks = dispatcher, ["stdout", "webhook"]
    dispatcher.start()
    try:
        durations = []
        for n in range(4):
            with run.log.open("ab") as handle:
                handle.write(line(n, at=run.clock.now() - 5))
            started = time.monotonic()
            run.tick()
            durations.append(time.monotonic() - started)
            run.clock.advance(MIN)
        assert max(durations) < 0.25  # the webhook's timeouts are not the ticks'
        deadline = time.monotonic() + 10
        while out.getvalue().count("\n") < len(run.alerts) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert out.getvalue().count("\n") == len(run.alerts) >= 4  # stdout did not wait
        left = dispatcher.drain(15)  # the webhook: a try and a retry each, then given up
    finally:
        dispatcher.stop()
        hanging.close()
        run.close()
    assert left == {}
    assert metrics.failed.labels("webhook")._value.get() == len(run.alerts)
    assert metrics.delivery_errors.labels("webhook")._value.get() == 2 * len(run.alerts)


def another_issue_each_minute(clock: ManualClock) -> Any:
    """A report whose critical issue is a new one every minute: one alert per tick."""
    minute = int(clock.now() // 60)
    pattern = Pattern(id=f"p{minute}", service="checkout", level="error", template="boom <*>")
    issue = Issue(f"i{minute}", [pattern], pattern, "", 10, 5, 0.3, None, clock.now() - 60,
                  clock.now(), severity="critical", status="ongoing")  # fmt: skip
    return SimpleNamespace(issues=[issue], warnings=[])


def test_stdout_jsonl_from_the_command(tmp_path: Path, cli: Cli, embedder: Embedder) -> None:
    scenario = incident_world(5, 30, 1.0, minutes_ago(30))
    scenario.incidents[0].start_minute, scenario.incidents[0].end_minute = 20.0, 30.0
    feed = Feed(events_of(scenario, 5))
    log = tmp_path / "live.jsonl"
    feed.append_until(log, time.time() + 1)
    code, out, err = cli("watch", "-s", str(log), "--follow", "--once", "--confirm-ticks", "1",
                         "--state-dir", str(tmp_path / "state"))  # fmt: skip
    assert code == 0, err
    alerts = [orjson.loads(text) for text in out.splitlines()]
    assert alerts and {a["schema"] for a in alerts} == {"logsense.alert/v1"}
    assert alerts[0]["kind"] == "new" and alerts[0]["issue"]["severity"] in ("high", "critical")
    assert "logsense: done after one tick" in err


# --- metrics and /healthz ---------------------------------------------------------------------


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_metrics_and_healthz(tmp_path: Path) -> None:
    clock_box: list[ManualClock] = []
    run = Run(tmp_path, 1_800_000_000.0, rules=replace(AT_ONCE, unreachable_after=2 * MIN),
              analyze=lambda source, spec, now: fixed_report(clock_box[0]))  # fmt: skip
    clock_box.append(run.clock)
    health = Health(run.clock, 60.0, 2 * MIN)
    run.watcher.health = health
    server = MetricsServer(run.watcher.metrics, health, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.port}"
    try:
        run.log.write_bytes(line(1, at=run.clock.now() - 30) + b"garbage\n")
        run.tick()
        status, body = get(f"{base}/metrics")
        text = body.decode()
        assert status == 200
        for expected in (
            "logsense_watch_events_read_total 1.0",
            'logsense_watch_malformed_total{reason="invalid JSON"} 1.0',
            'logsense_watch_ticks_total{result="ok"} 1.0',
            'logsense_watch_issues{severity="critical"} 1.0',
            'logsense_watch_alerts_total{kind="new"} 1.0',
            "logsense_watch_lag_seconds 29.0",
            "logsense_watch_window_events 1.0",
            "logsense_watch_source_up 1.0",
            "logsense_watch_tick_duration_seconds_count 1.0",
        ):
            assert expected in text, expected
        assert get(f"{base}/healthz")[0] == 200
        run.clock.advance(5 * MIN)  # no tick for 5 minutes: more than 3 ticks and a minute
        status, body = get(f"{base}/healthz")
        assert status == 503 and b"no tick finished" in body
        run.log.unlink()
        for _ in range(3):  # ticking again, but the source cannot be read for 3 minutes
            run.tick()
            run.clock.advance(MIN)
        status, body = get(f"{base}/healthz")
        assert status == 503 and b"the source cannot be read" in body
        assert (
            'logsense_watch_ticks_total{result="source_error"} 3.0'
            in get(f"{base}/metrics")[1].decode()
        )
        assert get(f"{base}/nothing")[0] == 404
    finally:
        server.close()
        run.close()


def test_a_second_watcher_of_the_same_name_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    log.write_bytes(b"")
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    with WatchStore.open(state_dir(tmp_path / "state"), "default"):  # this process watches
        second = subprocess.run(
            [sys.executable, "-m", "logsense", "watch", "-s", str(log), "-F", "--once",
             "--state-dir", str(tmp_path / "state")],
            capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
        )  # fmt: skip
    assert second.returncode == 2
    assert second.stderr.startswith(
        "logsense: error: another logsense watch --name default is running"
    )
    assert f"(pid {os.getpid()})" in second.stderr
