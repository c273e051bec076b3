"""The postmortem as JSON (`logsense.postmortem/v1`), Markdown (charts as PNG files beside it)
or HTML (charts inline as data URIs, `render/html.py`).

Text from logs, files or a model is escaped as in the triage report (`logsense.escape`): in
Markdown, `md_text` for prose and cells, `md_code` for code spans, `md_fence` for samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import orjson

from logsense.escape import json_safe, md_code, md_fence, md_text
from logsense.model import Issue, Window, iso
from logsense.postmortem.course import Course
from logsense.postmortem.draft import Impact, Postmortem
from logsense.postmortem.evidence import Hypothesis
from logsense.postmortem.timeline import clock, plural
from logsense.render import html
from logsense.render.charts import Series, per_minute_chart
from logsense.render.html import head
from logsense.render.json import issue_to_dict

__all__ = [
    "FORMATS",
    "SCHEMA",
    "chart_pngs",
    "postmortem_to_dict",
    "render_html",
    "render_json",
    "render_markdown",
    "write_postmortem",
]

SCHEMA = "logsense.postmortem/v1"
FORMATS = ("md", "html", "json")
_CHART_TITLES = {
    "events": "Events per minute",
    "share": "Share of requests affected per minute",
}
_MARK_WORDS = 2
_CHART_WIDTH = 9.6


def _iso(ts: float | None) -> str | None:
    return None if ts is None else iso(ts)


def _window(window: Window | None) -> dict[str, str] | None:
    return None if window is None else {"start": iso(window.start), "end": iso(window.end)}


def course_to_dict(course: Course) -> dict[str, Any]:
    """An issue's course: baseline, start, peak, recovery and its minutes."""
    peak = course.peak
    return {
        "baseline_rate": round(course.baseline_rate, 3),
        "threshold": course.threshold,
        "start": _iso(course.start),
        "peak": None if peak is None else {
            "time": iso(peak.at), "share_of_requests": round(peak.share, 6),
            "requests_affected": peak.affected, "requests": peak.requests, "events": peak.events,
        },
        "recovery": _iso(course.recovery),
        "recovered": course.recovered,
        "duration_minutes": round(course.duration / 60, 1),
        "minutes_above_baseline": course.minutes_above,
        "per_minute": [[iso(m.at), m.events, m.affected, m.requests] for m in course.minutes],
    }  # fmt: skip


def _impact(impact: Impact | None) -> dict[str, Any] | None:
    if impact is None:
        return None
    course = course_to_dict(impact.course)
    del course["per_minute"]
    return {
        "basis": impact.basis,
        "requests_affected": impact.requests_affected,
        "requests": impact.requests,
        "share_of_requests": round(impact.share, 6),
        "users_affected": impact.users_affected,
        "events": impact.events,
        "services": impact.services,
        "issue_ids": impact.issue_ids,
        **course,
    }


def _root_cause(found: Hypothesis | None) -> dict[str, Any] | None:
    if found is None:
        return None
    change = found.change
    return {
        "issue_id": found.issue_id,
        "text": found.text,
        "by": found.by,
        "model": found.model,
        "service": found.root.service,
        "level": found.root.level,
        "template": found.root.template,
        "why": found.why,
        "change": None if change is None else {
            "service": change.service, "template": change.template, "example": change.example,
            "time": iso(change.at), "minutes_before": change.minutes_before,
            "seconds_before": round(found.first_seen - change.at, 3),
        },
        "samples": [
            {"time": iso(s.timestamp), "origin": s.origin, "request_id": s.request_id,
             "message": s.message}
            for s in found.samples
        ],
        "trace_ids": found.trace_ids,
        "query": found.query,
        "trace_query": found.trace_query,
    }  # fmt: skip


def _issue(issue: Issue, pm: Postmortem) -> dict[str, Any]:
    return issue_to_dict(issue) | {"course": course_to_dict(pm.courses[issue.id])}


def postmortem_to_dict(pm: Postmortem) -> dict[str, Any]:
    """The whole draft as plain data (`logsense.postmortem/v1`); fields are only ever added."""
    report, appendix = pm.report, pm.appendix
    return {
        "schema": SCHEMA,
        "title": pm.title,
        "summary": pm.summary,
        "window": _window(report.window),
        "baseline": _window(report.baseline),
        "source": report.source,
        "impact": _impact(pm.impact),
        "timeline": [
            {"time": iso(e.at), "kind": e.kind, "text": e.text, "issue_id": e.issue_id}
            for e in pm.timeline
        ],
        "root_cause": _root_cause(pm.hypothesis),
        "contributing": [issue.id for issue in pm.contributing],
        "action_items": pm.actions,
        "issues": [_issue(issue, pm) for issue in pm.issues],
        "appendix": {
            "logsense_version": appendix.version,
            "window": _window(appendix.window),
            "baseline": _window(appendix.baseline),
            "source": appendix.source,
            "query": appendix.query,
            "config_sha256": appendix.config_hash,
            "registry_sha256": appendix.registry_hash,
            "recovery_rule": (
                f"the first minute after the peak from which the issue's events per minute stay "
                f"at or below its baseline rate (rounded up) for {appendix.quiet_minutes} "
                "consecutive minutes"
            ),
        },
        "warnings": pm.warnings,
    }


def render_json(pm: Postmortem, out: TextIO) -> None:
    """Write the draft as indented JSON."""
    encoded = orjson.dumps(postmortem_to_dict(pm), option=orjson.OPT_INDENT_2).decode()
    out.write(json_safe(encoded) + "\n")


def _marks(pm: Postmortem) -> list[tuple[int, str]]:
    """Change events as chart marks, labelled by service and the first words of the line."""
    marks = []
    for entry in pm.timeline:
        if entry.kind == "change":
            service, _, message = entry.text.partition(": ")
            marks.append((int(entry.at), f"{service}: {' '.join(message.split()[:_MARK_WORDS])}"))
    return marks


def chart_pngs(pm: Postmortem) -> dict[str, bytes]:
    """PNG charts of the incident's issues: events per minute, share of requests per minute."""
    if not pm.issues:
        return {}
    events: list[Series] = []
    shares: list[Series] = []
    for issue in pm.issues:
        minutes = pm.courses[issue.id].minutes
        label = f"#{issue.rank} {issue.root.service}"
        events.append((label, [(m.at, float(m.events)) for m in minutes]))
        shares.append((label, [(m.at, 100.0 * m.share) for m in minutes]))
    marks = _marks(pm)
    by_events = pm.impact is not None and pm.impact.basis == "events"
    return {
        "events": per_minute_chart(
            events, _CHART_TITLES["events"], "events / minute", marks, width=_CHART_WIDTH
        ),
        "share": per_minute_chart(
            shares,
            "Share of events per minute (no request ids)" if by_events else _CHART_TITLES["share"],
            "% of events" if by_events else "% of requests",
            marks,
            width=_CHART_WIDTH,
        ),
    }


def render_html(pm: Postmortem, out: TextIO) -> None:
    """Write the draft as one self-contained HTML page (charts inline)."""
    html.render_postmortem(postmortem_to_dict(pm), chart_pngs(pm), out)


def _impact_rows(impact: Impact) -> list[tuple[str, str]]:
    if impact.basis == "requests":
        hurt = f"{impact.requests_affected:,} of {impact.requests:,} ({impact.share:.1%})"
        rows = [("Requests affected", hurt)]
    else:
        rows = [("Events", f"{impact.events:,} ({impact.share:.1%} of all; no request ids)")]
    if impact.users_affected is not None:
        rows.append(("Users affected", f"{impact.users_affected:,}"))
    peak = impact.course.peak
    if peak is not None and impact.basis == "requests":
        worst = (
            f"{clock(peak.at, seconds=False)} UTC: {peak.share:.1%} of the minute's requests "
            f"({peak.affected:,} of {peak.requests:,}), {peak.events:,} events"
        )
        rows.append(("Peak", worst))
    elif peak is not None:
        events = plural(peak.events, "event")
        worst = f"{clock(peak.at, seconds=False)} UTC: {events} ({peak.share:.1%} of the minute's)"
        rows.append(("Peak", worst))
    rows.append(("Duration above baseline", _duration(impact.course)))
    rows.append(("Services involved", ", ".join(impact.services)))
    return rows


def _impact_lines(pm: Postmortem, charts: Mapping[str, str]) -> list[str]:
    if pm.impact is None:
        return ["No issue in this window.", ""]
    rows = _impact_rows(pm.impact)
    lines = ["| | |", "|---|---|", *(f"| {k} | {md_text(v)} |" for k, v in rows), ""]
    for name, path in charts.items():
        lines += [f"![{_CHART_TITLES[name]}]({path})", ""]
    return lines


def _duration(course: Course) -> str:
    if course.start is None:
        return "never above its baseline rate"
    minutes = f"{course.duration / 60:.0f} min"
    if course.recovery is None:
        return f"{minutes} ({clock(course.start)} UTC → end of window, not recovered)"
    return f"{minutes} ({clock(course.start)} → {clock(course.recovery)} UTC)"


def _timeline_lines(pm: Postmortem) -> list[str]:
    lines = ["| time (UTC) | kind | what |", "|---|---|---|"]
    lines += [f"| {clock(e.at)} | {e.kind} | {md_text(e.text)} |" for e in pm.timeline]
    return [*lines, ""]


def _hypothesis_lines(found: Hypothesis, primary: Issue) -> list[str]:
    by = "rules" if found.by == "rules" else f"LLM {found.model}, fact-checked"
    lines = [f"{md_text(found.text)} _({md_text(by)})_", "", "**Evidence**", ""]
    lines += [
        f"- Root-cause pattern: {md_code(found.root.service)} {md_text(found.root.level)} "
        f"{md_code(found.root.template)} ({md_text(found.why)})",
        f"- Query (Lucene: Kibana, Elasticsearch): {md_code(found.query)}",
    ]
    if found.trace_query:
        lines.append(f"- Affected requests: {md_code(found.trace_query)}")
    lines += ["", "| service | level | events | template |", "|---|---|---|---|"]
    lines += [
        f"| {md_text(p.service)} | {md_text(p.level)} | {p.count:,} | "
        f"{md_code(p.template, in_table=True)} |"
        for p in primary.patterns
    ]
    if found.samples:
        shown = [
            f"{iso(s.timestamp)} {s.request_id or '-'}  {head(s.message)}" for s in found.samples
        ]
        lines += ["", *md_fence(["\n\n".join(shown)])]
    return [*lines, ""]


def _contributing_lines(pm: Postmortem) -> list[str]:
    if not pm.contributing:
        return ["None found: no other new or worsening issue broke requests at the time.", ""]
    lines = []
    for issue in pm.contributing:
        title = issue.summary.title if issue.summary else issue.root.template
        share = f"{issue.share_of_requests or 0.0:.1%}"
        lines.append(
            f"- #{issue.rank} {md_text(title)} ({issue.severity}, {issue.status}, {share} of "
            f"requests, from {clock(issue.first_seen)} UTC)"
        )
    return [*lines, ""]


def _appendix_lines(pm: Postmortem) -> list[str]:
    data = postmortem_to_dict(pm)["appendix"]
    rows = [
        ("logsense", md_text(data["logsense_version"])),
        ("window", f"{data['window']['start']} → {data['window']['end']}"),
        ("baseline", f"{data['baseline']['start']} → {data['baseline']['end']}"
         if data["baseline"] else "none"),
        ("source", md_code(data["source"], in_table=True)),
        ("query", md_code(data["query"], in_table=True) if data["query"] else "none"),
        ("config sha256", md_code(data["config_sha256"])),
        ("registry sha256", md_code(data["registry_sha256"]) if data["registry_sha256"]
         else "none (the registry was empty)"),
        ("recovery", md_text(data["recovery_rule"])),
    ]  # fmt: skip
    return ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows), ""]


def render_markdown(pm: Postmortem, out: TextIO, charts: Mapping[str, str] | None = None) -> None:
    """Write the draft as Markdown; `charts` maps a chart name to the PNG path to link."""
    window = pm.report.window
    lines = [
        f"# Postmortem (draft): {md_text(pm.title)}",
        "",
        f"_{iso(window.start)} → {iso(window.end)} · drafted by logsense "
        f"{md_text(pm.appendix.version)} from {md_code(pm.report.source)} · check every line "
        "before sharing_",
        "",
        "## Summary", "", md_text(pm.summary), "",
        "## Impact", "", *_impact_lines(pm, charts or {}),
        "## Timeline", "", *_timeline_lines(pm),
    ]  # fmt: skip
    if pm.hypothesis is not None and pm.primary is not None:
        lines += ["## Root-cause hypothesis", "", *_hypothesis_lines(pm.hypothesis, pm.primary)]
    lines += ["## Contributing issues", "", *_contributing_lines(pm)]
    if pm.actions:
        lines += ["## Action items (prompts)", "", *(f"- [ ] {md_text(a)}" for a in pm.actions), ""]
    if pm.warnings:
        lines += ["## Warnings", "", *(f"- {md_text(w)}" for w in pm.warnings), ""]
    lines += ["## Appendix: reproducibility", "", *_appendix_lines(pm)]
    out.write("\n".join(lines))


def write_postmortem(pm: Postmortem, fmt: str, path: Path | None, stdout: TextIO) -> list[Path]:
    """Write the draft as `fmt` to `path` (or `stdout`); returns the chart files written.

    Markdown written to a file gets its charts as PNG files beside it (`<stem>-events.png`,
    `<stem>-share.png`), linked by relative path; on stdout it has no charts.
    """
    written: list[Path] = []
    links: dict[str, str] = {}
    if fmt == "md" and path is not None:
        for name, png in chart_pngs(pm).items():
            chart = path.with_name(f"{path.stem}-{name}.png")
            chart.write_bytes(png)
            written.append(chart)
            links[name] = chart.name
    if path is None:
        _render(pm, fmt, stdout, links)
    else:
        with path.open("w", encoding="utf-8") as handle:
            _render(pm, fmt, handle, links)
    return written


def _render(pm: Postmortem, fmt: str, out: TextIO, links: Mapping[str, str]) -> None:
    if fmt == "json":
        render_json(pm, out)
    elif fmt == "html":
        render_html(pm, out)
    else:
        render_markdown(pm, out, links)
