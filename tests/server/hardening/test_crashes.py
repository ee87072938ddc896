"""kill -9 during an inbox sync and during a reply: after a restart nothing is imported twice
and no reply is sent twice. Real ``perch serve`` processes, sandbox peers in the test."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from perch.sandbox import SandboxCA, SandboxIMAP, SandboxSMTP
from perch.server.kit.crypto import generate_key
from tests.cli.test_serve import running
from tests.helpers import PERCH, free_port, perch_env, until

LOGIN, PASSWORD = "owner@example.com", "owner-pw"
BULK = "/rest/v2/mailboxes/manual_connection/bulk"


@dataclass
class Deployment:
    env: dict[str, str]
    directory: Path
    key: str
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, sql: str) -> int:
        with sqlite3.connect(self.directory / "perch.db") as db:
            return int(db.execute(sql).fetchone()[0])

    async def up(self) -> None:
        async def healthy() -> bool:
            try:
                async with httpx.AsyncClient() as client:
                    return (await client.get(f"{self.base}/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await until(healthy, timeout=30)

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(headers={"x-api-key": self.key}, timeout=60) as client:
            return await client.request(method, f"{self.base}{path}", **kwargs)


@contextlib.asynccontextmanager
async def deployment(tmp_path: Path, ca_bundle: Path) -> AsyncIterator[Deployment]:
    env = perch_env(
        PERCH_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/perch.db",
        PERCH_SECRET_KEYS=generate_key(),
        PERCH_ALLOWED_NETWORKS="127.0.0.0/8",
        PERCH_TLS_CA_FILE=str(ca_bundle),
        PERCH_SCHEDULER_TICK="0.2",
        PERCH_INBOX_POLL_SECONDS="1",
        PERCH_MAIL_TIMEOUT="30",
        PERCH_LOG_LEVEL="WARNING",
    )
    created = await asyncio.to_thread(
        subprocess.run,
        [PERCH, "api-key", "create", "--account", "acme"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    yield Deployment(env, tmp_path, created.stdout.strip().splitlines()[-1], free_port())


async def connect(deploy: Deployment, smtp: SandboxSMTP, imap: SandboxIMAP) -> None:
    body = {
        "mailboxes": [
            {
                "smtp_email": LOGIN,
                "smtp_password": PASSWORD,
                "smtp_server": "localhost",
                "smtp_port": smtp.starttls_port,
                "imap_email": LOGIN,
                "imap_password": PASSWORD,
                "imap_server": "localhost",
                "imap_port": imap.starttls_port,
            }
        ]
    }
    response = await deploy.request("POST", BULK, json=body)
    assert response.status_code == 202, response.text
    batch = response.json()["batch_id"]

    async def connected() -> bool:
        summary = (await deploy.request("GET", f"{BULK}/{batch}/summary")).json()
        return summary["processing_finished"] and summary["connected_mailboxes_count"] == 1

    await until(connected, timeout=30)


def mail(n: int) -> bytes:
    message = EmailMessage()
    message["From"], message["To"] = f"p{n}@example.org", LOGIN
    message["Subject"], message["Message-ID"] = f"Re: offer {n}", f"<crash{n}@example.org>"
    message.set_content(f"reply {n} " + "text " * 200)
    return bytes(message)


@pytest.mark.slow
async def test_kill_during_a_sync_imports_every_message_once(
    tmp_path: Path, sandbox_ca: SandboxCA, ca_bundle: Path
) -> None:
    total = 600  # three chunks of 200
    async with (
        SandboxSMTP(sandbox_ca, {LOGIN: PASSWORD}) as smtp,
        SandboxIMAP(sandbox_ca, {LOGIN: PASSWORD}) as imap,
        deployment(tmp_path, ca_bundle) as deploy,
    ):
        for n in range(total):
            await imap.append(LOGIN, "INBOX", mail(n))
        imported = "SELECT count(*) FROM inbox_message"
        with running(["serve", "--port", str(deploy.port)], deploy.env, tmp_path) as first:
            await deploy.up()
            imap.faults.latency = 0.02  # a slow server: the sync takes seconds
            await connect(deploy, smtp, imap)

            async def partway() -> bool:
                return 0 < deploy.count(imported) < total

            await until(partway, timeout=60, step=0.01)
            first.kill()
            first.wait(timeout=10)
        assert 0 < deploy.count(imported) < total
        imap.faults.latency = 0
        with running(["serve", "--port", str(deploy.port)], deploy.env, tmp_path):
            await deploy.up()

            async def complete() -> bool:
                return deploy.count(imported) >= total

            await until(complete, timeout=90)
            await asyncio.sleep(2.5)  # two more poll intervals: nothing new may appear
        assert deploy.count(imported) == total
        assert deploy.count("SELECT count(DISTINCT message_id) FROM inbox_message") == total


@pytest.mark.slow
async def test_kill_between_the_ledger_write_and_the_smtp_handoff_sends_once(
    tmp_path: Path, sandbox_ca: SandboxCA, ca_bundle: Path
) -> None:
    async with (
        SandboxSMTP(sandbox_ca, {LOGIN: PASSWORD}) as smtp,
        SandboxIMAP(sandbox_ca, {LOGIN: PASSWORD}) as imap,
        deployment(tmp_path, ca_bundle) as deploy,
    ):
        await imap.append(LOGIN, "INBOX", mail(1))
        with running(["serve", "--port", str(deploy.port)], deploy.env, tmp_path) as first:
            await deploy.up()
            await connect(deploy, smtp, imap)

            async def synced() -> bool:
                return deploy.count("SELECT count(*) FROM inbox_message") == 1

            await until(synced, timeout=30)
            message_id = (await deploy.request("GET", "/rest/v2/inbox/messages")).json()["content"][
                0
            ]["id"]
            smtp.faults.handshake_delay = 60  # the handoff hangs at the greeting
            url = f"/rest/v2/inbox/messages/{message_id}/reply"
            headers = {"Idempotency-Key": "crash-1"}
            pending = asyncio.create_task(
                deploy.request("POST", url, json={"body": {"html": "<p>Yes</p>"}}, headers=headers)
            )

            async def recorded() -> bool:
                return (
                    deploy.count("SELECT count(*) FROM outbound_message WHERE status = 'PENDING'")
                    == 1
                )

            await until(recorded, timeout=30)
            first.kill()
            first.wait(timeout=10)
            with contextlib.suppress(httpx.HTTPError):
                await pending
        assert smtp.messages == []
        smtp.faults.handshake_delay = 0
        with running(["serve", "--port", str(deploy.port)], deploy.env, tmp_path):
            await deploy.up()
            for _ in range(2):
                retried = await deploy.request(
                    "POST", url, json={"body": {"html": "<p>Yes</p>"}}, headers=headers
                )
                assert retried.status_code == 200, retried.text
        assert len(smtp.messages) == 1
        assert deploy.count("SELECT count(*) FROM outbound_message") == 1
