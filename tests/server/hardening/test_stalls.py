"""A mail server that accepts the connection and then stalls does not stall anything else."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from datetime import timedelta
from pathlib import Path

import pytest

from perch.sandbox import Faults, SandboxCA, SandboxIMAP
from perch.server.config import Settings
from perch.server.inbox import sync
from perch.server.models import MailboxImap
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.fixtures.peers import ALICE, ALICE_PASSWORD
from tests.server.inbox.conftest import MakeMailbox


@pytest.fixture
def settings(settings: Settings, ca_bundle: Path) -> Settings:
    return settings.model_copy(
        update={
            "allowed_networks": [ipaddress.ip_network("127.0.0.0/8")],
            "tls_ca_file": ca_bundle,
            "mail_timeout": timedelta(seconds=2),
        }
    )


async def _mailbox(
    make_mailbox: MakeMailbox, runtime: Runtime, account_id: int, email: str, server: SandboxIMAP
) -> int:
    _, imap = await make_mailbox(account_id, email)
    async with runtime.session() as session:
        row = await session.get(MailboxImap, imap.id)
        assert row is not None
        row.login, row.server, row.port = ALICE, server.host, server.starttls_port
        row.password_encrypted = runtime.secrets.encrypt(ALICE_PASSWORD)
    return imap.id


async def test_a_stalled_server_only_delays_its_own_mailbox(
    user: ApiUser, runtime: Runtime, sandbox_ca: SandboxCA, make_mailbox: MakeMailbox
) -> None:
    users = {ALICE: ALICE_PASSWORD}
    async with (
        SandboxIMAP(sandbox_ca, users, faults=Faults(stall=True)) as stalled,
        SandboxIMAP(sandbox_ca, users) as healthy,
    ):
        await healthy.append(
            ALICE,
            "INBOX",
            b"From: p@example.org\r\nSubject: hi\r\nMessage-ID: <s1@example.org>\r\n\r\nhello\r\n",
        )
        stuck_id = await _mailbox(make_mailbox, runtime, user.account.id, "a@example.com", stalled)
        fine_id = await _mailbox(make_mailbox, runtime, user.account.id, "b@example.com", healthy)
        start = time.monotonic()
        stuck = asyncio.create_task(sync.sync_mailbox(runtime, stuck_id))
        fine = await sync.sync_mailbox(runtime, fine_id)
        fine_took = time.monotonic() - start
        api = await user.client.get("/rest/v2/inbox/messages")
        assert fine is not None and fine.imported == 1
        assert api.status_code == 200 and len(api.json()["content"]) == 1
        assert not stuck.done()  # still waiting on the silent server while the rest went on
        assert await stuck is None  # then it gives up (timeout), recorded on its mailbox
        assert fine_took < time.monotonic() - start
    async with runtime.session() as session:
        row = await session.get(MailboxImap, stuck_id)
    assert row is not None and row.sync_error is not None and "TIMEOUT" in row.sync_error
