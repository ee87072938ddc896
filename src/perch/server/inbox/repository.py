"""SQL for inbox messages and the outbound ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Result, Select, Table, and_, false, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from perch.server.kit.timefmt import utcnow
from perch.server.models import Mailbox, MailboxImap
from perch.server.models.inbox_message import InboxMessage
from perch.server.models.outbound_message import OutboundMessage

_DEDUPE = ["mailbox_imap_id", "dedupe_key"]


@dataclass(frozen=True)
class MessageFilter:
    classifications: tuple[str, ...]
    mailbox_imap_ids: tuple[int, ...] | None
    phrases: tuple[str, ...]
    read: bool | None


def _filtered(account_id: int, filters: MessageFilter) -> Select[InboxMessage, Mailbox]:
    stmt = (
        select(InboxMessage, Mailbox)
        .join(Mailbox, Mailbox.id == InboxMessage.mailbox_id)
        .where(InboxMessage.account_id == account_id)
    )
    if not filters.classifications:
        return stmt.where(false())
    stmt = stmt.where(InboxMessage.classification.in_(filters.classifications))
    if filters.mailbox_imap_ids is not None:
        stmt = stmt.where(InboxMessage.mailbox_imap_id.in_(filters.mailbox_imap_ids))
    if filters.read is not None:
        stmt = stmt.where(InboxMessage.is_read.is_(filters.read))
    if filters.phrases:
        stmt = stmt.where(or_(*(_matches(phrase) for phrase in filters.phrases)))
    return stmt


def _matches(phrase: str) -> ColumnElement[bool]:
    pattern = (
        "%" + phrase.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    )
    columns = (
        InboxMessage.subject,
        InboxMessage.body_text,
        InboxMessage.from_email,
        InboxMessage.from_name,
    )
    return or_(*(col.ilike(pattern, escape="\\") for col in columns))


async def page(
    session: AsyncSession,
    account_id: int,
    filters: MessageFilter,
    *,
    limit: int,
    before_id: int | None = None,
    after_id: int | None = None,
) -> list[tuple[InboxMessage, Mailbox]]:
    """Newest first. ``before_id`` walks to older messages, ``after_id`` back to newer ones.
    Returns up to ``limit + 1`` rows so the caller knows whether there is more."""
    stmt = _filtered(account_id, filters)
    if after_id is not None:
        stmt = stmt.where(InboxMessage.id > after_id).order_by(InboxMessage.id.asc())
        return _pairs(await session.execute(stmt.limit(limit + 1)))
    if before_id is not None:
        stmt = stmt.where(InboxMessage.id < before_id)
    newest_first = stmt.order_by(InboxMessage.id.desc()).limit(limit + 1)
    return _pairs(await session.execute(newest_first))


def _pairs(result: Result[InboxMessage, Mailbox]) -> list[tuple[InboxMessage, Mailbox]]:
    return [(row[0], row[1]) for row in result]


async def message(session: AsyncSession, account_id: int, message_id: int) -> InboxMessage | None:
    stmt = select(InboxMessage).where(
        and_(InboxMessage.id == message_id, InboxMessage.account_id == account_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def mailbox(session: AsyncSession, account_id: int, mailbox_id: int) -> Mailbox | None:
    stmt = select(Mailbox).where(Mailbox.id == mailbox_id, Mailbox.account_id == account_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def imap_of(session: AsyncSession, mailbox_id: int) -> MailboxImap | None:
    stmt = select(MailboxImap).where(MailboxImap.mailbox_id == mailbox_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def known_keys(session: AsyncSession, imap_id: int, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    stmt = select(InboxMessage.dedupe_key).where(
        InboxMessage.mailbox_imap_id == imap_id, InboxMessage.dedupe_key.in_(keys)
    )
    return set((await session.execute(stmt)).scalars())


async def own_message_ids(session: AsyncSession, account_id: int, ids: list[str]) -> set[str]:
    """Which of these Message-IDs Perch itself sent (the outbound ledger)."""
    if not ids:
        return set()
    stmt = select(OutboundMessage.message_id).where(
        OutboundMessage.account_id == account_id, OutboundMessage.message_id.in_(ids)
    )
    return set((await session.execute(stmt)).scalars())


async def add_messages(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Insert ``inbox_message`` values, all with the same keys, in one statement (no unit of
    work and no ORM objects: a large sync inserts thousands of rows). A message the mailbox
    already has (same dedupe key, e.g. stored by a concurrent sync) is skipped, not an error.
    Returns how many rows were new."""
    if not rows:
        return 0
    table: Table = InboxMessage.__table__  # type: ignore[assignment]  # Core, not the ORM
    if session.get_bind().dialect.name == "postgresql":
        stmt = postgresql_insert(table).on_conflict_do_nothing(index_elements=_DEDUPE)
        return len((await session.execute(stmt.returning(table.c.id), rows)).all())
    return await _add_sqlite(await session.connection(), table, rows)


async def _add_sqlite(connection: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> int:
    """SQLite (always aiosqlite: SQLAlchemy's only async SQLite driver): the driver's own
    executemany, values converted by each column's type.

    SQLAlchemy's per-row parameter handling and its cursor adapter cost three times what
    SQLite needs for the INSERT itself (docs/performance.md); the statement still comes from
    SQLAlchemy and runs in the session's transaction. sqlite3 adds up the rows it really
    inserted (a conflict inserts none) in ``rowcount``."""
    created = utcnow()
    rows = [{**row, "created_at": created} for row in rows]  # the column default, per batch
    stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=_DEDUPE)
    compiled = stmt.compile(dialect=connection.dialect, column_keys=list(rows[0]))
    values = _in_order(connection.dialect, table, list(compiled.positiontup or ()), rows)
    driver: Any = (await connection.get_raw_connection()).driver_connection
    cursor = await driver.executemany(str(compiled), values)
    return int(cursor.rowcount)


def _in_order(
    dialect: Dialect, table: Table, names: list[str], rows: list[dict[str, Any]]
) -> list[list[Any]]:
    """Each row's values in the statement's order, as the column types hand them to SQLite."""
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    convert = [(index, fn) for index, fn in enumerate(processors) if fn is not None]
    pick = itemgetter(*names)
    values = []
    for row in rows:
        value = list(pick(row))
        for index, fn in convert:
            value[index] = fn(value[index])
        values.append(value)
    return values


async def relocate(
    session: AsyncSession, imap_id: int, key: str, uidvalidity: int, uid: int
) -> None:
    """A known message got a new UID (UIDVALIDITY changed): remember where it is now."""
    stmt = update(InboxMessage).where(
        InboxMessage.mailbox_imap_id == imap_id, InboxMessage.dedupe_key == key
    )
    await session.execute(stmt.values(uidvalidity=uidvalidity, uid=uid))


async def imap_with_mailbox(
    session: AsyncSession, imap_id: int
) -> tuple[MailboxImap, Mailbox] | None:
    stmt = (
        select(MailboxImap, Mailbox)
        .join(Mailbox, Mailbox.id == MailboxImap.mailbox_id)
        .where(MailboxImap.id == imap_id)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def due_for_sync(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    stmt = (
        select(MailboxImap.id)
        .where(or_(MailboxImap.next_sync_at.is_(None), MailboxImap.next_sync_at <= now))
        .order_by(MailboxImap.next_sync_at.nulls_first(), MailboxImap.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def save_sync_state(session: AsyncSession, imap_id: int, **values: object) -> None:
    await session.execute(update(MailboxImap).where(MailboxImap.id == imap_id).values(**values))


async def outbound_by_key(
    session: AsyncSession, account_id: int, key: str
) -> OutboundMessage | None:
    stmt = select(OutboundMessage).where(
        OutboundMessage.account_id == account_id, OutboundMessage.idempotency_key == key
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def outbound(session: AsyncSession, outbound_id: int) -> OutboundMessage | None:
    return await session.get(OutboundMessage, outbound_id)


async def claim_outbound(session: AsyncSession, outbound_id: int, allowed: Sequence[str]) -> bool:
    """Move a send to SENDING if it is in one of ``allowed``; True for the one caller that did."""
    stmt = update(OutboundMessage).where(
        OutboundMessage.id == outbound_id, OutboundMessage.status.in_(allowed)
    )
    result = await session.execute(stmt.values(status="SENDING"))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def settle_outbound(session: AsyncSession, outbound_id: int, **values: object) -> None:
    stmt = update(OutboundMessage).where(OutboundMessage.id == outbound_id)
    await session.execute(stmt.values(**values))


async def mark_answered(session: AsyncSession, message_id: int, at: datetime) -> None:
    stmt = update(InboxMessage).where(InboxMessage.id == message_id)
    await session.execute(stmt.values(is_read=True, answered_at=at))
