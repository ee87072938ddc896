from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from perch.server.models.base import Base, BigIntId, IdMixin, UTCDateTime


class BatchItemStatus(StrEnum):
    pending = "PENDING"
    connected = "CONNECTED"
    conditionally_connected = "CONDITIONALLY_CONNECTED"
    failed = "FAILED"


class MailboxBatchItem(IdMixin, Base):
    """One mailbox of a batch, from submission until its verification result is known.

    ``settings`` holds the submitted fields except the passwords, which are kept only
    encrypted and wiped (set to NULL) as soon as the item's result is stored. ``problems`` is
    the list of what failed (code, stage, server, reply, hint), empty for connected mailboxes.
    """

    __tablename__ = "mailbox_batch_item"
    __table_args__ = (
        UniqueConstraint("batch_id", "position"),
        Index(
            "ix_mailbox_batch_item_account_id_status_smtp_email",
            "account_id",
            "status",
            "smtp_email",
        ),
    )

    batch_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("mailbox_batch.id", ondelete="CASCADE")
    )
    account_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("account.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # index in the request's mailboxes array
    smtp_email: Mapped[str] = mapped_column(String(320))  # lower-case
    imap_email: Mapped[str] = mapped_column(String(320))  # lower-case
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    smtp_password_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    imap_password_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[BatchItemStatus] = mapped_column(String(30), default=BatchItemStatus.pending)
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    mailbox_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("mailbox.id", ondelete="SET NULL"), default=None
    )
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
