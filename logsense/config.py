"""Settings: one typed object built from defaults, a `logsense.toml`, the environment and flags.

The TOML file is read only when named (`--config` / `LOGSENSE_CONFIG`) or when it sits in the
user's config directory; never implicitly from the current directory. Unknown keys are errors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import typer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from logsense.errors import UsageError

__all__ = [
    "ChangeConfig",
    "FieldMap",
    "GroupingConfig",
    "LlmConfig",
    "Settings",
    "SeverityConfig",
    "SmtpConfig",
    "default_config_path",
    "load_settings",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldMap(_Strict):
    """Where each Event field is read from: candidate keys in order, ECS first.

    A key with dots matches a flat dotted key (`"log.level": ...`) or the nested path
    (`{"log": {"level": ...}}`).
    """

    # After ECS, the loggers' own keys: logstash-logback-encoder's `logger_name`, zap's
    # `logger`, pino's and bunyan's `name`, Serilog's `@t`/`@l`, MongoDB's `t`/`s`/`c`,
    # journald's (`journalctl -o json`) upper-case fields.
    timestamp: list[str] = [
        "@timestamp", "timestamp", "time", "ts", "@t", "asctime", "t.$date",
        "__REALTIME_TIMESTAMP",
    ]  # fmt: skip
    message: list[str] = ["message", "msg", "log", "@m", "MESSAGE"]
    level: list[str] = ["log.level", "level", "severity", "levelname", "lvl", "@l", "s", "PRIORITY"]
    service: list[str] = [
        "service.name", "service", "app", "logger", "log.logger", "logger_name", "component",
        "name", "c", "SYSLOG_IDENTIFIER", "_SYSTEMD_UNIT",
    ]  # fmt: skip
    request_id: list[str] = [
        "trace.id", "transaction.id", "http.request.id", "request_id", "trace_id", "traceId",
        "requestId", "reqId", "req_id", "req.id",
    ]  # fmt: skip
    user_id: list[str] = ["user.id", "user_id", "user.name"]
    stack_trace: list[str] = [
        "error.stack_trace", "stack_trace", "exception", "stacktrace", "err.stack", "error.stack",
        "exc_info",
    ]  # fmt: skip
    version: list[str] = ["service.version", "version"]
    host: list[str] = ["host.name", "host", "hostname", "_HOSTNAME"]
    # Seconds per unit from the key's last word (`took_ms`), else nanoseconds as ECS says.
    duration: list[str] = ["event.duration"]
    # An HTTP status: a 5xx makes the event an error at least (the request failed, whatever
    # level the access line was logged at). pino-http's `res.statusCode` included.
    status: list[str] = [
        "http.response.status_code", "status", "status_code", "statusCode", "res.statusCode",
    ]  # fmt: skip

    def override(self, assignments: list[str]) -> FieldMap:
        """A copy where each `name=key[,key2]` assignment replaces that field's candidate keys."""
        updates: dict[str, list[str]] = {}
        for assignment in assignments:
            name, sep, keys = assignment.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or not keys.strip():
                raise UsageError(f"--field wants NAME=KEY, got {assignment!r}")
            if name not in type(self).model_fields:
                known = ", ".join(type(self).model_fields)
                raise UsageError(f"--field: unknown field {name!r} (known: {known})")
            updates[name] = [k.strip() for k in keys.split(",") if k.strip()]
        return self.model_copy(update=updates)


class SeverityConfig(_Strict):
    """Share-of-requests thresholds for severity; level and novelty adjust the result."""

    critical_share: float = Field(0.20, ge=0, le=1)
    high_share: float = Field(0.05, ge=0, le=1)
    medium_share: float = Field(0.005, ge=0, le=1)


class GroupingConfig(_Strict):
    """When two patterns are one issue.

    `min_similarity`: cosine similarity of template embeddings that joins two patterns of one
    service and level class (active in the same minutes). `min_containment`: the share of a
    pattern's requests that must also have an earlier pattern for the two to be one issue.
    """

    min_similarity: float = Field(0.9, ge=0, le=1)
    min_containment: float = Field(0.9, ge=0, le=1)


class ChangeConfig(_Strict):
    """What counts as a change against the baseline (`logsense/analyze/change.py`).

    `alpha`: the false discovery rate of the changes a report calls significant (its tests
    are many: a pattern is significant when a split at least as uneven is unlikely enough under
    one rate in both periods, by the Benjamini-Hochberg procedure at this rate).
    `stopped_fraction`: a pattern that fell significantly has stopped when it now appears in at
    most this share of the requests the baseline predicts.
    `slow_ratio` and `min_slowdown`: a hop between two events of a request slowed when its median
    gap grew by both this factor and this many seconds (and significantly).
    """

    alpha: float = Field(0.05, gt=0, lt=1)
    stopped_fraction: float = Field(0.5, ge=0, lt=1)
    slow_ratio: float = Field(2.0, ge=1)
    min_slowdown: float = Field(0.005, ge=0)


class LlmConfig(_Strict):
    """LLM summaries (`logsense/summarize/`). The API key comes only from `OPENAI_API_KEY`.

    `base_url` falls back to `OPENAI_BASE_URL`, then OpenAI itself; `model` may also be set with
    `LOGSENSE_LLM_MODEL`. `max_tokens` caps each answer, `token_budget` all calls of one report.
    `max_retries` is the openai client's own retry count for 429/5xx/timeouts.
    """

    enabled: bool = True
    model: str = "gpt-4o-mini"
    base_url: str | None = None
    timeout: float = Field(20.0, gt=0, le=600)
    max_issues: int = Field(5, ge=0, le=50)
    max_tokens: int = Field(700, ge=64, le=16384)
    token_budget: int = Field(20000, ge=0)
    max_retries: int = Field(1, ge=0, le=10)
    temperature: float = Field(0.2, ge=0, le=2)
    redact_ips: bool = True


SmtpSecurity = Literal["auto", "starttls", "ssl", "none"]
_SMTP_PORTS = {"ssl": 465, "starttls": 587}
# Postmortems: quiet minutes in a row that mark an issue's recovery (`postmortem.course`).
QUIET_MINUTES = 3


class SmtpConfig(_Strict):
    """The mail server digests go through (`logsense/digest/mail.py`).

    The password is never a setting: it comes only from `LOGSENSE_SMTP_PASSWORD` or
    `--smtp-password-file`. `security`: `auto` uses STARTTLS when the server offers it (and then
    refuses to send a password without it), `starttls` requires it, `ssl` is implicit TLS
    (SMTPS), `none` is plain text. `port` defaults by security: 465 ssl, 587 starttls, else 25.
    """

    host: str = "localhost"
    port: int | None = Field(None, ge=1, le=65535)
    user: str | None = None
    security: SmtpSecurity = "auto"
    sender: str | None = None
    timeout: float = Field(30.0, gt=0, le=600)

    @property
    def effective_port(self) -> int:
        """The port given, else the usual one for `security`."""
        return self.port or _SMTP_PORTS.get(self.security, 25)

    @property
    def address(self) -> str:
        """`host:port`, as error messages name the server."""
        return f"{self.host}:{self.effective_port}"


class _EnvAliases(PydanticBaseSettingsSource):
    """Short environment names: `LOGSENSE_LLM_MODEL` means `LOGSENSE_LLM__MODEL`, and so on."""

    _ALIASES: ClassVar[dict[str, tuple[str, str]]] = {
        "LOGSENSE_LLM_MODEL": ("llm", "model"),
        **{
            f"LOGSENSE_SMTP_{key.upper()}": ("smtp", key)
            for key in ("host", "port", "user", "security", "sender", "timeout")
        },
    }

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, (section, key) in self._ALIASES.items():
            if os.environ.get(name):
                values.setdefault(section, {})[key] = os.environ[name]
        return values


class Settings(BaseSettings):
    """Every tunable of logsense. Environment variables use the `LOGSENSE_` prefix."""

    model_config = SettingsConfigDict(
        env_prefix="LOGSENSE_", env_nested_delimiter="__", extra="forbid"
    )

    fields: FieldMap = FieldMap()
    header_regex: str | None = None
    # Text inputs: a format of the library forced on every line (`logsense formats` lists
    # them), and the zone of times written without one (IANA name or ±HH:MM; default UTC).
    log_format: str | None = None
    timezone: str | None = None
    severity: SeverityConfig = SeverityConfig()
    grouping: GroupingConfig = GroupingConfig()
    change: ChangeConfig = ChangeConfig()
    baseline: str | None = None
    samples_per_pattern: int = Field(5, ge=1, le=100)
    state_dir: Path | None = None
    # Threads reading and masking big inputs (0: one per core). Results never depend on it.
    threads: int = Field(0, ge=0, le=64)
    # Lines longer than this (bytes, without the newline) are malformed and skipped unread.
    max_line_bytes: int = Field(1 << 20, ge=1024, le=1 << 30)
    llm: LlmConfig = LlmConfig()
    smtp: SmtpConfig = SmtpConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Flags beat the environment, which beats the file; no .env or secrets directory.
        return (
            init_settings,
            env_settings,
            _EnvAliases(settings_cls),
            TomlConfigSettingsSource(settings_cls),
        )


def default_config_path() -> Path | None:
    """The config file used when none is named: `LOGSENSE_CONFIG`, else the user's config dir."""
    named = os.environ.get("LOGSENSE_CONFIG")
    if named:
        return Path(named)
    default = Path(typer.get_app_dir("logsense")) / "logsense.toml"
    return default if default.is_file() else None


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the config file (if any), the environment, then `overrides` (flags) on top."""
    path = config or default_config_path()
    if path is not None and not path.is_file():
        raise UsageError(f"config file not found: {path}")
    bound = type(
        "Settings", (Settings,), {"model_config": {**Settings.model_config, "toml_file": path}}
    )
    try:
        settings: Settings = bound(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(
            f"bad setting {where}: {first['msg']} (from {path or 'flags/env'})"
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read config {path}: {exc}") from None
    if settings.header_regex is not None:
        _check_header_regex(settings.header_regex, overrides, path)
    return settings


def _check_header_regex(regex: str, overrides: dict[str, Any], path: Path | None) -> None:
    """UsageError naming where a broken header regex came from: flag, environment or file."""
    from logsense.sources.files import header_regex_error

    problem = header_regex_error(regex)
    if problem is None:
        return
    if overrides.get("header_regex") is not None:
        where = "--header-regex"
    elif os.environ.get("LOGSENSE_HEADER_REGEX"):
        where = "LOGSENSE_HEADER_REGEX"
    else:
        where = f"header_regex in {path}"
    raise UsageError(f"{where} {problem}")
