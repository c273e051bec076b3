"""The watcher seen from outside: Prometheus metrics and a health check, over HTTP.

`--metrics-port` serves, on `--metrics-host` (default 127.0.0.1):

    /metrics   Prometheus text format (prometheus-client), from the watcher's own registry
    /healthz   200 {"status": "ok", ...} or 503 {"status": "failing", "reason": ...}

Health fails when no tick has finished for `stale_after` seconds (3 ticks and a minute), or when
the source has been unreadable for longer than `unreachable_after`.

Metrics (all prefixed `logsense_watch_`):

    events_read_total                 events read from the source (new data only)
    malformed_total                   records that could not be read, by reason
    lag_seconds                       now minus the newest event read so far
    window_events                     events in the rolling window now
    tick_duration_seconds             histogram of tick durations
    ticks_total{result}               ticks by result: ok, empty, silent, source_error, error
    issues{severity}                  issues in the window now, by severity
    alerts_total{kind}                alerts made (once each, whatever the sinks)
    alerts_sent_total{sink,kind}      alerts delivered, by sink
    alerts_failed_total{sink}         alerts given up on, by sink
    delivery_errors_total{sink}       failed delivery attempts (each retry counts)
    outbox_pending{sink}              alerts waiting to be delivered
    source_up                         1 when the last read worked, else 0
    warnings_total{kind}              things said on stderr: malformed, read_note, clock_jump,
                                      window_cap, tick_error, report
    last_tick_timestamp_seconds       wall clock of the last finished tick
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from logsense.errors import UsageError
from logsense.model import SEVERITIES
from logsense.watch.clock import Clock

__all__ = ["Health", "MetricsServer", "WatchMetrics"]

_PREFIX = "logsense_watch"


class WatchMetrics:
    """The watcher's metrics, in a registry of their own (never the process-wide default)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events_read = Counter(f"{_PREFIX}_events_read", "Events read from the source.",
                                   registry=r)  # fmt: skip
        self.malformed = Counter(
            f"{_PREFIX}_malformed", "Records that could not be read.", ["reason"], registry=r
        )
        self.lag = Gauge(
            f"{_PREFIX}_lag_seconds", "Now minus the newest event read so far.", registry=r
        )
        self.window_events = Gauge(
            f"{_PREFIX}_window_events", "Events in the rolling window.", registry=r
        )
        self.tick_duration = Histogram(
            f"{_PREFIX}_tick_duration_seconds", "Tick durations.",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300), registry=r,
        )  # fmt: skip
        self.ticks = Counter(f"{_PREFIX}_ticks", "Ticks by result.", ["result"], registry=r)
        self.issues = Gauge(
            f"{_PREFIX}_issues", "Issues in the window, by severity.", ["severity"], registry=r
        )
        self.alerts = Counter(f"{_PREFIX}_alerts", "Alerts made, by kind.", ["kind"], registry=r)
        self.sent = Counter(
            f"{_PREFIX}_alerts_sent", "Alerts delivered.", ["sink", "kind"], registry=r
        )
        self.failed = Counter(
            f"{_PREFIX}_alerts_failed", "Alerts given up on.", ["sink"], registry=r
        )
        self.delivery_errors = Counter(
            f"{_PREFIX}_delivery_errors", "Failed delivery attempts.", ["sink"], registry=r
        )
        self.pending = Gauge(
            f"{_PREFIX}_outbox_pending", "Alerts waiting to be delivered.", ["sink"], registry=r
        )
        self.source_up = Gauge(
            f"{_PREFIX}_source_up", "1 when the last read of the source worked.", registry=r
        )
        self.warnings = Counter(
            f"{_PREFIX}_warnings", "Warnings said on stderr, by kind.", ["kind"], registry=r
        )
        self.last_tick = Gauge(
            f"{_PREFIX}_last_tick_timestamp_seconds", "Wall clock of the last finished tick.",
            registry=r,
        )  # fmt: skip
        for severity in SEVERITIES:
            self.issues.labels(severity).set(0)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


class Health:
    """Whether the watcher is alive: ticks finish, and the source can be read."""

    def __init__(self, clock: Clock, every: float, unreachable_after: float) -> None:
        self._clock = clock
        self.stale_after = 3 * every + 60.0
        self.unreachable_after = unreachable_after
        self._lock = threading.Lock()
        self._started = clock.monotonic()
        self._last_tick: float | None = None
        self._failing_since: float | None = None
        self._error: str | None = None
        self.ticks = 0

    def tick_finished(self, source_error: str | None) -> None:
        """Record a finished tick, and whether its read failed (with what)."""
        now = self._clock.monotonic()
        with self._lock:
            self._last_tick = now
            self.ticks += 1
            if source_error is None:
                self._failing_since, self._error = None, None
            else:
                if self._failing_since is None:
                    self._failing_since = now
                self._error = source_error

    def failing_for(self) -> float:
        """Seconds the source has failed without a break (0 when it reads)."""
        with self._lock:
            if self._failing_since is None:
                return 0.0
            return self._clock.monotonic() - self._failing_since

    def status(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, the JSON /healthz answers)."""
        now = self._clock.monotonic()
        with self._lock:
            since = self._last_tick if self._last_tick is not None else self._started
            quiet = now - since
            failing = now - self._failing_since if self._failing_since is not None else 0.0
            body: dict[str, Any] = {"ticks": self.ticks, "seconds_since_tick": round(quiet, 1)}
            if quiet > self.stale_after:
                reason = f"no tick finished for {quiet:.0f} s (limit {self.stale_after:.0f} s)"
                return False, {"status": "failing", "reason": reason, **body}
            if self._failing_since is not None and failing > self.unreachable_after:
                reason = f"the source cannot be read for {failing:.0f} s: {self._error}"
                return False, {"status": "failing", "reason": reason, **body}
            return True, {"status": "ok", **body}


class MetricsServer:
    """`/metrics` and `/healthz` on a loopback (or given) address, in a daemon thread."""

    def __init__(self, metrics: WatchMetrics, health: Health, host: str, port: int) -> None:
        handler = _handler(metrics.exposition, health.status)
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise UsageError(
                f"--metrics-port {port}: cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="logsense-metrics", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The port listened on (useful with port 0)."""
        return int(self._server.server_address[1])

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


def _handler(
    exposition: Callable[[], bytes], status: Callable[[], tuple[bool, dict[str, Any]]]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, exposition(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                healthy, body = status()
                self._answer(200 if healthy else 503, orjson.dumps(body), "application/json")
            else:
                self._answer(404, b"not found: try /metrics or /healthz\n", "text/plain")

        def _answer(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # no line on stderr per scrape

    return Handler
