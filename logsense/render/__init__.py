"""Renderers: the same Report as a terminal table, JSON (`logsense.triage/v1`), Markdown or HTML."""

from __future__ import annotations

from typing import Protocol, TextIO

from logsense.model import Report
from logsense.render import html, json, markdown, terminal

__all__ = ["RENDERERS", "Renderer"]


class Renderer(Protocol):
    """Writes a report to `out`; `all_issues` lists the issues the default view folds too."""

    def __call__(self, report: Report, out: TextIO, *, all_issues: bool = False) -> None: ...


RENDERERS: dict[str, Renderer] = {
    "table": terminal.render,
    "json": json.render,
    "md": markdown.render,
    "html": html.render,
}
