"""`logsense triage`: rank what is going wrong in a window of logs."""

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
    QuietOpt,
    ResetStateOpt,
    SinceOpt,
    SlicesOpt,
    StateDirOpt,
    UntilOpt,
    WindowOptions,
    llm_flags,
    open_source,
    settings_from,
)
from logsense.cli.output import stdout_reader_may_leave


class Format(StrEnum):
    """Output formats of a triage report."""

    table = "table"
    json = "json"
    md = "md"
    html = "html"


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
    llm = llm_flags(no_llm, llm_model, llm_base_url, llm_timeout, llm_max_issues)
    settings = settings_from(config, field or [], header_regex, state, llm)
    es = EsFlags(
        index, es_url, query, es_api_key, es_user, es_ca_cert, es_insecure,
        page_size, slices, max_events, es_retries,
    )  # fmt: skip
    read_from, spec, anchor = open_source(
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
        with stdout_reader_may_leave():
            renderer(report, sys.stdout)
    else:
        with out.open("w", encoding="utf-8") as handle:
            renderer(report, handle)
