"""Stack-trace fingerprints: the exception type chain plus the top in-app frames, as Sentry does.

`fingerprint(text)` is `Type[<CauseType…]|frame|frame|frame` for a stack trace in `text` (the
whole event: the message line and the trace below it), or None if none is found. Line numbers are
left out (they move with every deploy); library frames are skipped so the fingerprint names where
*our* code failed. Java/JVM and Python traces are understood: a Java fingerprint chains every
exception type (`Caused by:` included) and names the first in-app frames; a Python one names the
last exception type and the innermost in-app frames first (`module.function`).

The implementation is in Rust, in `logsense/native/src/stacktrace.rs` (`logsense._native`).
"""

from __future__ import annotations

from logsense._native import fingerprint

__all__ = ["fingerprint"]
