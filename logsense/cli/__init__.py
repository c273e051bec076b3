"""The `logsense` command line: parses options, calls the library, renders. Nothing else.

One module per command (`triage.py`, `patterns.py`, `load.py`, `postmortem.py`, `digest.py`,
`watch.py`).
The options several commands share are declared once in `options.py`, in groups: a command
parameter typed with a group (`es: EsOptions`) stands for all of the group's options. Each
command imports the stages it runs when it runs: a triage never pays for loading the
Elasticsearch client, the digest's mail stack or an unused renderer.

Exit codes: 0 report written (or its reader stopped early) · 1 a failure (the report could not
be written, or an unexpected one) · 2 bad usage or config · 3 no usable input (missing file,
empty input, no events in the window) · 4 a server did not answer · 5 the mail server refused the
login · 6 the mail server refused a recipient (the digest went to nobody) · 130 interrupted
(Ctrl-C) · 143 terminated (SIGTERM).
"""

from __future__ import annotations

import atexit
import functools
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated, NoReturn, ParamSpec

import typer

from logsense import __version__
from logsense.cli import digest, formats, load, patterns, postmortem, triage, watch
from logsense.cli.options import spread_groups
from logsense.errors import LogsenseError, Terminated
from logsense.escape import one_line

__all__ = ["app", "main"]

app = typer.Typer(
    help="What is going wrong in production, and how many requests it hurts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)

P = ParamSpec("P")


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"logsense: error: {one_line(message)}", err=True)
    raise typer.Exit(code)


@contextmanager
def _errors_as_exit_codes() -> Iterator[None]:
    """Turn exceptions into one stderr line and an exit code (`LOGSENSE_DEBUG=1`: raise)."""
    debug = os.environ.get("LOGSENSE_DEBUG") == "1"
    try:
        yield
    except LogsenseError as exc:
        if debug:
            raise
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt as exc:
        _stopped(exc)
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except Exception as exc:
        if debug:
            raise
        where = traceback.extract_tb(exc.__traceback__)[-1]
        _fail(
            f"unexpected {type(exc).__name__}: {exc} "
            f"(at {Path(where.filename).name}:{where.lineno}; "
            "set LOGSENSE_DEBUG=1 for the traceback)",
            1,
        )


def _stopped(exc: KeyboardInterrupt) -> NoReturn:
    """The one line and exit code of a run stopped by Ctrl-C (130) or SIGTERM (143)."""
    if isinstance(exc, Terminated):
        _fail("terminated (SIGTERM)", 143)
    _fail("interrupted", 130)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM: stop the run as Ctrl-C does, through the same cleanup and one error line."""
    raise Terminated


def _with_exit_codes(command: Callable[P, None]) -> Callable[P, None]:
    """`command`, its failures turned into one stderr line and an exit code."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        with _errors_as_exit_codes():
            command(*args, **kwargs)

    return run


app.command()(_with_exit_codes(spread_groups(triage.triage)))
app.command()(_with_exit_codes(spread_groups(patterns.patterns)))
app.command()(_with_exit_codes(spread_groups(load.load)))
app.command()(_with_exit_codes(spread_groups(postmortem.postmortem)))
app.command()(_with_exit_codes(spread_groups(digest.digest)))
app.command()(_with_exit_codes(spread_groups(watch.watch)))
app.command()(_with_exit_codes(spread_groups(formats.formats)))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"logsense {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """What is going wrong in production, and how many requests it hurts."""


def main() -> None:
    """Console-script entry point: run the command, then end the process at once.

    SIGTERM ends the run like Ctrl-C (one line, exit 143), so cleanup runs: the embedding
    model's process is stopped, nothing is left half-written.
    """
    signal.signal(signal.SIGTERM, _terminate)
    try:
        try:
            app()
        except SystemExit as done:
            _exit_now(done.code)
        except KeyboardInterrupt as stopped:  # outside a command: while starting up
            _stopped(stopped)
    except typer.Exit as done:
        _exit_now(done.exit_code)
    except SystemExit as done:
        _exit_now(done.code)
    _exit_now(0)


def _exit_now(code: object) -> NoReturn:
    """Exit with `code` after the atexit handlers and flushed output, skipping module teardown.

    Tearing down the modules of SciPy and scikit-learn takes about 0.35 s, a tenth of a large
    triage; nothing in it matters once the output is written and the handlers have run. A second
    Ctrl-C or SIGTERM during this short cleanup is ignored rather than shown as a traceback.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe or stream: nothing left to say
            stream.flush()
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    os._exit(status)
