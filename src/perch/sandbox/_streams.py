"""A stream writer stand-in that delays each reply by ``faults.latency``.

asyncio's ``StreamWriter.write`` hands bytes to the socket at once, so sleeping
in ``drain()`` alone would not delay anything. :class:`DelayedWriter` keeps the
written bytes until ``drain()``, sleeps, then sends them. Servers that always
``drain()`` after a reply (pymap does) thus get a delay per reply.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Any

from perch.sandbox.faults import Faults


class DelayedWriter:
    """Wraps a ``StreamWriter``; everything not overridden is passed through."""

    def __init__(self, writer: asyncio.StreamWriter, faults: Faults) -> None:
        self._writer = writer
        self._faults = faults
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._pending.append(bytes(data))

    def writelines(self, data: Iterable[bytes | bytearray | memoryview]) -> None:
        for chunk in data:
            self.write(chunk)

    async def drain(self) -> None:
        if self._pending and self._faults.latency > 0:
            await asyncio.sleep(self._faults.latency)
        self._flush()
        await self._writer.drain()

    async def start_tls(self, sslcontext: ssl.SSLContext, **kwargs: Any) -> None:
        self._flush()
        await self._writer.start_tls(sslcontext, **kwargs)

    def close(self) -> None:
        self._flush()
        self._writer.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)

    def _flush(self) -> None:
        if self._pending and not self._writer.is_closing():
            self._writer.write(b"".join(self._pending))
        self._pending.clear()
