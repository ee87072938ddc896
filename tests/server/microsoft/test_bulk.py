"""POST /rest/v2/mailboxes/microsoft/bulk: the seed's examples, the batch codes, bad bodies."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from perch.sandbox.microsoft import SandboxMicrosoft
from perch.server.models.mailbox import Mailbox, MailboxImap
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.server.microsoft.conftest import BULK, bulk, create_credential

SEED_ACCOUNTS = [
    {"mailbox_email": "jim@example.com", "display_name": "Jimothy H"},
    {"mailbox_email": "michael@example.com", "display_name": "Michael Scarn"},
]
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def _seed_body(credential_id: int, accounts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "auth_type": "APP_ONLY",
        "credential_id": credential_id,
        "accounts": SEED_ACCOUNTS if accounts is None else accounts,
    }


def _shape(item: dict[str, Any]) -> dict[str, Any]:
    """Keys and JSON types, as the seed documents them."""
    return {key: type(value).__name__ for key, value in item.items()} | {
        "deliverability": (
            {k: type(v).__name__ for k, v in item["deliverability"].items()}
            if item["deliverability"] is not None
            else None
        )
    }


SEED_SUCCESS = {
    "success": True,
    "id": 444444,
    "email": "jim@example.com",
    "name": "Jimothy H",
    "deliverability": {"spf_correct": True, "dkim_correct": True},
    "error": None,
}
SEED_FAILURE = {
    "success": False,
    "id": None,
    "email": "michael@example.com",
    "name": "Michael Scarn",
    "deliverability": None,
    "error": "WRONG_ALIAS",
}


async def test_seed_request_all_connected_is_201_in_the_seed_shape(
    user: ApiUser, credential: dict[str, Any], microsoft: SandboxMicrosoft
) -> None:
    microsoft.add_user("michael@example.com", display_name="Michael Scott")
    response = await bulk(user, _seed_body(credential["credential_id"]))
    assert response.status_code == 201, response.text
    items = response.json()
    assert [_shape(item) for item in items] == [_shape(SEED_SUCCESS)] * 2
    assert items[0] == {**SEED_SUCCESS, "id": items[0]["id"]}
    assert items[1] == {
        **SEED_SUCCESS,
        "id": items[1]["id"],
        "email": "michael@example.com",
        "name": "Michael Scarn",
    }
    assert items[0]["id"] != items[1]["id"]


async def test_seed_207_example_with_a_proxy_only_alias(
    user: ApiUser, credential: dict[str, Any], runtime: Runtime
) -> None:
    response = await bulk(user, _seed_body(credential["credential_id"]))
    assert response.status_code == 207, response.text
    jim, michael = response.json()
    assert jim == {**SEED_SUCCESS, "id": jim["id"]}
    assert michael == SEED_FAILURE
    assert [_shape(jim), _shape(michael)] == [_shape(SEED_SUCCESS), _shape(SEED_FAILURE)]
    async with runtime.session() as session:
        emails = (await session.execute(select(Mailbox.email))).scalars().all()
    assert emails == ["jim@example.com"]


async def test_a_connected_mailbox_is_stored_as_a_graph_mailbox(
    user: ApiUser, credential: dict[str, Any], runtime: Runtime, microsoft: SandboxMicrosoft
) -> None:
    body = {
        "credential_id": credential["credential_id"],
        "accounts": [{"mailbox_email": "Jim@Example.com"}],
    }
    response = await bulk(user, body)
    assert response.status_code == 201
    [item] = response.json()
    assert (item["email"], item["name"]) == ("jim@example.com", "Jim Halpert")  # Graph's name
    async with runtime.session() as session:
        mailbox = (await session.execute(select(Mailbox))).scalar_one()
        imap = (await session.execute(select(MailboxImap))).scalar_one()
    jim = next(u for u in microsoft.users if u.user_principal_name == "jim@example.com")
    assert mailbox.id == item["id"]
    assert (mailbox.account_id, mailbox.email, mailbox.from_name) == (
        user.account.id,
        "jim@example.com",
        "Jim Halpert",
    )
    assert (mailbox.provider, mailbox.transport, mailbox.status) == (
        "MICROSOFT",
        "GRAPH",
        "CONNECTED",
    )
    assert (mailbox.microsoft_credential_id, mailbox.graph_user_id) == (
        credential["credential_id"],
        jim.id,
    )
    assert mailbox.smtp_password_encrypted is None and mailbox.smtp_server is None
    assert (imap.mailbox_id, imap.email, imap.account_id) == (
        mailbox.id,
        "jim@example.com",
        user.account.id,
    )
    assert imap.password_encrypted is None and imap.server is None


async def test_credential_id_may_be_omitted_with_exactly_one_valid_credential(
    user: ApiUser, credential: dict[str, Any], runtime: Runtime
) -> None:
    response = await bulk(user, {"accounts": [{"mailbox_email": "jim@example.com"}]})
    assert response.status_code == 201, response.text
    async with runtime.session() as session:
        mailbox = (await session.execute(select(Mailbox))).scalar_one()
    assert mailbox.microsoft_credential_id == credential["credential_id"]


async def test_an_expired_credential_does_not_count_as_valid(
    user: ApiUser, credential: dict[str, Any], runtime: Runtime
) -> None:
    await _expire(runtime, credential["credential_id"])
    await create_credential(user, name="second")
    response = await bulk(user, {"accounts": [{"mailbox_email": "jim@example.com"}]})
    assert response.status_code == 201, response.text


async def test_two_valid_credentials_need_a_credential_id(
    user: ApiUser, credential: dict[str, Any]
) -> None:
    await create_credential(user, name="second")
    response = await bulk(user, {"accounts": [{"mailbox_email": "jim@example.com"}]})
    assert (response.status_code, response.json()) == (422, {"message": "CREDENTIAL_ID_REQUIRED"})


async def _expire(runtime: Runtime, credential_id: int) -> None:
    from datetime import UTC, datetime

    from perch.server.models.microsoft_credential import MicrosoftCredential

    async with runtime.session() as session:
        row = await session.get(MicrosoftCredential, credential_id)
        assert row is not None
        row.secret_expires_at = datetime(2020, 1, 1, tzinfo=UTC)


def _one(credential_id: int | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"accounts": [{"mailbox_email": "jim@example.com"}], **extra}
    if credential_id is not None:
        body["credential_id"] = credential_id
    return body


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (lambda c: _one(987654), "INVALID_CREDENTIAL_ID"),
        (lambda c: _one(c, auth_type="DELEGATED"), "UNSUPPORTED_AUTH_TYPE"),
        (lambda c: _one(c, auth_type="app_only"), "UNSUPPORTED_AUTH_TYPE"),
        (lambda c: {"credential_id": c}, "NO_ACCOUNTS"),
        (lambda c: {"credential_id": c, "accounts": []}, "NO_ACCOUNTS"),
        (lambda c: {"credential_id": c, "accounts": None}, "NO_ACCOUNTS"),
        (
            lambda c: {
                "credential_id": c,
                "accounts": [{"mailbox_email": f"u{i}@example.com"} for i in range(201)],
            },
            "TOO_MANY_ACCOUNTS",
        ),
        (
            lambda c: {
                "credential_id": c,
                "accounts": [{"mailbox_email": "jim@example.com"}, {"display_name": "x"}],
            },
            "MAILBOX_EMAIL_REQUIRED",
        ),
        (
            lambda c: {"credential_id": c, "accounts": [{"mailbox_email": "  "}]},
            "MAILBOX_EMAIL_REQUIRED",
        ),
    ],
)
async def test_batch_codes(
    user: ApiUser, credential: dict[str, Any], microsoft: SandboxMicrosoft, body: Any, code: str
) -> None:
    response = await bulk(user, body(credential["credential_id"]))
    assert response.status_code == 422
    assert response.content == b'{"message":"' + code.encode() + b'"}'
    assert microsoft.graph_requests() == []


async def test_no_valid_credential(user: ApiUser, runtime: Runtime) -> None:
    response = await bulk(user, _one())
    assert (response.status_code, response.json()) == (422, {"message": "NO_VALID_CREDENTIAL"})
    created = await create_credential(user)
    await _expire(runtime, created["credential_id"])
    response = await bulk(user, _one())
    assert (response.status_code, response.json()) == (422, {"message": "NO_VALID_CREDENTIAL"})


async def test_credential_expired(
    user: ApiUser, credential: dict[str, Any], runtime: Runtime
) -> None:
    await _expire(runtime, credential["credential_id"])
    response = await bulk(user, _one(credential["credential_id"]))
    assert (response.status_code, response.json()) == (422, {"message": "CREDENTIAL_EXPIRED"})


async def test_credential_rejected_when_microsoft_refuses_it_now(
    user: ApiUser, credential: dict[str, Any], microsoft: SandboxMicrosoft
) -> None:
    microsoft.apps[0].secret = "rotated-in-entra"  # the stored secret was revoked
    response = await bulk(user, _one(credential["credential_id"]))
    assert (response.status_code, response.json()) == (422, {"message": "CREDENTIAL_REJECTED"})


async def test_another_accounts_credential_is_an_invalid_credential_id(
    user: ApiUser, other_user: ApiUser, credential: dict[str, Any], microsoft: SandboxMicrosoft
) -> None:
    stranger = await bulk(other_user, _one(credential["credential_id"]))
    nowhere = await bulk(other_user, _one(987654))
    assert stranger.status_code == nowhere.status_code == 422
    assert stranger.content == nowhere.content == b'{"message":"INVALID_CREDENTIAL_ID"}'
    omitted = await bulk(other_user, _one())  # the owner's credential is not "the only one"
    assert omitted.json() == {"message": "NO_VALID_CREDENTIAL"}
    assert microsoft.graph_requests() == []


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"not json",
        b"null",
        b"[]",
        b'"text"',
        b'{"accounts": "jim@example.com"}',
        b'{"accounts": ["jim@example.com"]}',
        b'{"credential_id": "abc", "accounts": [{"mailbox_email": "jim@example.com"}]}',
        b'{"accounts": [{"mailbox_email": 5}]}',
    ],
)
async def test_invalid_or_empty_json_is_400_without_a_body(
    user: ApiUser, credential: dict[str, Any], content: bytes
) -> None:
    response = await user.client.post(
        BULK, content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.content == b""


async def test_401_404_500_speak_the_problem_dialect(
    anonymous: httpx.AsyncClient, user: ApiUser
) -> None:
    unauthorized = await anonymous.post(BULK, json=_one(1))
    assert unauthorized.status_code == 401
    body = unauthorized.json()
    assert (body["title"], body["status"], body["detail"]) == (
        "Unauthorized",
        401,
        "Invalid api key",
    )
    assert TIMESTAMP.match(body["timestamp"])
    missing = await user.client.post(f"{BULK}/nowhere", json=_one(1))
    assert missing.status_code == 404
    body = missing.json()
    assert (body["title"], body["status"], body["detail"]) == (
        "Not Found",
        404,
        "Requested resource does not exist",
    )
