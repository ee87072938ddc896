from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from perch.server.models.base import Base, BigIntId, CreatedMixin, IdMixin


class NotificationChannel(StrEnum):
    in_app = "IN_APP"  # listed by GET /rest/v2/notifications
    mail = "MAIL"  # e-mailed to Account.notification_email through the system SMTP account


class NotificationStatus(StrEnum):
    delivered = "DELIVERED"  # in-app: visible in the list
    pending = "PENDING"  # mail: not attempted yet (or being retried)
    sent = "SENT"  # mail: the system SMTP server accepted it
    not_sent = "NOT_SENT"  # mail: could not be sent; ``reason`` says why


class Notification(IdMixin, CreatedMixin, Base):
    """Something to tell an account, on one channel, with its delivery state."""

    __tablename__ = "notification"

    account_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(50))  # e.g. MAILBOX_BATCH_FINISHED
    channel: Mapped[NotificationChannel] = mapped_column(String(10))
    batch_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("mailbox_batch.id", ondelete="CASCADE"), index=True, default=None
    )
    message: Mapped[str] = mapped_column(Text)
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[NotificationStatus] = mapped_column(String(20))
    recipient: Mapped[str | None] = mapped_column(String(320), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
