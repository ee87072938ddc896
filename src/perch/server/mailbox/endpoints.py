"""Mailbox endpoints: bulk manual connection (``{code, details[]}`` errors), the batch summary,
and the mailbox list / get / footer update (``{title, status, detail, timestamp}`` errors)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from perch.server.dependencies import AccountDep, RuntimeDep, SessionDep
from perch.server.errors import CODE_DETAILS, PROBLEM
from perch.server.mailbox import batch_service, records, service, validation
from perch.server.mailbox.schemas import (
    BatchCreated,
    BatchSummaryRead,
    MailboxBulkCreate,
    MailboxRecord,
    MailboxUpdate,
    request_schema,
)
from perch.server.routing import dialect_router

bulk = dialect_router(
    CODE_DETAILS, prefix="/rest/v2/mailboxes/manual_connection", tags=["mailboxes"]
)
mailboxes = dialect_router(PROBLEM, prefix="/rest/v2/mailboxes", tags=["mailboxes"])


async def bulk_body(request: Request) -> MailboxBulkCreate:
    """The body, validated by hand for Woodpecker's exact messages (not FastAPI's)."""
    return validation.parse_bulk(await request.body())


BULK_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": request_schema(MailboxBulkCreate)}},
    }
}


@bulk.post(
    "/bulk",
    status_code=202,
    summary="Connect SMTP/IMAP mailboxes in bulk",
    responses=CODE_DETAILS.responses(400, 404, 409),
    openapi_extra=BULK_BODY,
)
async def connect_in_bulk(
    account: AccountDep,
    session: SessionDep,
    runtime: RuntimeDep,
    body: Annotated[MailboxBulkCreate, Depends(bulk_body)],
) -> BatchCreated:
    batch = await batch_service.submit(session, account, body, runtime.secrets)
    return BatchCreated(batch_id=batch.id)


@mailboxes.get(
    "/manual_connection/bulk/{batch_id:int}/summary",
    summary="Progress and result of a bulk connection",
    responses=PROBLEM.responses(404),
)
async def batch_summary(
    batch_id: int, account: AccountDep, session: SessionDep
) -> BatchSummaryRead:
    return await batch_service.summary(session, account, batch_id)


@mailboxes.get("", summary="List mailboxes (an SMTP and an IMAP record each)")
async def list_mailboxes(
    account: AccountDep, session: SessionDep, runtime: RuntimeDep
) -> list[MailboxRecord]:
    graph = records.graph_host(runtime.settings.microsoft_graph_url)
    return await service.list_records(session, account, graph)


@mailboxes.get(
    "/{mailbox_id:int}", summary="One SMTP or IMAP record", responses=PROBLEM.responses(404)
)
async def get_mailbox(
    mailbox_id: int, account: AccountDep, session: SessionDep, runtime: RuntimeDep
) -> MailboxRecord:
    graph = records.graph_host(runtime.settings.microsoft_graph_url)
    return await service.get_record(session, account, mailbox_id, graph)


@mailboxes.patch(
    "/{mailbox_id:int}",
    summary="Update a mailbox's footer (SMTP id)",
    response_class=Response,
    responses={200: {"description": "Updated; no body", "content": {}}, **PROBLEM.responses(404)},
)
async def update_mailbox(
    mailbox_id: int, body: MailboxUpdate, account: AccountDep, session: SessionDep
) -> Response:
    await service.update_footer(session, account, mailbox_id, body.footer)
    return Response(status_code=200)


router = APIRouter()
router.include_router(bulk)
router.include_router(mailboxes)
