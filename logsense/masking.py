"""Token masking: replace the variable parts of a log message with `<*>`, keep the meaningful ones.

Masked: numbers, hex, UUIDs, IPs (with ports), emails, durations and sizes, versions, ids that mix
letters and digits, variable path segments, values in `key=value`. Kept: words, exception class
names, and HTTP status codes where the context says they are one (`HTTP 503`, `status=502`,
`GET /x 500`, `503 Service Unavailable`), since a 500 and a 200 are different problems.

One pass over whitespace tokens; each token's verdict is cached, so repeated vocabulary costs a
dict lookup.
"""

from __future__ import annotations

import re

__all__ = ["WILDCARD", "mask"]

WILDCARD = "<*>"

_OPEN = "([{<\"'`"
_CLOSE = ")]}>\"'`,;:.!?"
_NUMBER = re.compile(r"[-+]?(?:\d+(?:[.,_]\d+)*|\.\d+)(?:e[-+]?\d+)?", re.I)
_NUMBER_WITH_UNIT = re.compile(
    r"[-+]?\d+(?:\.\d+)?(?:ns|us|µs|ms|s|sec|secs|m|min|mins|h|hr|hrs|d|b|kb|mb|gb|tb|kib|mib|"
    r"gib|tib|k|%|x)",
    re.I,
)
_HEX = re.compile(r"(?:0x[0-9a-f]+|[0-9a-f]*\d[0-9a-f]*)", re.I)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?")
_IPV6 = re.compile(r"\[?(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}\]?(?::\d+)?", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TIME = re.compile(r"\d{1,4}[-/:]\d{1,2}(?:[-/:T]\d{1,2})*(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?", re.I)
_VERSION = re.compile(r"v?\d+(?:\.\d+)+(?:[-+][\w.]+)?", re.I)
_KEY_VALUE = re.compile(r"([A-Za-z_][\w.\-]*)([=:])(.+)")
_URL = re.compile(r"([a-z][a-z0-9+.-]*://)([^/\s]*)(.*)", re.I)
_STATUS = re.compile(r"[1-5]\d\d")
_STATUS_KEYS = frozenset(
    {"status", "code", "status_code", "statuscode", "http_status", "http.status", "response"}
)
_STATUS_BEFORE = frozenset(
    {"http", "status", "code", "returned", "response", "responded", "got", "with", "error"}
)
_REASON_WORDS = frozenset(
    {"ok", "created", "accepted", "bad", "unauthorized", "forbidden", "not", "method",
     "conflict", "gone", "too", "internal", "service", "gateway", "request", "payload",
     "unprocessable", "no", "moved", "found", "see", "temporary", "permanent", "precondition"}
)  # fmt: skip

_VARIABLE = object()
_STATUS_CANDIDATE = object()
_cache: dict[str, str | object] = {}
_CACHE_LIMIT = 500_000


def mask(message: str) -> str:
    """`message` with variable tokens replaced by `<*>`, tokens joined by single spaces."""
    tokens = message.split()
    out: list[str] = []
    for index, token in enumerate(tokens):
        verdict = _cache.get(token)
        if verdict is None and token.isdigit():
            # Bare numbers are the most common variable; deciding them here keeps the cache small.
            verdict = _STATUS_CANDIDATE if len(token) == 3 and token[0] in "12345" else _VARIABLE
        elif verdict is None:
            verdict = _classify(token)
            if len(_cache) >= _CACHE_LIMIT:
                _cache.clear()
            _cache[token] = verdict
        if verdict is _VARIABLE:
            out.append(WILDCARD)
        elif verdict is _STATUS_CANDIDATE:
            out.append(token if _is_status(tokens, index) else WILDCARD)
        else:
            out.append(verdict)  # type: ignore[arg-type]
    return " ".join(out)


def _is_status(tokens: list[str], index: int) -> bool:
    before = tokens[index - 1].strip(_OPEN + _CLOSE).lower() if index else ""
    after = tokens[index + 1].strip(_OPEN + _CLOSE).lower() if index + 1 < len(tokens) else ""
    return before in _STATUS_BEFORE or before.startswith(("/", "http/")) or after in _REASON_WORDS


def _classify(token: str) -> str | object:
    """`_VARIABLE`, `_STATUS_CANDIDATE`, or the token's masked text."""
    core, prefix, suffix = _strip_affixes(token)
    if not core:
        return token
    if _STATUS.fullmatch(core) and not prefix and not suffix.strip(",.;:"):
        return _STATUS_CANDIDATE
    masked = _mask_core(core)
    if masked == WILDCARD and not prefix and not suffix:
        return _VARIABLE
    return prefix + masked + suffix


def _strip_affixes(token: str) -> tuple[str, str, str]:
    start, end = 0, len(token)
    while start < end and token[start] in _OPEN:
        start += 1
    while end > start and token[end - 1] in _CLOSE:
        end -= 1
    return token[start:end], token[:start], token[end:]


def _mask_core(core: str) -> str:
    if not any(ch.isdigit() for ch in core):
        if "@" in core and _EMAIL.fullmatch(core):
            return WILDCARD
        if "://" in core:
            return _mask_url(core)
        key_value = _KEY_VALUE.fullmatch(core)
        if key_value and key_value[2] == "=":
            return _mask_key_value(key_value)
        return core
    if _is_variable_value(core):
        return WILDCARD
    url = _URL.fullmatch(core)
    if url:
        return _mask_url(core)
    key_value = _KEY_VALUE.fullmatch(core)
    if key_value:
        return _mask_key_value(key_value)
    if "/" in core:
        return _mask_path(core)
    return WILDCARD if _looks_like_id(core) else core


def _is_variable_value(text: str) -> bool:
    return bool(
        _NUMBER.fullmatch(text)
        or _NUMBER_WITH_UNIT.fullmatch(text)
        or _UUID.fullmatch(text)
        or _IPV4.fullmatch(text)
        or (":" in text and _IPV6.fullmatch(text) and text.count(":") >= 2)
        or _EMAIL.fullmatch(text)
        or _TIME.fullmatch(text)
        or _VERSION.fullmatch(text)
        or (len(text) >= 4 and _HEX.fullmatch(text))
    )


def _mask_key_value(match: re.Match[str]) -> str:
    key, sep, value = match[1], match[2], match[3]
    if key.lower() in _STATUS_KEYS and _STATUS.fullmatch(value):
        return f"{key}{sep}{value}"
    if not any(ch.isdigit() for ch in value) and not _EMAIL.fullmatch(value):
        # A word value is usually an enum (state=RUNNING) and worth keeping.
        return f"{key}{sep}{_mask_core(value)}" if "://" in value else f"{key}{sep}{value}"
    return f"{key}{sep}{WILDCARD}"


def _mask_url(core: str) -> str:
    url = _URL.fullmatch(core)
    if not url:
        return core
    scheme, host, path = url[1], url[2], url[3]
    masked_host = WILDCARD if any(ch.isdigit() for ch in host) else host
    return scheme + masked_host + (_mask_path(path) if path else "")


def _mask_path(path: str) -> str:
    path, _, query = path.partition("?")
    segments = [
        WILDCARD if seg and (_is_variable_value(seg) or _looks_like_id(seg)) else seg
        for seg in path.split("/")
    ]
    masked = "/".join(segments)
    return masked + ("?" + WILDCARD if query else "")


def _looks_like_id(text: str) -> bool:
    """Letters and digits mixed the way generated ids are (`u-1234`, `x2k1p`, `blk_-1608`)."""
    digits = sum(ch.isdigit() for ch in text)
    if digits == 0:
        return False
    if digits >= 2 or len(text) >= 8:
        return True
    return any(part.isdigit() for part in re.split(r"[-_.]", text))
