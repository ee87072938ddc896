"""Shared pieces of the domain tests: the owner, images, orders through the API."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
from PIL import Image

from perch.sandbox.google import GoogleWorkspace, ServiceAccount
from tests.helpers import until

ADMIN = "admin@piedpiper.com"
DOMAIN = "piedpiper.com"
RICHARD = "richard@piedpiper.com"
OWNER: dict[str, Any] = {
    "email": "richard@piedpiper.com",
    "first_name": "Richard",
    "last_name": "Hendricks",
    "company_name": "Pied Piper",
    "address": "5230 Newell Road",
    "city": "Palo Alto",
    "state": "CA",
    "country": "US",
    "zip_code": "94303",
    "phone": "+1 650 555 0100",
    "configuration": {
        "default_domain_redirect_url": "https://piedpiper.com",
        "default_email_forward_address": "",
    },
}


def new_workspace() -> GoogleWorkspace:
    workspace = GoogleWorkspace()
    workspace.add_domain(DOMAIN)
    workspace.add_domain("hooli.xyz", verified=False)
    workspace.add_admin(ADMIN)
    return workspace


def image(fmt: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, fmt)
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def mailbox_path(domain: str = DOMAIN, email: str = RICHARD) -> str:
    return f"/rest/v2/domains/{domain}/mailboxes/{email.replace('@', '%40')}"


async def connect(client: httpx.AsyncClient, account: ServiceAccount) -> httpx.Response:
    body = {"service_account_key": account.key_info(), "admin_email": ADMIN}
    return await client.put("/rest/v2/domains/google/connection", json=body)


async def order(
    client: httpx.AsyncClient, *emails: str, domain: str = DOMAIN, provider: str = "GOOGLE"
) -> httpx.Response:
    mailboxes = [{"first_name": "Richard", "last_name": "Hendricks", "email": e} for e in emails]
    body = {"provider": provider, "domains": [domain], "mailboxes": mailboxes}
    return await client.post("/rest/v2/domains/order", json=body)


async def mailbox(client: httpx.AsyncClient, email: str = RICHARD) -> dict[str, Any]:
    domain = email.rpartition("@")[2]
    response = await client.get(mailbox_path(domain, email))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_status(client: httpx.AsyncClient, status: str, email: str = RICHARD) -> None:
    async def reached() -> bool:
        return (await mailbox(client, email))["status"] == status

    await until(reached, timeout=15)


async def paid_mailbox(client: httpx.AsyncClient, account: ServiceAccount, *emails: str) -> None:
    """Connected, owner saved, ``emails`` (default RICHARD) ordered and PAID."""
    emails = emails or (RICHARD,)
    assert (await connect(client, account)).status_code == 200
    assert (await client.post("/rest/v2/domains/owner", json=OWNER)).status_code == 200
    response = await order(client, *emails)
    assert response.status_code == 202, response.text
    for email in emails:
        await wait_status(client, "PAID", email)


def assert_fields(response: httpx.Response, *fields: tuple[str, str, str | None]) -> None:
    """A 422 of the domains API, exactly: the fields in order, request_id the response's id."""
    assert response.status_code == 422, response.text
    assert response.json() == {
        "type": "validation_error",
        "message": "Invalid field(s)",
        "code": "invalid_fields",
        "request_id": response.headers["x-request-id"],
        "fields": [{"field": f, "issue": i, "value": v} for f, i, v in fields],
    }


def assert_problem(response: httpx.Response, status: int, title: str) -> str:
    """A ``{title, status, details, timestamp}`` body (ISO-8601 Z); returns ``details``."""
    import re

    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"title", "status", "details", "timestamp"}
    assert (body["title"], body["status"]) == (title, status)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["timestamp"])
    details: str = body["details"]
    return details
