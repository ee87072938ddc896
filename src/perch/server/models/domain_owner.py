from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from perch.server.kit.timefmt import utcnow
from perch.server.models.base import Base, BigIntId, IdMixin, UTCDateTime


class DomainOwner(IdMixin, Base):
    """The registrant contact of an account's domains (``/rest/v2/domains/owner``); one per
    account, replaced as a whole."""

    __tablename__ = "domain_owner"

    account_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("account.id", ondelete="CASCADE"), unique=True
    )
    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    company_name: Mapped[str | None] = mapped_column(String(200), default=None)
    address: Mapped[str] = mapped_column(String(300))
    city: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(100))
    zip_code: Mapped[str] = mapped_column(String(20))
    phone: Mapped[str] = mapped_column(String(40))
    default_domain_redirect_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    default_email_forward_address: Mapped[str | None] = mapped_column(String(320), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
