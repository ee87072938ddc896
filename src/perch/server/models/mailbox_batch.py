from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from perch.server.models.base import Base, BigIntId, CreatedMixin, IdMixin, UTCDateTime


class MailboxBatch(IdMixin, CreatedMixin, Base):
    """One ``POST /rest/v2/mailboxes/manual_connection/bulk``: its id is the ``batch_id``.

    The batch is finished when none of its items is pending; ``finished_at`` records that the
    completion (notifications) has been handled, exactly once.
    """

    __tablename__ = "mailbox_batch"

    account_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    size: Mapped[int] = mapped_column(Integer)
    notification_types: Mapped[list[str]] = mapped_column(JSON, default=list)  # MAIL, IN_APP
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
