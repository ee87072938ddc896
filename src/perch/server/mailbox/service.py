"""Stored mailboxes: list, get, update the footer, and store a verified batch item."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.errors import NotFound
from perch.server.mailbox import records, repository
from perch.server.mailbox.schemas import ImapRecord, MailboxSettings, SmtpRecord
from perch.server.models import Account
from perch.server.models.mailbox import (
    Mailbox,
    MailboxImap,
    MailboxProvider,
    MailboxStatus,
    MailboxTransport,
)
from perch.server.models.mailbox_batch_item import BatchItemStatus, MailboxBatchItem

CONDITIONAL_PREFIX = "Connected conditionally: "


async def list_records(
    session: AsyncSession, account: Account, graph: str
) -> list[SmtpRecord | ImapRecord]:
    return records.records(await repository.mailboxes(session, account.id), graph)


async def get_record(
    session: AsyncSession, account: Account, record_id: int, graph: str
) -> SmtpRecord | ImapRecord:
    """The SMTP record with this id, else the IMAP record with this id (the two kinds of ids
    never share a number: see ``MailboxImap``)."""
    mailbox = await repository.mailbox(session, account.id, record_id)
    if mailbox is not None:
        imap = await repository.imap_of(session, mailbox.id)
        return records.smtp_record(mailbox, imap, graph)
    found = await repository.imap_record(session, account.id, record_id)
    if found is None:
        raise NotFound()
    return records.imap_record(*found, graph)


async def update_footer(
    session: AsyncSession, account: Account, mailbox_id: int, footer: str | None
) -> None:
    mailbox = await repository.mailbox(session, account.id, mailbox_id)
    if mailbox is None:
        raise NotFound()
    mailbox.footer = footer or None
    await session.flush()


async def store_verified(
    session: AsyncSession,
    item: MailboxBatchItem,
    status: BatchItemStatus,
    problems: list[dict[str, Any]],
) -> Mailbox:
    """The Mailbox and MailboxImap rows for a (conditionally) connected batch item."""
    settings = MailboxSettings.model_validate(item.settings)
    mailbox = Mailbox(
        account_id=item.account_id,
        email=item.smtp_email,
        provider=MailboxProvider.custom,
        transport=MailboxTransport.smtp,
        status=_status(status),
        error=conditional_error(problems) if problems else None,
        smtp_password_encrypted=item.smtp_password_encrypted,
        **_smtp_fields(settings),
    )
    await repository.add(session, mailbox)
    imap = MailboxImap(
        account_id=item.account_id,
        mailbox_id=mailbox.id,
        email=item.imap_email,
        login=item.imap_email,
        server=settings.imap_server,
        port=settings.imap_port,
        password_encrypted=item.imap_password_encrypted,
    )
    await repository.add(session, imap)
    return mailbox


def _status(status: BatchItemStatus) -> MailboxStatus:
    if status is BatchItemStatus.connected:
        return MailboxStatus.connected
    return MailboxStatus.conditionally_connected


def _smtp_fields(settings: MailboxSettings) -> dict[str, Any]:
    return {
        "from_name": settings.smtp_from_name,
        "smtp_login": settings.smtp_login,
        "smtp_server": settings.smtp_server,
        "smtp_port": settings.smtp_port,
        "footer": settings.footer,
        "bcc": settings.bcc,
        "open_tracking_domain": settings.open_tracking_domain,
        "click_tracking_domain": settings.click_tracking_domain,
        "unsubscribe_tracking_domain": settings.unsubscribe_tracking_domain,
        "sending_wait_time_from": settings.sending_wait_time_from,
        "sending_wait_time_to": settings.sending_wait_time_to,
        "daily_limit": settings.daily_sending_limit,
    }


def conditional_error(problems: list[dict[str, Any]]) -> str:
    """``details.error`` of a conditionally connected mailbox: what did not work, and why."""
    return CONDITIONAL_PREFIX + "; ".join(f"{p['message']} ({p['code']})" for p in problems)
