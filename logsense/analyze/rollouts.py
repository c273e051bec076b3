"""Changes to the system, read from its logs: deploys, rollbacks, restarts, config, scaling.

A change shows as info lines that are new in the window and read like one (`is_change`). A
rolling deploy logs many (deploying, starting, listening, shutting down, on every pod), so the
change lines of one service within five minutes are one change, told by the first line that
names it (deploy, version, config …), else by the first; a rollback always stands alone.

Where the events say which version of each service ran on which host (ECS `service.version`,
`host.name`, or a text line's host; the native table counts each (service, version, host) as it
reads: `model.Instance`), `instance_changes` reads changes from those facts instead: a version
first seen in the window is a deploy (from the version that ran before), a newer version that
stopped while an older one goes on is a rollback, and hosts that appear or go quiet without a
new version are restarts (both) or scaling (one way). Such a change replaces the ones read from
the same service's lines around it.

Changes are never issues: every report lists them in a section of their own, and the postmortem
timeline and the LLM's facts read them from here.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from logsense.model import Instance, Pattern, Window, level_class

__all__ = [
    "CHANGE_WORD_STARTS", "Rollout", "RolloutKind", "instance_changes", "is_change",
    "names_change", "rollouts",
]  # fmt: skip

RolloutKind = Literal["rollback", "deploy", "config", "scaling", "migration", "restart"]

# Strong words name a change itself; weak ones (a process starting or stopping) often follow one.
_STRONG_CHANGE = re.compile(
    r"\b(?:deploy\w*|release[ds]?|version|rollout|roll(?:ed|ing)?[ -]?back|reload\w*|config\w*"
    r"|scal(?:ed|ing)|migrat\w*|upgrad\w*|feature[ -]flags?)\b",
    re.I,
)
# How the words of `_STRONG_CHANGE` begin, for a search engine's prefix queries on analyzed text
# (`sources/pushdown.py` reads the lines that hold one in full: a change is one line).
CHANGE_WORD_STARTS = (
    "deploy", "release", "version", "rollout", "rollback", "rolled", "rolling", "reload",
    "config", "scaled", "scaling", "migrat", "upgrad", "feature",
)  # fmt: skip
_WEAK_CHANGE = re.compile(
    r"\b(?:restart\w*|start(?:ed|ing)|boot(?:ed|ing)?|shut(?:ting)?[ -]?down|replicas?)\b", re.I
)
# The kind of a change, by the first of these its line matches.
_KINDS: tuple[tuple[RolloutKind, re.Pattern[str]], ...] = (
    ("rollback", re.compile(r"\broll(?:ed|ing)?[ -]?back|\brevert", re.I)),
    ("deploy", re.compile(r"\b(?:deploy\w*|release[ds]?|version|rollout|upgrad\w*)\b", re.I)),
    ("config", re.compile(r"\b(?:reload\w*|config\w*|feature[ -]flags?)\b", re.I)),
    ("scaling", re.compile(r"\b(?:scal(?:ed|ing)|replicas?)\b", re.I)),
    ("migration", re.compile(r"\bmigrat\w*", re.I)),
)
# Change lines of one service this close together are one change.
_BURST = 300.0
# A host or version counts as appearing (or stopping) only this long after the service's first
# event of the read range (or before its last): a quiet host may simply not have logged yet.
_SETTLED = 300.0
# ... and by this many times the usual time between a host's events.
_QUIET_GAPS = 10


@dataclass(frozen=True, slots=True)
class Rollout:
    """One change: when, where, what kind, in the words of the line that tells it best
    (its first sample, redacted, else its template), and the patterns of its burst; or, read
    from instances, in words made from their versions and hosts (`source` names the fields)."""

    at: float
    service: str
    kind: RolloutKind
    text: str
    patterns: tuple[Pattern, ...]
    source: str = "lines"
    # The versions a change read from the events names (facts, unlike versions in log lines).
    versions: tuple[str, ...] = ()


def is_change(pattern: Pattern) -> bool:
    """True for an info pattern new in the window whose template reads like a change."""
    return bool(
        pattern.count
        and not pattern.baseline_count
        and level_class(pattern.level) == "info"
        and (_STRONG_CHANGE.search(pattern.template) or _WEAK_CHANGE.search(pattern.template))
    )


def names_change(template: str) -> bool:
    """True when a template names a change (deploy, version, rollback, config, scaling …).

    Mere process starts and stops, which often follow a change, do not.
    """
    return _STRONG_CHANGE.search(template) is not None


def rollouts(
    patterns: Iterable[Pattern], instances: Sequence[Instance] = (), window: Window | None = None
) -> list[Rollout]:
    """The changes in `window`, one per burst of a service (a rollback alone), oldest first.
    A change the `instances` show takes the words of the line that told it too, if one did
    (`Rolling back to 2.16 — version 2.17.0 withdrawn, …`); lines tell the rest."""
    known = instance_changes(instances, window) if window is not None else []
    told = _line_changes(patterns)
    found = []
    for change in known:
        lines = [t for t in told if _covered(t, [change])]
        if lines:
            line = lines[0]
            change = replace(
                change, at=min(change.at, line.at), text=f"{line.text} — {change.text}",
                patterns=line.patterns,
            )  # fmt: skip
        found.append(change)
    shown = {id(p) for change in found for p in change.patterns}
    found += [
        t for t in told if not any(id(p) in shown for p in t.patterns) and not _covered(t, known)
    ]
    return sorted(found, key=lambda r: (r.at, r.service))


def _covered(line: Rollout, known: list[Rollout]) -> bool:
    """Whether a change the instances show is the one `line` tells."""
    return any(c.service == line.service and abs(c.at - line.at) <= _BURST for c in known)


def _line_changes(patterns: Iterable[Pattern]) -> list[Rollout]:
    """The changes lines tell, one per burst of a service (a rollback alone)."""
    bursts: dict[str, list[list[Pattern]]] = {}
    for pattern in sorted((p for p in patterns if is_change(p)), key=lambda p: p.first_seen):
        runs = bursts.setdefault(pattern.service, [])
        rollback = _kind(pattern.template) == "rollback"
        if runs and pattern.first_seen - runs[-1][0].first_seen <= _BURST and not rollback:
            runs[-1].append(pattern)
        else:
            runs.append([pattern])
    return [_rollout(run) for runs in bursts.values() for run in runs]


# One thing instances show: (time, kind, words, versions named), e.g.
# (t, "deploy", "version 1.4 → 1.5", ("1.4", "1.5")).
_Step = tuple[float, RolloutKind, str, tuple[str, ...]]


def instance_changes(instances: Sequence[Instance], window: Window) -> list[Rollout]:
    """The changes in `window` that `instances` show, one per burst of a service, oldest
    first. Needs versions or hosts: instances without both say nothing."""
    by_service: dict[str, list[Instance]] = {}
    for instance in instances:
        by_service.setdefault(instance.service, []).append(instance)
    found = []
    for service, own in sorted(by_service.items()):
        steps = sorted(_version_steps(own, window) + _host_steps(own, window))
        found += _bursts(service, steps, own)
    return found


def _spans(own: Sequence[Instance], key: str) -> dict[str, tuple[float, float, int]]:
    """(first, last, events) of each value of `key` (`version` or `host`) among `own`."""
    spans: dict[str, tuple[float, float, int]] = {}
    for instance in own:
        value = getattr(instance, key)
        if value is None:
            continue
        first, last, events = spans.get(value, (instance.first, instance.last, 0))
        spans[value] = (
            min(first, instance.first), max(last, instance.last), events + instance.events,
        )  # fmt: skip
    return spans


def _version_steps(own: Sequence[Instance], window: Window) -> list[_Step]:
    start, end = min(i.first for i in own), max(i.last for i in own)
    versions = _spans(own, "version")
    steps: list[_Step] = []
    for version, (first, last, _) in versions.items():
        older = {v: s for v, s in versions.items() if s[0] < first}
        if not older:
            continue
        if window.start <= first and first - start >= _SETTLED:
            before = max(older, key=lambda v: older[v][2])
            steps.append((first, "deploy", f"version {before} → {version}", (before, version)))
        goes_on = [v for v, s in older.items() if s[1] > last + _SETTLED]
        if window.start <= last <= end - _SETTLED and goes_on:
            back_to = max(goes_on, key=lambda v: older[v][2])
            withdrawn = f"version {version} withdrawn, {back_to} goes on"
            steps.append((last, "rollback", withdrawn, (version, back_to)))
    return steps


def _host_steps(own: Sequence[Instance], window: Window) -> list[_Step]:
    """Hosts that appeared or went quiet in `window`: after (before) the service's first (last)
    event by `_SETTLED`, and by `_QUIET_GAPS` of the time between a host's events, so that a
    host that logs now and then is not taken for one that came or went."""
    start, end = min(i.first for i in own), max(i.last for i in own)
    hosts = _spans(own, "host")
    gaps = [(last - first) / (events - 1) for first, last, events in hosts.values() if events > 1]
    usual = statistics.median(gaps) if gaps else 0.0
    steps: list[_Step] = []
    for host, (first, last, events) in hosts.items():
        own_gap = (last - first) / (events - 1) if events > 1 else usual
        if window.start <= first and first - start >= max(_SETTLED, _QUIET_GAPS * usual):
            steps.append((first, "scaling", f"+{host}", ()))
        if window.start <= last and end - last >= max(_SETTLED, _QUIET_GAPS * own_gap):
            steps.append((last, "scaling", f"-{host}", ()))
    return steps


def _bursts(service: str, steps: list[_Step], own: Sequence[Instance]) -> list[Rollout]:
    """The steps of one service grouped into changes: those within `_BURST` of a change's first
    step are one change, named by its strongest kind."""
    runs: list[list[_Step]] = []
    for step in steps:
        if runs and step[0] - runs[-1][0][0] <= _BURST:
            runs[-1].append(step)
        else:
            runs.append([step])
    source = ", ".join(
        name for name, key in (("version", "version"), ("host", "host"))
        if any(getattr(i, key) is not None for i in own)
    )  # fmt: skip
    return [_instance_rollout(service, run, own, source) for run in runs]


def _instance_rollout(
    service: str, run: list[_Step], own: Sequence[Instance], source: str
) -> Rollout:
    at = run[0][0]
    versions = [text for _, kind, text, _ in run if kind in ("deploy", "rollback")]
    facts = tuple(dict.fromkeys(v for *_, names in run for v in names))
    added = sorted(text[1:] for _, kind, text, _ in run if kind == "scaling" and text[0] == "+")
    gone = sorted(text[1:] for _, kind, text, _ in run if kind == "scaling" and text[0] == "-")
    kind: RolloutKind = next(
        (k for k in ("rollback", "deploy") if any(s[1] == k for s in run)),
        "restart" if added and gone else "scaling",
    )
    hosts = _spans(own, "host")
    running = sum(1 for first, last, _ in hosts.values() if first < at <= last)
    parts = list(versions)
    if added and gone and len(gone) >= running:
        parts.append(
            f"all {running} instances replaced" if running > 1 else "its instance replaced"
        )
    elif added and gone and len(added) == len(gone):
        replaced = f"{_names(gone)} → {_names(added)}"
        parts.append(f"{len(gone)} of {running} instances replaced ({replaced})")
    elif added or gone:
        named = [f"+{_names(added)}"] if added else []
        named += [f"-{_names(gone)}"] if gone else []
        after = running + len(added) - len(gone)
        parts.append(f"{running} → {after} instances ({', '.join(named)})")
    return Rollout(at, service, kind, "; ".join(parts), (), source, facts)


def _names(hosts: list[str]) -> str:
    return ", ".join(hosts[:2]) + (f" and {len(hosts) - 2} more" if len(hosts) > 2 else "")


def _rollout(run: list[Pattern]) -> Rollout:
    telling = next((p for p in run if names_change(p.template)), run[0])
    text = telling.samples[0].message.splitlines()[0] if telling.samples else telling.template
    return Rollout(telling.first_seen, telling.service, _kind(telling.template), text, tuple(run))


def _kind(template: str) -> RolloutKind:
    return next((kind for kind, words in _KINDS if words.search(template)), "restart")
