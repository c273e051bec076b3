"""The report as a rich terminal table that opens with the headline.

Every text that comes from logs, files or a model (messages, templates, services, levels, the
source name, warnings, the LLM's words) is printed as a rich `Text` of `escape.one_line(...)`:
never parsed as rich markup, and with escape sequences and other control characters shown
rather than sent to the terminal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from logsense.escape import one_line
from logsense.model import Issue, Report, iso

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


def render(report: Report, out: TextIO) -> None:
    """Print the headline, the window line, the issue table and the warnings."""
    console = _Console(file=out, highlight=False, soft_wrap=False)
    totals = report.totals
    console.print(_literal(report.headline, style="bold"))
    console.print(
        Text.assemble(
            f"{iso(report.window.start)} → {iso(report.window.end)} · ",
            _literal(report.source),
            f" · {totals.events:,} events · {totals.requests or 0:,} requests · "
            f"{len(totals.services)} services · {totals.patterns:,} patterns · "
            f"{totals.malformed:,} malformed",
            style="dim",
        )
    )
    if report.issues:
        console.print(_table(report))
        for line in _evidence_lines(report):
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


def _evidence_lines(report: Report, issues: int = 3) -> list[Text]:
    """Under the table, for the first issues that changed: why the root cause is where it is,
    and the normal lines that stopped."""
    lines = []
    for issue in [i for i in report.issues if i.changed][:issues]:
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


def _table(report: Report) -> Table:
    table = Table(show_lines=False, expand=False, pad_edge=False)
    for name, justify in (
        ("#", "right"), ("severity", "left"), ("share", "right"), ("requests", "right"),
        ("events", "right"), ("status", "left"), ("since", "left"), ("per minute", "left"),
        ("issue", "left"),
    ):  # fmt: skip
        if name == "issue":
            table.add_column(name, ratio=1, min_width=24)
        else:
            table.add_column(name, justify=justify, no_wrap=True, min_width=len(name))  # type: ignore[arg-type]
    for issue in report.issues:
        title = issue.summary.title if issue.summary else issue.root.template
        services = ", ".join(issue.services[1:])
        table.add_row(
            str(issue.rank),
            Text(issue.severity, style=_SEVERITY_STYLE[issue.severity]),
            _share(issue),
            f"{issue.requests_affected:,}" if issue.requests_affected is not None else "–",
            f"{issue.events:,}",
            _literal(issue.movement),
            datetime.fromtimestamp(issue.first_seen, UTC).strftime("%H:%M"),
            sparkline([c for _, c in issue.timeline]),
            _literal(title) + (_literal(f"  ← {services}", style="dim") if services else Text()),
        )
    return table
