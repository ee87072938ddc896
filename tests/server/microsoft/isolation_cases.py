"""Another account's Microsoft credential answers exactly like one that does not exist."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from perch.server.models.microsoft_credential import MicrosoftCredential
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.fixtures.isolation import IsolationCase, Request

CREDENTIALS = "/rest/v2/mailboxes/microsoft/credentials"
BULK = "/rest/v2/mailboxes/microsoft/bulk"
MISSING_ID = 987_654_321


async def _stored_credential(owner: ApiUser, request: pytest.FixtureRequest) -> int:
    """A credential row of the owner's, stored directly (no Microsoft call needed)."""
    runtime: Runtime = request.getfixturevalue("runtime")
    async with runtime.session() as session:
        row = MicrosoftCredential(
            account_id=owner.account.id,
            name="owner's app",
            tenant_id="tenant.example",
            client_id="app",
            client_secret_encrypted=runtime.secrets.encrypt("secret"),
            secret_expires_at=datetime(2099, 1, 1, tzinfo=UTC),
        )
        session.add(row)
        await session.flush()
        return row.id


def _bulk_body(credential_id: int) -> dict[str, Any]:
    # An address that fails before Graph is asked: the owner gets a 207 without any network.
    return {"credential_id": credential_id, "accounts": [{"mailbox_email": "not an address"}]}


async def _patch(owner: ApiUser, request: pytest.FixtureRequest) -> Request:
    credential_id = await _stored_credential(owner, request)
    return Request("PATCH", f"{CREDENTIALS}/{credential_id}", {"name": "renamed"})


async def _delete(owner: ApiUser, request: pytest.FixtureRequest) -> Request:
    return Request("DELETE", f"{CREDENTIALS}/{await _stored_credential(owner, request)}")


async def _bulk(owner: ApiUser, request: pytest.FixtureRequest) -> Request:
    return Request("POST", BULK, _bulk_body(await _stored_credential(owner, request)))


CASES = [
    IsolationCase(
        "microsoft.credential.patch",
        _patch,
        lambda: Request("PATCH", f"{CREDENTIALS}/{MISSING_ID}", {"name": "renamed"}),
    ),
    IsolationCase(
        "microsoft.credential.delete",
        _delete,
        lambda: Request("DELETE", f"{CREDENTIALS}/{MISSING_ID}"),
    ),
    IsolationCase(
        "microsoft.bulk.credential_id",
        _bulk,
        lambda: Request("POST", BULK, _bulk_body(MISSING_ID)),
    ),
]
