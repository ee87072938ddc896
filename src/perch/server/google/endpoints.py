"""``/rest/v2/domains/google/connection``: the account's Google Workspace (a Perch extension).

Errors use the domains API's dialects: 422 as ``{type, message, code, request_id, fields[]}``,
the rest as ``{title, status, details, timestamp}``.
"""

from __future__ import annotations

from fastapi import Response

from perch.server.dependencies import AccountDep, RuntimeDep, SessionDep
from perch.server.errors import FIELDS
from perch.server.google import service
from perch.server.google.schemas import GoogleConnectionRead, GoogleConnectionUpdate
from perch.server.routing import dialect_router

router = dialect_router(FIELDS, prefix="/rest/v2/domains/google", tags=["google workspace"])


@router.put(
    "/connection",
    summary="Connect (or replace) the account's Google Workspace",
    responses=FIELDS.responses(409, 503),
)
async def connect(
    body: GoogleConnectionUpdate, account: AccountDep, session: SessionDep, runtime: RuntimeDep
) -> GoogleConnectionRead:
    return await service.connect(
        session, runtime, account.id, body.service_account_key, body.admin_email
    )


@router.get(
    "/connection",
    summary="The account's Google Workspace connection (never the key)",
    responses=FIELDS.responses(404),
)
async def get_connection(account: AccountDep, session: SessionDep) -> GoogleConnectionRead:
    return await service.get(session, account.id)


@router.delete(
    "/connection",
    status_code=204,
    summary="Forget the account's Google Workspace connection",
    responses=FIELDS.responses(404),
)
async def disconnect(account: AccountDep, session: SessionDep) -> Response:
    await service.disconnect(session, account.id)
    return Response(status_code=204)
