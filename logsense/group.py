"""Grouping: which patterns are one problem, and which of them is its root cause.

Two signals join patterns. They mean the same thing: template embeddings of one service and level
class are close. They happen to the same requests: the Jaccard overlap of their request sets is
high. Both become one distance (each scaled so its own threshold lands at 1.0) and
scikit-learn's average-linkage clustering cuts at 1.0. Average linkage keeps a generic edge symptom
(a gateway 5xx line shared by two incidents) from chaining unrelated incidents together.

The root cause is the pattern whose event comes first inside the affected requests: the deepest
service logs the failure before its callers report it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.cluster import AgglomerativeClustering

from logsense.config import GroupingConfig
from logsense.embed import Embedder, embedding_text
from logsense.model import Pattern, level_class, level_rank

__all__ = ["Group", "candidates", "find_root", "group"]

Matrix = npt.NDArray[np.float64]
_FAR = 10.0


@dataclass
class Group:
    """Patterns that are one problem, with the chosen root cause and why it was chosen."""

    patterns: list[Pattern]
    root: Pattern
    why: str


def candidates(patterns: list[Pattern], novelty_known: bool) -> list[Pattern]:
    """Patterns that can become issues: warn-and-above, and info patterns new in this window."""
    return [
        p
        for p in patterns
        if p.count and (level_rank(p.level) >= 2 or (novelty_known and p.baseline_count == 0))
    ]


def group(patterns: list[Pattern], config: GroupingConfig, embedder: Embedder) -> list[Group]:
    """Cluster `patterns` into groups, each with its root cause; singletons are groups too."""
    if not patterns:
        return []
    if len(patterns) == 1:
        return [Group(patterns, patterns[0], "the only pattern of this issue")]
    distance = np.minimum(
        _meaning_distance(patterns, config, embedder), _cooccurrence_distance(patterns, config)
    )
    labels = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=1.0
    ).fit_predict(distance)
    members: dict[int, list[Pattern]] = {}
    for pattern, label in zip(patterns, labels, strict=True):
        members.setdefault(int(label), []).append(pattern)
    groups = []
    for group_patterns in members.values():
        root, why = find_root(group_patterns)
        groups.append(Group(group_patterns, root, why))
    return groups


def _meaning_distance(
    patterns: list[Pattern], config: GroupingConfig, embedder: Embedder
) -> Matrix:
    """Embedding distance scaled so `min_similarity` maps to 1.0; far apart across services."""
    n = len(patterns)
    distance = np.full((n, n), _FAR)
    np.fill_diagonal(distance, 0.0)
    keys = [(p.service, level_class(p.level)) for p in patterns]
    by_key: dict[tuple[str, str], list[int]] = {}
    for index, key in enumerate(keys):
        by_key.setdefault(key, []).append(index)
    comparable = [idx for idx in by_key.values() if len(idx) > 1]
    if not comparable:
        return distance
    wanted = sorted({i for idx in comparable for i in idx})
    vectors = embedder.embed([embedding_text(patterns[i].template) for i in wanted])
    row = {i: r for r, i in enumerate(wanted)}
    scale = max(1.0 - config.min_similarity, 1e-6)
    for idx in comparable:
        sub = vectors[[row[i] for i in idx]]
        cosine = sub @ sub.T
        distance[np.ix_(idx, idx)] = (1.0 - cosine) / scale
    np.fill_diagonal(distance, 0.0)
    return distance


def _cooccurrence_distance(patterns: list[Pattern], config: GroupingConfig) -> Matrix:
    """1 − Jaccard of request sets, scaled so `min_cooccurrence` maps to 1.0."""
    n = len(patterns)
    index: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for row, pattern in enumerate(patterns):
        for request in pattern.requests:
            rows.append(row)
            cols.append(index.setdefault(request, len(index)))
    if not index:
        distance = np.full((n, n), _FAR)
        np.fill_diagonal(distance, 0.0)
        return distance
    incidence = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(n, len(index))
    )
    shared = (incidence @ incidence.T).toarray()
    sizes = np.diag(shared)
    union = sizes[:, None] + sizes[None, :] - shared
    with np.errstate(divide="ignore", invalid="ignore"):
        jaccard = np.where(union > 0, shared / union, 0.0)
    scale = max(1.0 - config.min_cooccurrence, 1e-6)
    distance = np.where(jaccard > 0, (1.0 - jaccard) / scale, _FAR)
    np.fill_diagonal(distance, 0.0)
    return np.asarray(distance, dtype=np.float64)


def find_root(patterns: list[Pattern]) -> tuple[Pattern, str]:
    """The pattern that comes first inside the affected requests, and a sentence saying why.

    Only warn-and-above patterns can be the root when the group has any. Only requests where two
    or more of them appear take part; without such requests the earliest pattern in time wins.
    """
    if len(patterns) == 1:
        return patterns[0], "the only pattern of this issue"
    eligible = [p for p in patterns if level_rank(p.level) >= 2] or patterns
    first, present = _first_in_request(eligible)
    contested = [r for r, n in present.items() if n > 1]
    wins = Counter(first[r] for r in contested)
    if not wins:
        root = min(eligible, key=lambda p: (p.first_seen, -p.count))
        return root, "the earliest of this issue's patterns in time (they share no request)"
    root = max(eligible, key=lambda p: (wins[p.id], p.count))
    together = [r for r in contested if r in root.requests]
    others = sorted({p.service for p in eligible} - {root.service})
    callers = f", before {', '.join(others)}" if others else ""
    return root, (
        f"comes first in {wins[root.id] / len(together):.0%} of the {len(together)} requests "
        f"where it appears with the issue's other patterns{callers}"
    )


def _first_in_request(patterns: list[Pattern]) -> tuple[dict[str, str], Counter[str]]:
    """Per request: the id of the pattern whose event came first, and how many patterns it has."""
    first: dict[str, tuple[tuple[float, int], str]] = {}
    present: Counter[str] = Counter()
    for pattern in patterns:
        for request, at in pattern.requests.items():
            present[request] += 1
            best = first.get(request)
            if best is None or at < best[0]:
                first[request] = (at, pattern.id)
    return {request: pid for request, (_, pid) in first.items()}, present
