"""Engine and session scope.

Services never commit. A request or a job opens one ``session_scope``: it commits when the
block ends normally and rolls back on error, or when the session was marked ``ROLLBACK_ONLY``
(a request whose route answered with an error). Work that must only happen after the commit
(handing a job id to the broker) is registered with ``after_commit``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

AfterCommit = Callable[[], Awaitable[None]]
_AFTER_COMMIT = "perch_after_commit"
ROLLBACK_ONLY = "perch_rollback_only"


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run ``callback`` once the surrounding scope has committed (never on rollback)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


@asynccontextmanager
async def session_scope(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with maker() as session:
        try:
            yield session
            if session.info.get(ROLLBACK_ONLY):
                await session.rollback()
                return
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        callbacks: list[AfterCommit] = session.info.pop(_AFTER_COMMIT, [])
    for callback in callbacks:
        await callback()
