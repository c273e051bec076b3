"""Shared by the benchmarks: run a command in a child process, time it, read its peak RSS."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

__all__ = ["Run", "measure"]

# A fresh wrapper per command, so RUSAGE_CHILDREN holds that command's peak and nothing else's.
_WRAPPER = """
import resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
elapsed = time.perf_counter() - start
print(elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode)
"""


@dataclass(frozen=True)
class Run:
    """One measured command: wall seconds and the peak resident memory of its process."""

    seconds: float
    peak_mib: float


def measure(command: list[str]) -> Run:
    """Run `command` to completion and return its wall time and peak RSS; exit on failure."""
    out = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *command], capture_output=True, text=True, check=True
    ).stdout.split()
    seconds, peak_kib, code = float(out[0]), int(out[1]), int(out[2])
    if code != 0:
        raise SystemExit(f"benchmark command failed with exit {code}: {' '.join(command)}")
    return Run(seconds, peak_kib / 1024)
