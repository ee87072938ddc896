"""SQL for notifications."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.models import Account
from perch.server.models.notification import Notification, NotificationChannel, NotificationStatus


async def add(session: AsyncSession, row: Notification) -> None:
    session.add(row)
    await session.flush()


async def get(session: AsyncSession, notification_id: int) -> Notification | None:
    return await session.get(Notification, notification_id)


async def account(session: AsyncSession, account_id: int) -> Account | None:
    return await session.get(Account, account_id)


async def in_app(session: AsyncSession, account_id: int, limit: int) -> list[Notification]:
    stmt = (
        select(Notification)
        .where(
            Notification.account_id == account_id,
            Notification.channel == NotificationChannel.in_app,
        )
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def for_batch(session: AsyncSession, batch_id: int) -> list[Notification]:
    stmt = select(Notification).where(Notification.batch_id == batch_id).order_by(Notification.id)
    return list((await session.execute(stmt)).scalars())


async def settle(
    session: AsyncSession, notification_id: int, status: NotificationStatus, reason: str | None
) -> None:
    """Record a mail's outcome, once: only a PENDING notification changes."""
    stmt = update(Notification).where(
        Notification.id == notification_id, Notification.status == NotificationStatus.pending
    )
    await session.execute(stmt.values(status=status, reason=reason))
