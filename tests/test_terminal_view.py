"""The terminal view as an on-call engineer meets it: in a real terminal (tmux) of 80 and 120
columns, and piped. The title is always there, the table fits, NO_COLOR is obeyed."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.browser import dom_of, needs_chromium
from tests.conftest import FIXTURES, Cli

FIXTURE = FIXTURES / "orders_deploy_npe.jsonl.gz"
DONE = "__logsense_done__"
# SGR codes that set a colour (foreground, background, 256 and true colour), not bold or dim.
# (39 and 49, back to the default colours, are tmux's own resets.)
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")
ROW = re.compile(r"^│\s*\d+\s*│")

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def in_tmux(tmp_path: Path, width: int, **env: str) -> tuple[str, str]:
    """Run `logsense triage` on the fixture in a tmux pane `width` columns wide; return the
    screen as text and with its escape sequences."""
    # A server of its own per call: one being killed may still hold the name of the last.
    server, session = f"logsense-test-{os.getpid()}-{uuid.uuid4().hex[:8]}", f"w{width}"
    settings = {
        "HF_HUB_OFFLINE": "1", "LOGSENSE_STATE_DIR": str(tmp_path / f"state-{width}"),
        "LOGSENSE_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path), **env,
    }  # fmt: skip
    command = shlex.join(
        ["env", "-u", "COLUMNS", "-u", "LINES", *(f"{k}={v}" for k, v in settings.items()),
         sys.executable, "-m", "logsense",
         "triage", "-s", str(FIXTURE), "--since", "1h", "--no-llm"]
    )  # fmt: skip
    tmux = ["tmux", "-L", server]
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", session, "-x", str(width), "-y", "80",
         f"{command}; echo {DONE}; sleep 120"],
        check=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while True:
            screen = _capture(tmux, session)
            if DONE in screen or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        return screen, _capture(tmux, session, "-e")
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)


def _capture(tmux: list[str], session: str, *flags: str) -> str:
    found = subprocess.run(
        [*tmux, "capture-pane", "-p", *flags, "-t", session, "-S", "0"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return found.stdout


def check_screen(screen: str, width: int) -> None:
    lines = screen.split(DONE)[0].rstrip("\n").splitlines()
    assert all(len(line) <= width for line in lines)
    header = next(line for line in lines if "┃" in line and "#" in line)
    assert "issue" in header and "severity" in header
    rows = [line for line in lines if ROW.match(line)]
    assert 1 <= len(rows) <= 8
    assert "NullPointerException" in rows[0], rows[0]
    assert any("--all lists them" in line for line in lines)
    assert any(line.startswith("Changes:") for line in lines)


@needs_tmux
def test_eighty_columns_show_the_title_and_obey_no_color(tmp_path: Path) -> None:
    screen, raw = in_tmux(tmp_path, 80, NO_COLOR="1", TERM="xterm-256color")
    check_screen(screen, 80)
    assert "\x1b[" in raw, "the capture carries escape sequences (bold, dim)"
    assert not COLOUR.search(raw)


@needs_tmux
def test_a_wide_terminal_adds_columns_and_colour(tmp_path: Path) -> None:
    screen, raw = in_tmux(tmp_path, 120, TERM="xterm-256color")
    check_screen(screen, 120)
    header = next(line for line in screen.splitlines() if "┃" in line and "#" in line)
    assert "since" in header and "requests" in header
    assert COLOUR.search(raw)


def test_piped_output_keeps_the_title(cli: Cli) -> None:
    code, out, err = cli("triage", "-s", str(FIXTURE), "--since", "1h", "--no-llm")
    assert code == 0, err
    check_screen(out, 80)


def test_all_lists_what_the_default_view_folds(cli: Cli) -> None:
    _, folded, _ = cli("triage", "-s", str(FIXTURE), "--since", "1h", "--no-llm")
    _, everything, _ = cli("triage", "-s", str(FIXTURE), "--since", "1h", "--no-llm", "--all")
    count = sum(1 for line in everything.splitlines() if ROW.match(line))
    assert count > sum(1 for line in folded.splitlines() if ROW.match(line))
    assert "--all lists them" not in everything


def test_markdown_lists_the_changes_and_folds_the_rest(cli: Cli) -> None:
    code, out, err = cli("triage", "-s", str(FIXTURE), "--since", "1h", "--no-llm", "-f", "md")
    assert code == 0, err
    assert "## Changes" in out and "Deploying version" in out.split("## Changes")[1]
    assert "more, chronic or failing no request" in out
    sections = [line for line in out.splitlines() if re.match(r"## \d+\. ", line)]
    assert 1 <= len(sections) <= 8 and "NullPointerException" in sections[0]


@needs_chromium
def test_the_html_page_shows_the_changes_and_the_folded_count(cli: Cli, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    code, _, err = cli("triage", "-s", str(FIXTURE), "--since", "1h", "--no-llm", "-f", "html",
                       "-o", str(page))  # fmt: skip
    assert code == 0, err
    dom = dom_of(page, tmp_path)
    changes = dom.split("<h2>Changes</h2>")[1]
    assert "Rolling back to version" in changes and "rollback" in changes
    assert "more, chronic or failing no request" in dom
    assert len(re.findall(r'<h2 id="issue-', dom)) <= 8


@pytest.mark.skipif(shutil.which("logsense") is None, reason="the console script is not installed")
def test_shell_completion_is_offered() -> None:
    done = subprocess.run(
        ["logsense", "--show-completion", "bash"], capture_output=True, text=True, check=True,
        env={**os.environ, "SHELL": "/bin/bash"},
    )  # fmt: skip
    assert "_logsense_completion" in done.stdout and "complete " in done.stdout


@pytest.mark.skipif(shutil.which("script") is None, reason="util-linux script is not installed")
def test_waiting_for_the_model_says_so_on_a_terminal(tmp_path: Path) -> None:
    # A fresh state: no embedding is cached, so grouping waits for the model to load.
    command = shlex.join(
        ["env", f"LOGSENSE_STATE_DIR={tmp_path}", "HF_HUB_OFFLINE=1", sys.executable, "-m",
         "logsense", "triage", "-s", str(FIXTURE), "--since", "1h", "--no-llm"]
    )  # fmt: skip
    done = subprocess.run(
        ["script", "-q", "-e", "-c", f"{command} >/dev/null", "/dev/null"],
        capture_output=True, timeout=300, check=True,
    )  # fmt: skip
    assert b"loading the embedding model (all-MiniLM-L6-v2)" in done.stdout
