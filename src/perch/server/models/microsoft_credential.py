from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from perch.server.models.base import Base, BigIntId, CreatedMixin, IdMixin, UTCDateTime


class MicrosoftCredential(IdMixin, CreatedMixin, Base):
    """A Microsoft Entra app registration used for Graph app-only access (client credentials).

    The client secret is stored encrypted and never returned.
    """

    __tablename__ = "microsoft_credential"

    account_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    tenant_id: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[str] = mapped_column(String(100))
    client_secret_encrypted: Mapped[str] = mapped_column(Text)
    secret_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
