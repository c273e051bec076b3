"""The report as a rich terminal table that opens with the headline.

Every text that comes from logs, files or a model (messages, templates, services, levels, the
source name, warnings, the LLM's words) is printed as a rich `Text` of `escape.one_line(...)`:
never parsed as rich markup, and with escape sequences and other control characters shown
rather than sent to the terminal.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from logsense.escape import one_line
from logsense.model import SEVERITIES, Issue, Report, iso

__all__ = ["print_patterns", "render", "sparkline"]

_SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "dim",
}
_BARS = "▁▂▃▄▅▆▇█"


class _Console(Console):
    """A rich Console that leaves a closed output pipe to the caller (the CLI ends quietly with
    exit 0, whatever the format); rich's own answer would be exit 1."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def sparkline(counts: list[int], width: int = 20) -> str:
    """A unicode sparkline of `counts`, squeezed to at most `width` cells."""
    if not counts:
        return ""
    step = max(1, -(-len(counts) // width))
    buckets = [sum(counts[i : i + step]) for i in range(0, len(counts), step)]
    top = max(buckets) or 1
    return "".join(
        _BARS[min(len(_BARS) - 1, n * len(_BARS) // (top + 1))] if n else " " for n in buckets
    )


def _share(issue: Issue) -> str:
    if issue.share_of_requests is None:
        return "–"
    text = f"{issue.share_of_requests:.1%}"
    return text + "*" if issue.impact_basis == "events" else text


def _literal(text: str | None, style: str = "") -> Text:
    """Text from logs, files or a model, shown as typed: no markup, no control sequence."""
    return Text(one_line(text or ""), style=style)


def _warning(warning: str) -> Text:
    return Text.assemble(("warning:", "yellow"), " ", _literal(warning))


def render(report: Report, out: TextIO, *, all_issues: bool = False) -> None:
    """Print the headline, the window line, the issue table fitted to the terminal's width
    (the issues the default view shows, or `all_issues`), the changes, the early warnings and
    the warnings."""
    console = _Console(file=out, highlight=False, soft_wrap=False)
    totals = report.totals
    console.print(_literal(report.headline, style="bold"))
    console.print(
        Text.assemble(
            f"{iso(report.window.start)} → {iso(report.window.end)} · ",
            _literal(report.source),
            f" · {totals.events:,} events · {totals.requests_label} · "
            f"{len(totals.services)} services · {totals.patterns:,} patterns · "
            f"{totals.malformed:,} malformed",
            style="dim",
        )
    )
    listed = report.issues if all_issues else [i for i in report.issues if i.shown]
    if listed:
        console.print(_table(listed, console.width))
        for line in _evidence_lines(listed):
            console.print(line)
    folded = _folded(report, listed)
    if folded is not None:
        console.print(folded)
    for line in _changes(report):
        console.print(line)
    for line in _early_warning(report):
        console.print(line)
    if report.overview is not None and report.overview.by == "llm":
        # The rules-based overview repeats the headline; only the model's adds something.
        console.print(
            _literal(report.overview.text), _literal(f"({report.overview.model})", style="dim")
        )
    for warning in report.warnings:
        console.print(_warning(warning))


def print_patterns(rows: list[dict[str, Any]], warnings: list[str]) -> None:
    """Print the patterns view: one row per pattern, most frequent first."""
    console = _Console(highlight=False)
    table = Table(pad_edge=False)
    for name in ("id", "count", "level", "service", "first", "last"):
        table.add_column(name, justify="right" if name == "count" else "left", no_wrap=True)
    table.add_column("template", ratio=1, min_width=30)
    for row in rows:
        first, last = row["first_seen"], row["last_seen"]
        table.add_row(
            _literal(row["id"]), f"{row['count']:,}", _literal(row["level"]),
            _literal(row["service"]), first[11:19] if first else "–",
            last[11:19] if last else "–", _literal(row["template"]),
        )  # fmt: skip
    console.print(table)
    for warning in warnings:
        console.print(_warning(warning))


def print_formats(document: dict[str, Any]) -> None:
    """Print the formats view: the library, or which format a file gets and its first lines."""
    console = _Console(highlight=False)
    if "formats" in document:
        table = Table(pad_edge=False)
        table.add_column("format", no_wrap=True)
        table.add_column("shape", ratio=1, min_width=30)
        for row in document["formats"]:
            table.add_row(_literal(row["name"]), _literal(row["title"]))
        console.print(table)
        prefixes = ", ".join(f"{p['name']} ({p['title']})" for p in document["prefixes"])
        console.print(_literal(f"before any of them: {prefixes}"))
        console.print(_literal(f"else: {document['fallback']}"))
        console.print(Text(f"patterns: {document['patterns']}", style="dim"))
        return
    console.print(_literal(f"{document['source']}: {document['detected']}"))
    table = Table(pad_edge=False)
    for name in ("format", "time", "level", "service", "message"):
        table.add_column(name, ratio=1 if name == "message" else None, no_wrap=name != "message")
    for row in document["lines"]:
        if row["kind"] != "event":
            table.add_row("–", "–", "–", "–", _literal(row["line"]))
            continue
        time = row["timestamp"][:19].replace("T", " ")
        time += "?" if row["year_assumed"] or row["zone_assumed"] else ""
        table.add_row(
            _literal(row["format"]), time, _literal(row["level"] or "–"),
            _literal(row["service"] or "–"), _literal(row["message"]),
        )  # fmt: skip
    console.print(table)
    if any(row["year_assumed"] or row["zone_assumed"] for row in document["lines"]):
        console.print(Text("?: the year or zone was not written; see --timezone and the "
                           "README's rules", style="dim"))  # fmt: skip


def _evidence_lines(listed: list[Issue], issues: int = 3) -> list[Text]:
    """Under the table, for the first issues that changed: why the root cause is where it is,
    and the normal lines that stopped."""
    lines = []
    for issue in [i for i in listed if i.changed][:issues]:
        if issue.evidence and issue.evidence[0].kind != "only_pattern":
            lines.append(_note(issue, "why", issue.evidence[0].text))
        for stop in issue.stopped[: 1 if issue.kind == "stopped" else 2]:
            if issue.kind != "stopped" or stop.pattern is not issue.root:
                change = stop.change
                text = (
                    f"{stop.pattern.service} “{stop.pattern.template}” {change.before} of "
                    f"{change.before_total} → {change.now} of {change.now_total}"
                )
                lines.append(_note(issue, "stopped", text))
    return lines


def _note(issue: Issue, label: str, text: str) -> Text:
    return Text(f"#{issue.rank} {label}: ", style="dim") + _literal(text)


# Columns of the issue table, most important first; the issue's title is always shown, and the
# others drop from the end of this list while the table would not fit the terminal.
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("#", "right"), ("severity", "left"), ("share", "right"), ("status", "left"),
    ("since", "left"), ("requests", "right"), ("events", "right"), ("per minute", "left"),
)  # fmt: skip
# The title keeps at least this many cells (or its whole length, if shorter) before a column
# is dropped for it; past that it wraps.
_TITLE_CELLS = 40


def _cells(issue: Issue) -> dict[str, Text]:
    return {
        "#": Text(str(issue.rank)),
        "severity": Text(issue.severity, style=_SEVERITY_STYLE[issue.severity]),
        "share": Text(_share(issue)),
        "status": _literal(issue.movement),
        "since": Text(datetime.fromtimestamp(issue.first_seen, UTC).strftime("%H:%M")),
        "requests": Text(
            f"{issue.requests_affected:,}" if issue.requests_affected is not None else "–"
        ),
        "events": Text(f"{issue.events:,}"),
        "per minute": Text(sparkline([c for _, c in issue.timeline])),
    }


def _title(issue: Issue) -> Text:
    title = issue.summary.title if issue.summary else issue.root.template
    services = ", ".join(issue.services[1:])
    return _literal(title) + (_literal(f"  ← {services}", style="dim") if services else Text())


def _fitting_columns(rows: list[dict[str, Text]], titles: list[Text], width: int) -> list[str]:
    """The columns to show at `width` cells: every one that leaves the title its cells."""
    widths = {name: max([len(name), *(row[name].cell_len for row in rows)]) for name, _ in _COLUMNS}
    title_cells = min(max((t.cell_len for t in titles), default=0), _TITLE_CELLS)
    kept = [name for name, _ in _COLUMNS]
    # Each column takes its cells, one of padding each side and one border between columns.
    while len(kept) > 1 and sum(widths[n] + 3 for n in kept) + title_cells + 1 > width:
        kept.pop()
    return kept


def _table(issues: list[Issue], width: int) -> Table:
    """The issue table, fitted to `width` cells: the title always, other columns by importance."""
    rows = [_cells(issue) for issue in issues]
    titles = [_title(issue) for issue in issues]
    kept = _fitting_columns(rows, titles, width)
    table = Table(show_lines=False, expand=False, pad_edge=False)
    for name, justify in _COLUMNS:
        if name in kept:
            table.add_column(name, justify=justify, no_wrap=True, min_width=len(name))  # type: ignore[arg-type]
    table.add_column("issue", ratio=1, min_width=min(_TITLE_CELLS, width // 2), overflow="fold")
    for row, title in zip(rows, titles, strict=True):
        table.add_row(*(row[name] for name in kept), title)
    return table


def _folded(report: Report, listed: list[Issue]) -> Text | None:
    """One line for the issues the default view leaves out, if any."""
    hidden = [issue for issue in report.issues if issue not in listed]
    if not hidden:
        return None
    by_severity = Counter(issue.severity for issue in hidden)
    counts = ", ".join(f"{by_severity[s]} {s}" for s in SEVERITIES if by_severity[s])
    return Text(
        f"+{len(hidden)} more ({counts}): chronic, or failing no request; --all lists them",
        style="dim",
    )


def _changes(report: Report, limit: int = 5) -> list[Text]:
    """The changes of the window (deploys, restarts …), one line each, oldest first."""
    if not report.changes:
        return []
    lines = [Text("Changes:", style="bold")]
    for change in report.changes[:limit]:
        at = datetime.fromtimestamp(change.at, UTC)
        kind = Text(change.kind, style="cyan")
        lines.append(Text.assemble(f"  {at:%H:%M} ", kind, " ", _literal(change.service), ": ",
                                   _literal(change.text)))  # fmt: skip
    if len(report.changes) > limit:
        lines.append(Text(f"  … {len(report.changes) - limit} more", style="dim"))
    return lines


def _early_warning(report: Report, limit: int = 5) -> list[Text]:
    """The leading indicators, one line each, earliest first: the service, then in our words
    what the number did (its name and the issue id come from the logs)."""
    if not report.leading_indicators:
        return []
    lines = [Text("Early warning:", style="bold")]
    for indicator in report.leading_indicators[:limit]:
        lines.append(Text.assemble("  ", _literal(indicator.service, style="magenta"), ": ",
                                   _literal(indicator.text)))  # fmt: skip
    if len(report.leading_indicators) > limit:
        lines.append(Text(f"  … {len(report.leading_indicators) - limit} more", style="dim"))
    return lines
