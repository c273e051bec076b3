"""Redaction: every secret of the corpus is gone, and ordinary log text survives."""

from __future__ import annotations

import pytest

from logsense.summarize.redact import redact

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
        "2026-11-20T13:16:05.123Z worker started",
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
