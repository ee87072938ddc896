"""Inbox use cases: listing messages with filters and signed cursors."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.errors import BadRequest
from perch.server.inbox import repository
from perch.server.inbox.classify import Classification
from perch.server.inbox.repository import MessageFilter
from perch.server.inbox.schemas import (
    Address,
    InboxMessageRead,
    InboxPage,
    MessageBody,
    MessageClassification,
    MessageMailbox,
    Pagination,
)
from perch.server.kit.cursors import CursorCodec, InvalidCursor
from perch.server.kit.timefmt import iso_local
from perch.server.models import Mailbox
from perch.server.models.inbox_message import InboxMessage

MAX_PHRASES = 20
MIN_PHRASE = 3


class ProspectStatus(StrEnum):
    responded = "RESPONDED"
    autoreplied = "AUTOREPLIED"
    bounced = "BOUNCED"
    blacklisted = "BLACKLISTED"
    opt_out = "OPT_OUT"


STATUS_OF = {
    Classification.human_reply: ProspectStatus.responded,
    Classification.auto_reply: ProspectStatus.autoreplied,
    Classification.bounce: ProspectStatus.bounced,
}
# Perch keeps no blacklist or opt-out of its own: those statuses match nothing.
CLASSIFICATIONS_OF = {status: (str(kind),) for kind, status in STATUS_OF.items()}


@dataclass(frozen=True)
class ListQuery:
    prospect_status: ProspectStatus | None
    mailbox_ids: str | None
    search_phrases: list[str]
    read: bool | None
    per_page: int
    next_page_cursor: str | None
    previous_page_cursor: str | None


def _ints(raw: str | None, name: str) -> tuple[int, ...] | None:
    if raw is None:
        return None
    try:
        return tuple(sorted({int(part) for part in raw.split(",") if part.strip()}))
    except ValueError as e:
        raise BadRequest(f"Value of {name} is incorrect.") from e


def _phrases(raw: list[str]) -> tuple[str, ...]:
    phrases = [p.strip() for item in raw for p in item.split(",") if p.strip()]
    if len(phrases) > MAX_PHRASES:
        raise BadRequest(f"search_phrases accepts at most {MAX_PHRASES} phrases")
    if any(len(p) < MIN_PHRASE for p in phrases):
        raise BadRequest(f"Each of search_phrases must be at least {MIN_PHRASE} characters long")
    return tuple(dict.fromkeys(p.lower() for p in phrases))


def _filter(query: ListQuery) -> MessageFilter:
    if query.prospect_status is None:
        kinds = tuple(str(kind) for kind in STATUS_OF)
    else:
        kinds = CLASSIFICATIONS_OF.get(query.prospect_status, ())
    ids = _ints(query.mailbox_ids, "mailbox_ids")
    return MessageFilter(kinds, ids, _phrases(query.search_phrases), query.read)


def _fingerprint(filters: MessageFilter, per_page: int) -> dict[str, Any]:
    return {
        "f": [filters.classifications, filters.mailbox_imap_ids, filters.phrases, filters.read],
        "n": per_page,
    }


def _position(codec: CursorCodec, query: ListQuery, fingerprint: dict[str, Any]) -> dict[str, Any]:
    if query.next_page_cursor and query.previous_page_cursor:
        raise BadRequest("Use either next_page_cursor or previous_page_cursor, not both")
    name = "next_page_cursor" if query.next_page_cursor else "previous_page_cursor"
    cursor = query.next_page_cursor or query.previous_page_cursor
    if not cursor:
        return {}
    try:
        position = codec.decode(cursor, fingerprint)
        return {key: int(position[key]) for key in ("before", "after") if key in position}
    except (InvalidCursor, TypeError, ValueError) as e:
        raise BadRequest(f"Value of {name} is incorrect.") from e


async def list_messages(
    session: AsyncSession, codec: CursorCodec, account_id: int, query: ListQuery
) -> InboxPage:
    """Newest first. A next cursor leads to older messages, a previous cursor back to newer."""
    filters = _filter(query)
    fingerprint = _fingerprint(filters, query.per_page)
    position = _position(codec, query, fingerprint)
    before, after = position.get("before"), position.get("after")
    rows = await repository.page(
        session, account_id, filters, limit=query.per_page, before_id=before, after_id=after
    )
    more = len(rows) > query.per_page
    rows = rows[: query.per_page]
    if after is not None:
        rows.reverse()  # fetched oldest first; a page is newest first
    has_older = more if after is None else True
    has_newer = more if after is not None else before is not None

    def cursor(key: str, row_index: int) -> str:
        return codec.encode({key: rows[row_index][0].id}, fingerprint)

    return InboxPage(
        content=[to_read(message, mailbox) for message, mailbox in rows],
        pagination=Pagination(
            next_page_cursor=cursor("before", -1) if rows and has_older else None,
            previous_page_cursor=cursor("after", 0) if rows and has_newer else None,
        ),
    )


def to_read(message: InboxMessage, mailbox: Mailbox) -> InboxMessageRead:
    kind = Classification(message.classification)
    return InboxMessageRead(
        id=message.id,
        subject=message.subject,
        stamp=iso_local(message.received_at),
        body=MessageBody(html=message.body_html, text=message.body_text),
        sender=Address(email=message.from_email, name=message.from_name),
        reply_to=message.reply_to,
        to=message.to,
        cc=message.cc,
        message_id=message.message_id,
        in_reply_to=message.in_reply_to,
        read=message.is_read,
        mailbox=MessageMailbox(
            imap_id=message.mailbox_imap_id, smtp_id=message.mailbox_id, email=mailbox.email
        ),
        mailbox_ids=[message.mailbox_imap_id],
        classification=MessageClassification(
            type=str(kind),
            prospect_status=str(STATUS_OF.get(kind, "")),
            rule=message.classification_rule,
        ),
    )
