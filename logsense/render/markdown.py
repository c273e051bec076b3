"""The report as Markdown, for tickets, chat and incident docs."""

from __future__ import annotations

from typing import TextIO

from logsense.model import Issue, Report, iso

__all__ = ["render"]


def _share(issue: Issue) -> str:
    if issue.share_of_requests is None:
        return "–"
    suffix = " of events" if issue.impact_basis == "events" else ""
    return f"{issue.share_of_requests:.1%}{suffix}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(report: Report, out: TextIO) -> None:
    """Write a headline, a table of issues, one section per issue and the warnings."""
    totals = report.totals
    lines = [
        f"# {report.headline}",
        "",
        f"Window {iso(report.window.start)} → {iso(report.window.end)} · "
        f"source `{report.source}` · "
        f"{totals.events:,} events · {totals.requests or 0:,} requests · "
        f"{len(totals.services)} services · {totals.patterns:,} patterns",
        "",
    ]
    if report.overview is not None:
        lines += [f"{report.overview.text} _(overview by {report.overview.by})_", ""]
    if report.issues:
        lines += [
            "| # | severity | share | requests | events | status | services | title |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for issue in report.issues:
            title = issue.summary.title if issue.summary else issue.root.template
            lines.append(
                f"| {issue.rank} | {issue.severity} | {_share(issue)} | "
                f"{issue.requests_affected if issue.requests_affected is not None else '–'} | "
                f"{issue.events:,} | {issue.status} | {', '.join(issue.services)} | "
                f"{_cell(title)} |"
            )
        lines.append("")
    for issue in report.issues:
        lines += _issue_section(issue)
    if report.warnings:
        lines += ["## Warnings", "", *(f"- {w}" for w in report.warnings), ""]
    out.write("\n".join(lines))


def _issue_section(issue: Issue) -> list[str]:
    summary = issue.summary
    lines = [
        f"## {issue.rank}. {summary.title if summary else issue.root.template}",
        "",
        f"**{issue.severity}** · {issue.status} · id `{issue.id}` · "
        f"{iso(issue.first_seen)} → {iso(issue.last_seen)}",
        "",
    ]
    if summary:
        lines += [f"{summary.text} _(summary by {summary.by})_", ""]
        if summary.likely_cause:
            lines += [f"**Likely cause:** {summary.likely_cause}", ""]
        if summary.next_checks:
            lines += ["**Next checks:**", "", *(f"- {c}" for c in summary.next_checks), ""]
    lines += [
        f"**Root cause:** `{issue.root.service}` — `{issue.root.template}` ({issue.root_why})",
        "",
        "| service | level | events | template |",
        "|---|---|---|---|",
        *(
            f"| {p.service} | {p.level} | {p.count:,} | `{_cell(p.template)}` |"
            for p in issue.patterns
        ),
        "",
    ]
    samples = [s for p in issue.patterns[:2] for s in p.samples[:1]]
    if samples:
        lines += ["Samples:", "", "```"]
        lines += [f"{iso(s.timestamp)} {s.origin}  {s.message}" for s in samples]
        lines += ["```", ""]
    return lines
