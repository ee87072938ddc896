"""Factories for inbox tests: mailboxes and stored messages."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from perch.server.models import Mailbox, MailboxImap
from perch.server.models.inbox_message import InboxMessage
from perch.server.runtime import Runtime

MakeMailbox = Callable[..., Awaitable[tuple[Mailbox, MailboxImap]]]
MakeMessage = Callable[..., Awaitable[InboxMessage]]


@pytest.fixture
def make_mailbox(runtime: Runtime) -> MakeMailbox:
    async def make(account_id: int, email: str, **fields: Any) -> tuple[Mailbox, MailboxImap]:
        async with runtime.session() as session:
            mailbox = Mailbox(
                account_id=account_id,
                email=email,
                from_name=fields.pop("from_name", None),
                **fields,
            )
            session.add(mailbox)
            await session.flush()
            imap = MailboxImap(account_id=account_id, mailbox_id=mailbox.id, email=email)
            session.add(imap)
            await session.flush()
        return mailbox, imap

    return make


@pytest.fixture
def make_message(runtime: Runtime) -> MakeMessage:
    counter = itertools.count(1)

    async def make(imap: MailboxImap, **fields: Any) -> InboxMessage:
        n = next(counter)
        values: dict[str, Any] = {
            "account_id": imap.account_id,
            "mailbox_id": imap.mailbox_id,
            "mailbox_imap_id": imap.id,
            "dedupe_key": f"<m{n}@example.com>",
            "message_id": f"<m{n}@example.com>",
            "from_email": "richard@example.com",
            "from_name": "Richard",
            "subject": f"Re: hello {n}",
            "received_at": datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=n),
            "body_html": f"<p>reply {n}</p>",
            "body_text": f"reply {n}",
            "classification": "HUMAN_REPLY",
            "classification_rule": "default:human",
        }
        values.update(fields)
        async with runtime.session() as session:
            message = InboxMessage(**values)
            session.add(message)
            await session.flush()
        return message

    return make
