"""SMTP adapter (aiosmtplib): connect to a checked address with the right TLS mode, log in, send.

    connector = SmtpConnector(runtime.ssl_context, timeout=15, allowed=settings.allowed_networks)
    async with connector.session(server, login, password) as smtp:      # verified and logged in
        await smtp.send(message, sender="me@example.com", recipients=["you@example.org"])
    # or, for one message:
    await connector.send(server, login, password, message, sender=..., recipients=[...])

``allowed`` is the address policy for user-supplied hosts; ``None`` (operator-configured hosts
such as the system SMTP account) skips it. Certificates are always verified, against the host
name the caller gave, while the connection goes to the address that was checked.

How library errors become ``MailError`` (see ``integrations.mailnet``), by stage::

    dns        net.HostNotFound / HostNotAllowed / slow lookup  DNS_NOT_FOUND, HOST_NOT_ALLOWED,
                                                                 DNS_TIMEOUT
    tcp        ConnectionRefusedError / TimeoutError / OSError   SMTP_CONNECTION_REFUSED,
                                                                 SMTP_TIMEOUT,
                                                                 SMTP_CONNECTION_FAILED
    greeting   silence on a plaintext start + TLS probe ok       SMTP_TLS_MODE_MISMATCH
               SMTPConnectTimeoutError / SMTPConnectError        SMTP_TIMEOUT, SMTP_DISCONNECTED
               SMTPConnectResponseError (not 220)                SMTP_GREETING_REJECTED
    tls        ssl.SSLError WRONG_VERSION_NUMBER (465 on a       SMTP_TLS_MODE_MISMATCH
               STARTTLS port) / SSLCertVerificationError / other SMTP_TLS_FAILED
    ehlo       SMTPHeloError                                     SMTP_EHLO_REJECTED
    starttls   not offered while required / refused / ssl error  SMTP_STARTTLS_UNAVAILABLE,
                                                                 SMTP_TLS_FAILED
    auth       SMTPAuthenticationError                           SMTP_AUTH_FAILED (454: transient)
               SMTPException "AUTH extension not supported"      SMTP_AUTH_UNAVAILABLE
    send       SMTPSenderRefused / SMTPRecipientsRefused /       SMTP_SENDER_REFUSED,
               SMTPDataError                                     SMTP_RECIPIENTS_REFUSED,
                                                                 SMTP_DATA_REFUSED
    any        SMTPTimeoutError / SMTPServerDisconnected         SMTP_TIMEOUT, SMTP_DISCONNECTED
               another reply or protocol surprise                SMTP_REJECTED, SMTP_PROTOCOL_ERROR

4xx replies, timeouts and lost connections are ``MailTransient``; the rest ``MailPermanent``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib
import structlog

from perch.server.integrations import mailnet
from perch.server.integrations.mail_hints import auth_hint
from perch.server.integrations.mailnet import (
    IPNetwork,
    MailError,
    MailPermanent,
    MailServer,
    Security,
    by_reply_code,
)

log = structlog.get_logger(__name__)
P = "SMTP"


@dataclass(frozen=True)
class SendResult:
    reply: str  # the text of the server's 250 to the message, e.g. "2.0.0 OK: queued as 12345"
    refused: dict[str, str]  # recipients the server refused -> its reply; the rest accepted


class SmtpSession:
    """A connected, authenticated SMTP connection."""

    def __init__(self, client: aiosmtplib.SMTP, server: MailServer, timeout: float) -> None:
        self._client = client
        self.server = server
        self._timeout = timeout

    async def send(
        self, message: EmailMessage, *, sender: str, recipients: Sequence[str]
    ) -> SendResult:
        """Send ``message`` as is; the envelope is ``sender`` -> ``recipients`` (Bcc included)."""
        try:
            refused, reply = await self._client.send_message(
                message, sender=sender, recipients=list(recipients)
            )
        except Exception as e:
            raise translate(e, self.server, "send", self._timeout) from e
        return SendResult(reply, {rcpt: str(response) for rcpt, response in refused.items()})

    async def close(self) -> None:
        """QUIT politely; a server that does not answer is simply dropped."""
        with contextlib.suppress(Exception):
            await self._client.quit()
        self._client.close()


class SmtpConnector:
    def __init__(
        self,
        ssl_context: ssl.SSLContext,
        *,
        timeout: float,
        allowed: Sequence[IPNetwork] | None,
        local_hostname: str = "localhost",
    ) -> None:
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.allowed = allowed
        self.local_hostname = local_hostname
        self._greeters = mailnet.Greeters()

    async def open(self, server: MailServer, login: str | None, password: str) -> SmtpSession:
        """Connect, start TLS as ``server.security`` says, and log in (unless ``login`` is None:
        a relay that needs no AUTH)."""
        client = await self._connect(server)
        session = SmtpSession(client, server, self.timeout)
        try:
            await self._starttls(client, server)
            if login is not None:
                await self._step(client.login(login, password), server, "auth")
        except BaseException:
            client.close()
            raise
        log.debug("smtp.login.ok", server=str(server))
        return session

    @contextlib.asynccontextmanager
    async def session(
        self, server: MailServer, login: str | None, password: str
    ) -> AsyncIterator[SmtpSession]:
        session = await self.open(server, login, password)
        try:
            yield session
        finally:
            await session.close()

    async def send(
        self,
        server: MailServer,
        login: str | None,
        password: str,
        message: EmailMessage,
        *,
        sender: str,
        recipients: Sequence[str],
    ) -> SendResult:
        """Connect, log in, send one message, quit."""
        async with self.session(server, login, password) as smtp:
            return await smtp.send(message, sender=sender, recipients=recipients)

    async def _connect(self, server: MailServer) -> aiosmtplib.SMTP:
        addresses = await mailnet.pin(P, server, self.allowed, self.timeout)
        sock = await mailnet.open_socket(P, server, addresses, self.timeout)
        implicit = server.security is Security.implicit_tls
        try:
            if not implicit:
                peer = ipaddress.ip_address(sock.getpeername()[0])
                await mailnet.await_greeting(
                    P, sock, server, peer, self.ssl_context, self.timeout, self._greeters
                )
            client = aiosmtplib.SMTP(
                hostname=server.host,
                sock=sock,
                use_tls=implicit,
                start_tls=False,
                tls_context=self.ssl_context,
                timeout=self.timeout,
                local_hostname=self.local_hostname,
            )
        except BaseException:
            mailnet.close_quietly(sock)
            raise
        await self._step(client.connect(), server, "tls" if implicit else "greeting")
        return client

    async def _starttls(self, client: aiosmtplib.SMTP, server: MailServer) -> None:
        if server.security is Security.implicit_tls:
            return
        await self._step(client.ehlo(), server, "ehlo")
        if client.supports_extension("starttls"):
            await self._step(client.starttls(), server, "starttls")
        elif server.security is Security.starttls_required:
            raise MailPermanent(
                f"{P}_STARTTLS_UNAVAILABLE",
                "starttls",
                f"{server} does not offer STARTTLS",
                server=str(server),
                hint="use the server's implicit-TLS port (smtps://…:465) or a server with STARTTLS",
            )

    async def _step(self, step: Awaitable[object], server: MailServer, stage: str) -> None:
        try:
            await step
        except Exception as e:
            raise translate(e, server, stage, self.timeout) from e


def translate(error: Exception, server: MailServer, stage: str, timeout: float) -> MailError:
    """An aiosmtplib (or ssl/socket) exception raised at ``stage`` as a MailError."""
    if isinstance(error, MailError):
        return error
    cause = error.__cause__
    if isinstance(error, aiosmtplib.SMTPConnectTimeoutError):
        stage = "greeting" if isinstance(cause, aiosmtplib.SMTPTimeoutError) else stage
        return mailnet.timeout_error(P, server, stage, timeout)
    if isinstance(error, ssl.SSLError):
        return mailnet.tls_error(P, server, error, "tls" if stage == "tls" else stage)
    if isinstance(error, aiosmtplib.SMTPConnectError) and isinstance(cause, ssl.SSLError):
        return mailnet.tls_error(P, server, cause, stage)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return _rejected(error, server, stage)
    if isinstance(error, (aiosmtplib.SMTPTimeoutError, TimeoutError)):
        return mailnet.timeout_error(P, server, stage, timeout)
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return _recipients_refused(error, server)
    if isinstance(error, (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, OSError)):
        return mailnet.disconnected_error(P, server, stage, str(error))
    return _protocol_error(error, server, stage)


_REPLY_CODES = {
    "greeting": "GREETING_REJECTED",
    "ehlo": "EHLO_REJECTED",
    "starttls": "TLS_FAILED",
    "auth": "AUTH_FAILED",
}


def _rejected(error: aiosmtplib.SMTPResponseException, server: MailServer, stage: str) -> MailError:
    reply = f"{error.code} {error.message}"
    kind = by_reply_code(error.code)
    if isinstance(error, aiosmtplib.SMTPSenderRefused):
        code, hint = "SENDER_REFUSED", "the server does not let this login send as this address"
    elif isinstance(error, aiosmtplib.SMTPDataError):
        code, hint = "DATA_REFUSED", "the server refused the message content"
    elif stage == "auth":
        code, hint = "AUTH_FAILED", auth_hint(P, reply)
    else:
        code, hint = _REPLY_CODES.get(stage, "REJECTED"), None
    message = f"{server} answered {reply!r} ({stage})"
    return kind(f"{P}_{code}", stage, message, server=str(server), reply=reply, hint=hint)


def _recipients_refused(error: aiosmtplib.SMTPRecipientsRefused, server: MailServer) -> MailError:
    replies = [f"{r.recipient}: {r.code} {r.message}" for r in error.recipients]
    codes = [r.code for r in error.recipients]
    kind = by_reply_code(min(codes)) if codes else MailPermanent
    return kind(
        f"{P}_RECIPIENTS_REFUSED",
        "send",
        f"{server} refused every recipient",
        server=str(server),
        reply="; ".join(replies),
        hint="check the recipient addresses",
    )


def _protocol_error(error: Exception, server: MailServer, stage: str) -> MailError:
    text = str(error)
    if stage == "auth" and "AUTH" in text:
        return MailPermanent(
            f"{P}_AUTH_UNAVAILABLE",
            stage,
            f"{server} offers no login on this connection: {text}",
            server=str(server),
            hint="use the submission port (587 with STARTTLS, or 465): port 25 often has no AUTH",
        )
    return MailPermanent(
        f"{P}_PROTOCOL_ERROR", stage, f"{server}: {text}", server=str(server), reply=None
    )
