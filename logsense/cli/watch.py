"""`logsense watch`: triage new data every tick and alert on what changed, until SIGTERM."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from logsense.cli.options import (
    BaselineOpt,
    ConfigOptions,
    EsOptions,
    LlmOptions,
    QuietOpt,
    SmtpOptions,
    StateDirOpt,
)
from logsense.config import Settings
from logsense.errors import UsageError
from logsense.escape import one_line

if TYPE_CHECKING:
    from pathlib import Path

    from logsense.watch.follow import Follower
    from logsense.watch.loop import WatchOptions
    from logsense.watch.metrics import MetricsServer
    from logsense.watch.sinks import Sink

_WATCH = "Watching"
_ALERTS = "Alerts"

WatchSourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source", "-s", help="Log file to follow as it grows (with --follow); or give --index."
    ),
]


class AlertSeverity(StrEnum):
    """The lowest severity a new issue is alerted at."""

    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"


def watch(
    *,
    source: WatchSourceOpt = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-F",
            help="Read the --source file as it grows (required).",
            rich_help_panel=_WATCH,
        ),
    ] = False,
    every: Annotated[
        str,
        typer.Option("--every", help="Time between ticks: 30s, 1m, 5m.", rich_help_panel=_WATCH),
    ] = "60s",
    since: Annotated[
        str,
        typer.Option(
            "--since", help="The window each tick triages, back from now.", rich_help_panel=_WATCH
        ),
    ] = "15m",
    baseline: BaselineOpt = None,
    name: Annotated[
        str,
        typer.Option(
            "--name",
            help="Watch name: each has its own state (issues announced, alerts to deliver).",
            rich_help_panel=_WATCH,
        ),
    ] = "default",
    min_severity: Annotated[
        AlertSeverity,
        typer.Option(
            "--min-severity",
            help="New issues are alerted from this severity.",
            rich_help_panel=_ALERTS,
        ),
    ] = AlertSeverity.high,
    cooldown: Annotated[
        str,
        typer.Option(
            "--cooldown",
            help="At most one alert per issue in this time (resolutions excepted).",
            rich_help_panel=_ALERTS,
        ),
    ] = "30m",
    confirm_ticks: Annotated[
        int,
        typer.Option(
            "--confirm-ticks",
            min=1,
            max=100,
            help="A new issue is alerted once it is at the bar in this many ticks in a row.",
            rich_help_panel=_ALERTS,
        ),
    ] = 2,
    resolve_after: Annotated[
        str,
        typer.Option(
            "--resolve-after",
            help="An issue without events this long is resolved.",
            rich_help_panel=_ALERTS,
        ),
    ] = "10m",
    unreachable_after: Annotated[
        str | None,
        typer.Option(
            "--unreachable-after",
            help="Alert (once) when the source cannot be read "
            "this long (default: 2 ticks, at least 2m).",
            rich_help_panel=_ALERTS,
        ),
    ] = None,
    silent_after: Annotated[
        str | None,
        typer.Option(
            "--silent-after",
            help="Alert (once) when the source has no new events this long (default: a third "
            "of --since, at least 2 ticks and 2m).",
            rich_help_panel=_ALERTS,
        ),
    ] = None,
    stdout: Annotated[
        bool | None,
        typer.Option(
            "--stdout/--no-stdout",
            help="Alerts as JSON lines on stdout (default: when no other sink is given).",
            rich_help_panel=_ALERTS,
        ),
    ] = None,
    slack: Annotated[
        bool,
        typer.Option(
            "--slack",
            help="Post to the Slack-compatible incoming webhook in LOGSENSE_SLACK_WEBHOOK_URL.",
            rich_help_panel=_ALERTS,
        ),
    ] = False,
    webhook: Annotated[
        str | None,
        typer.Option(
            "--webhook",
            help="POST each alert's JSON here, signed (HMAC-SHA256).",
            rich_help_panel=_ALERTS,
        ),
    ] = None,
    webhook_secret_env: Annotated[
        str,
        typer.Option(
            "--webhook-secret-env",
            help="The environment variable that holds the webhook's signing secret.",
            rich_help_panel=_ALERTS,
        ),
    ] = "LOGSENSE_WEBHOOK_SECRET",
    email_to: Annotated[
        str | None,
        typer.Option(
            "--email-to",
            help="Email each alert to these addresses (comma-separated), "
            "through the SMTP settings.",
            rich_help_panel=_ALERTS,
        ),
    ] = None,
    sender: Annotated[
        str | None,
        typer.Option(
            "--sender",
            help="From address of alert emails (default: smtp.sender, else logsense@host).",
            rich_help_panel=_ALERTS,
        ),
    ] = None,
    sink_timeout: Annotated[
        float,
        typer.Option(
            "--sink-timeout",
            min=0.1,
            max=600,
            help="Seconds a sink may take per delivery.",
            rich_help_panel=_ALERTS,
        ),
    ] = 10.0,
    sink_retries: Annotated[
        int,
        typer.Option(
            "--sink-retries",
            min=0,
            max=100,
            help="Retries per alert and sink, backing off from 1 s to 5 min.",
            rich_help_panel=_ALERTS,
        ),
    ] = 10,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=0,
            max=65535,
            help="Serve Prometheus /metrics and /healthz on this port.",
            rich_help_panel=_WATCH,
        ),
    ] = None,
    metrics_host: Annotated[
        str,
        typer.Option(
            "--metrics-host",
            help="Address the metrics port listens on (0.0.0.0: all).",
            rich_help_panel=_WATCH,
        ),
    ] = "127.0.0.1",
    max_window_events: Annotated[
        int,
        typer.Option(
            "--max-window-events",
            min=1000,
            help="Events the window may hold (the oldest go first, with a warning).",
            rich_help_panel=_WATCH,
        ),
    ] = 1_000_000,
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="One tick, deliver its alerts, and exit.", rich_help_panel=_WATCH
        ),
    ] = False,
    smtp: SmtpOptions,
    llm: LlmOptions,
    config: ConfigOptions,
    quiet: QuietOpt = False,
    state: StateDirOpt = None,
    es: EsOptions,
) -> None:
    """Triage new data every tick and alert on what changed (new, escalated, resolved issues;
    a source that cannot be read), until SIGTERM."""
    from logsense.sources.window import parse_duration
    from logsense.state import state_dir
    from logsense.watch.clock import SystemClock
    from logsense.watch.loop import Watcher, WatchOptions
    from logsense.watch.metrics import Health, MetricsServer, WatchMetrics
    from logsense.watch.sinks import Dispatcher
    from logsense.watch.state import WatchStore, check_name
    from logsense.watch.transitions import Rules

    settings = config.settings(state, llm.overrides(), smtp.overrides())
    check_name(name)
    interval = _positive(every, "--every")
    window = _positive(since, "--since")
    baseline_text = baseline or settings.baseline
    baseline_length = parse_duration(baseline_text) if baseline_text else None
    unreachable = (
        _positive(unreachable_after, "--unreachable-after")
        if unreachable_after
        else max(120.0, 2 * interval)
    )
    silence = (
        _positive(silent_after, "--silent-after")
        if silent_after
        else max(window / 3, 2 * interval, 120.0)
    )
    rules = Rules(
        min_severity=min_severity.value,
        cooldown=parse_duration(cooldown),
        resolve_after=_positive(resolve_after, "--resolve-after"),
        unreachable_after=unreachable,
        silent_after=silence,
        confirm_ticks=confirm_ticks,
    )
    follower = _follower(source, follow, es, settings, interval)
    sinks = _sinks(
        stdout, slack, webhook, webhook_secret_env, email_to, sender, sink_timeout, smtp,
        settings,
    )  # fmt: skip
    options = WatchOptions(
        name=name, every=interval, since=window, baseline=baseline_length, rules=rules,
        max_window_events=max_window_events, llm=settings.llm, verbose=not quiet,
    )  # fmt: skip
    home = state_dir(settings.state_dir)

    def say(line: str) -> None:
        typer.echo(f"logsense: {one_line(line)}", err=True)

    stop = threading.Event()
    with _sigterm_sets(stop), WatchStore.open(home, name) as store:
        clock = SystemClock()
        metrics = WatchMetrics()
        health = Health(clock, interval, unreachable)
        server = (
            MetricsServer(metrics, health, metrics_host, metrics_port)
            if metrics_port is not None
            else None
        )
        dispatcher = Dispatcher(store, sinks, retries=sink_retries, report=say, metrics=metrics)
        watcher = Watcher(
            follower, settings, options, store, clock=clock, sinks=[s.name for s in sinks],
            dispatcher=dispatcher, metrics=metrics, health=health, say=say,
        )  # fmt: skip
        dispatcher.start()
        if not quiet:
            say(_started(follower.name, options, sinks, store.path, server))
        interrupted = False
        try:
            watcher.run(stop, max_ticks=1 if once else None)
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            pending = {} if interrupted else dispatcher.drain(2 * sink_timeout if once else
                                                              min(sink_timeout, 10.0))  # fmt: skip
            dispatcher.stop()
            if server is not None:
                server.close()
            follower.close()
        left = sum(pending.values())
        done = "done after one tick" if once else f"stopped (SIGTERM) after {watcher.ticks} ticks"
        if left:
            say(f"{done}; {left} alert deliveries are still in the outbox of {store.path} and go "
                "out when it starts again")  # fmt: skip
        elif not quiet:
            say(done)


@contextmanager
def _sigterm_sets(stop: threading.Event) -> Iterator[None]:
    """While inside, SIGTERM sets `stop` (the tick under way finishes) instead of ending the
    run at once; the previous handler is back afterwards."""
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _positive(text: str, option: str) -> float:
    from logsense.sources.window import parse_duration

    seconds = parse_duration(text)
    if seconds <= 0:
        raise UsageError(f"{option} {text}: give a length such as 60s or 5m")
    return seconds


def _follower(
    source: str | None, follow: bool, es: EsOptions, settings: Settings, every: float
) -> Follower:
    """The file or index to follow; UsageError for combinations that cannot be followed."""
    if es.index is not None:
        if source is not None:
            raise UsageError("give --source FILE --follow or --index, not both")
        if follow:
            raise UsageError("--follow is for a --source file; an --index is followed anyway")
        from logsense.watch.esfollow import EsFollower

        connection = dataclasses.replace(
            es.connection(), request_timeout=min(60.0, max(10.0, every))
        )
        client = connection.client()  # checks the URL and credentials' form now (exit 2)
        return EsFollower(
            connection, es.index, settings.fields, query=es.query, page_size=es.page_size,
            retries=min(es.retries, 2), client=client,
        )  # fmt: skip
    if source is None:
        raise UsageError("give --source FILE --follow, or --index to watch Elasticsearch")
    if source == "-":
        raise UsageError("watch follows a file, not stdin: give --source FILE --follow")
    if not follow:
        raise UsageError(f"watch reads {source} as it grows: add --follow")
    from logsense.watch.follow import FileFollower

    follower = FileFollower(source, settings.fields, settings.header_regex,
                            settings.max_line_bytes)  # fmt: skip
    follower.check()
    return follower


def _sinks(
    stdout: bool | None,
    slack: bool,
    webhook: str | None,
    secret_env: str,
    email_to: str | None,
    sender: str | None,
    timeout: float,
    smtp: SmtpOptions,
    settings: Settings,
) -> list[Sink]:
    """The sinks asked for; secrets only from the environment (UsageError when missing)."""
    from logsense.watch.sinks import EmailSink, SlackSink, StdoutSink, WebhookSink

    sinks: list[Sink] = []
    if slack:
        url = os.environ.get("LOGSENSE_SLACK_WEBHOOK_URL", "").strip()
        if not url:
            raise UsageError(
                "--slack needs the incoming webhook's URL in LOGSENSE_SLACK_WEBHOOK_URL (it is "
                "a secret: never a flag)"
            )
        sinks.append(SlackSink(url, timeout))
    if webhook is not None:
        secret = os.environ.get(secret_env, "")
        if not secret:
            raise UsageError(
                f"--webhook needs its signing secret in the environment variable {secret_env} "
                "(or name another with --webhook-secret-env)"
            )
        sinks.append(WebhookSink(webhook, secret.encode(), timeout))
    if email_to is not None:
        from logsense.digest.mail import parse_recipients, parse_sender
        from logsense.digest.message import default_sender

        recipients = parse_recipients(email_to)
        from_address = parse_sender(sender or settings.smtp.sender or default_sender())
        password = smtp.password(settings.smtp.user)
        sinks.append(EmailSink(settings.smtp, recipients, from_address, password))
    if stdout or (stdout is None and not sinks):
        sinks.insert(0, StdoutSink())
    return sinks


def _started(
    source: str,
    options: WatchOptions,
    sinks: list[Sink],
    path: Path,
    server: MetricsServer | None,
) -> str:
    baseline = options.since if options.baseline is None else options.baseline
    metrics = f"; /metrics and /healthz on port {server.port}" if server is not None else ""
    return (
        f"watching {source} every {_span(options.every)} (window {_span(options.since)}, "
        f"baseline {_span(baseline)}); new issues from {options.rules.min_severity} and the "
        f"other alerts to {', '.join(s.description for s in sinks)}; state {path}{metrics}"
    )


def _span(seconds: float) -> str:
    """`90s`, `15m`, `2h`, `1h30m`: a duration as flags write it."""
    whole = int(seconds)
    if whole != seconds or whole < 60 or whole % 60:
        return f"{seconds:g}s"
    hours, minutes = divmod(whole // 60, 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
