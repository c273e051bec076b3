"""Token masking: replace the variable parts of a log message with `<*>`, keep the meaningful ones.

A variable becomes one `<*>` however many characters it spans, and the text around it stays as it
was, so a masked message reads like the templates of the log-parsing literature (Khan et al.,
ICSE'22): `uid=<*>`, `(HWID=<*>)`, `core.<*>`, `node-<*>`, `'<*>'`.

Masked: numbers (with their units: `350ms`, `5.2 KB`, `1190 bytes (1.16 KB)`), hex, UUIDs, IPs and
host names (with ports), MACs, emails, times and dates, versions, ids that mix letters and digits,
generated ids behind a word prefix whose letters read as random rather than English
(`sess_bigenvnakjmcwjnm`, `cus_NffrFeUfNVHib`; by a letter-pair model of English words, see
`logsense/native/letter_pairs.py`), file paths, non-HTTP URLs, booleans and null. Kept: words,
exception class names, keys of `key=value`, the endpoint of an HTTP request (`GET
/api/v1/orders/<*>/items`, `http://<*>/metrics`) and HTTP error statuses where the context says they
are one (`HTTP 503`, `status=502`, `GET /x 500`, `503 Service Unavailable`), since a 500 and a 200
are different problems; a bare number must also be a code HTTP servers send (`returned 556 hits` is
a count). A path segment is masked in its parts, as an identifier is (`c-<*>`). Success statuses are
values. A client error (4xx) is kept too, except in a routine (info-level) message, where it is one
outcome of a request like any other.

The rules are implemented in Rust, in `logsense/native/src/masking.rs` (`logsense._native.mask`),
which masks a line in well under a microsecond and is called by the native event table too. Each
whitespace token is classified on its own; only a few rules look at the neighbouring tokens
(statuses, units, date words, HTTP methods).
"""

from __future__ import annotations

import re

from logsense._native import mask

__all__ = ["WILDCARD", "kept_statuses", "mask"]

WILDCARD = "<*>"

# `mask(message, routine=False)`: `message` with variable parts replaced by `<*>`, whitespace runs
# as one space. `routine` says the message was logged at info or debug level, where a client error
# status (4xx) is an ordinary outcome and is masked like a success status.

# A 3-digit number left in a masked message is a kept status, bare or as a value (`status=503`).
_KEPT_STATUS = re.compile(r"(?<![^\s=:(\[\"'])[1-5]\d\d(?![^\s,;:)\]\"'])")


def kept_statuses(masked: str) -> tuple[str, ...]:
    """The HTTP status codes `mask` kept in `masked`, in order (every other number is masked)."""
    return tuple(_KEPT_STATUS.findall(masked))
