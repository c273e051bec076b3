"""However logsense ends, its embedding model process ends with it, and a stopped run says so in
one line: SIGTERM (exit 143), Ctrl-C (130, to the whole process group, as a terminal sends it),
SIGKILL or the out-of-memory killer (the model process must notice by itself)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO

ENV = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(running(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if running(p)]


def start_triage(tmp_path: Path) -> tuple[subprocess.Popen[bytes], list[int]]:
    """A real triage in its own process group, once its model process has started."""
    run = subprocess.Popen(
        [sys.executable, "-m", "logsense", "triage", "-s",
         str(FIXTURES / "checkout_db_pool.jsonl.gz"), "--no-llm", "--state-dir",
         str(tmp_path / "state")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO, env=ENV,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (kids := children(run.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kids, "the model process never started"
    time.sleep(1.5)  # the model is loading, the parent reading and mining
    assert run.poll() is None
    return run, kids


@pytest.mark.parametrize(
    ("how", "code", "line"),
    [
        ("SIGTERM", 143, "logsense: error: terminated (SIGTERM)\n"),
        ("Ctrl-C", 130, "logsense: error: interrupted\n"),
        ("SIGKILL", -signal.SIGKILL, ""),
    ],
)
def test_a_stopped_triage_leaves_nothing_behind(
    tmp_path: Path, how: str, code: int, line: str
) -> None:
    run, kids = start_triage(tmp_path)
    try:
        started = time.monotonic()
        if how == "Ctrl-C":
            os.killpg(run.pid, signal.SIGINT)
        else:
            os.kill(run.pid, getattr(signal, how))
        # stderr is a pipe the model process would hold too: reading it to its end proves
        # that every process that had it is gone.
        _, err = run.communicate(timeout=30)
        assert time.monotonic() - started < 10
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        for kid in kids:
            if running(kid):
                os.kill(kid, signal.SIGKILL)
    assert run.returncode == code
    assert err.decode() == line
    assert wait_gone(kids, 10) == []


KILLED_WHILE_WAITING = """
import os, signal, sys
from logsense.analyze.embed import MiniLMEmbedder
embedder = MiniLMEmbedder()
embedder.embed(["disk full on <*>"])  # loaded, and now waiting in recv() for more
print(embedder._process.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would
"""


def test_the_model_process_ends_when_its_parent_is_killed() -> None:
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WHILE_WAITING], capture_output=True, cwd=REPO, env=ENV,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    model = int(done.stdout.split()[0])
    leftover = wait_gone([model], 10)
    for pid in leftover:
        os.kill(pid, signal.SIGKILL)
    assert leftover == []
