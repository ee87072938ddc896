"""Small helpers shared by tests: polling with a deadline, free ports, subprocess env."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

PERCH = str(Path(sys.executable).parent / "perch")


async def until(
    predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0, step: float = 0.05
) -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(step)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def perch_env(**overrides: str) -> dict[str, str]:
    """The environment for a ``perch`` subprocess: no inherited PERCH_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERCH_")}
    env.update(overrides)
    return env
