"""`logsense load`: bulk-load a log file into Elasticsearch."""

from __future__ import annotations

from typing import Annotated

import typer

from logsense.cli.options import ConfigOptions, EsConnectionOptions, QuietOpt
from logsense.errors import InputError


def load(
    *,
    path: Annotated[str, typer.Argument(help="Log file (.jsonl, .log, .gz) or - for stdin.")],
    index: Annotated[str, typer.Option("--index", "-i", help="Index to load into.")],
    refresh: Annotated[
        bool, typer.Option(help="Refresh the index at the end, so a triage sees everything.")
    ] = True,
    threads: Annotated[int, typer.Option("--threads", help="Parallel bulk requests.")] = 2,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="Documents per bulk.")] = 1000,
    config: ConfigOptions,
    quiet: QuietOpt = False,
    es: EsConnectionOptions,
) -> None:
    """Bulk-load a log file into Elasticsearch (with an index template fit for logs)."""
    from logsense.sources.load import load_file

    settings = config.settings()
    connection = es.connection()
    result = load_file(
        connection, path, index, settings.fields, header_regex=settings.header_regex,
        refresh=refresh, threads=threads, chunk_size=chunk_size, progress=not quiet,
        max_line=settings.max_line_bytes, log_format=settings.log_format,
        timezone=settings.timezone,
    )  # fmt: skip
    for warning in result.warnings:
        typer.echo(f"logsense: warning: {warning}", err=True)
    typer.echo(f"logsense: {result.summary()}", err=True)
    if result.rejected:
        raise InputError(result.rejection_message())
