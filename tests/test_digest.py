"""Digest emails as a scheduled run sends them: through a real SMTP server (aiosmtpd).

The message is received, parsed and checked (recipients, subject, both parts, every inline
image the HTML references), rendered in headless Chromium, sent again to see what a re-run
says, and sent into failures (server down, login refused, recipient refused) that must leave
the digest state as it was. The rules of new / worse / ongoing / resolved are checked on
small hand-made issues.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from PIL import Image

from logsense.config import FieldMap, load_settings
from logsense.digest import DigestOptions, DigestStore, SentDigest, SentIssue, build, classify
from logsense.digest.links import fixed_text, log_hint
from logsense.digest.mail import parse_recipients
from logsense.digest.message import subject
from logsense.errors import UsageError
from logsense.model import Issue, Pattern, Report, Severity, Status, Totals, Window
from tests.browser import chromium, needs_chromium
from tests.conftest import FIXTURES, Cli

FIXTURE = FIXTURES / "checkout_db_pool.jsonl.gz"
TO = ["oncall@example.org", "team@example.org"]
SENDER = "logsense@example.org"

# The AUTH tests run without TLS on purpose (loopback); aiosmtpd warns about exactly that.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


# --- a real SMTP server ---


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it receives and refuses the recipients it is told."""

    refuse: set[str] = field(default_factory=set)
    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)

    async def handle_RCPT(  # aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def only(self) -> tuple[str, list[str], EmailMessage]:
        assert len(self.received) == 1, self.received
        return self.received[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def only_alice(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alice", b"s3cret")
    return AuthResult(success=ok, handled=False)


@dataclass
class Server:
    port: int
    inbox: Inbox


@pytest.fixture
def smtp() -> Iterator[Server]:
    """An SMTP server on a free loopback port for one test."""
    with serving(Inbox()) as server:
        yield server


@pytest.fixture
def smtp_auth() -> Iterator[Server]:
    """An SMTP server that wants AUTH (alice / s3cret), over plain text as on a test bench."""
    with serving(
        Inbox(), auth_required=True, auth_require_tls=False, authenticator=only_alice
    ) as server:
        yield server


@contextmanager
def serving(inbox: Inbox, **parameters: Any) -> Iterator[Server]:
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **parameters)
    controller.start()
    try:
        yield Server(port, inbox)
    finally:
        controller.stop()


def digest_args(state: Path, port: int, *extra: str, to: list[str] = TO) -> list[str]:
    return [
        "digest", "-s", str(FIXTURE), "--since", "1h", "--no-llm", "--state-dir", str(state),
        "--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--to", ",".join(to),
        "--sender", SENDER, *extra,
    ]  # fmt: skip


def one_error_line(stderr: str, *needles: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("logsense: error: "), stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def last_digest(state: Path) -> SentDigest | None:
    with DigestStore.open(state) as store:
        return store.last("default")


def section(text: str, name: str) -> list[str]:
    """The entries of the plain-text part's section `== NAME (n) ==`."""
    found = re.search(rf"^== {name} \(\d+\) ==\n(.*?)(?=^== |^--$)", text, re.M | re.S)
    body = found.group(1) if found else ""
    return [entry.strip("\n") for entry in body.split("\n\n") if entry.strip()]


def parts(message: EmailMessage) -> tuple[str, str, dict[str, bytes]]:
    """The plain text, the HTML and the inline images by Content-ID."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    images = {
        str(p["Content-ID"]).strip().strip("<>"): p.get_content()
        for p in message.walk()
        if p.get_content_type() == "image/png"
    }
    # SMTP carries CRLF line ends; the parser keeps them in the bodies.
    crlf = str.maketrans({"\r": None})
    return text.get_content().translate(crlf), html.get_content().translate(crlf), images


# --- the first digest, sent once for the module ---


@dataclass
class Delivery:
    state: Path
    stderr: str
    mail_from: str
    recipients: list[str]
    message: EmailMessage


@pytest.fixture(scope="module")
def first(cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Delivery]:
    state = tmp_path_factory.mktemp("digest-state")
    with serving(Inbox()) as server:
        code, _, err = cli(*digest_args(state, server.port))
        assert code == 0, err
        mail_from, recipients, message = server.inbox.only()
        yield Delivery(state, err, mail_from, recipients, message)


def test_the_digest_arrives_as_text_and_html_with_inline_charts(first: Delivery) -> None:
    message = first.message
    assert first.mail_from == SENDER and first.recipients == TO
    assert message["To"] == ", ".join(TO) and message["From"] == SENDER
    assert re.fullmatch(
        r"\[logsense\] 1 critical, \d+ new issues · inventory(, [a-z-]+)*( \+\d+)? · last 1h",
        message["Subject"],
    ), message["Subject"]
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    plain, related = message.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    assert next(related.iter_parts()).get_content_type() == "text/html"
    _, html, images = parts(message)
    referenced = re.findall(r'src="cid:([^"]+)"', html)
    assert len(referenced) >= 2 and set(referenced) == set(images)
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in images.values())
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert not re.search(r"""(src|href)=["']?https?:""", html), "no external assets"
    assert "logsense: digest 'default' sent to oncall@example.org, team@example.org" in first.stderr


def test_each_issue_has_its_facts_and_where_to_see_its_logs(first: Delivery) -> None:
    text, html, _ = parts(first.message)
    top = section(text, "NEW")[0]
    assert top.startswith("[critical] inventory: could not get a DB connection for inventory")
    assert re.search(r"71\.6% of requests \(5,071\) · [\d,]+ events", top), top
    assert "first seen Nov 21 22:46 UTC" in top
    assert f"zgrep -F 'could not get a DB connection for inventory within' {FIXTURE}" in top
    assert "ONGOING" in text and "RESOLVED" not in text
    assert "71.6% of requests (5,071)" in html and "First digest named" in html
    digest = last_digest(first.state)
    assert digest is not None and digest.source == str(FIXTURE)
    reported = {i.id for i in digest.issues.values() if i.reported}
    listed = section(text, "NEW") + section(text, "ONGOING")
    assert len(reported) == len(listed) and len(digest.issues) > len(reported)


@needs_chromium
def test_the_html_part_renders_in_chromium(first: Delivery, tmp_path: Path) -> None:
    _, html, images = parts(first.message)
    for number, (cid, png) in enumerate(images.items()):
        (tmp_path / f"image{number}.png").write_bytes(png)
        html = html.replace(f"cid:{cid}", f"image{number}.png")
    page, shot = tmp_path / "digest.html", tmp_path / "digest-screenshot.png"
    page.write_text(html, encoding="utf-8")
    chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=1000,1400", timeout=60)
    assert shot.stat().st_size > 50_000
    with Image.open(shot) as picture:
        assert picture.size == (1000, 1400)
        colours = picture.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 500, "text, badges and charts, not a blank page"


def test_a_rerun_sends_nothing_new_and_calls_it_ongoing(cli: Cli, first: Delivery) -> None:
    before = last_digest(first.state)
    assert before is not None
    listed = sum(1 for i in before.issues.values() if i.reported)
    with serving(Inbox()) as server:
        code, _, err = cli(*digest_args(first.state, server.port, "--only-if-new"))
        assert code == 0 and not server.inbox.received
        assert err.strip() == (
            "logsense: digest 'default': nothing new or worse since the last digest "
            f"({listed} ongoing); not sent"
        )
        code, _, err = cli(*digest_args(first.state, server.port))
        assert code == 0, err
        message = server.inbox.only()[2]
    assert message["Subject"] == (
        f"[logsense] nothing new, {listed} ongoing (1 critical) · inventory · last 1h"
    )
    text, _, _ = parts(message)
    assert not section(text, "NEW") and not section(text, "WORSE")
    assert section(text, "ONGOING")[0].startswith("[critical] inventory: could not get")
    assert "a re-run, so what it listed is ongoing here" in text


# --- faults: one line, an exit code, and the state left as it was ---


def test_server_down(cli: Cli, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there any more
    code, _, err = cli(*digest_args(tmp_path, port))
    assert code == 4
    one_error_line(err, f"cannot reach the SMTP server 127.0.0.1:{port}", "refused")
    assert last_digest(tmp_path) is None


def test_recipient_refused_sends_to_nobody(cli: Cli, smtp: Server, tmp_path: Path) -> None:
    smtp.inbox.refuse.add("nobody@example.org")
    to = ["oncall@example.org", "nobody@example.org"]
    code, _, err = cli(*digest_args(tmp_path, smtp.port, to=to))
    assert code == 6
    one_error_line(
        err, f"127.0.0.1:{smtp.port} refused nobody@example.org (550 5.1.1", "sent to nobody"
    )
    assert not smtp.inbox.received and last_digest(tmp_path) is None


def test_login_refused_then_accepted(
    cli: Cli, smtp_auth: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    login = ("--smtp-user", "alice", "--no-tls")
    monkeypatch.setenv("LOGSENSE_SMTP_PASSWORD", "wrong")
    code, _, err = cli(*digest_args(tmp_path, smtp_auth.port, *login))
    assert code == 5
    one_error_line(err, f"127.0.0.1:{smtp_auth.port} refused the login of 'alice': 535")
    assert last_digest(tmp_path) is None
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    code, _, err = cli(
        *digest_args(tmp_path, smtp_auth.port, *login, "--smtp-password-file", str(secret))
    )
    assert code == 0, err
    message = smtp_auth.inbox.only()[2]
    assert re.match(r"\[logsense\] 1 critical, \d+ new issues", message["Subject"]), "still new"


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--smtp-user", "alice"], "offers no TLS: not sending the password of 'alice' in clear"),
        (["--starttls"], "does not offer STARTTLS"),
    ],
)
def test_no_tls_where_it_is_wanted(
    cli: Cli,
    smtp_auth: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    said: str,
) -> None:
    monkeypatch.setenv("LOGSENSE_SMTP_PASSWORD", "s3cret")
    code, _, err = cli(*digest_args(tmp_path, smtp_auth.port, *flags))
    assert code == 5
    one_error_line(err, f"127.0.0.1:{smtp_auth.port}", said)
    assert not smtp_auth.inbox.received and last_digest(tmp_path) is None


def test_a_user_without_a_password_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli(*digest_args(tmp_path, 25, "--smtp-user", "alice"))
    assert code == 2
    one_error_line(err, "--smtp-user alice needs a password: set LOGSENSE_SMTP_PASSWORD")


def test_out_writes_the_message_and_no_record_keeps_no_state(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "digest.eml"
    code, _, err = cli(
        "digest", "-s", str(FIXTURE), "--since", "1h", "--no-llm", "--state-dir", str(tmp_path),
        "--out", str(out), "--no-record", "--name", "preview", "-q",
    )  # fmt: skip
    assert code == 0 and err == ""
    message = BytesParser(policy=policy.default).parsebytes(out.read_bytes())
    assert message["Subject"].startswith("[logsense preview] 1 critical, ")
    assert message["To"] is None
    with DigestStore.open(tmp_path) as store:
        assert store.last("preview") is None


def test_the_digest_lists_the_windows_changes(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "digest.eml"
    code, _, err = cli(
        "digest", "-s", str(FIXTURES / "orders_deploy_npe.jsonl.gz"), "--since", "1h",
        "--no-llm", "--state-dir", str(tmp_path), "--out", str(out), "--no-record", "-q",
    )  # fmt: skip
    assert code == 0, err
    text, html, _ = parts(BytesParser(policy=policy.default).parsebytes(out.read_bytes()))
    changes = text.split("== CHANGES (")[1]
    assert "deploy orders: Deploying version" in changes
    assert "rollback orders: Rolling back to version" in changes
    assert "Changes <span" in html and "Rolling back to version" in html


# --- the rules, on hand-made issues ---

WINDOW = Window(1_800_000_000.0, 1_800_003_600.0)


def issue(
    key: str,
    severity: Severity,
    share: float,
    status: Status = "new",
    service: str = "checkout",
) -> Issue:
    root = Pattern(key, service, "error", f"{key} failed after <*> ms")
    return Issue(
        id=key, patterns=[root], root=root, root_why="", events=100, requests_affected=10,
        share_of_requests=share, users_affected=None, first_seen=WINDOW.start + 60,
        last_seen=WINDOW.end - 60, severity=severity, status=status,
        timeline=[(int(WINDOW.start), 3), (int(WINDOW.start) + 60, 5)],
    )  # fmt: skip


def sent(key: str, severity: Severity, share: float, reported: bool = True) -> SentIssue:
    return SentIssue(key, f"checkout: {key}", "checkout", severity, share, 50, "new", reported, 1.0)


def previous(*issues: SentIssue) -> SentDigest:
    return SentDigest("default", WINDOW.start - 3600, WINDOW.start, WINDOW.start, "x.log",
                      {i.id: i for i in issues})  # fmt: skip


def changes(items: list[Any]) -> dict[str, str]:
    return {item.id: item.change for item in items}


def test_first_digest_follows_the_triage_statuses() -> None:
    now = [
        issue("a", "critical", 0.3),
        issue("b", "medium", 0.01, status="ongoing"),
        issue("c", "high", 0.06, status="regressed"),
        issue("d", "low", 0.001),
    ]
    items = classify(now, None, "medium")
    assert changes(items) == {"a": "new", "c": "new", "b": "ongoing"}
    assert [i.id for i in items] == ["a", "c", "b"]
    assert items[1].note == "back after a gap: seen before the baseline"


def test_against_the_last_digest() -> None:
    last = previous(
        sent("up", "medium", 0.02),  # severity up → worse
        sent("grew", "high", 0.06),  # share ×1.5 and +1pp → worse
        sent("same", "high", 0.06),  # ×1.4 → ongoing
        sent("gone", "high", 0.08),  # absent now → resolved
        sent("sank", "medium", 0.01),  # below the bar now → ongoing, said so
        sent("quiet", "low", 0.001, reported=False),  # was below the bar
    )
    now = [
        issue("up", "high", 0.02),
        issue("grew", "high", 0.09),
        issue("same", "high", 0.084),
        issue("sank", "low", 0.001, status="ongoing"),
        issue("quiet", "medium", 0.01, status="ongoing"),  # crossed the bar → worse
        issue("fresh", "medium", 0.01),
        issue("old", "medium", 0.01, status="ongoing"),  # in the baseline, never listed
    ]
    items = classify(now, last, "medium")
    assert changes(items) == {
        "up": "worse", "grew": "worse", "quiet": "worse", "old": "worse", "fresh": "new",
        "same": "ongoing", "sank": "ongoing", "gone": "resolved",
    }  # fmt: skip
    notes = {item.id: item.note for item in items}
    assert notes["up"] == "severity medium → high"
    assert notes["grew"] == "share 6.0% → 9.0%"
    assert notes["quiet"] == "was low (0.1%) last time, below the digest's bar"
    assert notes["old"] == "in the baseline too; listed for the first time"
    assert notes["sank"].endswith("now below the digest's bar: not listed next time")
    assert notes["gone"] == "not seen in this window (was high, 8.0%)"


def test_what_is_recorded_and_the_subject(tmp_path: Path) -> None:
    report = Report(WINDOW, None, "app.log", Totals(events=1000, requests=100), [
        issue("a", "critical", 0.3), issue("b", "low", 0.001), issue("c", "high", 0.1),
    ])  # fmt: skip
    digest = build(report, previous(sent("z", "high", 0.1)), DigestOptions(), WINDOW.end)
    assert subject(digest) == "[logsense] 1 critical, 2 new issues, 1 resolved · checkout · last 1h"
    assert digest.has_news and digest.unlisted == 1
    with DigestStore.open(tmp_path) as store:
        store.record(digest.to_record())
        again = store.last("default")
    assert again is not None and again.window_end == WINDOW.end
    assert {k: v.reported for k, v in again.issues.items()} == {"a": True, "b": False, "c": True}


def test_foreign_state_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "digests.sqlite3").write_bytes(b"not a database at all" * 100)
    with pytest.raises(UsageError, match=r"digests\.sqlite3 is unreadable"):
        last_digest(tmp_path)


def test_log_hints_for_files_and_elasticsearch() -> None:
    assert fixed_text('payment "card" declined after <*> ms for <*>') == "declined after"
    one = issue("a", "high", 0.1)
    report = Report(WINDOW, None, "http://es:9200/logs-* (env:prod)", Totals(), [one])
    hint = log_hint(one, report, FieldMap(), kibana_url="https://kibana.example.org/")
    assert hint.text.endswith('(env:prod) AND service.name:"checkout" AND message:"a failed after"')
    assert hint.text.startswith("index logs-*, 2027-01-15T08:00:00.000Z → ")
    assert hint.url is not None
    assert hint.url.startswith("https://kibana.example.org/app/discover#/?_g=(time:(from:'2027")
    assert "query:'(env:prod)%20AND%20service.name:" in hint.url


def test_smtp_settings_from_flat_and_nested_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGSENSE_SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("LOGSENSE_SMTP__PORT", "2525")
    monkeypatch.setenv("LOGSENSE_SMTP_SECURITY", "ssl")
    smtp = load_settings(None, smtp={"user": "bot"}).smtp
    assert (smtp.address, smtp.security, smtp.user) == ("mail.example.org:2525", "ssl", "bot")


def test_recipients_are_checked() -> None:
    assert parse_recipients("a@x.org, Team <b@y.org>,a@x.org") == ["a@x.org", "b@y.org"]
    for bad in ("oncall", "a@x.org,,b", ""):
        with pytest.raises(UsageError, match="--to"):
            parse_recipients(bad)
