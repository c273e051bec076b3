"""Latency (`logsense/analyze/latency.py`): which service the slowed hops blame, and how many
requests they slowed."""

from __future__ import annotations

from logsense.analyze.latency import HopRow, slow_groups
from logsense.config import ChangeConfig
from logsense.model import Pattern
from logsense.requestmap import HAND_MADE, RequestMap

CONFIG = ChangeConfig()
# Baseline gaps of 1-20 ms: median 10.5 ms, 95th percentile about 19 ms.
BASELINE = [(0.001 * (1 + n % 20), HAND_MADE.ids([f"b{n}"])[0]) for n in range(200)]


def pattern(pid: str, service: str, requests: list[str], at: float) -> Pattern:
    found = Pattern(id=pid, service=service, level="info", template=f"{pid} <*>")
    found.requests = RequestMap.from_dict(dict.fromkeys(requests, (at, 0)))
    found.count = len(requests)
    return found


def hop(source: int, target: int, requests: list[str], slowed: int, by: float) -> HopRow:
    """A hop taken once in each of `requests`; in the first `slowed` of them `by` seconds later
    than in the baseline."""
    window = [
        (BASELINE[n % 200][0] + (by if n < slowed else 0.0), request)
        for n, request in enumerate(HAND_MADE.ids(requests))
    ]
    return (source, target, len(BASELINE), len(requests), BASELINE, window)


def requests(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def test_late_answers_of_one_service_blame_it_not_the_gateway_they_go_to() -> None:
    # orders' answers to the gateway leave 120 ms late in 150 of 200 requests; cart's answers to
    # the same gateway are as fast as ever. Each slowed hop alone blames both ends equally.
    orders, cart = requests("o", 200), requests("c", 200)
    shapes = [
        pattern("order-loaded", "orders", orders, 1.0),
        pattern("get-order", "gateway", orders, 2.0),
        pattern("cart-loaded", "cart", cart, 1.0),
        pattern("get-cart", "gateway", cart, 2.0),
    ]
    rows = [hop(0, 1, orders, 150, 0.12), hop(2, 3, cart, 0, 0.0)]
    (group,) = slow_groups(rows, shapes, CONFIG)
    assert group.root.service == "orders"


def test_a_slowdown_below_the_tail_still_counts_and_each_request_once() -> None:
    # starved pricing: 150 of 200 requests wait 15 ms more before each of its two lines. A
    # quarter of those slowed gaps stay below the baseline's 95th percentile.
    slow = requests("r", 200)
    shapes = [
        pattern("cart-read", "cart", slow, 1.0),
        pattern("priced", "pricing", slow, 2.0),
        pattern("priced-debug", "pricing", slow, 3.0),
    ]
    rows = [hop(0, 1, slow, 150, 0.015), hop(1, 2, slow, 150, 0.015)]
    (group,) = slow_groups(rows, shapes, CONFIG)
    assert group.root.service == "pricing"
    assert len(group.slowed) == 2
    # The two hops slowed the same 150 requests: counted once, not twice, and not only the
    # gaps that passed the tail.
    assert group.estimate is not None and 135 <= group.estimate <= 165


def test_a_callee_that_looks_slow_both_ways_joins_the_caller_that_waited_for_it() -> None:
    # checkout calls notifications first and logs nothing before: its late call slows the hop
    # from auth's line into notifications; its late answer slows the hop into the gateway. It
    # logs after notifications in every request (it waited for it).
    shared, other = requests("r", 200), requests("n", 200)
    shapes = [
        pattern("token", "auth", shared, 1.0),
        pattern("queued", "notifications", shared, 2.0),
        pattern("placed", "checkout", shared, 3.0),
        pattern("post-checkout", "gateway", shared, 4.0),
        pattern("sent", "notifications", other, 2.0),
        pattern("logged-in", "auth", other, 1.0),
        pattern("profile", "accounts", other, 3.0),
        pattern("get-profile", "gateway", other, 4.0),
    ]
    rows = [
        hop(0, 1, shared, 150, 0.1),  # into notifications, through checkout's late call
        hop(1, 2, shared, 0, 0.0),
        hop(2, 3, shared, 150, 0.1),  # checkout's late answer
        hop(5, 4, other, 0, 0.0),  # notifications called by accounts: fast
        hop(4, 6, other, 0, 0.0),
        hop(6, 7, other, 0, 0.0),  # the gateway's other answers: fast
    ]
    (group,) = slow_groups(rows, shapes, CONFIG)
    assert group.root.service == "checkout"
    assert {h.target.service for h in group.slowed} == {"notifications", "gateway"}
