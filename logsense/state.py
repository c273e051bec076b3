"""Where logsense keeps state between runs: the pattern registry, digest state, the LLM cache.

One directory: `--state-dir`, else `LOGSENSE_STATE_DIR`, else the user's state directory
(`~/.local/state/logsense` on Linux).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from logsense.errors import UsageError

__all__ = ["state_dir"]


def state_dir(override: Path | None = None) -> Path:
    """The state directory, created if missing; UsageError if it cannot be."""
    chosen = override or Path(
        os.environ.get("LOGSENSE_STATE_DIR") or platformdirs.user_state_dir("logsense")
    )
    try:
        chosen.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the state directory {chosen}: {exc.strerror}") from None
    return chosen
