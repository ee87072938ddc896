"""SQL for secrets at rest: every column named ``*_encrypted`` holds a Fernet token."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.models import Base

SUFFIX = "_encrypted"


def encrypted_columns() -> list[tuple[Table, Column[str]]]:
    """Every encrypted column of every table, discovered from the models."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if column.name.endswith(SUFFIX):
                found.append((table, column))
    return found


async def batch(
    session: AsyncSession, table: Table, column: Column[str], after_id: int, size: int
) -> Sequence[tuple[int, str]]:
    primary = table.primary_key.columns.values()[0]
    stmt = (
        select(primary, column)
        .where(primary > after_id, column.is_not(None))
        .order_by(primary)
        .limit(size)
    )
    return [(int(row[0]), str(row[1])) for row in await session.execute(stmt)]


async def replace(
    session: AsyncSession, table: Table, column: Column[str], row_id: int, old: str, new: str
) -> bool:
    """Swap the token only if nobody changed it meanwhile (the server keeps serving)."""
    primary = table.primary_key.columns.values()[0]
    stmt = update(table).where(primary == row_id, column == old).values({column.name: new})
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]
