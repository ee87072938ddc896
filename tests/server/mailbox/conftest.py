"""Mailbox fixtures: settings that trust the sandbox CA and allow loopback, request builders,
and a way to wait for a batch to finish."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from perch.server.config import Settings
from tests.fixtures.peers import ALICE, ALICE_PASSWORD
from tests.helpers import until

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]
BULK = "/rest/v2/mailboxes/manual_connection/bulk"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "default_policy: keep the empty PERCH_ALLOWED_NETWORKS")


@pytest.fixture
def settings(settings: Settings, ca_bundle: Path, request: pytest.FixtureRequest) -> Settings:
    allowed = [] if request.node.get_closest_marker("default_policy") else LOOPBACK
    return settings.model_copy(
        update={
            "allowed_networks": allowed,
            "tls_ca_file": ca_bundle,
            "mail_timeout": timedelta(seconds=10),
        }
    )


def mailbox(
    email: str = ALICE,
    password: str = ALICE_PASSWORD,
    *,
    smtp_port: int,
    imap_port: int,
    host: str = "localhost",
    **extra: Any,
) -> dict[str, Any]:
    """One entry of the bulk request (SMTP and IMAP on ``host``)."""
    entry: dict[str, Any] = {
        "smtp_email": email,
        "smtp_password": password,
        "smtp_server": host,
        "smtp_port": smtp_port,
        "imap_email": email,
        "imap_password": password,
        "imap_server": host,
        "imap_port": imap_port,
    }
    entry.update(extra)
    return entry


async def submit(client: httpx.AsyncClient, body: dict[str, Any]) -> int:
    response = await client.post(BULK, json=body)
    assert response.status_code == 202, response.text
    batch_id = response.json()["batch_id"]
    assert isinstance(batch_id, int)
    return batch_id


async def summary(client: httpx.AsyncClient, batch_id: int) -> dict[str, Any]:
    response = await client.get(f"{BULK}/{batch_id}/summary")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    counts = [
        body["pending_mailboxes_count"],
        body["connected_mailboxes_count"],
        body["conditionally_connected_mailboxes_count"],
        body["failed_mailboxes_count"],
    ]
    assert sum(counts) == body["batch_size"]
    return body


async def finished(client: httpx.AsyncClient, batch_id: int, timeout: float = 30) -> dict[str, Any]:
    """The summary once the batch is finished and its completion mail, if any, settled
    (polled, never slept for): no job of the batch is left running when the test ends."""

    async def done() -> bool:
        body = await summary(client, batch_id)
        mail = body["notifications"]["mail"]
        return bool(body["processing_finished"]) and (mail is None or mail["status"] != "PENDING")

    await until(done, timeout=timeout)
    return await summary(client, batch_id)
