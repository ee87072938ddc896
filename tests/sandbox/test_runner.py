"""run_sandbox: starts, reports usable settings and credentials, stops when cancelled."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import dns.asyncresolver
import pytest
import pytest_asyncio
from imapclient import IMAPClient

from perch.sandbox import run_sandbox


@dataclass
class Running:
    lines: list[str]
    task: asyncio.Task[None]
    state_dir: Path
    settings: dict[str, str] = field(default_factory=dict)
    bodies: list[dict[str, Any]] = field(default_factory=list)


def _parse(lines: list[str]) -> tuple[dict[str, str], list[dict[str, Any]]]:
    settings = dict(line.split("=", 1) for line in lines if line.startswith("PERCH_"))
    bodies = [json.loads(line) for line in lines if line.startswith('{"mailboxes"')]
    return settings, bodies


@pytest_asyncio.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Running]:
    lines: list[str] = []
    ready = asyncio.Event()
    task = asyncio.create_task(run_sandbox(out=lines.append, ready=ready, state_dir=tmp_path))
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait({task, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # surfaces the start-up error
    assert waiter in done, "run_sandbox did not become ready in 10 s"
    running = Running(lines, task, tmp_path)
    running.settings, running.bodies = _parse(lines)
    yield running
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def _tls(running: Running) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=running.settings["PERCH_TLS_CA_FILE"])


def _mailboxes(running: Running) -> list[dict[str, Any]]:
    return [box for body in running.bodies for box in body["mailboxes"]]


async def test_prints_the_settings(sandbox: Running) -> None:
    assert Path(sandbox.settings["PERCH_TLS_CA_FILE"]) == sandbox.state_dir / "ca.pem"
    assert sandbox.settings["PERCH_ALLOWED_NETWORKS"] == "127.0.0.0/8,::1/128"
    assert sandbox.settings["PERCH_DNS_NAMESERVERS"].startswith("127.0.0.1:")
    env = (sandbox.state_dir / "sandbox.env").read_text().splitlines()
    assert env == [f"{key}={value}" for key, value in sandbox.settings.items()]


async def test_prints_a_bulk_body_per_mailbox(sandbox: Running) -> None:
    boxes = _mailboxes(sandbox)
    assert len(sandbox.bodies) == len(boxes) == 2
    expected = {"smtp_email", "smtp_password", "smtp_server", "smtp_port"}
    expected |= {"imap_email", "imap_password", "imap_server", "imap_port"}
    assert all(set(box) == expected for box in boxes)
    saved = json.loads((sandbox.state_dir / "mailboxes.json").read_text())
    assert saved == {"mailboxes": boxes}


async def test_printed_credentials_log_in_over_smtp(sandbox: Running) -> None:
    for box in _mailboxes(sandbox):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = box["smtp_email"], "x@y.test", "hi"
        message.set_content("hello")
        await aiosmtplib.send(
            message,
            hostname=box["smtp_server"],
            port=box["smtp_port"],
            start_tls=True,
            tls_context=_tls(sandbox),
            username=box["smtp_email"],
            password=box["smtp_password"],
            timeout=5,
        )


async def test_printed_credentials_log_in_over_imap(sandbox: Running) -> None:
    def login(box: dict[str, Any]) -> list[str]:
        client = IMAPClient(box["imap_server"], box["imap_port"], ssl=False, timeout=5)
        try:
            client.starttls(_tls(sandbox))
            client.login(box["imap_email"], box["imap_password"])
            return [name for _, _, name in client.list_folders()]
        finally:
            client.shutdown()

    for box in _mailboxes(sandbox):
        assert "INBOX" in await asyncio.to_thread(login, box)


async def test_printed_nameserver_serves_the_demo_zone(sandbox: Running) -> None:
    host, port = sandbox.settings["PERCH_DNS_NAMESERVERS"].rsplit(":", 1)
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.lifetime = [host], int(port), 2.0
    answer = await resolver.resolve("smtp.perch.example", "A")
    assert [r.address for r in answer] == ["127.0.0.1"]
    spf = await resolver.resolve("perch.example", "TXT")
    assert [b"".join(r.strings) for r in spf] == [b"v=spf1 ip4:127.0.0.1 -all"]
    dkim = await resolver.resolve("selector2._domainkey.perch.example", "TXT")
    assert b"".join(next(iter(dkim)).strings).startswith(b"v=DKIM1; k=rsa; p=MII")


async def test_cancel_stops_every_server() -> None:
    lines: list[str] = []
    ready = asyncio.Event()
    task = asyncio.create_task(run_sandbox(out=lines.append, ready=ready))
    await asyncio.wait_for(ready.wait(), timeout=10)
    settings, bodies = _parse(lines)
    state_dir = Path(settings["PERCH_TLS_CA_FILE"]).parent
    port = bodies[0]["mailboxes"][0]["smtp_port"]

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert not state_dir.exists()  # its own temporary directory is removed
