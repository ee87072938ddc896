"""SQL for Microsoft credentials and the mailboxes connected through them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.models.mailbox import Mailbox, MailboxImap
from perch.server.models.microsoft_credential import MicrosoftCredential


async def credentials(session: AsyncSession, account_id: int) -> list[MicrosoftCredential]:
    stmt = (
        select(MicrosoftCredential)
        .where(MicrosoftCredential.account_id == account_id)
        .order_by(MicrosoftCredential.id)
    )
    return list((await session.execute(stmt)).scalars())


async def credential(
    session: AsyncSession, account_id: int, credential_id: int
) -> MicrosoftCredential | None:
    """The account's credential with this id; None for another account's (as if absent)."""
    stmt = select(MicrosoftCredential).where(
        MicrosoftCredential.id == credential_id, MicrosoftCredential.account_id == account_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def add(session: AsyncSession, row: MicrosoftCredential) -> None:
    session.add(row)
    await session.flush()


async def delete(session: AsyncSession, row: MicrosoftCredential) -> None:
    """Raises IntegrityError when a mailbox still refers to it (the FK is RESTRICT)."""
    await session.delete(row)
    await session.flush()


async def mailboxes_using(session: AsyncSession, credential_id: int) -> int:
    stmt = select(func.count(Mailbox.id)).where(Mailbox.microsoft_credential_id == credential_id)
    return int((await session.execute(stmt)).scalar_one())


async def connected_emails(
    session: AsyncSession, account_id: int, emails: Iterable[str]
) -> set[str]:
    """Which of these (lower-case) addresses already are mailboxes of the account."""
    wanted = sorted(set(emails))
    if not wanted:
        return set()
    stmt = select(Mailbox.email).where(Mailbox.account_id == account_id, Mailbox.email.in_(wanted))
    return set((await session.execute(stmt)).scalars())


async def add_mailboxes(
    session: AsyncSession, pairs: Sequence[tuple[Mailbox, MailboxImap]]
) -> None:
    """Insert mailboxes and their receiving side (ids assigned). Raises IntegrityError, e.g.
    when a concurrent request connected one of the addresses first."""
    session.add_all([mailbox for mailbox, _ in pairs])
    await session.flush()
    for mailbox, imap in pairs:
        imap.mailbox_id = mailbox.id
    session.add_all([imap for _, imap in pairs])
    await session.flush()
