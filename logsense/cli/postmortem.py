"""`logsense postmortem`: draft the postmortem of an incident from the logs of its window."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from logsense.cli.options import (
    BaselineOpt,
    ConfigOptions,
    EsOptions,
    FileOrEsOpt,
    LlmOptions,
    QuietOpt,
    ResetStateOpt,
    StateDirOpt,
    WindowOptions,
    WorkersOpt,
    open_source,
)
from logsense.cli.output import output_errors, stdout_reader_may_leave
from logsense.config import QUIET_MINUTES


class PostmortemFormat(StrEnum):
    """Output formats of a postmortem draft."""

    md = "md"
    html = "html"
    json = "json"


def postmortem(
    *,
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
    llm: LlmOptions,
    config: ConfigOptions,
    quiet: QuietOpt = False,
    state: StateDirOpt = None,
    reset_state: ResetStateOpt = False,
    es: EsOptions,
    workers: WorkersOpt = None,
) -> None:
    """Draft the postmortem of an incident: impact, timeline, root cause, charts."""
    settings = config.settings(state, llm.overrides())
    window = WindowOptions(since=None, until=to, start=start, baseline=baseline)
    read_from, spec, anchor = open_source(source, settings, window, es, quiet, workers)
    from logsense.postmortem import draft_postmortem, write_postmortem

    draft = draft_postmortem(
        read_from, spec, settings, anchor=anchor, progress=not quiet and anchor is None,
        reset_state=reset_state, quiet_minutes=recovery_minutes, query=es.query,
    )  # fmt: skip
    with stdout_reader_may_leave(), output_errors(out or "stdout"):
        charts = write_postmortem(draft, output_format.value, out, sys.stdout)
        sys.stdout.flush()
    for chart in charts:
        if not quiet:
            typer.echo(f"logsense: chart written to {chart}", err=True)
