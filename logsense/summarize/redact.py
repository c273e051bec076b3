"""Redaction: secrets and personal data replaced by placeholders before text leaves the machine.

Everything logsense sends to an LLM endpoint passes through `redact` (each template and sample,
then the whole prompt once more), and so does every sample a report shows (`model.Sample`).
What is replaced, in this order (later rules see the placeholders of earlier ones, never the
secret):

    private keys    PEM/OpenSSH/PGP `-----BEGIN … PRIVATE KEY[ BLOCK]-----` to its END line
                    (or the end of the text), PuTTY key files                  → <private-key>
    URL credentials scheme://user:pass@host                                   → scheme://<credentials>@host
    Authorization   `Authorization: <scheme> <credential>`, whatever the
                    credential (header or JSON key, Proxy-Authorization too)  → …: Basic <token>
    JWTs            eyJ….eyJ….sig                                              → <jwt>
    vendor tokens   the regex rules of detect-secrets (Yelp, Apache-2.0: AWS
                    key ids, Stripe, Slack tokens and webhooks, GitHub,
                    GitLab, SendGrid, Twilio, npm, PyPI, Mailchimp, Square,
                    Azure storage, Artifactory, Discord, Telegram, OpenAI,
                    IBM, SoftLayer, Cloudant) and logsense's own (Stripe
                    `sk_/rk_/pk_live|test_`, `whsec_`, npm `npm_`, GitLab
                    `glpat-`…, OpenAI/Anthropic `sk-`, Slack `xox?-`, Google
                    `AIza`/`ya29.`, Hugging Face `hf_`, Docker `dckr_pat_`,
                    Databricks, DigitalOcean, Shopify)                        → <api-key>
    key=value       keys holding password, passwd, pwd, pass, passphrase,
                    secret, token, api_key, access_key, private_key, auth_key,
                    credential, session_id, cookie, signature, sig
                    (detect-secrets' keyword list among them): `k=v`,
                    `k: v`, JSON `"k": "v"` (also when escaped inside a
                    string, `\\"k\\": \\"v\\"`)                             → k=<redacted>
    key then value `secret wJalr…`, `token 9f8e…`: such a key word followed
                    by a value with a digit or symbol                        → secret <redacted>
    bearer/basic    `Bearer xyz`, `Basic xyz` outside a header, when the
                    credential looks like one (Basic: base64 of `user:pass`)   → Bearer <token>
    emails          a.b@example.com                                          → <email>
    card numbers    13–19 digits, plain or in groups split by one kind of
                    separator (space, dash, dot), passing Luhn               → <card>
    random tokens   24+ characters of base64/url-safe alphabet that mix
                    upper and lower case and digits and read as random
                    (Shannon entropy; most letters outside word-like runs)    → <secret>
    IP addresses    IPv4 and IPv6, when `ips=True` (the default; IPs         → <ip>
                    identify clients and users, so they count as personal data)

Every pattern runs on RE2 (`google-re2`), whose matching time is linear in the length of the
text whatever the pattern: a hostile line (a 100 KB token, a run of `a@a@a@…`) costs what any
line of its length costs, where Python's backtracking `re` took quadratic time or worse. The
checks done in Python on a match (Luhn, entropy, base64) are linear in the match too, so
nothing is capped: a text of any length is redacted whole.

detect-secrets is read as data: its regex detectors' `denylist` patterns (lookarounds dropped,
which only makes them match more) and its keyword list, loaded at the first call. Its IP
detector is left out (`ips` decides about IPs here).

Over-redaction is the safe side: a `token_count=3` loses its value, which no summary needs.
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib
import inspect
import ipaddress
import math
import pkgutil
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import re2  # google-re2

__all__ = ["REDACTED", "redact", "vendor_patterns"]

REDACTED = "<redacted>"

_Match = Any  # re2's match object (the module has no type information)
_Replace = Callable[[_Match], str]

# --- the rules ------------------------------------------------------------------------------

_PRIVATE_KEY = (
    r"(?s)-{4,5} ?BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)? ?-{4,5}.*?"
    r"(?:-{4,5} ?END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)? ?-{4,5}|\z)"
    r"|(?s)PuTTY-User-Key-File-\d+:.*?(?:Private-MAC: *[0-9A-Fa-f]+|\z)"
)
_URL_CREDENTIALS = r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s:/@]*:[^\s/@]+@"
_SCHEMES = (
    r"bearer|basic|digest|token|negotiate|ntlm|hoba|mutual|apikey|api-key|sso-key|dpop|gnap"
    r"|aws4-hmac-sha256|goog4-hmac-sha256|scram-sha-1|scram-sha-256|vapid|otp|key"
)
# Authorization: <scheme> <credential>: whatever the credential looks like.
_AUTH_HEADER = (
    rf"(?i)\b((?:proxy-)?authorization\\*[\"']?\s*[:=]\s*\\*[\"']?)((?:{_SCHEMES})\s+)?"
    r"([^\s\"',;\\]+)"
)
# `Bearer xyz` outside a header: only when xyz looks like a credential (`_scheme_credential`).
_AUTH_SCHEME = r"(?i)\b(bearer|basic|token)(\s+)([A-Za-z0-9\-._~+/]{8,}=*)"
_JWT = r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"
_OWN_VENDOR = (
    r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|APKA)[0-9A-Z]{16}",
    r"gh[pousr]_[A-Za-z0-9]{30,}",
    r"github_pat_[A-Za-z0-9_]{20,}",
    r"(?:glpat|gldt|glft|glsoat|glrt|glcbt|glimt|glptt|glagent|gloas)-[A-Za-z0-9_\-]{20,}",
    r"sk-(?:proj-|svcacct-|admin-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,}",
    r"(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{10,}",
    r"whsec_[A-Za-z0-9+/=]{20,}",
    r"npm_[A-Za-z0-9]{36}",
    r"xox[abposre]-(?:[A-Za-z0-9-]|<\*>){10,}",  # `<*>`: a template masked its digit groups
    r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]+",
    r"AIza[0-9A-Za-z_-]{35}",
    r"ya29\.[0-9A-Za-z_-]{20,}",
    r"hf_[A-Za-z0-9]{30,}",
    r"dckr_pat_[A-Za-z0-9_-]{20,}",
    r"dapi[0-9a-f]{32}",
    r"do[opr]_v1_[a-f0-9]{64}",
    r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
    r"pypi-AgE[A-Za-z0-9_-]{50,}",
)
_OWN_KEYWORDS = (
    r"passw(?:or)?d", "passphrase", "pwd", "secret", "token", r"api[_-]?key", "apikey",
    r"access[_-]?key", r"private[_-]?key", r"auth[_-]?key", "credentials?", r"session[_-]?id",
    "cookie", "signature", r"x-amz-credential",
)  # fmt: skip
# Keys that must END in these (`db_pass=`, `sig=`), so `passed=3` and `signal=9` stay.
_KEY_ENDINGS = ("pass", "sig")
# Key words that may be followed by their value after a space (`secret wJalr…`).
_SPACED_KEYWORDS = (
    r"passw(?:or)?d|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|credentials?"
)
_FILLERS = r"(?:access|secret|key|id|is|was|value|of|[:=])"
_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_DIGIT_RUN = r"\d(?:[ .-]?\d){12,}"  # 13 digits or more: maybe a card
_RANDOM_RUN = r"[A-Za-z0-9+/_-]{24,}=*"
_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"
_IPV6 = r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*"

_WILDCARD = "<*>"
_DELIMITERS = frozenset(" \t\r\n\"'=:")
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_PLACEHOLDER = re.compile(r"<[a-z-]+>")
_WORD = re.compile(r"\w")
_DIGIT_OR_DOT = frozenset("0123456789.")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
_WORDLIKE = re.compile(r"[A-Z]?[a-z]{3,}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _compile(pattern: str) -> Any:
    """An RE2 program for `pattern`; `re2.error` if RE2 cannot take it (nothing is logged)."""
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def _keys() -> str:
    words = "|".join(dict.fromkeys((*_OWN_KEYWORDS, *_detect_secrets_keywords())))
    endings = "|".join(_KEY_ENDINGS)
    return rf"(?:[\w.-]*(?:{words})[\w.-]*|[\w.-]*(?:{endings}))"


# --- detect-secrets, as data ----------------------------------------------------------------

_LOOKAROUND = re.compile(r"\(\?<?[=!](?:[^()\\]|\\.|\((?:[^()\\]|\\.)*\))*\)")
_SKIPPED_DETECTORS = frozenset({"IPPublicDetector"})  # `ips=` decides about addresses


@functools.cache
def _detect_secrets_keywords() -> tuple[str, ...]:
    from detect_secrets.plugins import keyword

    return tuple(str(word) for word in keyword.DENYLIST)


@functools.cache
def vendor_patterns() -> tuple[str, ...]:
    """The vendor-token patterns: detect-secrets' regex detectors, then logsense's own.

    Each is given as RE2 takes it (detect-secrets writes them for Python's `re`: lookarounds
    are dropped, case-insensitive ones get `(?i)`); one RE2 cannot take is left out.
    """
    import detect_secrets.plugins as plugins
    from detect_secrets.plugins.base import RegexBasedDetector

    found: list[str] = []
    for info in pkgutil.iter_modules(plugins.__path__):
        module = importlib.import_module(f"{plugins.__name__}.{info.name}")
        for name, detector in inspect.getmembers(module, inspect.isclass):
            if (
                detector.__module__ != module.__name__
                or not issubclass(detector, RegexBasedDetector)
                or name in _SKIPPED_DETECTORS
            ):
                continue
            found += [p for p in map(_for_re2, _denylist(detector)) if p is not None]
    return (*dict.fromkeys(found), *_OWN_VENDOR)


def _denylist(detector: type) -> list[re.Pattern[str]]:
    denylist = getattr(detector, "denylist", ())
    if not isinstance(denylist, Iterable):
        return []
    return [p for p in denylist if isinstance(p, re.Pattern)]


def _for_re2(pattern: re.Pattern[str]) -> str | None:
    source = pattern.pattern
    if pattern.flags & re.VERBOSE and re.search(r"\s|#", source):
        return None
    source = _LOOKAROUND.sub("", source)
    if pattern.flags & re.IGNORECASE:
        source = "(?i)" + source
    try:
        _compile(source)
    except re2.error:
        return None
    return source


# --- the replacements -----------------------------------------------------------------------


def _entropy(text: str) -> float:
    counts = Counter(text)
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def _looks_random(token: str) -> bool:
    """A key, not a word or an identifier: upper and lower case and digits, high entropy, and
    most letters outside word-like runs (`OrderServiceV2Client` is nearly all words; in random
    base64 a run of three lower-case letters is rare)."""
    alnum = _NOT_ALNUM.sub("", token)
    if not (
        any(c.islower() for c in alnum)
        and any(c.isupper() for c in alnum)
        and any(c.isdigit() for c in alnum)
    ):
        return False
    in_words = sum(len(word) for word in _WORDLIKE.findall(alnum))
    return in_words < 0.5 * len(alnum) and _entropy(token) >= 3.5


def _random_token(match: _Match) -> str:
    token = str(match.group())
    return "<secret>" if _looks_random(token.strip("=")) else token


def _basic_credential(token: str) -> bool:
    """True for base64 of `user:password` (what HTTP Basic sends)."""
    padded = token + "=" * (-len(token) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return ":" in text and text.isprintable() and len(text) >= 3


def _scheme_credential(match: _Match) -> str:
    scheme, space, token = match.group(1), match.group(2), match.group(3)
    looks = bool(re.search(r"[\d=+/._~-]", token)) or len(token) >= 24
    if scheme.lower() == "basic":
        looks = looks or _basic_credential(token)
    return f"{scheme}{space}<token>" if looks else match.group()


def _auth_header(match: _Match) -> str:
    return f"{match.group(1)}{match.group(2) or ''}<token>"


def _spaced_value(match: _Match) -> str:
    whole, value = str(match.group()), str(match.group(3))
    credential = re.search(r"\d|[/+=_-]", value) and re.search(r"[A-Za-z]", value)
    if not credential or _PLACEHOLDER.fullmatch(value):
        return whole
    return f"{match.group(1)}{match.group(2)}{REDACTED}"


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _cards(match: _Match) -> str:
    """Card numbers inside a run of digits and separators: whole groups only, leftmost first.

    A card is 13-19 digits passing Luhn: one plain group, or groups split by one kind of
    separator, the first of 4 digits, the others of 3-6 but the last (1-7); with dots, at least
    four groups (`4111.1111` is a decimal number). Each group starts at most one candidate of
    each kind, so the work is linear in the run.
    """
    parts = re.split(r"([ .-])", match.group())
    groups, separators = parts[0::2], parts[1::2]
    out: list[str] = []
    start = 0
    while start < len(groups):
        end = _card_end(groups, separators, start)
        if end is None:
            out += [groups[start], separators[start] if start < len(separators) else ""]
            start += 1
        else:
            out += ["<card>", separators[end] if end < len(separators) else ""]
            start = end + 1
    return "".join(out)


def _card_end(groups: list[str], separators: list[str], start: int) -> int | None:
    """The last group of the longest card number starting at group `start`, if any."""
    first = groups[start]
    if 13 <= len(first) <= 19:
        return start if _luhn(first) else None
    if len(first) != 4 or start >= len(separators):
        return None
    separator, best, digits, end = separators[start], None, first, start + 1
    while end < len(groups) and len(digits) + len(groups[end]) <= 19:
        digits += groups[end]
        joined = end - start
        if len(digits) >= 13 and (separator != "." or joined >= 3) and _luhn(digits):
            best = end
        if not 3 <= len(groups[end]) <= 6 or end >= len(separators):
            break  # a short group ends a card; so does the end of the run
        if separators[end] != separator:
            break
        end += 1
    if best is not None and not 1 <= len(groups[best]) <= 7:
        return None
    return best


def _token_span(text: str, start: int, end: int) -> tuple[int, int]:
    """A vendor match without the delimiters some patterns take (`=`, quotes, spaces) and
    running on to the end of the token it stopped inside (a longer key than the pattern says)."""
    while start < end and text[start] in _DELIMITERS:
        start += 1
    while end > start and text[end - 1] in _DELIMITERS:
        end -= 1
    if start < end and (text[end - 1] in _TOKEN_CHARS or text.endswith(_WILDCARD, 0, end)):
        while end < len(text):
            if text[end] in _TOKEN_CHARS:
                end += 1
            elif text.startswith(_WILDCARD, end):  # a template's masked part of the token
                end += len(_WILDCARD)
            else:
                break
    return start, end


def _mentions(text: str, words: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in words)


def _ipv4(text: str, match: _Match) -> str | None:
    start, end = match.span()
    if (start and text[start - 1] in _DIGIT_OR_DOT) or (
        end < len(text) and text[end] in _DIGIT_OR_DOT
    ):
        return None
    if any(int(octet) > 255 for octet in match.group().split(".")):
        return None
    return "<ip>"


def _ipv6(text: str, match: _Match) -> str | None:
    start, end = match.span()
    candidate = match.group()
    while candidate.endswith("."):
        candidate, end = candidate[:-1], end - 1
    if (start and _WORD.match(text[start - 1])) or (end < len(text) and _WORD.match(text[end])):
        return None
    if len(candidate) > 45 or len(re.findall(r"[0-9A-Fa-f]{1,4}", candidate)) < 2:
        return None
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return None
    return "<ip>" + str(match.group())[len(candidate) :]


# --- running them ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    """A pattern, what replaces a match, and words one of which must be in the text (lower)."""

    pattern: Any
    replace: str | _Replace
    needs: tuple[str, ...] = ()

    def apply(self, text: str) -> str:
        if self.needs and not _mentions(text, self.needs):
            return text
        return str(self.pattern.sub(self.replace, text))


@dataclass(frozen=True)
class _SpanRule:
    """A rule whose replacement looks at the text around the match (it may keep the match)."""

    pattern: Any
    replace: Callable[[str, _Match], str | None]
    needs: tuple[str, ...] = ()
    token: bool = False  # trim delimiters the pattern took, extend to the end of the token

    def apply(self, text: str) -> str:
        if self.needs and not _mentions(text, self.needs):
            return text
        out: list[str] = []
        done = 0
        for match in self.pattern.finditer(text):
            start, end = match.span()
            replacement = self.replace(text, match)
            if replacement is None:
                continue
            if self.token:
                start, end = _token_span(text, start, end)
            if start < done:
                continue
            out += [text[done:start], replacement]
            done = end
        if not out:
            return text
        out.append(text[done:])
        return "".join(out)


def _vendor(text: str, match: _Match) -> str:
    return "<api-key>"


@dataclass(frozen=True)
class _Vendors:
    """The vendor rules, each run on its own, and only when one of them matches somewhere.

    One alternation of all of them would be faster, but in one program a pattern with `.+`
    (detect-secrets' npm rule) keeps a thread alive past every match of the others, which
    makes finding all matches quadratic; on its own, each pattern stays linear.
    """

    anywhere: Any
    rules: tuple[_SpanRule, ...]

    def apply(self, text: str) -> str:
        if self.anywhere.search(text) is None:
            return text
        for rule in self.rules:
            text = rule.apply(text)
        return text


@functools.cache
def _rules(ips: bool) -> tuple[_Rule | _SpanRule | _Vendors, ...]:
    keys = _keys()
    rules: list[_Rule | _SpanRule | _Vendors] = [
        _Rule(_compile(_PRIVATE_KEY), "<private-key>", ("private key", "putty-user-key")),
        _Rule(_compile(_URL_CREDENTIALS), r"\1<credentials>@", ("://",)),
        _Rule(_compile(_AUTH_HEADER), _auth_header, ("authorization",)),
        _Rule(_compile(_JWT), "<jwt>", ("eyj",)),
        _Vendors(
            _compile("|".join(f"(?:{p})" for p in vendor_patterns())),
            tuple(_SpanRule(_compile(p), _vendor, token=True) for p in vendor_patterns()),
        ),
        # "password": "x" / 'secret': 'x' (JSON-ish; the value may hold spaces; unterminated
        # when a sample was cut), and the same escaped inside a JSON string: \"password\": \"x\"
        _Rule(
            _compile(rf"(?i)([\"']?{keys}[\"']?\s*[:=]\s*)\"(?:\\.|[^\"\\])*\"?"),
            rf'\1"{REDACTED}"',
        ),
        _Rule(
            _compile(rf"(?i)([\"']?{keys}[\"']?\s*[:=]\s*)'(?:\\.|[^'\\])*'?"),
            rf"\1'{REDACTED}'",
        ),
        _Rule(
            _compile(rf"(?is)({keys}\\+[\"']\s*[:=]\s*\\+[\"']).*?(\\+[\"']|\z)"),
            rf"\1{REDACTED}\2",
            ("\\",),
        ),
        # password=x / token: x / ?api_key=x& (unquoted value up to a separator)
        _Rule(
            _compile(rf"(?i)(\b{keys}\s*[:=]\s*)[^\s,;&\"'<)}}\]\\][^\s,;&\"')}}\]\\]*"),
            rf"\1{REDACTED}",
        ),
        _Rule(
            _compile(
                rf"(?i)(\b[\w.-]*(?:{_SPACED_KEYWORDS})[\w.-]*)(\s+(?:{_FILLERS}\s+){{0,2}})"
                r"([^\s<\"',;]{8,})"
            ),
            _spaced_value,
        ),
        _Rule(_compile(_AUTH_SCHEME), _scheme_credential, ("bearer", "basic", "token")),
        _Rule(_compile(_EMAIL), "<email>", ("@",)),
        _Rule(_compile(_DIGIT_RUN), _cards),
        _Rule(_compile(_RANDOM_RUN), _random_token),
    ]
    if ips:
        rules += [
            _SpanRule(_compile(_IPV4), _ipv4, (".",)),
            _SpanRule(_compile(_IPV6), _ipv6, (":",)),
        ]
    return tuple(rules)


def redact(text: str, *, ips: bool = True) -> str:
    """`text` with secrets, emails, card numbers (and IPs, unless `ips=False`) replaced."""
    if not text.isascii():
        text = _LONE_SURROGATE.sub("\ufffd", text)  # RE2 reads UTF-8, which cannot hold them
    for rule in _rules(ips):
        text = rule.apply(text)
    return text
