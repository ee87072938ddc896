"""Rate limits per API key, shaped like Woodpecker's API 2.0 limits.

A key gets ``PERCH_RATE_CONCURRENCY`` requests processed at a time. Further requests wait in a
queue of at most ``PERCH_RATE_QUEUE``, each for at most ``PERCH_RATE_WAIT``; a request that
finds the queue full, or waits too long, is answered 429 in its endpoint's dialect with a
``Retry-After`` header. Limits are per process (each ``perch serve`` counts on its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from perch.server.errors import TooManyRequests


@dataclass
class _KeyState:
    running: int = 0
    waiting: int = 0
    wakeup: asyncio.Condition = field(default_factory=asyncio.Condition)


class KeyLimiter:
    def __init__(self, concurrency: int, queue: int, wait: float) -> None:
        self.concurrency, self.queue, self.wait = concurrency, queue, wait
        self._keys: dict[str, _KeyState] = {}

    def _refuse(self, why: str) -> TooManyRequests:
        retry_after = str(max(1, math.ceil(self.wait / 3)))
        return TooManyRequests(why, headers={"Retry-After": retry_after})

    @contextlib.asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        state = self._keys.setdefault(key, _KeyState())
        await self._acquire(state)
        try:
            yield
        finally:
            async with state.wakeup:
                state.running -= 1
                state.wakeup.notify()
            if not state.running and not state.waiting:
                self._keys.pop(key, None)

    async def _acquire(self, state: _KeyState) -> None:
        async with state.wakeup:
            if state.running < self.concurrency:
                state.running += 1
                return
            if state.waiting >= self.queue:
                raise self._refuse("Too many requests at the same time for this API key")
            state.waiting += 1
            try:
                await asyncio.wait_for(state.wakeup.wait_for(self._free(state)), self.wait)
            except TimeoutError as e:
                raise self._refuse("Request waited too long in the queue for this API key") from e
            finally:
                state.waiting -= 1
            state.running += 1

    def _free(self, state: _KeyState) -> Callable[[], bool]:
        return lambda: state.running < self.concurrency
