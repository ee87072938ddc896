"""Connecting 200 Microsoft 365 mailboxes in one bulk call vs connecting one, against the
sandbox Microsoft fake answering every call after 100 ms (real HTTPS, the sandbox DNS).

Both runs go through the whole endpoint (auth, checks, Graph, DNS, storage) with the batch's
token already cached, so the ratio shows how well the per-mailbox Graph work overlaps.
Goal: 3x.

The fake runs in a process of its own, as Microsoft would: in a thread of this process its
CPU work (TLS, HTTP parsing) would compete with Perch's for the GIL, and the benchmark would
measure that contention instead of Perch.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from bench.common import Result, timed
from perch.sandbox import SandboxCA, SandboxDNS
from perch.sandbox.microsoft import SandboxMicrosoft
from perch.server.app import create_app
from perch.server.auth import service as auth_service
from perch.server.config import Environment, Settings
from perch.server.db import create_engine
from perch.server.kit.crypto import generate_key
from perch.server.models import Base
from perch.server.runtime import Runtime

ACCOUNTS = 200
LATENCY = 0.1
ONE_REPEAT, MANY_REPEAT = 3, 2
TENANT, CLIENT, SECRET = "bench.example", "bench-app", "bench-secret"
ZONE = """
bench.example. 300 IN TXT "v=spf1 include:spf.protection.outlook.com -all"
selector1._domainkey.bench.example. 300 IN TXT "v=DKIM1; k=rsa; p=MIGf"
selector2._domainkey.bench.example. 300 IN TXT "v=DKIM1; k=rsa; p=MIGg"
"""


def _addresses() -> list[str]:
    """Every address the runs connect, each once: warm-up, one-account runs, 200-account runs."""
    total = 1 + ONE_REPEAT + MANY_REPEAT * ACCOUNTS
    return [f"user{i}@bench.example" for i in range(total)]


def _serve_fake(conn: Connection) -> None:
    """Child process: the fake with the bench's tenant and users, until told to stop."""
    fake = SandboxMicrosoft(SandboxCA())
    fake.add_tenant(TENANT, CLIENT, SECRET)
    for address in _addresses():
        fake.add_user(address, display_name=address.split("@")[0])
    fake.latency = LATENCY
    with fake:
        conn.send((fake.url, fake.ca.ca_pem))
        conn.recv()
        peak = max(fake.peak_concurrency.values(), default=0)
        conn.send(
            {
                "graph_calls": len(fake.graph_requests()),
                "peak_per_mailbox": peak,
                "fake_cpu": round(time.process_time(), 2),
            }
        )


async def _database(directory: Path) -> str:
    url = f"sqlite+aiosqlite:///{directory}/bench.db"
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await engine.dispose()
    return url


def _settings(url: str, fake_url: str, dns: SandboxDNS, bundle: Path) -> Settings:
    return Settings(
        env=Environment.test,
        database_url=url,
        secret_keys=generate_key(),  # type: ignore[arg-type]
        microsoft_login_url=fake_url,
        microsoft_graph_url=f"{fake_url}/v1.0",
        tls_ca_file=bundle,
        dns_nameservers=[dns.nameserver],
    )


class _Batches:
    def __init__(self, credential_id: int) -> None:
        self.credential_id = credential_id
        self.addresses = iter(_addresses())

    def next(self, size: int) -> dict[str, Any]:
        accounts = [{"mailbox_email": next(self.addresses)} for _ in range(size)]
        return {"auth_type": "APP_ONLY", "credential_id": self.credential_id, "accounts": accounts}


async def _connect(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await client.post("/rest/v2/mailboxes/microsoft/bulk", json=body)
    assert response.status_code == 201, response.text[:500]


async def _measure(app: FastAPI, key: str) -> tuple[float, float]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", headers={"x-api-key": key}, timeout=120
    ) as client:
        created = await client.post(
            "/rest/v2/mailboxes/microsoft/credentials",
            json={
                "tenant_id": TENANT,
                "client_id": CLIENT,
                "client_secret": SECRET,
                "secret_expires_at": "2099-01-01T00:00:00Z",
            },
        )
        batches = _Batches(created.json()["credential_id"])
        await _connect(client, batches.next(1))  # warm: the token is cached from here on
        one = await timed(lambda: _connect(client, batches.next(1)), repeat=ONE_REPEAT)
        many = await timed(lambda: _connect(client, batches.next(ACCOUNTS)), MANY_REPEAT)
    return one, many


async def _perch(directory: Path, fake_url: str, bundle: Path) -> tuple[float, float]:
    with SandboxDNS(ZONE) as dns:
        runtime = Runtime(_settings(await _database(directory), fake_url, dns, bundle))
        app = create_app(runtime=runtime)
        # No lifespan: no broker and no scheduler, so other features' background jobs (the
        # inbox sync of every new mailbox) stay out of the measurement.
        app.state.runtime = runtime
        try:
            async with runtime.session() as session:
                key = (await auth_service.issue_key(session, "bench")).key
            return await _measure(app, key)
        finally:
            await runtime.close()


async def run() -> list[Result]:
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve_fake, args=(child,))
    process.start()
    try:
        fake_url, ca_pem = await asyncio.to_thread(parent.recv)
        with tempfile.TemporaryDirectory() as directory:
            bundle = Path(directory) / "ca.pem"
            bundle.write_bytes(ca_pem)
            one, many = await _perch(Path(directory), fake_url, bundle)
        parent.send("stop")
        seen = await asyncio.to_thread(parent.recv)
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()
    notes = {"accounts": ACCOUNTS, "graph_latency_ms": int(LATENCY * 1000), **seen}
    return [Result("microsoft.bulk_200_accounts", many, one, goal=3.0, notes=notes)]
