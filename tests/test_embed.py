"""The real bundled model: offline, in its own process, cached on disk by text."""

from pathlib import Path

import numpy as np

from logsense.analyze.embed import CachedEmbedder, MiniLMEmbedder, embedding_text


class Counting:
    """Wraps an embedder and counts the texts it was asked for."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner, self.asked = inner, 0

    def warm_up(self, progress: bool = True) -> None:
        self.inner.warm_up()

    def embed(self, texts: list[str]) -> np.ndarray:
        self.asked += len(texts)
        return self.inner.embed(texts)


def test_similar_templates_are_close_and_unrelated_ones_far(embedder: MiniLMEmbedder) -> None:
    a, b, c = embedder.embed(
        [
            embedding_text("Cannot get DB connection from pool <*> after <*>"),
            embedding_text("database connection pool exhausted after <*>"),
            embedding_text("GET /api/v1/orders <*> 200"),
        ]
    )
    assert a.shape == (384,) and abs(float(np.linalg.norm(a)) - 1) < 1e-4
    assert float(a @ b) > 0.6 > float(a @ c)


def test_the_disk_cache_answers_without_the_model(embedder: MiniLMEmbedder, tmp_path: Path) -> None:
    counting = Counting(embedder)
    first = CachedEmbedder(counting, tmp_path / "e.sqlite3").embed(["disk full on <*>", "x y"])
    again = CachedEmbedder(counting, tmp_path / "e.sqlite3").embed(["x y", "disk full on <*>"])
    assert counting.asked == 2
    assert np.array_equal(first[::-1], again)


def test_a_broken_cache_file_only_costs_time(embedder: MiniLMEmbedder, tmp_path: Path) -> None:
    (tmp_path / "e.sqlite3").write_bytes(b"garbage" * 100)
    vectors = CachedEmbedder(embedder, tmp_path / "e.sqlite3").embed(["disk full"])
    assert vectors.shape == (1, 384)
