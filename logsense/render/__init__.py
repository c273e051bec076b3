"""Renderers: the same Report as a terminal table, JSON (`logsense.triage/v1`), Markdown or HTML."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from logsense.model import Report
from logsense.render import html, json, markdown, terminal

__all__ = ["RENDERERS", "Renderer"]

Renderer = Callable[[Report, TextIO], None]

RENDERERS: dict[str, Renderer] = {
    "table": terminal.render,
    "json": json.render,
    "md": markdown.render,
    "html": html.render,
}
