"""SQL for Google Workspace connections."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.models.google_connection import GoogleConnection


async def for_account(session: AsyncSession, account_id: int) -> GoogleConnection | None:
    stmt = select(GoogleConnection).where(GoogleConnection.account_id == account_id)
    return (await session.execute(stmt)).scalar_one_or_none()


class Duplicate(Exception):
    """The account's connection was written meanwhile (by a concurrent request)."""


async def add(session: AsyncSession, connection: GoogleConnection) -> None:
    session.add(connection)
    try:
        await session.flush()
    except IntegrityError as e:
        # The failed flush ended the transaction; roll back so that the request's scope does
        # not fail on commit (a route's error does not reach the session dependency).
        await session.rollback()
        raise Duplicate() from e


async def remove(session: AsyncSession, account_id: int) -> bool:
    stmt = delete(GoogleConnection).where(GoogleConnection.account_id == account_id)
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]
