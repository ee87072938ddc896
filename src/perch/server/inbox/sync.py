"""Syncing a mailbox's INBOX: new messages are imported once, whatever happens.

IMAP: incremental by UID. The first sync takes the newest ``PERCH_INBOX_INITIAL_LIMIT``
messages. When UIDVALIDITY changes, every message's Message-ID is read first: messages Perch
already has only get their new UID, so old mail is never imported again as new. Progress
(UIDVALIDITY and the highest UID) is saved with each chunk, in the same transaction as the
chunk's messages, so a sync killed midway resumes where it stopped without duplicates.

Failures are recorded on the mailbox (``sync_error``, visible in the mailbox list) and the next
attempt is pushed back exponentially; other mailboxes are not affected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog

from perch.server.inbox import repository
from perch.server.inbox.ingest import Parsed, dedupe_key, parse, received_or_now
from perch.server.inbox.parse_pool import ParsePool, parse_pool
from perch.server.integrations.imap import ImapConnector, ImapSession
from perch.server.integrations.imap_fetch import FetchedMessage
from perch.server.integrations.mailnet import MailError, MailServer, security_for_port
from perch.server.kit.timefmt import utcnow
from perch.server.models import Mailbox, MailboxImap, MailboxTransport
from perch.server.runtime import Runtime

log = structlog.get_logger(__name__)
CHUNK = 200
MAX_BACKOFF = timedelta(hours=1)
_CONNECTOR = "inbox.imap_connector"


@dataclass
class SyncResult:
    imported: int = 0
    relocated: int = 0
    uids: list[int] = field(default_factory=list)


def imap_connector(runtime: Runtime) -> ImapConnector:
    """One thread pool per process for all IMAP syncs and Sent-folder work."""
    connector = runtime.state.get(_CONNECTOR)
    if connector is None:
        connector = ImapConnector(
            runtime.ssl_context,
            timeout=runtime.settings.mail_timeout.total_seconds(),
            allowed=runtime.settings.allowed_networks,
            max_threads=32,
        )
        runtime.state[_CONNECTOR] = connector
    return connector


def imap_server(imap: MailboxImap) -> MailServer:
    if imap.server is None or imap.port is None:
        raise MailError("IMAP_NOT_CONFIGURED", "dns", "this mailbox has no IMAP server")
    return MailServer(imap.server, imap.port, security_for_port("IMAP", imap.port))


async def sync_mailbox(runtime: Runtime, imap_id: int) -> SyncResult | None:
    """Sync one mailbox. None when it no longer exists or the sync failed (recorded)."""
    async with runtime.session() as session:
        found = await repository.imap_with_mailbox(session, imap_id)
    if found is None:
        return None
    imap, mailbox = found
    try:
        result = await _sync(runtime, imap, mailbox)
    except MailError as e:
        await _record_failure(runtime, imap, f"{e.code}: {e.reply or e}")
        log.warning("inbox.sync.failed", imap_id=imap_id, code=e.code)
        return None
    await _record_success(runtime, imap)
    log.info(
        "inbox.sync.done", imap_id=imap_id, imported=result.imported, relocated=result.relocated
    )
    return result


async def _sync(runtime: Runtime, imap: MailboxImap, mailbox: Mailbox) -> SyncResult:
    if mailbox.transport == MailboxTransport.graph:
        from perch.server.inbox import graph_sync

        return await graph_sync.sync(runtime, imap, mailbox)
    password = runtime.secrets.decrypt(imap.password_encrypted or "")
    connector = imap_connector(runtime)
    async with connector.session(imap_server(imap), imap.login or imap.email, password) as session:
        status = await session.select("INBOX", readonly=True)
        if status.uidvalidity is None:
            raise MailError("IMAP_PROTOCOL_ERROR", "select", "the server sent no UIDVALIDITY")
        return await _sync_folder(runtime, session, imap, mailbox, status.uidvalidity)


async def _sync_folder(
    runtime: Runtime, session: ImapSession, imap: MailboxImap, mailbox: Mailbox, uidvalidity: int
) -> SyncResult:
    result = SyncResult()
    if imap.uidvalidity is None:
        uids = await _search(session, "ALL")
        limit = runtime.settings.inbox_initial_limit
        uids = uids[-limit:] if limit else []
    elif imap.uidvalidity != uidvalidity:
        uids = await _relocate_known(runtime, session, imap, uidvalidity, result)
    else:
        last = imap.last_uid or 0
        uids = [uid for uid in await _search(session, f"UID {last + 1}:*") if uid > last]
    await _import_all(runtime, session, imap, mailbox, uidvalidity, list(_chunks(uids)), result)
    if not uids and imap.uidvalidity != uidvalidity:
        await _save_progress(runtime, imap.id, uidvalidity, imap.last_uid or 0)
    return result


async def _search(session: ImapSession, criteria: str) -> list[int]:
    found = await session.run(lambda c: c.search(criteria), "search")
    return sorted(int(uid) for uid in found)


def _chunks(uids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(uids), CHUNK):
        yield list(uids[start : start + CHUNK])


async def _relocate_known(
    runtime: Runtime, session: ImapSession, imap: MailboxImap, uidvalidity: int, result: SyncResult
) -> list[int]:
    """UIDVALIDITY changed: known messages get their new UID; only unknown ones are imported."""
    unknown: list[int] = []
    for chunk in _chunks(await _search(session, "ALL")):
        headers = await _fetch(session, chunk, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        keys = {uid: _message_id_key(data) for uid, data in headers.items()}
        async with runtime.session() as db:
            known = await repository.known_keys(db, imap.id, [k for k in keys.values() if k])
            for uid, key in sorted(keys.items()):
                if key and key in known:
                    await repository.relocate(db, imap.id, key, uidvalidity, uid)
                    result.relocated += 1
                else:
                    unknown.append(uid)
    log.info("inbox.sync.uidvalidity_changed", imap_id=imap.id, relocated=result.relocated)
    return sorted(unknown)


async def _fetch(session: ImapSession, uids: list[int], items: list[str]) -> dict[int, Any]:
    found: dict[int, Any] = await session.run(lambda c: c.fetch(uids, items), "fetch")
    return found


def _message_id_key(data: dict[bytes, Any]) -> str | None:
    raw = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER")), b"") or b""
    for line in bytes(raw).decode("utf-8", "replace").splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "message-id" and value.strip():
            return dedupe_key(value.strip(), b"")
    return None


async def _import_all(
    runtime: Runtime,
    session: ImapSession,
    imap: MailboxImap,
    mailbox: Mailbox,
    uidvalidity: int,
    chunks: list[list[int]],
    result: SyncResult,
) -> None:
    """A pipeline: while chunk n is stored, chunk n+1 is parsed and chunk n+2 fetched.

    Parsing is CPU work for a thread; storing waits mostly on the database; fetching on the
    server, so the three overlap. Chunks are stored strictly in order, each with its progress.
    """
    fetched: asyncio.Queue[list[FetchedMessage] | None] = asyncio.Queue(maxsize=2)
    parsed: asyncio.Queue[list[tuple[FetchedMessage, Parsed]] | None] = asyncio.Queue(maxsize=2)
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(_fetch_stage(session, chunks, fetched))
            group.create_task(_parse_stage(parse_pool(runtime), fetched, parsed, mailbox.email))
            for chunk in chunks:
                items = await parsed.get()
                assert items is not None  # one parsed batch per chunk, then the end marker
                await _store_chunk(runtime, imap, mailbox, uidvalidity, chunk, items, result)
    except ExceptionGroup as failed:  # a stage failed and the others were stopped
        raise failed.exceptions[0] from None  # as itself: a MailError is recorded on the mailbox


async def _fetch_stage(
    session: ImapSession,
    chunks: list[list[int]],
    out: asyncio.Queue[list[FetchedMessage] | None],
) -> None:
    for chunk in chunks:
        await out.put(await session.fetch_messages(chunk))
    await out.put(None)


async def _parse_stage(
    pool: ParsePool,
    source: asyncio.Queue[list[FetchedMessage] | None],
    out: asyncio.Queue[list[tuple[FetchedMessage, Parsed]] | None],
    mailbox_email: str,
) -> None:
    while (batch := await source.get()) is not None:
        batch.sort(key=lambda message: message.uid)
        parsed = await pool.parse([message.body for message in batch], mailbox_email)
        await out.put(list(zip(batch, parsed, strict=True)))
    await out.put(None)


async def _store_chunk(
    runtime: Runtime,
    imap: MailboxImap,
    mailbox: Mailbox,
    uidvalidity: int,
    uids: list[int],
    parsed: list[tuple[FetchedMessage, Parsed]],
    result: SyncResult,
) -> None:
    async with runtime.session() as db:
        rows = await _new_rows(db, imap, mailbox, uidvalidity, parsed)
        added = await repository.add_messages(db, rows)
        await _save_progress_in(db, imap.id, uidvalidity, max(uids))
    result.imported += added
    result.uids.extend(row["uid"] for row in rows)


async def _new_rows(
    db: Any,
    imap: MailboxImap,
    mailbox: Mailbox,
    uidvalidity: int,
    parsed: list[tuple[FetchedMessage, Parsed]],
) -> list[dict[str, Any]]:
    """One row per dedupe key; mail the mailbox already has is left to the INSERT to skip."""
    ids = [item.message_id for _, item in parsed if item.message_id]
    own = await repository.own_message_ids(db, imap.account_id, ids)
    rows: dict[str, dict[str, Any]] = {}
    for message, item in parsed:
        if item.dedupe_key in rows:
            continue
        if item.message_id in own:
            item = parse(message.body, mailbox_email=mailbox.email, own_message_ids=own)
        rows[item.dedupe_key] = _row(imap, uidvalidity, message, item)
    return list(rows.values())


def _row(
    imap: MailboxImap, uidvalidity: int, message: FetchedMessage, item: Parsed
) -> dict[str, Any]:
    """The ``inbox_message`` values (a plain dict: thousands are inserted per sync)."""
    return {
        "account_id": imap.account_id,
        "mailbox_id": imap.mailbox_id,
        "mailbox_imap_id": imap.id,
        "folder": "INBOX",
        "uidvalidity": uidvalidity,
        "uid": message.uid,
        "graph_id": None,
        "dedupe_key": item.dedupe_key,
        "message_id": item.message_id,
        "in_reply_to": item.in_reply_to,
        "references": item.references,
        "from_email": item.from_email,
        "from_name": item.from_name,
        "reply_to": item.reply_to,
        "to": item.to,
        "cc": item.cc,
        "subject": item.subject,
        "sent_at": item.sent_at,
        "received_at": received_or_now(message.internal_date),
        "body_html": item.body_html,
        "body_text": item.body_text,
        "is_read": "\\Seen" in message.flags,
        "classification": str(item.verdict.classification),
        "classification_rule": item.verdict.rule,
    }


async def _save_progress(runtime: Runtime, imap_id: int, uidvalidity: int, last_uid: int) -> None:
    async with runtime.session() as db:
        await _save_progress_in(db, imap_id, uidvalidity, last_uid)


async def _save_progress_in(db: Any, imap_id: int, uidvalidity: int, last_uid: int) -> None:
    await repository.save_sync_state(db, imap_id, uidvalidity=uidvalidity, last_uid=last_uid)


async def _record_success(runtime: Runtime, imap: MailboxImap) -> None:
    now = utcnow()
    next_at = now + timedelta(seconds=runtime.settings.inbox_poll_seconds)
    async with runtime.session() as db:
        await repository.save_sync_state(
            db, imap.id, synced_at=now, sync_error=None, sync_failures=0, next_sync_at=next_at
        )


async def _record_failure(runtime: Runtime, imap: MailboxImap, error: str) -> None:
    async with runtime.session() as db:
        current = await repository.imap_with_mailbox(db, imap.id)
        failures = (current[0].sync_failures if current else 0) + 1
        poll = timedelta(seconds=runtime.settings.inbox_poll_seconds)
        delay = min(poll * 2 ** min(failures, 10), MAX_BACKOFF)
        await repository.save_sync_state(
            db, imap.id, sync_error=error, sync_failures=failures, next_sync_at=utcnow() + delay
        )
