"""TemplateTree's indexed Drain must cluster exactly as Drain3 itself does."""

from __future__ import annotations

import gzip

import orjson
from conftest import FIXTURES
from drain3.drain import Drain

from logsense.mine.masking import mask
from logsense.mine.templates import TemplateTree
from logsense.mine.tokenize import shape


def _masked_messages() -> list[str]:
    """Every message of a committed fixture, masked (thousands of ids among them)."""
    with gzip.open(FIXTURES / "checkout_db_pool.jsonl.gz", "rb") as lines:
        messages = [orjson.loads(line)["message"].split("\n", 1)[0] for line in lines]
    return [mask(message) for message in messages]


def test_indexed_drain_assigns_the_clusters_drain3_assigns() -> None:
    masked = _masked_messages()
    reference = Drain(depth=4, sim_th=0.9, max_children=100)
    tree = TemplateTree(depth=4, sim_th=0.9, max_children=100)
    expected = [reference.add_log_message(shape(m).drain_text)[0].cluster_id for m in masked]
    assert [tree.add(m) for m in masked] == expected
    assert len(set(expected)) > 50  # enough clusters that the index is really exercised


def test_long_messages_still_generalize_through_drain() -> None:
    tree = TemplateTree(depth=4, sim_th=0.9, max_children=100)
    words = "worker finished the nightly export of table orders to bucket"
    first = tree.add(f"{words} alpha")
    assert tree.add(f"{words} beta") == first  # 11 words, one may differ
    assert tree.template(first).endswith("<*>")
