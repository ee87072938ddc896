"""Rows built directly, for states the API reaches only slowly (pending batches, stored
mailboxes with chosen ids, Microsoft mailboxes created by another feature)."""

from __future__ import annotations

from typing import Any

from perch.server.kit.crypto import SecretBox
from perch.server.kit.timefmt import utcnow
from perch.server.models.mailbox import (
    Mailbox,
    MailboxImap,
    MailboxProvider,
    MailboxStatus,
    MailboxTransport,
)
from perch.server.models.mailbox_batch import MailboxBatch
from perch.server.models.mailbox_batch_item import BatchItemStatus, MailboxBatchItem
from perch.server.runtime import Runtime


async def batch(
    runtime: Runtime,
    account_id: int,
    statuses: list[BatchItemStatus],
    problems: list[dict[str, Any]] | None = None,
) -> int:
    """A batch whose items are in the given states (emails m0@example.com, m1@...)."""
    async with runtime.session() as session:
        row = MailboxBatch(account_id=account_id, size=len(statuses), notification_types=[])
        if BatchItemStatus.pending not in statuses:
            row.finished_at = utcnow()  # as batch_service.finish leaves it
        session.add(row)
        await session.flush()
        for index, status in enumerate(statuses):
            done = status is not BatchItemStatus.pending
            session.add(
                MailboxBatchItem(
                    batch_id=row.id,
                    account_id=account_id,
                    position=index,
                    smtp_email=f"m{index}@example.com",
                    imap_email=f"m{index}@example.com",
                    settings={
                        "smtp_server": "smtp.example.com",
                        "smtp_port": 465,
                        "imap_server": "imap.example.com",
                        "imap_port": 993,
                    },
                    smtp_password_encrypted=None if done else runtime.secrets.encrypt("pw"),
                    imap_password_encrypted=None if done else runtime.secrets.encrypt("pw"),
                    status=status,
                    problems=(problems or []) if status is BatchItemStatus.failed else [],
                )
            )
        return row.id


async def custom_mailbox(
    runtime: Runtime,
    account_id: int,
    email: str,
    *,
    smtp_id: int | None = None,
    imap_id: int | None = None,
    secrets: SecretBox | None = None,
    **fields: Any,
) -> tuple[int, int]:
    """A stored SMTP/IMAP mailbox; returns (SMTP id, IMAP id)."""
    box = secrets or runtime.secrets
    async with runtime.session() as session:
        mailbox = Mailbox(
            account_id=account_id,
            email=email,
            provider=MailboxProvider.custom,
            transport=MailboxTransport.smtp,
            status=MailboxStatus.connected,
            smtp_server="smtp.example.com",
            smtp_port=587,
            smtp_password_encrypted=box.encrypt("smtp-secret"),
            **fields,
        )
        if smtp_id is not None:
            mailbox.id = smtp_id
        session.add(mailbox)
        await session.flush()
        imap = MailboxImap(
            account_id=account_id,
            mailbox_id=mailbox.id,
            email=email,
            login=email,
            server="imap.example.com",
            port=993,
            password_encrypted=box.encrypt("imap-secret"),
        )
        if imap_id is not None:
            imap.id = imap_id
        session.add(imap)
        await session.flush()
        return mailbox.id, imap.id


async def microsoft_mailbox(runtime: Runtime, account_id: int, email: str) -> tuple[int, int]:
    """A Graph mailbox as the Microsoft bulk connection stores it: no servers, no passwords."""
    async with runtime.session() as session:
        mailbox = Mailbox(
            account_id=account_id,
            email=email,
            provider=MailboxProvider.microsoft,
            transport=MailboxTransport.graph,
            status=MailboxStatus.connected,
            from_name="Jared Dunn",
            graph_user_id="00000000-0000-0000-0000-000000000001",
        )
        session.add(mailbox)
        await session.flush()
        imap = MailboxImap(account_id=account_id, mailbox_id=mailbox.id, email=email)
        session.add(imap)
        await session.flush()
        return mailbox.id, imap.id
