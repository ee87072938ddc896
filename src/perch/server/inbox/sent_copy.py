"""After a reply was accepted: the copy in the Sent folder, and the original marked on the server.

Runs as the ``inbox.after_reply`` job, so a slow or failing IMAP server neither delays nor fails
the reply itself, and the work is retried. Idempotent: the copy is appended only if the Sent
folder does not already hold a message with the reply's Message-ID.

The Sent folder is the one with the SPECIAL-USE ``\\Sent`` attribute, else the first of the usual
names; when there is none, ``Sent`` is created. The answer is remembered per mailbox.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog

from perch.server.inbox import repository
from perch.server.inbox.sync import imap_connector, imap_server
from perch.server.inbox.transport import mime_of
from perch.server.integrations.imap import ImapSession
from perch.server.models import Mailbox, MailboxImap, MailboxTransport
from perch.server.models.inbox_message import InboxMessage
from perch.server.models.outbound_message import OutboundMessage, OutboundStatus
from perch.server.runtime import Runtime

log = structlog.get_logger(__name__)
SENT_NAMES = (
    "Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "INBOX.Sent",
    "INBOX/Sent",
    "[Gmail]/Sent Mail",
)


async def after_reply(runtime: Runtime, outbound_id: int) -> None:
    async with runtime.session() as db:
        outbound = await repository.outbound(db, outbound_id)
        if outbound is None or outbound.status != OutboundStatus.sent or outbound.sent_copy_saved:
            return
        mailbox = await db.get(Mailbox, outbound.mailbox_id)
        imap = await repository.imap_of(db, outbound.mailbox_id)
        original = (
            await db.get(InboxMessage, outbound.reply_to_message_id)
            if outbound.reply_to_message_id
            else None
        )
    if mailbox is None or imap is None:
        return
    if mailbox.transport == MailboxTransport.graph:
        from perch.server.inbox import graph_reply

        await graph_reply.after_reply(runtime, mailbox, outbound, original)
    else:
        await _over_imap(runtime, imap, outbound, original)
    async with runtime.session() as db:
        await repository.settle_outbound(db, outbound.id, sent_copy_saved=True)


async def _over_imap(
    runtime: Runtime, imap: MailboxImap, outbound: OutboundMessage, original: InboxMessage | None
) -> None:
    password = runtime.secrets.decrypt(imap.password_encrypted or "")
    async with imap_connector(runtime).session(
        imap_server(imap), imap.login or imap.email, password
    ) as session:
        folder = imap.sent_folder or await find_sent_folder(session)
        if folder != imap.sent_folder:
            async with runtime.session() as db:
                await repository.save_sync_state(db, imap.id, sent_folder=folder)
        await _append_once(session, folder, outbound)
        if original is not None:
            await _mark_answered(session, original)


async def find_sent_folder(session: ImapSession) -> str:
    folders = await session.run(lambda c: c.list_folders(), "list")
    names = [str(name) for _, _, name in folders]
    for flags, _, name in folders:
        if any((f.decode() if isinstance(f, bytes) else str(f)).lower() == "\\sent" for f in flags):
            return str(name)
    for candidate in SENT_NAMES:
        for name in names:
            if name.lower() == candidate.lower():
                return name
    await session.run(lambda c: c.create_folder("Sent"), "create")
    return "Sent"


async def _append_once(session: ImapSession, folder: str, outbound: OutboundMessage) -> None:
    await session.select(folder, readonly=True)
    found = await session.run(
        lambda c: c.search(["HEADER", "Message-ID", outbound.message_id]), "search"
    )
    if found:
        return
    raw = mime_of(outbound).as_bytes()
    await session.run(
        lambda c: c.append(folder, raw, flags=[b"\\Seen"], msg_time=datetime.now(UTC)), "append"
    )
    log.info("inbox.reply.sent_copy_saved", outbound_id=outbound.id, folder=folder)


async def _mark_answered(session: ImapSession, original: InboxMessage) -> None:
    status = await session.select(original.folder, readonly=False)
    if original.uid is None or status.uidvalidity != original.uidvalidity:
        return  # the message moved or the mailbox was rebuilt: nothing reliable to flag
    await session.run(lambda c: c.add_flags([original.uid], [b"\\Seen", b"\\Answered"]), "store")
