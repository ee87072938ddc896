"""Each error dialect renders the seeds' bodies: field names, types, timestamp formats."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from perch.server import errors
from perch.server.dependencies import AccountDep
from perch.server.routing import dialect_router, include

LEGACY = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class Body(BaseModel):
    name: str
    count: int


def _routes(dialect: errors.Dialect, prefix: str) -> object:
    router = dialect_router(dialect, prefix=prefix)

    @router.post("/echo")
    async def echo(body: Body, account: AccountDep) -> dict[str, str]:
        return {"name": body.name}

    @router.get("/raise/{kind}")
    async def raise_(kind: str, account: AccountDep) -> None:
        raise {
            "fields": errors.InvalidFields(
                [errors.FieldIssue("avatar", "must be a valid Base64 encoded file")]
            ),
            "code": errors.RejectedWithCode("INVALID_CREDENTIAL_ID"),
            "validation": errors.ValidationFailure(["mailbox[0].smtp_password must not be blank"]),
            "conflict": errors.Conflict(["mailbox[0] a@b.c is already connected"]),
            "notfound": errors.NotFound(),
            "unavailable": errors.ServiceUnavailable("Google did not answer"),
            "bug": ZeroDivisionError("boom"),
        }[kind]

    return router


@pytest.fixture
async def client(app: FastAPI, user) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    for dialect, prefix in [
        (errors.PROBLEM, "/t/problem"),
        (errors.PROBLEM_ISO, "/t/iso"),
        (errors.CODE_DETAILS, "/t/code"),
        (errors.FIELDS, "/t/fields"),
        (errors.MESSAGE_CODE, "/t/message"),
    ]:
        include(app, _routes(dialect, prefix))  # type: ignore[arg-type]
    yield user.client


async def test_problem_dialect_401_matches_the_seed(anonymous: httpx.AsyncClient, client) -> None:  # type: ignore[no-untyped-def]
    response = await anonymous.get("/t/problem/raise/notfound")
    body = response.json()
    assert response.status_code == 401
    assert list(body) == ["title", "status", "detail", "timestamp"]
    assert body["title"] == "Unauthorized" and body["status"] == 401
    assert body["detail"] == "Invalid api key"
    assert LEGACY.match(body["timestamp"])


async def test_problem_500_hides_the_bug(client: httpx.AsyncClient) -> None:
    response = await client.get("/t/problem/raise/bug")
    assert response.status_code == 500
    body = response.json()
    assert body["title"] == "Internal server error"
    assert body["detail"] == "An unexpected error has occurred. Please try again later."
    assert "boom" not in response.text


async def test_problem_iso_dialect_uses_details_and_iso_z(client: httpx.AsyncClient) -> None:
    response = await client.get("/t/iso/raise/unavailable")
    body = response.json()
    assert response.status_code == 503
    assert list(body) == ["title", "status", "details", "timestamp"]
    assert body == {
        **body,
        "title": "Service Unavailable",
        "status": 503,
        "details": "Google did not answer",
    }
    assert ISO_Z.match(body["timestamp"])
    bug = (await client.get("/t/iso/raise/bug")).json()
    assert bug["title"] == "Internal Server Error"


async def test_code_details_dialect(client: httpx.AsyncClient) -> None:
    response = await client.get("/t/code/raise/validation")
    assert response.status_code == 400
    assert response.json() == {
        "code": "VALIDATION_FAILURE",
        "details": ["mailbox[0].smtp_password must not be blank"],
    }
    conflict = await client.get("/t/code/raise/conflict")
    assert conflict.status_code == 409
    assert conflict.json() == {
        "code": "Conflict",
        "details": ["mailbox[0] a@b.c is already connected"],
    }
    malformed = await client.post(
        "/t/code/echo", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "UNKNOWN"
    missing = await client.get("/t/code/raise/notfound")
    assert list(missing.json()) == ["title", "status", "detail", "timestamp"]


async def test_fields_dialect_carries_the_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/t/fields/raise/fields", headers={"X-Request-Id": "dc4faa0f-78bf-54e9-9d5d-ce9538f2eec5"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "type": "validation_error",
        "message": "Invalid field(s)",
        "code": "invalid_fields",
        "request_id": "dc4faa0f-78bf-54e9-9d5d-ce9538f2eec5",
        "fields": [
            {"field": "avatar", "issue": "must be a valid Base64 encoded file", "value": None}
        ],
    }
    assert response.headers["x-request-id"] == "dc4faa0f-78bf-54e9-9d5d-ce9538f2eec5"


async def test_fields_dialect_turns_schema_errors_into_fields(client: httpx.AsyncClient) -> None:
    response = await client.post("/t/fields/echo", json={"count": "many"})
    assert response.status_code == 422
    fields = {f["field"]: f for f in response.json()["fields"]}
    assert fields["name"]["value"] is None
    assert fields["count"]["value"] == "many"
    malformed = await client.post(
        "/t/fields/echo", content=b"[", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert list(malformed.json()) == ["title", "status", "details", "timestamp"]


async def test_message_code_dialect(client: httpx.AsyncClient) -> None:
    response = await client.get("/t/message/raise/code")
    assert response.status_code == 422
    assert response.json() == {"message": "INVALID_CREDENTIAL_ID"}
    empty = await client.post(
        "/t/message/echo", content=b"", headers={"content-type": "application/json"}
    )
    assert empty.status_code == 400
    assert empty.content == b""
    garbage = await client.post(
        "/t/message/echo", content=b"{{", headers={"content-type": "application/json"}
    )
    assert garbage.status_code == 400 and garbage.content == b""


async def test_unknown_paths_answer_in_the_nearest_routers_dialect(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/t/iso/nothing/here")
    assert response.status_code == 404
    assert "details" in response.json()
    plain = await client.get("/rest/v2/definitely/not/here")
    assert plain.json()["detail"] == "Requested resource does not exist"


async def test_every_response_has_a_request_id(client: httpx.AsyncClient) -> None:
    ok = await client.post("/t/problem/echo", json={"name": "x", "count": 1})
    assert ok.status_code == 200
    assert re.match(r"^[0-9a-f-]{36}$", ok.headers["x-request-id"])
    bad_id = await client.get("/healthz", headers={"X-Request-Id": "<script>"})
    assert bad_id.headers["x-request-id"] != "<script>"
