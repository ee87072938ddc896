"""SQL for notifications."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, update
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


def _in_app(account_id: int) -> list[ColumnElement[bool]]:
    return [
        Notification.account_id == account_id,
        Notification.channel == NotificationChannel.in_app,
    ]


async def in_app(
    session: AsyncSession, account_id: int, limit: int, read: bool | None = None
) -> list[Notification]:
    stmt = select(Notification).where(*_in_app(account_id))
    if read is not None:
        stmt = stmt.where(Notification.read.is_(read))
    stmt = stmt.order_by(Notification.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def in_app_one(
    session: AsyncSession, account_id: int, notification_id: int
) -> Notification | None:
    stmt = select(Notification).where(Notification.id == notification_id, *_in_app(account_id))
    return (await session.execute(stmt)).scalar_one_or_none()


async def mark_read(session: AsyncSession, account_id: int, notification_id: int | None) -> int:
    """Mark one (or, with ``None``, every) unread in-app notification read; how many were."""
    stmt = update(Notification).where(*_in_app(account_id), Notification.read.is_(False))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    result = await session.execute(stmt.values(read=True))
    return int(result.rowcount)  # type: ignore[attr-defined]


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
