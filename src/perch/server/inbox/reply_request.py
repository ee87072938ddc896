"""Parsing the reply body by hand, so every problem gets the seed's exact sentence."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from perch.server.inbox.errors import (
    INVALID_BCC,
    INVALID_BODY,
    INVALID_CC,
    INVALID_TO,
    InvalidReply,
)
from perch.server.kit.emails import email_list


@dataclass(frozen=True)
class ReplyRequest:
    html: str
    mailbox_id: int | None
    to: list[str] | None
    cc: list[str]
    bcc: list[str] | None  # None: the mailbox's own BCC setting applies
    subject: str | None
    quote_original: bool


def _optional(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if value is not None and (
        not isinstance(value, kind) or isinstance(value, bool) != (kind is bool)
    ):
        raise InvalidReply(INVALID_BODY)
    return value


def _addresses(value: str | None, message: str) -> list[str] | None:
    if value is None or value.strip() == "":
        return None
    addresses = email_list(value)
    if addresses is None:
        raise InvalidReply(message)
    return addresses


def parse_reply(raw: bytes) -> ReplyRequest:
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidReply(INVALID_BODY) from e
    if not isinstance(data, dict) or not isinstance(data.get("body"), dict):
        raise InvalidReply(INVALID_BODY)
    html = data["body"].get("html")
    if not isinstance(html, str) or not html.strip():
        raise InvalidReply(INVALID_BODY)
    mailbox_id = _optional(data, "mailbox_id", int)
    subject = _optional(data, "subject", str)
    quote = _optional(data, "quote_original_message", bool)
    to = _addresses(_optional(data, "to", str), INVALID_TO)
    cc = _addresses(_optional(data, "cc", str), INVALID_CC) or []
    bcc = _addresses(_optional(data, "bcc", str), INVALID_BCC)
    return ReplyRequest(html, mailbox_id, to, cc, bcc, subject, bool(quote))
