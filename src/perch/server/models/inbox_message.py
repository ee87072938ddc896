from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from perch.server.models.base import Base, BigIntId, CreatedMixin, IdMixin, UTCDateTime


class InboxMessage(IdMixin, CreatedMixin, Base):
    """A message that arrived in a mailbox's INBOX (over IMAP or Graph).

    ``dedupe_key`` (the Message-ID, or a digest of the message when it has none) is unique per
    mailbox, so a message is never imported twice, whatever its UID becomes.
    """

    __tablename__ = "inbox_message"
    __table_args__ = (
        UniqueConstraint("mailbox_imap_id", "dedupe_key"),
        Index("ix_inbox_message_account_id_id", "account_id", "id"),
    )

    account_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("account.id", ondelete="CASCADE"))
    mailbox_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("mailbox.id", ondelete="CASCADE"), index=True
    )
    mailbox_imap_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("mailbox_imap.id", ondelete="CASCADE"), index=True
    )
    folder: Mapped[str] = mapped_column(String(255), default="INBOX")
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger, default=None)
    uid: Mapped[int | None] = mapped_column(BigInteger, default=None)
    graph_id: Mapped[str | None] = mapped_column(String(255), default=None)
    dedupe_key: Mapped[str] = mapped_column(String(128))
    message_id: Mapped[str | None] = mapped_column(Text, default=None)
    in_reply_to: Mapped[str | None] = mapped_column(Text, default=None)
    references: Mapped[str | None] = mapped_column(Text, default=None)
    from_email: Mapped[str | None] = mapped_column(String(320), default=None)
    from_name: Mapped[str | None] = mapped_column(Text, default=None)
    reply_to: Mapped[str | None] = mapped_column(Text, default=None)
    to: Mapped[str | None] = mapped_column(Text, default=None)
    cc: Mapped[str | None] = mapped_column(Text, default=None)
    subject: Mapped[str | None] = mapped_column(Text, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    body_html: Mapped[str | None] = mapped_column(Text, default=None)
    body_text: Mapped[str | None] = mapped_column(Text, default=None)
    is_read: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    classification: Mapped[str] = mapped_column(String(20))
    classification_rule: Mapped[str] = mapped_column(String(100))
