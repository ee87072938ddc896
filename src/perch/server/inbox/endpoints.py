"""``/rest/v2/inbox``: list replies across mailboxes, reply to one."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query, Request
from fastapi.responses import Response

from perch.server.dependencies import AccountDep, RuntimeDep, SessionDep
from perch.server.errors import PROBLEM
from perch.server.inbox import reply as reply_service
from perch.server.inbox import service
from perch.server.inbox.schemas import InboxPage, ReplyCreate
from perch.server.kit.cursors import CursorCodec
from perch.server.mailbox import schemas as mailbox_schemas
from perch.server.routing import dialect_router

router = dialect_router(PROBLEM, prefix="/rest/v2/inbox", tags=["inbox"])


@router.get(
    "/messages",
    summary="List inbox messages",
    response_model=InboxPage,
    response_model_by_alias=True,
)
async def list_messages(
    account: AccountDep,
    session: SessionDep,
    runtime: RuntimeDep,
    prospect_status: service.ProspectStatus | None = None,
    mailbox_ids: Annotated[
        str | None, Query(description="Comma-separated IMAP mailbox ids")
    ] = None,
    search_phrases: Annotated[
        list[str], Query(description="Up to 20 phrases of 3+ characters; repeat or comma-separate")
    ] = [],  # noqa: B006 (FastAPI copies defaults)
    read: bool | None = None,
    per_page: Annotated[int, Query(ge=1, le=50)] = 10,
    next_page_cursor: str | None = None,
    previous_page_cursor: str | None = None,
) -> InboxPage:
    query = service.ListQuery(
        prospect_status,
        mailbox_ids,
        search_phrases,
        read,
        per_page,
        next_page_cursor,
        previous_page_cursor,
    )
    codec = CursorCodec(runtime.secret_material, "inbox")
    return await service.list_messages(session, codec, account.id, query)


REPLY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": mailbox_schemas.request_schema(ReplyCreate)}},
    }
}


@router.post(
    "/messages/{id}/reply",
    summary="Reply to a message",
    status_code=200,
    response_class=Response,
    responses={
        200: {"description": "Message passed to SMTP for delivery", "content": {}},
        **PROBLEM.responses(400, 404),
    },
    openapi_extra=REPLY_BODY,
)
async def reply_to_message(
    id: int,
    request: Request,
    account: AccountDep,
    runtime: RuntimeDep,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=200, description="Retrying with the same key never sends twice"),
    ] = None,
) -> Response:
    await reply_service.reply(runtime, account.id, id, await request.body(), idempotency_key)
    return Response(status_code=200)
