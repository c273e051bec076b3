"""`logsense digest`: triage compared with the last digest, as an email."""

from __future__ import annotations

import time
from email.message import EmailMessage
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from logsense.cli.options import (
    ConfigOptions,
    EsOptions,
    FileOrEsOpt,
    LlmOptions,
    SmtpOptions,
    StateDirOpt,
    WindowOptions,
    WorkersOpt,
    open_source,
)
from logsense.cli.output import output_errors
from logsense.config import SmtpConfig
from logsense.errors import UsageError
from logsense.state import state_dir


class MinSeverity(StrEnum):
    """The lowest severity a digest lists."""

    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"


def _deliver(
    message: EmailMessage,
    out: Path | None,
    smtp: SmtpConfig,
    recipients: list[str],
    password: str | None,
) -> str:
    """Write the message to `out`, or send it; say which."""
    if out is not None:
        with output_errors(out):
            out.write_bytes(message.as_bytes())
        return f"written to {out}"
    from logsense.digest.mail import send as send_mail

    send_mail(message, smtp, recipients, password)
    return f"sent to {', '.join(recipients)} via {smtp.address}"


def _note(quiet: bool, text: str) -> None:
    if not quiet:
        typer.echo(f"logsense: {text}", err=True)


def digest(
    *,
    to: Annotated[
        str | None, typer.Option("--to", help="Recipients, comma-separated: a@x.org,b@y.org.")
    ] = None,
    source: FileOrEsOpt = None,
    window: WindowOptions,
    name: Annotated[
        str, typer.Option("--name", help="Digest name: each name has its own 'last digest'.")
    ] = "default",
    sender: Annotated[
        str | None,
        typer.Option("--sender", help="From address (default: smtp.sender, else logsense@host)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the message here (.eml) instead of sending it."),
    ] = None,
    only_if_new: Annotated[
        bool,
        typer.Option(
            "--only-if-new", help="Send only when an issue is new or worse (else exit 0)."
        ),
    ] = False,
    min_severity: Annotated[
        MinSeverity, typer.Option("--min-severity", help="Lowest severity listed.")
    ] = MinSeverity.medium,
    max_issues: Annotated[
        int, typer.Option("--max-issues", min=1, help="Issues shown in detail (new first).")
    ] = 10,
    kibana_url: Annotated[
        str | None,
        typer.Option(
            "--kibana-url",
            envvar="LOGSENSE_KIBANA_URL",
            help="Kibana base URL: Elasticsearch issues get a Discover link.",
        ),
    ] = None,
    no_record: Annotated[
        bool,
        typer.Option("--no-record", help="Do not remember this digest (a preview)."),
    ] = False,
    smtp: SmtpOptions,
    llm: LlmOptions,
    config: ConfigOptions,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress and no result line on stderr.")
    ] = False,
    state: StateDirOpt = None,
    es: EsOptions,
    workers: WorkersOpt = None,
) -> None:
    """Email what is new, worse, ongoing or resolved since the last digest (for cron)."""
    from logsense.digest import DigestOptions, default_sender
    from logsense.digest import compose as compose_digest
    from logsense.digest import prepare as prepare_digest
    from logsense.digest import remember as remember_digest
    from logsense.digest.mail import parse_recipients, parse_sender
    from logsense.pipeline import triage as run_triage

    settings = config.settings(state, llm.overrides(), smtp.overrides())
    if out is None and not to:
        raise UsageError("give --to ADDRESS[,ADDRESS] (or --out FILE to write the message)")
    recipients = parse_recipients(to) if to else []
    if sender is not None:
        parse_sender(sender)
    password = None if out else smtp.password(settings.smtp.user)
    read_from, spec, anchor = open_source(source, settings, window, es, quiet, workers)
    report = run_triage(
        read_from, spec, settings, anchor=anchor, progress=not quiet and anchor is None
    )
    options = DigestOptions(name, min_severity.value, max_issues, settings.fields, kibana_url)
    home = state_dir(settings.state_dir)
    found = prepare_digest(report, home, options, time.time())
    if only_if_new and not found.has_news:
        ongoing = found.counts["ongoing"]
        _note(quiet, f"digest {name!r}: nothing new or worse since the last digest "
              f"({ongoing} ongoing); not sent")  # fmt: skip
        return
    from_address = parse_sender(sender or settings.smtp.sender or default_sender())
    message = compose_digest(found, from_address, recipients)
    done = _deliver(message, out, settings.smtp, recipients, password)
    if not no_record:
        remember_digest(home, found)
    _note(quiet, f"digest {name!r} {done}: {message['Subject']}")
