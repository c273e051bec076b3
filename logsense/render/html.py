"""HTML pages (jinja2, autoescaped): the triage report and the postmortem draft.

Each page is one self-contained file: the CSS is inline and the per-minute charts are PNG data
URIs, so it can be mailed, attached to a ticket or opened offline. Templates read the same plain
data as the JSON output (`report_to_dict`, `postmortem_to_dict`), never the pipeline's objects.

Text from logs, files or a model is data: every value a template outputs is escaped as HTML
(autoescape) after its control characters are made visible (`escape.visible`, as the
environment's `finalize`), so neither markup nor a raw control character reaches the page.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from logsense.escape import visible
from logsense.model import Report
from logsense.render.charts import per_minute_chart
from logsense.render.json import report_to_dict

__all__ = ["data_uri", "head", "issue_charts", "render", "render_postmortem", "shown"]

_MAX_ISSUE_CHARTS = 10
_SAMPLE_LINES = 8


def shown(value: Any) -> Any:
    """A template value as it may be shown: text with its control characters made visible
    (line breaks and tabs stay); markup the templates made themselves passes as it is."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value, keep="\n\t")
    return value


_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    finalize=shown,
)


def data_uri(png: bytes) -> str:
    """A PNG as a `data:` URI for an `<img src>`."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _clock(value: str | None, seconds: bool = True) -> str:
    """An ISO 8601 time from the JSON as `HH:MM:SS` (UTC); empty for None."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.strftime("%H:%M:%S" if seconds else "%H:%M")


def _percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}%}"


def _number(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _span(seconds: float) -> str:
    return f"{seconds:.0f} s" if abs(seconds) < 60 else f"{seconds / 60:.0f} min"


def head(text: str, lines: int = _SAMPLE_LINES) -> str:
    """The first `lines` lines of a sample (a stack trace), saying how many more there are."""
    rows = text.splitlines()
    if len(rows) <= lines:
        return text
    return "\n".join([*rows[:lines], f"\t… {len(rows) - lines} more lines"])


_ENV.filters.update(clock=_clock, pct=_percent, num=_number, head=head, span=_span)


def issue_charts(report: Report, limit: int = _MAX_ISSUE_CHARTS) -> dict[str, bytes]:
    """A per-minute events chart (PNG) for each of the first `limit` issues, by issue id."""
    return {
        issue.id: per_minute_chart(
            [(f"#{issue.rank}", [(m, float(n)) for m, n in issue.timeline])],
            f"#{issue.rank} {issue.root.service}: events per minute",
            width=9.6,
            height=2.2,
        )
        for issue in report.issues[:limit]
        if issue.timeline
    }


def render(report: Report, out: TextIO, *, all_issues: bool = False) -> None:
    """Write the triage report as one HTML page: the issues the default view shows (or
    `all_issues`), a chart per top issue, the changes."""
    charts = {key: data_uri(png) for key, png in issue_charts(report).items()}
    data = report_to_dict(report)
    listed = [i for i in data["issues"] if all_issues or i["shown"]]
    page = _ENV.get_template("report.html.j2").render(
        report=data, issues=listed, folded=len(data["issues"]) - len(listed), charts=charts
    )
    out.write(page)


def render_postmortem(
    document: Mapping[str, Any], charts: Mapping[str, bytes], out: TextIO
) -> None:
    """Write a postmortem (`postmortem_to_dict`) as one HTML page with its charts inline."""
    images = {name: data_uri(png) for name, png in charts.items()}
    out.write(_ENV.get_template("postmortem.html.j2").render(pm=document, charts=images))
