"""``/rest/v2/domains``: domains, their mailboxes, the owner, orders, profile pictures, deletion;
and ``/media/profile-pictures/{file}``, where the pictures are served (no key needed).

Errors: 422 as ``{type, message, code, request_id, fields[]}``; 400/401/404/500/503 as
``{title, status, details, timestamp}`` (ISO-8601, Z).
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Path, Response
from fastapi.routing import APIRoute

from perch.server.dependencies import AccountDep, RuntimeDep, SessionDep
from perch.server.domain import deletion, ordering, owner, picture, service
from perch.server.domain.schemas import (
    DomainMailboxesRead,
    DomainMailboxRead,
    DomainOrder,
    DomainRead,
    DomainsRead,
    MailboxesOrder,
    OwnerRead,
    OwnerWrite,
    ProfilePictureUpdate,
    ProvidersRead,
    SuccessRead,
)
from perch.server.errors import FIELDS, PROBLEM
from perch.server.routing import dialect_router

router = dialect_router(FIELDS, prefix="/rest/v2/domains", tags=["domains"])
DomainName = Path(description="Domain name (any case)", examples=["piedpiper.com"])
MailboxEmail = Path(description="Mailbox address, URL-encoded", examples=["richard@piedpiper.com"])
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "Accepted for processing", "content": {}}
}


@router.get("/providers", summary="Providers this Perch serves")
async def providers(account: AccountDep, runtime: RuntimeDep) -> ProvidersRead:
    return service.providers(runtime.settings)


@router.get("/owner", summary="The domain owner (all values null until saved)")
async def get_owner(account: AccountDep, session: SessionDep) -> OwnerRead:
    return await owner.get(session, account.id)


@router.post(
    "/owner", summary="Create or replace the domain owner", responses=FIELDS.responses(409)
)
async def replace_owner(body: OwnerWrite, account: AccountDep, session: SessionDep) -> OwnerRead:
    return await owner.replace(session, account.id, body)


@router.post(
    "/order",
    status_code=202,
    summary="Order domains (verified Workspace domains) and their mailboxes",
    responses={**ACCEPTED, **FIELDS.responses(503)},
)
async def order_domains(
    body: DomainOrder, account: AccountDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    await ordering.order_domains(session, runtime, account.id, body)
    return Response(status_code=202)


@router.post(
    "/mailboxes/order",
    status_code=202,
    summary="Order mailboxes on existing domains",
    responses={**ACCEPTED, **FIELDS.responses(503)},
)
async def order_mailboxes(
    body: MailboxesOrder, account: AccountDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    await ordering.order_mailboxes(session, runtime, account.id, body)
    return Response(status_code=202)


@router.get("", summary="The account's domains")
async def list_domains(account: AccountDep, session: SessionDep) -> DomainsRead:
    return await service.list_domains(session, account.id)


@router.get("/{domain_name}", summary="One domain", responses=FIELDS.responses(404))
async def get_domain(
    account: AccountDep, session: SessionDep, domain_name: str = DomainName
) -> DomainRead:
    return await service.get_domain(session, account.id, domain_name)


@router.get(
    "/{domain_name}/mailboxes",
    summary="The domain's mailboxes",
    responses=FIELDS.responses(404),
)
async def list_mailboxes(
    account: AccountDep, session: SessionDep, domain_name: str = DomainName
) -> DomainMailboxesRead:
    return await service.list_mailboxes(session, account.id, domain_name)


@router.get(
    "/{domain_name}/mailboxes/{mailbox_email}",
    summary="One mailbox (passwords are never returned)",
    responses=FIELDS.responses(404),
)
async def get_mailbox(
    account: AccountDep,
    session: SessionDep,
    runtime: RuntimeDep,
    domain_name: str = DomainName,
    mailbox_email: str = MailboxEmail,
) -> DomainMailboxRead:
    return await service.get_mailbox(
        session, runtime.settings, account.id, domain_name, mailbox_email
    )


@router.patch(
    "/{domain_name}/mailboxes/{mailbox_email}/profile_picture",
    summary="Update mailbox profile picture (Google mailboxes)",
    responses=FIELDS.responses(503),
)
async def update_profile_picture(
    body: ProfilePictureUpdate,
    account: AccountDep,
    session: SessionDep,
    runtime: RuntimeDep,
    domain_name: str = DomainName,
    mailbox_email: str = MailboxEmail,
) -> SuccessRead:
    path = (domain_name, mailbox_email)
    await picture.update(session, runtime, account.id, path, body.avatar)
    return SuccessRead(success=True)


@router.delete(
    "/{domain_name}/mailboxes/{mailbox_email}",
    status_code=202,
    summary="Delete domain mailbox (PAID mailboxes)",
    responses={**ACCEPTED, **FIELDS.responses(503)},
)
async def delete_mailbox(
    account: AccountDep,
    session: SessionDep,
    domain_name: str = DomainName,
    mailbox_email: str = MailboxEmail,
) -> Response:
    await deletion.request_deletion(session, account.id, domain_name, mailbox_email)
    return Response(status_code=202)


async def profile_picture_file(filename: str, session: SessionDep) -> Response:
    """A profile picture, by the unguessable name in the mailbox's ``profile_picture``."""
    found = await picture.served(session, filename)
    if found is None:
        raise HTTPException(status_code=404)
    data, mime_type = found
    headers = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
    return Response(data, media_type=mime_type, headers=headers)


# Outside the API prefix and without a key: added to the route list directly (the prefix and
# the dialect of ``router`` would otherwise apply). An unknown file is the app's usual 404.
router.routes.append(
    APIRoute(
        f"{service.PICTURE_PATH}/{{filename}}",
        profile_picture_file,
        methods=["GET"],
        summary="A mailbox profile picture",
        tags=["domains"],
        response_class=Response,
        responses={
            200: {"description": "The picture", "content": {"image/png": {}, "image/jpeg": {}}},
            **PROBLEM.responses(404),
        },
    )
)
