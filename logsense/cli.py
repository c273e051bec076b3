"""The `logsense` command line: parses options, calls the library, renders. Nothing else.

Exit codes: 0 report written (or its reader stopped early) · 1 unexpected failure · 2 bad usage
or config · 3 no usable input (missing file, empty input, no events in the window) · 4 a server
did not answer · 5 the mail server refused the login · 6 the mail server refused a recipient (the
digest went to nobody).
"""

from __future__ import annotations

import atexit
import os
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import orjson
import typer

from logsense import __version__
from logsense.config import QUIET_MINUTES, Settings, SmtpConfig, load_settings
from logsense.errors import InputError, LogsenseError, UsageError
from logsense.sources import Source
from logsense.sources.files import FileSource
from logsense.sources.window import WindowSpec
from logsense.state import state_dir

# Each command imports the stages it runs when it runs: a triage never pays for loading the
# Elasticsearch client, the digest's mail stack or an unused renderer.
if TYPE_CHECKING:
    from logsense.sources.elasticsearch import EsConnection

__all__ = ["app", "main"]

app = typer.Typer(
    help="What is going wrong in production, and how many requests it hurts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class Format(StrEnum):
    """Output formats of a triage report."""

    table = "table"
    json = "json"
    md = "md"
    html = "html"


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"logsense: error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _errors_as_exit_codes() -> Iterator[None]:
    """Turn exceptions into one stderr line and an exit code (`LOGSENSE_DEBUG=1`: raise)."""
    debug = os.environ.get("LOGSENSE_DEBUG") == "1"
    try:
        yield
    except LogsenseError as exc:
        if debug:
            raise
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except Exception as exc:
        if debug:
            raise
        where = traceback.extract_tb(exc.__traceback__)[-1]
        _fail(
            f"unexpected {type(exc).__name__}: {exc} "
            f"(at {Path(where.filename).name}:{where.lineno}; "
            "set LOGSENSE_DEBUG=1 for the traceback)",
            1,
        )


@contextmanager
def _stdout_reader_may_leave() -> Iterator[None]:
    """End quietly with exit 0 when whoever reads stdout stops early (`| head`), as Unix tools
    do: the reader took what it wanted."""
    try:
        yield
    except BrokenPipeError:
        raise typer.Exit(0) from None


def _settings(
    config: Path | None,
    fields: list[str],
    header_regex: str | None,
    state: Path | None = None,
    llm: dict[str, Any] | None = None,
    smtp: dict[str, Any] | None = None,
) -> Settings:
    settings = load_settings(
        config, header_regex=header_regex, state_dir=state, llm=llm or None, smtp=smtp or None
    )
    if fields:
        settings.fields = settings.fields.override(fields)
    return settings


def _llm_flags(
    no_llm: bool,
    model: str | None,
    base_url: str | None,
    timeout: float | None,
    max_issues: int | None,
) -> dict[str, Any]:
    flags = {"model": model, "base_url": base_url, "timeout": timeout, "max_issues": max_issues}
    given: dict[str, Any] = {key: value for key, value in flags.items() if value is not None}
    return given | {"enabled": False} if no_llm else given


SourceOpt = Annotated[
    str, typer.Option("--source", "-s", help="Log file (.jsonl, .log, .gz) or - for stdin.")
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Window length back from --until: 30m, 1h, 2d.")
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="Window end: ISO 8601, a duration ago, or `latest` (the newest event). Default: now "
        "for Elasticsearch, the newest event for files.",
    ),
]
FromOpt = Annotated[
    str | None, typer.Option("--from", help="Window start (ISO 8601 or a duration ago).")
]
BaselineOpt = Annotated[
    str | None,
    typer.Option(
        "--baseline", help="Length of the baseline window before it (default: same; 0: none)."
    ),
]
FieldOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--field", help="Field mapping NAME=KEY[,KEY2], e.g. request_id=req.id. Repeatable."
    ),
]
HeaderOpt = Annotated[
    str | None,
    typer.Option(
        "--header-regex",
        help="Regex for text lines with named groups timestamp, message (and level, service, "
        "request_id, user_id).",
    ),
]
StateDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="Where the pattern registry and caches live (default: LOGSENSE_STATE_DIR, "
        "else ~/.local/state/logsense).",
    ),
]
ResetStateOpt = Annotated[
    bool,
    typer.Option("--reset-state", help="Start the pattern registry afresh (ids are reassigned)."),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="logsense.toml to read (default: LOGSENSE_CONFIG).")
]

# --- Elasticsearch options (triage and load) ---
_ES = "Elasticsearch"
FileOrEsOpt = Annotated[
    str | None,
    typer.Option("--source", "-s", help="Log file (.jsonl, .log, .gz) or - for stdin; or give "
                 "--index to read Elasticsearch."),
]  # fmt: skip
EsUrlOpt = Annotated[
    str,
    typer.Option(
        "--es-url", envvar="LOGSENSE_ES_URL", help="Elasticsearch URL.", rich_help_panel=_ES
    ),
]
IndexOpt = Annotated[
    str | None,
    typer.Option(
        "--index", "-i", rich_help_panel=_ES,
        help="Index or pattern (logs-*) to read: triage Elasticsearch instead of --source.",
    ),
]  # fmt: skip
QueryOpt = Annotated[
    str | None,
    typer.Option("--query", help="Lucene query string, e.g. 'service.name:checkout'.",
                 rich_help_panel=_ES),
]  # fmt: skip
EsApiKeyOpt = Annotated[
    str | None,
    typer.Option("--es-api-key", envvar="LOGSENSE_ES_API_KEY", rich_help_panel=_ES,
                 help="API key (base64 id:key)."),
]  # fmt: skip
EsUserOpt = Annotated[
    str | None,
    typer.Option("--es-user", envvar="LOGSENSE_ES_USER", rich_help_panel=_ES,
                 help="Basic-auth user; the password comes only from LOGSENSE_ES_PASSWORD."),
]  # fmt: skip
EsCaCertOpt = Annotated[
    Path | None,
    typer.Option("--es-ca-cert", help="CA certificate (PEM) to verify TLS with.",
                 rich_help_panel=_ES),
]  # fmt: skip
EsInsecureOpt = Annotated[
    bool,
    typer.Option("--es-insecure", help="Do not verify TLS certificates (prints a warning).",
                 rich_help_panel=_ES),
]  # fmt: skip
PageSizeOpt = Annotated[
    int, typer.Option("--page-size", help="Documents per search page.", rich_help_panel=_ES)
]
SlicesOpt = Annotated[
    int, typer.Option("--slices", help="Parallel sliced readers.", rich_help_panel=_ES)
]
EsRetriesOpt = Annotated[
    int,
    typer.Option("--es-retries", help="Retries per request on 429/5xx/timeouts/dropped "
                 "connections, with exponential backoff from 0.5 s.", rich_help_panel=_ES),
]  # fmt: skip
MaxEventsOpt = Annotated[
    int | None,
    typer.Option("--max-events", help="Stop reading after this many documents (the report "
                 "then says it is partial).", rich_help_panel=_ES),
]  # fmt: skip


def _es_connection(
    url: str, api_key: str | None, user: str | None, ca_cert: Path | None, insecure: bool
) -> EsConnection:
    """The connection the flags describe; the password is read from LOGSENSE_ES_PASSWORD only."""
    if insecure:
        typer.echo("logsense: warning: --es-insecure: TLS certificates are not verified", err=True)
    from logsense.sources.elasticsearch import EsConnection

    password = os.environ.get("LOGSENSE_ES_PASSWORD")
    return EsConnection(url, api_key, user, password, ca_cert, insecure)


@dataclass(frozen=True)
class WindowOptions:
    """The window flags as typed: `--since`, `--until` (or `latest`), `--from`, `--baseline`."""

    since: str | None
    until: str | None
    start: str | None
    baseline: str | None


@dataclass(frozen=True)
class _EsFlags:
    """The Elasticsearch flags shared by triage, digest and postmortem."""

    index: str | None
    url: str
    query: str | None
    api_key: str | None
    user: str | None
    ca_cert: Path | None
    insecure: bool
    page_size: int
    slices: int
    max_events: int | None
    retries: int


def _open_source(
    path: str | None, settings: Settings, window: WindowOptions, es: _EsFlags, quiet: bool
) -> tuple[Source, WindowSpec, float | None]:
    """The source, the window spec and the anchor: a file/stdin (anchored at its newest event,
    None) or Elasticsearch (now, or its newest document with `--until latest`)."""
    latest = window.until is not None and window.until.strip().lower() == "latest"
    spec = WindowSpec.from_options(
        window.since, None if latest else window.until, window.start,
        window.baseline or settings.baseline,
    )  # fmt: skip
    if es.index is None:
        if path is None:
            raise UsageError(
                "give --source FILE (or - for stdin), or --index to read Elasticsearch"
            )
        return FileSource(path, settings.fields, settings.header_regex), spec, None
    if path is not None:
        raise UsageError("give --source or --index, not both")
    from logsense.sources.elasticsearch import ElasticsearchSource, ReadOptions

    source, anchor = ElasticsearchSource.for_window(
        _es_connection(es.url, es.api_key, es.user, es.ca_cert, es.insecure),
        es.index, settings.fields, spec, until_latest=latest, query=es.query,
        progress=not quiet,
        options=ReadOptions(es.page_size, es.slices, es.max_events, retries=es.retries),
    )  # fmt: skip
    return source, spec, anchor


NoLlmOpt = Annotated[
    bool, typer.Option("--no-llm", help="Rules-based text only; nothing is sent out.")
]
LlmModelOpt = Annotated[
    str | None,
    typer.Option(
        "--llm-model", help="Model for summaries (default: LOGSENSE_LLM_MODEL, gpt-4o-mini)."
    ),
]
LlmBaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--llm-base-url",
        help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 "
        "(default: OPENAI_BASE_URL).",
    ),
]
LlmTimeoutOpt = Annotated[
    float | None, typer.Option("--llm-timeout", help="Seconds per LLM request (default 20).")
]
LlmMaxIssuesOpt = Annotated[
    int | None, typer.Option("--llm-max-issues", help="Issues summarized by the LLM (default 5).")
]


QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")]


@app.command()
def triage(
    source: FileOrEsOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    start: FromOpt = None,
    baseline: BaselineOpt = None,
    output_format: Annotated[
        Format, typer.Option("--format", "-f", help="table, json, md or html.")
    ] = Format.table,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here, not stdout.")] = None,
    no_llm: NoLlmOpt = False,
    llm_model: LlmModelOpt = None,
    llm_base_url: LlmBaseUrlOpt = None,
    llm_timeout: LlmTimeoutOpt = None,
    llm_max_issues: LlmMaxIssuesOpt = None,
    field: FieldOpt = None,
    header_regex: HeaderOpt = None,
    config: ConfigOpt = None,
    quiet: QuietOpt = False,
    state: StateDirOpt = None,
    reset_state: ResetStateOpt = False,
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
    """Rank what is going wrong in a window of logs by the share of requests it affects."""
    llm = _llm_flags(no_llm, llm_model, llm_base_url, llm_timeout, llm_max_issues)
    with _errors_as_exit_codes():
        settings = _settings(config, field or [], header_regex, state, llm)
        es = _EsFlags(
            index, es_url, query, es_api_key, es_user, es_ca_cert, es_insecure,
            page_size, slices, max_events, es_retries,
        )  # fmt: skip
        read_from, spec, anchor = _open_source(
            source, settings, WindowOptions(since, until, start, baseline), es, quiet
        )
        from logsense.pipeline import triage as run_triage
        from logsense.render import RENDERERS

        report = run_triage(
            read_from,
            spec,
            settings,
            anchor=anchor,
            progress=not quiet and anchor is None,  # Elasticsearch draws its own bar
            reset_state=reset_state,
        )
        renderer = RENDERERS[output_format.value]
        if out is None:
            with _stdout_reader_may_leave():
                renderer(report, sys.stdout)
        else:
            with out.open("w", encoding="utf-8") as handle:
                renderer(report, handle)


class PatternFormat(StrEnum):
    """Output formats of the patterns view."""

    table = "table"
    json = "json"


@app.command()
def patterns(
    source: SourceOpt,
    plain: Annotated[
        bool, typer.Option("--plain", help="Every line is a bare message: no header parsing.")
    ] = False,
    output_format: Annotated[
        PatternFormat, typer.Option("--format", "-f", help="table or json.")
    ] = PatternFormat.table,
    per_line: Annotated[
        Path | None,
        typer.Option("--per-line", help="Write {line, pattern_id, template} per input line here."),
    ] = None,
    field: FieldOpt = None,
    header_regex: HeaderOpt = None,
    config: ConfigOpt = None,
    state: StateDirOpt = None,
    reset_state: ResetStateOpt = False,
) -> None:
    """List the log patterns (templates) of an input with their counts, most frequent first."""
    with _errors_as_exit_codes():
        from logsense.mine.patterns import mine_patterns, pattern_to_dict
        from logsense.render.terminal import print_patterns

        settings = _settings(config, field or [], header_regex, state)
        file_source = FileSource(source, settings.fields, settings.header_regex, plain=plain)
        run = mine_patterns(file_source, settings, reset_state)
        if not run.patterns:
            raise InputError(f"no events in {file_source.name}")
        if per_line is not None:
            with per_line.open("wb") as handle:
                handle.writelines(orjson.dumps(row) + b"\n" for row in run.per_line())
        rows = [pattern_to_dict(p) for p in run.patterns]
        if output_format is PatternFormat.json:
            document = {"schema": "logsense.patterns/v1", "source": file_source.name,
                        "malformed": file_source.stats.malformed, "patterns": rows}  # fmt: skip
            with _stdout_reader_may_leave():
                sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        else:
            with _stdout_reader_may_leave():
                print_patterns(rows, file_source.stats.warnings())


@app.command()
def load(
    path: Annotated[str, typer.Argument(help="Log file (.jsonl, .log, .gz) or - for stdin.")],
    index: Annotated[str, typer.Option("--index", "-i", help="Index to load into.")],
    es_url: EsUrlOpt = "http://localhost:9200",
    refresh: Annotated[
        bool, typer.Option(help="Refresh the index at the end, so a triage sees everything.")
    ] = True,
    threads: Annotated[int, typer.Option("--threads", help="Parallel bulk requests.")] = 2,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="Documents per bulk.")] = 1000,
    field: FieldOpt = None,
    header_regex: HeaderOpt = None,
    config: ConfigOpt = None,
    quiet: QuietOpt = False,
    es_api_key: EsApiKeyOpt = None,
    es_user: EsUserOpt = None,
    es_ca_cert: EsCaCertOpt = None,
    es_insecure: EsInsecureOpt = False,
) -> None:
    """Bulk-load a log file into Elasticsearch (with an index template fit for logs)."""
    with _errors_as_exit_codes():
        from logsense.sources.load import load_file

        settings = _settings(config, field or [], header_regex)
        connection = _es_connection(es_url, es_api_key, es_user, es_ca_cert, es_insecure)
        result = load_file(
            connection, path, index, settings.fields, header_regex=settings.header_regex,
            refresh=refresh, threads=threads, chunk_size=chunk_size, progress=not quiet,
        )  # fmt: skip
        for warning in result.warnings:
            typer.echo(f"logsense: warning: {warning}", err=True)
        typer.echo(f"logsense: {result.summary()}", err=True)
        if result.rejected:
            raise InputError(result.rejection_message())


# --- postmortem: the same source, window and LLM flags as triage ---
class PostmortemFormat(StrEnum):
    """Output formats of a postmortem draft."""

    md = "md"
    html = "html"
    json = "json"


@app.command()
def postmortem(
    start: Annotated[
        str, typer.Option("--from", help="Incident window start (ISO 8601, or a duration ago).")
    ],
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Incident window end: ISO 8601, a duration ago, or `latest`. Default: now for "
            "Elasticsearch, the newest event for files.",
        ),
    ] = None,
    source: FileOrEsOpt = None,
    baseline: BaselineOpt = None,
    output_format: Annotated[
        PostmortemFormat, typer.Option("--format", "-f", help="md, html or json.")
    ] = PostmortemFormat.md,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write here, not stdout (Markdown: charts beside it)."),
    ] = None,
    recovery_minutes: Annotated[
        int,
        typer.Option(
            "--recovery-minutes",
            min=1,
            help="Recovered = this many consecutive minutes at or below the baseline rate.",
        ),
    ] = QUIET_MINUTES,
    no_llm: NoLlmOpt = False,
    llm_model: LlmModelOpt = None,
    llm_base_url: LlmBaseUrlOpt = None,
    llm_timeout: LlmTimeoutOpt = None,
    llm_max_issues: LlmMaxIssuesOpt = None,
    field: FieldOpt = None,
    header_regex: HeaderOpt = None,
    config: ConfigOpt = None,
    quiet: QuietOpt = False,
    state: StateDirOpt = None,
    reset_state: ResetStateOpt = False,
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
    """Draft the postmortem of an incident: impact, timeline, root cause, charts."""
    llm = _llm_flags(no_llm, llm_model, llm_base_url, llm_timeout, llm_max_issues)
    with _errors_as_exit_codes():
        settings = _settings(config, field or [], header_regex, state, llm)
        es = _EsFlags(
            index, es_url, query, es_api_key, es_user, es_ca_cert, es_insecure,
            page_size, slices, max_events, es_retries,
        )  # fmt: skip
        read_from, spec, anchor = _open_source(
            source, settings, WindowOptions(None, to, start, baseline), es, quiet
        )
        from logsense.postmortem import draft_postmortem, write_postmortem

        draft = draft_postmortem(
            read_from, spec, settings, anchor=anchor, progress=not quiet and anchor is None,
            reset_state=reset_state, quiet_minutes=recovery_minutes, query=query,
        )  # fmt: skip
        with _stdout_reader_may_leave():
            for chart in write_postmortem(draft, output_format.value, out, sys.stdout):
                if not quiet:
                    typer.echo(f"logsense: chart written to {chart}", err=True)


# --- digest: triage compared with the last digest, as an email ---
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


@app.command()
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
    llm = _llm_flags(no_llm, llm_model, llm_base_url, llm_timeout, llm_max_issues)
    with _errors_as_exit_codes():
        from logsense.digest import DigestOptions, default_sender
        from logsense.digest import compose as compose_digest
        from logsense.digest import prepare as prepare_digest
        from logsense.digest import remember as remember_digest
        from logsense.digest.mail import parse_recipients
        from logsense.pipeline import triage as run_triage

        smtp = _smtp_flags(smtp_host, smtp_port, smtp_user, starttls, implicit_tls, no_tls)
        settings = _settings(config, field or [], header_regex, state, llm, smtp)
        if out is None and not to:
            raise UsageError("give --to ADDRESS[,ADDRESS] (or --out FILE to write the message)")
        recipients = parse_recipients(to) if to else []
        password = None if out else _smtp_password(settings.smtp.user, smtp_password_file)
        es = _EsFlags(
            index, es_url, query, es_api_key, es_user, es_ca_cert, es_insecure,
            page_size, slices, max_events, es_retries,
        )  # fmt: skip
        read_from, spec, anchor = _open_source(
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


def _version(value: bool) -> None:
    if value:
        typer.echo(f"logsense {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """What is going wrong in production, and how many requests it hurts."""


def main() -> None:
    """Console-script entry point: run the command, then end the process at once."""
    try:
        app()
    except SystemExit as done:
        _exit_now(done.code)
    _exit_now(0)


def _exit_now(code: object) -> NoReturn:
    """Exit with `code` after the atexit handlers and flushed output, skipping module teardown.

    Tearing down the modules of SciPy and scikit-learn takes about 0.35 s, a tenth of a large
    triage; nothing in it matters once the output is written and the handlers have run.
    """
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe or stream: nothing left to say
            stream.flush()
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    os._exit(status)
