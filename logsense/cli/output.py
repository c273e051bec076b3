"""Writing a report to stdout, whose reader may stop early."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer


@contextmanager
def stdout_reader_may_leave() -> Iterator[None]:
    """End quietly with exit 0 when whoever reads stdout stops early (`| head`), as Unix tools
    do: the reader took what it wanted."""
    try:
        yield
    except BrokenPipeError:
        raise typer.Exit(0) from None
