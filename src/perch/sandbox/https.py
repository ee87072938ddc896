"""Serve an ASGI app (the Microsoft and Google fakes) over HTTPS on loopback.

uvicorn runs in a thread of its own on a socket bound before it starts, so the port is known
at once and the caller's event loop stays free:

    with HttpsServer(app, ca) as server:
        server.url   # "https://127.0.0.1:PORT"
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from perch.sandbox.ca import SandboxCA


class _QuietServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the thread must not touch signals
        return None


class HttpsServer:
    def __init__(self, app: Any, ca: SandboxCA, host: str = "127.0.0.1") -> None:
        self.app, self.ca, self.host = app, ca, host
        self.port = 0
        self._server: _QuietServer | None = None
        self._thread: threading.Thread | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="perch-https-")

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self) -> HttpsServer:
        cert, key = self.ca.write_leaf(
            Path(self._dir.name) / "cert.pem", Path(self._dir.name) / "key.pem"
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            ssl_certfile=str(cert),
            ssl_keyfile=str(key),
            log_level="warning",
            lifespan="off",
        )
        self._server = _QuietServer(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        self._wait_started()
        return self

    def _wait_started(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self._server is not None and not self._server.started:
            if time.monotonic() > deadline or not (self._thread and self._thread.is_alive()):
                raise RuntimeError("the HTTPS sandbox server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._dir.cleanup()

    def __enter__(self) -> HttpsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> HttpsServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)
