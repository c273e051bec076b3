"""Where alerts go, behind one small interface, and the dispatcher that delivers the outbox.

    StdoutSink    one JSON line per alert on stdout (`--stdout`)
    SlackSink     a Slack-compatible incoming webhook: `{"text": …}` in Slack's mrkdwn
                  (`--slack`; the URL, a secret, only from LOGSENSE_SLACK_WEBHOOK_URL)
    WebhookSink   the alert JSON POSTed to `--webhook URL`, signed: `X-Logsense-Signature-256:
                  sha256=<HMAC-SHA256 of the body, hex>` with the secret from the environment
                  variable `--webhook-secret-env` names (LOGSENSE_WEBHOOK_SECRET)
    EmailSink     one email per alert through the digest's SMTP settings (`--email-to`)

A sink's `send` returns when the alert was delivered, or raises `DeliveryFailed` saying whether
to try again (HTTP 408/429/5xx, timeouts, refused connections, an SMTP server that did not
answer) or not (another 4xx, a 3xx, a refused login or recipient).

`Dispatcher` runs one thread per sink, so a sink that hangs holds up only itself, and the ticks
never wait for any. Each thread delivers its sink's outbox rows oldest first, skipping rows
waiting for a retry: attempt n+1 comes 2^(n-1) seconds after attempt n (at most 5 minutes, with
jitter); after `retries` retries, or an error not worth retrying, the alert is given up on
(`alerts_failed_total`, one line on stderr). Every request has a timeout (`--sink-timeout`).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any, Protocol, TextIO
from urllib.parse import urlsplit

import orjson

from logsense import __version__
from logsense.config import SmtpConfig
from logsense.errors import LogsenseError, SourceUnavailable, UsageError
from logsense.escape import header_text, json_safe, one_line, slack_code, visible
from logsense.watch.metrics import WatchMetrics
from logsense.watch.state import Outbox, OutboxRow, WatchStore

__all__ = [
    "DeliveryFailed",
    "Dispatcher",
    "EmailSink",
    "Sink",
    "SlackSink",
    "StdoutSink",
    "WebhookSink",
    "alert_json",
    "display_url",
    "email_message",
    "sign",
    "slack_payload",
]

_MAX_BACKOFF = 300.0
_USER_AGENT = f"logsense/{__version__}"


class DeliveryFailed(Exception):
    """A delivery that did not happen; `retry` says whether trying again may help."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class Sink(Protocol):
    """Somewhere alerts go."""

    name: str
    description: str

    def send(self, alert: dict[str, Any]) -> None:
        """Deliver `alert`, or raise DeliveryFailed."""
        ...


def alert_json(alert: dict[str, Any]) -> bytes:
    """The alert as compact JSON; DEL, C1 and bidirectional controls as `\\u` escapes."""
    return json_safe(orjson.dumps(alert).decode()).encode()


def display_url(url: str) -> str:
    """`scheme://host[:port]` only: a webhook's path and query often hold its secret."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def check_url(url: str, option: str) -> str:
    """An http(s) URL with a host; UsageError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{option} must be an http(s) URL")
    return url


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of `body`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


# --- stdout ----------------------------------------------------------------------------------


class StdoutSink:
    """One JSON line per alert on stdout."""

    name = "stdout"
    description = "stdout (JSON lines)"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, alert: dict[str, Any]) -> None:
        """Write and flush the line."""
        stream = self._stream or sys.stdout
        try:
            with self._lock:
                stream.write(alert_json(alert).decode() + "\n")
                stream.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise DeliveryFailed(f"stdout is closed ({exc})", retry=False) from None
        except OSError as exc:
            raise DeliveryFailed(
                f"cannot write stdout: {exc.strerror or exc}", retry=True
            ) from None


# --- HTTP ------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is a failure, never followed (the body would go elsewhere)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    where = display_url(url)
    request = urllib.request.Request(
        url, data=body, method="POST",
        headers={"User-Agent": _USER_AGENT, "Content-Type": "application/json", **headers},
    )  # fmt: skip
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(1 << 16)
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
        retry = status in (408, 425, 429) or status >= 500
        raise DeliveryFailed(f"{where} answered HTTP {status}", retry=retry) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        text = getattr(reason, "strerror", None) or str(reason)
        if isinstance(reason, TimeoutError):
            text = f"no answer within {timeout:g} s"
        raise DeliveryFailed(f"{where} did not answer: {text}", retry=True) from None
    except TimeoutError:
        raise DeliveryFailed(f"{where} did not answer within {timeout:g} s", retry=True) from None
    except (OSError, http.client.HTTPException) as exc:
        text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise DeliveryFailed(f"{where} failed: {text}", retry=True) from None


class WebhookSink:
    """The alert JSON, POSTed and signed with HMAC-SHA256."""

    name = "webhook"

    def __init__(self, url: str, secret: bytes, timeout: float = 10.0) -> None:
        self.url = check_url(url, "--webhook")
        self.description = f"webhook {display_url(url)}"
        self._secret = secret
        self.timeout = timeout

    def send(self, alert: dict[str, Any]) -> None:
        """POST the alert with its signature, id and kind in headers."""
        body = alert_json(alert)
        headers = {
            "X-Logsense-Signature-256": sign(self._secret, body),
            "X-Logsense-Alert-Id": str(alert["id"]),
            "X-Logsense-Event": str(alert["kind"]),
        }
        _post(self.url, body, headers, self.timeout)


_SLACK_LABELS = {
    "new": "NEW",
    "escalated": "ESCALATED",
    "resolved": "RESOLVED",
    "leading_indicator": "EARLY WARNING",
    "source_unavailable": "CANNOT READ",
    "source_silent": "NO NEW EVENTS",
    "source_recovered": "RECOVERED",
}


def _percent(value: object) -> str:
    share = float(value) if isinstance(value, int | float) else 0.0
    return f"{share * 100:.1f}%" if share < 0.1 else f"{share * 100:.0f}%"


def _clock(text: object) -> str:
    value = str(text or "")
    return f"{value[11:16]} UTC" if len(value) >= 16 else "?"


def slack_payload(alert: dict[str, Any]) -> dict[str, str]:
    """A Slack-compatible message: what happened in our words, every text from logs or the
    outside world in a literal code span (`escape.slack_code`)."""
    kind = alert["kind"]
    label = _SLACK_LABELS.get(kind, kind.upper())
    issue = alert.get("issue") or {}
    previous = alert.get("previous") or {}
    watch = alert.get("watch") or {}
    where = f"watch {slack_code(str(watch.get('name', '')))} on {slack_code(str(watch.get('source', '')))}"  # noqa: E501
    if issue:
        service = slack_code(str((issue.get("root_cause") or {}).get("service", "")))
        title = slack_code(str(issue.get("title", "")))
        basis = "requests" if issue.get("impact_basis", "requests") == "requests" else "events"
        share = _percent(issue.get("share_of_requests"))
        if kind == "new":
            head = f"*{label} {issue.get('severity')} issue* in {service}: {title}"
            detail = f"{share} of {basis} since {_clock(issue.get('first_seen'))}"
        elif kind == "escalated":
            head = f"*{label} {previous.get('severity')} → {issue.get('severity')}* in {service}: {title}"  # noqa: E501
            detail = f"{_percent(previous.get('share_of_requests'))} → {share} of {basis}"
        else:
            head = f"*{label}* in {service}: {title}"
            detail = f"last event {_clock(issue.get('last_seen'))}"
    elif kind == "leading_indicator":
        indicator = alert.get("indicator") or {}
        head = (
            f"*{label}* in {slack_code(str(indicator.get('service') or '-'))}: "
            f"{slack_code(str(indicator.get('text') or ''))}"
        )
        precedes = indicator.get("precedes")
        detail = f"visible since {_clock(indicator.get('visible_from'))}" + (
            f", precedes issue {slack_code(str(precedes))}" if precedes else ""
        )
    else:
        source = alert.get("source") or {}
        head = f"*{label}* {slack_code(str(source.get('name', '')))}"
        trouble = "silent" if source.get("trouble") == "silent" else "unreadable"
        detail = (
            f"since {_clock(source.get('since'))}: {slack_code(str(source.get('error') or ''))}"
            if kind in ("source_unavailable", "source_silent")
            else f"{trouble} from {_clock(source.get('since'))} to {_clock(alert.get('at'))}"
        )
    return {"text": f"{head}\n{detail} · {where}"}


class SlackSink:
    """A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat …)."""

    name = "slack"

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = check_url(url, "LOGSENSE_SLACK_WEBHOOK_URL")
        self.description = f"Slack webhook {display_url(url)}"
        self.timeout = timeout

    def send(self, alert: dict[str, Any]) -> None:
        """POST the message."""
        _post(self.url, orjson.dumps(slack_payload(alert)), {}, self.timeout)


# --- email -----------------------------------------------------------------------------------


def email_message(alert: dict[str, Any], sender: str, recipients: list[str]) -> EmailMessage:
    """One alert as a plain-text email: the headline as subject, the facts, the JSON."""
    message = EmailMessage()
    watch = alert.get("watch") or {}
    name = watch.get("name", "default")
    tag = "[logsense]" if name == "default" else f"[logsense {name}]"
    message["Subject"] = header_text(f"{tag} {alert.get('text', '')}")
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["X-Logsense-Alert-Id"] = header_text(str(alert["id"]))
    lines = [visible(str(alert.get("text", ""))), ""]
    issue = alert.get("issue") or {}
    for label, value in (
        ("severity", issue.get("severity")),
        ("share of requests", issue.get("share_of_requests")),
        ("requests affected", issue.get("requests_affected")),
        ("services", ", ".join(issue.get("services") or [])),
        ("root cause", (issue.get("root_cause") or {}).get("template")),
        ("first seen", issue.get("first_seen")),
        ("last seen", issue.get("last_seen")),
    ):
        if value not in (None, ""):
            lines.append(f"{label}: {one_line(str(value))}")
    for sample in issue.get("samples") or []:
        lines.append(f"sample: {one_line(str(sample))}")
    lines += [
        "",
        f"watch {one_line(str(name))} on {one_line(str(watch.get('source', '')))}, "
        f"alert {alert['id']} at {alert.get('at')}",
        "",
        "The alert as JSON (schema logsense.alert/v1):",
        alert_json(alert).decode(),
    ]
    message.set_content("\n".join(lines) + "\n")
    return message


class EmailSink:
    """One email per alert, through the digest's SMTP settings (`digest/mail.py`)."""

    name = "email"

    def __init__(
        self, smtp: SmtpConfig, recipients: list[str], sender: str, password: str | None
    ) -> None:
        self.smtp = smtp
        self.recipients = recipients
        self.sender = sender
        self._password = password
        self.description = f"email to {', '.join(recipients)} via {smtp.address}"

    def send(self, alert: dict[str, Any]) -> None:
        """Send it; an unreachable server is worth a retry, a refusal is not."""
        from logsense.digest.mail import send as send_mail

        message = email_message(alert, self.sender, self.recipients)
        try:
            send_mail(message, self.smtp, self.recipients, self._password)
        except SourceUnavailable as exc:
            raise DeliveryFailed(str(exc), retry=True) from None
        except LogsenseError as exc:
            raise DeliveryFailed(str(exc), retry=False) from None


# --- the dispatcher --------------------------------------------------------------------------


class Dispatcher:
    """Delivers the outbox, one thread per sink (see the module's docstring)."""

    def __init__(
        self,
        store: WatchStore,
        sinks: list[Sink],
        *,
        retries: int = 10,
        report: Callable[[str], None] = lambda line: None,
        metrics: WatchMetrics | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.sinks = sinks
        self.retries = retries
        self._report = report
        self._metrics = metrics or WatchMetrics()
        self._wall = wall
        self._stop = threading.Event()
        self._wake = {sink.name: threading.Event() for sink in sinks}
        self._idle = {sink.name: threading.Event() for sink in sinks}
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the threads."""
        for sink in self.sinks:
            thread = threading.Thread(
                target=self._run, args=(sink,), name=f"logsense-sink-{sink.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """New rows are in the outbox: look now."""
        for sink in self.sinks:
            self._idle[sink.name].clear()
            self._wake[sink.name].set()

    def drain(self, timeout: float) -> dict[str, int]:
        """Wait up to `timeout` seconds for the outbox to empty; return what is still pending,
        by sink (rows waiting for a retry count as pending)."""
        deadline = time.monotonic() + timeout
        outbox = self.store.outbox()
        try:
            while True:
                pending = outbox.pending()
                if not pending or time.monotonic() >= deadline:
                    return pending
                time.sleep(0.05)
        finally:
            outbox.close()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the threads (a send in progress is abandoned: its row stays in the outbox)."""
        self._stop.set()
        for event in self._wake.values():
            event.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def update_pending(self, outbox: Outbox) -> None:
        """Refresh the outbox_pending gauge."""
        pending = outbox.pending()
        for sink in self.sinks:
            self._metrics.pending.labels(sink.name).set(pending.get(sink.name, 0))

    def _run(self, sink: Sink) -> None:
        outbox = self.store.outbox()
        retry_at: dict[str, float] = {}
        wake = self._wake[sink.name]
        try:
            while not self._stop.is_set():
                row, wait = self._next(outbox, sink.name, retry_at)
                if row is None:
                    self._idle[sink.name].set()
                    wake.wait(wait)
                    wake.clear()
                    continue
                self._deliver(outbox, sink, row, retry_at)
        finally:
            outbox.close()

    def _next(
        self, outbox: Outbox, sink: str, retry_at: dict[str, float]
    ) -> tuple[OutboxRow | None, float]:
        """The oldest row due now, or None and how long to wait before looking again."""
        now = time.monotonic()
        wait = 1.0
        for row in outbox.due_rows(sink):
            due = retry_at.get(row.alert_id, 0.0)
            if due <= now:
                return row, 0.0
            wait = min(wait, due - now)
        return None, max(wait, 0.01)

    def _deliver(
        self, outbox: Outbox, sink: Sink, row: OutboxRow, retry_at: dict[str, float]
    ) -> None:
        try:
            alert = orjson.loads(row.payload)
            sink.send(alert)
        except Exception as exc:  # a sink's own bug must not end its thread
            failure = (
                exc
                if isinstance(exc, DeliveryFailed)
                else DeliveryFailed(f"unexpected {type(exc).__name__}: {exc}", retry=True)
            )
            self._failed(outbox, sink, row, failure, retry_at)
            return
        outbox.delivered(row, self._wall())
        retry_at.pop(row.alert_id, None)
        self._metrics.sent.labels(sink.name, row.kind).inc()
        self.update_pending(outbox)

    def _failed(
        self,
        outbox: Outbox,
        sink: Sink,
        row: OutboxRow,
        failure: DeliveryFailed,
        retry_at: dict[str, float],
    ) -> None:
        attempt = row.attempts + 1
        give_up = not failure.retry or attempt > self.retries
        reason = one_line(str(failure))
        outbox.attempt_failed(row, reason, give_up=give_up, at=self._wall())
        self._metrics.delivery_errors.labels(sink.name).inc()
        what = f"alert {row.alert_id} ({row.kind}) to {sink.description}"
        if give_up:
            retry_at.pop(row.alert_id, None)
            self._metrics.failed.labels(sink.name).inc()
            tries = f"{attempt} attempt{'s' if attempt > 1 else ''}"
            self._report(f"warning: gave up delivering {what} after {tries}: {reason}")
            self.update_pending(outbox)
            return
        delay = min(_MAX_BACKOFF, 2.0 ** (attempt - 1)) * random.uniform(0.8, 1.2)
        retry_at[row.alert_id] = time.monotonic() + delay
        if attempt == 1:
            self._report(
                f"warning: could not deliver {what}: {reason}; retrying (up to {self.retries} "
                "times, backing off)"
            )
