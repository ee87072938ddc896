"""An IMAP server for tests and demos: pymap's in-memory backend, in the running loop.

Two listeners share one set of users and mailboxes:

* ``implicit_port``: TLS from the first byte, like port 993.
* ``starttls_port``: plaintext with ``STARTTLS`` offered, like port 143. pymap
  allows plaintext ``LOGIN`` from loopback anyway, so "must upgrade first"
  cannot be tested against it.

What a client sees when things go wrong:

* wrong password, unknown user, or ``faults.fail_auth``: ``NO`` to ``LOGIN``
* ``faults.stall``: the connection opens and no greeting ever comes (on the
  implicit port the TLS handshake still completes first)
* ``faults.latency`` / ``faults.handshake_delay``: slow replies / slow greeting
* ``refuse()``: connection refused until ``accept()``

Test helpers (:meth:`SandboxIMAP.append`, :meth:`SandboxIMAP.messages`,
:meth:`SandboxIMAP.reset_uidvalidity`) work on pymap's backend objects
directly, so they never open a client connection. Blocking IMAP clients
(imapclient) must run in a thread (``asyncio.to_thread``) when they talk to
this server, or they block the loop that serves them.

Pinned to pymap 0.36.7: the backend is assembled from pymap's dict-backend
classes, and :meth:`SandboxIMAP.reset_uidvalidity` sets one private field.
"""

from __future__ import annotations

import asyncio
import uuid
from argparse import Namespace
from collections.abc import Iterable
from contextlib import suppress
from datetime import UTC, datetime
from functools import partial
from typing import cast

from proxyprotocol.sock import SocketInfo
from pymap.backend.dict import Config, Identity, Login
from pymap.backend.dict.mailbox import MailboxData, MailboxSet
from pymap.concurrent import Subsystem
from pymap.exceptions import InvalidAuth
from pymap.imap import IMAPServer
from pymap.parsing.message import AppendMessage
from pymap.parsing.specials import FetchRequirement
from pymap.parsing.specials.flag import Flag
from pymap.user import UserMetadata
from pysasl.creds.server import ServerCredentials
from pysasl.hashing import Cleartext

from perch.sandbox._listeners import Listeners, abort_all
from perch.sandbox._streams import DelayedWriter
from perch.sandbox.ca import SandboxCA
from perch.sandbox.faults import Faults

SENT_FOLDER = "Sent"
_TLS_HANDSHAKE_TIMEOUT = 10.0

StoredMessage = tuple[int, bytes, set[str]]


class _Config(Config):
    """pymap's dict config with a fixed greeting (the default resolves the FQDN)."""

    @property
    def greeting(self) -> bytes:
        return b"Perch sandbox IMAP ready"


class _Login(Login):
    """pymap's dict login that refuses everyone while ``faults.fail_auth`` is set."""

    def __init__(self, config: Config, faults: Faults) -> None:
        super().__init__(config)
        self._faults = faults

    async def authenticate(self, credentials: ServerCredentials) -> Identity:
        if self._faults.fail_auth:
            raise InvalidAuth()
        return await super().authenticate(credentials)


def _config(ca: SandboxCA, host: str, *, starttls: bool) -> _Config:
    args = Namespace(passlib_cfg=None, proxy_protocol=None, inherited_sockets=None)
    return _Config(
        args,
        host=host,
        port=0,
        demo_data=False,
        demo_user="",
        demo_password="",
        ssl_context=ca.server_context(),
        tls_enabled=starttls,
        invalid_user_sleep=0.0,
        reject_dnsbl=False,
        hash_context=Cleartext(),  # no hashing cost: users are created per test
        cpu_subsystem=Subsystem.for_asyncio(),
    )


class SandboxIMAP:
    """An IMAP server with an implicit-TLS and a STARTTLS listener.

    Use it as ``async with SandboxIMAP(ca, {"alice@example.test": "pw"}) as imap:``
    or call :meth:`start` and :meth:`stop`. Users given here are created by
    :meth:`start`; each gets ``INBOX`` and ``Sent``.
    """

    def __init__(
        self,
        ca: SandboxCA,
        users: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        faults: Faults | None = None,
    ) -> None:
        self.host = host
        self.faults = faults if faults is not None else Faults()
        self._initial_users = dict(users or {})
        self._tls = ca.server_context()
        self._config = _config(ca, host, starttls=True)
        self._login = _Login(self._config, self.faults)
        # Same login (users, mailboxes) behind both listeners; only the
        # implicit one stops offering STARTTLS.
        self._servers = {
            "implicit": IMAPServer(self._login, _config(ca, host, starttls=False)),
            "starttls": IMAPServer(self._login, self._config),
        }
        self._connections: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._listeners = Listeners(
            {name: partial(self._open, name) for name in self._servers},
        )

    @property
    def implicit_port(self) -> int:
        """Port of the implicit-TLS listener (like 993)."""
        return self._port("implicit")

    @property
    def starttls_port(self) -> int:
        """Port of the STARTTLS listener (like 143)."""
        return self._port("starttls")

    async def start(self) -> None:
        """Create the initial users and bind both listeners on free ports."""
        for login, password in self._initial_users.items():
            await self.add_user(login, password)
        await self._listeners.open()

    async def stop(self) -> None:
        """Stop listening and drop every open connection."""
        await self._listeners.close()
        await abort_all(self._connections, _abort)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def refuse(self) -> None:
        """Close both listening sockets: new connects are refused."""
        await self._listeners.close()

    async def accept(self) -> None:
        """Listen again, on the same ports as before."""
        await self._listeners.open()

    async def add_user(self, login: str, password: str) -> None:
        """Create a user with ``INBOX`` and ``Sent``, or change its password.

        pymap has no SPECIAL-USE support, so ``Sent`` is a plain folder.
        """
        identity = self._identity(login)
        user = UserMetadata(
            self._config, login, password=password, previous_entity_tag=UserMetadata.REPLACE_ANY
        )
        await identity.set(user)
        mailboxes = await self._mailbox_set(login)
        with suppress(ValueError):  # already there
            await mailboxes.add_mailbox(SENT_FOLDER)

    async def create_mailbox(self, login: str, mailbox: str) -> None:
        """Create another folder for ``login``; no error if it exists."""
        mailboxes = await self._mailbox_set(login)
        with suppress(ValueError):
            await mailboxes.add_mailbox(mailbox)

    async def append(
        self, login: str, mailbox: str, message: bytes, flags: Iterable[str] = ()
    ) -> int:
        """Store ``message`` in ``login``'s ``mailbox`` (marked \\Recent); return its UID.

        Raises ``pymap.exceptions.UserNotFound`` or ``KeyError`` (no such mailbox).
        """
        target = await self._mailbox(login, mailbox)
        appended = AppendMessage(
            message, datetime.now(UTC), frozenset(Flag(flag) for flag in flags)
        )
        stored = await target.append(appended, recent=True)
        return stored.uid

    async def messages(self, login: str, mailbox: str) -> list[StoredMessage]:
        """Every message in the mailbox as ``(uid, raw bytes, flags)``, by UID."""
        source = await self._mailbox(login, mailbox)
        found: list[StoredMessage] = []
        async for msg in source.messages():
            loaded = await msg.load_content(FetchRequirement.CONTENT)
            flags = {str(flag) for flag in msg.permanent_flags}
            found.append((msg.uid, bytes(loaded), flags))
        return sorted(found, key=lambda item: item[0])

    async def uidvalidity(self, login: str, mailbox: str) -> int:
        """The mailbox's current UIDVALIDITY."""
        return (await self._mailbox(login, mailbox)).uid_validity

    async def reset_uidvalidity(self, login: str, mailbox: str) -> int:
        """Give the mailbox a new UIDVALIDITY and new UIDs; keep its messages and flags.

        The mailbox is rebuilt under the same name, as a server does after
        losing its index. The new UIDs are all above the old ones, so a client
        that ignores UIDVALIDITY would take every kept message for a new one.
        Clients should reconnect (re-SELECT) afterwards. Returns the new value.
        """
        mailboxes = await self._mailbox_set(login)
        old = await mailboxes.get_mailbox(mailbox)
        new = await _rebuild(mailboxes, mailbox, old)
        if new.uid_validity == old.uid_validity:  # same second and same 16 random bits
            return await self.reset_uidvalidity(login, mailbox)
        return new.uid_validity

    async def __aenter__(self) -> SandboxIMAP:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _port(self, name: str) -> int:
        try:
            return self._listeners.ports[name]
        except KeyError:
            raise RuntimeError("SandboxIMAP is not started") from None

    def _identity(self, login: str) -> Identity:
        return Identity(login, self._login, None, frozenset())

    async def _mailbox_set(self, login: str) -> MailboxSet:
        async with self._identity(login).new_session() as session:
            return session.mailbox_set

    async def _mailbox(self, login: str, mailbox: str) -> MailboxData:
        return await (await self._mailbox_set(login)).get_mailbox(mailbox)

    async def _open(self, name: str, port: int) -> asyncio.Server:
        handler = partial(self._serve, self._servers[name])
        if name == "implicit":
            return await asyncio.start_server(
                handler,
                self.host,
                port,
                ssl=self._tls,
                ssl_handshake_timeout=_TLS_HANDSHAKE_TIMEOUT,
            )
        return await asyncio.start_server(handler, self.host, port)

    async def _serve(
        self, server: IMAPServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(cast("asyncio.Task[None]", task))
        self._connections.add(writer)
        try:
            await self._converse(server, reader, writer)
        finally:
            self._connections.discard(writer)
            self._tasks.discard(cast("asyncio.Task[None]", task))
            writer.close()

    async def _converse(
        self, server: IMAPServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self.faults.stall:
            await reader.read()  # swallow input until the client leaves
            return
        if self.faults.handshake_delay > 0:
            await asyncio.sleep(self.faults.handshake_delay)
        sock_info = SocketInfo.get(writer, None, unique_id=uuid.uuid4().bytes)
        delayed = DelayedWriter(writer, self.faults)
        await server(reader, cast(asyncio.StreamWriter, delayed), sock_info)


def _abort(writer: asyncio.StreamWriter) -> None:
    transport = writer.transport
    if isinstance(transport, asyncio.Transport):
        transport.abort()


async def _rebuild(mailboxes: MailboxSet, name: str, old: MailboxData) -> MailboxData:
    """Move ``old`` aside, create ``name`` afresh, copy the messages over, drop ``old``."""
    parked = f"{name}.perch-uidvalidity-{uuid.uuid4().hex[:8]}"
    await mailboxes.rename_mailbox(name, parked)  # renaming INBOX leaves a fresh INBOX
    if name.upper() != "INBOX":
        await mailboxes.add_mailbox(name)
    new = await mailboxes.get_mailbox(name)
    uids = [msg.uid async for msg in old.messages()]
    new._max_uid = (await old.snapshot()).next_uid - 1  # private field in pymap 0.36.7
    for uid in uids:
        await old.copy(uid, new)
    await mailboxes.delete_mailbox(parked)
    return new
