"""Ranking: what breaks requests first, then severity, then failures before warnings, then share."""

from logsense.analyze.change import compare
from logsense.analyze.group import Group
from logsense.config import ChangeConfig, SeverityConfig
from logsense.model import Issue, Pattern, Totals, Window
from logsense.rank import rank
from logsense.requestmap import RequestMap

WINDOW = Window(0.0, 3600.0)
TOTALS = Totals(events=10_000, requests=1000, first_seen=0.0, last_seen=3599.0)


def group(pid: str, level: str, requests: int, offset: int = 0, count: int = 0) -> Group:
    """A one-pattern group whose events hit `requests` requests (ids from `offset`)."""
    pattern = Pattern(id=pid, service="svc", level=level, template=f"{pid} <*>")
    pattern.requests = RequestMap.from_dict(
        {f"r{offset + n}": (float(n), n) for n in range(requests)}
    )
    pattern.count = count or requests
    pattern.first_seen, pattern.last_seen = 10.0, 3000.0
    pattern.per_minute = {0: pattern.count}
    return Group([pattern], pattern, "the only pattern of this issue", pattern.requests.keys())


def ranked(*groups: Group) -> list[Issue]:
    return rank(list(groups), TOTALS, WINDOW, None, False, SeverityConfig())


def test_failures_come_before_warnings_of_the_same_severity() -> None:
    # Both medium (0.5%-5% of requests): the slow-request warning touches more requests.
    slow = group("slow", "warn", requests=23)
    failing = group("failing", "error", requests=10, offset=100)
    issues = ranked(slow, failing)
    assert [i.severity for i in issues] == ["medium", "medium"]
    assert [i.root.id for i in issues] == ["failing", "slow"]


def test_a_higher_severity_warning_still_comes_first() -> None:
    widespread = group("widespread", "warn", requests=300)
    failing = group("failing", "error", requests=10, offset=1000)
    issues = ranked(failing, widespread)
    assert [(i.root.id, i.severity) for i in issues] == [
        ("widespread", "high"),
        ("failing", "medium"),
    ]


def test_the_larger_share_leads_among_equals() -> None:
    issues = ranked(group("small", "error", requests=10), group("large", "error", 40, 100))
    assert [i.root.id for i in issues] == ["large", "small"]


def test_a_loud_error_without_requests_ranks_below_what_breaks_requests() -> None:
    loud = group("loud", "error", requests=0, count=9000)
    minor = group("minor", "warn", requests=1, offset=500)
    issues = ranked(loud, minor)
    assert [i.root.id for i in issues] == ["minor", "loud"]
    assert issues[1].share_of_requests == 0.0


def test_a_loud_error_that_surely_rose_still_ranks_below_what_breaks_requests() -> None:
    # Thousands of events make a rise of a few tenths certain: both are changes (tier 0), and
    # the loud error is a failure while the other only warns; it touches no request.
    config = ChangeConfig()
    loud = group("loud", "error", requests=0, count=9000)
    loud.root.baseline_count = 7000
    warning = group("warning", "warn", requests=100, offset=500)
    totals = Totals(
        events=20_000, requests=1000, baseline_events=18_000, baseline_requests=1000,
        first_seen=0.0, last_seen=3599.0,
    )  # fmt: skip
    changes = {
        "loud": compare(9000, 20_000, 7000, 18_000, config, basis="events"),
        "warning": compare(100, 1000, 0, 1000, config),
    }
    issues = rank(
        [loud, warning], totals, WINDOW, Window(-3600.0, 0.0), True, SeverityConfig(),
        changes=changes, change_config=config,
    )  # fmt: skip
    assert all(i.changed for i in issues)
    assert [i.root.id for i in issues] == ["warning", "loud"]


def test_unchanged_issues_are_ordered_by_impact_not_by_their_p_values() -> None:
    # Neither changed beyond chance. The one that grew a little (p near 0.08) must not pass the
    # larger one on that: a shift of a few requests in the totals (a pushdown's estimate) would
    # move it back across any step in p.
    config = ChangeConfig()
    grew = group("grew", "error", requests=31)
    grew.root.baseline_requests = RequestMap.from_dict({f"b{n}": (0.0, n) for n in range(20)})
    steady = group("steady", "error", requests=40, offset=100)
    steady.root.baseline_requests = RequestMap.from_dict({f"c{n}": (0.0, n) for n in range(40)})
    totals = Totals(
        events=20_000, requests=1000, baseline_events=20_000, baseline_requests=1000,
        first_seen=0.0, last_seen=3599.0,
    )  # fmt: skip
    changes = {
        "grew": compare(31, 1000, 20, 1000, config),
        "steady": compare(40, 1000, 40, 1000, config),
    }
    issues = rank(
        [grew, steady], totals, WINDOW, Window(-3600.0, 0.0), True, SeverityConfig(),
        changes=changes, change_config=config,
    )  # fmt: skip
    change = next(i.change for i in issues if i.root.id == "grew")
    assert change is not None and 0.05 < change.p_value < 0.1
    assert not any(i.changed for i in issues)
    assert issues[0].severity == issues[1].severity
    assert [i.root.id for i in issues] == ["steady", "grew"]
