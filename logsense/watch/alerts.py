"""Alert documents (schema `logsense.alert/v1`) and the words each sink shows of them.

An alert is a JSON object (the README's "Alerts" section documents every field):

    {"schema": "logsense.alert/v1", "id", "kind", "at", "text",
     "watch": {"name", "source", "window": {"start", "end"} | null, "host"},
     "issue": {...} | null, "previous": {...} | null,
     "indicator": {...} | null, "source": {...} | null}

`id` is the same for the same transition however often it is computed (a hash of the watch
name, the kind, what it is about and that thing's alert number), so a receiver can drop a copy
delivered twice (see `state.py` on when that can happen).

Text from logs (titles, templates, samples, file names) is kept exactly in the document; each
sink escapes it for where it is shown (`escape.py`).
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass
from typing import Any

from logsense.model import Window, iso
from logsense.watch.transitions import Transition

__all__ = ["SCHEMA", "AlertContext", "alert_document", "alert_id", "headline"]

SCHEMA = "logsense.alert/v1"


@dataclass(frozen=True)
class AlertContext:
    """What every alert of one tick shares: the watch, its source, the window, the time."""

    name: str
    source: str
    at: float
    window: Window | None = None


def alert_id(name: str, transition: Transition) -> str:
    """The stable id of a transition's alert."""
    text = f"{name}\x00{transition.kind}\x00{transition.key}\x00{transition.seq}"
    return "a" + hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def alert_document(transition: Transition, context: AlertContext) -> dict[str, Any]:
    """The alert for `transition`, as plain data."""
    window = context.window
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "id": alert_id(context.name, transition),
        "kind": transition.kind,
        "at": iso(context.at),
        "text": "",
        "watch": {
            "name": context.name,
            "source": context.source,
            "window": None if window is None else {
                "start": iso(window.start), "end": iso(window.end)
            },
            "host": socket.gethostname(),
        },
        "issue": None,
        "previous": None,
        "indicator": None,
        "source": None,
    }  # fmt: skip
    before = transition.before
    if transition.issue is not None:
        doc["issue"] = {**transition.issue.doc, "id": transition.key,
                        "current_id": transition.issue.id}  # fmt: skip
    elif before is not None:
        doc["issue"] = {**before.doc, "id": transition.key, "current_id": before.current_id}
    if before is not None and transition.kind != "new":
        doc["previous"] = {
            "severity": before.severity,
            "share_of_requests": round(before.share, 6),
            "alerted_at": iso(before.last_alert_at) if before.last_alert_at else None,
        }
    elif before is not None:
        doc["previous"] = {
            "severity": before.severity,
            "share_of_requests": round(before.share, 6),
            "resolved_at": iso(before.last_alert_at) if before.last_alert_at else None,
        }
    if transition.indicator is not None:
        doc["indicator"] = dict(transition.indicator)
    if transition.kind in ("source_unavailable", "source_silent", "source_recovered"):
        doc["source"] = {
            "name": transition.key,
            "trouble": transition.trouble,
            "error": transition.source_error,
            "since": iso(transition.since) if transition.since is not None else None,
        }
    doc["text"] = headline(doc)
    return doc


def _percent(share: object) -> str:
    value = float(share) if isinstance(share, int | float) else 0.0
    return f"{value * 100:.1f}%" if value < 0.1 else f"{value * 100:.0f}%"


def _minute(text: object) -> str:
    """`13:16 UTC` from an ISO time, for sentences."""
    value = str(text or "")
    return f"{value[11:16]} UTC" if len(value) >= 16 else value


def headline(doc: dict[str, Any]) -> str:
    """One line saying what the alert is about (log text in it is raw: sinks escape it)."""
    kind = doc["kind"]
    issue = doc.get("issue") or {}
    previous = doc.get("previous") or {}
    service = (issue.get("root_cause") or {}).get("service", "")
    title = issue.get("title", "")
    share = _percent(issue.get("share_of_requests"))
    basis = "requests" if issue.get("impact_basis", "requests") == "requests" else "events"
    if kind == "new":
        again = " (again)" if previous else ""
        return (
            f"NEW {issue.get('severity')} issue{again}: {service}: {title} ({share} of {basis} "
            f"since {_minute(issue.get('first_seen'))})"
        )
    if kind == "escalated":
        return (
            f"ESCALATED {previous.get('severity')} → {issue.get('severity')}: {service}: {title} "
            f"({_percent(previous.get('share_of_requests'))} → {share} of {basis})"
        )
    if kind == "resolved":
        return (
            f"RESOLVED: {service}: {title} (last event {_minute(issue.get('last_seen'))}; "
            f"was {previous.get('severity')}, {_percent(previous.get('share_of_requests'))} "
            f"of {basis})"
        )
    if kind == "leading_indicator":
        indicator = doc.get("indicator") or {}
        precedes = indicator.get("precedes")
        then = f"; it precedes issue {precedes}" if precedes else ""
        return (
            f"EARLY WARNING: {indicator.get('service') or '-'}: {indicator.get('text') or ''} "
            f"(visible since {_minute(indicator.get('visible_from'))}{then})"
        )
    source = doc.get("source") or {}
    if kind == "source_unavailable":
        return (
            f"CANNOT READ {source.get('name')} since {_minute(source.get('since'))}: "
            f"{source.get('error')}"
        )
    if kind == "source_silent":
        return f"NO NEW EVENTS from {source.get('name')}: {source.get('error')}"
    if source.get("trouble") == "silent":
        return (
            f"EVENTS AGAIN from {source.get('name')} (none from {_minute(source.get('since'))} "
            f"to {_minute(doc.get('at'))})"
        )
    return (
        f"READING {source.get('name')} again (it could not be read from "
        f"{_minute(source.get('since'))} to {_minute(doc.get('at'))})"
    )
