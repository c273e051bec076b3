"""Changes to the system, read from its logs: deploys, rollbacks, restarts, config, scaling.

A change shows as info lines that are new in the window and read like one (`is_change`). A
rolling deploy logs many (deploying, starting, listening, shutting down, on every pod), so the
change lines of one service within five minutes are one change, told by the first line that
names it (deploy, version, config …), else by the first; a rollback always stands alone.

Changes are never issues: every report lists them in a section of their own, and the postmortem
timeline and the LLM's facts read them from here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from logsense.model import Pattern, level_class

__all__ = ["Rollout", "RolloutKind", "is_change", "names_change", "rollouts"]

RolloutKind = Literal["rollback", "deploy", "config", "scaling", "migration", "restart"]

# Strong words name a change itself; weak ones (a process starting or stopping) often follow one.
_STRONG_CHANGE = re.compile(
    r"\b(?:deploy\w*|release[ds]?|version|rollout|roll(?:ed|ing)?[ -]?back|reload\w*|config\w*"
    r"|scal(?:ed|ing)|migrat\w*|upgrad\w*|feature[ -]flags?)\b",
    re.I,
)
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


@dataclass(frozen=True, slots=True)
class Rollout:
    """One change: when, where, what kind, in the words of the line that tells it best
    (its first sample, redacted, else its template), and the patterns of its burst."""

    at: float
    service: str
    kind: RolloutKind
    text: str
    patterns: tuple[Pattern, ...]


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


def rollouts(patterns: Iterable[Pattern]) -> list[Rollout]:
    """The changes in the window, one per burst of a service (a rollback alone), oldest first."""
    bursts: dict[str, list[list[Pattern]]] = {}
    for pattern in sorted((p for p in patterns if is_change(p)), key=lambda p: p.first_seen):
        runs = bursts.setdefault(pattern.service, [])
        rollback = _kind(pattern.template) == "rollback"
        if runs and pattern.first_seen - runs[-1][0].first_seen <= _BURST and not rollback:
            runs[-1].append(pattern)
        else:
            runs.append([pattern])
    found = [_rollout(run) for runs in bursts.values() for run in runs]
    return sorted(found, key=lambda r: (r.at, r.service))


def _rollout(run: list[Pattern]) -> Rollout:
    telling = next((p for p in run if names_change(p.template)), run[0])
    text = telling.samples[0].message.splitlines()[0] if telling.samples else telling.template
    return Rollout(telling.first_seen, telling.service, _kind(telling.template), text, tuple(run))


def _kind(template: str) -> RolloutKind:
    return next((kind for kind, words in _KINDS if words.search(template)), "restart")
