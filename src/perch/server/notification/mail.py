"""Mailing a notification through the system SMTP account (``PERCH_NOTIFY_SMTP_URL``).

The system SMTP host is configured by the operator, so the address policy for user-supplied
hosts does not apply to it; its certificate is verified like any other (``PERCH_TLS_CA_FILE``).

    smtps://user:password@host[:465]   implicit TLS
    smtp://user:password@host[:587]    STARTTLS, required

Delivery is at least once: a crash between the server's acceptance and the record of it sends
the mail again when the job is retried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from perch.server.config import Settings
from perch.server.integrations.mailnet import MailServer, Security

SUBJECT_PREFIX = "Perch: "
_SCHEMES = {"smtps": (Security.implicit_tls, 465), "smtp": (Security.starttls_required, 587)}


@dataclass(frozen=True)
class SystemSmtp:
    server: MailServer
    login: str | None
    password: str | None = field(repr=False)
    sender: str


class NotConfigured(Exception):
    """The system SMTP account is missing or unusable; the message says what to set."""


def system_smtp(settings: Settings) -> SystemSmtp:
    if settings.notify_smtp_url is None:
        raise NotConfigured(
            "PERCH_NOTIFY_SMTP_URL is not set: Perch has no SMTP account to send from"
        )
    if not settings.notify_from:
        raise NotConfigured("PERCH_NOTIFY_FROM is not set: Perch has no sender address")
    url = urlsplit(settings.notify_smtp_url.get_secret_value())
    if url.scheme not in _SCHEMES or not url.hostname:
        raise NotConfigured("PERCH_NOTIFY_SMTP_URL must look like smtps://user:pass@host:465")
    security, default_port = _SCHEMES[url.scheme]
    try:
        port = url.port or default_port
    except ValueError as e:
        raise NotConfigured("PERCH_NOTIFY_SMTP_URL has an invalid port") from e
    return SystemSmtp(
        server=MailServer(url.hostname, port, security),
        login=unquote(url.username) if url.username else None,
        password=unquote(url.password) if url.password else None,
        sender=settings.notify_from,
    )


def compose(sender: str, recipient: str, text: str) -> EmailMessage:
    """The notification as a plain-text mail; its first line is the subject."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = SUBJECT_PREFIX + text.splitlines()[0]
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text + "\n")
    return message
