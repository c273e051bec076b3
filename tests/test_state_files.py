"""Every SQLite state file survives first runs at once, and says what is wrong when it cannot
be used: a file this user may not write is not a damaged one."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from logsense.analyze.embed import CACHE_SCHEMA_VERSION, CachedEmbedder
from logsense.digest.state import DigestStore, SentDigest
from logsense.mine.registry import Registry, registry_path
from logsense.model import Pattern
from tests.conftest import FIXTURES, Cli

RUNS_AT_ONCE = 6
ROUNDS = 12


class Fixed:
    """An embedder with fixed vectors: the cache file is what is under test."""

    def warm_up(self, progress: bool = True) -> None:
        pass

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.ones((len(texts), 384), dtype=np.float32) / np.sqrt(384)


def first_run(
    directory: str, barrier: multiprocessing.synchronize.Barrier, n: int, results: Any
) -> None:
    """One of several first runs at once: put '' in `results` when every state file worked."""
    barrier.wait()
    results.put(_use_state(Path(directory), n))


def _use_state(state: Path, n: int) -> str:
    try:
        with Registry.open(state) as registry:
            p = Pattern(id=f"p{n}", service="api", level="error", template=f"boom {n} <*>")
            p.count, p.first_seen, p.last_seen = 1, 1.8e9, 1.8e9
            registry.assign([p])
        with DigestStore.open(state) as store:
            store.record(SentDigest(f"d{n}", 1.8e9, 1.8e9 + 60, 1.8e9, "x"))
        cache = CachedEmbedder(Fixed(), state / "embeddings.sqlite3")
        cache.embed([f"text {n}"])
        with cache._open() as db:  # the cache must have been created, not skipped
            assert db.execute("PRAGMA user_version").fetchone()[0] == CACHE_SCHEMA_VERSION
    except Exception as exc:  # reported to the test, which shows every failure
        return f"{type(exc).__name__}: {exc}"
    return ""


def test_first_runs_at_once_all_find_a_whole_schema(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    failures: list[str] = []
    for round_ in range(ROUNDS):
        directory = tmp_path / f"state{round_}"
        directory.mkdir()
        barrier, results = context.Barrier(RUNS_AT_ONCE), context.SimpleQueue()
        runs = [
            context.Process(target=first_run, args=(str(directory), barrier, n, results))
            for n in range(RUNS_AT_ONCE)
        ]
        for process in runs:
            process.start()
        for process in runs:
            process.join(timeout=120)
            assert process.exitcode == 0
        failures += [r for r in (results.get() for _ in runs) if r]
        assert failures == []
        with Registry.open(directory) as registry:
            rows = registry._db.execute("SELECT count(*) FROM patterns").fetchone()[0]
        assert rows == RUNS_AT_ONCE


def test_an_old_unversioned_embedding_cache_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "embeddings.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE vectors (model TEXT, text TEXT, vector BLOB, PRIMARY KEY (model, text))"
        )
        vector = np.full(384, 0.5, dtype=np.float32).tobytes()
        db.execute("INSERT INTO vectors VALUES ('all-MiniLM-L6-v2', 'old text', ?)", (vector,))
    got = CachedEmbedder(Fixed(), path).embed(["old text"])
    assert float(got[0][0]) == 0.5
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == CACHE_SCHEMA_VERSION


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` made unwritable for this process: permissions, or (as root, whom permissions do
    not stop) the immutable attribute; skips when neither is possible here."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a file read-only")
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {made.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("logsense: error: "), stderr
    return lines[0]


def state_of(cli: Cli, state: Path) -> Callable[..., tuple[int, str, str]]:
    fixture = str(FIXTURES / "search_timeouts_minor.jsonl.gz")
    return lambda *args: cli("triage", "-s", fixture, "--state-dir", str(state), "--no-llm",
                             "-q", "-f", "json", *args)  # fmt: skip


def test_a_read_only_registry_is_not_called_damaged(cli: Cli, tmp_path: Path) -> None:
    run = state_of(cli, tmp_path)
    assert run()[0] == 0
    registry = registry_path(tmp_path)
    before = registry.read_bytes()
    with read_only(registry):
        code, out, err = run()
        assert code == 2 and out == ""
        line = one_error_line(err)
        assert "cannot be written" in line and str(registry) in line
        assert "--reset-state" not in line and "unreadable" not in line
        assert "chmod" in line and "not damaged" in line
    assert registry.read_bytes() == before


def test_a_damaged_registry_still_names_the_way_out(cli: Cli, tmp_path: Path) -> None:
    registry_path(tmp_path).write_bytes(b"this is no database" * 100)
    code, _, err = state_of(cli, tmp_path)()
    assert code == 2
    line = one_error_line(err)
    assert "unreadable" in line and "--reset-state" in line
