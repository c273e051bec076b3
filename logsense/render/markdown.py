"""The report as Markdown, for tickets, chat and incident docs.

Every text from logs, files or a model goes through `logsense.escape`: `md_text` for prose,
headings and table cells (literal: no raw HTML, link, emphasis or table break), `md_code` for
code spans, `md_fence` for samples (a fence no line can close). So a log line holding
`<script>`, a backtick fence, a `\r` or a `|` renders as the text it is.
"""

from __future__ import annotations

from typing import TextIO

from logsense.escape import md_code, md_fence, md_text
from logsense.model import Issue, Report, iso

__all__ = ["render"]


def _share(issue: Issue) -> str:
    if issue.share_of_requests is None:
        return "–"
    suffix = " of events" if issue.impact_basis == "events" else ""
    return f"{issue.share_of_requests:.1%}{suffix}"


def render(report: Report, out: TextIO, *, all_issues: bool = False) -> None:
    """Write a headline, a table of the issues the default view shows (or `all_issues`), a line
    for the folded ones, the changes, the early warnings, one section per listed issue and the
    warnings."""
    totals = report.totals
    lines = [
        f"# {md_text(report.headline)}",
        "",
        f"Window {iso(report.window.start)} → {iso(report.window.end)} · "
        f"source {md_code(report.source)} · "
        f"{totals.events:,} events · {totals.requests_label} · "
        f"{len(totals.services)} services · {totals.patterns:,} patterns",
        "",
    ]
    if report.overview is not None:
        lines += [f"{md_text(report.overview.text)} _(overview by {report.overview.by})_", ""]
    listed = report.issues if all_issues else [i for i in report.issues if i.shown]
    if listed:
        lines += [
            "| # | severity | share | requests | events | status | services | title |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for issue in listed:
            title = issue.summary.title if issue.summary else issue.root.template
            lines.append(
                f"| {issue.rank} | {issue.severity} | {_share(issue)} | "
                f"{issue.requests_affected if issue.requests_affected is not None else '–'} | "
                f"{issue.events:,} | {issue.movement} | {md_text(', '.join(issue.services))} | "
                f"{md_text(title)} |"
            )
        lines.append("")
    folded = len(report.issues) - len(listed)
    if folded:
        lines += [f"_+{folded} more, chronic or failing no request (`--all` lists them)._", ""]
    lines += _changes(report)
    lines += _early_warning(report)
    for issue in listed:
        lines += _issue_section(issue)
    if report.warnings:
        lines += ["## Warnings", "", *(f"- {md_text(w)}" for w in report.warnings), ""]
    out.write("\n".join(lines))


def _changes(report: Report) -> list[str]:
    """The changes of the window (deploys, restarts …) as a list."""
    if not report.changes:
        return []
    return [
        "## Changes",
        "",
        *(
            f"- {iso(c.at)} {c.kind} {md_code(c.service)}: {md_text(c.text)}"
            for c in report.changes
        ),
        "",
    ]


def _early_warning(report: Report) -> list[str]:
    """The leading indicators as a list, earliest first."""
    if not report.leading_indicators:
        return []
    return [
        "## Early warning",
        "",
        *(f"- {md_code(i.service)}: {md_text(i.text)}" for i in report.leading_indicators),
        "",
    ]


def _evidence(issue: Issue) -> list[str]:
    """Why the root cause is where it is, one bullet per reason, then the stopped lines."""
    reasons = [e for e in issue.evidence if e.kind != "only_pattern"]
    lines = [f"- {md_text(e.text)}" for e in reasons if e.text != issue.root_why]
    lines += [
        f"- stopped: {md_code(s.pattern.service)} {md_code(s.pattern.template)} — "
        f"{s.change.before} of {s.change.before_total} baseline requests, {s.change.now} of "
        f"{s.change.now_total} now"
        for s in issue.stopped
        if all(e.pattern_id != s.pattern.id for e in reasons)
    ]
    return [*lines, ""] if lines else []


def _change(issue: Issue) -> list[str]:
    """The issue against the baseline, in one line."""
    change = issue.change
    if change is None:
        return []
    verdict = "significant" if change.significant else "within chance"
    return [
        f"Against the baseline: {change.before} of {change.before_total} → {change.now} of "
        f"{change.now_total} ({change.trend}, p = {change.p_value:.2g}, {verdict}).",
        "",
    ]


def _issue_section(issue: Issue) -> list[str]:
    summary = issue.summary
    lines = [
        f"## {issue.rank}. {md_text(summary.title if summary else issue.root.template)}",
        "",
        f"**{issue.severity}** · {issue.movement} · id {md_code(issue.id)} · "
        f"{iso(issue.first_seen)} → {iso(issue.last_seen)}",
        "",
    ]
    if summary:
        lines += [f"{md_text(summary.text)} _(summary by {summary.by})_", ""]
        if summary.likely_cause:
            lines += [f"**Likely cause:** {md_text(summary.likely_cause)}", ""]
        if summary.next_checks:
            checks = [f"- {md_text(c)}" for c in summary.next_checks]
            lines += ["**Next checks:**", "", *checks, ""]
    lines += [
        f"**Root cause:** {md_code(issue.root_service)} — {md_code(issue.root.template)} "
        f"({md_text(issue.root_why)})",
        "",
        *_evidence(issue),
        *_change(issue),
        "| service | level | events | template |",
        "|---|---|---|---|",
        *(
            f"| {md_text(p.service)} | {md_text(p.level)} | {p.count:,} | "
            f"{md_code(p.template, in_table=True)} |"
            for p in issue.patterns
        ),
        "",
    ]
    samples = [s for p in issue.patterns[:2] for s in p.samples[:1]]
    if samples:
        shown = [f"{iso(s.timestamp)} {s.origin}  {s.message}" for s in samples]
        lines += ["Samples:", "", *md_fence(shown), ""]
    return lines
