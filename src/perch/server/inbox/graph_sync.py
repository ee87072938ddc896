"""Syncing a Microsoft 365 mailbox's inbox through Graph.

Messages of the inbox folder are read oldest-first from the last ``receivedDateTime`` seen
(``MailboxImap.graph_cursor``), page by page (``@odata.nextLink``). Each message becomes a row
once (the same dedupe key as IMAP: its ``internetMessageId``); the cursor moves with each page, in
the same transaction as the page's messages. Headers from ``internetMessageHeaders`` feed the same
classification rules as IMAP mail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from perch.server.inbox import mime, repository
from perch.server.inbox.classify import classify
from perch.server.inbox.compose import html_to_text
from perch.server.inbox.ingest import dedupe_key
from perch.server.inbox.sync import SyncResult
from perch.server.integrations.mailnet import MailError
from perch.server.integrations.microsoft import (
    AppCredential,
    GraphCall,
    MicrosoftError,
    MicrosoftRefused,
)
from perch.server.models import Mailbox, MailboxImap
from perch.server.models.microsoft_credential import MicrosoftCredential
from perch.server.runtime import Runtime

PAGE = 50
FIELDS = (
    "id,internetMessageId,subject,from,replyTo,toRecipients,ccRecipients,receivedDateTime,"
    "sentDateTime,isRead,body,internetMessageHeaders"
)
MAX_PAGES = 100  # per sync run; the rest comes next run


async def app_for(runtime: Runtime, mailbox: Mailbox) -> AppCredential:
    from perch.server.microsoft import service as microsoft_service

    async with runtime.session() as db:
        row = await db.get(MicrosoftCredential, mailbox.microsoft_credential_id)
    if row is None or not mailbox.graph_user_id:
        raise MailError("GRAPH_NOT_CONFIGURED", "auth", "the mailbox has no Graph credential")
    return microsoft_service.app_credential(runtime, row)


async def sync(runtime: Runtime, imap: MailboxImap, mailbox: Mailbox) -> SyncResult:
    from perch.server.microsoft import service as microsoft_service

    graph, app = microsoft_service.graph_for(runtime), await app_for(runtime, mailbox)
    user = str(mailbox.graph_user_id)
    call: GraphCall | None = _first_page(user, imap.graph_cursor)
    result, pages = SyncResult(), 0
    while call is not None and pages < MAX_PAGES:
        try:
            page = await graph.call(app, call)
        except MicrosoftError as e:
            raise _as_mail_error(e) from e
        await _store_page(runtime, imap, mailbox, page.get("value", []), result)
        call, pages = _next_page(runtime, user, page.get("@odata.nextLink")), pages + 1
    return result


def _first_page(user: str, cursor: str | None) -> GraphCall:
    params = {"$select": FIELDS, "$orderby": "receivedDateTime asc", "$top": str(PAGE)}
    if cursor:
        params["$filter"] = f"receivedDateTime ge {cursor}"
    return GraphCall("GET", f"/users/{user}/mailFolders/inbox/messages", params, mailbox=user)


def _next_page(runtime: Runtime, user: str, link: str | None) -> GraphCall | None:
    if not link:
        return None
    parts = urlsplit(link)
    root = urlsplit(runtime.settings.microsoft_graph_url).path.rstrip("/")
    path = parts.path.removeprefix(root)
    return GraphCall("GET", path, dict(parse_qsl(parts.query)), mailbox=user)


def _as_mail_error(error: MicrosoftError) -> MailError:
    status = getattr(error, "status", None)
    code = "GRAPH_REFUSED" if isinstance(error, MicrosoftRefused) else "GRAPH_UNAVAILABLE"
    return MailError(code, "graph", str(error), reply=f"{status} {error}" if status else str(error))


async def _store_page(
    runtime: Runtime,
    imap: MailboxImap,
    mailbox: Mailbox,
    items: list[dict[str, Any]],
    result: SyncResult,
) -> None:
    if not items:
        return
    keys = {_key(item): item for item in items}
    async with runtime.session() as db:
        known = await repository.known_keys(db, imap.id, list(keys))
        ids = [str(i.get("internetMessageId")) for i in items if i.get("internetMessageId")]
        own = await repository.own_message_ids(db, imap.account_id, ids)
        rows = [
            _row(imap, mailbox, key, item, own) for key, item in keys.items() if key not in known
        ]
        added = await repository.add_messages(db, rows)
        cursor = max(str(item.get("receivedDateTime") or "") for item in items)
        await repository.save_sync_state(db, imap.id, graph_cursor=cursor or imap.graph_cursor)
    imap.graph_cursor = cursor or imap.graph_cursor
    result.imported += added


def _key(item: dict[str, Any]) -> str:
    message_id = item.get("internetMessageId")
    return dedupe_key(str(message_id), b"") if message_id else f"graph:{item.get('id')}"[:128]


def _headers(item: dict[str, Any]) -> mime.Part:
    headers = [
        (str(header["name"]), str(header["value"]))
        for header in item.get("internetMessageHeaders") or []
        if header.get("name") and header.get("value") is not None
    ]
    names = {name.lower() for name, _ in headers}
    if "from" not in names and item.get("from"):
        headers.append(("From", _address(item["from"])))
    if "subject" not in names:
        headers.append(("Subject", str(item.get("subject") or "")))
    if "message-id" not in names and item.get("internetMessageId"):
        headers.append(("Message-ID", str(item["internetMessageId"])))
    return mime.Part.from_headers(headers)


def _address(value: dict[str, Any] | None) -> str:
    address = (value or {}).get("emailAddress") or {}
    return str(address.get("address") or "")


def _addresses(values: list[dict[str, Any]] | None) -> str | None:
    found = [_address(v) for v in values or [] if _address(v)]
    return ", ".join(found) or None


def _when(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _row(
    imap: MailboxImap, mailbox: Mailbox, key: str, item: dict[str, Any], own: set[str]
) -> dict[str, Any]:
    headers = _headers(item)
    verdict = classify(headers, mailbox_email=mailbox.email, own_message_ids=own)
    body = item.get("body") or {}
    html = str(body.get("content") or "") if body.get("contentType") == "html" else None
    text = html_to_text(html) if html is not None else str(body.get("content") or "")
    sender = (item.get("from") or {}).get("emailAddress") or {}
    return {
        "account_id": imap.account_id,
        "mailbox_id": imap.mailbox_id,
        "mailbox_imap_id": imap.id,
        "folder": "INBOX",
        "graph_id": str(item.get("id")),
        "dedupe_key": key,
        "message_id": item.get("internetMessageId"),
        "in_reply_to": headers.get("In-Reply-To"),
        "references": headers.get("References"),
        "from_email": (str(sender.get("address") or "").lower() or None),
        "from_name": sender.get("name") or None,
        "reply_to": _addresses(item.get("replyTo")),
        "to": _addresses(item.get("toRecipients")),
        "cc": _addresses(item.get("ccRecipients")),
        "subject": item.get("subject"),
        "sent_at": _when(item.get("sentDateTime")),
        "received_at": _when(item.get("receivedDateTime")) or datetime.now().astimezone(),
        "body_html": html,
        "body_text": text,
        "is_read": bool(item.get("isRead")),
        "classification": str(verdict.classification),
        "classification_rule": verdict.rule,
    }
