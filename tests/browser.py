"""Headless Chromium for the tests: the page a user's browser would build from our HTML.

`.ci/run` installs Debian's chromium; where it is absent the tests that need it skip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(), reason=f"{CHROMIUM} is absent (.ci/run installs it)"
)

# As root in a sandbox without a network: no sandbox, no GPU, nothing fetched in the background.
_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip


def chromium(page: Path, folder: Path, *flags: str, timeout: float = 90) -> str:
    """Open `page` in headless Chromium with `flags` (a fresh profile in `folder`); its stdout."""
    done = subprocess.run(
        [CHROMIUM, *_FLAGS, f"--user-data-dir={folder / 'profile'}", *flags, page.as_uri()],
        capture_output=True, timeout=timeout, check=True, text=True,
    )  # fmt: skip
    return done.stdout


def dom_of(page: Path, folder: Path) -> str:
    """The DOM Chromium built from `page`, after its scripts (if any) had time to run."""
    return chromium(page, folder, "--virtual-time-budget=3000", "--dump-dom")
