"""One Drain3 tree fed through logsense's tokenization, with its templates rendered as text.

`TemplateTree.add` takes a masked message and returns its cluster id. `TemplateTree.template`
gives a cluster's final template text once all messages are in: rendered from its first message's
words and separators (`tokenize.render`), then merged with the tree's other templates where they
differ only in values (`merge.merge_templates`).

Drain runs strictly here (similarity 0.9), so a message of fewer than ten words joins a cluster
only when it equals the cluster's template word for word; `_StrictDrain` finds that cluster by a
dict lookup instead of comparing the message with every cluster of its tree leaf. Microservice
logs fill a leaf with thousands of clusters (one per id that masking cannot tell from a word),
and the comparisons were most of mining's time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from drain3.drain import Drain, LogCluster

from logsense.merge import merge_templates
from logsense.tokenize import Shape, render, shape

__all__ = ["TemplateTree"]


class _StrictDrain(Drain):  # type: ignore[misc]
    """Drain3, with the clusters that only an identical message can match indexed by their words.

    The results are Drain3's own: the index answers only for message lengths at which no word
    may differ (`sim_th` above (n-1)/n), where Drain's best match is the cluster equal to the
    message, or none.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._exact: dict[tuple[str, ...], LogCluster] = {}

    def _exact_only(self, length: int) -> bool:
        return length > 0 and float(length - 1) / length < self.sim_th

    def fast_match(
        self, cluster_ids: Sequence[int], tokens: list[str], sim_th: float, include_params: bool
    ) -> LogCluster | None:
        """Drain3's best match of `tokens` among `cluster_ids`, by lookup when it must be equal."""
        if include_params or sim_th != self.sim_th or not self._exact_only(len(tokens)):
            return super().fast_match(cluster_ids, tokens, sim_th, include_params)
        cluster = self._exact.get(tuple(tokens))
        if cluster is None or cluster.cluster_id not in cluster_ids:
            return None
        return cluster

    def add_seq_to_prefix_tree(self, root_node: Any, cluster: LogCluster) -> None:
        """Drain3's insertion, plus the index entry of a cluster only equal messages can join."""
        super().add_seq_to_prefix_tree(root_node, cluster)
        tokens = tuple(cluster.log_template_tokens)
        if self._exact_only(len(tokens)):
            self._exact.setdefault(tokens, cluster)


class TemplateTree:
    """Drain3 clustering of masked messages, with rendered and merged templates."""

    def __init__(self, depth: int, sim_th: float, max_children: int) -> None:
        self._drain = _StrictDrain(depth=depth, sim_th=sim_th, max_children=max_children)
        self._layouts: dict[int, Shape] = {}
        self._final: dict[int, str] | None = None

    def add(self, masked: str) -> int:
        """The id of the cluster that `masked` (a `masking.mask` result) belongs to."""
        layout = shape(masked)
        cluster, _ = self._drain.add_log_message(layout.drain_text)
        self._layouts.setdefault(cluster.cluster_id, layout)
        self._final = None
        return int(cluster.cluster_id)

    def template(self, cluster_id: int) -> str:
        """The final template text of a cluster (call once all messages are added)."""
        if self._final is None:
            rendered = {
                cid: render(self._layouts[cid], cluster.log_template_tokens)
                for cid, cluster in self._drain.id_to_cluster.items()
            }
            self._final = merge_templates(rendered)
        return self._final[cluster_id]
