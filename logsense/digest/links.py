"""Where to see an issue's logs: a command or query a reader can paste, and a link if we can.

- File sources: `grep -F` (or `zgrep -F` for `.gz`) on the longest fixed text of the root-cause
  template, and the `logsense triage` command for the window. Exact for the root pattern's
  lines (a `<*>` never sits inside the grepped text), silent about its symptoms elsewhere.
- Elasticsearch sources (`report.source` is `http(s)://host/index [(query)]`): a Lucene query on
  the service and that fixed text, with the index and time range; with `--kibana-url`, a Discover
  link carrying the same query and time range (Discover opens its default data view).
- stdin: only the text to search for, since there is no file to name.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from urllib.parse import quote

from logsense.config import FieldMap
from logsense.mine.masking import WILDCARD
from logsense.model import Issue, Report, Window, iso

__all__ = ["LogHint", "fixed_text", "log_hint"]

_ES_SOURCE = re.compile(r"^(?P<url>https?://\S+)/(?P<index>[^/\s]+)(?: \((?P<query>.*)\))?$")
_UNSAFE = re.compile(r"[\"'\\]")


@dataclass(frozen=True, slots=True)
class LogHint:
    """How to see an issue's logs: `label` names the kind, `text` is pasted, `url` is clicked."""

    label: str
    text: str
    url: str | None = None


def fixed_text(template: str) -> str:
    """The longest run of the template without a `<*>`, quote or backslash (for grep/phrase)."""
    runs = [r.strip() for part in template.split(WILDCARD) for r in _UNSAFE.split(part)]
    return max(runs, key=len, default="")


def log_hint(
    issue: Issue, report: Report, fields: FieldMap, kibana_url: str | None = None
) -> LogHint:
    """The way to see `issue`'s logs in the source of `report`."""
    text = fixed_text(issue.root.template.splitlines()[0] if issue.root.template else "")
    es = _ES_SOURCE.match(report.source)
    if es is not None:
        return _es_hint(issue, report.window, es, text, fields, kibana_url)
    if report.source == "stdin":
        return LogHint("search for", f"{text!r} (pattern {issue.root.id})")
    grep = "zgrep" if report.source.endswith(".gz") else "grep"
    window = report.window
    return LogHint(
        "logs",
        f"{grep} -F {shlex.quote(text)} {shlex.quote(report.source)}\n"
        f"logsense triage -s {shlex.quote(report.source)} --from {iso(window.start)} "
        f"--until {iso(window.end)}  # issue {issue.id}",
    )


def _es_hint(
    issue: Issue,
    window: Window,
    source: re.Match[str],
    text: str,
    fields: FieldMap,
    kibana_url: str | None,
) -> LogHint:
    query = f'{fields.service[0]}:"{issue.root.service}" AND {fields.message[0]}:"{text}"'
    if source["query"]:
        query = f"({source['query']}) AND {query}"
    start, end = iso(window.start), iso(window.end)
    hint = f"index {source['index']}, {start} → {end}:\n{query}"
    if kibana_url is None:
        return LogHint("Elasticsearch query", hint)
    state = (
        f"_g=(time:(from:{_rison(start)},to:{_rison(end)}))"
        f"&_a=(query:(language:lucene,query:{_rison(query)}))"
    )
    url = kibana_url.rstrip("/") + "/app/discover#/?" + quote(state, safe="=&(),:'!*-_.~")
    return LogHint("Elasticsearch query", hint, url)


def _rison(text: str) -> str:
    """A Rison string literal (Kibana's URL state): quoted, `!` and `'` escaped with `!`."""
    return "'" + text.replace("!", "!!").replace("'", "!'") + "'"
