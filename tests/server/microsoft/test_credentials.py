"""Microsoft Graph credentials: list, create (a real token first), rename, rotate, delete."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from perch.sandbox.microsoft import SandboxMicrosoft
from perch.server.models.microsoft_credential import MicrosoftCredential
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.server.microsoft.conftest import (
    CLIENT_ID,
    CREDENTIALS,
    SECRET,
    TENANT,
    bulk,
    create_credential,
    credential_body,
)

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def _problem(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"title", "status", "detail", "timestamp"}
    assert body["status"] == status
    assert TIMESTAMP.match(body["timestamp"])
    detail: str = body["detail"]
    return detail


async def test_create_checks_a_token_then_returns_the_credential(
    user: ApiUser, microsoft: SandboxMicrosoft
) -> None:
    response = await user.client.post(CREDENTIALS, json=credential_body())
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "credential_id": body["credential_id"],
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "secret_expires_at": "2099-11-28T23:59:59Z",
        "name": "Contoso mail app",
    }
    assert isinstance(body["credential_id"], int)
    [asked] = microsoft.token_requests()
    assert asked.path == f"/{TENANT}/oauth2/v2.0/token"


async def test_list(user: ApiUser) -> None:
    assert (await user.client.get(CREDENTIALS)).json() == {"credentials": []}
    first = await create_credential(user)
    second = await create_credential(user, name=None, secret_expires_at="2030-01-01T12:00:00+02:00")
    listed = await user.client.get(CREDENTIALS)
    assert listed.status_code == 200
    assert listed.json() == {"credentials": [first, second]}
    assert second["name"] == f"Microsoft 365 ({TENANT})"
    assert second["secret_expires_at"] == "2030-01-01T10:00:00Z"


async def test_the_secret_is_encrypted_and_never_returned(
    user: ApiUser, runtime: Runtime, microsoft: SandboxMicrosoft
) -> None:
    created = await create_credential(user)
    responses = [
        await user.client.get(CREDENTIALS),
        await user.client.patch(f"{CREDENTIALS}/{created['credential_id']}", json={"name": "x"}),
        await user.client.post(CREDENTIALS, json=credential_body(client_secret="wrong-" + SECRET)),
    ]
    for response in responses:
        assert SECRET not in response.text
        assert "client_secret" not in response.json()
    async with runtime.session() as session:
        row = (await session.execute(select(MicrosoftCredential))).scalar_one()
    assert SECRET not in row.client_secret_encrypted
    assert runtime.secrets.decrypt(row.client_secret_encrypted) == SECRET


async def test_a_wrong_secret_is_refused_with_microsofts_reason(user: ApiUser) -> None:
    response = await user.client.post(CREDENTIALS, json=credential_body(client_secret="wrong"))
    detail = _problem(response, 422)
    assert detail.startswith(
        "Microsoft refused the credential: AADSTS7000215: Invalid client secret"
    )
    assert (await user.client.get(CREDENTIALS)).json() == {"credentials": []}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"tenant_id": "unknown-tenant.test"}, "AADSTS90002"),
        ({"client_id": "not-registered"}, "AADSTS700016"),
    ],
)
async def test_unknown_tenant_or_app_is_refused(
    user: ApiUser, overrides: dict[str, str], reason: str
) -> None:
    response = await user.client.post(CREDENTIALS, json=credential_body(**overrides))
    assert reason in _problem(response, 422)


async def test_microsoft_unreachable_is_503_not_500(
    user: ApiUser, microsoft: SandboxMicrosoft
) -> None:
    microsoft.fail_next(3, 503, retry_after=0, where="token")
    response = await user.client.post(CREDENTIALS, json=credential_body())
    assert "could not be reached" in _problem(response, 503)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tenant_id": None}, "tenant_id is required"),
        ({"tenant_id": "../../evil"}, "tenant_id must be a directory"),
        ({"tenant_id": "a/b"}, "tenant_id must be a directory"),
        ({"client_id": " "}, "client_id is required"),
        ({"client_secret": None}, "client_secret is required"),
        ({"client_secret": "x" * 1025}, "client_secret must be at most 1024 characters"),
        ({"secret_expires_at": None}, "secret_expires_at is required"),
        ({"secret_expires_at": "next year"}, "secret_expires_at must be an ISO 8601"),
        ({"secret_expires_at": "2001-01-01T00:00:00Z"}, "secret_expires_at must be in the future"),
        ({"name": "  "}, "name must not be empty"),
        ({"name": "n" * 201}, "name must be at most 200 characters"),
    ],
)
async def test_create_validation(
    user: ApiUser, microsoft: SandboxMicrosoft, overrides: dict[str, Any], message: str
) -> None:
    response = await user.client.post(CREDENTIALS, json=credential_body(**overrides))
    assert message in _problem(response, 400)
    assert microsoft.token_requests() == []


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b'{"tenant_id": 5}'])
async def test_malformed_bodies_are_400_problems(user: ApiUser, content: bytes) -> None:
    response = await user.client.post(
        CREDENTIALS, content=content, headers={"content-type": "application/json"}
    )
    _problem(response, 400)


async def test_rename(
    user: ApiUser, credential: dict[str, Any], microsoft: SandboxMicrosoft
) -> None:
    url = f"{CREDENTIALS}/{credential['credential_id']}"
    response = await user.client.patch(url, json={"name": " Renamed "})
    assert response.status_code == 200
    assert response.json() == {**credential, "name": "Renamed"}
    assert len(microsoft.token_requests()) == 1  # only the creation's check


async def test_rotation_checks_the_new_secret(
    user: ApiUser, credential: dict[str, Any], microsoft: SandboxMicrosoft, runtime: Runtime
) -> None:
    url = f"{CREDENTIALS}/{credential['credential_id']}"
    microsoft.apps[0].secret = "rotated~secret"
    refused = await user.client.patch(
        url, json={"client_secret": "still-wrong", "secret_expires_at": "2031-01-01T00:00:00Z"}
    )
    assert "AADSTS7000215" in _problem(refused, 422)
    rotated = await user.client.patch(
        url, json={"client_secret": "rotated~secret", "secret_expires_at": "2031-01-01T00:00:00Z"}
    )
    assert rotated.status_code == 200
    assert rotated.json() == {**credential, "secret_expires_at": "2031-01-01T00:00:00Z"}
    assert "rotated~secret" not in rotated.text
    async with runtime.session() as session:
        row = (await session.execute(select(MicrosoftCredential))).scalar_one()
    assert runtime.secrets.decrypt(row.client_secret_encrypted) == "rotated~secret"
    asked = [q for q in microsoft.token_requests()]
    assert len(asked) == 3


async def test_the_rotated_secret_is_used_for_the_next_batch(
    user: ApiUser, credential: dict[str, Any], microsoft: SandboxMicrosoft
) -> None:
    body = {
        "credential_id": credential["credential_id"],
        "accounts": [{"mailbox_email": "jim@example.com"}],
    }
    url = f"{CREDENTIALS}/{credential['credential_id']}"
    microsoft.apps[0].secret = "rotated~secret"
    new = {"client_secret": "rotated~secret", "secret_expires_at": "2031-01-01T00:00:00Z"}
    assert (await user.client.patch(url, json=new)).status_code == 200
    response = await bulk(user, body)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Nothing to update"),
        ({"client_secret": "new"}, "must be sent together"),
        ({"secret_expires_at": "2031-01-01T00:00:00Z"}, "must be sent together"),
        ({"name": ""}, "name must not be empty"),
        ({"client_secret": "new", "secret_expires_at": "2001-01-01T00:00:00Z"}, "in the future"),
    ],
)
async def test_patch_validation(
    user: ApiUser, credential: dict[str, Any], body: dict[str, Any], message: str
) -> None:
    response = await user.client.patch(f"{CREDENTIALS}/{credential['credential_id']}", json=body)
    assert message in _problem(response, 400)


async def test_unknown_ids_are_404(user: ApiUser) -> None:
    for method in ("PATCH", "DELETE"):
        response = await user.client.request(method, f"{CREDENTIALS}/987654", json={"name": "x"})
        assert _problem(response, 404) == "Requested resource does not exist"
    response = await user.client.delete(f"{CREDENTIALS}/not-a-number")
    assert _problem(response, 400) == "Value of credential_id is incorrect."


async def test_delete(user: ApiUser, credential: dict[str, Any]) -> None:
    url = f"{CREDENTIALS}/{credential['credential_id']}"
    response = await user.client.delete(url)
    assert response.status_code == 204
    assert response.content == b""
    assert (await user.client.get(CREDENTIALS)).json() == {"credentials": []}
    assert (await user.client.delete(url)).status_code == 404


async def test_delete_is_refused_while_a_mailbox_uses_it(
    user: ApiUser, credential: dict[str, Any]
) -> None:
    body = {
        "credential_id": credential["credential_id"],
        "accounts": [{"mailbox_email": "jim@example.com"}],
    }
    assert (await bulk(user, body)).status_code == 201
    response = await user.client.delete(f"{CREDENTIALS}/{credential['credential_id']}")
    detail = _problem(response, 409)
    assert (
        detail
        == f"1 connected mailbox uses credential {credential['credential_id']}; remove them first"
    )
    assert (await user.client.get(CREDENTIALS)).json() == {"credentials": [credential]}


async def test_another_accounts_credential_does_not_exist(
    user: ApiUser, other_user: ApiUser, credential: dict[str, Any]
) -> None:
    url = f"{CREDENTIALS}/{credential['credential_id']}"
    for method, body in (("PATCH", {"name": "mine now"}), ("DELETE", None)):
        stranger = await other_user.client.request(method, url, json=body)
        nowhere = await other_user.client.request(method, f"{CREDENTIALS}/987654", json=body)
        assert (stranger.status_code, stranger.json()["detail"]) == (404, nowhere.json()["detail"])
    assert (await other_user.client.get(CREDENTIALS)).json() == {"credentials": []}
    assert (await user.client.get(CREDENTIALS)).json() == {"credentials": [credential]}


async def test_401_is_a_problem(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get(CREDENTIALS)
    assert _problem(response, 401) == "Invalid api key"
