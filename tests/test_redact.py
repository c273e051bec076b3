"""Redaction: every secret of the corpus is gone, ordinary log text survives, and the time it
takes grows linearly with the text, whatever the text (RE2, no backtracking).

The corpus holds real-shaped fake secrets (made up; the AWS ones are AWS's documented
examples). `test_llm.py` sends every line through a whole triage and checks the request bodies
the fake endpoint receives; the Hypothesis tests plant generated secrets in generated text.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logsense.summarize.redact import redact, vendor_patterns

_JWT = (
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
_GHP = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
_SK = "sk-proj-Abcdefghijklmnop1234567890XYZ"

# (log line, the secret in it). test_llm.py feeds these lines through a whole triage and checks
# that no secret reaches the LLM endpoint.
SECRET_CORPUS: list[tuple[str, str]] = [
    ("login failed for alice.smith@example.com", "alice.smith@example.com"),
    ("notify ops+pager@corp.example.co.uk failed", "ops+pager@corp.example.co.uk"),
    ("upstream call with Authorization: Bearer abc123DEF456ghi789", "abc123DEF456ghi789"),
    ("proxy auth Basic dXNlcjpwYXNzd29yZA== rejected", "dXNlcjpwYXNzd29yZA=="),
    (f"token {_JWT} expired", _JWT),
    (f"session {_JWT} refused", _JWT.split(".")[1]),
    ("s3 upload denied for key AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    (f"clone failed with {_GHP}", _GHP),
    (
        "bad credential github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    ),
    (f"openai call with {_SK}", _SK),
    ("request GET /v1/items?api_key=Zx81kQp0LmNo92&page=2", "Zx81kQp0LmNo92"),
    ("connect postgres://app_user:S3cr3tPassw0rd@db-main:5432/shop", "S3cr3tPassw0rd"),
    ("connect postgres://app_user:S3cr3tPassw0rd@db-main:5432/shop", "app_user"),
    ("login attempt password=hunter2 rejected", "hunter2"),
    ("config loaded secret=topsecretvalue42", "topsecretvalue42"),
    ("refresh with token=tok_9f8e7d6c5b4a", "tok_9f8e7d6c5b4a"),
    ('payload {"user": "bob", "password": "correct horse battery"}', "correct horse battery"),
    ("payload {'client_secret': 'cs_live_51Habc'}", "cs_live_51Habc"),
    ("charge declined for card 4111 1111 1111 1111", "4111 1111 1111 1111"),
    ("charge declined for card 5500-0000-0000-0004", "5500-0000-0000-0004"),
    ("charge declined for card 378282246310005", "378282246310005"),
    ("rate limited client 203.0.113.77", "203.0.113.77"),
    ("rate limited client 2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::8a2e:370:7334"),
    # Authorization headers: the credential goes whatever it looks like (no digit needed)
    ("upstream sent Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l", "YWxhZGRpbjpvcGVuc2VzYW1l"),
    ('headers {"authorization": "Basic Ym9iOnNlY3JldHBhc3M"}', "Ym9iOnNlY3JldHBhc3M"),
    ("Proxy-Authorization: Bearer opaqueTokenWithoutDigits", "opaqueTokenWithoutDigits"),
    ("retry with authorization=Token abcdefghijklmnop", "abcdefghijklmnop"),
    ("basic auth Basic Y2hhcmxpZTpwYXNzd29yZA sent", "Y2hhcmxpZTpwYXNzd29yZA"),
    # Stripe
    (
        "charge failed with key sk_live_51H8xYzAbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIj",
        "51H8xYzAbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIj",
    ),
    ("restricted key rk_live_4eC39HqLyjWDarjtT1zdp7dc used", "4eC39HqLyjWDarjtT1zdp7dc"),
    (
        "webhook signed with whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ),
    # pass= and other password keys
    ("db login pass=correcthorsebattery user=app", "correcthorsebattery"),
    ("DB_PASS: Zq8!xv2#Lm rejected", "Zq8!xv2#Lm"),
    ("ldap bind failed userPassword=Wint3r2026", "Wint3r2026"),
    ('body "{\\"user\\":\\"bob\\",\\"password\\":\\"s3cr3t P4ss\\"}"', "s3cr3t P4ss"),
    ("amqp connect amqp://guest:Gu3stP4ss@rabbit:5672/ refused", "Gu3stP4ss"),
    # Slack
    (
        "post to https://hooks.slack.com/services/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 "
        "failed",
        "mJkQtzvRZ4bHFTmrXhxpDO2a",
    ),
    (
        "bot token xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx revoked",
        "AbCdEfGhIjKlMnOpQrStUvWx",
    ),
    # AWS: the secret key after the word secret, in several spellings
    (
        "aws secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY loaded",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        "AWS secret access key je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    ),
    (
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        "creds AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    ("signed X-Amz-Credential=ASIAY34FZKBOKMUTVV7A%2F20260101", "ASIAY34FZKBOKMUTVV7A"),
    (
        "GET /b/o?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260101T000000Z"
        "&X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024 403",
        "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
    ),
    # private key blocks: PGP, OpenSSH, and one cut off before its END line
    (
        "import failed: -----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGN0ZXN0AQgAq3Jm9xT2\n"
        "kP8vWm4rE1sZ0yU7cB5nH6gD\n=Zx9q\n-----END PGP PRIVATE KEY BLOCK----- done",
        "lQOYBGN0ZXN0AQgAq3Jm9xT2",
    ),
    (
        "deploy key -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n"
        "-----END OPENSSH PRIVATE KEY-----",
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU",
    ),
    (
        "bad key -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5dDPX2",
        "MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5dDPX2",
    ),
    # GitLab, npm, and a few more vendors
    ("git clone failed with glpat-9xK2mQ7vLp3RtY8wZ1nB", "glpat-9xK2mQ7vLp3RtY8wZ1nB"),
    (
        "npm publish with npm_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7c denied",
        "npm_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7c",
    ),
    ("registry //registry.npmjs.org/:_authToken=Ab3dEf6hIj9kLm2nOp5q", "Ab3dEf6hIj9kLm2nOp5q"),
    (
        "maps key AIzaSyA1bCdEfGhIjKlMnOpQrStUvWxYz0123456 over quota",
        "AIzaSyA1bCdEfGhIjKlMnOpQrStUvWxYz0123456",
    ),
    (
        "mail via 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 failed",
        "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr",
    ),
    ("hub login hf_AbCdEfGhIjKlMnOpQrStUvWxYz12345678", "hf_AbCdEfGhIjKlMnOpQrStUvWxYz12345678"),
    ("session cookie Cookie: sid=Zm9vYmFyYmF6cXV4; theme=dark", "Zm9vYmFyYmF6cXV4"),
    # an unlabelled random key
    ("retrying with 9fQ2xL7mKp3RvT8wYz1NbC4dEh6Gj0Ak", "9fQ2xL7mKp3RvT8wYz1NbC4dEh6Gj0Ak"),
    # card numbers written with dots, and grouped 4-6-5
    ("charge declined for card 4242.4242.4242.4242", "4242.4242.4242.4242"),
    ("charge declined for card 5555.5555.5555.4444 (retry)", "5555.5555.5555.4444"),
    ("charge declined for card 3782 822463 10005", "3782 822463 10005"),
]


@pytest.mark.parametrize(("line", "secret"), SECRET_CORPUS)
def test_secret_is_removed(line: str, secret: str) -> None:
    assert secret not in redact(line)


@pytest.mark.parametrize(
    "line",
    [
        "Cannot get DB connection from pool main after 30000 ms",
        "HTTP 503 Service Unavailable from payment-api at 13:16:05",
        "order 1234567890 created",  # 10 digits: not a card
        "charge id 4111111111111112 failed",  # 16 digits but fails Luhn
        "Deploying version v2.4.0 (build 8812)",
        "Bearer authentication required",
        "Basic authentication failed for realm api",
        "2026-11-20T13:16:05.123Z worker started",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
        "request 550e8400-e29b-41d4-a716-446655440000 from pod checkout-7d9f8b6c5d-x2k4j",
        "ProductCatalogServiceV2Client timed out in OrderServiceV2HandlerFactoryImpl",
        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "latency 1700000000.123456 s, pi 3.14159265358979",
        "GET /api/v1/checkout/summary?page=2 200 in 35ms",
        "token expired, password reset requested, secret rotation scheduled",
        "tests passed=312 signal=9",
    ],
)
def test_ordinary_text_survives(line: str) -> None:
    assert redact(line) == line


def test_ips_can_be_kept() -> None:
    assert redact("client 203.0.113.77", ips=False) == "client 203.0.113.77"
    assert redact("client 203.0.113.77") == "client <ip>"


def test_placeholders_name_what_was_removed() -> None:
    assert redact("mail bob@example.org") == "mail <email>"
    assert redact("password=hunter2 user=bob") == "password=<redacted> user=bob"
    assert redact("redis://:pw123@cache:6379") == "redis://<credentials>@cache:6379"


def test_redaction_is_idempotent() -> None:
    once = redact(" ".join(line for line, _ in SECRET_CORPUS))
    assert redact(once) == once


def test_report_samples_are_redacted() -> None:
    from logsense.mine import mine
    from logsense.model import Event, Window

    secret = "login failed for bob@example.com with password=hunter2 from 10.1.2.3"
    events = [Event(timestamp=100.0, message=secret, level="error", service="auth")]
    (pattern,) = mine(events, Window(0, 200)).patterns
    (sample,) = pattern.samples
    assert "hunter2" not in sample.message and "bob@example.com" not in sample.message
    assert "10.1.2.3" in sample.message  # addresses stay in local reports; only the LLM loses them


@pytest.mark.parametrize(("line", "secret"), SECRET_CORPUS)
def test_secret_is_removed_from_the_template_too(line: str, secret: str) -> None:
    """Templates are masked before they are redacted, which can split a token (`xoxb-<*>-…`)."""
    from logsense.mine.masking import mask

    for routine in (False, True):
        assert secret not in redact(mask(line, routine))


def test_detect_secrets_rules_are_loaded() -> None:
    """detect-secrets' detectors are the rule set: all of them load into RE2 (but its IP one)."""
    patterns = vendor_patterns()
    assert len(patterns) > 50
    assert any("hooks\\.slack\\.com" in p for p in patterns)  # SlackDetector's webhook rule
    assert any(p.startswith("(glpat|") for p in patterns)  # GitLabTokenDetector, lookahead dropped


def test_lone_surrogates_do_not_crash() -> None:
    assert redact("bad \ud800 byte password=hunter2") == "bad \ufffd byte password=<redacted>"


# --- time: linear in the length of the text, whatever the text ------------------------------

# Shapes that made the old backtracking patterns quadratic or worse, and their neighbours.
_HOSTILE: dict[str, Callable[[int], str]] = {
    "hex token": lambda n: os.urandom(n // 2).hex(),
    "one letter": lambda n: "a" * n,
    "base64": lambda n: base64.b64encode(os.urandom(n)).decode()[:n],
    "a@ run": lambda n: ("a@" * n)[:n],
    "key= run": lambda n: ("password=" * n)[:n],
    "key run": lambda n: ("secret " * n)[:n],
    "quoted key run": lambda n: ('"password": "' * n)[:n],
    "escaped key run": lambda n: ('\\"token\\": \\"' * n)[:n],
    "digit groups": lambda n: ("4111 " * n)[:n],
    "dotted digits": lambda n: ("1." * n)[:n],
    "colons": lambda n: ("a:" * n)[:n],
    "url credentials": lambda n: ("http://a:b@" * n)[:n],
    "auth headers": lambda n: ("Authorization: " * n)[:n],
    "webhooks": lambda n: ("https://hooks.slack.com/services/T" * n)[:n],
    "key headers": lambda n: ("-----BEGIN RSA PRIVATE KEY-----" * n)[:n],
    "jwt heads": lambda n: ("eyJhbGci." * n)[:n],
    "unicode": lambda n: ("é😀\u2028" * n)[:n],
}


def _seconds(text: str) -> float:
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        redact(text)
        best = min(best, time.perf_counter() - started)
    return best


def test_the_reported_slow_case_is_fast() -> None:
    """The issue's repro: 16 KB of hex took 75 s."""
    assert _seconds(os.urandom(8000).hex()) < 0.5


@pytest.mark.parametrize("shape", list(_HOSTILE))
def test_time_grows_linearly(shape: str) -> None:
    """16 times the text takes about 16 times as long (quadratic would be 256 times)."""
    make = _HOSTILE[shape]
    redact("warm up")
    small, large = _seconds(make(8_000)), _seconds(make(128_000))
    assert large < 2.0, f"{shape}: {large:.2f} s for 128 KB"
    assert large < 48 * small + 0.05, f"{shape}: {small * 1e3:.1f} ms → {large * 1e3:.1f} ms"


# --- fuzz -------------------------------------------------------------------------------------

_FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _chars(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=size, max_size=size)


def _luhn_complete(digits: str) -> str:
    total = 0
    for position, char in enumerate(reversed(digits + "0")):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return digits + str((10 - total % 10) % 10)


@st.composite
def _card(draw: st.DrawFn) -> str:
    number = _luhn_complete(draw(_chars("0123456789", 15)))
    separator = draw(st.sampled_from(["", " ", "-", "."]))
    return separator.join(number[i : i + 4] for i in range(0, 16, 4))


@st.composite
def _basic(draw: st.DrawFn) -> str:
    user = draw(st.text(alphabet=_ALNUM, min_size=3, max_size=12))
    password = draw(st.text(alphabet=_ALNUM + "!#%*", min_size=6, max_size=20))
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _mixed(size: int) -> st.SearchStrategy[str]:
    """Random key material that has a digit and a letter (as real keys do)."""
    return _chars(_ALNUM + "/+", size - 2).map(lambda s: s + "7q")


# (how the secret appears in a line, the secret) as strategies
_PLANTED: list[st.SearchStrategy[tuple[str, str]]] = [
    _chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16).map(lambda s: ("AKIA" + s,) * 2),
    _chars(_ALNUM, 36).map(lambda s: ("ghp_" + s,) * 2),
    st.integers(24, 90).flatmap(lambda n: _chars(_ALNUM, n)).map(lambda s: ("sk_live_" + s, s)),
    _chars(_ALNUM + "_-", 20).map(lambda s: ("glpat-" + s,) * 2),
    _chars(_ALNUM, 36).map(lambda s: ("npm_" + s,) * 2),
    _chars(_ALNUM, 24).map(
        lambda s: (f"https://hooks.slack.com/services/T024BE7LD/B01UZ1AZQ3X/{s}", s)
    ),
    _mixed(40).map(lambda s: (f"secret {s}", s)),
    _mixed(40).map(lambda s: (f"aws_secret_access_key={s}", s)),
    _chars(_ALNUM + "!#%*", 8).map(lambda s: (f"pass={s}7", s + "7")),
    _chars(_ALNUM + " !#%*", 8).map(lambda s: (f'"password": "{s}7"', s + "7")),
    _basic().map(lambda s: (f"Authorization: Basic {s}", s)),
    _chars("abcdef0123456789", 64).map(lambda s: (f"X-Amz-Signature={s}", s)),
    _card().map(lambda s: (s, s)),
    st.tuples(_chars("abcdefghij", 6), _chars("klmnopqrst", 5)).map(
        lambda p: (f"{p[0]}.x@{p[1]}.example.org",) * 2
    ),
]
# Words around the secret: no digits or separators that could join it into a longer token.
_AROUND = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,;()!?é😀", max_size=40)


@_FUZZ
@given(st.text(alphabet=st.characters(blacklist_categories=()), max_size=400))
def test_any_text_is_redacted_without_error(text: str) -> None:
    once = redact(text)
    assert isinstance(once, str)
    assert redact(once) == once or len(once) <= len(text) + 40


@_FUZZ
@given(_AROUND, st.one_of(_PLANTED), _AROUND)
def test_a_planted_secret_is_removed(before: str, planted: tuple[str, str], after: str) -> None:
    line, secret = planted
    assert secret not in redact(f"{before} {line} {after}")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="aA1@.:=-_/ \"'\\<>|\n", min_size=1, max_size=16))
def test_time_is_linear_for_any_repeated_unit(unit: str) -> None:
    small = _seconds((unit * 4_000)[:4_000])
    large = _seconds((unit * 64_000)[:64_000])
    assert large < 48 * small + 0.05, (unit, small, large)
