"""Sending a message over SMTP (smtplib), with every failure turned into one clear line.

The conversation is all or nothing: every recipient is checked (RCPT) before the message is
sent (DATA), so a refused recipient means nobody got it, and a digest can simply be sent again.

    unreachable, timed out, dropped      SourceUnavailable  exit 4
    login refused, no AUTH, TLS failed   LoginRefused       exit 5
    sender, a recipient or data refused  DeliveryRefused    exit 6

Every message names the server as `host:port`. The password is passed in by the caller (from
`LOGSENSE_SMTP_PASSWORD` or a file), never read from settings.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import getaddresses

from logsense.config import SmtpConfig
from logsense.errors import DeliveryRefused, LoginRefused, SourceUnavailable, UsageError

__all__ = ["parse_recipients", "parse_sender", "send"]

# An address as a recipient or sender may be given: local@domain, ASCII, no quoting.
_ADDRESS = (
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
# One entry: `a@x.org`, `Team <a@x.org>` or `"Team, EU" <a@x.org>`: exactly one address.
_ENTRY = re.compile(rf'(?:(?:"[^"\\]*"|[^"<>@,;:\\]*)\s*<{_ADDRESS}>|{_ADDRESS})')
# Anything that could end a header line or smuggle another one in (CR, LF, NEL, U+2028 …).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _entries(text: str) -> list[str]:
    """`text` split at the commas outside double quotes."""
    entries: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            entries.append("".join(current))
            current = []
        else:
            current.append(char)
    return [*entries, "".join(current)]


def _address(entry: str, option: str) -> str:
    """The address of one entry of `option`; UsageError unless it is exactly one address."""
    if _CONTROL.search(entry):
        raise UsageError(
            f"{option}: a line break or control character in {entry!r}: "
            "give one address per comma-separated entry"
        )
    entry = entry.strip()
    if not entry:
        raise UsageError(f"{option}: an empty entry (e.g. {option} oncall@example.org)")
    parsed = getaddresses([entry])
    if not _ENTRY.fullmatch(entry) or len(parsed) != 1:
        raise UsageError(
            f"{option}: not one email address: {entry!r} "
            "(give one address per comma-separated entry: a@x.org,Team <b@y.org>)"
        )
    return parsed[0][1]


def parse_recipients(text: str) -> list[str]:
    """The addresses in a comma-separated list (`a@x.org, Team <b@y.org>`); UsageError if bad:
    an entry that is not exactly one address, or that holds a line break (`\r\nBcc: …`)."""
    if not text.strip():
        raise UsageError("--to: no recipients given (e.g. --to oncall@example.org)")
    found = [_address(entry, "--to") for entry in _entries(text)]
    return list(dict.fromkeys(found))


def parse_sender(text: str) -> str:
    """The From of a digest (`logsense@x.org` or `Logsense <logsense@x.org>`), checked like a
    recipient; UsageError if bad."""
    _address(text, "--sender")
    return text.strip()


def send(
    message: EmailMessage, config: SmtpConfig, recipients: list[str], password: str | None
) -> None:
    """Send `message` to `recipients` through the server `config` names.

    Logs in when `config.user` is set. Raises SourceUnavailable, LoginRefused or
    DeliveryRefused (see the module docstring); on any of them nothing was sent.
    """
    where = config.address
    sender = getaddresses([str(message["From"])])[0][1]
    try:
        with _session(config) as smtp:
            _secure(smtp, config)
            if config.user:
                _login(smtp, config, config.user, password or "")
            _transfer(smtp, sender, recipients, message, where)
    except (LoginRefused, DeliveryRefused, UsageError):
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise LoginRefused(
            f"the SMTP server {where} refused the login of {config.user!r}: {_reply(exc)}"
        ) from None
    except smtplib.SMTPConnectError as exc:
        raise SourceUnavailable(f"the SMTP server {where} turned us away: {_reply(exc)}") from None
    except smtplib.SMTPDataError as exc:
        raise DeliveryRefused(
            f"the SMTP server {where} refused the message: {_reply(exc)}"
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryRefused(f"the SMTP server {where} answered {_reply(exc)}") from None
    except ssl.SSLError as exc:
        raise LoginRefused(
            f"TLS with the SMTP server {where} failed: {exc.reason or exc}"
        ) from None
    except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
        raise SourceUnavailable(
            f"cannot reach the SMTP server {where}: {_why(exc, config.timeout)}"
        ) from None


@contextmanager
def _session(config: SmtpConfig) -> Iterator[smtplib.SMTP]:
    port, timeout = config.effective_port, config.timeout
    if config.security == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            config.host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(config.host, port, timeout=timeout)
    try:
        yield smtp
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _secure(smtp: smtplib.SMTP, config: SmtpConfig) -> None:
    """STARTTLS when asked for, or (`auto`) when the server offers it."""
    smtp.ehlo_or_helo_if_needed()
    if config.security in ("ssl", "none"):
        return
    if smtp.has_extn("starttls"):
        smtp.starttls(context=ssl.create_default_context())
        smtp.ehlo()
    elif config.security == "starttls":
        raise LoginRefused(
            f"the SMTP server {config.address} does not offer STARTTLS "
            "(use --ssl for implicit TLS, or --no-tls on a trusted network)"
        )


def _login(smtp: smtplib.SMTP, config: SmtpConfig, user: str, password: str) -> None:
    if config.security != "none" and not isinstance(smtp.sock, ssl.SSLSocket):
        # A password must not cross the network in clear unless the user said so.
        raise LoginRefused(
            f"the SMTP server {config.address} offers no TLS: not sending the password of "
            f"{user!r} in clear (use --ssl, or --no-tls on a trusted network)"
        )
    try:
        smtp.login(user, password)
    except smtplib.SMTPNotSupportedError:
        raise LoginRefused(
            f"the SMTP server {config.address} does not offer AUTH: drop --smtp-user"
        ) from None
    except smtplib.SMTPException as exc:
        if type(exc) is not smtplib.SMTPException:
            raise
        # smtplib's plain SMTPException here means no AUTH method both sides know.
        raise LoginRefused(f"cannot log in to the SMTP server {config.address}: {exc}") from None


def _transfer(
    smtp: smtplib.SMTP, sender: str, recipients: list[str], message: EmailMessage, where: str
) -> None:
    code, reply = smtp.mail(sender)
    if code != 250:
        smtp.rset()
        raise DeliveryRefused(
            f"the SMTP server {where} refused the sender {sender}: {code} {_text(reply)}"
        )
    refused = []
    for recipient in recipients:
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            refused.append(f"{recipient} ({code} {_text(reply)})")
    if refused:
        smtp.rset()
        raise DeliveryRefused(
            f"the SMTP server {where} refused {', '.join(refused)}: the digest was sent to nobody"
        )
    smtp.data(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


def _why(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"the connection was closed ({exc or 'no reason given'})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
