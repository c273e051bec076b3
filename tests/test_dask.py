"""`--workers`: reading on a real Dask distributed cluster gives the single-process report.

A session-wide `distributed.LocalCluster` with two worker processes (one thread each) reads
files cut at event starts and the slices of an Elasticsearch point in time (the real test
node); the reports must equal those of one process, also when a worker is killed mid-read.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import logging
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from distributed import Client, LocalCluster
from tcp_relay import Relay

from logsense.config import FieldMap, load_settings
from logsense.sources import workers as cluster
from logsense.sources.elasticsearch import EsConnection
from logsense.sources.files import FileSource
from logsense.sources.load import load_file
from logsense.sources.records import event_table
from logsense.sources.window import WindowSpec, cut, new_table
from logsense.sources.workers import ClusterSource
from tests.conftest import FIXTURES, Cli, generator
from tests.test_elasticsearch import one_error_line
from tests.test_native_scan import docker_records


@pytest.fixture(scope="session")
def scheduler() -> Iterator[str]:
    """The address of a local cluster: two worker processes with one thread each."""
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as local:
        yield local.scheduler_address


@pytest.fixture(scope="session")
def client(scheduler: str) -> Iterator[Client]:
    with Client(scheduler, set_as_default=False) as watcher:
        yield watcher


@pytest.fixture(autouse=True)
def _small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut the small test inputs in several slices, as a large file is."""
    monkeypatch.setattr(cluster, "_MIN_SLICE", 256 << 10)


@pytest.fixture(scope="module")
def json_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 15k lines of a recorded incident, as JSON lines (about 4 MB)."""
    return _head(FIXTURES / "checkout_db_pool.jsonl.gz", 15_000, tmp_path_factory)


@pytest.fixture(scope="module")
def text_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 30k lines of a recorded incident as text, a third of them stack trace lines."""
    return _head(FIXTURES / "orders_deploy_npe.log.gz", 30_000, tmp_path_factory)


def _head(fixture: Path, lines: int, factory: pytest.TempPathFactory) -> Path:
    with gzip.open(fixture, "rb") as stream:
        head = [stream.readline() for _ in range(lines)]
    path = factory.mktemp("dask") / fixture.name.removesuffix(".gz")
    path.write_bytes(b"".join(head))
    return path


def triage(cli: Cli, *args: str, workers: str | None = None) -> dict[str, Any]:
    more = ("--workers", workers) if workers else ()
    return cli.json("triage", *args, "--no-llm", "--reset-state", *more)


# --- files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["json_file", "text_file"])
def test_file_triage_on_the_cluster_is_the_single_process_report(
    cli: Cli, scheduler: str, name: str, request: pytest.FixtureRequest
) -> None:
    path = str(request.getfixturevalue(name))
    alone = triage(cli, "-s", path, "--since", "30m")
    spread = triage(cli, "-s", path, "--since", "30m", workers=scheduler)
    assert alone["issues"] and alone["totals"]["events"] > 5000
    assert spread == alone


@pytest.mark.parametrize("name", ["json_file", "text_file"])
def test_a_known_window_is_sampled_on_the_cluster_as_in_one_process(
    cli: Cli, scheduler: str, name: str, request: pytest.FixtureRequest
) -> None:
    """Each worker samples its slices as it reads; their counts merge, and the sample's level
    depends only on the events read: the report is the single process's."""
    path = request.getfixturevalue(name)
    last = path.read_bytes().rstrip().rsplit(b"\n", 1)[-1]
    stamp = orjson.loads(last)["@timestamp"] if last.startswith(b"{") else last.split()[0]
    until = datetime.fromisoformat(str(stamp, "ascii") if isinstance(stamp, bytes) else stamp)
    window = ["--from", (until - timedelta(minutes=10)).isoformat(), "--until",
              (until + timedelta(seconds=1)).isoformat(), "--sample-events", "400"]  # fmt: skip
    alone = triage(cli, "-s", str(path), *window)
    spread = triage(cli, "-s", str(path), *window, workers=scheduler)
    assert alone["totals"]["sampling"] is not None and alone["issues"]
    assert spread == alone


def test_only_the_rows_from_the_baseline_on_travel(json_file: Path, scheduler: str) -> None:
    """A window that ends at the file's newest event is placed from the slices' events per
    hour first; the rows before its baseline stay on the workers, counted as outside."""
    settings = load_settings(None)
    spec = WindowSpec.from_options("2m", None, None)
    alone = FileSource.from_settings(str(json_file), settings)
    whole = new_table(spec, None, settings.fields, alone.name)
    alone.fill(whole)
    inner = FileSource.from_settings(str(json_file), settings)
    spread = new_table(spec, None, settings.fields, inner.name)
    ClusterSource(inner, scheduler, spec, None, settings).fill(spread)
    expected, got = cut(whole, spec, None, 5), cut(spread, spec, None, 5)
    kept = expected.aggregate.events + expected.aggregate.baseline_events
    assert 0 < kept == spread.rows < whole.rows == 15_000 - alone.stats.malformed
    assert (got.window, got.outside, got.earliest_seen) == (
        expected.window, expected.outside, expected.earliest_seen,
    )  # fmt: skip
    assert inner.stats == alone.stats


def test_slices_cut_at_event_starts_read_as_the_whole_file(text_file: Path, tmp_path: Path) -> None:
    """Ranges between `event_start`s, wherever the cuts fall (inside stack traces, inside a
    line, on a BOM, past a too-long line), hold every event once, numbered as in the file."""
    data = text_file.read_bytes()
    odd = b"\xef\xbb\xbf" + data.split(b"\n", 1)[0] + b"\n" + b"x" * 3000 + b"\n"
    text = tmp_path / "odd.log"
    text.write_bytes(data[: len(data) // 2] + odd + data[len(data) // 2 :])
    lines = tmp_path / "lines.jsonl"
    with gzip.open(FIXTURES / "checkout_db_pool.jsonl.gz", "rb") as stream:
        lines.write_bytes(stream.read(3 << 20) + b"\n")  # its last line cut short
    docker = tmp_path / "docker.jsonl"  # stack traces shipped one line per record
    docker.write_bytes(b"\n".join(docker_records(400)) + b"\n")
    for kind, path in (("text", text), ("json", lines), ("json", docker)):
        whole = _reader(path)
        assert whole.slicing() == kind
        table = event_table(FieldMap(), whole.name)
        whole.fill(table)
        expected = _view(table, whole.stats)
        size = path.stat().st_size
        cuts = [0, *sorted(random.Random(7).sample(range(1, size), 9)), size]
        starts = []  # (first byte, its line number) of each slice
        line = 1  # the number of the line at the cut
        for before, offset in itertools.pairwise([0, *cuts[:-1]]):
            line += cluster._newlines(str(path), before, offset)
            start, skipped = _reader(path).event_start(offset, kind)
            starts.append((start, line + skipped))
        merged, stats = event_table(FieldMap(), whole.name), _reader(path).stats
        for (start, line), end in zip(starts, [*(s for s, _ in starts[1:]), size], strict=True):
            part, table = _reader(path), event_table(FieldMap(), whole.name)
            part.fill_range(table, start, end, line, kind)
            merged.merge(table.partial())
            stats.merge(part.stats)
        assert _view(merged, stats) == expected


def _reader(path: Path) -> FileSource:
    return FileSource(str(path), FieldMap(), max_line=2048, now=1.8e9)


def _view(table: Any, stats: Any) -> dict[str, Any]:
    """What a triage takes from a table: every shape's stats, in order, and the counts."""
    aggregate = table.aggregate(0.0, 0.0, 4e9, 5)
    shapes = [
        (s.service, s.masked, s.fingerprint, s.count, s.first_position, s.per_minute,
         s.requests, s.samples, s.durations, s.slots)
        for s in aggregate.shapes
    ]  # fmt: skip
    counts = {k: v for k, v in vars(stats).items() if k != "notes"}
    return {"shapes": shapes, "rows": table.row_shapes(), "stats": counts, "hops": aggregate.hops,
            "instances": table.instances()}  # fmt: skip


# --- Elasticsearch -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def es_index(es_node: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """About 9k generated events (an incident in it) in the index `dask`."""
    gen = generator()
    scenario = gen.with_overrides(gen.random_scenario(seed=5, kind="major"), minutes=30, rps=1.5)
    events, _ = gen.generate(scenario, seed=5)
    path = tmp_path_factory.mktemp("dask-es") / "events.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    result = load_file(EsConnection(es_node.url), str(path), "dask", FieldMap())
    assert result.rejected == 0, result.rejections
    return "dask"


def index_args(url: str, *more: str) -> list[str]:
    return ["--index", "dask", "--es-url", url, "--since", "10m", "--until", "latest", *more]


@pytest.fixture(scope="module")
def index_report(cli: Cli, es_node: Any, es_index: str) -> dict[str, Any]:
    """The single-process report of the index."""
    return triage(cli, *index_args(es_node.url))


@pytest.mark.es
def test_index_triage_on_the_cluster_is_the_single_process_report(
    cli: Cli, scheduler: str, es_node: Any, index_report: dict[str, Any]
) -> None:
    spread = triage(cli, *index_args(es_node.url, "--slices", "3"), workers=scheduler)
    assert index_report["issues"] and index_report["totals"]["events"] > 1000
    assert spread == index_report


@pytest.mark.es
def test_a_pushdown_on_the_cluster_is_the_single_process_pushdown(
    cli: Cli, scheduler: str, es_node: Any, es_index: str
) -> None:
    args = index_args(es_node.url, "--sample-events", "1000", "--slices", "3")
    alone = triage(cli, *args)
    spread = triage(cli, *args, workers=scheduler)
    sampling = alone["totals"]["sampling"]
    assert sampling is not None and sampling["read_sampled"] > 0, "no sample: raise the world"
    assert alone["issues"] and spread == alone


class _SlowRelay(Relay):
    """A relay that takes its time with every piece it forwards: a slow network."""

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(16384):
                time.sleep(0.01)
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


@pytest.mark.es
def test_a_worker_killed_mid_slice_leaves_the_report_whole(
    cli: Cli, scheduler: str, client: Client, es_node: Any, index_report: dict[str, Any]
) -> None:
    relay = _SlowRelay(("127.0.0.1", int(es_node.url.rsplit(":", 1)[1])))
    spread: dict[str, Any] = {}
    args = index_args(relay.url, "--slices", "2", "--page-size", "500")
    reading = threading.Thread(
        target=lambda: spread.update(triage(cli, *args, workers=scheduler)), daemon=True
    )
    reading.start()
    victim = _busy_worker(client)
    os.kill(client.run(os.getpid, workers=[victim])[victim], signal.SIGKILL)
    reading.join(timeout=120)
    relay.cut()
    assert victim not in client.nthreads()  # its nanny started a new worker
    assert _slices_rerun(client) >= 1
    assert spread == {**index_report, "source": f"{relay.url}/dask"}


@pytest.mark.es
def test_the_node_lost_mid_read_is_one_line_and_no_report(
    cli: Cli, scheduler: str, client: Client, es_node: Any, es_index: str
) -> None:
    relay = _SlowRelay(("127.0.0.1", int(es_node.url.rsplit(":", 1)[1])))
    args = index_args(relay.url, "--page-size", "500", "--es-retries", "0", "-q")
    ended: list[tuple[int, str, str]] = []
    reading = threading.Thread(
        target=lambda: ended.append(cli("triage", *args, "--workers", scheduler)), daemon=True
    )
    reading.start()
    _busy_worker(client)
    relay.cut()
    reading.join(timeout=120)
    code, out, err = ended[0]
    assert code == 4 and not out
    one_error_line(err, f"Elasticsearch at {relay.url} did not answer")


@pytest.mark.es
def test_workers_that_keep_dying_end_the_run_without_a_report(
    cli: Cli, scheduler: str, client: Client, es_node: Any, es_index: str
) -> None:
    def allow(dask_scheduler: Any, failures: int) -> int:
        before: int = dask_scheduler.allowed_failures
        dask_scheduler.allowed_failures = failures
        return before

    relay = _SlowRelay(("127.0.0.1", int(es_node.url.rsplit(":", 1)[1])))
    args = index_args(relay.url, "--slices", "2", "--page-size", "500", "-q")
    ended: list[tuple[int, str, str]] = []
    reading = threading.Thread(
        target=lambda: ended.append(cli("triage", *args, "--workers", scheduler)), daemon=True
    )
    before = client.run_on_scheduler(allow, failures=0)
    try:
        reading.start()
        victim = _busy_worker(client)
        os.kill(client.run(os.getpid, workers=[victim])[victim], signal.SIGKILL)
        reading.join(timeout=120)
    finally:
        client.run_on_scheduler(allow, failures=before)
        relay.cut()
    code, out, err = ended[0]
    assert code == 4 and not out
    one_error_line(err, f"the Dask workers at {scheduler} died", "no report was made")


@pytest.mark.es
def test_the_scheduler_lost_mid_read_is_one_line_and_no_report(
    cli: Cli, es_node: Any, es_index: str
) -> None:
    relay = _SlowRelay(("127.0.0.1", int(es_node.url.rsplit(":", 1)[1])))
    args = index_args(relay.url, "--page-size", "500", "-q")
    ended: list[tuple[int, str, str]] = []
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as doomed,
        Client(doomed, set_as_default=False) as watcher,
    ):
        address = doomed.scheduler_address
        reading = threading.Thread(
            target=lambda: ended.append(cli("triage", *args, "--workers", address)), daemon=True
        )
        reading.start()
        _busy_worker(watcher)
    reading.join(timeout=120)
    relay.cut()
    code, out, err = ended[0]
    assert code == 4 and not out
    one_error_line(err, f"the Dask scheduler at {address}", "no report was made")


def _slices_rerun(client: Client) -> int:
    """Slices the scheduler took back from a worker that was running them (and gave again)."""

    def count(dask_scheduler: Any) -> int:
        return sum(
            1
            for key, start, finish, *_ in dask_scheduler.transition_log
            if "index_slice" in str(key) and start == "processing" and finish == "released"
        )

    return int(client.run_on_scheduler(count))


def _busy_worker(client: Client) -> str:
    """A worker in the middle of reading a slice (waits for one)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for worker, keys in client.processing().items():
            if any("index_slice" in str(key) for key in keys):
                time.sleep(0.3)  # some pages into it
                return str(worker)
        time.sleep(0.05)
    raise AssertionError("no worker started reading a slice")


# --- faults --------------------------------------------------------------------------------


def test_an_unreachable_scheduler_is_one_line(cli: Cli, json_file: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    code, out, err = cli("triage", "-s", str(json_file), "--workers", address, "-q")
    assert code == 4 and not out
    one_error_line(err, f"no Dask scheduler answered at {address}", "refused")


def test_a_cluster_without_workers_is_one_line(
    cli: Cli, json_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "_WORKERS_TIMEOUT", 1.0)
    with LocalCluster(n_workers=0, dashboard_address=":0") as empty:
        address = empty.scheduler_address
        code, out, err = cli("triage", "-s", str(json_file), "--workers", address, "-q")
    assert code == 4 and not out
    one_error_line(err, f"the Dask scheduler at {address} has no workers")


def test_bad_worker_options_are_usage_errors(cli: Cli, json_file: Path, scheduler: str) -> None:
    code, _, err = cli("triage", "-s", str(json_file), "--workers", "scheduler", "-q")
    assert code == 2
    one_error_line(err, "--workers 'scheduler'", "tcp://HOST:8786")
    code, _, err = cli("triage", "-s", "-", "--workers", scheduler, "-q", input=b"{}\n")
    assert code == 2
    one_error_line(err, "not stdin")


def test_a_worker_of_another_version_is_refused(
    cli: Cli, json_file: Path, scheduler: str, client: Client
) -> None:
    worker = sorted(client.nthreads())[0]

    def set_version(version: str) -> str:
        import logsense  # a worker started again since has not imported it yet

        old: str = logsense.__version__
        logsense.__version__ = version
        return old

    old = client.run(set_version, "0.0.1", workers=[worker])[worker]
    try:
        code, out, err = cli("triage", "-s", str(json_file), "--workers", scheduler, "-q")
    finally:
        client.run(set_version, old, workers=[worker])
    assert code == 2 and not out
    one_error_line(err, f"the Dask worker {worker} runs logsense 0.0.1", "same version")


def test_a_relative_path_reaches_workers_elsewhere(
    cli: Cli, json_file: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers do not share the driver's working directory: the path they get is absolute,
    while the report names the file as it was given."""
    monkeypatch.chdir(json_file.parent)
    alone = triage(cli, "-s", json_file.name, "--since", "30m")
    spread = triage(cli, "-s", json_file.name, "--since", "30m", workers=scheduler)
    assert spread == alone
    assert spread["source"] == json_file.name
