"""The `logsense` command line: parses options, calls the library, renders. Nothing else.

Exit codes: 0 report written · 1 unexpected failure · 2 bad usage or config · 3 no usable input
(missing file, empty input, no events in the window) · 4 a server did not answer.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer

from logsense import __version__
from logsense.config import Settings, load_settings
from logsense.errors import InputError, LogsenseError
from logsense.patterns import mine_patterns, pattern_to_dict
from logsense.pipeline import triage as run_triage
from logsense.render import RENDERERS
from logsense.render.terminal import print_patterns
from logsense.sources.files import FileSource
from logsense.state import state_dir
from logsense.window import WindowSpec

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


def _settings(
    config: Path | None,
    fields: list[str],
    header_regex: str | None,
    state: Path | None = None,
    llm: dict[str, Any] | None = None,
) -> Settings:
    settings = load_settings(config, header_regex=header_regex, state_dir=state, llm=llm or None)
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
        help="Window end: ISO 8601 or a duration ago. Default: now for live sources, the newest "
        "event for files.",
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


@app.command()
def triage(
    source: SourceOpt,
    since: SinceOpt = None,
    until: UntilOpt = None,
    start: FromOpt = None,
    baseline: BaselineOpt = None,
    output_format: Annotated[
        Format, typer.Option("--format", "-f", help="table, json or md.")
    ] = Format.table,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here, not stdout.")] = None,
    no_llm: Annotated[
        bool, typer.Option("--no-llm", help="Rules-based summaries only; nothing is sent out.")
    ] = False,
    llm_model: Annotated[
        str | None,
        typer.Option(
            "--llm-model", help="Model for summaries (default: LOGSENSE_LLM_MODEL, gpt-4o-mini)."
        ),
    ] = None,
    llm_base_url: Annotated[
        str | None,
        typer.Option(
            "--llm-base-url",
            help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 "
            "(default: OPENAI_BASE_URL).",
        ),
    ] = None,
    llm_timeout: Annotated[
        float | None, typer.Option("--llm-timeout", help="Seconds per LLM request (default 20).")
    ] = None,
    llm_max_issues: Annotated[
        int | None,
        typer.Option("--llm-max-issues", help="Issues summarized by the LLM (default 5)."),
    ] = None,
    field: FieldOpt = None,
    header_regex: HeaderOpt = None,
    config: ConfigOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
    state: StateDirOpt = None,
    reset_state: ResetStateOpt = False,
) -> None:
    """Rank what is going wrong in a window of logs by the share of requests it affects."""
    llm = _llm_flags(no_llm, llm_model, llm_base_url, llm_timeout, llm_max_issues)
    with _errors_as_exit_codes():
        settings = _settings(config, field or [], header_regex, state, llm)
        spec = WindowSpec.from_options(since, until, start, baseline or settings.baseline)
        file_source = FileSource(source, settings.fields, settings.header_regex)
        report = run_triage(
            file_source, spec, settings, progress=not quiet, reset_state=reset_state
        )
        renderer = RENDERERS[output_format.value]
        if out is None:
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
        settings = _settings(config, field or [], header_regex, state)
        file_source = FileSource(source, settings.fields, settings.header_regex, plain=plain)
        run = mine_patterns(file_source.read(), state_dir(settings.state_dir), reset_state)
        if not run.patterns:
            raise InputError(f"no events in {file_source.name}")
        if per_line is not None:
            with per_line.open("wb") as handle:
                handle.writelines(orjson.dumps(row) + b"\n" for row in run.per_line())
        rows = [pattern_to_dict(p) for p in run.patterns]
        if output_format is PatternFormat.json:
            document = {"schema": "logsense.patterns/v1", "source": file_source.name,
                        "malformed": file_source.stats.malformed, "patterns": rows}  # fmt: skip
            sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        else:
            print_patterns(rows, file_source.stats.warnings())


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
    """Console-script entry point."""
    app()
