"""Digest emails: what is new, worse, ongoing or resolved since the last digest.

    build.py     a triage Report + the last digest of the same name → a Digest
    classify.py  the rules for new / worse / ongoing / resolved
    state.py     the last digest per name, in the state directory (SQLite, schema version)
    links.py     the command or query that shows an issue's logs
    message.py   the email: subject, plain text, HTML with inline PNG charts
    mail.py      the recipients and sending over SMTP

`logsense digest` (`cli/digest.py`) runs triage → build → compose → send (or write) → record, and
records only what went out.
"""

from __future__ import annotations

from logsense.digest.build import Digest, DigestOptions, build, prepare, remember
from logsense.digest.classify import CHANGES, Change, Item, classify
from logsense.digest.message import compose, default_sender, subject
from logsense.digest.state import DigestStore, SentDigest, SentIssue

__all__ = [
    "CHANGES",
    "Change",
    "Digest",
    "DigestOptions",
    "DigestStore",
    "Item",
    "SentDigest",
    "SentIssue",
    "build",
    "classify",
    "compose",
    "default_sender",
    "prepare",
    "remember",
    "subject",
]
