from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from perch.server.models.base import Base, BigIntId, CreatedMixin, IdMixin, UTCDateTime


class DomainProvider(StrEnum):
    """The providers of the Woodpecker domains API; this Perch serves ``GOOGLE`` only."""

    maildoso = "MAILDOSO"
    mailforge = "MAILFORGE"
    google = "GOOGLE"
    microsoft = "MICROSOFT"


class Domain(IdMixin, CreatedMixin, Base):
    """A domain an account "ordered": for ``GOOGLE``, a verified domain of its Workspace.

    ``name`` is lower-case. ``owner`` is the registrant contact as it was at order time.
    """

    __tablename__ = "domain"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    account_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(253))
    provider: Mapped[DomainProvider] = mapped_column(String(20))
    is_custom_domain: Mapped[bool] = mapped_column(Boolean, default=True)
    is_ready: Mapped[bool] = mapped_column(Boolean, default=True)
    max_mailboxes: Mapped[int] = mapped_column(Integer)
    owner: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    email_forward_address: Mapped[str | None] = mapped_column(String(320), default=None)
    domain_redirect_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
