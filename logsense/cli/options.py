"""The options several commands share, each declared once, and what they turn into.

Options that go together form a group: a frozen dataclass whose fields are the options
(`WindowOptions`, `ConfigOptions`, `EsOptions`, `EsConnectionOptions`, `LlmOptions`,
`SmtpOptions`). A command takes a group as one typed parameter, `es: EsOptions`;
`spread_groups` shows typer the group's options in that parameter's place, so each option keeps
its flag, help, default, environment variable and panel in every command that takes it.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import inspect
import os
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from logsense.config import Settings, load_settings
from logsense.errors import UsageError
from logsense.sources import Source
from logsense.sources.files import FileSource
from logsense.sources.pushdown import DEFAULT_BUDGET, Pushdown
from logsense.sources.window import WindowSpec

if TYPE_CHECKING:
    from logsense.sources.elasticsearch import ElasticsearchSource, EsConnection

__all__ = [
    "BaselineOpt",
    "ConfigOptions",
    "EsConnectionOptions",
    "EsOptions",
    "FileOrEsOpt",
    "LlmOptions",
    "OptionGroup",
    "QuietOpt",
    "ResetStateOpt",
    "SmtpOptions",
    "SourceOpt",
    "StateDirOpt",
    "WindowOptions",
    "WorkersOpt",
    "open_source",
    "spread_groups",
]


@dataclass(frozen=True)
class OptionGroup:
    """Options a command takes together, as one parameter typed with the group."""


def spread_groups(command: Callable[..., None]) -> Callable[..., None]:
    """`command` as typer should see it: each group parameter replaced by the group's options.

    Typer reads a command's options from `inspect.signature`, which honours `__signature__`. The
    options of parameter `es` are named `es__<field>`, so no two groups clash; `command` is called
    with them gathered back into one group object.
    """
    hints = typing.get_type_hints(command, include_extras=True)
    groups: dict[str, type[OptionGroup]] = {}
    parameters: list[inspect.Parameter] = []
    for name, parameter in inspect.signature(command).parameters.items():
        hint = hints[name]
        if not (isinstance(hint, type) and issubclass(hint, OptionGroup)):
            parameters.append(parameter.replace(annotation=hint))
            continue
        groups[name] = hint
        fields = typing.get_type_hints(hint, include_extras=True)
        parameters += [
            inspect.Parameter(
                f"{name}__{field.name}",
                inspect.Parameter.KEYWORD_ONLY,
                default=field.default,
                annotation=fields[field.name],
            )
            for field in dataclasses.fields(hint)
        ]

    @functools.wraps(command)
    def run(**options: Any) -> None:
        for name, group in groups.items():
            prefix = f"{name}__"
            given = [key for key in options if key.startswith(prefix)]
            options[name] = group(**{key.removeprefix(prefix): options.pop(key) for key in given})
        command(**options)

    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    return run


# --- options outside the groups ---
SourceOpt = Annotated[
    str, typer.Option("--source", "-s", help="Log file (.jsonl, .log, .gz) or - for stdin.")
]
FileOrEsOpt = Annotated[
    str | None,
    typer.Option("--source", "-s", help="Log file (.jsonl, .log, .gz) or - for stdin; or give "
                 "--index to read Elasticsearch."),
]  # fmt: skip
BaselineOpt = Annotated[
    str | None,
    typer.Option(
        "--baseline", help="Length of the baseline window before it (default: same; 0: none)."
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
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")]
WorkersOpt = Annotated[
    str | None,
    typer.Option(
        "--workers",
        envvar="LOGSENSE_WORKERS",
        help="Dask scheduler (tcp://HOST:8786) whose workers read the input (a file at the "
        "same path); needs the `distributed` package (the dask extra).",
    ),
]


# --- the window (triage, digest) ---
@dataclass(frozen=True)
class WindowOptions(OptionGroup):
    """The window flags as typed: `--since`, `--until` (or `latest`), `--from`, `--baseline`."""

    since: Annotated[
        str | None, typer.Option("--since", help="Window length back from --until: 30m, 1h, 2d.")
    ] = None
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help="Window end: ISO 8601, a duration ago, or `latest` (the newest event). Default: "
            "now for Elasticsearch, the newest event for files.",
        ),
    ] = None
    start: Annotated[
        str | None, typer.Option("--from", help="Window start (ISO 8601 or a duration ago).")
    ] = None
    baseline: BaselineOpt = None


# --- reading the input, and the config file (every command) ---
@dataclass(frozen=True)
class ConfigOptions(OptionGroup):
    """`--field`, `--header-regex` and `--config`: how the input reads, which logsense.toml."""

    fields: Annotated[
        list[str] | None,
        typer.Option(
            "--field", help="Field mapping NAME=KEY[,KEY2], e.g. request_id=req.id. Repeatable."
        ),
    ] = None
    header_regex: Annotated[
        str | None,
        typer.Option(
            "--header-regex",
            help="Regex for text lines with named groups timestamp, message (and level, service, "
            "request_id, user_id).",
        ),
    ] = None
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            help="Read every text line in this format of the library (`logsense formats` "
            "lists them); default: detected. --header-regex overrides it.",
        ),
    ] = None
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            help="Zone of text times written without one: an IANA name (Europe/Berlin) or "
            "an offset (+02:00). Default: UTC.",
        ),
    ] = None
    file: Annotated[
        Path | None,
        typer.Option("--config", help="logsense.toml to read (default: LOGSENSE_CONFIG)."),
    ] = None

    def settings(
        self,
        state: Path | None = None,
        llm: dict[str, Any] | None = None,
        smtp: dict[str, Any] | None = None,
    ) -> Settings:
        """The settings, with these flags and the given `[llm]` and `[smtp]` ones on top."""
        settings = load_settings(
            self.file, header_regex=self.header_regex, log_format=self.log_format,
            timezone=self.timezone, state_dir=state, llm=llm or None, smtp=smtp or None,
        )  # fmt: skip
        if self.fields:
            settings.fields = settings.fields.override(self.fields)
        return settings


# --- Elasticsearch (triage, digest and postmortem read it; load writes to it) ---
_ES = "Elasticsearch"
_ES_URL = "http://localhost:9200"
EsUrlOpt = Annotated[
    str,
    typer.Option(
        "--es-url", envvar="LOGSENSE_ES_URL", help="Elasticsearch URL.", rich_help_panel=_ES
    ),
]
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


def _connection(
    url: str, api_key: str | None, user: str | None, ca_cert: Path | None, insecure: bool
) -> EsConnection:
    """The connection the flags describe; the password is read from LOGSENSE_ES_PASSWORD only."""
    if insecure:
        typer.echo("logsense: warning: --es-insecure: TLS certificates are not verified", err=True)
    from logsense.sources.elasticsearch import EsConnection

    password = os.environ.get("LOGSENSE_ES_PASSWORD")
    return EsConnection(url, api_key, user, password, ca_cert, insecure)


@dataclass(frozen=True)
class EsConnectionOptions(OptionGroup):
    """How to reach Elasticsearch: its URL, the credentials, TLS."""

    url: EsUrlOpt = _ES_URL
    api_key: EsApiKeyOpt = None
    user: EsUserOpt = None
    ca_cert: EsCaCertOpt = None
    insecure: EsInsecureOpt = False

    def connection(self) -> EsConnection:
        """The connection these flags describe."""
        return _connection(self.url, self.api_key, self.user, self.ca_cert, self.insecure)


@dataclass(frozen=True)
class EsOptions(OptionGroup):
    """Reading Elasticsearch instead of a file: the index and query, how to reach it, paging."""

    index: Annotated[
        str | None,
        typer.Option(
            "--index", "-i", rich_help_panel=_ES,
            help="Index or pattern (logs-*) to read: triage Elasticsearch instead of --source.",
        ),
    ] = None  # fmt: skip
    url: EsUrlOpt = _ES_URL
    query: Annotated[
        str | None,
        typer.Option("--query", help="Lucene query string, e.g. 'service.name:checkout'.",
                     rich_help_panel=_ES),
    ] = None  # fmt: skip
    api_key: EsApiKeyOpt = None
    user: EsUserOpt = None
    ca_cert: EsCaCertOpt = None
    insecure: EsInsecureOpt = False
    page_size: Annotated[
        int, typer.Option("--page-size", help="Documents per search page.", rich_help_panel=_ES)
    ] = 5000
    slices: Annotated[
        int, typer.Option("--slices", help="Parallel sliced readers.", rich_help_panel=_ES)
    ] = 2
    max_events: Annotated[
        int | None,
        typer.Option("--max-events", help="Stop reading after this many documents (the report "
                     "then says it is partial).", rich_help_panel=_ES),
    ] = None  # fmt: skip
    retries: Annotated[
        int,
        typer.Option("--es-retries", help="Retries per request on 429/5xx/timeouts/dropped "
                     "connections, with exponential backoff from 0.5 s.", rich_help_panel=_ES),
    ] = 5  # fmt: skip
    full_read: Annotated[
        bool,
        typer.Option("--full-read", help="Keep every event of the range instead of pushing the "
                     "work down to Elasticsearch, or sampling a file whose window is known up "
                     "front (exact counts for every pattern).", rich_help_panel=_ES),
    ] = False  # fmt: skip
    sample_events: Annotated[
        int,
        typer.Option("--sample-events", min=1, help="Past this many events that cannot form "
                     "an issue (in an index, or a file with --from and an --until time), keep a "
                     "uniform sample of requests of about this many (the rest is only "
                     "counted).", rich_help_panel=_ES),
    ] = DEFAULT_BUDGET  # fmt: skip

    def connection(self) -> EsConnection:
        """The connection these flags describe."""
        return _connection(self.url, self.api_key, self.user, self.ca_cert, self.insecure)


def open_source(
    path: str | None,
    settings: Settings,
    window: WindowOptions,
    es: EsOptions,
    quiet: bool,
    workers: str | None = None,
) -> tuple[Source, WindowSpec, float | None]:
    """The source, the window spec and the anchor: a file/stdin (anchored at its newest event,
    None) or Elasticsearch (now, or its newest document with `--until latest`); read by the
    Dask cluster whose scheduler is at `workers`, if given."""
    source, spec, anchor = _source(path, settings, window, es, quiet)
    if workers is None:
        return source, spec, anchor
    if importlib.util.find_spec("distributed") is None:
        raise UsageError(
            "--workers needs the Dask distributed package: pip install 'logsense[dask]'"
        )
    from logsense.sources.workers import ClusterSource

    return ClusterSource(source, workers, spec, anchor, settings), spec, anchor


def _source(
    path: str | None, settings: Settings, window: WindowOptions, es: EsOptions, quiet: bool
) -> tuple[FileSource | ElasticsearchSource, WindowSpec, float | None]:
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
        reader = FileSource.from_settings(path, settings)
        if not es.full_read:
            reader.pushdown = Pushdown(es.sample_events)
        return reader, spec, None
    if path is not None:
        raise UsageError("give --source or --index, not both")
    from logsense.sources.elasticsearch import ElasticsearchSource, ReadOptions

    source, anchor = ElasticsearchSource.for_window(
        es.connection(), es.index, settings.fields, spec, until_latest=latest, query=es.query,
        progress=not quiet,
        options=ReadOptions(es.page_size, es.slices, es.max_events, retries=es.retries),
    )  # fmt: skip
    if not es.full_read and es.max_events is None:
        source.pushdown = Pushdown(es.sample_events)
    return source, spec, anchor


# --- LLM summaries (triage, postmortem, digest) ---
@dataclass(frozen=True)
class LlmOptions(OptionGroup):
    """`--no-llm` and the LLM endpoint's flags."""

    no_llm: Annotated[
        bool, typer.Option("--no-llm", help="Rules-based text only; nothing is sent out.")
    ] = False
    model: Annotated[
        str | None,
        typer.Option(
            "--llm-model", help="Model for summaries (default: LOGSENSE_LLM_MODEL, gpt-4o-mini)."
        ),
    ] = None
    base_url: Annotated[
        str | None,
        typer.Option(
            "--llm-base-url",
            help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 "
            "(default: OPENAI_BASE_URL).",
        ),
    ] = None
    timeout: Annotated[
        float | None, typer.Option("--llm-timeout", help="Seconds per LLM request (default 20).")
    ] = None
    max_issues: Annotated[
        int | None,
        typer.Option("--llm-max-issues", help="Issues summarized by the LLM (default 5)."),
    ] = None

    def overrides(self) -> dict[str, Any]:
        """The `[llm]` settings these flags set."""
        flags = {
            "model": self.model,
            "base_url": self.base_url,
            "timeout": self.timeout,
            "max_issues": self.max_issues,
        }
        given: dict[str, Any] = {key: value for key, value in flags.items() if value is not None}
        return given | {"enabled": False} if self.no_llm else given


# --- the mail server (digest) ---
_MAIL = "Mail (SMTP)"


@dataclass(frozen=True)
class SmtpOptions(OptionGroup):
    """The mail server's flags; the password comes from a file or the environment, never a flag."""

    host: Annotated[
        str | None,
        typer.Option(
            "--smtp-host",
            help="SMTP server (default: LOGSENSE_SMTP_HOST, localhost).",
            rich_help_panel=_MAIL,
        ),
    ] = None
    port: Annotated[
        int | None,
        typer.Option(
            "--smtp-port",
            help="Port (default: 465 with --ssl, 587 with --starttls, else 25).",
            rich_help_panel=_MAIL,
        ),
    ] = None
    user: Annotated[
        str | None, typer.Option("--smtp-user", help="Log in as this user.", rich_help_panel=_MAIL)
    ] = None
    password_file: Annotated[
        Path | None,
        typer.Option(
            "--smtp-password-file",
            help="File holding the password (else LOGSENSE_SMTP_PASSWORD).",
            rich_help_panel=_MAIL,
        ),
    ] = None
    starttls: Annotated[
        bool, typer.Option("--starttls", help="Require STARTTLS.", rich_help_panel=_MAIL)
    ] = False
    implicit_tls: Annotated[
        bool, typer.Option("--ssl", help="Implicit TLS (SMTPS).", rich_help_panel=_MAIL)
    ] = False
    no_tls: Annotated[
        bool,
        typer.Option(
            "--no-tls",
            help="Plain text, even for the login (trusted networks only). "
            "Default: STARTTLS when offered.",
            rich_help_panel=_MAIL,
        ),
    ] = False

    def overrides(self) -> dict[str, Any]:
        """The `[smtp]` settings these flags set (UsageError: more than one TLS choice)."""
        choices = (("starttls", self.starttls), ("ssl", self.implicit_tls), ("none", self.no_tls))
        chosen = [name for name, on in choices if on]
        if len(chosen) > 1:
            raise UsageError("give one of --starttls, --ssl and --no-tls")
        security = chosen[0] if chosen else None
        flags = {"host": self.host, "port": self.port, "user": self.user, "security": security}
        return {key: value for key, value in flags.items() if value is not None}

    def password(self, user: str | None) -> str | None:
        """The password from --smtp-password-file, else LOGSENSE_SMTP_PASSWORD; never a flag."""
        if self.password_file is not None:
            try:
                return self.password_file.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise UsageError(
                    f"cannot read --smtp-password-file {self.password_file}: {exc.strerror}"
                ) from None
        password = os.environ.get("LOGSENSE_SMTP_PASSWORD")
        if user and not password:
            raise UsageError(
                f"--smtp-user {user} needs a password: set LOGSENSE_SMTP_PASSWORD or give "
                "--smtp-password-file"
            )
        return password
