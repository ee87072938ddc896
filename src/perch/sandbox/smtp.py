"""An SMTP submission server for tests and demos, on aiosmtpd in the running loop.

Two listeners share one user table and one message list:

* ``implicit_port``: TLS from the first byte, like port 465.
* ``starttls_port``: plaintext until ``STARTTLS``, like port 587; ``AUTH`` is
  neither advertised nor accepted before the upgrade (``530``/``538``).

Both require ``AUTH PLAIN`` or ``AUTH LOGIN`` before ``MAIL``. What a client
sees when things go wrong:

* wrong password, or ``faults.fail_auth``: ``535 5.7.8``
* a recipient in ``reject_recipients``: ``550 5.1.1`` on ``RCPT TO``
* ``reject_data`` set: that reply line after ``DATA``
* ``refuse()``: connection refused until ``accept()``
* ``faults.stall``: the connection opens and the greeting never comes (on the
  implicit port the TLS handshake still completes first)

aiosmtpd's ``Controller`` cannot use port 0, so the listeners are bound with
``loop.create_server`` in the current event loop: start, use and stop the
server from the same loop.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
import warnings
from dataclasses import dataclass, field
from email.message import EmailMessage
from functools import partial
from typing import Any, AnyStr, cast

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from perch.sandbox._listeners import Listeners, abort_all
from perch.sandbox.ca import SandboxCA
from perch.sandbox.faults import Faults

_TLS_HANDSHAKE_TIMEOUT = 10.0


@dataclass
class ReceivedMessage:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None = None
    received_at: float = field(default_factory=time.time)

    @property
    def message(self) -> EmailMessage:
        """The message parsed with ``email.policy.default``."""
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        return cast(EmailMessage, parsed)


class _Protocol(SMTP):
    """aiosmtpd's SMTP with fault injection and connection tracking."""

    def __init__(
        self, handler: Any, *, faults: Faults, connections: set[_Protocol], **kwargs: Any
    ) -> None:
        super().__init__(handler, **kwargs)
        self._faults = faults
        self._connections = connections
        self._greeted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._connections.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self._connections.discard(self)
        super().connection_lost(error)

    def abort(self) -> None:
        """Drop the client connection at once."""
        if isinstance(self.transport, asyncio.Transport):
            self.transport.abort()

    async def push(self, status: AnyStr) -> None:
        if not self._greeted:
            self._greeted = True
            await self._before_greeting()
        if self._faults.latency > 0:
            await asyncio.sleep(self._faults.latency)
        await super().push(status)

    async def _before_greeting(self) -> None:
        if self._faults.stall:
            await asyncio.Event().wait()  # until the client leaves (task cancelled)
        if self._faults.handshake_delay > 0:
            await asyncio.sleep(self._faults.handshake_delay)


class _Recorder:
    """aiosmtpd handler: applies the owner's rejections and records messages."""

    def __init__(self, owner: SandboxSMTP) -> None:
        self._owner = owner

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        rejected = {r.lower() for r in self._owner.reject_recipients}
        if address.lower() in rejected:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self._owner.reject_data:
            return self._owner.reject_data
        self._owner.messages.append(_received(session, envelope))
        return "250 2.0.0 OK: queued"


def _received(session: Session, envelope: Envelope) -> ReceivedMessage:
    content = envelope.original_content
    if content is None:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
    login = session.auth_data if isinstance(session.auth_data, str) else None
    return ReceivedMessage(
        mail_from=envelope.mail_from or "",
        rcpt_tos=list(envelope.rcpt_tos),
        data=content,
        login=login,
    )


class SandboxSMTP:
    """An authenticated SMTP server with an implicit-TLS and a STARTTLS listener.

    Use it as ``async with SandboxSMTP(ca, {"alice@example.test": "pw"}) as smtp:``
    or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        ca: SandboxCA,
        users: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        faults: Faults | None = None,
        hostname: str = "localhost",
    ) -> None:
        self.host = host
        self.hostname = hostname
        self.faults = faults if faults is not None else Faults()
        self.users: dict[str, str] = dict(users or {})
        self.messages: list[ReceivedMessage] = []
        self.reject_recipients: set[str] = set()
        self.reject_data: str | None = None
        self._tls = ca.server_context()
        self._handler = _Recorder(self)
        self._connections: set[_Protocol] = set()
        self._listeners = Listeners(
            {
                "implicit": partial(self._open, implicit=True),
                "starttls": partial(self._open, implicit=False),
            }
        )

    @property
    def implicit_port(self) -> int:
        """Port of the implicit-TLS listener (like 465)."""
        return self._port("implicit")

    @property
    def starttls_port(self) -> int:
        """Port of the STARTTLS listener (like 587)."""
        return self._port("starttls")

    def add_user(self, login: str, password: str) -> None:
        """Add a login, or change its password."""
        self.users[login] = password

    async def start(self) -> None:
        """Bind both listeners on free ports."""
        await self._listeners.open()

    async def stop(self) -> None:
        """Stop listening and drop every open connection."""
        await self._listeners.close()
        await abort_all(self._connections, _Protocol.abort)

    async def refuse(self) -> None:
        """Close both listening sockets: new connects are refused."""
        await self._listeners.close()

    async def accept(self) -> None:
        """Listen again, on the same ports as before."""
        await self._listeners.open()

    async def wait_for_messages(self, n: int = 1, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Wait until at least ``n`` messages arrived; raise ``TimeoutError`` otherwise."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < n:
            if time.monotonic() >= deadline:
                got = len(self.messages)
                raise TimeoutError(f"expected {n} message(s), got {got} within {timeout}s")
            await asyncio.sleep(0.01)
        return list(self.messages)

    async def __aenter__(self) -> SandboxSMTP:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _port(self, name: str) -> int:
        try:
            return self._listeners.ports[name]
        except KeyError:
            raise RuntimeError("SandboxSMTP is not started") from None

    async def _open(self, port: int, *, implicit: bool) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        factory = partial(self._protocol, implicit, loop)
        if implicit:
            return await loop.create_server(
                factory,
                self.host,
                port,
                ssl=self._tls,
                ssl_handshake_timeout=_TLS_HANDSHAKE_TIMEOUT,
            )
        return await loop.create_server(factory, self.host, port)

    def _protocol(self, implicit: bool, loop: asyncio.AbstractEventLoop) -> _Protocol:
        with warnings.catch_warnings():
            # aiosmtpd only knows STARTTLS as "TLS"; the implicit listener is TLS already.
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return _Protocol(
                self._handler,
                faults=self.faults,
                connections=self._connections,
                hostname=self.hostname,
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=not implicit,
                tls_context=None if implicit else self._tls,
                require_starttls=not implicit,
                loop=loop,
            )

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if self.faults.fail_auth or not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = data.login.decode("utf-8", "replace")
        password = data.password.decode("utf-8", "replace")
        ok = login in self.users and self.users[login] == password
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)
