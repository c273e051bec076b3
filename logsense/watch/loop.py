"""The ticking: read what is new → roll the window → triage → transitions → commit → deliver.

Each tick (`Watcher.tick`):

1. **Read** what is new since the last tick (`Follower.poll`), into the rolling window. A read
   that fails is a *source failure*: no triage, no issue judged (nothing can be told about
   what stopped while nothing can be read); after `unreachable_after` one `source_unavailable`
   alert, and one `source_recovered` when a read works again. A source that reads but whose
   newest event is `silent_after` old is *silent*: the same, with one `source_silent` alert
   (every service's work would otherwise look stopped, one alert each).
2. **Roll** the window: forget what is older than `--since` + `--baseline` before now.
3. **Triage** the window as `logsense triage` would at this moment (anchored at now; LLM
   summaries off: the model is asked only about issues being alerted).
4. **Transitions** against the state the last tick left (`transitions.py`). Resolutions are not
   judged on a tick whose window is empty or after the wall clock jumped (by more than a minute
   against the monotonic clock, or half a tick).
5. **Commit** the state and the alerts (into the outbox, one row per sink) in one transaction
   (`state.py`); then wake the sinks' threads, which deliver without the tick waiting.

`run` ticks every `every` seconds of the monotonic clock until `stop` is set (SIGTERM sets it:
the tick under way finishes first); a tick longer than the interval is followed at once by the
next, never by a burst. The clock is injected (`clock.py`), and so is the triage (`analyze`),
so tests run hours in seconds and can hand the rules a report of their own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from logsense.analyze.embed import Embedder
from logsense.config import LlmConfig, Settings
from logsense.errors import InputError, LogsenseError
from logsense.escape import one_line
from logsense.model import SEVERITIES, Issue, Report, Summary, Window, iso
from logsense.sources import Source
from logsense.sources.window import WindowSpec
from logsense.state import state_dir
from logsense.watch.alerts import AlertContext, alert_document, headline
from logsense.watch.clock import Clock
from logsense.watch.follow import Follower, PollResult
from logsense.watch.metrics import Health, WatchMetrics
from logsense.watch.rolling import RollingWindow
from logsense.watch.sinks import Dispatcher
from logsense.watch.state import Snapshot, WatchStore
from logsense.watch.transitions import (
    Rules,
    Tracked,
    Transition,
    indicator_transitions,
    issue_transitions,
    seen_from,
    source_transition,
)

__all__ = ["Analyze", "TickOutcome", "WatchOptions", "Watcher"]

# What triages a window: (source, spec, anchor) → a report (or any object with `issues`, and
# optionally `leading_indicators`, `warnings`, `window`).
Analyze = Callable[[Source, WindowSpec, float], Any]
_NO_LLM_WARNING = "summaries by rules:"


@dataclass(frozen=True)
class WatchOptions:
    """How a watcher ticks and judges."""

    name: str = "default"
    every: float = 60.0
    since: float = 900.0
    baseline: float | None = None  # None: as long as the window
    rules: Rules = field(default_factory=Rules)
    max_window_events: int = 1_000_000
    llm: LlmConfig = field(default_factory=LlmConfig)
    verbose: bool = True

    @property
    def span(self) -> float:
        """How far back the window and its baseline reach."""
        return self.since + (self.since if self.baseline is None else self.baseline)

    @property
    def spec(self) -> WindowSpec:
        """The window of every tick: `since` back from now, and its baseline before."""
        return WindowSpec(since=self.since, baseline=self.baseline)


@dataclass
class TickOutcome:
    """What one tick did."""

    number: int
    alerts: list[dict[str, Any]]
    read: int = 0
    error: str | None = None
    report: Any = None
    empty: bool = False
    silent: bool = False
    duration: float = 0.0


class Watcher:
    """Ticks over a `Follower` (see the module's docstring)."""

    def __init__(
        self,
        follower: Follower,
        settings: Settings,
        options: WatchOptions,
        store: WatchStore,
        *,
        clock: Clock,
        sinks: list[str],
        dispatcher: Dispatcher | None = None,
        metrics: WatchMetrics | None = None,
        health: Health | None = None,
        analyze: Analyze | None = None,
        embedder: Embedder | None = None,
        say: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.follower = follower
        self.settings = settings
        self.options = options
        self.store = store
        self.clock = clock
        self.sinks = sinks
        self.dispatcher = dispatcher
        self.metrics = metrics or WatchMetrics()
        self.health = health or Health(clock, options.every, options.rules.unreachable_after)
        self.window = RollingWindow(options.span, options.max_window_events)
        self._analyze = analyze or self._triage
        self._embedder = embedder
        self._say = say
        self._tick_settings = settings.model_copy(
            update={"llm": settings.llm.model_copy(update={"enabled": False})}
        )
        self.state: Snapshot = store.load(follower.name)
        self.ticks = 0
        self._last_clocks: tuple[float, float] | None = None
        self._failing_since: float | None = None  # monotonic, this process
        self._newest_read: float | None = None
        self._warned: set[str] = set()
        self._started = (clock.now(), clock.monotonic())

    # --- running -----------------------------------------------------------------------------

    def run(self, stop: threading.Event, max_ticks: int | None = None) -> None:
        """Tick every `every` seconds until `stop` is set (or `max_ticks` ticks were made)."""
        every = self.options.every
        next_at = self.clock.monotonic()
        while not stop.is_set():
            self.tick()
            if max_ticks is not None and self.ticks >= max_ticks:
                return
            next_at += every
            now = self.clock.monotonic()
            if next_at < now:  # the tick took longer than the interval: the next one now
                next_at = now
            if self.clock.wait(next_at - now, stop):
                return

    def tick(self) -> TickOutcome:
        """One tick (see the module's docstring)."""
        started = self.clock.monotonic()
        now = self.clock.now()
        self.ticks += 1
        outcome = TickOutcome(self.ticks, [])
        jumped = self._clock_jump(now, started)
        error, polled = self._read(now)
        outcome.error = error
        silent, silent_since = self._silence(now, started) if error is None else (None, None)
        outcome.silent = silent is not None
        transitions, source_state = source_transition(
            self.state.source, self.follower.name, error, self._failing_for(error, started), now,
            self.options.rules, silent=silent, silent_since=silent_since,
        )  # fmt: skip
        issues, indicators = self.state.issues, self.state.indicators
        if error is None and silent is None:
            self.window.evict(self._floor(now))
            report = self._triage_window(now, outcome)
            if report is not None:
                seen = [
                    seen_from(i, self.settings.severity)
                    for i in getattr(report, "issues", [])
                    if isinstance(i, Issue)
                ]
                found, issues = issue_transitions(
                    issues, seen, now, self.options.rules, resolutions=not jumped
                )
                transitions += found
                entries = getattr(report, "leading_indicators", None) or []
                found, indicators = indicator_transitions(
                    indicators, list(entries) if isinstance(entries, list | tuple) else [], now,
                    self.options.rules, absence=not jumped,
                )  # fmt: skip
                transitions += found
        context = AlertContext(self.options.name, self.follower.name, now, self._window_of(now))
        alerts = [alert_document(t, context) for t in transitions]
        if outcome.report is not None and alerts:
            issues = self._summarize(outcome.report, transitions, alerts, issues)
        after = Snapshot(issues, indicators, source_state, self.state.ticks + 1)
        self.store.commit(after, self.follower.name, alerts, self.sinks, now)
        self.state = after
        outcome.alerts = alerts
        outcome.read = polled.events if polled is not None else 0
        outcome.duration = self.clock.monotonic() - started
        if self.dispatcher is not None and alerts:
            self.dispatcher.wake()
        self._account(outcome, polled, now)
        return outcome

    # --- the steps ---------------------------------------------------------------------------

    def _read(self, now: float) -> tuple[str | None, PollResult | None]:
        """Poll the follower into the window; (the error, if the read failed; the result)."""
        floor = self._floor(now)
        try:
            polled = self.follower.poll(now, floor, lambda events: self._keep(events, now))
        except (LogsenseError, OSError) as exc:
            return one_line(str(exc)), None
        if polled.newest is not None and (
            self._newest_read is None or polled.newest > self._newest_read
        ):
            self._newest_read = polled.newest
        return None, polled

    def _keep(self, events: list[Any], now: float) -> None:
        self.window.add(events, now, self._floor(now))

    def _floor(self, now: float) -> float:
        """Where the window and its baseline start: `span` before now, or before the newest
        event when the wall clock lies ahead of all events (it jumped forward)."""
        newest = self.window.newest
        return (now if newest is None else min(now, newest)) - self.options.span

    def _silence(self, now: float, mono: float) -> tuple[str | None, float | None]:
        """(why the source is silent, since when), or (None, None) when events come."""
        limit = self.options.rules.silent_after
        newest = self._newest_read
        if newest is not None:
            if now - newest < limit:
                return None, None
            return f"no new events since {iso(newest)} ({_duration(now - newest)} ago)", newest
        if mono - self._started[1] < limit:
            return None, None
        since = self._started[0]
        return f"no events at all since the watcher started at {iso(since)}", since

    def _failing_for(self, error: str | None, started: float) -> float:
        if error is None:
            self._failing_since = None
            return 0.0
        if self._failing_since is None:
            self._failing_since = started
        return started - self._failing_since

    def _triage_window(self, now: float, outcome: TickOutcome) -> Any:
        """The report of the window at `now`, or None (empty window, or the triage failed)."""
        if not len(self.window):
            outcome.empty = True
            return None
        try:
            report = self._analyze(self.window.source(self.follower.name, []), self.options.spec,
                                   now)  # fmt: skip
        except InputError:
            outcome.empty = True
            return None
        except LogsenseError as exc:
            self._warn("tick_error", f"tick {self.ticks}: the triage failed: {exc}")
            return None
        outcome.report = report
        return report

    def _triage(self, source: Source, spec: WindowSpec, now: float) -> Report:
        from logsense.pipeline import triage

        return triage(
            source, spec, self._tick_settings, anchor=now, embedder=self._embedder,
            progress=False,
        )  # fmt: skip

    def _window_of(self, now: float) -> Window | None:
        try:
            return self.options.spec.resolve(now)[0]
        except LogsenseError:
            return None

    def _summarize(
        self,
        report: Any,
        transitions: list[Transition],
        alerts: list[dict[str, Any]],
        issues: dict[str, Tracked],
    ) -> dict[str, Tracked]:
        """With an LLM configured, its checked summaries of the issues alerted as new or
        escalated, into their alerts (never fatal: the rules' text stays)."""
        chosen = [
            (t, a) for t, a in zip(transitions, alerts, strict=True)
            if t.kind in ("new", "escalated") and t.issue is not None and t.issue.issue is not None
        ]  # fmt: skip
        if not chosen or not isinstance(report, Report):
            return issues
        from logsense.summarize.llm import disabled_reason
        from logsense.summarize.summaries import write_summaries

        if disabled_reason(self.options.llm) is not None:
            return issues
        chosen_issues = [t.issue.issue for t, _ in chosen if t.issue and t.issue.issue]
        part = Report(
            report.window, report.baseline, report.source, report.totals, chosen_issues,
            patterns=report.patterns,
        )  # fmt: skip
        try:
            write_summaries(part, report.patterns, self.options.llm,
                            state_dir(self.settings.state_dir))  # fmt: skip
        except LogsenseError as exc:
            self._warn("tick_error", f"tick {self.ticks}: LLM summaries failed: {exc}")
            return issues
        updated = dict(issues)
        for transition, alert in chosen:
            summary: Summary | None = transition.issue.issue.summary  # type: ignore[union-attr]
            if summary is None or summary.by != "llm":
                continue
            alert["issue"]["title"] = summary.title
            alert["issue"]["summary"] = summary.text
            alert["text"] = headline(alert)
            tracked = updated.get(transition.key)
            if tracked is not None:
                doc = {**tracked.doc, "title": summary.title, "summary": summary.text}
                updated[transition.key] = replace(tracked, doc=doc)
        return updated

    # --- saying what happened ----------------------------------------------------------------

    def _clock_jump(self, now: float, mono: float) -> bool:
        last = self._last_clocks
        self._last_clocks = (now, mono)
        if last is None:
            return False
        drift = (now - last[0]) - (mono - last[1])
        if abs(drift) <= max(60.0, self.options.every / 2):
            return False
        sign = "+" if drift > 0 else "-"
        self._warn(
            "clock_jump",
            f"the wall clock jumped by {sign}{_duration(abs(drift))} since the last tick "
            f"(now {iso(now)}): no issue is judged resolved on this tick",
        )
        return True

    def _warn(self, kind: str, text: str) -> None:
        self.metrics.warnings.labels(kind).inc()
        self._say(f"warning: {text}")

    def _account(self, outcome: TickOutcome, polled: PollResult | None, now: float) -> None:
        """Metrics, health and the lines on stderr for a finished tick."""
        m = self.metrics
        self.health.tick_finished(outcome.error)
        m.tick_duration.observe(outcome.duration)
        m.last_tick.set(now)
        m.window_events.set(len(self.window))
        m.source_up.set(0 if outcome.error else 1)
        if self._newest_read is not None:
            m.lag.set(max(0.0, now - self._newest_read))
        result = "source_error" if outcome.error else "empty" if outcome.empty else "ok"
        if outcome.silent:
            result = "silent"
        elif outcome.error is None and not outcome.empty and outcome.report is None:
            result = "error"
        m.ticks.labels(result).inc()
        for alert in outcome.alerts:
            m.alerts.labels(alert["kind"]).inc()
        if polled is not None:
            m.events_read.inc(polled.events)
            for reason, count in polled.stats.malformed_reasons.items():
                m.malformed.labels(reason).inc(count)
            notes = set(polled.stats.notes)
            for line in polled.stats.warnings():
                kind = "read_note" if line in notes else "malformed"
                self._warn(kind, f"tick {outcome.number}: {line}")
        for line in self.window.take_warnings():
            self._warn("window_cap", line)
        report = outcome.report
        if report is not None:
            counts = dict.fromkeys(SEVERITIES, 0)
            for issue in getattr(report, "issues", []):
                severity = getattr(issue, "severity", None)
                if severity in counts:
                    counts[severity] += 1
            for severity, count in counts.items():
                m.issues.labels(severity).set(count)
            warnings = {w for w in getattr(report, "warnings", []) if isinstance(w, str)
                        and not w.startswith(_NO_LLM_WARNING)}  # fmt: skip
            for line in sorted(warnings - self._warned):
                self._warn("report", f"tick {outcome.number}: {line}")
            self._warned = warnings
        if self.dispatcher is not None:
            outbox = self.store.outbox()
            try:
                self.dispatcher.update_pending(outbox)
            finally:
                outbox.close()
        if outcome.error is not None:
            self._say(f"tick {outcome.number}: cannot read the source: {outcome.error}")
        elif outcome.silent:
            self._say(f"tick {outcome.number}: the source is silent: issues are not judged")
        elif self.options.verbose:
            self._say(_tick_line(outcome, len(self.window), report))
        for alert in outcome.alerts:
            self._say(f"alert {alert['id']}: {alert['text']}")


def _tick_line(outcome: TickOutcome, window: int, report: Any) -> str:
    issues = list(getattr(report, "issues", [])) if report is not None else []
    severe = [getattr(i, "severity", "") for i in issues]
    worst = ", ".join(f"{severe.count(s)} {s}" for s in ("critical", "high") if severe.count(s))
    what = (
        "empty window"
        if outcome.empty
        else f"{len(issues)} issues" + (f" ({worst})" if worst else "")
    )
    alerts = len(outcome.alerts)
    return (
        f"tick {outcome.number}: +{outcome.read:,} events (window {window:,}), {what}, "
        f"{alerts} alert{'s' if alerts != 1 else ''} ({outcome.duration:.1f} s)"
    )


def _duration(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock
