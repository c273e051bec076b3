"""The watcher's rules, without I/O: which transitions make an alert, exactly once.

Pure functions of `logsense/watch/transitions.py` on small values, then the watcher itself
with a stub source and a hand-made report object (the `leading_indicators` path, which another
stage fills), the alert documents and what each sink shows of log text.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from logsense.analyze.change import compare
from logsense.config import ChangeConfig, SeverityConfig, load_settings
from logsense.errors import SourceUnavailable
from logsense.model import Event, Issue, Pattern
from logsense.rank import severity_of
from logsense.state import state_dir
from logsense.watch import ManualClock, SourceState, Watcher, WatchOptions, WatchStore
from logsense.watch.alerts import AlertContext, alert_document
from logsense.watch.follow import Deliver, PollResult
from logsense.watch.rolling import RollingWindow
from logsense.watch.sinks import email_message, sign, slack_payload
from logsense.watch.transitions import (
    IndicatorState,
    Rules,
    Seen,
    Tracked,
    indicator_transitions,
    issue_transitions,
    judged_severity,
    source_transition,
)

NOW = 1_800_000_000.0  # 2027-01-15
MIN = 60.0
# Most tests judge each report alone; `test_a_new_issue_must_hold_for_confirm_ticks` does not.
RULES = Rules(cooldown=30 * MIN, resolve_after=10 * MIN, unreachable_after=2 * MIN, confirm_ticks=1)


def seen(
    ident: str = "i1",
    severity: str = "high",
    share: float = 0.08,
    *,
    root: str = "p1",
    patterns: tuple[str, ...] = (),
    stops: tuple[str, ...] = (),
    last_seen: float | None = None,
    kind: str = "events",
    service: str = "checkout",
) -> Seen:
    doc = {"id": ident, "title": f"title of {ident}", "kind": kind,
           "root_cause": {"service": service, "pattern_id": root}}  # fmt: skip
    when = -1.0 if last_seen is None else last_seen
    return Seen(ident, severity, share, kind, root, frozenset((root, *patterns)), when, doc,
                stops=frozenset(stops))  # type: ignore[arg-type]  # fmt: skip


def tick(
    tracked: dict[str, Tracked], issues: list[Seen], at: float, **kwargs: Any
) -> tuple[list[str], dict[str, Tracked]]:
    # An issue whose last event is not given had one at the tick.
    issues = [replace(i, last_seen=at) if i.last_seen < 0 else i for i in issues]
    found, after = issue_transitions(tracked, issues, at, RULES, **kwargs)
    return [f"{t.kind}:{t.key}" for t in found], after


# --- new issues ------------------------------------------------------------------------------


def test_a_new_issue_at_high_or_critical_is_alerted_once() -> None:
    kinds, state = tick({}, [seen("a", "critical"), seen("b", "high", root="p2"),
                             seen("c", "medium", root="p3")], NOW)  # fmt: skip
    assert kinds == ["new:a", "new:b"]
    for minute in range(1, 5):
        again, state = tick(state, [seen("a", "critical"), seen("b", "high", root="p2")],
                            NOW + minute * MIN)  # fmt: skip
        assert again == []


def test_a_new_issue_must_hold_for_confirm_ticks() -> None:
    rules = replace(RULES, confirm_ticks=2)

    def step(state: dict[str, Tracked], issues: list[Seen], at: float) -> tuple[list[str], Any]:
        found, after = issue_transitions(state, issues, at, rules)
        return [t.kind for t in found], after

    # A blip of one report: a candidate, forgotten when the next report does not have it.
    kinds, state = step({}, [seen("a", "critical", last_seen=NOW)], NOW)
    assert kinds == [] and state["a"].candidate
    kinds, state = step(state, [], NOW + MIN)
    assert kinds == [] and state == {}
    # Below the bar in between: the count starts again.
    _, state = step(state, [seen("a", "critical", last_seen=NOW + 2 * MIN)], NOW + 2 * MIN)
    _, state = step(state, [seen("a", "medium", last_seen=NOW + 3 * MIN)], NOW + 3 * MIN)
    kinds, state = step(state, [seen("a", "high", last_seen=NOW + 4 * MIN)], NOW + 4 * MIN)
    assert kinds == []
    # Two reports in a row: announced, as what it is now.
    kinds, state = step(state, [seen("a", "critical", last_seen=NOW + 5 * MIN)], NOW + 5 * MIN)
    assert kinds == ["new"] and state["a"].severity == "critical" and state["a"].alerts == 1


def test_the_bar_is_min_severity() -> None:
    found, _ = issue_transitions(
        {}, [seen("c", "medium", last_seen=NOW)], NOW, replace(RULES, min_severity="medium")
    )
    assert [t.kind for t in found] == ["new"]


def test_an_issue_already_over_is_not_news() -> None:
    # A watcher started after an incident sees it in its window, quiet for 12 minutes.
    kinds, state = tick({}, [seen("a", "critical", last_seen=NOW - 12 * MIN)], NOW)
    assert kinds == [] and state == {}


# --- escalation ------------------------------------------------------------------------------


def test_a_severity_step_is_alerted_at_once_and_only_once() -> None:
    _, state = tick({}, [seen("a", "high", 0.08)], NOW)
    kinds, state = tick(state, [seen("a", "critical", 0.09)], NOW + MIN)  # in the cooldown
    assert kinds == ["escalated:a"]
    # It wavers between high and critical: what was announced only grows, so no more alerts.
    for minute, severity in enumerate(["high", "critical", "high", "critical"], start=2):
        kinds, state = tick(state, [seen("a", severity, 0.09)], NOW + minute * MIN)
        assert kinds == []


@pytest.mark.parametrize(
    ("before", "after", "escalated"),
    [
        (0.08, 0.17, True),  # ×2.1 and +9 points
        (0.08, 0.15, False),  # ×1.9
        (0.005, 0.012, False),  # ×2.4 but +0.7 points
        (0.01, 0.02, True),  # ×2 and +1 point exactly
    ],
)
def test_a_share_escalation_needs_twice_the_share_and_one_point_more(
    before: float, after: float, escalated: bool
) -> None:
    _, state = tick({}, [seen("a", "high", before)], NOW)
    kinds, _ = tick(state, [seen("a", "high", after)], NOW + 31 * MIN)
    assert kinds == (["escalated:a"] if escalated else [])


def test_a_share_escalation_waits_for_the_cooldown_and_is_not_lost() -> None:
    _, state = tick({}, [seen("a", "high", 0.06)], NOW)
    kinds, state = tick(state, [seen("a", "high", 0.15)], NOW + 5 * MIN)
    assert kinds == []  # held back: an alert about it went out 5 minutes ago
    kinds, state = tick(state, [seen("a", "high", 0.15)], NOW + 30 * MIN)
    assert kinds == ["escalated:a"]
    assert state["a"].share == 0.15 and state["a"].alerts == 2


# --- resolution ------------------------------------------------------------------------------


def test_resolved_once_quiet_for_resolve_after() -> None:
    _, state = tick({}, [seen("a", "critical", last_seen=NOW)], NOW)
    kinds, state = tick(state, [seen("a", "critical", last_seen=NOW)], NOW + 9 * MIN)
    assert kinds == []
    kinds, state = tick(state, [seen("a", "critical", last_seen=NOW)], NOW + 10 * MIN)
    assert kinds == ["resolved:a"] and not state["a"].open
    kinds, _ = tick(state, [seen("a", "critical", last_seen=NOW)], NOW + 11 * MIN)
    assert kinds == []


def test_resolved_when_absent_from_two_reports_in_a_row() -> None:
    _, state = tick({}, [seen("a", "critical")], NOW)
    kinds, state = tick(state, [], NOW + MIN)
    assert kinds == [] and state["a"].absent_ticks == 1
    kinds, state = tick(state, [seen("a", "critical")], NOW + 2 * MIN)  # back: the count restarts
    kinds, state = tick(state, [], NOW + 3 * MIN)
    assert kinds == []
    kinds, state = tick(state, [], NOW + 4 * MIN)
    assert kinds == ["resolved:a"]


def test_nothing_is_resolved_on_a_tick_that_cannot_tell() -> None:
    _, state = tick({}, [seen("a", "critical")], NOW)
    for minute in range(1, 30):
        kinds, state = tick(state, [], NOW + minute * MIN, resolutions=False)
        assert kinds == []
    assert state["a"].open


def test_back_after_resolution_is_news_again_only_after_the_cooldown() -> None:
    _, state = tick({}, [seen("a", "critical")], NOW)
    _, state = tick(state, [], NOW + MIN)
    kinds, state = tick(state, [], NOW + 2 * MIN)
    assert kinds == ["resolved:a"]
    kinds, state = tick(state, [seen("a", "critical", last_seen=NOW + 5 * MIN)], NOW + 5 * MIN)
    assert kinds == []  # flapping: resolved 3 minutes ago
    kinds, state = tick(state, [seen("a", "critical", last_seen=NOW + 33 * MIN)], NOW + 33 * MIN)
    assert kinds == ["new:a"] and state["a"].alerts == 3


def test_novelty_raises_the_severity_only_when_it_is_beyond_chance() -> None:
    pattern = Pattern(id="p", service="search", level="warn", template="Cache GET took <*>",
                      requests={f"r{n}": (NOW, n) for n in range(5)})  # fmt: skip
    issue = Issue("i", [pattern], pattern, "", 5, 5, 0.006, None, NOW - 60, NOW, status="new")
    config = SeverityConfig()
    issue.severity = severity_of(issue, config)
    assert issue.severity == "high"  # 0.6% of requests is medium; new, one step up
    issue.change = compare(2, 900, 0, 900, ChangeConfig())  # 2 requests: could be chance
    assert not issue.changed and judged_severity(issue, config) == "medium"
    issue.change = compare(40, 900, 0, 900, ChangeConfig())
    assert issue.changed and judged_severity(issue, config) == "high"


# --- the rolling window ----------------------------------------------------------------------


def test_the_window_is_bounded_in_time_and_in_events() -> None:
    window = RollingWindow(span=10 * MIN, max_events=100)
    at = [NOW - 12 * MIN + n * 6 for n in range(120)]  # one event every 6 s for 12 minutes
    events = [Event(t, f"request {n}", "info", "svc") for n, t in enumerate(at)]
    floor = NOW - 10 * MIN
    assert window.add(events, NOW, floor) == 100  # the first 2 minutes are older than the span
    assert window.dropped.too_old == 20 and len(window) == 100 and window.take_warnings() == []
    # A day ahead of the wall clock is not kept for a day.
    assert window.add([Event(NOW + 2 * 86400, "from the future", "info", "svc")], NOW, floor) == 0
    # Past the cap, the oldest minutes go first, and the next warning says from when on the
    # data is complete again.
    later = [Event(NOW + n, f"later {n}", "info", "svc") for n in range(15)]
    window.add(later, NOW, floor)
    assert len(window) <= 100 and window.dropped.over_cap >= 15
    kept = [e.timestamp for _, e in window.events()]
    assert kept == sorted(kept) and kept[-1] == NOW + 14
    (warning,) = window.take_warnings()
    assert "--max-window-events" in warning and window.take_warnings() == []
    # Time moves on: what falls out of the span is forgotten.
    assert window.evict(NOW + 5 * MIN - 10 * MIN) > 0
    assert min(e.timestamp for _, e in window.events()) >= NOW - 5 * MIN


# --- identity --------------------------------------------------------------------------------


def test_an_issue_renamed_by_regrouping_is_the_same_issue() -> None:
    _, state = tick({}, [seen("a", "high", root="p1")], NOW)
    # Another pattern became the root: the issue id changed, p1 is still one of its patterns.
    kinds, state = tick(state, [seen("b", "high", root="p9", patterns=("p1",))], NOW + MIN)
    assert kinds == []
    assert state["a"].current_id == "b" and state["a"].open


def test_work_that_stopped_and_joined_a_failure_is_not_resolved_while_it_is_held() -> None:
    _, state = tick({}, [seen("s", "high", root="stop1", kind="stopped")], NOW)
    # The stop is now evidence inside the failure that explains it.
    for minute in range(1, 6):
        holder = seen("f", "critical", root="err1", stops=("stop1",))
        kinds, state = tick(state, [holder], NOW + minute * MIN)
        assert "resolved:s" not in kinds
    kinds, state = tick(state, [], NOW + 6 * MIN)
    kinds, state = tick(state, [], NOW + 7 * MIN)
    assert "resolved:s" in kinds  # with the failure that held it


def test_the_stopped_work_of_one_service_is_one_issue_whichever_line_leads() -> None:
    _, state = tick({}, [seen("s1", "high", root="stopA", kind="stopped")], NOW)
    kinds, _ = tick(state, [seen("s2", "critical", 0.4, root="stopB", kind="stopped")], NOW + MIN)
    assert kinds == ["escalated:s1"]


# --- leading indicators ----------------------------------------------------------------------


def test_a_leading_indicator_is_alerted_once_per_id() -> None:
    entry = {"id": "li-1", "service": "payment", "pattern_id": "p7", "text": "pool usage rising",
             "visible_from": NOW - 300, "precedes": None}  # fmt: skip
    other = SimpleNamespace(id="li-2", service="db", pattern_id=None, text="disk 91%",
                            visible_from="2027-01-15T08:00:00Z", precedes="i1")  # fmt: skip
    found, state = indicator_transitions({}, [entry, other, {"text": "no id"}], NOW, RULES)
    assert [(t.kind, t.key) for t in found] == [("leading_indicator", "li-1"),
                                               ("leading_indicator", "li-2")]  # fmt: skip
    assert found[0].indicator is not None and found[0].indicator["visible_from"].startswith("2027")
    again, state = indicator_transitions(state, [entry, other], NOW + MIN, RULES)
    assert again == []
    # Gone for two reports, then back within the cooldown: nothing; after it: once more.
    _, state = indicator_transitions(state, [], NOW + 2 * MIN, RULES)
    _, state = indicator_transitions(state, [], NOW + 3 * MIN, RULES)
    assert not state["li-1"].open
    again, state = indicator_transitions(state, [entry], NOW + 4 * MIN, RULES)
    assert again == []
    later, _ = indicator_transitions(state, [entry], NOW + 35 * MIN, RULES)
    assert [t.seq for t in later] == [2]


def test_indicator_state_is_kept_open_without_a_judgement() -> None:
    state = {"li": IndicatorState("li", True, NOW, 1, 0)}
    for minute in range(5):
        _, state = indicator_transitions(state, [], NOW + minute * MIN, RULES, absence=False)
    assert state["li"].open


# --- the source ------------------------------------------------------------------------------


def test_a_source_that_cannot_be_read_is_alerted_once_and_its_recovery_once() -> None:
    state = SourceState()
    kinds: list[str] = []
    for minute in range(6):
        found, state = source_transition(state, "app.jsonl", "gone", minute * MIN, NOW, RULES)
        kinds += [t.kind for t in found]
    assert kinds == ["source_unavailable"]
    found, state = source_transition(state, "app.jsonl", None, 0.0, NOW + 6 * MIN, RULES)
    assert [t.kind for t in found] == ["source_recovered"]
    found, state = source_transition(state, "app.jsonl", None, 0.0, NOW + 7 * MIN, RULES)
    assert found == [] and state == SourceState(alerts=2)


def test_a_silent_source_is_alerted_once_and_so_is_its_return() -> None:
    state = SourceState()
    kinds: list[str] = []
    for minute in range(5):
        found, state = source_transition(state, "idx", None, 0.0, NOW + minute * MIN, RULES,
                                         silent="no new events", silent_since=NOW)  # fmt: skip
        kinds += [t.kind for t in found]
    assert kinds == ["source_silent"] and state.trouble == "silent"
    found, state = source_transition(state, "idx", None, 0.0, NOW + 6 * MIN, RULES)
    assert [(t.kind, t.trouble) for t in found] == [("source_recovered", "silent")]


def test_a_short_blip_is_not_alerted() -> None:
    found, state = source_transition(SourceState(), "x", "timeout", 0.0, NOW, RULES)
    found2, state = source_transition(state, "x", None, 0.0, NOW + MIN, RULES)
    assert found == found2 == []


# --- alert documents and their text ----------------------------------------------------------


def test_an_alert_id_is_the_same_however_often_it_is_computed() -> None:
    found, _ = issue_transitions({}, [seen("a", "critical", last_seen=NOW)], NOW, RULES)
    context = AlertContext("default", "app.jsonl", NOW)
    first, second = (alert_document(found[0], context) for _ in range(2))
    assert first["id"] == second["id"]
    assert first["schema"] == "logsense.alert/v1" and first["kind"] == "new"
    assert alert_document(found[0], AlertContext("other", "app.jsonl", NOW))["id"] != first["id"]


HOSTILE = "<!channel> `rm -rf` *bold* <https://evil.example|click> \x1b[31mred\u202e & more"


def hostile_alert() -> dict[str, Any]:
    issue = seen("a", "critical", service="pay<ment>", last_seen=NOW)
    issue = replace(issue, doc={**issue.doc, "title": HOSTILE, "samples": [HOSTILE]})
    found, _ = issue_transitions({}, [issue], NOW, RULES)
    return alert_document(found[0], AlertContext("default", "app\n.jsonl", NOW))


def test_slack_shows_log_text_literally() -> None:
    text = slack_payload(hostile_alert())["text"]
    assert "<!channel>" not in text and "<https" not in text and "\x1b" not in text
    assert "&lt;!channel&gt;" in text and "\u202e" not in text
    # Every text from outside sits in a code span that nothing inside can close.
    assert "`rm" not in text and "ˋrm -rfˋ" in text


def test_email_headers_stay_one_line_and_the_body_shows_controls() -> None:
    message = email_message(hostile_alert(), "logsense@example.org", ["oncall@example.org"])
    assert "\n" not in message["Subject"] and "\x1b" not in message.as_string()


def test_the_webhook_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"a": 1}'
    expected = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert sign(b"k", body) == f"sha256={expected}"


# --- the watcher with a stub source and a hand-made report -----------------------------------


class StubSource:
    """Delivers one event per poll; `fail` makes polls raise, `quiet` deliver nothing."""

    name = "stub.jsonl"

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.fail = False
        self.quiet = False

    def poll(self, now: float, floor: float, deliver: Deliver) -> PollResult:
        if self.fail:
            raise SourceUnavailable("cannot read stub.jsonl: No such file or directory")
        result = PollResult()
        if self.quiet:
            return result
        events = [Event(now - 1, "hello", "info", "svc", "r1")]
        result.delivered(events)
        deliver(events)
        return result

    def close(self) -> None:
        pass


def issue_of(ident: str, severity: str, share: float, at: float) -> Issue:
    pattern = Pattern(id=f"p-{ident}", service="checkout", level="error", template="boom <*>")
    return Issue(ident, [pattern], pattern, "", 10, 5, share, None, at - 60, at,
                 severity=severity, status="ongoing")  # type: ignore[arg-type]  # fmt: skip


@pytest.fixture
def watcher_parts(tmp_path: Path) -> Iterator[tuple[WatchStore, ManualClock, Any]]:
    settings = load_settings(None, state_dir=tmp_path / "state")
    with WatchStore.open(state_dir(tmp_path / "state"), "default") as store:
        yield store, ManualClock(NOW), settings


def outbox(store: WatchStore) -> list[dict[str, Any]]:
    box = store.outbox()
    try:
        return [orjson.loads(row.payload) for row in box.due_rows("stdout")]
    finally:
        box.close()


def test_leading_indicators_of_a_report_make_alerts(watcher_parts: Any) -> None:
    store, clock, settings = watcher_parts
    indicators: list[Any] = [{"id": "li-9", "service": "payment", "pattern_id": "p3",
                              "text": "pool in use 30 → 31 of 32", "visible_from": NOW - 420,
                              "precedes": None}]  # fmt: skip
    report = SimpleNamespace(issues=[], warnings=[], leading_indicators=indicators)
    watcher = Watcher(StubSource(clock), settings, WatchOptions(every=60, rules=RULES), store,
                      clock=clock, sinks=["stdout"],
                      analyze=lambda source, spec, now: report)  # fmt: skip
    first = watcher.tick()
    assert [a["kind"] for a in first.alerts] == ["leading_indicator"]
    alert = first.alerts[0]
    assert alert["indicator"]["id"] == "li-9" and alert["text"].startswith("EARLY WARNING")
    clock.advance(60)
    assert watcher.tick().alerts == []  # once per indicator
    assert [a["kind"] for a in outbox(store)] == ["leading_indicator"]
    # A report without the field (today's pipeline) makes none.
    watcher._analyze = lambda source, spec, now: SimpleNamespace(issues=[], warnings=[])
    clock.advance(60)
    assert watcher.tick().alerts == []


def test_a_clock_jump_resolves_nothing(watcher_parts: Any) -> None:
    store, clock, settings = watcher_parts
    said: list[str] = []
    reports = [SimpleNamespace(issues=[issue_of("i1", "critical", 0.3, NOW)], warnings=[])]
    watcher = Watcher(StubSource(clock), settings, WatchOptions(every=60, rules=RULES), store,
                      clock=clock, sinks=["stdout"], analyze=lambda source, spec, now: reports[-1],
                      say=said.append)  # fmt: skip
    assert [a["kind"] for a in watcher.tick().alerts] == ["new"]
    reports.append(SimpleNamespace(issues=[], warnings=[]))
    clock.advance(60)
    clock.jump(86400)  # NTP, or a person, moved the wall clock a day ahead
    assert watcher.tick().alerts == []
    assert any("wall clock jumped by +1d" in line for line in said)
    assert watcher.state.issues["i1"].open and watcher.state.issues["i1"].absent_ticks == 0


def test_source_failures_make_one_alert_and_stop_the_judging(watcher_parts: Any) -> None:
    store, clock, settings = watcher_parts
    source = StubSource(clock)
    report = SimpleNamespace(issues=[issue_of("i1", "critical", 0.3, NOW)], warnings=[])
    options = WatchOptions(every=60, rules=RULES)
    watcher = Watcher(source, settings, options, store, clock=clock, sinks=["stdout"],
                      analyze=lambda s, spec, now: report)  # fmt: skip
    watcher.tick()
    source.fail = True
    kinds = []
    for _ in range(20):  # 20 minutes without a read: the issue is neither resolved nor repeated
        clock.advance(60)
        kinds += [a["kind"] for a in watcher.tick().alerts]
    assert kinds == ["source_unavailable"]
    source.fail = False
    clock.advance(60)
    report.issues = [issue_of("i1", "critical", 0.3, clock.now())]
    assert [a["kind"] for a in watcher.tick().alerts] == ["source_recovered"]
    assert [a["kind"] for a in outbox(store)] == ["new", "source_unavailable", "source_recovered"]


def test_a_silent_source_is_one_alert_and_issues_wait(watcher_parts: Any) -> None:
    store, clock, settings = watcher_parts
    source = StubSource(clock)
    analyzed: list[float] = []

    def analyze(source: Any, spec: Any, now: float) -> Any:
        analyzed.append(now)
        return SimpleNamespace(issues=[issue_of("i1", "critical", 0.3, now)], warnings=[])

    watcher = Watcher(source, settings, WatchOptions(every=60, rules=RULES), store, clock=clock,
                      sinks=["stdout"], analyze=analyze)  # fmt: skip
    watcher.tick()
    source.quiet = True  # the application (or its shipper) stopped writing
    kinds = []
    for _ in range(15):
        clock.advance(60)
        kinds += [a["kind"] for a in watcher.tick().alerts]
    # Judged while the newest event was less than 5 minutes old, then only the one alert.
    assert kinds == ["source_silent"] and len(analyzed) == 5
    source.quiet = False
    clock.advance(60)
    back = watcher.tick().alerts
    assert [a["kind"] for a in back] == ["source_recovered"]
    assert back[0]["text"].startswith("EVENTS AGAIN from stub.jsonl")
