"""Known secrets written through the API appear nowhere: not in the database (file or rows),
not in the logs, not in any response."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import structlog
from sqlalchemy import select

from perch.sandbox import SandboxCA, SandboxIMAP, SandboxSMTP
from perch.sandbox.google import GoogleWorkspace
from perch.sandbox.microsoft import SandboxMicrosoft
from perch.server.config import Settings
from perch.server.kit.logging import configure_logging
from perch.server.models import Base
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.helpers import until
from tests.server.domain.helpers import ADMIN, new_workspace

LOGIN = "canary@example.com"
SMTP_PASSWORD = "smtp-Canary-7f3a9c"
IMAP_PASSWORD = "imap-Canary-2b8e41"
GRAPH_SECRET = "graph~Canary-5d1c77"
TENANT, CLIENT_ID = "11111111-2222-3333-4444-555555555555", "66666666-7777-8888-9999-000000000000"


@pytest.fixture
def workspace(sandbox_ca: SandboxCA) -> AsyncIterator[GoogleWorkspace]:
    workspace = new_workspace()
    with workspace.serve(sandbox_ca):
        yield workspace  # type: ignore[misc]


@pytest.fixture
async def microsoft(sandbox_ca: SandboxCA) -> AsyncIterator[SandboxMicrosoft]:
    fake = SandboxMicrosoft(sandbox_ca)
    fake.add_tenant(TENANT, CLIENT_ID, GRAPH_SECRET)
    async with fake:
        yield fake


@pytest.fixture
async def peers(sandbox_ca: SandboxCA) -> AsyncIterator[tuple[SandboxSMTP, SandboxIMAP]]:
    async with (
        SandboxSMTP(sandbox_ca, {LOGIN: SMTP_PASSWORD}) as smtp,
        SandboxIMAP(sandbox_ca, {LOGIN: IMAP_PASSWORD}) as imap,
    ):
        yield smtp, imap


@pytest.fixture
def debug_logs() -> Iterator[None]:
    """Perch's real logging at DEBUG for this test only (captured by capfd), then the defaults."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("DEBUG")
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def settings(
    settings: Settings, ca_bundle: Path, workspace: GoogleWorkspace, microsoft: SandboxMicrosoft
) -> Settings:
    return settings.model_copy(
        update={
            "allowed_networks": [ipaddress.ip_network("127.0.0.0/8")],
            "tls_ca_file": ca_bundle,
            "microsoft_login_url": microsoft.url,
            "microsoft_graph_url": microsoft.graph_url,
            "google_token_url": workspace.token_url,
            "google_directory_url": workspace.directory_url,
        }
    )


async def test_secrets_never_leave_in_clear(
    user: ApiUser,
    runtime: Runtime,
    settings: Settings,
    peers: tuple[SandboxSMTP, SandboxIMAP],
    workspace: GoogleWorkspace,
    capfd: pytest.CaptureFixture[str],
    debug_logs: None,
) -> None:
    smtp, imap = peers
    service_account = workspace.add_service_account()
    private_key = service_account.private_key_pem().splitlines()[5]  # a line of the key itself
    canaries = [SMTP_PASSWORD, IMAP_PASSWORD, GRAPH_SECRET, private_key]
    responses: list[httpx.Response] = []

    async def call(method: str, path: str, **kwargs: object) -> httpx.Response:
        response = await user.client.request(method, path, **kwargs)  # type: ignore[arg-type]
        responses.append(response)
        return response

    body = {
        "mailboxes": [
            {
                "smtp_email": LOGIN,
                "smtp_password": SMTP_PASSWORD,
                "smtp_server": "localhost",
                "smtp_port": smtp.starttls_port,
                "imap_email": LOGIN,
                "imap_password": IMAP_PASSWORD,
                "imap_server": "localhost",
                "imap_port": imap.starttls_port,
            }
        ]
    }
    batch = (await call("POST", "/rest/v2/mailboxes/manual_connection/bulk", json=body)).json()[
        "batch_id"
    ]

    async def connected() -> bool:
        summary = await call("GET", f"/rest/v2/mailboxes/manual_connection/bulk/{batch}/summary")
        return summary.json()["connected_mailboxes_count"] == 1

    await until(connected, timeout=30)
    mailboxes = (await call("GET", "/rest/v2/mailboxes")).json()
    for record in mailboxes:
        await call("GET", f"/rest/v2/mailboxes/{record['id']}")
    credential = {
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "client_secret": GRAPH_SECRET,
        "secret_expires_at": "2099-01-01T00:00:00Z",
    }
    assert (
        await call("POST", "/rest/v2/mailboxes/microsoft/credentials", json=credential)
    ).status_code == 201
    await call("GET", "/rest/v2/mailboxes/microsoft/credentials")
    google = {"service_account_key": service_account.key_info(), "admin_email": ADMIN}
    assert (await call("PUT", "/rest/v2/domains/google/connection", json=google)).status_code in (
        200,
        201,
    )
    await call("GET", "/rest/v2/domains/google/connection")
    await call("GET", "/rest/v2/inbox/messages")

    for response in responses:
        for canary in canaries:
            assert canary not in response.text, (response.request.url, canary)
    logs = capfd.readouterr()
    assert "job.done" in logs.out + logs.err  # the logs were really captured
    for canary in canaries:
        assert canary not in logs.out and canary not in logs.err
    await _assert_not_stored(runtime, settings, canaries)


async def _assert_not_stored(runtime: Runtime, settings: Settings, canaries: list[str]) -> None:
    async with runtime.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in await session.execute(select(table)):
                text = repr(tuple(row))
                for canary in canaries:
                    assert canary not in text, (table.name, canary)
    if settings.is_sqlite:
        path = Path(settings.database_url.split("///", 1)[1])
        files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]  # db, -wal, -shm
        for file in files:
            data = file.read_bytes()
            for canary in canaries:
                assert canary.encode() not in data, (file.name, canary)
