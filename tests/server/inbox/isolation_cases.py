"""Inbox endpoints for the isolation matrix (tests/server/test_isolation.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from perch.server.models import Mailbox, MailboxImap
from perch.server.models.inbox_message import InboxMessage
from perch.server.models.outbound_message import OutboundMessage, OutboundStatus
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.fixtures.isolation import IsolationCase, Request

MISSING = 987654321
REPLY = {"body": {"html": "<p>Thanks</p>"}}
KEY = {"Idempotency-Key": "isolation"}


async def _message(runtime: Runtime, account_id: int) -> tuple[MailboxImap, InboxMessage]:
    async with runtime.session() as session:
        mailbox = Mailbox(account_id=account_id, email="owner@example.com")
        session.add(mailbox)
        await session.flush()
        imap = MailboxImap(account_id=account_id, mailbox_id=mailbox.id, email=mailbox.email)
        session.add(imap)
        await session.flush()
        message = InboxMessage(
            account_id=account_id,
            mailbox_id=mailbox.id,
            mailbox_imap_id=imap.id,
            dedupe_key="k",
            message_id="<k@example.com>",
            received_at=datetime(2026, 11, 1, tzinfo=UTC),
            classification="HUMAN_REPLY",
            classification_rule="default:human",
        )
        session.add(message)
        await session.flush()
        return imap, message


async def _list(owner: ApiUser, request: Any) -> Request:
    imap, _ = await _message(request.getfixturevalue("runtime"), owner.account.id)
    return Request("GET", f"/rest/v2/inbox/messages?mailbox_ids={imap.id}")


async def _reply(owner: ApiUser, request: Any) -> Request:
    """The owner's request answers 200 without sending: the ledger already has it as SENT."""
    runtime: Runtime = request.getfixturevalue("runtime")
    _, message = await _message(runtime, owner.account.id)
    async with runtime.session() as session:
        session.add(
            OutboundMessage(
                account_id=owner.account.id,
                mailbox_id=message.mailbox_id,
                reply_to_message_id=message.id,
                idempotency_key=KEY["Idempotency-Key"],
                message_id="<sent@example.com>",
                envelope={},
                status=OutboundStatus.sent,
            )
        )
    return Request("POST", f"/rest/v2/inbox/messages/{message.id}/reply", REPLY, KEY)


CASES = [
    IsolationCase(
        "inbox.list_by_mailbox",
        _list,
        lambda: Request("GET", f"/rest/v2/inbox/messages?mailbox_ids={MISSING}"),
    ),
    IsolationCase(
        "inbox.reply",
        _reply,
        lambda: Request("POST", f"/rest/v2/inbox/messages/{MISSING}/reply", REPLY, KEY),
    ),
]
