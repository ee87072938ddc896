"""All SQL of the mailbox domain: mailboxes, their IMAP side, batches and batch items."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.kit.timefmt import utcnow
from perch.server.models.mailbox import Mailbox, MailboxImap
from perch.server.models.mailbox_batch import MailboxBatch
from perch.server.models.mailbox_batch_item import BatchItemStatus, MailboxBatchItem

MAX_ID = 2**63 - 1


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()


# --- mailboxes -------------------------------------------------------------------------------


async def mailboxes(
    session: AsyncSession, account_id: int
) -> list[tuple[Mailbox, MailboxImap | None]]:
    stmt = (
        select(Mailbox, MailboxImap)
        .outerjoin(MailboxImap, MailboxImap.mailbox_id == Mailbox.id)
        .where(Mailbox.account_id == account_id)
        .order_by(Mailbox.id)
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


async def mailbox(session: AsyncSession, account_id: int, mailbox_id: int) -> Mailbox | None:
    if not 0 < mailbox_id <= MAX_ID:
        return None
    stmt = select(Mailbox).where(Mailbox.id == mailbox_id, Mailbox.account_id == account_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def imap_of(session: AsyncSession, mailbox_id: int) -> MailboxImap | None:
    stmt = select(MailboxImap).where(MailboxImap.mailbox_id == mailbox_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def imap_record(
    session: AsyncSession, account_id: int, imap_id: int
) -> tuple[MailboxImap, Mailbox] | None:
    if not 0 < imap_id <= MAX_ID:
        return None
    stmt = (
        select(MailboxImap, Mailbox)
        .join(Mailbox, Mailbox.id == MailboxImap.mailbox_id)
        .where(MailboxImap.id == imap_id, MailboxImap.account_id == account_id)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def connected_emails(
    session: AsyncSession, account_id: int, emails: Iterable[str]
) -> set[str]:
    stmt = select(Mailbox.email).where(
        Mailbox.account_id == account_id, Mailbox.email.in_(list(emails))
    )
    return set((await session.execute(stmt)).scalars())


# --- batches ---------------------------------------------------------------------------------


async def batch(
    session: AsyncSession, batch_id: int, account_id: int | None = None
) -> MailboxBatch | None:
    if not 0 < batch_id <= MAX_ID:
        return None
    stmt = select(MailboxBatch).where(MailboxBatch.id == batch_id)
    if account_id is not None:
        stmt = stmt.where(MailboxBatch.account_id == account_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def items(session: AsyncSession, batch_id: int) -> list[MailboxBatchItem]:
    stmt = (
        select(MailboxBatchItem)
        .where(MailboxBatchItem.batch_id == batch_id)
        .order_by(MailboxBatchItem.position)
    )
    return list((await session.execute(stmt)).scalars())


async def pending_items(session: AsyncSession, batch_id: int) -> list[MailboxBatchItem]:
    stmt = (
        select(MailboxBatchItem)
        .where(
            MailboxBatchItem.batch_id == batch_id,
            MailboxBatchItem.status == BatchItemStatus.pending,
        )
        .order_by(MailboxBatchItem.position)
    )
    return list((await session.execute(stmt)).scalars())


async def pending_emails(
    session: AsyncSession, account_id: int, emails: Iterable[str]
) -> dict[str, int]:
    """email -> batch id, for mailboxes of this account still waiting in some batch."""
    stmt = select(MailboxBatchItem.smtp_email, MailboxBatchItem.batch_id).where(
        MailboxBatchItem.account_id == account_id,
        MailboxBatchItem.status == BatchItemStatus.pending,
        MailboxBatchItem.smtp_email.in_(list(emails)),
    )
    return {email: batch_id for email, batch_id in (await session.execute(stmt)).all()}


async def status_counts(session: AsyncSession, batch_id: int) -> dict[BatchItemStatus, int]:
    stmt = (
        select(MailboxBatchItem.status, func.count())
        .where(MailboxBatchItem.batch_id == batch_id)
        .group_by(MailboxBatchItem.status)
    )
    counts = {status: 0 for status in BatchItemStatus}
    for status, count in (await session.execute(stmt)).all():
        counts[BatchItemStatus(status)] = int(count)
    return counts


async def settle_item(
    session: AsyncSession,
    item_id: int,
    status: BatchItemStatus,
    problems: Sequence[dict[str, Any]],
    mailbox_id: int | None = None,
) -> bool:
    """Store an item's result and wipe its passwords, unless someone already did."""
    stmt = (
        update(MailboxBatchItem)
        .where(MailboxBatchItem.id == item_id, MailboxBatchItem.status == BatchItemStatus.pending)
        .values(
            status=status,
            problems=list(problems),
            mailbox_id=mailbox_id,
            smtp_password_encrypted=None,
            imap_password_encrypted=None,
            finished_at=utcnow(),
        )
    )
    result = await session.execute(stmt)
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def mark_finished(session: AsyncSession, batch_id: int, at: datetime) -> bool:
    """True for the one caller that finished the batch."""
    stmt = (
        update(MailboxBatch)
        .where(MailboxBatch.id == batch_id, MailboxBatch.finished_at.is_(None))
        .values(finished_at=at)
    )
    result = await session.execute(stmt)
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]
