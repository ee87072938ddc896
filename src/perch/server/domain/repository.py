"""SQL for domains, their mailboxes, owners and profile pictures. Names are lower-case."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.integrations.google import Photo
from perch.server.kit.timefmt import utcnow
from perch.server.models.domain import Domain
from perch.server.models.domain_mailbox import DomainMailbox, DomainMailboxStatus
from perch.server.models.domain_owner import DomainOwner
from perch.server.models.mailbox import Mailbox

Row = Domain | DomainMailbox | DomainOwner


class Duplicate(Exception):
    """A row with the same unique key was written meanwhile (by a concurrent request)."""


async def add(session: AsyncSession, *rows: Row) -> None:
    session.add_all(rows)
    try:
        await session.flush()
    except IntegrityError as e:
        # The failed flush ended the transaction; roll back so that the request's scope does
        # not fail on commit (a route's error does not reach the session dependency).
        await session.rollback()
        raise Duplicate() from e


async def owner(session: AsyncSession, account_id: int) -> DomainOwner | None:
    stmt = select(DomainOwner).where(DomainOwner.account_id == account_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def domains(session: AsyncSession, account_id: int) -> list[Domain]:
    stmt = select(Domain).where(Domain.account_id == account_id).order_by(Domain.name)
    return list((await session.execute(stmt)).scalars())


async def domain(session: AsyncSession, account_id: int, name: str) -> Domain | None:
    stmt = select(Domain).where(Domain.account_id == account_id, Domain.name == name)
    return (await session.execute(stmt)).scalar_one_or_none()


async def domains_named(
    session: AsyncSession, account_id: int, names: Collection[str]
) -> dict[str, Domain]:
    stmt = select(Domain).where(Domain.account_id == account_id, Domain.name.in_(names))
    return {d.name: d for d in (await session.execute(stmt)).scalars()}


async def mailbox_counts(session: AsyncSession, domain_ids: Collection[int]) -> dict[int, int]:
    stmt = (
        select(DomainMailbox.domain_id, func.count())
        .where(DomainMailbox.domain_id.in_(domain_ids))
        .group_by(DomainMailbox.domain_id)
    )
    return {domain_id: count for domain_id, count in (await session.execute(stmt)).all()}


async def mailboxes_of(session: AsyncSession, domain_id: int) -> list[DomainMailbox]:
    stmt = (
        select(DomainMailbox)
        .where(DomainMailbox.domain_id == domain_id)
        .order_by(DomainMailbox.email)
    )
    return list((await session.execute(stmt)).scalars())


async def mailbox(session: AsyncSession, account_id: int, email: str) -> DomainMailbox | None:
    stmt = select(DomainMailbox).where(
        DomainMailbox.account_id == account_id, DomainMailbox.email == email
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def mailboxes_named(
    session: AsyncSession, account_id: int, emails: Collection[str]
) -> dict[str, DomainMailbox]:
    stmt = select(DomainMailbox).where(
        DomainMailbox.account_id == account_id, DomainMailbox.email.in_(emails)
    )
    return {m.email: m for m in (await session.execute(stmt)).scalars()}


async def mailbox_by_id(session: AsyncSession, mailbox_id: int) -> DomainMailbox | None:
    return await session.get(DomainMailbox, mailbox_id)


async def change_status(
    session: AsyncSession,
    mailbox_id: int,
    expected: DomainMailboxStatus,
    status: DomainMailboxStatus,
    **values: Any,
) -> bool:
    """Move the mailbox from ``expected`` to ``status``; False when it was not ``expected``."""
    stmt = update(DomainMailbox).where(
        DomainMailbox.id == mailbox_id, DomainMailbox.status == expected
    )
    result = await session.execute(stmt.values(status=status, updated_at=utcnow(), **values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def remove_mailbox(session: AsyncSession, row: DomainMailbox) -> None:
    """The mailbox (its picture with it) and any sending connection of the same address."""
    same_address = (Mailbox.account_id == row.account_id, Mailbox.email == row.email)
    await session.execute(delete(Mailbox).where(*same_address))
    await session.execute(delete(DomainMailbox).where(DomainMailbox.id == row.id))


async def save_picture(session: AsyncSession, mailbox_id: int, token: str, photo: Photo) -> None:
    """Replace the mailbox's picture (the last writer wins)."""
    values = {
        "picture_token": token,
        "picture_mime_type": photo.mime_type,
        "picture_width": photo.width,
        "picture_height": photo.height,
        "picture_data": photo.data,
        "updated_at": utcnow(),
    }
    await session.execute(
        update(DomainMailbox).where(DomainMailbox.id == mailbox_id).values(values)
    )


async def picture_by_token(session: AsyncSession, token: str) -> tuple[bytes, str] | None:
    """(data, MIME type) of the picture with this token."""
    stmt = select(DomainMailbox.picture_data, DomainMailbox.picture_mime_type).where(
        DomainMailbox.picture_token == token
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None or row[0] is None or row[1] is None:
        return None
    return row[0], row[1]
