"""Callee inference (`logsense/analyze/callee.py`): a caller's error that names a service puts
the root cause there, and takes the callee's own stopped or slow issue along when it is fresh."""

from __future__ import annotations

from logsense.analyze.callee import infer_callees
from logsense.analyze.change import compare
from logsense.analyze.group import Group
from logsense.config import ChangeConfig
from logsense.model import Evidence, Pattern, Sample, Stopped
from logsense.requestmap import RequestMap, RequestSet


def caller_error(level: str = "error") -> Pattern:
    pattern = Pattern(id="call", service="checkout", level=level, template="calling <*> failed")
    pattern.requests = RequestMap.from_dict({f"r{n}": (float(n), n) for n in range(40)})
    pattern.samples = [
        Sample(f"calling payments failed: 500 #{n}", "x", 0.0, f"r{n}") for n in range(3)
    ]
    return pattern


def stopped_payments() -> Group:
    line = Pattern(id="charged", service="payments", level="info", template="Charged <*>")
    change = compare(5, 100, 100, 100, ChangeConfig())
    evidence = Evidence("stopped", "payments", "payments stopped logging “Charged <*>”")
    requests = RequestSet.of(f"r{n}" for n in range(40))
    return Group(
        [line], line, evidence.text, requests, kind="stopped", evidence=[evidence],
        stopped=[Stopped(line, change)], change=change,
    )  # fmt: skip


def test_a_fresh_error_that_names_the_callee_takes_its_stop_along() -> None:
    error = caller_error()
    errors = Group([error], error, "the only pattern of this issue", error.requests.keys())
    new = {"call": compare(40, 100, 0, 100, ChangeConfig())}
    stop = stopped_payments()
    groups = infer_callees([errors, stop], ["checkout", "payments"], stop.stopped, new)
    assert groups == [errors]
    assert errors.evidence[0].kind == "named_by_callers"
    assert errors.evidence[0].service == "payments"
    assert errors.stopped and errors.stopped[0].pattern.id == "charged"


def test_a_chronic_error_or_a_warning_names_the_callee_but_leaves_its_stop_alone() -> None:
    # The same error at its usual rate: it was there before the work stopped.
    chronic = {"call": compare(40, 100, 40, 100, ChangeConfig())}
    new = {"call": compare(40, 100, 0, 100, ChangeConfig())}
    for level, changes in (("error", chronic), ("warn", new)):
        error = caller_error(level)
        errors = Group([error], error, "the only pattern of this issue", error.requests.keys())
        stop = stopped_payments()
        groups = infer_callees([errors, stop], ["checkout", "payments"], stop.stopped, changes)
        assert groups == [errors, stop], level
        assert errors.evidence[0].service == "payments"
        assert not errors.stopped


def named(sample: str, template: str) -> Group:
    error = Pattern(id="call", service="checkout", level="error", template=template)
    error.requests = RequestMap.from_dict({f"r{n}": (float(n), n) for n in range(40)})
    error.samples = [Sample(sample, "x", 0.0, f"r{n}") for n in range(3)]
    return Group([error], error, "the only pattern of this issue", error.requests.keys())


def test_a_healthy_callee_the_caller_cannot_reach_is_not_blamed() -> None:
    # The caller's client finds no instance of payments, which shows no trouble of its own.
    errors = named("No instances available for payments", "No instances available for payments")
    assert infer_callees([errors], ["checkout", "payments"], []) == [errors]
    assert errors.evidence == []


def test_a_callee_that_answered_with_a_server_error_is_blamed() -> None:
    errors = named(
        "calling payments failed: 503 Service Unavailable",
        "calling payments failed: 503 Service Unavailable",
    )
    infer_callees([errors], ["checkout", "payments"], [])
    assert errors.evidence[0].kind == "named_by_callers"
    assert errors.evidence[0].service == "payments"
