from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from perch.server.models.base import Base, BigIntId, CreatedMixin, IdMixin, UTCDateTime


class MailboxProvider(StrEnum):
    """Values of ``details.provider`` in ``GET /rest/v2/mailboxes``."""

    custom = "CUSTOM"
    microsoft = "MICROSOFT"
    google = "GOOGLE"


class MailboxTransport(StrEnum):
    smtp = "SMTP"  # send over SMTP, read over IMAP
    graph = "GRAPH"  # send and read through Microsoft Graph


class MailboxStatus(StrEnum):
    connected = "CONNECTED"
    conditionally_connected = "CONDITIONALLY_CONNECTED"


class Mailbox(IdMixin, CreatedMixin, Base):
    """A connected sending mailbox. Its ``id`` is the *SMTP id* of the Woodpecker API.

    The receiving side is ``MailboxImap`` with its own id (the *IMAP id*). Secrets are stored
    encrypted (``*_encrypted``, see ``Runtime.secrets``) and decrypted only where used.
    """

    __tablename__ = "mailbox"
    __table_args__ = (UniqueConstraint("account_id", "email"),)

    account_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))  # lower-case
    provider: Mapped[MailboxProvider] = mapped_column(String(20), default=MailboxProvider.custom)
    transport: Mapped[MailboxTransport] = mapped_column(String(10), default=MailboxTransport.smtp)
    status: Mapped[MailboxStatus] = mapped_column(String(30), default=MailboxStatus.connected)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    from_name: Mapped[str | None] = mapped_column(String(200), default=None)

    smtp_login: Mapped[str | None] = mapped_column(String(320), default=None)
    smtp_server: Mapped[str | None] = mapped_column(String(255), default=None)
    smtp_port: Mapped[int | None] = mapped_column(Integer, default=None)
    smtp_password_encrypted: Mapped[str | None] = mapped_column(Text, default=None)

    footer: Mapped[str | None] = mapped_column(Text, default=None)
    bcc: Mapped[str | None] = mapped_column(String(320), default=None)
    open_tracking_domain: Mapped[str | None] = mapped_column(String(255), default=None)
    click_tracking_domain: Mapped[str | None] = mapped_column(String(255), default=None)
    unsubscribe_tracking_domain: Mapped[str | None] = mapped_column(String(255), default=None)
    sending_wait_time_from: Mapped[int | None] = mapped_column(Integer, default=None)  # seconds
    sending_wait_time_to: Mapped[int | None] = mapped_column(Integer, default=None)  # seconds
    daily_limit: Mapped[int | None] = mapped_column(Integer, default=None)

    microsoft_credential_id: Mapped[int | None] = mapped_column(
        BigIntId,
        ForeignKey("microsoft_credential.id", ondelete="RESTRICT"),
        index=True,
        default=None,
    )
    graph_user_id: Mapped[str | None] = mapped_column(String(100), default=None)


IMAP_ID_OFFSET = 1_000_000_000


def _imap_id(context: DefaultExecutionContext) -> int:
    return int(context.get_current_parameters()["mailbox_id"]) + IMAP_ID_OFFSET


class MailboxImap(CreatedMixin, Base):
    """The receiving side of a mailbox. Its ``id`` is the *IMAP id* of the Woodpecker API.

    IMAP ids are the SMTP id plus ``IMAP_ID_OFFSET``, so the two kinds never share a number and
    ``GET /rest/v2/mailboxes/{id}`` always knows which record is meant.

    For Graph mailboxes there is no IMAP server: the record exists so that the inbox can be
    filtered by IMAP id as with every other mailbox, and it reads through Graph.
    """

    __tablename__ = "mailbox_imap"

    id: Mapped[int] = mapped_column(
        BigIntId, primary_key=True, autoincrement=False, default=_imap_id
    )

    account_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    mailbox_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("mailbox.id", ondelete="CASCADE"), unique=True
    )
    email: Mapped[str] = mapped_column(String(320))
    login: Mapped[str | None] = mapped_column(String(320), default=None)
    server: Mapped[str | None] = mapped_column(String(255), default=None)
    port: Mapped[int | None] = mapped_column(Integer, default=None)
    password_encrypted: Mapped[str | None] = mapped_column(Text, default=None)

    # Inbox sync state (IMAP: UIDVALIDITY + highest UID seen; Graph: newest receivedDateTime)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_uid: Mapped[int | None] = mapped_column(BigInteger, default=None)
    graph_cursor: Mapped[str | None] = mapped_column(Text, default=None)
    sent_folder: Mapped[str | None] = mapped_column(String(255), default=None)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    sync_error: Mapped[str | None] = mapped_column(Text, default=None)
    sync_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
