"""`logsense formats`: the text log formats logsense recognises, and which one a file gets."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from logsense.cli.options import ConfigOptions
from logsense.escape import json_safe

if TYPE_CHECKING:
    from logsense.sources.files import FileSource


def formats(
    *,
    source: Annotated[
        str | None,
        typer.Argument(
            help="A log file (or - for stdin): say which format it gets, and how its "
            "first lines read."
        ),
    ] = None,
    lines: Annotated[int, typer.Option("--lines", "-n", help="First lines shown read.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
    config: ConfigOptions,
) -> None:
    """List the text log formats logsense recognises; with a file, which one it gets."""
    from logsense.render.terminal import print_formats
    from logsense.sources.formats.text import library

    lib = library()
    if source is None:
        rows = [
            {"name": f.name, "title": f.title, "example": f.examples[0]["line"] if f.examples
             else None, "general": f.general}
            for f in lib.formats
        ]  # fmt: skip
        prefixes = [{"name": p.name, "title": p.title} for p in lib.prefixes]
        document: dict[str, Any] = {
            "schema": "logsense.formats/v1", "formats": rows, "prefixes": prefixes,
            "fallback": lib.fallback.title,
            "patterns": "grok patterns of logstash-patterns-core (Apache-2.0), from the grok "
                        "crate, in logsense/sources/formats/library.toml",
        }  # fmt: skip
    else:
        document = _file_report(source, config, lines)
    if as_json:
        typer.echo(json_safe(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()))
    else:
        print_formats(document)


def _file_report(path: str, config: ConfigOptions, count: int) -> dict[str, Any]:
    """Which format `path` gets (detected or forced), and how its first lines read."""
    from logsense.sources.files import FileSource

    settings = config.settings()
    source = FileSource.from_settings(path, settings)
    sample = source.sample()
    if sample and sample[0].lstrip().startswith("{"):
        return {"schema": "logsense.formats/v1", "source": source.name, "detected": "JSON lines",
                "lines": []}  # fmt: skip
    if settings.header_regex is not None:
        return {"schema": "logsense.formats/v1", "source": source.name,
                "detected": "--header-regex", "lines": _regex_lines(source, count)}  # fmt: skip
    parser = source.parser
    if parser.only is not None:
        detected = f"{parser.only.name} (--log-format)"
    else:
        parser.detect(sample)
        detected = parser.name_of(parser.primary) or "none"
    shown = []
    for line in sample[:count]:
        parsed = parser.parse(line)
        shown.append({
            "line": line,
            "format": parsed.format or None,
            "kind": parsed.kind,
            "timestamp": datetime.fromtimestamp(parsed.timestamp, UTC).isoformat()
            if parsed.kind == "event" else None,
            "level": parsed.level, "service": parsed.service, "process": parsed.process,
            "thread": parsed.thread, "host": parsed.host, "request_id": parsed.request_id,
            "message": parsed.message if parsed.kind == "event" else None,
            "year_assumed": parsed.year_assumed, "zone_assumed": parsed.zone_assumed,
        })  # fmt: skip
    return {"schema": "logsense.formats/v1", "source": source.name, "detected": detected,
            "lines": shown}  # fmt: skip


def _regex_lines(source: FileSource, count: int) -> list[dict[str, Any]]:
    """The first `count` events as `--header-regex` reads them (it overrides every format)."""
    shown = []
    for event in itertools.islice(source.read(), count):
        shown.append({
            "line": None, "origin": event.origin, "format": "--header-regex", "kind": "event",
            "timestamp": datetime.fromtimestamp(event.timestamp, UTC).isoformat(),
            "level": event.level, "service": event.service, "process": event.process,
            "thread": event.thread, "host": event.host, "request_id": event.request_id,
            "message": event.message, "year_assumed": False, "zone_assumed": False,
        })  # fmt: skip
    return shown
