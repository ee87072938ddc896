"""Connecting an account to its Google Workspace, and acting in it.

    connection = await connect(session, runtime, account_id, key, admin_email)
    workspace = await workspace_for(session, runtime, account_id)    # None: not connected
    await workspace.google.insert_user(workspace.credential, new_user)

Saving a connection obtains a token first, so a key without domain-wide delegation, an unknown
administrator or scopes not granted are refused with Google's reason. The key is stored
encrypted and decrypted only to sign token requests; tokens are cached per process
(``runtime.state``) until shortly before they expire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.errors import (
    Conflict,
    FieldIssue,
    InvalidFields,
    NotFound,
    ServiceUnavailable,
)
from perch.server.google import repository
from perch.server.google.schemas import GoogleConnectionRead
from perch.server.integrations.google import (
    DIRECTORY_SCOPES,
    DelegatedCredential,
    GoogleDirectory,
    GoogleUnavailable,
    InvalidServiceAccountKey,
    ServiceAccountKey,
    TokenCache,
    TokenRefused,
)
from perch.server.kit.timefmt import iso_local, utcnow
from perch.server.models.google_connection import GoogleConnection
from perch.server.runtime import Runtime

_EMAIL = re.compile(r"^[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_TOKENS = "google.tokens"


@dataclass(frozen=True)
class Workspace:
    """An account's Google Workspace: the Directory client and the credential to use."""

    google: GoogleDirectory
    credential: DelegatedCredential


def directory(runtime: Runtime) -> GoogleDirectory:
    """The Directory client over the process's HTTP client and token cache."""
    tokens: TokenCache = runtime.state.setdefault(_TOKENS, TokenCache())
    settings = runtime.settings
    return GoogleDirectory(
        runtime.http,
        token_url=settings.google_token_url,
        directory_url=settings.google_directory_url,
        tokens=tokens,
        max_retries=settings.http_max_retries,
    )


async def workspace_for(
    session: AsyncSession, runtime: Runtime, account_id: int
) -> Workspace | None:
    connection = await repository.for_account(session, account_id)
    if connection is None:
        return None
    key = ServiceAccountKey.parse(runtime.secrets.decrypt(connection.key_encrypted))
    return Workspace(directory(runtime), DelegatedCredential(key, connection.admin_email))


async def is_connected(session: AsyncSession, account_id: int) -> bool:
    return await repository.for_account(session, account_id) is not None


async def connect(
    session: AsyncSession,
    runtime: Runtime,
    account_id: int,
    key_value: dict[str, Any] | str,
    admin_email: str,
) -> GoogleConnectionRead:
    """Check that a token can be obtained, then save (or replace) the connection."""
    key = _parse_key(key_value)
    admin = _admin_email(admin_email)
    await _obtain_token(runtime, DelegatedCredential(key, admin))
    connection = await repository.for_account(session, account_id)
    if connection is None:
        connection = GoogleConnection(account_id=account_id)
    _fill(connection, key, admin, runtime.secrets.encrypt(key.as_json()))
    try:
        await repository.add(session, connection)
    except repository.Duplicate as e:
        raise Conflict(detail="The connection was saved by another request meanwhile") from e
    return read(connection)


async def get(session: AsyncSession, account_id: int) -> GoogleConnectionRead:
    connection = await repository.for_account(session, account_id)
    if connection is None:
        raise NotFound("No Google Workspace connection")
    return read(connection)


async def disconnect(session: AsyncSession, account_id: int) -> None:
    if not await repository.remove(session, account_id):
        raise NotFound("No Google Workspace connection")


def read(connection: GoogleConnection) -> GoogleConnectionRead:
    return GoogleConnectionRead(
        client_email=connection.client_email,
        client_id=connection.client_id,
        private_key_id=connection.private_key_id,
        project_id=connection.project_id,
        admin_email=connection.admin_email,
        scopes=list(DIRECTORY_SCOPES),
        created=iso_local(connection.created_at or utcnow()),
        updated=iso_local(connection.updated_at or utcnow()),
    )


def _parse_key(value: dict[str, Any] | str) -> ServiceAccountKey:
    try:
        return ServiceAccountKey.parse(value)
    except InvalidServiceAccountKey as e:
        issue = f"must be a Google service account JSON key: {e}"
        raise InvalidFields([FieldIssue("service_account_key", issue, None)]) from e


def _admin_email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidFields([FieldIssue("admin_email", "must be a valid email address", value)])
    return email


async def _obtain_token(runtime: Runtime, credential: DelegatedCredential) -> None:
    try:
        await directory(runtime).request_token(credential)
    except TokenRefused as e:
        field = "admin_email" if "email" in e.message.lower() else "service_account_key"
        value = credential.subject if field == "admin_email" else None
        issue = f"Google refused a token: {e.reason}: {e.message}"
        raise InvalidFields([FieldIssue(field, issue, value)]) from e
    except GoogleUnavailable as e:
        raise ServiceUnavailable(f"Google could not be reached: {e}") from e


def _fill(connection: GoogleConnection, key: ServiceAccountKey, admin: str, sealed: str) -> None:
    connection.client_email = key.client_email
    connection.client_id = key.client_id
    connection.private_key_id = key.private_key_id
    connection.project_id = key.project_id
    connection.admin_email = admin
    connection.key_encrypted = sealed
    connection.updated_at = utcnow()
