"""SQL for accounts and API keys."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.kit.timefmt import utcnow
from perch.server.models import Account, ApiKey


async def account_by_name(session: AsyncSession, name: str) -> Account | None:
    return (await session.execute(select(Account).where(Account.name == name))).scalar_one_or_none()


async def count_accounts(session: AsyncSession) -> int:
    return len((await session.execute(select(Account.id).limit(1))).all())


async def add(session: AsyncSession, row: Account | ApiKey) -> None:
    session.add(row)
    await session.flush()


async def account_for_key_hash(session: AsyncSession, key_hash: str) -> Account | None:
    stmt = (
        select(Account)
        .join(ApiKey, ApiKey.account_id == Account.id)
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def keys(session: AsyncSession, account_name: str | None) -> list[tuple[ApiKey, str]]:
    stmt = select(ApiKey, Account.name).join(Account, ApiKey.account_id == Account.id)
    if account_name is not None:
        stmt = stmt.where(Account.name == account_name)
    rows = await session.execute(stmt.order_by(ApiKey.id))
    return [(key, name) for key, name in rows.all()]


async def revoke(session: AsyncSession, key_id: int) -> bool:
    stmt = update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
    result = await session.execute(stmt.values(revoked_at=utcnow()))
    return bool(result.rowcount)  # type: ignore[attr-defined]
