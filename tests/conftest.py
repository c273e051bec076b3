"""Session-wide fixtures: the real embedding model and CLI helpers, loaded or started once."""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import orjson
import pytest
from esnode import EsNode, EsNodeError, start_node, unavailable_reason  # tests/ is on sys.path
from typer.testing import CliRunner

from logsense.analyze.embed import MiniLMEmbedder, default_embedder
from logsense.cli import app

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
SHARED_DATA = REPO.parent / "shared" / "data"


@functools.cache
def generator() -> ModuleType:
    """`fixtures/generate.py` as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location(
        "logsense_fixture_generator", FIXTURES / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    """The real bundled all-MiniLM-L6-v2, shared by every test (the CLI uses the same one)."""
    return default_embedder()


@pytest.fixture(autouse=True)
def _isolated_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never read the developer's own config or state."""
    monkeypatch.setenv("LOGSENSE_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    monkeypatch.delenv("LOGSENSE_CONFIG", raising=False)
    # Read in this process unless a test gives --workers (tests/test_dask.py).
    monkeypatch.delenv("LOGSENSE_WORKERS", raising=False)
    # One reading thread unless a test asks for more (tests/test_native_scan.py does).
    monkeypatch.setenv("LOGSENSE_THREADS", "1")
    # A developer's real key must never send test logs to a real model.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


class Cli:
    """Runs `logsense` in-process like a user would type it, and parses JSON output."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: bytes | None = None) -> tuple[int, str, str]:
        result = self.runner.invoke(app, list(args), input=input, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    def json(self, *args: str) -> dict:
        code, out, err = self(*args, "--format", "json", "--quiet")
        assert code == 0, err
        return orjson.loads(out)


@pytest.fixture(scope="session")
def cli() -> Iterator[Cli]:
    yield Cli()


@pytest.fixture(scope="session")
def es_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EsNode]:
    """One real Elasticsearch 8.14.3 test node for the whole session (skips when not built).

    Its log is kept under pytest's tmp dir; a failed start, or a node that died during the
    session, fails with the log's tail.
    """
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"Elasticsearch test node: {reason}")
    log = tmp_path_factory.mktemp("es-node") / "node.log"
    try:
        node = start_node(log_path=log)
    except EsNodeError as exc:
        pytest.fail(f"the Elasticsearch test node did not start: {exc}", pytrace=False)
    with node:
        yield node
        if not node.is_running():
            pytest.fail(f"the Elasticsearch test node died; log {log}:\n{node.log_tail()}")


def needs_shared_data() -> pytest.MarkDecorator:
    """Skip when ../shared/data (Loghub) is absent, as in a user's clone."""
    return pytest.mark.skipif(
        not SHARED_DATA.is_dir(),
        reason=f"{SHARED_DATA} is absent (it exists only beside the project's own checkout)",
    )


os.environ.setdefault("HF_HUB_OFFLINE", "1")
