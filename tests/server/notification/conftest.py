"""Notification fixtures: the system SMTP account is the sandbox SMTP server (implicit TLS),
trusted through the sandbox CA bundle. ``@pytest.mark.notify_smtp("none")`` leaves it unset,
``("wrong_password")`` gives it a bad password."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from perch.server.config import Settings
from tests.fixtures.peers import ALICE_PASSWORD

SYSTEM_SENDER = "perch@example.test"
BULK = "/rest/v2/mailboxes/manual_connection/bulk"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "notify_smtp(kind): none | wrong_password | ok")


@pytest.fixture
def settings(settings: Settings, ca_bundle: Path, request: pytest.FixtureRequest) -> Settings:
    marker = request.node.get_closest_marker("notify_smtp")
    kind = marker.args[0] if marker else "ok"
    update: dict[str, Any] = {"tls_ca_file": ca_bundle}
    if kind != "none":
        port = request.getfixturevalue("system_smtp").implicit_port
        password = "wrong" if kind == "wrong_password" else ALICE_PASSWORD
        url = f"smtps://alice%40example.test:{password}@localhost:{port}"
        update |= {"notify_smtp_url": SecretStr(url), "notify_from": SYSTEM_SENDER}
    return settings.model_copy(update=update)


@pytest.fixture
def system_smtp(smtp_server: Any) -> Any:
    """The sandbox SMTP server, playing the operator's system SMTP account."""
    return smtp_server


async def finished_batch(client: httpx.AsyncClient, types: list[str]) -> dict[str, Any]:
    """Submit a one-mailbox batch that fails at once (unknown host) and wait for its summary,
    notifications included."""
    from tests.helpers import until

    entry = {
        "smtp_email": "jared@getpiedpiper.com",
        "smtp_password": "p",
        "smtp_server": "smtp.nowhere.invalid",
        "smtp_port": 465,
        "imap_email": "jared@getpiedpiper.com",
        "imap_password": "p",
        "imap_server": "imap.nowhere.invalid",
        "imap_port": 993,
    }
    response = await client.post(
        BULK, json={"mailboxes": [entry], "completion_notification_types": types}
    )
    assert response.status_code == 202, response.text
    batch_id = response.json()["batch_id"]
    path = f"{BULK}/{batch_id}/summary"

    async def settled() -> bool:
        body = (await client.get(path)).json()
        mail = body["notifications"]["mail"]
        return bool(body["processing_finished"]) and (mail is None or mail["status"] != "PENDING")

    await until(settled, timeout=30)
    summary: dict[str, Any] = (await client.get(path)).json()
    summary["batch_id"] = batch_id
    return summary
