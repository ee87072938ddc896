from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from perch.server.kit.timefmt import utcnow
from perch.server.models.base import Base, BigIntId, CreatedMixin, IdMixin, UTCDateTime


class GoogleConnection(IdMixin, CreatedMixin, Base):
    """An account's Google Workspace: a service account with domain-wide delegation and the
    administrator it acts as. The JSON key is stored encrypted and never returned."""

    __tablename__ = "google_connection"

    account_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("account.id", ondelete="CASCADE"), unique=True
    )
    client_email: Mapped[str] = mapped_column(String(320))
    client_id: Mapped[str | None] = mapped_column(String(100), default=None)
    private_key_id: Mapped[str] = mapped_column(String(100))
    project_id: Mapped[str | None] = mapped_column(String(100), default=None)
    admin_email: Mapped[str] = mapped_column(String(320))
    key_encrypted: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
