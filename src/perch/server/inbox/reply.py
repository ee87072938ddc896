"""Replying to an inbox message, exactly once.

Every reply is first written to the outbound ledger with its composed MIME message (and so its
Message-ID) before anything is sent. The ledger status is the truth about delivery:

    PENDING   recorded; the handoff has not started        a retry sends it
    SENDING   the message is being handed to the server   a retry does not send it again
    SENT      the server accepted it                      a retry answers 200, sends nothing
    FAILED    the server refused it before accepting      a retry sends it
    UNKNOWN   the connection was lost after the handoff   a retry does not send it again

With an ``Idempotency-Key`` header, a retried request finds its ledger row and acts as above,
so it never sends twice; a send whose outcome is unknown is never blindly repeated. After the
server accepted the reply, the original is marked read here and a job marks it read/answered
on the server and puts a copy in the mailbox's Sent folder.
"""

from __future__ import annotations

from email.utils import getaddresses, make_msgid

import structlog
from sqlalchemy.exc import IntegrityError

from perch.server.inbox import repository, transport
from perch.server.inbox.compose import Original, Reply, build_reply
from perch.server.inbox.errors import MailboxNotFound, MessageNotFound, OutcomeUnknown
from perch.server.inbox.reply_request import ReplyRequest, parse_reply
from perch.server.kit.timefmt import utcnow
from perch.server.models import Mailbox
from perch.server.models.inbox_message import InboxMessage
from perch.server.models.outbound_message import OutboundMessage, OutboundStatus
from perch.server.runtime import Runtime
from perch.server.worker.queue import enqueue

log = structlog.get_logger(__name__)
AFTER_REPLY = "inbox.after_reply"


async def reply(
    runtime: Runtime, account_id: int, message_id: int, raw_body: bytes, idempotency_key: str | None
) -> None:
    request = parse_reply(raw_body)
    outbound = await _record(runtime, account_id, message_id, request, idempotency_key)
    if outbound.status == OutboundStatus.sent:
        return
    if outbound.status not in transport.RESENDABLE:
        raise OutcomeUnknown()
    await transport.hand_over(runtime, outbound)
    await _after_sent(runtime, outbound)


async def _record(
    runtime: Runtime, account_id: int, message_id: int, request: ReplyRequest, key: str | None
) -> OutboundMessage:
    async with runtime.session() as db:
        original = await repository.message(db, account_id, message_id)
        if original is None:
            raise MessageNotFound()
        mailbox = await repository.mailbox(
            db, account_id, request.mailbox_id or original.mailbox_id
        )
        if mailbox is None:
            raise MailboxNotFound()
        if key and (existing := await repository.outbound_by_key(db, account_id, key)):
            return existing
    row = _ledger_row(account_id, key, original, mailbox, request)
    try:
        async with runtime.session() as db:
            db.add(row)
            await db.flush()
    except IntegrityError:  # the same key, recorded a moment ago by a concurrent request
        async with runtime.session() as db:
            existing = await repository.outbound_by_key(db, account_id, key or "")
        if existing is None:
            raise
        return existing
    return row


def _ledger_row(
    account_id: int,
    key: str | None,
    original: InboxMessage,
    mailbox: Mailbox,
    request: ReplyRequest,
) -> OutboundMessage:
    to = request.to or _default_recipients(original)
    bcc = request.bcc if request.bcc is not None else ([mailbox.bcc] if mailbox.bcc else [])
    message = build_reply(
        Reply(
            mailbox.email,
            mailbox.from_name,
            to,
            request.cc,
            request.subject,
            request.html,
            request.quote_original,
            mailbox.footer,
        ),
        _original(original),
        now=utcnow(),
    )
    if not message["Message-ID"]:
        message["Message-ID"] = make_msgid()
    envelope = {"from": mailbox.email, "to": to, "cc": request.cc, "bcc": bcc}
    return OutboundMessage(
        account_id=account_id,
        mailbox_id=mailbox.id,
        reply_to_message_id=original.id,
        idempotency_key=key,
        message_id=str(message["Message-ID"]),
        envelope=envelope,
        raw=message.as_string(),
        status=OutboundStatus.pending,
        transport=str(mailbox.transport),
    )


def _default_recipients(original: InboxMessage) -> list[str]:
    if original.reply_to:
        return [address for _, address in getaddresses([original.reply_to]) if address]
    return [original.from_email] if original.from_email else []


def _original(message: InboxMessage) -> Original:
    sender = (
        f"{message.from_name} <{message.from_email}>"
        if message.from_name
        else (message.from_email or "")
    )
    return Original(
        message_id=message.message_id,
        references=message.references,
        subject=message.subject,
        sender=sender,
        date=message.sent_at or message.received_at,
        html=message.body_html,
        text=message.body_text,
    )


async def _after_sent(runtime: Runtime, outbound: OutboundMessage) -> None:
    async with runtime.session() as db:
        if outbound.reply_to_message_id is not None:
            await repository.mark_answered(db, outbound.reply_to_message_id, utcnow())
        await enqueue(
            db, AFTER_REPLY, {"outbound_id": outbound.id}, dedupe_key=f"{AFTER_REPLY}:{outbound.id}"
        )
