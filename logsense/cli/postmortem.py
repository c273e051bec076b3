"""`logsense postmortem`: draft the postmortem of an incident from the logs of its window."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

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
    QuietOpt,
    ResetStateOpt,
    SlicesOpt,
    StateDirOpt,
    WindowOptions,
    llm_flags,
    open_source,
    settings_from,
)
from logsense.cli.output import stdout_reader_may_leave
from logsense.config import QUIET_MINUTES


class PostmortemFormat(StrEnum):
    """Output formats of a postmortem draft."""

    md = "md"
    html = "html"
    json = "json"


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
    llm = llm_flags(no_llm, llm_model, llm_base_url, llm_timeout, llm_max_issues)
    settings = settings_from(config, field or [], header_regex, state, llm)
    es = EsFlags(
        index, es_url, query, es_api_key, es_user, es_ca_cert, es_insecure,
        page_size, slices, max_events, es_retries,
    )  # fmt: skip
    read_from, spec, anchor = open_source(
        source, settings, WindowOptions(None, to, start, baseline), es, quiet
    )
    from logsense.postmortem import draft_postmortem, write_postmortem

    draft = draft_postmortem(
        read_from, spec, settings, anchor=anchor, progress=not quiet and anchor is None,
        reset_state=reset_state, quiet_minutes=recovery_minutes, query=query,
    )  # fmt: skip
    with stdout_reader_may_leave():
        for chart in write_postmortem(draft, output_format.value, out, sys.stdout):
            if not quiet:
                typer.echo(f"logsense: chart written to {chart}", err=True)
