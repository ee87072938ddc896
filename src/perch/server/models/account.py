from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from perch.server.models.base import Base, CreatedMixin, IdMixin


class Account(IdMixin, CreatedMixin, Base):
    """A team. Every row of user data belongs to exactly one account."""

    __tablename__ = "account"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    notification_email: Mapped[str | None] = mapped_column(String(320), default=None)
