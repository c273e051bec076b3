"""The exceptions logsense raises, and the exit code each one maps to at the CLI edge.

    LogsenseError                 exit 1   anything logsense itself reports as a failure
    ├── UsageError                exit 2   an option or config value that cannot work
    ├── InputError                exit 3   no usable input: missing file, empty input, empty window
    ├── SourceUnavailable         exit 4   a server (Elasticsearch, LLM, SMTP) did not answer
    ├── LoginRefused              exit 5   the mail server refused the login or TLS
    └── DeliveryRefused           exit 6   the mail server refused sender, recipient or data

Library code raises these with a one-line, user-facing message; the command line (`cli/`) prints
the message and exits with the code. Set `LOGSENSE_DEBUG=1` to see the traceback instead.
"""

from __future__ import annotations

__all__ = [
    "DeliveryRefused",
    "InputError",
    "LoginRefused",
    "LogsenseError",
    "SourceUnavailable",
    "UsageError",
]


class LogsenseError(Exception):
    """A failure logsense explains in one line; `exit_code` is what the CLI returns."""

    exit_code = 1


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
