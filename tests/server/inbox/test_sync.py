"""Inbox sync over IMAP against the sandbox IMAP server (and Dovecot)."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

from sqlalchemy import select

from perch.sandbox import SandboxIMAP
from perch.server.inbox import sync
from perch.server.models import MailboxImap
from perch.server.models.inbox_message import InboxMessage
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.fixtures.peers import ALICE, ALICE_PASSWORD
from tests.server.inbox.conftest import MakePeerMailbox


def mail(n: int, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = headers.pop("From", f"Prospect {n} <prospect{n}@example.com>")
    message["To"] = ALICE
    message["Subject"] = headers.pop("Subject", f"Re: hello {n}")
    message["Message-ID"] = headers.pop("Message_ID", f"<p{n}@example.com>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(f"reply number {n}")
    return bytes(message)


async def stored(runtime: Runtime) -> list[InboxMessage]:
    async with runtime.session() as session:
        return list(
            (await session.execute(select(InboxMessage).order_by(InboxMessage.id))).scalars()
        )


async def test_appended_mail_is_listed_after_a_sync(
    user: ApiUser, runtime: Runtime, imap_server: SandboxIMAP, make_peer_mailbox: MakePeerMailbox
) -> None:
    _, imap = await make_peer_mailbox(user.account.id, ALICE, ALICE_PASSWORD)
    await imap_server.append(ALICE, "INBOX", mail(1))
    first = await sync.sync_mailbox(runtime, imap.id)
    assert first is not None and first.imported == 1
    await imap_server.append(ALICE, "INBOX", mail(2))
    second = await sync.sync_mailbox(runtime, imap.id)
    assert second is not None and second.imported == 1  # incremental: only the new one
    body = (await user.client.get("/rest/v2/inbox/messages")).json()
    assert [m["subject"] for m in body["content"]] == ["Re: hello 2", "Re: hello 1"]
    assert body["content"][0]["mailbox_ids"] == [imap.id]


async def test_uidvalidity_change_does_not_reimport_old_mail(
    user: ApiUser, runtime: Runtime, imap_server: SandboxIMAP, make_peer_mailbox: MakePeerMailbox
) -> None:
    _, imap = await make_peer_mailbox(user.account.id, ALICE, ALICE_PASSWORD)
    for n in range(3):
        await imap_server.append(ALICE, "INBOX", mail(n))
    assert (await sync.sync_mailbox(runtime, imap.id)).imported == 3  # type: ignore[union-attr]
    await imap_server.reset_uidvalidity(ALICE, "INBOX")
    await imap_server.append(ALICE, "INBOX", mail(9))
    result = await sync.sync_mailbox(runtime, imap.id)
    assert result is not None and (result.imported, result.relocated) == (1, 3)
    rows = await stored(runtime)
    assert len(rows) == 4 and len({r.dedupe_key for r in rows}) == 4
    assert len({r.uidvalidity for r in rows}) == 1  # all point at the new UIDVALIDITY
    again = await sync.sync_mailbox(runtime, imap.id)
    assert again is not None and again.imported == 0


async def test_auto_replies_bounces_and_own_mail_are_classified(
    user: ApiUser, runtime: Runtime, imap_server: SandboxIMAP, make_peer_mailbox: MakePeerMailbox
) -> None:
    _, imap = await make_peer_mailbox(user.account.id, ALICE, ALICE_PASSWORD)
    await imap_server.append(ALICE, "INBOX", mail(1))
    await imap_server.append(
        ALICE, "INBOX", mail(2, Subject="Automatic reply: hello", Auto_Submitted="auto-replied")
    )
    await imap_server.append(
        ALICE,
        "INBOX",
        mail(
            3,
            From="MAILER-DAEMON@mx.example.com",
            Subject="Undelivered Mail Returned to Sender",
            X_Failed_Recipients="gone@example.com",
        ),
    )
    await imap_server.append(ALICE, "INBOX", mail(4, From=ALICE))
    await sync.sync_mailbox(runtime, imap.id)
    kinds = {r.subject: (r.classification, r.classification_rule) for r in await stored(runtime)}
    assert kinds["Re: hello 1"] == ("HUMAN_REPLY", "default:human")
    assert kinds["Automatic reply: hello"] == ("AUTO_REPLY", "header:Auto-Submitted=auto-replied")
    assert kinds["Undelivered Mail Returned to Sender"] == ("BOUNCE", "header:X-Failed-Recipients")
    assert kinds["Re: hello 4"][0] == "OWN_OUTBOUND"
    statuses = {
        status: [
            m["subject"]
            for m in (
                await user.client.get("/rest/v2/inbox/messages", params={"prospect_status": status})
            ).json()["content"]
        ]
        for status in ("RESPONDED", "AUTOREPLIED", "BOUNCED")
    }
    assert statuses == {
        "RESPONDED": ["Re: hello 1"],
        "AUTOREPLIED": ["Automatic reply: hello"],
        "BOUNCED": ["Undelivered Mail Returned to Sender"],
    }


async def test_a_failing_login_is_recorded_and_backed_off(
    user: ApiUser, runtime: Runtime, make_peer_mailbox: MakePeerMailbox
) -> None:
    _, imap = await make_peer_mailbox(user.account.id, ALICE, "wrong-password")
    assert await sync.sync_mailbox(runtime, imap.id) is None
    async with runtime.session() as session:
        row = await session.get(MailboxImap, imap.id)
    assert row is not None and row.sync_failures == 1
    assert row.sync_error is not None and row.sync_error.startswith("IMAP_AUTH_FAILED")
    assert row.next_sync_at is not None
    await sync.sync_mailbox(runtime, imap.id)
    async with runtime.session() as session:
        again = await session.get(MailboxImap, imap.id)
    assert again is not None and again.sync_failures == 2 and again.next_sync_at > row.next_sync_at  # type: ignore[operator]


async def test_the_sync_error_shows_in_the_mailbox_list(
    user: ApiUser, runtime: Runtime, make_peer_mailbox: MakePeerMailbox
) -> None:
    _, imap = await make_peer_mailbox(user.account.id, ALICE, "wrong-password")
    await sync.sync_mailbox(runtime, imap.id)
    records = (await user.client.get("/rest/v2/mailboxes")).json()
    [record] = [r for r in records if r["type"] == "IMAP"]
    assert record["id"] == imap.id
    assert record["details"]["error"].startswith("IMAP_AUTH_FAILED")
    assert record["details"]["last_synced"] is None


async def test_two_syncs_of_one_mailbox_at_once_store_each_message_once(
    user: ApiUser, runtime: Runtime, imap_server: SandboxIMAP, make_peer_mailbox: MakePeerMailbox
) -> None:
    """Jobs never do this (one sync per mailbox), but a race must not fail or duplicate."""
    import asyncio

    _, imap = await make_peer_mailbox(user.account.id, ALICE, ALICE_PASSWORD)
    for n in range(5):
        await imap_server.append(ALICE, "INBOX", mail(n))
    first, second = await asyncio.gather(
        sync.sync_mailbox(runtime, imap.id), sync.sync_mailbox(runtime, imap.id)
    )
    assert first is not None and second is not None
    assert first.imported + second.imported == 5
    assert len(await stored(runtime)) == 5


class _CuttingProxy:
    """A loopback TCP relay to the IMAP server that drops the connection once the server has
    sent ``limit`` bytes: a server going away in the middle of a FETCH."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self.upstream, self.limit = (host, port), limit
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> _CuttingProxy:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, cap: int) -> None:
            sent = 0
            while sent < cap and (data := await src.read(16384)):
                dst.write(data[: cap - sent])
                sent += len(data)
                await dst.drain()
            for stream in (writer, up_writer):
                stream.close()

        await asyncio.gather(
            pump(reader, up_writer, 1 << 60),
            pump(up_reader, writer, self.limit),
            return_exceptions=True,
        )


async def test_a_server_lost_in_the_middle_of_a_fetch_is_recorded(
    user: ApiUser,
    runtime: Runtime,
    make_peer_mailbox: MakePeerMailbox,
    imap_server: SandboxIMAP,
) -> None:
    for n in range(300):
        await imap_server.append(ALICE, "INBOX", mail(n))
    _, imap = await make_peer_mailbox(user.account.id, ALICE, ALICE_PASSWORD)
    async with _CuttingProxy("127.0.0.1", imap_server.starttls_port, 60_000) as proxy:
        async with runtime.session() as session:
            row = await session.get(MailboxImap, imap.id)
            assert row is not None
            row.port = proxy.port
        assert await sync.sync_mailbox(runtime, imap.id) is None
    async with runtime.session() as session:
        row = await session.get(MailboxImap, imap.id)
    assert row is not None and row.sync_failures == 1
    assert row.sync_error is not None and row.sync_error.startswith("IMAP_DISCONNECTED")
    assert row.last_uid is None and await stored(runtime) == []  # no half-stored chunk
