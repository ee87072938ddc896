from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from perch.server.kit.timefmt import utcnow
from perch.server.models.base import Base, BigIntId, CreatedMixin, IdMixin, UTCDateTime
from perch.server.models.domain import DomainProvider


class DomainMailboxStatus(StrEnum):
    ordered = "ORDERED"  # the Workspace user is being created
    paid = "PAID"  # the Workspace user exists
    deleting = "DELETING"  # deletion accepted; the Workspace user is being deleted
    failed = "FAILED"  # the Workspace user could not be created (``error`` says why)


class DomainMailbox(IdMixin, CreatedMixin, Base):
    """A mailbox ordered on a domain: for ``GOOGLE``, a Workspace user Perch created.

    ``email`` is lower-case. ``google_marker`` is written into the user's ``externalIds`` so a
    retried creation recognises the user it made; the user's password is never kept.

    ``picture_*``: the profile picture as Google accepted it, served by Perch at
    ``/media/profile-pictures/{picture_token}.{png|jpg}``; a new picture gets a new token.
    """

    __tablename__ = "domain_mailbox"
    __table_args__ = (UniqueConstraint("account_id", "email"),)

    account_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    domain_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("domain.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    provider: Mapped[DomainProvider] = mapped_column(String(20))
    status: Mapped[DomainMailboxStatus] = mapped_column(
        String(20), default=DomainMailboxStatus.ordered
    )
    error: Mapped[str | None] = mapped_column(Text, default=None)
    google_user_id: Mapped[str | None] = mapped_column(String(100), default=None)
    google_marker: Mapped[str] = mapped_column(String(64))
    picture_token: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    picture_mime_type: Mapped[str | None] = mapped_column(String(20), default=None)
    picture_width: Mapped[int | None] = mapped_column(Integer, default=None)
    picture_height: Mapped[int | None] = mapped_column(Integer, default=None)
    picture_data: Mapped[bytes | None] = mapped_column(LargeBinary, default=None, deferred=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
