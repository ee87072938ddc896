"""The Microsoft domain under test: Perch pointed at the sandbox Microsoft fake (real HTTPS,
the sandbox CA) and the sandbox DNS, with the seed's mailboxes in the fake's directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from perch.sandbox import SandboxCA, SandboxDNS
from perch.sandbox.microsoft import SandboxMicrosoft
from perch.server.config import Settings
from tests.fixtures.app import ApiUser

TENANT = "8d7c6b5a-1111-2222-3333-444455556666"
CLIENT_ID = "0f1e2d3c-aaaa-bbbb-cccc-ddddeeeeffff"
SECRET = "Xy7Q~perch.sandbox-secret_0123456789"
FUTURE = "2099-11-28T23:59:59Z"
CREDENTIALS = "/rest/v2/mailboxes/microsoft/credentials"
BULK = "/rest/v2/mailboxes/microsoft/bulk"

# example.com publishes what Microsoft 365 needs; spf-only.example lacks DKIM; bare.example nothing.
ZONE = """
example.com. 300 IN TXT "v=spf1 include:spf.protection.outlook.com -all"
selector1._domainkey.example.com. 300 IN CNAME selector1-example-com._domainkey.contoso.onmicrosoft.test.
selector1-example-com._domainkey.contoso.onmicrosoft.test. 300 IN TXT "v=DKIM1; k=rsa; p=MIGfMA0GCSqG"
selector2._domainkey.example.com. 300 IN CNAME selector2-example-com._domainkey.contoso.onmicrosoft.test.
selector2-example-com._domainkey.contoso.onmicrosoft.test. 300 IN TXT "v=DKIM1; k=rsa; p=MIGfMA0GCSqH"
spf-only.example. 300 IN TXT "v=spf1 include:_spf.spf-only.example ~all"
_spf.spf-only.example. 300 IN TXT "v=spf1 include:spf.protection.outlook.com -all"
bare.example. 300 IN TXT "v=spf1 mx -all"
"""


@pytest.fixture
async def microsoft(sandbox_ca: SandboxCA) -> AsyncIterator[SandboxMicrosoft]:
    fake = SandboxMicrosoft(sandbox_ca)
    fake.add_tenant(TENANT, CLIENT_ID, SECRET)
    fake.add_user("jim@example.com", display_name="Jim Halpert")
    fake.add_user("michael.scott@example.com", proxy_addresses=["michael@example.com"])
    async with fake:
        yield fake


@pytest.fixture
def dns(dns_server: SandboxDNS) -> SandboxDNS:
    dns_server.set_zone(ZONE)
    return dns_server


@pytest.fixture
def settings(
    settings: Settings, microsoft: SandboxMicrosoft, dns: SandboxDNS, ca_bundle: Path
) -> Settings:
    return settings.model_copy(
        update={
            "microsoft_login_url": microsoft.url,
            "microsoft_graph_url": microsoft.graph_url,
            "tls_ca_file": ca_bundle,
            "dns_nameservers": [dns.nameserver],
            "http_max_retries": 2,
        }
    )


def credential_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "secret_expires_at": FUTURE,
        "name": "Contoso mail app",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def create_credential(user: ApiUser, **overrides: Any) -> dict[str, Any]:
    response = await user.client.post(CREDENTIALS, json=credential_body(**overrides))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
async def credential(user: ApiUser) -> dict[str, Any]:
    return await create_credential(user)


async def bulk(user: ApiUser, body: Any) -> httpx.Response:
    return await user.client.post(BULK, json=body)
