"""One Drain3 tree fed through logsense's tokenization, with its templates rendered as text.

`TemplateTree.add` takes a masked message and returns its cluster id. `TemplateTree.template`
gives a cluster's final template text once all messages are in: rendered from its first message's
words and separators (`tokenize.render`), then merged with the tree's other templates where they
differ only in values (`merge.merge_templates`).

Drain runs strictly here (similarity 0.9), so a message of fewer than ten words could only join a
cluster equal to it word for word: for such messages Drain is an exact lookup, and they never
meet a longer message in its tree. They are looked up in a dict instead, numbered in the same
sequence as Drain's clusters, so the clusters are Drain3's own. Microservice logs give thousands
of such clusters (one per id that masking cannot tell from a word), and Drain compared each new
one with every cluster of its tree leaf.
"""

from __future__ import annotations

from drain3.drain import Drain

from logsense.mine.masking import WILDCARD
from logsense.mine.merge import merge_templates
from logsense.mine.tokenize import Shape, render, shape

__all__ = ["TemplateTree"]


class TemplateTree:
    """Drain3 clustering of masked messages, with rendered and merged templates."""

    def __init__(self, depth: int, sim_th: float, max_children: int) -> None:
        self._drain = Drain(depth=depth, sim_th=sim_th, max_children=max_children)
        self._sim_th = sim_th
        self._exact: dict[tuple[str, ...], int] = {}
        self._exact_words: dict[int, tuple[str, ...]] = {}
        self._layouts: dict[int, Shape] = {}
        self._final: dict[int, str] | None = None

    def add(self, masked: str) -> int:
        """The id of the cluster that `masked` (a `masking.mask` result) belongs to."""
        layout = shape(masked)
        words = tuple(word for word in layout.words if word != WILDCARD)
        self._final = None
        if self._only_equal_can_match(len(words)):
            cluster_id = self._exact.get(words)
            if cluster_id is None:
                self._drain.clusters_counter += 1  # one numbering for both kinds of cluster
                cluster_id = self._exact[words] = self._drain.clusters_counter
                self._exact_words[cluster_id] = words
                self._layouts[cluster_id] = layout
            return cluster_id
        cluster, _ = self._drain.add_log_message(" ".join(words))
        self._layouts.setdefault(cluster.cluster_id, layout)
        return int(cluster.cluster_id)

    def _only_equal_can_match(self, length: int) -> bool:
        """True when Drain's similarity cannot allow one differing word (its own arithmetic)."""
        return length > 0 and float(length - 1) / length < self._sim_th

    def template(self, cluster_id: int) -> str:
        """The final template text of a cluster (call once all messages are added)."""
        if self._final is None:
            words = dict(self._exact_words)
            words.update(
                (cid, cluster.log_template_tokens)
                for cid, cluster in self._drain.id_to_cluster.items()
            )
            rendered = {cid: render(self._layouts[cid], words[cid]) for cid in sorted(words)}
            self._final = merge_templates(rendered)
        return self._final[cluster_id]
