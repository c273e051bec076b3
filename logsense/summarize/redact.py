"""Redaction: secrets and personal data replaced by placeholders before text leaves the machine.

Everything logsense sends to an LLM endpoint passes through `redact` (each template and sample,
then the whole prompt once more). What is replaced, in this order (later rules see the
placeholders of earlier ones, never the secret):

    private keys    -----BEGIN … PRIVATE KEY----- … -----END … -----     → <private-key>
    URL credentials scheme://user:pass@host                             → scheme://<credentials>@host
    JWTs            eyJ….eyJ….sig                                       → <jwt>
    bearer/basic    Authorization: Bearer xyz, Basic xyz                → Bearer <token>
    vendor keys     AWS AKIA…/ASIA…, GitHub ghp_…/github_pat_…,
                    OpenAI-style sk-…, Slack xox?-…, Google AIza…       → <api-key>
    key=value       password= secret= token= api_key= … (also JSON
                    "password": "…" and `key: value`)                   → key=<redacted>
    emails          a.b@example.com                                     → <email>
    card numbers    13–19 digits (spaces/dashes allowed) passing Luhn   → <card>
    IP addresses    IPv4 and IPv6, when `ips=True` (the default; IPs     → <ip>
                    identify clients and users, so they count as personal data)

Over-redaction is the safe side: a `token_count=3` loses its value, which no summary needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["REDACTED", "redact"]

REDACTED = "<redacted>"

_SECRET_KEY = (
    r"(?:[\w.-]*?(?:passw(?:or)?d|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|credentials?|authorization|session[_-]?id|cookie)[\w.-]*)"
)

_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S
)
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s:/@]*:[^\s/@]+@")
_JWT = re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*")
# A credential has a digit or base64 padding/symbols; "Bearer authentication" is prose.
_AUTH_SCHEME = re.compile(
    r"(?i)\b(bearer|basic)(\s+)(?=[\w\-.~+/]*[\d=+/])[A-Za-z0-9\-._~+/]{8,}=*"
)
_VENDOR_KEYS = re.compile(
    r"\b(?:(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|sk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{20,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|AIza[0-9A-Za-z_-]{35})"
)
# "password": "x"  /  'secret': 'x'  (JSON-ish, quoted value may hold spaces)
_QUOTED_PAIR = re.compile(rf"(?i)([\"']?{_SECRET_KEY}[\"']?\s*[:=]\s*)([\"'])(?:\\.|(?!\2).)*\2")
# password=x  /  token: x  /  ?api_key=x&  (unquoted value up to a separator)
_BARE_PAIR = re.compile(rf"(?i)(\b{_SECRET_KEY}\s*[:=]\s*)(?![<\"'\s])[^\s,;&\"')}}\]]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![\d.-])\d(?:[ -]?\d){12,18}(?![\d.])")
_IPV4 = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"
)
_IPV6 = re.compile(
    r"(?i)(?<![\w:])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}"
    r"|(?:[0-9a-f]{1,4}:){1,7}:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?"
    r"|::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})(?![\w:])"
)


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group())
    return "<card>" if 13 <= len(digits) <= 19 and _luhn(digits) else match.group()


def _ipv6(match: re.Match[str]) -> str:
    # "::" alone or clock-like "12:30:" is not an address; ask for at least two hex groups.
    return "<ip>" if len(re.findall(r"[0-9a-fA-F]{1,4}", match.group())) >= 2 else match.group()


_Rule = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]

_RULES: tuple[_Rule, ...] = (
    (_PRIVATE_KEY, "<private-key>"),
    (_URL_CREDENTIALS, r"\1<credentials>@"),
    (_JWT, "<jwt>"),
    (_AUTH_SCHEME, r"\1\2<token>"),
    (_VENDOR_KEYS, "<api-key>"),
    (_QUOTED_PAIR, rf"\1\2{REDACTED}\2"),
    (_BARE_PAIR, rf"\1{REDACTED}"),
    (_EMAIL, "<email>"),
    (_CARD, _card),
)
_IP_RULES: tuple[_Rule, ...] = ((_IPV4, "<ip>"), (_IPV6, _ipv6))


def redact(text: str, *, ips: bool = True) -> str:
    """`text` with secrets, emails, card numbers (and IPs, unless `ips=False`) replaced."""
    for pattern, replacement in _RULES + (_IP_RULES if ips else ()):
        text = pattern.sub(replacement, text)
    return text
