"""`logsense patterns`: the templates of an input with their counts."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer

from logsense.cli.options import ConfigOptions, ResetStateOpt, SourceOpt, StateDirOpt
from logsense.cli.output import output_errors, report_output
from logsense.errors import InputError
from logsense.escape import json_safe
from logsense.sources.files import FileSource


class PatternFormat(StrEnum):
    """Output formats of the patterns view."""

    table = "table"
    json = "json"


def patterns(
    *,
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
    config: ConfigOptions,
    state: StateDirOpt = None,
    reset_state: ResetStateOpt = False,
) -> None:
    """List the log patterns (templates) of an input with their counts, most frequent first."""
    from logsense.mine.patterns import mine_patterns, pattern_to_dict
    from logsense.render.terminal import print_patterns

    settings = config.settings(state)
    file_source = FileSource.from_settings(source, settings, plain=plain)
    run = mine_patterns(file_source, settings, reset_state)
    if not run.patterns:
        raise InputError(f"no events in {file_source.name}")
    if per_line is not None:
        with output_errors(per_line), per_line.open("wb") as handle:
            handle.writelines(orjson.dumps(row) + b"\n" for row in run.per_line())
    rows = [pattern_to_dict(p) for p in run.patterns]
    if output_format is PatternFormat.json:
        document = {"schema": "logsense.patterns/v1", "source": file_source.name,
                    "malformed": file_source.stats.malformed, "patterns": rows}  # fmt: skip
        with report_output(None) as handle:
            encoded = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
            handle.write(json_safe(encoded) + "\n")
    else:
        with report_output(None):
            print_patterns(rows, file_source.stats.warnings())
