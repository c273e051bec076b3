"""`logsense watch`: triage new data every tick, and alert on what changed.

    clock.py        the wall and monotonic clocks, injected (tests run hours in seconds)
    follow.py       a growing file: byte offset, partial lines, rotation, truncation
    esfollow.py     an index: search_after on time + _shard_doc from the last position
    rolling.py      the rolling window of recent events, bounded, as a pipeline Source
    transitions.py  the rules: new, escalated, resolved, leading indicator, source down/up
    alerts.py       alert documents (schema logsense.alert/v1) and their one-line text
    state.py        watch-NAME.sqlite3: what was announced, and the outbox of alerts to deliver
    sinks.py        stdout, Slack, signed webhook, email; the dispatcher (retries, backoff)
    metrics.py      Prometheus metrics and /healthz
    loop.py         the ticking: read → window → triage → transitions → commit → deliver

`cli/watch.py` parses the options and runs `Watcher.run` until SIGTERM. `esfollow` is not
imported here: following a file never loads the Elasticsearch client.
"""

from __future__ import annotations

from logsense.watch.alerts import SCHEMA, alert_document
from logsense.watch.clock import Clock, ManualClock, SystemClock
from logsense.watch.follow import FileFollower, Follower, PollResult
from logsense.watch.loop import TickOutcome, Watcher, WatchOptions
from logsense.watch.metrics import Health, MetricsServer, WatchMetrics
from logsense.watch.sinks import (
    DeliveryFailed,
    Dispatcher,
    EmailSink,
    Sink,
    SlackSink,
    StdoutSink,
    WebhookSink,
)
from logsense.watch.state import WatchStore
from logsense.watch.transitions import Rules, SourceState, Transition

__all__ = [
    "SCHEMA",
    "Clock",
    "DeliveryFailed",
    "Dispatcher",
    "EmailSink",
    "FileFollower",
    "Follower",
    "Health",
    "ManualClock",
    "MetricsServer",
    "PollResult",
    "Rules",
    "Sink",
    "SlackSink",
    "SourceState",
    "StdoutSink",
    "SystemClock",
    "TickOutcome",
    "Transition",
    "WatchMetrics",
    "WatchOptions",
    "WatchStore",
    "Watcher",
    "WebhookSink",
    "alert_document",
]
