"""kill -9 a ``perch serve`` in the middle of a batch, start it again: the batch completes and
every mailbox is reported exactly once."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from perch.sandbox import Faults, SandboxCA, SandboxIMAP, SandboxSMTP
from perch.server.kit.crypto import generate_key
from tests.cli.test_serve import running
from tests.helpers import PERCH, free_port, perch_env, until
from tests.server.mailbox.conftest import BULK, mailbox

USERS = {f"user{i}@example.test": f"pw-{i}" for i in range(4)}


async def _up(base: str) -> None:
    async def healthy() -> bool:
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"{base}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await until(healthy, timeout=30)


async def _summary(base: str, key: str, batch_id: int) -> dict[str, Any]:
    async with httpx.AsyncClient(headers={"x-api-key": key}) as client:
        response = await client.get(f"{base}{BULK}/{batch_id}/summary")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
    return body


@pytest.mark.slow
async def test_a_killed_server_finishes_the_batch_after_restart(
    tmp_path: Path, sandbox_ca: SandboxCA, ca_bundle: Path
) -> None:
    slow = Faults(latency=0.2)  # each mailbox takes a few seconds: room to kill mid-batch
    async with (
        SandboxSMTP(sandbox_ca, USERS, faults=slow) as smtp,
        SandboxIMAP(sandbox_ca, USERS, faults=slow) as imap,
    ):
        env = perch_env(
            PERCH_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/crash.db",
            PERCH_SECRET_KEYS=generate_key(),
            PERCH_ALLOWED_NETWORKS="127.0.0.0/8",
            PERCH_TLS_CA_FILE=str(ca_bundle),
            PERCH_VERIFY_CONCURRENCY="1",
            PERCH_SCHEDULER_TICK="0.2",
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
        key = created.stdout.strip().splitlines()[-1]
        ports = {"smtp_port": smtp.starttls_port, "imap_port": imap.starttls_port}
        body = {
            "mailboxes": [mailbox(email, password, **ports) for email, password in USERS.items()],
            "completion_notification_types": ["IN_APP"],
        }
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with running(["serve", "--port", str(port)], env, tmp_path) as first:
            await _up(base)
            async with httpx.AsyncClient(headers={"x-api-key": key}) as client:
                response = await client.post(f"{base}{BULK}", json=body)
            assert response.status_code == 202, response.text
            batch_id = response.json()["batch_id"]

            async def midway() -> bool:
                s = await _summary(base, key, batch_id)
                return s["connected_mailboxes_count"] >= 1 and s["pending_mailboxes_count"] >= 2

            await until(midway, timeout=60)
            first.kill()  # SIGKILL: no shutdown, the job row stays "running"
            first.wait(timeout=10)
        before = _states(tmp_path)
        assert "PENDING" in before and "CONNECTED" in before

        with running(["serve", "--port", str(port)], env, tmp_path):
            await _up(base)

            async def done() -> bool:
                return bool((await _summary(base, key, batch_id))["processing_finished"])

            await until(done, timeout=90)
            result = await _summary(base, key, batch_id)
            async with httpx.AsyncClient(headers={"x-api-key": key}) as client:
                listed = (await client.get(f"{base}/rest/v2/mailboxes")).json()
                notes = (await client.get(f"{base}/rest/v2/notifications")).json()

    assert result["connected_mailboxes_count"] == len(USERS), result
    assert result["failed_mailboxes_count"] == 0
    smtp_emails = [r["details"]["email"] for r in listed if r["type"] == "SMTP"]
    assert sorted(smtp_emails) == sorted(USERS)  # each once
    assert [n["batch_id"] for n in notes["notifications"]] == [batch_id]  # finished once
    with sqlite3.connect(tmp_path / "crash.db") as db:
        leftovers = db.execute(
            "SELECT count(*) FROM mailbox_batch_item WHERE smtp_password_encrypted IS NOT NULL "
            "OR imap_password_encrypted IS NOT NULL"
        ).fetchone()[0]
    assert leftovers == 0


def _states(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "crash.db") as db:
        return [row[0] for row in db.execute("SELECT status FROM mailbox_batch_item")]
