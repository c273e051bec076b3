"""`logsense digest`: triage compared with the last digest, as an email."""

from __future__ import annotations

import os
import time
from email.message import EmailMessage
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from logsense.cli.options import (
    BaselineOpt,
    ConfigOpt,
    EsApiKeyOpt,
    EsCaCertOpt,
    EsFlags,
    EsInsecureOpt,
    EsRetriesOpt,
    EsUrlOpt,
    EsUserOpt,
    FieldOpt,
    FileOrEsOpt,
    FromOpt,
    HeaderOpt,
    IndexOpt,
    LlmBaseUrlOpt,
    LlmMaxIssuesOpt,
    LlmModelOpt,
    LlmTimeoutOpt,
    MaxEventsOpt,
    NoLlmOpt,
    PageSizeOpt,
    QueryOpt,
    SinceOpt,
    SlicesOpt,
    StateDirOpt,
    UntilOpt,
    WindowOptions,
    llm_flags,
    open_source,
    settings_from,
)
from logsense.config import SmtpConfig
from logsense.errors import UsageError
from logsense.state import state_dir

_MAIL = "Mail (SMTP)"


class MinSeverity(StrEnum):
    """The lowest severity a digest lists."""

    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"


def _smtp_flags(
    host: str | None, port: int | None, user: str | None, starttls: bool, tls: bool, no_tls: bool
) -> dict[str, Any]:
    chosen = [name for name, on in (("starttls", starttls), ("ssl", tls), ("none", no_tls)) if on]
    if len(chosen) > 1:
        raise UsageError("give one of --starttls, --ssl and --no-tls")
    flags = {"host": host, "port": port, "user": user, "security": chosen[0] if chosen else None}
    return {key: value for key, value in flags.items() if value is not None}


def _smtp_password(user: str | None, password_file: Path | None) -> str | None:
    """The password from --smtp-password-file, else LOGSENSE_SMTP_PASSWORD; never a flag."""
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise UsageError(
                f"cannot read --smtp-password-file {password_file}: {exc.strerror}"
            ) from None
    password = os.environ.get("LOGSENSE_SMTP_PASSWORD")
    if user and not password:
        raise UsageError(
            f"--smtp-user {user} needs a password: set LOGSENSE_SMTP_PASSWORD or give "
            "--smtp-password-file"
        )
    return password


def _deliver(
    message: EmailMessage,
    out: Path | None,
    smtp: SmtpConfig,
    recipients: list[str],
    password: str | None,
) -> str:
    """Write the message to `out`, or send it; say which."""
    if out is not None:
        out.write_bytes(message.as_bytes())
        return f"written to {out}"
    from logsense.digest.mail import send as send_mail

    send_mail(message, smtp, recipients, password)
    return f"sent to {', '.join(recipients)} via {smtp.address}"


def _note(quiet: bool, text: str) -> None:
    if not quiet:
        typer.echo(f"logsense: {text}", err=True)


def digest(
    to: Annotated[
        str | None, typer.Option("--to", help="Recipients, comma-separated: a@x.org,b@y.org.")
    ] = None,
    source: FileOrEsOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    start: FromOpt = None,
    baseline: BaselineOpt = None,
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
    smtp_host: Annotated[
        str | None,
        typer.Option(
            "--smtp-host",
            help="SMTP server (default: LOGSENSE_SMTP_HOST, localhost).",
            rich_help_panel=_MAIL,
        ),
    ] = None,
    smtp_port: Annotated[
        int | None,
        typer.Option(
            "--smtp-port",
            help="Port (default: 465 with --ssl, 587 with --starttls, else 25).",
            rich_help_panel=_MAIL,
        ),
    ] = None,
    smtp_user: Annotated[
        str | None, typer.Option("--smtp-user", help="Log in as this user.", rich_help_panel=_MAIL)
    ] = None,
    smtp_password_file: Annotated[
        Path | None,
        typer.Option(
            "--smtp-password-file",
            help="File holding the password (else LOGSENSE_SMTP_PASSWORD).",
            rich_help_panel=_MAIL,
        ),
    ] = None,
    starttls: Annotated[
        bool, typer.Option("--starttls", help="Require STARTTLS.", rich_help_panel=_MAIL)
    ] = False,
    implicit_tls: Annotated[
        bool, typer.Option("--ssl", help="Implicit TLS (SMTPS).", rich_help_panel=_MAIL)
    ] = False,
    no_tls: Annotated[
        bool,
        typer.Option(
            "--no-tls",
            help="Plain text, even for the login (trusted networks only). "
            "Default: STARTTLS when offered.",
            rich_help_panel=_MAIL,
        ),
    ] = False,
    no_llm: NoLlmOpt = False,
    llm_model: LlmModelOpt = None,
    llm_base_url: LlmBaseUrlOpt = None,
    llm_timeout: LlmTimeoutOpt = None,
    llm_max_issues: LlmMaxIssuesOpt = None,
    field: FieldOpt = None,
    header_regex: HeaderOpt = None,
    config: ConfigOpt = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress and no result line on stderr.")
    ] = False,
    state: StateDirOpt = None,
    index: IndexOpt = None,
    es_url: EsUrlOpt = "http://localhost:9200",
    query: QueryOpt = None,
    es_api_key: EsApiKeyOpt = None,
    es_user: EsUserOpt = None,
    es_ca_cert: EsCaCertOpt = None,
    es_insecure: EsInsecureOpt = False,
    page_size: PageSizeOpt = 5000,
    slices: SlicesOpt = 2,
    max_events: MaxEventsOpt = None,
    es_retries: EsRetriesOpt = 5,
) -> None:
    """Email what is new, worse, ongoing or resolved since the last digest (for cron)."""
    llm = llm_flags(no_llm, llm_model, llm_base_url, llm_timeout, llm_max_issues)
    from logsense.digest import DigestOptions, default_sender
    from logsense.digest import compose as compose_digest
    from logsense.digest import prepare as prepare_digest
    from logsense.digest import remember as remember_digest
    from logsense.digest.mail import parse_recipients
    from logsense.pipeline import triage as run_triage

    smtp = _smtp_flags(smtp_host, smtp_port, smtp_user, starttls, implicit_tls, no_tls)
    settings = settings_from(config, field or [], header_regex, state, llm, smtp)
    if out is None and not to:
        raise UsageError("give --to ADDRESS[,ADDRESS] (or --out FILE to write the message)")
    recipients = parse_recipients(to) if to else []
    password = None if out else _smtp_password(settings.smtp.user, smtp_password_file)
    es = EsFlags(
        index, es_url, query, es_api_key, es_user, es_ca_cert, es_insecure,
        page_size, slices, max_events, es_retries,
    )  # fmt: skip
    read_from, spec, anchor = open_source(
        source, settings, WindowOptions(since, until, start, baseline), es, quiet
    )
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
    from_address = sender or settings.smtp.sender or default_sender()
    message = compose_digest(found, from_address, recipients)
    done = _deliver(message, out, settings.smtp, recipients, password)
    if not no_record:
        remember_digest(home, found)
    _note(quiet, f"digest {name!r} {done}: {message['Subject']}")
