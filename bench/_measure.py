"""Shared by the benchmarks: run a command in a child process, time it, read its peak RSS."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

__all__ = ["Run", "measure"]

# A fresh wrapper per command, so RUSAGE_CHILDREN holds that command's peak and nothing else's;
# the command's own process (not its children: the embedding model runs in one) is watched for
# its high-water mark while it runs.
_WRAPPER = """
import resource, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
own = 0
while child.poll() is None:
    try:
        with open(f"/proc/{child.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    own = max(own, int(line.split()[1]))
    except OSError:
        pass
    time.sleep(0.02)
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(elapsed, peak, child.returncode, own)
"""


@dataclass(frozen=True)
class Run:
    """One measured command: wall seconds, the peak resident memory of its largest process,
    and that of its own process (0 where /proc cannot tell)."""

    seconds: float
    peak_mib: float
    own_peak_mib: float = 0.0


def measure(command: list[str]) -> Run:
    """Run `command` to completion and return its wall time and peak RSS; exit on failure."""
    out = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *command], capture_output=True, text=True, check=True
    ).stdout.split()
    seconds, peak_kib, code, own_kib = float(out[0]), int(out[1]), int(out[2]), int(out[3])
    if code != 0:
        raise SystemExit(f"benchmark command failed with exit {code}: {' '.join(command)}")
    return Run(seconds, peak_kib / 1024, own_kib / 1024)
