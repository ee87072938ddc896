"""Turning a fetched message into an ``InboxMessage`` row, at most once per mailbox.

The dedupe key is the Message-ID (lower-cased), or a digest of the raw message when it has
none, so re-fetching the same mail (a UIDVALIDITY change, a retried job, a crash mid-sync)
never imports it twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from perch.server.inbox.classify import Verdict, classify
from perch.server.inbox.compose import html_to_text
from perch.server.kit.timefmt import utcnow

MAX_BODY = 2_000_000  # characters kept per body part


@dataclass(frozen=True)
class Parsed:
    """Everything Perch keeps of a message, before it becomes a row."""

    dedupe_key: str
    message_id: str | None
    in_reply_to: str | None
    references: str | None
    from_email: str | None
    from_name: str | None
    reply_to: str | None
    to: str | None
    cc: str | None
    subject: str | None
    sent_at: datetime | None
    body_html: str | None
    body_text: str | None
    verdict: Verdict


def parse_message(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)


def dedupe_key(message_id: str | None, raw: bytes) -> str:
    if message_id:
        return hashlib.sha256(message_id.strip().lower().encode()).hexdigest()
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:57]


def _header(message: EmailMessage, name: str) -> str | None:
    try:
        value = message.get(name)
    except (ValueError, IndexError):  # a header the parser cannot make sense of
        return None
    return str(value).strip() if value is not None else None


def _addresses(message: EmailMessage, name: str) -> str | None:
    try:
        pairs = getaddresses([str(v) for v in message.get_all(name, [])])
    except (ValueError, IndexError):
        return None
    found = [address for _, address in pairs if address]
    return ", ".join(found) or None


def _date(message: EmailMessage) -> datetime | None:
    raw = _header(message, "Date")
    try:
        parsed = parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is not None and parsed.tzinfo is None:
        return None
    return parsed


def _part(message: EmailMessage, subtype: str) -> str | None:
    try:
        part = message.get_body(preferencelist=(subtype,))
        content = part.get_content() if part is not None else None
    except (KeyError, LookupError, ValueError, AssertionError):
        return None
    return content[:MAX_BODY] if isinstance(content, str) else None


def parse(raw: bytes, *, mailbox_email: str, own_message_ids: set[str]) -> Parsed:
    message = parse_message(raw)
    message_id = _header(message, "Message-ID")
    name, address = parseaddr(_header(message, "From") or "")
    html, text = _part(message, "html"), _part(message, "plain")
    return Parsed(
        dedupe_key=dedupe_key(message_id, raw),
        message_id=message_id,
        in_reply_to=_header(message, "In-Reply-To"),
        references=_header(message, "References"),
        from_email=address.lower() or None,
        from_name=name or None,
        reply_to=_addresses(message, "Reply-To"),
        to=_addresses(message, "To"),
        cc=_addresses(message, "Cc"),
        subject=_header(message, "Subject"),
        sent_at=_date(message),
        body_html=html,
        body_text=text if text is not None else (html_to_text(html) if html else None),
        verdict=classify(message, mailbox_email=mailbox_email, own_message_ids=own_message_ids),
    )


def received_or_now(value: datetime | None) -> datetime:
    return value if value is not None and value.tzinfo is not None else utcnow()
