"""IMAP adapter (imapclient, run in worker threads): a logged-in ``ImapSession``.

    async with ImapConnector(runtime.ssl_context, timeout=15, allowed=networks) as imap:
        async with imap.session(server, login, password) as session:
            status = await session.select("INBOX")
            uids = await session.run(lambda c: c.search(["UNSEEN"]), "search")  # extend like this

imapclient is blocking. Every call runs in the connector's own thread pool (never in the event
loop: an in-process IMAP server such as the sandbox's pymap would deadlock, and a slow server
would stall every other task). The pool is sized by the caller because ``asyncio.to_thread``'s
default pool (cpu count + 4 threads) would serialise a large batch of mailboxes.

The connection goes to an address checked by the address policy (``allowed``; ``None`` skips
it for operator-configured hosts); TCP connect and the "is this a TLS port?" probe happen in
the event loop, then the connected socket is handed to imapclient, which verifies the
certificate against the host name the caller gave.

How library errors become ``MailError`` (see ``integrations.mailnet``), by stage::

    dns        net.HostNotFound / HostNotAllowed / slow lookup   DNS_NOT_FOUND, HOST_NOT_ALLOWED,
                                                                  DNS_TIMEOUT
    tcp        ConnectionRefusedError / TimeoutError / OSError    IMAP_CONNECTION_REFUSED,
                                                                  IMAP_TIMEOUT,
                                                                  IMAP_CONNECTION_FAILED
    greeting   silence on a plaintext start + TLS probe ok        IMAP_TLS_MODE_MISMATCH
               imaplib.IMAP4.error (BYE instead of OK)            IMAP_GREETING_REJECTED
    tls        ssl.SSLError WRONG_VERSION_NUMBER (993 on a        IMAP_TLS_MODE_MISMATCH
               STARTTLS port) / SSLCertVerificationError / other  IMAP_TLS_FAILED
    starttls   not offered while required; LOGINDISABLED          IMAP_STARTTLS_UNAVAILABLE,
               without STARTTLS; ssl.SSLError                     IMAP_LOGIN_DISABLED,
                                                                  IMAP_TLS_FAILED
    auth       imapclient.exceptions.LoginError                   IMAP_AUTH_FAILED ([UNAVAILABLE]:
                                                                  transient)
    select     IMAPClientError                                    IMAP_SELECT_FAILED
    any        socket timeout / IMAPClientAbortError / OSError    IMAP_TIMEOUT, IMAP_DISCONNECTED
               anything else imapclient raises                    IMAP_PROTOCOL_ERROR
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import imaplib
import ipaddress
import re
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from perch.server.integrations import imap_fetch, mailnet
from perch.server.integrations.mail_hints import auth_hint
from perch.server.integrations.mailnet import (
    IPNetwork,
    MailError,
    MailPermanent,
    MailServer,
    MailTransient,
    Security,
)

log = structlog.get_logger(__name__)
P = "IMAP"
T = TypeVar("T")
_BYTES_REPR = re.compile(r"^b(['\"])(.*)\1$", re.S)


@dataclass(frozen=True)
class FolderStatus:
    exists: int
    uidvalidity: int | None
    uidnext: int | None


class _Progress:
    """Where a blocking call got to, so an exception can be reported at the right stage."""

    def __init__(self, stage: str) -> None:
        self.stage = stage


class ImapSession:
    """A logged-in IMAP connection. Calls are serialised; each runs in a pool thread."""

    def __init__(self, client: IMAPClient, server: MailServer, connector: ImapConnector) -> None:
        self._client = client
        self.server = server
        self._connector = connector
        self._lock = asyncio.Lock()

    async def run(self, call: Callable[[IMAPClient], T], stage: str) -> T:
        """Run ``call(client)`` in a pool thread; errors come back as ``MailError``."""
        async with self._lock:
            return await self._connector.in_thread(
                self.server, _Progress(stage), lambda _: call(self._client)
            )

    async def capabilities(self) -> tuple[str, ...]:
        found = await self.run(lambda c: c.capabilities(), "capability")
        return tuple(item.decode() if isinstance(item, bytes) else str(item) for item in found)

    async def select(self, folder: str = "INBOX", *, readonly: bool = True) -> FolderStatus:
        info = await self.run(lambda c: c.select_folder(folder, readonly=readonly), "select")
        return FolderStatus(
            exists=int(info.get(b"EXISTS", 0)),
            uidvalidity=_optional_int(info.get(b"UIDVALIDITY")),
            uidnext=_optional_int(info.get(b"UIDNEXT")),
        )

    async def fetch_messages(self, uids: Sequence[int]) -> list[imap_fetch.FetchedMessage]:
        """Whole messages (``BODY.PEEK[]``: the \\Seen flag is left alone) with their flags."""
        return await self.run(lambda c: imap_fetch.fetch(c, uids), "fetch")

    async def close(self) -> None:
        """LOGOUT; a server that does not answer is simply dropped."""
        with contextlib.suppress(Exception):
            await self.run(_logout, "logout")


def _logout(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:
        with contextlib.suppress(Exception):
            client.shutdown()


def _optional_int(value: object) -> int | None:
    return int(value) if isinstance(value, int | str | bytes) else None


class ImapConnector:
    """Opens ``ImapSession``s. Owns the thread pool: close it (or use ``async with``)."""

    def __init__(
        self,
        ssl_context: ssl.SSLContext,
        *,
        timeout: float,
        allowed: Sequence[IPNetwork] | None,
        max_threads: int = 8,
    ) -> None:
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.allowed = allowed
        self._pool = ThreadPoolExecutor(max_threads, thread_name_prefix="perch-imap")
        self._greeters = mailnet.Greeters()

    async def open(self, server: MailServer, login: str, password: str) -> ImapSession:
        """Connect, start TLS as ``server.security`` says, and LOGIN."""
        sock = await self._socket(server)
        progress = _Progress("tls" if server.security is Security.implicit_tls else "greeting")
        opener = functools.partial(self._open_blocking, sock, server, login, password)
        client = await self.in_thread(server, progress, opener)
        log.debug("imap.login.ok", server=str(server))
        return ImapSession(client, server, self)

    @contextlib.asynccontextmanager
    async def session(
        self, server: MailServer, login: str, password: str
    ) -> AsyncIterator[ImapSession]:
        session = await self.open(server, login, password)
        try:
            yield session
        finally:
            await session.close()

    async def in_thread(
        self, server: MailServer, progress: _Progress, call: Callable[[_Progress], T]
    ) -> T:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        try:
            return await loop.run_in_executor(self._pool, context.run, call, progress)
        except Exception as e:
            raise translate(e, server, progress.stage, self.timeout) from e

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def __aenter__(self) -> ImapConnector:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    async def _socket(self, server: MailServer) -> socket.socket:
        addresses = await mailnet.pin(P, server, self.allowed, self.timeout)
        sock = await mailnet.open_socket(P, server, addresses, self.timeout)
        try:
            if server.security is not Security.implicit_tls:
                peer = ipaddress.ip_address(sock.getpeername()[0])
                await mailnet.await_greeting(
                    P, sock, server, peer, self.ssl_context, self.timeout, self._greeters
                )
            sock.settimeout(self.timeout)  # blocking, with a timeout, for imapclient
        except BaseException:
            mailnet.close_quietly(sock)
            raise
        return sock

    def _open_blocking(
        self,
        sock: socket.socket,
        server: MailServer,
        login: str,
        password: str,
        progress: _Progress,
    ) -> IMAPClient:
        try:
            client = _PinnedClient(sock, server, self.ssl_context, self.timeout)
        except BaseException:
            mailnet.close_quietly(sock)
            raise
        try:
            self._upgrade(client, server, progress)
            progress.stage = "auth"
            client.login(login, password)
        except BaseException:
            _logout(client)
            raise
        return client

    def _upgrade(self, client: IMAPClient, server: MailServer, progress: _Progress) -> None:
        if server.security is Security.implicit_tls:
            return
        progress.stage = "starttls"
        capabilities = set(client.capabilities())
        if b"STARTTLS" in capabilities:
            client.starttls(self.ssl_context)
        elif server.security is Security.starttls_required:
            raise _unavailable(server, "STARTTLS_UNAVAILABLE", "does not offer STARTTLS")
        elif b"LOGINDISABLED" in capabilities:
            raise _unavailable(server, "LOGIN_DISABLED", "refuses logins and offers no STARTTLS")


def _unavailable(server: MailServer, code: str, what: str) -> MailError:
    return MailPermanent(
        f"{P}_{code}",
        "starttls",
        f"{server} {what}",
        server=str(server),
        hint="use the server's implicit-TLS port (993), where logins are allowed",
    )


class _PinnedIMAP4(imaplib.IMAP4):
    """imaplib over a socket that is already connected (to the checked address)."""

    def __init__(self, host: str, port: int, sock: socket.socket, tls: ssl.SSLContext | None):
        self._given = sock
        self._tls = tls
        super().__init__(host, port)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        if self._tls is None:
            return self._given
        return self._tls.wrap_socket(self._given, server_hostname=self.host)


class _PinnedClient(IMAPClient):
    """IMAPClient whose connection is the socket we give it (imapclient 4.x ``_create_IMAP4``)."""

    def __init__(
        self, sock: socket.socket, server: MailServer, context: ssl.SSLContext, timeout: float
    ) -> None:
        self._given_socket = sock
        implicit = server.security is Security.implicit_tls
        super().__init__(
            server.host, server.port, ssl=implicit, ssl_context=context, timeout=timeout
        )

    def _create_IMAP4(self) -> Any:
        tls = self.ssl_context if self.ssl else None
        return _PinnedIMAP4(self.host, self.port, self._given_socket, tls)


def translate(error: Exception, server: MailServer, stage: str, timeout: float) -> MailError:
    """An imapclient / imaplib / ssl / socket exception raised at ``stage`` as a MailError."""
    if isinstance(error, MailError):
        return error
    if isinstance(error, ssl.SSLError):
        return mailnet.tls_error(P, server, error, stage)
    if isinstance(error, TimeoutError | socket.timeout):
        return mailnet.timeout_error(P, server, stage, timeout)
    if isinstance(error, IMAPClientAbortError | OSError | EOFError):
        return mailnet.disconnected_error(P, server, stage, _reply(error) or type(error).__name__)
    if isinstance(error, LoginError):
        return _login_failed(error, server)
    if isinstance(error, IMAPClientError):
        return _refused(error, server, stage)
    text = _reply(error)
    return MailPermanent(f"{P}_PROTOCOL_ERROR", stage, f"{server}: {text}", server=str(server))


_STAGE_CODES = {"greeting": "GREETING_REJECTED", "select": "SELECT_FAILED"}


def _refused(error: IMAPClientError, server: MailServer, stage: str) -> MailError:
    reply = _reply(error)
    code = _STAGE_CODES.get(stage, "PROTOCOL_ERROR")
    hint = "the server has no INBOX for this login" if stage == "select" else None
    kind = MailTransient if "[UNAVAILABLE]" in reply.upper() else MailPermanent
    message = f"{server} answered {reply!r} ({stage})"
    return kind(f"{P}_{code}", stage, message, server=str(server), reply=reply, hint=hint)


def _login_failed(error: LoginError, server: MailServer) -> MailError:
    reply = _reply(error)
    kind = MailTransient if "[UNAVAILABLE]" in reply.upper() else MailPermanent
    return kind(
        f"{P}_AUTH_FAILED",
        "auth",
        f"{server} refused the login: {reply}",
        server=str(server),
        reply=reply,
        hint=auth_hint(P, reply),
    )


def _reply(error: BaseException) -> str:
    """The server's words inside imaplib's ``b'...'`` rendering."""
    text = str(error).strip()
    for prefix in ("login failed: ", "select failed: "):
        text = text.removeprefix(prefix)
    match = _BYTES_REPR.match(text)
    return match.group(2) if match else text
