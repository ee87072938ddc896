from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from perch.server.models.base import Base, BigIntId, CreatedMixin, IdMixin, UTCDateTime


class OutboundStatus(StrEnum):
    pending = "PENDING"  # recorded; the handoff has not started (safe to send)
    sending = "SENDING"  # handoff started; if we never learn the outcome it stays unknown
    sent = "SENT"  # the server accepted it
    failed = "FAILED"  # the server refused it before accepting: nothing was delivered
    unknown = "UNKNOWN"  # the connection was lost after the message was handed over


class OutboundMessage(IdMixin, CreatedMixin, Base):
    """The ledger of every message Perch sends: idempotency, crash safety, and knowing our own
    mail when it comes back through a sync (never counted as a reply)."""

    __tablename__ = "outbound_message"
    __table_args__ = (UniqueConstraint("account_id", "idempotency_key"),)

    account_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    mailbox_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("mailbox.id", ondelete="CASCADE"), index=True
    )
    reply_to_message_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("inbox_message.id", ondelete="SET NULL"), default=None
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    message_id: Mapped[str] = mapped_column(String(500), unique=True)
    envelope: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # from, to, cc, bcc
    raw: Mapped[str | None] = mapped_column(Text, default=None)  # the MIME message
    status: Mapped[OutboundStatus] = mapped_column(String(10), default=OutboundStatus.pending)
    transport: Mapped[str] = mapped_column(String(10), default="SMTP")
    server_reply: Mapped[str | None] = mapped_column(Text, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    sent_copy_saved: Mapped[bool] = mapped_column(Boolean, default=False)
