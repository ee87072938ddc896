"""Listening sockets that can be closed and reopened on the same ports.

A peer declares its listeners as ``name -> opener``; an opener binds a server to
a given port (0 the first time) and returns it. :class:`Listeners` remembers the
port each one got, so :meth:`Listeners.open` after :meth:`Listeners.close`
binds the very same ports again (asyncio sets ``SO_REUSEADDR``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

Opener = Callable[[int], Awaitable[asyncio.Server]]
T = TypeVar("T")


class Listeners:
    """A named set of listening servers."""

    def __init__(self, openers: Mapping[str, Opener]) -> None:
        self._openers = dict(openers)
        self._servers: dict[str, asyncio.Server] = {}
        self.ports: dict[str, int] = {}

    async def open(self) -> None:
        """Bind every listener (again), each on its remembered port."""
        for name, opener in self._openers.items():
            if name in self._servers:
                continue
            server = await opener(self.ports.get(name, 0))
            self._servers[name] = server
            self.ports[name] = server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening; connections already accepted stay up."""
        servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.close()
        for server in servers:
            await server.wait_closed()


async def abort_all(items: set[T], abort: Callable[[T], None], timeout: float = 1.0) -> None:
    """Abort every connection in ``items``; wait until their owners forget them.

    Aborting (not closing) matters for TLS: a graceful close waits for the
    client's close_notify, which an idle blocking client never sends.
    """
    for item in list(items):
        abort(item)
    deadline = time.monotonic() + timeout
    while items and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    items.clear()
