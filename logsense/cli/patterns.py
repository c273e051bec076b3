"""`logsense patterns`: the templates of an input with their counts."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer

from logsense.cli.options import ConfigOptions, ResetStateOpt, SourceOpt, StateDirOpt
from logsense.cli.output import stdout_reader_may_leave
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
    file_source = FileSource(source, settings.fields, settings.header_regex, plain=plain)
    run = mine_patterns(file_source, settings, reset_state)
    if not run.patterns:
        raise InputError(f"no events in {file_source.name}")
    if per_line is not None:
        with per_line.open("wb") as handle:
            handle.writelines(orjson.dumps(row) + b"\n" for row in run.per_line())
    rows = [pattern_to_dict(p) for p in run.patterns]
    if output_format is PatternFormat.json:
        document = {"schema": "logsense.patterns/v1", "source": file_source.name,
                    "malformed": file_source.stats.malformed, "patterns": rows}  # fmt: skip
        with stdout_reader_may_leave():
            encoded = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
            sys.stdout.write(json_safe(encoded) + "\n")
    else:
        with stdout_reader_may_leave():
            print_patterns(rows, file_source.stats.warnings())
