"""The digest as an email: a subject with the news, a plain-text part and an HTML part.

    multipart/alternative
    ├── text/plain                 digest.txt.j2
    └── multipart/related
        ├── text/html              digest.html.j2: tables and inline CSS, no script, no link
        │                          to anything outside the message
        └── image/png × n          the per-minute chart of the top issues and one sparkline per
                                   issue, referenced from the HTML as cid:…

Both parts are quoted-printable, so the message needs no 8BITMIME and stays readable as a file.
"""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

import jinja2

from logsense.digest.build import Digest
from logsense.digest.classify import CHANGES, Change, Item
from logsense.digest.links import LogHint, log_hint
from logsense.escape import header_text
from logsense.model import Issue, Report
from logsense.render.charts import per_minute_chart, sparkline_png
from logsense.render.html import shown

__all__ = ["compose", "default_sender", "subject"]

_LABELS: dict[Change, str] = {
    "new": "New",
    "worse": "Worse",
    "ongoing": "Ongoing",
    "resolved": "Resolved",
}
_CHANGE_COLORS: dict[Change, str] = {
    "new": "#c92a2a",
    "worse": "#d9480f",
    "ongoing": "#495057",
    "resolved": "#2b8a3e",
}
_SEVERITY_COLORS = {"critical": "#c92a2a", "high": "#e8590c", "medium": "#b08800", "low": "#868e96"}
_CHART_ISSUES = 4
_Images = dict[str, tuple[str, bytes]]  # Content-ID → (file name, PNG)

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("logsense", "render/templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    finalize=shown,  # control characters from the logs made visible, in both parts
)


def default_sender() -> str:
    """`logsense@<this host>`, for when neither `--sender` nor `smtp.sender` is set."""
    return f"logsense@{socket.gethostname() or 'localhost'}"


def subject(digest: Digest) -> str:
    """`[logsense] 1 critical, 2 new issues · checkout · last 24h`: the news first."""
    name = digest.options.name
    tag = "[logsense]" if name == "default" else f"[logsense {name}]"
    parts = [_news(digest)]
    services = _services(digest)
    if services:
        parts.append(services)
    parts.append(f"last {_span(digest.report.window.end - digest.report.window.start)}")
    return f"{tag} {' · '.join(parts)}"


def compose(digest: Digest, sender: str, recipients: list[str]) -> EmailMessage:
    """The whole message, ready to send or to write as an .eml file."""
    images: _Images = {}
    context = _context(digest, images)
    message = EmailMessage()
    # Headers hold text from the logs (service names): one line each, whatever the logs say.
    message["Subject"] = header_text(context["subject"])
    message["From"] = sender
    if recipients:
        message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(datetime.fromtimestamp(digest.created, UTC))
    message["Message-ID"] = make_msgid("digest", _domain(sender))
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    message["X-Logsense-Digest"] = header_text(digest.options.name)
    text = _templates.get_template("digest.txt.j2").render(context)
    html = _templates.get_template("digest.html.j2").render(context)
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    html_part = message.get_body(("html",))
    assert html_part is not None
    for cid, (filename, png) in images.items():
        html_part.add_related(
            png, maintype="image", subtype="png", cid=f"<{cid}>",
            disposition="inline", filename=filename,
        )  # fmt: skip
    return message


def _domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def _news(digest: Digest) -> str:
    """`1 critical, 2 new issues`; without news, `nothing new, 3 ongoing (1 critical)`."""
    counts = digest.counts
    critical = sum(1 for i in digest.items if i.change != "resolved" and i.severity == "critical")
    if counts["new"] or counts["worse"]:
        numbers = [(critical, "critical"), (counts["new"], "new"), (counts["worse"], "worse")]
        last = next(n for n, _ in reversed(numbers) if n)
        news = ", ".join(f"{n} {word}" for n, word in numbers if n)
        news += " issue" if last == 1 else " issues"
    elif counts["ongoing"]:
        news = f"nothing new, {counts['ongoing']} ongoing"
        news += f" ({critical} critical)" if critical else ""
    else:
        news = "all clear"
    if counts["resolved"]:
        news += f", {counts['resolved']} resolved"
    return news


def _services(digest: Digest) -> str:
    news = [i for i in digest.items if i.change in ("new", "worse")]
    chosen = news or [i for i in digest.items if i.change == "ongoing"][:1]
    services = list(dict.fromkeys(i.service for i in chosen))
    more = f" +{len(services) - 2}" if len(services) > 2 else ""
    return ", ".join(services[:2]) + more


def _span(seconds: float) -> str:
    seconds = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    if seconds >= 7200:
        return f"{seconds / 3600:.1f}h"
    return f"{max(1, round(seconds / 60))}m"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%b %d %H:%M UTC")


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _pct(share: float) -> str:
    return "<0.1%" if 0 < share < 0.001 else f"{share:.1%}"


@dataclass(frozen=True, slots=True)
class _ItemView:
    """An item as the templates show it: every value already a string."""

    change: Change
    title: str
    severity: str
    severity_color: str
    impact: str
    events: str
    first_seen: str
    services: str
    status: str
    note: str
    summary: str
    likely_cause: str
    hint: LogHint | None
    sparkline: str | None


@dataclass(frozen=True, slots=True)
class _Section:
    change: Change
    label: str
    color: str
    items: list[_ItemView]
    more: int


def _context(digest: Digest, images: _Images) -> dict[str, Any]:
    """Everything the templates show; fills `images` (Content-ID → file name, PNG)."""
    report = digest.report
    shown = _shown(digest.items, digest.options.max_issues)
    detailed = {item.id for item in shown}
    chart = _chart(report, [i.issue for i in shown if i.issue is not None], images)
    sections = []
    for change in CHANGES:
        group = [i for i in digest.items if i.change == change]
        if group:
            views = [_view(i, digest, images) for i in group if i.id in detailed]
            sections.append(
                _Section(change, _LABELS[change], _CHANGE_COLORS[change], views,
                         len(group) - len(views))
            )  # fmt: skip
    counts = digest.counts
    overview = report.overview
    return {
        "subject": subject(digest),
        "news": _news(digest),
        "headline": report.headline,
        "counts": [(_LABELS[c], counts[c], _CHANGE_COLORS[c]) for c in CHANGES],
        "compared": _compared(digest),
        "coverage": _coverage(digest),
        "chart": chart,
        "sections": sections,
        "overview": overview.text if overview is not None and overview.by == "llm" else "",
        "window": f"{_when(report.window.start)} → {_when(report.window.end)}",
        "span": _span(report.window.end - report.window.start),
        "source": report.source,
        "totals": _totals(report),
        "unlisted": digest.unlisted,
        "bar": digest.options.bar,
        "name": digest.options.name,
        "warnings": report.warnings,
        "changes": [
            {"at": _when(c.at), "kind": c.kind, "service": c.service, "text": c.text}
            for c in report.changes
        ],
    }


def _shown(items: list[Item], limit: int) -> list[Item]:
    """Items with details: up to `limit` of this window's (new first), every resolved one."""
    current = [i for i in items if i.change != "resolved"][:limit]
    return current + [i for i in items if i.change == "resolved"]


def _view(item: Item, digest: Digest, images: _Images) -> _ItemView:
    issue = item.issue
    spark = None
    if issue is not None and issue.timeline:
        spark = _attach(images, f"spark-{item.id}", sparkline_png(issue.timeline))
    summary = issue.summary if issue is not None else None
    options = digest.options
    return _ItemView(
        change=item.change,
        title=item.title,
        severity=item.severity,
        severity_color=_SEVERITY_COLORS[item.severity],
        impact=_impact(item, issue),
        events=_plural(item.events, "event") if issue is not None else "",
        first_seen=_first_seen(item, digest.report),
        services=", ".join(issue.services) if issue is not None else item.service,
        status=issue.status if issue is not None else "",
        note=item.note,
        summary=summary.text if summary is not None else "",
        likely_cause=(summary.likely_cause or "") if summary is not None else "",
        hint=log_hint(issue, digest.report, options.fields, options.kibana_url)
        if issue is not None
        else None,
        sparkline=spark,
    )


def _first_seen(item: Item, report: Report) -> str:
    issue = item.issue
    if issue is not None and issue.status == "ongoing" and item.first_seen >= report.window.start:
        return f"before {_when(report.window.start)} (in the baseline)"
    return _when(item.first_seen)


def _impact(item: Item, issue: Issue | None) -> str:
    share = item.share or 0.0
    if issue is None:
        return f"was {_pct(share)}"
    if issue.impact_basis == "events":
        return f"{_pct(share)} of events (no request ids)"
    if issue.requests_affected:
        return f"{_pct(share)} of requests ({issue.requests_affected:,})"
    return "no request affected"


def _chart(report: Report, issues: list[Issue], images: _Images) -> str | None:
    top = [i for i in issues if i.timeline][:_CHART_ISSUES]
    if not top:
        return None
    series = [(f"#{i.rank} {i.root.service} ({i.severity})", i.timeline) for i in top]
    png = per_minute_chart(
        series, "Events per minute, top issues", width=6.4, height=2.8, legend_below=True
    )
    return _attach(images, "chart", png)


def _attach(images: _Images, stem: str, png: bytes) -> str:
    """Store `png` under a fresh Content-ID (without angle brackets) and return the ID."""
    cid = f"{stem}.{secrets.token_hex(6)}@logsense"
    images[cid] = (f"{stem}.png", png)
    return cid


def _compared(digest: Digest) -> str:
    previous = digest.previous
    if previous is None:
        return (
            f"First digest named “{digest.options.name}”: new and ongoing come from the "
            "baseline before the window."
        )
    return (
        f"Compared with the digest of {_when(previous.sent_at)} "
        f"(window ending {_when(previous.window_end)})."
    )


def _coverage(digest: Digest) -> str:
    """A warning when this window does not follow on from the last digest's."""
    previous, window = digest.previous, digest.report.window
    if previous is None:
        return ""
    if window.end <= previous.window_end:
        return (
            "This window ends no later than the last digest's: a re-run, so what it listed "
            "is ongoing here, not new."
        )
    gap = window.start - previous.window_end
    if gap > 60:
        return (
            f"This window starts {_span(gap)} after the last digest's ended: anything only "
            "in between is not covered."
        )
    return ""


def _totals(report: Report) -> str:
    totals = report.totals
    parts = [f"{totals.events:,} events"]
    if totals.requests:
        parts.append(f"{totals.requests:,} requests")
    parts.append(f"{len(totals.services)} services")
    return " · ".join(parts)
