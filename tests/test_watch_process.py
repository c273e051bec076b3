"""`logsense watch` as a process: killed with SIGKILL it neither repeats nor loses an alert;
SIGTERM lets the tick under way finish and exits 0.

A generated incident, still going on at the real "now", is in the followed file; alerts go to a
loopback webhook that first refuses them (503), so they wait in the outbox when the first
watcher is killed. The second watcher delivers them, each once, and is stopped with SIGTERM in
the middle of its first tick; a third one, killed after a few ticks, adds nothing.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from alert_receiver import Receiver
from worlds import Feed, events_of, incident_world, minutes_ago

from tests.conftest import REPO

SECRET = "process-test-secret"


class Watch:
    """`logsense watch` in its own process; its stderr lines are collected as they come."""

    def __init__(self, log: Path, state: Path, url: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1",
               "LOGSENSE_WEBHOOK_SECRET": SECRET, "LOGSENSE_THREADS": "1"}  # fmt: skip
        self.process = subprocess.Popen(
            [sys.executable, "-m", "logsense", "watch", "-s", str(log), "--follow", "--every",
             "1s", "--since", "15m", "--state-dir", str(state), "--webhook", url,
             "--sink-timeout", "5", "--sink-retries", "100", "--no-llm"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=env,
        )  # fmt: skip
        self.lines: list[str] = []
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.process.kill()
                pytest.fail(f"no {text!r} from logsense watch; it said:\n" + "\n".join(self.lines))
            time.sleep(0.02)


def outbox(state: Path) -> list[tuple[str, str, float | None]]:
    """(alert id, kind, delivered at) of every outbox row, read as another process would."""
    with sqlite3.connect(state / "watch-default.sqlite3", timeout=30) as db:
        return db.execute(
            "SELECT alert_id, kind, delivered_at FROM outbox ORDER BY rowid"
        ).fetchall()


def wait_until(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)


def test_kill_9_neither_repeats_nor_loses_an_alert_and_sigterm_ends_a_tick(
    tmp_path: Path,
) -> None:
    scenario = incident_world(5, 45, 1.0, minutes_ago(45))
    scenario.incidents[0].start_minute, scenario.incidents[0].end_minute = 30.0, 45.0
    log, state = tmp_path / "live.jsonl", tmp_path / "state"
    Feed(events_of(scenario, 5)).append_until(log, time.time() + 1)
    receiver = Receiver(secret=SECRET.encode(), status=503)
    try:
        # 1. The alert is committed to the outbox; its delivery fails; SIGKILL.
        first = Watch(log, state, receiver.url)
        wait_until(lambda: len(receiver.attempts) >= 2, 120)  # a first try and a retry
        first.wait_for("tick 3:")  # later ticks make no second alert of the same transition
        first.process.kill()
        assert first.process.wait(30) == -signal.SIGKILL
        rows = outbox(state)
        assert rows and all(delivered is None for _, _, delivered in rows)
        assert "new" in {kind for _, kind, _ in rows}
        assert {r.headers["x-logsense-alert-id"] for r in receiver.attempts} <= {
            alert_id for alert_id, _, _ in rows
        }
        # 2. Restarted: the outbox goes out; SIGTERM in the middle of its first tick.
        receiver.status = 200
        second = Watch(log, state, receiver.url)
        second.wait_for("logsense: watching")
        second.process.send_signal(signal.SIGTERM)
        assert second.process.wait(60) == 0
        second.wait_for("stopped (SIGTERM) after 1 ticks")
        assert any(line.startswith("logsense: tick 1:") for line in second.lines)
        assert not any("error" in line for line in second.lines), second.lines
        # 3. A third run ticks a few times and is killed: nothing more goes out.
        third = Watch(log, state, receiver.url)
        third.wait_for("tick 3:")
        third.process.kill()
        third.process.wait(30)
    finally:
        receiver.close()
    delivered = [r.headers["x-logsense-alert-id"] for r in receiver.accepted]
    assert sorted(delivered) == sorted(alert_id for alert_id, _, _ in rows)  # each once, all
    assert all(r.signed for r in receiver.accepted)
    assert [kind for _, kind, _ in outbox(state)] == [kind for _, kind, _ in rows]
