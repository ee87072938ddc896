"""Bulk inserts of synced mail: values stored as the ORM stores them, duplicates skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from perch.server.inbox import repository
from perch.server.models import MailboxImap
from perch.server.models.inbox_message import InboxMessage
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.server.inbox.conftest import MakeMailbox

SENT = datetime(2026, 11, 20, 9, 30, tzinfo=timezone(timedelta(hours=1)))


def _row(imap: MailboxImap, n: int, **fields: Any) -> dict[str, Any]:
    return {
        "account_id": imap.account_id,
        "mailbox_id": imap.mailbox_id,
        "mailbox_imap_id": imap.id,
        "folder": "INBOX",
        "uidvalidity": 7,
        "uid": n,
        "graph_id": None,
        "dedupe_key": f"key-{n}",
        "message_id": f"<m{n}@example.com>",
        "in_reply_to": None,
        "references": None,
        "from_email": "richard@example.com",
        "from_name": "Richard",
        "reply_to": None,
        "to": "jared@example.com",
        "cc": None,
        "subject": f"Re: {n} - ünïcode",
        "sent_at": SENT,
        "received_at": SENT + timedelta(minutes=n),
        "body_html": "<p>hi</p>",
        "body_text": "hi",
        "is_read": n % 2 == 0,
        "classification": "HUMAN_REPLY",
        "classification_rule": "default:human",
        **fields,
    }


async def test_rows_read_back_exactly(
    runtime: Runtime, user: ApiUser, make_mailbox: MakeMailbox
) -> None:
    _, imap = await make_mailbox(user.account.id, "jared@example.com")
    rows = [_row(imap, 1), _row(imap, 2, sent_at=None)]
    async with runtime.session() as session:
        assert await repository.add_messages(session, rows) == 2
    async with runtime.session() as session:
        stored = (await session.scalars(select(InboxMessage).order_by(InboxMessage.uid))).all()
    assert [m.sent_at for m in stored] == [SENT, None]
    assert stored[0].received_at == SENT + timedelta(minutes=1)
    assert stored[0].received_at.tzinfo is not None
    assert [m.is_read for m in stored] == [False, True]
    assert stored[0].subject == "Re: 1 - ünïcode"
    assert all(m.created_at.tzinfo == UTC for m in stored)
    assert abs(stored[0].created_at - datetime.now(UTC)) < timedelta(minutes=1)


async def test_a_message_already_stored_is_skipped_and_not_counted(
    runtime: Runtime, user: ApiUser, make_mailbox: MakeMailbox
) -> None:
    _, imap = await make_mailbox(user.account.id, "jared@example.com")
    async with runtime.session() as session:
        assert await repository.add_messages(session, [_row(imap, 1)]) == 1
    async with runtime.session() as session:
        added = await repository.add_messages(session, [_row(imap, 1, uid=5), _row(imap, 2)])
    assert added == 1
    async with runtime.session() as session:
        uids = (await session.scalars(select(InboxMessage.uid).order_by(InboxMessage.uid))).all()
    assert uids == [1, 2]
