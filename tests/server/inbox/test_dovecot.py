"""The inbox against a real Dovecot: sync, then a reply whose copy lands in the SPECIAL-USE
\\Sent folder and whose original is flagged \\Answered."""

from __future__ import annotations

import asyncio
import uuid
from email.message import EmailMessage

from imapclient import IMAPClient

from perch.sandbox import Dovecot, SandboxCA, SandboxSMTP
from perch.server.inbox import sync
from perch.server.models import MailboxImap
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.fixtures.peers import BOB, BOB_PASSWORD
from tests.helpers import until
from tests.server.inbox.conftest import MakePeerMailbox


def _client(dovecot: Dovecot, ca: SandboxCA) -> IMAPClient:
    client = IMAPClient(
        "127.0.0.1", dovecot.imaps_port, ssl=True, ssl_context=ca.client_context(), timeout=10
    )
    client.login(BOB, BOB_PASSWORD)
    return client


def _sent_with(dovecot: Dovecot, ca: SandboxCA, text: bytes) -> bool:
    client = _client(dovecot, ca)
    try:
        client.select_folder("Sent", readonly=True)
        uids = client.search("ALL")
        bodies = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
        return any(text in data[b"BODY[]"] for data in bodies.values())
    finally:
        client.logout()


def _flags(dovecot: Dovecot, ca: SandboxCA, message_id: str) -> set[bytes]:
    client = _client(dovecot, ca)
    try:
        client.select_folder("INBOX", readonly=True)
        [uid] = client.search(["HEADER", "Message-ID", message_id])
        return set(client.get_flags([uid])[uid])
    finally:
        client.logout()


async def test_sync_and_reply_against_dovecot(
    user: ApiUser,
    runtime: Runtime,
    smtp_server: SandboxSMTP,
    dovecot: Dovecot,
    sandbox_ca: SandboxCA,
    make_peer_mailbox: MakePeerMailbox,
) -> None:
    smtp_server.add_user(BOB, BOB_PASSWORD)
    _, imap = await make_peer_mailbox(user.account.id, BOB, BOB_PASSWORD)
    async with runtime.session() as session:
        row = await session.get(MailboxImap, imap.id)
        assert row is not None
        row.port = dovecot.imap_port  # Dovecot (STARTTLS) instead of pymap
    token = uuid.uuid4().hex
    message_id = f"<{token}@example.org>"
    original = EmailMessage()
    original["From"], original["To"], original["Subject"] = (
        "Prospect <p@example.org>",
        BOB,
        f"Re: offer {token}",
    )
    original["Message-ID"] = message_id
    original.set_content("Interested, tell me more.")
    await asyncio.to_thread(dovecot.append, BOB, "INBOX", bytes(original))

    result = await sync.sync_mailbox(runtime, imap.id)
    assert result is not None and result.imported >= 1
    listed = (
        await user.client.get("/rest/v2/inbox/messages", params={"search_phrases": token})
    ).json()["content"]
    assert [m["message_id"] for m in listed] == [message_id]

    reply = {"body": {"html": f"<p>Here is more, {token}.</p>"}}
    assert (
        await user.client.post(f"/rest/v2/inbox/messages/{listed[0]['id']}/reply", json=reply)
    ).status_code == 200
    [sent] = [m for m in smtp_server.messages if token.encode() in m.data]
    assert sent.message["In-Reply-To"] == message_id and sent.message["References"] == message_id

    async def copied_and_flagged() -> bool:
        in_sent = await asyncio.to_thread(
            _sent_with, dovecot, sandbox_ca, f"Here is more, {token}.".encode()
        )
        flags = await asyncio.to_thread(_flags, dovecot, sandbox_ca, message_id)
        return in_sent and {b"\\Seen", b"\\Answered"} <= flags

    await until(copied_and_flagged, timeout=20, step=0.2)
