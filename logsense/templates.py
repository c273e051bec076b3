"""One Drain3 tree fed through logsense's tokenization, with its templates rendered as text.

`TemplateTree.add` takes a masked message and returns its cluster id. `TemplateTree.template`
gives a cluster's final template text once all messages are in: rendered from its first message's
words and separators (`tokenize.render`), then merged with the tree's other templates where they
differ only in values (`merge.merge_templates`).
"""

from __future__ import annotations

from drain3.drain import Drain

from logsense.merge import merge_templates
from logsense.tokenize import Shape, render, shape

__all__ = ["TemplateTree"]


class TemplateTree:
    """Drain3 clustering of masked messages, with rendered and merged templates."""

    def __init__(self, depth: int, sim_th: float, max_children: int) -> None:
        self._drain = Drain(depth=depth, sim_th=sim_th, max_children=max_children)
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
