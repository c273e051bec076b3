"""The report as JSON, schema `logsense.triage/v1` (DESIGN §3). Fields are only ever added.

Text is kept exactly as it was (a tool reads it back), but written so that printing the file
sends no control character to a terminal: C0 controls are escaped by JSON itself, DEL, C1
controls and U+2028/U+2029 by `escape.json_safe`.
"""

from __future__ import annotations

from typing import Any, TextIO

import orjson

from logsense.analyze.indicators import slot_summary
from logsense.escape import json_safe
from logsense.model import (
    Evidence,
    Issue,
    LeadingIndicator,
    Overview,
    Pattern,
    Report,
    Sampling,
    SlowHop,
    Stopped,
    Window,
    iso,
)

__all__ = ["SCHEMA", "render", "report_to_dict"]

SCHEMA = "logsense.triage/v1"


def _window(window: Window | None) -> dict[str, str] | None:
    return None if window is None else {"start": iso(window.start), "end": iso(window.end)}


def _overview(overview: Overview | None) -> dict[str, Any] | None:
    if overview is None:
        return None
    return {"text": overview.text, "by": overview.by, "model": overview.model}


def _pattern_ref(pattern: Pattern) -> dict[str, Any]:
    return {"pattern_id": pattern.id, "service": pattern.service, "template": pattern.template}


def _evidence(evidence: Evidence | None) -> dict[str, Any] | None:
    if evidence is None:
        return None
    return {
        "kind": evidence.kind,
        "service": evidence.service,
        "text": evidence.text,
        "pattern_id": evidence.pattern_id,
        "numbers": evidence.numbers,
    }


def _change(issue: Issue) -> dict[str, Any] | None:
    """The issue's change against the baseline: counts, shares, ratio and the test's verdict."""
    change = issue.change
    if change is None:
        return None
    return {
        "trend": change.trend,
        "significant": change.significant,
        "p_value": change.p_value,
        "basis": change.basis,
        "among": _pattern_ref(change.context) if change.context is not None else None,
        "baseline": {
            "count": change.before,
            "of": change.before_total,
            "share": round(change.baseline_share, 6),
            "events_per_minute": issue.baseline_rate,
        },
        "window": {"count": change.now, "of": change.now_total, "share": round(change.share, 6)},
        "ratio": round(change.ratio, 4) if change.ratio is not None else None,
        "expected": round(change.expected, 3),
    }


def _stopped(stop: Stopped) -> dict[str, Any]:
    change = stop.change
    return {
        **_pattern_ref(stop.pattern),
        "level": stop.pattern.level,
        "baseline": {"count": change.before, "of": change.before_total},
        "window": {"count": change.now, "of": change.now_total},
        "among": _pattern_ref(change.context) if change.context is not None else None,
        "p_value": change.p_value,
    }


def _hop(hop: SlowHop) -> dict[str, Any]:
    return {
        "measure": "written" if hop.written else "gap",
        "from": _pattern_ref(hop.source),
        "to": _pattern_ref(hop.target),
        "baseline_median_ms": round(hop.baseline_median * 1000, 3),
        "median_ms": round(hop.median * 1000, 3),
        "ratio": round(hop.ratio, 3),
        "traversals": hop.count,
        "slow": hop.slow,
        "sampled": hop.sampled,
        "p_value": hop.p_value,
    }


def _slots(pattern: Pattern, window: Window | None) -> list[dict[str, Any]]:
    """The measured slots of a pattern's template: what each measures and its numbers."""
    return [
        {"slot": slot.token, "name": slot.name, "unit": slot.unit, **slot_summary(slot, window)}
        for slot in sorted(pattern.slots.values(), key=lambda s: s.token)
    ]  # fmt: skip


def _indicator(indicator: LeadingIndicator) -> dict[str, Any]:
    return {
        "id": indicator.id,
        "service": indicator.service,
        "pattern_id": indicator.pattern_id,
        "template": indicator.pattern.template,
        "slot": indicator.slot.token,
        "name": indicator.name,
        "unit": indicator.slot.unit,
        "kinds": indicator.kinds,
        "visible_from": iso(indicator.visible_from),
        "baseline": indicator.baseline,
        "peak": indicator.peak,
        "peak_fraction": indicator.peak_fraction,
        "precedes": indicator.precedes,
        "lead_minutes": indicator.lead_minutes,
        "text": indicator.text,
    }


def issue_to_dict(issue: Issue, window: Window | None = None) -> dict[str, Any]:
    """One issue as in the `issues` array of the report contract; its templates' slot numbers
    are those of `window` (all of them if None)."""
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
            "service": issue.root_service,
            "why": issue.root_why,
            "inferred_from": _evidence(issue.inferred_from),
            "evidence": [_evidence(e) for e in issue.evidence],
        },
        "kind": issue.kind,
        "shown": issue.shown,
        "chronic": issue.chronic,
        "movement": issue.movement,
        "change": _change(issue),
        "impact_estimated": issue.impact_estimated,
        "stopped": [_stopped(s) for s in issue.stopped],
        "slowed_hops": [_hop(h) for h in issue.slowed],
        "templates": [
            {
                "id": p.id,
                "template": p.template,
                "service": p.service,
                "level": p.level,
                "count": p.count,
                "fingerprint": p.fingerprint,
                "slots": _slots(p, window),
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
            "estimated": totals.estimated,
            "sampling": _sampling(totals.sampling),
        },
        "issues": [issue_to_dict(issue, report.window) for issue in report.issues],
        "leading_indicators": [_indicator(i) for i in report.leading_indicators],
        "changes": [
            {
                "at": iso(c.at),
                "service": c.service,
                "kind": c.kind,
                "text": c.text,
                "from": c.source,
            }
            for c in report.changes
        ],
        "warnings": report.warnings,
    }


def _sampling(sampling: Sampling | None) -> dict[str, Any] | None:
    """How a pushdown sampled (None: every event of the range was read)."""
    if sampling is None:
        return None
    return {
        "rate": round(sampling.rate, 6),
        "read_in_full": sampling.read_in_full,
        "read_sampled": sampling.read_sampled,
        "documents": sampling.documents,
        "requests": sampling.requests,
        "events": sampling.events,
        "sampled_patterns": len(sampling.patterns),
    }


def render(report: Report, out: TextIO, *, all_issues: bool = False) -> None:
    """Write the report as indented JSON with a trailing newline: every issue, each with its
    `shown` flag (`all_issues` changes nothing here)."""
    out.write(json_safe(orjson.dumps(report_to_dict(report), option=orjson.OPT_INDENT_2).decode()))
    out.write("\n")
