"""Turning a fetched message into an ``InboxMessage`` row, at most once per mailbox.

The dedupe key is the Message-ID (lower-cased), or a digest of the raw message when it has
none, so re-fetching the same mail (a UIDVALIDITY change, a retried job, a crash mid-sync)
never imports it twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime

from perch.server.inbox import mime
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


def dedupe_key(message_id: str | None, raw: bytes) -> str:
    if message_id:
        return hashlib.sha256(message_id.strip().lower().encode()).hexdigest()
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:57]


def _decoded(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        return value


def _header(message: mime.Part, name: str) -> str | None:
    value = message.get(name)
    if value is None:
        return None
    text = _decoded(str(value)) if "=?" in str(value) else str(value)
    return " ".join(text.split()) or None


def _addresses(message: mime.Part, name: str) -> str | None:
    values = [str(v) for v in message.get_all(name)]
    found = [address for _, address in mime.addresses(values) if address]
    return ", ".join(found) or None


def _date(message: mime.Part) -> datetime | None:
    raw = _header(message, "Date")
    try:
        parsed = parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is not None and parsed.tzinfo is None:
        return None
    return parsed


def _text(part: mime.Part) -> str | None:
    payload = part.payload
    if payload is None:
        return None
    charset = part.charset or "utf-8"
    try:
        return payload.decode(charset, "replace")[:MAX_BODY]
    except LookupError:
        return payload.decode("utf-8", "replace")[:MAX_BODY]


def _bodies(message: mime.Part) -> tuple[str | None, str | None]:
    """The first inline text/html and text/plain parts."""
    html = text = None
    for part in message.walk():
        if part.is_multipart() or (part.get("Content-Disposition") or "").lower().startswith(
            "attachment"
        ):
            continue
        kind = part.content_type
        if kind == "text/html" and html is None:
            html = _text(part)
        elif kind == "text/plain" and text is None:
            text = _text(part)
    return html, text


def parse(raw: bytes, *, mailbox_email: str, own_message_ids: set[str]) -> Parsed:
    message = mime.read(raw)
    message_id = _header(message, "Message-ID")
    name, address = mime.address(message.get("From") or "")
    name = _decoded(name) if "=?" in name else name
    html, text = _bodies(message)
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


def parse_batch(bodies: list[bytes], mailbox_email: str) -> list[Parsed]:
    """One ``Parsed`` per message, in order (run by a parse worker process, see ``parse_pool``).
    Whether Perch itself sent a message is decided afterwards, with the ledger."""
    return [parse(body, mailbox_email=mailbox_email, own_message_ids=set()) for body in bodies]


def received_or_now(value: datetime | None) -> datetime:
    return value if value is not None and value.tzinfo is not None else utcnow()
