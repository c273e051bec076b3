"""Changes read from the events' own versions and hosts (`logsense/analyze/rollouts.py`):
deploys, rollbacks, restarts and scaling, whatever the lines say, and together with the line
that tells the same change."""

from __future__ import annotations

from logsense.analyze.rollouts import instance_changes, rollouts
from logsense.model import Instance, Pattern, Sample, Window

T = 1_800_000_000.0
MIN = 60.0
WINDOW = Window(T + 60 * MIN, T + 120 * MIN)


def seen(service: str, version: str | None, host: str | None, first: float, last: float,
         every: float = 10.0) -> Instance:  # fmt: skip
    """An instance logging every `every` seconds from `first` to `last` (minutes after T)."""
    start, end = T + first * MIN, T + last * MIN
    return Instance(service, version, host, start, end, int((end - start) / every) + 1)


def test_a_new_version_on_new_hosts_is_a_deploy_from_the_version_before() -> None:
    instances = [
        seen("orders", "2.16", "orders-a", 0, 80), seen("orders", "2.16", "orders-b", 0, 81),
        seen("orders", "2.17", "orders-c", 80, 120), seen("orders", "2.17", "orders-d", 81, 120),
        seen("cart", "1.0", "cart-a", 0, 120),
    ]  # fmt: skip
    [deploy] = instance_changes(instances, WINDOW)
    assert (deploy.service, deploy.kind, deploy.at) == ("orders", "deploy", T + 80 * MIN)
    assert deploy.text == "version 2.16 → 2.17; all 2 instances replaced"
    assert deploy.source == "version, host"


def test_a_newer_version_withdrawn_while_the_older_goes_on_is_a_rollback() -> None:
    instances = [
        seen("orders", "2.16", "orders-a", 0, 120), seen("orders", "2.17", "orders-b", 30, 90),
    ]  # fmt: skip
    [rollback] = instance_changes(instances, WINDOW)
    assert (rollback.kind, rollback.at) == ("rollback", T + 90 * MIN)
    assert rollback.text.startswith("version 2.17 withdrawn, 2.16 goes on")


def test_hosts_that_come_and_go_are_restarts_or_scaling() -> None:
    replaced = [seen("api", "1", "api-a", 0, 70), seen("api", "1", "api-b", 70, 120),
                seen("api", "1", "api-c", 0, 120)]  # fmt: skip
    [restart] = instance_changes(replaced, WINDOW)
    assert (restart.kind, restart.text) == ("restart", "1 of 2 instances replaced (api-a → api-b)")
    scaled = [seen("api", "1", "api-a", 0, 120), seen("api", "1", "api-b", 90, 120)]
    [scaling] = instance_changes(scaled, WINDOW)
    assert (scaling.kind, scaling.text) == ("scaling", "1 → 2 instances (+api-b)")


def test_a_host_that_logs_now_and_then_neither_comes_nor_goes() -> None:
    quiet = [seen("cron", "1", "cron-a", 0, 120), seen("cron", "1", "cron-b", 2, 95, every=600)]
    assert instance_changes(quiet, WINDOW) == []
    before = [seen("api", "1", "api-a", 0, 50), seen("api", "1", "api-b", 50, 120)]
    assert instance_changes(before, WINDOW) == []  # the restart was before the window
    assert instance_changes([seen("api", None, None, 0, 120)], WINDOW) == []


def test_the_line_that_tells_the_same_change_gives_its_words() -> None:
    line = Pattern(id="p", service="orders", level="info", template="Deploying version <*>")
    line.count, line.first_seen = 4, T + 79.5 * MIN
    line.samples = [Sample("Deploying version 2.17 (build 3992768)", "f:1", line.first_seen, None)]
    other = Pattern(id="q", service="cart", level="info", template="Reloading config from <*>")
    other.count, other.first_seen = 1, T + 100 * MIN
    other.samples = [Sample("Reloading config from /etc/cart.yml", "f:2", other.first_seen, None)]
    instances = [seen("orders", "2.16", "orders-a", 0, 80), seen("orders", "2.17", "orders-b",
                 80, 120), seen("cart", "1.0", "cart-a", 0, 120)]  # fmt: skip
    deploy, config = rollouts([line, other], instances, WINDOW)
    assert (deploy.kind, deploy.at, deploy.patterns) == ("deploy", line.first_seen, (line,))
    told = "Deploying version 2.17 (build 3992768) — version 2.16 → 2.17; its instance replaced"
    assert deploy.text == told
    assert (config.kind, config.text, config.source) == (
        "config", "Reloading config from /etc/cart.yml", "lines"
    )  # fmt: skip
