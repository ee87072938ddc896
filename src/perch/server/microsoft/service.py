"""Microsoft Graph credentials: list, create (checked against Microsoft), rename or rotate the
secret (checked again), delete (not while a mailbox uses it); and Graph access for others:

    graph = microsoft_service.graph_for(runtime)
    app = microsoft_service.app_credential(runtime, credential_row)
    folder = await graph.get_inbox(app, mailbox.graph_user_id)
"""

from __future__ import annotations

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.errors import BadRequest, Conflict, NotFound, ServiceUnavailable, Unprocessable
from perch.server.integrations.microsoft import (
    AppCredential,
    GraphShared,
    MicrosoftGraph,
    MicrosoftUnavailable,
    TokenRefused,
)
from perch.server.kit.timefmt import utcnow
from perch.server.microsoft import repository
from perch.server.microsoft.schemas import (
    CredentialCreate,
    CredentialList,
    CredentialRead,
    CredentialUpdate,
    parse_expiry,
)
from perch.server.models import Account
from perch.server.models.microsoft_credential import MicrosoftCredential
from perch.server.runtime import Runtime

log = structlog.get_logger(__name__)

_SHARED = "microsoft.graph"  # runtime.state key: token cache and concurrency limits


def graph_for(runtime: Runtime) -> MicrosoftGraph:
    """A Graph client over the runtime's HTTP client, sharing the process's token cache."""
    shared = runtime.state.setdefault(_SHARED, GraphShared())
    settings = runtime.settings
    return MicrosoftGraph(
        runtime.http,
        login_url=settings.microsoft_login_url,
        graph_url=settings.microsoft_graph_url,
        shared=shared,
        max_retries=settings.http_max_retries,
    )


def app_credential(runtime: Runtime, row: MicrosoftCredential) -> AppCredential:
    secret = runtime.secrets.decrypt(row.client_secret_encrypted)
    return AppCredential(row.tenant_id, row.client_id, secret)


def default_name(tenant_id: str) -> str:
    return f"Microsoft 365 ({tenant_id})"


async def list_credentials(session: AsyncSession, account: Account) -> CredentialList:
    rows = await repository.credentials(session, account.id)
    return CredentialList(credentials=[CredentialRead.of(row) for row in rows])


async def create_credential(
    session: AsyncSession, runtime: Runtime, account: Account, body: CredentialCreate
) -> CredentialRead:
    _refuse_problems(body.problems(utcnow()))
    assert body.tenant_id and body.client_id and body.client_secret and body.secret_expires_at
    tenant_id, client_id = body.tenant_id.strip(), body.client_id.strip()
    await verify(runtime, AppCredential(tenant_id, client_id, body.client_secret))
    row = MicrosoftCredential(
        account_id=account.id,
        name=(body.name or "").strip() or default_name(tenant_id),
        tenant_id=tenant_id,
        client_id=client_id,
        client_secret_encrypted=runtime.secrets.encrypt(body.client_secret),
        secret_expires_at=parse_expiry(body.secret_expires_at),
    )
    await repository.add(session, row)
    log.info("microsoft.credential.created", credential_id=row.id, tenant=tenant_id)
    return CredentialRead.of(row)


async def update_credential(
    session: AsyncSession,
    runtime: Runtime,
    account: Account,
    credential_id: int,
    body: CredentialUpdate,
) -> CredentialRead:
    _refuse_problems(body.problems(utcnow()))
    row = await _owned(session, account, credential_id)
    if body.name is not None:
        row.name = body.name.strip()
    if body.client_secret is not None and body.secret_expires_at is not None:
        await _rotate(runtime, row, body.client_secret, body.secret_expires_at)
    await session.flush()
    log.info("microsoft.credential.updated", credential_id=row.id, rotated=body.rotates)
    return CredentialRead.of(row)


async def _rotate(runtime: Runtime, row: MicrosoftCredential, secret: str, expires: str) -> None:
    old = app_credential(runtime, row)
    await verify(runtime, AppCredential(row.tenant_id, row.client_id, secret))
    row.client_secret_encrypted = runtime.secrets.encrypt(secret)
    row.secret_expires_at = parse_expiry(expires)
    runtime.state.setdefault(_SHARED, GraphShared()).tokens.invalidate(old.cache_key)


async def delete_credential(session: AsyncSession, account: Account, credential_id: int) -> None:
    row = await _owned(session, account, credential_id)
    in_use = await repository.mailboxes_using(session, row.id)
    if in_use:
        raise _in_use(credential_id, in_use)
    try:
        async with session.begin_nested():
            await repository.delete(session, row)
    except IntegrityError as e:  # a mailbox was connected with it meanwhile
        raise _in_use(credential_id, 1) from e
    log.info("microsoft.credential.deleted", credential_id=credential_id)


async def verify(runtime: Runtime, app: AppCredential) -> None:
    """Obtain a real token for ``app``, or refuse with Microsoft's reason."""
    try:
        await graph_for(runtime).request_token(app)
    except TokenRefused as e:
        raise Unprocessable(f"Microsoft refused the credential: {e.message}") from e
    except MicrosoftUnavailable as e:
        detail = "Microsoft sign-in could not be reached to check the credential; try again later"
        raise ServiceUnavailable(detail) from e


async def _owned(
    session: AsyncSession, account: Account, credential_id: int
) -> MicrosoftCredential:
    row = await repository.credential(session, account.id, credential_id)
    if row is None:
        raise NotFound()
    return row


def _refuse_problems(problems: list[str]) -> None:
    if problems:
        raise BadRequest("; ".join(problems))


def _in_use(credential_id: int, count: int) -> Conflict:
    noun = "mailbox uses" if count == 1 else "mailboxes use"
    detail = f"{count} connected {noun} credential {credential_id}; remove them first"
    return Conflict(detail=detail)
