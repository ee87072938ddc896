"""Notifications: created when something finishes, listed in-app, mailed by a job."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.auth import repository as auth_repository
from perch.server.errors import NotFound
from perch.server.kit.timefmt import iso_z
from perch.server.models import Account
from perch.server.models.notification import Notification, NotificationChannel, NotificationStatus
from perch.server.notification import repository
from perch.server.notification.schemas import (
    BatchNotificationsRead,
    InAppDeliveryRead,
    MailDeliveryRead,
    MarkedRead,
    NotificationList,
    NotificationRead,
)
from perch.server.worker.queue import enqueue

BATCH_FINISHED = "MAILBOX_BATCH_FINISHED"
SEND_MAIL = "notification.send_mail"
NO_ADDRESS = (
    "the account has no notification address (set one with `perch account set-notification-email`)"
)


class UnknownAccount(LookupError):
    """No account has that name."""


async def batch_finished(
    session: AsyncSession,
    account_id: int,
    batch_id: int,
    channels: Sequence[str],
    lines: Sequence[str],
) -> None:
    """Tell the account a mailbox batch finished, on the channels it asked for.

    ``lines[0]`` is the one-line summary (the in-app message and the mail subject); the mail
    body is every line."""
    if NotificationChannel.in_app in channels:
        await repository.add(
            session, _row(account_id, batch_id, NotificationChannel.in_app, lines[0])
        )
    if NotificationChannel.mail in channels:
        account = await repository.account(session, account_id)
        row = _row(account_id, batch_id, NotificationChannel.mail, "\n".join(lines))
        row.recipient = account.notification_email if account else None
        await repository.add(session, row)
        await enqueue(
            session, SEND_MAIL, {"notification_id": row.id}, dedupe_key=f"{SEND_MAIL}:{row.id}"
        )


def _row(
    account_id: int, batch_id: int, channel: NotificationChannel, message: str
) -> Notification:
    status = (
        NotificationStatus.delivered
        if channel is NotificationChannel.in_app
        else NotificationStatus.pending
    )
    return Notification(
        account_id=account_id,
        type=BATCH_FINISHED,
        channel=channel,
        batch_id=batch_id,
        message=message,
        read=False,
        status=status,
    )


async def batch_deliveries(
    session: AsyncSession, batch_id: int, channels: Sequence[str]
) -> BatchNotificationsRead:
    """What became of a batch's completion notifications (``null`` where not asked for)."""
    rows = {row.channel: row for row in await repository.for_batch(session, batch_id)}
    out = BatchNotificationsRead()
    if NotificationChannel.in_app in channels:
        in_app = rows.get(NotificationChannel.in_app)
        out.in_app = InAppDeliveryRead(
            created=in_app is not None, notification_id=in_app.id if in_app else None
        )
    if NotificationChannel.mail in channels:
        out.mail = _mail_delivery(rows.get(NotificationChannel.mail))
    return out


def _mail_delivery(row: Notification | None) -> MailDeliveryRead:
    if row is None:
        return MailDeliveryRead(
            status="PENDING", sent=False, recipient=None, reason="the batch has not finished yet"
        )
    status = NotificationStatus(row.status)
    reason = row.reason
    if status is NotificationStatus.pending:
        reason = "waiting to be sent"
    return MailDeliveryRead(
        status="SENT" if status is NotificationStatus.sent else status.value,  # type: ignore[arg-type]
        sent=status is NotificationStatus.sent,
        recipient=row.recipient,
        reason=reason,
    )


async def list_in_app(
    session: AsyncSession, account: Account, limit: int, read: bool | None = None
) -> NotificationList:
    rows = await repository.in_app(session, account.id, limit, read)
    return NotificationList(notifications=[_read(row) for row in rows])


async def mark_read(
    session: AsyncSession, account: Account, notification_id: int
) -> NotificationRead:
    """Idempotent: marking a read notification again changes nothing. Another account's
    notification (or a mail one) does not exist here."""
    await repository.mark_read(session, account.id, notification_id)
    row = await repository.in_app_one(session, account.id, notification_id)
    if row is None:
        raise NotFound()
    return _read(row)


async def mark_all_read(session: AsyncSession, account: Account) -> MarkedRead:
    return MarkedRead(marked=await repository.mark_read(session, account.id, None))


def _read(row: Notification) -> NotificationRead:
    return NotificationRead(
        id=row.id,
        type=row.type,
        created=iso_z(row.created_at),
        read=row.read,
        batch_id=row.batch_id,
        message=row.message,
    )


async def set_notification_email(
    session: AsyncSession, account_name: str, email: str | None
) -> Account:
    account = await auth_repository.account_by_name(session, account_name)
    if account is None:
        raise UnknownAccount(account_name)
    account.notification_email = email.strip().lower() if email else None
    await session.flush()
    return account
