"""Writing a report: to stdout, whose reader may stop early, or to a file that may not be
writable. Either way a failure is one line and a documented exit code, never a traceback."""

from __future__ import annotations

import errno
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import typer

from logsense.errors import OutputError, UsageError

__all__ = ["output_errors", "report_output", "stdout_reader_may_leave"]

# An --out that cannot be opened is a bad option value (exit 2); a write that fails on the way
# (a full disk, an I/O error) is an output failure (exit 1).
_BAD_PATH = {
    errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EISDIR, errno.EROFS,
    errno.ENAMETOOLONG, errno.ELOOP, errno.EEXIST,
}  # fmt: skip


@contextmanager
def stdout_reader_may_leave() -> Iterator[None]:
    """End quietly with exit 0 when whoever reads stdout stops early (`| head`), as Unix tools
    do: the reader took what it wanted."""
    try:
        yield
    except BrokenPipeError:
        raise typer.Exit(0) from None


@contextmanager
def output_errors(target: Path | str) -> Iterator[None]:
    """Turn an OSError while writing `target` into one line: UsageError when the path cannot be
    written at all (a missing directory, no permission), OutputError when writing failed."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        where = exc.filename or target
        reason = exc.strerror or str(exc)
        if exc.errno in _BAD_PATH:
            hint = " (its directory does not exist)" if exc.errno == errno.ENOENT else ""
            raise UsageError(f"cannot write {where}: {reason}{hint}") from None
        raise OutputError(f"cannot write {where}: {reason}") from None


@contextmanager
def report_output(out: Path | None) -> Iterator[TextIO]:
    """Where a report is written: the file `out`, else stdout (flushed before leaving, so a
    full disk is reported here, not lost at exit)."""
    if out is None:
        with stdout_reader_may_leave(), output_errors("stdout"):
            yield sys.stdout
            sys.stdout.flush()
        return
    with output_errors(out), out.open("w", encoding="utf-8") as handle:
        yield handle
