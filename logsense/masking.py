"""Token masking: replace the variable parts of a log message with `<*>`, keep the meaningful ones.

A variable becomes one `<*>` however many characters it spans, and the text around it stays as it
was, so a masked message reads like the templates of the log-parsing literature (Khan et al.,
ICSE'22): `uid=<*>`, `(HWID=<*>)`, `core.<*>`, `node-<*>`, `'<*>'`.

Masked: numbers (with their units: `350ms`, `5.2 KB`, `1190 bytes (1.16 KB)`), hex, UUIDs, IPs and
host names (with ports), MACs, emails, times and dates, versions, ids that mix letters and digits,
file paths, non-HTTP URLs, booleans and null. Kept: words, exception class names, keys of
`key=value`, the endpoint of an HTTP request (`GET /api/v1/orders/<*>/items`, `http://<*>/metrics`)
and HTTP error statuses where the context says they are one (`HTTP 503`, `status=502`,
`GET /x 500`, `503 Service Unavailable`), since a 500 and a 200 are different problems. Success
statuses are values. A client error (4xx) is kept too, except in a routine (info-level) message,
where it is one outcome of a request like any other.

Each whitespace token's verdict is cached, so repeated vocabulary costs a dict lookup; only a few
rules look at the neighbouring tokens (statuses, units, date words).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["WILDCARD", "clear_caches", "kept_statuses", "mask"]

WILDCARD = "<*>"

_OPEN = "([{<\"'`"
_CLOSE = ")]}>\"'`,;:.!?"
# Characters that separate a key from its value, or list items, inside one whitespace token.
_PIECE = re.compile(r"([=:,;()\[\]{}\"'|])")
# Characters that join the parts of one identifier (`node-129`, `core.2275`, `a@b`); a `-` right
# after `_` is a sign (`blk_-1608`).
_PART = re.compile(r"((?<!_)-|[./@#+~\\])")
_JOINED_WILDCARDS = re.compile(r"<\*>(?:[-:.@#/+~]?<\*>)+")

_UNITS = (
    "b|bytes?|kb|mb|gb|tb|kib|mib|gib|tib|k|m|g|ns|us|µs|ms|s|sec|secs|min|mins|h|hr|hrs|d|%|x|c"
)
# Text that is one value as a whole, tried in one regex pass.
_VALUE = re.compile(
    "|".join(
        f"(?:{pattern})"
        for pattern in (
            r"[<>~]?[-+]?(?:\d+(?:[.,_]\d+)*|\.\d+)(?:e[-+]?\d+)?",  # number
            rf"[<>~]?[-+]?\d+(?:\.\d+)?(?:{_UNITS})",  # number with its unit
            r"0x[0-9a-f]+",  # hex
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",  # UUID
            r"/?\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?",  # IPv4, with a port
            r"\[?(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}\]?(?::\d+)?",  # IPv6
            r"[0-9a-f]{2}(?::[0-9a-f]{2}){5,}",  # MAC
            r"\d{1,4}[-/:]\d{1,2}(?:[-/:T]\d{1,2})*(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?",  # time, date
            r"v?\d+(?:\.\d+)+(?:[-+][\w.]+)?",  # version
            r"[a-z][\w.-]*/v?\d+(?:\.\d+)+",  # product version: HTTP/1.1
            r"[\w$]+(?:\.[\w$<>]+){2,}:\d+",  # code location: pkg.Class.method:42
        )
    ),
    re.I,
)
_HEX_WORD = re.compile(r"[0-9a-f]*\d[0-9a-f]*", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HOST = re.compile(r"(?:[A-Za-z0-9-]+\.)+([a-z]{2,})(:\d+)?")
# `com.example.app/.MainActivity`, `application/vnd.android.package-archive`: qualified names.
_QUALIFIED_PAIR = re.compile(
    r"[\w$-]+(?:\.[\w$-]+)*/\.?[\w$-]+(?:\.[\w$-]+)+|[\w$-]+(?:\.[\w$-]+)+/[\w$.-]+"
)
_URL = re.compile(r"([a-z][a-z0-9+.-]*)://([^/?#\s]*)(.*)", re.I)
_DATE_WORD_AFTER = re.compile(r"<\*>[,.]?")
_TIME_ZONES = frozenset(
    {"UTC", "GMT", "PST", "PDT", "MST", "MDT", "CST", "CDT", "EST", "EDT", "AKST", "AKDT", "HST",
     "BST", "IST", "CET", "CEST", "EET", "EEST", "WET", "WEST", "JST", "KST", "AEST", "AEDT"}
)  # fmt: skip

_GENERIC_TLDS = frozenset({"com", "net", "org", "edu", "gov", "mil"})
_STRUCTURED_SCHEMES = frozenset({"http", "https", "ws", "wss", "grpc", "grpcs"})
_REQUEST_KEYS = frozenset({"path", "url", "uri", "route", "endpoint", "target", "request"})
_HTTP_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})
_NULLS = frozenset({"true", "false", "null", "none", "nil"})
_SEPARATE_UNITS = frozenset(
    {"b", "byte", "bytes", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib",
     "ns", "us", "µs", "ms", "s", "sec", "secs"}
)  # fmt: skip
_MONTHS = frozenset(
    {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
)
_WEEKDAYS = frozenset({"mon", "tue", "wed", "thu", "fri", "sat", "sun"})
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

# A 3-digit number left in a masked message is a kept status, bare or as a value (`status=503`).
_KEPT_STATUS = re.compile(r"(?<![^\s=:(\[\"'])[1-5]\d\d(?![^\s,;:)\]\"'])")
_CACHE_LIMIT = 500_000


@dataclass(frozen=True, slots=True)
class _Status:
    """A token holding an HTTP status code: kept or masked once the context is known."""

    kept: str
    masked: str
    code: int
    keyed: bool  # `status=502`: the token itself says it is a status


@dataclass(frozen=True, slots=True)
class _Special:
    """A token that matters to its neighbours (or they to it), with its masked text."""

    text: str
    kind: int
    status: _Status | None = None


_UNIT, _DATE_WORD, _HTTP_METHOD, _STATUS_CODE = range(4)

# Plain tokens map to their masked text; the others to a `_Special`.
_cache: dict[str, str | _Special] = {}
_path_cache: dict[str, str] = {}
_shape_cache: dict[str, str | _Special] = {}
_DIGITS_TO_ZERO = str.maketrans("123456789", "000000000")
_HAS_DIGIT = re.compile(r"\d")


def clear_caches() -> None:
    """Forget every cached token verdict, so a benchmark run starts as cold as a fresh process."""
    _cache.clear()
    _path_cache.clear()
    _shape_cache.clear()


def mask(message: str, *, routine: bool = False) -> str:
    """`message` with variable parts replaced by `<*>`, whitespace runs as one space.

    `routine` says the message was logged at info or debug level, where a client error status
    (4xx) is an ordinary outcome and is masked like a success status.
    """
    tokens = message.split()
    out: list[str] = []
    specials: list[tuple[int, int]] = []
    after_method = False
    for index, token in enumerate(tokens):
        verdict = _cache.get(token)
        if verdict.__class__ is str and not after_method:
            out.append(verdict)
            continue
        if verdict is None:
            if token.isdigit() and (len(token) != 3 or token[0] not in "12345"):
                # Bare numbers are the most common variable: decided here, kept out of the cache.
                out.append(WILDCARD)
                after_method = False
                continue
            verdict = _verdict(token)
        if after_method and token[0] in '/"':
            out.append(_masked_request_path(token))
            after_method = False
            continue
        after_method = False
        if isinstance(verdict, str):
            out.append(verdict)
            continue
        if verdict.status is not None:
            out.append(_resolve_status(verdict.status, tokens, index, routine))
            continue
        after_method = verdict.kind == _HTTP_METHOD
        if not after_method:
            specials.append((index, verdict.kind))
        out.append(verdict.text)
    return " ".join(_merge_context(out, specials) if specials else out)


def _verdict(token: str) -> str | _Special:
    """Classify a token not seen before, and remember it.

    Ids make most tokens unique (`u-5463097`, `cart-9f0b4-0juk3`), and classifying one is
    the slow part of masking. Its digit shape (every digit as 0) decides the same masked text
    whenever that text copies no digit of the token, so such verdicts are also kept by shape.
    """
    shape = token.translate(_DIGITS_TO_ZERO)
    if shape != token:
        known = _shape_cache.get(shape)
        if known is not None:
            return known
    classified = _classify(token)
    verdict: str | _Special
    if isinstance(classified, _Status):
        verdict = _Special(classified.masked, _STATUS_CODE, classified)
    elif token.lstrip("\"'") in _HTTP_METHODS:
        verdict = _Special(classified, _HTTP_METHOD)
    elif _is_unit(token):
        verdict = _Special(classified, _UNIT)
    elif _is_date_word(token):
        verdict = _Special(classified, _DATE_WORD)
    else:
        verdict = classified
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()
    _cache[token] = verdict
    if shape != token and isinstance(verdict, str) and not _HAS_DIGIT.search(verdict):
        if len(_shape_cache) >= _CACHE_LIMIT:
            _shape_cache.clear()
        _shape_cache[shape] = verdict
    return verdict


def kept_statuses(masked: str) -> tuple[str, ...]:
    """The HTTP status codes `mask` kept in `masked`, in order (every other number is masked)."""
    return tuple(_KEPT_STATUS.findall(masked))


def _resolve_status(status: _Status, tokens: list[str], index: int, routine: bool) -> str:
    wanted = status.code >= 500 or (status.code >= 400 and not routine)
    if wanted and (status.keyed or _is_status(tokens, index)):
        return status.kept
    return status.masked


def _is_status(tokens: list[str], index: int) -> bool:
    before = tokens[index - 1].strip(_OPEN + _CLOSE).lower() if index else ""
    after = tokens[index + 1].strip(_OPEN + _CLOSE).lower() if index + 1 < len(tokens) else ""
    return before in _STATUS_BEFORE or before.startswith(("/", "http/")) or after in _REASON_WORDS


def _masked_request_path(token: str) -> str:
    """An HTTP request target keeps its endpoint: only its variable segments are masked."""
    masked = _path_cache.get(token)
    if masked is None:
        core, prefix, suffix = _strip_affixes(token)
        masked = prefix + _mask_url_path(core) + suffix
        if len(_path_cache) >= _CACHE_LIMIT:
            _path_cache.clear()
        _path_cache[token] = masked
    return masked


def _merge_context(tokens: list[str], specials: list[tuple[int, int]]) -> list[str]:
    """Rules across tokens, right to left: units join their number, date words their date.

    `specials` lists the (index, kind) of the unit and date-word tokens, in order.
    """
    merged: list[str | None] = list(tokens)
    for index, kind in reversed(specials):
        before = merged[index - 1] if index else None
        after = _next(merged, index)
        following = merged[after] if after < len(merged) else None
        if kind == _UNIT and before is not None and before.endswith(WILDCARD):
            # `5.2 KB,` and `1190 bytes (1.16 KB)` are one quantity each.
            quantity = before + _trailing_punctuation(tokens[index])
            merged[index] = None
            if following is not None and following.startswith("(<*>)"):
                quantity += following[5:]
                merged[after] = None
            merged[index - 1] = quantity
        elif kind == _DATE_WORD and following and _DATE_WORD_AFTER.fullmatch(following):
            merged[index] = WILDCARD + following[3:]
            merged[after] = None
    return [token for token in merged if token is not None]


def _next(tokens: list[str | None], index: int) -> int:
    """The index of the first token after `index` still there (`len(tokens)` if none)."""
    after = index + 1
    while after < len(tokens) and tokens[after] is None:
        after += 1
    return after


def _is_unit(token: str) -> bool:
    return token.lstrip("(").rstrip(_CLOSE).lower() in _SEPARATE_UNITS


def _trailing_punctuation(token: str) -> str:
    return token[len(token.rstrip(_CLOSE)) :]


def _is_date_word(token: str) -> bool:
    """A month or weekday name (`Jun`, `Fri`) or a time zone (`PDT`) in front of a date part."""
    if not token[:1].isupper():
        return False
    word = token.lower()
    return word in _MONTHS or word in _WEEKDAYS or token in _TIME_ZONES


def _classify(token: str) -> str | _Status:
    """The masked text of one whitespace token, or a `_Status` to resolve in context."""
    core, prefix, suffix = _strip_affixes(token)
    if not core:
        return token
    if _STATUS.fullmatch(core) and not prefix and not suffix.strip(",.;:"):
        return _Status(token, WILDCARD + suffix, int(core), keyed=False)
    keyed = _keyed_status(core)
    if keyed is not None:
        key, code = keyed
        return _Status(token, f"{prefix}{key}{WILDCARD}{suffix}", code, keyed=True)
    if _is_variable(core):
        if core[0].isdigit():
            prefix = prefix.rstrip("<>")  # a comparison belongs to its number: `<1 sec`
        return prefix + WILDCARD + suffix
    return _JOINED_WILDCARDS.sub(WILDCARD, prefix + _mask_pieces(core) + suffix)


def _strip_affixes(token: str) -> tuple[str, str, str]:
    start, end = 0, len(token)
    while start < end and token[start] in _OPEN:
        start += 1
    while end > start and token[end - 1] in _CLOSE:
        end -= 1
    return token[start:end], token[:start], token[end:]


def _keyed_status(core: str) -> tuple[str, int] | None:
    """`status=502` → ("status=", 502)."""
    key, sep, value = core.partition("=")
    if not sep:
        key, sep, value = core.partition(":")
    if sep and key.lower() in _STATUS_KEYS and _STATUS.fullmatch(value):
        return key + sep, int(value)
    return None


def _is_variable(text: str) -> bool:
    """Is `text` as a whole one variable?"""
    lowered = text.lower()
    if lowered in _NULLS:
        return True
    if not any(ch.isdigit() for ch in text):
        return (
            _is_host(text)
            or ("@" in text and bool(_EMAIL.fullmatch(text)))
            or _is_path(text)
            or ("/" in text and bool(_QUALIFIED_PAIR.fullmatch(text)))
        )
    if "://" in text:
        return _URL.fullmatch(text) is not None and not _is_structured_url(text)
    return bool(
        _VALUE.fullmatch(text)
        or ("@" in text and _EMAIL.fullmatch(text))
        or _is_host(text)
        or _is_path(text)
        or ("/" in text and _QUALIFIED_PAIR.fullmatch(text))
    )


def _is_host(text: str) -> bool:
    """A DNS name (`proxy.cse.cuhk.edu.hk`, `csdnimg.cn:80`), not a Java package or file name."""
    match = _HOST.fullmatch(text)
    if match is None:
        return False
    if match[2]:
        return True  # a port says it is an address
    tld = match[1]
    return tld in _GENERIC_TLDS or (len(tld) == 2 and text.count(".") >= 2)


def _is_path(text: str) -> bool:
    """A file path: absolute, POSIX (`/var/log/x`) or Windows (`C:\\x`, `\\\\host\\x`), or relative
    with at least three parts (`GLOBALROOT/Device/x`; `lock/unlock` is a pair of words)."""
    if len(text) > 1 and text[0] in "/\\":
        return True
    if text[1:3] in (":/", ":\\") and text[0].isalpha():
        return True
    relative = text.count("/") >= 2 or text.count("\\") >= 2
    return relative and _PIECE.search(text) is None


def _is_structured_url(text: str) -> bool:
    return text.split(":", 1)[0].lower() in _STRUCTURED_SCHEMES


def _mask_pieces(core: str) -> str:
    """`key=value`, `key:value`, `a,b` and `f(x)`: each piece masked on its own."""
    if "://" in core and _is_structured_url(core):
        return _mask_url(core)
    key, equals, value = core.partition("=")
    if equals and value.startswith("/") and key.lower() in _REQUEST_KEYS:
        return f"{key}={_mask_url_path(value)}"
    parts = _PIECE.split(core)
    for i in range(0, len(parts), 2):
        piece = parts[i]
        if piece and _is_variable(piece):
            parts[i] = WILDCARD
        elif piece:
            parts[i] = _mask_identifier(piece)
    return "".join(parts)


def _mask_identifier(piece: str) -> str:
    """`node-129` → `node-<*>`, `core.2275` → `core.<*>`: the parts that vary, masked."""
    if not any(ch.isdigit() for ch in piece):
        return piece
    parts = _PART.split(piece)
    for i in range(0, len(parts), 2):
        if _looks_like_id(parts[i]) or _is_variable(parts[i]):
            parts[i] = WILDCARD
    return "".join(parts)


def _looks_like_id(text: str) -> bool:
    """Digits in the way generated ids have them (`u1234`, `x2k1p`, `blk_1`), not `eth0`, `L2`."""
    digits = sum(ch.isdigit() for ch in text)
    if digits == 0:
        return False
    if digits >= 2 or text[0].isdigit() or text.rstrip("0123456789").endswith("_"):
        return True
    return len(text) >= 5 and bool(_HEX_WORD.fullmatch(text))


def _mask_url(core: str) -> str:
    url = _URL.fullmatch(core)
    if not url:
        return core
    scheme, host, path = url[1], url[2], url[3]
    masked_host = WILDCARD if any(ch.isdigit() for ch in host) or _is_host(host) else host
    return f"{scheme}://{masked_host}{_mask_url_path(path)}"


def _mask_url_path(path: str) -> str:
    path, question, _ = path.partition("?")
    segments = [
        WILDCARD if segment and (_looks_like_id(segment) or _is_variable(segment)) else segment
        for segment in path.split("/")
    ]
    return "/".join(segments) + ("?" + WILDCARD if question else "")
