"""The report as JSON, schema `logsense.triage/v1` (DESIGN §3). Fields are only ever added.

Text is kept exactly as it was (a tool reads it back), but written so that printing the file
sends no control character to a terminal: C0 controls are escaped by JSON itself, DEL, C1
controls and U+2028/U+2029 by `escape.json_safe`.
"""

from __future__ import annotations

from typing import Any, TextIO

import orjson

from logsense.escape import json_safe
from logsense.model import Issue, Overview, Report, Window, iso

__all__ = ["SCHEMA", "render", "report_to_dict"]

SCHEMA = "logsense.triage/v1"


def _window(window: Window | None) -> dict[str, str] | None:
    return None if window is None else {"start": iso(window.start), "end": iso(window.end)}


def _overview(overview: Overview | None) -> dict[str, Any] | None:
    if overview is None:
        return None
    return {"text": overview.text, "by": overview.by, "model": overview.model}


def issue_to_dict(issue: Issue) -> dict[str, Any]:
    """One issue as in the `issues` array of the report contract."""
    summary = issue.summary
    return {
        "rank": issue.rank,
        "id": issue.id,
        "title": summary.title if summary else issue.root.template,
        "severity": issue.severity,
        "status": issue.status,
        "events": issue.events,
        "requests_affected": issue.requests_affected,
        "share_of_requests": round(issue.share_of_requests, 6)
        if issue.share_of_requests is not None
        else None,
        "impact_basis": issue.impact_basis,
        "users_affected": issue.users_affected,
        "services": issue.services,
        "first_seen": iso(issue.first_seen),
        "last_seen": iso(issue.last_seen),
        "rate_change": issue.rate_change,
        "root_cause": {
            "pattern_id": issue.root.id,
            "template": issue.root.template,
            "service": issue.root.service,
            "why": issue.root_why,
        },
        "templates": [
            {
                "id": p.id,
                "template": p.template,
                "service": p.service,
                "level": p.level,
                "count": p.count,
                "fingerprint": p.fingerprint,
            }
            for p in issue.patterns
        ],
        "samples": [s.message for p in issue.patterns[:3] for s in p.samples[:2]],
        "timeline": [[iso(minute), count] for minute, count in issue.timeline],
        "summary": {
            "text": summary.text if summary else "",
            "by": summary.by if summary else "rules",
            "model": summary.model if summary else None,
            "likely_cause": summary.likely_cause if summary else None,
            "next_checks": summary.next_checks if summary else [],
        },
    }


def report_to_dict(report: Report) -> dict[str, Any]:
    """The whole report as plain data, exactly the `logsense.triage/v1` shape."""
    totals = report.totals
    return {
        "schema": SCHEMA,
        "window": _window(report.window),
        "baseline": _window(report.baseline),
        "source": report.source,
        "headline": report.headline,
        "overview": _overview(report.overview),
        "totals": {
            "events": totals.events,
            "requests": totals.requests,
            "users": totals.users,
            "services": totals.services,
            "patterns": totals.patterns,
            "malformed": totals.malformed,
            "outside_window": totals.outside_window,
        },
        "issues": [issue_to_dict(issue) for issue in report.issues],
        "warnings": report.warnings,
    }


def render(report: Report, out: TextIO) -> None:
    """Write the report as indented JSON with a trailing newline."""
    out.write(json_safe(orjson.dumps(report_to_dict(report), option=orjson.OPT_INDENT_2).decode()))
    out.write("\n")
