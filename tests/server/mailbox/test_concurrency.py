"""The bounds on verification, seen at the wire: a proxy in front of the SMTP server counts
the connections open at the same time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from perch.sandbox import Faults, SandboxCA, SandboxIMAP, SandboxSMTP
from perch.server.config import Settings
from tests.fixtures.app import ApiUser
from tests.server.mailbox.conftest import finished, mailbox, submit

USERS = {f"u{i}@example.test": f"pw-{i}" for i in range(5)}
BOUNDS = {"per_host": (10, 2, 2), "per_batch": (1, 8, 1)}  # concurrency, per host, expected


class CountingProxy:
    """Forwards bytes to ``port``; remembers the most connections open at once."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.active = 0
        self.most = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.active += 1
        self.most = max(self.most, self.active)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self.active -= 1
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def proxy(port: int) -> AsyncIterator[tuple[CountingProxy, int]]:
    counting = CountingProxy(port)
    server = await asyncio.start_server(counting.handle, "127.0.0.1", 0)
    try:
        yield counting, server.sockets[0].getsockname()[1]
    finally:
        server.close()


@pytest.fixture(params=list(BOUNDS))
def bounds(request: pytest.FixtureRequest) -> tuple[int, int, int]:
    return BOUNDS[request.param]


@pytest.fixture
def settings(settings: Settings, bounds: tuple[int, int, int]) -> Settings:
    concurrency, per_host, _ = bounds
    return settings.model_copy(
        update={"verify_concurrency": concurrency, "verify_per_host": per_host}
    )


async def test_connections_at_once_stay_within_the_bounds(
    user: ApiUser, sandbox_ca: SandboxCA, bounds: tuple[int, int, int]
) -> None:
    slow = Faults(latency=0.05)  # keeps each SMTP conversation open for a while
    async with (
        SandboxSMTP(sandbox_ca, USERS, faults=slow) as smtp,
        SandboxIMAP(sandbox_ca, USERS) as imap,
        proxy(smtp.starttls_port) as (counting, port),
    ):
        entries = [
            mailbox(email, password, smtp_port=port, imap_port=imap.starttls_port)
            for email, password in USERS.items()
        ]
        result = await finished(user.client, await submit(user.client, {"mailboxes": entries}))
    assert result["connected_mailboxes_count"] == len(USERS), result
    assert counting.most == bounds[2]
