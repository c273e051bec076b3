"""Summaries: the words for each issue, the report overview and the headline.

The headline is always written here from facts, never by a model. Issue summaries and the
overview are written by rules first; `write_summaries` then asks the LLM (`llm.py`) for the top
`llm.max_issues` issues and the overview, giving it the computed facts (`facts.py`, redacted).
Every answer goes through the guard (`guard.py`): on a mismatch the model gets ONE retry whose
prompt names the problems, then the rules-based text stays. Answers that pass are cached per
issue fingerprint and facts digest (`cache.py`), so a repeated triage asks nothing.
An unreachable, slow, rate-limited or failing endpoint never fails a triage: the rules-based text
stays and one line in `report.warnings` says why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from logsense.config import LlmConfig
from logsense.model import (
    SEVERITIES,
    Issue,
    Overview,
    Pattern,
    Report,
    Summary,
    Totals,
    requests_of,
    short_template,
)
from logsense.summarize import prompts
from logsense.summarize.cache import SummaryCache, cache_key
from logsense.summarize.facts import ChangeEvent, Facts, change_events, issue_facts, report_facts
from logsense.summarize.guard import Evidence, check
from logsense.summarize.llm import (
    ChatClient,
    Completer,
    Endpoint,
    LlmBadAnswer,
    LlmUnavailable,
    disabled_reason,
    parse_answer,
)

__all__ = [
    "distinct_titles",
    "headline",
    "rules_overview",
    "rules_summary",
    "write_summaries",
]

AnswerT = TypeVar("AnswerT", prompts.IssueAnswer, prompts.OverviewAnswer)

_TITLE_CHARS = 90
# Where an issue's text shares its start with another's, the words kept before the ellipsis,
# and before the first word that tells them apart.
_LEAD_WORDS, _CONTEXT_WORDS = 2, 3


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M")


def _share_phrase(issue: Issue, totals: Totals) -> str:
    share = issue.share_of_requests or 0.0
    if issue.impact_basis == "events":
        return f"{share:.1%} of all events (no request ids to measure requests)"
    if not issue.requests_affected:
        return "no request affected"
    users = f", {issue.users_affected:,} users" if issue.users_affected else ""
    return f"{share:.1%} of requests ({issue.requests_affected:,} of {totals.requests:,}{users})"


def _rules_title(issue: Issue, limit: int = _TITLE_CHARS) -> str:
    head, body = _title_parts(issue)
    return short_template(f"{head}: {body}", limit)


def _title_parts(issue: Issue) -> tuple[str, str]:
    """What the issue is, in full, as (where, what): the root-cause service (a callee its
    callers name, possibly), and what was logged, stopped being logged, or where it slowed."""
    root = issue.root
    if issue.kind == "stopped":
        return issue.root_service, f"stopped logging “{root.template}”"
    if issue.kind == "slow" and issue.slowed:
        hop = issue.slowed[0]
        where = (
            f"in “{hop.source.template}”"
            if hop.written
            else f"from “{hop.source.template}” to “{hop.target.template}”"
        )
        return issue.root_service, (
            f"slower, {_ms(hop.baseline_median)} → {_ms(hop.median)} {where}"
        )
    return issue.root_service, root.template


def distinct_titles(issues: list[Issue], limit: int = _TITLE_CHARS) -> list[str]:
    """Rules titles that tell the issues apart: where an issue's text shares its start with
    another issue's beyond what a title can hold, it keeps the first words, an ellipsis, and
    the part where it differs (`Servlet.service() for … nested exception is … for payments`)."""
    parts = [_title_parts(issue) for issue in issues]
    words = [body.split(" ") for _, body in parts]
    titles = []
    for index, (head, body) in enumerate(parts):
        title = f"{head}: {body}"
        shared = max(
            (_shared_words(words[index], other) for other in words[:index] + words[index + 1 :]),
            default=0,
        )
        cut = short_template(title, limit)
        if (
            shared > _LEAD_WORDS + _CONTEXT_WORDS
            and len(" ".join(words[index][:shared])) + len(head) + 2 >= len(cut) - 1
            and shared < len(words[index])
        ):
            own = words[index]
            kept = [*own[:_LEAD_WORDS], "…", *own[shared - _CONTEXT_WORDS :]]
            cut = short_template(f"{head}: {' '.join(kept)}", limit)
        titles.append(cut)
    return titles


def _shared_words(a: list[str], b: list[str]) -> int:
    """How many leading words `a` and `b` share."""
    shared = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        shared += 1
    return shared


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def rules_summary(issue: Issue, totals: Totals, title: str | None = None) -> Summary:
    """Title and text for `issue` from its facts alone (`title`: one made distinct already)."""
    root = issue.root
    title = title or _rules_title(issue)
    parts = [f"{_what_happened(issue)} {_share_phrase(issue, totals)} since "]
    if issue.kind == "events":
        peak_minute, peak = max(issue.timeline, key=lambda mc: mc[1], default=(0, 0))
        parts[0] += (
            f"{_clock(issue.first_seen)} UTC, {issue.events:,} events, peak {peak:,}/min at "
            f"{_clock(peak_minute)}."
        )
    else:
        parts[0] += f"{_clock(issue.first_seen)} UTC."
    parts += [f"{e.text}." for e in issue.evidence[:2] if e.kind not in ("only_pattern",)]
    symptoms = [p for p in issue.patterns if p is not root][:3] if issue.kind == "events" else []
    if symptoms:
        seen = "; ".join(f"{p.service} “{short_template(p.template, 80)}”" for p in symptoms)
        parts.append(f"Also seen as: {seen}.")
    if issue.status == "new":
        parts.append("New in this window.")
    elif issue.rate_change is not None and issue.kind == "events":
        parts.append(f"Rate ×{issue.rate_change:.1f} vs the baseline.")
    return Summary(title=title, text=" ".join(parts), by="rules", model=None)


def _what_happened(issue: Issue) -> str:
    root = issue.root
    if issue.kind == "stopped":
        return (
            f"{root.service} stopped logging “{short_template(root.template, 140)}” ({root.level});"
        )
    if issue.kind == "slow":
        return f"Requests slowed in {issue.root_service};"
    return f"{root.service} logs “{short_template(root.template, 140)}” ({root.level});"


def headline(issues: list[Issue], totals: Totals) -> str:
    """The line atop every report: how many issues of what severity, how much they hurt."""
    if not issues:
        return f"No issues: {totals.events:,} events, nothing at warn or above and nothing new"
    by_severity = Counter(issue.severity for issue in issues)
    worst = next(s for s in SEVERITIES if by_severity[s])
    worst_issues = [i for i in issues if i.severity == worst]
    count = len(worst_issues)
    head = f"{count} {worst} issue{'s' if count > 1 else ''}{_reach(worst_issues, totals)}"
    top = issues[0]
    head += f": {_rules_title(top)} since {_clock(top.first_seen)} UTC"
    rest = [f"{by_severity[s]} {s}" for s in SEVERITIES if s != worst and by_severity[s]]
    return head + (f" · also {', '.join(rest)}" if rest else "")


def _reach(issues: list[Issue], totals: Totals) -> str:
    if issues[0].impact_basis == "events":
        share = sum(i.share_of_requests or 0.0 for i in issues)
        return f" in {share:.0%} of events (no request ids)"
    requests = requests_of(issues)
    if not requests or not totals.requests:
        return " affecting no request"
    return f" affecting {_percent(len(requests) / totals.requests)} of requests"


def _percent(share: float) -> str:
    """Whole percent, except below 1% where one decimal keeps small incidents visible."""
    return f"{share:.1%}" if share < 0.01 else f"{share:.0%}"


def rules_overview(report: Report) -> Overview:
    """One paragraph about the whole report from its facts alone."""
    totals, issues = report.totals, report.issues
    minutes = round((report.window.end - report.window.start) / 60)
    scope = f"{totals.events:,} events from {len(totals.services)} services over {minutes} min"
    if totals.requests:
        scope += f", {totals.requests:,} requests"
    if not issues:
        return Overview(f"No issues in {scope}.")
    counts = Counter(i.severity for i in issues)
    by_severity = ", ".join(f"{counts[s]} {s}" for s in SEVERITIES if counts[s])
    top = issues[0]
    text = (
        f"{len(issues)} issue{'s' if len(issues) > 1 else ''} ({by_severity}) in {scope}. "
        f"First: {_rules_title(top)}; {_share_phrase(top, totals)} since "
        f"{_clock(top.first_seen)} UTC."
    )
    return Overview(text)


def _change_cause(change: ChangeEvent) -> str:
    said = "logged" if change.logged else "changed:"
    return (
        f"{change.service} {said} “{short_template(change.template, 100)}” at "
        f"{_clock(change.at)} UTC, {change.minutes_before} min before the first event: "
        "a change just before the start is the likely cause."
    )


def write_summaries(
    report: Report,
    patterns: list[Pattern],
    config: LlmConfig,
    state: Path,
    *,
    completer: Completer | None = None,
) -> None:
    """Set every issue's summary and the report overview: by rules, then by the LLM if it may.

    `patterns` are all mined patterns (change events come from them); `state` is the state
    directory (the cache lives there). `completer` replaces the openai client (tests, benches).
    Appends at most a few lines to `report.warnings`; never raises for LLM trouble.
    """
    titles = distinct_titles(report.issues)
    for issue, title in zip(report.issues, titles, strict=True):
        issue.summary = rules_summary(issue, report.totals, title)
        changes = change_events(patterns, issue, report.changes)
        if changes:
            issue.summary.likely_cause = _change_cause(changes[0])
    report.overview = rules_overview(report)
    if not report.issues:
        return
    reason = disabled_reason(config, key_needed=completer is None)
    if reason is not None:
        report.warnings.append(f"summaries by rules: {reason}")
        return
    client = completer or ChatClient(Endpoint.from_config(config))
    session = _Session(client, SummaryCache(state))
    chosen = report.issues[: config.max_issues]
    facts = [issue_facts(i, report, patterns, redact_ips=config.redact_ips) for i in chosen]
    for issue, issue_table in zip(chosen, facts, strict=True):
        issue.summary = session.issue(issue, issue_table) or issue.summary
    report.overview = session.overview(report_facts(report, facts)) or report.overview
    session.cache.save()
    report.warnings += session.warnings()


@dataclass
class _Session:
    """The LLM side of one report: asks, checks, retries once, caches, and notes what failed."""

    client: Completer
    cache: SummaryCache
    failure: str | None = None
    unavailable: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    over_budget: list[str] = field(default_factory=list)

    def issue(self, issue: Issue, facts: Facts) -> Summary | None:
        """The LLM's checked summary of `issue`, or None (the rules-based one stays)."""
        key = cache_key("issue", issue.id, issue.root.template, facts.digest(),
                        self.client.model, prompts.VERSION)  # fmt: skip
        found = self._answer(
            f"issue #{issue.rank}", key, prompts.issue_messages(facts), prompts.ISSUE_SCHEMA,
            prompts.IssueAnswer, facts.evidence,
        )  # fmt: skip
        if found is None:
            return None
        answer, model = found
        return Summary(
            title=answer.title, text=answer.summary, by="llm", model=model,
            likely_cause=answer.likely_cause, next_checks=answer.next_checks,
        )  # fmt: skip

    def overview(self, facts: Facts) -> Overview | None:
        """The LLM's checked overview paragraph, or None (the rules-based one stays)."""
        key = cache_key("overview", facts.digest(), self.client.model, prompts.VERSION)
        found = self._answer(
            "the overview", key, prompts.overview_messages(facts), prompts.OVERVIEW_SCHEMA,
            prompts.OverviewAnswer, facts.evidence,
        )  # fmt: skip
        if found is None:
            return None
        answer, model = found
        return Overview(answer.overview, by="llm", model=model)

    def _answer(
        self,
        what: str,
        key: str,
        messages: list[prompts.Message],
        schema: dict[str, Any],
        shape: type[AnswerT],
        evidence: Evidence,
    ) -> tuple[AnswerT, str] | None:
        cached = self._cached(key, shape, evidence)
        if cached is not None:
            return cached
        ask = _Asker(self, what, messages, schema, shape, evidence)
        found = ask.answer()
        if found is not None:
            self.cache.put(key, found[0].model_dump(), found[1])
        return found

    def _cached(
        self, key: str, shape: type[AnswerT], evidence: Evidence
    ) -> tuple[AnswerT, str] | None:
        entry = self.cache.get(key)
        if entry is None:
            return None
        try:
            answer = shape.model_validate(entry[0])
        except ValueError:
            return None
        if check(answer.texts(), answer.services_mentioned, evidence):
            return None
        return answer, entry[1] or self.client.model

    def warnings(self) -> list[str]:
        """One line per kind of trouble: endpoint failure, rejected answers, budget."""
        lines = []
        if self.unavailable:
            lines.append(
                f"summaries by rules for {', '.join(self.unavailable)}: "
                f"the LLM endpoint failed: {self.failure}"
            )
        if self.rejected:
            lines.append(f"LLM answers rejected, rules used for {'; '.join(self.rejected)}")
        if self.over_budget:
            lines.append(
                f"LLM token budget (llm.token_budget) spent: rules used for "
                f"{', '.join(self.over_budget)}"
            )
        return lines


@dataclass
class _Asker:
    """One question to the model: the first try and, if its answer fails, one retry."""

    session: _Session
    what: str
    messages: list[prompts.Message]
    schema: dict[str, Any]
    shape: type[BaseModel]
    evidence: Evidence

    def answer(self) -> tuple[Any, str] | None:
        """The checked answer and its model, or None (the reason is noted in the session)."""
        reply = self._send(self.messages)
        if reply is None:
            return None
        answer, problems = self._judge(reply.content)
        if not problems:
            return answer, reply.model
        retry = prompts.retry_messages(self.messages, reply.content, problems)
        second = self._send(retry)
        if second is None:
            return None
        answer, again = self._judge(second.content)
        if again:
            self.session.rejected.append(f"{self.what}: {_first_problem(again)} (after a retry)")
            return None
        return answer, second.model

    def _send(self, messages: list[prompts.Message]) -> Any:
        session = self.session
        if session.failure is not None:
            session.unavailable.append(self.what)
            return None
        if not session.client.affordable(messages):
            session.over_budget.append(self.what)
            return None
        try:
            return session.client.complete(messages, self.schema)
        except LlmUnavailable as exc:
            session.failure = str(exc)
            session.unavailable.append(self.what)
        except LlmBadAnswer as exc:
            session.rejected.append(f"{self.what}: {exc}")
        return None

    def _judge(self, content: str) -> tuple[Any, list[str]]:
        try:
            answer: Any = parse_answer(content, self.shape)
        except LlmBadAnswer as exc:
            return None, [str(exc)]
        return answer, check(answer.texts(), answer.services_mentioned, self.evidence)


def _first_problem(problems: list[str]) -> str:
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0] + more
