"""Client helpers shared by the sandbox tests (blocking IMAP, async SMTP)."""

from __future__ import annotations

import ssl
from email.message import EmailMessage

import aiosmtplib
from imapclient import IMAPClient

HOST = "127.0.0.1"
MODES = ("implicit", "starttls")


def imap_client(port: int, ctx: ssl.SSLContext, mode: str, timeout: float = 5.0) -> IMAPClient:
    """Connected (and, for ``starttls``, upgraded) blocking IMAP client."""
    if mode == "implicit":
        return IMAPClient(HOST, port, ssl=True, ssl_context=ctx, timeout=timeout)
    client = IMAPClient(HOST, port, ssl=False, timeout=timeout)
    client.starttls(ctx)
    return client


def imap_folders(port: int, ctx: ssl.SSLContext, mode: str, login: str, password: str) -> list[str]:
    """Log in, list the folder names, log out (raises ``LoginError`` if refused)."""
    client = imap_client(port, ctx, mode)
    try:
        client.login(login, password)
        return [name for _, _, name in client.list_folders()]
    finally:
        client.shutdown()


def smtp_client(port: int, ctx: ssl.SSLContext, mode: str, timeout: float = 5.0) -> aiosmtplib.SMTP:
    """Unconnected aiosmtplib client for the given TLS mode."""
    return aiosmtplib.SMTP(
        hostname=HOST,
        port=port,
        use_tls=mode == "implicit",
        start_tls=mode == "starttls",
        tls_context=ctx,
        timeout=timeout,
    )


def sample_message(
    sender: str = "alice@example.test",
    to: str = "prospect@example.org",
    subject: str = "Hello from the sandbox",
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = "<reply-1@example.test>"
    message["In-Reply-To"] = "<original-1@example.org>"
    message["References"] = "<thread-0@example.org> <original-1@example.org>"
    message.set_content("Hi there,\n\njust checking in.\n")
    return message
