"""The options several commands share, and what they turn into: settings, a source, a window."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from logsense.config import Settings, load_settings
from logsense.errors import UsageError
from logsense.sources import Source
from logsense.sources.files import FileSource
from logsense.sources.window import WindowSpec

if TYPE_CHECKING:
    from logsense.sources.elasticsearch import EsConnection


def settings_from(
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


def llm_flags(
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


def es_connection(
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
class EsFlags:
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


def open_source(
    path: str | None, settings: Settings, window: WindowOptions, es: EsFlags, quiet: bool
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
        es_connection(es.url, es.api_key, es.user, es.ca_cert, es.insecure),
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
