"""Mail resources of the Microsoft fake: a user's inbox, replies and sending.

    fake.deliver("jim@example.com", sender="pam@example.org", subject="Re: hi", html="<p>x</p>")
    fake.sent("jim@example.com")     # messages the app sent from this mailbox

Graph resources served (all inside the mailbox, so they count towards its concurrency):

    GET   /users/{u}/mailFolders/inbox/messages   $filter=receivedDateTime ge X, $orderby
                                                   receivedDateTime asc, $top, paging by nextLink
    POST  /users/{u}/messages/{id}/createReply    a draft in the conversation, threading set
    PATCH /users/{u}/messages/{id}                isRead, subject, body, recipients
    POST  /users/{u}/messages/{id}/send           202; the draft moves to Sent Items
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from perch.sandbox.microsoft import responses as r

READ_ROLES = {"Mail.Read", "Mail.ReadWrite"}
WRITE_ROLES = {"Mail.ReadWrite"}
SEND_ROLES = {"Mail.Send"}
PATCHABLE = {"isRead", "subject", "body", "toRecipients", "ccRecipients", "bccRecipients"}
_FILTER = re.compile(r"^receivedDateTime ge (\S+)$")


def _recipient(address: str, name: str | None = None) -> dict[str, Any]:
    return {"emailAddress": {"address": address, "name": name or address}}


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Mailstore:
    """Every user's messages: by id, with the folder each one is in."""

    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    folder: dict[str, str] = field(default_factory=dict)  # message id -> inbox / drafts / sentitems
    owner: dict[str, str] = field(default_factory=dict)  # message id -> user id

    def add(self, user_id: str, folder: str, message: dict[str, Any]) -> dict[str, Any]:
        self.messages[message["id"]] = message
        self.folder[message["id"]], self.owner[message["id"]] = folder, user_id
        return message

    def in_folder(self, user_id: str, folder: str) -> list[dict[str, Any]]:
        return [
            m
            for i, m in self.messages.items()
            if self.owner[i] == user_id and self.folder[i] == folder
        ]

    def mine(self, user_id: str, message_id: str) -> dict[str, Any] | None:
        return self.messages.get(message_id) if self.owner.get(message_id) == user_id else None


def new_message(
    *,
    sender: str,
    to: str,
    subject: str,
    html: str,
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
    received: datetime | None = None,
    sender_name: str | None = None,
) -> dict[str, Any]:
    when = _stamp(received or datetime.now(UTC))
    internet_id = message_id or f"<{uuid.uuid4().hex}@fake.outlook.example>"
    header_list = [{"name": k, "value": v} for k, v in (headers or {}).items()]
    header_list += [
        {"name": "Message-ID", "value": internet_id},
        {"name": "Subject", "value": subject},
    ]
    return {
        "id": f"AAMk{uuid.uuid4().hex}",
        "internetMessageId": internet_id,
        "conversationId": f"AAQk{uuid.uuid4().hex}",
        "subject": subject,
        "from": _recipient(sender, sender_name),
        "replyTo": [],
        "toRecipients": [_recipient(to)],
        "ccRecipients": [],
        "bccRecipients": [],
        "receivedDateTime": when,
        "sentDateTime": when,
        "isRead": False,
        "isDraft": False,
        "body": {"contentType": "html", "content": html},
        "internetMessageHeaders": header_list,
    }


def _page(request: Request, items: list[dict[str, Any]]) -> dict[str, Any]:
    top, skip = (
        int(request.query_params.get("$top", "10")),
        int(request.query_params.get("$skip", "0")),
    )
    chunk = items[skip : skip + top]
    select = request.query_params.get("$select")
    fields = set(select.split(",")) | {"id"} if select else None
    body: dict[str, Any] = {
        "value": [{k: v for k, v in m.items() if fields is None or k in fields} for m in chunk]
    }
    if skip + top < len(items):
        query = dict(request.query_params) | {"$skip": str(skip + top)}
        body["@odata.nextLink"] = str(request.url.replace_query_params(**query))
    return body


def list_inbox(store: Mailstore, request: Request, user_id: str) -> Response:
    items = sorted(store.in_folder(user_id, "inbox"), key=lambda m: m["receivedDateTime"])
    wanted = request.query_params.get("$filter")
    if wanted:
        match = _FILTER.match(wanted.strip())
        if match is None:
            return r.json_error(
                400, "ErrorInvalidUrlQueryFilter", f"The filter {wanted!r} is not supported."
            )
        items = [m for m in items if m["receivedDateTime"] >= match.group(1)]
    return JSONResponse(_page(request, items))


def create_reply(store: Mailstore, user_id: str, user_address: str, message_id: str) -> Response:
    original = store.mine(user_id, message_id)
    if original is None:
        return r.json_error(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
    references = " ".join(
        [
            h["value"]
            for h in original["internetMessageHeaders"]
            if h["name"].lower() == "references"
        ]
        + [original["internetMessageId"]]
    )
    draft = new_message(
        sender=user_address,
        to=original["from"]["emailAddress"]["address"],
        subject=f"RE: {original['subject']}",
        html="",
        headers={"In-Reply-To": original["internetMessageId"], "References": references},
    )
    draft.update(isDraft=True, conversationId=original["conversationId"], isRead=True)
    store.add(user_id, "drafts", draft)
    return JSONResponse(draft, status_code=201)


def patch_message(
    store: Mailstore, user_id: str, message_id: str, changes: dict[str, Any]
) -> Response:
    message = store.mine(user_id, message_id)
    if message is None:
        return r.json_error(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
    unknown = set(changes) - PATCHABLE
    if unknown:
        return r.json_error(400, "ErrorInvalidProperty", f"Cannot update {sorted(unknown)}.")
    message.update(changes)
    return JSONResponse(message)


def send_draft(store: Mailstore, user_id: str, message_id: str) -> Response:
    draft = store.mine(user_id, message_id)
    if draft is None or not draft.get("isDraft"):
        return r.json_error(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
    draft.update(isDraft=False, sentDateTime=_stamp(datetime.now(UTC)))
    store.folder[message_id] = "sentitems"
    return Response(status_code=202)
