"""PUT/GET/DELETE /rest/v2/domains/google/connection: the account's Google Workspace."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from perch.sandbox.google import GoogleWorkspace, ServiceAccount, make_service_account
from perch.server.models.google_connection import GoogleConnection
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.server.domain.helpers import ADMIN, assert_fields, assert_problem, connect

PATH = "/rest/v2/domains/google/connection"
SCOPES = [
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.domain.readonly",
]


async def test_connect_checks_a_token_and_never_returns_the_key(
    user: ApiUser, workspace: GoogleWorkspace, service_account: ServiceAccount, runtime: Runtime
) -> None:
    response = await connect(user.client, service_account)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "PRIVATE KEY" not in response.text and 'private_key"' not in response.text
    assert {k: body[k] for k in ("client_email", "client_id", "private_key_id", "admin_email")} == {
        "client_email": service_account.client_email,
        "client_id": service_account.client_id,
        "private_key_id": service_account.private_key_id,
        "admin_email": ADMIN,
    }
    assert body["scopes"] == SCOPES
    [token] = workspace.served("POST", "/token")
    assert (token.status, token.subject) == (200, ADMIN)

    fetched = await user.client.get(PATH)
    assert fetched.json() == body
    async with runtime.session() as session:
        row = (await session.execute(select(GoogleConnection))).scalar_one()
    assert "PRIVATE KEY" not in row.key_encrypted
    stored = json.loads(runtime.secrets.decrypt(row.key_encrypted))
    assert stored["private_key"] == service_account.private_key_pem()


async def test_the_key_may_be_sent_as_text(user: ApiUser, service_account: ServiceAccount) -> None:
    body = {"service_account_key": service_account.key_json(), "admin_email": "Admin@PiedPiper.com"}
    response = await user.client.put(PATH, json=body)
    assert response.status_code == 200
    assert response.json()["admin_email"] == ADMIN


async def test_replacing_the_connection(
    user: ApiUser, workspace: GoogleWorkspace, service_account: ServiceAccount
) -> None:
    await connect(user.client, service_account)
    second = workspace.add_service_account(account=make_service_account("second"))
    response = await connect(user.client, second)
    assert response.json()["client_email"] == second.client_email
    assert (await user.client.get(PATH)).json()["client_email"] == second.client_email


async def test_unknown_admin_is_refused_with_googles_reason(
    user: ApiUser, service_account: ServiceAccount
) -> None:
    body = {"service_account_key": service_account.key_info(), "admin_email": "gavin@hooli.xyz"}
    response = await user.client.put(PATH, json=body)
    assert_fields(
        response,
        (
            "admin_email",
            "Google refused a token: invalid_grant: Invalid email or User ID",
            "gavin@hooli.xyz",
        ),
    )
    assert_problem(await user.client.get(PATH), 404, "Not Found")


async def test_delegation_not_granted_is_refused(user: ApiUser, workspace: GoogleWorkspace) -> None:
    undelegated = workspace.add_service_account(scopes=None)
    response = await connect(user.client, undelegated)
    assert response.status_code == 422
    [field] = response.json()["fields"]
    assert field["field"] == "service_account_key" and field["value"] is None
    assert field["issue"].startswith(
        "Google refused a token: unauthorized_client: Client is unauthorized"
    )


async def test_a_key_google_does_not_know(user: ApiUser) -> None:
    response = await connect(user.client, make_service_account("stranger"))
    [field] = response.json()["fields"]
    assert (
        field["issue"] == "Google refused a token: invalid_grant: Invalid grant: account not found"
    )


@pytest.mark.parametrize(
    ("key", "issue"),
    [
        (
            "{not json",
            "must be a Google service account JSON key: must be the JSON key file's content",
        ),
        (
            {"type": "service_account"},
            "must be a Google service account JSON key: client_email is missing",
        ),
    ],
)
async def test_unusable_keys(user: ApiUser, key: object, issue: str) -> None:
    response = await user.client.put(PATH, json={"service_account_key": key, "admin_email": ADMIN})
    assert_fields(response, ("service_account_key", issue, None))


async def test_invalid_admin_email(user: ApiUser, service_account: ServiceAccount) -> None:
    body = {"service_account_key": service_account.key_info(), "admin_email": "admin"}
    assert_fields(
        await user.client.put(PATH, json=body),
        ("admin_email", "must be a valid email address", "admin"),
    )


async def test_google_down_is_503(
    user: ApiUser, workspace: GoogleWorkspace, service_account: ServiceAccount
) -> None:
    workspace.fail(503, retry_after=0, path="/token")
    details = assert_problem(
        await connect(user.client, service_account), 503, "Service Unavailable"
    )
    assert details.startswith("Google could not be reached")
    assert_problem(await user.client.get(PATH), 404, "Not Found")


async def test_disconnect(user: ApiUser, service_account: ServiceAccount) -> None:
    await connect(user.client, service_account)
    response = await user.client.delete(PATH)
    assert response.status_code == 204
    assert_problem(await user.client.get(PATH), 404, "Not Found")
    assert_problem(await user.client.delete(PATH), 404, "Not Found")


async def test_each_account_has_its_own(
    user: ApiUser, other_user: ApiUser, service_account: ServiceAccount
) -> None:
    await connect(user.client, service_account)
    assert_problem(await other_user.client.get(PATH), 404, "Not Found")
    assert_problem(await other_user.client.delete(PATH), 404, "Not Found")
    assert (await user.client.get(PATH)).status_code == 200
