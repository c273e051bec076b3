"""Grouping: which patterns are one problem, and which of them is its root cause.

Two signals join patterns, each explainable on its own:

- **They happen to the same requests, after one another.** Pattern S joins pattern L when S's
  requests are almost all requests of L (containment ≥ `min_containment`), far more than chance
  allows (a binomial test against L's share of all requests), and L's event comes first in most
  of the requests they share. The direction matters: a caller's error attaches to the failure it
  reports, while a generic edge symptom (a gateway 5xx line shared by two incidents) can never
  pull two root causes together, since both come before it.
- **They mean the same thing.** Two patterns of one service and level class whose template
  embeddings are close (cosine ≥ `min_similarity`) and that are active in the same minutes: the
  same problem split over templates.

The root cause is the pattern whose event comes first inside the affected requests: the deepest
service logs the failure before its callers report it.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import re
import threading
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from logsense.analyze.change import Change
from logsense.analyze.embed import Embedder, embedding_text
from logsense.analyze.request_sets import earlier_in_shared, first_in_shared, shared_counts
from logsense.config import GroupingConfig
from logsense.model import (
    Evidence,
    EvidenceKind,
    IssueKind,
    Pattern,
    SlowHop,
    Stopped,
    level_class,
    level_rank,
)
from logsense.requestmap import RequestMap, RequestSet

__all__ = ["Age", "Group", "age", "candidates", "exception_types", "find_root", "group", "prefetch"]

Age = Literal["fresh", "chronic", "unknown"]

# scikit-learn and SciPy take about a second to import: `prefetch` starts that early.
_LIBRARIES = ("sklearn.cluster", "scipy.sparse.csgraph", "scipy.stats")


def prefetch() -> None:
    """Start importing the libraries grouping uses, in a background thread, and return at once.

    The pipeline calls this before reading, so the imports run while the input is parsed.
    """
    threading.Thread(target=_import_libraries, name="logsense-prefetch", daemon=True).start()


def _import_libraries() -> None:
    # Imports hold the GIL. At full priority they finish while the scanner works without it;
    # niced, they would finish later, halving the speed of every Python stage after the scan.
    # Only a head start: grouping imports them again and meets any real error there. An
    # interrupted run shuts the interpreter down under this thread, and its half-done import
    # must not print a traceback after the one error line.
    with contextlib.suppress(Exception):
        for name in _LIBRARIES:
            importlib.import_module(name)


Matrix = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int64]
# A join by co-occurrence must be this unlikely under independence.
_MAX_CHANCE = 1e-4
_MIN_SHARED_MINUTES = 0.3
_EXCEPTION = re.compile(r"\b((?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error))\b")


@dataclass
class Group:
    """Patterns that are one problem, with the chosen root cause and why it was chosen.

    `requests` are the requests the problem affected: every request of a pattern that has no
    cause in the group, and of a symptom only those where its cause is seen too (its other
    requests, up to 1 - `min_containment` of them, failed for other reasons). `estimate` is
    their number when they are not all known (work that is missing, a sample of gaps).
    `evidence` says why the root cause is where it is, strongest first.
    """

    patterns: list[Pattern]
    root: Pattern
    why: str
    requests: RequestSet
    kind: IssueKind = "events"
    evidence: list[Evidence] = field(default_factory=list)
    stopped: list[Stopped] = field(default_factory=list)
    slowed: list[SlowHop] = field(default_factory=list)
    change: Change | None = None
    estimate: int | None = None
    # The root and the patterns that say the same (its own problem, without joined symptoms).
    core: list[Pattern] = field(default_factory=list)


def candidates(patterns: list[Pattern]) -> list[Pattern]:
    """Patterns that can become issues: warnings and errors of the window. (A new info line
    is news only when it is a change, and changes have a section of their own.)"""
    return [p for p in patterns if p.count and level_rank(p.level) >= 2]


def group(
    patterns: list[Pattern],
    config: GroupingConfig,
    embedder: Embedder,
    total_requests: int | None = None,
    changes: dict[str, Change] | None = None,
) -> list[Group]:
    """Cluster `patterns` into groups, each with its root cause; singletons are groups too.

    Patterns that mean the same thing are joined first, so that one problem split over several
    templates counts as one when its co-occurrence with other problems is measured.
    `total_requests` (distinct requests in the window) sets the chance level of co-occurrence.
    With `changes` (against the baseline, by pattern id), a pattern at its usual rate is never
    the cause of one that is new or rising: a chronic warning that comes first in many requests
    does not swallow a new error.
    """
    if not patterns:
        return []
    changes = changes or {}
    nodes = _members(_same_meaning(patterns, config, embedder, changes))
    node_requests = [RequestMap.earliest([patterns[i].requests for i in node]) for node in nodes]
    ages = [age([patterns[i] for i in node], changes) for node in nodes]
    links = [
        (child, parent)
        for child, parent in _caused_by(node_requests, config, total_requests)
        if not (ages[child] == "fresh" and ages[parent] == "chronic")
    ]
    affected = _affected_requests([[patterns[i] for i in node] for node in nodes], dict(links))
    labels = np.empty(len(patterns), dtype=np.int64)
    node_of = np.empty(len(patterns), dtype=np.int64)
    for label, (node, members) in zip(
        _connected(len(nodes), links).tolist(), enumerate(nodes), strict=True
    ):
        labels[members] = label
        node_of[members] = node
    groups = []
    for member_ids in _members(labels):
        group_patterns = [patterns[i] for i in member_ids]
        root, why = find_root(group_patterns, _chronic(group_patterns, changes))
        requests = RequestSet.union(affected[node] for node in set(node_of[member_ids].tolist()))
        evidence = Evidence(_why_kind(why), root.service, why, root.id)
        core = [patterns[i] for i in nodes[int(node_of[patterns.index(root)])]]
        groups.append(Group(group_patterns, root, why, requests, evidence=[evidence], core=core))
    return groups


def age(patterns: list[Pattern], changes: dict[str, Change]) -> Age:
    """Whether `patterns` are fresh (one is new, or rose significantly), chronic (all were in
    the baseline at their usual rate, or less) or unknown (no baseline to say)."""
    found = [changes.get(p.id) for p in patterns]
    if any(c is not None and (c.trend == "new" or c.worsened) for c in found):
        return "fresh"
    if found and all(c is not None and c.before and not c.worsened for c in found):
        return "chronic"
    return "unknown"


def _chronic(patterns: list[Pattern], changes: dict[str, Change]) -> set[str]:
    """Ids of the patterns that cannot be the root: chronic ones, when the group has a fresh
    one (what was already there at its usual rate did not cause what is new)."""
    if age(patterns, changes) != "fresh":
        return set()
    return {p.id for p in patterns if age([p], changes) == "chronic"}


def _why_kind(why: str) -> EvidenceKind:
    if why.startswith("comes first"):
        return "first_in_requests"
    return "only_pattern" if why.startswith("the only") else "earliest"


def _affected_requests(nodes: list[list[Pattern]], causes: dict[int, int]) -> list[RequestSet]:
    """Per node, the requests its problem affected: all of its requests when it has no cause,
    else those where its cause (and so on up the chain) is seen too."""
    own = [RequestSet.union(p.requests for p in node) for node in nodes]
    found: dict[int, RequestSet] = {}

    def affected(node: int) -> RequestSet:
        if node not in found:
            found[node] = own[node]  # where a chain would close on itself, it stops here
            cause = causes.get(node)
            if cause is not None:
                found[node] = own[node] & affected(cause)
        return found[node]

    return [affected(node) for node in range(len(nodes))]


def _members(labels: Labels) -> list[list[int]]:
    """Indexes sharing a label, groups ordered by their first index."""
    sets: dict[int, list[int]] = {}
    for index, label in enumerate(labels.tolist()):
        sets.setdefault(label, []).append(index)
    return list(sets.values())


def _connected(size: int, links: list[tuple[int, int]]) -> Labels:
    """Connected-component label of each of `size` nodes joined by `links`."""
    if not links:
        return np.arange(size, dtype=np.int64)
    from scipy import sparse
    from scipy.sparse import csgraph

    rows, cols = zip(*links, strict=True)
    graph = sparse.csr_matrix((np.ones(len(links)), (rows, cols)), shape=(size, size))
    _, labels = csgraph.connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def _same_meaning(
    patterns: list[Pattern],
    config: GroupingConfig,
    embedder: Embedder,
    changes: dict[str, Change],
) -> Labels:
    """A label per pattern; patterns of one service and level class, active in the same minutes,
    share one when they say the same: close template embeddings (single-linkage clustering), or
    an exception type in common (a wrapper and its cause). A fresh pattern never shares a chronic
    one's label: a new variant of an old message is news."""
    labels = np.arange(len(patterns), dtype=np.int64)
    by_key: dict[tuple[str, str], list[int]] = {}
    for index, p in enumerate(patterns):
        by_key.setdefault((p.service, level_class(p.level)), []).append(index)
    comparable = [idx for idx in by_key.values() if len(idx) > 1]
    if not comparable:
        return labels
    from sklearn.cluster import AgglomerativeClustering

    wanted = sorted({i for idx in comparable for i in idx})
    vectors = embedder.embed([embedding_text(patterns[i].template) for i in wanted])
    row = {i: r for r, i in enumerate(wanted)}
    cut = 1.0 - config.min_similarity
    for idx in comparable:
        sub = vectors[[row[i] for i in idx]]
        cosine_distance = np.asarray(1.0 - sub @ sub.T, dtype=np.float64)
        distance = _meaning_distance([patterns[i] for i in idx], cosine_distance, cut, changes)
        found = AgglomerativeClustering(
            n_clusters=None, metric="precomputed", linkage="single", distance_threshold=cut + 1e-9
        ).fit_predict(distance)
        first_of_cluster = np.unique(found, return_index=True)[1]
        labels[idx] = np.asarray(idx)[first_of_cluster[found]]
    return labels


def _meaning_distance(
    patterns: list[Pattern], cosine_distance: Matrix, cut: float, changes: dict[str, Change]
) -> Matrix:
    """Embedding distance; 0 for a shared exception type; beyond `cut` unless active together,
    and between a fresh and a chronic pattern."""
    distance = np.asarray(np.clip(cosine_distance, 0.0, 2.0), dtype=np.float64)
    exceptions = [exception_types(p) for p in patterns]
    ages = [age([p], changes) for p in patterns]
    for a in range(len(patterns)):
        for b in range(a + 1, len(patterns)):
            if not _share_minutes(patterns[a], patterns[b]) or {ages[a], ages[b]} == {
                "fresh",
                "chronic",
            }:
                distance[a, b] = distance[b, a] = cut + 1.0
            elif exceptions[a] & exceptions[b]:
                distance[a, b] = distance[b, a] = 0.0
    np.fill_diagonal(distance, 0.0)
    return distance


def exception_types(pattern: Pattern) -> set[str]:
    """Exception class names of a pattern: its stack fingerprint's chain and its template's."""
    found = set(_EXCEPTION.findall(pattern.template))
    if pattern.fingerprint:
        found.update(pattern.fingerprint.split("|", 1)[0].split("<"))
    found.discard("?")
    return found


def _share_minutes(a: Pattern, b: Pattern) -> bool:
    minutes_a, minutes_b = set(a.per_minute), set(b.per_minute)
    together = len(minutes_a & minutes_b)
    return together >= _MIN_SHARED_MINUTES * min(len(minutes_a), len(minutes_b))


def _caused_by(
    nodes: list[RequestMap], config: GroupingConfig, total_requests: int | None
) -> list[tuple[int, int]]:
    """(child, parent) pairs: the child happens inside the parent's requests, after it."""
    sizes = np.array([len(node) for node in nodes], dtype=np.float64)
    if not sizes.any():
        return []
    shared = shared_counts(nodes)
    total = max(total_requests or 0, int(sizes.max()))
    links = []
    for child in range(len(nodes)):
        parent = _best_parent(child, nodes, shared, sizes, total, config)
        if parent is not None:
            links.append((child, parent))
    return links


def _best_parent(
    child: int,
    nodes: list[RequestMap],
    shared: Matrix,
    sizes: Matrix,
    total: int,
    config: GroupingConfig,
) -> int | None:
    n = sizes[child]
    if n == 0:
        return None
    best: tuple[float, float, int] | None = None
    for found in np.nonzero(shared[child])[0]:
        parent = int(found)
        if parent == child:
            continue
        together = float(shared[child, parent])
        containment = together / n
        if containment < config.min_containment:
            continue
        chance = min(sizes[parent] / total, 1.0)
        if _log_chance(together, n, chance) > math.log(_MAX_CHANCE):
            continue
        if not _comes_first(nodes[parent], nodes[child]):
            continue
        key = (containment, float(sizes[parent]), -parent)
        if best is None or key > best:
            best = key
    return None if best is None else -best[2]


def _log_chance(together: float, n: float, chance: float) -> float:
    """log P(at least `together` of `n` requests fall in the parent's set by chance)."""
    if chance >= 1.0:
        return 0.0
    from scipy import stats

    return float(stats.binom.logsf(together - 1, n, chance))


def _comes_first(parent: RequestMap, child: RequestMap) -> bool:
    """True when the parent's event precedes the child's in most requests they share."""
    shared, first = earlier_in_shared(parent, child)
    return first > shared - first


def find_root(
    patterns: list[Pattern],
    excluded: set[str] | frozenset[str] = frozenset(),
) -> tuple[Pattern, str]:
    """The pattern that comes first inside the affected requests, and a sentence saying why.

    Only warn-and-above patterns can be the root when the group has any, and never one whose id
    is `excluded` (unless all are). Only requests where two or more of them appear take part;
    without such requests the earliest pattern in time wins.
    """
    if len(patterns) == 1:
        return patterns[0], "the only pattern of this issue"
    allowed = [i for i, p in enumerate(patterns) if p.id not in excluded] or list(
        range(len(patterns))
    )
    warn_or_worse = [i for i in allowed if level_rank(patterns[i].level) >= 2]
    chosen = warn_or_worse or allowed
    eligible = [patterns[i] for i in chosen]
    sets = [patterns[i].requests for i in chosen]
    contested, first = first_in_shared(sets)
    if not len(contested):
        root = min(eligible, key=lambda p: (p.first_seen, -p.count))
        return root, "the earliest of this issue's patterns in time (they share no request)"
    wins = np.bincount(first, minlength=len(eligible)).tolist()
    best = max(range(len(eligible)), key=lambda i: (wins[i], eligible[i].count))
    root = eligible[best]
    together = np.count_nonzero(np.isin(contested, sets[best].ids, assume_unique=True))
    others = sorted({p.service for p in eligible} - {root.service})
    callers = f", before {', '.join(others)}" if others else ""
    return root, (
        f"comes first in {wins[best] / together:.0%} of the {together} requests "
        f"where it appears with the issue's other patterns{callers}"
    )
