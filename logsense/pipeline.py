"""The triage pipeline in one place: source → window → mine → group → rank → summarize → Report."""

from __future__ import annotations

import os

from logsense.analyze.callee import infer_callees
from logsense.analyze.change import pattern_changes
from logsense.analyze.embed import CachedEmbedder, Embedder, default_embedder
from logsense.analyze.group import candidates, group, prefetch
from logsense.analyze.indicators import leading_indicators
from logsense.analyze.latency import attach_slowdowns, slow_groups
from logsense.analyze.rollouts import rollouts
from logsense.analyze.vanished import attach_stops, stopped_patterns
from logsense.config import Settings
from logsense.errors import InputError
from logsense.mine import mine_aggregate
from logsense.mine.registry import Registry
from logsense.model import Report, Window, iso
from logsense.rank import rank
from logsense.sources import Source
from logsense.sources.formats.text import no_format_hint
from logsense.sources.pushdown import hops_inside
from logsense.sources.window import WindowedEvents, WindowSpec, cut, new_table
from logsense.state import state_dir
from logsense.summarize.llm import Completer
from logsense.summarize.summaries import headline, write_summaries

__all__ = ["triage"]

# Patterns are called new only when at least this much baseline (or half of it) has data.
_MIN_BASELINE = 15 * 60.0


def triage(
    source: Source,
    spec: WindowSpec,
    settings: Settings,
    *,
    anchor: float | None = None,
    embedder: Embedder | None = None,
    progress: bool = True,
    reset_state: bool = False,
    completer: Completer | None = None,
) -> Report:
    """Read `source`, keep the window and its baseline, and return the ranked report.

    `anchor` is "now" for live sources; None anchors relative times at the newest event.
    Pattern ids come from the registry in the state directory (`reset_state` empties it first).
    `completer` replaces the configured LLM client for summaries (benches, tests).
    Raises InputError when there is nothing to triage (no events at all, or none in the window).
    """
    state = state_dir(settings.state_dir)
    embedder = CachedEmbedder(embedder or default_embedder(), state / "embeddings.sqlite3")
    embedder.warm_up(progress)  # the model loads on idle CPU while the input is read and mined
    prefetch()
    threads = settings.threads or os.cpu_count() or 1
    table = new_table(spec, anchor, settings.fields, source.name, threads)
    source.fill(table, progress)
    windowed = cut(table, spec, anchor, settings.samples_per_pattern)
    window, baseline = windowed.window, windowed.baseline
    if not windowed.aggregate.events:
        raise InputError(_nothing_to_triage(source, windowed))
    mined = mine_aggregate(windowed.aggregate, settings.samples_per_pattern)
    pushed = source.pushed
    totals = mined.totals if pushed is None else pushed.apply(mined, windowed.aggregate)
    totals.malformed = source.stats.malformed
    totals.outside_window = windowed.outside
    covered = _covered_baseline(windowed, totals.baseline_first)
    novelty_known = covered is not None
    with Registry.open(state, reset=reset_state) as registry:
        known = registry.assign(mined.patterns)
    changes, tests = (
        pattern_changes(mined.patterns, totals, settings.change, _span_ratio(window, covered))
        if covered is not None
        else ({}, settings.change)
    )
    groups = group(
        candidates(mined.patterns),
        settings.grouping,
        embedder,
        totals.requests,
        changes,
    )
    stops = stopped_patterns(mined.patterns, changes)
    groups = attach_stops(groups, stops, changes, settings.change, mined.patterns)
    if novelty_known:
        hops = mined.hops
        if totals.sampling is not None:
            hops = hops_inside(hops, totals.sampling.members)
        slow = slow_groups(hops, mined.shape_patterns, settings.change)
        groups += attach_slowdowns(groups, slow, changes)
    groups = infer_callees(groups, {p.service for p in mined.patterns}, stops, changes)
    issues = rank(
        groups, totals, window, covered, novelty_known, settings.severity, known, changes, tests
    )
    warnings = [*source.stats.warnings(), *_window_warnings(windowed, covered)]
    if pushed is not None:
        warnings += pushed.warnings()
    if totals.requests is None:
        warnings.append(
            "no request-id field found (tried: "
            + ", ".join(settings.fields.request_id)
            + "): share_of_requests is a proxy, the share of all events; set --field request_id=KEY"
        )
    instances = (pushed and pushed.instances) or windowed.instances
    report = Report(
        window, baseline, source.name, totals, issues, warnings=warnings, patterns=mined.patterns,
        changes=rollouts(mined.patterns, instances, window),
        leading_indicators=leading_indicators(mined.patterns, window, covered, issues),
    )  # fmt: skip
    report.headline = headline(issues, totals)
    write_summaries(report, mined.patterns, settings.llm, state, completer=completer)
    return report


def _covered_baseline(windowed: WindowedEvents, first_in_baseline: float | None) -> Window | None:
    """The part of the baseline the input covers, from its earliest event inside the baseline,
    if enough of it to call a pattern new (an input whose older data lies before the baseline,
    with nothing in it, covers none)."""
    baseline = windowed.baseline
    if baseline is None or first_in_baseline is None:
        return None
    covered = Window(max(baseline.start, first_in_baseline), baseline.end)
    enough = min(_MIN_BASELINE, (baseline.end - baseline.start) / 2)
    return covered if covered.end - covered.start >= enough else None


def _span_ratio(window: Window, covered: Window | None) -> float:
    """The window's length over the covered baseline's (1 without one)."""
    if covered is None or covered.end <= covered.start:
        return 1.0
    return (window.end - window.start) / (covered.end - covered.start)


def _window_warnings(windowed: WindowedEvents, covered: Window | None) -> list[str]:
    warnings = list(windowed.warnings)
    if windowed.outside:
        warnings.append(
            f"{windowed.outside:,} events outside the window and its baseline were skipped"
        )
    baseline = windowed.baseline
    if baseline is not None and covered is None:
        warnings.append(
            f"too little data in the baseline ({iso(baseline.start)} to {iso(baseline.end)}): "
            "no issue is marked new, and changes against the baseline are not computed"
        )
    elif baseline is not None and covered is not None and covered.start > baseline.start + 60:
        warnings.append(
            f"the baseline covers only {covered.minutes:.0f} of its {baseline.minutes:.0f} "
            f"minutes (its first event is at {iso(covered.start)})"
        )
    return warnings


def _nothing_to_triage(source: Source, windowed: WindowedEvents) -> str:
    window: Window = windowed.window
    if source.stats.read == 0:
        return f"no events in {source.name}: the input is empty"
    if not windowed.aggregate.shapes and not windowed.outside:
        message = (
            f"no usable events in {source.name}: all {source.stats.malformed:,} records were "
            f"malformed ({', '.join(source.stats.malformed_reasons)})"
        )
        if source.stats.malformed_reasons["no header"]:
            message += no_format_hint()
        return message
    return (
        f"no events between {iso(window.start)} and {iso(window.end)} in {source.name} "
        f"({windowed.outside + sum(s.baseline_count for s in windowed.aggregate.shapes):,} "
        "events outside it)"
    )
