"""The exceptions logsense raises, and the exit code each one maps to at the CLI edge.

    LogsenseError                 exit 1   anything logsense itself reports as a failure
    ├── OutputError               exit 1   the report could not be written (a full disk)
    ├── UsageError                exit 2   an option or config value that cannot work
    ├── InputError                exit 3   no usable input: missing file, empty input, empty window
    ├── SourceUnavailable         exit 4   a server (Elasticsearch, LLM, SMTP) did not answer
    ├── LoginRefused              exit 5   the mail server refused the login or TLS
    └── DeliveryRefused           exit 6   the mail server refused sender, recipient or data

    KeyboardInterrupt             exit 130 Ctrl-C
    └── Terminated                exit 143 SIGTERM (`cli.main` raises it from its handler)

Library code raises these with a one-line, user-facing message; the command line (`cli/`) prints
the message and exits with the code. Set `LOGSENSE_DEBUG=1` to see the traceback instead.
"""

from __future__ import annotations

__all__ = [
    "DeliveryRefused",
    "InputError",
    "LoginRefused",
    "LogsenseError",
    "OutputError",
    "SourceUnavailable",
    "Terminated",
    "UsageError",
]


class LogsenseError(Exception):
    """A failure logsense explains in one line; `exit_code` is what the CLI returns."""

    exit_code = 1


class OutputError(LogsenseError):
    """Writing the report (or a chart, a message file) failed on the way: a full disk, I/O."""


class UsageError(LogsenseError):
    """An option, flag or config value that cannot work as given."""

    exit_code = 2


class InputError(LogsenseError):
    """The input holds nothing to triage: missing or unreadable file, no events, empty window."""

    exit_code = 3


class SourceUnavailable(LogsenseError):
    """A server logsense reads from or talks to did not answer; the message names its URL."""

    exit_code = 4


class LoginRefused(LogsenseError):
    """The mail server refused the login (or the secure connection a login needs)."""

    exit_code = 5


class DeliveryRefused(LogsenseError):
    """The mail server refused the sender, a recipient or the message; nothing was sent."""

    exit_code = 6


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM). A KeyboardInterrupt, so that nothing that
    handles ordinary failures (`except Exception`) swallows it; it ends the run like Ctrl-C."""
