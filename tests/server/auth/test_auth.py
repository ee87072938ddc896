"""Who is calling: x-api-key (any case) or Basic with an empty user; 401 otherwise."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from perch.server.auth import service as auth_service
from perch.server.dependencies import AccountDep
from perch.server.errors import PROBLEM
from perch.server.routing import dialect_router, include
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser


@pytest.fixture
async def whoami(app: FastAPI) -> AsyncIterator[str]:
    router = dialect_router(PROBLEM, prefix="/t/auth")

    @router.get("/whoami")
    async def who(account: AccountDep) -> dict[str, str]:
        return {"account": account.name}

    include(app, router)
    yield "/t/auth/whoami"


async def test_key_in_x_api_key_of_any_case(
    user: ApiUser, anonymous: httpx.AsyncClient, whoami: str
) -> None:
    for header in ("x-api-key", "X-API-Key", "X-API-KEY"):
        response = await anonymous.get(whoami, headers={header: user.key})
        assert response.status_code == 200, header
        assert response.json() == {"account": "acme"}


async def test_key_as_basic_password_with_empty_user(
    user: ApiUser, anonymous: httpx.AsyncClient, whoami: str
) -> None:
    token = base64.b64encode(f":{user.key}".encode()).decode()
    response = await anonymous.get(whoami, headers={"Authorization": f"Basic {token}"})
    assert response.json() == {"account": "acme"}
    without_colon = base64.b64encode(user.key.encode()).decode()
    refused = await anonymous.get(whoami, headers={"Authorization": f"Basic {without_colon}"})
    assert refused.status_code == 401
    with_user = base64.b64encode(f"someone:{user.key}".encode()).decode()
    assert (
        await anonymous.get(whoami, headers={"Authorization": f"Basic {with_user}"})
    ).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-api-key": "perch_wrong"},
        {"x-api-key": ""},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Bearer x"},
    ],
)
async def test_missing_or_wrong_key_is_401(
    anonymous: httpx.AsyncClient, whoami: str, headers: dict[str, str]
) -> None:
    response = await anonymous.get(whoami, headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid api key"


async def test_revoked_key_is_401(user: ApiUser, runtime: Runtime, whoami: str) -> None:
    assert (await user.client.get(whoami)).status_code == 200
    async with runtime.session() as session:
        rows = await auth_service.list_keys(session, "acme")
        assert await auth_service.revoke_key(session, rows[0][0].id)
    assert (await user.client.get(whoami)).status_code == 401


async def test_each_key_sees_its_own_account(
    user: ApiUser, other_user: ApiUser, whoami: str
) -> None:
    assert (await user.client.get(whoami)).json() == {"account": "acme"}
    assert (await other_user.client.get(whoami)).json() == {"account": "globex"}


async def test_keys_are_stored_hashed(user: ApiUser, runtime: Runtime) -> None:
    async with runtime.session() as session:
        rows = await auth_service.list_keys(session, None)
    stored = rows[0][0]
    assert user.key not in (stored.key_hash, stored.prefix)
    assert len(stored.key_hash) == 64


async def test_bootstrap_only_on_an_empty_database(runtime: Runtime) -> None:
    async with runtime.session() as session:
        issued = await auth_service.bootstrap(session)
    assert issued is not None and issued.account.name == "default"
    async with runtime.session() as session:
        assert await auth_service.bootstrap(session) is None
        assert await auth_service.authenticate(session, issued.key) is not None
