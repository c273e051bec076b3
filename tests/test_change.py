"""Change against the baseline: the exact test, its verdicts, contexts and the false discovery
rate (`logsense/analyze/change.py`)."""

from __future__ import annotations

import pytest

from logsense.analyze.change import compare, fdr_cutoff, pattern_changes
from logsense.config import ChangeConfig
from logsense.model import Pattern, Totals
from logsense.requestmap import RequestMap

CONFIG = ChangeConfig()


def pattern(pid: str, level: str, now: list[str], before: list[str], *, at: float = 0.0) -> Pattern:
    """A pattern seen in requests `now` (window) and `before` (baseline), at offset `at` within
    each request (so patterns of one request come in order of `at`)."""
    found = Pattern(id=pid, service="svc", level=level, template=pid)
    found.requests = RequestMap.from_dict({r: (1000.0 + at, i) for i, r in enumerate(now)})
    found.baseline_requests = RequestMap.from_dict({r: (at, i) for i, r in enumerate(before)})
    found.count, found.baseline_count = len(now), len(before)
    found.baseline_per_minute = {0: len(before)} if before else {}
    return found


def ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


@pytest.mark.parametrize(
    ("counts", "trend", "significant"),
    [
        ((30, 100, 0, 100), "new", True),
        ((1, 100, 0, 100), "new", False),
        ((28, 100, 30, 100), "steady", False),
        ((60, 100, 20, 100), "rising", True),
        ((0, 30, 45, 45), "stopped", True),
        ((25, 100, 45, 100), "falling", True),
    ],
)
def test_the_verdict_follows_the_counts(
    counts: tuple[int, int, int, int], trend: str, significant: bool
) -> None:
    found = compare(*counts, CONFIG)
    assert (found.trend, found.significant) == (trend, significant)


def test_a_stop_needs_enough_expected_requests() -> None:
    # 2 of 2 baseline requests, 0 of 2 now: too few to call it stopped, whatever the share.
    assert compare(0, 2, 2, 2, CONFIG).trend != "stopped"


def test_p_values_are_one_sided_in_the_direction_of_the_change() -> None:
    up, down = compare(40, 100, 10, 100, CONFIG), compare(10, 100, 40, 100, CONFIG)
    assert up.p_value < 1e-5 and down.p_value < 1e-5
    assert up.excess > 0 > down.excess
    assert up.ratio == pytest.approx(4.0) and down.ratio == pytest.approx(0.25)


def test_the_false_discovery_rate_cutoff_is_benjamini_hochberg() -> None:
    # m = 5 at rate 0.05: steps 0.01, 0.02, 0.03, 0.04, 0.05; the third p-value is the last under.
    assert fdr_cutoff([0.001, 0.015, 0.029, 0.2, 0.9], 0.05) == pytest.approx(0.029)
    # None under its step: only the first step's level passes.
    assert fdr_cutoff([0.5, 0.6], 0.05) == pytest.approx(0.025)


def test_an_error_that_follows_a_call_made_more_often_has_not_risen() -> None:
    # The call tripled; the error follows a third of calls both times.
    calls = pattern("call", "info", ids("n", 90), ids("b", 30), at=0.0)
    error = pattern("error", "error", ids("n", 30), ids("b", 10), at=1.0)
    other = pattern("other", "info", ids("x", 300), ids("y", 300))
    totals = Totals(requests=390, baseline_requests=330, baseline_events=340)
    changes, _ = pattern_changes([calls, error, other], totals, CONFIG)
    assert changes["error"].context is calls
    assert changes["error"].trend == "steady"
    # Among all requests, it would have looked like a rise: 10 of 330 before, 30 of 390 now.
    assert compare(30, 390, 10, 330, CONFIG).trend == "rising"


def test_a_line_that_stops_after_its_context_has_stopped() -> None:
    entry = pattern("entry", "info", ids("n", 40), ids("b", 40), at=0.0)
    step = pattern("step", "info", [], ids("b", 40), at=1.0)
    other = pattern("other", "info", ids("x", 100), ids("y", 100))
    totals = Totals(requests=140, baseline_requests=140, baseline_events=180)
    changes, _ = pattern_changes([entry, step, other], totals, CONFIG)
    assert changes["step"].context is entry
    assert changes["step"].trend == "stopped" and changes["step"].significant


def test_a_context_must_come_first() -> None:
    # "after" holds every request of "step" but is logged after it: not a context.
    step = pattern("step", "info", ids("n", 20), ids("b", 20), at=0.0)
    after = pattern("after", "info", ids("n", 20), ids("b", 20), at=5.0)
    totals = Totals(requests=20, baseline_requests=20, baseline_events=40)
    changes, _ = pattern_changes([step, after], totals, CONFIG)
    assert changes["step"].context is None
    assert changes["after"].context is step


def test_no_baseline_no_changes() -> None:
    calls = pattern("call", "info", ids("n", 10), [])
    changes, settings = pattern_changes([calls], Totals(requests=10), CONFIG)
    assert changes == {} and settings is CONFIG


def test_many_tests_raise_the_bar() -> None:
    # One modest rise among many steady patterns is not a discovery at a 5% false discovery rate.
    steady = [pattern(f"s{i}", "info", ids(f"n{i}-", 10), ids(f"b{i}-", 10)) for i in range(60)]
    modest = pattern("modest", "error", ids("m", 12), ids("c", 2))
    totals = Totals(requests=1000, baseline_requests=1000, baseline_events=700)
    changes, settings = pattern_changes([*steady, modest], totals, CONFIG)
    alone = compare(12, 1000, 2, 1000, CONFIG)
    assert alone.p_value < CONFIG.alpha
    assert settings.alpha < alone.p_value and not changes["modest"].significant


def counted(pid: str, level: str, now: int, before: int) -> Pattern:
    """A pattern of a log without request ids: only its events in each period."""
    found = Pattern(id=pid, service="svc", level=level, template=pid)
    found.count, found.baseline_count = now, before
    return found


def test_without_request_ids_a_flood_of_new_lines_does_not_make_steady_ones_fall() -> None:
    # An error and its stack trace, one event per line, more than doubles the window's events.
    steady, other = counted("order placed", "info", 200, 200), counted("tick", "info", 40, 40)
    flood = [counted(f"trace line {i}", "info", 66, 0) for i in range(3)]
    error = counted("payment failed", "error", 66, 0)
    stops = counted("cache warmed", "info", 0, 60)
    patterns = [steady, other, *flood, error, stops]
    totals = Totals(
        events=sum(p.count for p in patterns),
        baseline_events=sum(p.baseline_count for p in patterns),
    )
    changes, _ = pattern_changes(patterns, totals, CONFIG)
    assert changes["order placed"].trend == "steady", changes["order placed"]
    assert changes["tick"].trend == "steady"
    assert changes["cache warmed"].trend == "stopped"
    assert changes["payment failed"].trend == "new" and changes["payment failed"].significant
