"""Postmortem drafts: what happened in an incident, from the evidence in the logs.

`draft_postmortem` triages a window and drafts its postmortem; `draft` does the second half on
a report already made. `course.py` defines start, peak, recovery and duration; `timeline.py` the
change events; `evidence.py` the hypothesis and action items; `render.py` Markdown, HTML, JSON.
"""

from __future__ import annotations

from logsense.postmortem.course import QUIET_MINUTES, Course, Minute, course_of
from logsense.postmortem.draft import Appendix, Impact, Postmortem, draft, draft_postmortem
from logsense.postmortem.evidence import Hypothesis
from logsense.postmortem.render import (
    FORMATS,
    chart_pngs,
    postmortem_to_dict,
    render_html,
    render_json,
    render_markdown,
    write_postmortem,
)
from logsense.postmortem.timeline import TimelineEntry

__all__ = [
    "FORMATS",
    "QUIET_MINUTES",
    "Appendix",
    "Course",
    "Hypothesis",
    "Impact",
    "Minute",
    "Postmortem",
    "TimelineEntry",
    "chart_pngs",
    "course_of",
    "draft",
    "draft_postmortem",
    "postmortem_to_dict",
    "render_html",
    "render_json",
    "render_markdown",
    "write_postmortem",
]
