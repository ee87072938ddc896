"""Factories for inbox tests: mailboxes and stored messages."""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from perch.sandbox import SandboxIMAP, SandboxSMTP
from perch.server.config import Settings
from perch.server.models import Mailbox, MailboxImap
from perch.server.models.inbox_message import InboxMessage
from perch.server.runtime import Runtime

NOT_DUE = datetime(2999, 1, 1, tzinfo=UTC)
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
            # not due for the app's scheduler: the tests drive the syncs themselves
            imap = MailboxImap(
                account_id=account_id, mailbox_id=mailbox.id, email=email, next_sync_at=NOT_DUE
            )
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


@pytest.fixture
def settings(settings: Settings, ca_bundle: Path) -> Settings:
    """Inbox tests talk to the sandbox peers on loopback, with the sandbox CA."""
    return settings.model_copy(
        update={"allowed_networks": [ipaddress.ip_network("127.0.0.0/8")], "tls_ca_file": ca_bundle}
    )


MakePeerMailbox = Callable[..., Awaitable[tuple[Mailbox, MailboxImap]]]


@pytest.fixture
def make_peer_mailbox(
    make_mailbox: MakeMailbox, runtime: Runtime, smtp_server: SandboxSMTP, imap_server: SandboxIMAP
) -> MakePeerMailbox:
    """A mailbox connected to the sandbox SMTP and IMAP servers (STARTTLS ports)."""

    async def make(
        account_id: int, login: str, password: str, **fields: Any
    ) -> tuple[Mailbox, MailboxImap]:
        secret = runtime.secrets.encrypt(password)
        mailbox, imap = await make_mailbox(
            account_id,
            login,
            smtp_login=login,
            smtp_server=smtp_server.host,
            smtp_port=smtp_server.starttls_port,
            smtp_password_encrypted=secret,
            **fields,
        )
        async with runtime.session() as session:
            row = await session.get(MailboxImap, imap.id)
            assert row is not None
            row.login, row.server, row.port, row.password_encrypted = (
                login,
                imap_server.host,
                imap_server.starttls_port,
                secret,
            )
        return mailbox, row

    return make
