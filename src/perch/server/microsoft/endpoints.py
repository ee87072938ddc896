"""Microsoft Graph credentials (problem dialect) and the Microsoft bulk connection (seed 002,
message-code dialect: 422 ``{"message": CODE}``, 400 without a body)."""

from __future__ import annotations

from fastapi import Response
from fastapi.responses import JSONResponse

from perch.server.dependencies import AccountDep, RuntimeDep, SessionDep
from perch.server.errors import MESSAGE_CODE, PROBLEM
from perch.server.microsoft import bulk
from perch.server.microsoft import service as microsoft_service
from perch.server.microsoft.schemas import (
    BulkCreate,
    BulkResult,
    CredentialCreate,
    CredentialList,
    CredentialRead,
    CredentialUpdate,
)
from perch.server.routing import dialect_router

router = dialect_router(PROBLEM, prefix="/rest/v2/mailboxes/microsoft", tags=["microsoft"])
bulk_router = dialect_router(MESSAGE_CODE, tags=["microsoft"])


@router.get("/credentials", response_model=CredentialList)
async def list_credentials(account: AccountDep, session: SessionDep) -> CredentialList:
    return await microsoft_service.list_credentials(session, account)


@router.post(
    "/credentials",
    status_code=201,
    response_model=CredentialRead,
    responses=PROBLEM.responses(422, 503),
)
async def create_credential(
    body: CredentialCreate, account: AccountDep, session: SessionDep, runtime: RuntimeDep
) -> CredentialRead:
    return await microsoft_service.create_credential(session, runtime, account, body)


@router.patch(
    "/credentials/{credential_id}",
    response_model=CredentialRead,
    responses=PROBLEM.responses(404, 422, 503),
)
async def update_credential(
    credential_id: int,
    body: CredentialUpdate,
    account: AccountDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> CredentialRead:
    return await microsoft_service.update_credential(session, runtime, account, credential_id, body)


@router.delete(
    "/credentials/{credential_id}",
    status_code=204,
    response_class=Response,
    responses=PROBLEM.responses(404, 409),
)
async def delete_credential(credential_id: int, account: AccountDep, session: SessionDep) -> None:
    await microsoft_service.delete_credential(session, account, credential_id)


@bulk_router.post(
    "/bulk",
    status_code=201,
    response_model=list[BulkResult],
    responses={
        207: {"model": list[BulkResult], "description": "Some mailboxes were not connected"},
        **MESSAGE_CODE.responses(404, 422),
    },
)
async def connect_bulk(
    body: BulkCreate, account: AccountDep, session: SessionDep, runtime: RuntimeDep
) -> JSONResponse:
    outcome = await bulk.connect(session, runtime, account, body)
    body_json = [result.model_dump(mode="json") for result in outcome.results]
    return JSONResponse(body_json, status_code=outcome.status_code)


router.include_router(bulk_router)
