"""Callee inference: a caller's error that names another service points at that service.

A service that fails often logs nothing about it; its callers do, and their errors name it: the
host of a URL (`http://payments:8080/charge`), a `host:port` pair, a gRPC target
(`dns:///orders:50051`), or the name of a service seen in the input (`calling payments`,
`No instances available for payments`). A host maps to a service when it is that service's
name or its first DNS label is (`payments.prod.svc.cluster.local`). Only services of the input
(window or baseline) are named: the callee may log nothing in the window, but a host that never
logs at all (a database, a third party) is where the caller's own error is, and the caller's
error stays the root.

Names are read from the raw sample messages of the root pattern (templates mask hosts). A
service is named when most of the samples name it; the root pattern's own service never is.
The callee takes the blame only when it logs no error in the failing requests and either
answered them with a server error (the caller's line carries a 5xx status) or shows trouble of
its own in the report (lines that stopped, steps that slowed): a caller that cannot reach a
healthy service (its client's registry, its own configuration) is where the problem is.

The callee's own `stopped` or `slow` issue joins the group that names it only when that group is
a fresh failure, as a stop joins only such a group (`vanished.py`): errors, new or rising. A
caller's error that was there at its usual rate before did not come from work that stopped or
slowed in this window and must not hide it among chronic issues, and a warning (a client's 4xx
whose path names the service) is no failure of that work.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from logsense.analyze.change import Change
from logsense.analyze.group import Group, age
from logsense.mine.masking import kept_statuses
from logsense.model import Evidence, Pattern, Stopped, level_rank, short_template

__all__ = ["infer_callees", "named_service"]

_HOST = r"[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*"
# Network peers: a URL's host, a gRPC target, a host:port pair.
_PEERS = re.compile(
    rf"(?:\b[a-z][a-z0-9+.-]*://(?:[^/@\s]*@)?(?P<url>{_HOST})"
    rf"|\bdns:///?(?P<grpc>{_HOST})"
    rf"|(?<![\w.:/-])(?P<hostport>{_HOST}):(?P<port>\d{{2,5}})\b)"
)
_WORD_EDGE = r"(?<![\w.-]){name}(?![\w-])"
# `Order.java:42` in a stack frame is a file and a line, not a host and a port.
_SOURCE_FILE = re.compile(
    r"\.(?:java|kt|scala|groovy|py|go|rb|js|ts|cs|rs|c|cc|cpp|h|php|swift)$", re.I
)
_ERROR = level_rank("warn")
_FAILURE = level_rank("error")


def named_service(pattern: Pattern, services: Iterable[str]) -> tuple[str, str] | None:
    """(service, how it was named) that most of the pattern's samples name, other than its own;
    None when no name has a majority."""
    known = sorted(set(services) - {pattern.service}, key=len, reverse=True)
    votes: Counter[tuple[str, str]] = Counter()
    for sample in pattern.samples:
        found = _names_in(sample.raw, known, pattern.service)
        for naming in dict.fromkeys(found):
            votes[naming] += 1
    if not votes:
        return None
    (name, how), count = votes.most_common(1)[0]
    return (name, how) if count * 2 > len(pattern.samples) else None


def infer_callees(
    groups: list[Group],
    services: Iterable[str],
    stops: Iterable[Stopped],
    changes: dict[str, Change] | None = None,
) -> list[Group]:
    """Point each events group whose root names a troubled callee at that callee (an evidence
    first in its list); a `stopped` or `slow` group of the callee joins a fresh group that names
    it. `stops` are all the report's stopped patterns, `changes` the patterns' changes against
    the baseline, by id. Returns the groups left standing."""
    known = list(services)
    changes = changes or {}
    by_service = {g.root.service: g for g in groups if g.kind != "events"}
    troubled = set(by_service) | {stop.pattern.service for stop in stops}
    absorbed: set[int] = set()
    for group in groups:
        if group.kind != "events" or level_rank(group.root.level) < _ERROR:
            continue
        found = named_service(group.root, known)
        if found is None:
            continue
        callee, how = found
        if callee not in troubled and not _answered_with_server_error(group.root):
            continue
        if any(p.service == callee and level_rank(p.level) >= _ERROR for p in group.patterns):
            continue  # the callee logs the failure itself: the root pattern says where
        group.evidence.insert(0, _evidence(group.root, callee, how))
        other = by_service.get(callee)
        failed = level_rank(group.root.level) >= _FAILURE
        fresh = failed and age(group.core or [group.root], changes) == "fresh"
        if other is not None and id(other) not in absorbed and fresh:
            absorbed.add(id(other))
            group.evidence.extend(other.evidence)
            group.stopped.extend(other.stopped)
            group.slowed.extend(other.slowed)
            group.requests |= other.requests
    return [g for g in groups if id(g) not in absorbed]


def _answered_with_server_error(pattern: Pattern) -> bool:
    """True when the pattern reports an HTTP 5xx answer (a status masking kept as one)."""
    return any(code.startswith("5") for code in kept_statuses(pattern.template))


def _names_in(text: str, known: list[str], own: str) -> list[tuple[str, str]]:
    """The services `text` names as peers or by name, in order, with how."""
    found: list[tuple[str, str]] = []
    for match in _PEERS.finditer(text):
        host = match.group("url") or match.group("grpc") or match.group("hostport")
        how = (
            "URL host"
            if match.group("url")
            else "gRPC target"
            if match.group("grpc")
            else ("host:port")
        )
        if _SOURCE_FILE.search(host):
            continue
        service = _service_of_host(host, known)
        if service != own and service in known:
            found.append((service, how))
    for name in known:
        if re.search(_WORD_EDGE.format(name=re.escape(name)), text):
            found.append((name, "service name"))
    return found


def _service_of_host(host: str, known: list[str]) -> str:
    """The known service a host is, by its full name or first DNS label; else the host."""
    lowered = host.lower().rstrip(".")
    label = lowered.split(".", 1)[0]
    for service in known:
        if service.lower() in (lowered, label):
            return service
    return lowered


def _evidence(root: Pattern, callee: str, how: str) -> Evidence:
    text = (
        f"{root.service}'s “{short_template(root.template, 80)}” names {callee} ({how}) in most "
        "of its samples, "
        f"and {callee} logs no error of its own in these requests"
    )
    return Evidence("named_by_callers", callee, text, root.id, {"named_as": how})
