"""Shared bits of the SMTP/IMAP adapter tests: a listener that counts connections."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


class CountingListener:
    """A TCP port that accepts, counts and closes connections (nothing should reach it)."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()


@asynccontextmanager
async def counting_listener() -> AsyncIterator[CountingListener]:
    listener = CountingListener()
    server = await asyncio.start_server(listener._accept, "127.0.0.1", 0)
    listener.port = server.sockets[0].getsockname()[1]
    try:
        yield listener
    finally:
        server.close()
        await server.wait_closed()
