from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from perch.server.models.account import Account
from perch.server.models.base import Base, BigIntId, CreatedMixin, IdMixin, UTCDateTime


class ApiKey(IdMixin, CreatedMixin, Base):
    """An API key, stored as a SHA-256 hash; the key itself is shown once."""

    __tablename__ = "api_key"

    account_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(200), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    account: Mapped[Account] = relationship(lazy="raise")
