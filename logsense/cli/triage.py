"""`logsense triage`: rank what is going wrong in a window of logs."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from logsense.cli.options import (
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
from logsense.cli.output import report_output


class Format(StrEnum):
    """Output formats of a triage report."""

    table = "table"
    json = "json"
    md = "md"
    html = "html"


def triage(
    *,
    source: FileOrEsOpt = None,
    window: WindowOptions,
    output_format: Annotated[
        Format, typer.Option("--format", "-f", help="table, json, md or html.")
    ] = Format.table,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here, not stdout.")] = None,
    all_issues: Annotated[
        bool,
        typer.Option(
            "--all",
            help="List every issue, also those the default view folds (chronic, or "
            "failing no request). JSON always has them all.",
        ),
    ] = False,
    llm: LlmOptions,
    config: ConfigOptions,
    quiet: QuietOpt = False,
    state: StateDirOpt = None,
    reset_state: ResetStateOpt = False,
    es: EsOptions,
    workers: WorkersOpt = None,
) -> None:
    """Rank what is going wrong in a window of logs by the share of requests it affects."""
    settings = config.settings(state, llm.overrides())
    read_from, spec, anchor = open_source(source, settings, window, es, quiet, workers)
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
    with report_output(out) as handle:
        renderer(report, handle, all_issues=all_issues)
